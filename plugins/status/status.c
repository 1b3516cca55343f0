/*
 * status: this process's numbers for people and for Prometheus.
 *
 *     [route /status]
 *     plugin = status
 *
 *   GET /status/metrics    Prometheus text format 0.0.4 (status_metrics.c)
 *   GET /status/           an HTML page with a live requests-per-second
 *                          chart (status_page.c), which polls
 *   GET /status/json       a small JSON snapshot (status_json.c)
 *   GET /status/status.js  the page's script
 * Anything else below the prefix is 404; methods other than GET and HEAD
 * are 405. No keys. The answers are never cached. Who may read them is
 * the operator's choice: stack an access stage in front (README.md).
 */
#include <plughttpd/plugin.h>

#include <stdlib.h>
#include <string.h>

#include "status_buf.h"
#include "status_expo.h"
#include "status_json.h"
#include "status_metrics.h"
#include "status_page.h"
#include "status_snap.h"

typedef struct status {
    const ph_server_api_t *api;
} status_t;

static int status_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    if (args->nkeys > 0) {
        strncpy(err->msg, "status takes no keys", sizeof err->msg - 1);
        err->key = 0;
        return PH_ERROR;
    }
    status_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        strncpy(err->msg, "out of memory", sizeof err->msg - 1);
        return PH_ERROR;
    }
    s->api = args->api;
    *instance = s;
    return PH_OK;
}

static void status_destroy(void *instance) { free(instance); }

static int str_is(ph_str_t s, const char *lit) { return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0; }

/* Sends b's text (taken over: freed when the request ends). */
static int send_buf(const ph_server_api_t *api, ph_request_t *req, stbuf_t *b, const char *type)
{
    if (b->failed || api->on_cleanup(req, free, b->p) != PH_OK) {
        stbuf_free(b);
        return api->send_error(req, 500, "out of memory") == PH_OK ? PH_OK : PH_ERROR;
    }
    api->add_header(req, "Content-Type", type);
    api->add_header(req, "Cache-Control", "no-store");
    return api->body_ref(req, b->p ? b->p : "", b->len);
}

/* The metrics or the JSON snapshot, read now. */
static int send_snapshot(const status_t *st, ph_request_t *req, int json)
{
    const ph_server_api_t *api = st->api;
    snap_t s;
    memset(&s, 0, sizeof s);
    if (snap_take(api, &s) != PH_OK)
        return api->send_error(req, 500, "out of memory") == PH_OK ? PH_OK : PH_ERROR;
    stbuf_t b = {NULL, 0, 0, 0};
    if (json)
        json_write(&b, &s);
    else
        metrics_write(&b, &s, api->server_version);
    snap_free(&s);
    return send_buf(api, req, &b, json ? "application/json" : EXPO_CONTENT_TYPE);
}

static int send_static(const ph_server_api_t *api, ph_request_t *req, const char *body, size_t len,
                       const char *type)
{
    api->add_header(req, "Content-Type", type);
    api->add_header(req, "Cache-Control", "no-store");
    api->add_header(req, "X-Content-Type-Options", "nosniff");
    api->add_header(req, "Content-Security-Policy",
                    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'");
    return api->body_ref(req, body, len);
}

/* The page's relative links need the prefix's trailing slash. The
 * Location is built from the route's prefix, never from what the client
 * sent ("//host/.." there would lead elsewhere), percent-encoded. */
static int redirect_to_slash(const ph_server_api_t *api, ph_request_t *req)
{
    static const char hex[] = "0123456789ABCDEF";
    ph_str_t p = api->prefix(req);
    char *loc = api->alloc(req, p.len * 3 + 2), *o = loc;
    if (loc == NULL)
        return PH_ERROR;
    for (size_t i = 0; i < p.len; i++) {
        unsigned char c = (unsigned char)p.ptr[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("/-._~", c)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    memcpy(o, "/", 2);
    api->set_status(req, 301);
    return api->add_header(req, "Location", loc);
}

static int status_handle(void *instance, ph_request_t *req)
{
    const status_t *st = instance;
    const ph_server_api_t *api = st->api;
    ph_str_t m = api->method(req);
    if (!str_is(m, "GET") && !str_is(m, "HEAD")) {
        api->send_error(req, 405, "Method Not Allowed");
        return api->add_header(req, "Allow", "GET, HEAD");
    }
    ph_str_t sub = api->subpath(req);
    if (str_is(sub, "/metrics"))
        return send_snapshot(st, req, 0);
    if (str_is(sub, "/json"))
        return send_snapshot(st, req, 1);
    if (str_is(sub, "/status.js"))
        return send_static(api, req, page_js, page_js_len, "text/javascript; charset=utf-8");
    if (sub.len <= 1) {
        ph_str_t raw = api->raw_path(req);
        if (raw.len == 0 || raw.ptr[raw.len - 1] != '/')
            return redirect_to_slash(api, req);
        return send_static(api, req, page_html, page_html_len, "text/html; charset=utf-8");
    }
    return PH_DECLINED;
}

PH_PLUGIN_DEFINE("status", "1.0", 0, status_create, status_handle, status_destroy);
