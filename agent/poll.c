/* poll.c: run a tenant's saved searches against Upwork, upsert what they find page by page, and announce only the jobs new to the tenant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

#define SEARCH_MAX_SKILLS	20

/*
 * The page travels to PostgreSQL as one JSON parameter and is unpacked
 * there with jsonb_to_recordset(): one round trip and one transaction
 * per page, whatever its size, and no value is ever formatted into SQL.
 * Clients go first so that jobs can refer to them; the client score is
 * client_score_of() of the client as this page describes it, and a job
 * below the search's minimum score is not stored (Upwork has no such
 * filter).  A conflicting row is updated only when something differs,
 * so an unchanged job is not written and not returned; (xmax = 0) tells
 * an insert from an update.
 */
#define PAGE_RECORD \
	"jsonb_to_recordset($1::jsonb) AS x(upwork_id text, ciphertext text," \
	" title text, description text, skills text[], budget_type text," \
	" budget_min numeric, budget_max numeric, currency text, location text," \
	" experience_level text, applicants integer, posted_at timestamptz," \
	" raw jsonb, c_uid text, c_country text, c_city text," \
	" c_total_spent numeric, c_hire_rate numeric, c_rating numeric," \
	" c_reviews integer, c_jobs_posted integer, c_total_hires integer," \
	" c_verified boolean, c_member_since timestamptz)"
#define PAGE_SCORE \
	"client_score_of(x.c_verified, x.c_total_spent, x.c_hire_rate," \
	" x.c_rating, x.c_reviews)"

#define COL_INSERTED	JOB_NCOLS	/* STMT_JOBS: after the job row */

