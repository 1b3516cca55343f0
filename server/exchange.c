#include "exchange.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api_co.h"
#include "bstream.h"
#include "crash.h"
#include "gen.h"
#include "hostname.h"
#include "httpdate.h"
#include "log.h"
#include "log_format.h"
#include "realip.h"
#include "request.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"

/* First size of a chunked body's buffer; it doubles from there. */
#define CHUNKED_BODY_FIRST 16384
/* Source pieces fed to output filters. */
#define FILTER_PIECE 16384

static const cfg_t *req_cfg(const ph_request_t *req) { return req->gen->cfg; }

/* Normalises the target's path into req->path. 0, or -1 (answer 400). */
static int exchange_path(ph_request_t *req)
{
    req->path = pool_alloc(req->pool, req->hp.path.len + 1);
    if (req->path == NULL ||
        hp_path_normalize(req->head + req->hp.path.off, req->hp.path.len, req->path, &req->path_len) != HP_OK)
        return -1;
    req->path[req->path_len] = '\0';
    return 0;
}

ph_request_t *exchange_new(worker_t *w, const exch_ops_t *ops, void *carrier)
{
    pool_t *p = worker_pool_get(w);
    if (p == NULL)
        return NULL;
    ph_request_t *req = pool_calloc(p, sizeof *req);
    if (req == NULL) {
        worker_pool_put(w, p);
        return NULL;
    }
    request_init(req, p);
    req->w = w;
    req->ops = ops;
    req->carrier = carrier;
    req->gen = w->gen;
    gen_ref(req->gen);
    req->start_ms = ev_now(w->loop);
    req->seq = worker_next_request_id(w);
    hp_request_init(&req->hp);
    return req;
}

/* --- ending -------------------------------------------------------------- */

/* Gives the request's memory back and drops its generation. The cleanups
 * have run. */
static void release(ph_request_t *req)
{
    worker_t *w = req->w;
    gen_t *g = req->gen;
    worker_pool_put(w, req->pool);
    gen_unref(g);
}

/* Runs the cleanups; releases now, or once a wake message still in flight
 * has arrived (exchange_on_wake), since it points at req. */
static void finish(ph_request_t *req)
{
    pool_run_cleanups(req->pool); /* plugins may still read the body */
    if (req->spill_map) {
        munmap(req->spill_map, req->body_len);
        req->spill_map = NULL;
    }
    if (req->spill_fd >= 0) {
        close(req->spill_fd);
        req->spill_fd = -1;
    }
    req->ended = 1;
    if (__atomic_load_n(&req->wake_posted, __ATOMIC_ACQUIRE)) {
        /* held until then: a stopping worker's loop must run on to take
         * the message (on_tick), or the generation would never be freed */
        req->w->nheld++;
        return;
    }
    release(req);
}

static const char *log_note(const void *ctx, const char *name) { return request_api.note(ctx, name); }

static void access_log(ph_request_t *req, uint64_t bytes)
{
    if (!log_access_enabled())
        return;
    char line[LOG_LINE_MAX], t[32];
    time_t now = (time_t)ev_wall(req->w->loop);
    httpdate_clf(now, t);
    log_access_entry_t e = {
        .peer = request_api.peer(req),
        .direct_peer = req->direct_copy[0] ? req->direct_copy : NULL,
        .time = t,
        .status = req->status,
        .bytes = bytes,
    };
    const log_format_t *fmt = req->gen->cfg->log_format;
    if (fmt) { /* what only access_log_format's other formats print */
        e.when = now;
        e.request_ms = ev_now(req->w->loop) - req->start_ms;
        e.request_id = request_api.request_id(req);
        e.scheme = request_api.scheme(req);
        if (req->head)
            e.host.ptr = exchange_host(req, &e.host.len);
        e.note = log_note;
        e.note_ctx = req;
    }
    if (req->head && req->hp.method.len) {
        e.method = (ph_str_t){req->head + req->hp.method.off, req->hp.method.len};
        e.target = (ph_str_t){req->head + req->hp.target.off, req->hp.target.len};
        e.version_minor = req->hp.version_minor;
        e.http2 = req->http2;
    }
    if (req->head) {
        request_header(req, "Referer", &e.referer);
        request_header(req, "User-Agent", &e.user_agent);
    }
    log_access_add(&req->w->alog, line, log_format_line(fmt, line, &e));
}

static void count_end(const ph_request_t *req, int status, uint64_t bytes_out)
{
    uint64_t now = ev_clock_us();
    stats_end_t e = {status, bytes_out, req->body_total, now > req->head_us ? now - req->head_us : 0};
    stats_request_end(req->route, &e);
}

void exchange_end(ph_request_t *req, int logged, uint64_t bytes)
{
    if (logged)
        access_log(req, bytes);
    if (req->counted)
        count_end(req, logged ? req->status : 0, bytes);
    finish(req);
}

