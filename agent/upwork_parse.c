/* upwork_parse.c: pure Upwork wire code: the search request body, and responses (GraphQL pages, job details) validated whole into C structs. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

#define UPW_JSON_DEPTH		32
#define UPW_EDGES_MAX		500
#define UPW_SKILLS_MAX		100
#define UPW_MONEY_MAX		1e9	/* below every column's bound */

/*
 * The search, in Upwork's shapes: the filter as a variable (never text
 * pasted into the query), the search type and the sort as the schema's
 * literals.
 */
static const char search_query[] =
    "query JobSearch($filter: MarketplaceJobPostingsSearchFilter) {"
    " marketplaceJobPostingsSearch(marketPlaceJobFilter: $filter,"
    " searchType: USER_JOBS_SEARCH, sortAttributes: [{field: RECENCY}]) {"
    " totalCount"
    " edges { cursor node {"
    " id title description ciphertext"
    " skills { name prettyName }"
    " amount { rawValue currency }"
    " hourlyBudgetType hourlyBudgetMin { rawValue currency }"
    " hourlyBudgetMax { rawValue currency }"
    " experienceLevel totalApplicants createdDateTime publishedDateTime"
    " client { totalHires totalPostedJobs totalSpent { rawValue currency }"
    " verificationStatus location { city country } totalReviews"
    " totalFeedback companyOrgUid memberSinceDateTime } } }"
    " pageInfo { endCursor hasNextPage } } }";

/*
 * A job posting's client company.  The search's client carries the
 * numbers; this adds who the client is.
 */
static const char details_query[] =
    "query ClientDetails($id: ID!) {"
    " marketplaceJobPosting(id: $id) { id"
    " ownership { company { id name } }"
    " clientCompanyPublic { id city state timezone } } }";

void
upwork_fail(struct upwork_err *e, enum upwork_fail f, int status,
    const char *fmt, ...)
{
	va_list	ap;
	size_t	i;

	e->fail = f;
	e->http_status = status;
	e->retry_after_ms = 0;
	switch (f) {
	case UPW_OK:
		e->err = ERR_INTERNAL;
		break;
	case UPW_CONFIG:
	case UPW_BUDGET:
	case UPW_THROTTLED:
	case UPW_DATABASE:
		e->err = ERR_UNAVAILABLE;
		break;
	case UPW_TRANSPORT:
		e->err = ERR_GATEWAY_TIMEOUT;
		break;
	case UPW_NOT_CONNECTED:
		e->err = ERR_UPWORK_NOT_CONNECTED;
		break;
	default:
		e->err = ERR_BAD_GATEWAY;
	}
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	/* Upstream text ends up in logs and answers: printable ASCII only. */
	for (i = 0; e->msg[i] != '\0'; i++)
		if ((unsigned char)e->msg[i] < 0x20 || (unsigned char)e->msg[i] >= 0x7f)
			e->msg[i] = '?';
}

/*
 * Predicate: an Upwork id (an organization for X-Upwork-API-TenantId, a
 * posting, a client): 1..64 of [A-Za-z0-9_.~-].
 */
int
upwork_id_valid(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.~-", s[i]) == NULL)
			return 0;
	return 1;
}

/* Predicate: Upwork's public job key, "~" and 1..64 letters and digits. */
int
upwork_ciphertext_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n < 2 || n > 65 || s[0] != '~')
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * Retry-After: delta seconds or an HTTP date.  Returns milliseconds
 * from now (0 for a date in the past), or -1 when it is neither.
 */
long long
upwork_retry_after(const char *v, time_t now)
{
	struct tm	tm;
	long long	s;
	char		*end;
	time_t		t;

	while (*v == ' ')
		v++;
	if (isdigit((unsigned char)*v)) {
		if (parse_int64(v, &s) == -1 || s < 0 || s > 86400)
			return -1;
		return s * 1000;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL ||
	    *end != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	return t > now ? (long long)(t - now) * 1000 : 0;
}

/* The skills as skillExpression_eq: any of them; several words are a phrase. */
static void
skill_expression(struct buf *b, const char *const *skills, size_t n)
{
	size_t		 i;
	const char	*p;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_puts(b, " OR ");
		if (strpbrk(skills[i], " \t") == NULL) {
			buf_puts(b, skills[i]);
			continue;
		}
		buf_putc(b, '"');
		for (p = skills[i]; *p != '\0'; p++)
			if (*p != '"' && *p != '\\')
				buf_putc(b, *p);
		buf_putc(b, '"');
	}
}

