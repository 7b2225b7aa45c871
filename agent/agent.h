/* agent.h: the one header of libagent, the product on the platform: matching, ranking, the LLM providers, proposals, Upwork, polling. */
#ifndef AGENT_H
#define AGENT_H

#include "common.h"

/*
 * agent.c -- the product's registration with the platform, as data:
 * its knobs (agent_cfg), the rate-limit classes ai and upwork, the
 * cache namespaces, its errors, and its name.  A program of the product
 * starts with agent_main() (an endpoint), agent_cron_init() (a cron
 * binary) or agent_config_load() (a tool): each registers
 * agent_platform, loads the configuration and checks the knobs whose
 * syntax is the product's (agent_config_check()), so that a bad value
 * stops the program at start.
 */
#define AGENT_NAME	"upwork-api"	/* application_name, key derivation labels */
enum {
	RL_AI = RL__PLATFORM,	/* 10/min: the AI endpoints */
	RL_UPWORK		/* 30/min: endpoints that call Upwork */
};
enum {
	CACHE_JOBS,		/* job lists, per tenant */
	CACHE_SEARCHES,		/* saved-search lists, per tenant */
	CACHE_CLIENTS,		/* client research, per tenant */
	CACHE_USER		/* a user's objects (profile, templates), per user */
};
/*
 * The product's counters (metrics_count()): LLM calls, tokens and cost
 * by provider (+ 2 * enum llm_provider: builtin, then openai), and the
 * requests sent to Upwork by outcome.
 */
enum {
	AM_LLM_CALLS,		/* + 2 * provider + failed */
	AM_LLM_TOKENS = AM_LLM_CALLS + 4,	/* + 2 * provider + completion */
	AM_LLM_COST = AM_LLM_TOKENS + 4,	/* + provider: micro-dollars */
	AM_UPWORK_OK = AM_LLM_COST + 2,		/* a 2xx */
	AM_UPWORK_CLIENT_ERROR,	/* another 4xx */
	AM_UPWORK_THROTTLED,	/* 429 */
	AM_UPWORK_SERVER_ERROR,	/* 5xx */
	AM_UPWORK_FAILED,	/* no answer, or one too large */
	AM__MAX
};
/* The product's errors, after the platform's (error.c). */
#define ERR_BUDGET_EXHAUSTED	 ((enum err)(ERR__PLATFORM + 0))	/* 402 */
#define ERR_UPWORK_NOT_CONNECTED ((enum err)(ERR__PLATFORM + 1))	/* 409 */
struct agent_config {
	int		 match_max_jobs;
	char		*llm_provider;
	char		*llm_model;
	char		*llm_base_url;
	char		*llm_api_key_file;
	int		 llm_allow_http;
	int		 llm_connect_timeout_ms;
	int		 llm_timeout_ms;
	int		 llm_idle_timeout_ms;
	int		 llm_max_retries;
	int		 llm_max_response_bytes;
	int		 llm_sse_ping_ms;
	int		 llm_builtin_pace_ms;
	char		*llm_prices;
	double		 ai_monthly_budget_usd;
	/* Upwork (upwork*.c, poll.c) and the cron binaries (cron/) */
	char		*upwork_graphql_url;
	char		*upwork_authorize_url;
	char		*upwork_token_url;
	char		*upwork_client_id;
	char		*upwork_client_secret_file;
	char		*upwork_redirect_uri;
	char		*upwork_token_key_file;
	int		 upwork_connect_timeout_ms;
	int		 upwork_timeout_ms;
	int		 upwork_response_max;
	int		 upwork_retries;
	int		 upwork_rate_per_sec;
	int		 upwork_rate_per_day;
	int		 upwork_rate_wait_ms;
	int		 upwork_refresh_skew;
	int		 upwork_state_ttl;
	int		 upwork_page_size;
	int		 upwork_poll_max_pages;
	int		 upwork_request_budget_ms;
	int		 upwork_poll_cooldown_s;
	int		 poll_tenant_max_ms;
	int		 poll_max_searches;
	int		 refresh_clients_age_hours;
	int		 refresh_clients_max;
	int		 refresh_clients_reserve;
	int		 prune_job_days;
	int		 prune_batch;
};
extern struct agent_config agent_cfg;
extern const struct platform_ext agent_platform;
int	 agent_config_check(void);
int	 agent_host_loopback(const char *);
int	 agent_url_loopback(const char *);
int	 agent_main(const char *, const struct route *, size_t,
	    int (*)(struct app *));
int	 agent_cron_init(struct cron *, const char *, int, char **,
	    const struct option *, int (*)(int, const char *), const char *);
int	 agent_config_load(void);

/*
 * match.c -- how well a job fits the freelancer: a score 0-100, its
 * breakdown and its reasons (README.md, "Matching").  Pure: no I/O, no
 * allocation but the output buffer, and the same inputs always give the
 * same result, so the poller can apply a saved search's minimum match
 * exactly as the job list shows it.
 */
