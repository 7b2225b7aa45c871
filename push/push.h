/* push.h: the broadcaster's internal header: clients and their output queues, rooms, the protocols, the Redis feed. */
#ifndef PUSH_H
#define PUSH_H

#include <stdint.h>
#include <sys/types.h>

#include <ev.h>
#include <wslay/wslay.h>

#include "common.h"

/*
 * One single-threaded daemon on libev's epoll loop.  Invariants:
 *
 * - Clients live in a table indexed by their file descriptor.  A client
 *   is closed by client_close(), which only marks it: the memory and the
 *   descriptor are released by client_reap() just before the loop
 *   sleeps, outside every read, write and Redis callback, so no pointer
 *   held during a callback ever dangles.
 * - Output is a queue of references to struct msg.  A broadcast encodes
 *   its frame once per protocol; every recipient queues a reference to
 *   it.  Output is written just before the loop sleeps (write before
 *   sleeping); only what the socket did not take arms EV_WRITE.  A
 *   client whose queue exceeds push_output_max is closed: memory is
 *   never unbounded.
 * - An idle connection owns no buffer: the request buffer lives only
 *   until the request is answered, the wslay context (9 KiB) only while
 *   a frame or a fragmented message is half received or a close is
 *   under way, queue entries only until written.
 * - An Engine.IO session is one client whatever its transport.  Over
 *   HTTP long-polling the session is a client of its own (CF_POLL) that
 *   outlives the requests carrying it: between two GETs it has no
 *   descriptor (fd -1); while it holds a GET the connection's descriptor
 *   moves into it (CF_HELD) and the connection's struct is freed, so an
 *   idle polling session costs what an idle WebSocket costs.  Its queue
 *   holds bare Engine.IO packets; a GET takes them all, separated by
 *   0x1e.  Sessions are found by sid in a hash table (poll.c); the fd
 *   table holds only clients with a descriptor.
 * - Every length read from the network is checked before use.
 */

#define PUSH_READ_MAX		65536	/* one read(2) */
#define PUSH_REQUEST_MAX	16384	/* request line and headers */
#define PUSH_LINGER_MS		1000	/* after our last byte, wait for the peer's FIN */
#define PUSH_CLOSE_WAIT_MS	2000	/* after our close frame (or "1"), wait for the peer */
#define PUSH_AUTH_FAILURES	3	/* refused CONNECTs before the connection is closed */
#define PUSH_SID_LEN		20	/* an Engine.IO sid: 15 random bytes, base64url */
#define PUSH_ORIGINS_MAX	254	/* entries of cors_origins (an index fits a byte) */
#define PUSH_CORS_MAX_AGE	600	/* seconds a browser may cache a preflight */

/*
 * msg (client.c) -- an outgoing byte string, reference counted.  Once
 * queued for more than one client it is never written to again.
 */
struct msg {
	unsigned	 refs;
	size_t		 len;
	size_t		 cap;
	uint64_t	 id_ms, id_seq;	/* an event stream block's id, else 0 */
	char		 data[];
};
struct msg	*msg_new(size_t);
void		 msg_append(struct msg *, const void *, size_t);
void		 msg_unref(struct msg *);

struct qent {
	struct msg	*m;
	struct qent	*next;
};

/*
 * CS_EIO and CS_SIO are the states of an Engine.IO session, over a
 * WebSocket (CF_WS) or HTTP long-polling (CF_POLL).
 */
enum client_state {
	CS_HTTP,	/* reading a request */
	CS_REPLY,	/* an HTTP response is queued; finish when written */
	CS_EIO,		/* Engine.IO open, Socket.IO not connected */
	CS_SIO,		/* Socket.IO connected: authenticated, in rooms */
	CS_PROBE,	/* a WebSocket probing to take over a polling session */
	CS_SSE,		/* event stream */
	CS_CLOSING,	/* WebSocket: our close frame is out, the peer's awaited;
			   polling: a close packet waits for the next GET */
	CS_LINGER	/* output done and shut down: waiting for EOF */
};

#define CF_PENDING	0x0001	/* in srv.pending: flush before sleeping */
#define CF_WRITING	0x0002	/* EV_WRITE armed */
#define CF_CLOSE	0x0004	/* closed: reaped before sleeping */
#define CF_FINISH	0x0008	/* shut down writing once the queue drains */
#define CF_MSG_OPEN	0x0010	/* a fragmented WebSocket message is half read */
#define CF_PING_SENT	0x0020	/* Engine.IO ping sent, pong awaited */
#define CF_REPLAY	0x0040	/* SSE replay in flight: live events wait */
#define CF_HOLD		0x0080	/* never written (fuzzing, tests) */
#define CF_WS		0x0100	/* a WebSocket: u.ws is in use */
#define CF_POLL		0x0200	/* a polling session: u.poll is in use */
#define CF_HELD		0x0400	/* polling: holds a GET (fd is its connection) */
#define CF_POSTING	0x0800	/* polling: a POST is being read */
#define CF_PROBED	0x1000	/* polling: the upgrade probe was answered */
#define CF_COUNTED	0x2000	/* holds one of the push_max_clients slots */
#define CF_HEAD		0x4000	/* answering a HEAD: no body */
#define CF_CTL_CLOSE	0x8000	/* a close frame's payload is being checked */
#define CF_BATCH	0x10000	/* written by the send threads in this flush */

