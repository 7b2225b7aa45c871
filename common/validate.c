/* validate.c: field tables for query strings and JSON bodies, checked before any handler reads them. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define FIELD_BIT(i)	(1ULL << (i))

static void
verr(struct valid_err *e, const char *field, const char *fmt, ...) PRINTF(3, 4);

/* Record one field error; the details array collects all of them. */
static void
verr(struct valid_err *e, const char *field, const char *fmt, ...)
{
	json_object	*d = json_object_new_object();
	struct buf	 msg = { 0 };
	va_list		 ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (e->details == NULL)
		e->details = json_object_new_array();
	if (e->prefix != NULL) {
		struct buf	path = { 0 };

		buf_printf(&path, "%s%s", e->prefix, field);
		json_object_object_add(d, "field",
		    json_object_new_string_len(path.data, (int)path.len));
		buf_free(&path);
	} else
		json_object_object_add(d, "field", json_object_new_string(field));
	json_object_object_add(d, "message",
	    json_object_new_string_len(msg.data, (int)msg.len));
	json_object_array_add(e->details, d);
	buf_free(&msg);
	e->err = ERR_VALIDATION;
}

/* Predicate: canonical 8-4-4-4-12 hexadecimal UUID, either case. */
int
uuid_valid(const char *s)
{
	size_t	i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static void
lower_ascii(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/*
 * Check one string (already known to be UTF-8) against a length range
 * in characters and store an arena copy.  Returns -1 after verr().
 */
static int
check_string(struct arena *a, const struct field *f, const char *s, size_t len,
    long long min, long long max, char **out, struct valid_err *e)
{
	size_t	chars;

	if (memchr(s, '\0', len) != NULL || !utf8_valid(s, len)) {
		verr(e, f->name, "must be valid UTF-8 text without NUL");
		return -1;
	}
	chars = utf8_length(s, len);
	if ((long long)chars < min || (long long)chars > max) {
		if (min == max)
			verr(e, f->name, "must be %lld characters", min);
		else
			verr(e, f->name, "must be %lld to %lld characters long",
			    min, max);
		return -1;
	}
	*out = arena_strndup(a, s, len);
	if (f->flags & F_LOWER)
		lower_ascii(*out);
	return 0;
}

static int
check_range(const struct field *f, long long v, struct valid_err *e)
{
	if (v < f->min || v > f->max) {
		verr(e, f->name, "must be between %lld and %lld", f->min, f->max);
		return -1;
	}
	return 0;
}

/* Strict decimal number: -?digits(.digits)?, nothing else. */
static int
parse_number(const char *s, double *out)
{
	const char	*p = s;
	char		*end;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p != '\0' || p - s > 32)
		return -1;
	*out = strtod(s, &end);
	return isfinite(*out) ? 0 : -1;
}

static int
check_enum(const struct field *f, const char *s, int *out, struct valid_err *e)
{
	const char *const	*choices = f->choices;
	struct buf		 list = { 0 };
	int			 i;

	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], s) == 0) {
			*out = i;
			return 0;
		}
	for (i = 0; choices[i] != NULL; i++)
		buf_printf(&list, "%s%s", i ? ", " : "", choices[i]);
	verr(e, f->name, "must be one of: %s", list.data);
	buf_free(&list);
	return -1;
}

/* A calendar date, stored as days since 1970-01-01, within min..max days. */
static int
check_date(const struct field *f, const char *s, long long *out,
    struct valid_err *e)
{
	char	lo[16], hi[16];

	if (parse_date(s, out) == -1) {
		verr(e, f->name, "must be a date such as 2024-05-01");
		return -1;
	}
	if (*out < f->min || *out > f->max) {
		format_date(lo, sizeof(lo), f->min);
		format_date(hi, sizeof(hi), f->max);
		verr(e, f->name, "must be between %s and %s", lo, hi);
		return -1;
	}
	return 0;
}

/* An RFC 3339 time, stored as microseconds since the epoch, within min..max. */
static int
check_time(const struct field *f, const char *s, long long *out,
    struct valid_err *e)
{
	char	lo[40], hi[40];

