-- 0009-idempotency.sql: Idempotency-Key on POST and PATCH: the first response to a key is kept for 24 hours and replayed, so a retried request never runs twice.
--
-- A request with the header claims its (tenant, user, method, path, key)
-- row before its handler runs (common/idempotency.c); the handler's
-- response is then stored in the row.  A second request with the key
-- finds the row: stored, it is answered with the stored response; still
-- in progress (locked_until in the future), 409; with another method
-- body or query (fingerprint), 422.  A row whose request died unanswered
-- may be claimed again once locked_until passes; an expired one at any
-- time.  The prune cron binary deletes expired rows.

CREATE TABLE idempotency_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    user_id       text NOT NULL DEFAULT app_user(),
    method        text NOT NULL CHECK (method IN ('POST', 'PATCH')),
    path          text NOT NULL CHECK (length(path) <= 2048),
    key           text NOT NULL CHECK (key ~ '^[ -~]{1,255}$'),
    fingerprint   text NOT NULL,
    status        integer CHECK (status BETWEEN 100 AND 599),
    content_type  text,
    headers       text,
    body          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    UNIQUE (tenant_id, user_id, method, path, key)
);
COMMENT ON TABLE idempotency_keys IS 'Idempotency-Key of POST and PATCH requests, with the first response, replayed to the same key for 24 hours.';
COMMENT ON COLUMN idempotency_keys.id IS 'The row, for the prune cron binary''s batches.';
COMMENT ON COLUMN idempotency_keys.tenant_id IS 'Tenant of the request: a key is scoped by tenant, user, method and path.';
COMMENT ON COLUMN idempotency_keys.user_id IS 'User (JWT sub) who sent it.';
COMMENT ON COLUMN idempotency_keys.method IS 'POST or PATCH.';
COMMENT ON COLUMN idempotency_keys.path IS 'The request path, without the query.';
COMMENT ON COLUMN idempotency_keys.key IS 'The Idempotency-Key header: 1 to 255 printable ASCII characters.';
COMMENT ON COLUMN idempotency_keys.fingerprint IS 'SHA-256 of the query and the body: the same key with another request is a 422.';
COMMENT ON COLUMN idempotency_keys.status IS 'Status of the stored response; NULL while the first request is in progress.';
COMMENT ON COLUMN idempotency_keys.content_type IS 'Content-Type of the stored response.';
COMMENT ON COLUMN idempotency_keys.headers IS 'Header lines the handler added (Location, ETag...), CRLF-terminated; not CORS or rate-limit headers, which are the replay''s own.';
COMMENT ON COLUMN idempotency_keys.body IS 'Body of the stored response.';
COMMENT ON COLUMN idempotency_keys.created_at IS 'When the key was first claimed.';
COMMENT ON COLUMN idempotency_keys.locked_until IS 'While in progress, a duplicate gets 409 until then; after it, the request is taken for dead and the key may be claimed again.';
COMMENT ON COLUMN idempotency_keys.expires_at IS 'When the key may be reused for a new request (24 hours); the prune cron binary deletes the row after.';
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (tenant_id, expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO upwork_app;