enum stmt {
	STMT_SEARCHES,
	STMT_CLIENTS,
	STMT_JOBS,
	STMT_DRY,
	STMT_SCORE,
	STMT_RAN,
	STMT_POLLED,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	/* At most poll_max_searches a run, the least recently run first. */
	[STMT_SEARCHES] = "SELECT id, array_to_json(skills), min_budget,"
	    " max_budget, location, coalesce(client_score, 0), query, polled_fully,"
	    " user_id, min_match"
	    " FROM job_searches WHERE notify"
	    " ORDER BY last_run_at NULLS FIRST, created_at, id LIMIT $1::int",
	[STMT_POLLED] = "UPDATE upwork_accounts SET last_polled_at = now()",
	[STMT_CLIENTS] = "INSERT INTO clients AS c (upwork_uid, country, city,"
	    " total_spent, hire_rate, rating, reviews_count, jobs_posted,"
	    " total_hires, payment_verified, member_since, raw)"
	    " SELECT DISTINCT ON (x.c_uid) x.c_uid, x.c_country, x.c_city,"
	    " coalesce(x.c_total_spent, 0), x.c_hire_rate, x.c_rating,"
	    " coalesce(x.c_reviews, 0), coalesce(x.c_jobs_posted, 0),"
	    " coalesce(x.c_total_hires, 0), coalesce(x.c_verified, false),"
	    " x.c_member_since, x.raw -> 'client'"
	    " FROM " PAGE_RECORD
	    " WHERE x.c_uid IS NOT NULL AND " PAGE_SCORE " >= $2::int"
	    " ORDER BY x.c_uid"
	    " ON CONFLICT (tenant_id, upwork_uid) DO UPDATE SET"
	    " country = EXCLUDED.country, city = EXCLUDED.city,"
	    " total_spent = EXCLUDED.total_spent, hire_rate = EXCLUDED.hire_rate,"
	    " rating = EXCLUDED.rating, reviews_count = EXCLUDED.reviews_count,"
	    " jobs_posted = EXCLUDED.jobs_posted, total_hires = EXCLUDED.total_hires,"
	    " payment_verified = EXCLUDED.payment_verified,"
	    " member_since = EXCLUDED.member_since, raw = EXCLUDED.raw,"
	    " updated_at = now()"
	    " WHERE (c.country, c.city, c.total_spent, c.hire_rate, c.rating,"
	    " c.reviews_count, c.jobs_posted, c.total_hires, c.payment_verified,"
	    " c.member_since) IS DISTINCT FROM (EXCLUDED.country, EXCLUDED.city,"
	    " EXCLUDED.total_spent, EXCLUDED.hire_rate, EXCLUDED.rating,"
	    " EXCLUDED.reviews_count, EXCLUDED.jobs_posted, EXCLUDED.total_hires,"
	    " EXCLUDED.payment_verified, EXCLUDED.member_since)",
	[STMT_JOBS] = "WITH input AS (SELECT DISTINCT ON (x.upwork_id) x.*, "
	    PAGE_SCORE " AS score FROM " PAGE_RECORD " ORDER BY x.upwork_id),"
	    " up AS (INSERT INTO jobs AS j (upwork_id, ciphertext, title,"
	    " description, skills, budget_type, budget_min, budget_max, currency,"
	    " location, client_id, client_score, experience_level, applicants,"
	    " posted_at, raw)"
	    " SELECT i.upwork_id, i.ciphertext, i.title, coalesce(i.description, ''),"
	    " i.skills, i.budget_type, i.budget_min, i.budget_max, i.currency,"
	    " i.location, c.id, i.score, i.experience_level, i.applicants,"
	    " i.posted_at, i.raw"
	    " FROM input i LEFT JOIN clients c"
	    " ON c.tenant_id = app_tenant() AND c.upwork_uid = i.c_uid"
	    " WHERE i.score >= $2::int"
	    " ON CONFLICT (tenant_id, upwork_id) DO UPDATE SET"
	    " ciphertext = EXCLUDED.ciphertext, title = EXCLUDED.title,"
	    " description = EXCLUDED.description, skills = EXCLUDED.skills,"
	    " budget_type = EXCLUDED.budget_type, budget_min = EXCLUDED.budget_min,"
	    " budget_max = EXCLUDED.budget_max, currency = EXCLUDED.currency,"
	    " location = EXCLUDED.location, client_id = EXCLUDED.client_id,"
	    " client_score = EXCLUDED.client_score,"
	    " experience_level = EXCLUDED.experience_level,"
	    " applicants = EXCLUDED.applicants, posted_at = EXCLUDED.posted_at,"
	    " raw = EXCLUDED.raw, updated_at = now()"
	    " WHERE (j.ciphertext, j.title, j.description, j.skills, j.budget_type,"
	    " j.budget_min, j.budget_max, j.currency, j.location, j.client_id,"
	    " j.client_score, j.experience_level, j.applicants, j.posted_at, j.raw)"
	    " IS DISTINCT FROM (EXCLUDED.ciphertext, EXCLUDED.title,"
	    " EXCLUDED.description, EXCLUDED.skills, EXCLUDED.budget_type,"
	    " EXCLUDED.budget_min, EXCLUDED.budget_max, EXCLUDED.currency,"
	    " EXCLUDED.location, EXCLUDED.client_id, EXCLUDED.client_score,"
	    " EXCLUDED.experience_level, EXCLUDED.applicants, EXCLUDED.posted_at,"
	    " EXCLUDED.raw)"
	    " RETURNING j.*, (j.xmax = 0) AS inserted)"
	    " SELECT " JOB_COLUMNS ", j.inserted FROM up j" JOB_CLIENT_JOIN,
	[STMT_DRY] = "SELECT count(*) FILTER (WHERE NOT known), count(*) FROM"
	    " (SELECT DISTINCT x.upwork_id, EXISTS (SELECT FROM jobs j"
	    " WHERE j.tenant_id = app_tenant() AND j.upwork_id = x.upwork_id) AS known"
	    " FROM " PAGE_RECORD " WHERE " PAGE_SCORE " >= $2::int) s",
	/* What the match score reads of the new jobs (asOf: each one's posting). */
	[STMT_SCORE] = "SELECT " JOB_SCORE_COLUMNS " FROM jobs j"
	    " WHERE j.id = ANY($1::uuid[])",
	[STMT_RAN] = "UPDATE job_searches"
	    " SET last_run_at = now(), polled_fully = $2::boolean"
	    " WHERE id = $1::uuid",
};