const char *exchange_host(ph_request_t *req, size_t *len)
{
    if (req->host == NULL && req->head) {
        size_t n = req->hp.authority.len;
        char *h = pool_alloc(req->pool, n + 1);
        if (h) {
            req->host_len = hostname_normalise(req->head + req->hp.authority.off, n, h);
            h[req->host_len] = '\0';
            req->host = h;
        }
    }
    *len = req->host ? req->host_len : 0;
    return req->host ? req->host : "";
}

/* Whether a TLS connection's certificate serves the host asked for: a
 * connection opened for one site must not carry requests for another that
 * has its own certificate (an HTTP/2 client reuses connections). */
static int host_allowed(ph_request_t *req)
{
    const tls_conn_t *t = req->ops->tls ? req->ops->tls(req) : NULL;
    if (t == NULL || !tls_host_checked(t))
        return 1;
    size_t n;
    const char *host = exchange_host(req, &n);
    return n == 0 || tls_host_allowed(t, host); /* no host: nothing to mismatch */
}

int exchange_route(ph_request_t *req)
{
    size_t hlen;
    req->no_route = 404;
    (void)exchange_host(req, &hlen); /* api->host() only reads it */
    if (!req->hp.asterisk && exchange_path(req) < 0)
        return -1;
    if (!host_allowed(req)) {
        req->no_route = 421;
        return 0;
    }
    if (req->hp.asterisk)
        return 0;
    const router_t *r = req->gen->router;
    size_t plen = 0;
    if (router_has_hosts(r)) {
        const char *host = exchange_host(req, &hlen);
        req->route = router_match_host(r, host, hlen, req->path, req->path_len, &plen, &req->no_route);
    } else {
        req->route = router_match(r, req->path, req->path_len, &plen);
    }
    req->prefix_len = plen;
    /* a route that crashed its workers too often (crash.h) */
    if (req->route && crash_quarantined(req->gen->id, (size_t)(req->route - req->gen->routes))) {
        req->route = NULL;
        req->no_route = 503;
    }
    return 0;
}

int exchange_held(const ph_request_t *req) { return req->held != HOLD_NONE; }

int exchange_held_blocking(const ph_request_t *req) { return req->held == HOLD_BLOCKING; }

int exchange_answer_coming(const ph_request_t *req)
{
    /* a blocking handle() that resumed is still running: not coming yet */
    return (req->held == HOLD_HEAD || req->held == HOLD_HANDLER) && __atomic_load_n(&req->resumed, __ATOMIC_ACQUIRE);
}

void exchange_detach(ph_request_t *req)
{
    /* no allocation from req->pool here: the plugin holding req may be
     * building its response in that pool on its own thread right now;
     * peer() and local() were copied at exchange_head */
    req->carrier = NULL;
    req->detached = 1;
    req->w->nheld++;
}

int exchange_replace(ph_request_t *late, ph_request_t *r)
{
    /* head, hp and path were written before the plugin got late and the
     * API only reads them: safe to read while it runs */
    r->hp = late->hp;
    r->route = late->route;
    r->seq = late->seq; /* the answer carries the id the plugin saw */
    memcpy(r->peer_copy, late->peer_copy, sizeof r->peer_copy);
    memcpy(r->local_copy, late->local_copy, sizeof r->local_copy);
    memcpy(r->direct_copy, late->direct_copy, sizeof r->direct_copy);
    r->counted = late->counted; /* r's answer is the one counted */
    r->head_us = late->head_us;
    late->counted = 0;
    if (late->head_len == 0)
        return 0;
    r->head = pool_alloc(r->pool, late->head_len);
    r->path = late->path ? pool_strndup(r->pool, late->path, late->path_len) : NULL;
    if (r->head == NULL || (late->path && r->path == NULL)) {
        r->head = NULL;
        r->path = NULL;
        r->hp.method.len = 0; /* logged as "-" */
        return -1;
    }
    memcpy(r->head, late->head, late->head_len);
    r->head_len = late->head_len;
    if (late->ext_id) {
        r->ext_id = r->head + (late->ext_id - late->head);
        r->ext_id_len = late->ext_id_len;
    }
    r->path_len = late->path_len;
    r->prefix_len = late->prefix_len;
    return 0;
}

/* A detached request the plugin let go of: its answer is discarded. */
static void end_detached(ph_request_t *req)
{
    if (req->skipped)
        log_info("handler for \"%s\" not run: its request timed out while queued", req->path ? req->path : "");
    else
        log_info("handler for \"%s\" finished %llu ms after it started; its response was discarded",
                 req->path ? req->path : "", (unsigned long long)(ev_now(req->w->loop) - req->start_ms));
    worker_t *w = req->w;
    if (req->counted)
        count_end(req, 0, 0);
    finish(req);
    w->nheld--; /* on_tick ends a stopping worker once nothing is left */
}

/* --- cancellation ---------------------------------------------------------- */

static const ph_hooks_t *content_hooks(const ph_request_t *req)
{
    return req->route ? &req->route->hooks : NULL;
}

