/* ws.c: RFC 6455 on a client: the accept key, frames in through libwslay (created only while needed), frames out, the close handshake. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "push.h"

#define WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static int	in_recv;	/* inside wslay_event_recv(): its callbacks run */

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key GUID)); out has 29 bytes or more. */
void
ws_accept_key(const char *key, size_t len, char *out)
{
	unsigned char	d[SHA_DIGEST_LENGTH], in[128];

	if (len > sizeof(in) - sizeof(WS_GUID))
		len = sizeof(in) - sizeof(WS_GUID);	/* keys are 24 bytes */
	memcpy(in, key, len);
	memcpy(in + len, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1(in, len + sizeof(WS_GUID) - 1, d);
	EVP_EncodeBlock((unsigned char *)out, d, SHA_DIGEST_LENGTH);
}

/*
 * Predicate: well-formed UTF-8 (RFC 3629).  Unlike utf8_valid() it
 * accepts U+0000, which a text frame may carry.
 */
int
ws_utf8_valid(const uint8_t *p, size_t n)
{
	size_t	i = 0, k;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

static size_t
frame_header(uint8_t *h, int opcode, size_t n)
{
	int	i;

	h[0] = (uint8_t)(0x80 | opcode);
	if (n < 126) {
		h[1] = (uint8_t)n;
		return 2;
	}
	if (n <= 0xffff) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		return 4;
	}
	h[1] = 127;
	for (i = 0; i < 8; i++)
		h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	return 10;
}

/* A whole unmasked server frame, shareable by every recipient (one reference, the caller's). */
struct msg *
ws_frame(int opcode, const void *p, size_t n)
{
	uint8_t		 h[10];
	size_t		 hl = frame_header(h, opcode, n);
	struct msg	*m;

	if (n > SIZE_MAX - hl)
		oom();
	m = msg_new(hl + n);
	msg_append(m, h, hl);
	msg_append(m, p, n);
	return m;
}

/* A text frame for c alone; nothing once the close handshake began. */
void
ws_send_text(struct client *c, const void *p, size_t n)
{
	uint8_t	h[10];
	size_t	hl;

	if (c->state != CS_WS && c->state != CS_SIO)
		return;
	hl = frame_header(h, WSLAY_TEXT_FRAME, n);
	client_send(c, h, hl);
	client_send(c, p, n);
}

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	size_t	n = srv.inlen < len ? srv.inlen : len;

	(void)flags;
	(void)user;
	if (n == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, srv.in, n);
	srv.in += n;
	srv.inlen -= n;
	return (ssize_t)n;
}

/* wslay's output (pongs, close frames) joins the client's queue: never blocks. */
static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
    void *user)
{
	(void)ctx;
	(void)flags;
	client_send(user, data, len);
	return (ssize_t)len;
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
    void *user)
{
	struct client	*c = user;

	(void)ctx;
	if (c->flags & CF_CLOSE)
		return;
	switch (a->opcode) {
	case WSLAY_TEXT_FRAME:
		if (!ws_utf8_valid(a->msg, a->msg_length)) {
			ws_close(c, 1007, "invalid UTF-8");
			return;
		}
		if (c->state == CS_WS || c->state == CS_SIO)
			eio_packet(c, (const char *)a->msg, a->msg_length);
		break;
	case WSLAY_BINARY_FRAME:
		ws_close(c, 1003, "binary messages are not supported");
		break;
	default:
		break;		/* ping, pong, close: wslay answers them */
	}
}

static const struct wslay_event_callbacks callbacks = {
	.recv_callback = recv_cb,
	.send_callback = send_cb,
	.on_msg_recv_callback = on_msg,
};

static wslay_event_context_ptr
ws_ctx(struct client *c)
{
	if (c->ws == NULL) {
		if (wslay_event_context_server_init(&c->ws, &callbacks, c) != 0)
			oom();
		wslay_event_config_set_max_recv_msg_length(c->ws,
		    (uint64_t)cfg.push_message_max);
	}
	return c->ws;
}

/* After wslay ran: send what it queued, follow the close handshake. */
static void
ws_after(struct client *c)
{
	wslay_event_context_ptr	ws = c->ws;

	if (ws == NULL || (c->flags & CF_CLOSE))
		return;
	if (wslay_event_want_write(ws) && wslay_event_send(ws) != 0) {
		client_close(c, "websocket send failed");
		return;
	}
	if (!wslay_event_get_close_sent(ws))
		return;
	rooms_leave_all(c);
	if (wslay_event_get_close_received(ws) ||
	    !wslay_event_get_read_enabled(ws)) {
		/* Done (or the peer broke the protocol): end the TCP connection. */
		if (c->state != CS_LINGER && !(c->flags & CF_FINISH)) {
			c->state = CS_CLOSING;
			c->deadline = push_now() + PUSH_CLOSE_WAIT_MS;
			client_finish(c);
		}
	} else if (c->state != CS_CLOSING) {
		c->state = CS_CLOSING;
		c->deadline = push_now() + PUSH_CLOSE_WAIT_MS;
	}
}

