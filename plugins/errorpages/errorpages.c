/*
 * errorpages: an output filter that gives a route's error answers the
 * site's own body: an HTML page per status (or per class, 4xx/5xx), or a
 * JSON object on API routes, whoever produced the error (the content
 * handler, the core's 404, 413, 500 or 504).
 *
 *     [route /]
 *     plugin = static, errorpages
 *     static.root = /srv/www
 *     errorpages.404 = /srv/errors/404.html
 *     errorpages.5xx = /srv/errors/50x.html
 *
 *     [route /api]
 *     plugin = app, errorpages
 *     errorpages.json = yes
 *
 * Keys:
 *   NNN = FILE    the body for status NNN (400-599)
 *   4xx = FILE    the body for any 4xx without a page of its own (5xx alike)
 *   json = yes    every 4xx and 5xx without a page gets
 *                 {"error":"<reason phrase>","status":NNN} (application/json)
 *   type = TYPE   Content-Type of the pages (default text/html; charset=utf-8)
 * Pages are read when the route is created and served from memory; a
 * reload reads them again when a file changed (reload_check). The status,
 * and the fields other than Content-Type, stay as the answer had them.
 */
#include <plughttpd/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pages for 400-599 plus one per class: slot status - 400, and 200/201
 * for the 4xx/5xx fallbacks. */
#define EP_SLOTS 202
#define EP_PAGE_MAX (1u << 20)

typedef struct ep_page {
    char *path;  /* owned; NULL: no page */
    char *body;  /* owned: the file's bytes */
    size_t len;
    struct timespec mtime; /* to notice a change at a reload */
    off_t size;
} ep_page_t;

/* Written by create(); read by every thread afterwards. */
typedef struct errorpages {
    const ph_server_api_t *api;
    ep_page_t page[EP_SLOTS];
    int json;
    char *type; /* owned */
} errorpages_t;

/* What one request's answer is replaced with (in the request's memory). */
typedef struct ep_state {
    const char *body;
    size_t len;
} ep_state_t;

static void ep_destroy(void *instance);

__attribute__((format(printf, 2, 3))) static int ep_refuse(ph_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return PH_ERROR;
}

/* The slot a key names ("404", "5xx"), or -1. */
static int ep_slot(const char *key)
{
    if (strlen(key) != 3 || (key[0] != '4' && key[0] != '5'))
        return -1;
    if (key[1] == 'x' && key[2] == 'x')
        return key[0] == '4' ? 200 : 201;
    if (key[1] < '0' || key[1] > '9' || key[2] < '0' || key[2] > '9')
        return -1;
    return (key[0] - '4') * 100 + (key[1] - '0') * 10 + (key[2] - '0');
}

static int ep_load(ep_page_t *p, const char *path, ph_error_t *err)
{
    /* O_NONBLOCK: a FIFO (or device) in a page's place is refused by the
     * check below instead of blocking the start or a reload in open() */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (f == NULL) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return ep_refuse(err, "%s: %s", path, strerror(saved));
    }
    struct stat sb;
    int rc = PH_ERROR;
    if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode))
        ep_refuse(err, "%s: not a regular file", path);
    else if ((size_t)sb.st_size > EP_PAGE_MAX)
        ep_refuse(err, "%s: over 1 MiB", path);
    else if ((p->body = malloc((size_t)sb.st_size + 1)) == NULL || (p->path = strdup(path)) == NULL)
        ep_refuse(err, "out of memory");
    else if (fread(p->body, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
        ep_refuse(err, "%s: short read", path);
    else {
        p->len = (size_t)sb.st_size;
        p->mtime = sb.st_mtim;
        p->size = sb.st_size;
        rc = PH_OK;
    }
    fclose(f);
    return rc;
}

static int ep_key(errorpages_t *e, const ph_create_args_t *args, const ph_kv_t *kv, ph_error_t *err)
{
    if (strcmp(kv->key, "json") == 0)
        return args->api->parse_bool(kv->value, &e->json) == PH_OK
                   ? PH_OK
                   : ep_refuse(err, "json must be yes or no, not \"%s\"", kv->value);
    if (strcmp(kv->key, "type") == 0) {
        free(e->type);
        e->type = strdup(kv->value);
        if (e->type == NULL)
            return ep_refuse(err, "out of memory");
        return args->api->field_check("Content-Type", e->type) == PH_OK
                   ? PH_OK
                   : ep_refuse(err, "type \"%s\" is not a valid field value", kv->value);
    }
    int slot = ep_slot(kv->key);
    if (slot < 0)
        return ep_refuse(err, "unknown key \"%s\" (a status 400-599, 4xx, 5xx, json, type)", kv->key);
    if (e->page[slot].path)
        return ep_refuse(err, "a second page for %s", kv->key);
    char *path = kv->value[0] == '/' ? strdup(kv->value) : NULL;
    if (path == NULL && kv->value[0] != '/') {
        size_t n = strlen(args->config_dir) + strlen(kv->value) + 2;
        if ((path = malloc(n)) != NULL)
            snprintf(path, n, "%s/%s", args->config_dir, kv->value);
    }
    if (path == NULL)
        return ep_refuse(err, "out of memory");
    int rc = ep_load(&e->page[slot], path, err);
    free(path);
    return rc;
}

static int ep_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    errorpages_t *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return ep_refuse(err, "out of memory");
    e->api = args->api;
    if (!PH_API_HAS(e->api, field_check)) {
        ep_destroy(e);
        return ep_refuse(err, "needs a server with plugin ABI 1.5");
    }
    for (size_t i = 0; i < args->nkeys; i++) {
        if (ep_key(e, args, &args->keys[i], err) != PH_OK) {
            err->key = (int)i;
            ep_destroy(e);
            return PH_ERROR;
        }
    }
    if (e->type == NULL && (e->type = strdup("text/html; charset=utf-8")) == NULL) {
        ep_destroy(e);
        return ep_refuse(err, "out of memory");
    }
    *instance = e;
    return PH_OK;
}

