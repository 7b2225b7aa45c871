/* poll-jobs.c: cron binary: for every tenant with a connected Upwork account and saved searches with notify on, fetch new jobs, store them and announce job:new. */
#include <stdio.h>
#include <string.h>

#include "agent.h"

/*
 * Each tenant in turn, least recently polled first (poll.c does the
 * work, under the tenant's RLS context), each within its own slice of
 * the run (poll_tenant_max_ms): a tenant with many searches cannot keep
 * the others waiting, and what it did not reach comes first next time.  A tenant whose authorization Upwork refused is marked
 * disconnected and skipped: that is the user's doing, not a failure of
 * the run.  Anything else that fails a tenant makes the exit status 1,
 * after the other tenants had their turn.
 */
int
main(int argc, char *argv[])
{
	struct cron		 c;
	struct upwork		 up;
	struct poll_stats	 st, total = { 0 };
	struct upwork_err	 e;
	char			**ids = NULL;
	size_t			 n = 0, i;
	int			 failed = 0, disconnected = 0, rc;

	if (agent_cron_init(&c, "poll-jobs", argc, argv, NULL, NULL, NULL) == -1)
		return c.status;
	if ((rc = cron_lock(&c)) != 1)
		return cron_done(&c, rc == 0 ? CRON_OK : CRON_FAILED);
	if (upwork_init(&up, &c.redis) == -1 ||
	    cron_tenants(&c, "poll", NULL, &ids, &n) == -1) {
		upwork_free(&up);
		return cron_done(&c, CRON_FAILED);
	}
	for (i = 0; i < n && cron_go_on(&c); i++) {
		up.deadline = now_ms() + agent_cfg.poll_tenant_max_ms;
		if (up.deadline > c.deadline)
			up.deadline = c.deadline;
		log_progress("poll-jobs: tenant %zu/%zu (%s): %u new jobs so far",
		    i + 1, n, ids[i], total.inserted);
		memset(&st, 0, sizeof(st));
		rc = poll_tenant(&up, &c.db, &c.redis, ids[i], c.dry_run, &st, &e);
		total.searches += st.searches;
		total.pages += st.pages;
		total.fetched += st.fetched;
		total.inserted += st.inserted;
		total.updated += st.updated;
		total.published += st.published;
		if (rc == 0)
			LOG_INFO(NULL, "poll-jobs: tenant %s: %u searches, %u pages, "
			    "%u jobs fetched, %u new%s, %u updated, %u announced",
			    ids[i], st.searches, st.pages, st.fetched, st.inserted,
			    c.dry_run ? " (dry run: not stored)" : "", st.updated,
			    st.published);
		else if (e.fail == UPW_NOT_CONNECTED) {
			LOG_WARN(NULL, "poll-jobs: tenant %s: %s", ids[i], e.msg);
			disconnected++;
		} else if (e.fail == UPW_BUDGET && !cron_go_on(&c))
			break;	/* out of time: said by cron_go_on() */
		else if (e.fail == UPW_BUDGET &&
		    now_ms() + (double)e.retry_after_ms >= up.deadline)
			/* Out of its slice, or its next slot would be. */
			LOG_INFO(NULL, "poll-jobs: tenant %s used its share of the "
			    "run (%s); the rest comes first next time", ids[i],
			    e.msg);
		else {
			LOG_ERR(NULL, "poll-jobs: tenant %s failed: %s", ids[i], e.msg);
			failed++;
		}
	}
	LOG_INFO(NULL, "poll-jobs: %zu of %zu tenants polled, %u searches, "
	    "%u pages, %u new jobs, %u updated, %u announced, %lu Upwork "
	    "requests, %d failed, %d disconnected, %.0f ms", i, n, total.searches,
	    total.pages, total.inserted, total.updated, total.published,
	    up.requests, failed, disconnected, now_ms() - c.t0);
	cron_tenants_free(ids, n);
	upwork_free(&up);
	return cron_done(&c, failed ? CRON_FAILED : CRON_OK);
}