/* Start the close handshake with code and reason. */
void
ws_close(struct client *c, uint16_t code, const char *reason)
{
	if (c->flags & CF_CLOSE)
		return;
	rooms_leave_all(c);
	wslay_event_queue_close(ws_ctx(c), code, (const uint8_t *)reason,
	    reason != NULL ? strlen(reason) : 0);
	if (c->state == CS_WS || c->state == CS_SIO) {
		c->state = CS_CLOSING;
		c->deadline = push_now() + PUSH_CLOSE_WAIT_MS;
	}
	if (!in_recv)
		ws_after(c);
}

/* Free the wslay context when nothing is half done: idle connections hold none. */
void
ws_release(struct client *c)
{
	if (c->ws == NULL || (c->state != CS_WS && c->state != CS_SIO) ||
	    c->frame_left > 0 || c->hdrlen > 0 || (c->flags & CF_MSG_OPEN) ||
	    wslay_event_want_write(c->ws) ||
	    wslay_event_get_queued_msg_count(c->ws) > 0 ||
	    wslay_event_get_close_sent(c->ws) ||
	    wslay_event_get_close_received(c->ws))
		return;
	wslay_event_context_free(c->ws);
	c->ws = NULL;
}

/* Hand p[0..n) to wslay; 0, or -1 when it will read no more. */
static int
feed(struct client *c, const char *p, size_t n)
{
	wslay_event_context_ptr	ws = ws_ctx(c);
	int			rc;

	if (!wslay_event_get_read_enabled(ws))
		return -1;
	srv.in = p;
	srv.inlen = n;
	in_recv = 1;
	rc = wslay_event_recv(ws);
	in_recv = 0;
	if (rc != 0 && !wslay_event_get_close_sent(ws) &&
	    !(c->flags & CF_CLOSE))
		wslay_event_queue_close(ws, 1002, NULL, 0);
	srv.in = NULL;
	srv.inlen = 0;
	ws_after(c);
	return (c->flags & CF_CLOSE) || c->state == CS_LINGER ||
	    !wslay_event_get_read_enabled(ws) ? -1 : 0;
}

/* Total size of the header that starts with h[0..n): 2 until the second byte is in. */
static size_t
header_size(const uint8_t *h, size_t n)
{
	size_t	len = 2;

	if (n < 2)
		return 2;
	if ((h[1] & 0x7f) == 126)
		len += 2;
	else if ((h[1] & 0x7f) == 127)
		len += 8;
	if (h[1] & 0x80)
		len += 4;
	return len;
}

/*
 * Bytes from the peer.  They go to wslay frame by frame: a header is
 * fed only when complete (kept in c->hdr until then), so between two
 * reads wslay is never in the middle of a header, and the context can
 * be freed whenever no frame and no fragmented message is half read.
 * The 64-bit length is checked here: wslay would answer 2^63 with a
 * close frame that has no status code.
 */
void
ws_input(struct client *c, const char *p, size_t n)
{
	uint64_t	len;
	size_t		k, need;
	int		i, opcode;

	while (n > 0 && !(c->flags & CF_CLOSE) && c->state != CS_LINGER) {
		if (c->frame_left > 0) {
			k = c->frame_left < n ? (size_t)c->frame_left : n;
			c->frame_left -= k;
			if (feed(c, p, k) == -1)
				return;
			p += k;
			n -= k;
			continue;
		}
		while ((need = header_size(c->hdr, c->hdrlen)) > c->hdrlen &&
		    n > 0) {
			c->hdr[c->hdrlen++] = (uint8_t)*p++;
			n--;
		}
		if (c->hdrlen < need)
			break;
		len = c->hdr[1] & 0x7f;
		if (len == 126)
			len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
		else if (len == 127)
			for (len = 0, i = 0; i < 8; i++)
				len = len << 8 | c->hdr[2 + i];
		opcode = c->hdr[0] & 0x0f;
		if ((len >> 63) != 0 || (opcode >= 8 && (len > 125 ||
		    !(c->hdr[0] & 0x80)))) {
			c->hdrlen = 0;
			ws_close(c, 1002, "bad frame length");
			return;
		}
		if (opcode < 8 && len > (uint64_t)cfg.push_message_max) {
			c->hdrlen = 0;
			ws_close(c, 1009, "message too big");
			return;
		}
		if (opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME ||
		    opcode == WSLAY_CONTINUATION_FRAME) {
			if (c->hdr[0] & 0x80)
				c->flags &= ~CF_MSG_OPEN;
			else
				c->flags |= CF_MSG_OPEN;
		}
		need = c->hdrlen;
		c->hdrlen = 0;
		c->frame_left = len;
		if (feed(c, (const char *)c->hdr, need) == -1)
			return;
	}
	ws_release(c);
}
