/* test_upwork.c: unit tests of the Upwork wire code (search body, pages, details, tokens, Retry-After), token sealing and OAuth states. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "tap.h"

#define FIX	"tests/fixtures/upwork/"

static char *
fixture(const char *name, size_t *len)
{
	char	path[256], *p;

	snprintf(path, sizeof(path), FIX "%s", name);
	if ((p = read_file(path, 1 << 20, len)) == NULL) {
		printf("Bail out! cannot read %s (run from the repository root)\n", path);
		exit(1);
	}
	return p;
}

static void
test_page(void)
{
	struct upwork_page	 p;
	struct upwork_err	 e;
	struct upwork_job	*j;
	size_t			 len;
	char			*body = fixture("marketplaceJobPostingsSearch.page1.json", &len);

	ok(upwork_parse_page(body, len, &p, &e) == 0, "page 1 of the fixture parses");
	is_int(p.njobs, 10, "ten jobs");
	is_int(p.total, 15, "totalCount");
	ok(p.has_next, "hasNextPage");
	is_str(p.end_cursor, "10", "endCursor");
	j = &p.jobs[0];
	is_str(j->id, "1700000000000000000", "id");
	is_str(j->ciphertext, "~0117979cfe362a0000", "ciphertext");
	is_str(j->title, "Build a REST API for a multi-tenant SaaS dashboard", "title");
	is_int(j->nskills, 4, "skills");
	is_str(j->skills[0], "api development", "skills as lower-case display names");
	is_str(j->skills[2], "node.js", "prettyName, not name");
	ok(j->hourly && j->has_min && j->has_max && j->budget_min == 40 &&
	    j->budget_max == 90, "hourly range 40-90 (amount 0.0 ignored)");
	is_str(j->currency, "USD", "currency");
	is_str(j->experience_level, "EXPERT", "experience level");
	is_int(j->applicants, 40, "applicants");
	is_str(j->created, "2026-11-25T08:00:00.000Z", "createdDateTime");
	ok(j->client.present && j->client.total_hires == 39 &&
	    j->client.total_posted_jobs == 44 && j->client.total_reviews == 39,
	    "client counts");
	ok(j->client.has_spent && j->client.total_spent == 410000, "client totalSpent");
	ok(j->client.has_feedback && j->client.total_feedback == 5.0, "client totalFeedback");
	ok(!j->client.verified, "NOT_VERIFIED is not verified");
	is_str(j->client.country, "United States", "client country");
	is_str(j->client.city, "Austin", "client city");
	is_str(j->client.uid, "1500000000000000000", "companyOrgUid");
	ok(strstr(j->raw, "\"hourlyBudgetType\":\"DEFAULT\"") != NULL, "raw keeps the node");
	j = &p.jobs[1];
	ok(!j->hourly && j->has_min && j->budget_min == 3000 && j->budget_max == 3000,
	    "fixed price: the amount is min and max");
	upwork_page_free(&p);
	free(body);

	body = fixture("marketplaceJobPostingsSearch.page2.json", &len);
	ok(upwork_parse_page(body, len, &p, &e) == 0 && p.njobs == 5 && !p.has_next,
	    "page 2: five jobs, the last page");
	ok(p.jobs[0].client.verified, "VERIFIED is verified");
	upwork_page_free(&p);
	free(body);
}

/* A page whose first node has one field replaced: must fail whole. */
static void
bad_page(const char *from, const char *to, const char *want, const char *what)
{
	struct upwork_page	 p;
	struct upwork_err	 e = { 0 };
	size_t			 len;
	char			*body = fixture("marketplaceJobPostingsSearch.page1.json", &len);
	char			*at = strstr(body, from);
	struct buf		 b = { 0 };

	if (at == NULL) {
		ok(0, "%s: fixture text not found", what);
		free(body);
		return;
	}
	buf_append(&b, body, (size_t)(at - body));
	buf_append(&b, to, strlen(to));
	buf_puts(&b, at + strlen(from));
	ok(upwork_parse_page(b.data, b.len, &p, &e) == -1 && e.fail == UPW_MALFORMED &&
	    p.njobs == 0 && p.jobs == NULL && strstr(e.msg, want) != NULL,
	    "%s: refused, nothing kept (%s)", what, e.msg);
	upwork_page_free(&p);
	buf_free(&b);
	free(body);
}