	if (parse_time(s, out) == -1) {
		verr(e, f->name, "must be an ISO 8601 time such as "
		    "2024-05-01T12:00:00Z");
		return -1;
	}
	if (*out < f->min || *out > f->max) {
		format_time(lo, sizeof(lo), f->min);
		format_time(hi, sizeof(hi), f->max);
		verr(e, f->name, "must be between %s and %s", lo, hi);
		return -1;
	}
	return 0;
}

static int
check_uuid(struct arena *a, const struct field *f, const char *s, char **out,
    struct valid_err *e)
{
	if (!uuid_valid(s)) {
		verr(e, f->name, "must be a UUID");
		return -1;
	}
	*out = arena_strdup(a, s);
	lower_ascii(*out);
	return 0;
}

static void
list_init(struct arena *a, struct strlist *l, size_t n)
{
	l->v = arena_alloc(a, (n ? n : 1) * sizeof(char *));
	l->n = 0;
}

/* A scalar from query-string text into the struct at f->off. */
static int
parse_text(struct arena *a, const struct field *f, const char *s, void *out,
    struct valid_err *e)
{
	char		*dst = (char *)out + f->off, *copy, *item, *save;
	struct strlist	*l;
	long long	 v;
	double		 d;
	size_t		 n;

	switch (f->type) {
	case FT_INT:
		if (parse_int64(s, &v) == -1) {
			verr(e, f->name, "must be an integer");
			return -1;
		}
		if (check_range(f, v, e) == -1)
			return -1;
		*(long long *)dst = v;
		return 0;
	case FT_NUMBER:
		if (parse_number(s, &d) == -1) {
			verr(e, f->name, "must be a number");
			return -1;
		}
		if (d < (double)f->min || d > (double)f->max) {
			verr(e, f->name, "must be between %lld and %lld",
			    f->min, f->max);
			return -1;
		}
		*(double *)dst = d;
		return 0;
	case FT_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
			*(int *)dst = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
			*(int *)dst = 0;
		else {
			verr(e, f->name, "must be true or false");
			return -1;
		}
		return 0;
	case FT_STRING:
		return check_string(a, f, s, strlen(s), f->min, f->max,
		    (char **)dst, e);
	case FT_ENUM:
		return check_enum(f, s, (int *)dst, e);
	case FT_UUID:
		return check_uuid(a, f, s, (char **)dst, e);
	case FT_DATE:
		return check_date(f, s, (long long *)dst, e);
	case FT_TIME:
		return check_time(f, s, (long long *)dst, e);
	case FT_OBJLIST:
		verr(e, f->name, "cannot be given here");
		return -1;
	case FT_STRLIST:
		l = (struct strlist *)dst;
		copy = arena_strdup(a, s);
		for (n = 1, item = copy; *item != '\0'; item++)
			n += *item == ',';
		list_init(a, l, n);
		for (item = strtok_r(copy, ",", &save); item != NULL;
		    item = strtok_r(NULL, ",", &save)) {
			while (*item == ' ')
				item++;
			n = strlen(item);
			while (n > 0 && item[n - 1] == ' ')
				item[--n] = '\0';
			if (n == 0)
				continue;
			if (check_string(a, f, item, n, 1, f->item_max,
			    &l->v[l->n], e) == -1)
				return -1;
			l->n++;
		}
		if ((long long)l->n < f->min || (long long)l->n > f->max) {
			verr(e, f->name, "must have %lld to %lld items",
			    f->min, f->max);
			return -1;
		}
		return 0;
	}
	return -1;
}

static size_t	fields_json(struct arena *, const struct field *, size_t,
		    json_object *, void *, uint64_t *, struct valid_err *);

static size_t
nerrors(const struct valid_err *e)
{
	return e->details != NULL ? json_object_array_length(e->details) : 0;
}

/*
 * An array of objects, each checked against the item table of
 * f->choices (a struct field_obj) into a zeroed struct of its size.
 * Errors inside an item name their path: "portfolio[2].title".
 */