/* The page for status, or NULL. */
static const ep_page_t *ep_page_for(const errorpages_t *e, int status)
{
    if (status < 400 || status > 599)
        return NULL;
    if (e->page[status - 400].path)
        return &e->page[status - 400];
    const ep_page_t *cls = &e->page[status < 500 ? 200 : 201];
    return cls->path ? cls : NULL;
}

/* {"error":"Not Found","status":404} in the request's memory. */
static int ep_json(const ph_server_api_t *api, ph_request_t *req, int status, ep_state_t *st)
{
    char *body = api->alloc(req, 160);
    if (body == NULL)
        return PH_ERROR;
    /* The server's reason phrases are ASCII words, hyphens and spaces
     * (at most 31 bytes): nothing to escape in JSON. */
    int n = snprintf(body, 160, "{\"error\":\"%s\",\"status\":%d}\n", api->reason(status), status);
    st->body = body;
    st->len = (size_t)n;
    return api->set_header(req, "Content-Type", "application/json");
}

static int ep_filter_head(void *instance, ph_request_t *req, void **state)
{
    const errorpages_t *e = instance;
    const ph_server_api_t *api = e->api;
    int status = api->status(req);
    const ep_page_t *p = ep_page_for(e, status);
    if (p == NULL && !(e->json && status >= 400 && status <= 599))
        return PH_DECLINED;
    ep_state_t *st = api->alloc(req, sizeof(*st));
    if (st == NULL)
        return PH_ERROR;
    if (p) {
        st->body = p->body;
        st->len = p->len;
        if (api->set_header(req, "Content-Type", e->type) != PH_OK)
            return PH_ERROR;
    } else if (ep_json(api, req, status, st) != PH_OK) {
        return PH_ERROR;
    }
    *state = st;
    return PH_OK;
}

/* The answer's own bytes are dropped; the page goes out at their end. */
static int ep_filter_body(void *instance, ph_request_t *req, void *state, const void *data, size_t len,
                          unsigned flags)
{
    (void)data;
    (void)len;
    const errorpages_t *e = instance;
    const ep_state_t *st = state;
    if (!(flags & PH_FILTER_END))
        return PH_OK;
    return e->api->filter_emit(req, st->body, st->len);
}

/* Created anew at a reload when a page's file changed. */
static int ep_reload_check(void *instance)
{
    const errorpages_t *e = instance;
    for (int i = 0; i < EP_SLOTS; i++) {
        const ep_page_t *p = &e->page[i];
        struct stat sb;
        if (p->path && (stat(p->path, &sb) < 0 || sb.st_size != p->size || sb.st_mtim.tv_sec != p->mtime.tv_sec ||
                        sb.st_mtim.tv_nsec != p->mtime.tv_nsec))
            return 1;
    }
    return 0;
}

static void ep_destroy(void *instance)
{
    errorpages_t *e = instance;
    if (e == NULL)
        return;
    for (int i = 0; i < EP_SLOTS; i++) {
        free(e->page[i].path);
        free(e->page[i].body);
    }
    free(e->type);
    free(e);
}

static const ph_hooks_t ep_hooks = {sizeof(ph_hooks_t), .filter_head = ep_filter_head,
                                    .filter_body = ep_filter_body, .reload_check = ep_reload_check};

PH_PLUGIN_DEFINE_HOOKS("errorpages", "1.0", 0, ep_create, NULL, ep_destroy, &ep_hooks);
