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
 *                        (offset % 251) in pieces of 64 KiB (&pace=MS:
 *                        co_sleep(MS) before each piece)
 *   /short?len=N         co_respond(N), sends N / 2 bytes and returns
 *   /body                reads the body with co_body_read: "got N sum S\n"
 *                        (S: the bytes' sum modulo 2^32), or logs the error
 *   /early               co_respond(-1) before reading the body, then
 *                        co_body_read (logged: "early body R") and
 *                        "early\n"
 *   /resume              misuse: calls resume() (refused: its return
 *                        answers), waits 20 ms: "resume R\n"
 *   /poll                a socket that waited once (so the loop watches it
 *                        between waits) is waited on with co_poll and
 *                        co_wait_fd: "poll R1 wait R2 ready R3\n"
 *   /upgrade             upgrade(): echoes what the client sends until it
 *                        closes or the wait fails (logged); "no upgrade\n"
 *                        when refused
 *
 *   /blocking            co_blocking() of a 30 ms sleep: "blocking R\n"
 *   /resolve?h=NAME      co_resolve("NAME:80"): "resolve R ADDR\n"
 *   /cancel              co_spawn()s a coroutine that waits 200 ms in
 *                        co_blocking and co_cancel()s it from the handler
 *                        (&twice=1: a spawned coroutine cancels it too):
 *                        "cancel R done 1\n" (R: what its wait returned)
 *
 * Route keys: gen = TEXT (default "-"), in the log lines, so a test tells a
 * reload's instances apart; spawn = yes: each worker thread runs a
 * background coroutine (co_spawn at thread_init) that sleeps until its
 * wait fails, and thread_exit co_cancel()s it if it still runs.
 * Log lines ("co_core GEN: ..."):
 *   "tag=T waiting", "tag=T wait returned R", "body error R",
 *   "tunnel ended R", "stream sent N returned R", "destroy",
 *   "background I ended R", "thread_exit I cancelled its background"
 */
#include <plughttpd/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PIECE (64 * 1024)

#define MAX_LOOPS 64

typedef struct co_core {
    const ph_server_api_t *api;
    char gen[32];
    int spawn;                 /* key spawn = yes */
    void *bg[MAX_LOOPS];       /* per loop: the background coroutine, NULL
                                  once it returned */
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
        if (strcmp(args->keys[i].key, "spawn") == 0 && args->api->parse_bool(args->keys[i].value, &c->spawn) == 0)
            continue;
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
    long long off = 0, pace = qnum(c, req, "pace", 0);
    ssize_t r = 0;
    while (off < todo) {
        if (pace && (r = api->co_sleep((uint64_t)pace)) < 0)
            break;
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

static int do_poll(co_core_t *c, ph_request_t *req)
{
    const ph_server_api_t *api = c->api;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return PH_ERROR;
    ph_sock_t *s = api->sock_new(sv[0], 0);
    if (s == NULL) {
        close(sv[1]);
        return PH_ERROR;
    }
    char b;
    ssize_t r0 = api->sock_read(s, &b, 1, 10);
    ph_pollfd_t p = {api->sock_fd(s), PH_EV_READ, 0};
    int r1 = api->co_poll(&p, 1, 20);
    int r2 = api->co_wait_fd(api->sock_fd(s), PH_EV_READ, 20);
    int r3 = -1;
    if (write(sv[1], "x", 1) == 1)
        r3 = api->co_wait_fd(api->sock_fd(s), PH_EV_READ, 1000);
    api->sock_close(s);
    close(sv[1]);
    api->body_printf(req, "read %zd poll %d wait %d ready %d\n", r0, r1, r2, r3);
    return PH_OK;
}

typedef struct bg {
    co_core_t *c;
    unsigned index;
    int *result;               /* /cancel: where the wait's result goes */
} bg_t;

static void background(void *arg)
{
    bg_t *b = arg;
    co_core_t *c = b->c;
    int r;
    while ((r = c->api->co_sleep(20)) == 0) {
    }
    c->api->log(PH_LOG_INFO, "co_core %s: background %u ended %d", c->gen, b->index, r);
    c->bg[b->index] = NULL;
    free(b);
}

static int co_thread_init(void *instance, unsigned index)
{
    co_core_t *c = instance;
    if (!c->spawn || index >= MAX_LOOPS)
        return PH_OK;
    bg_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return PH_ERROR;
    b->c = c;
    b->index = index;
    c->bg[index] = c->api->co_spawn(c->api->loop_at(index), background, b, 0);
    if (c->bg[index] == NULL) {
        free(b);
        return PH_ERROR;
    }
    return PH_OK;
}

static void co_thread_exit(void *instance, unsigned index)
{
    co_core_t *c = instance;
    if (index < MAX_LOOPS && c->bg[index]) {
        c->api->co_cancel(c->bg[index]);
        c->api->log(PH_LOG_INFO, "co_core %s: thread_exit %u cancelled its background", c->gen, index);
    }
}

static void nap(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 30 * 1000000};
    nanosleep(&ts, NULL);
}

typedef struct sleeper {
    const ph_server_api_t *api;
    int result, done;
} sleeper_t;

static void long_nap(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits 200 ms in co_blocking, which a cancellation does not cut short:
 * co_cancel() callers wait for it, and it returns -ECANCELED. */
static void sleeper(void *arg)
{
    sleeper_t *sl = arg;
    sl->result = sl->api->co_blocking(long_nap, NULL);
    sl->done = 1;
}

typedef struct canceller {
    co_core_t *c;
    void *target;
} canceller_t;

static void canceller(void *arg)
{
    canceller_t *k = arg;
    k->c->api->co_cancel(k->target);
    k->c->api->log(PH_LOG_INFO, "co_core %s: second canceller returned", k->c->gen);
    free(k);
}

static int do_cancel(co_core_t *c, ph_request_t *req)
{
    const ph_server_api_t *api = c->api;
    sleeper_t *sl = api->alloc(req, sizeof *sl);
    if (sl == NULL)
        return PH_ERROR;
    *sl = (sleeper_t){api, 0, 0};
    void *h = api->co_spawn(api->loop_of(req), sleeper, sl, 0);
    if (h == NULL)
        return PH_ERROR;
    api->co_sleep(20); /* it starts and waits */
    if (qnum(c, req, "twice", 0)) { /* a background coroutine cancels it too */
        canceller_t *k = calloc(1, sizeof *k);
        if (k == NULL)
            return PH_ERROR;
        *k = (canceller_t){c, h};
        if (api->co_spawn(api->loop_of(req), canceller, k, 0) == NULL) {
            free(k);
            return PH_ERROR;
        }
        api->co_sleep(5); /* it waits in co_cancel first */
    }
    api->co_cancel(h);
    api->body_printf(req, "cancel %d done %d\n", sl->result, sl->done);
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
    if (IS("/poll"))
        return do_poll(c, req);
    if (IS("/resume")) {
        int r = api->resume(req, PH_OK);
        if (api->co_sleep(20) < 0)
            return PH_ERROR;
        api->body_printf(req, "resume %d\n", r);
        return PH_OK;
    }
    if (IS("/early")) {
        char b[16];
        if (api->co_respond(req, -1) < 0)
            return PH_ERROR;
        ssize_t r = api->co_body_read(req, b, sizeof b, 10000);
        api->log(PH_LOG_INFO, "co_core %s: early body %zd", c->gen, r);
        return api->co_send(req, "early\n", 6, 10000) == 6 ? PH_OK : PH_ERROR;
    }
    if (IS("/cancel"))
        return do_cancel(c, req);
    if (IS("/blocking")) {
        int r = api->co_blocking(nap, NULL);
        api->body_printf(req, "blocking %d\n", r);
        return PH_OK;
    }
    if (IS("/resolve")) {
        char host[300], out[80] = "";
        ph_str_t q = api->query(req);
        if (q.len < 3 || q.len > 250 || memcmp(q.ptr, "h=", 2) != 0)
            return PH_DECLINED;
        snprintf(host, sizeof host, "%.*s:80", (int)q.len - 2, q.ptr + 2);
        int r = api->co_resolve(host, out, sizeof out, 5000);
        api->body_printf(req, "resolve %d %s\n", r, out);
        return PH_OK;
    }
    if (IS("/upgrade"))
        return do_upgrade(c, req);
#undef IS
    return PH_DECLINED;
}

static const ph_hooks_t hooks = {sizeof hooks, .thread_init = co_thread_init, .thread_exit = co_thread_exit};

PH_PLUGIN_DEFINE_HOOKS("co_core", "1.0", PH_PLUGIN_COROUTINE | PH_PLUGIN_UPGRADE | PH_PLUGIN_STREAM_BODY, co_create,
                       co_handle, co_destroy, &hooks);