static int
parse_objlist(struct arena *a, const struct field *f, json_object *v,
    struct objlist *l, struct valid_err *e)
{
	const struct field_obj	*o = f->choices;
	const char		*outer = e->prefix;
	json_object		*item;
	struct buf		 path = { 0 };
	uint64_t		 set;
	size_t			 i, n, before = nerrors(e);

	if (!json_object_is_type(v, json_type_array)) {
		verr(e, f->name, "must be an array of objects");
		return -1;
	}
	n = json_object_array_length(v);
	if ((long long)n < f->min || (long long)n > f->max) {
		verr(e, f->name, "must have %lld to %lld items", f->min, f->max);
		return -1;
	}
	l->v = arena_alloc(a, (n ? n : 1) * o->size);
	memset(l->v, 0, (n ? n : 1) * o->size);
	l->n = n;
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		buf_reset(&path);
		buf_printf(&path, "%s[%zu]", f->name, i);
		if (!json_object_is_type(item, json_type_object)) {
			verr(e, path.data, "must be an object");
			continue;
		}
		buf_reset(&path);
		buf_printf(&path, "%s%s[%zu].", outer ? outer : "", f->name, i);
		e->prefix = path.data;
		(void)fields_json(a, o->fields, o->nfields, item,
		    (char *)l->v + i * o->size, &set, e);
		e->prefix = outer;
	}
	buf_free(&path);
	return nerrors(e) > before ? -1 : 0;
}

/* A JSON value into the struct at f->off. */
static int
parse_json(struct arena *a, const struct field *f, json_object *v, void *out,
    struct valid_err *e)
{
	char		*dst = (char *)out + f->off;
	struct strlist	*l;
	json_object	*item;
	size_t		 i, n;
	double		 d;

	switch (f->type) {
	case FT_INT:
		if (!json_object_is_type(v, json_type_int)) {
			verr(e, f->name, "must be an integer");
			return -1;
		}
		if (check_range(f, json_object_get_int64(v), e) == -1)
			return -1;
		*(long long *)dst = json_object_get_int64(v);
		return 0;
	case FT_NUMBER:
		if (!json_object_is_type(v, json_type_int) &&
		    !json_object_is_type(v, json_type_double)) {
			verr(e, f->name, "must be a number");
			return -1;
		}
		d = json_object_get_double(v);
		if (!isfinite(d) || d < (double)f->min || d > (double)f->max) {
			verr(e, f->name, "must be between %lld and %lld",
			    f->min, f->max);
			return -1;
		}
		*(double *)dst = d;
		return 0;
	case FT_BOOL:
		if (!json_object_is_type(v, json_type_boolean)) {
			verr(e, f->name, "must be true or false");
			return -1;
		}
		*(int *)dst = json_object_get_boolean(v);
		return 0;
	case FT_STRING:
	case FT_ENUM:
	case FT_UUID:
	case FT_DATE:
	case FT_TIME:
		if (!json_object_is_type(v, json_type_string)) {
			verr(e, f->name, "must be a string");
			return -1;
		}
		if (f->type == FT_ENUM)
			return check_enum(f, json_object_get_string(v),
			    (int *)dst, e);
		if (f->type == FT_UUID)
			return check_uuid(a, f, json_object_get_string(v),
			    (char **)dst, e);
		if (f->type == FT_DATE || f->type == FT_TIME)
			return parse_text(a, f, json_object_get_string(v),
			    out, e);
		return check_string(a, f, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v), f->min, f->max,
		    (char **)dst, e);
	case FT_STRLIST:
		if (!json_object_is_type(v, json_type_array)) {
			verr(e, f->name, "must be an array of strings");
			return -1;
		}
		n = json_object_array_length(v);
		if ((long long)n < f->min || (long long)n > f->max) {
			verr(e, f->name, "must have %lld to %lld items",
			    f->min, f->max);
			return -1;
		}
		l = (struct strlist *)dst;
		list_init(a, l, n);
		for (i = 0; i < n; i++) {
			item = json_object_array_get_idx(v, i);
			if (!json_object_is_type(item, json_type_string)) {
				verr(e, f->name, "must be an array of strings");
				return -1;
			}
			if (check_string(a, f, json_object_get_string(item),
			    (size_t)json_object_get_string_len(item), 1,
			    f->item_max, &l->v[l->n], e) == -1)
				return -1;
			l->n++;
		}
		return 0;
	case FT_OBJLIST:
		return parse_objlist(a, f, v, (struct objlist *)dst, e);
	}
	return -1;
}