static json_object *
range_json(const struct upwork_filter *f)
{
	json_object	*r = json_object_new_object();

	if (f->has_min)
		json_object_object_add(r, "rangeStart", json_object_new_int64(f->min));
	if (f->has_max)
		json_object_object_add(r, "rangeEnd", json_object_new_int64(f->max));
	return r;
}

/*
 * The request body of a search: {"query": ..., "variables": {"filter":
 * {...}}}.  A budget goes to budgetRange_eq for fixed-price searches and
 * hourlyRate_eq for hourly ones (the caller runs one search of each kind
 * when a saved search has a budget).  Returns a malloc'd string.
 */
char *
upwork_search_body(const struct upwork_filter *f)
{
	json_object	*root = json_object_new_object(), *vars, *filter, *pag, *locs;
	struct buf	 b = { 0 };
	char		*out;

	filter = json_object_new_object();
	if (f->query != NULL && *f->query != '\0')
		json_object_object_add(filter, "searchExpression_eq",
		    json_object_new_string(f->query));
	if (f->nskills > 0) {
		skill_expression(&b, f->skills, f->nskills);
		json_object_object_add(filter, "skillExpression_eq",
		    json_object_new_string(b.data));
	}
	if (f->location != NULL && *f->location != '\0') {
		locs = json_object_new_array();
		json_object_array_add(locs, json_object_new_string(f->location));
		json_object_object_add(filter, "locations_any", locs);
	}
	if (f->job_type != UPW_JOBS_ANY)
		json_object_object_add(filter, "jobType_eq", json_object_new_string(
		    f->job_type == UPW_JOBS_HOURLY ? "HOURLY" : "FIXED"));
	if ((f->has_min || f->has_max) && f->job_type != UPW_JOBS_ANY)
		json_object_object_add(filter, f->job_type == UPW_JOBS_HOURLY ?
		    "hourlyRate_eq" : "budgetRange_eq", range_json(f));
	if (f->experience_level != NULL)
		json_object_object_add(filter, "experienceLevel_eq",
		    json_object_new_string(f->experience_level));
	if (f->verified_only)
		json_object_object_add(filter, "verifiedPaymentOnly_eq",
		    json_object_new_boolean(1));
	pag = json_object_new_object();
	json_object_object_add(pag, "first", json_object_new_int(f->first));
	if (f->after != NULL)
		json_object_object_add(pag, "after", json_object_new_string(f->after));
	json_object_object_add(filter, "pagination_eq", pag);
	vars = json_object_new_object();
	json_object_object_add(vars, "filter", filter);
	json_object_object_add(root, "query", json_object_new_string(search_query));
	json_object_object_add(root, "variables", vars);
	out = xstrdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	buf_free(&b);
	return out;
}

/* The request body of marketplaceJobPosting(id); a malloc'd string. */
char *
upwork_details_body(const char *job_id)
{
	json_object	*root = json_object_new_object(), *vars;
	char		*out;

	vars = json_object_new_object();
	json_object_object_add(vars, "id", json_object_new_string(job_id));
	json_object_object_add(root, "query", json_object_new_string(details_query));
	json_object_object_add(root, "variables", vars);
	out = xstrdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return out;
}

/* --- validation of responses ------------------------------------------- */

/* Where in the response a check is, for the error message. */
struct vctx {
	struct arena		*arena;
	struct upwork_err	*e;
	char			 path[96];
	int			 failed;
};

static void PRINTF(3, 4)
bad(struct vctx *v, const char *field, const char *fmt, ...)
{
	char	why[160];
	va_list	ap;

	if (v->failed++)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	upwork_fail(v->e, UPW_MALFORMED, 200, "malformed Upwork response: "
	    "%s%s%s: %s", v->path, *v->path && field ? "." : "", field ? field : "",
	    why);
}

