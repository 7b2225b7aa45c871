/* proposal.c: proposal generation shared by the generate and stream endpoints: input, context, budget, prompt, provider call, storage. */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"

#define BUILTIN_MODEL		"builtin-1"
#define PROMPT_DESC_MAX		6000	/* bytes of the description sent */
#define ALT_MARK		"\n==="	/* an alternative's header line starts with === */

enum { PF_JOB, PF_TONE, PF_MAXWORDS, PF_HIGHLIGHTS, PF_ALTERNATIVES, PF_TEMPLATE };
const struct field proposal_fields[] = {
	[PF_JOB] = { FIELD("jobId", FT_UUID, struct proposal_input, job_id),
	    .flags = F_REQUIRED },
	/* Absent: the profile's preferred tone, else professional. */
	[PF_TONE] = { FIELD("tone", FT_ENUM, struct proposal_input, tone),
	    .choices = tone_names, .def = "professional" },
	[PF_MAXWORDS] = { FIELD("maxWords", FT_INT, struct proposal_input,
	    max_words), .min = 50, .max = 1000, .def = "250" },
	[PF_HIGHLIGHTS] = { FIELD("highlights", FT_STRLIST,
	    struct proposal_input, highlights), .flags = F_NULLABLE, .max = 5,
	    .item_max = 200 },
	[PF_ALTERNATIVES] = { FIELD("alternatives", FT_INT,
	    struct proposal_input, alternatives), .max = PROPOSAL_ALT_MAX,
	    .def = "2" },
	[PF_TEMPLATE] = { FIELD("templateId", FT_UUID, struct proposal_input,
	    template_id), .flags = F_NULLABLE },
};
const size_t proposal_nfields = nitems(proposal_fields);

/*
 * The tenant's AI settings and what it spent this calendar month (UTC):
 * one row of ai_spend, which a trigger keeps equal to the month's sum of
 * ai_usage, so the check costs the same for a tenant's millionth call.
 */
const char AI_SETTINGS_SQL[] = "SELECT t.ai_provider, t.ai_model,"
    " t.ai_monthly_budget_usd, coalesce((SELECT s.cost FROM ai_spend s"
    " WHERE s.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0)"
    " FROM (SELECT 1) one LEFT JOIN tenants t ON t.id = app_tenant()";

enum stmt {
	STMT_SETTINGS,
	STMT_JOB,
	STMT_TEMPLATE,
	STMT_ENSURE_USER,
	STMT_STORE,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_SETTINGS] = AI_SETTINGS_SQL,
	[STMT_JOB] = "SELECT j.id, j.title, j.description,"
	    " array_to_json(j.skills), j.budget_type, j.budget_min, j.budget_max,"
	    " j.currency, j.experience_level, c.name, c.country, c.rating,"
	    " c.reviews_count, c.payment_verified"
	    " FROM jobs j LEFT JOIN clients c"
	    " ON c.tenant_id = j.tenant_id AND c.id = j.client_id"
	    " WHERE j.id = $1::uuid",
	/* The caller's own template: another user's, like another tenant's, is not found. */
	[STMT_TEMPLATE] = "SELECT t.content FROM proposal_templates t"
	    " WHERE t.id = $1::uuid AND t.user_id = app_user()",
	[STMT_ENSURE_USER] = "INSERT INTO users DEFAULT VALUES"
	    " ON CONFLICT (tenant_id, id) DO NOTHING",
	/* The draft and its usage row: one statement, so one transaction. */
	[STMT_STORE] = "WITH p AS (INSERT INTO proposals (job_id, status,"
	    " content, alternatives, suggestions, tone, provider, model,"
	    " max_words, highlights, template_id) VALUES ($1::uuid, $2, $3,"
	    " $4::jsonb, $5::jsonb, $6, $7, $8, $9::int, $10::text[], $15::uuid)"
	    " RETURNING id, created_at),"
	    " u AS (INSERT INTO ai_usage (kind, proposal_id, provider, model,"
	    " prompt_tokens, completion_tokens, cost, latency_ms)"
	    " SELECT 'proposal_generation', p.id, $7, $8, $11::int, $12::int,"
	    " $13::numeric, $14::int FROM p RETURNING id)"
	    " SELECT p.id, p.created_at, (SELECT count(*) FROM u) FROM p",
};

