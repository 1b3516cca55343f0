/*
 * Fixture: the core mechanics of coroutine handlers (ABI 1.4), for
 * tests/integration/test_co_core.py. handle() runs as a coroutine
 * (PH_PLUGIN_COROUTINE), reads streamed bodies with co_body_read
 * (PH_PLUGIN_STREAM_BODY) and may switch protocols (PH_PLUGIN_UPGRADE).
 *
 *   /sleep?ms=N          co_sleep(N), then "slept N\n"
 *   /wait?ms=N&tag=T     logs "waiting", co_sleep(N), logs what it returned;
 *                        "waited N\n", or PH_ERROR when the wait failed
 *   /now                 "now\n" without waiting
 *   /stream?len=N&known=K co_respond(K ? N : -1), then N bytes of
 *                        (offset % 251) in pieces of 64 KiB
 *   /short?len=N         co_respond(N), sends N / 2 bytes and returns
 *   /body                reads the body with co_body_read: "got N sum S\n"
 *                        (S: the bytes' sum modulo 2^32), or logs the error
 *   /upgrade             upgrade(): echoes what the client sends until it
 *                        closes or the wait fails (logged); "no upgrade\n"
 *                        when refused
 *
 * Route key: gen = TEXT (default "-"), in the log lines, so a test tells a
 * reload's instances apart. Log lines ("co_core GEN: ..."):
 *   "tag=T waiting", "tag=T wait returned R", "body error R",
 *   "tunnel ended R", "stream sent N returned R", "destroy"
 */
#include <plughttpd/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE (64 * 1024)

typedef struct co_core {
    const ph_server_api_t *api;
    char gen[32];
} co_core_t;

static int co_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    co_core_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        err->key = -1;
        free(c);
        return PH_ERROR;
    }
    c->api = args->api;
    snprintf(c->gen, sizeof c->gen, "-");
    for (size_t i = 0; i < args->nkeys; i++) {
        if (strcmp(args->keys[i].key, "gen") == 0) {
            snprintf(c->gen, sizeof c->gen, "%s", args->keys[i].value);
            continue;
        }
        snprintf(err->msg, sizeof err->msg, "unknown key \"%s\"", args->keys[i].key);
        err->key = (int)i;
        free(c);
        return PH_ERROR;
    }
    *instance = c;
    return PH_OK;
}

static void co_destroy(void *instance)
{
    co_core_t *c = instance;
    c->api->log(PH_LOG_INFO, "co_core %s: destroy", c->gen);
    free(c);
}

/* The value of key in the query, as a number (def when absent). */
static long long qnum(const co_core_t *c, ph_request_t *req, const char *key, long long def)
{
    ph_str_t q = c->api->query(req);
    size_t klen = strlen(key);
    for (size_t i = 0; q.ptr && i + klen < q.len; i++) {
        if ((i == 0 || q.ptr[i - 1] == '&') && memcmp(q.ptr + i, key, klen) == 0 && q.ptr[i + klen] == '=') {
            long long v = 0;
            for (size_t j = i + klen + 1; j < q.len && q.ptr[j] >= '0' && q.ptr[j] <= '9'; j++)
                v = v * 10 + (q.ptr[j] - '0');
            return v;
        }
    }
    return def;
}

/* The tag of the query (up to 31 bytes), "-" when absent. */
static void qtag(const co_core_t *c, ph_request_t *req, char *out, size_t cap)
{
    ph_str_t q = c->api->query(req);
    snprintf(out, cap, "-");
    for (size_t i = 0; q.ptr && i + 4 <= q.len; i++)
        if ((i == 0 || q.ptr[i - 1] == '&') && memcmp(q.ptr + i, "tag=", 4) == 0) {
            size_t j = i + 4, n = 0;
            while (j + n < q.len && q.ptr[j + n] != '&' && n + 1 < cap)
                n++;
            memcpy(out, q.ptr + j, n);
            out[n] = '\0';
            return;
        }
}

static int do_wait(co_core_t *c, ph_request_t *req)
{
    const ph_server_api_t *api = c->api;
    char tag[32];
    qtag(c, req, tag, sizeof tag);
    long long ms = qnum(c, req, "ms", 100);
    api->log(PH_LOG_INFO, "co_core %s: tag=%s waiting", c->gen, tag);
    int rc = api->co_sleep((uint64_t)ms);
    api->log(PH_LOG_INFO, "co_core %s: tag=%s wait returned %d", c->gen, tag, rc);
    if (rc < 0)
        return PH_ERROR;
    api->body_printf(req, "waited %lld\n", ms);
    return PH_OK;
}