void exchange_cancel(ph_request_t *req)
{
    if (__atomic_exchange_n(&req->cancelled, 1, __ATOMIC_ACQ_REL))
        return;
    bstream_cancel(req); /* a blocking handler waiting in co_send() */
    if (req->cancel_told || (req->held == HOLD_NONE && !req->streaming) || req->route == NULL)
        return;
    req->cancel_told = 1;
    if (req->held == HOLD_CORO)
        apico_req_cancel(req);
    void (*fn)(void *, ph_request_t *) = NULL;
    void *inst = NULL;
    if (req->held == HOLD_HEAD && req->stage > 0 && req->stage <= req->route->naccess) {
        const gen_stage_t *st = &req->route->access[req->stage - 1];
        fn = st->hooks.on_cancel;
        inst = st->inst->instance;
    } else {
        fn = content_hooks(req)->on_cancel;
        inst = req->route->inst->instance;
    }
    if (fn)
        fn(inst, req);
}

/* --- the stages -------------------------------------------------------------- */

/* What a finished content handler's rc makes of the response. */
static void handler_result(ph_request_t *req, int rc)
{
    if (rc == PH_DECLINED)
        request_error(req, 404);
    else if (rc != PH_OK && !req->bad && req->status < 400)
        request_error(req, 500);
    else if (rc != PH_OK && !req->bad && req->body_kind == BODY_NONE)
        request_error(req, req->status);
    req->phase = PHASE_RESPONSE;
}

/* Whether a stage that returned rc still holds the request. A plugin that
 * called resume() and then returned something else broke the contract; its
 * message is on the way and points at req, so wait for it. */
static int still_held(ph_request_t *req, int rc)
{
    if (rc == PH_PENDING)
        return 1;
    if (__atomic_load_n(&req->resumed, __ATOMIC_ACQUIRE)) {
        log_warn("a plugin on \"%s\" called resume() but returned %d, not PH_PENDING", req->path, rc);
        return 1;
    }
    return 0;
}

/* What the crash handler names while file's code runs for req (crash.h):
 * the strings are the generation's and the request head's, which outlive
 * the call. */
static void site_init(crash_site_t *site, const ph_request_t *req, const char *file)
{
    const gen_route_t *r = req->route;
    const char *head = req->head ? req->head : "";
    *site = (crash_site_t){.route = r->cfg->name, .file = file,
                           .method = head + (req->head ? req->hp.method.off : 0),
                           .method_len = req->head ? req->hp.method.len : 0,
                           .target = head + (req->head ? req->hp.target.off : 0),
                           .target_len = req->head ? req->hp.target.len : 0,
                           .gen = req->gen->id, .route_index = (size_t)(r - req->gen->routes)};
}

static int run_handler(ph_request_t *req)
{
    const gen_route_t *route = req->route;
    __atomic_store_n(&req->resumed, 0, __ATOMIC_RELEASE);
    crash_site_t site;
    site_init(&site, req, route->stage->path);
    const crash_site_t *prev = crash_enter(&site);
    int rc = route->desc->handle(route->inst->instance, req);
    crash_leave(prev);
    return rc;
}

/* Runs the content handler: inline, or on a coroutine for a coroutine
 * route. Returns 1 when it still holds req (PH_PENDING, or a coroutine
 * that waits), else 0 with *rc. */
static int start_handler(ph_request_t *req, int *rc)
{
    if (!req->route->coroutine) {
        req->held = HOLD_HANDLER;
        *rc = run_handler(req);
        return still_held(req, *rc);
    }
    req->held = HOLD_CORO;
    __atomic_store_n(&req->resumed, 0, __ATOMIC_RELEASE);
    crash_site_t site; /* until the coroutine's first yield */
    site_init(&site, req, req->route->stage->path);
    const crash_site_t *prev = crash_enter(&site);
    int held = apico_handler_start(req, rc);
    crash_leave(prev);
    if (held)
        return 1;
    if (*rc == PH_PENDING) {
        log_warn("coroutine handler for \"%s\" returned PH_PENDING: answering 500", req->path);
        *rc = PH_ERROR;
    }
    return 0;
}

/* A stage answered before the body was read: the carrier sends the answer
 * and closes instead of reading what may be a large body. */
static exch_step_t answered_early(ph_request_t *req)
{
    req->phase = PHASE_RESPONSE;
    if (req->has_body && !req->body_done)
        req->refused = 1;
    return EX_RESPOND;
}

/* Applies an on_head() rc. Returns 1 when the request goes on. */
static int head_result(ph_request_t *req, int rc)
{
    if (rc == PH_OK)
        return 1;
    if (rc == PH_DONE) {
        if (req->bad)
            request_error(req, 500);
        return 0;
    }
    if (rc != PH_ERROR)
        log_warn("on_head for \"%s\" returned %d: answering 500", req->path, rc);
    if (req->bad || rc != PH_ERROR || req->status < 400)
        request_error(req, 500);
    return 0;
}

static exch_step_t after_access(ph_request_t *req);

/* Runs the on_head() stages from req->stage: the access stages, then the
 * content handler's own. */