static const char *
dup(struct arena *a, const char *s)
{
	return s != NULL ? arena_strdup(a, s) : NULL;
}

static double
num(const PGresult *res, int col, double none)
{
	const char	*v = db_value(res, 0, col);

	return v != NULL ? strtod(v, NULL) : none;
}

static void
job_from_row(struct arena *a, const PGresult *res, struct job_brief *j)
{
	json_object	*skills, *item;
	const char	*why, *v = PQgetvalue(res, 0, 3);
	size_t		 i, n;

	memset(j, 0, sizeof(*j));
	j->id = dup(a, db_value(res, 0, 0));
	j->title = dup(a, db_value(res, 0, 1));
	j->description = dup(a, db_value(res, 0, 2));
	j->budget_type = dup(a, db_value(res, 0, 4));
	j->budget_min = num(res, 5, -1);
	j->budget_max = num(res, 6, -1);
	j->currency = dup(a, db_value(res, 0, 7));
	j->experience_level = dup(a, db_value(res, 0, 8));
	j->client_name = dup(a, db_value(res, 0, 9));
	j->client_country = dup(a, db_value(res, 0, 10));
	j->client_rating = num(res, 11, -1);
	j->client_reviews = (int)num(res, 12, 0);
	j->client_verified = db_value(res, 0, 13) != NULL &&
	    *db_value(res, 0, 13) == 't';
	if ((skills = json_parse_strict(v, strlen(v), 4, &why)) == NULL)
		return;
	n = json_object_array_length(skills);
	j->skills.v = arena_alloc(a, (n ? n : 1) * sizeof(char *));
	for (i = 0; i < n; i++)
		if (json_object_is_type(item = json_object_array_get_idx(skills, i),
		    json_type_string))
			j->skills.v[j->skills.n++] = arena_strdup(a,
			    json_object_get_string(item));
	json_object_put(skills);
}

/* The alternatives' tones: the tones after the one asked for, in order. */
static int
alt_tone(const struct proposal_gen *g, size_t i)
{
	return (g->in.tone + 1 + (int)i) % TONE__MAX;
}

static void
put_field(struct buf *b, const char *label, const char *v)
{
	if (v != NULL && *v != '\0')
		buf_printf(b, "%s: %s\n", label, v);
}

static void
put_skills(struct buf *b, const char *label, char *const *v, size_t n)
{
	size_t	i;

	if (n == 0)
		return;
	buf_printf(b, "%s: ", label);
	for (i = 0; i < n; i++)
		buf_printf(b, "%s%s", i ? ", " : "", v[i]);
	buf_putc(b, '\n');
}