enum room_kind {
	ROOM_TENANT,		/* tenant:<t>: every client of the tenant */
	ROOM_JOBS,		/* jobs:<t>: after subscribe:jobs */
	ROOM_PROPOSALS,		/* proposals:<user>, within the tenant */
	ROOM__MAX
};

struct room;
struct client;
struct member {
	struct room	*room;
	struct client	*c;
	struct member	*prev, *next;
};

struct http_req;

struct client {
	ev_io			 io;		/* only while fd >= 0 */
	int			 fd;		/* -1: a polling session between GETs */
	enum client_state	 state;
	unsigned		 flags;
	uint8_t			 auth_failures;	/* refused CONNECTs so far */
	uint8_t			 origin;	/* 0, or 1 + the index of the request's Origin in srv.origins */
	uint64_t		 serial;	/* unique for the process's life */
	double			 deadline;	/* ms; what it bounds depends on state */
	double			 connect_by;	/* CS_EIO: ms by which CONNECT must come */
	time_t			 expires;	/* 0, or when the token (exp + leeway) runs out */
	struct qent		*qhead, *qtail;
	size_t			 qoff;		/* bytes of qhead already written */
	size_t			 qbytes;	/* bytes queued, qoff excluded */
	char			*user;		/* authenticated user id */
	union {
		struct http_req	*req;		/* CS_HTTP */
		struct {			/* CS_SSE */
			uint64_t	 last_ms, last_seq;	/* last event id sent */
		} sse;
		struct {			/* CF_WS */
			wslay_event_context_ptr ctx;	/* see the invariants above */
			uint64_t	 frame_left;	/* payload bytes of the current frame */
			struct client	*peer;		/* CS_PROBE: the polling session */
			uint8_t		 hdr[14];	/* a frame header being completed */
			uint8_t		 hdrlen;
			uint8_t		 ctl_len;	/* CF_CTL_CLOSE: payload bytes seen */
			uint8_t		 ctl_utf8;	/* CF_CTL_CLOSE: continuation bytes due */
			uint8_t		 ctl_lo, ctl_hi;	/* CF_CTL_CLOSE: the next byte's range */
			uint16_t	 ctl_code;	/* CF_CTL_CLOSE: the status code */
		} ws;
		struct {			/* CF_POLL */
			struct client	*hnext;		/* the sid hash chain */
			struct client	*peer;		/* a WebSocket probing to take over */
			char		 sid[PUSH_SID_LEN];	/* not NUL-terminated */
		} poll;
	} u;
	struct member		 rooms[ROOM__MAX];
};

/* An event from Redis, as rooms_deliver() sees it. */
enum topic {
	TOPIC_NONE,		/* tenant-wide */
	TOPIC_JOBS,		/* type job:* */
	TOPIC_PROPOSALS		/* type proposal:* */
};
struct event {
	const char	*id;
	uint64_t	 id_ms, id_seq;
	const char	*type;
	const char	*tenant;
	const char	*user;		/* NULL: every user of the tenant */
	const char	*data;		/* JSON text */
	size_t		 datalen;
	enum topic	 topic;
	struct msg	*ws_msg;	/* built on first use: a WebSocket frame */
	struct msg	*polling_msg;	/* the bare packet, for polling sessions */
	struct msg	*sse_msg;
};

struct push_stats {
	uint64_t	 accepted;
	uint64_t	 refused;
	uint64_t	 events;
	uint64_t	 forged;	/* events dropped: unsigned, forged, ids far ahead */
	uint64_t	 delivered;
	uint64_t	 slow_closed;
	uint64_t	 expired;	/* closed when their token ran out */
	uint64_t	 sessions;	/* polling sessions opened */
	uint64_t	 upgrades;	/* of which upgraded to a WebSocket */
};

/* The daemon's state: there is one. */
struct push_server {
	struct ev_loop		*loop;
	struct auth_keys	 keys;
	int			 lfd;
	int			 spare_fd;	/* given up to accept and refuse at EMFILE */
	ev_io			 accept_io;
	ev_prepare		 prepare;
	ev_timer		 cron;
	ev_timer		 shutdown_timer;
	ev_signal		 sigterm, sigint, sighup;
	struct client		**clients;	/* indexed by fd */
	size_t			 clients_cap;
	size_t			 nclients;	/* every struct client, sessions too */
	size_t			 nslots;	/* clients holding a push_max_clients slot */
	size_t			 npoll;		/* polling sessions */
	struct client		**pending;	/* output to write before sleeping */
	size_t			 npending, pending_cap;
	struct send_job		*jobs;		/* the pending ones' writes (send.c) */
	size_t			 jobs_cap;
	struct client		**closing;	/* to reap before sleeping */
	size_t			 nclosing, closing_cap;
	uint64_t		 serial;
	int			 shutting_down;
	char			**origins;	/* cors_origins, parsed */
	size_t			 norigins;
	struct msg		*keepalive;	/* ": keep-alive" for event streams */
	struct msg		*ping;		/* Engine.IO ping, a WebSocket frame */
	struct msg		*polling_ping;	/* Engine.IO ping, a bare packet */
	struct msg		*polling_sep;	/* 0x1e, between the packets of a payload */
	struct push_stats	 stats;
	const char		*in;		/* wslay's recv cursor */
	size_t			 inlen;
};
extern struct push_server srv;

