/* test_datetime.c: unit tests for calendar arithmetic, strict date and time parsing, and formatting that round-trips. */
#include <string.h>

#include "common.h"
#include "tap.h"

static const char *
fmt_time(long long us)
{
	static char	out[40];

	format_time(out, sizeof(out), us);
	return out;
}

static const char *
fmt_date(long long days)
{
	static char	out[16];

	format_date(out, sizeof(out), days);
	return out;
}

int
main(void)
{
	long long	v = 0, y, us = 0, days, back;
	int		m, d, bad = 0;

	is_int(days_from_civil(1970, 1, 1), 0, "the epoch is day 0");
	is_int(days_from_civil(2000, 3, 1), 11017, "2000-03-01");
	is_int(days_from_civil(1969, 12, 31), -1, "the day before");
	for (days = -800000; days <= 800000; days += 7) {
		civil_from_days(days, &y, &m, &d);
		if (days_from_civil(y, m, d) != days)
			bad++;
	}
	is_int(bad, 0, "civil_from_days and days_from_civil agree over 4,000 years");

	ok(parse_date("2024-02-29", &v) == 0 && v == days_from_civil(2024, 2, 29), "a leap day");
	ok(parse_date("2023-02-29", &v) == -1, "not a leap year");
	ok(parse_date("1900-02-29", &v) == -1, "1900 was not a leap year");
	ok(parse_date("2000-02-29", &v) == 0, "2000 was");
	ok(parse_date("2024-13-01", &v) == -1, "month 13");
	ok(parse_date("2024-04-31", &v) == -1, "April 31");
	ok(parse_date("2024-4-01", &v) == -1, "a one-digit month");
	ok(parse_date("2024-04-01T", &v) == -1, "trailing text");
	ok(parse_date("2024/04/01", &v) == -1, "slashes");
	ok(parse_date("", &v) == -1, "empty");
	is_str(fmt_date(days_from_civil(2024, 5, 1)), "2024-05-01", "format_date");

	ok(parse_time("1970-01-01T00:00:00Z", &us) == 0 && us == 0, "the epoch");
	ok(parse_time("2024-05-01T12:34:56.789Z", &us) == 0 &&
	    us == (days_from_civil(2024, 5, 1) * 86400 + 12 * 3600 + 34 * 60 + 56) * 1000000LL + 789000,
	    "milliseconds");
	is_str(fmt_time(us), "2024-05-01T12:34:56.789Z", "formatted like toISOString()");
	ok(parse_time("2024-05-01T14:34:56.789+02:00", &back) == 0 && back == us, "an offset east");
	ok(parse_time("2024-05-01T07:04:56.789-05:30", &back) == 0 && back == us, "an offset west");
	ok(parse_time("2024-05-01t12:34:56.789z", &back) == 0 && back == us, "lower-case t and z");
	ok(parse_time("2024-05-01T12:34:56.123456789Z", &us) == 0 && us % 1000000 == 123456,
	    "nanoseconds kept to the microsecond");
	is_str(fmt_time(us), "2024-05-01T12:34:56.123456Z", "six digits when needed");
	ok(parse_time(fmt_time(us), &back) == 0 && back == us, "format_time round-trips");
	is_str(fmt_time(-1), "1969-12-31T23:59:59.999999Z", "before the epoch");
	ok(parse_time("2024-05-01T12:34:56", &us) == -1, "no zone");
	ok(parse_time("2024-05-01 12:34:56Z", &us) == -1, "a space instead of T");
	ok(parse_time("2024-05-01T24:00:00Z", &us) == -1, "hour 24");
	ok(parse_time("2024-05-01T12:60:00Z", &us) == -1, "minute 60");
	ok(parse_time("2024-05-01T12:00:60Z", &us) == -1, "second 60");
	ok(parse_time("2024-05-01T12:00:00.Z", &us) == -1, "an empty fraction");
	ok(parse_time("2024-05-01T12:00:00.1234567890Z", &us) == -1, "ten fraction digits");
	ok(parse_time("2024-05-01T12:00:00+0200", &us) == -1, "an offset without colon");
	ok(parse_time("2024-05-01T12:00:00Zjunk", &us) == -1, "trailing text");
	ok(parse_time("2024-02-30T12:00:00Z", &us) == -1, "February 30");

	ok(parse_pg_time("2026-11-25 14:48:56.9471+00", &us) == 0, "PostgreSQL's text");
	is_str(fmt_time(us), "2026-11-25T14:48:56.947100Z", "microseconds kept");
	ok(parse_pg_time("2026-11-25 14:48:56+00", &us) == 0 && us % 1000000 == 0, "no fraction");
	ok(parse_pg_time("2026-11-25 14:48:56+02", &us) == -1, "another offset refused");
	ok(parse_pg_time("infinity", &us) == -1, "infinity refused");
	return done_testing();
}