static void
test_bad_pages(void)
{
	struct upwork_page	 p;
	struct upwork_err	 e = { 0 };
	size_t			 len;
	char			*body = fixture("graphql-error.json", &len);
	static const char	 trunc[] = "{\"data\": {\"marketplaceJobPostingsSearch\": {\"edges\": [";

	ok(upwork_parse_page(body, len, &p, &e) == -1 && e.fail == UPW_GRAPHQL &&
	    e.err == ERR_BAD_GATEWAY, "an errors array is a GraphQL error (502)");
	ok(strstr(e.msg, "not allowed for this token scope") != NULL &&
	    strstr(e.msg, "code 403") != NULL, "with Upwork's message and code: %s", e.msg);
	free(body);
	ok(upwork_parse_page(trunc, sizeof(trunc) - 1, &p, &e) == -1 &&
	    e.fail == UPW_MALFORMED, "a truncated body is malformed (%s)", e.msg);
	ok(upwork_parse_page("[]", 2, &p, &e) == -1 && e.fail == UPW_MALFORMED,
	    "an array is not a response");
	ok(upwork_parse_page("{\"data\":null}", 13, &p, &e) == -1 &&
	    e.fail == UPW_MALFORMED, "data null without errors is malformed");
	ok(upwork_parse_page("{\"data\":{}}", 11, &p, &e) == -1 &&
	    strstr(e.msg, "marketplaceJobPostingsSearch") != NULL,
	    "data without the search is malformed");
	bad_page("\"title\": \"Build a REST API", "\"title\": 12, \"x\": \"",
	    "edges[0].node.title: must be a string", "a number for a title");
	bad_page("\"id\": \"1700000000000000000\"", "\"id\": null", "edges[0].node.id: missing",
	    "no id");
	bad_page("\"id\": \"1700000000000000000\"", "\"id\": \"17 00\"", "must be an Upwork id",
	    "an id with a space");
	bad_page("\"ciphertext\": \"~0117979cfe362a0000\"", "\"ciphertext\": \"~01/../x\"",
	    "ciphertext", "a ciphertext that is not a key");
	bad_page("\"rawValue\": \"40.00\"", "\"rawValue\": \"-40\"", "decimal string",
	    "a negative rate");
	bad_page("\"rawValue\": \"90.00\"", "\"rawValue\": \"30.00\"",
	    "below hourlyBudgetMin", "a rate range upside down");
	bad_page("\"createdDateTime\": \"2026-11-25T08:00:00.000Z\"",
	    "\"createdDateTime\": \"yesterday\"", "ISO 8601", "a time that is not one");
	bad_page("\"totalHires\": 39", "\"totalHires\": -1", "node.client.totalHires",
	    "negative hires");
	bad_page("\"title\": \"Build a REST API", "\"title\": \"Bad\\u0000NUL API",
	    "characters", "a NUL inside a string");
	bad_page("\"hasNextPage\": true", "\"hasNextPage\": \"yes\"", "hasNextPage",
	    "hasNextPage not a boolean");
	bad_page("\"experienceLevel\": \"EXPERT\"", "\"experienceLevel\": [1]",
	    "experienceLevel", "a list for a level");

	/* A level Upwork adds later: stored raw, not in the column. */
	body = fixture("marketplaceJobPostingsSearch.page1.json", &len);
	memcpy(strstr(body, "\"EXPERT\""), "\"GURU__\"", 8);
	ok(upwork_parse_page(body, len, &p, &e) == 0 && p.jobs[0].experience_level == NULL,
	    "an unknown experience level is not an error, and not stored as one");
	upwork_page_free(&p);
	free(body);
}