/* One saved search, as the poller needs it. */
struct search {
	char		*id;
	char		*skills[SEARCH_MAX_SKILLS];
	size_t		 nskills;
	int		 has_min, has_max;
	long long	 min, max;
	char		*location;
	char		*min_score;
	char		*query;
	int		 polled_fully;	/* the last run finished */
	char		*user_id;	/* its creator, whose profile scores jobs */
	int		 min_match;	/* -1: not set (the creator's threshold) */
};

/* What one tenant's poll shares. */
struct run {
	struct upwork		*up;
	struct db		*db;
	struct redis		*redis;
	const char		*tenant;
	int			 dry_run;
	int			 refreshed;	/* a forced refresh was tried */
	struct upwork_auth	 auth;
	struct poll_stats	*st;
	struct arena		 arena;
};

/* A number with two decimals, or null when has is 0. */
static void
num_or_null(struct jw *w, const char *key, int has, double v)
{
	if (has)
		jw_fixed(w, key, v, 2);
	else
		jw_null(w, key);
}

/* One record of the page parameter (the columns of PAGE_RECORD). */
static void
job_record(struct jw *w, const struct upwork_job *j)
{
	const struct upwork_client_info *c = &j->client;
	double	 hire = 0;
	size_t	 i;

	jw_object(w, NULL);
	jw_string(w, "upwork_id", j->id);
	jw_string(w, "ciphertext", j->ciphertext);
	jw_string(w, "title", j->title);
	jw_string(w, "description", j->description);
	jw_array(w, "skills");
	for (i = 0; i < j->nskills; i++)
		jw_string(w, NULL, j->skills[i]);
	jw_end(w);
	jw_string(w, "budget_type", j->hourly ? "hourly" : "fixed");
	num_or_null(w, "budget_min", j->has_min, j->budget_min);
	num_or_null(w, "budget_max", j->has_max, j->budget_max);
	jw_string(w, "currency", j->currency);
	jw_string(w, "location", c->country);
	jw_string(w, "experience_level", j->experience_level);
	if (j->applicants >= 0)
		jw_int(w, "applicants", j->applicants);
	else
		jw_null(w, "applicants");
	jw_string(w, "posted_at", j->created);
	jw_raw(w, "raw", j->raw);
	jw_string(w, "c_uid", c->present ? c->uid : NULL);
	jw_string(w, "c_country", c->country);
	jw_string(w, "c_city", c->city);
	num_or_null(w, "c_total_spent", c->has_spent, c->total_spent);
	if (c->total_posted_jobs > 0) {
		hire = 100.0 * c->total_hires / c->total_posted_jobs;
		if (hire > 100)
			hire = 100;
	}
	num_or_null(w, "c_hire_rate", c->present && c->total_posted_jobs > 0,
	    hire);
	num_or_null(w, "c_rating", c->has_feedback, c->total_feedback);
	if (c->present) {
		jw_int(w, "c_reviews", c->total_reviews);
		jw_int(w, "c_jobs_posted", c->total_posted_jobs);
		jw_int(w, "c_total_hires", c->total_hires);
		jw_bool(w, "c_verified", c->verified);
	}
	jw_string(w, "c_member_since", c->member_since);
	jw_end(w);
}

/*
 * The saved search's budget against the job's range, as GET /api/jobs
 * filters: a job matches when its range reaches minBudget and starts at
 * or below maxBudget.  Upwork filters by budget already; this keeps the
 * two in agreement whatever Upwork counts as a match.
 */
