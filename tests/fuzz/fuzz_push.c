/* fuzz_push.c: libFuzzer target for the broadcaster's parsers: HTTP requests, WebSocket frames (through wslay), Engine.IO/Socket.IO packets, long-polling payloads, event envelopes. */
#include <stdlib.h>
#include <string.h>

#include "../../push/push.h"

/*
 * The first byte picks the parser, the second how the rest is cut into
 * reads (0: whole; n: n bytes at a time), so that headers and frames
 * split anywhere are exercised.  Clients have no socket (fd -1): their
 * output is queued, never written, and capped like any other.
 */
static void
feed(struct client *c, void (*fn)(struct client *, const char *, size_t),
    const uint8_t *p, size_t n, size_t step)
{
	size_t	k;

	while (n > 0 && !(c->flags & CF_CLOSE)) {
		k = step == 0 || step > n ? n : step;
		fn(c, (const char *)p, k);
		p += k;
		n -= k;
	}
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 init;
	struct client	*c;
	struct event	 ev;
	json_object	*root;
	uint64_t	 ms, seq;
	size_t		 step;
	char		*s;

	if (!init) {
		unsetenv("APP_CONFIG");
		config_load();
		log_set_level("error");
		free(cfg.cors_origins);
		cfg.cors_origins = xstrdup("http://ok.example");
		push_http_cors_load();
		srv.keepalive = msg_new(14);
		msg_append(srv.keepalive, ": keep-alive\n\n", 14);
		srv.ping = ws_frame(WSLAY_TEXT_FRAME, "2", 1);
		srv.polling_ping = msg_new(1);
		msg_append(srv.polling_ping, "2", 1);
		srv.polling_sep = msg_new(1);
		msg_append(srv.polling_sep, "\x1e", 1);
		init = 1;
	}
	if (size < 2)
		return 0;
	step = data[1] & 0x1f;
	c = client_new(-1);
	switch (data[0] & 3) {
	case 0:		/* a request, then whatever follows the upgrade */
		feed(c, client_input, data + 2, size - 2, step);
		break;
	case 1:		/* frames on an open WebSocket */
		ws_start(c);
		eio_open(c);
		feed(c, client_input, data + 2, size - 2, step);
		break;
	case 2:		/* Socket.IO packets of a connected client: a WebSocket message, or a POSTed payload */
		if (data[1] & 0x80) {
			c->flags |= CF_POLL;
			memset(&c->u.poll, 0, sizeof(c->u.poll));
			c->state = CS_EIO;
		} else
			ws_start(c);
		eio_open(c);
		c->user = xstrdup("user_fuzz");
		room_join(c, ROOM_TENANT, "org_fuzz");
		c->state = CS_SIO;
		if (c->flags & CF_POLL) {
			struct client *conn = client_new(-1);

			conn->state = CS_REPLY;
			polling_post(conn, c, (const char *)data + 2, size - 2);
			client_close(conn, "fuzz");
		} else
			eio_packet(c, (const char *)data + 2, size - 2);
		break;
	default:	/* an event envelope, as Redis delivers it */
		s = malloc(size - 1);
		memcpy(s, data + 2, size - 2);
		s[size - 2] = '\0';
		sse_id_parse(s, &ms, &seq);
		if (event_parse(&ev, &root, s, size - 2) == 0) {
			c->user = xstrdup("user_fuzz");
			room_join(c, ROOM_TENANT, ev.tenant);
			room_join(c, ROOM_JOBS, ev.tenant);
			room_join(c, ROOM_PROPOSALS, ev.tenant);
			c->state = CS_SIO;
			rooms_deliver(&ev);
			c->state = CS_SSE;
			rooms_deliver(&ev);
		}
		event_clear(&ev, root);
		free(s);
		break;
	}
	client_close(c, "fuzz");
	client_reap();
	return 0;
}
