/*
 * return: answers every request of its route with a fixed status, and a
 * Location or a short body built from a template: redirects (a site moved,
 * http to a canonical host, an old path to a new one) and fixed answers
 * (a 410 for a retired API, a 503 during maintenance, a health check).
 *
 *     [route /old]
 *     plugin = return
 *     status = 301
 *     location = https://example.com/new$subpath$query
 *
 * Keys:
 *   status = NNN          200-599 (required)
 *   location = TEMPLATE   the Location field (required for 301, 302, 303,
 *                         307 and 308)
 *   body = TEMPLATE       the body, sent with a newline after it (default:
 *                         none)
 *   content_type = TYPE   of the body (default text/plain; charset=utf-8)
 * Templates may hold:
 *   $scheme   http or https
 *   $host     the host the client asked for (the target's authority, else
 *             Host) as virtual hosts match it (api->host): lower case, no
 *             port, no trailing dot; never holds '/', '@' or controls
 *   $path     the request's path, decoded, dot segments removed, and
 *             percent-encoded again where a URL needs it
 *   $subpath  the same below the route's prefix (starts with /)
 *   $query    "?" and the query as received, or nothing without one
 *   $$        a dollar sign
 * A path that starts with several slashes is given one, so "$path" at the
 * start of a location can never become "//other.host/...", which a browser
 * would follow to another site. Paths are encoded by api->url_escape: every
 * byte but A-Z a-z 0-9 - . _ ~ and '/' becomes %XX.
 */
#include <plughttpd/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rt {
    const ph_server_api_t *api;
    int status;
    char *location;     /* owned template, or NULL */
    char *body;         /* owned template, or NULL */
    char *content_type; /* owned */
} rt_t;

static void rt_destroy(void *instance);

__attribute__((format(printf, 2, 3))) static int rt_refuse(ph_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return PH_ERROR;
}

/* --- templates ------------------------------------------------------------ */

static const char *const rt_vars[] = {"scheme", "host", "subpath", "path", "query", NULL};

/* Length of the variable name at s (after '$'), or 0 when it names none. */
static size_t rt_var(const char *s, int *which)
{
    for (int i = 0; rt_vars[i]; i++) {
        size_t n = strlen(rt_vars[i]);
        if (strncmp(s, rt_vars[i], n) == 0) {
            *which = i;
            return n;
        }
    }
    return 0;
}

/* Whether every '$' of t starts a known variable or "$$". */
static int rt_template_ok(const char *t, char *bad, size_t badlen)
{
    for (const char *p = strchr(t, '$'); p; p = strchr(p, '$')) {
        int which;
        size_t n = p[1] == '$' ? 1 : rt_var(p + 1, &which);
        if (n == 0) {
            snprintf(bad, badlen, "%.20s", p);
            return 0;
        }
        p += 1 + n;
    }
    return 1;
}

/* A growing string: a template's expansion. */
typedef struct rt_buf {
    char *p;
    size_t len, cap;
} rt_buf_t;

/* Room for n more bytes and a NUL. */
static int rt_reserve(rt_buf_t *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return PH_ERROR;
        b->p = p;
        b->cap = cap;
    }
    return PH_OK;
}

static int rt_put(rt_buf_t *b, const char *s, size_t n)
{
    if (rt_reserve(b, n) != PH_OK)
        return PH_ERROR;
    if (n) /* s may be NULL when n is 0 (an absent query) */
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return PH_OK;
}

/* Appends path s, percent-encoded by api->url_escape, giving a leading
 * run of slashes one slash. */
static int rt_put_path(const ph_server_api_t *api, rt_buf_t *b, ph_str_t s)
{
    size_t i = 0;
    while (s.len - i > 1 && s.ptr[i] == '/' && s.ptr[i + 1] == '/')
        i++;
    size_t n = api->url_escape(s.ptr + i, s.len - i, 0, NULL, 0);
    if (rt_reserve(b, n) != PH_OK)
        return PH_ERROR;
    b->len += api->url_escape(s.ptr + i, s.len - i, 0, b->p + b->len, n + 1);
    return PH_OK;
}

