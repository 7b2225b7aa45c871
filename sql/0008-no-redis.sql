-- 0008-no-redis.sql: what Redis holds, kept in PostgreSQL when no Redis is configured (rate limits, the Upwork limiter and poll cooldowns, events), and the cron binaries' tenants found without BYPASSRLS.
--
-- The programs use these tables only when app.conf names no Redis
-- (redis_host and redis_socket empty; docs/no-redis.md).  With Redis
-- they stay empty.  Every statement the programs run against them is
-- one call of a function below, so that a request pays one round trip.

-- Rate limits: one row per (class, identifier), the sliding window of
-- common/ratelimit.c (the current and the previous fixed window).
-- Unlogged: a crash loses the counters, as a Redis restart does, and
-- no write goes through the WAL.
CREATE UNLOGGED TABLE rate_limits (
    key         text PRIMARY KEY,
    win         bigint NOT NULL,
    cur         integer NOT NULL,
    prev        integer NOT NULL,
    expires_ms  bigint NOT NULL
);
COMMENT ON TABLE rate_limits IS 'Sliding-window rate-limit counters when no Redis is configured (common/ratelimit.c); not tenant data.';
COMMENT ON COLUMN rate_limits.key IS 'class:identifier, such as default:u:user_x or default:ip:10.0.0.1.';
COMMENT ON COLUMN rate_limits.win IS 'The current fixed window: epoch milliseconds divided by the window length.';
COMMENT ON COLUMN rate_limits.cur IS 'Requests allowed in window win.';
COMMENT ON COLUMN rate_limits.prev IS 'Requests allowed in window win - 1.';
COMMENT ON COLUMN rate_limits.expires_ms IS 'Epoch milliseconds after which the row counts for nothing (a new identifier deletes a few such rows).';
CREATE INDEX rate_limits_expires ON rate_limits (expires_ms);

-- Decide one request: the row is locked, then the clock read, so the
-- holders of the lock see the clock in their order and N concurrent
-- requests at a limit of N are never N + 1.  A rejected request does
-- not count.  The same arithmetic as the Redis script.
CREATE FUNCTION rl_hit(p_key text, p_limit integer, p_window bigint,
    OUT allowed boolean, OUT remaining integer, OUT reset_ms bigint, OUT now_ms bigint)
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    r       rate_limits;
    w       bigint;
    n_cur   integer := 0;
    n_prev  integer := 0;
    cnt     bigint;
BEGIN
    SELECT * INTO r FROM rate_limits WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        -- A new identifier takes away a few that expired: the table
        -- stays the size of the identifiers seen in the last windows.
        DELETE FROM rate_limits WHERE key IN (SELECT x.key FROM rate_limits x
            WHERE x.expires_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint
            LIMIT 8 FOR UPDATE SKIP LOCKED);
        INSERT INTO rate_limits (key, win, cur, prev, expires_ms)
            VALUES (p_key, 0, 0, 0, 0) ON CONFLICT (key) DO NOTHING;
        SELECT * INTO r FROM rate_limits WHERE key = p_key FOR UPDATE;
    END IF;
    now_ms := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    w := now_ms / p_window;
    IF r.win = w THEN
        n_cur := r.cur;
        n_prev := r.prev;
    ELSIF r.win = w - 1 THEN
        n_prev := r.cur;
    END IF;
    cnt := floor(n_prev::numeric * (p_window - now_ms % p_window) / p_window) + n_cur;
    reset_ms := (w + 1) * p_window;
    IF cnt >= p_limit THEN
        allowed := false;
        remaining := 0;
        RETURN;
    END IF;
    UPDATE rate_limits SET win = w, cur = n_cur + 1, prev = n_prev,
        expires_ms = (w + 2) * p_window
        WHERE key = p_key;
    allowed := true;
    remaining := p_limit - cnt - 1;
END $$;
COMMENT ON FUNCTION rl_hit(text, integer, bigint) IS
    'One rate-limit decision for key at p_limit per p_window ms: allowed, remaining, reset and now (epoch ms).';