static void
test_bodies(void)
{
	static const char *const skills[] = { "postgresql", "api development" };
	struct upwork_filter	 f;
	json_object		*o, *filter, *v;
	const char		*why, *q;
	char			*body;

	memset(&f, 0, sizeof(f));
	f.query = "rest api";
	f.skills = skills;
	f.nskills = 2;
	f.location = "Germany";
	f.job_type = UPW_JOBS_FIXED;
	f.has_min = 1;
	f.min = 500;
	f.has_max = 1;
	f.max = 5000;
	f.first = 50;
	f.after = "50";
	body = upwork_search_body(&f);
	o = json_parse_strict(body, strlen(body), 16, &why);
	ok(o != NULL, "the search body is JSON");
	json_object_object_get_ex(o, "query", &v);
	q = json_object_get_string(v);
	ok(strstr(q, "marketplaceJobPostingsSearch(marketPlaceJobFilter: $filter,"
	    " searchType: USER_JOBS_SEARCH, sortAttributes: [{field: RECENCY}])") != NULL,
	    "Upwork's shape: filter variable, USER_JOBS_SEARCH, sorted by RECENCY");
	ok(strstr(q, "$filter: MarketplaceJobPostingsSearchFilter") != NULL,
	    "the filter's type");
	ok(strstr(q, "client { totalHires totalPostedJobs totalSpent") != NULL &&
	    strstr(q, "verificationStatus location { city country } totalReviews"
	    " totalFeedback") != NULL, "the client fields");
	ok(strstr(q, "rest api") == NULL, "no value is pasted into the query");
	json_object_object_get_ex(json_object_object_get(o, "variables"), "filter", &filter);
	is_str(json_object_get_string(json_object_object_get(filter, "searchExpression_eq")),
	    "rest api", "searchExpression_eq");
	is_str(json_object_get_string(json_object_object_get(filter, "skillExpression_eq")),
	    "postgresql OR \"api development\"", "skillExpression_eq: any, phrases quoted");
	is_str(json_object_to_json_string(json_object_object_get(filter, "locations_any")),
	    "[ \"Germany\" ]", "locations_any");
	is_str(json_object_get_string(json_object_object_get(filter, "jobType_eq")),
	    "FIXED", "jobType_eq");
	is_str(json_object_to_json_string_ext(json_object_object_get(filter,
	    "budgetRange_eq"), JSON_C_TO_STRING_PLAIN),
	    "{\"rangeStart\":500,\"rangeEnd\":5000}", "budgetRange_eq for fixed price");
	ok(json_object_object_get(filter, "hourlyRate_eq") == NULL, "no hourlyRate_eq");
	is_str(json_object_to_json_string_ext(json_object_object_get(filter,
	    "pagination_eq"), JSON_C_TO_STRING_PLAIN), "{\"first\":50,\"after\":\"50\"}",
	    "pagination_eq");
	json_object_put(o);
	free(body);

	f.job_type = UPW_JOBS_HOURLY;
	f.has_max = 0;
	f.nskills = 0;
	f.query = NULL;
	f.after = NULL;
	body = upwork_search_body(&f);
	o = json_parse_strict(body, strlen(body), 16, &why);
	json_object_object_get_ex(json_object_object_get(o, "variables"), "filter", &filter);
	is_str(json_object_to_json_string_ext(json_object_object_get(filter,
	    "hourlyRate_eq"), JSON_C_TO_STRING_PLAIN), "{\"rangeStart\":500}",
	    "hourlyRate_eq for hourly, an open range");
	ok(json_object_object_get(filter, "budgetRange_eq") == NULL &&
	    json_object_object_get(filter, "searchExpression_eq") == NULL &&
	    json_object_object_get(filter, "skillExpression_eq") == NULL,
	    "absent criteria are left out");
	json_object_put(o);
	free(body);

	body = upwork_details_body("1700000000000000000");
	ok(strstr(body, "marketplaceJobPosting(id: $id)") != NULL &&
	    strstr(body, "\"variables\":{\"id\":\"1700000000000000000\"}") != NULL,
	    "marketplaceJobPosting(id) with the id as a variable");
	free(body);
}

