/* llm_openai.c: an OpenAI-compatible Chat Completions client over libcurl, plain or streamed (SSE), with timeouts, a size cap and retries. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "agent.h"

/*
 * One easy handle per worker process, created on first use: it keeps
 * the connection to the provider alive between calls.  Workers are
 * single-threaded, so nothing here needs a lock.
 */
static CURL	*curl;
static char	*api_key;
static int	 key_loaded;

#define SSE_LINE_MAX	(256 * 1024)
#define USAGE_MAX	10000000	/* tokens of one call, at most */

/*
 * A Server-Sent Events parser (the WHATWG event-stream grammar): bytes
 * in, whatever the read boundaries; each complete event's data (its
 * "data:" lines joined by LF) out through event().  Lines end with CR,
 * LF or CRLF, even when a CRLF is split across two reads.  Comments
 * and other fields are skipped; an unfinished event at the end of the
 * stream is dropped, as the standard says.
 */
struct sse {
	struct buf	 line;
	struct buf	 data;
	int		 after_cr;
	int		(*event)(void *, const char *, size_t);
	void		*arg;
};

static int
sse_line(struct sse *s)
{
	const char	*l = s->line.data != NULL ? s->line.data : "";
	const char	*colon, *val;
	size_t		 n = s->line.len, flen;
	int		 rc;

	if (n == 0) {
		if (s->data.len == 0)
			return 0;
		s->data.data[--s->data.len] = '\0';	/* the last LF */
		rc = s->event(s->arg, s->data.data, s->data.len);
		buf_reset(&s->data);
		return rc;
	}
	if (l[0] == ':')
		return 0;
	if ((colon = memchr(l, ':', n)) == NULL) {
		flen = n;
		val = l + n;
	} else {
		flen = (size_t)(colon - l);
		val = colon + 1;
		if (*val == ' ')
			val++;
	}
	if (flen == 4 && memcmp(l, "data", 4) == 0) {
		buf_append(&s->data, val, n - (size_t)(val - l));
		buf_putc(&s->data, '\n');
		if (s->data.len > SSE_LINE_MAX)
			return -1;
	}
	return 0;
}

/* Feed bytes; -1 when event() refused one or a line grew past SSE_LINE_MAX. */
static int
sse_feed(struct sse *s, const char *p, size_t n)
{
	size_t	i = 0, run;

	while (i < n) {
		if (s->after_cr) {
			s->after_cr = 0;
			if (p[i] == '\n') {
				i++;
				continue;
			}
		}
		for (run = 0; i + run < n && p[i + run] != '\r' &&
		    p[i + run] != '\n'; run++)
			continue;
		if (run > 0) {
			if (s->line.len + run > SSE_LINE_MAX)
				return -1;
			buf_append(&s->line, p + i, run);
			i += run;
		}
		if (i < n) {
			s->after_cr = p[i] == '\r';
			i++;
			if (sse_line(s) == -1)
				return -1;
			buf_reset(&s->line);
		}
	}
	return 0;
}

static void
sse_free(struct sse *s)
{
	buf_free(&s->line);
	buf_free(&s->data);
}

/* One attempt's state, shared by the libcurl callbacks. */
struct xfer {
	const struct llm_call	*call;
	struct llm_result	*res;
	struct sse		 sse;
	struct buf		 body;
	size_t			 received;
	long			 status;
	int			 is_sse;
	int			 done;		/* data: [DONE] */
	int			 finished;	/* a finish_reason arrived */
	int			 failed;	/* res->err and why are set */
	int			 timed_out;
	int			 idle;
	int			 too_large;
	int			 retry_after;
	double			 deadline;
	double			 last_byte;
};

static void
xfer_fail(struct xfer *x, enum err e, const char *why)
{
	if (x->failed)
		return;
	x->failed = 1;
	x->res->err = e;
	snprintf(x->res->why, sizeof(x->res->why), "%s", why);
}

/* Hand text to the result and, when streaming, to the caller; NULs are dropped (PostgreSQL text has none). */
static int
deliver(struct xfer *x, const char *s, size_t n)
{
	size_t	start = x->res->text.len, i, j;
	char	*t;

	buf_append(&x->res->text, s, n);
	t = x->res->text.data + start;
	for (i = j = 0; i < n; i++)
		if (t[i] != '\0')
			t[j++] = t[i];
	x->res->text.len = start + j;
	x->res->text.data[x->res->text.len] = '\0';
	if (x->call->on_delta == NULL || j == 0)
		return 0;
	x->res->started = 1;
	if (x->call->on_delta(x->call->arg, t, j) == -1) {
		x->res->aborted = 1;
		return -1;
	}
	return 0;
}

