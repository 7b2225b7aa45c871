/* test_rooms.c: unit tests for the broadcaster's rooms: event_visible()'s tenant check (the one wall between tenants' events), then the user and topic checks. */
#include <stdlib.h>
#include <string.h>

#include "../../push/rooms.c"
#include "tap.h"

/* What rooms.c calls in the rest of the broadcaster, never reached here. */
struct push_server	srv;
void client_queue(struct client *c, struct msg *m) { (void)c; (void)m; }
void client_expire(struct client *c) { (void)c; }
struct msg *eio_event_msg(const struct event *e, int b) { (void)e; (void)b; return NULL; }
struct msg *sse_event_msg(const struct event *e) { (void)e; return NULL; }

static struct event
event(const char *tenant, const char *user, enum topic topic)
{
	struct event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.tenant = tenant;
	ev.user = user;
	ev.topic = topic;
	ev.type = "x";
	return ev;
}

/* Issue 15 (c): the tenant check alone, whatever else the client has. */
static void
test_tenant(void)
{
	struct client	a, b, none;
	struct event	ev;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&none, 0, sizeof(none));
	a.user = "user_1";
	b.user = "user_1";		/* the same user id, in another tenant */
	none.user = "user_1";
	ok(room_join(&a, ROOM_TENANT, "org_a") == 0 && room_join(&a, ROOM_JOBS, "org_a") == 0 &&
	    room_join(&a, ROOM_PROPOSALS, "org_a") == 0, "a client of org_a, in every room");
	ok(room_join(&b, ROOM_TENANT, "org_b") == 0 && room_join(&b, ROOM_JOBS, "org_b") == 0 &&
	    room_join(&b, ROOM_PROPOSALS, "org_b") == 0, "a client of org_b, the same user id");
	is_str(room_tenant(&a), "org_a", "room_tenant: its tenant");

	ev = event("org_a", NULL, TOPIC_NONE);
	ok(event_visible(&a, &ev) && !event_visible(&b, &ev), "a tenant-wide event: its tenant only");
	ev = event("org_a", NULL, TOPIC_JOBS);
	ok(event_visible(&a, &ev) && !event_visible(&b, &ev), "a jobs event: its tenant only");
	ev = event("org_a", "user_1", TOPIC_PROPOSALS);
	ok(event_visible(&a, &ev) && !event_visible(&b, &ev),
	    "a user's event: not the same user id in another tenant");
	ev = event("org_", NULL, TOPIC_NONE);
	ok(!event_visible(&a, &ev), "a tenant that is a prefix of the client's: not visible");
	ev = event("org_ab", NULL, TOPIC_NONE);
	ok(!event_visible(&a, &ev), "a tenant the client's is a prefix of: not visible");
	ev = event("", NULL, TOPIC_NONE);
	ok(!event_visible(&a, &ev), "an empty tenant: not visible");
	ev = event("org_a", NULL, TOPIC_NONE);
	ok(!event_visible(&none, &ev), "a client in no tenant (not yet authenticated): nothing");
	rooms_leave_all(&a);
	ok(room_tenant(&a) == NULL && !event_visible(&a, &ev),
	    "a client that left its rooms (its token ran out): nothing");
	rooms_leave_all(&b);
}

static void
test_user_topic(void)
{
	struct client	a, a2;
	struct event	ev;

	memset(&a, 0, sizeof(a));
	memset(&a2, 0, sizeof(a2));
	a.user = "user_1";
	a2.user = "user_2";
	room_join(&a, ROOM_TENANT, "org_a");
	room_join(&a2, ROOM_TENANT, "org_a");
	ev = event("org_a", "user_1", TOPIC_NONE);
	ok(event_visible(&a, &ev) && !event_visible(&a2, &ev), "a user's event: that user only");
	ev = event("org_a", NULL, TOPIC_JOBS);
	ok(!event_visible(&a, &ev), "a jobs event without the jobs subscription: not visible");
	room_join(&a, ROOM_JOBS, "org_a");
	ok(event_visible(&a, &ev), "with it: visible");
	rooms_leave_all(&a);
	rooms_leave_all(&a2);
}

int
main(void)
{
	test_tenant();
	test_user_topic();
	rooms_free();
	return done_testing();
}