#define MATCH_SKILLS_MAX	64	/* a job's distinct skills looked at */
#define MATCH_FIXED_HOURS	20	/* hours a fixed price is assumed to pay for */
#define MATCH_WINDOW_DAYS	30	/* the default ranking window */
#define MATCH_THRESHOLD_DEFAULT	60	/* when the profile sets none */
struct match_profile {
	const char	**skills;	/* sorted, distinct, lower-case */
	size_t		  nskills;
	double		  rate_min;	/* USD per hour; the target when not set */
	double		  rate_target;	/* 0: not set */
};
struct match_job {
	const char *const *skills;	/* as listed: the main ones first */
	size_t		  nskills;
	int		  hourly;	/* 1 hourly, 0 fixed price */
	double		  budget_min;	/* <= 0: not stated */
	double		  budget_max;
	int		  usd;		/* the budget is in USD */
	int		  client_score;	/* 0-100 */
	int		  applicants;	/* proposals so far; < 0: unknown */
	long long	  posted_us;	/* µs since the epoch */
};
struct match_result {
	int		 score;		/* 0-100, the parts' sum rounded once */
	double		 skills, budget, client, recency, competition;
	int		 considered;	/* the job's distinct skills looked at */
	int		 matched;	/* how many of them the profile has */
	uint64_t	 matched_mask;	/* which, in the job's order */
};
void	 match_profile_init(struct match_profile *, const char **, size_t,
	    double, double);
void	 match_score(const struct match_profile *, const struct match_job *,
	    long long, long long, struct match_result *);
void	 match_json(struct buf *, const struct match_profile *,
	    const struct match_job *, long long, const struct match_result *);

/*
 * template.c -- proposal templates and their {{placeholders}}.
 *
 * template_check() runs when a template is saved: unknown placeholders
 * and malformed braces are refused with a message naming them.
 * template_fill() substitutes the values (the generators call it).
 */
enum template_var {
	TEMPLATE_CLIENT_NAME,
	TEMPLATE_JOB_TITLE,
	TEMPLATE_MATCHED_SKILLS,
	TEMPLATE_RATE,
	TEMPLATE_FREELANCER_NAME,
	TEMPLATE_PORTFOLIO_HIGHLIGHT,
	TEMPLATE_VAR__MAX
};
extern const char *const template_var_names[TEMPLATE_VAR__MAX + 1];
struct template_error {
	size_t	offset;		/* in characters from the start */
	char	message[400];
};
int	 template_check(const char *, size_t, unsigned int *,
	    struct template_error *);
void	 template_fill(struct buf *, const char *, size_t,
	    const char *const [TEMPLATE_VAR__MAX]);

/*
 * lifecycle.c -- the proposal state machine, pure: the one definition
 * of which status may follow which (README, "The proposal lifecycle"),
 * used by PATCH /api/proposals/{id} and by submit.  States are bits in
 * the sets lifecycle_next() returns: 1 << PS_READY, ...
 */
enum proposal_status {
	PS_DRAFT,
	PS_INCOMPLETE,		/* a stream whose client left */
	PS_READY,		/* submitted here, to be finished on Upwork */
	PS_SUBMITTED,		/* sent on Upwork */
	PS_VIEWED,
	PS_INTERVIEWING,
	PS_HIRED,
	PS_DECLINED,
	PS_WITHDRAWN,
	PS__MAX
};
enum lc_verdict {
	LC_OK,
	LC_SAME,		/* already in that state */
	LC_ILLEGAL,		/* no such edge */
	LC_LOCKED,		/* the text of this state cannot be edited */
	LC_NEEDS_EDIT		/* incomplete becomes draft only with an edit */
};
extern const char *const proposal_status_names[PS__MAX + 1];
int	 lifecycle_parse(const char *, enum proposal_status *);
unsigned int lifecycle_next(enum proposal_status);
int	 lifecycle_final(enum proposal_status);
int	 lifecycle_editable(enum proposal_status);
enum lc_verdict lifecycle_check(enum proposal_status, enum proposal_status, int);
void	 lifecycle_list(struct buf *, unsigned int);
void	 lifecycle_message(struct buf *, enum proposal_status,
	    enum proposal_status, enum lc_verdict);
void	 lifecycle_json(struct buf *, unsigned int);

/*
 * research.c -- the client analyzer: a 0-100 score with its reasons,
 * red flags and a short summary, from a stored client profile and its
 * recent reviews.  Pure: no I/O.
 */
