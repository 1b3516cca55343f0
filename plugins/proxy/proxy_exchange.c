#include "proxy_exchange.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_hop.h"
#include "proxy_tunnel.h"

/* Trailers and chunk extensions the upstream may send after a chunked
 * body (dropped: the client's response carries the core's framing). */
#define PROXY_TRAILER_MAX (16u * 1024u)
/* The longest response head taken, and the 1xx answers skipped before
 * the final one. */
#define PROXY_HEAD_MAX 16384u
#define PROXY_INFORMATIONAL_MAX 16

static const char *const idempotent[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};

static int is_idempotent(ph_str_t m)
{
    for (size_t i = 0; i < sizeof idempotent / sizeof idempotent[0]; i++)
        if (m.len == strlen(idempotent[i]) && memcmp(m.ptr, idempotent[i], m.len) == 0)
            return 1;
    return 0;
}

/* An Upgrade the route relays: websocket = yes, an HTTP/1.1 GET asking
 * for it in both Upgrade and Connection (RFC 9110 section 7.8), and no
 * body. */
static int wants_upgrade(const proxy_t *p, ph_request_t *req, proxy_body_kind_t kind, const proxy_hop_t *hop)
{
    const ph_server_api_t *api = p->api;
    ph_str_t v;
    return p->conf.websocket && kind == PROXY_BODY_NONE && api->version(req) == 11 &&
           proxy_str_ieq(api->method(req), "GET") && api->header(req, "Upgrade", &v) == 1 && v.len > 0 &&
           hop->upgrade;
}

static void request_hop(const ph_server_api_t *api, ph_request_t *req, proxy_hop_t *hop)
{
    size_t n = api->header_count(req);
    for (size_t i = 0; i < n; i++) {
        ph_str_t k, v;
        if (api->header_at(req, i, &k, &v) == 1 && proxy_str_ieq(k, "Connection"))
            proxy_hop_add(hop, v);
    }
}

/* The client's framing: the core has already refused a conflicting or
 * malformed one. */