static void
take_usage(struct xfer *x, json_object *usage)
{
	json_object	*pt, *ct;

	if (!json_object_object_get_ex(usage, "prompt_tokens", &pt) ||
	    !json_object_object_get_ex(usage, "completion_tokens", &ct) ||
	    !json_object_is_type(pt, json_type_int) ||
	    !json_object_is_type(ct, json_type_int) ||
	    json_object_get_int64(pt) < 0 || json_object_get_int64(ct) < 0 ||
	    json_object_get_int64(pt) > USAGE_MAX ||
	    json_object_get_int64(ct) > USAGE_MAX)
		return;		/* not credible: counted here instead */
	x->res->prompt_tokens = json_object_get_int64(pt);
	x->res->completion_tokens = json_object_get_int64(ct);
	x->res->usage_reported = 1;
}

/* The provider's error object, logged by its code and type only: its message may quote the key. */
static void
log_provider_error(json_object *obj, long status)
{
	json_object	*err, *code = NULL, *type = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, "error", &err) ||
	    !json_object_is_type(err, json_type_object)) {
		LOG_WARN(NULL, "llm: provider error, HTTP %ld, no error object", status);
		return;
	}
	json_object_object_get_ex(err, "code", &code);
	json_object_object_get_ex(err, "type", &type);
	LOG_WARN(NULL, "llm: provider error, HTTP %ld, code %.64s, type %.64s",
	    status, json_object_is_type(code, json_type_string) ?
	    json_object_get_string(code) : "-",
	    json_object_is_type(type, json_type_string) ?
	    json_object_get_string(type) : "-");
}

/* One chunk of a stream: a delta, a finish_reason, the usage, or an error. */
static int
on_event(void *arg, const char *data, size_t len)
{
	struct xfer	*x = arg;
	json_object	*obj, *choices, *c0, *delta, *content, *finish, *usage;
	const char	*why;
	int		 rc = 0;

	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		x->done = 1;
		return 0;
	}
	if (x->done)
		return 0;
	if ((obj = json_parse_strict(data, len, 32, &why)) == NULL) {
		xfer_fail(x, ERR_BAD_GATEWAY,
		    "the AI provider sent malformed JSON in its stream");
		return -1;
	}
	if (json_object_object_get_ex(obj, "error", NULL)) {
		log_provider_error(obj, x->status);
		xfer_fail(x, ERR_BAD_GATEWAY,
		    "the AI provider reported an error part-way through");
		json_object_put(obj);
		return -1;
	}
	if (json_object_object_get_ex(obj, "choices", &choices) &&
	    json_object_is_type(choices, json_type_array) &&
	    json_object_array_length(choices) > 0) {
		c0 = json_object_array_get_idx(choices, 0);
		if (json_object_object_get_ex(c0, "delta", &delta) &&
		    json_object_object_get_ex(delta, "content", &content) &&
		    json_object_is_type(content, json_type_string))
			rc = deliver(x, json_object_get_string(content),
			    (size_t)json_object_get_string_len(content));
		if (json_object_object_get_ex(c0, "finish_reason", &finish) &&
		    json_object_is_type(finish, json_type_string))
			x->finished = 1;
	}
	if (json_object_object_get_ex(obj, "usage", &usage) &&
	    json_object_is_type(usage, json_type_object))
		take_usage(x, usage);
	json_object_put(obj);
	return rc;
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 n = size * nmemb;
	char		*ct = NULL;

	x->last_byte = now_ms();
	x->received += n;
	if (x->received > (size_t)agent_cfg.llm_max_response_bytes) {
		x->too_large = 1;
		return 0;
	}
	if (x->status == 0) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &x->status);
		curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
		x->is_sse = x->status / 100 == 2 && ct != NULL &&
		    strncasecmp(ct, "text/event-stream", 17) == 0;
	}
	if (!x->is_sse) {
		buf_append(&x->body, p, n);
		return n;
	}
	if (sse_feed(&x->sse, p, n) == -1) {
		if (!x->res->aborted)
			xfer_fail(x, ERR_BAD_GATEWAY,
			    "the AI provider sent a stream event too large to read");
		return 0;
	}
	return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 n = size * nmemb, i = 12;
	long long	 v = 0;

	x->last_byte = now_ms();
	if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		while (i < n && p[i] == ' ')
			i++;
		while (i < n && isdigit((unsigned char)p[i]) && v < 100000)
			v = v * 10 + (p[i++] - '0');
		if (i < n && (p[i] == '\r' || p[i] == '\n') && v <= 3600)
			x->retry_after = (int)v;
	}
	return n;
}

