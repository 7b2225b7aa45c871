-- 0005-lifecycle.sql: the proposal lifecycle: the states a proposal may be in, the history of every change (written by a trigger), and the template a proposal was generated from.
--
-- The edges between the states are decided in one place, the pure
-- function in common/lifecycle.c, which PATCH /api/proposals/{id} and
-- POST /api/proposals/{id}/submit both call under a row lock; this
-- migration only says which states exist.  The history is written by a
-- trigger on proposals, so no code path (generation, submit, PATCH, a
-- future one) can change a proposal without leaving its row: creation
-- (from NULL), every status change, and every edit of the text.

ALTER TABLE proposals
    ADD CONSTRAINT proposals_status_valid CHECK (status IN ('draft', 'incomplete', 'ready',
        'submitted', 'viewed', 'interviewing', 'hired', 'declined', 'withdrawn')),
    ADD COLUMN template_id uuid,
    ADD CONSTRAINT proposals_template FOREIGN KEY (tenant_id, template_id)
        REFERENCES proposal_templates (tenant_id, id) ON DELETE SET NULL (template_id);
COMMENT ON COLUMN proposals.status IS 'Lifecycle state (README, "The proposal lifecycle"): draft or incomplete when generated; ready once submitted here; submitted, viewed, interviewing as it goes on Upwork; hired, declined or withdrawn at the end.';
COMMENT ON COLUMN proposals.template_id IS 'The user''s template it was generated from (templateId), NULL when none or when the template was deleted since.';
CREATE INDEX proposals_template ON proposals (tenant_id, template_id) WHERE template_id IS NOT NULL;

CREATE TABLE proposal_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    proposal_id  uuid NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    edited       boolean NOT NULL DEFAULT false,
    changed_by   text CHECK (length(changed_by) <= 128),
    changed_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE proposal_history IS 'Every change of a proposal, oldest first: its creation, each status change and each edit of its text; written by the trigger proposals_history, never by the API directly.';
COMMENT ON COLUMN proposal_history.id IS 'Row id; orders the changes of one proposal (several may share a changed_at).';
COMMENT ON COLUMN proposal_history.tenant_id IS 'Owning tenant.';
COMMENT ON COLUMN proposal_history.proposal_id IS 'The proposal that changed.';
COMMENT ON COLUMN proposal_history.from_status IS 'Its status before the change; NULL for its creation.';
COMMENT ON COLUMN proposal_history.to_status IS 'Its status after the change (the same as from_status for an edit of the text alone).';
COMMENT ON COLUMN proposal_history.edited IS 'The change edited the text (content or alternatives).';
COMMENT ON COLUMN proposal_history.changed_by IS 'The user who made the change (app.user_id of the transaction); NULL when no user was set (a migration, an administrator).';
COMMENT ON COLUMN proposal_history.changed_at IS 'When: the time of the transaction that made the change.';
CREATE INDEX proposal_history_proposal ON proposal_history (tenant_id, proposal_id, id);

CREATE FUNCTION proposals_history() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO proposal_history (tenant_id, proposal_id, from_status, to_status, changed_by)
        VALUES (NEW.tenant_id, NEW.id, NULL, NEW.status, app_user());
    ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.content IS DISTINCT FROM OLD.content
          OR NEW.alternatives IS DISTINCT FROM OLD.alternatives THEN
        INSERT INTO proposal_history (tenant_id, proposal_id, from_status, to_status, edited, changed_by)
        VALUES (NEW.tenant_id, NEW.id, OLD.status, NEW.status,
                NEW.content IS DISTINCT FROM OLD.content OR NEW.alternatives IS DISTINCT FROM OLD.alternatives,
                app_user());
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION proposals_history() IS 'Appends a proposal''s creation, status changes and text edits to proposal_history.';
CREATE TRIGGER proposals_history AFTER INSERT OR UPDATE OF status, content, alternatives
    ON proposals FOR EACH ROW EXECUTE FUNCTION proposals_history();

-- Proposals written before this migration get one row: the state they
-- were in when the history began (changed_by NULL says it is not a
-- user's change), read with row-level security lifted for the owner
-- only while it reads every tenant, before the history table has any.
ALTER TABLE proposals NO FORCE ROW LEVEL SECURITY;
INSERT INTO proposal_history (tenant_id, proposal_id, from_status, to_status, changed_by, changed_at)
SELECT tenant_id, id, NULL, status, NULL, coalesce(ready_at, created_at) FROM proposals ORDER BY created_at, id;
ALTER TABLE proposals FORCE ROW LEVEL SECURITY;

ALTER TABLE proposal_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE proposal_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON proposal_history USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

-- Append-only for the API: rows go away only with their proposal.
GRANT SELECT, INSERT ON proposal_history TO upwork_app;
