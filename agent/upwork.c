/* upwork.c: requests to Upwork over libcurl: the shared rate limit, capped responses, retries with backoff honouring Retry-After, and the GraphQL calls. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent.h"

#define UPW_BACKOFF_MS		250
#define UPW_BACKOFF_MAX_MS	8000

static int	curl_users;

/*
 * Set up a client.  rd is the Redis connection the rate limit uses.
 * The keys (token sealing, state signing) are loaded when configured;
 * their absence only matters to the calls that need them.
 */
int
upwork_init(struct upwork *up, struct redis *rd)
{
	memset(up, 0, sizeof(*up));
	if (curl_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		LOG_ERR(NULL, "upwork: curl_global_init failed");
		return -1;
	}
	if ((up->curl = curl_easy_init()) == NULL) {
		LOG_ERR(NULL, "upwork: curl_easy_init failed");
		return -1;
	}
	up->redis = rd;
	if (*agent_cfg.upwork_token_key_file != '\0')
		(void)crypto_keys_load(&up->keys, agent_cfg.upwork_token_key_file,
		    AGENT_NAME);
	return 0;
}

static struct upwork	*main_up;

static int
main_setup(struct app *app)
{
	return upwork_init(main_up, &app->redis);
}

/*
 * An endpoint's whole main() when it calls Upwork: agent_main() with
 * the client up set up in each worker (it needs the worker's Redis),
 * and released at the end.
 */
int
upwork_main(const char *name, const struct route *routes, size_t n,
    struct upwork *up)
{
	int	rc;

	main_up = up;
	rc = agent_main(name, routes, n, main_setup);
	upwork_free(up);
	return rc;
}

void
upwork_free(struct upwork *up)
{
	if (up->curl != NULL)
		curl_easy_cleanup(up->curl);
	up->curl = NULL;
	crypto_keys_clear(&up->keys);
	if (curl_users > 0 && --curl_users == 0)
		curl_global_cleanup();
}

struct sink {
	struct buf	*body;
	size_t		 max;
	int		 over;
	char		 retry_after[64];
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink	*s = arg;
	size_t		 len = size * n;