/* The chat prompt: the same for every provider, so that token counts compare. */
static void
build_prompt(struct req *r, struct proposal_gen *g)
{
	const struct job_brief	*j = &g->ctx.job;
	const struct profile	*p = &g->ctx.profile;
	struct skill_match	 m, missing;
	struct buf		 b = { 0 };
	size_t			 dlen = strlen(j->description), i;
	int			 k;

	while (dlen > PROMPT_DESC_MAX)		/* cut on a character boundary */
		for (dlen = PROMPT_DESC_MAX; dlen > 0 &&
		    ((unsigned char)j->description[dlen] & 0xc0) == 0x80; dlen--)
			continue;
	skills_match(j, p, &m, &missing);
	buf_puts(&b, "Write a proposal for this Upwork job.\n\n");
	put_field(&b, "Job title", j->title);
	buf_printf(&b, "Job description:\n\"\"\"\n%.*s\n\"\"\"\n", (int)dlen,
	    j->description);
	put_skills(&b, "Required skills", j->skills.v, j->skills.n);
	if (j->budget_min >= 0)
		buf_printf(&b, "Budget: %s, %.2f to %.2f %s\n", j->budget_type,
		    j->budget_min, j->budget_max >= 0 ? j->budget_max :
		    j->budget_min, j->currency ? j->currency : "USD");
	put_field(&b, "Experience level", j->experience_level);
	if (j->client_name != NULL) {
		buf_printf(&b, "Client: %s", j->client_name);
		if (j->client_country != NULL)
			buf_printf(&b, ", %s", j->client_country);
		if (j->client_rating >= 0)
			buf_printf(&b, ", rated %.1f from %d reviews",
			    j->client_rating, j->client_reviews);
		buf_printf(&b, ", payment %sverified\n",
		    j->client_verified ? "" : "not ");
	}
	buf_puts(&b, "\nFreelancer profile:\n");
	put_field(&b, "Name", p->name);
	put_field(&b, "Title", p->title);
	put_skills(&b, "Skills", p->skills.v, p->skills.n);
	if (p->hourly_rate >= 0)
		buf_printf(&b, "Hourly rate: %.2f USD\n", p->hourly_rate);
	put_field(&b, "Bio", p->bio);
	if ((k = portfolio_pick(j, p)) != -1) {
		buf_printf(&b, "Portfolio project closest to the job: %s",
		    p->portfolio[k].title);
		if (p->portfolio[k].description != NULL)
			buf_printf(&b, " - %s", p->portfolio[k].description);
		if (p->portfolio[k].url != NULL)
			buf_printf(&b, " (%s)", p->portfolio[k].url);
		buf_putc(&b, '\n');
	}
	put_skills(&b, "Skills that match the job", (char *const *)m.v, m.n);
	put_skills(&b, "Points to mention", g->in.highlights.v,
	    g->in.highlights.n);
	buf_printf(&b, "\nTone: %s.\nLength: at most %lld words.\n",
	    tone_names[g->in.tone], g->in.max_words);
	if (g->ctx.template != NULL) {
		buf_puts(&b, "Structure and voice: follow the freelancer's own "
		    "template below (its placeholders are filled in already): keep "
		    "its order, its wording where it fits the job, and its voice; "
		    "adapt the rest to the job.\nTemplate:\n\"\"\"\n");
		llm_builtin_template(&b, g->ctx.template, j, p, 0);
		buf_puts(&b, "\n\"\"\"\n");
	} else
		buf_puts(&b, "Structure: open with the client's need, then relevant "
		    "experience from the profile, your approach, a timeline and a "
		    "rate or price within the client's budget, and end with one "
		    "question for the client. Sign with the freelancer's name.\n");
	if (g->in.alternatives > 0) {
		buf_printf(&b, "After the proposal, write %lld alternative "
		    "version(s) of it, each after a header line of its own, "
		    "exactly:\n", g->in.alternatives);
		for (i = 0; i < (size_t)g->in.alternatives; i++)
			buf_printf(&b, "=== ALTERNATIVE: %s ===\n",
			    tone_names[alt_tone(g, i)]);
	}
	buf_puts(&b, "Output only the text of the proposal");
	buf_puts(&b, g->in.alternatives > 0 ? "s.\n" : ".\n");
	g->ctx.msgs[0].role = "system";
	g->ctx.msgs[0].content = "You write Upwork proposals for a freelancer, in the "
	    "first person, as the freelancer. Plain text, no markdown. Be "
	    "specific to the job and never claim experience the profile does "
	    "not support.";
	g->ctx.msgs[1].role = "user";
	g->ctx.msgs[1].content = arena_strndup(&r->arena, b.data, b.len);
	buf_free(&b);
}

/* An amount of USD as a JSON number with the database's six decimals. */
static json_object *
money(struct req *r, double v)
{
	return json_object_new_double_s(v, arena_printf(&r->arena, "%.6f", v));
}