/* client.c */
double		 push_now(void);
struct client	*client_new(int);
void		 client_close(struct client *, const char *);
void		 client_reap(void);
void		 client_free(struct client *);
void		 client_queue(struct client *, struct msg *);
void		 client_queue_moved(struct client *, struct msg *);
void		 client_send(struct client *, const void *, size_t);
void		 client_drop_queued(struct client *, int);
void		 client_finish(struct client *);
void		 client_kick(struct client *);
void		 client_flush(struct client *);
void		 client_flush_pending(void);
void		 client_input(struct client *, const char *, size_t);
void		 client_io_cb(struct ev_loop *, ev_io *, int);
struct client	*client_find(int, uint64_t);
void		 client_slot_take(struct client *);
void		 client_slot_release(struct client *);
void		 client_give_fd(struct client *, struct client *);
struct client	*client_take_fd(struct client *);
void		 client_expire(struct client *);

/* send.c */
#define SEND_IOV_MAX	64	/* queue entries in one gather write */
#define SEND_PARALLEL_MIN 256	/* pending clients worth waking the threads for */
struct send_job {
	struct client	*c;
	ssize_t		 w;		/* what the write returned */
	int		 err;		/* its errno, or 0 */
};
int		 send_start(int);
int		 send_threads(void);
void		 send_run(struct send_job *, size_t);
void		 send_stop(void);

/* http.c */
int		 push_http_cors_load(void);
int		 push_http_origin(const char *, size_t);
void		 push_http_input(struct client *, const char *, size_t);
void		 push_http_respond(struct client *, int, const char *,
		    const char *, const char *, size_t);
void		 push_http_head(struct buf *, const struct client *, int,
		    const char *, const char *);
void		 push_http_reply(struct client *, int, const char *,
		    const char *, const char *);
void		 push_http_eio_error(struct client *, int, int);
void		 push_http_req_free(struct client *, struct http_req *);

/* metrics.c */
void		 push_metrics(struct client *, const char *, int);

/* ws.c */
void		 ws_accept_key(const char *, size_t, char *);
struct msg	*ws_frame(int, const void *, size_t);
void		 ws_start(struct client *);
void		 ws_input(struct client *, const char *, size_t);
void		 ws_send_text(struct client *, const void *, size_t);
void		 ws_close(struct client *, uint16_t, const char *);
void		 ws_release(struct client *);
int		 ws_utf8_valid(const uint8_t *, size_t);
int		 ws_close_code_valid(unsigned);

/* eio.c */
void		 eio_sid(char *);
void		 eio_open_packet(struct buf *, const char *, int);
void		 eio_open(struct client *);
int		 eio_packet(struct client *, const char *, size_t);
void		 eio_send(struct client *, const char *, size_t);
void		 eio_close(struct client *, uint16_t, const char *);
void		 eio_cron(struct client *, double);
struct msg	*eio_event_msg(const struct event *, int);

/* poll.c */
struct client	*polling_find(const char *, size_t);
struct client	*polling_open(void);
void		 polling_get(struct client *, struct client *);
void		 polling_post(struct client *, struct client *, const char *, size_t);
void		 polling_send(struct client *, const char *, size_t);
void		 polling_close(struct client *);
void		 polling_bye(struct client *);
void		 polling_flush(struct client *);
void		 polling_probe(struct client *);
void		 polling_upgrade(struct client *);
void		 polling_unlink(struct client *);
void		 polling_unpeer(struct client *);
void		 polling_foreach(void (*)(struct client *, void *), void *);
void		 polling_free_all(void);

/* sse.c */
void		 sse_start(struct client *, const struct principal *, int, int,
		    const char *);
struct msg	*sse_event_msg(const struct event *);
void		 sse_replay_done(struct client *, struct event *, size_t);
void		 sse_cron(struct client *, double);
int		 sse_id_parse(const char *, uint64_t *, uint64_t *);

/* rooms.c */
int		 room_join(struct client *, enum room_kind, const char *);
void		 room_leave(struct client *, enum room_kind);
void		 rooms_leave_all(struct client *);
int		 rooms_move(struct client *, struct client *);
const char	*room_tenant(const struct client *);
void		 rooms_deliver(struct event *);
int		 event_visible(const struct client *, const struct event *);
void		 rooms_free(void);

/* feed.c */
void		 feed_start(void);
void		 feed_stop(void);
int		 feed_replay(struct client *, const char *, const char *);
int		 event_parse(struct event *, json_object **, const char *, size_t);
void		 event_clear(struct event *, json_object *);

#endif /* !PUSH_H */
