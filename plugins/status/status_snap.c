#include "status_snap.h"

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Appends one element of size sz to *arr (n elements, room for *cap). */
static void *grow(void *arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(arr, c * sz);
    if (p)
        *cap = c;
    return p;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

typedef struct walk {
    snap_t *s;
    size_t cap;
} walk_t;

static int take_route(void *arg, const ph_route_info_t *r)
{
    walk_t *w = arg;
    snap_t *s = w->s;
    snap_route_t *a = grow(s->routes, s->nroutes, &w->cap, sizeof *a);
    if (a == NULL)
        return PH_ERROR;
    s->routes = a;
    snap_route_t *c = &a[s->nroutes];
    memset(c, 0, sizeof *c);
    /* a server's struct may be shorter (older) or longer (newer) */
    memcpy(&c->info, r, r->size < sizeof c->info ? r->size : sizeof c->info);
    c->info.size = r->size < sizeof c->info ? r->size : (uint32_t)sizeof c->info;
    c->info.prefix = dup_or_empty(r->prefix);
    c->info.plugins = dup_or_empty(r->plugins);
    c->info.file = dup_or_empty(r->file);
    /* host came later in 1.6: a server's struct without it leaves NULL */
    c->info.host = dup_or_empty(r->size >= offsetof(ph_route_info_t, host) + sizeof r->host ? r->host : NULL);
    s->nroutes++;
    snprintf(c->gen_id, sizeof c->gen_id, "%lu", r->generation);
    if (c->info.prefix == NULL || c->info.plugins == NULL || c->info.file == NULL || c->info.host == NULL)
        return PH_ERROR;
    return 0;
}

static int take_gen(void *arg, const ph_generation_info_t *g)
{
    walk_t *w = arg;
    snap_t *s = w->s;
    snap_gen_t *a = grow(s->gens, s->ngens, &w->cap, sizeof *a);
    if (a == NULL)
        return PH_ERROR;
    s->gens = a;
    snap_gen_t *c = &a[s->ngens];
    memset(c, 0, sizeof *c);
    memcpy(&c->info, g, g->size < sizeof c->info ? g->size : sizeof c->info);
    c->info.files = NULL;
    c->info.nfiles = 0;
    s->ngens++;
    snprintf(c->gen_id, sizeof c->gen_id, "%lu", g->id);
    char **files = calloc(g->nfiles ? g->nfiles : 1, sizeof *files);
    if (files == NULL)
        return PH_ERROR;
    c->info.files = (const char *const *)files;
    for (size_t i = 0; i < g->nfiles; i++) {
        files[i] = dup_or_empty(g->files[i]);
        if (files[i] == NULL)
            return PH_ERROR;
        c->info.nfiles++;
    }
    return 0;
}

int snap_take(const ph_server_api_t *api, snap_t *s)
{
    s->server.size = sizeof s->server;
    if (api->server_info(&s->server) != PH_OK)
        return PH_ERROR;
    walk_t w = {s, 0};
    if (api->routes_visit(take_route, &w) != 0)
        goto fail;
    s->has_16 = PH_API_HAS(api, generations_visit);
    if (!s->has_16)
        return PH_OK;
    w.cap = 0;
    if (api->generations_visit(take_gen, &w) != 0)
        goto fail;
    s->workers = calloc(s->server.threads ? s->server.threads : 1, sizeof *s->workers);
    if (s->workers == NULL)
        goto fail;
    for (unsigned i = 0; i < s->server.threads; i++) {
        s->workers[i].size = sizeof s->workers[i];
        if (api->worker_info(i, &s->workers[i]) != PH_OK)
            s->workers[i].index = i; /* past the probed ones: zeros */
    }
    return PH_OK;
fail:
    snap_free(s);
    return PH_ERROR;
}

void snap_free(snap_t *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        free((char *)s->routes[i].info.prefix);
        free((char *)s->routes[i].info.plugins);
        free((char *)s->routes[i].info.file);
        free((char *)s->routes[i].info.host);
    }
    for (size_t i = 0; i < s->ngens; i++) {
        for (size_t k = 0; k < s->gens[i].info.nfiles; k++)
            free((char *)s->gens[i].info.files[k]);
        free((void *)s->gens[i].info.files);
    }
    free(s->routes);
    free(s->gens);
    free(s->workers);
    memset(s, 0, sizeof *s);
}
