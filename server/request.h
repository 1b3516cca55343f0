/*
 * The request object behind the plugin API's opaque ph_request_t, and the
 * function table (request_api) handed to plugins. A request lives in its own
 * pool; everything a plugin allocates or registers dies with it.
 */
#ifndef PH_REQUEST_H
#define PH_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <plughttpd/plugin.h>

#include "http_parse.h"
#include "pool.h"

struct conn;
struct gen;
struct gen_route;

typedef struct resp_header {
    struct resp_header *next;
    const char *name, *value;
    size_t nlen, vlen;
} resp_header_t;

/* BODY_MEM is the request's own buffer (mem), BODY_REF bytes the plugin
 * keeps alive until the request ends (ref). */
enum body_kind { BODY_NONE, BODY_MEM, BODY_REF, BODY_FILE, BODY_STREAM };

struct exch_ops;
struct worker;

/* What an exchange is doing with the route's plugins (exchange.c). */
enum exch_phase {
    PHASE_ACCESS,   /* running on_head stages (req->stage is the next) */
    PHASE_BODY,     /* the body is being read */
    PHASE_HANDLER,  /* the content handler runs or is pending */
    PHASE_RESPONSE, /* the response is set */
};

/* Who holds a request besides its carrier. */
enum exch_hold {
    HOLD_NONE,
    HOLD_HEAD,      /* an on_head() returned PH_PENDING */
    HOLD_HANDLER,   /* handle() returned PH_PENDING */
    HOLD_BLOCKING,  /* handle() runs on the blocking pool */
    HOLD_CORO,      /* handle() runs on a coroutine that waits (api_co.c) */
};

struct ph_request {
    struct worker *w;                /* whose loop serves the request */
    const struct exch_ops *ops;      /* the carrier's (exchange.h) */
    void *carrier;                   /* NULL once detached */
    pool_t *pool;
    struct gen *gen;                 /* reference held until request_end() */
    const struct gen_route *route;   /* NULL when no route matched */

    hp_request_t hp;                 /* spans into head */
    char *head;                      /* request head, copied into the pool */
    size_t head_len;
    char *path;                      /* decoded, normalised, NUL-terminated */
    size_t path_len;
    size_t prefix_len;               /* path + prefix_len = subpath */
    /* The host it asked for (hostname_normalise() of hp.authority), in
     * the pool, NUL-terminated; NULL until exchange_host() made it. */
    char *host;
    size_t host_len;
    int no_route;                    /* route NULL: answer this (404, 421) */
    char *body;
    size_t body_len;
    size_t body_cap;                 /* a chunked body's heap buffer size */
    uint64_t start_ms;
    uint64_t head_us;                /* monotonic, when the head was
                                        complete (latency histograms) */
    /* Set (atomically) on the loop thread when the client no longer waits
     * for this request (handler_timeout answered it): a blocking job still
     * queued for it is then skipped instead of run. */
    int cancelled;
    int skipped;                     /* the job saw cancelled and did not run */