/*
 * The caller's template named by templateId into g->ctx.template; -1 after
 * the error response (404 for another user's or tenant's).
 */
static int
template_load(struct req *r, struct proposal_gen *g)
{
	const char	*params[1] = { g->in.template_id };
	struct db_query	 q = { stmts[STMT_TEMPLATE], 1, params };
	PGresult	*res;

	if (db_run(r, &q, 1, &res) == -1)
		return -1;
	if (PQntuples(res) == 0) {
		http_error(r, ERR_NOT_FOUND, "no template with this id");
		PQclear(res);
		return -1;
	}
	g->ctx.template = arena_strdup(&r->arena, PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/*
 * Validate the body, load the context in one round trip, pick the
 * provider and refuse with 402 a call that the month's budget cannot
 * pay for, at its worst case (every allowed completion token).
 * Returns -1 after writing the error response.
 */
int
proposal_prepare(struct req *r, struct proposal_gen *g)
{
	const char	*params[1], *v;
	struct db_query	 qs[3];
	PGresult	*res[3];
	uint64_t	 set;
	double		 estimate, held;
	json_object	*extra;
	enum err	 e;
	int		 rc = -1;

	memset(g, 0, sizeof(*g));
	g->t0 = now_ms();
	if (valid_json(r, proposal_fields, proposal_nfields, &g->in, &set) == -1)
		return -1;
	params[0] = g->in.job_id;
	qs[0] = (struct db_query){ stmts[STMT_SETTINGS], 0, NULL };
	qs[1] = (struct db_query){ stmts[STMT_JOB], 1, params };
	qs[2] = (struct db_query){ PROFILE_SQL, 0, NULL };
	if (db_run(r, qs, 3, res) == -1)
		return -1;
	if (PQntuples(res[1]) == 0) {
		http_error(r, ERR_NOT_FOUND, "no job with this id");
		goto out;
	}
	job_from_row(&r->arena, res[1], &g->ctx.job);
	profile_from_row(&r->arena, res[2], 0, &g->ctx.profile);
	if (!FIELD_SET(set, PF_TONE) && g->ctx.profile.tone >= 0)
		g->in.tone = g->ctx.profile.tone;
	if (g->in.template_id != NULL && template_load(r, g) == -1)
		goto out;

	v = db_value(res[0], 0, 0);
	if (llm_provider_parse(v != NULL ? v : agent_cfg.llm_provider, &g->ctx.provider) == -1)
		g->ctx.provider = LLM_BUILTIN;
	if (g->ctx.provider == LLM_BUILTIN)
		g->ctx.model = BUILTIN_MODEL;
	else if (llm_price(g->ctx.model = dup(&r->arena, db_value(res[0], 0, 1) ?
	    db_value(res[0], 0, 1) : agent_cfg.llm_model), &g->ctx.price_in,
	    &g->ctx.price_out) == -1) {
		LOG_ERR(r, "llm: model %s has no price in llm_prices", g->ctx.model);
		http_error(r, ERR_INTERNAL, "the AI model has no price configured");
		goto out;
	}
	g->ctx.budget = num(res[0], 2, agent_cfg.ai_monthly_budget_usd);
	g->ctx.spent = num(res[0], 3, 0);
	build_prompt(r, g);
	g->ctx.max_tokens = g->in.max_words * (1 + g->in.alternatives) * 2 + 100;
	estimate = llm_cost(g->ctx.price_in, g->ctx.price_out,
	    llm_count_prompt(g->ctx.msgs, 2), g->ctx.max_tokens);
	held = 0;
	if (g->ctx.spent < g->ctx.budget && estimate <= 0)
		goto reserved;		/* free (builtin): nothing to hold */
	if (g->ctx.spent < g->ctx.budget) {
		switch (ai_reserve(r, g->ctx.budget, estimate, g->ctx.reservation,
		    sizeof(g->ctx.reservation), &g->ctx.spent, &held, &e)) {
		case -1:
			http_error(r, e, e == ERR_UNAVAILABLE ?
			    "the database is unavailable" : NULL);
			goto out;
		case 0:
			break;
		default:
			goto reserved;
		}
	}
	extra = json_object_new_object();
	json_object_object_add(extra, "details", json_object_new_string(
	    g->ctx.spent >= g->ctx.budget ? "this month's AI budget is spent" :
	    "this request could cost more than the budget has left"));
	json_object_object_add(extra, "budgetUsd", money(r, g->ctx.budget));
	json_object_object_add(extra, "spentUsd", money(r, g->ctx.spent));
	json_object_object_add(extra, "reservedUsd", money(r, held));
	json_object_object_add(extra, "estimatedCostUsd", money(r, estimate));
	http_error_obj(r, ERR_BUDGET_EXHAUSTED, NULL, extra);
	goto out;
reserved:
	rc = 0;
out:
	db_clear(res, 3);
	return rc;
}

/* Where the proposal ends in the provider's text: before the first "===" line. */
static size_t
main_end(const char *s, size_t n, int *found)
{
	const char	*m;

	*found = 1;
	if (n >= 3 && memcmp(s, "===", 3) == 0)
		return 0;
	if ((m = memmem(s, n, ALT_MARK, strlen(ALT_MARK))) != NULL)
		return (size_t)(m - s);
	*found = 0;
	return n;
}

/*
 * Streaming from the provider: pass on the proposal's text as it comes,
 * holding back a possible start of the alternatives' header ("\n==")
 * until the next piece shows what it is, and nothing after it.  final:
 * the stream has ended, nothing is held back.  The pieces put together
 * are exactly the stored proposal.
 */
static int
forward_text(struct proposal_gen *g, int final)
{
	const char	*t = g->out.res.text.data;
	size_t		 len = g->out.res.text.len, end, k;
	int		 found;

	if (g->stream.main_done || t == NULL)
		return 0;
	end = main_end(t, len, &found);
	for (k = strlen(ALT_MARK) - 1; !found && !final && k > 0; k--) {
		if (len >= k && memcmp(t + len - k, ALT_MARK, k) == 0) {
			end = len - k;
			break;
		}
		if (len == k - 1 && memcmp(t, "===", len) == 0) {
			end = 0;
			break;
		}
	}
	/* Whitespace that may end the proposal waits, as split_text() trims it. */
	while (end > 0 && isspace((unsigned char)t[end - 1]))
		end--;
	if ((k = g->stream.forwarded) == 0)
		while (k < end && isspace((unsigned char)t[k]))
			k++;
	g->stream.main_done = found || final;
	if (end <= k)
		return 0;
	g->stream.forwarded = end;
	return g->stream.on_delta(g->stream.arg, t + k, end - k);
}

/* llm_delta_fn: the whole text so far is in g->out.res.text already. */
static int
forward(void *arg, const char *s, size_t n)
{
	(void)s, (void)n;
	return forward_text(arg, 0);
}

static int
tick(void *arg)
{
	struct proposal_gen	*g = arg;

	return g->stream.on_tick != NULL ? g->stream.on_tick(g->stream.arg) : 0;
}

static void
trimmed(struct buf *out, const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s))
		s++, n--;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	buf_append(out, s, n);
}