static void body_kind(const ph_server_api_t *api, ph_request_t *req, proxy_body_kind_t *kind, uint64_t *length)
{
    ph_str_t v;
    *kind = PROXY_BODY_NONE;
    *length = 0;
    if (api->header(req, "Transfer-Encoding", &v) == 1) {
        *kind = PROXY_BODY_CHUNKED;
    } else if (api->header(req, "Content-Length", &v) == 1) {
        uint64_t n = 0;
        for (size_t i = 0; i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9'; i++)
            n = n * 10 + (uint64_t)(v.ptr[i] - '0');
        *kind = PROXY_BODY_LENGTH;
        *length = n;
    }
}

proxy_exchange_t *proxy_exchange_new(proxy_t *p, ph_request_t *req, int *client_rc)
{
    const ph_server_api_t *api = p->api;
    *client_rc = 0;
    proxy_exchange_t *x = api->alloc(req, sizeof *x);
    if (!x)
        return NULL;
    memset(x, 0, sizeof *x);
    x->p = p;
    x->req = req;
    x->up = -1;
    x->t = proxy_thread_current(p);
    proxy_peer_ip(api->peer(req), x->ip, sizeof x->ip);
    ph_str_t m = api->method(req);
    x->idempotent = is_idempotent(m);
    x->head_only = proxy_str_ieq(m, "HEAD") && m.ptr[0] == 'H';
    body_kind(api, req, &x->kind, &x->length);
    proxy_hop_t hop = {0};
    request_hop(api, req, &hop);
    x->hop_overflow = hop.overflow;
    x->upgrade = wants_upgrade(p, req, x->kind, &hop);
    if (x->hop_overflow)
        return x; /* refused before anything is read */
    x->buf = api->alloc(req, p->conf.buffer);
    if (!x->buf)
        return NULL;
    if (x->kind == PROXY_BODY_NONE || (x->kind == PROXY_BODY_LENGTH && x->length == 0)) {
        x->body_whole = 1;
        return x;
    }
    /* Read up to PROXY_REPLAY_MAX now: a body that ends within it can be
     * replayed, and goes with a Content-Length. */
    size_t cap = PROXY_REPLAY_MAX;
    if (x->kind == PROXY_BODY_LENGTH && x->length < cap)
        cap = (size_t)x->length;
    x->pre = api->alloc(req, cap + 1);
    if (!x->pre)
        return NULL;
    while (x->npre < cap + (x->kind == PROXY_BODY_CHUNKED)) {
        ssize_t n = api->co_body_read(req, x->pre + x->npre, cap + 1 - x->npre, p->conf.read_ms);
        if (n < 0) {
            *client_rc = (int)n;
            return x;
        }
        if (n == 0) {
            x->body_whole = 1;
            break;
        }
        x->npre += (size_t)n;
        if (x->kind == PROXY_BODY_LENGTH && x->npre >= x->length) {
            x->body_whole = 1;
            break;
        }
    }
    if (x->kind == PROXY_BODY_CHUNKED && x->body_whole) {
        x->kind = PROXY_BODY_LENGTH;
        x->length = x->npre;
    }
    return x;
}

void proxy_exchange_free(proxy_exchange_t *x)
{
    if (x->sock)
        x->p->api->sock_close(x->sock);
    x->sock = NULL;
    proxy_buf_free(&x->head);
}

__attribute__((format(printf, 3, 4))) static proxy_x_t fail(proxy_exchange_t *x, proxy_x_t r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
    if (x->sock)
        x->p->api->sock_close(x->sock);
    x->sock = NULL;
    return r;
}

static const char *err_text(ssize_t rc) { return rc == 0 ? "connection closed" : strerror((int)-rc); }

/* Writes data framed for the upstream (a chunk when re-chunking). */
static ssize_t send_body(proxy_exchange_t *x, const char *data, size_t len)
{
    const ph_server_api_t *api = x->p->api;
    if (len == 0)
        return 0;
    if (x->kind == PROXY_BODY_CHUNKED) {
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        ssize_t w = api->sock_write(x->sock, size, (size_t)n, x->p->conf.send_ms);
        if (w < 0)
            return w;
    }
    ssize_t w = api->sock_write(x->sock, data, len, x->p->conf.send_ms);
    if (w >= 0 && x->kind == PROXY_BODY_CHUNKED)
        w = api->sock_write(x->sock, "\r\n", 2, x->p->conf.send_ms);
    return w;
}

/* The rest of a streamed body, client to upstream. 0, a -errno from the
 * upstream (*upstream = 1) or from the client. */
static ssize_t stream_body(proxy_exchange_t *x, int *upstream)
{
    const ph_server_api_t *api = x->p->api;
    *upstream = 0;
    for (;;) {
        ssize_t n = api->co_body_read(x->req, x->buf, x->p->conf.buffer, x->p->conf.read_ms);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        x->body_sent = 1;
        ssize_t w = send_body(x, x->buf, (size_t)n);
        if (w < 0) {
            *upstream = 1;
            return w;
        }
    }
    if (x->kind == PROXY_BODY_CHUNKED) {
        ssize_t w = api->sock_write(x->sock, "0\r\n\r\n", 5, x->p->conf.send_ms);
        if (w < 0)
            *upstream = 1;
        return w < 0 ? w : 0;
    }
    return 0;
}

/* Sends the head and the body. */
static proxy_x_t send_request(proxy_exchange_t *x)
{
    const ph_server_api_t *api = x->p->api;
    ssize_t w = api->sock_write(x->sock, x->head.data, x->head.len, x->p->conf.send_ms);
    if (w >= 0)
        w = send_body(x, x->pre, x->npre);
    if (w < 0) {
        if (x->reused && w != -ETIMEDOUT && w != -ECANCELED)
            return fail(x, PROXY_X_STALE, "send: %s", err_text(w));
        return fail(x, w == -ETIMEDOUT ? PROXY_X_TIMEOUT : w == -ECANCELED ? PROXY_X_CANCELED : PROXY_X_SEND,
                    "send: %s", w == -ETIMEDOUT ? "timed out (send_timeout)" : err_text(w));
    }
    if (x->body_whole)
        return PROXY_X_OK;
    int upstream;
    ssize_t rc = stream_body(x, &upstream);
    if (rc == 0)
        return PROXY_X_OK;
    if (!upstream) {
        x->body_client_rc = (int)rc;
        return fail(x, rc == -ECANCELED ? PROXY_X_CANCELED : PROXY_X_CLIENT, "client body: %s", err_text(rc));
    }
    /* The upstream stopped reading: it may have answered early (413, 401);
     * that answer is read below and passed on. */
    snprintf(x->why, sizeof x->why, "send: %s", rc == -ETIMEDOUT ? "timed out (send_timeout)" : err_text(rc));
    return rc == -ETIMEDOUT ? PROXY_X_TIMEOUT : PROXY_X_SEND;
}

/* A Transfer-Encoding field other than "chunked" (OWS around it
 * allowed), or NULL. The proxy decodes chunked only, and Transfer-Encoding
 * is hop-by-hop: a body under another coding would reach the client
 * still coded with nothing saying so. */
static const ph_str_t *other_coding(const ph_http_response_t *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!proxy_str_ieq(r->names[i], "Transfer-Encoding"))
            continue;
        ph_str_t v = r->values[i];
        while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) {
            v.ptr++;
            v.len--;
        }
        while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
            v.len--;
        if (!proxy_str_ieq(v, "chunked"))
            return &r->values[i];
    }
    return NULL;
}