	if (s->body->len + len > s->max) {
		s->over = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	buf_append(s->body, p, len);
	return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct sink	*s = arg;
	size_t		 len = n * size, k = strlen("Retry-After:");

	if (len > k && strncasecmp(p, "Retry-After:", k) == 0) {
		len -= k;
		if (len >= sizeof(s->retry_after))
			len = sizeof(s->retry_after) - 1;
		memcpy(s->retry_after, p + k, len);
		s->retry_after[len] = '\0';
		s->retry_after[strcspn(s->retry_after, "\r\n")] = '\0';
	}
	return n * size;
}

/* The URL without its query, for logs. */
static int
url_len(const char *url)
{
	return (int)strcspn(url, "?#");
}

/* One exchange; returns the curl code, *status and the body in resp. */
static CURLcode
perform(struct upwork *up, const char *url, const char *ctype, const char *body,
    const struct upwork_auth *auth, struct sink *s, long *status)
{
	CURL			*c = up->curl;
	struct curl_slist	*h = NULL;
	char			 line[2200];
	CURLcode		 rc;

	/*
	 * The deadline says when to stop starting requests and waiting;
	 * one already sent gets its full upwork_timeout_ms (the cron
	 * binaries' hard limit, alarm(2), bounds it all).
	 */
	curl_easy_reset(c);
	snprintf(line, sizeof(line), "Content-Type: %s", ctype);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");
	if (auth != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", auth->access);
		h = curl_slist_append(h, line);
		explicit_bzero(line, sizeof(line));
		if (auth->org[0] != '\0') {
			snprintf(line, sizeof(line), "X-Upwork-API-TenantId: %s",
			    auth->org);
			h = curl_slist_append(h, line);
		}
	}
	if (h == NULL)
		oom();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "upwork-agent-api/1.0");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)agent_cfg.upwork_connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)agent_cfg.upwork_timeout_ms);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* Plain http only to this machine (the tests' fake): tokens travel here. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	    agent_url_loopback(url) ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	/* The header list held the token: clear it before freeing. */
	for (struct curl_slist *i = h; i != NULL; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(h);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	return rc;
}

/* Predicate: there is time for a pause of ms before the deadline. */
static int
time_for(const struct upwork *up, long long ms)
{
	return up->deadline == 0 || now_ms() + (double)ms < up->deadline;
}

/*
 * POST body to url and read the answer into resp (reset first), taking
 * a rate-limit slot for every attempt.  Retried, with backoff, up to
 * upwork_retries times: a 429 (after its Retry-After, which also pauses
 * every other process), a 500/502/503/504, and a transport failure.  A
 * request that is not idempotent (the token endpoint's: an authorization
 * code or a rotating refresh token must not be sent twice blindly) is
 * retried only when it cannot have been processed: no connection, 429,
 * 503.  GraphQL queries (auth given) are idempotent.  Returns
 * 0 with *status and resp for any other answer, 2xx or not, or -1 with
 * e set.
 */
int
upwork_http(struct upwork *up, const char *url, const char *ctype,
    const char *body, const struct upwork_auth *auth, struct buf *resp,
    long *status, struct upwork_err *e)
{
	struct sink	 s;
	long long	 wait;
	int		 attempt, idempotent = auth != NULL;
	CURLcode	 rc;

	if (*agent_cfg.upwork_client_id == '\0' || up->curl == NULL) {
		upwork_fail(e, UPW_CONFIG, 0, "Upwork is not configured "
		    "(upwork_client_id)");
		return -1;
	}
	for (attempt = 0;; attempt++) {
		wait = (long long)UPW_BACKOFF_MS << (attempt < 5 ? attempt : 5);
		if (wait > UPW_BACKOFF_MAX_MS)
			wait = UPW_BACKOFF_MAX_MS;
		if (upwork_rl_take(up->redis, agent_cfg.upwork_client_id, up->reserve,
		    up->deadline, e) == -1) {
			LOG_WARN(NULL, "upwork: %s", e->msg);
			return -1;
		}
		buf_reset(resp);
		memset(&s, 0, sizeof(s));
		s.body = resp;
		s.max = (size_t)agent_cfg.upwork_response_max;
		*status = 0;
		up->requests++;
		rc = perform(up, url, ctype, body, auth, &s, status);
		metrics_count(rc != CURLE_OK ? AM_UPWORK_FAILED : *status == 429 ?
		    AM_UPWORK_THROTTLED : *status >= 500 ? AM_UPWORK_SERVER_ERROR :
		    *status >= 400 ? AM_UPWORK_CLIENT_ERROR : AM_UPWORK_OK, 1);
		if (rc == CURLE_WRITE_ERROR && s.over) {
			upwork_fail(e, UPW_TOO_LARGE, (int)*status, "Upwork's "
			    "response is larger than %d bytes", agent_cfg.upwork_response_max);
			break;
		}
		if (rc == CURLE_FILESIZE_EXCEEDED) {
			upwork_fail(e, UPW_TOO_LARGE, (int)*status, "Upwork's "
			    "response is larger than %d bytes", agent_cfg.upwork_response_max);
			break;
		}
		if (rc != CURLE_OK) {
			upwork_fail(e, UPW_TRANSPORT, 0, "Upwork unreachable: %s",
			    curl_easy_strerror(rc));
			if (rc == CURLE_OPERATION_TIMEDOUT)
				snprintf(e->msg, sizeof(e->msg), "Upwork did not "
				    "answer within %d ms", agent_cfg.upwork_timeout_ms);
			else
				e->err = ERR_BAD_GATEWAY;
			/* Not sent at all, or safe to send again. */
			if (!idempotent && rc != CURLE_COULDNT_CONNECT &&
			    rc != CURLE_COULDNT_RESOLVE_HOST)
				break;
		} else if (*status == 429) {
			wait = upwork_retry_after(s.retry_after, time(NULL));
			if (wait < 0)
				wait = 1000LL << (attempt < 5 ? attempt : 5);
			upwork_fail(e, UPW_THROTTLED, 429, "Upwork is rate limiting "
			    "this API key (429); retry after %lld ms", wait);
			e->retry_after_ms = wait;
			(void)upwork_rl_pause(up->redis, agent_cfg.upwork_client_id, wait);
			wait = 0;	/* the pause makes the next slot wait */
			if (!time_for(up, e->retry_after_ms))
				break;
		} else if (*status == 500 || *status == 502 || *status == 503 ||
		    *status == 504) {
			upwork_fail(e, UPW_HTTP, (int)*status, "Upwork answered "
			    "HTTP %ld", *status);
			if ((wait = upwork_retry_after(s.retry_after, time(NULL))) < 0)
				wait = (long long)UPW_BACKOFF_MS << (attempt < 5 ?
				    attempt : 5);
			/* A 500 may have done the work: a 503 did not. */
			if (!idempotent && *status != 503)
				break;
		} else
			return 0;
		if (attempt >= agent_cfg.upwork_retries || !time_for(up, wait))
			break;
		LOG_INFO(NULL, "upwork: %.*s: %s; retrying in %lld ms",
		    url_len(url), url, e->msg, wait);
		sleep_ms(wait);
	}
	if (attempt > 0 && e->fail != UPW_TOO_LARGE) {
		size_t n = strlen(e->msg);

		snprintf(e->msg + n, sizeof(e->msg) - n, " (after %d %s)",
		    attempt + 1, attempt ? "attempts" : "attempt");
	}
	LOG_WARN(NULL, "upwork: %.*s: %s", url_len(url), url, e->msg);
	return -1;
}

/*
 * A GraphQL POST with the tenant's token: the HTTP part.  401 is
 * UPW_UNAUTHORIZED (the caller may refresh once and retry); another
 * error status is UPW_HTTP with what Upwork said about it.
 */
static int
graphql(struct upwork *up, const struct upwork_auth *auth, const char *body,
    struct buf *resp, struct upwork_err *e)
{
	long	status;

	if (upwork_http(up, agent_cfg.upwork_graphql_url, "application/json", body,
	    auth, resp, &status, e) == -1)
		return -1;
	if (status == 401) {
		upwork_fail(e, UPW_UNAUTHORIZED, 401, "Upwork refused the access "
		    "token (401)");
		return -1;
	}
	if (status != 200) {
		upwork_fail(e, UPW_HTTP, (int)status, "Upwork answered HTTP %ld", status);
		LOG_WARN(NULL, "upwork: graphql: %s", e->msg);
		return -1;
	}
	return 0;
}

/* One page of marketplaceJobPostingsSearch.  p: as upwork_parse_page(). */
int
upwork_search(struct upwork *up, const struct upwork_auth *auth,
    const struct upwork_filter *f, struct upwork_page *p, struct upwork_err *e)
{
	struct buf	 resp = { 0 };
	char		*body = upwork_search_body(f);
	int		 rc = -1;

	memset(p, 0, sizeof(*p));
	if (graphql(up, auth, body, &resp, e) == 0) {
		rc = upwork_parse_page(resp.data, resp.len, p, e);
		if (rc == -1)
			LOG_WARN(NULL, "upwork: search: %s", e->msg);
	}
	free(body);
	buf_free(&resp);
	return rc;
}

/* marketplaceJobPosting(id): the client company of a posting. */
int
upwork_client_details(struct upwork *up, const struct upwork_auth *auth,
    const char *job_id, struct upwork_details *d, struct upwork_err *e)
{
	struct buf	 resp = { 0 };
	char		*body = upwork_details_body(job_id);
	int		 rc = -1;

	memset(d, 0, sizeof(*d));
	if (graphql(up, auth, body, &resp, e) == 0) {
		rc = upwork_parse_details(resp.data, resp.len, d, e);
		if (rc == -1)
			LOG_WARN(NULL, "upwork: job posting %s: %s", job_id, e->msg);
	}
	free(body);
	buf_free(&resp);
	return rc;
}

/*
 * The submitProposal seam.  Upwork's public API has no mutation that
 * submits a proposal, so this answers where the freelancer finishes it:
 * the job's apply page, into url.  When Upwork offers a mutation, it
 * goes here (up and e are for that call): the route and the event stay
 * as they are.  Returns 0, or -1 when the job has no usable key.
 */
int
upwork_submit_proposal(struct upwork *up, const struct upwork_proposal *p,
    struct buf *url, struct upwork_err *e)
{
	(void)up;
	if (p->ciphertext == NULL || !upwork_ciphertext_valid(p->ciphertext)) {
		upwork_fail(e, UPW_MALFORMED, 0, "the job has no Upwork key "
		    "(ciphertext), so it has no apply page");
		e->err = ERR_CONFLICT;
		return -1;
	}
	buf_printf(url, UPWORK_APPLY_URL, p->ciphertext);
	return 0;
}