/* Expands template t for req into b (NUL-terminated). */
static int rt_expand(const ph_server_api_t *api, ph_request_t *req, const char *t, rt_buf_t *b)
{
    if (rt_put(b, "", 0) != PH_OK)
        return PH_ERROR;
    while (*t) {
        const char *dollar = strchr(t, '$');
        size_t lit = dollar ? (size_t)(dollar - t) : strlen(t);
        if (rt_put(b, t, lit) != PH_OK)
            return PH_ERROR;
        if (dollar == NULL)
            break;
        if (dollar[1] == '$') {
            if (rt_put(b, "$", 1) != PH_OK)
                return PH_ERROR;
            t = dollar + 2;
            continue;
        }
        int which = 0;
        size_t n = rt_var(dollar + 1, &which); /* known: checked at create() */
        ph_str_t v = {"", 0};
        int rc = PH_OK;
        switch (which) {
        case 0: v = api->scheme(req); break;
        case 1: v = api->host(req); break;
        case 2: rc = rt_put_path(api, b, api->subpath(req)); break;
        case 3: rc = rt_put_path(api, b, api->path(req)); break;
        default:
            v = api->query(req);
            if (v.len)
                rc = rt_put(b, "?", 1);
            break;
        }
        if (rc != PH_OK || rt_put(b, v.ptr, v.len) != PH_OK)
            return PH_ERROR;
        t = dollar + 1 + n;
    }
    return PH_OK;
}

/* --- create ------------------------------------------------------------- */

static int rt_key(rt_t *r, const ph_kv_t *kv, ph_error_t *err)
{
    char **dst = NULL;
    if (strcmp(kv->key, "status") == 0) {
        char *end;
        long v = strtol(kv->value, &end, 10);
        if (*kv->value == '\0' || *end != '\0' || v < 200 || v > 599)
            return rt_refuse(err, "status must be 200-599, not \"%s\"", kv->value);
        r->status = (int)v;
        return PH_OK;
    }
    if (strcmp(kv->key, "location") == 0)
        dst = &r->location;
    else if (strcmp(kv->key, "body") == 0)
        dst = &r->body;
    else if (strcmp(kv->key, "content_type") == 0)
        dst = &r->content_type;
    else
        return rt_refuse(err, "unknown key \"%s\" (status, location, body, content_type)", kv->key);
    char bad[24];
    if (dst != &r->content_type && !rt_template_ok(kv->value, bad, sizeof bad))
        return rt_refuse(err, "%s: unknown variable at \"%s\" ($scheme, $host, $path, $subpath, $query, $$)",
                         kv->key, bad);
    free(*dst);
    *dst = strdup(kv->value);
    return *dst ? PH_OK : rt_refuse(err, "out of memory");
}

static int rt_is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static int rt_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    rt_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return rt_refuse(err, "out of memory");
    r->api = args->api;
    if (!PH_API_HAS(args->api, url_escape)) {
        rt_destroy(r);
        return rt_refuse(err, "the server lacks api->host and api->url_escape (ABI 1.6)");
    }
    for (size_t i = 0; i < args->nkeys; i++) {
        if (rt_key(r, &args->keys[i], err) != PH_OK) {
            err->key = (int)i;
            rt_destroy(r);
            return PH_ERROR;
        }
    }
    err->key = -1;
    int rc = PH_OK;
    if (r->status == 0)
        rc = rt_refuse(err, "status is required (e.g. status = 301)");
    else if (rt_is_redirect(r->status) && r->location == NULL)
        rc = rt_refuse(err, "status %d needs a location", r->status);
    else if (r->content_type == NULL && (r->content_type = strdup("text/plain; charset=utf-8")) == NULL)
        rc = rt_refuse(err, "out of memory");
    else if (r->api->field_check("Content-Type", r->content_type) != PH_OK)
        rc = rt_refuse(err, "content_type \"%s\" is not a valid field value", r->content_type);
    if (rc != PH_OK) {
        rt_destroy(r);
        return rc;
    }
    *instance = r;
    return PH_OK;
}

/* --- handle --------------------------------------------------------------- */

static int rt_answer(const rt_t *r, ph_request_t *req, rt_buf_t *b)
{
    const ph_server_api_t *api = r->api;
    if (api->set_status(req, r->status) != PH_OK)
        return PH_ERROR;
    if (r->location &&
        (rt_expand(api, req, r->location, b) != PH_OK || api->set_header(req, "Location", b->p) != PH_OK))
        return PH_ERROR;
    if (r->body == NULL)
        return PH_OK;
    b->len = 0;
    if (api->set_header(req, "Content-Type", r->content_type) != PH_OK || rt_expand(api, req, r->body, b) != PH_OK ||
        rt_put(b, "\n", 1) != PH_OK)
        return PH_ERROR;
    return api->body_append(req, b->p, b->len);
}

static int rt_handle(void *instance, ph_request_t *req)
{
    rt_buf_t b = {NULL, 0, 0};
    int rc = rt_answer(instance, req, &b);
    free(b.p);
    return rc;
}

static void rt_destroy(void *instance)
{
    rt_t *r = instance;
    if (r == NULL)
        return;
    free(r->location);
    free(r->body);
    free(r->content_type);
    free(r);
}

PH_PLUGIN_DEFINE("return", "1.0", 0, rt_create, rt_handle, rt_destroy);