/* Reads the final response head (1xx skipped, 103 passed on). */
static proxy_x_t read_head(proxy_exchange_t *x, proxy_x_t sent)
{
    const ph_server_api_t *api = x->p->api;
    /* After a failed send only an answer already there counts. */
    int64_t wait = sent == PROXY_X_OK ? x->p->conf.read_ms : 0;
    for (int i = 0; i <= PROXY_INFORMATIONAL_MAX; i++) {
        ph_str_t line;
        ssize_t n = api->sock_read_until(x->sock, "\r\n\r\n", 4, PROXY_HEAD_MAX, &line, wait);
        if (n < 0 && sent != PROXY_X_OK) {
            char why[sizeof x->why];
            memcpy(why, x->why, sizeof why);
            return fail(x, sent, "%s", why); /* no early answer: the send's failure stands */
        }
        if (n == -ETIMEDOUT)
            return fail(x, PROXY_X_TIMEOUT, "read: timed out (read_timeout)");
        if (n == -ECANCELED)
            return fail(x, PROXY_X_CANCELED, "read: cancelled");
        if (n == -ENOBUFS)
            return fail(x, PROXY_X_BAD, "response head over %u bytes", PROXY_HEAD_MAX);
        /* A pooled connection the upstream closed instead of answering:
         * not one byte came (a cut head leaves its bytes buffered). */
        if (x->reused && i == 0 && (n == -EPIPE || n == -ECONNRESET) && api->sock_buffered(x->sock) == 0)
            return fail(x, PROXY_X_STALE, "read: %s", n == -EPIPE ? "connection closed" : err_text(n));
        if (n < 0)
            return fail(x, PROXY_X_BAD, "read: %s before a whole response head",
                        n == -EPIPE ? "connection closed" : err_text(n));
        x->resp = (ph_http_response_t){.size = sizeof x->resp, .names = x->names, .values = x->values,
                                       .cap = PROXY_FIELDS_MAX};
        if (api->parse_response(line.ptr, line.len, &x->resp) != (int)line.len)
            return fail(x, PROXY_X_BAD, "bad response head");
        int st = x->resp.status;
        /* RFC 9110 section 15: 100..599; the core would answer any other
         * final status with a 500, as if the fault were ours. */
        if (st > 599)
            return fail(x, PROXY_X_BAD, "status %d out of range", st);
        const ph_str_t *coding = st >= 200 ? other_coding(&x->resp) : NULL;
        if (coding)
            return fail(x, PROXY_X_BAD, "Transfer-Encoding \"%.*s\" not supported", (int)coding->len, coding->ptr);
        if (st >= 200 || (st == 101 && x->upgrade))
            return PROXY_X_OK;
        if (st == 101)
            return fail(x, PROXY_X_BAD, "101 to a request that did not upgrade");
        if (st == 103)
            proxy_response_hints(x->p, x->req, &x->resp);
    }
    return fail(x, PROXY_X_BAD, "more than %d informational responses", PROXY_INFORMATIONAL_MAX);
}

