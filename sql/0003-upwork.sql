-- 0003-upwork.sql: each tenant's Upwork connection (tokens sealed at rest), single-use OAuth states, client details, proposals marked ready, and the scheduler's list of tenants with cron work.
--
-- Tokens are sealed by the application (AES-256-GCM, key in
-- upwork_token_key_file) before they reach the database, so neither a
-- dump nor a replica nor this database's superuser reads them.  The
-- cron binaries connect as upwork_app like the API: they learn which
-- tenants have work from scheduler_tenants(), the one function that
-- looks across tenants (it returns ids, never data), and then do each
-- tenant's work under row-level security with that tenant set.

CREATE TABLE upwork_accounts (
    tenant_id            text PRIMARY KEY DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    status               text NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'disconnected')),
    connected_by         text NOT NULL DEFAULT app_user() CHECK (length(connected_by) <= 128),
    upwork_org_id        text CHECK (upwork_org_id ~ '^[A-Za-z0-9_.~-]{1,64}$'),
    access_token         text CHECK (access_token ~ '^v1\.[A-Za-z0-9_-]+$'),
    refresh_token        text CHECK (refresh_token ~ '^v1\.[A-Za-z0-9_-]+$'),
    access_expires_at    timestamptz,
    token_generation     integer NOT NULL DEFAULT 1 CHECK (token_generation > 0),
    refreshed_at         timestamptz,
    disconnected_reason  text CHECK (length(disconnected_reason) <= 500),
    connected_at         timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'disconnected' OR (access_token IS NOT NULL AND
           refresh_token IS NOT NULL AND access_expires_at IS NOT NULL))
);
COMMENT ON TABLE upwork_accounts IS 'A tenant''s connection to Upwork: the OAuth2 token pair, sealed, and its state.';
COMMENT ON COLUMN upwork_accounts.tenant_id IS 'The tenant; one Upwork connection each.';
COMMENT ON COLUMN upwork_accounts.status IS 'connected, or disconnected (refresh refused by Upwork, or the user disconnected).';
COMMENT ON COLUMN upwork_accounts.connected_by IS 'The user who went through the authorization.';
COMMENT ON COLUMN upwork_accounts.upwork_org_id IS 'Upwork organization sent as X-Upwork-API-TenantId, when one was chosen.';
COMMENT ON COLUMN upwork_accounts.access_token IS 'The access token sealed with AES-256-GCM: v1.<base64url of nonce, ciphertext, tag>; NULL once disconnected.';
COMMENT ON COLUMN upwork_accounts.refresh_token IS 'The refresh token, sealed the same way; Upwork rotates it at each refresh.';
COMMENT ON COLUMN upwork_accounts.access_expires_at IS 'When the access token expires; it is refreshed upwork_refresh_skew seconds before.';
COMMENT ON COLUMN upwork_accounts.token_generation IS 'Incremented by every stored token pair (connection or refresh).';
COMMENT ON COLUMN upwork_accounts.refreshed_at IS 'When the pair was last refreshed.';
COMMENT ON COLUMN upwork_accounts.disconnected_reason IS 'Why the connection ended, for the user.';
COMMENT ON COLUMN upwork_accounts.connected_at IS 'When the authorization was (last) granted.';
COMMENT ON COLUMN upwork_accounts.updated_at IS 'Last change.';

CREATE TABLE upwork_oauth_states (
    tenant_id      text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    nonce          text NOT NULL CHECK (nonce ~ '^[0-9a-f]{32}$'),
    user_id        text NOT NULL DEFAULT app_user() CHECK (length(user_id) <= 128),
    upwork_org_id  text CHECK (upwork_org_id ~ '^[A-Za-z0-9_.~-]{1,64}$'),
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, nonce)
);
COMMENT ON TABLE upwork_oauth_states IS 'Authorizations started by GET /api/upwork/connect; the callback consumes its row, so a state works once.';
COMMENT ON COLUMN upwork_oauth_states.tenant_id IS 'The tenant being connected.';
COMMENT ON COLUMN upwork_oauth_states.nonce IS 'The random part of the signed state.';
COMMENT ON COLUMN upwork_oauth_states.user_id IS 'The user who started it.';
COMMENT ON COLUMN upwork_oauth_states.upwork_org_id IS 'The Upwork organization asked for, if any.';
COMMENT ON COLUMN upwork_oauth_states.expires_at IS 'After this the state is refused (upwork_state_ttl); prune deletes the row.';
COMMENT ON COLUMN upwork_oauth_states.created_at IS 'When the authorization started.';
CREATE INDEX upwork_oauth_states_expiry ON upwork_oauth_states (tenant_id, expires_at);