static int
field_index(const struct field *fields, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Defaults for absent fields; "is required" for absent required ones. */
static void
apply_defaults(struct arena *a, const struct field *fields, size_t n,
    void *out, uint64_t *set, struct valid_err *e)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (*set & FIELD_BIT(i))
			continue;
		if (fields[i].flags & F_REQUIRED)
			verr(e, fields[i].name, "is required");
		else if (fields[i].def != NULL)
			(void)parse_text(a, &fields[i], fields[i].def, out, e);
	}
}

/*
 * Validate query parameters into out.  Bit i of *set tells whether
 * field i was given.  Returns 0, or -1 with e->details filled.
 */
int
valid_fields_query(struct arena *a, const struct field *fields, size_t n,
    const struct param *params, size_t nparams, void *out, uint64_t *set,
    struct valid_err *e)
{
	size_t	i;
	int	k;

	*set = 0;
	for (i = 0; i < nparams; i++) {
		if ((k = field_index(fields, n, params[i].key)) == -1) {
			verr(e, params[i].key, "unknown parameter");
			continue;
		}
		if (*set & FIELD_BIT(k)) {
			verr(e, params[i].key, "given more than once");
			continue;
		}
		*set |= FIELD_BIT(k);
		(void)parse_text(a, &fields[k], params[i].val, out, e);
	}
	apply_defaults(a, fields, n, out, set, e);
	return e->details != NULL ? -1 : 0;
}

/* The fields of one object into out; returns how many errors it added. */
static size_t
fields_json(struct arena *a, const struct field *fields, size_t n,
    json_object *obj, void *out, uint64_t *set, struct valid_err *e)
{
	size_t	before = nerrors(e);
	int	k;

	*set = 0;
	json_object_object_foreach(obj, key, val) {
		if ((k = field_index(fields, n, key)) == -1) {
			verr(e, key, "unknown field");
			continue;
		}
		*set |= FIELD_BIT(k);
		if (val == NULL) {
			if (!(fields[k].flags & F_NULLABLE))
				verr(e, key, "must not be null");
			else
				*set &= ~FIELD_BIT(k);
			continue;
		}
		(void)parse_json(a, &fields[k], val, out, e);
	}
	apply_defaults(a, fields, n, out, set, e);
	return nerrors(e) - before;
}

/* Validate a parsed JSON object into out; see valid_fields_query(). */
int
valid_fields_json(struct arena *a, const struct field *fields, size_t n,
    json_object *obj, void *out, uint64_t *set, struct valid_err *e)
{
	if (!json_object_is_type(obj, json_type_object)) {
		*set = 0;
		verr(e, "body", "must be a JSON object");
		return -1;
	}
	(void)fields_json(a, fields, n, obj, out, set, e);
	return e->details != NULL ? -1 : 0;
}

static void
valid_fail(struct req *r, struct valid_err *e)
{
	json_object	*extra = json_object_new_object();

	json_object_object_add(extra, "details", e->details);
	http_error_obj(r, ERR_VALIDATION, NULL, extra);
}

/* A 400 naming one field, for checks that span fields (min <= max). */
void
valid_fail_field(struct req *r, const char *field, const char *fmt, ...)
{
	struct valid_err	 e = { 0 };
	struct buf		 msg = { 0 };
	va_list			 ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	verr(&e, field, "%s", msg.data);
	buf_free(&msg);
	valid_fail(r, &e);
}

