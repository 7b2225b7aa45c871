-- generator.sql: session-local functions that make plausible demo clients and jobs, deterministically for a given seed.
--
-- Loaded by demo-data.sql and by scripts/gen-jobs.sh (the benchmark's
-- 100,000 jobs).  Runs as a superuser, so tenant_id is given explicitly.

CREATE FUNCTION pg_temp.demo_pick(arr text[], n bigint) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT arr[1 + (abs(n) % cardinality(arr))] $$;

-- A cheap deterministic hash of (seed, i, salt) to 0..2^31.
CREATE FUNCTION pg_temp.demo_h(seed int, i bigint, salt int) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$
    SELECT ('x' || substr(md5(seed::text || ':' || i::text || ':' || salt::text), 1, 8))::bit(32)::bigint & 2147483647 $$;

CREATE FUNCTION pg_temp.demo_clients(tenant text, n int, seed int) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    first text[] := ARRAY['Acme', 'Northwind', 'Blue Harbor', 'Globex', 'Initech', 'Umbrella Labs',
        'Stark Digital', 'Wayne Analytics', 'Hooli', 'Vandelay', 'Pied Piper', 'Soylent', 'Tyrell',
        'Cyberdyne', 'Oscorp', 'Aperture', 'Monarch', 'Massive Dynamic', 'Bluth', 'Prestige'];
    kinds text[] := ARRAY['Software', 'Health', 'Retail', 'Media', 'Logistics', 'Finance', 'Studio', 'Labs'];
    places text[][] := ARRAY[['United States', 'Austin'], ['United States', 'New York'],
        ['United Kingdom', 'London'], ['Germany', 'Berlin'], ['Canada', 'Toronto'],
        ['Australia', 'Sydney'], ['Netherlands', 'Amsterdam'], ['France', 'Paris'],
        ['India', 'Bangalore'], ['Singapore', 'Singapore'], ['United Arab Emirates', 'Dubai'],
        ['Brazil', 'Sao Paulo']];
    h bigint; p int; spent numeric; posted int; hires int; rating numeric; reviews int;
BEGIN
    FOR i IN 1..n LOOP
        h := pg_temp.demo_h(seed, i, 1);
        p := 1 + (h % array_length(places, 1));
        spent := round((power(10, (h % 7)) * (1 + (h / 7) % 9))::numeric, 2);
        posted := 1 + (h / 63) % 120;
        hires := least(posted, (posted * ((h / 7) % 100)) / 100);
        reviews := hires;
        rating := CASE WHEN reviews = 0 THEN NULL ELSE round((3.0 + ((h / 11) % 21) / 10.0)::numeric, 2) END;
        INSERT INTO clients (tenant_id, upwork_uid, name, company, country, city, total_spent,
                             hire_rate, rating, reviews_count, jobs_posted, total_hires,
                             payment_verified, member_since, updated_at)
        VALUES (tenant, 'demo-' || seed || '-' || i,
                pg_temp.demo_pick(first, h) || ' ' || pg_temp.demo_pick(kinds, h / 20),
                pg_temp.demo_pick(first, h) || ' ' || pg_temp.demo_pick(kinds, h / 20) || ' Inc.',
                places[p][1], places[p][2], spent,
                round(hires * 100.0 / posted, 2), least(rating, 5.0), reviews, posted, hires,
                (h % 5) <> 0, now() - make_interval(days => 30 + (h % 3000)::int), now())
        ON CONFLICT (tenant_id, upwork_uid) DO NOTHING;
    END LOOP;
END $$;