#define RESEARCH_REVIEWS_MAX	10
struct client_facts {
	const char	*name;
	const char	*company;
	const char	*country;
	int		 payment_verified;
	double		 total_spent;
	double		 hire_rate;	/* < 0: unknown */
	double		 rating;	/* < 0: none */
	long long	 reviews_count;
	long long	 jobs_posted;
	long long	 total_hires;
	long long	 age_days;	/* < 0: unknown */
	size_t		 nreviews;	/* the most recent, newest first */
	double		 review_rating[RESEARCH_REVIEWS_MAX];
	const char	*review_comment[RESEARCH_REVIEWS_MAX];
};
struct research {
	int		 score;
	const char	*verdict;	/* strong, good, fair, risky */
	const char	*spend_tier;	/* none, low, medium, high, top */
	const char	*review_tone;	/* positive, mixed, neutral, negative, none */
	struct buf	 reasons;	/* JSON array */
	struct buf	 red_flags;	/* JSON array */
	size_t		 nred_flags;
	struct buf	 summary;	/* plain text */
};
void	 research_analyze(const struct client_facts *, struct research *);
void	 research_free(struct research *);
const char *review_tone_of(const char *, size_t);

/*
 * llm.c -- what every LLM provider shares: provider names, the price
 * table, token counting and cost.
 *
 * Two providers: "builtin", the offline default, composes proposals
 * from the job and the profile without any network; "openai" calls any
 * OpenAI-compatible Chat Completions endpoint (llm_openai.c).  A
 * tenant's row may choose its provider and model; the configuration
 * gives the defaults.  Prices are USD per million tokens, per model,
 * from llm_prices ("model=prompt/completion,...", "*" for any other
 * model); a model without a price cannot be used, so no call is ever
 * free by accident.  Token counts are the provider's when it reports
 * them, else counted here with one estimator (llm_count_tokens()),
 * the same for every provider.
 */
enum llm_provider {
	LLM_BUILTIN,
	LLM_OPENAI,
	LLM__MAX
};
struct llm_msg {
	const char	*role;
	const char	*content;
};
int	 llm_provider_parse(const char *, enum llm_provider *);
const char *llm_provider_name(enum llm_provider);
int	 llm_provider_valid(const char *);
int	 llm_prices_valid(const char *);
int	 llm_price(const char *, double *, double *);
double	 llm_cost(double, double, long long, long long);
long long llm_count_tokens(const char *, size_t);
long long llm_count_prompt(const struct llm_msg *, size_t);

/*
 * llm_openai.c -- a Chat Completions client over libcurl, plain or
 * streamed (SSE), with timeouts, a response size cap, no redirects,
 * TLS verification, and retries with backoff on 429 and 5xx.
 *
 * llm_openai_complete() returns 0 with the whole text in res->text, or
 * -1 with res->err (502, 503 or 504) and res->why saying what went
 * wrong in words fit for the API's error details; res->aborted is set
 * when on_delta or on_tick asked to stop.  When on_delta is set the
 * call is streamed and on_delta gets each piece of text as it arrives.
 * Nothing here logs the API key.
 */
typedef int (*llm_delta_fn)(void *, const char *, size_t);
typedef int (*llm_tick_fn)(void *);
struct llm_call {
	const char		*model;
	const struct llm_msg	*msgs;
	size_t			 nmsgs;
	long long		 max_tokens;
	llm_delta_fn		 on_delta;	/* NULL: not streamed */
	llm_tick_fn		 on_tick;	/* about once a second; may be NULL */
	void			*arg;
};
struct llm_result {
	struct buf	 text;
	long long	 prompt_tokens;
	long long	 completion_tokens;
	int		 usage_reported;	/* tokens from the provider */
	int		 started;		/* on_delta was called */
	int		 aborted;		/* a callback asked to stop */
	int		 attempts;
	int		 retry_after;		/* seconds, after a final 429 */
	enum err	 err;
	char		 why[200];
};
int	 llm_url_valid(const char *);
int	 llm_url_allowed(const char *);
int	 llm_openai_complete(const struct llm_call *, struct llm_result *,
	    struct req *);
void	 llm_result_free(struct llm_result *);
void	 llm_openai_cleanup(void);

/*
 * profile.c -- the freelancer's profile as the generators read it.
 *
 * PROFILE_SQL selects the caller's profile (one row, or none when the
 * user has never been seen); profile_from_row() reads it.  Strings
 * point into the arena given.  Its first columns are
 * PROFILE_MATCH_COLUMNS, what the match score reads (JOB_PROFILE_SQL
 * selects only those), so job_score_rows() reads either result.
 */
#define PROFILE_MATCH_COLUMNS \
	"u.skills, u.hourly_rate_min, u.hourly_rate, u.match_threshold"
#define PROFILE_PORTFOLIO_MAX	10
struct portfolio_item {
	const char	*title;
	const char	*description;	/* or NULL */
	const char	*url;		/* or NULL */
	struct strlist	 skills;
};
struct profile {
	const char	*name;
	const char	*title;
	const char	*bio;
	struct strlist	 skills;	/* as the freelancer listed them */
	double		 hourly_rate;	/* the target; < 0: not set */
	double		 hourly_rate_min;	/* < 0: not set */
	int		 threshold;	/* match_threshold; -1: not set */
	int		 tone;		/* preferred tone (enum tone); -1: none */
	struct portfolio_item portfolio[PROFILE_PORTFOLIO_MAX];
	size_t		 nportfolio;
};
extern const char PROFILE_SQL[];
void	 profile_from_row(struct arena *, const PGresult *, int, struct profile *);