proxy_x_t proxy_exchange_attempt(proxy_exchange_t *x, int up)
{
    const ph_server_api_t *api = x->p->api;
    const proxy_conf_t *c = &x->p->conf;
    const proxy_upstream_t *u = &c->ups.list[up];
    x->up = up;
    x->why[0] = '\0';
    /* A body that cannot be replayed never rides a pooled connection. */
    int pooled = x->body_whole && !x->upgrade;
    for (int stale = 0; stale < 2; stale++) {
        x->sock = pooled && !stale ? proxy_pool_get(x->t, up) : NULL;
        x->reused = x->sock != NULL;
        if (!x->sock) {
            int rc = api->co_connect(u->address, c->connect_ms, &x->sock);
            if (rc < 0) {
                x->sock = NULL;
                if (rc == -ETIMEDOUT)
                    return fail(x, PROXY_X_TIMEOUT, "connect: timed out (connect_timeout)");
                int local = rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM || rc == -ENOBUFS ||
                            rc == -EADDRNOTAVAIL;
                return fail(x, rc == -ECANCELED ? PROXY_X_CANCELED : local ? PROXY_X_LOCAL : PROXY_X_CONNECT,
                            "connect: %s", strerror(-rc));
            }
        }
        x->head.len = 0;
        if (proxy_request_head(x->p, x->req, u->host, x->upgrade, x->kind, x->length, &x->head) != PH_OK)
            return fail(x, PROXY_X_NOMEM, "out of memory");
        proxy_x_t r = send_request(x);
        /* x->sock still open after a failed send: the upstream stopped
         * reading the body, perhaps with an answer. */
        if (r == PROXY_X_OK || ((r == PROXY_X_SEND || r == PROXY_X_TIMEOUT) && x->sock))
            r = read_head(x, r);
        /* A pooled connection the upstream closed meanwhile: once more on
         * a new one, when the request may go twice. */
        if (r == PROXY_X_STALE && x->idempotent && x->body_whole && !x->body_sent) {
            api->log(PH_LOG_DEBUG, "proxy %s: upstream %s: idle connection closed; retrying on a new one",
                     x->p->prefix, u->address);
            continue;
        }
        if (r == PROXY_X_STALE)
            r = PROXY_X_BAD;
        if (r != PROXY_X_OK)
            return r;
        x->head_set = 1;
        if (proxy_response_head(x->p, x->req, &x->resp, x->upgrade && x->resp.status == 101) != PH_OK)
            return fail(x, PROXY_X_BAD, "response head not passed on (a field the server refuses, or over %d "
                                         "Connection options)", PROXY_HOP_TOKENS_MAX);
        return PROXY_X_OK;
    }
    return fail(x, PROXY_X_BAD, "read: connection closed before a response head");
}

/* --- the response body ----------------------------------------------- */

static int relay_error(proxy_exchange_t *x, const char *what, ssize_t rc)
{
    /* Cancelled: the client left or the server is stopping; no fault of
     * the upstream's, and nothing to report. */
    if (rc == -ECANCELED)
        return PH_ERROR;
    proxy_log(x->p, PH_LOG_ERROR, "upstream %s: response body: %s: %s; client connection aborted",
              x->p->conf.ups.list[x->up].address, what,
              rc == -ETIMEDOUT ? "timed out (read_timeout)" : err_text(rc));
    return PH_ERROR;
}

/* Sends n bytes to the client: 0, or -1 (the client left: nothing logged). */
static int to_client(proxy_exchange_t *x, const char *data, size_t n)
{
    ssize_t w = x->p->api->co_send(x->req, data, n, x->p->conf.send_ms);
    return w < 0 ? -1 : 0;
}

/* Content-Length body. 0 when complete. */
static int relay_length(proxy_exchange_t *x, uint64_t left)
{
    const ph_server_api_t *api = x->p->api;
    while (left > 0) {
        size_t want = left < x->p->conf.buffer ? (size_t)left : x->p->conf.buffer;
        ssize_t n = api->sock_read(x->sock, x->buf, want, x->p->conf.read_ms);
        if (n <= 0)
            return relay_error(x, "read", n);
        if (to_client(x, x->buf, (size_t)n) < 0)
            return PH_ERROR;
        left -= (uint64_t)n;
    }
    return 0;
}

