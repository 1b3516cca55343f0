#include "router.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    const char *prefix;
    size_t len;  /* 0 for "/" */
    void *target;
} entry_t;

/* Entries sorted by prefix length, longest first: the first hit is the
 * longest match. Route tables are small (tens of entries), and a linear
 * scan of a few memcmp()s beats a trie at that size. */
struct router {
    entry_t *e;
    size_t n;
};

router_t *router_new(void)
{
    return calloc(1, sizeof(router_t));
}

void router_free(router_t *r)
{
    if (r == NULL)
        return;
    free(r->e);
    free(r);
}

size_t router_count(const router_t *r) { return r->n; }

int router_add(router_t *r, const char *prefix, void *target)
{
    size_t len = strlen(prefix);
    if (len == 0 || prefix[0] != '/' || (len > 1 && prefix[len - 1] == '/'))
        return -1;
    if (len == 1)
        len = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].len == len && memcmp(r->e[i].prefix, prefix, len) == 0)
            return -1;
    entry_t *e = realloc(r->e, (r->n + 1) * sizeof *e);
    if (e == NULL)
        return -1;
    r->e = e;
    size_t at = 0;
    while (at < r->n && r->e[at].len >= len)
        at++;
    memmove(&r->e[at + 1], &r->e[at], (r->n - at) * sizeof *e);
    r->e[at] = (entry_t){prefix, len, target};
    r->n++;
    return 0;
}

void *router_match(const router_t *r, const char *path, size_t len, size_t *prefix_len)
{
    for (size_t i = 0; i < r->n; i++) {
        const entry_t *e = &r->e[i];
        if (e->len > len || memcmp(e->prefix, path, e->len) != 0)
            continue;
        if (e->len == len || path[e->len] == '/' || e->len == 0) {
            *prefix_len = e->len;
            return e->target;
        }
    }
    return NULL;
}
