-- 0002-ai.sql: AI settings and budget per tenant, monthly AI spend, proposal drafts' generation details, usage latency, and client reviews for client research.
--
-- The AI provider and model a tenant uses and its monthly budget default
-- to the configuration (llm_provider, llm_model, ai_monthly_budget_usd);
-- a tenant row may override each.  Proposals gain what the generator
-- produced besides the text, and the state 'incomplete' for a streamed
-- draft whose client went away.  client_reviews holds the feedback
-- freelancers left for a client, read by the client analyzer.

ALTER TABLE tenants
    ADD COLUMN ai_provider text CHECK (ai_provider IN ('builtin', 'openai')),
    ADD COLUMN ai_model text CHECK (ai_model ~ '^[A-Za-z0-9._:/@-]{1,100}$'),
    ADD COLUMN ai_monthly_budget_usd numeric(12, 2) CHECK (ai_monthly_budget_usd >= 0);
COMMENT ON COLUMN tenants.ai_provider IS 'LLM provider for this tenant (builtin or openai); NULL: the configured llm_provider.';
COMMENT ON COLUMN tenants.ai_model IS 'Model name sent to the openai provider; NULL: the configured llm_model.';
COMMENT ON COLUMN tenants.ai_monthly_budget_usd IS 'AI spend allowed per calendar month (UTC), USD; NULL: the configured ai_monthly_budget_usd; 0 turns AI off.';

ALTER TABLE proposals
    ADD COLUMN suggestions jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN max_words integer CHECK (max_words BETWEEN 1 AND 100000),
    ADD COLUMN highlights text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN proposals.suggestions IS 'Tips for the freelancer about this draft, as a JSON array of strings.';
COMMENT ON COLUMN proposals.max_words IS 'The length limit the draft was generated for, in words.';
COMMENT ON COLUMN proposals.highlights IS 'Points the freelancer asked the generator to mention.';
COMMENT ON COLUMN proposals.status IS 'Lifecycle state: draft first; incomplete when a streamed generation lost its client part-way.';

-- The proposals list is per tenant, newest first.
CREATE INDEX proposals_tenant_created ON proposals (tenant_id, created_at DESC, id DESC);

ALTER TABLE ai_usage
    ADD COLUMN latency_ms integer CHECK (latency_ms >= 0);
COMMENT ON COLUMN ai_usage.latency_ms IS 'Wall time of the generation, milliseconds.';

-- The month's usage report reads (tenant_id, created_at) with the cost.
CREATE INDEX ai_usage_tenant_month ON ai_usage (tenant_id, created_at) INCLUDE (cost);
DROP INDEX ai_usage_tenant_time;
CREATE INDEX ai_usage_proposal ON ai_usage (tenant_id, proposal_id);

-- What each tenant spent on AI per calendar month (UTC): the budget check
-- reads one row instead of summing the month's usage.  A trigger on
-- ai_usage keeps it equal to that sum, whoever writes the usage.
CREATE TABLE ai_spend (
    tenant_id  text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    month      date NOT NULL CHECK (extract(day FROM month) = 1),
    cost       numeric(14, 6) NOT NULL DEFAULT 0,
    requests   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);
COMMENT ON TABLE ai_spend IS 'AI cost and calls per tenant and calendar month (UTC), kept equal to the sums of ai_usage by a trigger.';
COMMENT ON COLUMN ai_spend.tenant_id IS 'Tenant billed.';
COMMENT ON COLUMN ai_spend.month IS 'First day of the month (UTC).';
COMMENT ON COLUMN ai_spend.cost IS 'Sum of ai_usage.cost of the month, USD.';
COMMENT ON COLUMN ai_spend.requests IS 'Number of ai_usage rows of the month.';

CREATE FUNCTION ai_usage_spend() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE ai_spend SET cost = cost - OLD.cost, requests = requests - 1
         WHERE tenant_id = OLD.tenant_id
           AND month = date_trunc('month', OLD.created_at AT TIME ZONE 'UTC')::date;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO ai_spend (tenant_id, month, cost, requests)
        VALUES (NEW.tenant_id, date_trunc('month', NEW.created_at AT TIME ZONE 'UTC')::date, NEW.cost, 1)
        ON CONFLICT (tenant_id, month) DO UPDATE
            SET cost = ai_spend.cost + excluded.cost, requests = ai_spend.requests + 1;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION ai_usage_spend() IS 'Keeps ai_spend equal to the monthly sums of ai_usage.';
CREATE TRIGGER ai_usage_spend AFTER INSERT OR DELETE OR UPDATE OF tenant_id, cost, created_at
    ON ai_usage FOR EACH ROW EXECUTE FUNCTION ai_usage_spend();

-- Usage recorded before this migration: summed once, with row-level
-- security lifted for the owner only while it reads every tenant.
ALTER TABLE ai_usage NO FORCE ROW LEVEL SECURITY;
INSERT INTO ai_spend (tenant_id, month, cost, requests)
SELECT tenant_id, date_trunc('month', created_at AT TIME ZONE 'UTC')::date, sum(cost), count(*)
  FROM ai_usage GROUP BY 1, 2;
ALTER TABLE ai_usage FORCE ROW LEVEL SECURITY;

ALTER TABLE ai_spend ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_spend FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_spend USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON ai_spend TO upwork_app;

CREATE TABLE client_reviews (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    text NOT NULL DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    client_id    uuid NOT NULL,
    rating       numeric(3, 2) CHECK (rating BETWEEN 0 AND 5),
    comment      text NOT NULL DEFAULT '' CHECK (length(comment) <= 5000),
    reviewed_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE client_reviews IS 'Feedback freelancers left for a client on Upwork, as fetched by one tenant.';
COMMENT ON COLUMN client_reviews.id IS 'Row id.';
COMMENT ON COLUMN client_reviews.tenant_id IS 'The tenant that fetched it.';
COMMENT ON COLUMN client_reviews.client_id IS 'The client reviewed.';
COMMENT ON COLUMN client_reviews.rating IS 'Stars given, 0 to 5, when there were any.';
COMMENT ON COLUMN client_reviews.comment IS 'The review text.';
COMMENT ON COLUMN client_reviews.reviewed_at IS 'When the review was left.';
COMMENT ON COLUMN client_reviews.created_at IS 'When we stored it.';
CREATE INDEX client_reviews_client ON client_reviews (tenant_id, client_id, reviewed_at DESC);

ALTER TABLE client_reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE client_reviews FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON client_reviews USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON client_reviews TO upwork_app;