/* A member that may be absent or null: NULL then. */
static json_object *
member(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/*
 * A string member: absent or null gives NULL (an error when required);
 * otherwise a string of min..max characters with no NUL inside, copied
 * into the arena.
 */
static char *
str(struct vctx *v, json_object *o, const char *key, size_t min, size_t max,
    int required)
{
	json_object	*m = member(o, key);
	const char	*s;
	size_t		 len;

	if (m == NULL) {
		if (required)
			bad(v, key, "missing");
		return NULL;
	}
	if (!json_object_is_type(m, json_type_string)) {
		bad(v, key, "must be a string");
		return NULL;
	}
	s = json_object_get_string(m);
	len = (size_t)json_object_get_string_len(m);
	if (strlen(s) != len || utf8_length(s, len) < min ||
	    utf8_length(s, len) > max) {
		bad(v, key, "must be %zu to %zu characters", min, max);
		return NULL;
	}
	return arena_strndup(v->arena, s, len);
}

/* An integer member in 0..max; absent or null gives def. */
static int
count(struct vctx *v, json_object *o, const char *key, int max, int def)
{
	json_object	*m = member(o, key);
	int64_t		 n;

	if (m == NULL)
		return def;
	if (!json_object_is_type(m, json_type_int) ||
	    (n = json_object_get_int64(m)) < 0 || n > max) {
		bad(v, key, "must be an integer in 0..%d", max);
		return def;
	}
	return (int)n;
}

/* A JSON number in lo..hi (int or double); absent or null: *has = 0. */
static double
number(struct vctx *v, json_object *o, const char *key, double lo, double hi,
    int *has)
{
	json_object	*m = member(o, key);
	double		 d;

	*has = 0;
	if (m == NULL)
		return 0;
	if (!json_object_is_type(m, json_type_int) &&
	    !json_object_is_type(m, json_type_double)) {
		bad(v, key, "must be a number");
		return 0;
	}
	d = json_object_get_double(m);
	if (!isfinite(d) || d < lo || d > hi) {
		bad(v, key, "must be a number in %g..%g", lo, hi);
		return 0;
	}
	*has = 1;
	return d;
}

/*
 * Upwork's Money {rawValue: "123.45", currency: "USD"}: absent or null
 * gives *has = 0.  The amount is a non-negative decimal string.
 */
static double
money(struct vctx *v, json_object *o, const char *key, char cur[4], int *has)
{
	json_object	*m = member(o, key);
	const char	*s, *p;
	char		*c, *end;
	double		 d;
	int		 dot = 0, digits = 0;

	*has = 0;
	if (m == NULL)
		return 0;
	if (!json_object_is_type(m, json_type_object)) {
		bad(v, key, "must be a Money object");
		return 0;
	}
	if (!json_object_is_type(member(m, "rawValue"), json_type_string)) {
		bad(v, key, "rawValue must be a decimal string");
		return 0;
	}
	s = json_object_get_string(member(m, "rawValue"));
	for (p = s; *p != '\0'; p++) {
		if (*p == '.' && !dot && digits > 0)
			dot = 1;
		else if (isdigit((unsigned char)*p))
			digits++;
		else
			break;
	}
	d = strtod(s, &end);
	if (*p != '\0' || digits == 0 || digits > 20 || end != p ||
	    !isfinite(d) || d > UPW_MONEY_MAX) {
		bad(v, key, "rawValue must be a decimal string");
		return 0;
	}
	if ((c = str(v, m, "currency", 3, 3, 0)) != NULL) {
		if (!isupper((unsigned char)c[0]) || !isupper((unsigned char)c[1]) ||
		    !isupper((unsigned char)c[2])) {
			bad(v, key, "currency must be an ISO 4217 code");
			return 0;
		}
		memcpy(cur, c, 4);
	}
	*has = 1;
	return d;
}

/* Predicate: an ISO 8601 UTC or offset time as Upwork writes them. */
static int
iso_time_valid(const char *s)
{
	static const char	pat[] = "dddd-dd-ddTdd:dd:dd";
	size_t			i, n = strlen(s);

	if (n < sizeof(pat) - 1 || n > 35)
		return 0;
	for (i = 0; i < sizeof(pat) - 1; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	s += i;
	if (*s == '.') {
		for (s++, i = 0; isdigit((unsigned char)*s); s++)
			i++;
		if (i == 0 || i > 9)
			return 0;
	}
	if (strcmp(s, "Z") == 0)
		return 1;
	return (s[0] == '+' || s[0] == '-') && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && s[3] == ':' &&
	    isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]) &&
	    s[6] == '\0';
}

