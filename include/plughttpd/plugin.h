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
 *   create()   once per [route /prefix] section that names the plugin, with
 *              that section's keys. Runs on the main thread, before any
 *              request reaches the instance. Several routes may use one
 *              plugin: each gets its own instance.
 *              Where: in the process that serves the route, after the
 *              server dropped privileges (user =, group =), at start-up and
 *              at each reload alike: what it opens or creates is the
 *              server user's. With processes = N every worker process
 *              creates its own instances (one process after another, so
 *              the first one finds no other creating the same files), and
 *              the master, which serves nothing, only validates the keys:
 *              create() with PH_CREATE_CHECK, then destroy() at once.
 *   handle()   once per request routed to the instance. It MAY RUN ON SEVERAL
 *              THREADS AT ONCE for one instance: keep instance state
 *              read-only after create(), or protect it yourself.
 *   destroy()  once per instance, in the process that created it, after
 *              the last request that could reach the instance has finished
 *              (after a reload, when the old generation drains; at
 *              shutdown).
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

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PH_ABI_MAGIC 0x70684731u /* "phG1" */
#define PH_ABI_MAJOR 1u
#define PH_ABI_MINOR 2u

/* Name of the one symbol a plugin exports. */
#define PH_PLUGIN_SYMBOL "plughttpd_plugin"

/* Return codes shared by the whole API. */
#define PH_OK 0
#define PH_ERROR (-1)
#define PH_DECLINED 1 /* handle(): not mine; the core answers 404 */

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
} ph_error_t;

/* Opaque: one request and its response under construction. */
typedef struct ph_request ph_request_t;

/* Streaming body callback (see api->body_stream). Fill at most cap bytes
 * into buf. Return the number of bytes written, 0 at the end of the body, or
 * PH_ERROR to abort the connection. Runs on the thread that serves the
 * connection and must not block. */
typedef ssize_t (*ph_read_fn)(void *arg, void *buf, size_t cap);

/*
 * The function table. The server fills it; a plugin only reads it. Every
 * function taking a ph_request_t may be called only from inside handle() for
 * that request (or from a ph_read_fn/cleanup the request owns), on the
 * thread running it.
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
} ph_server_api_t;

/* True when the server's table has the member (safe across minors). */
#define PH_API_HAS(api, member) \
    ((api)->size >= offsetof(ph_server_api_t, member) + sizeof((api)->member))

/* What create() is handed. */
typedef struct ph_create_args {
    uint32_t size;                /* sizeof as filled by the server */
    const ph_server_api_t *api;   /* valid until destroy() returns */
    const char *prefix;           /* the route prefix, "/api" */
    const char *config_dir;       /* folder of server.ini: resolve relative
                                     paths against it */
    const ph_kv_t *keys;          /* the route's keys, "plugin" excluded */
    size_t nkeys;
    unsigned threads;             /* worker threads that may call handle() */
    /* --- ABI 1.1 ------------------------------------------------------ */
    uint32_t flags;               /* PH_CREATE_* */
} ph_create_args_t;

/* create() runs for a configuration test (plughttpd -t, --check-plugin):
 * validate everything as for real, but leave nothing behind: no files or
 * databases created, nothing written. destroy() follows at once. */
#define PH_CREATE_CHECK 0x1u

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
     * PH_ERROR (500 unless a status >= 400 was set). */
    int (*handle)(void *instance, ph_request_t *req);
    void (*destroy)(void *instance);
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
        (flags_), (name_), (version_), (create_), (handle_), (destroy_)}

#ifdef __cplusplus
}
#endif

#endif /* PLUGHTTPD_PLUGIN_H */
