/* datetime.c: calendar dates and UTC times: strict ISO 8601 parsing, formatting, and PostgreSQL's timestamptz text. */
#include <stdio.h>
#include <string.h>

#include "common.h"

#define US_PER_SEC	1000000LL
#define SEC_PER_DAY	86400LL

/*
 * Days since 1970-01-01 of a date of the proleptic Gregorian calendar,
 * and back (Howard Hinnant's algorithms): exact for every year, no
 * tables, no time zone, no libc.
 */
long long
days_from_civil(long long y, int m, int d)
{
	long long	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
civil_from_days(long long z, long long *y, int *m, int *d)
{
	long long	era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(long long y, int m)
{
	static const int	days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* n decimal digits at s into *v; -1 unless all n are digits. */
static int
digits(const char *s, int n, int *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* "YYYY-MM-DD" at s (not necessarily terminated there) into days since the epoch. */
static int
date_at(const char *s, long long *days)
{
	int	y, m, d;

	if (digits(s, 4, &y) == -1 || s[4] != '-' || digits(s + 5, 2, &m) == -1 ||
	    s[7] != '-' || digits(s + 8, 2, &d) == -1)
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	*days = days_from_civil(y, m, d);
	return 0;
}

/* Strict calendar date "YYYY-MM-DD", a real day; *days since 1970-01-01. */
int
parse_date(const char *s, long long *days)
{
	if (strlen(s) != 10)
		return -1;
	return date_at(s, days);
}

/*
 * Strict RFC 3339 time: "YYYY-MM-DDTHH:MM:SS", an optional fraction of
 * up to 9 digits (kept to the microsecond), then "Z" or "+HH:MM" /
 * "-HH:MM".  *us gets microseconds since the epoch, UTC.
 */
int
parse_time(const char *s, long long *us)
{
	long long	 days, sec, frac = 0;
	const char	*p;
	int		 h, mi, sc, oh, om, n;

	if (strlen(s) < 20 || date_at(s, &days) == -1 ||
	    (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) == -1 ||
	    s[13] != ':' || digits(s + 14, 2, &mi) == -1 || s[16] != ':' ||
	    digits(s + 17, 2, &sc) == -1 || h > 23 || mi > 59 || sc > 59)
		return -1;
	p = s + 19;
	if (*p == '.') {
		for (p++, n = 0; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 6)
				frac = frac * 10 + (*p - '0');
		if (n == 0 || n > 9)
			return -1;
		for (; n < 6; n++)
			frac *= 10;
	}
	sec = days * SEC_PER_DAY + h * 3600 + mi * 60 + sc;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*us = sec * US_PER_SEC + frac;
		return 0;
	}
	if ((*p != '+' && *p != '-') || strlen(p) != 6 ||
	    digits(p + 1, 2, &oh) == -1 || p[3] != ':' ||
	    digits(p + 4, 2, &om) == -1 || oh > 23 || om > 59)
		return -1;
	sec -= (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
	*us = sec * US_PER_SEC + frac;
	return 0;
}

/*
 * PostgreSQL's text form of a timestamptz in a UTC session,
 * "2026-11-25 14:48:56.9471+00" (fraction optional), into microseconds
 * since the epoch.  -1 for anything else (infinity, BC, other offsets).
 */
int
parse_pg_time(const char *s, long long *us)
{
	long long	 days, frac = 0;
	const char	*p;
	int		 h, mi, sc, n;

	if (strlen(s) < 22 || date_at(s, &days) == -1 || s[10] != ' ' ||
	    digits(s + 11, 2, &h) == -1 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) == -1 || s[16] != ':' ||
	    digits(s + 17, 2, &sc) == -1)
		return -1;
	p = s + 19;
	if (*p == '.') {
		for (p++, n = 0; *p >= '0' && *p <= '9' && n < 6; p++, n++)
			frac = frac * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (strcmp(p, "+00") != 0)
		return -1;
	*us = (days * SEC_PER_DAY + h * 3600 + mi * 60 + sc) * US_PER_SEC + frac;
	return 0;
}

/* "YYYY-MM-DD" of days since the epoch; out holds at least 16 bytes. */
void
format_date(char *out, size_t size, long long days)
{
	long long	y;
	int		m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(out, size, "%04lld-%02d-%02d", y, m, d);
}

/*
 * RFC 3339 UTC time of microseconds since the epoch, as JavaScript's
 * toISOString() prints it ("2026-11-25T14:48:00.000Z"), with six
 * fraction digits instead of three when the microseconds need them, so
 * that parse_time() gives back exactly the same value.
 */
void
format_time(char *out, size_t size, long long us)
{
	long long	days, rem, frac;
	char		date[16];

	frac = us % US_PER_SEC;
	if (frac < 0)
		frac += US_PER_SEC;
	rem = (us - frac) / US_PER_SEC;
	days = rem / SEC_PER_DAY;
	rem %= SEC_PER_DAY;
	if (rem < 0) {
		rem += SEC_PER_DAY;
		days--;
	}
	format_date(date, sizeof(date), days);
	if (frac % 1000 == 0)
		snprintf(out, size, "%sT%02lld:%02lld:%02lld.%03lldZ", date,
		    rem / 3600, rem / 60 % 60, rem % 60, frac / 1000);
	else
		snprintf(out, size, "%sT%02lld:%02lld:%02lld.%06lldZ", date,
		    rem / 3600, rem / 60 % 60, rem % 60, frac);
}
