/* profile.c: the freelancer's profile as the proposal writers read it: one statement, one row reader. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define PROFILE_SKILLS_MAX	64	/* the profile holds at most 50 */

/*
 * The caller's profile in this tenant (no row when the user was never
 * seen).  The columns the match score reads come first, as
 * RANK_PROFILE_SQL selects them, then the rest of the profile.
 * Extending the profile means adding columns here and reading them in
 * profile_from_row(), nowhere else.
 */
const char PROFILE_SQL[] =
    "SELECT " PROFILE_MATCH_COLUMNS ", u.name, u.title, u.bio, u.tone,"
    " u.portfolio FROM users u WHERE u.id = app_user()";
enum { COL_SKILLS, COL_RATE_MIN, COL_RATE, COL_THRESHOLD, COL_NAME, COL_TITLE,
    COL_BIO, COL_TONE, COL_PORTFOLIO };

static const char *
dup(struct arena *a, const char *s)
{
	return s != NULL ? arena_strdup(a, s) : NULL;
}

/* A text[] value into l, in its order, NULL elements dropped. */
static void
text_list(struct arena *a, const char *v, size_t len, struct strlist *l)
{
	char	*items[PROFILE_SKILLS_MAX], *s;
	size_t	 n, i;

	l->n = 0;
	s = arena_strndup(a, v, len);
	if (pg_array_parse(s, items, nitems(items), &n) == -1)
		return;
	l->v = arena_alloc(a, (n ? n : 1) * sizeof(char *));
	for (i = 0; i < n; i++)
		if (items[i] != NULL)
			l->v[l->n++] = items[i];
}

static const char *
string_member(struct arena *a, json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return arena_strdup(a, json_object_get_string(v));
}

/*
 * The portfolio column (a JSON array the API validated when it was
 * saved); an item without a title is skipped, as is anything not shaped
 * like one.
 */
static void
portfolio_read(struct arena *a, const char *v, struct profile *p)
{
	json_object	*arr, *item, *skills, *s;
	const char	*why;
	size_t		 i, k, n;
	struct portfolio_item *it;

	if ((arr = json_parse_strict(v, strlen(v), 4, &why)) == NULL)
		return;
	n = json_object_is_type(arr, json_type_array) ?
	    json_object_array_length(arr) : 0;
	for (i = 0; i < n && p->nportfolio < PROFILE_PORTFOLIO_MAX; i++) {
		item = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(item, json_type_object))
			continue;
		it = &p->portfolio[p->nportfolio];
		memset(it, 0, sizeof(*it));
		if ((it->title = string_member(a, item, "title")) == NULL)
			continue;
		it->description = string_member(a, item, "description");
		it->url = string_member(a, item, "url");
		if (json_object_object_get_ex(item, "skills", &skills) &&
		    json_object_is_type(skills, json_type_array)) {
			k = json_object_array_length(skills);
			it->skills.v = arena_alloc(a, (k ? k : 1) * sizeof(char *));
			for (k = 0; k < json_object_array_length(skills); k++)
				if (json_object_is_type(s = json_object_array_get_idx(
				    skills, k), json_type_string))
					it->skills.v[it->skills.n++] = arena_strdup(a,
					    json_object_get_string(s));
		}
		p->nportfolio++;
	}
	json_object_put(arr);
}

/* Fill p from row of res (PROFILE_SQL's columns), copied into a; an empty profile when res has no such row. */
void
profile_from_row(struct arena *a, const PGresult *res, int row,
    struct profile *p)
{
	const char	*v;
	enum tone	 t;

	memset(p, 0, sizeof(*p));
	p->hourly_rate = p->hourly_rate_min = -1;
	p->threshold = p->tone = -1;
	if (res == NULL || row >= PQntuples(res) || PQnfields(res) <= COL_PORTFOLIO)
		return;
	text_list(a, PQgetvalue(res, row, COL_SKILLS),
	    (size_t)PQgetlength(res, row, COL_SKILLS), &p->skills);
	if ((v = db_value(res, row, COL_RATE_MIN)) != NULL)
		p->hourly_rate_min = strtod(v, NULL);
	if ((v = db_value(res, row, COL_RATE)) != NULL)
		p->hourly_rate = strtod(v, NULL);
	if ((v = db_value(res, row, COL_THRESHOLD)) != NULL)
		p->threshold = atoi(v);
	p->name = dup(a, db_value(res, row, COL_NAME));
	p->title = dup(a, db_value(res, row, COL_TITLE));
	p->bio = dup(a, db_value(res, row, COL_BIO));
	if ((v = db_value(res, row, COL_TONE)) != NULL)
		for (t = 0; t < TONE__MAX; t++)
			if (strcmp(tone_names[t], v) == 0)
				p->tone = (int)t;
	if ((v = db_value(res, row, COL_PORTFOLIO)) != NULL)
		portfolio_read(a, v, p);
}
