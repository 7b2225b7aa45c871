/* analytics.c: what the analytics endpoints share: the date range of their query string and the opening of their answer. */
#include <stddef.h>
#include <time.h>

#include "agent.h"

#define RANGE_DAYS_MAX		366
#define RANGE_DAYS_DEFAULT	30

struct range_q {
	long long	from;
	long long	to;
};
enum { RQ_FROM, RQ_TO };

/* 2000-01-01 to 2099-12-31. */
static const struct field range_fields[] = {
	[RQ_FROM] = { FIELD("from", FT_DATE, struct range_q, from),
	    .min = 10957, .max = 47481 },
	[RQ_TO] = { FIELD("to", FT_DATE, struct range_q, to),
	    .min = 10957, .max = 47481 },
};

/* The analytics routes' query (struct route's query): from and to. */
const struct field_obj analytics_query = {
	.fields = range_fields, .nfields = nitems(range_fields),
	.size = sizeof(struct range_q)
};

/*
 * The range of the query string: to defaults to today (UTC), from to
 * 29 days before to; at most RANGE_DAYS_MAX days.  Its bounds as
 * timestamps go to lo and hi (the start of from, the start of the day
 * after to), in r's arena; the query was parsed by analytics_query
 * (dispatch.c).  0, or -1 after the 400.
 */
int
analytics_range(struct req *r, struct analytics_range *a)
{
	struct range_q	q = *(const struct range_q *)r->qv;
	uint64_t	set = r->qset;
	char		day[16];

	if (!FIELD_SET(set, RQ_TO))
		q.to = (long long)time(NULL) / 86400;
	if (!FIELD_SET(set, RQ_FROM))
		q.from = q.to - (RANGE_DAYS_DEFAULT - 1);
	if (q.from > q.to) {
		valid_fail_field(r, "from", "must not be after to");
		return -1;
	}
	if (q.to - q.from + 1 > RANGE_DAYS_MAX) {
		valid_fail_field(r, "from", "the range may span at most %d days",
		    RANGE_DAYS_MAX);
		return -1;
	}
	a->from = q.from;
	a->to = q.to;
	a->days = q.to - q.from + 1;
	format_date(day, sizeof(day), q.from);
	a->lo = arena_printf(&r->arena, "%sT00:00:00Z", day);
	format_date(day, sizeof(day), q.to + 1);
	a->hi = arena_printf(&r->arena, "%sT00:00:00Z", day);
	return 0;
}

/* Open the answer's data object with the range: "from", "to", "days". */
void
analytics_open(struct jw *w, const struct analytics_range *a)
{
	char	day[16];

	jw_object(w, NULL);
	format_date(day, sizeof(day), a->from);
	jw_string(w, "from", day);
	format_date(day, sizeof(day), a->to);
	jw_string(w, "to", day);
	jw_int(w, "days", a->days);
}
