/* feed.c: the events from Redis: SUBSCRIBE on the daemon's own loop (hiredis's libev adapter), XRANGE for replays, reconnects with backoff while clients stay. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/adapters/libev.h>
#pragma GCC diagnostic pop

#include "push.h"

/*
 * Two connections: one subscribed to EVENTS_CHANNEL (a subscribed
 * connection runs no other command), one for XRANGE.  When either
 * drops, clients stay connected; a timer reconnects, waiting twice as
 * long after each failure up to push_redis_backoff_max_ms.  Events
 * published while the subscription is down are not pushed live; event
 * streams get them back through Last-Event-ID when they reconnect.
 */
static redisAsyncContext	*sub, *cmd;
static ev_timer			 retry;
static double			 backoff_ms;
static int			 stopping;

/* Where a replay's answer goes: the client may be gone by then. */
struct replay_req {
	int		fd;
	uint64_t	serial;
};

static void	connect_all(void);

static void
schedule_retry(void)
{
	if (stopping || ev_is_active(&retry))
		return;
	backoff_ms = backoff_ms < 100 ? 100 : backoff_ms * 2;
	if (backoff_ms > cfg.push_redis_backoff_max_ms)
		backoff_ms = cfg.push_redis_backoff_max_ms;
	ev_timer_set(&retry, backoff_ms / 1000.0, 0.);
	ev_timer_start(srv.loop, &retry);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	connect_all();
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK) {
		LOG_INFO(NULL, "push: redis %s connection up",
		    ac == sub ? "subscriber" : "command");
		if (sub != NULL && cmd != NULL)
			backoff_ms = 0;
		return;
	}
	LOG_WARN(NULL, "push: redis connect failed: %s", ac->errstr);
	if (ac == sub)
		sub = NULL;
	if (ac == cmd)
		cmd = NULL;
	schedule_retry();
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	if (!stopping)
		LOG_WARN(NULL, "push: redis %s connection lost%s%s",
		    ac == sub ? "subscriber" : "command",
		    status != REDIS_OK ? ": " : "",
		    status != REDIS_OK ? ac->errstr : "");
	if (ac == sub)
		sub = NULL;
	if (ac == cmd)
		cmd = NULL;
	schedule_retry();
}