/* Split the provider's text into the proposal and up to in.alternatives alternatives. */
static void
split_text(struct proposal_gen *g)
{
	const char	*t = g->out.res.text.data ? g->out.res.text.data : "", *sec, *nl;
	size_t		 n = g->out.res.text.len, end, i;
	int		 found, k;

	end = main_end(t, n, &found);
	trimmed(&g->out.text, t, end);
	sec = t + end + (found && end > 0);
	while (found && g->out.nalt < (size_t)g->in.alternatives &&
	    (nl = memchr(sec, '\n', (size_t)(t + n - sec))) != NULL) {
		i = g->out.nalt;
		g->out.alt_tone[i] = alt_tone(g, i);
		for (k = 0; k < TONE__MAX; k++)
			if (memmem(sec, (size_t)(nl - sec), tone_names[k],
			    strlen(tone_names[k])) != NULL)
				g->out.alt_tone[i] = k;
		sec = nl + 1;
		end = main_end(sec, (size_t)(t + n - sec), &found);
		trimmed(&g->out.alt[i], sec, end);
		if (g->out.alt[i].len > 0)
			g->out.nalt++;
		sec += end + (found && end > 0);
	}
	if (g->out.text.data == NULL)
		buf_puts(&g->out.text, "");
}

/*
 * The builtin provider streams its text in pieces of a few words, as a
 * model would, llm_builtin_pace_ms apart (the demo's pace; 0 in tests).
 */
