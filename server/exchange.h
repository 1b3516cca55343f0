/*
 * An exchange: one request and its response, whatever protocol carries
 * them. It routes nothing and frames nothing: the carrier (an HTTP/1
 * connection, conn.c; HTTP/2 streams later) parses the head, finds the
 * route, decodes the body and writes the response; the exchange runs the
 * route's plugins over the request: access stages, the content handler
 * (inline, on the blocking pool, pending an asynchronous answer, or on a
 * coroutine that waits: api_co.c), the
 * streamed or buffered (memory or spilled) request body, output filters,
 * cancellation, and the request's end (statistics, access log, release).
 *
 * Runs on the request's worker loop. The only calls from other threads are
 * the plugin API's thread-safe ones (resume, stream_wake, cancelled), which
 * post to the loop.
 */
#ifndef PH_EXCHANGE_H
#define PH_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include <plughttpd/plugin.h>

struct worker;
struct cfg;

/* What the carrier does for the exchange. Loop thread. */
typedef struct exch_ops {
    /* A stage that was waiting (blocking pool, PH_PENDING) finished: the
     * carrier asks exchange_step() what is next. */
    void (*ready)(ph_request_t *req);
    /* Stop (on = 0) or restart reading the request body. */
    void (*body_flow)(ph_request_t *req, int on);
    /* A waiting stream has more to send. */
    void (*wake)(ph_request_t *req);
    /* Sends an informational answer at once (103); PH_OK or PH_ERROR. */
    int (*informational)(ph_request_t *req, int status, const ph_kv_t *h, size_t n);
    /* The client's and the server's addresses, as api->peer() says them. */
    const char *(*peer)(const ph_request_t *req);
    const char *(*local)(const ph_request_t *req);
    /* api->upgrade(), for a request whose coroutine handler holds it:
     * queues the 101 head (status line, req's headers, "Connection:
     * upgrade") after any earlier answers not yet sent, and hands the
     * connection over: *fd, the output not sent yet (*out, *outlen) and
     * the input read past the request head (*in, *inlen), both malloc()ed
     * and the caller's (NULL when empty). The carrier then leaves its
     * protocol, and ends req and itself at ops->ready(req) (the handler
     * returned). 0, or -1 when it cannot (NULL member: never). */
    int (*upgrade)(ph_request_t *req, int *fd, char **out, size_t *outlen, char **in, size_t *inlen);
    /* 1 when the request came over TLS (scheme https, HSTS); NULL: never. */
    int (*secure)(const ph_request_t *req);
    /* The TLS session the request came over (its certificate decides
     * which hosts it may ask for), or NULL; NULL member: never TLS. */
    const struct tls_conn *(*tls)(const ph_request_t *req);
} exch_ops_t;

/* Where an exchange stands; what the carrier does next. */
typedef enum exch_step {
    EX_BODY,    /* read the request body and pass it on (exchange_body) */
    EX_RESPOND, /* the response is set: send it */
    EX_WAIT,    /* a plugin has the request: wait for ops->ready() */
} exch_step_t;

/* Creates a request on w for a carrier (ops, its own pointer). NULL when
 * out of memory. The request holds a reference to w's generation. */
ph_request_t *exchange_new(struct worker *w, const exch_ops_t *ops, void *carrier);

/* The head is parsed (req->head, req->hp): normalises the path into
 * req->path and finds req->route among the routes of the host asked for
 * (router.h; nothing for an asterisk-form target). When route is NULL,
 * req->no_route is the answer exchange_head() gives: 404, the
 * unknown_host status, or 421 for a host the TLS connection's certificate
 * does not serve (tls_host_allowed(); a request naming no host is not
 * checked). 0, or -1 when the path is invalid (answer 400). */
int exchange_route(ph_request_t *req);

/* The request's host (see request.h), made on the first call; "" when it
 * named none or memory ran out. Loop thread (it may allocate from the
 * request's pool). */
const char *exchange_host(ph_request_t *req, size_t *len);

/* The head is parsed, req->path and req->route are set (route may be NULL):
 * count the request, run the access stages and the content handler's
 * on_head(), and for a PH_PLUGIN_STREAM_BODY handler handle() as well.
 * has_body: a body follows (Content-Length > 0 or chunked). */
