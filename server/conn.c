#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "exchange.h"
#include "stats.h"
#include "gen.h"
#include "h2.h"
#include "httpdate.h"
#include "listener.h"
#include "log.h"
#include "proxy_proto.h"
#include "addrcount.h"
#include "request.h"
#include "response.h"
#include "tls.h"
#include "worker.h"

/* Responses whose in-memory body is at most this big are copied into the
 * output queue, which lets pipelined responses go out in one write. */
#define COPY_BODY_MAX 16384
/* Stop batching pipelined responses once this much output is queued. */
#define OUT_BATCH_MAX 65536
#define STREAM_PIECE 16384
/* A lingering close discards what the client still sends for at most this
 * long and this many bytes, then closes. */
#define LINGER_MS 2000
/* A draining worker (a stop, or a reload under a master) still answers the
 * next request of an open connection, its first or the next on a keep-alive
 * one, with Connection: close, if it comes within this long (or the
 * keep-alive timeout, if shorter): closing over a request on its way would
 * fail a client that did nothing wrong. Then idle connections close. */
#define DRAIN_WAIT_MS 1000
#define LINGER_MAX_BYTES (256 * 1024)

enum state {
    ST_PROXY,    /* the PROXY protocol header (proxy_protocol listeners):
                    header timeout */
    ST_TLS,      /* the TLS handshake (TLS listeners): handshake_timeout */
    ST_IDLE,     /* between requests: keep-alive timeout (before the first
                    one, header timeout from accept) */
    ST_HEAD,     /* part of a request head is buffered: header timeout */
    ST_BODY,     /* reading the request body: body timeout, minimum rate */
    ST_HANDLING, /* a plugin has the request (blocking pool, PH_PENDING):
                    handler timeout */
    ST_RESPOND,  /* a response is queued for c->req */
    ST_SENDING,  /* waiting for the socket to take more queued output */
    ST_WAITING,  /* a streamed response waits for its producer's wake-up */
    ST_LINGER,   /* half-closed over unread input, discarding it (finish) */
    ST_H2,       /* HTTP/2 (h2.c has the connection's framing and timers) */
    ST_UPGRADED, /* api->upgrade() took the socket: no HTTP, no timers; the
                    handler's return ends the request and closes c */
    ST_CLOSED,
};

struct conn {
    ev_io_t io;
    ev_timer_t timer;
    worker_t *w;
    conn_t *prev, *next;
    enum state state;
    unsigned want_close : 1; /* close once the current response is out */
    unsigned draining : 1;
    unsigned sent_continue : 1;
    unsigned linger : 1;     /* input may be left unread: linger on close */
    unsigned responded : 1;  /* the current request has a queued response */
    unsigned body_paused : 1;/* the plugin paused a streamed body */
    unsigned body_complete : 1; /* read whole while paused: end pending */
    unsigned busy : 1;       /* process() is running */
    unsigned corked : 1;     /* bytes went out with MSG_MORE, not pushed */
    unsigned nrequests;

    char *rbuf;              /* NULL while idle with nothing buffered */
    size_t rpos, rlen, rcap; /* unparsed bytes are rbuf[rpos..rlen) */

    buf_t out;               /* queued response bytes */
    ph_request_t *req;       /* the request being read, handled or sent */
    int is_head;
    response_info_t info;
    uint64_t body_need;      /* Content-Length bytes still to read */
    uint64_t body_start_ms;  /* when the head was complete (body_min_rate) */
    uint64_t body_got;       /* raw body bytes received since then */
    uint64_t last_read_ms;   /* body_timeout counts from here */
    size_t lingered;         /* bytes discarded in ST_LINGER */
    hp_chunked_t chunked;
    uint64_t sent_body;      /* body bytes of the current response sent */
    off_t file_pos;
    int stream_done;

    tls_conn_t *tls;         /* NULL: plaintext */
    /* Until the session starts: the certificates of the generation that
     * accepted c, and whether its listener offered h2. A reload may drop
     * TLS from the listener meanwhile; the client still expects it. */
    tls_ctx_t *tls_ctx;
    unsigned tls_h2 : 1;
    ev_timer_t kick;         /* TLS: decrypted input waits in the session */
    unsigned tls_listener : 1; /* accepted on a "tls" listener */
    unsigned tls_plain : 1;  /* ... but the client spoke plain HTTP */
    int https_redirect;      /* the listener's https-redirect port, or 0 */
    unsigned h2c : 1;        /* the listener takes HTTP/2 prior knowledge */
    h2_t *h2;                /* ST_H2 */

    enum state after_proxy;  /* ST_PROXY: the state its header leads to */
    unsigned char *pp_buf;   /* ST_PROXY: the header's first part, taken off
                              * the socket (NULL: none yet) */
    size_t pp_len;
    addrcount_key_t ckey;    /* the address max_connections_per_address counts */
    unsigned ckey_ok : 1;    /* ckey is set (a TCP peer) */
    unsigned counted : 1;    /* ckey holds one count for c */
    char peer[56];
    char local[56];          /* the listener's, or filled when first asked for */
};

static const exch_ops_t h1_ops;

static void on_io(ev_loop_t *loop, ev_io_t *io, unsigned events);
static void set_timer(conn_t *c, uint64_t ms);
static void read_input(conn_t *c);
static void on_timer(ev_loop_t *loop, ev_timer_t *t);
static void process(conn_t *c);
static void close_conn(conn_t *c);
static uint64_t keepalive_ms(const conn_t *c);
static void respond(conn_t *c);
static void arm_body_timer(conn_t *c);
static int body_pending(const conn_t *c);
static void take_step(conn_t *c, exch_step_t step);

const char *conn_peer(const conn_t *c) { return c->peer; }
conn_t *conn_next(const conn_t *c) { return c->next; }

void conn_link(conn_t *c, conn_t **head)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

void conn_unlink(conn_t *c, conn_t **head)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static const gen_t *cur_gen(const conn_t *c) { return c->w->gen; }
static const cfg_t *cur_cfg(const conn_t *c) { return c->w->gen->cfg; }

static void on_kick(ev_loop_t *loop, ev_timer_t *t);
static void start_h2(conn_t *c, const char *in, size_t inlen);
static conn_t *expect_proxy_header(conn_t *c);

/* max_connections_per_address: counts c under its key, or says no. */
static int count_addr(conn_t *c)
{
    unsigned max = cur_cfg(c)->max_connections_per_address;
    if (max == 0 || !c->ckey_ok)
        return 1;
    if (!addrcount_take(&c->ckey, max)) {
        log_debug("%s: max_connections_per_address (%u) reached; closing", c->peer, max);
        return 0;
    }
    c->counted = 1;
    return 1;
}

conn_t *conn_new(worker_t *w, int fd, const struct sockaddr *peer, socklen_t peerlen, const cfg_listen_t *cl,
                 const char *local)
{
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->w = w;
    if (local && strlen(local) < sizeof c->local)
        memcpy(c->local, local, strlen(local) + 1);
    listener_format_addr(peer, peerlen, c->peer, sizeof c->peer);
    if (peer->sa_family == AF_UNIX)
        snprintf(c->peer, sizeof c->peer, "unix");
    c->ckey_ok = addrcount_key(peer, &c->ckey) == 0;
    /* Behind a PROXY protocol load balancer every connection comes from
     * it: the client's address, in the header, is counted then. */
    if (!(cl && cl->proxy_protocol) && !count_addr(c)) {
        free(c);
        close(fd);
        return NULL;
    }
    ev_io_init(&c->io, fd, on_io, c);
    ev_timer_init(&c->timer, on_timer, c);
    ev_timer_init(&c->kick, on_kick, c);
    c->state = ST_IDLE;
    if (cl && cl->tls && cur_gen(c)->tls) {
        c->tls_listener = 1;
        c->tls_ctx = tls_ctx_ref(cur_gen(c)->tls);
        c->tls_h2 = cur_cfg(c)->tls.http2 != 0;
        c->state = ST_TLS;
        ev_timer_set(w->loop, &c->timer, cur_cfg(c)->tls.handshake_timeout);
        return cl->proxy_protocol ? expect_proxy_header(c) : c;
    }
    c->https_redirect = cl ? cl->https_redirect : 0;
    c->h2c = cl && cl->h2c;
    /* A client that never sends a byte gets the header timeout, counted
     * from accept: the keep-alive timeout is for clients already served. */
    ev_timer_set(w->loop, &c->timer, cur_cfg(c)->header_timeout);
    return cl && cl->proxy_protocol ? expect_proxy_header(c) : c;
}