/*
 * llm_builtin.c -- the offline provider: a deterministic proposal
 * writer that reads the job and the profile.
 *
 * A job_brief holds what a proposal is written from: the job and its
 * client.  llm_builtin_write() appends one proposal in the tone given,
 * of at most max_words words; the same input always gives the same
 * text.  llm_builtin_suggest() appends a JSON array of tips about a
 * draft.  llm_builtin_template() appends a template filled in for the
 * job and profile (cut to max_words when it is > 0); portfolio_pick()
 * is the portfolio item that fits the job best (-1: none).
 */
enum tone {
	TONE_PROFESSIONAL,
	TONE_FRIENDLY,
	TONE_CONFIDENT,
	TONE_CONCISE,
	TONE__MAX
};
extern const char *const tone_names[TONE__MAX + 1];
struct job_brief {
	const char	*id;
	const char	*title;
	const char	*description;
	struct strlist	 skills;
	const char	*budget_type;	/* fixed or hourly */
	double		 budget_min;	/* < 0: not given */
	double		 budget_max;
	const char	*currency;
	const char	*experience_level;
	const char	*client_name;	/* NULL: no client known */
	const char	*client_country;
	double		 client_rating;	/* < 0: none */
	int		 client_reviews;
	int		 client_verified;
};
struct skill_match {
	const char	*v[64];
	size_t		 n;
};
void	 skills_match(const struct job_brief *, const struct profile *,
	    struct skill_match *, struct skill_match *);
void	 llm_builtin_write(struct buf *, const struct job_brief *,
	    const struct profile *, enum tone, long long, const struct strlist *);
void	 llm_builtin_suggest(struct buf *, const struct job_brief *,
	    const struct profile *, const char *, long long);
void	 llm_builtin_template(struct buf *, const char *,
	    const struct job_brief *, const struct profile *, long long);
int	 portfolio_pick(const struct job_brief *, const struct profile *);
size_t	 words_count(const char *, size_t);

/*
 * aibudget.c -- an AI call's worst-case cost is reserved against the
 * tenant's monthly budget, under a per-tenant lock, before the call:
 * concurrent calls cannot together overspend.  The reservation is
 * deleted with AI_RELEASE_SQL in the transaction that stores the call's
 * usage, or by ai_release() when the call fails.
 */
extern const char AI_RELEASE_SQL[];
int	 ai_reserve(struct req *, double, double, char *, size_t, double *,
	    double *, enum err *);
void	 ai_release(struct req *, char *);

/*
 * proposal.c -- proposal generation shared by the generate and stream
 * endpoints: the body's fields, the context (job, profile, tenant AI
 * settings, month's spend) in one round trip, the caller's template
 * when templateId names one, the budget check, the prompt, the call to
 * the provider, and the draft and its usage row stored in one
 * transaction (with its template's id).
 */
#define PROPOSAL_ALT_MAX	3
struct proposal_input {
	char		*job_id;
	int		 tone;
	long long	 max_words;
	struct strlist	 highlights;
	long long	 alternatives;
	char		*template_id;	/* or NULL */
};
extern const char AI_SETTINGS_SQL[];
extern const struct field proposal_fields[];
extern const size_t proposal_nfields;
/* What a proposal is written from: proposal_prepare() loads it. */
struct proposal_ctx {
	struct job_brief	 job;
	struct profile		 profile;
	const char		*template;	/* the template's text, or NULL */
	enum llm_provider	 provider;
	const char		*model;
	double			 price_in, price_out;
	double			 budget, spent;
	char			 reservation[37];	/* of the budget; "" when none */
	struct llm_msg		 msgs[2];	/* the prompt */
	long long		 max_tokens;
};
/* What the generation made: proposal_run(), then proposal_store(). */
struct proposal_out {
	struct llm_result	 res;		/* the provider's answer */
	struct buf		 text;
	struct buf		 alt[PROPOSAL_ALT_MAX];
	int			 alt_tone[PROPOSAL_ALT_MAX];
	size_t			 nalt;
	struct buf		 suggestions;	/* JSON array */
	double			 cost;
	double			 latency_ms;
	int			 incomplete;	/* the stream's client left */
	char			 id[37];	/* the stored row's */
	char			 created_at[40];
};
/* A stream's cursor: where the text goes and how much of it went. */
struct proposal_stream {
	llm_delta_fn		 on_delta;	/* NULL: not streamed */
	llm_tick_fn		 on_tick;
	void			*arg;
	size_t			 forwarded;	/* bytes of the proposal passed on */
	int			 main_done;	/* the alternatives began */
};
struct proposal_gen {
	struct proposal_input	 in;		/* the body, validated */
	struct proposal_ctx	 ctx;
	struct proposal_out	 out;
	struct proposal_stream	 stream;
	double			 t0;
};
int	 proposal_prepare(struct req *, struct proposal_gen *);
int	 proposal_run(struct req *, struct proposal_gen *, llm_delta_fn,
	    llm_tick_fn, void *);