exch_step_t exchange_head(ph_request_t *req, int has_body);

/* The most body bytes req may have: its route's max_body_bytes. */
uint64_t exchange_body_limit(const ph_request_t *req);
/* When a request body that began at start (ms) and has brought got bytes
 * falls below cfg's body_min_rate: 1 ms past the last moment those bytes
 * meet the rate, never before body_rate_grace has passed. UINT64_MAX when
 * no rate is set. Both carriers (HTTP/1, an HTTP/2 stream) time a body by it. */
uint64_t exchange_body_rate_due(const struct cfg *cfg, uint64_t start, uint64_t got);
/* Decoded body bytes. Returns 0; or -1 with an error answer set (413 over
 * the limit, 500), after which the carrier stops reading and sends it; or
 * a status (413) when a plugin holds req (a streamed body's pending
 * handler): the carrier cancels and detaches req and answers that status
 * from a request of its own. */
int exchange_body(ph_request_t *req, const char *data, size_t len);
/* The body is complete (or there was none, after EX_BODY was not asked):
 * runs the content handler. */
exch_step_t exchange_body_end(ph_request_t *req);
/* After ops->ready(): what next (EX_RESPOND, or EX_BODY when an access
 * stage let a pending request go on, or EX_WAIT again). */
exch_step_t exchange_step(ph_request_t *req);

/* The client no longer waits (gone, timeout, stopping): marks req
 * cancelled and tells a plugin that holds it (on_cancel). */
void exchange_cancel(ph_request_t *req);
/* Whether a plugin still holds req (blocking job, PH_PENDING, or a
 * coroutine handler still running): the carrier may then not end it,
 * only detach it. */
int exchange_held(const ph_request_t *req);
/* Whether that plugin is a blocking handler, queued or running on the
 * blocking pool. */
int exchange_held_blocking(const ph_request_t *req);
/* The plugin holding req already called resume() (its message is on the
 * way): the answer resume() promised is coming, so a timeout must not
 * replace it. Loop thread. */
int exchange_answer_coming(const ph_request_t *req);
/* The carrier is gone or replaced req (handler_timeout): req lives on
 * without it until the plugin lets go, then ends (not access-logged: the
 * carrier answered for it). */
void exchange_detach(ph_request_t *req);

/* r, a new request of the same carrier, answers for late (a request a
 * plugin holds, detached): it takes late's request line, route, path and
 * place in the counts. Returns 0, or -1 when out of memory (r is then
 * logged as "-"). */
int exchange_replace(ph_request_t *late, ph_request_t *r);

/* The response is sent (or abandoned): access log (when logged), counters,
 * cleanups, release. bytes: body bytes sent. */
void exchange_end(ph_request_t *req, int logged, uint64_t bytes);

/* Output: for a streamed body (BODY_STREAM, which a filtered response
 * always is), fills at most cap bytes into buf: >0 bytes, 0 at the end,
 * PH_STREAM_WAIT, or PH_ERROR. Trailers are in req->trailers once it
 * returned 0. */
ssize_t exchange_pull(ph_request_t *req, char *buf, size_t cap);
/* api->filter_emit: from filter_body(), on to the next filter or out. */
int exchange_emit(ph_request_t *req, const void *data, size_t len);
/* Turns the response into the filtered stream its route's filters ask
 * for, just before its head is built. Returns 0, or -1 (answer 500). */
int exchange_filter_head(ph_request_t *req, int is_head);

/* Worker messages for requests (worker.c delivers them on the loop):
 * worker_post_req(w, WREQ_*, req). */
void exchange_on_resume(ph_request_t *req);
void exchange_on_wake(ph_request_t *req);
void exchange_on_blocking_done(ph_request_t *req);
/* The request whose blocking handle() runs on the calling thread, or NULL. */
ph_request_t *exchange_blocking_current(void);

/* Coroutine handlers (api_co.c). co_respond(): the response is set (a
 * stream), the handler runs on while it goes out. */
void exchange_co_respond(ph_request_t *req);
/* The handler's coroutine returned rc, after it had waited: req's answer,
 * as resume(rc) would give; after co_respond() the stream's end; after
 * upgrade() the connection's end. Loop thread, outside any coroutine. */
void exchange_co_done(ph_request_t *req, int rc);

#endif
