-- bootstrap.sql: the roles and the database; run by upwork-api-migrate --bootstrap (scripts/migrate.sh) as a superuser, idempotent.
--
-- Expects the psql variable app_password.  upwork_owner owns every
-- object and cannot log in; upwork_app is what the API logs in as: not a
-- superuser, no BYPASSRLS, owns nothing, so FORCE ROW LEVEL SECURITY
-- and the policies always apply to it.  The numbered migrations, and
-- schema_migrations that records them, are upwork-api-migrate's work.

SET client_min_messages = warning;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upwork_owner') THEN
        CREATE ROLE upwork_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upwork_app') THEN
        CREATE ROLE upwork_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB
            NOCREATEROLE NOREPLICATION NOINHERIT;
    END IF;
END $$;
ALTER ROLE upwork_app NOSUPERUSER NOBYPASSRLS PASSWORD :'app_password';
ALTER ROLE upwork_app SET TimeZone = 'UTC';

SELECT 'CREATE DATABASE upwork OWNER upwork_owner ENCODING ''UTF8'' TEMPLATE template0'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'upwork') \gexec

\connect upwork
SET client_min_messages = warning;
ALTER SCHEMA public OWNER TO upwork_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO upwork_app;
REVOKE ALL ON DATABASE upwork FROM PUBLIC;
GRANT CONNECT ON DATABASE upwork TO upwork_app;

-- Under row-level security the planner may use an index for a user's
-- filter only when the filter's operator is LEAKPROOF (it cannot reveal
-- other rows through errors).  ts_match_vq (tsvector @@ tsquery) is not
-- marked so, which would make the full-text filter scan the whole
-- tenant.  It raises no error that depends on the row it reads, so it is
-- marked here.  Without the superuser right the API still works; q is
-- slower.
DO $$
BEGIN
    ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'ts_match_vq stays non-leakproof: the q filter will not use its index';
END $$;

-- upwork_scheduler owns one function and nothing else: the one that tells
-- the cron binaries which tenants have work (ids only, no data; see
-- sql/0003-upwork.sql).  It needs BYPASSRLS to look across tenants, so it
-- cannot log in, and nobody but the superuser and upwork_owner (which
-- hands it that function during the migration) can become it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upwork_scheduler') THEN
        CREATE ROLE upwork_scheduler NOLOGIN BYPASSRLS NOINHERIT NOCREATEDB
            NOCREATEROLE NOREPLICATION;
    END IF;
END $$;
ALTER ROLE upwork_scheduler NOLOGIN BYPASSRLS;
GRANT upwork_scheduler TO upwork_owner;