/* Deadline, idle limit and the caller's tick: any of them ends the transfer. */
static int
on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult,
    curl_off_t uln)
{
	struct xfer	*x = arg;
	double		 now = now_ms();

	(void)dlt, (void)dln, (void)ult, (void)uln;
	if (now >= x->deadline) {
		x->timed_out = 1;
		return 1;
	}
	if (now - x->last_byte >= agent_cfg.llm_idle_timeout_ms) {
		x->timed_out = x->idle = 1;
		return 1;
	}
	if (x->call->on_tick != NULL && x->call->on_tick(x->call->arg) == -1) {
		x->res->aborted = 1;
		return 1;
	}
	return 0;
}

/* The body of a non-streamed answer (or of a server that ignored stream: true). */
static void
parse_body(struct xfer *x)
{
	json_object	*obj, *choices, *c0, *msg, *content, *usage;
	const char	*why;

	obj = json_parse_strict(x->body.data, x->body.len, 32, &why);
	if (obj == NULL || !json_object_object_get_ex(obj, "choices", &choices) ||
	    !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) == 0 ||
	    !json_object_object_get_ex(c0 = json_object_array_get_idx(choices, 0),
	    "message", &msg) ||
	    !json_object_object_get_ex(msg, "content", &content) ||
	    !json_object_is_type(content, json_type_string)) {
		xfer_fail(x, ERR_BAD_GATEWAY,
		    "the AI provider sent a malformed response");
		json_object_put(obj);
		return;
	}
	if (json_object_object_get_ex(obj, "usage", &usage) &&
	    json_object_is_type(usage, json_type_object))
		take_usage(x, usage);
	(void)deliver(x, json_object_get_string(content),
	    (size_t)json_object_get_string_len(content));
	json_object_put(obj);
}

/*
 * Predicate for llm_base_url: an absolute http or https URL with a
 * host, no credentials, no query or fragment.  Whether plain http is
 * allowed is decided at call time (llm_allow_http, or a loopback host).
 */
int
llm_url_valid(const char *s)
{
	CURLU	*u = curl_url();
	char	*scheme = NULL, *host = NULL, *user = NULL, *query = NULL,
		*frag = NULL;
	int	 ok;

	if (u == NULL)
		oom();
	ok = curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
	    *host != '\0' &&
	    curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY &&
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_NO_FRAGMENT;
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return ok;
}

/* Plain http only to loopback or with llm_allow_http; -1 when refused. */
static int
url_protocols(const char *url, const char **protocols)
{
	CURLU	*u = curl_url();
	char	*scheme = NULL, *host = NULL;
	int	 rc = 0;

	if (u == NULL)
		oom();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		rc = -1;
	else if (strcmp(scheme, "https") == 0)
		*protocols = "https";
	else if (agent_cfg.llm_allow_http || agent_host_loopback(host))
		*protocols = "http,https";
	else
		rc = -1;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/*
 * Predicate: a call to url would be made (https, or plain http to a
 * loopback host or with llm_allow_http), as the calls decide it.
 */
int
llm_url_allowed(const char *url)
{
	const char	*protocols;

	return url_protocols(url, &protocols) == 0;
}

/* The key, read once per worker; NULL when none is configured or readable. */
static const char *
key_get(void)
{
	char	*k;
	size_t	 i, n;

	if (key_loaded)
		return api_key;
	key_loaded = 1;
	if (*agent_cfg.llm_api_key_file == '\0')
		return NULL;
	if ((k = read_file(agent_cfg.llm_api_key_file, 4096, &n)) == NULL) {
		LOG_WARN(NULL, "llm: cannot read llm_api_key_file %s; calling "
		    "without a key", agent_cfg.llm_api_key_file);
		return NULL;
	}
	while (n > 0 && isspace((unsigned char)k[n - 1]))
		k[--n] = '\0';
	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)k[i]))
			break;
	if (n == 0 || i < n) {
		LOG_WARN(NULL, "llm: llm_api_key_file %s is empty or holds "
		    "spaces or control characters; calling without a key",
		    agent_cfg.llm_api_key_file);
		free(k);
		return NULL;
	}
	api_key = k;
	return api_key;
}

