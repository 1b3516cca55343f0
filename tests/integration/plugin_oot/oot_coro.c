/*
 * oot_coro: a coroutine handler (ABI 1.4) relaying one line to an
 * upstream, built out of tree like hello.c (see Makefile here and
 * plughttpd-plugin(3)).
 *
 * Route keys:
 *   upstream = 127.0.0.1:7000   where to connect: "host:port",
 *                               "[v6]:port" or "unix:/path" (required)
 *   timeout = 2s                each wait: connect, write, read (up to 60s)
 *
 * Each request: connect, send the request's subpath and a newline, read
 * one line back (at most 4 KiB), answer it as the body (text/plain). A
 * subpath holding control characters (a decoded %0A) is answered 400. An
 * upstream that fails is answered 502 naming the step and the error; one
 * that is too slow, 504.
 *
 * Nothing here blocks the thread: co_connect, sock_write and
 * sock_read_until suspend the handler's coroutine while they wait, and
 * the worker serves other connections meanwhile. The socket is closed on
 * every path, also when the client leaves (the calls then return
 * -ECANCELED).
 */
#include <plughttpd/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORO_MAX_TIMEOUT_MS 60000u
#define CORO_MAX_LINE 4096u

typedef struct relay {
    const ph_server_api_t *api;
    char upstream[256];
    uint64_t timeout_ms;
} relay_t;

static int relay_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    const ph_server_api_t *api = args->api;
    if (!PH_API_HAS(api, sock_close) || !PH_API_HAS(api, co_respond)) {
        snprintf(err->msg, sizeof err->msg, "needs a server with plugin ABI 1.4 (coroutines)");
        return PH_ERROR;
    }
    relay_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    r->api = api;
    r->timeout_ms = 2000;
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        err->key = (int)i;
        if (strcmp(k, "upstream") == 0 && v[0] != '\0' && strlen(v) < sizeof r->upstream) {
            snprintf(r->upstream, sizeof r->upstream, "%s", v);
        } else if (strcmp(k, "upstream") == 0) {
            snprintf(err->msg, sizeof err->msg, "upstream is host:port or unix:/path, not \"%s\"", v);
            goto fail;
        } else if (strcmp(k, "timeout") == 0) {
            if (api->parse_duration(v, &r->timeout_ms) != PH_OK || r->timeout_ms == 0 ||
                r->timeout_ms > CORO_MAX_TIMEOUT_MS) {
                snprintf(err->msg, sizeof err->msg, "timeout is a duration up to 60s, not \"%s\"", v);
                goto fail;
            }
        } else {
            snprintf(err->msg, sizeof err->msg, "unknown key \"%s\"", k);
            goto fail;
        }
    }
    if (r->upstream[0] == '\0') {
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "upstream is required");
        goto fail;
    }
    *instance = r;
    return PH_OK;
fail:
    free(r);
    return PH_ERROR;
}

/* 504 for a wait that timed out, 502 for anything else; a cancelled
 * request gets nothing (its client is gone). */
static int relay_fail(relay_t *r, ph_request_t *req, const char *step, long rc)
{
    char msg[128];
    if (rc == -ECANCELED)
        return PH_ERROR;
    snprintf(msg, sizeof msg, "upstream %s: %s", step, strerror((int)-rc));
    return r->api->send_error(req, rc == -ETIMEDOUT ? 504 : 502, msg);
}

/* The subpath is percent-decoded: "%0A" would end the line early and
 * smuggle a second one to the upstream. (The core refuses such paths
 * today, but plugin.h does not promise it.) */
static int one_line(ph_str_t s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
            return 0;
    return 1;
}

static int relay_handle(void *instance, ph_request_t *req)
{
    relay_t *r = instance;
    const ph_server_api_t *api = r->api;
    int64_t t = (int64_t)r->timeout_ms;
    ph_str_t sub = api->subpath(req);
    if (!one_line(sub))
        return api->send_error(req, 400, "control characters in the path");
    ph_sock_t *s = NULL;
    int rc = api->co_connect(r->upstream, t, &s);
    if (rc != 0)
        return relay_fail(r, req, "connect", rc);
    ssize_t n = api->sock_write(s, sub.ptr, sub.len, t);
    if (n >= 0)
        n = api->sock_write(s, "\n", 1, t);
    if (n < 0) {
        api->sock_close(s);
        return relay_fail(r, req, "write", n);
    }
    ph_str_t line;
    n = api->sock_read_until(s, "\n", 1, CORO_MAX_LINE, &line, t);
    if (n < 0) {
        api->sock_close(s);
        return relay_fail(r, req, "read", n);
    }
    /* the line lives in the socket's buffer: copy it before closing */
    rc = api->body_append(req, line.ptr, line.len);
    api->sock_close(s);
    if (rc != PH_OK)
        return PH_ERROR;
    return api->add_header(req, "Content-Type", "text/plain");
}

static void relay_destroy(void *instance)
{
    free(instance);
}

PH_PLUGIN_DEFINE("oot_coro", "1.0", PH_PLUGIN_COROUTINE, relay_create, relay_handle, relay_destroy);
