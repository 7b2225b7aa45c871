/* usage-report.c: cron binary: each tenant's AI usage and cost for one month (UTC), as a text table or one JSON document on stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

/* Costs are summed in millionths of a dollar: exact, whatever the rows. */
static const char usage_sql[] =
    "SELECT kind, provider, model, count(*), sum(prompt_tokens)::bigint,"
    " sum(completion_tokens)::bigint, sum(round(cost * 1000000))::bigint"
    " FROM ai_usage WHERE created_at >= $1::timestamptz"
    " AND created_at < $1::timestamptz + interval '1 month'"
    " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

static int	year, month, json;

enum { OPT_MONTH = 256, OPT_FORMAT };

static const struct option options[] = {
	{ "month", required_argument, NULL, OPT_MONTH },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ NULL, 0, NULL, 0 },
};

/* --month YYYY-MM, current or last; --format text or json. */
static int
on_opt(int ch, const char *arg)
{
	struct tm	tm;
	time_t		now = time(NULL);

	if (ch == OPT_FORMAT) {
		if (strcmp(arg, "json") != 0 && strcmp(arg, "text") != 0)
			return -1;
		json = strcmp(arg, "json") == 0;
		return 0;
	}
	gmtime_r(&now, &tm);
	if (strcmp(arg, "current") == 0 || strcmp(arg, "last") == 0) {
		year = tm.tm_year + 1900;
		month = tm.tm_mon + 1;
		if (strcmp(arg, "last") == 0 && --month == 0) {
			month = 12;
			year--;
		}
		return 0;
	}
	if (strlen(arg) != 7 || arg[4] != '-' ||
	    sscanf(arg, "%4d-%2d", &year, &month) != 2 || year < 2000 ||
	    year > 9999 || month < 1 || month > 12)
		return -1;
	return 0;
}

struct sums {
	long long	calls, prompt, completion, micros;
};

static void
add(struct sums *s, const PGresult *res, int row)
{
	s->calls += strtoll(PQgetvalue(res, row, 3), NULL, 10);
	s->prompt += strtoll(PQgetvalue(res, row, 4), NULL, 10);
	s->completion += strtoll(PQgetvalue(res, row, 5), NULL, 10);
	s->micros += strtoll(PQgetvalue(res, row, 6), NULL, 10);
}

/* The sums' members, in the open object: costs exact, from millionths. */
static void
json_sums(struct jw *w, const struct sums *s)
{
	jw_int(w, "calls", s->calls);
	jw_int(w, "promptTokens", s->prompt);
	jw_int(w, "completionTokens", s->completion);
	jw_int(w, "totalTokens", s->prompt + s->completion);
	buf_printf(jw_value(w, "costUsd"), "%lld.%06lld", s->micros / 1000000,
	    s->micros % 1000000);
}

static void
text_sums(struct buf *b, const char *label, const struct sums *s)
{
	buf_printf(b, "%-40.40s %8lld %12lld %12lld %10lld.%06lld\n", label,
	    s->calls, s->prompt, s->completion, s->micros / 1000000,
	    s->micros % 1000000);
}

/*
 * One tenant's part of the report, its total first, then one line per
 * kind, provider and model: into w (JSON) or out (text).  Returns 0 or
 * -1.
 */
static int
report_tenant(struct cron *c, const char *tenant, const char *since,
    struct jw *w, struct buf *out, struct sums *total)
{
	const char	*params[1] = { since };
	struct db_query	 q = { usage_sql, 1, params };
	PGresult	*res;
	struct sums	 t = { 0 }, one;
	char		 label[200];
	int		 i;

	if (db_run_as(&c->db, tenant, NULL, &q, 1, &res, NULL) == -1) {
		LOG_ERR(NULL, "usage-report: tenant %s: the usage could not be read",
		    tenant);
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++)
		add(&t, res, i);
	if (json) {
		jw_object(w, NULL);
		jw_string(w, "tenant", tenant);
		json_sums(w, &t);
		jw_array(w, "byModel");
	} else
		text_sums(out, tenant, &t);
	for (i = 0; i < PQntuples(res); i++) {
		memset(&one, 0, sizeof(one));
		add(&one, res, i);
		if (json) {
			jw_object(w, NULL);
			jw_string(w, "kind", PQgetvalue(res, i, 0));
			jw_string(w, "provider", PQgetvalue(res, i, 1));
			jw_string(w, "model", PQgetvalue(res, i, 2));
			json_sums(w, &one);
			jw_end(w);
		} else {
			snprintf(label, sizeof(label), "  %s %s/%s",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 2));
			text_sums(out, label, &one);
		}
	}
	if (json) {
		jw_end(w);
		jw_end(w);
	}
	PQclear(res);
	total->calls += t.calls;
	total->prompt += t.prompt;
	total->completion += t.completion;
	total->micros += t.micros;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct cron	 c;
	struct sums	 total = { 0 };
	struct buf	 out = { 0 };
	struct jw	 w;
	char		 since[32], until[32], label[64], **ids = NULL;
	size_t		 n = 0, i;
	int		 failed = 0, rc;

	(void)on_opt(OPT_MONTH, "current");
	if (agent_cron_init(&c, "usage-report", argc, argv, options, on_opt,
	    "[--month YYYY-MM|current|last] [--format text|json]") == -1)
		return c.status;
	snprintf(since, sizeof(since), "%04d-%02d-01T00:00:00Z", year, month);
	snprintf(until, sizeof(until), "%04d-%02d-01T00:00:00Z",
	    month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1);
	if ((rc = cron_lock(&c)) != 1)
		return cron_done(&c, rc == 0 ? CRON_OK : CRON_FAILED);
	if (cron_tenants(&c, "usage", since, &ids, &n) == -1)
		return cron_done(&c, CRON_FAILED);
	jw_init(&w, &out);
	if (json) {
		snprintf(label, sizeof(label), "%04d-%02d", year, month);
		jw_object(&w, NULL);
		jw_string(&w, "month", label);
		jw_string(&w, "from", since);
		jw_string(&w, "to", until);
		jw_array(&w, "tenants");
	} else
		buf_printf(&out, "AI usage %04d-%02d (UTC, %s to %s)\n"
		    "%-40s %8s %12s %12s %17s\n", year, month, since, until,
		    "tenant", "calls", "prompt", "completion", "cost USD");
	for (i = 0; i < n && cron_go_on(&c); i++) {
		log_progress("usage-report: tenant %zu/%zu", i + 1, n);
		if (report_tenant(&c, ids[i], since, &w, &out, &total) == -1)
			failed++;
	}
	if (json) {
		jw_end(&w);
		jw_object(&w, "total");
		jw_int(&w, "tenants", (long long)n);
		json_sums(&w, &total);
		jw_close(&w);
		buf_putc(&out, '\n');
	} else {
		snprintf(label, sizeof(label), "total (%zu tenants)", n);
		text_sums(&out, label, &total);
	}
	/* A report cut short is no report: print only a complete one. */
	if (!failed && i == n)
		fwrite(out.data, 1, out.len, stdout);
	else
		failed++;
	LOG_INFO(NULL, "usage-report: %04d-%02d: %zu tenants, %lld calls, %.0f ms",
	    year, month, n, total.calls, now_ms() - c.t0);
	buf_free(&out);
	cron_tenants_free(ids, n);
	return cron_done(&c, failed ? CRON_FAILED : CRON_OK);
}