-- The Upwork limiter of agent/upwork_rl.c: evenly spaced slots and a
-- cap per UTC day, per API key, shared by every process.
CREATE UNLOGGED TABLE upwork_limits (
    key       text PRIMARY KEY,
    next_ms   bigint NOT NULL,
    day       integer NOT NULL,
    used      integer NOT NULL
);
COMMENT ON TABLE upwork_limits IS 'The Upwork request limiter when no Redis is configured (agent/upwork_rl.c); not tenant data.';
COMMENT ON COLUMN upwork_limits.key IS 'The Upwork API key (client id) the limit is for.';
COMMENT ON COLUMN upwork_limits.next_ms IS 'Epoch milliseconds of the next free slot (later after a 429 pause).';
COMMENT ON COLUMN upwork_limits.day IS 'The UTC day (epoch days) that used counts.';
COMMENT ON COLUMN upwork_limits.used IS 'Requests sent on that day.';

-- Take a slot (p_pause_ms NULL) or pause the limiter for p_pause_ms.
-- ok, wait_ms, used as the Redis script: {1, wait, used} a slot;
-- {0, wait, used} the next slot is too far; {0, -1, used} the day is
-- spent.
CREATE FUNCTION upwork_rl_hit(p_key text, p_interval bigint, p_cap integer,
    p_reserve integer, p_max_wait bigint, p_pause_ms bigint,
    OUT ok boolean, OUT wait_ms bigint, OUT used integer)
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    r      upwork_limits;
    now_ms bigint;
    today  integer;
    slot   bigint;
BEGIN
    SELECT * INTO r FROM upwork_limits WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO upwork_limits (key, next_ms, day, used)
            VALUES (p_key, 0, 0, 0) ON CONFLICT (key) DO NOTHING;
        SELECT * INTO r FROM upwork_limits WHERE key = p_key FOR UPDATE;
    END IF;
    now_ms := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    today := (now_ms / 86400000)::integer;
    used := CASE WHEN r.day = today THEN r.used ELSE 0 END;
    IF p_pause_ms IS NOT NULL THEN
        UPDATE upwork_limits SET next_ms = greatest(next_ms, now_ms + p_pause_ms)
            WHERE key = p_key;
        ok := true;
        wait_ms := 0;
        RETURN;
    END IF;
    IF used + 1 > p_cap - p_reserve THEN
        ok := false;
        wait_ms := -1;
        RETURN;
    END IF;
    slot := greatest(r.next_ms, now_ms);
    wait_ms := slot - now_ms;
    IF wait_ms > p_max_wait THEN
        ok := false;
        RETURN;
    END IF;
    used := used + 1;
    UPDATE upwork_limits SET next_ms = slot + p_interval, day = today, used = upwork_rl_hit.used
        WHERE key = p_key;
    ok := true;
END $$;
COMMENT ON FUNCTION upwork_rl_hit(text, bigint, integer, integer, bigint, bigint) IS
    'Take an Upwork request slot (or, with p_pause_ms, pause the limiter): ok, the wait in ms (-1: the day is spent) and the day''s count.';

-- POST /api/upwork/poll's cooldown per tenant.
CREATE TABLE poll_cooldowns (
    tenant_id  text PRIMARY KEY DEFAULT app_tenant() REFERENCES tenants (id) ON DELETE CASCADE,
    until      timestamptz NOT NULL
);
COMMENT ON TABLE poll_cooldowns IS 'When a tenant may ask for a poll again (POST /api/upwork/poll) when no Redis is configured.';
COMMENT ON COLUMN poll_cooldowns.tenant_id IS 'The tenant.';
COMMENT ON COLUMN poll_cooldowns.until IS 'The end of the cooldown its last poll started.';