static void
request_body(struct buf *b, const struct llm_call *c)
{
	size_t	i;

	buf_puts(b, "{\"model\":");
	buf_json_string(b, c->model, strlen(c->model));
	buf_puts(b, ",\"messages\":[");
	for (i = 0; i < c->nmsgs; i++) {
		buf_puts(b, i ? ",{\"role\":" : "{\"role\":");
		buf_json_string(b, c->msgs[i].role, strlen(c->msgs[i].role));
		buf_puts(b, ",\"content\":");
		buf_json_string(b, c->msgs[i].content, strlen(c->msgs[i].content));
		buf_putc(b, '}');
	}
	buf_printf(b, "],\"max_tokens\":%lld,\"temperature\":0.7", c->max_tokens);
	if (c->on_delta != NULL)
		buf_puts(b, ",\"stream\":true,\"stream_options\":"
		    "{\"include_usage\":true}");
	buf_putc(b, '}');
}

enum outcome {
	OUT_OK,
	OUT_FAIL,
	OUT_RETRY
};

static enum outcome
attempt(struct xfer *x, const char *url, const char *protocols,
    const struct buf *body, struct curl_slist *headers)
{
	char		 errbuf[CURL_ERROR_SIZE] = "", why[200];
	double		 left = x->deadline - now_ms();
	CURLcode	 rc;
	json_object	*obj;
	const char	*jwhy;

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)agent_cfg.llm_connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "upwork-api/1");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	x->last_byte = now_ms();
	rc = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);

	if (x->res->aborted)
		return OUT_FAIL;
	if (x->too_large) {
		snprintf(why, sizeof(why), "the AI provider's response exceeded "
		    "%d bytes", agent_cfg.llm_max_response_bytes);
		xfer_fail(x, ERR_BAD_GATEWAY, why);
		return OUT_FAIL;
	}
	if (x->failed)
		return OUT_FAIL;
	if (x->timed_out || rc == CURLE_OPERATION_TIMEDOUT) {
		if (x->idle)
			snprintf(why, sizeof(why), "the AI provider sent nothing "
			    "for %d ms", agent_cfg.llm_idle_timeout_ms);
		else
			snprintf(why, sizeof(why), "the AI provider did not "
			    "finish within %d ms", agent_cfg.llm_timeout_ms);
		xfer_fail(x, ERR_GATEWAY_TIMEOUT, why);
		return OUT_FAIL;
	}
	if (x->status == 0)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status == 0) {
		LOG_WARN(NULL, "llm: %s: %s", curl_easy_strerror(rc), errbuf);
		xfer_fail(x, ERR_BAD_GATEWAY, "could not reach the AI provider");
		return OUT_FAIL;
	}
	if (x->status / 100 != 2) {
		obj = json_parse_strict(x->body.data, x->body.len, 32, &jwhy);
		log_provider_error(obj, x->status);
		json_object_put(obj);
		if (x->status == 429) {
			xfer_fail(x, ERR_UNAVAILABLE, "the AI provider is "
			    "rate limiting requests");
			return OUT_RETRY;
		}
		snprintf(why, sizeof(why), x->status / 100 == 5 ?
		    "the AI provider answered HTTP %ld" :
		    "the AI provider refused the request (HTTP %ld)", x->status);
		xfer_fail(x, ERR_BAD_GATEWAY, why);
		return x->status / 100 == 5 ? OUT_RETRY : OUT_FAIL;
	}
	if (x->is_sse) {
		if (!x->done && !x->finished) {
			if (rc != CURLE_OK)
				LOG_WARN(NULL, "llm: stream: %s: %s",
				    curl_easy_strerror(rc), errbuf);
			xfer_fail(x, ERR_BAD_GATEWAY, "the AI provider's stream "
			    "ended before it was complete");
			return OUT_FAIL;
		}
		return OUT_OK;
	}
	if (rc != CURLE_OK) {
		LOG_WARN(NULL, "llm: %s: %s", curl_easy_strerror(rc), errbuf);
		xfer_fail(x, ERR_BAD_GATEWAY, "the AI provider's response was "
		    "cut short");
		return OUT_FAIL;
	}
	parse_body(x);
	if (x->res->aborted)
		return OUT_FAIL;
	return x->failed ? OUT_FAIL : OUT_OK;
}