static int
budget_match(const struct search *s, const struct upwork_job *j)
{
	if (s->has_min && (!j->has_max || j->budget_max < (double)s->min))
		return 0;
	if (s->has_max && (!j->has_min || j->budget_min > (double)s->max))
		return 0;
	return 1;
}

/*
 * Which inserted rows of the jobs statement (res) reach the search's
 * minimum match: keep[i] = 1 for those.  The minimum is the search's
 * minMatch, else its creator's matchThreshold, else none.  Each job is
 * scored with the creator's profile as it was when posted (asOf = its
 * posting time), exactly as GET /api/jobs?sort=match and job analytics
 * score it (README, "Matching"); the scores go to sc (they point into
 * got, which the caller clears).  Returns how many are kept, or -1 when
 * the profile or the jobs could not be read (nothing is announced then,
 * rather than every job to a user who asked for few).
 */
static int
match_filter(struct run *rn, const PGresult *res, const struct search *s,
    char *keep, struct job_scores *scp, PGresult **got)
{
	struct buf		 ids = { 0 };
	const char		*user[1] = { s->user_id }, *idp[1];
	struct db_query		 q[2];
	struct job_scores	 sc;
	size_t			 k;
	int			 i, min, kept = 0;

	buf_putc(&ids, '{');
	for (i = 0; i < PQntuples(res); i++)
		if ((keep[i] = *PQgetvalue(res, i, COL_INSERTED) == 't'))
			buf_printf(&ids, "%s%s", ids.len > 1 ? "," : "",
			    PQgetvalue(res, i, JC_ID));
	buf_putc(&ids, '}');
	idp[0] = ids.data;
	q[0] = (struct db_query){ JOB_PROFILE_SQL, 1, user };
	q[1] = (struct db_query){ stmts[STMT_SCORE], 1, idp };
	if (db_run_as(rn->db, rn->tenant, NULL, q, 2, got, NULL) == -1) {
		LOG_ERR(NULL, "poll: %s: search %s: the jobs could not be scored; "
		    "not announced", rn->tenant, s->id);
		buf_free(&ids);
		return -1;
	}
	job_score_rows(&rn->arena, got[0], got[1], (size_t)PQntuples(got[1]),
	    JOB_AS_POSTED, MATCH_WINDOW_DAYS * 86400LL * 1000000, &sc);
	min = s->min_match >= 0 ? s->min_match : sc.profile.threshold;
	for (i = 0; i < PQntuples(res); i++) {
		if (!keep[i] || min <= 0) {
			kept += keep[i];
			continue;
		}
		keep[i] = 0;
		for (k = 0; k < sc.n; k++) {
			if (strcmp(sc.jobs[k].id, PQgetvalue(res, i, JC_ID)) != 0)
				continue;
			keep[i] = sc.jobs[k].m.score >= min;
			LOG_DEBUG(NULL, "poll: %s: search %s: job %s scores %d for "
			    "%s (minimum %d)", rn->tenant, s->id, sc.jobs[k].id,
			    sc.jobs[k].m.score, s->user_id, min);
		}
		kept += keep[i];
	}
	*scp = sc;
	buf_free(&ids);
	return kept;
}

/*
 * job:new for each inserted row of the jobs statement that reaches the
 * search's minimum match (cache already invalidated): the job as GET
 * /api/jobs shows it to the search's creator (the match as of this
 * minute over the default window, as the newest-first list scores it),
 * the search and whose match it is.
 */