-- Events: the tenant's bounded stream.  The ids are Redis stream ids
-- (<ms>-<seq>), handed out under the lock of the tenant's row in
-- event_heads, which is held until the event commits: a tenant's events
-- become visible in id order, so a reader asking for the events after
-- the last id it saw misses none.
CREATE TABLE event_heads (
    tenant_id  text PRIMARY KEY DEFAULT app_tenant(),
    ms         bigint NOT NULL,
    seq        integer NOT NULL
);
COMMENT ON TABLE event_heads IS 'The last event id handed out per tenant (<ms>-<seq>).';
COMMENT ON COLUMN event_heads.tenant_id IS 'The tenant.';
COMMENT ON COLUMN event_heads.ms IS 'Milliseconds part of the last id.';
COMMENT ON COLUMN event_heads.seq IS 'Sequence part of the last id.';

CREATE TABLE events (
    tenant_id  text NOT NULL DEFAULT app_tenant(),
    ms         bigint NOT NULL,
    seq        integer NOT NULL,
    type       text NOT NULL CHECK (length(type) <= 100),
    user_id    text,
    tail       text NOT NULL,
    PRIMARY KEY (tenant_id, ms, seq)
);
COMMENT ON TABLE events IS 'Realtime events when no Redis is configured, for GET /api/events/recent: the newest events_max per tenant, for a day.';
COMMENT ON COLUMN events.tenant_id IS 'The tenant whose users may read it.';
COMMENT ON COLUMN events.ms IS 'Milliseconds part of its id.';
COMMENT ON COLUMN events.seq IS 'Sequence part of its id.';
COMMENT ON COLUMN events.type IS 'The event type (job:new, proposal:updated, ...).';
COMMENT ON COLUMN events.user_id IS 'The one user it is for, NULL for every user of the tenant.';
COMMENT ON COLUMN events.tail IS 'The envelope after its id (,"type":...}), as the Redis stream keeps it.';

-- Append an event of the transaction's tenant; returns its id.  Keeps
-- the newest p_max and nothing older than p_ttl_s.
CREATE FUNCTION events_append(p_type text, p_user text, p_tail text, p_max integer, p_ttl_s integer)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    m  bigint;
    s  integer;
    cm bigint;
    cs integer;
