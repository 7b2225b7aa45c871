/* pgconnect_bench.c: a tool for make bench that times N PostgreSQL connections (connect, SELECT 1, close), as each CGI request makes one: prints the median and p99 in ms. */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "common.h"

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One connection, one query, closed: its time in ms, or -1. */
static double
one(const char *conninfo)
{
	double		 t0 = now_ms();
	PGconn		*c = PQconnectdb(conninfo);
	PGresult	*r;
	int		 ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgconnect_bench: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, "SELECT 1");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	PQfinish(c);
	return ok ? now_ms() - t0 : -1;
}

int
main(int argc, char *argv[])
{
	double	*ms;
	long	 n, i;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) < 1 || n > 100000) {
		fprintf(stderr, "usage: pgconnect_bench CONNINFO N\n"
		    "  Prints: connections, median ms, p99 ms.\n");
		return 2;
	}
	ms = xcalloc((size_t)n, sizeof(*ms));
	for (i = 0; i < n; i++)
		if ((ms[i] = one(argv[1])) < 0)
			return 1;
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("%ld %.3f %.3f\n", n, ms[n / 2], ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]);
	free(ms);
	return 0;
}