int	 proposal_store(struct req *, struct proposal_gen *, enum err *);
void	 proposal_publish(struct req *, const struct proposal_gen *);

void	 proposal_result_json(struct jw *, const struct proposal_gen *);
void	 proposal_gen_free(struct proposal_gen *);
void	 proposal_fail(struct req *, const struct proposal_gen *);
void	 proposal_release(struct req *, struct proposal_gen *);

/*
 * proposal_event.c -- proposal:updated, one shape whatever changed the
 * proposal (generation, a stream cut short, PATCH, submit): the
 * proposal as GET /api/proposals/{id} shows it, history included, and
 * "changes" (the fields that changed, or "created"), "cause"
 * (generated, stopped, updated, submitted), "previousStatus" (null for
 * a new one) and "truncated" (content and alternatives left out, null,
 * when the whole would pass EVENTS_DATA_MAX), to the proposal's user.
 * Read after the change is committed; a notification, never fatal.
 */
void	 proposal_announce(struct req *, const char *, const char *,
	    const char *, const char *);

/*
 * job.c -- the job row, declared once.  A statement selects of a job
 * either JOB_SCORE_COLUMNS (what the match score reads) or JOB_COLUMNS
 * (those, then what the API shows of the job and its client, from
 * JOB_FROM), always first, so that enum job_col names the place of
 * every column; the statement's own columns follow (at JOB_SCORE_NCOLS
 * or JOB_NCOLS).  shape_job() reads a row for the API; job_score_rows()
 * reads the score's columns of every row and scores them against the
 * profile JOB_PROFILE_SQL ($1: the user id) selected: the one loop
 * behind the job lists, job analytics and the poller's minimum match.
 */
enum job_col {
	JC_ID,			/* JOB_SCORE_COLUMNS */
	JC_SKILLS,		/* text[] */
	JC_BUDGET_TYPE,
	JC_BUDGET_MIN,
	JC_BUDGET_MAX,
	JC_CURRENCY,
	JC_CLIENT_SCORE,
	JC_APPLICANTS,
	JC_POSTED_AT,
	JOB_SCORE_NCOLS,
	JC_UPWORK_ID = JOB_SCORE_NCOLS,	/* the rest of JOB_COLUMNS */
	JC_TITLE,
	JC_DESCRIPTION,
	JC_SKILLS_JSON,
	JC_LOCATION,
	JC_EXPERIENCE_LEVEL,
	JC_CIPHERTEXT,
	JC_DEADLINE,
	JC_CLIENT_ID,		/* NULL: the job has no client */
	JC_CLIENT_NAME,
	JC_CLIENT_COMPANY,
	JC_CLIENT_COUNTRY,
	JC_CLIENT_CITY,
	JC_CLIENT_TOTAL_SPENT,
	JC_CLIENT_HIRE_RATE,
	JC_CLIENT_RATING,
	JC_CLIENT_REVIEWS,
	JC_CLIENT_JOBS_POSTED,
	JC_CLIENT_TOTAL_HIRES,
	JC_CLIENT_VERIFIED,
	JC_CLIENT_MEMBER_SINCE,
	JOB_NCOLS
};
#define JOB_SCORE_COLUMNS \
	"j.id, j.skills, j.budget_type, j.budget_min, j.budget_max," \
	" j.currency, j.client_score, j.applicants, j.posted_at"
#define JOB_COLUMNS JOB_SCORE_COLUMNS \
	", j.upwork_id, j.title, j.description, array_to_json(j.skills)," \
	" j.location, j.experience_level, j.ciphertext, j.deadline, c.id," \
	" c.name, c.company, c.country, c.city, c.total_spent, c.hire_rate," \
	" c.rating, c.reviews_count, c.jobs_posted, c.total_hires," \
	" c.payment_verified, c.member_since"
#define JOB_CLIENT_JOIN \
	" LEFT JOIN clients c ON c.tenant_id = j.tenant_id AND c.id = j.client_id"
#define JOB_FROM	" FROM jobs j" JOB_CLIENT_JOIN
#define JOB_AS_POSTED	0	/* as_of: each job as of its own posting */
extern const char JOB_PROFILE_SQL[];
struct job_profile {
	struct match_profile	 m;
	int			 threshold;	/* match_threshold, -1: not set */
};
struct job_scored {
	const char		*id;
	struct match_job	 job;
	struct match_result	 m;
};
struct job_scores {
	struct job_profile	 profile;
	struct job_scored	*jobs;		/* row i, in the arena */
	size_t			 n;
	int			 truncated;	/* the result had more rows */
};
void	 job_score_rows(struct arena *, const PGresult *, const PGresult *,
	    size_t, long long, long long, struct job_scores *);

/*
 * shape.c -- the JSON of the API's resources, built from query rows.
 *
 * A job is a row of JOB_COLUMNS (job.c); shape_job_match() adds the
 * caller's match of it.  A saved search is SHAPE_SEARCH_COLUMNS from
 * some column on; shape_search() returns how many columns it read.
 */
