/* send.c: the write phase of a large fan-out spread over push_send_threads threads: each makes the gather writes of its share of the pending clients; the loop's thread keeps every other piece of state. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "push.h"

/*
 * Where the time of a fan-out goes: nearly all of it in send(2), in the
 * kernel (on loopback the receiver's TCP path runs in the sender's
 * softirq); what the loop does per client in user space is a few
 * percent.  So the one lever is more cores in the kernel at once.
 *
 * The contract with the threads: while a batch runs, the loop's thread
 * waits (it takes a share itself) and nothing else touches a client;
 * the threads only read the queues (qhead, qoff, the messages, which
 * no one writes once queued) and write their own result slots.  The
 * loop's thread then applies each result as client_flush() would
 * (client_wrote()): queue entries released, a write error closed,
 * EV_WRITE armed for what is left.  No lock is held during a send.
 */

#define SEND_CHUNK	64	/* clients a thread takes at a time */

static struct {
	pthread_t		*tid;
	int			 nthreads;	/* helpers, besides the loop's thread */
	pthread_mutex_t		 mu;
	pthread_cond_t		 go, done;
	unsigned long		 gen;		/* batches started */
	int			 running;	/* helpers still on this batch */
	int			 stop;
	struct send_job		*jobs;
	size_t			 njobs;
	size_t			 next;		/* the next chunk, taken atomically */
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER };

/* One gather write of c's queue, as client_flush() makes it. */
static void
send_one(struct send_job *j)
{
	struct iovec	 iov[SEND_IOV_MAX];
	struct qent	*q;
	size_t		 off = j->c->qoff;
	int		 n = 0;

	for (q = j->c->qhead; q != NULL && n < SEND_IOV_MAX; q = q->next) {
		iov[n].iov_base = q->m->data + off;
		iov[n].iov_len = q->m->len - off;
		off = 0;
		n++;
	}
	do {
		j->w = n == 1 ? send(j->c->fd, iov[0].iov_base, iov[0].iov_len,
		    MSG_NOSIGNAL) : writev(j->c->fd, iov, n);
	} while (j->w < 0 && errno == EINTR);
	j->err = j->w < 0 ? errno : 0;
}

/* Take chunks of the current batch until none is left. */
static void
send_share(void)
{
	size_t	i, end;

	for (;;) {
		i = __atomic_fetch_add(&pool.next, SEND_CHUNK, __ATOMIC_RELAXED);
		if (i >= pool.njobs)
			return;
		end = i + SEND_CHUNK < pool.njobs ? i + SEND_CHUNK : pool.njobs;
		for (; i < end; i++)
			send_one(&pool.jobs[i]);
	}
}

static void *
send_thread(void *arg)
{
	unsigned long	seen = 0;

	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (!pool.stop && pool.gen == seen)
			pthread_cond_wait(&pool.go, &pool.mu);
		if (pool.stop)
			break;
		seen = pool.gen;
		pthread_mutex_unlock(&pool.mu);
		send_share();
		pthread_mutex_lock(&pool.mu);
		if (--pool.running == 0)
			pthread_cond_signal(&pool.done);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

/*
 * Start n - 1 helper threads (the loop's thread is the n-th); n 0: one
 * per online core, at most 8.  They block every signal: libev's
 * handlers run on the loop's thread.  Returns 0, or -1 when a thread
 * could not start (the threads started are kept).
 */
int
send_start(int n)
{
	sigset_t	all, old;
	long		cores;
	int		i, rc = 0;

	if (n == 0) {
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		n = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores;
	}
	if (n <= 1)
		return 0;
	if ((pool.tid = calloc((size_t)n - 1, sizeof(*pool.tid))) == NULL)
		return -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n - 1; i++) {
		if (pthread_create(&pool.tid[i], NULL, send_thread, NULL) != 0) {
			LOG_ERR(NULL, "push: send thread %d: cannot start", i + 1);
			rc = -1;
			break;
		}
		pool.nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Threads besides the loop's, 0 when the write phase is the loop's alone. */
int
send_threads(void)
{
	return pool.nthreads;
}

/*
 * Make one gather write for each of jobs[0..n), spread over the
 * threads; returns when all are made, with each job's w and err set.
 */
void
send_run(struct send_job *jobs, size_t n)
{
	pthread_mutex_lock(&pool.mu);
	pool.jobs = jobs;
	pool.njobs = n;
	pool.next = 0;
	pool.running = pool.nthreads;
	pool.gen++;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	send_share();
	pthread_mutex_lock(&pool.mu);
	while (pool.running > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	pool.jobs = NULL;
	pthread_mutex_unlock(&pool.mu);
}

/* Stop and join the threads (at exit). */
void
send_stop(void)
{
	int	i;

	pthread_mutex_lock(&pool.mu);
	pool.stop = 1;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	for (i = 0; i < pool.nthreads; i++)
		pthread_join(pool.tid[i], NULL);
	free(pool.tid);
	pool.tid = NULL;
	pool.nthreads = 0;
	pool.stop = 0;
}
