/*
 * Fixture: a blocking plugin (PH_PLUGIN_BLOCKING) that streams its answer
 * with co_respond() and co_send() from its helper thread (ABI 1.8), for
 * tests/integration/test_bstream.py. Built twice: bsend at this tree's
 * minor, and bsend7, which claims minor 7 and so must still get -EPERM.
 *
 *   /stream?len=N&known=K  co_respond(K ? N : -1), then N bytes of
 *                          (offset % 251) in pieces of 64 KiB
 *                          &pace=MS   sleeps MS before each piece
 *                          &timeout=MS co_send's timeout (-1 unless set)
 *                          &stop=B    returns PH_ERROR once B bytes went
 *                          &short=1   sends N / 2 bytes of the N announced
 *   /misuse                co_send() before co_respond(), co_respond() from
 *                          another thread, then twice (5 bytes), co_send()
 *                          past the length; logs "bsend: misuse R1 R2 R3 R4
 *                          R5" and sends "hello" (status 299)
 *
 * Each /stream logs "bsend: sent N returned R" when handle() ends (R: the
 * last co_send's result, 0 when none failed). A co_respond() that is
 * refused answers "co_respond R\n" instead (status 200).
 */
#include <plughttpd/plugin.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIECE (64 * 1024)

typedef struct bsend {
    const ph_server_api_t *api;
} bsend_t;

static int bs_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    bsend_t *b = calloc(1, sizeof *b);
    if (b == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        err->key = -1;
        return PH_ERROR;
    }
    b->api = args->api;
    *instance = b;
    return PH_OK;
}

static void bs_destroy(void *instance) { free(instance); }

/* The integer after "name=" in the query, or def. */
static long long arg(ph_str_t q, const char *name, long long def)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + n < q.len; i++) {
        if ((i == 0 || q.ptr[i - 1] == '&') && memcmp(q.ptr + i, name, n) == 0 && q.ptr[i + n] == '=')
            return strtoll(q.ptr + i + n + 1, NULL, 10);
    }
    return def;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int stream(const ph_server_api_t *api, ph_request_t *req)
{
    ph_str_t q = api->query(req);
    long long len = arg(q, "len", 0), pace = arg(q, "pace", 0), stop = arg(q, "stop", -1);
    long long timeout = arg(q, "timeout", -1);
    int known = (int)arg(q, "known", 1), half = (int)arg(q, "short", 0);
    unsigned char *piece = malloc(PIECE + 251);
    if (piece == NULL)
        return PH_ERROR;
    for (size_t i = 0; i < PIECE + 251; i++)
        piece[i] = (unsigned char)(i % 251);
    api->add_header(req, "X-Bsend", "yes");
    int rc = api->co_respond(req, known ? len : -1);
    if (rc != 0) {
        free(piece);
        return api->body_printf(req, "co_respond %d\n", rc);
    }
    long long sent = 0, end = half ? len / 2 : len;
    ssize_t last = 0;
    while (sent < end && last >= 0) {
        if (stop >= 0 && sent >= stop)
            break;
        if (pace > 0)
            sleep_ms(pace);
        size_t n = end - sent < PIECE ? (size_t)(end - sent) : PIECE;
        last = api->co_send(req, piece + sent % 251, n, timeout);
        if (last > 0)
            sent += last;
    }
    free(piece);
    api->log(PH_LOG_INFO, "bsend: sent %lld returned %zd", sent, last < 0 ? last : 0);
    return stop >= 0 && sent >= stop ? PH_ERROR : PH_OK;
}

typedef struct other {
    const ph_server_api_t *api;
    ph_request_t *req;
    int rc;
} other_t;

static void *respond_elsewhere(void *arg)
{
    other_t *o = arg;
    o->rc = o->api->co_respond(o->req, -1);
    return NULL;
}

static int misuse(const ph_server_api_t *api, ph_request_t *req)
{
    other_t o = {api, req, 0};
    pthread_t t;
    ssize_t early = api->co_send(req, "x", 1, 1000);
    if (pthread_create(&t, NULL, respond_elsewhere, &o) != 0)
        return PH_ERROR;
    pthread_join(t, NULL);
    api->set_status(req, 299);
    int first = api->co_respond(req, 5);
    int twice = api->co_respond(req, 5);
    ssize_t over = api->co_send(req, "123456", 6, 1000);
    api->log(PH_LOG_INFO, "bsend: misuse %zd %d %d %d %zd", early, o.rc, first, twice, over);
    return api->co_send(req, "hello", 5, 1000) == 5 ? PH_OK : PH_ERROR;
}

static int bs_handle(void *instance, ph_request_t *req)
{
    const bsend_t *b = instance;
    const ph_server_api_t *api = b->api;
    ph_str_t sub = api->subpath(req);
    if (sub.len == 7 && memcmp(sub.ptr, "/stream", 7) == 0)
        return stream(api, req);
    if (sub.len == 7 && memcmp(sub.ptr, "/misuse", 7) == 0)
        return misuse(api, req);
    return PH_DECLINED;
}

#ifdef BSEND_MINOR7
/* The descriptor as a plugin built at ABI 1.7 has it. */
PH_EXPORT extern const ph_plugin_t plughttpd_plugin;
PH_EXPORT const ph_plugin_t plughttpd_plugin = {
    PH_ABI_MAGIC, PH_ABI_MAJOR, 7, (uint32_t)sizeof(ph_plugin_t), PH_PLUGIN_BLOCKING, "bsend7", "1.0",
    bs_create,    bs_handle,    bs_destroy, NULL};
#else
PH_PLUGIN_DEFINE("bsend", "1.0", PH_PLUGIN_BLOCKING, bs_create, bs_handle, bs_destroy);
#endif