/* The load balancer's PROXY header comes before anything else, TLS
 * included: read it first, then go on as the listener says. */
static conn_t *expect_proxy_header(conn_t *c)
{
    c->after_proxy = c->state;
    c->state = ST_PROXY;
    ev_timer_set(c->w->loop, &c->timer, cur_cfg(c)->header_timeout);
    return c;
}

/* --- TLS ---------------------------------------------------------------- */

/* The first bytes on a TLS listener: a TLS record (a handshake, 0x16)
 * starts the session; plain HTTP (a method's capital letter) is read as
 * HTTP/1 and answered 400 with a note; anything else is closed. 1: go on
 * (c->tls set, or plain), 0: wait for bytes, -1: closed. */
static int tls_first_bytes(conn_t *c)
{
    unsigned char b;
    ssize_t n = recv(c->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        close_conn(c);
        return -1;
    }
    if (b == 0x16) {
        c->tls = tls_conn_new(c->tls_ctx, c->io.fd, c->tls_h2);
        tls_ctx_free(c->tls_ctx); /* the session holds its own reference */
        c->tls_ctx = NULL;
        if (c->tls == NULL) {
            close_conn(c);
            return -1;
        }
        return 1;
    }
    if (b >= 'A' && b <= 'Z') {
        log_info("%s: plain HTTP on a TLS listener; answering 400", c->peer);
        c->tls_plain = 1;
        tls_ctx_free(c->tls_ctx);
        c->tls_ctx = NULL;
        c->state = ST_IDLE;
        ev_timer_set(c->w->loop, &c->timer, cur_cfg(c)->header_timeout);
        return 1;
    }
    log_info("%s: not a TLS handshake on a TLS listener (first byte 0x%02x); closing", c->peer, b);
    close_conn(c);
    return -1;
}

/* Advances the handshake; once done, serves HTTP/1 on the session. */
static void tls_step(conn_t *c)
{
    if (c->tls == NULL && (tls_first_bytes(c) <= 0 || c->tls_plain)) {
        if (c->tls_plain)
            read_input(c);
        return;
    }
    const char *why = NULL;
    int r = tls_handshake(c->tls, &why);
    if (r != 0)
        stats_tls_handshake(r > 0);
    if (r < 0) {
        log_info("%s: TLS handshake failed: %s", c->peer, why);
        close_conn(c);
        return;
    }
    if (r == 0) {
        if (ev_io_set(c->w->loop, &c->io, tls_want(c->tls)) < 0)
            close_conn(c);
        return;
    }
    log_debug("%s: %s%s, ALPN %s", c->peer, tls_version(c->tls), tls_resumed(c->tls) ? " resumed" : "",
              tls_alpn(c->tls) ? tls_alpn(c->tls) : "-");
    const char *alpn = tls_alpn(c->tls);
    if (alpn && strcmp(alpn, "h2") == 0) {
        start_h2(c, NULL, 0);
        return;
    }
    c->state = ST_IDLE;
    set_timer(c, c->draining ? DRAIN_WAIT_MS : cur_cfg(c)->header_timeout);
    if (tls_pending(c->tls)) {
        read_input(c);
        return;
    }
    if (conn_io_watch(c, EV_READ) < 0)
        close_conn(c);
}

/* Plaintext already in the TLS session: read as if the socket fired. */
static void on_kick(ev_loop_t *loop, ev_timer_t *t)
{
    conn_t *c = t->data;
    if (c->tls && tls_pending(c->tls) && (c->io.mask & EV_READ))
        on_io(loop, &c->io, EV_READ);
}

static void read_input(conn_t *c);

/* ST_PROXY: takes the PROXY header off the socket (peeked, then read to
 * its exact length, so not a byte of what follows is consumed), takes the
 * client's and the proxied addresses from it, and goes on to the TLS
 * handshake or the first request. A connection without a valid header is
 * closed: on such a listener every connection comes through the proxy. */
