/* test_events.c: unit tests for events_verify(): what the broadcaster delivers and drops, unsigned, forged, replayed under another id, or with an id far ahead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

#define NOW	1796200000000.0		/* ms: 2026-12-02T08:26:40Z */
#define TAIL	",\"type\":\"job:new\",\"tenant\":\"org_x\",\"user\":null," \
		"\"time\":\"2026-12-02T08:26:40.000Z\",\"data\":{\"n\":1}}"

/* The signature events_publish() would give tail, in hex. */
static void
sign(const char *tail, char hex[65])
{
	struct crypto_keys	k;
	unsigned char		mac[32];
	int			i;

	if (crypto_keys_load(&k, cfg.events_key_file, "redis-events") == -1)
		abort();
	crypto_sign(&k, tail, strlen(tail), mac);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

static const char *
verify(const char *id, const char *tail, const char *sig)
{
	return events_verify(id, tail, strlen(tail), sig, sig != NULL ?
	    strlen(sig) : 0, NOW);
}

static int
says(const char *why, const char *want)
{
	return why != NULL && strcmp(why, want) == 0;
}

int
main(void)
{
	char	path[] = "/tmp/test_events.XXXXXX", sig[65], bad[65];
	int	fd;

	cfg.events_key_file = "";
	ok(verify("1796200000000-0", TAIL, NULL) == NULL,
	    "no key configured: an unsigned event passes");
	ok(says(verify("1796200600000-0", TAIL, NULL), "id ahead of the clock"),
	    "but not an id ten minutes ahead, key or not");
	ok(says(verify("soon", TAIL, NULL), "malformed id"), "nor a malformed id");

	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, "0123456789abcdef0123456789abcdef0123456789abcdef\n", 49) != 49)
		abort();
	close(fd);
	cfg.events_key_file = path;
	sign(TAIL, sig);
	ok(verify("1796200000000-0", TAIL, sig) == NULL, "a signed event passes");
	ok(verify("1796200030000-5", TAIL, sig) == NULL,
	    "with an id 30 s from its time (clocks differ a little)");
	ok(says(verify("1796200000000-0", TAIL, NULL), "unsigned"),
	    "with a key: an unsigned event is dropped");
	snprintf(bad, sizeof(bad), "%s", sig);
	bad[0] = bad[0] == '0' ? '1' : '0';
	ok(says(verify("1796200000000-0", TAIL, bad), "bad signature"),
	    "a signature one digit off is dropped");
	ok(says(verify("1796200000000-0", TAIL, "abcd"), "bad signature"),
	    "a short one too");
	ok(says(verify("1796200000000-0", ",\"type\":\"job:new\",\"tenant\":\"org_y\","
	    "\"user\":null,\"time\":\"2026-12-02T08:26:40.000Z\",\"data\":{\"n\":1}}", sig),
	    "bad signature"), "the same signature on another tenant's event is dropped");
	ok(says(verify("1796199000000-0", TAIL, sig), "id far from its time"),
	    "a real event replayed under an id 1000 s earlier is dropped");
	ok(says(events_verify("1796200090000-0", TAIL, strlen(TAIL), sig, 64,
	    NOW + 200000), "id far from its time"),
	    "and under one 90 s later (the clock past it)");
	ok(says(verify("9999999999999-0", TAIL, sig), "id ahead of the clock"),
	    "and under a far-ahead id");
	unlink(path);
	return done_testing();
}
