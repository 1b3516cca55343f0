/*
 * Route table: URL prefix -> opaque target, longest whole-segment match.
 * "/api" matches "/api" and "/api/x", never "/apix"; "/" matches every path.
 * Built once per configuration generation, then read-only, so any number of
 * threads may call router_match() at once.
 */
#ifndef PH_ROUTER_H
#define PH_ROUTER_H

#include <stddef.h>

typedef struct router router_t;

router_t *router_new(void);
void router_free(router_t *r);

/* prefix must start with '/' and have no trailing slash (except "/"); the
 * router keeps the pointer, the caller keeps it alive. Returns 0, or -1 if
 * the prefix is malformed, already present, or memory ran out. */
int router_add(router_t *r, const char *prefix, void *target);

/* The target of the longest prefix matching path[0..len), or NULL. When
 * matched, *prefix_len is the matched prefix's length (0 for "/", so that
 * path + *prefix_len is always the path below the route, starting with '/'
 * or empty). */
void *router_match(const router_t *r, const char *path, size_t len, size_t *prefix_len);

size_t router_count(const router_t *r);

#endif