static int do_stream(co_core_t *c, ph_request_t *req, int complete)
{
    const ph_server_api_t *api = c->api;
    long long len = qnum(c, req, "len", 0);
    int known = qnum(c, req, "known", 1) != 0;
    char *buf = api->alloc(req, PIECE);
    if (buf == NULL)
        return PH_ERROR;
    api->add_header(req, "Content-Type", "application/octet-stream");
    int rc = api->co_respond(req, known ? len : -1);
    if (rc < 0) {
        api->log(PH_LOG_INFO, "co_core %s: co_respond returned %d", c->gen, rc);
        return PH_ERROR;
    }
    long long todo = complete ? len : len / 2;
    long long off = 0;
    ssize_t r = 0;
    while (off < todo) {
        size_t n = todo - off < PIECE ? (size_t)(todo - off) : PIECE;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)((off + (long long)i) % 251);
        r = api->co_send(req, buf, n, 30000);
        if (r < 0)
            break;
        off += (long long)n;
    }
    api->log(PH_LOG_INFO, "co_core %s: stream sent %lld returned %zd", c->gen, off, r < 0 ? r : 0);
    return r < 0 ? PH_ERROR : PH_OK;
}

static int do_body(co_core_t *c, ph_request_t *req)
{
    const ph_server_api_t *api = c->api;
    char buf[4096];
    unsigned long long total = 0;
    uint32_t sum = 0;
    for (;;) {
        ssize_t n = api->co_body_read(req, buf, sizeof buf, 10000);
        if (n == 0)
            break;
        if (n < 0) {
            api->log(PH_LOG_INFO, "co_core %s: body error %zd", c->gen, n);
            return PH_ERROR;
        }
        for (ssize_t i = 0; i < n; i++)
            sum += (unsigned char)buf[i];
        total += (unsigned long long)n;
        if (qnum(c, req, "slow", 0))
            api->co_sleep(1);
    }
    api->body_printf(req, "got %llu sum %u\n", total, sum);
    return PH_OK;
}

static int do_upgrade(co_core_t *c, ph_request_t *req)
{
    const ph_server_api_t *api = c->api;
    ph_sock_t *s = NULL;
    api->add_header(req, "Upgrade", "echo");
    if (api->upgrade(req, &s) != PH_OK) {
        api->remove_header(req, "Upgrade");
        api->body_printf(req, "no upgrade\n");
        return PH_OK;
    }
    char buf[4096];
    ssize_t n;
    for (;;) {
        n = api->sock_read(s, buf, sizeof buf, -1);
        if (n <= 0)
            break;
        ssize_t w = api->sock_write(s, buf, (size_t)n, 10000);
        if (w < 0) {
            n = w;
            break;
        }
    }
    api->log(PH_LOG_INFO, "co_core %s: tunnel ended %zd", c->gen, n);
    api->sock_close(s);
    return PH_OK;
}

static int co_handle(void *instance, ph_request_t *req)
{
    co_core_t *c = instance;
    const ph_server_api_t *api = c->api;
    ph_str_t p = api->subpath(req);
#define IS(s) (p.len == sizeof(s) - 1 && memcmp(p.ptr, s, p.len) == 0)
    if (!api->co_active())
        return PH_ERROR;
    if (IS("/now")) {
        api->body_printf(req, "now\n");
        return PH_OK;
    }
    if (IS("/sleep")) {
        long long ms = qnum(c, req, "ms", 10);
        if (api->co_sleep((uint64_t)ms) < 0)
            return PH_ERROR;
        api->body_printf(req, "slept %lld\n", ms);
        return PH_OK;
    }
    if (IS("/wait"))
        return do_wait(c, req);
    if (IS("/stream"))
        return do_stream(c, req, 1);
    if (IS("/short"))
        return do_stream(c, req, 0);
    if (IS("/body"))
        return do_body(c, req);
    if (IS("/upgrade"))
        return do_upgrade(c, req);
#undef IS
    return PH_DECLINED;
}

PH_PLUGIN_DEFINE("co_core", "1.0", PH_PLUGIN_COROUTINE | PH_PLUGIN_UPGRADE | PH_PLUGIN_STREAM_BODY, co_create,
                 co_handle, co_destroy);