    /* the exchange (exchange.c) */
    uint64_t seq;                    /* request_id's number */
    char id[17];                     /* its hex form, written when asked */
    const char *ext_id;              /* a trusted proxy's X-Request-Id (into
                                        head), used instead; NULL: none */
    size_t ext_id_len;
    enum exch_phase phase;
    enum exch_hold held;
    unsigned stage;                  /* next on_head stage */
    int pend_rc;                     /* resume()'s rc, read on the loop */
    int job_rc;                      /* a blocking handle()'s rc */
    unsigned resume_seen : 1;        /* resume() came before the job's end */
    unsigned has_body : 1;
    unsigned stream_body : 1;        /* body goes to on_body */
    unsigned body_done : 1;          /* the whole body was passed on */
    unsigned body_paused : 1;
    unsigned refused : 1;            /* answered before its body: close */
    unsigned cancel_told : 1;
    unsigned streaming : 1;          /* a stream response is under way */
    unsigned detached : 1;
    unsigned counted : 1;            /* in the route's in-flight count */
    unsigned co_body : 1;            /* a streamed body for co_body_read */
    unsigned co_resp : 1;            /* co_respond(): the response streams
                                        while the coroutine runs */
    unsigned upgraded : 1;           /* api->upgrade() took the connection */
    unsigned stream_has_len : 1;     /* BODY_STREAM of stream_len bytes */
    unsigned http2 : 1;              /* carried by an HTTP/2 stream (h2.c):
                                        hp is parsed from a head h2.c wrote */
    uint64_t stream_len;
    struct co_ctx *co;               /* the handler's coroutine (api_co.c) */
    struct bstream *bs;              /* a blocking handler's co_respond()
                                        stream (bstream.c) */
    int resumed;                     /* resume() was called (atomic) */
    int wake_posted;                 /* a wake message is in flight (atomic) */
    int ended;                       /* ended; waiting for that message */
    uint64_t body_total;             /* decoded body bytes received */
    int spill_fd;                    /* body spilled to a file, or -1 */
    void *spill_map;
    /* peer() and local(), copied on the loop before the first plugin
     * stage runs (exchange_head): a plugin's own thread reads these, never
     * the carrier, which the loop may detach and free meanwhile. */
    char peer_copy[56];
    char local_copy[56];
    /* The direct peer when a trusted proxy named the client, who is then
     * peer_copy ([server] trusted_proxies, realip.h); "" otherwise. */
    char direct_copy[56];
    struct req_slot *slots;          /* api->slot(), per instance */
    struct req_note *notes;          /* api->note_set() */
    /* output */
    resp_header_t *trailers, **trailers_tail;
    void **fstate;                   /* per filter state */
    unsigned char *factive;          /* per filter: filter_body runs */
    int ftransformed;                /* a filter_head() took the body: its
                                        length is no longer known */
    unsigned fcur;                   /* filter being fed (filter_emit) */
    char *fout;                      /* filtered bytes not yet pulled */
    size_t fout_off, fout_len, fout_cap;
    char *ftmp;                      /* source piece buffer */
    int fsrc_done;
    enum body_kind src_kind;         /* the unfiltered body */
    off_t src_pos;

    /* the response */
    int status;
    int bad;                         /* plugin misused the API: answer 500 */
    resp_header_t *headers, **headers_tail;
    int has_content_type;
    enum body_kind body_kind;
    char *mem;
    size_t mem_len, mem_cap;
    const char *ref;
    size_t ref_len;
    int file_fd;
    off_t file_off, file_len;
    ph_read_fn stream_fn;
    void *stream_arg;
};

extern const ph_server_api_t request_api;

/* Prepares req (zeroed by the caller) on pool p. */
void request_init(ph_request_t *req, pool_t *p);
/* Drops the response built so far (headers and body), e.g. to replace a
 * plugin's broken response with a 500. */
void request_reset_response(ph_request_t *req);
/* Core error: status with a short text body. */
void request_error(ph_request_t *req, int status);
/* Core answer: status with text as its plain-text body and, when location
 * is not NULL, a Location header (a redirect). 0, or -1 when memory ran
 * out (req->bad is then set). */
int request_answer(ph_request_t *req, int status, const char *text, const char *location);
/* Adds a header the core checked; 0 or -1. */
int request_add_header(ph_request_t *req, const char *name, const char *value);

/* Reason phrase for a status ("Not Found"), "Unknown" when unlisted. */
const char *request_reason(int status);

/* The in-memory body (BODY_MEM or BODY_REF): sets *data and *len and
 * returns 1, or returns 0 for any other kind. */
static inline int request_mem_body(const ph_request_t *req, const char **data, size_t *len)
{
    if (req->body_kind == BODY_MEM) {
        *data = req->mem;
        *len = req->mem_len;
        return 1;
    }
    if (req->body_kind == BODY_REF) {
        *data = req->ref;
        *len = req->ref_len;
        return 1;
    }
    return 0;
}

/* Case-insensitive lookup among the request headers. */
int request_header(const ph_request_t *req, const char *name, ph_str_t *value);

#endif