static void proxy_step(conn_t *c)
{
    unsigned char buf[PP_MAX_HEADER];
    size_t have = c->pp_len;
    if (have)
        memcpy(buf, c->pp_buf, have);
    ssize_t n = recv(c->io.fd, buf + have, sizeof buf - have, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    pp_result_t pp;
    size_t total = have + (n > 0 ? (size_t)n : 0);
    int hl = n > 0 ? pp_parse(buf, total, &pp) : -1;
    if (hl == 0 && total < sizeof buf) {
        /* The rest of the header is on its way. Every byte seen so far is
         * the header's (a header wanting more has no end in them), so they
         * are taken off the socket and kept: the socket is readable again
         * only when more comes, and nothing after the header is consumed.
         * Peeking at bytes left in the socket again and again would cost a
         * wake-up per connection every few ms. header_timeout runs. */
        if (c->pp_buf == NULL && (c->pp_buf = malloc(PP_MAX_HEADER)) == NULL) {
            close_conn(c);
            return;
        }
        if (recv(c->io.fd, c->pp_buf + have, (size_t)n, 0) != n) {
            close_conn(c);
            return;
        }
        c->pp_len = total;
        return;
    }
    if (hl <= 0 || (size_t)hl <= have) {
        if (n > 0)
            log_info("%s: no valid PROXY protocol header; closing", c->peer);
        close_conn(c);
        return;
    }
    /* the header's remaining bytes */
    if (recv(c->io.fd, buf + have, (size_t)hl - have, 0) != (ssize_t)((size_t)hl - have)) {
        close_conn(c);
        return;
    }
    free(c->pp_buf);
    c->pp_buf = NULL;
    c->pp_len = 0;
    if (pp.known) {
        listener_format_addr((struct sockaddr *)&pp.src, pp.len, c->peer, sizeof c->peer);
        listener_format_addr((struct sockaddr *)&pp.dst, pp.len, c->local, sizeof c->local);
        c->ckey_ok = addrcount_key((struct sockaddr *)&pp.src, &c->ckey) == 0;
    }
    if (!count_addr(c)) {
        close_conn(c);
        return;
    }
    c->state = c->after_proxy;
    if (c->state == ST_TLS) {
        ev_timer_set(c->w->loop, &c->timer, cur_cfg(c)->tls.handshake_timeout);
        tls_step(c);
    } else {
        read_input(c);
    }
}

void conn_start(conn_t *c)
{
    size_t sndbuf = cur_cfg(c)->send_buffer;
    if (sndbuf > 0) { /* bounded by the config parser to fit an int */
        int v = (int)sndbuf;
        setsockopt(c->io.fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    }
    /* With TCP_DEFER_ACCEPT the request is already in the socket: serve it
     * before asking epoll about the socket at all. A short request on a
     * closing connection then never costs an epoll_ctl(). */
    if (cur_cfg(c)->defer_accept) {
        if (c->state == ST_PROXY)
            proxy_step(c);
        else if (c->state == ST_TLS)
            tls_step(c);
        else
            read_input(c);
    }
    if (c->state != ST_CLOSED && !c->io.active && c->state != ST_HANDLING &&
        conn_io_watch(c, EV_READ) < 0)
        close_conn(c);
}

/* --- the byte stream ------------------------------------------------------ */

ssize_t conn_io_read(conn_t *c, void *buf, size_t cap)
{
    return c->tls ? tls_read(c->tls, buf, cap) : recv(c->io.fd, buf, cap, 0);
}

ssize_t conn_io_write(conn_t *c, const void *buf, size_t len)
{
    return c->tls ? tls_write(c->tls, buf, len) : send(c->io.fd, buf, len, MSG_NOSIGNAL);
}

/* A TLS read wants the socket writable at times (and a write readable):
 * the watch asks the socket for what the session waits on, and plaintext
 * the session already holds is read at once (epoll cannot see it). */
int conn_io_watch(conn_t *c, unsigned mask)
{
    if (c->tls == NULL)
        return ev_io_set(c->w->loop, &c->io, mask);
    if (mask & EV_READ) {
        if (tls_pending(c->tls))
            ev_timer_set_exact(c->w->loop, &c->kick, 0);
        else if (tls_read_want(c->tls) == EV_WRITE)
            mask |= EV_WRITE;
    }
    return ev_io_set(c->w->loop, &c->io, mask);
}

/* send() of a queued piece; more: a file body follows at once (plaintext:
 * MSG_MORE holds the piece back to go out with it). */
static ssize_t io_send(conn_t *c, const void *p, size_t n, int more)
{
    if (c->tls)
        return tls_write(c->tls, p, n);
    ssize_t r = send(c->io.fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (r > 0)
        c->corked = more != 0;
    return r;
}

/* The queued head and an in-memory body: one writev() in plaintext; under
 * TLS the head's record first (the body follows on the next call). */
static ssize_t io_send2(conn_t *c, const struct iovec iov[2])
{
    if (c->tls)
        return tls_write(c->tls, iov[0].iov_base, iov[0].iov_len);
    return writev(c->io.fd, iov, 2);
}

static ssize_t io_sendfile(conn_t *c, int fd, off_t *pos, size_t n)
{
    if (c->tls)
        return tls_sendfile(c->tls, fd, pos, n);
    return sendfile(c->io.fd, fd, pos, n);
}

/* --- buffers ----------------------------------------------------------- */

/* Idle connections hold no read buffer: thousands of idle keep-alive
 * clients then cost only this struct and the kernel's socket. */
static void release_rbuf(conn_t *c)
{
    if (c->rbuf && c->rpos == c->rlen) {
        if (c->rcap == worker_buf_size(c->w))
            worker_buf_put(c->w, c->rbuf);
        else
            free(c->rbuf);
        c->rbuf = NULL;
        c->rpos = c->rlen = c->rcap = 0;
    }
}

/* The output queue goes back to the worker as soon as it is empty. */
static void release_out(conn_t *c)
{
    if (c->out.p == NULL || buf_pending(&c->out) > 0)
        return;
    if (c->out.cap == worker_buf_size(c->w))
        worker_buf_put(c->w, c->out.p);
    else
        free(c->out.p);
    c->out.p = NULL;
    c->out.len = c->out.off = c->out.cap = 0;
}

static int ensure_out(conn_t *c)
{
    if (c->out.p)
        return 0;
    c->out.p = worker_buf_get(c->w);
    if (c->out.p == NULL)
        return -1;
    c->out.cap = worker_buf_size(c->w);
    c->out.len = c->out.off = 0;
    return 0;
}

static int ensure_rbuf(conn_t *c)
{
    if (c->rbuf == NULL) {
        c->rbuf = worker_buf_get(c->w);
        if (c->rbuf == NULL)
            return -1;
        c->rcap = worker_buf_size(c->w);
        c->rpos = c->rlen = 0;
    }
    if (c->rlen == c->rcap && c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == c->rcap) {
        /* Only a request head can fill the buffer (bodies are moved out as
         * they arrive): grow up to the header limit plus one byte, so the
         * parser is the one to say 431. */
        size_t max = cur_cfg(c)->max_header_bytes + 1;
        if (c->rcap >= max)
            return 0;
        size_t cap = c->rcap * 2 < max ? c->rcap * 2 : max;
        char *p;
        if (c->rcap == worker_buf_size(c->w)) {
            p = malloc(cap);
            if (p) {
                memcpy(p, c->rbuf, c->rlen);
                worker_buf_put(c->w, c->rbuf);
            }
        } else {
            p = realloc(c->rbuf, cap);
        }
        if (p == NULL)
            return -1;
        c->rbuf = p;
        c->rcap = cap;
    }
    return 0;
}

/* --- request lifecycle --------------------------------------------------- */

static ph_request_t *request_new(conn_t *c) { return exchange_new(c->w, &h1_ops, c); }

/* The response is fully queued or sent: release everything it held. */
static void request_end(conn_t *c)
{
    ph_request_t *req = c->req;
    if (req == NULL)
        return;
    int unfinished = req->streaming && body_pending(c);
    c->req = NULL;
    if (exchange_held(req)) {
        /* a plugin still has it (the client went away): it ends when
         * the plugin lets go */
        exchange_cancel(req);
        exchange_detach(req);
    } else {
        if (unfinished) /* the client left a stream: tell its producer */
            exchange_cancel(req);
        exchange_end(req, c->responded, c->sent_body);
    }
    c->responded = 0;
    c->is_head = 0; /* an error before the next head is parsed has a body */
    c->info.framing = FRAME_NONE;
    c->sent_body = 0;
    c->body_paused = 0;
    c->body_complete = 0;
}

/* --- output ------------------------------------------------------------ */

static void set_timer(conn_t *c, uint64_t ms) { ev_timer_set(c->w->loop, &c->timer, ms); }

/* Bytes of a response went out. send_timeout bounds the time between
 * writes only while a response is what the connection waits on: output of
 * earlier requests flushed while a head or body is read, or while a
 * handler runs, must not replace the timer of that state. */
static void sent_some(conn_t *c)
{
    if (c->state == ST_RESPOND || c->state == ST_SENDING)
        set_timer(c, cur_cfg(c)->send_timeout);
}

/* Queues the response head and, when small, the body. Returns 0, or -1
 * when memory ran out (the connection is then closed). */
static int queue_response(conn_t *c)
{
    ph_request_t *req = c->req;
    if (req->bad)
        request_error(req, 500);
    if (exchange_filter_head(req, c->is_head) < 0) {
        log_warn("an output filter on \"%s\" refused the response: answering 500", req->path ? req->path : "");
        request_error(req, 500);
        req->fstate = NULL; /* the 500 goes out unfiltered */
    }
    req->streaming = req->body_kind == BODY_STREAM;
    c->responded = 1;
    if (ensure_out(c) < 0)
        return -1;
    c->info.keep_alive = !c->want_close && !c->draining;
    c->sent_body = 0;
    c->stream_done = 0;
    if (response_head(req, c->is_head, worker_date(c->w), req->gen->cfg->server_header, &c->out, &c->info) < 0)
        return -1;
    if (!c->info.keep_alive)
        c->want_close = 1;
    if (c->info.framing == FRAME_NONE)
        return 0;
    const char *mem;
    size_t mem_len;
    if (request_mem_body(req, &mem, &mem_len) && mem_len <= COPY_BODY_MAX) {
        if (buf_append(&c->out, mem, mem_len) < 0)
            return -1;
        c->sent_body = mem_len;
        c->info.framing = FRAME_NONE; /* nothing left to send beyond out */
    }
    c->file_pos = req->file_off;
    return 0;
}

/* Whether the current response still has body bytes beyond c->out. */
static int body_pending(const conn_t *c)
{
    if (c->req == NULL)
        return 0;
    /* a coroutine's stream (co_respond) runs to its end whatever the
     * framing: a HEAD answer's bytes are taken and dropped */
    if (c->req->co_resp && c->req->body_kind == BODY_STREAM && c->responded)
        return !c->stream_done;
    switch (c->info.framing) {
    case FRAME_LENGTH: return c->sent_body < c->info.body_len;
    case FRAME_CHUNKED:
    case FRAME_CLOSE: return !c->stream_done;
    default: return 0;
    }
}

/* Pushes bytes the kernel holds from a MSG_MORE send (it would hold them up
 * to 200 ms waiting for more): setting TCP_NODELAY flushes pending output
 * (tcp(7)). It fails harmlessly on a Unix socket, which never holds. */
static void uncork(conn_t *c)
{
    if (c->corked) {
        int one = 1;
        (void)setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->corked = 0;
    }
}

/* The stream broke: the bytes gathered before it broke still go out as far
 * as the socket takes them now, as they would have one piece at a time;
 * then the connection is to be closed. Returns -1. */
static int send_gathered(conn_t *c)
{
    while (buf_pending(&c->out) > 0) {
        ssize_t n = io_send(c, c->out.p + c->out.off, buf_pending(&c->out), 0);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break;
        if (n > 0)
            c->out.off += (size_t)n;
    }
    return -1;
}

/* Sends what it can. Returns 1 when everything queued went out, 0 when the
 * socket is full, 2 when a streamed body waits for its producer (all else
 * sent), -1 on a connection error.
 * A streamed body is gathered behind what is queued (the head, earlier
 * pieces) while its producer has bytes ready, up to STREAM_PIECE, and goes
 * out in one send the moment the producer has none: one syscall for a small
 * answer whose bytes are ready, and nothing is held back waiting for more.
 * (A coroutine's co_respond() has the head flushed before its first
 * co_send(): that head finds the producer empty and goes alone.) */
static int flush(conn_t *c)
{
    int waiting = 0; /* the stream said PH_STREAM_WAIT in this call */
    for (;;) {
        ph_request_t *req = c->req;
        /* body_pending() is 0 without a request; the test is repeated where
         * the static analyzer, which does not always follow the call, sees it */
        int more = req != NULL && body_pending(c);
        const char *mem = NULL;
        size_t mem_len = 0;
        int in_mem = more && request_mem_body(req, &mem, &mem_len);
        int stream = more && !in_mem && req->body_kind != BODY_FILE;
        if (stream && !waiting && buf_pending(&c->out) > 0 && buf_pending(&c->out) < STREAM_PIECE)
            goto pull; /* gather more before sending */
        if (buf_pending(&c->out) > 0) {
            ssize_t n;
            if (in_mem) {
                struct iovec iov[2] = {
                    {c->out.p + c->out.off, buf_pending(&c->out)},
                    {(char *)mem + c->sent_body, mem_len - c->sent_body},
                };
                n = io_send2(c, iov);
                if (n > 0) {
                    size_t head = buf_pending(&c->out);
                    if ((size_t)n >= head) {
                        c->out.off = c->out.len;
                        c->sent_body += (size_t)n - head;
                    } else {
                        c->out.off += (size_t)n;
                    }
                }
            } else {
                int hold = more && !stream; /* a file body follows at once */
                n = io_send(c, c->out.p + c->out.off, buf_pending(&c->out), hold);
                if (n > 0)
                    c->out.off += (size_t)n;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    return 0;
                return -1;
            }
            if (n > 0)
                sent_some(c);
            continue;
        }
        if (!more) {
            /* the last bytes may have gone out with MSG_MORE before the
             * stream said it had ended: nothing follows them, so push */
            uncork(c);
            return 1;
        }
        if (waiting) { /* all gathered went out; the producer has nothing */
            uncork(c);
            return 2;
        }
    pull:
        if (in_mem) {
            ssize_t n = io_send(c, mem + c->sent_body, mem_len - c->sent_body, 0);
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            c->sent_body += (size_t)n;
            c->corked = 0; /* a send without MSG_MORE pushed what was held */
        } else if (req->body_kind == BODY_FILE) {
            size_t left = (size_t)(c->info.body_len - c->sent_body);
            ssize_t n = io_sendfile(c, req->file_fd, &c->file_pos, left > (1u << 30) ? (1u << 30) : left);
            if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            if (n == 0) { /* the file shrank under us: the framing is broken */
                log_warn("file body ended %llu bytes early; closing the connection",
                         (unsigned long long)left);
                return -1;
            }
            c->sent_body += (size_t)n;
            if (c->sent_body == c->info.body_len)
                c->corked = 0; /* the file's last page went out pushed */
        } else { /* BODY_STREAM */
            if (buf_reserve(&c->out, STREAM_PIECE + 32) < 0)
                return -1;
            char *dst = c->out.p + c->out.len + 16; /* room for the size line */
            ssize_t n = exchange_pull(req, dst, STREAM_PIECE);
            if (n == PH_STREAM_WAIT) {
                if (buf_pending(&c->out) > 0) { /* send what was gathered */
                    waiting = 1;
                    continue;
                }
                uncork(c);
                return 2;
            }
            if (n < 0 || n > STREAM_PIECE)
                return send_gathered(c);
            if (n == 0) {
                if (c->info.framing == FRAME_LENGTH && c->sent_body != c->info.body_len) {
                    log_warn("stream for \"%s\" ended %llu bytes short of its Content-Length; closing the "
                             "connection", req->path ? req->path : "",
                             (unsigned long long)(c->info.body_len - c->sent_body));
                    return send_gathered(c);
                }
                c->stream_done = 1;
                if (c->info.framing == FRAME_CHUNKED && response_chunk_last(&c->out, req->trailers) < 0)
                    return -1;
                continue;
            }
            if (c->info.framing == FRAME_NONE) /* HEAD, 204, 304: dropped */
                continue;
            if (c->info.framing == FRAME_LENGTH && c->sent_body + (uint64_t)n > c->info.body_len) {
                log_warn("stream for \"%s\" is longer than its Content-Length; closing the connection",
                         req->path ? req->path : "");
                return send_gathered(c);
            }
            if (c->info.framing == FRAME_CHUNKED) {
                char line[20];
                int k = snprintf(line, sizeof line, "%zx\r\n", (size_t)n);
                memmove(c->out.p + c->out.len + k, dst, (size_t)n);
                memcpy(c->out.p + c->out.len, line, (size_t)k);
                c->out.len += (size_t)k + (size_t)n;
                if (response_chunk_end(&c->out) < 0)
                    return -1;
            } else {
                memmove(c->out.p + c->out.len, dst, (size_t)n);
                c->out.len += (size_t)n;
            }
            c->sent_body += (size_t)n;
        }
        sent_some(c);
    }
}

/* --- waiting on plugins ------------------------------------------------------ */

/* A plugin has the request (blocking pool, PH_PENDING). Answers to
 * earlier pipelined requests go out now, not after it. The socket is
 * watched for them, and for the client's hang-up (which cancels the
 * request); input that is not a hang-up is left for later, unwatched, so
 * neither a reset nor pipelined bytes make the loop spin. */
static void wait_plugin(conn_t *c)
{
    uint64_t limit = cur_cfg(c)->handler_timeout;
    int r = buf_pending(&c->out) > 0 ? flush(c) : 1;
    if (r < 0) {
        close_conn(c);
        return;
    }
    c->state = ST_HANDLING;
    unsigned mask = EV_READ | (r == 0 ? EV_WRITE : 0);
    if (c->rbuf && c->rpos < c->rlen)
        mask &= ~EV_READ; /* pipelined input already here: not a hang-up */
    if (conn_io_watch(c, mask) < 0)
        ev_io_stop(c->w->loop, &c->io);
    if (limit > 0)
        set_timer(c, limit);
    else
        ev_timer_stop(c->w->loop, &c->timer);
}

/* The plugin holding c->req cannot answer any more for it (it overran
 * handler_timeout, or its streamed body broke a limit): c->req is
 * cancelled and set aside (it lives until the plugin lets go), and the
 * client gets status from a request of the connection's own, carrying the
 * same request line for the access log; then the connection closes. */
static void replace_held(conn_t *c, int status)
{
    ph_request_t *late = c->req, *r;
    c->req = NULL;
    exchange_cancel(late);
    exchange_detach(late);
    c->req = r = request_new(c);
    if (r == NULL) {
        close_conn(c);
        return;
    }
    exchange_replace(late, r);
    request_error(r, status);
    c->want_close = 1;
    c->linger = 1; /* pipelined requests may still sit unread */
    respond(c);
}

static void handler_timed_out(conn_t *c)
{
    if (c->req == NULL) { /* nothing is waited on: nothing to answer */
        close_conn(c);
        return;
    }
    log_warn("handler for \"%s\" still %s after handler_timeout: answering 504", c->req->path ? c->req->path : "",
             c->body_paused ? "pausing its body" : "running");
    if (exchange_held_blocking(c->req))
        stats_blocking_timeout();
    replace_held(c, 504);
}

/* What the exchange said comes next for c->req. */
static void take_step(conn_t *c, exch_step_t step)
{
    switch (step) {
    case EX_BODY:
        c->state = ST_BODY;
        c->body_start_ms = c->last_read_ms = ev_now(c->w->loop);
        c->body_got = c->rlen - c->rpos;
        arm_body_timer(c);
        break;
    case EX_RESPOND:
        if (c->req->refused) { /* answered before its body was read */
            c->want_close = 1;
            c->linger = 1;
        }
        respond(c);
        break;
    case EX_WAIT:
        wait_plugin(c);
        break;
    }
}

/* exch_ops: a plugin let go of c->req. */
static void h1_ready(ph_request_t *req)
{
    conn_t *c = req->carrier;
    if (c->state == ST_CLOSED)
        return;
    if (c->state == ST_UPGRADED) { /* the upgraded handler returned */
        c->req = NULL;
        exchange_end(req, 1, 0);
        close_conn(c);
        return;
    }
    take_step(c, exchange_step(req));
    if (c->state == ST_BODY && c->body_paused)
        return;
    process(c);
}

static void h1_body_flow(ph_request_t *req, int on)
{
    conn_t *c = req->carrier;
    if (c->req != req || c->state != ST_BODY || c->body_paused == !on)
        return;
    c->body_paused = !on;
    if (!on) {
        /* not the client's delay: no body timers while paused, but the
         * plugin's, handler_timeout */
        uint64_t limit = cur_cfg(c)->handler_timeout;
        if (limit > 0)
            set_timer(c, limit);
        else
            ev_timer_stop(c->w->loop, &c->timer);
        if (conn_io_watch(c, buf_pending(&c->out) ? EV_WRITE : 0) < 0)
            close_conn(c);
        return;
    }
    c->body_start_ms = c->last_read_ms = ev_now(c->w->loop);
    c->body_got = 0;
    arm_body_timer(c);
    process(c);
}

static void h1_wake(ph_request_t *req)
{
    conn_t *c = req->carrier;
    if (c->req != req || c->state != ST_WAITING)
        return;
    c->state = ST_RESPOND;
    process(c);
}

static int h1_informational(ph_request_t *req, int status, const ph_kv_t *h, size_t n)
{
    conn_t *c = req->carrier;
    if (c->req != req || c->responded)
        return PH_ERROR; /* the final head is on its way: too late */
    if (req->hp.version_minor == 0)
        return PH_OK; /* HTTP/1.0 has no informational answers */
    if (ensure_out(c) < 0 || response_informational(&c->out, status, h, n) < 0)
        return PH_ERROR;
    if (c->state != ST_HANDLING) /* the loop flushes it on its way */
        return PH_OK;
    int r = flush(c);
    if (r < 0)
        return PH_ERROR;
    if (r == 0 && conn_io_watch(c, c->io.mask | EV_WRITE) < 0)
        return PH_ERROR;
    return PH_OK;
}

static const char *h1_peer(const ph_request_t *req)
{
    const conn_t *c = req->carrier;
    return c->peer;
}

const char *conn_local(conn_t *c)
{
    if (c->local[0] == '\0') {
        struct sockaddr_storage ss = {0};
        socklen_t len = sizeof ss;
        if (getsockname(c->io.fd, (struct sockaddr *)&ss, &len) < 0)
            snprintf(c->local, sizeof c->local, "-");
        else if (ss.ss_family == AF_UNIX)
            snprintf(c->local, sizeof c->local, "unix");
        else
            listener_format_addr((struct sockaddr *)&ss, len, c->local, sizeof c->local);
    }
    return c->local;
}

static const char *h1_local(const ph_request_t *req) { return conn_local(req->carrier); }

/* "101 Switching Protocols" with req's headers, into c->out. */
static int queue_switching(conn_t *c, const ph_request_t *req)
{
    static const char st[] = "HTTP/1.1 101 Switching Protocols\r\n", conn[] = "Connection: upgrade\r\n\r\n";
    if (buf_append(&c->out, st, sizeof st - 1) < 0)
        return -1;
    for (const resp_header_t *h = req->headers; h; h = h->next)
        if (buf_append(&c->out, h->name, h->nlen) < 0 || buf_append(&c->out, ": ", 2) < 0 ||
            buf_append(&c->out, h->value, h->vlen) < 0 || buf_append(&c->out, "\r\n", 2) < 0)
            return -1;
    return buf_append(&c->out, conn, sizeof conn - 1);
}

static char *copy_bytes(const char *p, size_t n)
{
    char *q = n ? malloc(n) : NULL;
    if (q)
        memcpy(q, p, n);
    return q;
}

static int h1_upgrade(ph_request_t *req, int *fd, char **out, size_t *outlen, char **in, size_t *inlen)
{
    conn_t *c = req->carrier;
    /* under TLS the socket's bytes are the session's: a plugin reading
     * the raw socket would see records, so there is no hand-over */
    if (c == NULL || c->req != req || c->state != ST_HANDLING || c->responded || c->tls)
        return -1;
    size_t mark = c->out.p ? c->out.len : 0;
    if (ensure_out(c) < 0 || queue_switching(c, req) < 0) {
        if (c->out.p)
            c->out.len = mark; /* nothing of it stays queued */
        return -1;
    }
    *outlen = buf_pending(&c->out);
    *inlen = c->rbuf ? c->rlen - c->rpos : 0;
    *out = copy_bytes(c->out.p + c->out.off, *outlen);
    *in = copy_bytes(c->rbuf ? c->rbuf + c->rpos : NULL, *inlen);
    if (*out == NULL || (*inlen && *in == NULL)) {
        free(*out);
        free(*in);
        *out = *in = NULL;
        c->out.len = mark;
        return -1;
    }
    ev_timer_stop(c->w->loop, &c->timer);
    ev_io_stop(c->w->loop, &c->io); /* the plugin's socket watches the fd now */
    *fd = c->io.fd;
    c->io.fd = -1;
    c->rpos = c->rlen;
    release_rbuf(c);
    c->out.off = c->out.len;
    release_out(c);
    c->state = ST_UPGRADED;
    c->responded = 1;
    c->want_close = 1;
    return 0;
}

int conn_secure(const conn_t *c) { return c->tls != NULL; }
static int h1_secure(const ph_request_t *req) { return conn_secure(req->carrier); }
const struct tls_conn *conn_tls(const conn_t *c) { return c->tls; }
static const struct tls_conn *h1_tls(const ph_request_t *req) { return conn_tls(req->carrier); }
struct worker *conn_worker(const conn_t *c) { return c->w; }
void conn_close(conn_t *c) { close_conn(c); }

/* From here on c speaks HTTP/2; in[0..inlen) are its first bytes. */
static void start_h2(conn_t *c, const char *in, size_t inlen)
{
    ev_timer_stop(c->w->loop, &c->timer);
    c->state = ST_H2;
    c->h2 = h2_new(c, in, inlen);
    if (c->rbuf) {
        c->rpos = c->rlen;
        release_rbuf(c);
    }
    if (c->h2 == NULL) {
        close_conn(c);
        return;
    }
    h2_on_io(c->h2, 0);
    /* Begun on a draining worker: the streams already received are
     * answered, GOAWAY tells the client to open any other elsewhere. */
    if (c->draining && c->state == ST_H2 && c->h2)
        h2_drain(c->h2);
}

/* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 section 3.4) at the start
 * of a connection: 1 when the buffer holds it, 0 when what is there may
 * still become it, -1 when it is something else (HTTP/1). */
static int h2_preface(const conn_t *c)
{
    static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = c->rlen - c->rpos;
    size_t k = n < sizeof pri - 1 ? n : sizeof pri - 1;
    if (memcmp(c->rbuf + c->rpos, pri, k) != 0)
        return -1;
    return k == sizeof pri - 1 ? 1 : 0;
}

static const exch_ops_t h1_ops = {
    .ready = h1_ready,
    .body_flow = h1_body_flow,
    .wake = h1_wake,
    .informational = h1_informational,
    .peer = h1_peer,
    .local = h1_local,
    .upgrade = h1_upgrade,
    .secure = h1_secure,
    .tls = h1_tls,
};

/* --- input ---------------------------------------------------------------- */

/* The route a request whose head is incomplete or invalid was meant for,
 * judged from the origin-form path at the start of its target, so that an
 * API route's clients get its kind of error (PH_PLUGIN_JSON_ERRORS) also
 * for a 414 or 431. Best effort: NULL when the path cannot be read. */
static const gen_route_t *route_for_error(conn_t *c)
{
    if (c->rbuf == NULL)
        return NULL;
    const char *b = c->rbuf + c->rpos, *end = c->rbuf + c->rlen;
    while (b < end && (*b == '\r' || *b == '\n'))
        b++;
    const char *sp = memchr(b, ' ', (size_t)(end - b) < HP_MAX_METHOD + 1 ? (size_t)(end - b) : HP_MAX_METHOD + 1);
    if (sp == NULL || sp + 1 >= end || sp[1] != '/')
        return NULL;
    const char *p = sp + 1, *q = p;
    size_t max = cur_cfg(c)->max_uri_bytes;
    while (q < end && (size_t)(q - p) < max && *q != ' ' && *q != '?' && *q != '\r' && *q != '\n')
        q++;
    char *path = pool_alloc(c->req->pool, (size_t)(q - p) + 1);
    size_t len;
    if (path == NULL || hp_path_normalize(p, (size_t)(q - p), path, &len) != HP_OK)
        return NULL;
    size_t plen;
    return router_match(c->req->gen->router, path, len, &plen);
}

/* A request that cannot be parsed: answer status and close. */
static void fail_request(conn_t *c, int status)
{
    if (c->req == NULL)
        c->req = request_new(c);
    if (c->req == NULL) {
        close_conn(c);
        return;
    }
    if (c->req->route == NULL && c->req->head == NULL)
        c->req->route = route_for_error(c);
    /* a parsed HEAD gets its error without a body, as any answer to it */
    if (c->req->head == NULL)
        c->is_head = 0;
    request_error(c->req, status);
    c->want_close = 1;
    c->linger = 1;
}

/* The request's host for a Location: its authority (the absolute-form
 * target's, else Host) without the port, made only of the characters a
 * host name or an IP literal has. 0, or -1. */
static int redirect_host(const ph_request_t *req, char *out, size_t cap)
{
    ph_str_t h = {req->head + req->hp.authority.off, req->hp.authority.len};
    if (h.len == 0 || h.len >= cap)
        return -1;
    size_t n = h.len;
    const char *colon = h.ptr[0] == '[' ? memchr(h.ptr, ']', n) : memchr(h.ptr, ':', n);
    if (colon && h.ptr[0] == '[')
        colon++; /* "[::1]:80": the port follows the bracket */
    if (colon && colon < h.ptr + n)
        n = (size_t)(colon - h.ptr);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '-' || ch == '[' || ch == ']' || ch == ':'))
            return -1;
    }
    memcpy(out, h.ptr, n);
    out[n] = '\0';
    return n ? 0 : -1;
}

