/*
 * plughttpd plugin ABI.
 *
 * This is the only header a plugin includes. A plugin is a shared object
 * that exports one symbol, PH_PLUGIN_SYMBOL, a const ph_plugin_t descriptor
 * (use PH_PLUGIN_DEFINE below to declare it). It links against nothing from
 * the server: every call into the server goes through the ph_server_api_t
 * table handed to create().
 *
 * Lifecycle
 *   create()   once per [route /prefix] or [route HOST/prefix] section
 *              that names the plugin, with
 *              that section's keys. Runs on the main thread, before any
 *              request reaches the instance. Several routes may use one
 *              plugin: each gets its own instance.
 *              Where: in the process that serves the route, after the
 *              server dropped privileges (user =, group =), at start-up and
 *              at each reload alike: what it opens or creates is the
 *              server user's. Under a master (processes = N, the default
 *              1; PH_CREATE_WORKER) every worker process
 *              creates its own instances (one process after another, so
 *              the first one finds no other creating the same files), and
 *              the master, which serves nothing, only validates the keys:
 *              create() with PH_CREATE_CHECK, then destroy() at once.
 *   handle()   once per request routed to the instance. It MAY RUN ON SEVERAL
 *              THREADS AT ONCE for one instance: keep instance state
 *              read-only after create(), or protect it yourself.
 *   destroy()  once per instance, in the process that created it, after
 *              the last request that could reach the instance has finished
 *              (a request a plugin answers later has finished only after
 *              its resume(): a thread of the plugin that runs on past its
 *              last resume() must be stopped and joined by destroy())
 *              (after a reload, when the old generation drains; at
 *              shutdown).
 *   A reload keeps an unchanged instance as it is and creates the others
 *   anew (see hooks->take_over for what is kept and how a new instance
 *   can start from the state of the one it replaces); state that every
 *   worker process must share, or that must outlive new worker processes,
 *   goes in a shared zone (api->zone, ABI 1.6).
 *
 * Versioning
 *   The descriptor carries PH_ABI_MAGIC, the ABI major and minor it was
 *   built against, and its own size. The server loads a plugin whose major
 *   equals its own and whose minor is equal or older; anything else is
 *   refused with a message naming the file and both versions. New minors
 *   only append: fields at the end of ph_plugin_t, functions at the end of
 *   ph_server_api_t, so a plugin built against an older minor keeps working
 *   with every newer server of the same major.
 */
#ifndef PLUGHTTPD_PLUGIN_H
#define PLUGHTTPD_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PH_ABI_MAGIC 0x70684731u /* "phG1" */
#define PH_ABI_MAJOR 1u
#define PH_ABI_MINOR 8u

/* Name of the one symbol a plugin exports. */
#define PH_PLUGIN_SYMBOL "plughttpd_plugin"

/* Return codes shared by the whole API. */
#define PH_OK 0
#define PH_ERROR (-1)
#define PH_DECLINED 1 /* handle(): not mine; the core answers 404 */
/* ABI 1.3 */
#define PH_PENDING 2  /* handle(), on_head(): the answer comes later, through
                         api->resume() (see "Asynchronous answers") */
#define PH_DONE 3     /* on_head(): the response is set; send it and skip
                         the rest of the request (its body is not read) */

/* Log levels for api->log(). */
#define PH_LOG_ERROR 0
#define PH_LOG_WARN 1
#define PH_LOG_INFO 2
#define PH_LOG_DEBUG 3

/* Descriptor flags. */
/* handle() may block (database, disk, network): the core runs it on a
 * bounded pool of helper threads instead of an event-loop thread, so it
 * never stalls other connections. A route can also ask for this with
 * "blocking = yes". A blocking handle() still running after the server's
 * handler_timeout has its client answered 504; it is not interrupted, and
 * what it builds afterwards is discarded when it returns. */
#define PH_PLUGIN_BLOCKING 0x1u
/* ABI 1.2: the plugin serves an API whose clients expect JSON. Errors the
 * core answers for requests routed to it (400, 408, 413, 414, 431, 503,
 * 504, ...) then carry {"error":"<reason phrase>","status":N} and a
 * newline as application/json instead of a text/plain line. */
#define PH_PLUGIN_JSON_ERRORS 0x2u
/* ABI 1.3: handle() runs as soon as the request head is complete (after
 * the route's access stages), before any body byte is read; the body then
 * arrives piece by piece through hooks->on_body(), with back-pressure
 * (api->body_pause/body_resume). handle() answers at once (the body is then
 * not read, and the connection closes after the answer) or returns
 * PH_PENDING and calls api->resume() when its answer is ready, usually
 * from on_body() once it has seen the last piece. Needs hooks->on_body. */
#define PH_PLUGIN_STREAM_BODY 0x4u
/* ABI 1.4: handle() runs as a coroutine on the worker's event loop (see
 * "Coroutines" below): it may call the api->co_* and api->sock_* functions,
 * which look blocking but let the loop serve other connections while they
 * wait. A route asks the same of any plugin with "coroutine = yes" (and
 * sets the stack with "coroutine_stack = 64k"). With PH_PLUGIN_STREAM_BODY
 * as well, handle() starts when the head is complete and reads the body
 * with api->co_body_read() (on_body is then not needed and not called).
 * Not with PH_PLUGIN_BLOCKING. */
#define PH_PLUGIN_COROUTINE 0x8u
/* ABI 1.4: the plugin takes "Upgrade" requests (WebSocket and the like)
 * and switches protocols with api->upgrade(). Without it the core answers
 * such requests as if the Upgrade header were absent (RFC 9110 section
 * 7.8 lets a server ignore it). Needs PH_PLUGIN_COROUTINE. */
#define PH_PLUGIN_UPGRADE 0x10u
/* ABI 1.7: with PH_PLUGIN_JSON_ERRORS, the core's errors on the plugin's
 * routes take PostgREST's error object, ahead of the two members above:
 * {"code":C,"message":"<reason phrase>","details":null,"hint":null,
 *  "error":"<reason phrase>","status":N}, C being PostgREST's code for
 * the status ("PGRST001" for 503, "PGRST117" for 405, "PGRST107" for 415,
 * else "PGRST000"). Ignored in plugins built for an older minor. */
#define PH_PLUGIN_PGRST_ERRORS 0x20u

/* A byte span. Not NUL-terminated unless documented; valid for the duration
 * of the request unless documented otherwise. */
typedef struct ph_str {
    const char *ptr;
    size_t len;
} ph_str_t;

/* One key = value of a route section. Both strings are NUL-terminated and
 * valid during create() only: copy what you keep. */
typedef struct ph_kv {
    const char *key;
    const char *value;
} ph_kv_t;

/* Where create() reports why it refused its keys. */
typedef struct ph_error {
    char msg[256]; /* one line, no trailing period, no file name */
    int key;       /* index into args->keys of the offending key, or -1 */
    /* --- ABI 1.3: the server allocates this struct, so it may grow;
     * size tells how much of it the server has. --- */
    uint32_t size;
    char hint[256]; /* optional: what would be accepted, logged after msg */
} ph_error_t;

/* Opaque: one request and its response under construction. */
typedef struct ph_request ph_request_t;

/* Streaming body callback (see api->body_stream). Fill at most cap bytes
 * into buf. Return the number of bytes written, 0 at the end of the body, or
 * PH_ERROR to abort the connection. Runs on the thread that serves the
 * connection and must not block. */
typedef ssize_t (*ph_read_fn)(void *arg, void *buf, size_t cap);
/* ABI 1.3: a ph_read_fn may return PH_STREAM_WAIT: "nothing now". The core
 * sends everything produced so far (output filters are told to flush) and
 * calls fn again only after api->stream_wake(req). No timeout runs while a
 * stream waits (an event stream may idle for hours); a client that leaves
 * cancels the request (on_cancel), and so does a server that stops. A
 * plugin built against an older minor never returns it. */