/* Parse an envelope; the strings of ev live as long as *root.  0 or -1. */
int
event_parse(struct event *ev, json_object **root, const char *s, size_t n)
{
	json_object	*v, *data;
	const char	*why;
	size_t		 len;

	memset(ev, 0, sizeof(*ev));
	if ((*root = json_parse_strict(s, n, 64, &why)) == NULL ||
	    !json_object_is_type(*root, json_type_object))
		return -1;
	if (!json_object_object_get_ex(*root, "id", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    sse_id_parse((ev->id = json_object_get_string(v)), &ev->id_ms,
	    &ev->id_seq) == -1)
		return -1;
	if (!json_object_object_get_ex(*root, "type", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	ev->type = json_object_get_string(v);
	len = strlen(ev->type);
	if (len == 0 || len > 64 || strspn(ev->type, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") != len)
		return -1;
	if (!json_object_object_get_ex(*root, "tenant", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !json_object_object_get_ex(*root, "data", &data))
		return -1;
	ev->tenant = json_object_get_string(v);
	if (!ident_valid(ev->tenant, strlen(ev->tenant)) &&
	    !(strncmp(ev->tenant, "personal:", 9) == 0 &&
	    ident_valid(ev->tenant + 9, strlen(ev->tenant + 9))))
		return -1;
	if (json_object_object_get_ex(*root, "user", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_string))
			return -1;
		ev->user = json_object_get_string(v);
		if (!ident_valid(ev->user, strlen(ev->user)))
			return -1;
	}
	ev->data = data != NULL ? json_object_to_json_string_ext(data,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
	ev->datalen = strlen(ev->data);
	if (strncmp(ev->type, "job:", 4) == 0)
		ev->topic = TOPIC_JOBS;
	else if (strncmp(ev->type, "proposal:", 9) == 0)
		ev->topic = TOPIC_PROPOSALS;
	else
		ev->topic = TOPIC_NONE;
	return 0;
}

void
event_clear(struct event *ev, json_object *root)
{
	msg_unref(ev->ws_msg);
	msg_unref(ev->polling_msg);
	msg_unref(ev->sse_msg);
	ev->ws_msg = ev->polling_msg = ev->sse_msg = NULL;
	json_object_put(root);
}

/* Milliseconds since the epoch: stream ids are Redis's wall clock. */
static double
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Check an envelope from the channel, '{"id":"<id>","sig":"<hex>"' and
 * the signed tail (events.c), with events_verify().  NULL when it may
 * be delivered, else why not.
 */
static const char *
channel_verify(const char *s, size_t n)
{
	const char	*id, *end, *sig = NULL, *tail;
	char		 idbuf[48];
	size_t		 siglen = 0;

	if (n < 8 || strncmp(s, "{\"id\":\"", 7) != 0)
		return "malformed";
	id = s + 7;
	if ((end = memchr(id, '"', n - 7)) == NULL ||
	    (size_t)(end - id) >= sizeof(idbuf))
		return "malformed id";
	snprintf(idbuf, sizeof(idbuf), "%.*s", (int)(end - id), id);
	tail = end + 1;
	if ((size_t)(s + n - tail) > 8 && strncmp(tail, ",\"sig\":\"", 8) == 0) {
		sig = tail + 8;
		if ((end = memchr(sig, '"', s + n - sig)) == NULL)
			return "malformed signature";
		siglen = end - sig;
		tail = end + 1;
	}
	return events_verify(idbuf, tail, s + n - tail, sig, siglen, wall_ms());
}

/* An event that did not verify: counted, and logged (once a second at most). */
static void
forged(const char *where, const char *why)
{
	static double	logged;
	double		now = now_ms();

	srv.stats.forged++;
	if (now - logged < 1000)
		return;
	logged = now;
	LOG_WARN(NULL, "push: event from %s dropped: %s (%llu so far)", where,
	    why, (unsigned long long)srv.stats.forged);
}

static void
on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	redisReply	*r = reply;
	struct event	 ev;
	json_object	*root;
	const char	*why;

	(void)ac;
	(void)privdata;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	srv.stats.events++;
	if ((why = channel_verify(r->element[2]->str, r->element[2]->len)) != NULL) {
		forged(EVENTS_CHANNEL, why);
		return;
	}
	if (event_parse(&ev, &root, r->element[2]->str,
	    r->element[2]->len) == -1)
		LOG_WARN(NULL, "push: malformed event on %s dropped",
		    EVENTS_CHANNEL);
	else
		rooms_deliver(&ev);
	event_clear(&ev, root);
}

/* AUTH's answer: refused, the connection is dropped and retried with backoff. */
static void
on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
	redisReply	*r = reply;

	(void)privdata;
	if (r != NULL && r->type != REDIS_REPLY_ERROR)
		return;
	LOG_ERR(NULL, "push: redis AUTH refused%s%s: %s",
	    *cfg.redis_user != '\0' ? " for " : "", cfg.redis_user,
	    r != NULL ? r->str : ac->errstr);
	redisAsyncDisconnect(ac);
}

static redisAsyncContext *
open_one(void)
{
	redisAsyncContext	*ac;
	char			*pw;

	if (*cfg.redis_socket != '\0')
		ac = redisAsyncConnectUnix(cfg.redis_socket);
	else
		ac = redisAsyncConnect(cfg.redis_host, cfg.redis_port);
	if (ac == NULL)
		oom();
	if (ac->err != 0) {
		LOG_WARN(NULL, "push: redis connect failed: %s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	redisLibevAttach(srv.loop, ac);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* Queued first: it goes out before any other command. */
	if ((pw = redis_password()) != NULL) {
		if (*cfg.redis_user != '\0')
			redisAsyncCommand(ac, on_auth, NULL, "AUTH %s %s",
			    cfg.redis_user, pw);
		else
			redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", pw);
		crypto_free_secret(pw);
	}
	return ac;
}

static void
connect_all(void)
{
	if (stopping)
		return;
	if (sub == NULL && (sub = open_one()) != NULL)
		redisAsyncCommand(sub, on_message, NULL, "SUBSCRIBE %s",
		    EVENTS_CHANNEL);
	if (cmd == NULL)
		cmd = open_one();
	if (sub == NULL || cmd == NULL)
		schedule_retry();
}

void
feed_start(void)
{
	ev_timer_init(&retry, retry_cb, 0., 0.);
	connect_all();
}

void
feed_stop(void)
{
	stopping = 1;
	if (ev_is_active(&retry))
		ev_timer_stop(srv.loop, &retry);
	if (sub != NULL)
		redisAsyncFree(sub);
	if (cmd != NULL)
		redisAsyncFree(cmd);
	sub = cmd = NULL;
}

static void
on_replay(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct replay_req	*rq = privdata;
	struct client		*c = client_find(rq->fd, rq->serial);
	redisReply		*r = reply, *e, *f, *tail, *sig;
	struct event		*evs = NULL;
	const char		*why;
	json_object		**roots = NULL;
	struct buf		 env = { 0 };
	size_t			 i, j, n = 0;

	(void)ac;
	free(rq);
	if (c == NULL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		sse_replay_done(c, NULL, 0);
		return;
	}
	evs = xcalloc(r->elements + 1, sizeof(*evs));
	roots = xcalloc(r->elements + 1, sizeof(*roots));
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		f = e->element[1];
		tail = sig = NULL;
		for (j = 0; j + 1 < f->elements; j += 2) {
			if (f->element[j]->type != REDIS_REPLY_STRING ||
			    f->element[j + 1]->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(f->element[j]->str, "e") == 0)
				tail = f->element[j + 1];
			else if (strcmp(f->element[j]->str, "s") == 0)
				sig = f->element[j + 1];
		}
		if (tail == NULL)
			continue;
		if ((why = events_verify(e->element[0]->str, tail->str, tail->len,
		    sig != NULL ? sig->str : NULL, sig != NULL ? sig->len : 0,
		    wall_ms())) != NULL) {
			forged("a stream", why);
			continue;
		}
		buf_reset(&env);
		buf_puts(&env, "{\"id\":");
		buf_json_string(&env, e->element[0]->str, e->element[0]->len);
		buf_append(&env, tail->str, tail->len);
		if (event_parse(&evs[n], &roots[n], env.data, env.len) == -1) {
			event_clear(&evs[n], roots[n]);
			continue;
		}
		n++;
	}
	sse_replay_done(c, evs, n);
	for (i = 0; i < n; i++)
		event_clear(&evs[i], roots[i]);
	free(evs);
	free(roots);
	buf_free(&env);
}

/*
 * Ask for the events of tenant after id (exclusive), at most
 * push_replay_max; sse_replay_done() gets them.  -1 when Redis is down.
 */
int
feed_replay(struct client *c, const char *tenant, const char *id)
{
	struct replay_req	*rq;

	if (cmd == NULL || !(cmd->c.flags & REDIS_CONNECTED))
		return -1;
	rq = xmalloc(sizeof(*rq));
	rq->fd = c->fd;
	rq->serial = c->serial;
	if (redisAsyncCommand(cmd, on_replay, rq, "XRANGE %s%s (%s + COUNT %d",
	    EVENTS_STREAM_PREFIX, tenant, id, cfg.push_replay_max) != REDIS_OK) {
		free(rq);
		return -1;
	}
	return 0;
}