static void
announce(struct run *rn, const PGresult *res, const struct search *s)
{
	struct buf		 b = { 0 };
	struct jw		 w;
	struct job_scores	 sc;
	PGresult		*got[2] = { NULL, NULL };
	struct match_result	 m;
	long long		 as_of = (long long)time(NULL) / 60 * 60000000;
	char			*keep;
	size_t			 k;
	int			 i;

	keep = arena_alloc(&rn->arena, (size_t)PQntuples(res) + 1);
	if (match_filter(rn, res, s, keep, &sc, got) <= 0) {
		db_clear(got, 2);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (!keep[i])
			continue;
		for (k = 0; k < sc.n; k++)
			if (strcmp(sc.jobs[k].id, PQgetvalue(res, i, JC_ID)) == 0)
				break;
		if (k == sc.n) {
			LOG_ERR(NULL, "poll: %s: job %s was not scored; not "
			    "announced", rn->tenant, PQgetvalue(res, i, JC_ID));
			continue;
		}
		buf_reset(&b);
		jw_init(&w, &b);
		match_score(&sc.profile.m, &sc.jobs[k].job, as_of,
		    MATCH_WINDOW_DAYS * 86400LL * 1000000, &m);
		shape_job(&w, res, i, 1);
		match_json(jw_value(&w, "match"), &sc.profile.m, &sc.jobs[k].job,
		    as_of, &m);
		jw_string(&w, "searchId", s->id);
		jw_string(&w, "matchUserId", s->user_id);
		jw_end(&w);
		if (events_publish(rn->redis, "job:new", rn->tenant, NULL, b.data,
		    NULL, 0) == 0)
			rn->st->published++;
	}
	db_clear(got, 2);
	buf_free(&b);
}

/*
 * Store one validated page (only the jobs within the search's budget).
 * Returns how many jobs are new to the tenant (in a dry run: would
 * be), or -1 with e set.
 */
static int
store_page(struct run *rn, const struct search *s, const struct upwork_page *p,
    struct upwork_err *e)
{
	struct buf	 json = { 0 };
	struct jw	 w;
	const char	*params[2];
	struct db_query	 q[2];
	PGresult	*res[2];
	size_t		 i, n = 0;
	int		 inserted = 0, updated = 0, r;

	jw_init(&w, &json);
	jw_array(&w, NULL);
	for (i = 0; i < p->njobs; i++) {
		if (!budget_match(s, &p->jobs[i]))
			continue;
		job_record(&w, &p->jobs[i]);
		n++;
	}
	jw_end(&w);
	if (n == 0) {
		buf_free(&json);
		return 0;
	}
	params[0] = json.data;
	params[1] = s->min_score;
	if (rn->dry_run) {
		q[0] = (struct db_query){ stmts[STMT_DRY], 2, params };
		if (db_run_as(rn->db, rn->tenant, NULL, q, 1, res, NULL) == -1)
			goto fail;
		inserted = atoi(PQgetvalue(res[0], 0, 0));
		LOG_DEBUG(NULL, "poll: %s: search %s: %d of %s kept jobs would be "
		    "new", rn->tenant, s->id, inserted, PQgetvalue(res[0], 0, 1));
		rn->st->inserted += (unsigned)inserted;
		PQclear(res[0]);
		buf_free(&json);
		return inserted;
	}
	q[0] = (struct db_query){ stmts[STMT_CLIENTS], 2, params };
	q[1] = (struct db_query){ stmts[STMT_JOBS], 2, params };
	if (db_run_as(rn->db, rn->tenant, NULL, q, 2, res, NULL) == -1)
		goto fail;
	for (r = 0; r < PQntuples(res[1]); r++) {
		if (*PQgetvalue(res[1], r, COL_INSERTED) == 't')
			inserted++;
		else
			updated++;
	}
	rn->st->inserted += (unsigned)inserted;
	rn->st->updated += (unsigned)updated;
	/* Client research reads the clients; job lists embed them. */
	if (atoi(PQcmdTuples(res[0])) > 0) {
		cache_invalidate(rn->redis, CACHE_CLIENTS, rn->tenant);
		if (inserted + updated == 0)
			cache_invalidate(rn->redis, CACHE_JOBS, rn->tenant);
	}
	if (inserted + updated > 0) {
		/* Readers must find the jobs before anyone is told of them. */
		cache_invalidate(rn->redis, CACHE_JOBS, rn->tenant);
		if (inserted > 0)
			announce(rn, res[1], s);
	}
	db_clear(res, 2);
	buf_free(&json);
	return inserted;
fail:
	buf_free(&json);
	upwork_fail(e, UPW_DATABASE, 0, "the page could not be stored");
	return -1;
}