#define SHAPE_SEARCH_COLUMNS \
	"s.id, s.user_id, s.name, array_to_json(s.skills), s.min_budget," \
	" s.max_budget, s.location, s.client_score, s.query, s.notify," \
	" s.last_run_at, s.created_at, s.updated_at, s.min_match"
#define SHAPE_SEARCH_NCOLS	14
/*
 * A proposal: SHAPE_PROPOSAL_COLUMNS from SHAPE_PROPOSAL_FROM, or from
 * any relation named p with the columns of proposals (a data-modifying
 * CTE) followed by SHAPE_PROPOSAL_JOINS.  Its changes: SHAPE_HISTORY_COLUMNS
 * from proposal_history h.
 */
#define SHAPE_PROPOSAL_COLUMNS \
	"p.id, p.job_id, p.user_id, p.status, p.content, p.alternatives," \
	" p.suggestions, p.tone, p.provider, p.model, p.max_words," \
	" array_to_json(p.highlights), u.prompt_tokens, u.completion_tokens," \
	" u.cost, j.title, p.created_at, p.updated_at, p.template_id, p.ready_at"
#define SHAPE_PROPOSAL_UPDATED	17	/* the column of updated_at */
#define SHAPE_PROPOSAL_JOINS \
	" LEFT JOIN jobs j ON j.tenant_id = p.tenant_id AND j.id = p.job_id" \
	" LEFT JOIN LATERAL (SELECT sum(a.prompt_tokens) AS prompt_tokens," \
	" sum(a.completion_tokens) AS completion_tokens, sum(a.cost) AS cost" \
	" FROM ai_usage a WHERE a.tenant_id = p.tenant_id" \
	" AND a.proposal_id = p.id HAVING count(*) > 0) u ON true"
#define SHAPE_PROPOSAL_FROM	" FROM proposals p" SHAPE_PROPOSAL_JOINS
#define SHAPE_HISTORY_COLUMNS \
	"h.from_status, h.to_status, h.edited, h.changed_by, h.changed_at"
/* One proposal ($1) as GET /api/proposals/{id} shows it: these two, then shape_proposal_one(). */
#define SHAPE_PROPOSAL_ONE_SQL \
	"SELECT " SHAPE_PROPOSAL_COLUMNS SHAPE_PROPOSAL_FROM " WHERE p.id = $1::uuid"
#define SHAPE_HISTORY_SQL \
	"SELECT " SHAPE_HISTORY_COLUMNS " FROM proposal_history h" \
	" WHERE h.proposal_id = $1::uuid ORDER BY h.id"
#define SHAPE_OPEN	0x01	/* shape_proposal(): leave the object open */
#define SHAPE_LEAN	0x02	/* shape_proposal(): content and alternatives null */
void	 shape_job(struct jw *, const PGresult *, int, int);
void	 shape_job_match(struct jw *, const PGresult *, int,
	    const struct job_scores *, const struct job_scored *, long long);
int	 shape_search(struct jw *, const PGresult *, int, int);
void	 shape_proposal(struct jw *, const PGresult *, int, int);
void	 shape_history(struct jw *, const PGresult *, int);
void	 shape_proposal_one(struct jw *, const PGresult *, const PGresult *, int);
void	 shape_time(struct jw *, const char *, const char *);

/*
 * rank.c -- the caller's jobs ranked by match (GET /api/jobs?sort=match).
 *
 * rank_list() runs the ranking for a filter set: the jobs posted in
 * [asOf - window, asOf] (the newest match_max_jobs of them), scored,
 * filtered by min_match, ordered by score, posting time and id, so that
 * pages of the same asOf never overlap or skip.
 */
struct rank_query {
	const char		*where;		/* " AND ..." using $1..$nparams, or NULL */
	const char *const	*params;	/* the filters' values */
	int			 nparams;
	long long		 as_of_us;
	long long		 window_days;
	int			 min_match;	/* 0: every job */
	long long		 page;
	long long		 limit;
};
int	 rank_list(struct req *, const struct rank_query *, struct reply *);

/*
 * analytics.c -- what the analytics endpoints share: the date range of
 * the query string (from, to: days, at most a year; by default the 30
 * days up to today, UTC) and the opening of the answer's data with it.
 */
struct analytics_range {
	long long	 from, to;	/* days since the epoch, inclusive */
	long long	 days;
	const char	*lo, *hi;	/* the start of from, the start of the day after to */
};
extern const struct field_obj analytics_query;
int	 analytics_range(struct req *, struct analytics_range *);
void	 analytics_open(struct jw *, const struct analytics_range *);

/*
 * upwork_parse.c -- Upwork's wire format, pure: the request bodies of
 * the search and the details, and the responses (GraphQL pages, job
 * details) parsed and validated whole into the structs below before the
 * caller sees any of it: an errors array, a wrong type, a missing field
 * or an oversized body is an error, never half a page.  Also how a
 * failure is described (upwork_fail()), for every Upwork file.
 */