/*
 * Call the provider; see common.h.  A 429 or 5xx is retried up to
 * llm_max_retries times while nothing has been streamed, after the
 * provider's Retry-After or an exponential backoff with jitter (250 ms,
 * 500 ms, 1 s, ...), and only when the wait ends before the deadline
 * (llm_timeout_ms from the start of the call).
 */
int
llm_openai_complete(const struct llm_call *c, struct llm_result *res,
    struct req *r)
{
	struct xfer		 x;
	struct buf		 url = { 0 }, body = { 0 }, auth = { 0 };
	struct curl_slist	*headers = NULL;
	const char		*protocols, *key;
	double			 t0 = now_ms(), wait;
	enum outcome		 out;
	size_t			 n;
	char			 jitter[3];

	memset(res, 0, sizeof(*res));
	n = strlen(agent_cfg.llm_base_url);
	while (n > 0 && agent_cfg.llm_base_url[n - 1] == '/')
		n--;
	buf_printf(&url, "%.*s/chat/completions", (int)n, agent_cfg.llm_base_url);
	if (url_protocols(url.data, &protocols) == -1) {
		LOG_ERR(r, "llm: llm_base_url is plain http to another host; "
		    "set llm_allow_http = 1 to allow it");
		res->err = ERR_BAD_GATEWAY;
		snprintf(res->why, sizeof(res->why), "the AI provider is not "
		    "configured correctly");
		buf_free(&url);
		return -1;
	}
	if (curl == NULL) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if ((curl = curl_easy_init()) == NULL)
			oom();
	}
	request_body(&body, c);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, c->on_delta != NULL ?
	    "Accept: text/event-stream" : "Accept: application/json");
	headers = curl_slist_append(headers, "Expect:");
	if ((key = key_get()) != NULL) {
		buf_printf(&auth, "Authorization: Bearer %s", key);
		headers = curl_slist_append(headers, auth.data);
		explicit_bzero(auth.data, auth.len);
	}
	if (headers == NULL)
		oom();

	for (;;) {
		memset(&x, 0, sizeof(x));
		x.call = c;
		x.res = res;
		x.sse.event = on_event;
		x.sse.arg = &x;
		x.deadline = t0 + agent_cfg.llm_timeout_ms;
		res->attempts++;
		buf_reset(&res->text);
		out = attempt(&x, url.data, protocols, &body, headers);
		res->retry_after = x.retry_after;
		sse_free(&x.sse);
		buf_free(&x.body);
		if (out != OUT_RETRY || res->attempts > agent_cfg.llm_max_retries ||
		    res->started)
			break;
		random_hex(jitter, sizeof(jitter));
		wait = x.retry_after > 0 ? x.retry_after * 1000.0 :
		    250.0 * (1 << (res->attempts - 1)) +
		    (double)strtol(jitter, NULL, 16) * 250 / 256;
		if (now_ms() + wait >= x.deadline)
			break;
		LOG_WARN(r, "llm: attempt %d failed (%s); retrying in %.0f ms",
		    res->attempts, res->why, wait);
		sleep_ms((long long)wait);
	}
	curl_slist_free_all(headers);
	buf_free(&url);
	buf_free(&body);
	buf_free(&auth);
	if (out != OUT_OK && !res->aborted) {
		LOG_ERR(r, "llm: generation failed after %d attempt(s): %s",
		    res->attempts, res->why);
		return -1;
	}
	/* Usage is counted here when the provider did not report it, or
	 * when the caller stopped the stream before the usage chunk. */
	if (!res->usage_reported) {
		res->prompt_tokens = llm_count_prompt(c->msgs, c->nmsgs);
		res->completion_tokens = llm_count_tokens(res->text.data
		    ? res->text.data : "", res->text.len);
	}
	return res->aborted ? -1 : 0;
}

void
llm_result_free(struct llm_result *res)
{
	buf_free(&res->text);
}

/* Close the connection and release libcurl, at the worker's exit. */
void
llm_openai_cleanup(void)
{
	if (curl != NULL) {
		curl_easy_cleanup(curl);
		curl_global_cleanup();
	}
	curl = NULL;
	if (api_key != NULL) {
		explicit_bzero(api_key, strlen(api_key));
		free(api_key);
	}
	api_key = NULL;
	key_loaded = 0;
}
