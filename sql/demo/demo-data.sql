-- demo-data.sql: the demo tenants org_demo (1,200 jobs, two users) and org_other, with client profiles and reviews; idempotent.
-- Piped to psql after generator.sql, which defines the pg_temp.demo_* functions it calls.
INSERT INTO tenants (id, kind, name) VALUES
    ('org_demo', 'org', 'Demo Agency'),
    ('org_other', 'org', 'Other Agency')
ON CONFLICT (id) DO NOTHING;

INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate, bio) VALUES
    ('org_demo', 'user_demo', 'Dana Demo', 'Senior backend engineer (C, PostgreSQL, APIs)',
     '{c,postgresql,api development,linux,node.js,typescript}', 85,
     'I build fast, boring, reliable backends: multi-tenant APIs on PostgreSQL, C services and the tests that keep them honest.'),
    ('org_demo', 'user_alex', 'Alex Example', 'Full-stack developer (React, Node.js)',
     '{react,typescript,node.js,next.js,css}', 60,
     'Full-stack developer shipping React front ends and Node.js APIs for SaaS startups since 2016.'),
    ('org_other', 'user_other', 'Olive Other', 'Data engineer',
     '{python,sql,data analysis,aws}', 70,
     'Data pipelines and analytics in Python and SQL.')
ON CONFLICT (tenant_id, id) DO NOTHING;

-- The rest of Dana's profile (migration 0004) and a proposal template.
UPDATE users SET hourly_rate_min = 65, tone = 'professional', match_threshold = 70,
       languages = '{"English (native)","German (conversational)"}',
       portfolio = '[{"title": "Multi-tenant billing API", "description": "PostgreSQL row-level security and a C FastCGI API serving 40 customer organisations.", "skills": ["c", "postgresql", "api development"], "url": "https://example.com/billing-api"},
                     {"title": "Log shipper rewrite", "description": "Replaced a Node.js log shipper with a C daemon: a tenth of the memory, no dropped lines.", "skills": ["c", "linux", "node.js"]}]'
 WHERE tenant_id = 'org_demo' AND id = 'user_demo' AND portfolio = '[]';
INSERT INTO proposal_templates (tenant_id, user_id, name, content)
SELECT 'org_demo', 'user_demo', 'Backend, short',
       E'Hi {{client_name}},\n\nYour project "{{job_title}}" is the kind of work I do every week: {{matched_skills}}. ' ||
       E'A recent example: {{portfolio_highlight}}.\n\nMy rate is {{rate}}. When would suit you for a short call?\n\n{{freelancer_name}}'
WHERE NOT EXISTS (SELECT FROM proposal_templates WHERE tenant_id = 'org_demo' AND user_id = 'user_demo');

SELECT pg_temp.demo_clients('org_demo', 150, 1);
SELECT pg_temp.demo_jobs('org_demo', 1200, 1, 150);
SELECT pg_temp.demo_clients('org_other', 40, 2);
SELECT pg_temp.demo_jobs('org_other', 300, 2, 40);

INSERT INTO job_searches (tenant_id, user_id, name, skills, min_budget, max_budget, client_score, notify)
SELECT 'org_demo', 'user_demo', 'C and PostgreSQL work', '{c,postgresql}', 30, 150, 40, true
WHERE NOT EXISTS (SELECT FROM job_searches WHERE tenant_id = 'org_demo' AND name = 'C and PostgreSQL work');

-- Reviews for the first demo clients, so that client research has
-- recent review text to read: most clients kind, a few difficult.
INSERT INTO client_reviews (tenant_id, client_id, rating, comment, reviewed_at)
SELECT c.tenant_id, c.id, r.rating, r.comment, now() - make_interval(days => 20 * r.n + (c.reviews_count % 7))
  FROM clients c
  CROSS JOIN LATERAL (VALUES
      (1, CASE WHEN c.rating >= 4 THEN c.rating ELSE 2.5 END,
       CASE WHEN c.rating >= 4 THEN 'Great client: clear requirements, responsive and paid on time. Would work again.'
            ELSE 'Requirements kept changing and payment was late. Poor communication.' END),
      (2, CASE WHEN c.rating >= 4 THEN 5.0 ELSE 3.0 END,
       CASE WHEN c.rating >= 4 THEN 'A pleasure to work with, fair and professional.'
            ELSE 'Unrealistic deadlines and scope creep.' END)) AS r(n, rating, comment)
 WHERE c.tenant_id = 'org_demo' AND c.rating IS NOT NULL AND c.reviews_count >= 2
   AND NOT EXISTS (SELECT FROM client_reviews x WHERE x.tenant_id = c.tenant_id AND x.client_id = c.id);
