#include "h2.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ev.h"
#include "exchange.h"
#include "stats.h"
#include "gen.h"
#include "log.h"
#include "request.h"
#include "worker.h"

/* Output nghttp2 serialises is gathered up to this much per write. */
#define OUT_GATHER 65536
/* Socket reads per wakeup, so one busy connection cannot hold the loop. */
#define READS_PER_EVENT 8
#define READ_PIECE 16384
/* Empty DATA frames without END_STREAM (they carry nothing and cost a
 * callback each: a known flood) tolerated per connection per second. */
#define EMPTY_DATA_PER_SEC 100
/* Streams the client may reset per second, on average, and in a burst
 * (CVE-2023-44487): each reset stream may have started a handler. */
#define RESET_BURST 200
#define RESET_RATE 33
/* A response that ends before its request body does: what the client
 * still sends is dropped for this long and this much, then the stream is
 * reset with NO_ERROR (RFC 9113 section 8.1), which some clients report
 * as a failure if it comes while they are still sending. */
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (1024 * 1024)
/* Body bytes a connection may hold for its streams before any handler
 * takes them (paused bodies, bodies not yet accepted), in stream windows:
 * its connection window. Past it the connection's window is given back
 * only as handlers take bytes, so the client waits, and a connection holds
 * at most twice this, whatever its number of streams. */
#define HELD_WINDOWS 4
/* HEADERS and CONTINUATION frames making up one header block, at most. */
#define MAX_CONTINUATIONS 8
/* Between a draining connection's shutdown notice and its final GOAWAY:
 * time for requests already on their way to arrive (as DRAIN_WAIT_MS for
 * HTTP/1 in conn.c). */
#define H2_NOTICE_MS 1000

typedef struct h2_stream h2_stream_t;

struct h2 {
    conn_t *c;
    worker_t *w;
    nghttp2_session *ss;
    ev_timer_t timer;
    buf_t out;                 /* serialised frames not yet written */
    char *pre;                 /* input read before HTTP/2 started */
    size_t prelen;
    h2_stream_t *streams;      /* open streams with a request */
    unsigned nstreams;
    uint64_t nrequests;
    uint64_t idle_since;       /* no stream open since then */
    uint64_t last_write;       /* the socket last took bytes */
    uint64_t empty_since;      /* the empty-DATA count's second */
    uint64_t block_since;      /* the open header block began */
    uint64_t goaway_due;       /* noticed: when the final GOAWAY goes */
    unsigned empty_data;
    size_t held;               /* body bytes in the streams' pend buffers */
    size_t held_max;           /* HELD_WINDOWS windows */
    size_t owed;               /* received, not yet given back to the window */
    int depth;                 /* enter()/leave() nesting */
    unsigned blocked : 1;      /* the socket took less than offered */
    unsigned dead : 1;         /* close at the outermost leave() */
    unsigned noticed : 1;      /* the shutdown notice is out: the final
                                  GOAWAY follows at goaway_due */
    unsigned draining : 1;     /* the final GOAWAY sent: no new streams */
    unsigned closing : 1;      /* input refused: close once the GOAWAY is out */
    unsigned in_block : 1;     /* a header block awaits its CONTINUATION */
    unsigned withheld : 1;     /* owed > 0: the client may wait for the
                                  connection's window, not its own will */
};

struct h2_stream {
    h2_stream_t *prev, *next;
    h2_t *h;
    int32_t id;
    ph_request_t *req;         /* NULL once ended or detached */
    /* the head, as received: pseudo-header fields, then "name: value\r\n"
     * lines (malloc()ed; freed when the exchange starts) */
    char *method, *path, *authority;
    buf_t lines;
    buf_t cookie;              /* cookie crumbs joined (RFC 9113 8.2.3) */
    size_t head_bytes;         /* counted toward max_header_bytes */
    unsigned nfields;
    /* the request body */
    buf_t pend;                /* received, not yet passed on */
    uint64_t begun;            /* its first HEADERS frame began */
    uint64_t last_in;          /* a body byte last arrived */
    uint64_t body_start;       /* the body's rate is measured since */
    uint64_t body_got;         /* body bytes received since body_start */
    uint64_t held_since;       /* a plugin holds req since */
    uint64_t last_out;         /* the response last made progress */
    uint64_t sent;             /* response body bytes sent */
    uint64_t dropped;          /* body bytes dropped after the response */
    unsigned too_big : 1;      /* header list over max_header_bytes */
    unsigned host_seen : 1;    /* a Host field agreeing with :authority */
    unsigned bad_host : 1;     /* a Host field contradicting it, or two */
    unsigned has_clen : 1;     /* a content-length field came */
    unsigned started : 1;      /* the header block is complete: the
                                  exchange has the head */
    unsigned body_ok : 1;      /* the exchange takes body bytes */
    unsigned body_paused : 1;
    unsigned body_end : 1;     /* END_STREAM received */
    unsigned body_done : 1;    /* the exchange was told (or the body dropped) */
    unsigned delivering : 1;
    unsigned got_data : 1;
    unsigned is_head : 1;
    unsigned responded : 1;
    unsigned deferred : 1;     /* the body's producer waits for a wake */
    unsigned eof : 1;          /* the response body's end was produced */
    unsigned no_body : 1;      /* HEAD, 204, 304: produced bytes dropped */
    unsigned done_out : 1;     /* the response's END_STREAM went out */
};

static const exch_ops_t h2_ops;

static const cfg_t *cfg_of(const h2_t *h) { return h->w->gen->cfg; }
static uint64_t now_ms(const h2_t *h) { return ev_now(h->w->loop); }

