/* platform.c: what a program adds to the platform, handed over as data in one call: knobs, rate-limit classes, cache namespaces, errors, its name. */
#include <stdlib.h>

#include "common.h"

/*
 * Each module keeps what concerns it; the knobs of the classes and
 * namespaces (rl_<name>_*, cache_<name>_ttl) are made by their modules
 * from the defaults registered, so their names follow one rule.  A
 * program registers one library: the same one again changes nothing.
 */
void
platform_register(const struct platform_ext *e)
{
	static const struct platform_ext	*done;

	if (done == e)
		return;
	if (done != NULL) {
		LOG_ERR(NULL, "platform: a second library registered");
		abort();
	}
	done = e;
	db_set_name(e->name);
	db_set_schema(e->schema_version);
	config_defaults(e->defaults, e->ndefaults);
	config_register(e->knobs, e->nknobs);
	rl_register(e->rl_classes, e->nrl_classes);
	cache_register(e->cache_ns, e->ncache_ns);
	err_register(e->errors, e->nerrors);
	metrics_register(e->cache_ns, e->ncache_ns, e->metrics, e->nmetrics);
}
