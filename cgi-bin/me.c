/* me.c: GET /api/me shows the caller's freelancer profile; PUT /api/me replaces it. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* PUT /api/me body: the whole profile; an absent field is cleared. */
struct highlight {
	char		*title;
	char		*description;
	struct strlist	 skills;
	char		*url;
};
struct profile_b {
	char		*name;
	char		*title;
	struct strlist	 skills;
	double		 rate_min;
	double		 rate_target;
	char		*bio;
	struct objlist	 portfolio;
	int		 tone;
	struct strlist	 languages;
	long long	 threshold;
};
enum { PB_NAME, PB_TITLE, PB_SKILLS, PB_RATEMIN, PB_RATETARGET, PB_BIO,
    PB_PORTFOLIO, PB_TONE, PB_LANGUAGES, PB_THRESHOLD };

/* The tones the proposal generators know (the users.tone CHECK too). */
static const char *const tones[] = {
	"professional", "friendly", "confident", "concise", NULL
};

static const struct field highlight_fields[] = {
	{ FIELD("title", FT_STRING, struct highlight, title),
	    .flags = F_REQUIRED, .min = 1, .max = 100 },
	{ FIELD("description", FT_STRING, struct highlight, description),
	    .flags = F_NULLABLE, .min = 1, .max = 1000 },
	{ FIELD("skills", FT_STRLIST, struct highlight, skills),
	    .flags = F_LOWER, .max = 20, .item_max = 50 },
	{ FIELD("url", FT_STRING, struct highlight, url), .flags = F_NULLABLE,
	    .min = 1, .max = 500 },
};
static const struct field_obj highlight_obj = {
	.fields = highlight_fields, .nfields = nitems(highlight_fields),
	.size = sizeof(struct highlight)
};

static const struct field profile_fields[] = {
	[PB_NAME] = { FIELD("name", FT_STRING, struct profile_b, name),
	    .flags = F_NULLABLE, .min = 1, .max = 200 },
	[PB_TITLE] = { FIELD("title", FT_STRING, struct profile_b, title),
	    .flags = F_NULLABLE, .min = 1, .max = 200 },
	[PB_SKILLS] = { FIELD("skills", FT_STRLIST, struct profile_b, skills),
	    .flags = F_LOWER, .max = 50, .item_max = 50 },
	[PB_RATEMIN] = { FIELD("hourlyRateMin", FT_NUMBER, struct profile_b,
	    rate_min), .flags = F_NULLABLE, .min = 1, .max = 1000 },
	[PB_RATETARGET] = { FIELD("hourlyRateTarget", FT_NUMBER,
	    struct profile_b, rate_target), .flags = F_NULLABLE, .min = 1,
	    .max = 1000 },
	[PB_BIO] = { FIELD("bio", FT_STRING, struct profile_b, bio),
	    .flags = F_NULLABLE, .min = 1, .max = 5000 },
	[PB_PORTFOLIO] = { FIELD("portfolio", FT_OBJLIST, struct profile_b,
	    portfolio), .flags = F_NULLABLE, .max = 10,
	    .choices = &highlight_obj },
	[PB_TONE] = { FIELD("tone", FT_ENUM, struct profile_b, tone),
	    .flags = F_NULLABLE, .choices = tones },
	[PB_LANGUAGES] = { FIELD("languages", FT_STRLIST, struct profile_b,
	    languages), .max = 10, .item_max = 50 },
	[PB_THRESHOLD] = { FIELD("matchThreshold", FT_INT, struct profile_b,
	    threshold), .flags = F_NULLABLE, .max = 100 },
};

#define PROFILE_COLUMNS \
	"u.name, u.title, array_to_json(u.skills), u.hourly_rate_min::float8," \
	" u.hourly_rate::float8, u.bio, u.portfolio, u.tone," \
	" array_to_json(u.languages), u.match_threshold, u.updated_at"

enum stmt {
	STMT_GET,
	STMT_ENSURE_TENANT,
	STMT_UPSERT,
	STMT__MAX
};