#define PH_STREAM_WAIT ((ssize_t)-2)

/* ABI 1.3: a worker thread's event loop, and what plugins register on it.
 * All opaque. */
typedef struct ph_loop ph_loop_t;
typedef struct ph_watch ph_watch_t;
typedef struct ph_timer ph_timer_t;

/* Events for watches. */
#define PH_EV_READ 0x1u
#define PH_EV_WRITE 0x2u
#define PH_EV_HUP 0x4u /* hang-up or error; delivered whatever was asked */

typedef void (*ph_watch_fn)(ph_watch_t *w, int fd, unsigned events, void *arg);
typedef void (*ph_timer_fn)(ph_timer_t *t, void *arg);
typedef void (*ph_task_fn)(void *arg);

/* ABI 1.6: the upper bounds of ph_route_info_t.latency_le, in
 * microseconds, in increasing order (from 100 us to 10 s). */
#define PH_LATENCY_BUCKETS 16
#define PH_LATENCY_BOUNDS_US                                                                 \
    {                                                                                        \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,        \
            1000000, 2500000, 5000000, 10000000                                              \
    }

/* ABI 1.3: what the introspection calls report; later minors append.
 * server_info(): set out->size = sizeof *out first: the server writes at
 * most that much (an older plugin's shorter struct is safe) and sets size
 * to what it wrote. routes_visit(): the server's struct, whose size says
 * how much of it there is. */
typedef struct ph_route_info {
    uint32_t size;
    unsigned long generation; /* id of the generation holding the route */
    int current;              /* 1 for the generation new requests get */
    const char *prefix;       /* "/api" */
    const char *plugins;      /* the route's "plugin =" value, as written */
    const char *file;         /* the content handler's .so */
    uint64_t in_flight;       /* requests started and not yet ended */
    uint64_t requests;        /* requests ended */
    uint64_t status[6];       /* ended with status 1xx..5xx: status[1..5];
                                 status[0]: no response (client gone) */
    uint64_t bytes_out;       /* response body bytes sent */
    /* --- ABI 1.6 (read only when size covers them) --- */
    uint64_t bytes_in;        /* request body bytes received (decoded) */
    /* How long the ended requests took, from the complete request head
     * to the end of the response (last byte handed to the socket, or the
     * client gone), as a histogram: latency_le[i] counts the requests
     * that took at most the i-th bound of PH_LATENCY_BOUNDS_US
     * (cumulative: never smaller than latency_le[i - 1]); requests counts
     * them all, the slower ones too. latency_us_sum: their durations
     * added up, in microseconds. */
    uint64_t latency_le[PH_LATENCY_BUCKETS];
    uint64_t latency_us_sum;
    const char *host;         /* [route HOST/prefix]: HOST in canonical
                                 form ("example.com", "*.example.com");
                                 "" for a [route /prefix] (the default
                                 host's) */
} ph_route_info_t;

typedef struct ph_server_info {
    uint32_t size;
    unsigned long generation; /* the current generation's id */
    unsigned generations;     /* generations alive in this process */
    unsigned process_index;   /* 0..processes-1 (0 with one process) */
    unsigned threads;         /* worker threads of this process */
    uint64_t connections;     /* open now, in this process */
    uint64_t connections_total; /* accepted since start, this process */
    uint64_t in_flight;       /* requests started and not yet ended */
    uint64_t reloads;         /* generations published after the first */
    uint64_t reloads_failed;
    /* --- ABI 1.6 (written only when size covers them) --- */
    uint64_t blocking_queued;   /* blocking handlers waiting for a helper
                                   thread now (the pool's queue depth) */
    uint64_t blocking_rejected; /* refused because that queue was full
                                   (answered 503; co_blocking -ENOMEM) */
    uint64_t blocking_timeouts; /* blocking handlers still queued or running
                                   at handler_timeout (answered 504) */
    uint64_t tls_handshakes;        /* TLS handshakes completed */
    uint64_t tls_handshakes_failed; /* ended by an error (a bad client
                                       hello, a reset; one that times out
                                       counts as neither) */
} ph_server_info_t;

typedef int (*ph_route_visit_fn)(void *arg, const ph_route_info_t *route);

/* ABI 1.6: one worker thread's event loop, from api->worker_info(). Every
 * worker loop checks how late a timer that should fire every
 * PH_LAG_INTERVAL_MS milliseconds actually fires (to about a millisecond):
 * the lag is how long a ready connection could have waited for that loop
 * (a handler that blocks the thread shows up here). Loops past the 64th
 * are not probed: their numbers stay 0. Set size = sizeof *out first, as
 * for server_info. */
#define PH_LAG_INTERVAL_MS 500
typedef struct ph_worker_info {
    uint32_t size;
    unsigned index;        /* 0..threads-1 */
    uint64_t lag_checks;   /* timer firings measured since start */
    uint64_t lag_us_last;  /* the last one's lateness, microseconds */
    uint64_t lag_us_max;   /* the largest since start */
    uint64_t lag_us_sum;   /* all of them added up */
} ph_worker_info_t;

/* ABI 1.6: one generation alive in this process, for
 * api->generations_visit(). Strings and the files array are the server's,
 * valid during the callback only. */
typedef struct ph_generation_info {
    uint32_t size;
    unsigned long id;
    int current;              /* 1 for the generation new requests get */
    uint64_t in_flight;       /* its requests started and not yet ended */
    const char *const *files; /* the plugin files its routes use, each
                                 once, in route order */
    size_t nfiles;
} ph_generation_info_t;

typedef int (*ph_generation_visit_fn)(void *arg, const ph_generation_info_t *gen);

/* ABI 1.6: a shared zone (api->zone). Opaque; the server's. */
typedef struct ph_zone ph_zone_t;
/* api->zone_lock(): taken from a holder that died holding it. */
#define PH_ZONE_RECOVERED 4

/* ABI 1.4: a socket for coroutines, with a read buffer (see "Coroutines").
 * Opaque; the plugin's until sock_close(). */
typedef struct ph_sock ph_sock_t;

/* ABI 1.4: one descriptor for api->co_poll(). */
typedef struct ph_pollfd {
    int fd;
    unsigned events;  /* PH_EV_READ | PH_EV_WRITE */
    unsigned revents; /* set by co_poll(): what is ready (PH_EV_HUP too) */
} ph_pollfd_t;

/* ABI 1.4: an HTTP/1 response head, as api->parse_response() reads it.
 * The caller sets size, names, values and cap; the parser fills the rest.
 * Spans point into the parsed buffer. */
typedef struct ph_http_response {
    uint32_t size;          /* sizeof *out, set by the caller */
    int status;             /* 100-999 */
    int version;            /* 10 or 11 */
    ph_str_t reason;        /* may be empty */
    ph_str_t *names;        /* caller's arrays of cap entries */
    ph_str_t *values;       /* values without leading/trailing OWS */
    size_t cap;
    size_t nheaders;        /* fields found (all <= cap) */
    int64_t content_length; /* -1 when absent */
    int chunked;            /* Transfer-Encoding's last coding is chunked */
    int keep_alive;         /* the connection may carry another request,
                               after Connection and the version's default */
} ph_http_response_t;

/* api->chunked_decode(): the chunked body goes on. */
#define PH_CHUNKED_MORE ((ssize_t)-2)

/* ABI 1.4: state of api->chunked_decode(). Opaque; set it up with
 * api->chunked_init(). */
/* ABI 1.6: a set of address ranges, from api->cidr_new(); opaque. */
typedef struct ph_cidr ph_cidr_t;
struct sockaddr;