static void
test_details(void)
{
	static const char good[] = "{\"data\":{\"marketplaceJobPosting\":{\"id\":\"1\","
	    "\"ownership\":{\"company\":{\"id\":\"1500\",\"name\":\"Acme Ltd\"}},"
	    "\"clientCompanyPublic\":{\"id\":\"1500\",\"city\":\"Austin\",\"state\":null,"
	    "\"timezone\":\"America/Chicago\"}}}}";
	static const char gone[] = "{\"data\":{\"marketplaceJobPosting\":null}}";
	static const char bad[] = "{\"data\":{\"marketplaceJobPosting\":{\"ownership\":"
	    "{\"company\":{\"name\":7}}}}}";
	struct upwork_details	 d;
	struct upwork_err	 e;

	ok(upwork_parse_details(good, sizeof(good) - 1, &d, &e) == 0, "details parse");
	is_str(d.company_name, "Acme Ltd", "company name");
	is_str(d.city, "Austin", "city");
	ok(d.state == NULL, "null state");
	ok(d.raw != NULL && strstr(d.raw, "America/Chicago") != NULL, "raw kept");
	upwork_details_free(&d);
	ok(upwork_parse_details(gone, sizeof(gone) - 1, &d, &e) == 0 && d.raw == NULL,
	    "a posting that is gone: no details, no error");
	upwork_details_free(&d);
	ok(upwork_parse_details(bad, sizeof(bad) - 1, &d, &e) == -1 &&
	    e.fail == UPW_MALFORMED, "a wrong type is malformed");
	upwork_details_free(&d);
}

static void
test_tokens(void)
{
	struct upwork_tokens	 t;
	struct upwork_err	 e;
	size_t			 len;
	char			*body = fixture("oauth2-token.json", &len);
	static const char	 grant[] = "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"refresh token revoked\"}";
	static const char	 mac[] = "{\"access_token\":\"a\",\"refresh_token\":\"r\","
	    "\"token_type\":\"mac\",\"expires_in\":10}";
	static const char	 space[] = "{\"access_token\":\"a b\",\"refresh_token\":\"r\","
	    "\"expires_in\":10}";
	static const char	 life[] = "{\"access_token\":\"a\",\"refresh_token\":\"r\","
	    "\"expires_in\":\"10\"}";

	ok(upwork_parse_tokens(body, len, 200, &t, &e) == 0, "the token fixture parses");
	is_str(t.access, "oauth2v2_example_access", "access_token");
	is_str(t.refresh, "oauth2v2_example_refresh", "refresh_token");
	is_int(t.expires_in, 86399, "expires_in");
	free(body);
	ok(upwork_parse_tokens(grant, sizeof(grant) - 1, 400, &t, &e) == -1 &&
	    e.fail == UPW_INVALID_GRANT && strstr(e.msg, "revoked") != NULL,
	    "400 invalid_grant: the grant is dead (%s)", e.msg);
	ok(upwork_parse_tokens("oops", 4, 500, &t, &e) == -1 && e.fail == UPW_HTTP,
	    "500: Upwork's error, not the grant's");
	ok(upwork_parse_tokens(mac, sizeof(mac) - 1, 200, &t, &e) == -1 &&
	    e.fail == UPW_MALFORMED, "a token type other than Bearer is refused");
	ok(upwork_parse_tokens(space, sizeof(space) - 1, 200, &t, &e) == -1 &&
	    t.access[0] == '\0', "a token with a space is refused, nothing kept");
	ok(upwork_parse_tokens(life, sizeof(life) - 1, 200, &t, &e) == -1,
	    "expires_in as a string is refused");
}

static void
test_retry_after(void)
{
	is_int(upwork_retry_after("3", 0), 3000, "Retry-After: 3");
	is_int(upwork_retry_after(" 0", 0), 0, "Retry-After: 0");
	is_int(upwork_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000,
	    "Retry-After as an HTTP date");
	is_int(upwork_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412500), 0,
	    "a date in the past: now");
	is_int(upwork_retry_after("soon", 0), -1, "garbage: -1");
	is_int(upwork_retry_after("99999999", 0), -1, "absurdly far: -1");
	ok(upwork_ciphertext_valid("~0117979cfe362a0000") &&
	    !upwork_ciphertext_valid("0117979cfe362a0000") &&
	    !upwork_ciphertext_valid("~01/evil") && !upwork_ciphertext_valid("~"),
	    "ciphertexts");
}

