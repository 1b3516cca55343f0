/*
 * proxy: a reverse proxy. Each request routed here goes to one of the
 * route's upstream servers (HTTP/1.1 over TCP or a unix socket) and the
 * answer comes back to the client, both bodies streamed with
 * back-pressure. The handler is a coroutine (ABI 1.4): its waits on
 * upstream sockets and on the client let the worker's loop serve everyone
 * else meanwhile, so thousands of slow upstream requests fit on one
 * thread.
 *
 * Files: proxy_conf (keys), proxy_upstream (balance and health counters),
 * proxy_pool (per-thread keep-alive), proxy_health (active check),
 * proxy_request / proxy_response (heads both ways), proxy_hop (hop-by-hop
 * fields), proxy_exchange (one request), proxy_tunnel (after a 101),
 * proxy_buf; trusted_proxies is an api->cidr_* set. README.md lists the keys.
 */
#include "proxy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_exchange.h"
#include "proxy_hop.h"
#include "proxy_health.h"
#include "proxy_pool.h"

void proxy_log(const proxy_t *p, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->api->log(level, "proxy %s: %s", p->prefix, line);
}

/* --- instance ----------------------------------------------------------- */

static void proxy_destroy(void *instance)
{
    proxy_t *p = instance;
    if (!p)
        return;
    for (unsigned i = 0; p->threads && i < p->nthreads; i++)
        proxy_pool_free(&p->threads[i]);
    free(p->threads);
    proxy_conf_free(&p->conf);
    free(p->prefix);
    free(p);
}

static int proxy_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    proxy_t *p = calloc(1, sizeof *p);
    if (!p || !(p->prefix = strdup(args->prefix))) {
        free(p);
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    p->api = args->api;
    if (!PH_API_HAS(p->api, chunked_decode)) {
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "needs a server with plugin ABI 1.4 (coroutines)");
        proxy_destroy(p);
        return PH_ERROR;
    }
    if (proxy_conf_load(&p->conf, args, err) != PH_OK) {
        proxy_destroy(p);
        return PH_ERROR;
    }
    p->nthreads = args->threads ? args->threads : 1;
    p->threads = calloc(p->nthreads, sizeof *p->threads);
    if (!p->threads) {
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        proxy_destroy(p);
        return PH_ERROR;
    }
    for (unsigned i = 0; i < p->nthreads; i++) {
        p->threads[i].p = p;
        p->threads[i].index = i;
    }
    *instance = p;
    return PH_OK;
}

/* --- per worker thread ------------------------------------------------ */

static int proxy_thread_init(void *instance, unsigned index)
{
    proxy_t *p = instance;
    (void)index; /* the slot is the loop's own index, found by the loop */
    proxy_thread_t *t = proxy_thread_find(p);
    if (!t) {
        proxy_log(p, PH_LOG_ERROR, "thread %u: not a worker loop of this process", index);
        return PH_ERROR;
    }
    t->loop = p->api->loop_current();
    if (proxy_pool_open(t) != PH_OK) {
        proxy_log(p, PH_LOG_ERROR, "thread %u: out of memory for the keep-alive pool", t->index);
        return PH_ERROR;
    }
    return proxy_health_start(t);
}

static void proxy_thread_exit(void *instance, unsigned index)
{
    proxy_t *p = instance;
    (void)index;
    proxy_thread_t *t = proxy_thread_find(p);
    if (!t)
        return;
    proxy_health_stop(t);
    proxy_pool_close(t);
}

/* --- the request ------------------------------------------------------ */

static int answer(proxy_exchange_t *x, int status, const char *body)
{
    x->p->api->send_error(x->req, status, body);
    return PH_OK;
}

static int failed_answer(proxy_exchange_t *x, proxy_x_t r)
{
    switch (r) {
    case PROXY_X_TIMEOUT:
        return answer(x, 504, "Gateway Timeout: the upstream server did not answer in time");
    case PROXY_X_CONNECT:
        return answer(x, 502, "Bad Gateway: the upstream server is unreachable");
    case PROXY_X_NOMEM:
        return PH_ERROR;
    case PROXY_X_LOCAL:
        return answer(x, 503, "Service Unavailable: the proxy is out of resources");
    default:
        return answer(x, 502, "Bad Gateway: the upstream server failed to answer");
    }
}

