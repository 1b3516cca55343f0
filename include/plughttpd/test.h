/*
 * plughttpd/test.h: the plugin test harness, libplughttpd-test
 * (pkg-config plughttpd-test). See plughttpd-test(3).
 *
 * Design: the harness is the real server, not a model of it. The library is
 * built from the same core objects as the plughttpd binary (config, plugin
 * loader, generations, worker loop, connections, HTTP/1 parser, request and
 * response code). ph_test_server_start() writes a server.ini into a private
 * temporary folder, runs server_start() in the calling process and the
 * server's signal loop on a thread of its own, whose worker threads serve a
 * listener on an ephemeral 127.0.0.1 port. ph_test_request() is an HTTP/1.1
 * client: it connects to that port, sends one request and reads the whole
 * answer. So everything a plugin does (PH_PENDING and resume from another
 * thread, coroutines, streamed bodies, logging) runs exactly as in
 * production, and a request is finished when its answer has arrived.
 *
 * Threads: call every function from one thread (the test's). One server at
 * a time per process (the core's log and statistics are process-wide).
 * Signals: the server's thread takes SIGHUP, SIGTERM, SIGINT, SIGUSR1 and
 * SIGPIPE sent to it alone (pthread_kill); the calling thread's mask is
 * left as it was. Under Check, start and stop the server inside each test
 * (Check forks a process per test).
 *
 * Errors: functions returning int return 0 or -1; those returning a pointer
 * return NULL on failure. err (may be NULL) receives a one-line reason.
 */
#ifndef PLUGHTTPD_TEST_H
#define PLUGHTTPD_TEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PH_TEST_API __attribute__((visibility("default")))
#else
#define PH_TEST_API
#endif

typedef struct ph_test_server ph_test_server_t;

/* Starts a server. config is the text of a server.ini that follows the
 * harness's own [server] lines (so it may start with more [server] keys,
 * then hold [route ...] sections). The harness's lines: a listener on
 * 127.0.0.1 port 0, a unix socket listener in its temporary folder taking
 * a PROXY protocol header (so that a request can name its peer),
 * threads = 1, processes = 0 (the test's own process serves, on a thread
 * of its own), and the error and access logs in that folder; config must
 * not give these keys again. "plugin = /path/to/name.so" loads a plugin by
 * path. Returns NULL (err filled, with the server's log lines) when the
 * configuration or a plugin is refused. */
PH_TEST_API ph_test_server_t *ph_test_server_start(const char *config, char *err, size_t errlen);

/* The common case: plugin_path mounted at "/" with keys, a NULL-terminated
 * array of "key = value" lines (may be NULL). Same as the above otherwise. */
PH_TEST_API ph_test_server_t *ph_test_plugin_start(const char *plugin_path, const char *const *keys, char *err,
                                                   size_t errlen);

/* Replaces the configuration (same form as ph_test_server_start) and
 * reloads as SIGHUP does: a new generation with new keys or a rebuilt
 * plugin. Waits for it to serve. Returns 0, or -1 when the reload was
 * refused (the old generation serves on) or did not finish in 10 s. */
PH_TEST_API int ph_test_server_reload(ph_test_server_t *srv, const char *config, char *err, size_t errlen);

/* The plain listener's port, for clients of your own (curl, sockets). */
PH_TEST_API int ph_test_server_port(const ph_test_server_t *srv);

/* Stops as SIGTERM or SIGINT do (requests in flight finish), unloads
 * the plugins and removes the temporary folder. srv is freed. NULL is
 * ignored. */
PH_TEST_API void ph_test_server_stop(ph_test_server_t *srv);

/* One request. Unset fields take the default given. */
typedef struct ph_test_request {
    const char *method;          /* "GET" */
    const char *target;          /* "/" */
    const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL */
    const void *body;            /* NULL: none */
    size_t body_len;
    /* 0: the body is sent whole with Content-Length. N > 0: streamed
     * chunked in N-byte pieces, a pause of a millisecond between them, so
     * the plugin sees it arrive in parts. */
    size_t chunk;
    /* The client address the server sees ("203.0.113.7"; IPv4 or IPv6),
     * sent in a PROXY protocol header; NULL: 127.0.0.1, a direct connection. */
    const char *peer;
    unsigned timeout_ms;         /* for the whole answer; 0: 10000 */
} ph_test_request_t;

typedef struct ph_test_header {
    char *name, *value;
} ph_test_header_t;

/* An answer, owned by the caller: ph_test_response_free(). */
typedef struct ph_test_response {
    int status;                  /* 200 ... */
    ph_test_header_t *headers;   /* as received, in order */
    size_t nheaders;
    char *body;                  /* de-chunked; NUL-terminated for convenience */
    size_t body_len;
} ph_test_response_t;

/* Sends req over a new connection (Connection: close) and reads the whole
 * answer into *res, whatever its status. Returns 0, or -1 when the
 * connection failed, the time ran out or the answer is not HTTP (*res is
 * then empty and need not be freed). */
PH_TEST_API int ph_test_request(ph_test_server_t *srv, const ph_test_request_t *req, ph_test_response_t *res);
/* Shorthand: a GET of target with no headers. */
PH_TEST_API int ph_test_get(ph_test_server_t *srv, const char *target, ph_test_response_t *res);
/* The value of the first header named name (case-insensitive), or NULL. */
PH_TEST_API const char *ph_test_header(const ph_test_response_t *res, const char *name);
PH_TEST_API void ph_test_response_free(ph_test_response_t *res);

/* What the server and its plugins have logged so far (error log, and the
 * access log), malloc'd, NUL-terminated; NULL when unreadable. */
PH_TEST_API char *ph_test_error_log(const ph_test_server_t *srv);
PH_TEST_API char *ph_test_access_log(const ph_test_server_t *srv);
/* Waits up to timeout_ms for needle to appear in the error log, for what a
 * plugin logs after its answer (a destroy, a cancel). Returns 0 or -1. */
PH_TEST_API int ph_test_wait_log(const ph_test_server_t *srv, const char *needle, unsigned timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
