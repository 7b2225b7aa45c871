/* client_research.c: GET /api/clients/{clientId}/research scores a stored client (0-100) with reasons, red flags and a summary. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define SUMMARY_MAX	2000	/* bytes of an LLM summary kept */

enum stmt {
	STMT_CLIENT,
	STMT_REVIEWS,
	STMT_SETTINGS,
	STMT_USAGE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_CLIENT] = "SELECT c.id, c.name, c.company, c.country,"
	    " c.payment_verified, c.total_spent, c.hire_rate, c.rating,"
	    " c.reviews_count, c.jobs_posted, c.total_hires,"
	    " floor(extract(epoch FROM now() - c.member_since) / 86400)::bigint,"
	    " c.member_since, c.updated_at FROM clients c WHERE c.id = $1::uuid",
	[STMT_REVIEWS] = "SELECT r.rating, r.comment FROM client_reviews r"
	    " WHERE r.client_id = $1::uuid"
	    " ORDER BY r.reviewed_at DESC, r.id DESC LIMIT 10",
	[STMT_SETTINGS] = AI_SETTINGS_SQL,
	[STMT_USAGE] = "INSERT INTO ai_usage (kind, provider, model,"
	    " prompt_tokens, completion_tokens, cost, latency_ms)"
	    " VALUES ('client_research', $1, $2, $3::int, $4::int, $5::numeric,"
	    " $6::int)",
};

static double
num(const PGresult *res, int row, int col, double none)
{
	const char	*v = db_value(res, row, col);

	return v != NULL ? strtod(v, NULL) : none;
}

static void
facts_from(const PGresult *client, const PGresult *reviews,
    struct client_facts *c)
{
	int	i;

	memset(c, 0, sizeof(*c));
	c->name = db_value(client, 0, 1);
	c->company = db_value(client, 0, 2);
	c->country = db_value(client, 0, 3);
	c->payment_verified = *PQgetvalue(client, 0, 4) == 't';
	c->total_spent = num(client, 0, 5, 0);
	c->hire_rate = num(client, 0, 6, -1);
	c->rating = num(client, 0, 7, -1);
	c->reviews_count = (long long)num(client, 0, 8, 0);
	c->jobs_posted = (long long)num(client, 0, 9, 0);
	c->total_hires = (long long)num(client, 0, 10, 0);
	c->age_days = (long long)num(client, 0, 11, -1);
	for (i = 0; i < PQntuples(reviews) && i < RESEARCH_REVIEWS_MAX; i++) {
		c->review_rating[i] = num(reviews, i, 0, -1);
		c->review_comment[i] = PQgetvalue(reviews, i, 1);
		c->nreviews++;
	}
}

/*
 * With the openai provider, ask the model for a short assessment built
 * on the analyzer's findings.  Returns 1 with the text in out, 0 when
 * the builtin summary stays (builtin provider, budget too low, provider
 * failure: research never fails for want of an LLM), -1 after writing
 * an error response (the usage row could not be stored).
 */
static int
enrich(struct req *r, const struct client_facts *c, const struct research *rs,
    const PGresult *set, struct buf *out)
{
	enum llm_provider	 provider;
	struct llm_msg		 m[2];
	struct llm_call		 call;
	struct llm_result	 res;
	struct buf		 b = { 0 };
	const char		*model, *v = db_value(set, 0, 0), *p[6], *rid[1];
	struct db_query		 q[2];
	PGresult		*ins[2];
	char			 reservation[37] = "";
	double			 in, outp, t0 = now_ms(), cost, spent, held;
	enum err		 e;
	size_t			 i;
	int			 rc = 0;

	if (llm_provider_parse(v != NULL ? v : agent_cfg.llm_provider, &provider) == -1 ||
	    provider == LLM_BUILTIN)
		return 0;
	model = db_value(set, 0, 1) != NULL ? db_value(set, 0, 1) : agent_cfg.llm_model;
	if (llm_price(model, &in, &outp) == -1) {
		LOG_ERR(r, "llm: model %s has no price in llm_prices", model);
		return 0;
	}
	buf_printf(&b, "Findings of our analysis:\n%s\nRed flags: %s\n",
	    rs->summary.data, rs->nred_flags ? rs->red_flags.data : "none");
	for (i = 0; i < c->nreviews && i < 3; i++)
		buf_printf(&b, "Recent review: \"%.300s\"\n", c->review_comment[i]);
	buf_puts(&b, "Write two or three sentences for a freelancer deciding "
	    "whether to apply to this client's jobs. Plain text.");
	m[0] = (struct llm_msg){ "system", "You help freelancers judge Upwork "
	    "clients. Be factual and brief; use only the findings given." };
	m[1] = (struct llm_msg){ "user", b.data };
	rid[0] = reservation;
	switch (ai_reserve(r, num(set, 0, 2, agent_cfg.ai_monthly_budget_usd),
	    llm_cost(in, outp, llm_count_prompt(m, 2), 200), reservation,
	    sizeof(reservation), &spent, &held, &e)) {
	case 1:
		break;
	case 0:
		LOG_INFO(r, "research: AI budget too low for a summary; builtin");
		goto out;
	default:
		LOG_WARN(r, "research: no budget reservation; builtin");
		goto out;
	}
	call = (struct llm_call){ model, m, 2, 200, NULL, NULL, NULL };
	if (llm_openai_complete(&call, &res, r) == -1) {
		LOG_WARN(r, "research: summary from the provider failed (%s); "
		    "builtin", res.why);
		llm_result_free(&res);
		ai_release(r, reservation);
		goto out;
	}
	cost = llm_cost(in, outp, res.prompt_tokens, res.completion_tokens);
	p[0] = llm_provider_name(provider);
	p[1] = model;
	p[2] = arena_printf(&r->arena, "%lld", res.prompt_tokens);
	p[3] = arena_printf(&r->arena, "%lld", res.completion_tokens);
	p[4] = arena_printf(&r->arena, "%.6f", cost);
	p[5] = arena_printf(&r->arena, "%.0f", now_ms() - t0);
	q[0] = (struct db_query){ stmts[STMT_USAGE], 6, p };
	q[1] = (struct db_query){ AI_RELEASE_SQL, 1, rid };
	if (db_run(r, q, 2, ins) == -1) {
		ai_release(r, reservation);
		rc = -1;
	} else {
		db_clear(ins, 2);
		buf_append(out, res.text.data, res.text.len < SUMMARY_MAX ?
		    res.text.len : SUMMARY_MAX);
		rc = 1;
	}
	llm_result_free(&res);
out:
	buf_free(&b);
	return rc;
}

