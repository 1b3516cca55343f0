#include "router.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    const char *prefix;
    size_t len;  /* 0 for "/" */
    void *target;
} entry_t;

/* One host's routes, sorted by prefix length, longest first: the first hit
 * is the longest match. Route tables are small (tens of entries), and a
 * linear scan of a few memcmp()s beats a trie at that size. */
typedef struct table {
    entry_t *e;
    size_t n;
} table_t;

/* A host with routes. For a wildcard, name is the suffix with its leading
 * dot (".example.com"). */
typedef struct host {
    const char *name;
    size_t len;
    int wild;
    table_t routes;
} host_t;

/* Hosts: exact names first, then wildcards by suffix length, longest
 * first, so the first hit is the best. */
struct router {
    table_t dflt;
    host_t *hosts;
    size_t nhosts;
    size_t count;
    int unknown;
};

router_t *router_new(void)
{
    return calloc(1, sizeof(router_t));
}

void router_free(router_t *r)
{
    if (r == NULL)
        return;
    free(r->dflt.e);
    for (size_t i = 0; i < r->nhosts; i++)
        free(r->hosts[i].routes.e);
    free(r->hosts);
    free(r);
}

size_t router_count(const router_t *r) { return r->count; }
int router_has_hosts(const router_t *r) { return r->nhosts > 0; }
void router_set_unknown_host(router_t *r, int status) { r->unknown = status; }

static int table_add(table_t *t, const char *prefix, void *target)
{
    size_t len = strlen(prefix);
    if (len == 0 || prefix[0] != '/' || (len > 1 && prefix[len - 1] == '/'))
        return -1;
    if (len == 1)
        len = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].len == len && memcmp(t->e[i].prefix, prefix, len) == 0)
            return -1;
    entry_t *e = realloc(t->e, (t->n + 1) * sizeof *e);
    if (e == NULL)
        return -1;
    t->e = e;
    size_t at = 0;
    while (at < t->n && t->e[at].len >= len)
        at++;
    memmove(&t->e[at + 1], &t->e[at], (t->n - at) * sizeof *e);
    t->e[at] = (entry_t){prefix, len, target};
    t->n++;
    return 0;
}

/* The host entry for name, made when new; NULL when out of memory. */
static host_t *host_of(router_t *r, const char *name)
{
    int wild = name[0] == '*';
    const char *key = wild ? name + 1 : name;
    size_t len = strlen(key);
    for (size_t i = 0; i < r->nhosts; i++)
        if (r->hosts[i].wild == wild && r->hosts[i].len == len && memcmp(r->hosts[i].name, key, len) == 0)
            return &r->hosts[i];
    host_t *h = realloc(r->hosts, (r->nhosts + 1) * sizeof *h);
    if (h == NULL)
        return NULL;
    r->hosts = h;
    size_t at = 0;
    if (!wild)
        while (at < r->nhosts && !r->hosts[at].wild)
            at++;
    else
        while (at < r->nhosts && (!r->hosts[at].wild || r->hosts[at].len >= len))
            at++;
    memmove(&r->hosts[at + 1], &r->hosts[at], (r->nhosts - at) * sizeof *h);
    r->hosts[at] = (host_t){key, len, wild, {NULL, 0}};
    r->nhosts++;
    return &r->hosts[at];
}

int router_add_host(router_t *r, const char *host, const char *prefix, void *target)
{
    table_t *t = &r->dflt;
    if (host) {
        if (host[0] == '\0' || (host[0] == '*' && host[1] != '.'))
            return -1;
        host_t *h = host_of(r, host);
        if (h == NULL)
            return -1;
        t = &h->routes;
    }
    if (table_add(t, prefix, target) < 0)
        return -1;
    r->count++;
    return 0;
}

int router_add(router_t *r, const char *prefix, void *target) { return router_add_host(r, NULL, prefix, target); }

static inline void *table_match(const table_t *t, const char *path, size_t len, size_t *prefix_len)
{
    for (size_t i = 0; i < t->n; i++) {
        const entry_t *e = &t->e[i];
        if (e->len > len || memcmp(e->prefix, path, e->len) != 0)
            continue;
        if (e->len == len || path[e->len] == '/' || e->len == 0) {
            *prefix_len = e->len;
            return e->target;
        }
    }
    return NULL;
}

void *router_match(const router_t *r, const char *path, size_t len, size_t *prefix_len)
{
    return table_match(&r->dflt, path, len, prefix_len);
}

static const host_t *find_host(const router_t *r, const char *name, size_t len)
{
    for (size_t i = 0; i < r->nhosts; i++) {
        const host_t *h = &r->hosts[i];
        if (!h->wild) {
            if (h->len == len && memcmp(h->name, name, len) == 0)
                return h;
        } else if (len > h->len && memcmp(name + len - h->len, h->name, h->len) == 0) {
            return h; /* at least one byte of label before ".suffix" */
        }
    }
    return NULL;
}

void *router_match_host(const router_t *r, const char *host, size_t hlen, const char *path, size_t len,
                        size_t *prefix_len, int *status)
{
    const table_t *t = &r->dflt;
    *status = 404;
    if (r->nhosts > 0) {
        const host_t *h = find_host(r, host, hlen);
        if (h)
            t = &h->routes;
        else if (r->unknown) {
            *status = r->unknown;
            return NULL;
        }
    }
    return table_match(t, path, len, prefix_len);
}