static void enter(h2_t *h) { h->depth++; }
static void leave(h2_t *h);

/* --- streams ---------------------------------------------------------------- */

/* Frees what a stream holds (the stream is out of the list). */
static void stream_release(h2_stream_t *s)
{
    free(s->method);
    free(s->path);
    free(s->authority);
    buf_release(&s->lines);
    buf_release(&s->cookie);
    buf_release(&s->pend);
    free(s);
}

static void give_back(h2_t *h);

static void stream_free(h2_t *h, h2_stream_t *s)
{
    h->held -= buf_pending(&s->pend);
    give_back(h);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (--h->nstreams == 0)
        h->idle_since = now_ms(h);
    stream_release(s);
}

/* The stream is over (closed, reset, or the connection ends): its request
 * is logged and released, or, held by a plugin, cancelled and left to it. */
static void stream_end(h2_stream_t *s)
{
    ph_request_t *req = s->req;
    s->req = NULL;
    if (req == NULL)
        return;
    if (exchange_held(req)) {
        exchange_cancel(req);
        exchange_detach(req);
        return;
    }
    if (req->streaming && !s->eof) /* the client left a stream */
        exchange_cancel(req);
    exchange_end(req, s->responded, s->sent);
}

static void reset(h2_stream_t *s, uint32_t code)
{
    nghttp2_submit_rst_stream(s->h->ss, NGHTTP2_FLAG_NONE, s->id, code);
}

/* --- the response ------------------------------------------------------------ */

static int body_allowed(int status) { return !(status == 204 || status == 304 || status < 200); }

/* HTTP/1 connection-specific fields a plugin may have set: not sent over
 * HTTP/2 (RFC 9113 section 8.2.2). */
static int connection_specific(const char *n, size_t len)
{
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                        "upgrade"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], n, len) == 0)
            return 1;
    return 0;
}

/* A field name in lower case, from the request's pool. */
static uint8_t *lower(pool_t *p, const char *s, size_t n)
{
    uint8_t *d = pool_alloc(p, n ? n : 1);
    if (d)
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    return d;
}

#define NV(n, v, nl, vl) ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), (nl), (vl), NGHTTP2_NV_FLAG_NONE})

/* Fields (response headers or trailers) as nghttp2_nv, from req's pool,
 * after the nfixed fields already in fixed[]. */
static nghttp2_nv *fields_nv(ph_request_t *req, const resp_header_t *list, const nghttp2_nv *fixed, size_t nfixed,
                             size_t *n)
{
    size_t cnt = nfixed;
    for (const resp_header_t *f = list; f; f = f->next)
        cnt++;
    nghttp2_nv *nv = pool_alloc(req->pool, cnt * sizeof *nv + 1);
    if (nv == NULL)
        return NULL;
    if (nfixed > 0)
        memcpy(nv, fixed, nfixed * sizeof *nv);
    size_t k = nfixed;
    for (const resp_header_t *f = list; f; f = f->next) {
        if (connection_specific(f->name, f->nlen))
            continue;
        uint8_t *name = lower(req->pool, f->name, f->nlen);
        if (name == NULL)
            return NULL;
        nv[k++] = NV(name, f->value, f->nlen, f->vlen);
    }
    *n = k;
    return nv;
}