/*
 * The research is cached per tenant and client for cache_clients_ttl
 * (an hour): the client's profile changes when the poller refreshes it,
 * which invalidates the tenant's clients namespace, and an LLM summary
 * is paid for at most once per client per TTL.
 */
static void
research(struct req *r)
{
	const char		*params[1] = { r->args[0] };
	struct db_query		 qs[3];
	PGresult		*res[3] = { NULL, NULL, NULL };
	struct client_facts	 c;
	struct research		 rs;
	struct buf		 llm = { 0 };
	struct reply		 rp;
	const char		*v;
	char			*p;
	int			 enriched;

	memset(&rs, 0, sizeof(rs));
	if (!uuid_valid(r->args[0])) {
		valid_fail_field(r, "clientId", "must be a UUID");
		return;
	}
	for (p = r->args[0]; *p != '\0'; p++)	/* one key per client, any case */
		*p = (char)tolower((unsigned char)*p);
	if (reply_cached(&rp, r, CACHE_CLIENTS, r->args[0], 0))
		goto out;
	qs[0] = (struct db_query){ stmts[STMT_CLIENT], 1, params };
	qs[1] = (struct db_query){ stmts[STMT_REVIEWS], 1, params };
	qs[2] = (struct db_query){ stmts[STMT_SETTINGS], 0, NULL };
	if (db_run(r, qs, 3, res) == -1)
		goto out;
	if (PQntuples(res[0]) == 0) {
		http_error(r, ERR_NOT_FOUND, "no client with this id");
		goto out;
	}
	facts_from(res[0], res[1], &c);
	research_analyze(&c, &rs);
	if ((enriched = enrich(r, &c, &rs, res[2], &llm)) == -1)
		goto out;

	jw_object(&rp.w, NULL);
	jw_string(&rp.w, "clientId", PQgetvalue(res[0], 0, 0));
	jw_string(&rp.w, "name", c.name ? c.name : "");
	jw_string(&rp.w, "company", c.company);
	jw_string(&rp.w, "country", c.country);
	jw_int(&rp.w, "score", rs.score);
	jw_string(&rp.w, "verdict", rs.verdict);
	jw_raw(&rp.w, "reasons", rs.reasons.data);
	jw_raw(&rp.w, "redFlags", rs.red_flags.data);
	if (enriched)
		jw_stringn(&rp.w, "summary", llm.data, llm.len);
	else
		jw_stringn(&rp.w, "summary", rs.summary.data, rs.summary.len);
	jw_string(&rp.w, "summarySource", enriched ? "openai" : "builtin");
	jw_object(&rp.w, "facts");
	jw_bool(&rp.w, "paymentVerified", c.payment_verified);
	jw_fixed(&rp.w, "totalSpent", c.total_spent, 2);
	jw_string(&rp.w, "spendTier", rs.spend_tier);
	if ((v = db_value(res[0], 0, 6)) != NULL)
		jw_raw(&rp.w, "hireRate", v);
	else if (c.jobs_posted > 0)
		jw_fixed(&rp.w, "hireRate", 100.0 * (double)c.total_hires /
		    (double)c.jobs_posted, 2);
	else
		jw_null(&rp.w, "hireRate");
	jw_raw(&rp.w, "rating", db_value(res[0], 0, 7));
	jw_int(&rp.w, "reviewsCount", c.reviews_count);
	jw_string(&rp.w, "reviewTone", rs.review_tone);
	jw_int(&rp.w, "recentReviews", (long long)c.nreviews);
	jw_int(&rp.w, "jobsPosted", c.jobs_posted);
	jw_int(&rp.w, "totalHires", c.total_hires);
	if (c.age_days >= 0)
		jw_int(&rp.w, "accountAgeDays", c.age_days);
	else
		jw_null(&rp.w, "accountAgeDays");
	shape_time(&rp.w, "memberSince", db_value(res[0], 0, 12));
	shape_time(&rp.w, "profileUpdatedAt", db_value(res[0], 0, 13));
	reply_send(&rp, 200);
out:
	reply_free(&rp);
	buf_free(&llm);
	research_free(&rs);
	db_clear(res, 3);
}

static const struct route routes[] = {
	{ "/api/clients/{clientId}/research", METHOD_GET, research, 0,
	    RL_DEFAULT, NULL },
};

int
main(void)
{
	int	rc;

	rc = agent_main("client-research", routes, nitems(routes), NULL);
	llm_openai_cleanup();
	return rc;
}