static void
builtin_stream(struct proposal_gen *g)
{
	const char	*t = g->out.text.data;
	size_t		 i = 0, words;

	while (i < g->out.text.len) {
		for (words = 0; i < g->out.text.len && words < 4; i++)
			if (isspace((unsigned char)t[i]) && i + 1 < g->out.text.len &&
			    !isspace((unsigned char)t[i + 1]))
				words++;
		if (g->stream.on_delta(g->stream.arg, t + g->stream.forwarded, i - g->stream.forwarded) == -1) {
			g->out.incomplete = 1;
			return;
		}
		g->stream.forwarded = i;
		if (agent_cfg.llm_builtin_pace_ms > 0 && i < g->out.text.len)
			sleep_ms(agent_cfg.llm_builtin_pace_ms);
	}
}

/* A generation in the counters: the call, its tokens and cost, by provider. */
static void
count_generation(const struct proposal_gen *g, int failed)
{
	int	p = g->ctx.provider == LLM_OPENAI ? 1 : 0;

	metrics_count(AM_LLM_CALLS + 2 * p + failed, 1);
	if (failed)
		return;
	metrics_count(AM_LLM_TOKENS + 2 * p, (uint64_t)(g->out.res.prompt_tokens > 0 ?
	    g->out.res.prompt_tokens : 0));
	metrics_count(AM_LLM_TOKENS + 2 * p + 1, (uint64_t)(g->out.res.completion_tokens > 0 ?
	    g->out.res.completion_tokens : 0));
	metrics_count(AM_LLM_COST + p, (uint64_t)(g->out.cost * 1e6 + 0.5));
}

/*
 * Generate: the builtin writer or the provider, streamed through
 * on_delta when it is set.  Returns 0 with the proposal in g (and
 * g->out.incomplete when on_delta or on_tick stopped it), or -1 when the
 * provider failed (g->out.res.err and why); no response is written here.
 */
