/* ws.c: RFC 6455 on a client: the accept key, frames in through libwslay (created only while needed), frames out, close frames checked, the close handshake. */
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

/* The connection is a WebSocket from now on: its part of c->u is the WebSocket's. */
void
ws_start(struct client *c)
{
	memset(&c->u.ws, 0, sizeof(c->u.ws));
	c->flags |= CF_WS;
}

/* A text frame for c alone; nothing once the close handshake began. */
void
ws_send_text(struct client *c, const void *p, size_t n)
{
	uint8_t	h[10];
	size_t	hl;

	if (c->state != CS_EIO && c->state != CS_SIO && c->state != CS_PROBE)
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
		if ((c->state == CS_EIO || c->state == CS_SIO ||
		    c->state == CS_PROBE) && eio_packet(c,
		    (const char *)a->msg, a->msg_length) == -1)
			ws_close(c, 1008, "malformed packet");
		break;
	case WSLAY_BINARY_FRAME:
		ws_close(c, 1003, "binary messages are not supported");
		break;
	default:
		break;		/* ping and pong: wslay answers; close: read by ws_input() */
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
	if (c->u.ws.ctx == NULL) {
		if (wslay_event_context_server_init(&c->u.ws.ctx, &callbacks,
		    c) != 0)
			oom();
		wslay_event_config_set_max_recv_msg_length(c->u.ws.ctx,
		    (uint64_t)cfg.push_message_max);
	}
	return c->u.ws.ctx;
}