static char *
iso_time(struct vctx *v, json_object *o, const char *key, int required)
{
	char	*s = str(v, o, key, 1, 40, required);

	if (s != NULL && !iso_time_valid(s)) {
		bad(v, key, "must be an ISO 8601 time");
		return NULL;
	}
	return s;
}

static char *
id(struct vctx *v, json_object *o, const char *key, int required)
{
	char	*s = str(v, o, key, 1, 64, required);

	if (s != NULL && !upwork_id_valid(s)) {
		bad(v, key, "must be an Upwork id");
		return NULL;
	}
	return s;
}

static void
parse_client(struct vctx *v, json_object *c, struct upwork_client_info *ci)
{
	char		cur[4] = "USD", *status;
	json_object	*loc;
	size_t		len;

	memset(ci, 0, sizeof(*ci));
	if (c == NULL)
		return;
	if (!json_object_is_type(c, json_type_object)) {
		bad(v, "client", "must be an object");
		return;
	}
	ci->present = 1;
	len = strlen(v->path);
	snprintf(v->path + len, sizeof(v->path) - len, ".client");
	ci->uid = id(v, c, "companyOrgUid", 0);
	ci->total_hires = count(v, c, "totalHires", 10000000, 0);
	ci->total_posted_jobs = count(v, c, "totalPostedJobs", 10000000, 0);
	ci->total_reviews = count(v, c, "totalReviews", 10000000, 0);
	ci->total_spent = money(v, c, "totalSpent", cur, &ci->has_spent);
	ci->total_feedback = number(v, c, "totalFeedback", 0, 5, &ci->has_feedback);
	status = str(v, c, "verificationStatus", 1, 40, 0);
	ci->verified = status != NULL && strcmp(status, "VERIFIED") == 0;
	ci->member_since = iso_time(v, c, "memberSinceDateTime", 0);
	if ((loc = member(c, "location")) != NULL) {
		if (!json_object_is_type(loc, json_type_object)) {
			bad(v, "location", "must be an object");
			v->path[len] = '\0';
			return;
		}
		ci->country = str(v, loc, "country", 1, 100, 0);
		ci->city = str(v, loc, "city", 1, 100, 0);
	}
	v->path[len] = '\0';
}

/* The skills as lower-case display names (prettyName, else name). */
static void
parse_skills(struct vctx *v, json_object *a, struct upwork_job *j)
{
	size_t	 i, n, k;
	char	*s;

	if (a == NULL)
		return;
	if (!json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) > UPW_SKILLS_MAX) {
		bad(v, "skills", "must be an array of at most %d skills",
		    UPW_SKILLS_MAX);
		return;
	}
	j->skills = arena_alloc(v->arena, (n + 1) * sizeof(char *));
	for (i = 0; i < n; i++) {
		json_object *sk = json_object_array_get_idx(a, i);

		if (!json_object_is_type(sk, json_type_object)) {
			bad(v, "skills", "must be objects");
			return;
		}
		if ((s = str(v, sk, "prettyName", 1, 100, 0)) == NULL &&
		    (s = str(v, sk, "name", 1, 100, 1)) == NULL)
			return;
		for (k = 0; s[k] != '\0'; k++)
			s[k] = (char)tolower((unsigned char)s[k]);
		j->skills[j->nskills++] = s;
	}
}