int
proposal_run(struct req *r, struct proposal_gen *g, llm_delta_fn on_delta,
    llm_tick_fn on_tick, void *arg)
{
	struct llm_call	c;
	struct buf	all = { 0 };
	size_t		i;

	g->stream.on_delta = on_delta;
	g->stream.on_tick = on_tick;
	g->stream.arg = arg;
	if (g->ctx.provider == LLM_BUILTIN) {
		if (g->ctx.template != NULL)
			llm_builtin_template(&g->out.text, g->ctx.template, &g->ctx.job,
			    &g->ctx.profile, g->in.max_words);
		else
			llm_builtin_write(&g->out.text, &g->ctx.job, &g->ctx.profile,
			    g->in.tone, g->in.max_words, &g->in.highlights);
		if (on_delta != NULL)
			builtin_stream(g);
		buf_append(&all, g->out.text.data, g->out.incomplete ? g->stream.forwarded :
		    g->out.text.len);
		for (i = 0; !g->out.incomplete && i < (size_t)g->in.alternatives; i++) {
			g->out.alt_tone[i] = alt_tone(g, i);
			llm_builtin_write(&g->out.alt[i], &g->ctx.job, &g->ctx.profile,
			    g->out.alt_tone[i], g->in.max_words, &g->in.highlights);
			buf_printf(&all, "\n=== ALTERNATIVE: %s ===\n%s",
			    tone_names[g->out.alt_tone[i]], g->out.alt[i].data);
			g->out.nalt++;
		}
		g->out.res.prompt_tokens = llm_count_prompt(g->ctx.msgs, 2);
		g->out.res.completion_tokens = llm_count_tokens(all.data, all.len);
		buf_free(&all);
	} else {
		c = (struct llm_call){ g->ctx.model, g->ctx.msgs, 2, g->ctx.max_tokens,
		    on_delta != NULL ? forward : NULL, tick, g };
		if (llm_openai_complete(&c, &g->out.res, r) == -1 && !g->out.res.aborted) {
			count_generation(g, 1);
			return -1;
		}
		g->out.incomplete = g->out.res.aborted;
		split_text(g);
		if (g->out.incomplete)
			for (i = 0; i < g->out.nalt; i++)
				buf_free(&g->out.alt[i]);
		if (g->out.incomplete)
			g->out.nalt = 0;
		else if (on_delta != NULL)
			(void)forward_text(g, 1);	/* a late failure shows at "done" */
	}
	if (g->out.incomplete && g->ctx.provider == LLM_BUILTIN)
		g->out.text.data[g->out.text.len = g->stream.forwarded] = '\0';
	llm_builtin_suggest(&g->out.suggestions, &g->ctx.job, &g->ctx.profile,
	    g->out.text.data, g->in.max_words);
	g->out.cost = llm_cost(g->ctx.price_in, g->ctx.price_out, g->out.res.prompt_tokens,
	    g->out.res.completion_tokens);
	g->out.latency_ms = now_ms() - g->t0;
	count_generation(g, 0);
	return 0;
}

/* The alternatives as stored and answered: [{"tone":...,"text":...}, ...]. */
static void
alternatives_json(struct jw *w, const char *key, const struct proposal_gen *g)
{
	size_t	i;

	jw_array(w, key);
	for (i = 0; i < g->out.nalt; i++) {
		jw_object(w, NULL);
		jw_string(w, "tone", tone_names[g->out.alt_tone[i]]);
		jw_stringn(w, "text", g->out.alt[i].data, g->out.alt[i].len);
		jw_end(w);
	}
	jw_end(w);
}

static long long
clamp_int(long long v)
{
	return v < 0 ? 0 : v > INT_MAX ? INT_MAX : v;
}

/*
 * Store the draft (status incomplete when g->out.incomplete) and its usage
 * row in one statement, hence one transaction: both or neither.
 * Returns -1 with *e set; the caller answers.
 */