/* After wslay ran: send what it queued, follow the close handshake. */
static void
ws_after(struct client *c)
{
	wslay_event_context_ptr	ws = c->u.ws.ctx;

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
	polling_unpeer(c);
	wslay_event_queue_close(ws_ctx(c), code, (const uint8_t *)reason,
	    reason != NULL ? strlen(reason) : 0);
	if (c->state == CS_EIO || c->state == CS_SIO || c->state == CS_PROBE) {
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
	wslay_event_context_ptr	ws = c->u.ws.ctx;

	if (ws == NULL || (c->state != CS_EIO && c->state != CS_SIO &&
	    c->state != CS_PROBE) || c->u.ws.frame_left > 0 ||
	    c->u.ws.hdrlen > 0 || (c->flags & (CF_MSG_OPEN | CF_CTL_CLOSE)) ||
	    wslay_event_want_write(ws) ||
	    wslay_event_get_queued_msg_count(ws) > 0 ||
	    wslay_event_get_close_sent(ws) ||
	    wslay_event_get_close_received(ws))
		return;
	wslay_event_context_free(ws);
	c->u.ws.ctx = NULL;
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

/*
 * The peer's close frame is read here, not by wslay, which echoes a
 * payload of 1 byte, refuses codes IANA registered after it was written
 * (1012-1014) and misreads a code's bytes as the reason's UTF-8.  RFC
 * 6455 5.5.1 and 7.4 with the Autobahn testsuite's expectations
 * (cases 7.3, 7.5, 7.7, 7.9, 7.13): a payload of 1 byte or a code out
 * of range fails the connection with 1002, a reason that is not UTF-8
 * with 1007; otherwise the code is echoed.  The payload is unmasked and
 * checked byte by byte as it comes; the state fits in c->u.ws: the
 * bytes seen, the code, and the UTF-8 continuation bytes still due with
 * the range of the next one (RFC 3629's table).
 */
static void
utf8_step(struct client *c, uint8_t b)
{
	uint8_t	*due = &c->u.ws.ctl_utf8;

	if (*due == 0xff)
		return;				/* already invalid */
	if (*due > 0) {
		if (b < c->u.ws.ctl_lo || b > c->u.ws.ctl_hi)
			*due = 0xff;
		else
			(*due)--;
		c->u.ws.ctl_lo = 0x80;
		c->u.ws.ctl_hi = 0xbf;
		return;
	}
	if (b < 0x80)
		return;
	if (b >= 0xc2 && b <= 0xdf)
		*due = 1;
	else if (b >= 0xe0 && b <= 0xef) {
		*due = 2;
		if (b == 0xe0)
			c->u.ws.ctl_lo = 0xa0;	/* no overlong forms */
		else if (b == 0xed)
			c->u.ws.ctl_hi = 0x9f;	/* no surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		*due = 3;
		if (b == 0xf0)
			c->u.ws.ctl_lo = 0x90;
		else if (b == 0xf4)
			c->u.ws.ctl_hi = 0x8f;	/* nothing past U+10FFFF */
	} else
		*due = 0xff;
}

/*
 * Predicate: a status code a close frame may carry (1004-1006 and 1015
 * are never sent, 1016-2999 are unassigned, 5000 and up undefined).
 */
int
ws_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) ||
	    (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/* Payload bytes of the peer's close frame; the mask key is still in c->u.ws.hdr[2..5]. */
static void
close_bytes(struct client *c, const char *p, size_t n)
{
	size_t	i;
	uint8_t	b;

	for (i = 0; i < n; i++, c->u.ws.ctl_len++) {
		b = (uint8_t)p[i] ^ c->u.ws.hdr[2 + c->u.ws.ctl_len % 4];
		if (c->u.ws.ctl_len < 2)
			c->u.ws.ctl_code = (uint16_t)(c->u.ws.ctl_code << 8 | b);
		else
			utf8_step(c, b);
	}
}

/* The peer's close frame is in: answer it, and read no more. */
static void
close_done(struct client *c)
{
	const char	*why = NULL;
	uint16_t	 code;

	c->flags &= ~CF_CTL_CLOSE;
	code = c->u.ws.ctl_len >= 2 ? c->u.ws.ctl_code : 0;
	if (c->u.ws.ctl_len == 1 || (c->u.ws.ctl_len >= 2 &&
	    !ws_close_code_valid(code))) {
		code = 1002;
		why = "invalid close frame";
	} else if (c->u.ws.ctl_utf8 != 0) {
		code = 1007;
		why = "invalid UTF-8 in the close reason";
	}
	wslay_event_shutdown_read(ws_ctx(c));
	ws_close(c, code, why);
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
		if (c->u.ws.frame_left > 0) {
			k = c->u.ws.frame_left < n ? (size_t)c->u.ws.frame_left : n;
			c->u.ws.frame_left -= k;
			if (c->flags & CF_CTL_CLOSE) {
				close_bytes(c, p, k);
				if (c->u.ws.frame_left == 0) {
					close_done(c);
					return;
				}
			} else if (feed(c, p, k) == -1)
				return;
			p += k;
			n -= k;
			continue;
		}
		while ((need = header_size(c->u.ws.hdr, c->u.ws.hdrlen)) > c->u.ws.hdrlen &&
		    n > 0) {
			c->u.ws.hdr[c->u.ws.hdrlen++] = (uint8_t)*p++;
			n--;
		}
		if (c->u.ws.hdrlen < need)
			break;
		len = c->u.ws.hdr[1] & 0x7f;
		if (len == 126)
			len = (uint64_t)c->u.ws.hdr[2] << 8 | c->u.ws.hdr[3];
		else if (len == 127)
			for (len = 0, i = 0; i < 8; i++)
				len = len << 8 | c->u.ws.hdr[2 + i];
		opcode = c->u.ws.hdr[0] & 0x0f;
		if ((len >> 63) != 0 || (opcode >= 8 && (len > 125 ||
		    !(c->u.ws.hdr[0] & 0x80)))) {
			c->u.ws.hdrlen = 0;
			ws_close(c, 1002, "bad frame length");
			return;
		}
		if (opcode < 8 && len > (uint64_t)cfg.push_message_max) {
			c->u.ws.hdrlen = 0;
			ws_close(c, 1009, "message too big");
			return;
		}
		if (opcode == WSLAY_CONNECTION_CLOSE) {
			/* Masked, no reserved bits (checked here, not by wslay). */
			c->u.ws.hdrlen = 0;
			if ((c->u.ws.hdr[0] & 0x70) || !(c->u.ws.hdr[1] & 0x80)) {
				ws_close(c, 1002, "invalid close frame");
				return;
			}
			c->flags |= CF_CTL_CLOSE;
			c->u.ws.ctl_len = 0;
			c->u.ws.ctl_code = 0;
			c->u.ws.ctl_utf8 = 0;
			c->u.ws.ctl_lo = 0x80;
			c->u.ws.ctl_hi = 0xbf;
			if ((c->u.ws.frame_left = len) == 0) {
				close_done(c);
				return;
			}
			continue;
		}
		if (opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME ||
		    opcode == WSLAY_CONTINUATION_FRAME) {
			if (c->u.ws.hdr[0] & 0x80)
				c->flags &= ~CF_MSG_OPEN;
			else
				c->flags |= CF_MSG_OPEN;
		}
		need = c->u.ws.hdrlen;
		c->u.ws.hdrlen = 0;
		c->u.ws.frame_left = len;
		if (feed(c, (const char *)c->u.ws.hdr, need) == -1)
			return;
	}
	ws_release(c);
}