static exch_step_t run_access(ph_request_t *req)
{
    const gen_route_t *r = req->route;
    req->phase = PHASE_ACCESS;
    while (req->stage <= r->naccess) {
        unsigned i = req->stage++;
        int (*fn)(void *, ph_request_t *);
        void *inst;
        const char *file;
        if (i < r->naccess) {
            fn = r->access[i].hooks.on_head;
            inst = r->access[i].inst->instance;
            file = r->access[i].cfg->path;
        } else {
            fn = r->hooks.on_head;
            inst = r->inst->instance;
            file = r->stage->path;
        }
        if (fn == NULL)
            continue;
        req->held = HOLD_HEAD;
        __atomic_store_n(&req->resumed, 0, __ATOMIC_RELEASE);
        crash_site_t site;
        site_init(&site, req, file);
        const crash_site_t *prev = crash_enter(&site);
        int rc = fn(inst, req);
        crash_leave(prev);
        if (still_held(req, rc))
            return EX_WAIT;
        req->held = HOLD_NONE;
        if (!head_result(req, rc))
            return answered_early(req);
    }
    return after_access(req);
}

static int body_store_start(ph_request_t *req);

static exch_step_t after_access(ph_request_t *req)
{
    if (req->stream_body) {
        req->phase = PHASE_BODY;
        int rc;
        if (!start_handler(req, &rc)) {
            req->held = HOLD_NONE;
            handler_result(req, rc);
            return answered_early(req);
        }
        if (!req->has_body)
            return exchange_body_end(req);
        return EX_BODY;
    }
    if (!req->has_body)
        return exchange_body_end(req);
    if (body_store_start(req) < 0)
        return answered_early(req);
    req->phase = PHASE_BODY;
    return EX_BODY;
}

/* dst = src, cut to cap - 1 bytes: a plain copy, since it runs for every
 * request (the two through snprintf were about 1,200 of the 7,800
 * user-space instructions of a keep-alive /echo request). */
static void copy_addr(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}
/* The longest peer or local address, "[" + inet_ntop's longest IPv6
 * text + "]:65535", is never cut. */
_Static_assert(sizeof((ph_request_t *)0)->peer_copy >= INET6_ADDRSTRLEN - 1 + sizeof "[]:65535" &&
                   sizeof((ph_request_t *)0)->direct_copy == sizeof((ph_request_t *)0)->peer_copy &&
                   sizeof((ph_request_t *)0)->local_copy >= INET6_ADDRSTRLEN - 1 + sizeof "[]:65535",
               "peer_copy and local_copy hold any IPv6 address with its port");

/* The direct peer is a trusted proxy ([server] trusted_proxies): its
 * X-Request-Id becomes the request's id, and the client it names in
 * real_ip_header becomes the peer, the direct one kept for the log. */
static void trust_proxy(ph_request_t *req, const cfg_t *cfg)
{
    realip_trust_t t = {cfg->trusted, cfg->ntrusted, cfg->trust_unix};
    if (req->head == NULL || !realip_peer_trusted(&t, req->peer_copy))
        return;
    size_t off, len;
    if (realip_request_id(req->head, req->hp.headers, req->hp.nheaders, &off, &len)) {
        req->ext_id = req->head + off;
        req->ext_id_len = len;
    }
    realip_addr_t a;
    if (!realip_client(cfg->real_ip_header, req->head, req->hp.headers, req->hp.nheaders, &t, &a))
        return;
    memcpy(req->direct_copy, req->peer_copy, sizeof req->direct_copy);
    realip_format(&a, req->peer_copy, sizeof req->peer_copy);
}

/* Copies peer() and local() into req, for plugin threads (see request.h),
 * the peer as a trusted proxy names it. */
static void copy_addrs(ph_request_t *req)
{
    copy_addr(req->peer_copy, sizeof req->peer_copy, req->ops->peer(req));
    copy_addr(req->local_copy, sizeof req->local_copy, req->ops->local(req));
    const cfg_t *cfg = req_cfg(req);
    if (cfg->ntrusted || cfg->trust_unix) /* nothing to do per request when none */
        trust_proxy(req, cfg);
}

exch_step_t exchange_head(ph_request_t *req, int has_body)
{
    copy_addrs(req);
    stats_request_begin(req->route);
    req->counted = 1;
    req->head_us = ev_clock_us();
    req->has_body = has_body != 0;
    const gen_route_t *r = req->route;
    if (r == NULL || req->hp.asterisk) {
        req->phase = PHASE_BODY;
        if (has_body && body_store_start(req) < 0)
            return answered_early(req);
        return has_body ? EX_BODY : exchange_body_end(req);
    }
    req->stream_body = (r->desc->flags & PH_PLUGIN_STREAM_BODY) && (r->hooks.on_body != NULL || r->coroutine);
    req->co_body = req->stream_body && r->coroutine;
    return run_access(req);
}

/* --- the request body ---------------------------------------------------- */

