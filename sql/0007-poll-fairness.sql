-- 0007-poll-fairness.sql: the poller takes tenants least recently polled first, so that no tenant can keep the others waiting.

ALTER TABLE upwork_accounts ADD COLUMN last_polled_at timestamptz;
COMMENT ON COLUMN upwork_accounts.last_polled_at IS 'When the poller (or POST /api/upwork/poll) last polled this tenant; the poller goes least recent first.';

CREATE OR REPLACE FUNCTION scheduler_tenants(purpose text, since timestamptz DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF purpose = 'poll' THEN
        RETURN QUERY SELECT a.tenant_id FROM upwork_accounts a
            WHERE a.status = 'connected'
              AND EXISTS (SELECT FROM job_searches s WHERE s.tenant_id = a.tenant_id AND s.notify)
            ORDER BY a.last_polled_at NULLS FIRST, a.tenant_id;
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