-- Jobs over twelve topics, each with its own skills, titles and budget
-- range; one job in five is fixed-price.  Posted times go back from now
-- in steps, newest first for i = 1.
CREATE FUNCTION pg_temp.demo_jobs(tenant text, n int, seed int, nclients int) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    topics text[][] := ARRAY[
        ['api', 'api development|postgresql|node.js|typescript|rest api|graphql', 'Build a REST API for a multi-tenant SaaS dashboard|Design a GraphQL API for our booking platform|Add PostgreSQL row-level security to our Node.js backend|Build a webhook ingestion service in TypeScript', 'Our backend serves several customer organisations from one database and we need clean, well-tested endpoints with proper tenant isolation.'],
        ['react', 'react|javascript|typescript|css|next.js|tailwind css', 'Build a React admin dashboard with charts|Migrate our Next.js app to the app router|Fix performance issues in a large React SPA|Implement a design system in Tailwind and React', 'We have designs in Figma and an existing API; we need a careful front-end engineer who writes accessible, tested components.'],
        ['mobile', 'flutter|dart|ios|android|firebase|react native', 'Build a Flutter app for appointment booking|Publish our React Native app to both stores|Add push notifications with Firebase to our app|Fix crashes in our iOS and Android app', 'The app is used by thousands of customers daily, so stability and a smooth release process matter more than new features.'],
        ['data', 'python|machine learning|pandas|data analysis|sql|tensorflow', 'Build a churn prediction model from our SQL data|Clean and analyse two years of sales data in pandas|Create a demand forecasting pipeline in Python|Train a classifier for support tickets', 'We have the data in PostgreSQL and want reproducible notebooks plus a short report a non-technical founder can read.'],
        ['devops', 'aws|docker|kubernetes|terraform|ci/cd|linux', 'Set up Terraform for our AWS infrastructure|Move our services to Kubernetes with Helm|Build a CI/CD pipeline with GitHub Actions|Reduce our AWS bill without losing reliability', 'Today everything is deployed by hand; we want infrastructure as code, repeatable deploys and monitoring we can trust.'],
        ['systems', 'c|linux|c++|embedded systems|networking|multithreading', 'Fix a memory leak in a C daemon that handles websockets|Port our embedded firmware to a new microcontroller|Optimise a C++ network service for low latency|Write a Linux driver for a custom USB device', 'The code is mature and performance-critical; we need someone who measures before changing anything and leaves tests behind.'],
        ['wordpress', 'wordpress|php|woocommerce|seo|css|mysql', 'Speed up our WooCommerce store|Build a custom WordPress theme from Figma|Migrate a WordPress site to a new host|Fix checkout bugs in WooCommerce', 'Our store makes most of its sales in the evening, so changes must be tested on staging and deployed without downtime.'],
        ['scraping', 'python|web scraping|selenium|automation|data mining|scrapy', 'Scrape product prices from ten e-commerce sites daily|Automate data entry into our CRM with Python|Build a Scrapy pipeline with proxy rotation|Extract tables from thousands of PDFs', 'We need a robust scheduled job with retries, logging and clean CSV or database output, respecting the sites'' terms.'],
        ['design', 'ui/ux design|figma|web design|prototyping|user research', 'Redesign the onboarding flow of our SaaS app|Create a Figma design system for our product|Design a landing page that converts|Run usability tests and propose improvements', 'We are a small product team and want a designer who explains decisions with user research, not just pretty screens.'],
        ['llm', 'openai api|langchain|chatbot development|python|llm|prompt engineering', 'Build a customer support chatbot on our docs|Add AI-generated summaries to our CRM|Evaluate and improve our RAG pipeline|Build an AI agent that drafts sales emails', 'We have a prototype built on the OpenAI API and need it production-ready: evaluations, cost control and guardrails.'],
        ['shopify', 'shopify|liquid|ecommerce|javascript|shopify apps', 'Customise our Shopify theme product pages|Build a private Shopify app for inventory sync|Migrate our store from WooCommerce to Shopify|Add subscriptions to our Shopify store', 'We sell internationally and need multi-currency support and fast pages on mobile.'],
        ['writing', 'technical writing|content writing|copywriting|seo|api documentation', 'Write API documentation for our developer portal|Write ten SEO blog posts about cloud security|Rewrite our website copy for clarity|Create tutorials for our open-source SDK', 'Our audience is developers; the writing must be precise, example-driven and reviewed against the product.']];
    levels text[] := ARRAY['ENTRY_LEVEL', 'INTERMEDIATE', 'INTERMEDIATE', 'EXPERT'];
    h bigint; t int; sk text[]; all_sk text[]; k int; title text; fixed boolean;
    lo numeric; hi numeric; cid uuid; cscore smallint; loc text; cipher text;
BEGIN
    FOR i IN 1..n LOOP
        h := pg_temp.demo_h(seed, i, 2);
        t := 1 + (h % 12);
        all_sk := string_to_array(topics[t][2], '|');
        k := 3 + (h / 12) % 3;
        sk := ARRAY(SELECT all_sk[1 + ((h / 36 + j * 7) % cardinality(all_sk))]
                    FROM generate_series(0, k - 1) j GROUP BY 1 ORDER BY min(j));
        title := pg_temp.demo_pick(string_to_array(topics[t][3], '|'), h / 5);
        fixed := (h / 97) % 5 = 0;
        IF fixed THEN
            lo := (100 * (1 + (h / 7) % 50))::numeric; hi := lo;
        ELSE
            lo := (10 + 5 * ((h / 7) % 12))::numeric; hi := lo + 10 + 5 * ((h / 11) % 10);
        END IF;
        SELECT c.id, client_score_of(c.payment_verified, c.total_spent, c.hire_rate, c.rating, c.reviews_count), c.country
          INTO cid, cscore, loc
          FROM clients c
         WHERE c.tenant_id = tenant AND c.upwork_uid = 'demo-' || seed || '-' || (1 + (h / 13) % nclients);
        cipher := '~01' || substr(md5(tenant || i::text || seed::text), 1, 16);
        INSERT INTO jobs (tenant_id, upwork_id, ciphertext, title, description, skills, budget_type,
                          budget_min, budget_max, location, client_id, client_score,
                          experience_level, applicants, posted_at, deadline)
        VALUES (tenant, 'demo-' || seed || '-' || i, cipher, title,
                title || '. ' || topics[t][4] || ' Must be comfortable with ' ||
                    array_to_string(sk, ', ') || '. Please describe a similar project you shipped and your availability.',
                sk, CASE WHEN fixed THEN 'fixed' ELSE 'hourly' END, lo, hi, loc, cid, coalesce(cscore, 0),
                levels[1 + (h / 3) % 4], (h / 17) % 60,
                now() - make_interval(mins => (i * 7 + (h % 7))::int),
                CASE WHEN (h / 29) % 3 = 0 THEN now() + make_interval(days => 3 + (h % 20)::int) END)
        ON CONFLICT (tenant_id, upwork_id) DO NOTHING;
    END LOOP;
END $$;
