/* itest_push.c: the broadcaster at frame level over raw sockets: handshakes, RFC 6455 rules and close frames, Engine.IO heartbeats and timeouts, slowloris, slow readers, and a stream that outlives its token. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/rand.h>

#include "itest.h"

#define T	"org_t_itest_push"

static int	push_port, web_port;
static char	tok_a[4096];

static int
tcp(int port, int rcvbuf)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	struct timeval		tv = { 5, 0 };
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		printf("# connect to %d: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
put(int fd, const void *p, size_t n)
{
	if (send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
		printf("# short send\n");
}

static void
puts_fd(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

/* The response head (through the blank line) into out; its status or -1. */
static int
read_head(int fd, char *out, size_t cap)
{
	size_t	n = 0;
	int	status;

	while (n + 1 < cap) {
		if (recv(fd, out + n, 1, 0) != 1)
			break;
		n++;
		if (n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	out[n] = '\0';
	return sscanf(out, "HTTP/1.1 %d", &status) == 1 ? status : -1;
}

/* Send a client frame: masked unless told otherwise; len64 overrides the length field. */
static void
frame(int fd, int fin, int opcode, const void *p, size_t n, int masked,
    uint64_t len64)
{
	unsigned char	 h[14], mask[4] = { 0x37, 0xfa, 0x21, 0x3d }, *b;
	size_t		 hl = 2, i;
	uint64_t	 len = len64 ? len64 : n;

	h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
	if (len < 126 && !len64)
		h[1] = (unsigned char)len;
	else if (len <= 0xffff && !len64) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
		hl = 10;
	}
	if (masked) {
		h[1] |= 0x80;
		memcpy(h + hl, mask, 4);
		hl += 4;
	}
	b = malloc(hl + n + 1);
	memcpy(b, h, hl);
	for (i = 0; i < n; i++)
		b[hl + i] = ((const unsigned char *)p)[i] ^ (masked ? mask[i % 4] : 0);
	put(fd, b, hl + n);
	free(b);
}

/* A whole masked text frame. */
static void
text(int fd, const char *s)
{
	frame(fd, 1, 1, s, strlen(s), 1, 0);
}

static int
recv_all(int fd, void *p, size_t n)
{
	return n == 0 || recv(fd, p, n, MSG_WAITALL) == (ssize_t)n ? 0 : -1;
}

/* One server frame: opcode, payload NUL-terminated in out (truncated to cap).  -1 on EOF or timeout. */
static int
read_frame(int fd, int *opcode, char *out, size_t cap, size_t *lenp)
{
	unsigned char	h[10];
	uint64_t	len;
	size_t		i, keep;
	char		skip[4096];

	if (recv_all(fd, h, 2) == -1)
		return -1;
	*opcode = h[0] & 0x0f;
	len = h[1] & 0x7f;
	if (h[1] & 0x80)
		return -1;	/* servers never mask */
	if (len == 126) {
		if (recv_all(fd, h + 2, 2) == -1)
			return -1;
		len = (uint64_t)h[2] << 8 | h[3];
	} else if (len == 127) {
		if (recv_all(fd, h + 2, 8) == -1)
			return -1;
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | h[2 + i];
	}
	keep = len < cap - 1 ? (size_t)len : cap - 1;
	if (recv_all(fd, out, keep) == -1)
		return -1;
	out[keep] = '\0';
	for (len -= keep; len > 0; len -= i) {
		i = len < sizeof(skip) ? (size_t)len : sizeof(skip);
		if (recv_all(fd, skip, i) == -1)
			return -1;
	}
	if (lenp != NULL)
		*lenp = keep;
	return 0;
}

/* The next text frame that is not an Engine.IO ping ("2"), answering pings with pongs. */
static int
read_text(int fd, char *out, size_t cap)
{
	int	op;

	for (;;) {
		if (read_frame(fd, &op, out, cap, NULL) == -1)
			return -1;
		if (op == 1 && strcmp(out, "2") == 0) {
			frame(fd, 1, 1, "3", 1, 1, 0);
			continue;
		}
		return op;
	}
}

/* Frames until a close frame: its status code (0: none), or -1 on EOF first. */
static int
read_close(int fd)
{
	char	buf[256];
	int	op;

	while (read_frame(fd, &op, buf, sizeof(buf), NULL) == 0)
		if (op == 8)
			return (unsigned char)buf[0] << 8 | (unsigned char)buf[1];
	return -1;
}

/* Predicate: the peer closes the connection within ms. */
static int
eof_within(int fd, int ms)
{
	char		 buf[65536];
	struct pollfd	 p = { .fd = fd, .events = POLLIN };
	double		 end = now_ms() + ms;
	ssize_t		 n;

	while (now_ms() < end) {
		if (poll(&p, 1, (int)(end - now_ms()) + 1) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
	}
	return 0;
}

static const char *
upgrade_req(const char *extra)
{
	static char	req[1024];

	snprintf(req, sizeof(req), "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n",
	    extra != NULL ? extra : "Sec-WebSocket-Version: 13\r\n");
	return req;
}

/* A WebSocket with the Engine.IO open packet read; -1 if that failed. */
static int
ws_open(int port, int rcvbuf)
{
	char	head[2048], buf[1024];
	int	fd = tcp(port, rcvbuf);

	if (fd == -1)
		return -1;
	put(fd, upgrade_req(NULL), strlen(upgrade_req(NULL)));
	if (read_head(fd, head, sizeof(head)) != 101 || read_text(fd, buf,
	    sizeof(buf)) != 1 || buf[0] != '0') {
		close(fd);
		return -1;
	}
	return fd;
}

/* Socket.IO CONNECT with a token; 0 when the server answered 40{"sid":...}. */
static int
sio_connect(int fd, const char *tok)
{
	char	msg[4200], buf[1024];

	snprintf(msg, sizeof(msg), "40{\"token\":\"%s\"}", tok);
	frame(fd, 1, 1, msg, strlen(msg), 1, 0);
	return read_text(fd, buf, sizeof(buf)) == 1 &&
	    strncmp(buf, "40{\"sid\":", 9) == 0 ? 0 : -1;
}

static int
sio_subscribe(int fd)
{
	char	buf[1024];

	frame(fd, 1, 1, "421[\"subscribe:jobs\"]", 21, 1, 0);
	return read_text(fd, buf, sizeof(buf)) == 1 &&
	    strncmp(buf, "431[{\"ok\":true", 14) == 0 ? 0 : -1;
}

/* A token of sub in org that the server accepts until exp (plus jwt_leeway). */
static char *
mint_exp(const char *sub, const char *org, time_t exp)
{
	char	 claims[512], *key, *tok, kidpath[1200], keypath[1200];
	char	*kid = NULL;
	size_t	 len;
	time_t	 now = time(NULL);

	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"o\":{\"id\":\"%s\"},"
	    "\"iat\":%lld,\"exp\":%lld%s%s%s%s%s%s}", sub, org, (long long)now,
	    (long long)exp, *cfg.jwt_issuer ? ",\"iss\":\"" : "",
	    cfg.jwt_issuer, *cfg.jwt_issuer ? "\"" : "",
	    *cfg.jwt_audience ? ",\"aud\":\"" : "", cfg.jwt_audience,
	    *cfg.jwt_audience ? "\"" : "");
	if (cfg.jwt_alg == AUTH_RS256) {
		snprintf(keypath, sizeof(keypath), "%s/secrets/jwt-rs256.key", itest_rt);
		snprintf(kidpath, sizeof(kidpath), "%s/secrets/jwt-rs256.kid", itest_rt);
		key = read_file(keypath, 65536, &len);
		kid = read_file(kidpath, 1024, NULL);
	} else {
		key = read_file(cfg.jwt_secret_file, 65536, &len);
		while (len > 0 && (key[len - 1] == '\n' || key[len - 1] == ' '))
			key[--len] = '\0';
	}
	tok = auth_sign(cfg.jwt_alg, (unsigned char *)key, len, kid, claims);
	free(key);
	free(kid);
	return tok;
}

static char *
mint(const char *sub, const char *org)
{
	return mint_exp(sub, org, time(NULL) + 600);
}

static void
test_handshakes(void)
{
	char	head[2048];
	int	fd;

	fd = tcp(push_port, 0);
	puts_fd(fd, "HELLO\r\n\r\n");
	is_int(read_head(fd, head, sizeof(head)), 400, "garbage instead of a request: 400");
	ok(strstr(head, "application/json") != NULL, "with a JSON body");
	close(fd);

	fd = tcp(push_port, 0);
	puts_fd(fd, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\r\n");
	is_int(read_head(fd, head, sizeof(head)), 400, "no Upgrade header: 400");
	close(fd);

	fd = tcp(push_port, 0);
	put(fd, upgrade_req("Sec-WebSocket-Version: 8\r\n"), strlen(upgrade_req("Sec-WebSocket-Version: 8\r\n")));
	is_int(read_head(fd, head, sizeof(head)), 426, "WebSocket version 8: 426");
	ok(strstr(head, "Sec-WebSocket-Version: 13\r\n") != NULL, "naming version 13");
	close(fd);

	fd = tcp(push_port, 0);
	puts_fd(fd, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: short\r\n\r\n");
	is_int(read_head(fd, head, sizeof(head)), 400, "malformed Sec-WebSocket-Key: 400");
	close(fd);

	fd = tcp(push_port, 0);
	put(fd, upgrade_req("Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n"),
	    strlen(upgrade_req("Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n")));
	is_int(read_head(fd, head, sizeof(head)), 403, "an Origin not in cors_origins: 403");
	close(fd);

	fd = tcp(push_port, 0);
	{
		char origin[128];

		snprintf(origin, sizeof(origin), "Sec-WebSocket-Version: 13\r\n"
		    "Origin: http://127.0.0.1:%d\r\n", web_port);
		put(fd, upgrade_req(origin), strlen(upgrade_req(origin)));
	}
	is_int(read_head(fd, head, sizeof(head)), 101, "the stack's own origin: 101 Switching Protocols");
	ok(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL,
	    "Sec-WebSocket-Accept as in RFC 6455's example");
	{
		char buf[1024];

		ok(read_text(fd, buf, sizeof(buf)) == 1 && strncmp(buf, "0{\"sid\":\"", 9) == 0 &&
		    strstr(buf, "\"upgrades\":[]") && strstr(buf, "\"pingInterval\":") &&
		    strstr(buf, "\"pingTimeout\":") && strstr(buf, "\"maxPayload\":"),
		    "Engine.IO open packet: sid, upgrades [] (a WebSocket upgrades to nothing), "
		    "pingInterval, pingTimeout, maxPayload");
	}
	close(fd);

	fd = tcp(push_port, 0);
	puts_fd(fd, "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n");
	is_int(read_head(fd, head, sizeof(head)), 404, "another path: 404");
	close(fd);

	fd = tcp(push_port, 0);
	puts_fd(fd, "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	is_int(read_head(fd, head, sizeof(head)), 405, "POST: 405");
	close(fd);
}

static void
test_frames(void)
{
	char	buf[70000], big[300] = { 0 };
	size_t	len;
	int	fd, op;

	fd = ws_open(push_port, 0);
	frame(fd, 1, 1, "6", 1, 0, 0);
	is_int(read_close(fd), 1002, "unmasked client frame: close 1002");
	ok(eof_within(fd, 3000), "and the connection ends");
	close(fd);

	fd = ws_open(push_port, 0);
	frame(fd, 1, 1, "", 0, 1, 1ULL << 63);
	is_int(read_close(fd), 1002, "length 2^63: close 1002");
	close(fd);

	fd = ws_open(push_port, 0);
	frame(fd, 1, 1, "", 0, 1, (uint64_t)cfg.push_message_max + 1);
	is_int(read_close(fd), 1009, "a frame over push_message_max: close 1009 on its header");
	close(fd);

	fd = ws_open(push_port, 0);
	{
		size_t	half = (size_t)cfg.push_message_max / 2 + 1;
		char	*p = malloc(half);

		memset(p, ' ', half);
		frame(fd, 0, 1, p, half, 1, 0);
		frame(fd, 1, 0, p, half, 1, 0);
		free(p);
	}
	is_int(read_close(fd), 1009, "two fragments over push_message_max together: close 1009");
	close(fd);

	fd = ws_open(push_port, 0);
	frame(fd, 1, 1, "4\xc3\x28", 3, 1, 0);
	is_int(read_close(fd), 1007, "invalid UTF-8 in a text frame: close 1007");
	close(fd);

	fd = ws_open(push_port, 0);
	frame(fd, 1, 2, "\x01\x02", 2, 1, 0);
	is_int(read_close(fd), 1003, "a binary frame: close 1003");
	close(fd);

	fd = ws_open(push_port, 0);
	frame(fd, 1, 1, "9x", 2, 1, 0);
	is_int(read_close(fd), 1008, "a malformed Engine.IO packet: close 1008");
	close(fd);

	fd = ws_open(push_port, 0);
	frame(fd, 1, 1, "42[\"x\"", 6, 1, 0);
	ok(read_close(fd) != -1, "a malformed Socket.IO packet: closed with a close frame");
	close(fd);

	/* Ping with a payload: the pong echoes it. */
	fd = ws_open(push_port, 0);
	frame(fd, 1, 9, "abc", 3, 1, 0);
	ok(read_frame(fd, &op, buf, sizeof(buf), &len) == 0 && op == 10 && len == 3 &&
	    memcmp(buf, "abc", 3) == 0, "ping: pong with the same payload");
	frame(fd, 1, 9, big, 126, 1, 0);
	is_int(read_close(fd), 1002, "a control frame over 125 bytes: close 1002");
	close(fd);

	/* A fragmented CONNECT with a ping between the fragments. */
	fd = ws_open(push_port, 0);
	{
		char	msg[4200];
		size_t	n, third;

		snprintf(msg, sizeof(msg), "40{\"token\":\"%s\"}", tok_a);
		n = strlen(msg);
		third = n / 3;
		frame(fd, 0, 1, msg, third, 1, 0);
		frame(fd, 1, 9, "mid", 3, 1, 0);
		frame(fd, 0, 0, msg + third, third, 1, 0);
		/* The last fragment dribbles in a byte at a time. */
		{
			unsigned char	h[8] = { 0x80, 0x80 | 0 }, mask[4] = { 1, 2, 3, 4 };
			size_t		rest = n - 2 * third, i;

			h[1] = (unsigned char)(0x80 | (rest < 126 ? rest : 126));
			i = 2;
			if (rest >= 126) {
				h[2] = (unsigned char)(rest >> 8);
				h[3] = (unsigned char)rest;
				i = 4;
			}
			memcpy(h + i, mask, 4);
			for (n = 0; n < i + 4; n++) {
				put(fd, h + n, 1);
				usleep(2000);
			}
			for (n = 0; n < rest; n++) {
				char b = (char)(msg[2 * third + n] ^ mask[n % 4]);

				put(fd, &b, 1);
			}
		}
	}
	ok(read_frame(fd, &op, buf, sizeof(buf), &len) == 0 && op == 10 &&
	    len == 3 && memcmp(buf, "mid", 3) == 0,
	    "a ping between fragments is answered at once");
	ok(read_text(fd, buf, sizeof(buf)) == 1 && strncmp(buf, "40{\"sid\":", 9) == 0,
	    "a fragmented CONNECT, its last fragment byte by byte: connected");
	frame(fd, 1, 8, "\x03\xe8" "bye", 5, 1, 0);
	is_int(read_close(fd), 1000, "close 1000: echoed");
	ok(eof_within(fd, 3000), "then the server ends the TCP connection");
	close(fd);

	fd = ws_open(push_port, 0);
	frame(fd, 0, 0, "x", 1, 1, 0);
	is_int(read_close(fd), 1002, "a continuation with no message started: close 1002");
	close(fd);
}

static void
test_auth(void)
{
	char	buf[1024];
	int	fd, i, refused = 0;

	fd = ws_open(push_port, 0);
	for (i = 0; i < 3; i++) {
		text(fd, "40{\"token\":\"x.y.z\"}");
		if (read_text(fd, buf, sizeof(buf)) == 1 &&
		    strstr(buf, "44{\"message\":\"Authentication failed\"") == buf)
			refused++;
	}
	is_int(refused, 3, "a bad token: 44 Authentication failed, each time");
	is_int(read_close(fd), 1008, "after the third refusal: close 1008");
	close(fd);

	fd = ws_open(push_port, 0);
	text(fd, "40/admin,{}");
	ok(read_text(fd, buf, sizeof(buf)) == 1 &&
	    strcmp(buf, "44/admin,{\"message\":\"Invalid namespace\"}") == 0,
	    "an unknown namespace: 44 Invalid namespace");
	ok(sio_connect(fd, tok_a) == 0, "then the default namespace connects");
	text(fd, "451-[\"x\",{\"_placeholder\":true,\"num\":0}]");
	is_int(read_close(fd), 1003, "a binary event: close 1003");
	close(fd);
}

static void
test_timeouts(void)
{
	char	buf[1024];
	double	t0;
	int	fd, op;

	/* WebSocket open but no Socket.IO CONNECT. */
	fd = ws_open(push_port, 0);
	t0 = now_ms();
	is_int(read_close(fd), 1008, "no CONNECT within push_handshake_timeout_ms: close 1008");
	ok(now_ms() - t0 < cfg.push_handshake_timeout_ms + 2000,
	    "within the timeout (%.0f ms)", now_ms() - t0);
	close(fd);

	/* Connected, but never answering the pings. */
	fd = ws_open(push_port, 0);
	ok(sio_connect(fd, tok_a) == 0, "connected for the ping test");
	ok(read_frame(fd, &op, buf, sizeof(buf), NULL) == 0 && op == 1 &&
	    strcmp(buf, "2") == 0, "the server pings (Engine.IO \"2\")");
	t0 = now_ms();
	op = eof_within(fd, cfg.push_ping_timeout_ms + 3000);
	t0 = now_ms() - t0;
	ok(op && t0 > cfg.push_ping_timeout_ms / 2,
	    "no pong: closed after the ping timeout (%.0f ms)", t0);
	close(fd);
}

/* Publish job:new with n and padding; 0 or -1. */
static int
pub(struct redis *rd, int n, size_t pad)
{
	struct buf	b = { 0 };
	char		id[64];
	int		rc;

	buf_printf(&b, "{\"n\":%d,\"pad\":\"", n);
	while (pad-- > 0)
		buf_putc(&b, 'x');
	buf_puts(&b, "\"}");
	rc = events_publish(rd, "job:new", T, NULL, b.data, id, sizeof(id));
	buf_free(&b);
	return rc;
}

/* Read job:new frames on fd until the one numbered want; -1 if it never came. */
static int
until(int fd, int want)
{
	static char	buf[70000];
	char		pat[32];

	snprintf(pat, sizeof(pat), "\"n\":%d,", want);
	while (read_text(fd, buf, sizeof(buf)) == 1)
		if (strncmp(buf, "42[\"job:new\"", 12) == 0 && strstr(buf, pat))
			return 0;
	return -1;
}

/* Socket.IO DISCONNECT (41): the rooms are left, the WebSocket stays; CONNECT again rejoins. */
static void
test_disconnect(struct redis *rd)
{
	static char	buf[70000];
	char		msg[4200];
	int		fd, seen = 0, back = 0;

	fd = ws_open(push_port, 0);
	ok(fd != -1 && sio_connect(fd, tok_a) == 0 && sio_subscribe(fd) == 0,
	    "connected and subscribed, to disconnect");
	text(fd, "41");
	usleep(200000);
	ok(pub(rd, 901, 0) == 0, "an event published after the client's DISCONNECT (41)");
	usleep(300000);
	snprintf(msg, sizeof(msg), "40{\"token\":\"%s\"}", tok_a);
	text(fd, msg);
	while (read_text(fd, buf, sizeof(buf)) == 1) {
		if (strstr(buf, "\"n\":901,") != NULL)
			seen = 1;
		if (strncmp(buf, "40{\"sid\":", 9) == 0) {
			back = 1;
			break;
		}
	}
	ok(!seen, "is not delivered: DISCONNECT left the rooms");
	ok(back, "the WebSocket stays open: a new CONNECT is answered on it");
	ok(sio_subscribe(fd) == 0 && pub(rd, 902, 0) == 0 && until(fd, 902) == 0,
	    "subscribed again, events flow again");
	close(fd);
}

static void
test_slow(struct redis *rd)
{
	char	 head[1024];
	int	 slow, good, loris, i, n = 200, closed = 0, got = 1;
	double	 t0;

	/* A slowloris: the request line, then a header byte every 200 ms. */
	loris = tcp(push_port, 0);
	put(loris, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n", 52);
	good = ws_open(push_port, 0);
	ok(good != -1 && sio_connect(good, tok_a) == 0 && sio_subscribe(good) == 0,
	    "a good client connects and subscribes meanwhile");
	t0 = now_ms();
	for (i = 0; i < 40 && !closed; i++) {
		if (send(loris, "X", 1, MSG_NOSIGNAL) != 1)
			closed = 1;
		if (i == 3)
			ok(pub(rd, 1, 10) == 0 && until(good, 1) == 0,
			    "the good client receives an event while the slowloris dribbles");
		usleep(200000);
		{
			struct pollfd p = { .fd = loris, .events = POLLIN };

			if (poll(&p, 1, 0) == 1)
				closed = 1;
		}
	}
	t0 = now_ms() - t0;
	ok(closed, "the slowloris is answered and closed (%.0f ms)", t0);
	ok(read_head(loris, head, sizeof(head)) == 408, "with a 408");
	close(loris);

	/* A slow reader: a tiny receive window, never reads. */
	slow = ws_open(push_port, 4096);
	ok(slow != -1 && sio_connect(slow, tok_a) == 0 && sio_subscribe(slow) == 0,
	    "the slow reader connects and subscribes");
	for (i = 2; i < n + 2; i++) {
		if (pub(rd, i, 60000) == -1)
			break;
		if (until(good, i) == 0)
			got++;
	}
	is_int(got, n + 1, "the good client received every one of the events (60 KB each)");
	ok(eof_within(slow, 15000), "the slow reader was closed (output over push_output_max)");
	close(slow);
	pub(rd, n + 2, 10);
	ok(until(good, n + 2) == 0, "and the good client still receives");
	close(good);
}


/*
 * Close frames (RFC 6455 5.5.1, 7.4; Autobahn cases 7.3.2, 7.5.1,
 * 7.7.x, 7.9.x, 7.13.x): a payload of 1 byte, a code outside the valid
 * ranges and a reason that is not UTF-8 fail the connection (1002,
 * 1007); valid codes are echoed.  Before the fix, wslay echoed the
 * 1-byte payload and the invalid reason.
 */
static void
test_close_frames(void)
{
	static const unsigned	 bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016,
				    1100, 2000, 2999, 5000, 65535 };
	static const unsigned	 good[] = { 1000, 1001, 1002, 1003, 1007, 1008,
				    1009, 1010, 1011, 1012, 1013, 1014, 3000,
				    3999, 4000, 4999 };
	unsigned char		 p[64];
	size_t			 i;
	int			 fd, code, wrong;

	fd = ws_open(push_port, 0);
	frame(fd, 1, 8, "a", 1, 1, 0);
	is_int(read_close(fd), 1002, "a close frame with a 1-byte payload: close 1002, not an echo");
	ok(eof_within(fd, 3000), "and the connection ends");
	close(fd);

	for (wrong = 0, i = 0; i < nitems(bad); i++) {
		fd = ws_open(push_port, 0);
		p[0] = (unsigned char)(bad[i] >> 8);
		p[1] = (unsigned char)bad[i];
		frame(fd, 1, 8, p, 2, 1, 0);
		if ((code = read_close(fd)) != 1002) {
			printf("# close code %u answered with %d\n", bad[i], code);
			wrong++;
		}
		close(fd);
	}
	is_int(wrong, 0, "close codes 0, 999, 1004-1006, 1015, 1016, 1100, 2000, 2999, "
	    "5000, 65535: each answered with 1002");

	for (wrong = 0, i = 0; i < nitems(good); i++) {
		fd = ws_open(push_port, 0);
		p[0] = (unsigned char)(good[i] >> 8);
		p[1] = (unsigned char)good[i];
		frame(fd, 1, 8, p, 2, 1, 0);
		if ((code = read_close(fd)) != (int)good[i]) {
			printf("# close code %u answered with %d\n", good[i], code);
			wrong++;
		}
		close(fd);
	}
	is_int(wrong, 0, "valid close codes (1000-1003, 1007-1014, 3000-4999) are echoed");

	fd = ws_open(push_port, 0);
	memcpy(p, "\x03\xe8" "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
	    "edited", 22);
	frame(fd, 1, 8, p, 22, 1, 0);
	is_int(read_close(fd), 1007, "a close reason that is not UTF-8 (a surrogate): close 1007");
	close(fd);

	fd = ws_open(push_port, 0);
	memcpy(p, "\x03\xe8" "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 13);
	frame(fd, 1, 8, p, 13, 1, 0);
	is_int(read_close(fd), 1000, "a UTF-8 close reason (kosme): echoed");
	close(fd);

	fd = ws_open(push_port, 0);
	memcpy(p, "\x03\xe8" "ok\xf4\x90\x80\x80", 8);
	frame(fd, 1, 8, p, 8, 1, 0);
	is_int(read_close(fd), 1007, "a close reason past U+10FFFF: close 1007");
	close(fd);

	fd = ws_open(push_port, 0);
	memcpy(p, "\x03\xe8" "ok\xe2\x82", 6);
	frame(fd, 1, 8, p, 6, 1, 0);
	is_int(read_close(fd), 1007, "a close reason cut inside a character: close 1007");
	close(fd);
}

/*
 * Engine.IO's heartbeat runs from the open packet, before Socket.IO
 * connects: the server pings a WebSocket that has not sent CONNECT, and
 * the handshake timeout still ends it when CONNECT never comes.
 */
static void
test_heartbeat_before_connect(void)
{
	char	buf[1024];
	double	t0 = now_ms();
	int	fd, op = 0, pinged = 0;

	fd = ws_open(push_port, 0);
	while (read_frame(fd, &op, buf, sizeof(buf), NULL) == 0 && op == 1) {
		if (strcmp(buf, "2") == 0) {
			pinged = 1;
			frame(fd, 1, 1, "3", 1, 1, 0);
		}
	}
	ok(pinged, "a WebSocket without CONNECT is pinged (\"2\"), and its pongs answered");
	is_int(op, 8, "yet it is closed when CONNECT does not come");
	ok(now_ms() - t0 < cfg.push_handshake_timeout_ms + 2000,
	    "within push_handshake_timeout_ms (%.0f ms)", now_ms() - t0);
	close(fd);
}

/* A broadcaster of this test's own on port, with extra settings ("KEY=value", NULL-terminated); its pid. */
static pid_t
spawn_push(int port, const char *const extra[])
{
	char		 bin[1200], conf[1200], listen[64], asan[1300], ubsan[1300];
	const char	*b = itest_env("BIN");
	pid_t		 pid;
	int		 fd, i;

	if (b == NULL)
		return -1;
	snprintf(bin, sizeof(bin), "%s/push/broadcaster", b);
	snprintf(conf, sizeof(conf), "%s/app.conf", itest_rt);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(asan, sizeof(asan), "log_path=%s/log/asan/asan:detect_leaks=1:halt_on_error=1",
	    itest_rt);
	snprintf(ubsan, sizeof(ubsan), "log_path=%s/log/asan/ubsan:print_stacktrace=1:halt_on_error=1",
	    itest_rt);
	if ((pid = fork()) == 0) {
		setenv("APP_CONFIG", conf, 1);
		setenv("APP_PUSH_LISTEN", listen, 1);
		setenv("ASAN_OPTIONS", asan, 1);
		setenv("UBSAN_OPTIONS", ubsan, 1);
		for (i = 0; extra[i] != NULL; i++)
			putenv((char *)extra[i]);
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		struct timeval	tv = { 0, 0 };
		struct sockaddr_in sin = { .sin_family = AF_INET };

		(void)tv;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(fd);
			usleep(300000);		/* its Redis subscription */
			return pid;
		}
		close(fd);
		usleep(50000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

/* A free port on the loopback. */
static int
free_port(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/*
 * Issue 15, finding 1: an event stream outlives its token.  A stream
 * that reads slowly (its queue under push_output_max, which is raised
 * here so that only the token can end it) must leave its rooms when
 * exp + leeway passes and receive nothing published after.  Before the
 * fix it stayed in its rooms while its queue drained and kept hearing
 * the tenant.
 */
static void
test_expiry_slow_reader(struct redis *rd)
{
	static const char *const extra[] = { "APP_PUSH_OUTPUT_MAX=33554432", NULL };
	static char	 buf[65536];
	struct buf	 all = { 0 };
	char		 req[4600], *tok;
	int		 port = free_port(), fd, i, published = 0, markers = 0;
	pid_t		 pid;
	ssize_t		 n;
	double		 t0;

	if ((pid = spawn_push(port, extra)) == -1) {
		ok(0, "a broadcaster of this test's own starts");
		return;
	}
	t0 = now_ms();
	tok = mint_exp("user_push_exp", T, time(NULL) - cfg.jwt_leeway + 3);
	fd = tcp(port, 4096);
	snprintf(req, sizeof(req), "GET /api/events?topics=jobs HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer %s\r\n\r\n", tok);
	free(tok);
	puts_fd(fd, req);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	ok(n > 0 && strstr(buf, " 200 ") != NULL, "a stream with a token good for 3 s opens");
	/* 3 MB of events the reader does not read: the kernel's buffers fill, the rest waits in the queue. */
	for (i = 0; i < 50; i++)
		if (pub(rd, 100 + i, 60000) == 0)
			published++;
	is_int(published, 50, "50 events of 60 KB published while the token is good, none read yet");
	/*
	 * The token runs out 3 to 4 s after it was minted (whole seconds),
	 * the sweep sees it within a quarter second; then events come, and
	 * the reader reads at once, before the 2 s the broadcaster gives a
	 * finishing stream.
	 */
	while (now_ms() - t0 < 4400)
		usleep(50000);
	for (i = 0; i < 3; i++)
		pub(rd, 9001 + i, 10);
	usleep(200000);
	/* Now read it all: what was in flight, then the end. */
	t0 = now_ms();
	while (now_ms() - t0 < 20000 && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
		buf_append(&all, buf, (size_t)n);
	buf_putc(&all, '\0');
	for (i = 0; i < 3; i++) {
		char	pat[32];

		snprintf(pat, sizeof(pat), "\"n\":%d,", 9001 + i);
		if (strstr(all.data, pat) != NULL)
			markers++;
	}
	is_int(markers, 0, "nothing published after the token ran out reached the slow reader");
	ok(all.len > 0 && strstr(all.data, ": token expired\n\n") != NULL,
	    "the stream ends with \": token expired\"");
	ok(n == 0, "and the broadcaster ends the connection");
	close(fd);
	buf_free(&all);
	kill(pid, SIGTERM);
	waitpid(pid, &i, 0);
	ok(WIFEXITED(i) && WEXITSTATUS(i) == 0, "the test's broadcaster exits cleanly");
}

int
main(void)
{
	struct redis	rd = { 0 };
	const char	*p;
	char		*t;

	itest_setup("itest_push");
	if ((p = itest_env("PUSH_PORT")) == NULL) {
		printf("1..0 # SKIP the stack has no broadcaster\n");
		return 0;
	}
	push_port = atoi(p);
	web_port = atoi(itest_env("PORT"));
	/* The broadcaster's own settings, as the harness gives them. */
	if ((p = getenv("APP_PUSH_HANDSHAKE_TIMEOUT_MS")) != NULL)
		cfg.push_handshake_timeout_ms = atoi(p);
	if ((p = getenv("APP_PUSH_PING_TIMEOUT_MS")) != NULL)
		cfg.push_ping_timeout_ms = atoi(p);
	if ((t = mint("user_push_a", T)) == NULL) {
		printf("1..0 # SKIP cannot mint a token\n");
		return 0;
	}
	snprintf(tok_a, sizeof(tok_a), "%s", t);
	free(t);
	test_handshakes();
	test_frames();
	test_close_frames();
	test_auth();
	test_timeouts();
	test_heartbeat_before_connect();
	test_disconnect(&rd);
	test_slow(&rd);
	test_expiry_slow_reader(&rd);
	redis_close(&rd);
	config_free();
	return done_testing();
}