/* A request on an https-redirect listener: 301 to its https:// address
 * (308 for other methods than GET and HEAD, which must be repeated as
 * they were). Returns -1 after fail_request() or with the answer set. */
static int redirect_to_https(conn_t *c)
{
    ph_request_t *req = c->req;
    char host[256], port[8] = "", loc[320];
    if (redirect_host(req, host, sizeof host) < 0) {
        fail_request(c, 400);
        return -1;
    }
    if (c->https_redirect != 443)
        snprintf(port, sizeof port, ":%d", c->https_redirect);
    /* the path and query as received, from an origin-form or an
     * absolute-form target alike ("*" has neither) */
    const char *path = "/", *query = req->head + req->hp.query.off;
    size_t plen = 1, qlen = req->hp.has_query ? req->hp.query.len + 1 : 0;
    if (!req->hp.asterisk) {
        path = req->head + req->hp.path.off;
        plen = req->hp.path.len;
    }
    size_t need = strlen("https://") + strlen(host) + strlen(port) + plen + qlen + 1;
    char *buf = need <= sizeof loc ? loc : pool_alloc(req->pool, need);
    if (buf == NULL) {
        fail_request(c, 500);
        return -1;
    }
    snprintf(buf, need, "https://%s%s%.*s%s%.*s", host, port, (int)plen, path, qlen ? "?" : "",
             (int)(qlen ? qlen - 1 : 0), query);
    int get = req->hp.is_head || (req->hp.method.len == 3 && memcmp(req->head + req->hp.method.off, "GET", 3) == 0);
    request_answer(req, get ? 301 : 308, "This resource is served over HTTPS.", buf);
    if (req->hp.chunked || req->hp.content_length > 0)
        c->want_close = 1; /* its body is not read */
    c->linger = 1;
    return -1;
}