uint64_t exchange_body_limit(const ph_request_t *req)
{
    return req->route ? req->route->max_body_bytes : req_cfg(req)->max_body_bytes;
}

uint64_t exchange_body_rate_due(const cfg_t *cfg, uint64_t start, uint64_t got)
{
    if (cfg->body_min_rate == 0)
        return UINT64_MAX;
    uint64_t on_rate = got * 1000 / cfg->body_min_rate + 1;
    return start + (on_rate > cfg->body_rate_grace ? on_rate : cfg->body_rate_grace);
}

static void free_heap_body(void *arg)
{
    ph_request_t *req = arg;
    /* body_cap is 0 once the heap part went to the spill file (or was
     * never there); a switch whose write failed still holds it */
    if (req->body_cap)
        free(req->body);
}

/* A temporary file for a body over the route's body_spill. */
static int spill_open(ph_request_t *req)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/plughttpd-body-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    if (fd < 0) {
        log_error("cannot create a temporary file for a request body in %s: %s", dir, strerror(errno));
        return -1;
    }
    req->spill_fd = fd;
    return 0;
}

static int body_store_start(ph_request_t *req)
{
    const gen_route_t *r = req->route;
    uint64_t len = req->hp.chunked ? 0 : (uint64_t)req->hp.content_length;
    if (len > exchange_body_limit(req)) {
        request_error(req, 413);
        return -1;
    }
    if (r && r->body_spill && (req->hp.chunked || len > r->body_spill))
        return 0; /* spilled once it passes the threshold */
    if (!req->hp.chunked && len > 0) {
        req->body = pool_alloc(req->pool, len);
        if (req->body == NULL) {
            request_error(req, 500);
            return -1;
        }
        req->body_cap = len;
    }
    return 0;
}

/* Makes room for need bytes of a chunked body in memory. The buffer
 * doubles (up to max), so a body of n bytes costs O(n) memory and copies
 * however small its chunks; realloc gives the old buffer back at once. */
static int grow_heap_body(ph_request_t *req, size_t need, size_t max)
{
    if (need <= req->body_cap)
        return 0;
    size_t cap = req->body_cap ? req->body_cap : CHUNKED_BODY_FIRST;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap > max)
        cap = max > need ? max : need;
    if (req->body_cap == 0 && pool_cleanup_add(req->pool, free_heap_body, req) < 0)
        return -1;
    char *b = realloc(req->body, cap);
    if (b == NULL)
        return -1;
    req->body = b;
    req->body_cap = cap;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Buffered body bytes: to memory, or to the spill file once the body
 * passes body_spill (what memory held so far moves there first). */
static int body_store(ph_request_t *req, const char *data, size_t len)
{
    const gen_route_t *r = req->route;
    if (req->spill_fd < 0 && r && r->body_spill &&
        (req->body_total > r->body_spill ||
         (req->hp.content_length > 0 && (uint64_t)req->hp.content_length > r->body_spill))) {
        /* what memory held so far moves to the file, and memory goes */
        if (spill_open(req) < 0 || write_all(req->spill_fd, req->body ? req->body : "", req->body_len) < 0)
            return -1;
        if (req->body_cap)
            free(req->body); /* only a chunked body's heap buffer is here */
        req->body = NULL;
        req->body_cap = 0;
    }
    if (req->spill_fd >= 0) {
        if (write_all(req->spill_fd, data, len) < 0) {
            log_error("cannot write a request body to its temporary file: %s", strerror(errno));
            return -1;
        }
        req->body_len += len;
        return 0;
    }
    if (req->body_len + len > req->body_cap &&
        grow_heap_body(req, req->body_len + len, (size_t)exchange_body_limit(req)) < 0)
        return -1;
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    return 0;
}

static void stream_body_failed(ph_request_t *req)
{
    /* PH_ERROR from on_body stands for the plugin's resume(). */
    req->held = HOLD_NONE;
    request_error(req, 500);
    req->phase = PHASE_RESPONSE;
}

/* A streamed body's handler that already called resume() has answered:
 * on_body() must not hand it req again; the rest of the body is dropped
 * until the loop takes the resume message. */
static int stream_answered(const ph_request_t *req)
{
    return req->held == HOLD_NONE || __atomic_load_n(&req->resumed, __ATOMIC_ACQUIRE);
}

/* The content handler's on_body(), named to the crash handler. */
static int call_on_body(ph_request_t *req, const char *data, size_t len, int last)
{
    const gen_route_t *r = req->route;
    crash_site_t site;
    site_init(&site, req, r->stage->path);
    const crash_site_t *prev = crash_enter(&site);
    int rc = r->hooks.on_body(r->inst->instance, req, data, len, last);
    crash_leave(prev);
    return rc;
}