enum upwork_fail {
	UPW_OK,
	UPW_CONFIG,		/* Upwork is not configured here */
	UPW_BUDGET,		/* no rate-limit slot before the deadline, or the day's cap */
	UPW_TRANSPORT,		/* connect, TLS, timeout */
	UPW_HTTP,		/* an error status */
	UPW_THROTTLED,		/* Upwork answered 429 past our retries */
	UPW_UNAUTHORIZED,	/* 401: the access token is not valid (any more) */
	UPW_GRAPHQL,		/* a GraphQL errors array */
	UPW_MALFORMED,		/* not the JSON, or not the shape, expected */
	UPW_TOO_LARGE,		/* past upwork_response_max */
	UPW_INVALID_GRANT,	/* the token endpoint refused the code or refresh token */
	UPW_NOT_CONNECTED,	/* the tenant has no usable connection */
	UPW_DATABASE		/* our own database failed */
};
struct upwork_err {
	enum upwork_fail fail;
	enum err	 err;		/* how an API request reports it */
	int		 http_status;	/* Upwork's, when there was one */
	long long	 retry_after_ms;
	char		 msg[320];	/* for logs and API error details; no secrets */
};
enum upwork_job_type {
	UPW_JOBS_ANY,
	UPW_JOBS_FIXED,
	UPW_JOBS_HOURLY
};
/* The marketPlaceJobFilter of a search (NULL and 0 fields are left out). */
struct upwork_filter {
	const char		 *query;		/* searchExpression_eq */
	const char *const	 *skills;		/* skillExpression_eq: any of them */
	size_t			  nskills;
	const char		 *location;		/* locations_any */
	enum upwork_job_type	  job_type;		/* jobType_eq */
	int			  has_min, has_max;	/* budgetRange_eq or hourlyRate_eq */
	long long		  min, max;
	const char		 *experience_level;	/* experienceLevel_eq */
	int			  verified_only;	/* verifiedPaymentOnly_eq */
	int			  first;		/* pagination_eq */
	const char		 *after;
};
struct upwork_client_info {
	int		 present;
	char		*uid;		/* companyOrgUid, or NULL */
	char		*country, *city;
	int		 has_spent, has_feedback;
	double		 total_spent, total_feedback;
	int		 total_hires, total_posted_jobs, total_reviews;
	int		 verified;
	char		*member_since;	/* ISO 8601, or NULL */
};
struct upwork_job {
	char		*id;
	char		*ciphertext;	/* or NULL */
	char		*title;
	char		*description;
	char		**skills;	/* lower-case display names */
	size_t		 nskills;
	int		 hourly;
	int		 has_min, has_max;
	double		 budget_min, budget_max;
	char		 currency[4];
	char		*experience_level;	/* ENTRY_LEVEL, INTERMEDIATE, EXPERT or NULL */
	int		 applicants;	/* -1: unknown */
	char		*created;	/* ISO 8601 */
	char		*raw;		/* the node as JSON */
	struct upwork_client_info client;
};
/* A page of search results; its arena owns every string in it. */
struct upwork_page {
	struct arena		 arena;
	struct upwork_job	*jobs;
	size_t			 njobs;
	long long		 total;
	int			 has_next;
	char			*end_cursor;
};
/* A client's company, from marketplaceJobPosting(id). */
struct upwork_details {
	struct arena	 arena;
	char		*company_id, *company_name, *city, *state, *timezone;
	char		*raw;
};
void	 upwork_fail(struct upwork_err *, enum upwork_fail, int, const char *, ...)
	    PRINTF(4, 5);
int	 upwork_id_valid(const char *);
int	 upwork_ciphertext_valid(const char *);
long long upwork_retry_after(const char *, time_t);
char	*upwork_search_body(const struct upwork_filter *);
char	*upwork_details_body(const char *);
int	 upwork_parse_page(const char *, size_t, struct upwork_page *,
	    struct upwork_err *);
void	 upwork_page_free(struct upwork_page *);
int	 upwork_parse_details(const char *, size_t, struct upwork_details *,
	    struct upwork_err *);
void	 upwork_details_free(struct upwork_details *);

/*
 * upwork_rl.c -- the Upwork rate limit shared by every process that
 * talks to Upwork with one API key: upwork_rate_per_sec requests a
 * second, evenly spaced (a request every 1000/rate ms), and
 * upwork_rate_per_day per UTC day.  One Lua script reserves the next
 * slot atomically, on Redis's clock; the caller then sleeps until its
 * slot, so processes queue fairly without polling.  State lives in
 * Redis: a restarted process starts where the others are.  Without
 * Redis (redis_enabled() 0) the same scheduler is a PostgreSQL function,
 * upwork_rl_hit(), and the hand poll's cooldown a table.
 */
int	 upwork_rl_take(struct redis *, const char *, int, double,
	    struct upwork_err *);