static const char *const stmts[STMT__MAX] = {
	[STMT_GET] = "SELECT " PROFILE_COLUMNS " FROM users u WHERE u.id = $1",
	[STMT_ENSURE_TENANT] = "INSERT INTO tenants (kind) VALUES ($1)"
	    " ON CONFLICT (id) DO NOTHING",
	[STMT_UPSERT] = "INSERT INTO users AS u (name, title, skills,"
	    " hourly_rate_min, hourly_rate, bio, portfolio, tone, languages,"
	    " match_threshold) VALUES ($1, $2, $3::text[], $4::numeric,"
	    " $5::numeric, $6, $7::jsonb, $8, $9::text[], $10::smallint)"
	    " ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name,"
	    " title = excluded.title, skills = excluded.skills,"
	    " hourly_rate_min = excluded.hourly_rate_min,"
	    " hourly_rate = excluded.hourly_rate, bio = excluded.bio,"
	    " portfolio = excluded.portfolio, tone = excluded.tone,"
	    " languages = excluded.languages,"
	    " match_threshold = excluded.match_threshold, updated_at = now()"
	    " RETURNING " PROFILE_COLUMNS,
};

static void
put_value(struct jw *w, const char *key, const PGresult *res, int col,
    int text)
{
	const char	*v = res != NULL ? db_value(res, 0, col) : NULL;

	if (v != NULL && text)
		jw_stringn(w, key, v, (size_t)PQgetlength(res, 0, col));
	else
		jw_raw(w, key, v);	/* numbers and json columns as they are */
}

/* A json array column, [] for the empty profile. */
static void
put_array(struct jw *w, const char *key, const PGresult *res, int col)
{
	if (res == NULL)
		jw_raw(w, key, "[]");
	else
		put_value(w, key, res, col, 0);
}

/* The profile of row 0 of res (PROFILE_COLUMNS), or the empty one when res has no row. */
static void
shape_profile(struct jw *w, const struct req *r, const PGresult *res)
{
	if (res != NULL && PQntuples(res) == 0)
		res = NULL;
	jw_object(w, NULL);
	jw_string(w, "userId", r->auth.user_id);
	put_value(w, "name", res, 0, 1);
	put_value(w, "title", res, 1, 1);
	put_array(w, "skills", res, 2);
	put_value(w, "hourlyRateMin", res, 3, 0);
	put_value(w, "hourlyRateTarget", res, 4, 0);
	put_value(w, "bio", res, 5, 1);
	put_array(w, "portfolio", res, 6);
	put_value(w, "tone", res, 7, 1);
	put_array(w, "languages", res, 8);
	put_value(w, "matchThreshold", res, 9, 0);
	shape_time(w, "updatedAt", res != NULL ? db_value(res, 0, 10) : NULL);
	jw_end(w);
}

/* Drop repeated items, keeping the first of each: "C, c" is one skill. */
static void
strlist_unique(struct strlist *l)
{
	size_t	i, k, n = 0;

	for (i = 0; i < l->n; i++) {
		for (k = 0; k < n && strcmp(l->v[k], l->v[i]) != 0; k++)
			continue;
		if (k == n)
			l->v[n++] = l->v[i];
	}
	l->n = n;
}

/* Predicate: an http or https URL with a host, nothing a link cannot hold. */
static int
url_valid(const char *u)
{
	size_t	n;

	if (strncmp(u, "https://", 8) == 0)
		n = 8;
	else if (strncmp(u, "http://", 7) == 0)
		n = 7;
	else
		return 0;
	if (u[n] == '\0' || u[n] == '/')
		return 0;
	for (; u[n] != '\0'; n++)
		if ((unsigned char)u[n] <= ' ' || strchr("\"<>\\^`{|}", u[n]) != NULL)
			return 0;
	return 1;
}

/* The checks that span fields or need more than a type; 0 or -1 after a 400. */
static int
profile_check(struct req *r, uint64_t set, struct profile_b *p)
{
	struct highlight	*h = p->portfolio.v;
	size_t			 i;
	char			 field[40];

	if (FIELD_SET(set, PB_RATEMIN) && !FIELD_SET(set, PB_RATETARGET)) {
		valid_fail_field(r, "hourlyRateMin", "needs hourlyRateTarget");
		return -1;
	}
	if (FIELD_SET(set, PB_RATEMIN) && p->rate_min > p->rate_target) {
		valid_fail_field(r, "hourlyRateMin",
		    "must not be greater than hourlyRateTarget");
		return -1;
	}
	for (i = 0; i < p->portfolio.n; i++) {
		if (h[i].url == NULL || url_valid(h[i].url))
			continue;
		snprintf(field, sizeof(field), "portfolio[%zu].url", i);
		valid_fail_field(r, field, "must be an http or https URL");
		return -1;
	}
	return 0;
}