int exchange_body(ph_request_t *req, const char *data, size_t len)
{
    if (len == 0)
        return 0;
    if (req->stream_body && req->held != HOLD_NONE && stream_answered(req))
        return 0; /* its answer is on the way: no 413 over it */
    req->body_total += len;
    if (req->body_total > exchange_body_limit(req)) {
        if (req->co_body)
            apico_body_end(req, -EMSGSIZE);
        if (req->held != HOLD_NONE)
            return 413; /* the plugin holds req: the carrier replaces it */
        request_error(req, 413);
        return -1;
    }
    if (req->stream_body) {
        if (stream_answered(req))
            return 0; /* already answered: the rest is discarded */
        if (req->co_body) /* out of memory: its coroutine holds req */
            return apico_body_piece(req, data, len) < 0 ? 500 : 0;
        if (call_on_body(req, data, len, 0) != PH_OK) {
            stream_body_failed(req);
            return -1;
        }
        return 0;
    }
    if (body_store(req, data, len) < 0) {
        request_error(req, 500);
        return -1;
    }
    return 0;
}

/* Maps a spilled body so body() sees it as if in memory. */
static int spill_finish(ph_request_t *req)
{
    if (req->body_len == 0)
        return 0;
    void *m = mmap(NULL, req->body_len, PROT_READ, MAP_PRIVATE, req->spill_fd, 0);
    if (m == MAP_FAILED) {
        log_error("cannot map a spilled request body of %zu bytes: %s", req->body_len, strerror(errno));
        return -1;
    }
    req->spill_map = m;
    req->body = m;
    return 0;
}

/* The request whose blocking handle() runs on this thread (bstream.c asks). */
static __thread ph_request_t *blocking_current;

ph_request_t *exchange_blocking_current(void) { return blocking_current; }

static void blocking_job(void *arg)
{
    ph_request_t *req = arg;
    if (__atomic_load_n(&req->cancelled, __ATOMIC_ACQUIRE)) {
        req->skipped = 1; /* read on the loop after the message */
    } else {
        blocking_current = req;
        req->job_rc = run_handler(req);
        blocking_current = NULL;
    }
    worker_post_req(req->w, WREQ_BLOCKING_DONE, req);
}

