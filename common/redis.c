/* redis.c: the worker's Redis connection, with short timeouts and a pause after failures. */
#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "common.h"

/*
 * Redis is an accelerator here (rate limits, cache, events), never the
 * source of truth, so a slow or dead Redis must cost a request at most
 * redis_timeout_ms once: after a failure the connection is dropped (a
 * late reply would desynchronise it) and Redis is bypassed for
 * redis_retry_ms.
 */
struct redisContext *
redis_get(struct redis *rd)
{
	struct timeval	tv;
	double		now = now_ms();

	/*
	 * Nothing is pending between requests, so a readable socket means
	 * the server closed it (a restart): reconnect now rather than lose
	 * this request's command to a broken pipe.
	 */
	if (!redis_enabled())
		return NULL;
	if (rd->ctx != NULL) {
		struct pollfd pfd = { .fd = rd->ctx->fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) == 0)
			return rd->ctx;
		redisFree(rd->ctx);
		rd->ctx = NULL;
	}
	if (now < rd->down_until)
		return NULL;
	tv.tv_sec = cfg.redis_timeout_ms / 1000;
	tv.tv_usec = (cfg.redis_timeout_ms % 1000) * 1000;
	if (*cfg.redis_socket != '\0')
		rd->ctx = redisConnectUnixWithTimeout(cfg.redis_socket, tv);
	else
		rd->ctx = redisConnectWithTimeout(cfg.redis_host, cfg.redis_port, tv);
	if (rd->ctx == NULL || rd->ctx->err != 0 ||
	    redisSetTimeout(rd->ctx, tv) != REDIS_OK) {
		LOG_WARN(NULL, "redis: connect failed: %s",
		    rd->ctx ? rd->ctx->errstr : "out of memory");
		redis_fail(rd);
		return NULL;
	}
	if (redis_auth(rd->ctx) == -1) {
		redis_fail(rd);
		return NULL;
	}
	return rd->ctx;
}

/*
 * The password of redis_password_file, trailing white space dropped, or
 * NULL when none is configured or the file cannot be read (logged).  The
 * caller releases it with crypto_free_secret().  Read at every connect,
 * so a rotated password takes effect at the next reconnect.
 */
char *
redis_password(void)
{
	char	*pw;
	size_t	 len;

	if (*cfg.redis_password_file == '\0')
		return NULL;
	if ((pw = read_file(cfg.redis_password_file, 4096, &len)) == NULL) {
		LOG_ERR(NULL, "redis: redis_password_file %s: %s",
		    cfg.redis_password_file, strerror(errno));
		return NULL;
	}
	while (len > 0 && (pw[len - 1] == '\n' || pw[len - 1] == '\r' ||
	    pw[len - 1] == ' '))
		pw[--len] = '\0';
	return pw;
}

/*
 * AUTH on a fresh connection (as redis_user when set), before any other
 * command.  Returns 0 (or 0 at once when no password is configured) or
 * -1 after logging why: a refused password is an error an operator must
 * see, not a passing outage.
 */
int
redis_auth(struct redisContext *c)
{
	redisReply	*reply;
	char		*pw;
	int		 rc = -1;

	if (*cfg.redis_password_file == '\0')
		return 0;
	if ((pw = redis_password()) == NULL)
		return -1;
	if (*cfg.redis_user != '\0')
		reply = redisCommand(c, "AUTH %s %s", cfg.redis_user, pw);
	else
		reply = redisCommand(c, "AUTH %s", pw);
	crypto_free_secret(pw);
	if (reply == NULL)
		LOG_WARN(NULL, "redis: AUTH: %s", c->errstr);
	else if (reply->type == REDIS_REPLY_ERROR)
		LOG_ERR(NULL, "redis: AUTH refused%s%s: %s",
		    *cfg.redis_user != '\0' ? " for " : "", cfg.redis_user,
		    reply->str);
	else
		rc = 0;
	freeReplyObject(reply);
	return rc;
}

/* Drop the connection after an error or timeout and pause before retrying. */
void
redis_fail(struct redis *rd)
{
	if (rd->ctx != NULL)
		redisFree(rd->ctx);
	rd->ctx = NULL;
	rd->down_until = now_ms() + cfg.redis_retry_ms;
}

void
redis_close(struct redis *rd)
{
	if (rd->ctx != NULL)
		redisFree(rd->ctx);
	rd->ctx = NULL;
}

/* PING; *ms gets the latency.  Ignores the retry pause: health asks now. */
int
redis_ping(struct redis *rd, double *ms)
{
	redisReply	*reply;
	double		 t0 = now_ms();
	int		 ok;

	rd->down_until = 0;
	if (redis_get(rd) == NULL)
		return -1;
	reply = redisCommand(rd->ctx, "PING");
	ok = reply != NULL && reply->type == REDIS_REPLY_STATUS &&
	    strcmp(reply->str, "PONG") == 0;
	if (reply == NULL)
		redis_fail(rd);
	freeReplyObject(reply);
	*ms = now_ms() - t0;
	return ok ? 0 : -1;
}

/*
 * Run a Lua script: EVALSHA with the digest computed here, and EVAL (which
 * also caches it in Redis) when Redis answers NOSCRIPT, after a restart
 * or a SCRIPT FLUSH.  One round trip in the usual case.  Returns the
 * reply (the caller frees it) or NULL after a connection failure, which
 * has already dropped the connection.  args[0..nkeys) are the keys.
 */
redisReply *
redis_script(struct redis *rd, struct redis_script *sc, int nkeys, int nargs,
    const char *const *args, const size_t *lens)
{
	const char	*argv[24];
	size_t		 argl[24];
	char		 nk[16];
	redisReply	*reply;
	int		 i, argc;

	if (redis_get(rd) == NULL || nargs > 20)
		return NULL;
	if (sc->sha[0] == '\0') {
		unsigned char	d[SHA_DIGEST_LENGTH];

		SHA1((const unsigned char *)sc->lua, strlen(sc->lua), d);
		for (i = 0; i < SHA_DIGEST_LENGTH; i++)
			snprintf(sc->sha + 2 * i, 3, "%02x", d[i]);
	}
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[0] = "EVALSHA";
	argv[1] = sc->sha;
	argv[2] = nk;
	argl[0] = 7;
	argl[1] = 40;
	argl[2] = strlen(nk);
	for (i = 0; i < nargs; i++) {
		argv[3 + i] = args[i];
		argl[3 + i] = lens != NULL ? lens[i] : strlen(args[i]);
	}
	argc = 3 + nargs;
	reply = redisCommandArgv(rd->ctx, argc, argv, argl);
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(reply);
		argv[0] = "EVAL";
		argl[0] = 4;
		argv[1] = sc->lua;
		argl[1] = strlen(sc->lua);
		reply = redisCommandArgv(rd->ctx, argc, argv, argl);
	}
	if (reply == NULL) {
		LOG_WARN(NULL, "redis: %s", rd->ctx->errstr);
		redis_fail(rd);
	}
	return reply;
}

/*
 * Predicate: a Redis is configured.  With redis_host and redis_socket
 * both empty there is none, and what Redis holds lives in PostgreSQL
 * (struct redis's pg; docs/no-redis.md).
 */
int
redis_enabled(void)
{
	return *cfg.redis_socket != '\0' || *cfg.redis_host != '\0';
}