/*
 * One search of one kind (any, fixed or hourly), newest first, page by
 * page up to upwork_poll_max_pages, and no further than the first page
 * that brings nothing new: Upwork sorts by recency, so the rest is known
 * -- when the last run got that far.  After a run that failed half-way
 * (or the first run of a search) the pages are read to the end or the
 * cap, so a gap left by a failure is filled.
 */
static int
run_filter(struct run *rn, const struct search *s, enum upwork_job_type type,
    struct upwork_err *e)
{
	struct upwork_filter	 f;
	struct upwork_page	 p;
	char			*after = NULL;
	int			 page, fresh, r, rc = 0;

	memset(&f, 0, sizeof(f));
	f.query = s->query;
	f.skills = (const char *const *)s->skills;
	f.nskills = s->nskills;
	f.location = s->location;
	f.job_type = type;
	f.has_min = s->has_min;
	f.min = s->min;
	f.has_max = s->has_max;
	f.max = s->max;
	f.first = agent_cfg.upwork_page_size;
	for (page = 0; page < agent_cfg.upwork_poll_max_pages; page++) {
		if (rn->up->deadline > 0 && now_ms() >= rn->up->deadline) {
			upwork_fail(e, UPW_BUDGET, 0, "the time budget ran out");
			rc = -1;
			break;
		}
		f.after = after;
		r = upwork_search(rn->up, &rn->auth, &f, &p, e);
		if (r == -1 && e->fail == UPW_UNAUTHORIZED && !rn->refreshed) {
			/* Refused before its time: revoked?  One forced refresh. */
			upwork_page_free(&p);
			rn->refreshed = 1;
			if (upwork_token(rn->up, rn->db, rn->tenant, 1, &rn->auth,
			    e) == 0)
				r = upwork_search(rn->up, &rn->auth, &f, &p, e);
		}
		if (r == -1) {
			upwork_page_free(&p);
			rc = -1;
			break;
		}
		rn->st->pages++;
		rn->st->fetched += (unsigned)p.njobs;
		fresh = store_page(rn, s, &p, e);
		free(after);
		after = p.has_next && p.end_cursor ? xstrdup(p.end_cursor) : NULL;
		upwork_page_free(&p);
		if (fresh == -1) {
			rc = -1;
			break;
		}
		if ((fresh == 0 && s->polled_fully) || after == NULL)
			break;
	}
	free(after);
	return rc;
}

/* The tenant's searches with notify on, into the run's arena. */
static int
load_searches(struct run *rn, struct search **out, size_t *n, struct upwork_err *e)
{
	const char	*params[1];
	struct db_query	 q = { stmts[STMT_SEARCHES], 1, params };
	PGresult	*res;
	json_object	*skills;
	const char	*why, *v;
	struct search	*s;
	int		 i;
	size_t		 k;

	params[0] = arena_printf(&rn->arena, "%d", agent_cfg.poll_max_searches);
	if (db_run_as(rn->db, rn->tenant, NULL, &q, 1, &res, NULL) == -1) {
		upwork_fail(e, UPW_DATABASE, 0, "the saved searches could not be read");
		return -1;
	}
	*n = (size_t)PQntuples(res);
	*out = s = arena_alloc(&rn->arena, (*n + 1) * sizeof(*s));
	for (i = 0; i < PQntuples(res); i++, s++) {
		memset(s, 0, sizeof(*s));
		s->id = arena_strdup(&rn->arena, PQgetvalue(res, i, 0));
		v = PQgetvalue(res, i, 1);
		skills = json_parse_strict(v, strlen(v), 3, &why);
		for (k = 0; skills != NULL && k < json_object_array_length(skills) &&
		    k < SEARCH_MAX_SKILLS; k++)
			s->skills[s->nskills++] = arena_strdup(&rn->arena,
			    json_object_get_string(json_object_array_get_idx(skills, k)));
		json_object_put(skills);
		if ((s->has_min = (v = db_value(res, i, 2)) != NULL))
			s->min = strtoll(v, NULL, 10);
		if ((s->has_max = (v = db_value(res, i, 3)) != NULL))
			s->max = strtoll(v, NULL, 10);
		if ((v = db_value(res, i, 4)) != NULL)
			s->location = arena_strdup(&rn->arena, v);
		s->min_score = arena_strdup(&rn->arena, PQgetvalue(res, i, 5));
		if ((v = db_value(res, i, 6)) != NULL)
			s->query = arena_strdup(&rn->arena, v);
		s->polled_fully = *PQgetvalue(res, i, 7) == 't';
		s->user_id = arena_strdup(&rn->arena, PQgetvalue(res, i, 8));
		s->min_match = (v = db_value(res, i, 9)) != NULL ? atoi(v) : -1;
	}
	PQclear(res);
	return 0;
}

