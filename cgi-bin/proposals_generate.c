/* proposals_generate.c: POST /api/ai/proposals/generate writes a proposal with the tenant's AI provider, stores the draft and its usage, and answers it. */
#include "agent.h"

/*
 * 200 with the seed's body: {"success":true,"data":{"proposal",
 * "alternatives","suggestions","metadata"}}.  400 for a bad body, 404
 * for a job that is not the tenant's, 402 when the month's AI budget
 * cannot pay for the call, 502/503/504 when the provider fails (and
 * then nothing is stored).
 */
static void
generate(struct req *r)
{
	struct proposal_gen	g;
	struct reply		rp;
	enum err		e;

	if (proposal_prepare(r, &g) == -1)
		goto out;
	if (proposal_run(r, &g, NULL, NULL, NULL) == -1) {
		proposal_fail(r, &g);
		goto out;
	}
	if (proposal_store(r, &g, &e) == -1) {
		http_error(r, e, e == ERR_UNAVAILABLE ?
		    "the database is unavailable" : "the proposal was not stored");
		goto out;
	}
	proposal_publish(r, &g);
	reply_open(&rp, r);
	jw_object(&rp.w, NULL);
	proposal_result_json(&rp.w, &g);
	reply_send(&rp, 200);
out:
	proposal_release(r, &g);
	proposal_gen_free(&g);
}

static const struct route routes[] = {
	{ "/api/ai/proposals/generate", METHOD_POST, generate, ROUTE_JSON, RL_AI, NULL },
};

int
main(void)
{
	int	rc;

	rc = agent_main("proposals-generate", routes, nitems(routes), NULL);
	llm_openai_cleanup();
	return rc;
}
