-- 0006-ai-reservations.sql: AI budget reservations, so that concurrent calls cannot together spend past a tenant's monthly budget.
--
-- Before an AI call, the worst case of its cost is reserved here, under
-- a per-tenant lock, and only if this month's spending plus the live
-- reservations plus it still fit the budget; when the call's usage row
-- is stored the reservation is deleted in the same transaction.  A
-- reservation left by a process that died expires by itself and the
-- prune cron binary deletes it.

CREATE TABLE ai_reservations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     text NOT NULL DEFAULT app_user(),
    amount      numeric(12, 6) NOT NULL CHECK (amount >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
COMMENT ON TABLE ai_reservations IS 'The worst-case cost of AI calls under way, held against the monthly budget until their usage is stored.';
COMMENT ON COLUMN ai_reservations.id IS 'The reservation.';
COMMENT ON COLUMN ai_reservations.tenant_id IS 'Tenant whose budget it holds.';
COMMENT ON COLUMN ai_reservations.user_id IS 'User whose call it is.';
COMMENT ON COLUMN ai_reservations.amount IS 'The call''s worst-case cost, USD.';
COMMENT ON COLUMN ai_reservations.created_at IS 'When the call started.';
COMMENT ON COLUMN ai_reservations.expires_at IS 'After this the reservation no longer counts (its process died).';
CREATE INDEX ai_reservations_tenant ON ai_reservations (tenant_id, expires_at);

ALTER TABLE ai_reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_reservations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_reservations USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON ai_reservations TO upwork_app;