/* Validate r's query string; on failure a 400 is written and -1 returned. */
int
valid_query(struct req *r, const struct field *fields, size_t n, void *out,
    uint64_t *set)
{
	struct valid_err	e = { 0 };

	if (valid_fields_query(&r->arena, fields, n, r->query, r->nquery,
	    out, set, &e) == -1) {
		valid_fail(r, &e);
		return -1;
	}
	return 0;
}

/* The members of a JSON text: its colons outside strings (it is valid JSON). */
static size_t
json_text_members(const char *s, size_t len)
{
	size_t	i, n = 0;
	int	in_string = 0;

	for (i = 0; i < len; i++) {
		if (in_string) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_string = 0;
		} else if (s[i] == '"')
			in_string = 1;
		else if (s[i] == ':')
			n++;
	}
	return n;
}

/* The members of every object of a parsed value, nested ones included. */
static size_t
json_tree_members(json_object *v)
{
	size_t	i, n = 0;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, child) {
			(void)key;
			n += 1 + json_tree_members(child);
		}
	} else if (json_object_is_type(v, json_type_array))
		for (i = 0; i < json_object_array_length(v); i++)
			n += json_tree_members(json_object_array_get_idx(v, i));
	return n;
}

/*
 * Parse a JSON text strictly: RFC 8259 only, UTF-8 checked, nesting
 * capped at depth, nothing after the value, no key twice in an object
 * (json-c keeps the last, another parser the first: a body or a token
 * must mean one thing).  A duplicate is found by counting: the text's
 * members (its colons outside strings) outnumber those of the parsed
 * tree exactly when a member replaced another, whatever the escapes
 * spelling the key.  Returns a new object (the
 * caller puts it) or NULL with *why set.
 */
json_object *
json_parse_strict(const char *s, size_t len, int depth, const char **why)
{
	struct json_tokener	*tok;
	json_object		*obj;
	enum json_tokener_error	 jerr;

	if (len == 0 || len > INT32_MAX) {
		*why = "empty body";
		return NULL;
	}
	if ((tok = json_tokener_new_ex(depth)) == NULL)
		oom();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
		*why = "unexpected end of JSON";
	else if (jerr == json_tokener_error_depth)
		*why = "JSON nested too deeply";
	else if (jerr != json_tokener_success)
		*why = json_tokener_error_desc(jerr);
	else if ((size_t)json_tokener_get_parse_end(tok) != len) {
		*why = "trailing data after the JSON value";
		jerr = json_tokener_error_parse_unexpected;
	}
	json_tokener_free(tok);
	if (jerr == json_tokener_success &&
	    json_text_members(s, len) != json_tree_members(obj)) {
		*why = "a key appears twice in an object";
		jerr = json_tokener_error_parse_unexpected;
	}
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* Parse and validate r's JSON body; on failure a 400 is written and -1 returned. */
int
valid_json(struct req *r, const struct field *fields, size_t n, void *out,
    uint64_t *set)
{
	struct valid_err	 e = { 0 };
	json_object		*obj;
	const char		*why;
	int			 rc;

	if ((obj = json_parse_strict(r->body, r->body_len, cfg.json_max_depth,
	    &why)) == NULL) {
		http_error(r, ERR_MALFORMED_JSON, "%s", why);
		return -1;
	}
	rc = valid_fields_json(&r->arena, fields, n, obj, out, set, &e);
	json_object_put(obj);
	if (rc == -1)
		valid_fail(r, &e);
	return rc;
}

/*
 * A PostgreSQL array literal ({"a","b"}) for a text[] parameter.  It is
 * a parameter value, never SQL text: quoting here only serves the array
 * input syntax.
 */
char *
pg_text_array(struct arena *a, const struct strlist *l)
{
	struct buf	 b = { 0 };
	const char	*p;
	char		*s;
	size_t		 i;

	buf_putc(&b, '{');
	for (i = 0; i < l->n; i++) {
		buf_puts(&b, i ? ",\"" : "\"");
		for (p = l->v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '}');
	s = arena_strndup(a, b.data, b.len);
	buf_free(&b);
	return s;
}
