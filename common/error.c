/* error.c: the one table that maps each error to its HTTP status, stable code and message. */
#include "common.h"

static const struct err_info errors[ERR__PLATFORM] = {
	[ERR_BAD_REQUEST] = { 400, "bad_request", "Bad request" },
	[ERR_VALIDATION] = { 400, "validation_failed", "Validation failed" },
	[ERR_MALFORMED_JSON] = { 400, "malformed_json", "Malformed JSON body" },
	[ERR_UNAUTHORIZED] = { 401, "unauthorized", "Unauthorized" },
	[ERR_FORBIDDEN] = { 403, "forbidden", "Forbidden" },
	[ERR_NOT_FOUND] = { 404, "not_found", "Not found" },
	[ERR_METHOD_NOT_ALLOWED] = { 405, "method_not_allowed",
	    "Method not allowed" },
	[ERR_CONFLICT] = { 409, "conflict", "Conflict" },
	[ERR_IDEM_IN_PROGRESS] = { 409, "idempotency_key_in_use",
	    "A request with this Idempotency-Key is in progress" },
	[ERR_IDEM_MISMATCH] = { 422, "idempotency_key_reused",
	    "This Idempotency-Key was used with another request" },
	[ERR_TOO_LARGE] = { 413, "payload_too_large", "Request body too large" },
	[ERR_UNSUPPORTED_MEDIA] = { 415, "unsupported_media_type",
	    "Content-Type must be application/json" },
	[ERR_LENGTH_REQUIRED] = { 411, "length_required", "Length required" },
	[ERR_RATE_LIMITED] = { 429, "rate_limited", "Rate limit exceeded" },
	[ERR_INTERNAL] = { 500, "internal_error", "Internal server error" },
	[ERR_BAD_GATEWAY] = { 502, "bad_gateway", "Upstream service failed" },
	[ERR_UNAVAILABLE] = { 503, "service_unavailable",
	    "Service temporarily unavailable" },
	[ERR_REQUEST_TIMEOUT] = { 408, "request_timeout", "Request timeout" },
	[ERR_GATEWAY_TIMEOUT] = { 504, "gateway_timeout",
	    "Upstream service timed out" },
	[ERR_PRECONDITION_FAILED] = { 412, "precondition_failed",
	    "Precondition failed" },
};

/* A program's own errors, ERR__PLATFORM and up (platform_register()). */
static const struct err_info	*extra;
static size_t			 nextra;

void
err_register(const struct err_info *e, size_t n)
{
	extra = e;
	nextra = n;
}

/* How many errors there are: ids 0 .. err_count() - 1. */
int
err_count(void)
{
	return ERR__PLATFORM + (int)nextra;
}

static const struct err_info *
err_info(enum err e)
{
	static const struct err_info	unknown = { 500, "internal_error",
					    "Internal server error" };

	if ((int)e >= 0 && e < ERR__PLATFORM)
		return &errors[e];
	if ((size_t)e - ERR__PLATFORM < nextra)
		return &extra[e - ERR__PLATFORM];
	return &unknown;
}

int
err_status(enum err e)
{
	return err_info(e)->status;
}

const char *
err_code(enum err e)
{
	return err_info(e)->code;
}

const char *
err_message(enum err e)
{
	return err_info(e)->message;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