exch_step_t exchange_body_end(ph_request_t *req)
{
    req->body_done = 1;
    if (req->co_body) {
        if (req->held != HOLD_NONE)
            apico_body_end(req, 0);
        return req->held != HOLD_NONE ? EX_WAIT : EX_RESPOND;
    }
    if (req->stream_body) {
        if (!stream_answered(req)) {
            if (call_on_body(req, NULL, 0, 1) != PH_OK) {
                stream_body_failed(req);
                return EX_RESPOND;
            }
        }
        return req->held != HOLD_NONE ? EX_WAIT : EX_RESPOND;
    }
    if (req->spill_fd >= 0 && spill_finish(req) < 0) {
        request_error(req, 500);
        return EX_RESPOND;
    }
    req->phase = PHASE_HANDLER;
    if (req->route == NULL && req->no_route == 421) {
        request_error(req, 421);
        req->phase = PHASE_RESPONSE;
        return EX_RESPOND;
    }
    if (req->hp.asterisk) {
        if (req->hp.method.len == 7 && memcmp(req->head + req->hp.method.off, "OPTIONS", 7) == 0) {
            req->status = 200;
            request_api.add_header(req, "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        } else {
            request_error(req, 400);
        }
        req->phase = PHASE_RESPONSE;
        return EX_RESPOND;
    }
    const gen_route_t *route = req->route;
    if (route == NULL) {
        request_error(req, req->no_route ? req->no_route : 404);
        req->phase = PHASE_RESPONSE;
        return EX_RESPOND;
    }
    if (route->blocking) {
        req->held = HOLD_BLOCKING;
        if (blocking_submit(req->w->blocking, blocking_job, req) < 0) {
            req->held = HOLD_NONE;
            stats_blocking_rejected();
            log_warn("blocking pool queue is full: answering 503");
            request_error(req, 503);
            req->phase = PHASE_RESPONSE;
            return EX_RESPOND;
        }
        return EX_WAIT;
    }
    int rc;
    if (start_handler(req, &rc))
        return EX_WAIT;
    req->held = HOLD_NONE;
    handler_result(req, rc);
    return EX_RESPOND;
}

/* --- asynchronous answers ---------------------------------------------- */

exch_step_t exchange_step(ph_request_t *req)
{
    switch (req->phase) {
    case PHASE_ACCESS:
        if (!head_result(req, req->pend_rc))
            return answered_early(req);
        return run_access(req);
    case PHASE_BODY: /* a streamed body's handler answered */
        handler_result(req, req->pend_rc);
        return answered_early(req);
    case PHASE_HANDLER:
        handler_result(req, req->pend_rc);
        return EX_RESPOND;
    default:
        return EX_RESPOND;
    }
}

/* The plugin let go of req (resume, or its blocking job returned). */
static void let_go(ph_request_t *req)
{
    req->held = HOLD_NONE;
    if (req->detached) {
        end_detached(req);
        return;
    }
    req->ops->ready(req);
}

void exchange_on_resume(ph_request_t *req)
{
    if (req->held == HOLD_CORO) { /* its return answers, not resume() */
        log_warn("a coroutine handler on \"%s\" called resume(): ignored", req->path ? req->path : "");
        return;
    }
    if (req->held == HOLD_BLOCKING) {
        req->resume_seen = 1; /* handle() resumed before it returned */
        return;
    }
    let_go(req);
}

void exchange_on_blocking_done(ph_request_t *req)
{
    if (req->skipped) {
        let_go(req);
        return;
    }
    if (req->co_resp) { /* it streamed (co_respond): the stream pulls its end */
        bstream_finish(req, req->job_rc == PH_PENDING ? PH_ERROR : req->job_rc);
        req->held = HOLD_NONE;
        if (req->detached)
            end_detached(req);
        else if (req->streaming)
            req->ops->wake(req);
        return;
    }
    if (req->resume_seen || req->job_rc != PH_PENDING) {
        if (!req->resume_seen)
            req->pend_rc = req->job_rc;
        else if (req->job_rc != PH_PENDING)
            log_warn("a plugin on \"%s\" called resume() but returned %d, not PH_PENDING", req->path, req->job_rc);
        let_go(req);
        return;
    }
    req->held = HOLD_HANDLER; /* resume() will come */
}

void exchange_co_respond(ph_request_t *req)
{
    req->co_resp = 1;
    answered_early(req);
}

void exchange_co_done(ph_request_t *req, int rc)
{
    if (rc == PH_PENDING && !req->co_resp && !req->upgraded) {
        log_warn("coroutine handler for \"%s\" returned PH_PENDING: answering 500", req->path);
        rc = PH_ERROR;
    }
    req->held = HOLD_NONE;
    if (req->detached) {
        end_detached(req);
        return;
    }
    if (req->co_resp) { /* the stream ends: the carrier pulls its end */
        if (req->streaming)
            req->ops->wake(req);
        return;
    }
    req->pend_rc = rc;
    req->ops->ready(req);
}

void exchange_on_wake(ph_request_t *req)
{
    __atomic_store_n(&req->wake_posted, 0, __ATOMIC_RELEASE);
    if (req->ended) {
        req->w->nheld--;
        release(req);
        return;
    }
    if (req->carrier && req->streaming)
        req->ops->wake(req);
}

/* --- output filters ---------------------------------------------------- */

/* Strict-Transport-Security on answers over TLS ([tls] hsts), unless the
 * plugin set its own. */
static int add_hsts(ph_request_t *req)
{
    const char *v = req->gen->cfg->tls.hsts;
    if (v == NULL || req->carrier == NULL || req->ops->secure == NULL || !req->ops->secure(req))
        return 0;
    for (const resp_header_t *h = req->headers; h; h = h->next)
        if (h->nlen == 25 && strncasecmp(h->name, "strict-transport-security", 25) == 0)
            return 0;
    return request_add_header(req, "Strict-Transport-Security", v);
}

/* X-Request-Id on every answer ([server] send_request_id), unless the
 * plugin set its own. */
static int add_request_id(ph_request_t *req)
{
    if (!req->gen->cfg->send_request_id)
        return 0;
    for (const resp_header_t *h = req->headers; h; h = h->next)
        if (h->nlen == 12 && strncasecmp(h->name, "x-request-id", 12) == 0)
            return 0;
    ph_str_t id = request_api.request_id(req);
    char *v = pool_strndup(req->pool, id.ptr, id.len);
    return v ? request_add_header(req, "X-Request-Id", v) : -1;
}

int exchange_filter_head(ph_request_t *req, int is_head)
{
    if (add_hsts(req) < 0 || add_request_id(req) < 0)
        return -1;
    const gen_route_t *r = req->route;
    if (r == NULL || r->nfilters == 0 || req->status < 200 || req->status == 204 || req->status == 304)
        return 0;
    req->fstate = pool_calloc(req->pool, r->nfilters * sizeof *req->fstate);
    req->factive = pool_calloc(req->pool, r->nfilters);
    if (req->fstate == NULL || req->factive == NULL)
        return -1;
    int any = 0;
    for (size_t i = 0; i < r->nfilters; i++) {
        const gen_stage_t *st = &r->filters[i];
        if (st->hooks.filter_body == NULL)
            continue;
        int rc = st->hooks.filter_head ? st->hooks.filter_head(st->inst->instance, req, &req->fstate[i]) : PH_OK;
        if (rc == PH_DECLINED)
            continue;
        if (rc != PH_OK || req->bad)
            return -1;
        req->factive[i] = 1;
        req->ftransformed = 1; /* api->resp_length: -1 for the next ones */
        any = 1;
    }
    if (!any)
        return 0;
    /* a HEAD answer gets the framing headers of the GET's (no length) */
    req->ftmp = is_head ? NULL : pool_alloc(req->pool, FILTER_PIECE);
    if (req->ftmp == NULL && !is_head)
        return -1;
    req->src_kind = req->body_kind;
    req->src_pos = req->body_kind == BODY_FILE ? req->file_off : 0;
    req->body_kind = BODY_STREAM;
    req->stream_has_len = 0; /* a filtered body has no Content-Length */
    return 1;
}

static int append_out(ph_request_t *req, const void *data, size_t len);

/* Feeds a piece to the first active filter from i on; the last filter's
 * output collects in req->fout. Flush and end travel down the chain after
 * the data a filter emitted while handling them. */
static int feed(ph_request_t *req, unsigned i, const void *data, size_t len, unsigned flags)
{
    const gen_route_t *r = req->route;
    while (i < r->nfilters && !req->factive[i])
        i++;
    if (i == r->nfilters)
        return append_out(req, data, len);
    unsigned saved = req->fcur;
    req->fcur = i + 1; /* what filter i emits goes on from there */
    const gen_stage_t *st = &r->filters[i];
    int rc = st->hooks.filter_body(st->inst->instance, req, req->fstate[i], data, len, flags);
    req->fcur = saved;
    if (rc != PH_OK) {
        log_warn("output filter %s failed on \"%s\": closing the connection", st->desc->name, req->path);
        return PH_ERROR;
    }
    if (flags)
        return feed(req, i + 1, NULL, 0, flags);
    return PH_OK;
}

static void free_fout(void *arg)
{
    ph_request_t *req = arg;
    free(req->fout);
}

/* The last filter's output, kept until exchange_pull() hands it on. */
static int append_out(ph_request_t *req, const void *data, size_t len)
{
    if (len == 0)
        return PH_OK;
    if (req->fout_off == req->fout_len)
        req->fout_off = req->fout_len = 0;
    if (req->fout_len + len > req->fout_cap) {
        size_t cap = req->fout_cap ? req->fout_cap : FILTER_PIECE;
        while (cap < req->fout_len + len)
            cap *= 2;
        if (req->fout == NULL && pool_cleanup_add(req->pool, free_fout, req) < 0)
            return PH_ERROR;
        char *p = realloc(req->fout, cap);
        if (p == NULL)
            return PH_ERROR;
        req->fout = p;
        req->fout_cap = cap;
    }
    memcpy(req->fout + req->fout_len, data, len);
    req->fout_len += len;
    return PH_OK;
}

int exchange_emit(ph_request_t *req, const void *data, size_t len)
{
    if (req->fstate == NULL || req->route == NULL || (data == NULL && len > 0))
        return PH_ERROR;
    return feed(req, req->fcur, data, len, 0);
}

/* The unfiltered body's next piece: >0, 0 at the end, PH_STREAM_WAIT or
 * PH_ERROR. */
static ssize_t source_pull(ph_request_t *req, char *buf, size_t cap)
{
    const char *mem;
    size_t len;
    switch (req->src_kind) {
    case BODY_MEM: mem = req->mem; len = req->mem_len; break;
    case BODY_REF: mem = req->ref; len = req->ref_len; break;
    case BODY_FILE: {
        off_t end = req->file_off + req->file_len;
        if (req->src_pos >= end)
            return 0;
        size_t want = (size_t)(end - req->src_pos) < cap ? (size_t)(end - req->src_pos) : cap;
        ssize_t n;
        do
            n = pread(req->file_fd, buf, want, req->src_pos);
        while (n < 0 && errno == EINTR);
        if (n <= 0) /* 0: the file shrank under its length */
            return PH_ERROR;
        req->src_pos += n;
        return n;
    }
    case BODY_STREAM: return req->stream_fn(req->stream_arg, buf, cap);
    default: return 0;
    }
    if ((size_t)req->src_pos >= len)
        return 0;
    size_t n = len - (size_t)req->src_pos < cap ? len - (size_t)req->src_pos : cap;
    memcpy(buf, mem + req->src_pos, n);
    req->src_pos += (off_t)n;
    return (ssize_t)n;
}

ssize_t exchange_pull(ph_request_t *req, char *buf, size_t cap)
{
    if (req->ftmp == NULL)
        return req->stream_fn(req->stream_arg, buf, cap);
    for (;;) {
        if (req->fout_off < req->fout_len) {
            size_t n = req->fout_len - req->fout_off < cap ? req->fout_len - req->fout_off : cap;
            memcpy(buf, req->fout + req->fout_off, n);
            req->fout_off += n;
            return (ssize_t)n;
        }
        if (req->fsrc_done)
            return 0;
        ssize_t n = source_pull(req, req->ftmp, FILTER_PIECE);
        if (n == PH_STREAM_WAIT) {
            if (feed(req, 0, NULL, 0, PH_FILTER_FLUSH) < 0)
                return PH_ERROR;
            if (req->fout_off == req->fout_len)
                return PH_STREAM_WAIT;
            continue;
        }
        if (n < 0 || (size_t)n > FILTER_PIECE)
            return PH_ERROR;
        if (n == 0)
            req->fsrc_done = 1;
        if (feed(req, 0, req->ftmp, (size_t)n, n == 0 ? PH_FILTER_END : 0) < 0)
            return PH_ERROR;
    }
}