/* Counts a failure against the upstream; logs the line naming it. */
static void note_failure(proxy_exchange_t *x, proxy_x_t r)
{
    proxy_t *p = x->p;
    const char *addr = p->conf.ups.list[x->up].address;
    if (r == PROXY_X_LOCAL) {
        proxy_log(p, PH_LOG_ERROR, "upstream %s: %s (not counted against it)", addr, x->why);
        return;
    }
    if (r == PROXY_X_CLIENT || r == PROXY_X_CANCELED || r == PROXY_X_NOMEM) {
        /* Not the upstream's doing. */
        if (r == PROXY_X_CLIENT && x->body_client_rc != -EMSGSIZE)
            proxy_log(p, PH_LOG_INFO, "client %s: %s (upstream %s)", x->ip, x->why, addr);
        return;
    }
    proxy_log(p, PH_LOG_ERROR, "upstream %s: %s", addr, x->why);
    if (proxy_upstream_failed(&p->conf.ups, x->up))
        proxy_log(p, PH_LOG_WARN, "upstream %s: marked down for %lld ms after %u failure%s", addr,
                  (long long)p->conf.ups.fail_timeout_ms, p->conf.ups.max_fails,
                  p->conf.ups.max_fails == 1 ? "" : "s");
}

/* The client's body failed: past max_body_bytes the core has answered
 * 413; a body that stopped coming gets 408. */
static int client_failed(proxy_exchange_t *x, int rc)
{
    if (rc == -ETIMEDOUT && !x->body_sent)
        return answer(x, 408, "Request Timeout: the request body did not arrive in time");
    return PH_ERROR;
}

static int proxy_handle(void *instance, ph_request_t *req)
{
    proxy_t *p = instance;
    int client_rc;
    proxy_exchange_t *x = proxy_exchange_new(p, req, &client_rc);
    if (!x)
        return PH_ERROR;
    if (x->hop_overflow) {
        proxy_log(p, PH_LOG_INFO, "client %s: Connection names more than %d options: refused", x->ip,
                  PROXY_HOP_TOKENS_MAX);
        return answer(x, 400, "Bad Request: too many Connection options");
    }
    if (client_rc < 0) {
        /* The core answers a body over max_body_bytes (413) itself. */
        if (client_rc != -ECANCELED && client_rc != -EMSGSIZE)
            proxy_log(p, PH_LOG_INFO, "client %s: request body: %s", x->ip, strerror(-client_rc));
        return client_failed(x, client_rc);
    }
    unsigned tries = 1 + (x->idempotent && x->body_whole ? p->conf.retries : 0);
    uint64_t tried = 0;
    proxy_x_t r = PROXY_X_BAD;
    int picked = 0;
    for (unsigned k = 0; k < tries; k++) {
        int up = proxy_upstream_pick(&p->conf.ups, tried, x->ip);
        if (up < 0)
            break;
        picked = 1;
        tried |= 1ull << up;
        r = proxy_exchange_attempt(x, up);
        if (r == PROXY_X_OK)
            break;
        note_failure(x, r);
        proxy_upstream_release(&p->conf.ups, up);
        x->up = -1;
        if (r == PROXY_X_CLIENT || r == PROXY_X_CANCELED || r == PROXY_X_NOMEM || r == PROXY_X_LOCAL ||
            x->body_sent || x->head_set)
            break;
    }
    int rc;
    if (!picked) {
        proxy_log(p, PH_LOG_ERROR, "no upstream available: all %zu marked down", p->conf.ups.n);
        rc = answer(x, 503, "Service Unavailable: no upstream server is available");
    } else if (r == PROXY_X_CLIENT) {
        rc = client_failed(x, x->body_client_rc);
    } else if (r == PROXY_X_CANCELED) {
        rc = PH_ERROR;
    } else if (r != PROXY_X_OK) {
        rc = failed_answer(x, r);
    } else {
        proxy_upstream_succeeded(&p->conf.ups, x->up);
        rc = proxy_exchange_relay(x);
        proxy_upstream_release(&p->conf.ups, x->up);
    }
    proxy_exchange_free(x);
    return rc;
}

/* --- descriptor ------------------------------------------------------- */

static const ph_hooks_t proxy_hooks = {
    .size = sizeof(ph_hooks_t),
    .thread_init = proxy_thread_init,
    .thread_exit = proxy_thread_exit,
};

PH_PLUGIN_DEFINE_HOOKS("proxy", "1.0", PH_PLUGIN_COROUTINE | PH_PLUGIN_STREAM_BODY | PH_PLUGIN_UPGRADE, proxy_create,
                       proxy_handle, proxy_destroy, &proxy_hooks);
