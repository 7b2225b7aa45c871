/* trivial.c: the smallest FastCGI responder, for make bench: the ceiling of the web server + FastCGI path. */
#include <fcgiapp.h>

/*
 * Deliberately bypasses libcommon: no config, no routing, no database.
 * The benchmark compares every endpoint against this one.
 */
int
main(void)
{
	static const char	resp[] =
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 11\r\n"
	    "\r\n"
	    "{\"ok\":true}";
	FCGX_Request		r;

	if (FCGX_Init() != 0)
		return 1;
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(resp, sizeof(resp) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	return 0;
}
