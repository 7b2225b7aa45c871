/* profile.c: the freelancer's profile as the proposal writers read it: one statement, one row reader. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

/*
 * The caller's profile in this tenant (no row when the user was never
 * seen).  Extending the profile (portfolio, preferred tone) means
 * adding columns here and reading them in profile_from_row(), nowhere
 * else.
 */
const char PROFILE_SQL[] =
    "SELECT u.name, u.title, array_to_json(u.skills), u.hourly_rate, u.bio"
    " FROM users u WHERE u.id = app_user()";

static const char *
dup(struct arena *a, const char *s)
{
	return s != NULL ? arena_strdup(a, s) : NULL;
}

/* Fill p from row of res (PROFILE_SQL's columns), copied into a; an empty profile when res has no such row. */
void
profile_from_row(struct arena *a, const PGresult *res, int row,
    struct profile *p)
{
	json_object	*skills, *item;
	const char	*why, *v;
	size_t		 i, n;

	memset(p, 0, sizeof(*p));
	p->hourly_rate = -1;
	if (res == NULL || row >= PQntuples(res))
		return;
	p->name = dup(a, db_value(res, row, 0));
	p->title = dup(a, db_value(res, row, 1));
	if ((v = db_value(res, row, 3)) != NULL)
		p->hourly_rate = strtod(v, NULL);
	p->bio = dup(a, db_value(res, row, 4));
	v = PQgetvalue(res, row, 2);
	if ((skills = json_parse_strict(v, strlen(v), 4, &why)) == NULL ||
	    !json_object_is_type(skills, json_type_array)) {
		json_object_put(skills);
		return;
	}
	n = json_object_array_length(skills);
	p->skills.v = arena_alloc(a, (n ? n : 1) * sizeof(char *));
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(skills, i);
		if (json_object_is_type(item, json_type_string))
			p->skills.v[p->skills.n++] = arena_strdup(a,
			    json_object_get_string(item));
	}
	json_object_put(skills);
}