/* Chunked body, decoded; *clean is cleared when bytes followed it. */
static int relay_chunked(proxy_exchange_t *x, int *clean)
{
    const ph_server_api_t *api = x->p->api;
    ph_chunked_t ch;
    api->chunked_init(&ch);
    for (;;) {
        ssize_t n = api->sock_read(x->sock, x->buf, x->p->conf.buffer, x->p->conf.read_ms);
        if (n <= 0)
            return relay_error(x, "read", n);
        size_t len = (size_t)n;
        ssize_t rc = api->chunked_decode(&ch, x->buf, &len, PROXY_TRAILER_MAX);
        if (rc == PH_ERROR)
            return relay_error(x, "bad chunked framing", -EPROTO);
        if (len && to_client(x, x->buf, len) < 0)
            return PH_ERROR;
        if (rc != PH_CHUNKED_MORE) {
            *clean = rc == 0;
            return 0;
        }
    }
}

/* A body that ends when the upstream closes. */
static int relay_until_close(proxy_exchange_t *x)
{
    const ph_server_api_t *api = x->p->api;
    for (;;) {
        ssize_t n = api->sock_read(x->sock, x->buf, x->p->conf.buffer, x->p->conf.read_ms);
        if (n == 0)
            return 0;
        if (n < 0)
            return relay_error(x, "read", n);
        if (to_client(x, x->buf, (size_t)n) < 0)
            return PH_ERROR;
    }
}

static int relay_tunnel(proxy_exchange_t *x)
{
    const ph_server_api_t *api = x->p->api;
    ph_sock_t *client = NULL;
    if (api->upgrade(x->req, &client) != PH_OK) {
        proxy_log(x->p, PH_LOG_ERROR, "upstream %s: 101: the server refused to switch protocols",
                  x->p->conf.ups.list[x->up].address);
        return PH_ERROR;
    }
    int stalled;
    int rc = proxy_tunnel(x->p, client, x->sock, &stalled);
    if (rc == -ETIMEDOUT && stalled >= 0)
        proxy_log(x->p, PH_LOG_INFO, "upstream %s: tunnel: the %s read nothing for send_timeout: closed",
                  x->p->conf.ups.list[x->up].address, stalled == 0 ? "client" : "upstream");
    else if (rc == -ETIMEDOUT)
        proxy_log(x->p, PH_LOG_INFO, "upstream %s: tunnel idle past tunnel_timeout: closed",
                  x->p->conf.ups.list[x->up].address);
    api->sock_close(client);
    return PH_OK;
}

int proxy_exchange_relay(proxy_exchange_t *x)
{
    const ph_server_api_t *api = x->p->api;
    const ph_http_response_t *r = &x->resp;
    if (r->status == 101)
        return relay_tunnel(x);
    int clean = 1, rc;
    if (x->head_only || r->status == 204 || r->status == 304) {
        /* No body follows (RFC 9112 section 6.3); a HEAD keeps the
         * upstream's Content-Length. */
        if (x->head_only && r->content_length >= 0 && api->co_respond(x->req, r->content_length) != PH_OK)
            return PH_ERROR;
        rc = 0;
    } else if (r->chunked) {
        if (api->co_respond(x->req, -1) != PH_OK)
            return PH_ERROR;
        rc = relay_chunked(x, &clean);
    } else if (r->content_length >= 0) {
        if (api->co_respond(x->req, r->content_length) != PH_OK)
            return PH_ERROR;
        rc = relay_length(x, (uint64_t)r->content_length);
    } else {
        if (api->co_respond(x->req, -1) != PH_OK)
            return PH_ERROR;
        rc = relay_until_close(x);
        clean = 0;
    }
    if (rc != 0)
        return PH_ERROR;
    if (clean && r->keep_alive && x->p->conf.keepalive > 0 && api->sock_buffered(x->sock) == 0) {
        proxy_pool_put(x->p, x->t, x->up, x->sock);
        x->sock = NULL;
    }
    return PH_OK;
}
