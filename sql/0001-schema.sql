-- 0001-schema.sql: tenants, users, clients, jobs, saved searches, proposals and AI usage, all under row-level security.
--
-- Run by scripts/migrate.sh as the owner role (upwork_owner); the API
-- connects as upwork_app, which owns nothing, is not a superuser and has
-- no BYPASSRLS.  Every tenant table has ENABLE and FORCE ROW LEVEL
-- SECURITY and one policy comparing tenant_id with app.tenant_id, which
-- each request sets with set_config(..., true) for its transaction only.

-- The tenant of the current transaction, or NULL when none is set; an
-- unset context therefore matches no row at all.
CREATE FUNCTION app_tenant() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.tenant_id', true), '') $$;
COMMENT ON FUNCTION app_tenant() IS
    'The tenant id set for this transaction by set_config(''app.tenant_id'', ..., true), NULL if unset.';

CREATE FUNCTION app_user() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.user_id', true), '') $$;
COMMENT ON FUNCTION app_user() IS
    'The user id (JWT sub) set for this transaction, NULL if unset.';

CREATE TABLE tenants (
    id          text PRIMARY KEY DEFAULT app_tenant()
                CHECK (id ~ '^[A-Za-z0-9_.:@|-]{1,137}$'),
    kind        text NOT NULL DEFAULT 'org' CHECK (kind IN ('org', 'personal')),
    name        text CHECK (length(name) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenants IS 'An organisation (Clerk org) or a personal account; the unit of isolation.';
COMMENT ON COLUMN tenants.id IS 'Clerk organisation id, or personal:<user id> for a personal account.';
COMMENT ON COLUMN tenants.kind IS 'org or personal.';
COMMENT ON COLUMN tenants.name IS 'Display name, when known.';
COMMENT ON COLUMN tenants.created_at IS 'When the tenant was first seen.';

CREATE TABLE users (
    tenant_id     text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    id            text NOT NULL DEFAULT app_user() CHECK (id ~ '^[A-Za-z0-9_.:@|-]{1,128}$'),
    name          text CHECK (length(name) <= 200),
    title         text CHECK (length(title) <= 200),
    skills        text[] NOT NULL DEFAULT '{}',
    hourly_rate   numeric(10, 2) CHECK (hourly_rate >= 0),
    bio           text CHECK (length(bio) <= 5000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE users IS 'A freelancer as a member of a tenant, with the profile the proposal generator reads.';
COMMENT ON COLUMN users.tenant_id IS 'The tenant this membership belongs to.';
COMMENT ON COLUMN users.id IS 'The JWT sub (Clerk user id).';
COMMENT ON COLUMN users.name IS 'Full name.';
COMMENT ON COLUMN users.title IS 'Professional headline.';
COMMENT ON COLUMN users.skills IS 'Skills, lower-case.';
COMMENT ON COLUMN users.hourly_rate IS 'Hourly rate in USD.';
COMMENT ON COLUMN users.bio IS 'Profile overview text.';
COMMENT ON COLUMN users.created_at IS 'When the user was first seen in this tenant.';
COMMENT ON COLUMN users.updated_at IS 'Last profile change.';

CREATE TABLE clients (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    upwork_uid        text NOT NULL CHECK (length(upwork_uid) <= 100),
    name              text CHECK (length(name) <= 200),
    company           text CHECK (length(company) <= 200),
    country           text CHECK (length(country) <= 100),
    city              text CHECK (length(city) <= 100),
    total_spent       numeric(14, 2) NOT NULL DEFAULT 0 CHECK (total_spent >= 0),
    hire_rate         numeric(5, 2) CHECK (hire_rate BETWEEN 0 AND 100),
    rating            numeric(3, 2) CHECK (rating BETWEEN 0 AND 5),
    reviews_count     integer NOT NULL DEFAULT 0 CHECK (reviews_count >= 0),
    jobs_posted       integer NOT NULL DEFAULT 0 CHECK (jobs_posted >= 0),
    total_hires       integer NOT NULL DEFAULT 0 CHECK (total_hires >= 0),
    payment_verified  boolean NOT NULL DEFAULT false,
    member_since      timestamptz,
    raw               jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, upwork_uid),
    UNIQUE (tenant_id, id)
);
COMMENT ON TABLE clients IS 'An Upwork client (the buyer who posts jobs), as seen by one tenant.';
COMMENT ON COLUMN clients.id IS 'Our id for the client.';
COMMENT ON COLUMN clients.tenant_id IS 'The tenant that fetched this profile.';
COMMENT ON COLUMN clients.upwork_uid IS 'Upwork''s id of the client (companyOrgUid), unique per tenant.';
COMMENT ON COLUMN clients.name IS 'Client display name.';
COMMENT ON COLUMN clients.company IS 'Company name.';
COMMENT ON COLUMN clients.country IS 'Country, as Upwork gives it.';
COMMENT ON COLUMN clients.city IS 'City.';
COMMENT ON COLUMN clients.total_spent IS 'Total spent on Upwork, USD.';
COMMENT ON COLUMN clients.hire_rate IS 'Hires per job posted, percent.';
COMMENT ON COLUMN clients.rating IS 'Average feedback score given by freelancers, 0 to 5.';
COMMENT ON COLUMN clients.reviews_count IS 'Number of reviews received.';
COMMENT ON COLUMN clients.jobs_posted IS 'Jobs posted on Upwork.';
COMMENT ON COLUMN clients.total_hires IS 'Freelancers hired on Upwork.';
COMMENT ON COLUMN clients.payment_verified IS 'Whether the payment method is verified.';
COMMENT ON COLUMN clients.member_since IS 'When the client joined Upwork.';
COMMENT ON COLUMN clients.raw IS 'The client object as Upwork returned it.';
COMMENT ON COLUMN clients.created_at IS 'When we first stored it.';
COMMENT ON COLUMN clients.updated_at IS 'When we last refreshed it.';

CREATE TABLE jobs (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    upwork_id         text NOT NULL CHECK (length(upwork_id) <= 100),
    ciphertext        text CHECK (length(ciphertext) <= 100),
    title             text NOT NULL CHECK (length(title) <= 500),
    description       text NOT NULL DEFAULT '' CHECK (length(description) <= 50000),
    skills            text[] NOT NULL DEFAULT '{}',
    budget_type       text NOT NULL CHECK (budget_type IN ('fixed', 'hourly')),
    budget_min        numeric(12, 2) CHECK (budget_min >= 0),
    budget_max        numeric(12, 2) CHECK (budget_max >= budget_min),
    currency          text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    location          text CHECK (length(location) <= 100),
    location_key      text GENERATED ALWAYS AS (lower(location)) STORED,
    client_id         uuid,
    client_score      smallint NOT NULL DEFAULT 0 CHECK (client_score BETWEEN 0 AND 100),
    experience_level  text CHECK (experience_level IN ('ENTRY_LEVEL', 'INTERMEDIATE', 'EXPERT')),
    applicants        integer CHECK (applicants >= 0),
    posted_at         timestamptz NOT NULL,
    deadline          timestamptz,
    raw               jsonb,
    search            tsvector GENERATED ALWAYS AS (
                          setweight(to_tsvector('english', title), 'A') ||
                          setweight(to_tsvector('english', left(description, 10000)), 'B')) STORED,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, upwork_id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE SET NULL (client_id)
);
COMMENT ON TABLE jobs IS 'An Upwork job posting stored for one tenant.';
COMMENT ON COLUMN jobs.id IS 'Our id for the job.';
COMMENT ON COLUMN jobs.tenant_id IS 'The tenant whose searches found it.';
COMMENT ON COLUMN jobs.upwork_id IS 'Upwork''s job id, unique per tenant.';
COMMENT ON COLUMN jobs.ciphertext IS 'Upwork''s public job key (~01...), used in job and apply URLs.';
COMMENT ON COLUMN jobs.title IS 'Job title.';
COMMENT ON COLUMN jobs.description IS 'Job description.';
COMMENT ON COLUMN jobs.skills IS 'Required skills, lower-case display names.';
COMMENT ON COLUMN jobs.budget_type IS 'fixed (budget_min = budget_max = the amount) or hourly (the hourly range).';
COMMENT ON COLUMN jobs.budget_min IS 'Lower end of the budget, in currency units.';
COMMENT ON COLUMN jobs.budget_max IS 'Upper end of the budget.';
COMMENT ON COLUMN jobs.currency IS 'ISO 4217 currency of the budget.';
COMMENT ON COLUMN jobs.location IS 'The client''s country.';
COMMENT ON COLUMN jobs.location_key IS 'location in lower case, for the case-insensitive location filter.';
COMMENT ON COLUMN jobs.client_id IS 'The client who posted it, when known.';
COMMENT ON COLUMN jobs.client_score IS 'Client quality 0-100 computed when the job was stored.';
COMMENT ON COLUMN jobs.experience_level IS 'Upwork experience level: ENTRY_LEVEL, INTERMEDIATE or EXPERT.';
COMMENT ON COLUMN jobs.applicants IS 'Number of proposals already sent, when known.';
COMMENT ON COLUMN jobs.posted_at IS 'When the client posted it.';
COMMENT ON COLUMN jobs.deadline IS 'Application deadline, when there is one.';
COMMENT ON COLUMN jobs.raw IS 'The job node as Upwork returned it.';
COMMENT ON COLUMN jobs.search IS 'Full-text vector of title and description for the q filter.';
COMMENT ON COLUMN jobs.created_at IS 'When we first stored it.';
COMMENT ON COLUMN jobs.updated_at IS 'When we last changed it.';

-- The list is newest first.  Under row-level security an index can
-- serve a filter only through leakproof operators (texteq, int4ge, ...):
-- hence location_key compared with lower($x) rather than lower(location),
-- and job_skills below rather than a GIN index on the skills array.
CREATE INDEX jobs_tenant_posted ON jobs (tenant_id, posted_at DESC, id DESC);
CREATE INDEX jobs_search ON jobs USING gin (search);
CREATE INDEX jobs_tenant_location ON jobs (tenant_id, location_key, posted_at DESC);
CREATE INDEX jobs_tenant_score ON jobs (tenant_id, client_score, posted_at DESC);
CREATE INDEX jobs_client ON jobs (tenant_id, client_id);

-- One row per (job, skill): the skills filter's index.  Its primary key
-- answers "which jobs have any of these skills" and counts them with an
-- index-only scan, where a GIN index on jobs.skills would have to visit
-- the heap for every match (and cannot be used under RLS at all, as
-- arrayoverlap is not leakproof).  Kept in step by a trigger on jobs.
CREATE TABLE job_skills (
    tenant_id  text NOT NULL,
    skill      text NOT NULL,
    job_id     uuid NOT NULL,
    PRIMARY KEY (tenant_id, skill, job_id),
    FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE job_skills IS 'The skills of each job, one row per skill, maintained by a trigger on jobs.';
COMMENT ON COLUMN job_skills.tenant_id IS 'The job''s tenant.';
COMMENT ON COLUMN job_skills.skill IS 'One skill of the job, lower-case.';
COMMENT ON COLUMN job_skills.job_id IS 'The job.';
CREATE INDEX job_skills_job ON job_skills (tenant_id, job_id);

CREATE FUNCTION jobs_sync_skills() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM job_skills WHERE tenant_id = NEW.tenant_id AND job_id = NEW.id;
    END IF;
    INSERT INTO job_skills (tenant_id, skill, job_id)
    SELECT DISTINCT NEW.tenant_id, s, NEW.id FROM unnest(NEW.skills) s;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION jobs_sync_skills() IS 'Keeps job_skills equal to the skills arrays of jobs.';
CREATE TRIGGER jobs_sync_skills AFTER INSERT OR UPDATE OF skills ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_sync_skills();

CREATE TABLE job_searches (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    user_id       text NOT NULL DEFAULT app_user(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    skills        text[] NOT NULL DEFAULT '{}' CHECK (cardinality(skills) <= 20),
    min_budget    integer CHECK (min_budget >= 0),
    max_budget    integer CHECK (max_budget >= min_budget),
    location      text CHECK (length(location) <= 100),
    client_score  smallint CHECK (client_score BETWEEN 0 AND 100),
    query         text CHECK (length(query) <= 200),
    notify        boolean NOT NULL DEFAULT true,
    last_run_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE job_searches IS 'A saved job search (POST /api/jobs); the cron poller runs those with notify on.';
COMMENT ON COLUMN job_searches.id IS 'Our id for the search.';
COMMENT ON COLUMN job_searches.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN job_searches.user_id IS 'The user who created it.';
COMMENT ON COLUMN job_searches.name IS 'Display name.';
COMMENT ON COLUMN job_searches.skills IS 'Skills to match (any of them), lower-case.';
COMMENT ON COLUMN job_searches.min_budget IS 'Minimum budget, USD.';
COMMENT ON COLUMN job_searches.max_budget IS 'Maximum budget, USD.';
COMMENT ON COLUMN job_searches.location IS 'Client country to match.';
COMMENT ON COLUMN job_searches.client_score IS 'Minimum client score 0-100.';
COMMENT ON COLUMN job_searches.query IS 'Free-text query on title and description.';
COMMENT ON COLUMN job_searches.notify IS 'Whether the poller runs it and announces new jobs.';
COMMENT ON COLUMN job_searches.last_run_at IS 'When the poller last ran it.';
COMMENT ON COLUMN job_searches.created_at IS 'Creation time.';
COMMENT ON COLUMN job_searches.updated_at IS 'Last change.';
CREATE INDEX job_searches_tenant ON job_searches (tenant_id, created_at DESC, id DESC);

CREATE TABLE proposals (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    user_id            text NOT NULL DEFAULT app_user(),
    job_id             uuid NOT NULL,
    status             text NOT NULL DEFAULT 'draft',
    content            text NOT NULL DEFAULT '' CHECK (length(content) <= 50000),
    alternatives       jsonb NOT NULL DEFAULT '[]',
    tone               text,
    provider           text,
    model              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE proposals IS 'A proposal for a job, drafted by the AI and edited and sent by a user.';
COMMENT ON COLUMN proposals.id IS 'Our id for the proposal.';
COMMENT ON COLUMN proposals.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN proposals.user_id IS 'The freelancer it belongs to.';
COMMENT ON COLUMN proposals.job_id IS 'The job it answers.';
COMMENT ON COLUMN proposals.status IS 'Lifecycle state, draft first.';
COMMENT ON COLUMN proposals.content IS 'The proposal text.';
COMMENT ON COLUMN proposals.alternatives IS 'Alternative versions, as a JSON array.';
COMMENT ON COLUMN proposals.tone IS 'The tone asked for.';
COMMENT ON COLUMN proposals.provider IS 'LLM provider that wrote it.';
COMMENT ON COLUMN proposals.model IS 'Model that wrote it.';
COMMENT ON COLUMN proposals.created_at IS 'Creation time.';
COMMENT ON COLUMN proposals.updated_at IS 'Last change.';
CREATE INDEX proposals_tenant_user ON proposals (tenant_id, user_id, created_at DESC);
CREATE INDEX proposals_job ON proposals (tenant_id, job_id);

CREATE TABLE ai_usage (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    user_id            text NOT NULL DEFAULT app_user(),
    kind               text NOT NULL CHECK (kind IN ('proposal_generation', 'client_research')),
    proposal_id        uuid,
    provider           text NOT NULL,
    model              text NOT NULL,
    prompt_tokens      integer NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens  integer NOT NULL CHECK (completion_tokens >= 0),
    cost               numeric(12, 6) NOT NULL DEFAULT 0 CHECK (cost >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id) ON DELETE SET NULL (proposal_id)
);
COMMENT ON TABLE ai_usage IS 'One row per billable AI call, for usage reports and budgets.';
COMMENT ON COLUMN ai_usage.id IS 'Row id.';
COMMENT ON COLUMN ai_usage.tenant_id IS 'Tenant billed.';
COMMENT ON COLUMN ai_usage.user_id IS 'User who made the call.';
COMMENT ON COLUMN ai_usage.kind IS 'What the call was for.';
COMMENT ON COLUMN ai_usage.proposal_id IS 'The proposal it produced, if any.';
COMMENT ON COLUMN ai_usage.provider IS 'LLM provider.';
COMMENT ON COLUMN ai_usage.model IS 'Model.';
COMMENT ON COLUMN ai_usage.prompt_tokens IS 'Prompt tokens.';
COMMENT ON COLUMN ai_usage.completion_tokens IS 'Completion tokens.';
COMMENT ON COLUMN ai_usage.cost IS 'Cost in USD from the price table.';
COMMENT ON COLUMN ai_usage.created_at IS 'When the call finished.';
CREATE INDEX ai_usage_tenant_time ON ai_usage (tenant_id, created_at);

-- The client score stored on each job: 0-100, the same formula wherever
-- a job is stored (demo data, the poller).  Payment verified 30, money
-- spent up to 25 (log scale, $1M and more is 25), hire rate up to 20,
-- rating up to 20 (weighted by how many reviews back it), reviews up to 5.
CREATE FUNCTION client_score_of(payment_verified boolean, total_spent numeric,
                                hire_rate numeric, rating numeric, reviews integer)
    RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT greatest(0, least(100, round(
        CASE WHEN payment_verified THEN 30 ELSE 0 END
        + least(25, log(greatest(coalesce(total_spent, 0), 0) + 1) * 25 / 6)
        + coalesce(hire_rate, 0) * 0.20
        + coalesce(rating, 0) * 4 * least(coalesce(reviews, 0), 10) / 10.0
        + least(coalesce(reviews, 0), 50) / 10.0)))::smallint $$;
COMMENT ON FUNCTION client_score_of(boolean, numeric, numeric, numeric, integer) IS
    'Client quality 0-100 from payment verification, spend, hire rate, rating and review count.';

-- Row-level security: one policy per table, the same predicate each time.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (id = app_tenant()) WITH CHECK (id = app_tenant());

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON clients USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

ALTER TABLE job_skills ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_skills FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON job_skills USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

ALTER TABLE job_searches ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_searches FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON job_searches USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

ALTER TABLE proposals ENABLE ROW LEVEL SECURITY;
ALTER TABLE proposals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON proposals USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

ALTER TABLE ai_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_usage USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

GRANT USAGE ON SCHEMA public TO upwork_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, users, clients, jobs, job_skills, job_searches, proposals, ai_usage TO upwork_app;
GRANT EXECUTE ON FUNCTION app_tenant(), app_user(),
    client_score_of(boolean, numeric, numeric, numeric, integer) TO upwork_app;
