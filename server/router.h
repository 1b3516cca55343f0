/*
 * Route table: host name and URL prefix -> opaque target.
 *
 * Prefixes: longest whole-segment match. "/api" matches "/api" and
 * "/api/x", never "/apix"; "/" matches every path.
 *
 * Hosts: the routes of [route /prefix] sections belong to the default
 * host; those of [route HOST/prefix] to HOST, an exact name or a wildcard
 * "*.example.com" (any name ending in ".example.com", however many labels
 * come before it; not "example.com" itself). An exact name beats every
 * wildcard, a longer wildcard a shorter one. A request for a host that has
 * routes is routed among those only: it never falls through to the
 * default host's. A request for a host no section names gets the default
 * host's routes, or the status router_set_unknown_host() set.
 *
 * Built once per configuration generation, then read-only, so any number
 * of threads may call router_match() at once.
 */
#ifndef PH_ROUTER_H
#define PH_ROUTER_H

#include <stddef.h>

typedef struct router router_t;

router_t *router_new(void);
void router_free(router_t *r);

/* Adds a route of the default host (host NULL) or of host: a name or
 * "*.name" in the form hostname_pattern() gives (lower case, no trailing
 * dot). prefix must start with '/' and have no trailing slash (except
 * "/"). The router keeps both pointers, the caller keeps them alive.
 * Returns 0, or -1 if the prefix is malformed, the host already has it, or
 * memory ran out. */
int router_add_host(router_t *r, const char *host, const char *prefix, void *target);
/* router_add_host(r, NULL, prefix, target). */
int router_add(router_t *r, const char *prefix, void *target);

/* What router_match_host() answers for a host that no section names (when
 * there are host routes at all): 0 (the default host's routes, the
 * default), or an HTTP status (404, 421). */
void router_set_unknown_host(router_t *r, int status);

/* Whether any route belongs to a host other than the default one: without
 * them the host of a request does not matter. */
int router_has_hosts(const router_t *r);

/* The target of the longest prefix of the default host matching
 * path[0..len), or NULL. When matched, *prefix_len is the matched prefix's
 * length (0 for "/", so that path + *prefix_len is always the path below
 * the route, starting with '/' or empty). */
void *router_match(const router_t *r, const char *path, size_t len, size_t *prefix_len);

/* The same among the routes of host[0..hlen) (as hostname_normalise()
 * gives it; empty when the request named none, which no section matches).
 * On NULL, *status is the answer: 404, or the unknown-host status. */
void *router_match_host(const router_t *r, const char *host, size_t hlen, const char *path, size_t len,
                        size_t *prefix_len, int *status);

size_t router_count(const router_t *r);

#endif