static ssize_t read_body(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
    (void)ss;
    (void)id;
    (void)user;
    h2_stream_t *s = src->ptr;
    ph_request_t *req = s->req;
    if (req == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const char *mem;
    size_t mem_len;
    ssize_t n;
    if (req->body_kind == BODY_STREAM) {
        for (;;) {
            n = exchange_pull(req, (char *)buf, len);
            if (n == PH_STREAM_WAIT) {
                s->deferred = 1;
                return NGHTTP2_ERR_DEFERRED;
            }
            if (n < 0 || (size_t)n > len)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            if (n == 0 || !s->no_body)
                break; /* a HEAD answer's bytes are taken and dropped */
        }
        if (n > 0 && req->stream_has_len && s->sent + (uint64_t)n > req->stream_len) {
            log_warn("stream for \"%s\" is longer than its Content-Length; resetting the HTTP/2 stream",
                     req->path ? req->path : "");
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        if (n == 0) {
            if (req->stream_has_len && !s->no_body && s->sent != req->stream_len) {
                log_warn("stream for \"%s\" ended %llu bytes short of its Content-Length; resetting the HTTP/2 "
                         "stream", req->path ? req->path : "", (unsigned long long)(req->stream_len - s->sent));
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            }
            s->eof = 1;
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            size_t nt = 0;
            nghttp2_nv *tv = req->trailers && !s->no_body ? fields_nv(req, req->trailers, NULL, 0, &nt) : NULL;
            if (tv && nt > 0 && nghttp2_submit_trailer(s->h->ss, s->id, tv, nt) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            return 0;
        }
    } else if (request_mem_body(req, &mem, &mem_len)) {
        n = (ssize_t)(mem_len - s->sent < len ? mem_len - s->sent : len);
        memcpy(buf, mem + s->sent, (size_t)n);
        if (s->sent + (size_t)n == mem_len) {
            s->eof = 1;
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
    } else if (req->body_kind == BODY_FILE) {
        uint64_t left = (uint64_t)req->file_len - s->sent;
        size_t want = left < len ? (size_t)left : len;
        /* 0 here would be an empty DATA frame, not a retry */
        do
            n = pread(req->file_fd, buf, want, req->file_off + (off_t)s->sent);
        while (n < 0 && errno == EINTR);
        if (n <= 0 && want > 0) {
            log_warn("file body ended %llu bytes early; resetting the HTTP/2 stream", (unsigned long long)left);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        if ((uint64_t)n == left) {
            s->eof = 1;
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
    } else {
        s->eof = 1;
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    s->sent += (uint64_t)n;
    return n;
}

/* The response of s->req is set: its HEADERS, and a body to follow. */
static void respond(h2_stream_t *s)
{
    h2_t *h = s->h;
    ph_request_t *req = s->req;
    if (req->bad)
        request_error(req, 500);
    if (exchange_filter_head(req, s->is_head) < 0) {
        log_warn("an output filter on \"%s\" refused the response: answering 500", req->path ? req->path : "");
        request_error(req, 500);
        req->fstate = NULL;
    }
    req->streaming = req->body_kind == BODY_STREAM;
    s->responded = 1;
    s->last_out = now_ms(h);

    char *status = pool_alloc(req->pool, 4), *clen = pool_alloc(req->pool, 21);
    if (status == NULL || clen == NULL) {
        reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    snprintf(status, 4, "%03d", req->status);
    const char *date = worker_date(h->w);
    const char *server = req->gen->cfg->server_header;
    nghttp2_nv fixed[4] = {NV(":status", status, 7, 3), NV("date", date, 4, strlen(date))};
    size_t nfixed = 2;
    if (server)
        fixed[nfixed++] = NV("server", server, 6, strlen(server));
    int has_len = 1;
    uint64_t len = 0;
    switch (req->body_kind) {
    case BODY_MEM: len = req->mem_len; break;
    case BODY_REF: len = req->ref_len; break;
    case BODY_FILE: len = (uint64_t)req->file_len; break;
    case BODY_STREAM:
        has_len = req->stream_has_len;
        len = req->stream_len;
        break;
    default: break;
    }
    int allowed = body_allowed(req->status);
    if (allowed && has_len) {
        int k = snprintf(clen, 21, "%llu", (unsigned long long)len);
        fixed[nfixed++] = NV("content-length", clen, 14, (size_t)k);
    }
    size_t n;
    nghttp2_nv *nv = fields_nv(req, req->headers, fixed, nfixed, &n);
    if (nv == NULL) {
        reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    s->no_body = s->is_head || !allowed;
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_body};
    /* HEAD, 204 and 304 end with the HEADERS frame and nothing of the body
     * is pulled: a filtered answer to HEAD has no producer behind its
     * stream at all. The one stream run to its end regardless is a
     * coroutine's co_respond(): the coroutine waits for its bytes to be
     * taken (they are dropped), and its end ends the request. */
    int provide = req->body_kind == BODY_STREAM ? !s->no_body || req->co_resp
                                                : !s->no_body && req->body_kind != BODY_NONE && len > 0;
    if (nghttp2_submit_response(h->ss, s->id, nv, n, provide ? &prd : NULL) != 0)
        reset(s, NGHTTP2_INTERNAL_ERROR);
    if (!provide)
        s->eof = 1;
}

/* --- the request --------------------------------------------------------------- */

static void take_step(h2_stream_t *s, exch_step_t step);

/* A plugin holding s->req cannot answer for it any more (handler_timeout,
 * or its streamed body broke a limit): the request is cancelled and left
 * to the plugin, and a request of the stream's own answers status. */
static void replace_held(h2_stream_t *s, int status)
{
    ph_request_t *late = s->req, *r;
    s->req = NULL;
    exchange_cancel(late);
    exchange_detach(late);
    r = exchange_new(s->h->w, &h2_ops, s);
    if (r == NULL) {
        reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    r->http2 = 1;
    s->req = r;
    exchange_replace(late, r);
    request_error(r, status);
    s->body_done = 1; /* whatever still comes is dropped */
    respond(s);
}

/* Body bytes the stream still holds go to the exchange while it takes
 * them; the END_STREAM after them runs the handler. */
static void deliver(h2_stream_t *s)
{
    h2_t *h = s->h;
    if (s->delivering)
        return;
    s->delivering = 1;
    while (s->req && s->body_ok && !s->body_paused && !s->body_done) {
        size_t n = buf_pending(&s->pend);
        if (n > 0) {
            const char *p = s->pend.p + s->pend.off;
            s->pend.off = s->pend.len;
            h->held -= n;
            give_back(h);
            nghttp2_session_consume_stream(h->ss, s->id, n);
            int r = exchange_body(s->req, p, n);
            if (r != 0) {
                s->body_done = 1;
                if (r > 0)
                    replace_held(s, r);
                else
                    respond(s);
                break;
            }
            continue;
        }
        if (!s->body_end)
            break;
        s->body_done = 1;
        take_step(s, exchange_body_end(s->req));
    }
    s->delivering = 0;
}

static void take_step(h2_stream_t *s, exch_step_t step)
{
    switch (step) {
    case EX_BODY:
        s->body_ok = 1;
        s->last_in = s->body_start = now_ms(s->h);
        s->body_got = buf_pending(&s->pend); /* came before the exchange took a body */
        if (s->req->hp.expect_continue && !s->got_data) {
            nghttp2_nv cont = NV(":status", "100", 7, 3);
            nghttp2_submit_headers(s->h->ss, NGHTTP2_FLAG_NONE, s->id, NULL, &cont, 1, NULL);
        }
        deliver(s);
        break;
    case EX_RESPOND:
        if (s->req->refused)
            s->body_done = 1; /* answered before its body: drop the body */
        respond(s);
        break;
    case EX_WAIT:
        s->held_since = now_ms(s->h);
        break;
    }
}

static int add_line(buf_t *b, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    return buf_append(b, name, nlen) < 0 || buf_append(b, ": ", 2) < 0 || buf_append(b, value, vlen) < 0 ||
                   buf_append(b, "\r\n", 2) < 0
               ? -1
               : 0;
}

/* n bytes of src at p + off; the offset after them. */
static size_t put(char *p, size_t off, const void *src, size_t n)
{
    memcpy(p + off, src, n);
    return off + n;
}

#define TE_CHUNKED "transfer-encoding: chunked\r\n"

/* The HTTP/1.1 head the stream's fields stand for, into req's pool:
 * "METHOD PATH HTTP/1.1", Host from :authority (else the host field), the
 * fields, one cookie field, and for a body whose length no content-length
 * gives, Transfer-Encoding: chunked, as HTTP/1.1 would say it (a plugin
 * that judges the body's presence by the head, like a proxy, would
 * otherwise see none). NULL when out of memory. */
static char *compose_head(h2_stream_t *s, int has_body, size_t *len)
{
    ph_request_t *req = s->req;
    const char *host = s->authority;
    int chunked = has_body && !s->has_clen;
    size_t need = strlen(s->method) + strlen(s->path) + 16 + (host ? strlen(host) + 8 : 0) +
                  buf_pending(&s->lines) + buf_pending(&s->cookie) + 12 + (chunked ? sizeof TE_CHUNKED : 0);
    char *p = pool_alloc(req->pool, need);
    if (p == NULL)
        return NULL;
    int k = snprintf(p, need, "%s %s HTTP/1.1\r\n", s->method, s->path);
    if (host)
        k += snprintf(p + k, need - (size_t)k, "host: %s\r\n", host);
    size_t off = (size_t)k;
    if (buf_pending(&s->lines) > 0) /* lines.p is NULL when empty */
        off = put(p, off, s->lines.p + s->lines.off, buf_pending(&s->lines));
    if (buf_pending(&s->cookie) > 0) {
        off = put(p, off, "cookie: ", 8);
        off = put(p, off, s->cookie.p + s->cookie.off, buf_pending(&s->cookie));
        off = put(p, off, "\r\n", 2);
    }
    if (chunked)
        off = put(p, off, TE_CHUNKED, sizeof TE_CHUNKED - 1);
    *len = put(p, off, "\r\n", 2);
    return p;
}

/* The header block is complete: the exchange takes the request. */
static void start_request(h2_stream_t *s, int end_stream)
{
    h2_t *h = s->h;
    ph_request_t *req = s->req;
    s->started = 1;
    s->body_end = end_stream != 0;
    h->nrequests++;
    if (s->too_big || s->bad_host || s->method == NULL || s->path == NULL) {
        request_error(req, s->too_big ? 431 : 400);
        s->body_done = 1;
        respond(s);
        return;
    }
    size_t len;
    char *head = compose_head(s, !end_stream, &len);
    buf_release(&s->lines);
    buf_release(&s->cookie);
    if (head == NULL) {
        request_error(req, 500);
        s->body_done = 1;
        respond(s);
        return;
    }
    int n = hp_parse_request(&req->hp, head, len, &h->w->gen->limits);
    if (n != (int)len) {
        request_error(req, n == HP_ERROR && req->hp.status ? req->hp.status : 400);
        s->body_done = 1;
        respond(s);
        return;
    }
    req->head = head;
    req->head_len = len;
    s->is_head = req->hp.is_head;
    if (exchange_route(req) < 0) {
        request_error(req, 400);
        s->body_done = 1;
        respond(s);
        return;
    }
    int has_body = !end_stream;
    if (req->hp.content_length > 0 && (uint64_t)req->hp.content_length > exchange_body_limit(req)) {
        request_error(req, 413);
        s->body_done = 1;
        respond(s);
        return;
    }
    take_step(s, exchange_head(req, has_body));
}

/* --- nghttp2's callbacks -------------------------------------------------------- */

static h2_stream_t *stream_of(nghttp2_session *ss, int32_t id)
{
    return nghttp2_session_get_stream_user_data(ss, id);
}

static int on_begin_headers(nghttp2_session *ss, const nghttp2_frame *f, void *user)
{
    h2_t *h = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->req = exchange_new(h->w, &h2_ops, s);
    if (s->req == NULL) {
        free(s);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    s->req->http2 = 1;
    hp_request_init(&s->req->hp);
    s->h = h;
    s->id = f->hd.stream_id;
    s->begun = now_ms(h);
    s->next = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    h->nstreams++;
    nghttp2_session_set_stream_user_data(ss, s->id, s);
    return 0;
}

static char *dup_value(const uint8_t *v, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, v, n);
        p[n] = '\0';
    }
    return p;
}

static int on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)flags;
    h2_t *h = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers of a request body are not passed on */
    h2_stream_t *s = stream_of(ss, f->hd.stream_id);
    if (s == NULL || s->too_big)
        return 0;
    /* counted as its HTTP/1 line would be; the decoder's work beyond the
     * limit is bounded by the frames' size, and nothing more is kept */
    s->head_bytes += nlen + vlen + 4;
    if (s->head_bytes > cfg_of(h)->max_header_bytes || ++s->nfields > HP_MAX_HEADERS + 4) {
        s->too_big = 1;
        return 0;
    }
    char **pseudo = NULL;
    if (nlen == 7 && memcmp(name, ":method", 7) == 0)
        pseudo = &s->method;
    else if (nlen == 5 && memcmp(name, ":path", 5) == 0)
        pseudo = &s->path;
    else if (nlen == 10 && memcmp(name, ":authority", 10) == 0)
        pseudo = &s->authority;
    if (pseudo) {
        free(*pseudo);
        *pseudo = dup_value(value, vlen);
        return *pseudo ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (name[0] == ':') /* :scheme: the connection says it */
        return 0;
    if (nlen == 4 && memcmp(name, "host", 4) == 0 && s->authority) {
        /* the head's Host line comes from :authority; a Host field must
         * agree with it (RFC 9113 section 8.3.1), and there is one at
         * most, as over HTTP/1 (the pseudo-header fields came first) */
        if (s->host_seen || strlen(s->authority) != vlen || strncasecmp(s->authority, (const char *)value, vlen) != 0)
            s->bad_host = 1;
        s->host_seen = 1;
        return 0;
    }
    if (nlen == 14 && memcmp(name, "content-length", 14) == 0)
        s->has_clen = 1; /* nghttp2 checked its value against the DATA */
    if (nlen == 6 && memcmp(name, "cookie", 6) == 0) {
        if ((buf_pending(&s->cookie) && buf_append(&s->cookie, "; ", 2) < 0) ||
            buf_append(&s->cookie, value, vlen) < 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return 0;
    }
    return add_line(&s->lines, name, nlen, value, vlen) < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

/* One more empty DATA frame: 0, or -1 when they come as a flood. */
static int empty_data(h2_t *h)
{
    uint64_t now = now_ms(h);
    if (now - h->empty_since >= 1000) {
        h->empty_since = now;
        h->empty_data = 0;
    }
    return ++h->empty_data > EMPTY_DATA_PER_SEC ? -1 : 0;
}

/* A header block spans a HEADERS frame without END_HEADERS and the
 * CONTINUATION frames up to the one with it, and nothing else may come on
 * the connection in between (RFC 9113 section 6.10): a client that stops
 * there holds the whole connection. Tracked from the frames' headers, so
 * blocks nghttp2 decodes only to drop them (a refused stream's) count
 * too; header_timeout bounds them (sweep). */
static int on_begin_frame(nghttp2_session *ss, const nghttp2_frame_hd *hd, void *user)
{
    (void)ss;
    h2_t *h = user;
    if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_PUSH_PROMISE) {
        h->in_block = !(hd->flags & NGHTTP2_FLAG_END_HEADERS);
        h->block_since = now_ms(h);
    } else if (hd->type != NGHTTP2_CONTINUATION || (hd->flags & NGHTTP2_FLAG_END_HEADERS)) {
        h->in_block = 0;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *user)
{
    h2_t *h = user;
    h2_stream_t *s = f->hd.stream_id ? stream_of(ss, f->hd.stream_id) : NULL;
    int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (f->hd.type) {
    case NGHTTP2_HEADERS:
        if (s == NULL)
            return 0;
        if (f->headers.cat == NGHTTP2_HCAT_REQUEST) {
            start_request(s, end);
            return 0;
        }
        break; /* trailers: END_STREAM below */
    case NGHTTP2_DATA:
        if (f->hd.length == 0 && !end && empty_data(h) < 0) {
            log_info("%s: HTTP/2 flood of empty DATA frames; closing", conn_peer(h->c));
            nghttp2_session_terminate_session(ss, NGHTTP2_ENHANCE_YOUR_CALM);
            return 0;
        }
        break;
    default:
        return 0;
    }
    if (s && end && s->started && !s->body_end) {
        s->body_end = 1;
        deliver(s);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *user)
{
    (void)flags;
    (void)user;
    h2_stream_t *s = stream_of(ss, id);
    if (s == NULL || s->body_done || s->req == NULL) {
        nghttp2_session_consume(ss, id, len); /* dropped */
        if (s && s->done_out && (s->dropped += len) > LINGER_MAX_BYTES)
            reset(s, NGHTTP2_NO_ERROR);
        return 0;
    }
    s->got_data = 1;
    s->last_in = now_ms(s->h);
    s->body_got += len;
    /* the stream's window opens once the exchange has the bytes, so a
     * paused body holds at most a window; the connection's at once while
     * the connection holds less than held_max (give_back) */
    if (buf_append(&s->pend, data, len) < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->h->held += len;
    s->h->owed += len;
    give_back(s->h);
    deliver(s);
    return 0;
}

/* Gives back to the connection's window what it owes, as far as the bytes
 * held stay under held_max. While some is withheld, a stream's body may
 * stall for the connection's window, which is the server's doing: its
 * body_timeout and body_min_rate wait (stream_due), and start afresh once
 * all is given back, as after a plugin's pause. */
static void give_back(h2_t *h)
{
    size_t room = h->held < h->held_max ? h->held_max - h->held : 0;
    size_t n = h->owed < room ? h->owed : room;
    if (n > 0) {
        nghttp2_session_consume_connection(h->ss, n);
        h->owed -= n;
    }
    unsigned was = h->withheld;
    h->withheld = h->owed > 0;
    if (!was || h->withheld)
        return;
    uint64_t now = now_ms(h);
    for (h2_stream_t *s = h->streams; s; s = s->next) {
        s->last_in = s->body_start = now;
        s->body_got = 0;
    }
}

static int on_frame_send(nghttp2_session *ss, const nghttp2_frame *f, void *user)
{
    (void)user;
    if (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS)
        return 0;
    h2_stream_t *s = stream_of(ss, f->hd.stream_id);
    if (s == NULL)
        return 0;
    s->last_out = now_ms(s->h);
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        s->done_out = 1; /* a body still coming lingers (stream_due) */
    return 0;
}

static int on_stream_close(nghttp2_session *ss, int32_t id, uint32_t code, void *user)
{
    (void)code;
    (void)user;
    h2_stream_t *s = stream_of(ss, id);
    if (s == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(ss, id, NULL);
    stream_end(s);
    stream_free(s->h, s);
    return 0;
}

/* --- the exchange's calls --------------------------------------------------------- */

static void h2_ready(ph_request_t *req)
{
    h2_stream_t *s = req->carrier;
    enter(s->h);
    h2_t *h = s->h;
    take_step(s, exchange_step(req));
    leave(h);
}

static void h2_body_flow(ph_request_t *req, int on)
{
    h2_stream_t *s = req->carrier;
    if (s->req != req || s->body_paused == !on)
        return;
    h2_t *h = s->h;
    enter(h);
    s->body_paused = !on;
    if (on) {
        /* the plugin's pause is not the client's: the rate is measured
         * afresh, as over HTTP/1 */
        s->last_in = s->body_start = now_ms(h);
        s->body_got = 0;
        deliver(s);
    } else {
        s->held_since = now_ms(h);
    }
    leave(h);
}

static void h2_wake(ph_request_t *req)
{
    h2_stream_t *s = req->carrier;
    if (s->req != req || !s->deferred)
        return;
    h2_t *h = s->h;
    enter(h);
    s->deferred = 0;
    s->last_out = now_ms(h);
    nghttp2_session_resume_data(h->ss, s->id);
    leave(h);
}

static int h2_informational(ph_request_t *req, int status, const ph_kv_t *f, size_t n)
{
    h2_stream_t *s = req->carrier;
    if (s->req != req || s->responded)
        return PH_ERROR;
    nghttp2_nv *nv = pool_alloc(req->pool, (n + 1) * sizeof *nv);
    char *st = pool_alloc(req->pool, 4);
    if (nv == NULL || st == NULL)
        return PH_ERROR;
    snprintf(st, 4, "%03d", status);
    nv[0] = NV(":status", st, 7, 3);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(f[i].key);
        uint8_t *name = lower(req->pool, f[i].key, nl);
        if (name == NULL)
            return PH_ERROR;
        nv[i + 1] = NV(name, f[i].value, nl, strlen(f[i].value));
    }
    h2_t *h = s->h;
    enter(h);
    int rc = nghttp2_submit_headers(h->ss, NGHTTP2_FLAG_NONE, s->id, NULL, nv, n + 1, NULL);
    leave(h);
    return rc == 0 ? PH_OK : PH_ERROR;
}

static const char *h2_peer(const ph_request_t *req)
{
    const h2_stream_t *s = req->carrier;
    return conn_peer(s->h->c);
}

static const char *h2_local(const ph_request_t *req)
{
    const h2_stream_t *s = req->carrier;
    return conn_local(s->h->c);
}

static int h2_secure(const ph_request_t *req)
{
    const h2_stream_t *s = req->carrier;
    return conn_secure(s->h->c);
}

static const struct tls_conn *h2_tls(const ph_request_t *req)
{
    const h2_stream_t *s = req->carrier;
    return conn_tls(s->h->c);
}

/* upgrade: none (RFC 9113 section 8.6: no Upgrade over HTTP/2) */
static const exch_ops_t h2_ops = {
    .ready = h2_ready,
    .body_flow = h2_body_flow,
    .wake = h2_wake,
    .informational = h2_informational,
    .peer = h2_peer,
    .local = h2_local,
    .secure = h2_secure,
    .tls = h2_tls,
};

/* --- timers ---------------------------------------------------------------------- */

static uint64_t earlier(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* One stream's deadline; with act, what is past it is done now. */
static uint64_t stream_due(h2_stream_t *s, uint64_t now, int act)
{
    const cfg_t *cfg = cfg_of(s->h);
    ph_request_t *req = s->req;
    if (req == NULL)
        return UINT64_MAX;
    if (s->done_out) { /* answered before the request body ended */
        uint64_t due = s->last_out + LINGER_MS;
        if (act && now >= due) {
            reset(s, NGHTTP2_NO_ERROR);
            return UINT64_MAX;
        }
        return due;
    }
    if (s->responded) {
        if (s->eof || s->deferred) /* sent, or a stream that waits: no timer */
            return UINT64_MAX;
        uint64_t due = s->last_out + cfg->send_timeout;
        if (act && now >= due) {
            log_info("%s: send_timeout: HTTP/2 stream %d took no bytes for %llu ms; resetting it",
                     conn_peer(s->h->c), s->id, (unsigned long long)cfg->send_timeout);
            reset(s, NGHTTP2_CANCEL);
            s->last_out = now; /* once */
            return UINT64_MAX;
        }
        return due;
    }
    /* the client's to send: body_timeout, and body_min_rate once
     * body_rate_grace has passed, also while a plugin holds the request
     * to take its streamed body. (The answer has not begun: an answer
     * before the body's end marks it done, and the rest is dropped.) */
    if (s->body_ok && !s->body_done && !s->body_end && !s->body_paused) {
        if (s->h->withheld) /* see give_back() */
            return UINT64_MAX;
        uint64_t due = s->last_in + cfg->body_timeout;
        uint64_t rate_due = exchange_body_rate_due(cfg, s->body_start, s->body_got);
        if (act && now >= earlier(due, rate_due)) {
            if (now >= rate_due)
                log_info("%s: request body below body_min_rate on HTTP/2 stream %d (%llu bytes in %llu ms); "
                         "answering 408", conn_peer(s->h->c), s->id, (unsigned long long)s->body_got,
                         (unsigned long long)(now - s->body_start));
            else
                log_info("%s: body_timeout: no body bytes for %llu ms on HTTP/2 stream %d; answering 408",
                         conn_peer(s->h->c), (unsigned long long)cfg->body_timeout, s->id);
            s->body_done = 1;
            if (exchange_held(req)) {
                replace_held(s, 408);
            } else {
                request_error(req, 408);
                respond(s);
            }
            return UINT64_MAX;
        }
        return earlier(due, rate_due);
    }
    if (exchange_held(req) || (s->body_paused && !s->body_done)) {
        if (cfg->handler_timeout == 0 || exchange_answer_coming(req))
            return UINT64_MAX;
        uint64_t due = s->held_since + cfg->handler_timeout;
        if (act && now >= due) {
            log_warn("handler for \"%s\" still running after handler_timeout: answering 504",
                     req->path ? req->path : "");
            if (exchange_held_blocking(req))
                stats_blocking_timeout();
            if (exchange_held(req)) {
                replace_held(s, 504);
            } else {
                request_error(req, 504);
                s->body_done = 1;
                respond(s);
            }
            return UINT64_MAX;
        }
        return due;
    }
    return UINT64_MAX;
}

static void final_goaway(h2_t *h);

/* The earliest deadline of h and its streams; with act, what is past it
 * is done now. */
static uint64_t sweep(h2_t *h, int act)
{
    const cfg_t *cfg = cfg_of(h);
    uint64_t now = now_ms(h), due = UINT64_MAX;
    if (h->blocked && buf_pending(&h->out) > 0) {
        uint64_t d = h->last_write + cfg->send_timeout;
        if (act && now >= d) {
            log_info("%s: send_timeout: the socket took no bytes for %llu ms; closing the HTTP/2 connection",
                     conn_peer(h->c), (unsigned long long)cfg->send_timeout);
            h->dead = 1;
            return UINT64_MAX;
        }
        due = d;
    }
    /* a header block that never ends (its CONTINUATION does not come, or
     * the rest of a frame of it): the connection can carry nothing else */
    uint64_t block = h->in_block ? h->block_since : UINT64_MAX;
    for (const h2_stream_t *s = h->streams; s; s = s->next)
        if (!s->started)
            block = earlier(block, s->begun);
    if (block != UINT64_MAX) {
        uint64_t d = block + cfg->header_timeout;
        if (act && now >= d) {
            log_info("%s: header_timeout: HTTP/2 header block incomplete after %llu ms; closing the connection",
                     conn_peer(h->c), (unsigned long long)cfg->header_timeout);
            nghttp2_session_terminate_session(h->ss, NGHTTP2_NO_ERROR);
            return UINT64_MAX;
        }
        due = earlier(due, d);
    }
    if (h->noticed && !h->draining) {
        if (act && now >= h->goaway_due)
            final_goaway(h);
        else
            due = earlier(due, h->goaway_due);
    }
    if (h->nstreams == 0) {
        uint64_t d = h->idle_since + (h->nrequests ? cfg->keepalive_timeout : cfg->header_timeout);
        if (act && now >= d) {
            log_debug("%s: HTTP/2 connection idle; closing", conn_peer(h->c));
            nghttp2_session_terminate_session(h->ss, NGHTTP2_NO_ERROR);
            return UINT64_MAX;
        }
        return earlier(due, d);
    }
    h2_stream_t *next;
    for (h2_stream_t *s = h->streams; s; s = next) {
        next = s->next;
        due = earlier(due, stream_due(s, now, act));
    }
    return due;
}

static void on_timer(ev_loop_t *loop, ev_timer_t *t)
{
    (void)loop;
    h2_t *h = t->data;
    enter(h);
    sweep(h, 1);
    leave(h);
}

/* --- I/O ----------------------------------------------------------------------------- */

/* Writes what nghttp2 has to send, as far as the socket takes it. */
static void pump(h2_t *h)
{
    for (;;) {
        if (buf_pending(&h->out) > 0) {
            ssize_t n = conn_io_write(h->c, h->out.p + h->out.off, buf_pending(&h->out));
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    h->blocked = 1;
                    return;
                }
                h->dead = 1;
                return;
            }
            h->out.off += (size_t)n;
            h->last_write = now_ms(h);
            h->blocked = 0;
            continue;
        }
        h->out.off = h->out.len = 0;
        while (h->out.len < OUT_GATHER) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(h->ss, &data);
            if (n < 0) {
                log_info("%s: HTTP/2: %s; closing", conn_peer(h->c), nghttp2_strerror((int)n));
                h->dead = 1;
                return;
            }
            if (n == 0)
                break;
            if (buf_append(&h->out, data, (size_t)n) < 0) {
                h->dead = 1;
                return;
            }
        }
        if (h->out.len == 0)
            return;
    }
}

static void leave(h2_t *h)
{
    if (--h->depth > 0)
        return;
    if (!h->dead)
        pump(h);
    if (!h->dead && buf_pending(&h->out) == 0 && !nghttp2_session_want_write(h->ss) &&
        (h->closing || !nghttp2_session_want_read(h->ss)))
        h->dead = 1; /* GOAWAY exchanged, or the session ended */
    if (!h->dead && h->draining && h->nstreams == 0 && buf_pending(&h->out) == 0)
        h->dead = 1;
    if (h->dead) {
        conn_close(h->c); /* frees h */
        return;
    }
    if (buf_pending(&h->out) == 0)
        h->out.off = h->out.len = 0;
    unsigned mask = (h->closing ? 0 : EV_READ) | (h->blocked ? EV_WRITE : 0);
    if (conn_io_watch(h->c, mask) < 0) {
        conn_close(h->c);
        return;
    }
    uint64_t due = sweep(h, 0), now = now_ms(h);
    if (due == UINT64_MAX)
        ev_timer_stop(h->w->loop, &h->timer);
    else
        ev_timer_set(h->w->loop, &h->timer, due > now ? due - now : 0);
}

/* Input to the session. A fatal error (a flood, a broken frame) queues
 * a GOAWAY that says why, sent before the connection closes. -1: close
 * once that is out. */
static int take_input(h2_t *h, const char *p, size_t n)
{
    ssize_t r = nghttp2_session_mem_recv(h->ss, (const uint8_t *)p, n);
    if (r < 0) {
        log_info("%s: HTTP/2: %s; closing", conn_peer(h->c), nghttp2_strerror((int)r));
        uint32_t code = r == NGHTTP2_ERR_FLOODED || r == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                            ? NGHTTP2_ENHANCE_YOUR_CALM
                            : NGHTTP2_PROTOCOL_ERROR;
        nghttp2_session_terminate_session(h->ss, code);
        h->closing = 1;
        return -1;
    }
    return 0;
}

void h2_on_io(h2_t *h, unsigned events)
{
    (void)events;
    enter(h);
    if (h->pre) {
        char *pre = h->pre;
        h->pre = NULL;
        take_input(h, pre, h->prelen);
        free(pre);
    }
    char in[READ_PIECE];
    for (int i = 0; i < READS_PER_EVENT && !h->dead && !h->closing; i++) {
        if (!nghttp2_session_want_read(h->ss))
            break;
        ssize_t n = conn_io_read(h->c, in, sizeof in);
        if (n == 0) {
            h->dead = 1; /* the client closed */
            break;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                h->dead = 1;
            break;
        }
        if (take_input(h, in, (size_t)n) < 0)
            break;
        if ((size_t)n < sizeof in)
            break;
    }
    leave(h);
}

/* --- the session ---------------------------------------------------------------------- */

h2_t *h2_new(conn_t *c, const char *in, size_t inlen)
{
    h2_t *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->c = c;
    h->w = conn_worker(c);
    const cfg_t *cfg = cfg_of(h);
    if (inlen > 0) {
        h->pre = malloc(inlen);
        if (h->pre == NULL) {
            free(h);
            return NULL;
        }
        memcpy(h->pre, in, inlen);
        h->prelen = inlen;
    }
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        free(h->pre);
        free(h);
        return NULL;
    }
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    int rc = nghttp2_option_new(&opt);
    if (rc == 0) {
        nghttp2_option_set_no_auto_window_update(opt, 1);
        nghttp2_option_set_max_settings(opt, 32);
        nghttp2_option_set_max_outbound_ack(opt, 1000);
        nghttp2_option_set_stream_reset_rate_limit(opt, RESET_BURST, RESET_RATE);
        nghttp2_option_set_max_continuations(opt, MAX_CONTINUATIONS);
        rc = nghttp2_session_server_new2(&h->ss, cb, h, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->http2_max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)cfg->http2_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         cfg->max_header_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg->max_header_bytes},
    };
    /* the connection's window: HELD_WINDOWS streams' (at most 1 GiB) */
    uint64_t conn_window = (uint64_t)cfg->http2_window * HELD_WINDOWS;
    if (conn_window > (1u << 30))
        conn_window = 1u << 30;
    h->held_max = (size_t)conn_window;
    if (rc != 0 || nghttp2_submit_settings(h->ss, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
        nghttp2_session_set_local_window_size(h->ss, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)conn_window) != 0) {
        if (rc == 0)
            nghttp2_session_del(h->ss);
        free(h->pre);
        free(h);
        return NULL;
    }
    ev_timer_init(&h->timer, on_timer, h);
    h->idle_since = h->last_write = now_ms(h);
    return h;
}

/* The final GOAWAY: the streams received so far are answered, no other. */
static void final_goaway(h2_t *h)
{
    h->draining = 1;
    nghttp2_submit_goaway(h->ss, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ss),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

/* Two steps (RFC 9113 section 6.8): a GOAWAY with the largest stream id
 * first, so that requests the client sent meanwhile are still answered,
 * then, H2_NOTICE_MS later, the one naming the last stream served. */
void h2_drain(h2_t *h)
{
    if (h->noticed || h->draining)
        return;
    enter(h);
    h->noticed = 1;
    h->goaway_due = now_ms(h) + H2_NOTICE_MS;
    if (nghttp2_submit_shutdown_notice(h->ss) != 0)
        final_goaway(h);
    for (h2_stream_t *s = h->streams; s; s = s->next)
        if (s->req && s->deferred && !exchange_held_blocking(s->req))
            exchange_cancel(s->req); /* an event stream's producer ends it; a
                                        blocking handler's ends with handle() */
    leave(h);
}

void h2_free(h2_t *h)
{
    ev_timer_stop(h->w->loop, &h->timer);
    h2_stream_t *s;
    while ((s = h->streams) != NULL) {
        stream_end(s);
        h->streams = s->next;
        if (s->next)
            s->next->prev = NULL;
        stream_release(s);
    }
    nghttp2_session_del(h->ss);
    buf_release(&h->out);
    free(h->pre);
    free(h);
}