ALTER TABLE clients
    ADD COLUMN details jsonb,
    ADD COLUMN details_refreshed_at timestamptz;
COMMENT ON COLUMN clients.details IS 'The client''s company as marketplaceJobPosting(id) returned it (refresh-clients).';
COMMENT ON COLUMN clients.details_refreshed_at IS 'When refresh-clients last fetched details; NULL: never.';
CREATE INDEX clients_details_age ON clients (tenant_id, details_refreshed_at NULLS FIRST);

ALTER TABLE proposals
    ADD COLUMN ready_at timestamptz;
COMMENT ON COLUMN proposals.status IS 'Lifecycle state: draft first; incomplete when a streamed generation lost its client part-way; ready once submitted here, to be finished on Upwork.';
COMMENT ON COLUMN proposals.ready_at IS 'When the freelancer submitted it here (status ready): it is finished on Upwork at the job''s apply URL.';

ALTER TABLE job_searches
    ADD COLUMN polled_fully boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN job_searches.polled_fully IS 'Whether the poller''s last run of it finished; only then may the next stop at the first page with nothing new.';
CREATE INDEX job_searches_notify ON job_searches (tenant_id) WHERE notify;

ALTER TABLE upwork_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE upwork_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON upwork_accounts USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

ALTER TABLE upwork_oauth_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE upwork_oauth_states FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON upwork_oauth_states USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON upwork_accounts, upwork_oauth_states TO upwork_app;

-- Which tenants a cron binary has work for, and nothing else: the ids,
-- never a row of data.  It runs as upwork_scheduler (BYPASSRLS, cannot
-- log in, owns only this), so upwork_app can call it without seeing
-- across tenants itself; each tenant's work then runs under RLS.
--   poll     connected accounts with a saved search that has notify on
--   refresh  connected accounts with a client whose details are older
--            than since (or were never fetched)
--   prune    every tenant
--   usage    tenants with AI usage in the month that starts at since
CREATE FUNCTION scheduler_tenants(purpose text, since timestamptz DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF purpose = 'poll' THEN
        RETURN QUERY SELECT a.tenant_id FROM upwork_accounts a
            WHERE a.status = 'connected'
              AND EXISTS (SELECT FROM job_searches s WHERE s.tenant_id = a.tenant_id AND s.notify)
            ORDER BY 1;
    ELSIF purpose = 'refresh' THEN
        RETURN QUERY SELECT a.tenant_id FROM upwork_accounts a
            WHERE a.status = 'connected'
              AND EXISTS (SELECT FROM clients c WHERE c.tenant_id = a.tenant_id
                          AND (c.details_refreshed_at IS NULL OR c.details_refreshed_at < since))
            ORDER BY 1;
    ELSIF purpose = 'prune' THEN
        RETURN QUERY SELECT t.id FROM tenants t ORDER BY 1;
    ELSIF purpose = 'usage' THEN
        RETURN QUERY SELECT DISTINCT u.tenant_id FROM ai_usage u
            WHERE u.created_at >= since AND u.created_at < since + interval '1 month'
            ORDER BY 1;
    ELSE
        RAISE EXCEPTION 'scheduler_tenants: unknown purpose %', purpose USING ERRCODE = '22023';
    END IF;
END $$;
COMMENT ON FUNCTION scheduler_tenants(text, timestamptz) IS
    'Ids of the tenants a cron binary has work for (poll, refresh, prune, usage); runs as upwork_scheduler, returns no data.';

-- Hand the function to upwork_scheduler, with read access to what it
-- reads and nothing more.  Owning a function needs CREATE on its schema
-- at the moment of the change only.
GRANT USAGE ON SCHEMA public TO upwork_scheduler;
GRANT SELECT ON tenants, upwork_accounts, job_searches, clients, ai_usage TO upwork_scheduler;
REVOKE ALL ON FUNCTION scheduler_tenants(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scheduler_tenants(text, timestamptz) TO upwork_app;
GRANT CREATE ON SCHEMA public TO upwork_scheduler;
ALTER FUNCTION scheduler_tenants(text, timestamptz) OWNER TO upwork_scheduler;
REVOKE CREATE ON SCHEMA public FROM upwork_scheduler;