static void
parse_job(struct vctx *v, json_object *node, struct upwork_job *j)
{
	static const char *const levels[] = { "ENTRY_LEVEL", "INTERMEDIATE", "EXPERT" };
	char		 cur[4] = "USD";
	double		 amount, hmin, hmax;
	int		 has_amount, has_hmin, has_hmax;
	size_t		 i;

	memset(j, 0, sizeof(*j));
	if (!json_object_is_type(node, json_type_object)) {
		bad(v, NULL, "must be an object");
		return;
	}
	j->id = id(v, node, "id", 1);
	j->title = str(v, node, "title", 1, 500, 1);
	j->description = str(v, node, "description", 0, 50000, 0);
	if ((j->ciphertext = str(v, node, "ciphertext", 2, 65, 0)) != NULL &&
	    !upwork_ciphertext_valid(j->ciphertext))
		bad(v, "ciphertext", "must be ~ and letters or digits");
	parse_skills(v, member(node, "skills"), j);
	amount = money(v, node, "amount", cur, &has_amount);
	hmin = money(v, node, "hourlyBudgetMin", cur, &has_hmin);
	hmax = money(v, node, "hourlyBudgetMax", cur, &has_hmax);
	j->experience_level = str(v, node, "experienceLevel", 1, 40, 0);
	j->applicants = count(v, node, "totalApplicants", 100000000, -1);
	j->created = iso_time(v, node, "createdDateTime", 1);
	parse_client(v, member(node, "client"), &j->client);
	if (v->failed)
		return;
	/* A level Upwork may add later is kept in raw, not in the column. */
	for (i = 0; j->experience_level != NULL && i < nitems(levels); i++)
		if (strcmp(j->experience_level, levels[i]) == 0)
			break;
	if (i == nitems(levels))
		j->experience_level = NULL;
	/* Hourly when a rate is given; fixed-price otherwise, 0 is no amount. */
	j->hourly = has_hmin || has_hmax;
	if (j->hourly) {
		j->has_min = has_hmin;
		j->budget_min = hmin;
		j->has_max = has_hmax;
		j->budget_max = hmax;
	} else if (has_amount && amount > 0) {
		j->has_min = j->has_max = 1;
		j->budget_min = j->budget_max = amount;
	}
	if (j->has_min && j->has_max && j->budget_min > j->budget_max)
		bad(v, "hourlyBudgetMax", "is below hourlyBudgetMin");
	memcpy(j->currency, cur, sizeof(j->currency));
	j->raw = arena_strdup(v->arena, json_object_to_json_string_ext(node,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/*
 * The GraphQL envelope: a JSON object, no errors, data an object.
 * Returns the parsed root (the caller puts it) with *data pointing into
 * it, or NULL with e set.
 */
static json_object *
graphql_data(const char *body, size_t len, struct upwork_err *e,
    json_object **data)
{
	json_object	*root, *errs, *first, *ext;
	const char	*why, *msg, *code;

	if ((root = json_parse_strict(body, len, UPW_JSON_DEPTH, &why)) == NULL) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed Upwork response: %s",
		    why);
		return NULL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed Upwork response: "
		    "not a JSON object");
		goto fail;
	}
	errs = member(root, "errors");
	if (errs != NULL && (!json_object_is_type(errs, json_type_array) ||
	    json_object_array_length(errs) > 0)) {
		first = json_object_is_type(errs, json_type_array) ?
		    json_object_array_get_idx(errs, 0) : NULL;
		msg = json_object_get_string(member(first, "message"));
		ext = member(first, "extensions");
		code = json_object_get_string(member(ext, "code"));
		upwork_fail(e, UPW_GRAPHQL, 200, "Upwork GraphQL error: %.200s%s%s%s",
		    msg != NULL ? msg : "(no message)", code ? " (code " : "",
		    code ? code : "", code ? ")" : "");
		goto fail;
	}
	*data = member(root, "data");
	if (*data == NULL || !json_object_is_type(*data, json_type_object)) {
		upwork_fail(e, UPW_MALFORMED, 200, "malformed Upwork response: "
		    "no data");
		goto fail;
	}
	return root;
fail:
	json_object_put(root);
	return NULL;
}

void
upwork_page_free(struct upwork_page *p)
{
	arena_reset(&p->arena);
	memset(p, 0, sizeof(*p));
}