/* The head is complete: copy it out of the read buffer, normalise the path,
 * decide how the body arrives. Returns 0, or -1 after fail_request(). */
static int start_request(conn_t *c, size_t head_len)
{
    ph_request_t *req = c->req;
    const cfg_t *cfg = cur_cfg(c);
    req->head = pool_alloc(req->pool, head_len);
    if (req->head == NULL) {
        fail_request(c, 500);
        return -1;
    }
    memcpy(req->head, c->rbuf + c->rpos, head_len);
    req->head_len = head_len;
    c->rpos += head_len;
    c->is_head = req->hp.is_head;
    c->nrequests++;
    if (!req->hp.keep_alive || (cfg->max_keepalive_requests && c->nrequests >= cfg->max_keepalive_requests))
        c->want_close = 1;

    if (exchange_route(req) < 0) {
        fail_request(c, 400);
        return -1;
    }
    if (c->tls_plain) {
        request_answer(req, 400, "400 Bad Request: plain HTTP was sent to an HTTPS port; use https://.", NULL);
        c->want_close = 1;
        c->linger = 1;
        return -1;
    }
    if (c->https_redirect)
        return redirect_to_https(c);

    if (req->hp.chunked) {
        hp_chunked_init(&c->chunked);
        c->body_need = UINT64_MAX;
    } else if (req->hp.content_length > 0) {
        if ((uint64_t)req->hp.content_length > exchange_body_limit(req)) {
            fail_request(c, 413);
            return -1;
        }
        c->body_need = (uint64_t)req->hp.content_length;
    } else {
        c->body_need = 0;
    }
    return 0;
}

