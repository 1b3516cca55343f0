/*
 * Fixture: a plugin that breaks the rules or pushes the limits, one case per
 * subpath, so integration tests can check that the core contains it.
 *
 *   /crlf        header value with CR LF in it         -> 500, never sent
 *   /badstatus   set_status(99), then set_status(1000) -> 500
 *   /declined    returns PH_DECLINED                   -> 404
 *   /error       returns PH_ERROR, no status set       -> 500
 *   /coreheader  adds Content-Length itself            -> 500
 *   /big         1 MiB in-memory body of pattern()
 *   /stream      body_stream(): "piece 0\n" .. "piece 4\n", chunked
 *   /file        body_file() of bytes 10..99999 of a 100000-byte pattern file
 *   /sleep?ms=N  sleeps N ms (at most 5000), then answers "slept N\n"
 *   /alloc       100 x 64 KiB from api->alloc; answers "sum=5050\n"
 *   /peerlate?ms=N  takes peer() and local(), logs "misbehave: peer taken:
 *                P", sleeps N ms (at most 5000), then logs "misbehave: peer after sleep: P local L" with
 *                the strings taken before the sleep (which must stay valid
 *                and unchanged however the connection ended meanwhile)
 *
 * pattern(i) = i % 251, so a slice is easy to recompute in a test.
 * Route keys: none ("blocking = yes" is the core's and never reaches create).
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct misbehave {
    const ph_server_api_t *api;
} misbehave_t;

static void fill_pattern(unsigned char *buf, size_t len, size_t start)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)((start + i) % 251);
}

static int mb_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    if (args->nkeys > 0) {
        err->key = 0;
        snprintf(err->msg, sizeof(err->msg), "unknown key \"%s\"", args->keys[0].key);
        return PH_ERROR;
    }
    misbehave_t *mb = malloc(sizeof(*mb));
    if (!mb) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    mb->api = args->api;
    *instance = mb;
    return PH_OK;
}

static int do_big(const ph_server_api_t *api, ph_request_t *req)
{
    unsigned char buf[4096];
    for (size_t off = 0; off < 1024 * 1024; off += sizeof(buf)) {
        fill_pattern(buf, sizeof(buf), off);
        if (api->body_append(req, buf, sizeof(buf)) != PH_OK)
            return PH_ERROR;
    }
    return PH_OK;
}

/* Stream state lives in request memory, so it is freed with the request. */
typedef struct stream_state {
    int piece;
    size_t off; /* bytes of the current piece already produced */
} stream_state_t;

static ssize_t stream_read(void *arg, void *buf, size_t cap)
{
    stream_state_t *st = arg;
    char piece[32];
    if (st->piece >= 5)
        return 0;
    int len = snprintf(piece, sizeof(piece), "piece %d\n", st->piece);
    size_t n = (size_t)len - st->off;
    if (n > cap)
        n = cap;
    memcpy(buf, piece + st->off, n);
    st->off += n;
    if (st->off == (size_t)len) {
        st->piece++;
        st->off = 0;
    }
    return (ssize_t)n;
}

static int do_stream(const ph_server_api_t *api, ph_request_t *req)
{
    stream_state_t *st = api->alloc(req, sizeof(*st));
    if (!st)
        return PH_ERROR;
    st->piece = 0;
    st->off = 0;
    return api->body_stream(req, stream_read, st);
}

static int do_file(const ph_server_api_t *api, ph_request_t *req)
{
    char path[] = "/tmp/phmisbehave-XXXXXX";
    unsigned char buf[10000];
    int fd = mkstemp(path);
    if (fd < 0)
        return PH_ERROR;
    unlink(path); /* the open fd keeps the data; nothing is left behind */
    for (size_t off = 0; off < 100000; off += sizeof(buf)) {
        fill_pattern(buf, sizeof(buf), off);
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
            close(fd);
            return PH_ERROR;
        }
    }
    return api->body_file(req, fd, 10, 99990); /* the core owns fd now */
}

static int do_sleep(const ph_server_api_t *api, ph_request_t *req)
{
    ph_str_t q = api->query(req);
    long ms = 0;
    if (q.len > 3 && q.len < 16 && memcmp(q.ptr, "ms=", 3) == 0) {
        char num[16];
        memcpy(num, q.ptr + 3, q.len - 3);
        num[q.len - 3] = '\0';
        ms = strtol(num, NULL, 10);
    }
    if (ms < 0)
        ms = 0;
    if (ms > 5000)
        ms = 5000;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return api->body_printf(req, "slept %ld\n", ms);
}

static int do_peerlate(const ph_server_api_t *api, ph_request_t *req)
{
    const char *peer = api->peer(req), *local = api->local(req);
    api->log(PH_LOG_INFO, "misbehave: peer taken: %s", peer);
    int rc = do_sleep(api, req);
    api->log(PH_LOG_INFO, "misbehave: peer after sleep: %s local %s", peer, local);
    return rc;
}

/* Distinct, writable blocks: each keeps its own marker until the end. */
static int do_alloc(const ph_server_api_t *api, ph_request_t *req)
{
    unsigned char *blocks[100];
    long sum = 0;
    for (int i = 0; i < 100; i++) {
        blocks[i] = api->alloc(req, 64 * 1024);
        if (!blocks[i])
            return PH_ERROR;
        blocks[i][0] = (unsigned char)(i + 1);
        blocks[i][64 * 1024 - 1] = (unsigned char)(i + 1);
    }
    for (int i = 0; i < 100; i++)
        sum += blocks[i][0] == blocks[i][64 * 1024 - 1] ? blocks[i][0] : 100000;
    return api->body_printf(req, "sum=%ld\n", sum);
}

static int is(ph_str_t s, const char *word)
{
    return s.len == strlen(word) && memcmp(s.ptr, word, s.len) == 0;
}

static int mb_handle(void *instance, ph_request_t *req)
{
    const misbehave_t *mb = instance;
    const ph_server_api_t *api = mb->api;
    ph_str_t sub = api->subpath(req);

    /* The rule-breaking cases ignore the refusals on purpose: the core must
     * turn the response into a 500 even when the plugin says PH_OK. */
    if (is(sub, "/crlf")) {
        api->add_header(req, "X-Evil", "a\r\nX-Injected: 1");
        api->body_append(req, "crlf\n", 5);
        return PH_OK;
    }
    if (is(sub, "/badstatus")) {
        api->set_status(req, 99);
        api->set_status(req, 1000);
        api->body_append(req, "badstatus\n", 10);
        return PH_OK;
    }
    if (is(sub, "/declined"))
        return PH_DECLINED;
    if (is(sub, "/error"))
        return PH_ERROR;
    if (is(sub, "/coreheader")) {
        api->add_header(req, "Content-Length", "5");
        api->body_append(req, "coreheader\n", 11);
        return PH_OK;
    }
    if (is(sub, "/big"))
        return do_big(api, req);
    if (is(sub, "/stream"))
        return do_stream(api, req);
    if (is(sub, "/file"))
        return do_file(api, req);
    if (is(sub, "/sleep"))
        return do_sleep(api, req);
    if (is(sub, "/alloc"))
        return do_alloc(api, req);
    if (is(sub, "/peerlate"))
        return do_peerlate(api, req);
    return PH_DECLINED;
}

static void mb_destroy(void *instance)
{
    free(instance);
}

PH_PLUGIN_DEFINE("misbehave", "1.0", 0, mb_create, mb_handle, mb_destroy);