BEGIN
    INSERT INTO event_heads AS h (tenant_id, ms, seq)
        VALUES (app_tenant(), (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 0)
        ON CONFLICT (tenant_id) DO UPDATE
        SET seq = CASE WHEN h.ms >= EXCLUDED.ms THEN h.seq + 1 ELSE 0 END,
            ms = greatest(h.ms, EXCLUDED.ms)
        RETURNING ms, seq INTO m, s;
    INSERT INTO events (tenant_id, ms, seq, type, user_id, tail)
        VALUES (app_tenant(), m, s, p_type, p_user, p_tail);
    SELECT e.ms, e.seq INTO cm, cs FROM events e WHERE e.tenant_id = app_tenant()
        ORDER BY e.ms DESC, e.seq DESC OFFSET p_max LIMIT 1;
    IF FOUND THEN
        DELETE FROM events e WHERE e.tenant_id = app_tenant() AND (e.ms, e.seq) <= (cm, cs);
    END IF;
    DELETE FROM events e WHERE e.tenant_id = app_tenant() AND e.ms < m - p_ttl_s * 1000::bigint;
    RETURN m || '-' || s;
END $$;
COMMENT ON FUNCTION events_append(text, text, text, integer, integer) IS
    'Append an event to the transaction''s tenant''s stream, trimmed to p_max events and p_ttl_s seconds; returns its id.';

ALTER TABLE poll_cooldowns ENABLE ROW LEVEL SECURITY;
ALTER TABLE poll_cooldowns FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON poll_cooldowns USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
ALTER TABLE event_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON event_heads USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

-- The cron binaries' tenants without BYPASSRLS.  tenant_directory holds
-- the tenant ids and nothing else (a trigger keeps it), and
-- scheduler_tenants() asks each tenant in turn, with the transaction's
-- tenant set to it, whether it has work: every table it reads stays
-- under its policy, so it needs no role of its own and works when one
-- role owns everything (migrate.sh --single-role).
CREATE TABLE tenant_directory (
    id  text PRIMARY KEY
);
COMMENT ON TABLE tenant_directory IS 'The ids of the tenants, and nothing else, for the cron binaries to go through (scheduler_tenants()).';
COMMENT ON COLUMN tenant_directory.id IS 'A tenants.id.';

CREATE FUNCTION tenant_directory_sync() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_directory (id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
        RETURN NEW;
    END IF;
    DELETE FROM tenant_directory WHERE id = OLD.id;
    RETURN OLD;
END $$;
COMMENT ON FUNCTION tenant_directory_sync() IS 'Keeps tenant_directory in step with tenants.';
CREATE TRIGGER tenant_directory_sync AFTER INSERT OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenant_directory_sync();

-- The owner is subject to FORCE ROW LEVEL SECURITY: lift it for the
-- copy of the existing ids, within this transaction.
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
INSERT INTO tenant_directory (id) SELECT id FROM tenants ON CONFLICT DO NOTHING;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;

-- The caller's own function now (SECURITY INVOKER): the owner of the
-- schema may drop it whoever owns it.
DROP FUNCTION scheduler_tenants(text, timestamptz);
CREATE FUNCTION scheduler_tenants(purpose text, since timestamptz DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    t       text;
    before  text := current_setting('app.tenant_id', true);
    has     boolean;
    polled  timestamptz;
    todo    text[] := '{}';
    seen    timestamptz[] := '{}';
BEGIN
    IF purpose NOT IN ('poll', 'refresh', 'prune', 'usage') THEN
        RAISE EXCEPTION 'scheduler_tenants: unknown purpose %', purpose USING ERRCODE = '22023';
    END IF;
    FOR t IN SELECT d.id FROM tenant_directory d ORDER BY 1 LOOP
        PERFORM set_config('app.tenant_id', t, true);
        polled := NULL;
        IF purpose = 'poll' THEN
            SELECT true, a.last_polled_at INTO has, polled FROM upwork_accounts a
                WHERE a.status = 'connected'
                  AND EXISTS (SELECT FROM job_searches s WHERE s.notify);
        ELSIF purpose = 'refresh' THEN
            has := EXISTS (SELECT FROM upwork_accounts a WHERE a.status = 'connected')
               AND EXISTS (SELECT FROM clients c
                           WHERE c.details_refreshed_at IS NULL OR c.details_refreshed_at < since);
        ELSIF purpose = 'prune' THEN
            has := EXISTS (SELECT FROM tenants);
        ELSE
            has := EXISTS (SELECT FROM ai_usage u
                           WHERE u.created_at >= since AND u.created_at < since + interval '1 month');
        END IF;
        IF coalesce(has, false) THEN
            todo := todo || t;
            seen := seen || polled;
        END IF;
        has := NULL;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(before, ''), true);
    IF purpose = 'poll' THEN
        -- Least recently polled first, as 0007 did.
        RETURN QUERY SELECT x.t FROM unnest(todo, seen) AS x(t, p)
            ORDER BY x.p NULLS FIRST, x.t;
    ELSE
        RETURN QUERY SELECT x FROM unnest(todo) AS x ORDER BY 1;
    END IF;
END $$;
COMMENT ON FUNCTION scheduler_tenants(text, timestamptz) IS
    'Ids of the tenants a cron binary has work for (poll, refresh, prune, usage), each asked under its own policy; returns no data.';

GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits, upwork_limits, poll_cooldowns,
    event_heads, events TO upwork_app;
GRANT SELECT ON tenant_directory TO upwork_app;
GRANT INSERT, DELETE ON tenant_directory TO upwork_app;
GRANT EXECUTE ON FUNCTION rl_hit(text, integer, bigint),
    upwork_rl_hit(text, bigint, integer, integer, bigint, bigint),
    events_append(text, text, text, integer, integer),
    scheduler_tenants(text, timestamptz) TO upwork_app;
