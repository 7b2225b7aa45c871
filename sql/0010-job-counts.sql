-- 0010-job-counts.sql: exact counts of each tenant's jobs, in all and by skill, kept as deltas by statement triggers on jobs, so GET /api/jobs counts an unfiltered or one-skill list without reading the index of every matching job.
--
-- Why deltas: a counter row per (tenant, skill) updated in place would
-- hold a row lock until the writer commits, serialising every tenant's
-- writers on its busiest skills (and two writers taking them in
-- different orders would deadlock).  Appended rows never conflict: a
-- statement adds one row per skill it changed, with how many jobs it
-- added (positive) or removed (negative), and a count is the sum of a
-- few rows.  job_counts_compact() folds a tenant's rows into one per
-- skill; poll-jobs calls it after each tenant and prune once a day.
-- The sum is exact at every snapshot: the fold is one statement.
--
-- skill '' counts every job of the tenant (skills are never empty: the
-- validator and the poller drop empty strings), any other skill what
-- count(*) FROM job_skills WHERE skill = it would return.

CREATE TABLE job_counts (
    tenant_id  text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    skill      text NOT NULL,
    n          bigint NOT NULL
);
COMMENT ON TABLE job_counts IS 'Deltas of the number of jobs per tenant, in all (skill '''') and per skill: a count is the sum of its rows.';
COMMENT ON COLUMN job_counts.tenant_id IS 'The jobs'' tenant.';
COMMENT ON COLUMN job_counts.skill IS 'A skill as in job_skills, or '''' for all the tenant''s jobs.';
COMMENT ON COLUMN job_counts.n IS 'Jobs added (positive) or removed (negative) by one statement, or a folded total.';
CREATE INDEX job_counts_skill ON job_counts (tenant_id, skill) INCLUDE (n);

-- The rows of a statement's transition tables as deltas.  Jobs of a
-- tenant that is being deleted count nothing: its job_counts rows go
-- with it (ON DELETE CASCADE), and a delta for it would fail the
-- foreign key.
CREATE FUNCTION jobs_count_deltas() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_counts (tenant_id, skill, n)
        SELECT d.tenant_id, d.skill, sum(d.n) FROM (
            SELECT tenant_id, '', 1, id FROM new_jobs
            UNION ALL
            SELECT DISTINCT tenant_id, unnest(skills), 1, id FROM new_jobs
        ) d (tenant_id, skill, n, id) GROUP BY d.tenant_id, d.skill;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO job_counts (tenant_id, skill, n)
        SELECT d.tenant_id, d.skill, -sum(d.n) FROM (
            SELECT tenant_id, '', 1, id FROM old_jobs
            UNION ALL
            SELECT DISTINCT tenant_id, unnest(skills), 1, id FROM old_jobs
        ) d (tenant_id, skill, n, id)
        WHERE EXISTS (SELECT FROM tenants t WHERE t.id = d.tenant_id)
        GROUP BY d.tenant_id, d.skill;
    ELSE
        -- Only where skills (or the tenant) changed: most updates add nothing.
        INSERT INTO job_counts (tenant_id, skill, n)
        SELECT d.tenant_id, d.skill, sum(d.n) FROM (
            SELECT tenant_id, '', 1, id FROM new_jobs
            UNION ALL
            SELECT DISTINCT tenant_id, unnest(skills), 1, id FROM new_jobs
            UNION ALL
            SELECT tenant_id, '', -1, id FROM old_jobs
            UNION ALL
            SELECT DISTINCT tenant_id, unnest(skills), -1, id FROM old_jobs
        ) d (tenant_id, skill, n, id)
        GROUP BY d.tenant_id, d.skill HAVING sum(d.n) <> 0;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION jobs_count_deltas() IS 'Appends to job_counts what a statement changed of the jobs'' counts.';
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_deltas();
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_deltas();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_deltas();

-- TRUNCATE fires no row or statement trigger of the kinds above.
CREATE FUNCTION jobs_count_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE job_counts;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION jobs_count_truncate() IS 'Empties job_counts with jobs.';
CREATE TRIGGER jobs_count_truncate AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_truncate();

-- The rows it can see (the current tenant's, under row-level security)
-- folded into one per skill, none where the sum is 0.  Returns how many
-- rows it removed.
CREATE FUNCTION job_counts_compact() RETURNS bigint
    LANGUAGE sql AS $$
    WITH d AS (DELETE FROM job_counts RETURNING tenant_id, skill, n),
    f AS (INSERT INTO job_counts (tenant_id, skill, n)
          SELECT tenant_id, skill, sum(n) FROM d
          GROUP BY tenant_id, skill HAVING sum(n) <> 0)
    SELECT count(*) FROM d $$;
COMMENT ON FUNCTION job_counts_compact() IS 'Folds the current tenant''s job_counts rows into one per skill.';

-- The counts of the jobs already there, read with row-level security
-- lifted for the owner only while it reads every tenant, before the
-- table is guarded.
ALTER TABLE jobs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE job_skills NO FORCE ROW LEVEL SECURITY;
INSERT INTO job_counts (tenant_id, skill, n)
SELECT tenant_id, '', count(*) FROM jobs GROUP BY tenant_id
UNION ALL
SELECT tenant_id, skill, count(*) FROM job_skills GROUP BY tenant_id, skill;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
ALTER TABLE job_skills FORCE ROW LEVEL SECURITY;

ALTER TABLE job_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON job_counts USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, DELETE ON job_counts TO upwork_app;
GRANT EXECUTE ON FUNCTION job_counts_compact() TO upwork_app;