/* Passes a decoded body piece on. Returns 0, or -1 when the exchange
 * refused it: its answer is then set (or c->req replaced) and queued. */
static int pass_body(conn_t *c, const char *p, size_t n)
{
    int r = exchange_body(c->req, p, n);
    if (r == 0)
        return 0;
    c->want_close = 1; /* the rest of the body is not read */
    c->linger = 1;
    if (r > 0)
        replace_held(c, r);
    else
        respond(c);
    return -1;
}

/* Moves buffered body bytes into the exchange. Returns 1 when the body is
 * complete, 0 when more must be read, -1 when an answer was queued
 * instead (fail_request(), pass_body()). */
static int take_body(conn_t *c)
{
    ph_request_t *req = c->req;
    size_t avail = c->rlen - c->rpos;
    if (!req->hp.chunked) {
        size_t n = avail < c->body_need ? avail : (size_t)c->body_need;
        if (n > 0) { /* rbuf is NULL when nothing is buffered */
            c->rpos += n;
            c->body_need -= n;
            if (pass_body(c, c->rbuf + c->rpos - n, n) < 0)
                return -1;
        }
        return c->body_need == 0;
    }
    if (avail == 0)
        return 0;
    size_t len = avail;
    ssize_t rest = hp_chunked_decode(&c->chunked, c->rbuf + c->rpos, &len, cur_cfg(c)->max_header_bytes);
    if (rest == HP_ERROR) {
        if (exchange_held(req)) {
            replace_held(c, 400);
            return -1;
        }
        fail_request(c, 400);
        respond(c);
        return -1;
    }
    if (len > 0 && pass_body(c, c->rbuf + c->rpos, len) < 0)
        return -1;
    if (rest == HP_INCOMPLETE) {
        c->rlen = c->rpos; /* every byte was consumed */
        return 0;
    }
    /* The next request's first bytes sit right after the decoded data. */
    memmove(c->rbuf + c->rpos, c->rbuf + c->rpos + len, (size_t)rest);
    c->rlen = c->rpos + (size_t)rest;
    return 1;
}

/* The response for c->req is ready: queue it. */
static void respond(conn_t *c)
{
    if (queue_response(c) < 0) {
        close_conn(c);
        return;
    }
    c->state = ST_RESPOND;
}

/* Waits for more input, flushing batched output first. */
static void wait_input(conn_t *c)
{
    unsigned mask = EV_READ;
    if (buf_pending(&c->out) > 0) {
        int r = flush(c);
        if (r < 0) {
            close_conn(c);
            return;
        }
        if (r == 0)
            mask |= EV_WRITE;
        /* Between requests, unsent answers are bounded by send_timeout;
         * once out, the keep-alive timeout starts. */
        if (c->state == ST_IDLE)
            set_timer(c, r == 0 ? cur_cfg(c)->send_timeout : cur_cfg(c)->keepalive_timeout);
    }
    if (conn_io_watch(c, mask) < 0)
        close_conn(c);
}