/*
 * Poll one tenant.  up->deadline bounds the time spent (no new page is
 * asked for past it).  Returns 0, or -1 with e: UPW_NOT_CONNECTED when
 * the tenant has no (more) Upwork connection, another failure otherwise.
 * What was stored before a failure stays stored and announced.
 */
int
poll_tenant(struct upwork *up, struct db *db, struct redis *rd,
    const char *tenant, int dry_run, struct poll_stats *st,
    struct upwork_err *e)
{
	struct run	 rn = { 0 };
	struct search	*s;
	const char	*params[2];
	struct db_query	 q = { stmts[STMT_RAN], 2, params };
	PGresult	*res;
	size_t		 n, i;
	int		 rc = 0;

	memset(e, 0, sizeof(*e));
	rn.up = up;
	rn.db = db;
	rn.redis = rd;
	rn.tenant = tenant;
	rn.dry_run = dry_run;
	rn.st = st;
	if (load_searches(&rn, &s, &n, e) == -1)
		return -1;
	/* First, so that a dead connection is reported even with no search. */
	if (upwork_token(up, db, tenant, 0, &rn.auth, e) == -1) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (up->deadline > 0 && now_ms() >= up->deadline) {
			upwork_fail(e, UPW_BUDGET, 0, "the time budget ran out "
			    "after %zu of %zu searches", i, n);
			rc = -1;
			break;
		}
		st->searches++;
		if (s[i].has_min || s[i].has_max) {
			rc = run_filter(&rn, &s[i], UPW_JOBS_FIXED, e);
			if (rc == 0)
				rc = run_filter(&rn, &s[i], UPW_JOBS_HOURLY, e);
		} else
			rc = run_filter(&rn, &s[i], UPW_JOBS_ANY, e);
		if (!dry_run) {
			/* A failed search is read to the end next time. */
			params[0] = s[i].id;
			params[1] = rc == 0 ? "true" : "false";
			if (db_run_as(db, tenant, NULL, &q, 1, &res, NULL) == 0)
				PQclear(res);
		}
	}
	if (st->searches > 0 && !dry_run)
		cache_invalidate(rd, CACHE_SEARCHES, tenant);	/* lastRunAt */
	if (!dry_run) {
		/*
		 * The scheduler takes the least recently polled tenant first;
		 * the count deltas the pages added are folded (sql/0010).
		 */
		struct db_query	polled[2] = { { stmts[STMT_POLLED], 0, NULL },
		    { "SELECT job_counts_compact()", 0, NULL } };
		PGresult	*pr[2];

		if (db_run_as(db, tenant, NULL, polled, 2, pr, NULL) == 0)
			db_clear(pr, 2);
	}
out:
	explicit_bzero(&rn.auth, sizeof(rn.auth));
	arena_reset(&rn.arena);
	return rc;
}