/* ABI 1.6: api->url_escape() flags. */
#define PH_URL_ESCAPE_SLASH 0x1u /* escape '/' too (one path segment) */

typedef struct ph_chunked {
    uint64_t opaque[4];
} ph_chunked_t;

/*
 * The function table. The server fills it; a plugin only reads it. Every
 * function taking a ph_request_t may be called only from inside handle() for
 * that request (or from a ph_read_fn/cleanup the request owns), on the
 * thread running it. ABI 1.3 widens this: also from the request's hooks
 * (on_head, on_body, filter_*, on_cancel), and, between PH_PENDING and
 * resume(), from whichever one thread the plugin answers on. Calls marked
 * "thread-safe" or "any thread" may be made from anywhere at any time
 * between create() and destroy().
 */
typedef struct ph_server_api {
    uint32_t size; /* sizeof the table as filled by the server */
    uint16_t abi_major;
    uint16_t abi_minor;
    const char *server_version; /* e.g. "0.1.0" */

    /* Error log, each line marked "plugin: ". The table is shared by every
     * instance, so the server cannot tell which route calls: name it in the
     * message (args->prefix) where it matters. Safe from any thread, at any
     * time between create() and destroy(). */
    void (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

    /* --- the request ------------------------------------------------ */
    ph_str_t (*method)(const ph_request_t *req);  /* "GET", ...            */
    ph_str_t (*target)(const ph_request_t *req);  /* as received, raw      */
    ph_str_t (*path)(const ph_request_t *req);    /* percent-decoded, dot
                                                     segments removed      */
    ph_str_t (*subpath)(const ph_request_t *req); /* path below the route
                                                     prefix, starts with /  */
    ph_str_t (*raw_path)(const ph_request_t *req);/* undecoded path part   */
    ph_str_t (*query)(const ph_request_t *req);   /* after '?', raw; empty
                                                     ptr NULL when absent  */
    ph_str_t (*prefix)(const ph_request_t *req);  /* the route's prefix    */
    int (*version)(const ph_request_t *req);      /* 10 or 11              */
    /* First header with this name (case-insensitive). Returns 1 and sets
     * *value when found, 0 otherwise. */
    int (*header)(const ph_request_t *req, const char *name, ph_str_t *value);
    size_t (*header_count)(const ph_request_t *req);
    /* Header i, 0 <= i < header_count(), in the order received. Returns 1
     * and sets *name and *value when i is in range, 0 otherwise. */
    int (*header_at)(const ph_request_t *req, size_t i, ph_str_t *name, ph_str_t *value);
    ph_str_t (*body)(const ph_request_t *req);    /* whole decoded body    */
    const char *(*peer)(const ph_request_t *req); /* "127.0.0.1:4242",
                                                     "[::1]:4242", "unix"  */

    /* --- memory tied to the request ----------------------------------- */
    /* Freed when the request ends. NULL when out of memory. */
    void *(*alloc)(ph_request_t *req, size_t size);
    /* fn(arg) runs when the request ends, after its response is sent or the
     * connection is gone. For anything that is not memory. */
    int (*on_cleanup)(ph_request_t *req, void (*fn)(void *arg), void *arg);

    /* --- the response ------------------------------------------------ */
    /* 200 unless set. 100-199 and anything outside 200-599 is refused. */
    int (*set_status)(ph_request_t *req, int status);
    /* Copies both strings. Refused (PH_ERROR) when the name is not an HTTP
     * token, the value holds CR, LF, NUL or other controls, or the name is
     * one the core owns: Content-Length, Transfer-Encoding, Connection,
     * Date, Keep-Alive. A refused header turns the response into a 500. */
    int (*add_header)(ph_request_t *req, const char *name, const char *value);
    /* Appends bytes (copied) to an in-memory body. */
    int (*body_append)(ph_request_t *req, const void *data, size_t len);
    int (*body_printf)(ph_request_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    /* Body is length bytes of fd from offset, sent with sendfile(). The core
     * takes ownership of fd and closes it when the request ends, also on
     * error. Replaces any in-memory body. */
    int (*body_file)(ph_request_t *req, int fd, off_t offset, off_t length);
    /* Body of unknown length produced by fn as the socket drains, sent with
     * chunked encoding (HTTP/1.1) or close-delimited (HTTP/1.0). Release arg
     * with on_cleanup. */
    int (*body_stream)(ph_request_t *req, ph_read_fn fn, void *arg);
    /* Convenience: status plus a short text/plain body "message\n". Drops
     * the response built so far: headers added before it and any body. */
    int (*send_error)(ph_request_t *req, int status, const char *message);

    /* --- ABI 1.1 ------------------------------------------------------ */
    /* Body is len bytes at data, sent from there without a copy (head and
     * body go out in one writev). The bytes are the plugin's: they must stay
     * valid and unchanged until the request ends, so release them in an
     * on_cleanup() callback, which runs after the last byte is sent or the
     * connection is gone. Replaces any earlier body; a later body_append()
     * starts a new in-memory body. */
    int (*body_ref)(ph_request_t *req, const void *data, size_t len);

    /* --- ABI 1.2 ------------------------------------------------------ */
    /* The parsers server.ini's own keys go through, so a plugin's keys
     * accept exactly the same spellings. Each returns PH_OK and sets *out,
     * or PH_ERROR and leaves *out alone. Callable at any time, from any
     * thread. s must be NUL-terminated.
     *   parse_bool:     yes/no, on/off, true/false (any case), 1/0
     *   parse_size:     bytes: "512", "64k", "16m", "1g", "1MB" (powers of
     *                   1024)
     *   parse_duration: milliseconds from "250ms", "5s", "2m", "1h"; bare
     *                   digits are seconds */
    int (*parse_bool)(const char *s, int *out);
    int (*parse_size)(const char *s, uint64_t *out);
    int (*parse_duration)(const char *s, uint64_t *ms);

    /* --- ABI 1.3 ------------------------------------------------------ */
    /* va_list forms of log() and body_printf(). */
    void (*vlog)(int level, const char *fmt, va_list ap);
    int (*body_vprintf)(ph_request_t *req, const char *fmt, va_list ap);

    /* More of the request. Strings are valid until the request ends.
     *   request_id: the request's id, as the access log's $request_id
     *               shows it and send_request_id sends it: 16 hex digits
     *               unique within this server's run, unless the request
     *               came from a trusted proxy ([server] trusted_proxies)
     *               with an X-Request-Id, whose value is kept (1 to 200
     *               visible ASCII bytes other than '"' and '\'; not
     *               necessarily unique)
     *   local:      the address the request came in on, as peer() writes
     *               it ("127.0.0.1:8080", "[::1]:8080", "unix")
     *   scheme:     "http" ("https" on a TLS listener)
     *   authority:  the host the client asked for: the absolute-form
     *               target's authority, else the Host header; empty when
     *               neither is there (HTTP/1.0) */
    ph_str_t (*request_id)(const ph_request_t *req);
    const char *(*local)(const ph_request_t *req);
    ph_str_t (*scheme)(const ph_request_t *req);
    ph_str_t (*authority)(const ph_request_t *req);

    /* Response headers before the head is sent (on_head, handle, a filter's
     * filter_head, or a pending request before resume()).
     *   resp_header:   first header so named (case-insensitive): 1 and
     *                  *value, or 0
     *   set_header:    replaces every header so named by one (add_header's
     *                  rules and refusals)
     *   remove_header: removes every header so named; returns how many */
    int (*resp_header)(const ph_request_t *req, const char *name, ph_str_t *value);
    int (*set_header)(ph_request_t *req, const char *name, const char *value);
    int (*remove_header)(ph_request_t *req, const char *name);

    /* 103 Early Hints: sends "103 Early Hints" with the n headers at once
     * (typically Link: </style.css>; rel=preload), ahead of the response.
     * Only before the response head is queued (PH_ERROR after); a no-op
     * returning PH_OK for an HTTP/1.0 client, which cannot take
     * informational answers. Loop thread only. */
    int (*early_hints)(ph_request_t *req, const ph_kv_t *headers, size_t n);

    /* Trailer fields, sent after the last chunk of a streamed body (chunked
     * framing; dropped where the framing has no trailers). Call before the
     * stream's fn returns 0. Same rules as add_header(). */
    int (*add_trailer)(ph_request_t *req, const char *name, const char *value);

    /* --- asynchronous answers --------------------------------------- */
    /* A stage that returned PH_PENDING (handle(), on_head()) finishes with
     * resume(req, rc), rc being what the stage would have returned: for
     * handle() PH_OK, PH_DECLINED or PH_ERROR; for on_head() PH_OK (go on),
     * PH_DONE or PH_ERROR. Between PH_PENDING and resume() the plugin owns
     * the request's response: it may build it from ANY ONE thread at a
     * time (set_status, add_header, body_*...), and nothing else touches
     * it. resume() is thread-safe: it hands the request back to its
     * worker's loop, and the plugin must not touch req afterwards.
     * Exactly one resume() per PH_PENDING, always, also after
     * cancellation: the request (and its generation) lives until then.
     * The plugin's other thread may call it before the stage has even
     * returned PH_PENDING: the loop acts on it only after the return.
     * Returns PH_OK when the answer will be sent, PH_ERROR when the
     * request was cancelled and it will not. */
    int (*resume)(ph_request_t *req, int rc);
    /* Whether the client no longer waits for req: gone, timed out
     * (handler_timeout answered 504), or the server is stopping. Any
     * thread; once 1, stays 1. */
    int (*cancelled)(const ph_request_t *req);

    /* --- request bodies ------------------------------------------------ */
    /* Streamed bodies (PH_PLUGIN_STREAM_BODY): stop and restart reading
     * the body from the socket. After body_pause() returns, on_body() is
     * not called (not even for the end) until body_resume(). While paused
     * the client is not charged with body_timeout or body_min_rate, the
     * socket's buffers fill, which slows the client down, and the route's
     * handler_timeout runs (past it: 504 and on_cancel). Loop thread only
     * (from elsewhere, post a task with run_on()). */
    int (*body_pause)(ph_request_t *req);
    int (*body_resume)(ph_request_t *req);
    /* A buffered body the route spilled to a temporary file (route key
     * body_spill = SIZE): 1 with *fd (owned by the core; valid until the
     * request ends; read it with pread) and *len, or 0 when the body is in
     * memory. body() works either way (the file is mapped). */
    int (*body_fd)(const ph_request_t *req, int *fd, uint64_t *len);

    /* --- responses that wait ------------------------------------------ */
    /* A stream whose fn returned PH_STREAM_WAIT: call fn again. Thread-safe
     * and cheap; a wake while fn runs is not lost (fn is called again). A
     * wake after the request ended is ignored, so the plugin must not
     * touch req after the stream's cleanup ran: call it under the plugin's
     * own lock that its on_cleanup also takes. */
    int (*stream_wake)(ph_request_t *req);

    /* --- the event loop ------------------------------------------------- */
    /* The loop serving req (loop thread or not: any thread). */
    ph_loop_t *(*loop_of)(const ph_request_t *req);
    /* The calling thread's loop: NULL on a thread that is not a worker. */
    ph_loop_t *(*loop_current)(void);
    /* Worker threads of this process: loop_at(i) for 0 <= i < loops(). */
    unsigned (*loops)(void);
    ph_loop_t *(*loop_at)(unsigned i);
    /* fn(arg) runs soon on loop's thread. Thread-safe. Returns PH_ERROR
     * when out of memory or the loop has stopped (fn will not run).
     * The plugin's code stays mapped until every task queued before
     * destroy() returned has returned (likewise a watch or timer callback,
     * or a coroutine, already running on a loop then): a task may mark
     * itself done for destroy() and still return through the plugin. */
    int (*run_on)(ph_loop_t *loop, ph_task_fn fn, void *arg);
    /* Watches fd (non-blocking; stays the plugin's) on loop for events:
     * cb runs on the loop's thread. Create, change and free on that
     * thread only. watch_set(w, 0) pauses. */
    ph_watch_t *(*watch_new)(ph_loop_t *loop, int fd, unsigned events, ph_watch_fn cb, void *arg);
    int (*watch_set)(ph_watch_t *w, unsigned events);
    void (*watch_free)(ph_watch_t *w);
    /* One-shot timer on loop: timer_set() (re)arms it for ms from now;
     * loop's thread only. */
    ph_timer_t *(*timer_new)(ph_loop_t *loop, ph_timer_fn cb, void *arg);
    int (*timer_set)(ph_timer_t *t, uint64_t ms);
    void (*timer_stop)(ph_timer_t *t);
    void (*timer_free)(ph_timer_t *t);
    /* Starts a non-blocking connect to "host:port" (numeric IPv4, [IPv6]
     * or a name resolved by getaddrinfo: resolve names at create(), not
     * per request, as it may block) or "unix:/path". Returns a connected or
     * connecting socket (close-on-exec, non-blocking; the caller's), or
     * -1 with errno set. Watch it for PH_EV_WRITE and read SO_ERROR to
     * know when and whether it connected. Any thread. */
    int (*connect)(const char *address);

    /* Output filters: hands len bytes on, from filter_body() (copied).
     * Loop thread. */
    int (*filter_emit)(ph_request_t *req, const void *data, size_t len);

    /* --- introspection (any thread; a consistent-enough snapshot) ------ */
    int (*server_info)(ph_server_info_t *out);
    /* fn(arg, route) for every route of every generation alive in this
     * process, current generation first; stops when fn returns nonzero and
     * returns that value. */
    int (*routes_visit)(ph_route_visit_fn fn, void *arg);

    /* Per-request state of an instance: the address of a pointer slot
     * that belongs to (req, instance), NULL at first, so hooks of one
     * request (on_head, on_body, on_cancel, filter_*) find what handle()
     * or an earlier hook left there; each stage of a stacked route has its
     * own. NULL when out of memory. Freed with the request: release what
     * the slot points to with on_cleanup(). Same threads as the request. */
    void **(*slot)(ph_request_t *req, const void *instance);

    /* --- ABI 1.4: coroutines -------------------------------------------
     * A coroutine is code with its own small stack that runs on a worker
     * thread's event loop. Its co_* and sock_* calls look blocking: while
     * one waits, the coroutine is suspended and the loop serves everyone
     * else; when the event comes the call returns. Thousands may wait at
     * once on one thread. Handlers run as coroutines with
     * PH_PLUGIN_COROUTINE or the route key "coroutine = yes"; co_spawn()
     * starts others.
     *
     * Results. The calls that wait return a count or 0 on success, or a
     * negative errno value:
     *   -ETIMEDOUT  timeout_ms passed (timeout_ms < 0: no timeout; 0: do
     *               not wait, only what is ready now)
     *   -ECANCELED  the coroutine's request was cancelled (client gone,
     *               handler_timeout, shutdown, reload drain of a
     *               co_spawn()ed coroutine: see co_cancel); once cancelled,
     *               every further waiting call returns -ECANCELED at once,
     *               so the code unwinds: free what it holds and return
     *   -EPERM      not called on a coroutine
     *   others      the system's (-ECONNREFUSED, -EPIPE, -ENOMEM, ...)
     *
     * Rules inside a coroutine:
     *   - never call what blocks the thread: blocking sockets, sleep(),
     *     blocking DNS (getaddrinfo), file or database calls that wait on
     *     the network; use co_* instead, or run the blocking call with
     *     co_blocking();
     *   - thread-local state does not carry across a waiting call: the
     *     coroutine resumes on the same thread, but other coroutines ran
     *     in between (errno included: read it right after the call);
     *   - no mutex may be held across a waiting call;
     *   - the stack is small (route key coroutine_stack, 64 KiB unless
     *     set): no large arrays on it; allocate them. An overflow hits a
     *     guard page: the server logs the route and stops the process
     *     (never silent corruption);
     *   - request calls (api->set_status, add_header, body_append, ...)
     *     are allowed on the coroutine of that request's handler.
     *
     * co_active: 1 on a coroutine, else 0. */
    int (*co_active)(void);
    /* Waits ms milliseconds: 0 or -ECANCELED. */
    int (*co_sleep)(uint64_t ms);
    /* Waits until fd (non-blocking; stays the caller's) is ready for
     * events: returns the events ready (> 0; PH_EV_HUP included on hang-up
     * or error), -ETIMEDOUT or -ECANCELED. */
    int (*co_wait_fd)(int fd, unsigned events, int64_t timeout_ms);
    /* Waits until one of fds[0..n) is ready: sets each revents and returns
     * how many are ready (> 0), or a negative errno (n <= 64). */
    int (*co_poll)(ph_pollfd_t *fds, size_t n, int64_t timeout_ms);
    /* Resolves "host:port" without blocking the loop (getaddrinfo on a
     * helper thread) and writes the first address, numeric, as co_connect
     * takes it ("192.0.2.1:80", "[2001:db8::1]:80"), NUL-terminated, to
     * out[0..cap). 0, -ENOENT (no such name), -EAGAIN (temporary failure),
     * -ENOSPC (cap too small), -ETIMEDOUT, -ECANCELED. A numeric address
     * is copied as it is. */
    int (*co_resolve)(const char *hostport, char *out, size_t cap, int64_t timeout_ms);
    /* Runs fn(arg) on a helper thread (the server's blocking pool) and
     * returns when it has returned: 0, or -ENOMEM when it could not be
     * queued (fn did not run). fn always runs to its end: a cancellation
     * meanwhile does not interrupt it; co_blocking() then still waits for
     * it and returns -ECANCELED. For blocking libraries (SQLite, libpq's
     * synchronous calls, file I/O) from a coroutine. */
    int (*co_blocking)(ph_task_fn fn, void *arg);
    /* Starts fn(arg) as a coroutine on loop (a worker's; from any thread;
     * it starts soon, on that loop's thread), with a stack of stack_size
     * bytes (0: 64 KiB). Not tied to a request: for background work such
     * as a health check. Returns a handle for co_cancel(), or NULL (out of
     * memory, loop stopped). The server cancels it when the loop stops;
     * the handle is valid until fn returns. */
    void *(*co_spawn)(ph_loop_t *loop, ph_task_fn fn, void *arg, size_t stack_size);
    /* Cancels a co_spawn()ed coroutine (its loop's thread only, not from
     * that coroutine): its waiting call returns -ECANCELED, and co_cancel
     * returns only after fn has returned (run thread_exit's cleanup with
     * it before destroy()). When the loop stops, the server's own
     * cancellation ends fn before thread_exit runs: fn clears the handle
     * it was kept in as it returns, and thread_exit cancels only a handle
     * still set (a reload's thread_exit finds it running). */
    void (*co_cancel)(void *handle);

    /* Sockets. sock_new() wraps a connected non-blocking descriptor
     * (ownership passes to the socket) with a read buffer of buffer bytes
     * (0: 16 KiB); NULL when out of memory (fd is then closed). A socket
     * may outlive a request (a keep-alive pool), and is used by one
     * coroutine at a time, on one thread at a time (moving between
     * threads is allowed between calls). */
    ph_sock_t *(*sock_new)(int fd, size_t buffer);
    /* Connects to "host:port", "[v6]:port" or "unix:/path" (names through
     * co_resolve) within timeout_ms: 0 with *out set, or -errno
     * (-ECONNREFUSED, -ETIMEDOUT, -ENOENT, ...). */
    int (*co_connect)(const char *address, int64_t timeout_ms, ph_sock_t **out);
    /* Reads what is buffered, else waits for data: > 0 bytes, 0 at the
     * peer's end of stream, or -errno. */
    ssize_t (*sock_read)(ph_sock_t *s, void *buf, size_t cap, int64_t timeout_ms);
    /* Reads exactly n bytes into buf: n, or -errno (-EPIPE when the
     * stream ends first; what was read is lost). */
    ssize_t (*sock_read_exactly)(ph_sock_t *s, void *buf, size_t n, int64_t timeout_ms);
    /* Reads up to and including delim (dlen bytes): *line spans it, in the
     * socket's buffer, valid until the next call on s; returns line->len.
     * -ENOBUFS when max bytes (at most the buffer's size) hold no delim,
     * -EPIPE when the stream ends first. */
    ssize_t (*sock_read_until)(ph_sock_t *s, const char *delim, size_t dlen, size_t max, ph_str_t *line,
                               int64_t timeout_ms);
    /* Writes all len bytes: len, or -errno (-EPIPE, -ETIMEDOUT: some may
     * have been sent). Never raises SIGPIPE. */
    ssize_t (*sock_write)(ph_sock_t *s, const void *buf, size_t len, int64_t timeout_ms);
    /* Bytes read from the peer and not yet taken by the caller (a pooled
     * connection must have none). */
    size_t (*sock_buffered)(const ph_sock_t *s);
    /* The descriptor (the socket's: do not close it). */
    int (*sock_fd)(const ph_sock_t *s);
    /* Closes the descriptor and frees s. Any thread, not while a call on s
     * waits. */
    void (*sock_close)(ph_sock_t *s);

    /* The request body, from the handler's coroutine: the next decoded
     * bytes (> 0), 0 at its end, or -errno (-ECANCELED, -ETIMEDOUT,
     * -EMSGSIZE: over max_body_bytes, the client is answered 413). A
     * buffered body (no PH_PLUGIN_STREAM_BODY) is read from memory. While
     * nobody reads, the core stops reading the socket (back-pressure).
     * After co_respond() before the body's end: -EPIPE (the rest of the
     * body is not read; the connection closes after the response). */
    ssize_t (*co_body_read)(ph_request_t *req, void *buf, size_t cap, int64_t timeout_ms);
    /* Sends the response head now, as set so far, with length bytes of
     * body to follow (length >= 0: Content-Length) or an unknown length
     * (-1: chunked for HTTP/1.1, close-delimited for HTTP/1.0; trailers
     * from add_trailer() go after the last chunk). Then co_send() writes
     * the body, and the handler's return ends it (PH_OK; anything else, or
     * fewer bytes than announced, aborts the connection). Output filters
     * apply as to any stream. Once responded, handler_timeout no longer
     * applies (the response is under way); the plugin bounds its own
     * waits. A HEAD request's body bytes are taken and dropped.
     * Returns 0 once the head is under way, or -ECANCELED (the client
     * left), -EINVAL (already responded or upgraded), -EPERM (not from
     * this request's handler coroutine). */
    int (*co_respond)(ph_request_t *req, int64_t length);
    /* ABI 1.8: a blocking plugin (PH_PLUGIN_BLOCKING) built at minor 8 or
     * later may call co_respond() and co_send() too, from its handle() on
     * its helper thread, for that request: co_respond() returns once the
     * head is under way; co_send() blocks the helper thread while the
     * client is slower than the producer (same queue bound, same results;
     * -ETIMEDOUT when the client took nothing for timeout_ms). Trailers
     * are not sent. After co_respond() the loop owns the response and the
     * request's pool: call nothing else on req but co_send() and
     * cancelled() (register on_cleanup() and alloc() before). A database
     * listing streamed row by row while the statement runs is the use. */
    /* Queues len bytes (copied) of the body after co_respond(); waits
     * while the client is slower than the producer (output above a few
     * hundred KiB), so memory stays flat. len, or -errno (-ECANCELED:
     * the client left; -EMSGSIZE: more than the announced length). */
    ssize_t (*co_send)(ph_request_t *req, const void *data, size_t len, int64_t timeout_ms);
    /* PH_PLUGIN_UPGRADE: switches protocols. Sends "101 Switching
     * Protocols" with the headers set so far (the plugin adds Upgrade:;
     * the core adds "Connection: upgrade") and hands the client
     * connection over: *client reads what the client sent after the
     * request head (already-received bytes included) and writes to it.
     * From then on the connection is the plugin's: no HTTP, no timeouts
     * but its own; sock_close(*client) when done (the handler's return
     * without it closes it too). Only from the handler's coroutine, for a
     * request without a body, before anything was sent. PH_OK, or
     * PH_ERROR (not an Upgrade request, not allowed, already answered). */
    int (*upgrade)(ph_request_t *req, ph_sock_t **client);

    /* --- ABI 1.4: HTTP/1 helpers (pure; any thread) --------------------- */
    /* Parses a response head from buf[0..len): returns its length through
     * the empty line (> 0), 0 when more bytes are needed, PH_ERROR when it
     * is not a valid HTTP/1.x response head (bad status line or field,
     * obs-fold, bare LF, more fields than out->cap, a bad or conflicting
     * Content-Length, Content-Length with Transfer-Encoding). */
    int (*parse_response)(const char *buf, size_t len, ph_http_response_t *out);
    /* The server's own chunked decoder, for a body that arrives chunked:
     * decodes buf[0..*len) in place, leaving the data in buf[0..*len).
     * Returns PH_CHUNKED_MORE when the body goes on (call again with the
     * next bytes), PH_ERROR when malformed, or, at the end
     * of the last chunk and trailers, the number of bytes after them (at
     * buf[*len] on). max_trailer_bytes bounds trailers and extensions. */
    void (*chunked_init)(ph_chunked_t *c);
    ssize_t (*chunked_decode)(ph_chunked_t *c, char *buf, size_t *len, size_t max_trailer_bytes);

    /* --- ABI 1.5: notes -------------------------------------------------- */
    /* Named strings that the stages of one request leave for each other:
     * an access stage that checked a token notes who the user is, and the
     * content handler, the filters and later stages read it. Notes belong
     * to the request and are never sent to the client.
     *   note_set: copies name and value, replacing what was noted under
     *             the same name (names compare exactly); value NULL removes
     *             the note. PH_OK, or PH_ERROR when name is NULL or empty,
     *             or out of memory.
     *   note:     what is noted under name, or NULL; valid until the
     *             request ends or the name is set again.
     * Same threads as the request (see slot()). */
    int (*note_set)(ph_request_t *req, const char *name, const char *value);
    const char *(*note)(const ph_request_t *req, const char *name);

    /* Whether add_header() takes name: value (on a route without
     * PH_PLUGIN_UPGRADE): PH_OK; PH_DECLINED for a valid field the core
     * owns (Content-Length, Transfer-Encoding, Connection, Keep-Alive,
     * Date, Upgrade, Trailer); PH_ERROR when the name is not an HTTP token
     * or the value holds controls or edge whitespace. For checking a
     * plugin's keys in create(). Pure; any thread. */
    int (*field_check)(const char *name, const char *value);

    /* The response's status as it stands (200 unless set), for filters
     * and stages that act on the answer; same threads as the request.
     * reason(): the phrase the server sends with a status ("Not Found"),
     * "Unknown" for a code it has no name for; any thread. */
    int (*status)(const ph_request_t *req);
    const char *(*reason)(int status);

    /* --- ABI 1.5: the response body's length ----------------------------- */
    /* What the response body, as set so far, will measure: the in-memory,
     * referenced or file body's length, the length co_respond() announced,
     * 0 when no body was set; -1 when it is not known in advance (a
     * stream, or an output filter listed earlier on the route transforms
     * the body). For a filter's filter_head(): a compressor skips bodies
     * too small to gain from it. Same calls and threads as resp_header(). */
    int64_t (*resp_length)(const ph_request_t *req);

    /* --- ABI 1.6: more introspection (any thread) ------------------------ */
    /* Worker thread i's loop lag (0 <= i < server_info's threads): PH_OK
     * with *out filled up to out->size, PH_ERROR when i is out of range
     * or out->size is too small. */
    int (*worker_info)(unsigned i, ph_worker_info_t *out);
    /* fn(arg, gen) for every generation alive in this process, current
     * first; stops when fn returns nonzero and returns that value. Same
     * rules as routes_visit(). */
    int (*generations_visit)(ph_generation_visit_fn fn, void *arg);

    /* --- ABI 1.6: shared zones ------------------------------------------
     * Memory shared by every worker process (processes = N), with a lock
     * that works across processes; with processes = 0 (one process) it is
     * plain memory with a lock. A zone has a name and a size; the server keeps it, with
     * its contents, for as long as it runs.
     *   zone: the zone named name of size bytes (1 byte to 1 GiB; a name of
     *         1 to 63 bytes without '/'), made zeroed the first time it is
     *         asked for. Only from create(), and from every create(), with
     *         PH_CREATE_CHECK too: the master of worker processes runs
     *         create() as a check before it forks the workers, which is
     *         when the zone is made so that they all share it; a worker
     *         only finds zones the master made. Routes and plugins that ask
     *         for one name and size share the zone. A reload that asks for
     *         the same name and size gets the same zone, contents intact;
     *         another size gets a new, zeroed zone (the old one stays for
     *         the old generation's instances). NULL when refused (the
     *         reason is logged): refuse the keys then. The zone outlives
     *         every instance: never free it.
     *   zone_data: its size bytes, 16-aligned, the same in every process.
     *   zone_lock: takes the zone's lock (a robust, process-shared mutex;
     *         it does not nest). PH_OK; PH_ZONE_RECOVERED when the
     *         previous holder died holding it (a killed worker): the lock
     *         is taken and logged, and the data may be half-updated, so
     *         check or reset it; PH_ERROR. Hold it briefly, never across a
     *         wait: every process's threads queue on it.
     *   zone_unlock: releases it.
     *   slab_*: fixed-size records over memory such as a zone's data, with
     *         offsets only inside it (so each process may see it at its own
     *         address). Call them with the zone locked. slab_init formats
     *         size bytes at mem (16-aligned) for records of record_size
     *         bytes, or finds them already so formatted (zeroed memory is
     *         formatted by the first call; every process may call it):
     *         returns the number of records, or PH_ERROR (misaligned, no
     *         room, or formatted for another record size). slab_alloc: a
     *         zeroed record, or NULL when all are in use. slab_free: gives
     *         one back; PH_ERROR for a pointer that is no record of it. */
    ph_zone_t *(*zone)(const char *name, size_t size);
    void *(*zone_data)(ph_zone_t *zone);
    int (*zone_lock)(ph_zone_t *zone);
    void (*zone_unlock)(ph_zone_t *zone);
    long (*slab_init)(void *mem, size_t size, size_t record_size);
    void *(*slab_alloc)(void *mem);
    int (*slab_free)(void *mem, void *record);

    /* --- ABI 1.6: the request's host, address sets, path encoding ------- */
    /* The host the request asked for as virtual hosts match it: the
     * authority (absolute-form target, else Host or :authority) without
     * its port, ASCII letters lower-cased, one trailing dot removed
     * ("Example.COM.:8080" -> "example.com"; an IPv6 literal keeps its
     * brackets, "[::1]"). Empty (len 0, ptr not NULL) when the request
     * names none (HTTP/1.0 without Host). The core checked the authority
     * before any plugin runs (RFC 3986 reg-name or IP literal and a
     * port), so the host never holds '/', '?', '#', '@', '\', blanks or
     * controls (it may hold %XX escapes as the client sent them). Computed once when the request is routed; valid until the
     * request ends; same threads as the request (see slot()). */
    ph_str_t (*host)(const ph_request_t *req);

    /* Address sets: the ranges of a list such as trusted_proxies or
     * allow, and whether an address lies in one of them, with the rules
     * of server.ini's trusted_proxies (one implementation).
     *   cidr_new:   an empty set, owned by the caller (free it with
     *               cidr_free); NULL when out of memory.
     *   cidr_add:   appends the entries of list (separated by commas
     *               and/or blanks), each an IPv4 or IPv6 address with an
     *               optional /BITS within the family's width. PH_OK, or
     *               PH_ERROR with a one-line reason in why[0..cap) (why
     *               may be NULL), such as "\"x\" is not an address or
     *               ADDRESS/BITS", leaving the set as it was. An empty
     *               list adds nothing and is PH_OK.
     *   cidr_match: 1 when ip, a numeric address without port or
     *               brackets ("10.1.2.3", "::1"), lies in a range of set,
     *               else 0 (also for anything else, or set NULL). An
     *               IPv4-mapped IPv6 address matches IPv4 ranges.
     *   cidr_match_addr: the same for an AF_INET or AF_INET6 sockaddr;
     *               any other family matches nothing.
     *   cidr_free:  releases set (NULL is fine).
     * Any thread, at any time (create() and destroy() included); the
     * server keeps no state. cidr_new/cidr_add/cidr_free change the set:
     * no match may run on it at the same time. The matches only read it,
     * so a set built in create() serves every thread of handle(). */
    ph_cidr_t *(*cidr_new)(void);
    int (*cidr_add)(ph_cidr_t *set, const char *list, char *why, size_t cap);
    int (*cidr_match)(const ph_cidr_t *set, const char *ip);
    int (*cidr_match_addr)(const ph_cidr_t *set, const struct sockaddr *sa);
    void (*cidr_free)(ph_cidr_t *set);

    /* Percent-encodes s[0..len) for a URL path (a Location, a link in a
     * listing): every byte becomes %XX (upper-case hex) except RFC 3986's
     * unreserved ones, A-Z a-z 0-9 - . _ ~, and '/' unless flags has
     * PH_URL_ESCAPE_SLASH (for one segment). The rest of pchar (the
     * sub-delims ! $ & ' ( ) * + , ; =, and ':' and '@') is encoded too:
     * a ':' in a relative link's first segment would read as a scheme,
     * '&' starts a character reference in HTML and "'" ends a
     * single-quoted attribute. Writes as many whole
     * escapes as fit into out[0..cap) and a NUL (when cap > 0); returns
     * the length of the whole encoding without the NUL, as snprintf
     * does, so the result fits when it is < cap (3 * len + 1 always
     * suffices). Does not collapse slashes: a caller building a Location
     * from a path must not let it start with "//". Pure; any thread. */
    size_t (*url_escape)(const char *s, size_t len, unsigned flags, char *out, size_t cap);
} ph_server_api_t;

/* True when the server's table has the member (safe across minors). */
#define PH_API_HAS(api, member) \
    ((api)->size >= offsetof(ph_server_api_t, member) + sizeof((api)->member))

/* What create() is handed. */
typedef struct ph_create_args {
    uint32_t size;                /* sizeof as filled by the server */
    const ph_server_api_t *api;   /* valid until destroy() returns */
    const char *prefix;           /* the route prefix, "/api"; without
                                     the host of a [route HOST/prefix]
                                     (two hosts may share a prefix) */
    const char *config_dir;       /* folder of server.ini: resolve relative
                                     paths against it */
    const ph_kv_t *keys;          /* the route's keys, "plugin" excluded */
    size_t nkeys;
    unsigned threads;             /* worker threads that may call handle() */
    /* --- ABI 1.1 ------------------------------------------------------ */
    uint32_t flags;               /* PH_CREATE_* */
    /* --- ABI 1.3 ------------------------------------------------------ */
    const char *name;             /* this plugin's name in the route's
                                     "plugin =" list (keys "name.key") */
    unsigned processes;           /* worker processes (1 also when the one
                                     process serves: processes = 0) */
} ph_create_args_t;

/* create() runs for a configuration test (plughttpd -t, --check-plugin):
 * validate everything as for real, but leave nothing behind: no files or
 * databases created, nothing written. destroy() follows at once. */
#define PH_CREATE_CHECK 0x1u

/* ABI 1.7: the instance belongs to a worker process under a master
 * (processes = N, N >= 1, the default), in the worker's create() and in the
 * master's checking one alike. A reload there starts new worker processes:
 * nothing an instance holds in memory reaches the next generation, and
 * take_over() is not called; what must outlive a reload goes in a zone
 * (api->zone). Without it (processes = 0: one process, no master) a reload
 * keeps an unchanged instance, state and all. */
#define PH_CREATE_WORKER 0x2u

/*
 * ABI 1.3: optional hooks, pointed to by the descriptor. Any may be NULL.
 * The server reads only the first hooks->size bytes, so a later minor can
 * append hooks.
 *
 * Stacked handlers. A route may list several plugins:
 *     [route /app]
 *     plugin = ratelimit, auth, proxy, gzip
 *     auth.realm = app          ; "name.key" goes to the plugin so named
 *     upstream = 127.0.0.1:9000 ; a bare key goes to the content handler
 * Each listed plugin has one role, from its descriptor: a plugin with
 * handle() is the content handler (exactly one per route); one without
 * handle() but with on_head() is an access stage; one with filter_body()
 * and no handle() is an output filter. Per request: the access stages'
 * on_head() in the order listed, then the content handler's on_head() and
 * handle(), then, for the response, the filters in the order listed (the
 * first one listed sees the handler's output, the next one its output).
 *
 * Threads: every hook runs on the loop thread of the request's worker,
 * except handle() of a blocking plugin (PH_PLUGIN_BLOCKING), which runs on
 * a helper thread.
 */
struct ph_plugin; /* the descriptor, below (ABI 1.6: take_over) */

typedef struct ph_hooks {
    uint32_t size; /* sizeof(ph_hooks_t) at build time */

    /* The request head is complete: before "100 Continue" is sent and
     * before any body byte is read. Return PH_OK to let the request go on,
     * PH_DONE after setting the answer (e.g. send_error(req, 401, ...),
     * or 413, or a redirect): it is sent, the body is not read, and the
     * connection closes after it when a body was announced. PH_PENDING to
     * decide later with resume(); PH_ERROR for a 500. The content handler's
     * own on_head() runs after the access stages'. */
    int (*on_head)(void *instance, ph_request_t *req);

    /* PH_PLUGIN_STREAM_BODY: the next len bytes of the decoded body (data
     * valid during the call only), last = 1 with the final piece (len may
     * be 0). Return PH_OK, or PH_ERROR to answer 500 and stop reading:
     * PH_ERROR stands for the plugin's resume() (do not call it after).
     * A body over the route's max_body_bytes is answered 413 by the core
     * and the request cancelled (on_cancel); resume() as usual. */
    int (*on_body)(void *instance, ph_request_t *req, const void *data, size_t len, int last);

    /* The client no longer waits for req (gone, handler_timeout,
     * shutdown): for a request that is pending (PH_PENDING) or whose
     * streamed response has not ended. Stop the work and resume() as
     * promised; the answer will not be sent. Runs once, on the loop, also
     * for a blocking plugin whose handle() still runs on a helper thread.
     * At shutdown a waiting stream is cancelled at once (it would never
     * end by itself); a pending answer gets until shutdown_timeout to
     * come, and is cancelled then. */
    void (*on_cancel)(void *instance, ph_request_t *req);

    /* Output filter. filter_head() sees the response before its head is
     * sent: it may change the status and headers, and returns PH_OK to
     * transform this body or PH_DECLINED to let it pass untouched (e.g. a
     * compressor facing an already compressed type). *state is the
     * filter's per-request slot (NULL at first; allocate it with
     * api->alloc()). A filtered body has no Content-Length: it goes out
     * chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
     * filter_body() gets the body as it is produced, with PH_FILTER_FLUSH
     * when the producer waits (a stream returned PH_STREAM_WAIT: emit all
     * you can now) and PH_FILTER_END with the last piece (len may be 0);
     * it hands its output on with api->filter_emit(). Return PH_OK, or
     * PH_ERROR to abort the response (the connection closes). */
    int (*filter_head)(void *instance, ph_request_t *req, void **state);
    int (*filter_body)(void *instance, ph_request_t *req, void *state, const void *data, size_t len,
                       unsigned flags);

    /* Lifecycle. process_init() runs once per instance in each process that
     * serves requests (each worker process with processes = N, the one
     * process otherwise), after every instance of the generation was
     * created and before any of its requests; process_exit() before the
     * instance's destroy(), in the same process. thread_init() and
     * thread_exit() run on each worker thread (index 0..threads-1) when
     * that thread starts and stops taking new requests for the instance's
     * generation (after a reload, requests already running on the thread
     * may still reach the instance after thread_exit()). A failing
     * process_init() (PH_ERROR) fails the start or the reload. The master
     * of worker processes runs none of them. An instance a reload keeps
     * gets none of them again; process_exit() and thread_exit() follow
     * only an init that succeeded (or is absent), and a failing
     * thread_init() is logged while the thread serves on. */
    int (*process_init)(void *instance, unsigned index);
    void (*process_exit)(void *instance, unsigned index);
    int (*thread_init)(void *instance, unsigned index);
    void (*thread_exit)(void *instance, unsigned index);

    /* Asked at each reload when the instance would be kept (same file,
     * keys, host and prefix): return 1 to be created anew instead (e.g. a file
     * the instance read has changed), 0 to be kept. Main thread. */
    int (*reload_check)(void *instance);

    /* --- ABI 1.6: state across reloads ----------------------------------
     * What a reload keeps. An instance whose plugin file (its bytes, not
     * its name or date), keys, route (host and prefix) and place in the
     * route's plugin list are unchanged is kept, state and all, unless its
     * reload_check asks otherwise: the new generation uses the very same
     * instance and none of its hooks run again. Anything else is a new
     * instance, created from nothing, while the old one serves the
     * requests it has until its generation drains and is destroyed.
     *
     * take_over() lets such a new instance start from the state of the one
     * it replaces: the instance of the previous generation on the same
     * route, at the same name in its "plugin =" list, from a plugin with
     * the same descriptor name (old_plugin: its descriptor, for its
     * version; its file may differ from this one), that the new
     * generation does not keep.
     *   When: on the main thread, once every step of the reload has worked
     *   (every create() and process_init() of the new generation), just
     *   before the generation is published; after it nothing can fail the
     *   reload. A reload that fails never calls it, so the old instance is
     *   left as it was. Not called at start-up, for PH_CREATE_CHECK, in
     *   the master of worker processes, nor under a master at all
     *   (processes = N, the default; PH_CREATE_WORKER):
     *   there a reload starts new worker processes, which hold no old
     *   instance (keep such state in a zone, below).
     *   Ownership: old_instance stays the old generation's. It goes on
     *   serving (handle() and hooks may run on it on worker threads
     *   during and after the call) until its generation drains, and its
     *   destroy() runs then as always. So take_over() copies what it needs,
     *   or shares it (reference-counted and locked by the plugin, since
     *   both instances may run at once); it must not leave old_instance
     *   unable to serve or free anything its destroy() will free. What
     *   the old instance changes after the call is not seen by the new
     *   one unless shared. It must not fail: a plugin that cannot use the
     *   old state starts fresh. */
    void (*take_over)(void *instance, void *old_instance, const struct ph_plugin *old_plugin);
} ph_hooks_t;

/* filter_body() flags. */
#define PH_FILTER_FLUSH 0x1u
#define PH_FILTER_END 0x2u

/* The descriptor a plugin exports as PH_PLUGIN_SYMBOL. */
typedef struct ph_plugin {
    uint32_t magic;     /* PH_ABI_MAGIC */
    uint16_t abi_major; /* PH_ABI_MAJOR at build time */
    uint16_t abi_minor; /* PH_ABI_MINOR at build time */
    uint32_t size;      /* sizeof(ph_plugin_t) at build time */
    uint32_t flags;     /* PH_PLUGIN_* */
    const char *name;
    const char *version;
    /* Validate the keys and build an instance. Return PH_OK and set
     * *instance, or PH_ERROR and fill *err (unknown keys must be refused). */
    int (*create)(const ph_create_args_t *args, void **instance, ph_error_t *err);
    /* Build the response for req. Return PH_OK (response set; a plugin that
     * set nothing answers 200 with an empty body), PH_DECLINED (404), or
     * PH_ERROR (500 unless a status >= 400 was set). ABI 1.3: or
     * PH_PENDING, and answer later with api->resume() (the route's
     * handler_timeout still applies: past it the client gets a 504, the
     * plugin on_cancel(), and its resume() returns PH_ERROR). NULL for an
     * access stage or an output filter (see ph_hooks_t). */
    int (*handle)(void *instance, ph_request_t *req);
    void (*destroy)(void *instance);
    /* --- ABI 1.3 ------------------------------------------------------ */
    const ph_hooks_t *hooks; /* NULL: none */
} ph_plugin_t;

#if defined(__GNUC__)
#define PH_EXPORT __attribute__((visibility("default")))
#else
#define PH_EXPORT
#endif

/* Declares the exported descriptor:
 *   PH_PLUGIN_DEFINE("echo", "1.0", 0, echo_create, echo_handle, echo_destroy);
 */
#define PH_PLUGIN_DEFINE(name_, version_, flags_, create_, handle_, destroy_)        \
    PH_EXPORT extern const ph_plugin_t plughttpd_plugin;                              \
    PH_EXPORT const ph_plugin_t plughttpd_plugin = {                                  \
        PH_ABI_MAGIC, PH_ABI_MAJOR, PH_ABI_MINOR, (uint32_t)sizeof(ph_plugin_t),     \
        (flags_), (name_), (version_), (create_), (handle_), (destroy_), NULL}

/* ABI 1.3: the same with hooks (a const ph_hooks_t *), e.g.
 *   static const ph_hooks_t hooks = {sizeof hooks, .on_head = auth_head};
 *   PH_PLUGIN_DEFINE_HOOKS("auth", "1.0", 0, auth_create, NULL, auth_destroy,
 *                          &hooks);                                       */
#define PH_PLUGIN_DEFINE_HOOKS(name_, version_, flags_, create_, handle_, destroy_, hooks_) \
    PH_EXPORT extern const ph_plugin_t plughttpd_plugin;                              \
    PH_EXPORT const ph_plugin_t plughttpd_plugin = {                                  \
        PH_ABI_MAGIC, PH_ABI_MAJOR, PH_ABI_MINOR, (uint32_t)sizeof(ph_plugin_t),     \
        (flags_), (name_), (version_), (create_), (handle_), (destroy_), (hooks_)}

#ifdef __cplusplus
}
#endif

#endif /* PLUGHTTPD_PLUGIN_H */