/*
 * Parse a marketplaceJobPostingsSearch response into p: every edge is
 * validated before p is filled.  Returns 0, or -1 with e set and p
 * empty.  The caller frees p with upwork_page_free() either way.
 */
int
upwork_parse_page(const char *body, size_t len, struct upwork_page *p,
    struct upwork_err *e)
{
	struct vctx	 v = { &p->arena, e, "", 0 };
	json_object	*root, *data, *search, *edges, *info;
	size_t		 i, n;
	int		 has;

	memset(p, 0, sizeof(*p));
	if ((root = graphql_data(body, len, e, &data)) == NULL)
		return -1;
	search = member(data, "marketplaceJobPostingsSearch");
	if (search == NULL || !json_object_is_type(search, json_type_object)) {
		bad(&v, "marketplaceJobPostingsSearch", "missing");
		goto out;
	}
	p->total = (long long)number(&v, search, "totalCount", 0, 1e12, &has);
	edges = member(search, "edges");
	if (edges == NULL || !json_object_is_type(edges, json_type_array) ||
	    (n = json_object_array_length(edges)) > UPW_EDGES_MAX) {
		bad(&v, "edges", "must be an array of at most %d", UPW_EDGES_MAX);
		goto out;
	}
	p->jobs = arena_alloc(&p->arena, (n + 1) * sizeof(*p->jobs));
	for (i = 0; i < n && !v.failed; i++) {
		snprintf(v.path, sizeof(v.path), "edges[%zu].node", i);
		parse_job(&v, member(json_object_array_get_idx(edges, i), "node"),
		    &p->jobs[i]);
	}
	p->njobs = n;
	*v.path = '\0';
	info = member(search, "pageInfo");
	if (info == NULL || !json_object_is_type(info, json_type_object) ||
	    !json_object_is_type(member(info, "hasNextPage"), json_type_boolean)) {
		bad(&v, "pageInfo", "must have hasNextPage");
		goto out;
	}
	p->has_next = json_object_get_boolean(member(info, "hasNextPage"));
	p->end_cursor = str(&v, info, "endCursor", 1, 200, p->has_next);
out:
	json_object_put(root);
	if (v.failed) {
		upwork_page_free(p);
		return -1;
	}
	return 0;
}

void
upwork_details_free(struct upwork_details *d)
{
	arena_reset(&d->arena);
	memset(d, 0, sizeof(*d));
}

/*
 * Parse a marketplaceJobPosting(id) response; like upwork_parse_page().
 * A posting Upwork no longer has gives 0 with d->raw NULL.
 */
int
upwork_parse_details(const char *body, size_t len, struct upwork_details *d,
    struct upwork_err *e)
{
	struct vctx	 v = { &d->arena, e, "marketplaceJobPosting", 0 };
	json_object	*root, *data, *post, *company, *pub;

	memset(d, 0, sizeof(*d));
	if ((root = graphql_data(body, len, e, &data)) == NULL)
		return -1;
	/* null: the posting is gone (closed, removed); nothing to say. */
	if ((post = member(data, "marketplaceJobPosting")) == NULL)
		goto out;
	if (!json_object_is_type(post, json_type_object)) {
		bad(&v, NULL, "must be an object");
		goto out;
	}
	company = member(member(post, "ownership"), "company");
	if (company != NULL && json_object_is_type(company, json_type_object)) {
		d->company_id = id(&v, company, "id", 0);
		d->company_name = str(&v, company, "name", 1, 200, 0);
	}
	pub = member(post, "clientCompanyPublic");
	if (pub != NULL && json_object_is_type(pub, json_type_object)) {
		d->city = str(&v, pub, "city", 1, 100, 0);
		d->state = str(&v, pub, "state", 1, 100, 0);
		d->timezone = str(&v, pub, "timezone", 1, 100, 0);
	}
	d->raw = arena_strdup(&d->arena, json_object_to_json_string_ext(post,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
out:
	json_object_put(root);
	if (v.failed) {
		upwork_details_free(d);
		return -1;
	}
	return 0;
}