static void
test_crypto(void)
{
	char			 path[] = "/tmp/test_upwork_key.XXXXXX";
	struct crypto_keys	 k, other;
	struct upwork_state	 s, got;
	char			*sealed, *opened, *state, *bad;
	int			 fd = mkstemp(path);

	(void)!write(fd, "0123456789abcdef0123456789abcdef0123\n", 37);
	close(fd);
	ok(crypto_keys_load(&k, path, AGENT_NAME) == 0, "a key file loads");
	sealed = crypto_seal(&k, "t1|access", "oauth2v2_secret");
	ok(sealed != NULL && strncmp(sealed, "v1.", 3) == 0 &&
	    strstr(sealed, "oauth2v2") == NULL, "sealed: v1., the token not visible");
	opened = crypto_open(&k, "t1|access", sealed);
	is_str(opened, "oauth2v2_secret", "opens with the same context");
	crypto_free_secret(opened);
	ok(crypto_open(&k, "t2|access", sealed) == NULL, "another tenant's context: no");
	ok(crypto_open(&k, "t1|refresh", sealed) == NULL, "another column: no");
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	ok(crypto_open(&k, "t1|access", sealed) == NULL, "altered: no");
	free(sealed);
	sealed = crypto_seal(&k, "t1|access", "x");
	opened = crypto_seal(&k, "t1|access", "x");
	ok(strcmp(sealed, opened) != 0, "the same token seals differently each time");
	free(sealed);
	free(opened);
	ok(crypto_open(&k, "t1|access", "v2.AAAA") == NULL &&
	    crypto_open(&k, "t1|access", "v1.") == NULL &&
	    crypto_open(&k, "t1|access", "v1.!!!") == NULL, "garbage does not open");

	memset(&s, 0, sizeof(s));
	strcpy(s.tenant, "org_x");
	strcpy(s.user, "user_x");
	strcpy(s.nonce, "0123456789abcdef0123456789abcdef");
	s.expires = 2000;
	state = upwork_state_sign(&k, &s);
	ok(upwork_state_verify(&k, state, 1000, &got) == 0 &&
	    strcmp(got.tenant, "org_x") == 0 && strcmp(got.user, "user_x") == 0 &&
	    strcmp(got.nonce, s.nonce) == 0 && got.expires == 2000,
	    "a state verifies and says who");
	ok(upwork_state_verify(&k, state, 2000, &got) == -1, "not at or past its expiry");
	bad = xstrdup(state);
	bad[3] = bad[3] == 'a' ? 'b' : 'a';
	ok(upwork_state_verify(&k, bad, 1000, &got) == -1 && got.tenant[0] == '\0',
	    "an altered payload is refused");
	strcpy(bad, state);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'a' ? 'b' : 'a';
	ok(upwork_state_verify(&k, bad, 1000, &got) == -1, "an altered signature is refused");
	free(bad);
	fd = open(path, O_WRONLY | O_TRUNC);
	(void)!write(fd, "another key, another key, another key\n", 38);
	close(fd);
	ok(crypto_keys_load(&other, path, AGENT_NAME) == 0 &&
	    upwork_state_verify(&other, state, 1000, &got) == -1,
	    "another key: the state does not verify");
	sealed = crypto_seal(&k, "t1|access", "x");
	ok(crypto_open(&other, "t1|access", sealed) == NULL, "nor does a sealed token open");
	free(sealed);
	crypto_keys_clear(&other);
	ok(upwork_state_verify(&other, state, 1000, &got) == -1, "no key: nothing verifies");
	unlink(path);
	ok(upwork_state_verify(&k, "", 1000, &got) == -1 &&
	    upwork_state_verify(&k, ".", 1000, &got) == -1 &&
	    upwork_state_verify(&k, "e30.e30", 1000, &got) == -1, "garbage is refused");
	free(state);
	crypto_keys_clear(&k);
}

int
main(void)
{
	log_set_level("error");
	agent_config_load();
	test_page();
	test_bad_pages();
	test_bodies();
	test_details();
	test_tokens();
	test_retry_after();
	test_crypto();
	config_free();
	return done_testing();
}