int
proposal_store(struct req *r, struct proposal_gen *g, enum err *e)
{
	struct buf	 alts = { 0 };
	struct jw	 w;
	const char	*p[15], *rid[1] = { g->ctx.reservation };
	struct db_query	 qs[3];
	PGresult	*res[3];
	size_t		 n = 2;
	int		 rc;

	jw_init(&w, &alts);
	alternatives_json(&w, NULL, g);
	p[0] = g->ctx.job.id;
	p[1] = g->out.incomplete ? "incomplete" : "draft";
	p[2] = g->out.text.data;
	p[3] = alts.data;
	p[4] = g->out.suggestions.data;
	p[5] = tone_names[g->in.tone];
	p[6] = llm_provider_name(g->ctx.provider);
	p[7] = g->ctx.model;
	p[8] = arena_printf(&r->arena, "%lld", g->in.max_words);
	p[9] = pg_text_array(&r->arena, &g->in.highlights);
	p[10] = arena_printf(&r->arena, "%lld", clamp_int(g->out.res.prompt_tokens));
	p[11] = arena_printf(&r->arena, "%lld",
	    clamp_int(g->out.res.completion_tokens));
	p[12] = arena_printf(&r->arena, "%.6f", g->out.cost);
	p[13] = arena_printf(&r->arena, "%.0f", g->out.latency_ms);
	p[14] = g->in.template_id;
	qs[0] = (struct db_query){ stmts[STMT_ENSURE_USER], 0, NULL };
	qs[1] = (struct db_query){ stmts[STMT_STORE], 15, p };
	/* The usage now counts: its reservation goes in the same transaction. */
	if (*g->ctx.reservation != '\0')
		qs[n++] = (struct db_query){ AI_RELEASE_SQL, 1, rid };
	rc = db_batch(&r->app->db, r->auth.tenant_id, r->auth.user_id, qs, n,
	    res, e, r);
	buf_free(&alts);
	if (rc == -1)
		return -1;
	*g->ctx.reservation = '\0';
	snprintf(g->out.id, sizeof(g->out.id), "%s", PQgetvalue(res[1], 0, 0));
	snprintf(g->out.created_at, sizeof(g->out.created_at), "%s",
	    PQgetvalue(res[1], 0, 1));
	db_clear(res, n);
	/* The user's proposal analytics count it. */
	cache_invalidate(&r->app->redis, CACHE_USER, cache_scope(r, CACHE_USER));
	return 0;
}

/* After a failure: give the budget reservation back, if one is held. */
void
proposal_release(struct req *r, struct proposal_gen *g)
{
	ai_release(r, g->ctx.reservation);
}

/*
 * proposal:updated to the user who generated it (proposal_event.c): a
 * new draft, or an incomplete one when a stream was cut short.
 */
void
proposal_publish(struct req *r, const struct proposal_gen *g)
{
	proposal_announce(r, g->out.id, g->out.incomplete ? "stopped" :
	    "generated", "created", NULL);
}

/* What the generation used and cost, as the seed's "metadata". */
static void
metadata_json(struct jw *w, const struct proposal_gen *g)
{
	jw_object(w, "metadata");
	jw_string(w, "provider", llm_provider_name(g->ctx.provider));
	jw_string(w, "model", g->ctx.model);
	jw_int(w, "tokensUsed", g->out.res.prompt_tokens + g->out.res.completion_tokens);
	jw_int(w, "promptTokens", g->out.res.prompt_tokens);
	jw_int(w, "completionTokens", g->out.res.completion_tokens);
	jw_bool(w, "usageReported", g->out.res.usage_reported);
	jw_fixed(w, "cost", g->out.cost, 6);
	jw_fixed(w, "latencyMs", g->out.latency_ms, 0);
	jw_string(w, "proposalId", g->out.id);
	jw_string(w, "status", g->out.incomplete ? "incomplete" : "draft");
	jw_string(w, "templateId", g->in.template_id);
	jw_end(w);
}

/*
 * The result's members, in the object open in w: "proposal",
 * "alternatives", "suggestions" and "metadata".
 */
void
proposal_result_json(struct jw *w, const struct proposal_gen *g)
{
	jw_stringn(w, "proposal", g->out.text.data, g->out.text.len);
	alternatives_json(w, "alternatives", g);
	jw_raw(w, "suggestions", g->out.suggestions.data);
	metadata_json(w, g);
}

/* Answer a failed generation: 502, 503 (with the provider's Retry-After) or 504. */
void
proposal_fail(struct req *r, const struct proposal_gen *g)
{
	if (g->out.res.err == ERR_UNAVAILABLE)
		http_header(r, "Retry-After", "%d",
		    g->out.res.retry_after > 0 ? g->out.res.retry_after : 5);
	http_error(r, g->out.res.err, "%s", g->out.res.why);
}

void
proposal_gen_free(struct proposal_gen *g)
{
	size_t	i;

	llm_result_free(&g->out.res);
	buf_free(&g->out.text);
	for (i = 0; i < PROPOSAL_ALT_MAX; i++)
		buf_free(&g->out.alt[i]);
	buf_free(&g->out.suggestions);
}