int	 upwork_rl_pause(struct redis *, const char *, long long);
long long upwork_poll_cooldown(struct redis *, const char *, int);
const char *upwork_rl_script(void);

/*
 * upwork.c -- the Upwork GraphQL API over libcurl.
 *
 * Every request to Upwork (GraphQL and OAuth token calls alike) first
 * takes a slot from the shared rate limit (upwork_rl.c), so all workers
 * and cron processes together stay within upwork_rate_per_sec and
 * upwork_rate_per_day.  Upwork's 429 pauses every process for its
 * Retry-After; 5xx and transport errors are retried upwork_retries times
 * with backoff; nothing is waited for past the client's deadline.  A
 * response is read up to upwork_response_max bytes and handed to
 * upwork_parse.c.  upwork_main() is an endpoint's main() when the
 * endpoint calls Upwork: the client is set up in each worker.
 */
struct upwork {
	void			*curl;		/* CURL *, kept for keep-alive */
	struct redis		*redis;		/* the shared rate limit lives there */
	double			 deadline;	/* now_ms() past which no request starts and nothing waits; 0: none */
	int			 reserve;	/* daily requests to leave to others */
	unsigned long		 requests;	/* HTTP requests sent */
	struct crypto_keys	 keys;
};
/* Who a GraphQL call acts for: the bearer token and the organization. */
struct upwork_auth {
	char	access[2049];
	char	org[65];
};
/* What the submitProposal seam gets; see upwork_submit_proposal(). */
struct upwork_proposal {
	const char	*job_upwork_id;
	const char	*ciphertext;
	const char	*cover_letter;
};
#define UPWORK_APPLY_URL	"https://www.upwork.com/nx/proposals/job/%s/apply/"
int	 upwork_init(struct upwork *, struct redis *);
int	 upwork_main(const char *, const struct route *, size_t, struct upwork *);
void	 upwork_free(struct upwork *);
int	 upwork_http(struct upwork *, const char *, const char *, const char *,
	    const struct upwork_auth *, struct buf *, long *, struct upwork_err *);
int	 upwork_search(struct upwork *, const struct upwork_auth *,
	    const struct upwork_filter *, struct upwork_page *, struct upwork_err *);
int	 upwork_client_details(struct upwork *, const struct upwork_auth *,
	    const char *, struct upwork_details *, struct upwork_err *);
int	 upwork_submit_proposal(struct upwork *, const struct upwork_proposal *,
	    struct buf *, struct upwork_err *);

/*
 * upwork_auth.c -- the OAuth2 authorization-code flow and the tenant's
 * token pair.  States are signed (tenant, user, nonce, expiry) and
 * single-use (the nonce's row is consumed by the callback).  The pair is
 * stored sealed; a refresh happens upwork_refresh_skew seconds before
 * expiry, under a row lock (SELECT ... FOR UPDATE), so two processes
 * refreshing at once make one call and both end with the new pair, which
 * is committed before it is used.  A refresh Upwork refuses marks the
 * tenant disconnected.
 */
#define UPWORK_STATE_MAX	1024
struct upwork_state {
	char		tenant[TENANT_ID_SIZE];
	char		user[USER_ID_SIZE];
	char		nonce[33];
	long long	expires;
};
struct upwork_tokens {
	char		access[2049];
	char		refresh[2049];
	long long	expires_in;
};
char	*upwork_state_sign(const struct crypto_keys *, const struct upwork_state *);
int	 upwork_state_verify(const struct crypto_keys *, const char *, time_t,
	    struct upwork_state *);
void	 upwork_authorize_url(struct buf *, const char *);
int	 upwork_parse_tokens(const char *, size_t, long, struct upwork_tokens *,
	    struct upwork_err *);
int	 upwork_exchange_code(struct upwork *, const char *, struct upwork_tokens *,
	    struct upwork_err *);
int	 upwork_account_store(struct upwork *, struct db *, const char *,
	    const char *, const char *, const struct upwork_tokens *,
	    struct upwork_err *);
int	 upwork_token(struct upwork *, struct db *, const char *, int,
	    struct upwork_auth *, struct upwork_err *);

/*
 * poll.c -- run a tenant's saved searches (notify on) against Upwork and
 * store what they find: clients and jobs upserted (unique per tenant and
 * Upwork id, changed fields updated), client_score from
 * client_score_of(), the tenant's cached job lists invalidated, and
 * job:new published for each job new to the tenant that reaches the
 * search's minimum match for its creator (minMatch, else the creator's
 * matchThreshold, else none; scored as when posted, as the API scores
 * it).  Each page is validated whole, then written in one transaction.
 * Re-running with the same Upwork data writes and publishes nothing.
 */
struct poll_stats {
	unsigned	searches;
	unsigned	pages;
	unsigned	fetched;
	unsigned	inserted;
	unsigned	updated;
	unsigned	published;
};
int	 poll_tenant(struct upwork *, struct db *, struct redis *, const char *,
	    int, struct poll_stats *, struct upwork_err *);

#endif /* !AGENT_H */