/* The portfolio as the JSON the column stores, in a fixed key order. */
static char *
portfolio_json(struct req *r, const struct objlist *l)
{
	const struct highlight	*h = l->v;
	struct buf		 b = { 0 };
	struct jw		 w;
	char			*s;
	size_t			 i, k;

	jw_init(&w, &b);
	jw_array(&w, NULL);
	for (i = 0; i < l->n; i++) {
		jw_object(&w, NULL);
		jw_string(&w, "title", h[i].title);
		jw_string(&w, "description", h[i].description);
		jw_array(&w, "skills");
		for (k = 0; k < h[i].skills.n; k++)
			jw_string(&w, NULL, h[i].skills.v[k]);
		jw_end(&w);
		jw_string(&w, "url", h[i].url);
		jw_end(&w);
	}
	jw_end(&w);
	s = arena_strndup(&r->arena, b.data, b.len);
	buf_free(&b);
	return s;
}

static const char *
opt_rate(struct req *r, uint64_t set, int bit, double v)
{
	return FIELD_SET(set, bit) ? arena_printf(&r->arena, "%.2f",
	    round(v * 100) / 100) : NULL;
}

static void
me_get(struct req *r)
{
	const char	*params[1] = { r->auth.user_id };
	struct db_query	 q = { stmts[STMT_GET], 1, params };
	struct reply	 rp;
	PGresult	*res;

	if (reply_cached(&rp, r, CACHE_USER, "profile", 0))
		return;
	if (db_run(r, &q, 1, &res) == -1) {
		reply_free(&rp);
		return;
	}
	shape_profile(&rp.w, r, res);
	reply_send(&rp, 200);
	PQclear(res);
}

static void
me_put(struct req *r)
{
	struct profile_b p = { 0 };
	uint64_t	 set;
	const char	*kind[1], *params[10];
	struct db_query	 qs[2];
	PGresult	*res[2];
	struct reply	 rp;
	size_t		 i;

	if (valid_json(r, profile_fields, nitems(profile_fields), &p, &set) == -1 ||
	    profile_check(r, set, &p) == -1)
		return;
	strlist_unique(&p.skills);
	for (i = 0; i < p.portfolio.n; i++)
		strlist_unique(&((struct highlight *)p.portfolio.v)[i].skills);
	kind[0] = r->auth.personal ? "personal" : "org";
	params[0] = p.name;
	params[1] = p.title;
	params[2] = pg_text_array(&r->arena, &p.skills);
	params[3] = opt_rate(r, set, PB_RATEMIN, p.rate_min);
	params[4] = opt_rate(r, set, PB_RATETARGET, p.rate_target);
	params[5] = p.bio;
	params[6] = portfolio_json(r, &p.portfolio);
	params[7] = FIELD_SET(set, PB_TONE) ? tones[p.tone] : NULL;
	params[8] = pg_text_array(&r->arena, &p.languages);
	params[9] = FIELD_SET(set, PB_THRESHOLD) ?
	    arena_printf(&r->arena, "%lld", p.threshold) : NULL;
	qs[0] = (struct db_query){ stmts[STMT_ENSURE_TENANT], 1, kind };
	qs[1] = (struct db_query){ stmts[STMT_UPSERT], 10, params };
	if (db_run(r, qs, 2, res) == -1)
		return;
	/*
	 * The user's cached objects, and the tenant's job lists: rankings
	 * by match and job analytics depend on this profile.
	 */
	cache_invalidate(&r->app->redis, CACHE_USER, cache_scope(r, CACHE_USER));
	cache_invalidate(&r->app->redis, CACHE_JOBS, r->auth.tenant_id);
	reply_open(&rp, r);
	shape_profile(&rp.w, r, res[1]);
	reply_send(&rp, 200);
	db_clear(res, 2);
}

static const struct route routes[] = {
	{ "/api/me", METHOD_GET, me_get, 0, RL_DEFAULT, NULL },
	{ "/api/me", METHOD_PUT, me_put, ROUTE_JSON, RL_DEFAULT, NULL },
};

int
main(void)
{
	return agent_main("me", routes, nitems(routes), NULL);
}