/* Whether the client sent bytes this connection has not consumed. */
static int input_unread(const conn_t *c)
{
    if (c->rbuf && c->rpos < c->rlen)
        return 1;
    if (c->tls && tls_pending(c->tls))
        return 1;
    char b;
    return recv(c->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

/* Closes after the last response. Closing over unread input (an error
 * answer's request, pipelined requests after Connection: close) sends a
 * reset that can destroy the answer before the client reads it: half-close
 * and discard what still comes, for at most LINGER_MS and LINGER_MAX_BYTES,
 * instead. */
static void finish(conn_t *c)
{
    if (!c->linger && !input_unread(c)) {
        close_conn(c);
        return;
    }
    if (c->tls)
        tls_close_notify(c->tls); /* the half-close would leave no way out for it */
    shutdown(c->io.fd, SHUT_WR);
    c->state = ST_LINGER;
    c->lingered = 0;
    c->rpos = c->rlen;
    release_rbuf(c);
    if (conn_io_watch(c, EV_READ) < 0) {
        close_conn(c);
        return;
    }
    set_timer(c, LINGER_MS);
}

/* Parses and runs requests from the buffer until it needs I/O. */
static void process_loop(conn_t *c)
{
    for (;;) {
        switch (c->state) {
        case ST_CLOSED:
        case ST_PROXY:
        case ST_TLS:
        case ST_HANDLING:
        case ST_SENDING:
        case ST_WAITING:
        case ST_LINGER:
        case ST_UPGRADED:
        case ST_H2:
            return;

        case ST_RESPOND: {
            /* Pipelined requests already buffered: answer them too before
             * writing, so their responses leave in one write. */
            if (!c->want_close && !body_pending(c) && buf_pending(&c->out) < OUT_BATCH_MAX &&
                c->rlen > c->rpos) {
                request_end(c);
                c->state = ST_IDLE;
                continue;
            }
            int r = flush(c);
            if (r < 0) {
                close_conn(c);
                return;
            }
            if (r == 2) {
                /* the stream's producer has nothing now: no timer (an
                 * event stream may idle for long); watch for the client
                 * going away, unless its next request is already here */
                c->state = ST_WAITING;
                ev_timer_stop(c->w->loop, &c->timer);
                if (conn_io_watch(c, c->rbuf && c->rpos < c->rlen ? 0 : EV_READ) < 0)
                    close_conn(c);
                return;
            }
            if (r == 0) {
                /* waiting on the client from here: send_timeout, also
                 * when nothing went out (the timer may have been stopped
                 * for a handler with handler_timeout = 0) */
                c->state = ST_SENDING;
                set_timer(c, cur_cfg(c)->send_timeout);
                if (conn_io_watch(c, EV_WRITE) < 0)
                    close_conn(c);
                return;
            }
            request_end(c);
            if (c->want_close) {
                finish(c);
                return;
            }
            c->state = ST_IDLE;
            continue;
        }

        case ST_BODY: {
            if (c->body_paused)
                return; /* h1_body_flow() set the watch */
            int r = c->body_complete ? 1 : take_body(c);
            if (r < 0)
                continue;
            if (r == 1 && c->body_paused) {
                /* paused by the last piece's on_body: the end waits too */
                c->body_complete = 1;
                return;
            }
            if (r == 0) {
                if (c->body_paused)
                    return;
                ph_request_t *req = c->req;
                if (req->hp.expect_continue && !c->sent_continue && req->hp.version_minor) {
                    c->sent_continue = 1;
                    if (ensure_out(c) < 0 || response_continue(&c->out) < 0) {
                        close_conn(c);
                        return;
                    }
                }
                wait_input(c);
                return;
            }
            c->body_complete = 0;
            take_step(c, exchange_body_end(c->req));
            continue;
        }

        case ST_IDLE:
        case ST_HEAD: {
            if (c->rbuf == NULL || c->rpos == c->rlen) {
                release_rbuf(c);
                /* the first request's header timeout runs from accept */
                if (c->state == ST_IDLE && c->nrequests > 0)
                    set_timer(c, keepalive_ms(c));
                wait_input(c);
                if (c->state != ST_CLOSED && c->req == NULL)
                    release_out(c);
                return;
            }
            if (c->h2c && c->nrequests == 0 && c->req == NULL) {
                int pri = h2_preface(c);
                if (pri == 0) {
                    c->state = ST_HEAD;
                    wait_input(c);
                    return;
                }
                if (pri == 1) {
                    start_h2(c, c->rbuf + c->rpos, c->rlen - c->rpos);
                    return;
                }
            }
            if (c->req == NULL) {
                c->req = request_new(c);
                if (c->req == NULL) {
                    close_conn(c);
                    return;
                }
                c->sent_continue = 0;
            }
            if (c->state == ST_IDLE) {
                c->state = ST_HEAD;
                /* a draining connection's head keeps conn_drain's deadline */
                if (c->nrequests > 0 && !c->draining)
                    set_timer(c, cur_cfg(c)->header_timeout);
            }
            int n = hp_parse_request(&c->req->hp, c->rbuf + c->rpos, c->rlen - c->rpos, &cur_gen(c)->limits);
            if (n == HP_INCOMPLETE) {
                wait_input(c);
                return;
            }
            if (n == HP_ERROR) {
                fail_request(c, c->req->hp.status ? c->req->hp.status : 400);
                respond(c);
                continue;
            }
            if (start_request(c, (size_t)n) < 0) {
                respond(c);
                continue;
            }
            take_step(c, exchange_head(c->req, c->body_need > 0));
            continue;
        }
        }
    }
}

/* Plugins' calls back into the connection (h1_ready, h1_body_flow...) may
 * come from inside process_loop() itself: the loop running already
 * re-reads the state, so only the outermost call runs it. */
static void process(conn_t *c)
{
    if (c->busy)
        return;
    c->busy = 1;
    process_loop(c);
    c->busy = 0;
}

/* The client sent all it ever will (a half-close, or a close whose reset
 * has not come yet). Only an incomplete request can be buffered here
 * (process() runs complete ones before reading more): drop it. Answers
 * already queued may still be read by the client: send them, under
 * send_timeout, then close. */
static void peer_done_sending(conn_t *c)
{
    c->rpos = c->rlen;
    release_rbuf(c);
    if (buf_pending(&c->out) == 0) {
        close_conn(c);
        return;
    }
    log_debug("%s: the client is done sending; %zu queued bytes still go out", c->peer, buf_pending(&c->out));
    c->want_close = 1;
    c->state = ST_SENDING;
    set_timer(c, cur_cfg(c)->send_timeout);
    if (conn_io_watch(c, EV_WRITE) < 0)
        close_conn(c);
}

static void read_input(conn_t *c)
{
    if (ensure_rbuf(c) < 0) {
        close_conn(c);
        return;
    }
    if (c->rlen == c->rcap) {
        /* Full at the header limit: let the parser refuse it. */
        process(c);
        return;
    }
    ssize_t n = conn_io_read(c, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n == 0) {
        peer_done_sending(c);
        return;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        close_conn(c);
        return;
    }
    if (n < 0)
        return;
    c->rlen += (size_t)n;
    if (c->state == ST_BODY) {
        c->body_got += (size_t)n;
        c->last_read_ms = ev_now(c->w->loop);
        arm_body_timer(c);
    }
    process(c);
}

/* Whether the socket says the client closed or reset the connection. */
static int client_gone(conn_t *c)
{
    unsigned char b;
    ssize_t n = recv(c->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    /* under TLS an alert record (0x15) is a close_notify or a fatal
     * alert: the client is leaving either way */
    if (n == 1 && c->tls && b == 0x15)
        return 1;
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static void discard_input(conn_t *c)
{
    char sink[4096];
    ssize_t n = conn_io_read(c, sink, sizeof sink);
    if (n > 0)
        c->lingered += (size_t)n;
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || c->lingered > LINGER_MAX_BYTES)
        close_conn(c);
}

static void on_io(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    conn_t *c = io->data;
    switch (c->state) {
    case ST_PROXY:
        proxy_step(c);
        return;
    case ST_TLS:
        tls_step(c);
        return;
    case ST_CLOSED:
    case ST_UPGRADED: /* not watched: the plugin's socket is */
        return;
    case ST_H2:
        h2_on_io(c->h2, events);
        return;
    case ST_HANDLING:
    case ST_WAITING:
        /* A plugin has the request, or its stream waits: only earlier
         * answers can be queued (wait_plugin), and input can only be the
         * client leaving or its next request. */
        if (events & (EV_READ | EV_HUP)) {
            if (client_gone(c)) {
                log_debug("%s: the client went away while its request waited", c->peer);
                close_conn(c);
                return;
            }
            /* its next request: read after this one (level-triggered,
             * a watch left on would fire on every turn of the loop) */
            if (conn_io_watch(c, io->mask & ~EV_READ) < 0)
                close_conn(c);
            return;
        }
        if (events & EV_WRITE) {
            int r = flush(c);
            if (r < 0) {
                close_conn(c);
                return;
            }
            if (r != 0 && conn_io_watch(c, io->mask & ~EV_WRITE) < 0)
                close_conn(c);
        }
        return;
    case ST_LINGER:
        discard_input(c);
        return;
    case ST_SENDING:
        c->state = ST_RESPOND;
        process(c);
        return;
    default:
        if ((events & EV_WRITE) && buf_pending(&c->out) > 0) {
            wait_input(c);
            if (c->state == ST_CLOSED)
                return;
        }
        /* a TLS read that waits for the socket to be writable */
        if ((events & EV_READ) || (c->tls && (events & EV_WRITE) && tls_read_want(c->tls) == EV_WRITE))
            read_input(c);
    }
}

/* Whether the body has fallen below body_min_rate on average, once the
 * grace period has passed. */
static int body_too_slow(const conn_t *c)
{
    const cfg_t *cfg = cur_cfg(c);
    if (cfg->body_min_rate == 0)
        return 0;
    uint64_t elapsed = ev_now(c->w->loop) - c->body_start_ms;
    return elapsed >= cfg->body_rate_grace && c->body_got * 1000 < (uint64_t)cfg->body_min_rate * elapsed;
}

/* ST_BODY's one timer: whichever comes first of body_timeout after the
 * last read and the moment the bytes received so far fall below the
 * minimum rate (1 ms past the last moment they meet it). */
static void arm_body_timer(conn_t *c)
{
    const cfg_t *cfg = cur_cfg(c);
    uint64_t now = ev_now(c->w->loop);
    uint64_t due = c->last_read_ms + cfg->body_timeout;
    uint64_t rate_due = exchange_body_rate_due(cfg, c->body_start_ms, c->body_got);
    if (rate_due < due)
        due = rate_due;
    set_timer(c, due > now ? due - now : 0);
}

/* The client took too long with a head or a body: 408, answered as any
 * error answer (lingering over what it may still send), then close. */
static void too_slow(conn_t *c)
{
    fail_request(c, 408);
    if (c->state == ST_CLOSED)
        return;
    respond(c);
    process(c);
}

static void on_timer(ev_loop_t *loop, ev_timer_t *t)
{
    conn_t *c = t->data;
    /* resume() already returned PH_OK ("the answer will be sent"): its
     * message is queued and the loop takes it in this same turn */
    if ((c->state == ST_HANDLING || (c->state == ST_BODY && c->body_paused)) && c->req &&
        exchange_answer_coming(c->req))
        return;
    switch (c->state) {
    case ST_PROXY:
        log_info("%s: header_timeout: PROXY protocol header not complete after %llu ms; closing", c->peer,
                 (unsigned long long)cur_cfg(c)->header_timeout);
        close_conn(c);
        break;
    case ST_TLS:
        log_info("%s: handshake_timeout: TLS handshake not complete after %llu ms; closing", c->peer,
                 (unsigned long long)cur_cfg(c)->tls.handshake_timeout);
        close_conn(c);
        break;
    case ST_HEAD:
        if (c->draining)
            log_info("%s: shutting down: request head still incomplete; answering 408", c->peer);
        else
            log_info("%s: header_timeout: no complete request head after %llu ms; answering 408", c->peer,
                     (unsigned long long)cur_cfg(c)->header_timeout);
        too_slow(c);
        break;
    case ST_BODY:
        if (c->body_paused) {
            handler_timed_out(c);
            process(c);
            break;
        }
        if (body_too_slow(c)) {
            log_info("%s: request body below body_min_rate (%llu bytes in %llu ms); answering 408", c->peer,
                     (unsigned long long)c->body_got,
                     (unsigned long long)(ev_now(c->w->loop) - c->body_start_ms));
        } else if (ev_now(c->w->loop) - c->last_read_ms >= cur_cfg(c)->body_timeout) {
            log_info("%s: body_timeout: no body bytes for %llu ms; answering 408", c->peer,
                     (unsigned long long)cur_cfg(c)->body_timeout);
        } else {
            arm_body_timer(c); /* neither deadline passed yet */
            break;
        }
        too_slow(c);
        break;
    case ST_HANDLING:
        handler_timed_out(c);
        process(c);
        break;
    case ST_UPGRADED: /* no timers: stopped at the upgrade */
    case ST_H2:       /* h2.c has its own */
        break;
    default:
        close_conn(c);
        break;
    }
}

/* How long an idle keep-alive connection waits for its next request. */
static uint64_t keepalive_ms(const conn_t *c)
{
    uint64_t ms = cur_cfg(c)->keepalive_timeout;
    return c->draining && ms > DRAIN_WAIT_MS ? DRAIN_WAIT_MS : ms;
}

static void close_conn(conn_t *c)
{
    if (c->state == ST_CLOSED)
        return;
    c->state = ST_CLOSED;
    request_end(c); /* a request a plugin holds lives on without c */
    if (c->h2) {
        h2_t *h = c->h2;
        c->h2 = NULL;
        h2_free(h);
    }
    ev_timer_stop(c->w->loop, &c->timer);
    ev_timer_stop(c->w->loop, &c->kick);
    tls_conn_free(c->tls); /* close_notify, when the socket takes it */
    c->tls = NULL;
    tls_ctx_free(c->tls_ctx);
    c->tls_ctx = NULL;
    free(c->pp_buf);
    c->pp_buf = NULL;
    if (c->counted) /* (an upgraded socket, the plugin's now, no longer counts) */
        addrcount_drop(&c->ckey);
    c->counted = 0;
    ev_io_forget(&c->io); /* close() takes it out of epoll: no fd is dup()ed */
    if (c->io.fd >= 0) /* -1: upgraded, the plugin's socket owns it */
        close(c->io.fd);
    c->rpos = c->rlen; /* discard unread input: release_rbuf() then frees it */
    release_rbuf(c);
    c->out.off = c->out.len;
    release_out(c);
    worker_conn_closed(c->w, c);
}

void conn_free(conn_t *c) { free(c); }

void conn_drain(conn_t *c)
{
    c->draining = 1;
    c->want_close = 1;
    if (c->state == ST_UPGRADED) { /* a tunnel never ends by itself */
        if (c->req)
            exchange_cancel(c->req);
        return;
    }
    if (c->state == ST_LINGER) {
        close_conn(c);
        return;
    }
    /* A handshake, PROXY header or request head under way is a request on
     * its way: it gets DRAIN_WAIT_MS to arrive, not its own (longer)
     * timeout, so that a slow client cannot hold a draining worker, and
     * its generation, for long. */
    if (c->state == ST_TLS || c->state == ST_PROXY || c->state == ST_HEAD) {
        set_timer(c, DRAIN_WAIT_MS);
        return;
    }
    if (c->state == ST_H2) {
        h2_drain(c->h2);
        return;
    }
    /* an event stream's producer ends it; a blocking handler's stream
     * ends with its handle(), which shutdown_timeout bounds */
    if (c->state == ST_WAITING && c->req && !exchange_held_blocking(c->req))
        exchange_cancel(c->req);
    if (c->state != ST_IDLE || c->req != NULL || buf_pending(&c->out) > 0)
        return; /* closes after its response */
    /* An idle connection may have a request in the socket or on its way:
     * DRAIN_WAIT_MS for it (one already there is answered as it is read,
     * its head under the same deadline). */
    set_timer(c, c->nrequests == 0 ? DRAIN_WAIT_MS : keepalive_ms(c));
}

void conn_abort(conn_t *c) { close_conn(c); }
