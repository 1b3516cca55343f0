/*
 * Fixture: coroutine handlers (ABI 1.4), one subpath per api->co_* and
 * api->sock_* call, reporting each result in the response body so a test
 * asserts exact values. Built twice: cofx (PH_PLUGIN_COROUTINE: the body
 * is buffered before handle() runs) and, with -DCOFX_STREAM, cofxs
 * (PH_PLUGIN_COROUTINE | PH_PLUGIN_STREAM_BODY: handle() runs at the end
 * of the head and reads the body as it arrives).
 *
 * Results are written as 0, a count, or the errno name ("-ETIMEDOUT").
 * Every wait has its own timeout, given in the query, so a test that sets
 * distinct values sees which one fired. A wait that returns -ECANCELED
 * logs
 *     "cofx: cancelled WHAT on PREFIX; next wait RC after MS ms"
 * (the next wait being a co_sleep(60000), which the contract says returns
 * -ECANCELED at once), and the handler unwinds: everything it holds is
 * freed, so a leak checker at exit sees what the server did not free.
 * Before a wait a test needs to interrupt, "cofx: waiting WHAT on PREFIX"
 * is logged.
 *
 * Subpaths (query keys in brackets; ms values are milliseconds, -1 none):
 *   /info                 "co_active=1\n"
 *   /sleep [ms]           "sleep MS: RC\n"
 *   /hold [flag,every]    counts itself waiting (see /holding), then
 *                         co_sleep(every) until the file flag exists:
 *                         "hold: released\n"
 *   /holding              "holding N\n": /hold handlers waiting now
 *   /wait_fd [after,timeout,close]
 *                         a pipe; a loop timer writes a byte to it after
 *                         `after` ms (or, with close=1, closes its write
 *                         end); "wait_fd: RC\n", RC the events (1 READ,
 *                         4 HUP) or an error
 *   /poll [after,timeout] pipes A and B, a timer writes to B after
 *                         `after`: "poll: RC revents=A,B\n", then A alone
 *                         with timeout 0 "poll now: RC\n", then A's write
 *                         end for writing "poll write: RC revents=W\n"
 *   /resolve [name,cap,timeout]
 *                         "resolve NAME: RC ADDRESS\n"
 *   /sock [addr,op,timeout]
 *                         co_connect(addr) to the test's line server, then
 *                         op = lines (the default), nobufs, early, silent,
 *                         sink (see below); "connect: RC\n" when it fails
 *   /socknew              sock_new() on one end of a socketpair
 *   /blocking [ms]        co_blocking(a function sleeping ms on a helper
 *                         thread): "blocking: RC ran=1 other_thread=1\n"
 *   /spawn                route key spawn = yes: waits until this thread's
 *                         co_spawn()ed ticker has ticked 3 times
 *   /body [every,timeout,cap]
 *                         co_body_read() until the end, co_sleep(every)
 *                         between reads: "body: len=N fnv=HEX reads=K\n"
 *                         or "body: RC after N bytes\n"
 *   /respond [len,pieces,over,big,timeout,trailer]
 *                         status 201, X-Cofx: yes, co_respond(len) (len -1:
 *                         unknown), co_send() of "piece I\n" for each
 *                         piece (over=1: one byte less announced than
 *                         sent; big=N: N pieces of 64 KiB of 'x' instead);
 *                         trailer=1: X-Cofx-Pieces: N
 *   /deep                 recurses without bound: a stack overflow
 *
 * Route keys: tag = TEXT (default "-"), spawn = yes|no (thread_init
 * starts a ticker coroutine per worker thread with co_spawn; thread_exit
 * stops it with co_cancel).
 */
#include <plughttpd/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef COFX_STREAM
#define COFX_NAME "cofxs"
#define COFX_FLAGS (PH_PLUGIN_COROUTINE | PH_PLUGIN_STREAM_BODY)
#else
#define COFX_NAME "cofx"
#define COFX_FLAGS PH_PLUGIN_COROUTINE
#endif

#define COFX_MAX_THREADS 256u
#define COFX_BIG_PIECE 65536u

/* One co_spawn()ed ticker per worker thread (spawn = yes). Loop thread
 * only: handle is NULL once the ticker has returned, so thread_exit never
 * cancels a handle that is no longer valid. */
typedef struct ticker {
    const struct cofx *f;
    unsigned index;
    void *handle;
    unsigned long ticks;
    int outside_active, outside_sleep; /* thread_init's co_active, co_sleep */
} ticker_t;

typedef struct cofx {
    const ph_server_api_t *api;
    char tag[64];
    int spawn;
    unsigned threads;
    ticker_t *tickers; /* [threads] with spawn = yes */
    unsigned long holding; /* /hold handlers waiting (atomic) */
} cofx_t;

static const char *errname(long rc)
{
    static const struct {
        int e;
        const char *n;
    } names[] = {{ETIMEDOUT, "-ETIMEDOUT"},     {ECANCELED, "-ECANCELED"}, {EPERM, "-EPERM"},
                 {ENOENT, "-ENOENT"},           {EAGAIN, "-EAGAIN"},       {ENOSPC, "-ENOSPC"},
                 {ECONNREFUSED, "-ECONNREFUSED"}, {EPIPE, "-EPIPE"},       {ENOBUFS, "-ENOBUFS"},
                 {EMSGSIZE, "-EMSGSIZE"},       {ENOMEM, "-ENOMEM"},       {ECONNRESET, "-ECONNRESET"},
                 {EINVAL, "-EINVAL"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (rc == -names[i].e)
            return names[i].n;
    return NULL;
}

/* rc as the body and the log write it: "0", "12", "-ETIMEDOUT". */
static const char *rcstr(long rc, char *buf, size_t cap)
{
    const char *n = errname(rc);
    if (n)
        return n;
    snprintf(buf, cap, "%ld", rc);
    return buf;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The value of key in the query ("" when absent), copied to out. */
static const char *qget(const cofx_t *f, ph_request_t *req, const char *key, char *out, size_t cap)
{
    ph_str_t q = f->api->query(req);
    size_t klen = strlen(key);
    out[0] = '\0';
    for (size_t i = 0; q.ptr && i < q.len;) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        if (end - i > klen && memcmp(q.ptr + i, key, klen) == 0 && q.ptr[i + klen] == '=') {
            size_t vlen = end - i - klen - 1;
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, q.ptr + i + klen + 1, vlen);
            out[vlen] = '\0';
            return out;
        }
        i = end + 1;
    }
    return out;
}

static long long qnum(const cofx_t *f, ph_request_t *req, const char *key, long long dflt)
{
    char v[32];
    if (!*qget(f, req, key, v, sizeof v))
        return dflt;
    return strtoll(v, NULL, 10);
}

/* A wait came back cancelled: the log line tests wait on, after checking
 * that the next wait does not wait. */
static void cancelled(const cofx_t *f, ph_request_t *req, const char *what)
{
    int64_t t0 = now_ms();
    int rc = f->api->co_sleep(60000);
    char b[32];
    ph_str_t p = req ? f->api->prefix(req) : (ph_str_t){"-", 1};
    f->api->log(PH_LOG_INFO, "cofx: cancelled %s on %.*s; next wait %s after %lld ms", what, (int)p.len, p.ptr,
                rcstr(rc, b, sizeof b), (long long)(now_ms() - t0));
}

static void waiting(const cofx_t *f, ph_request_t *req, const char *what)
{
    ph_str_t p = f->api->prefix(req);
    f->api->log(PH_LOG_INFO, "cofx: waiting %s on %.*s", what, (int)p.len, p.ptr);
}

/* Reports rc of a wait: cancelled -> log, then the caller unwinds. */
static int report(const cofx_t *f, ph_request_t *req, const char *what, long rc)
{
    char b[32];
    if (rc == -ECANCELED) {
        cancelled(f, req, what);
        return -1;
    }
    f->api->body_printf(req, "%s: %s\n", what, rcstr(rc, b, sizeof b));
    return 0;
}

/* --- /sleep, /hold ------------------------------------------------------- */

static int do_sleep(cofx_t *f, ph_request_t *req)
{
    long long ms = qnum(f, req, "ms", 10);
    waiting(f, req, "sleep");
    int rc = f->api->co_sleep((uint64_t)ms);
    char b[32];
    if (rc == -ECANCELED) {
        cancelled(f, req, "sleep");
        return PH_OK;
    }
    return f->api->body_printf(req, "sleep %lld: %s\n", ms, rcstr(rc, b, sizeof b));
}

static int do_hold(cofx_t *f, ph_request_t *req)
{
    char flag[512];
    qget(f, req, "flag", flag, sizeof flag);
    long long every = qnum(f, req, "every", 200);
    int rc = 0;
    __atomic_add_fetch(&f->holding, 1, __ATOMIC_RELAXED);
    /* access() does not block on a local file; it is what a holder checks
     * between its sleeps. */
    while (flag[0] && access(flag, F_OK) != 0 && rc == 0)
        rc = f->api->co_sleep((uint64_t)every);
    __atomic_sub_fetch(&f->holding, 1, __ATOMIC_RELAXED);
    if (rc == -ECANCELED) {
        cancelled(f, req, "hold");
        return PH_OK;
    }
    return f->api->body_printf(req, "hold: released\n");
}

/* --- /wait_fd, /poll: pipes written by a loop timer ---------------------- */

typedef struct pipe_timer {
    const ph_server_api_t *api;
    int fd;     /* the write end: written (or closed) when the timer fires */
    int close;  /* 1: close fd instead of writing */
} pipe_timer_t;

static void pipe_timer_fire(ph_timer_t *t, void *arg)
{
    pipe_timer_t *pt = arg;
    (void)t;
    if (pt->close) {
        close(pt->fd);
        pt->fd = -1;
    } else if (write(pt->fd, "x", 1) != 1) {
        pt->api->log(PH_LOG_ERROR, "cofx: pipe write failed: %s", strerror(errno));
    }
}

static int new_pipe(int p[2])
{
    return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

static int do_wait_fd(cofx_t *f, ph_request_t *req)
{
    const ph_server_api_t *api = f->api;
    long long after = qnum(f, req, "after", -1), timeout = qnum(f, req, "timeout", 1000);
    int p[2];
    if (new_pipe(p) < 0)
        return PH_ERROR;
    pipe_timer_t pt = {api, p[1], (int)qnum(f, req, "close", 0)};
    ph_timer_t *t = NULL;
    if (after >= 0) {
        t = api->timer_new(api->loop_current(), pipe_timer_fire, &pt);
        if (t)
            api->timer_set(t, (uint64_t)after);
    }
    waiting(f, req, "wait_fd");
    int rc = api->co_wait_fd(p[0], PH_EV_READ, timeout);
    if (t)
        api->timer_free(t);
    close(p[0]);
    if (pt.fd >= 0)
        close(pt.fd);
    report(f, req, "wait_fd", rc);
    return PH_OK;
}

static int do_poll(cofx_t *f, ph_request_t *req)
{
    const ph_server_api_t *api = f->api;
    long long after = qnum(f, req, "after", -1), timeout = qnum(f, req, "timeout", 1000);
    int a[2], b[2];
    if (new_pipe(a) < 0)
        return PH_ERROR;
    if (new_pipe(b) < 0) {
        close(a[0]);
        close(a[1]);
        return PH_ERROR;
    }
    pipe_timer_t pt = {api, b[1], 0};
    ph_timer_t *t = NULL;
    if (after >= 0) {
        t = api->timer_new(api->loop_current(), pipe_timer_fire, &pt);
        if (t)
            api->timer_set(t, (uint64_t)after);
    }
    ph_pollfd_t fds[2] = {{a[0], PH_EV_READ, 99}, {b[0], PH_EV_READ, 99}};
    waiting(f, req, "poll");
    int rc = api->co_poll(fds, 2, timeout);
    char s[32];
    if (rc == -ECANCELED) {
        cancelled(f, req, "poll");
    } else {
        api->body_printf(req, "poll: %s revents=%u,%u\n", rcstr(rc, s, sizeof s), fds[0].revents, fds[1].revents);
        ph_pollfd_t now = {a[0], PH_EV_READ, 99};
        rc = api->co_poll(&now, 1, 0);
        api->body_printf(req, "poll now: %s\n", rcstr(rc, s, sizeof s));
        ph_pollfd_t w = {a[1], PH_EV_WRITE, 99};
        rc = api->co_poll(&w, 1, 0);
        api->body_printf(req, "poll write: %s revents=%u\n", rcstr(rc, s, sizeof s), w.revents);
    }
    if (t)
        api->timer_free(t);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    return PH_OK;
}

/* --- /resolve ------------------------------------------------------------- */

static int do_resolve(cofx_t *f, ph_request_t *req)
{
    char name[256], s[32];
    qget(f, req, "name", name, sizeof name);
    long long cap = qnum(f, req, "cap", 128);
    if (cap < 1 || cap > 128)
        cap = 128;
    char *out = f->api->alloc(req, 128);
    if (out == NULL)
        return PH_ERROR;
    memset(out, 0, 128);
    int rc = f->api->co_resolve(name, out, (size_t)cap, qnum(f, req, "timeout", 5000));
    if (rc == -ECANCELED) {
        cancelled(f, req, "resolve");
        return PH_OK;
    }
    return f->api->body_printf(req, "resolve %s: %s%s%s\n", name, rcstr(rc, s, sizeof s), rc == 0 ? " " : "",
                               rc == 0 ? out : "");
}

/* --- /sock: the test's line server ------------------------------------------
 * It answers "echo TEXT" with "TEXT\n", "two" with "a\r\n\r\nb\n" in one
 * write, "bytes N" with N digits "0123456789..." (no newline),
 * "close-after TEXT" with TEXT and then its end of stream, and "silent"
 * with nothing (it keeps the connection open and stops reading).
 */

typedef struct sockop {
    cofx_t *f;
    ph_request_t *req;
    const char *addr;
    int64_t timeout;
} sockop_t;

/* A line of the result: what the call returned and, for reads, the bytes. */
static int out_read(sockop_t *o, const char *what, long rc, const char *data)
{
    char s[32];
    if (rc == -ECANCELED) {
        cancelled(o->f, o->req, what);
        return -1;
    }
    if (rc > 0 && data)
        o->f->api->body_printf(o->req, "%s: %ld [%.*s]\n", what, rc, (int)rc, data);
    else
        o->f->api->body_printf(o->req, "%s: %s\n", what, rcstr(rc, s, sizeof s));
    return 0;
}

/* Connects and sends cmd; NULL (reported) when either fails. */
static ph_sock_t *sock_cmd(sockop_t *o, const char *cmd)
{
    const ph_server_api_t *api = o->f->api;
    ph_sock_t *s = NULL;
    int rc = api->co_connect(o->addr, o->timeout, &s);
    if (rc != 0) {
        out_read(o, "connect", rc, NULL);
        return NULL;
    }
    ssize_t w = api->sock_write(s, cmd, strlen(cmd), o->timeout);
    if (w != (ssize_t)strlen(cmd)) {
        out_read(o, "write", w, NULL);
        api->sock_close(s);
        return NULL;
    }
    return s;
}

static void op_lines(sockop_t *o)
{
    const ph_server_api_t *api = o->f->api;
    ph_sock_t *s = sock_cmd(o, "echo hello\n");
    if (!s)
        return;
    ph_str_t line = {NULL, 0};
    char buf[16];
    ssize_t rc = api->sock_read_until(s, "\n", 1, 64, &line, o->timeout);
    if (out_read(o, "until", rc, line.ptr) < 0)
        goto out;
    rc = api->sock_write(s, "two\n", 4, o->timeout);
    if (out_read(o, "write", rc, NULL) < 0)
        goto out;
    rc = api->sock_read_until(s, "\r\n\r\n", 4, 64, &line, o->timeout);
    if (out_read(o, "until crlfcrlf", rc, line.ptr) < 0)
        goto out;
    api->body_printf(o->req, "buffered: %zu\n", api->sock_buffered(s));
    rc = api->sock_read_exactly(s, buf, 2, o->timeout);
    if (out_read(o, "exactly", rc, buf) < 0)
        goto out;
    rc = api->sock_write(s, "bytes 10\n", 9, o->timeout);
    if (out_read(o, "write", rc, NULL) < 0)
        goto out;
    rc = api->sock_read_exactly(s, buf, 10, o->timeout);
    if (out_read(o, "exactly", rc, buf) < 0)
        goto out;
    api->body_printf(o->req, "buffered: %zu\n", api->sock_buffered(s));
out:
    api->sock_close(s);
}

/* read_until over max: 100 bytes without the delimiter, max 50. */
static void op_nobufs(sockop_t *o)
{
    ph_sock_t *s = sock_cmd(o, "bytes 100\n");
    if (!s)
        return;
    ph_str_t line = {NULL, 0};
    ssize_t rc = o->f->api->sock_read_until(s, "\n", 1, 50, &line, o->timeout);
    out_read(o, "until max 50", rc, NULL);
    o->f->api->sock_close(s);
}

/* The stream ends early: read_until, read_exactly, then sock_read to 0. */
static void op_early(sockop_t *o)
{
    const ph_server_api_t *api = o->f->api;
    ph_str_t line = {NULL, 0};
    char buf[16];
    ph_sock_t *s = sock_cmd(o, "close-after abc\n");
    if (!s)
        return;
    ssize_t rc = api->sock_read_until(s, "\n", 1, 64, &line, o->timeout);
    api->sock_close(s);
    if (out_read(o, "until at end", rc, NULL) < 0 || !(s = sock_cmd(o, "close-after abcdef\n")))
        return;
    rc = api->sock_read_exactly(s, buf, 10, o->timeout);
    api->sock_close(s);
    if (out_read(o, "exactly at end", rc, NULL) < 0 || !(s = sock_cmd(o, "close-after xyz\n")))
        return;
    rc = api->sock_read(s, buf, sizeof buf, o->timeout);
    if (out_read(o, "read", rc, buf) == 0 && rc > 0) {
        rc = api->sock_read(s, buf, sizeof buf, o->timeout);
        out_read(o, "read", rc, buf);
    }
    api->sock_close(s);
}

/* Waits for data that never comes: -ETIMEDOUT, or cancelled. */
static void op_silent(sockop_t *o)
{
    ph_sock_t *s = sock_cmd(o, "silent\n");
    if (!s)
        return;
    char buf[16];
    waiting(o->f, o->req, "sock_read");
    out_read(o, "sock_read", o->f->api->sock_read(s, buf, sizeof buf, o->timeout), buf);
    o->f->api->sock_close(s);
}

/* Writes to a peer that does not read until the write waits: -ETIMEDOUT,
 * or cancelled. */
static void op_sink(sockop_t *o)
{
    const ph_server_api_t *api = o->f->api;
    ph_sock_t *s = sock_cmd(o, "silent\n");
    if (!s)
        return;
    size_t n = 1u << 20;
    char *chunk = calloc(1, n);
    ssize_t rc = chunk ? 0 : -ENOMEM;
    waiting(o->f, o->req, "sock_write");
    for (int i = 0; i < 256 && rc >= 0; i++)
        rc = api->sock_write(s, chunk, n, o->timeout);
    free(chunk);
    out_read(o, "sock_write", rc, NULL);
    api->sock_close(s);
}

static int do_sock(cofx_t *f, ph_request_t *req)
{
    char addr[256], op[32];
    qget(f, req, "addr", addr, sizeof addr);
    qget(f, req, "op", op, sizeof op);
    sockop_t o = {f, req, addr, qnum(f, req, "timeout", 5000)};
    if (!op[0] || strcmp(op, "lines") == 0)
        op_lines(&o);
    else if (strcmp(op, "nobufs") == 0)
        op_nobufs(&o);
    else if (strcmp(op, "early") == 0)
        op_early(&o);
    else if (strcmp(op, "silent") == 0)
        op_silent(&o);
    else if (strcmp(op, "sink") == 0)
        op_sink(&o);
    else if (strcmp(op, "connect") == 0) {
        ph_sock_t *s = NULL;
        int rc = f->api->co_connect(addr, o.timeout, &s);
        out_read(&o, "connect", rc, NULL);
        if (s)
            f->api->sock_close(s);
    } else
        return f->api->send_error(req, 400, "unknown op");
    return PH_OK;
}

/* sock_new() on a socketpair whose other end the handler writes itself. */
static int do_socknew(cofx_t *f, ph_request_t *req)
{
    const ph_server_api_t *api = f->api;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return PH_ERROR;
    ph_sock_t *s = api->sock_new(sv[0], 32);
    if (s == NULL) {
        close(sv[1]);
        return PH_ERROR;
    }
    sockop_t o = {f, req, "", 1000};
    api->body_printf(req, "fd: %s\n", api->sock_fd(s) == sv[0] ? "same" : "other");
    if (write(sv[1], "ping\nrest", 9) != 9)
        api->body_printf(req, "socketpair write failed\n");
    ph_str_t line = {NULL, 0};
    char buf[16];
    ssize_t n = api->sock_read_until(s, "\n", 1, 32, &line, 1000);
    if (out_read(&o, "until", n, line.ptr) == 0) {
        api->body_printf(req, "buffered: %zu\n", api->sock_buffered(s));
        close(sv[1]);
        sv[1] = -1;
        ssize_t rc = api->sock_read(s, buf, sizeof buf, 1000);
        if (out_read(&o, "read", rc, buf) == 0 && rc > 0)
            out_read(&o, "read", api->sock_read(s, buf, sizeof buf, 1000), buf);
    }
    if (sv[1] >= 0)
        close(sv[1]);
    api->sock_close(s);
    return PH_OK;
}

/* --- /blocking ------------------------------------------------------------- */

typedef struct blocking_job {
    const ph_server_api_t *api;
    long long ms;
    pid_t loop_tid;
    int ran, other_thread;
} blocking_job_t;

static void blocking_fn(void *arg)
{
    blocking_job_t *j = arg;
    struct timespec ts = {j->ms / 1000, (j->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    j->other_thread = (pid_t)syscall(SYS_gettid) != j->loop_tid;
    j->ran = 1;
    j->api->log(PH_LOG_INFO, "cofx: blocking fn done after %lld ms", j->ms);
}

static int do_blocking(cofx_t *f, ph_request_t *req)
{
    blocking_job_t j = {f->api, qnum(f, req, "ms", 20), (pid_t)syscall(SYS_gettid), 0, 0};
    waiting(f, req, "blocking");
    int rc = f->api->co_blocking(blocking_fn, &j);
    char s[32];
    if (rc == -ECANCELED) {
        /* co_blocking waited for fn even so: j is no longer used */
        f->api->log(PH_LOG_INFO, "cofx: blocking cancelled with ran=%d", j.ran);
        cancelled(f, req, "blocking");
        return PH_OK;
    }
    return f->api->body_printf(req, "blocking: %s ran=%d other_thread=%d\n", rcstr(rc, s, sizeof s), j.ran,
                               j.other_thread);
}

/* --- co_spawn: one ticker per worker thread -------------------------------- */

static void ticker_run(void *arg)
{
    ticker_t *t = arg;
    const ph_server_api_t *api = t->f->api;
    int rc;
    while ((rc = api->co_sleep(20)) == 0)
        t->ticks++;
    char s[32];
    api->log(PH_LOG_INFO, "cofx[%s]: ticker %u ends: %s, active=%d", t->f->tag, t->index, rcstr(rc, s, sizeof s),
             api->co_active());
    if (rc == -ECANCELED)
        cancelled(t->f, NULL, "ticker");
    t->handle = NULL;
}

static int cofx_thread_init(void *instance, unsigned index)
{
    cofx_t *f = instance;
    if (!f->spawn || index >= f->threads)
        return PH_OK;
    ticker_t *t = &f->tickers[index];
    t->outside_active = f->api->co_active();
    t->outside_sleep = f->api->co_sleep(1);
    t->handle = f->api->co_spawn(f->api->loop_current(), ticker_run, t, 0);
    f->api->log(PH_LOG_INFO, "cofx[%s]: thread_init %u spawned=%d", f->tag, index, t->handle != NULL);
    return t->handle ? PH_OK : PH_ERROR;
}

static void cofx_thread_exit(void *instance, unsigned index)
{
    cofx_t *f = instance;
    if (!f->spawn || index >= f->threads)
        return;
    ticker_t *t = &f->tickers[index];
    int was_running = t->handle != NULL;
    if (was_running)
        f->api->co_cancel(t->handle);
    f->api->log(PH_LOG_INFO, "cofx[%s]: thread_exit %u running=%d ended=%d ticked=%d", f->tag, index, was_running,
                t->handle == NULL, t->ticks > 0);
}

static int do_spawn(cofx_t *f, ph_request_t *req)
{
    ph_loop_t *me = f->api->loop_current();
    unsigned i = 0;
    while (i < f->api->loops() && f->api->loop_at(i) != me)
        i++;
    if (!f->spawn || i >= f->threads)
        return f->api->send_error(req, 409, "no ticker on this thread");
    ticker_t *t = &f->tickers[i];
    unsigned long start = t->ticks;
    int rc = 0;
    for (int n = 0; n < 500 && t->ticks < start + 3 && rc == 0; n++)
        rc = f->api->co_sleep(10);
    if (rc == -ECANCELED) {
        cancelled(f, req, "spawn");
        return PH_OK;
    }
    char a[32];
    return f->api->body_printf(req, "outside: co_active=%d co_sleep=%s\nticker: %s\n", t->outside_active,
                               rcstr(t->outside_sleep, a, sizeof a),
                               t->ticks >= start + 3 ? "ticking" : "stuck");
}

/* --- /body ------------------------------------------------------------------ */

static int do_body(cofx_t *f, ph_request_t *req)
{
    const ph_server_api_t *api = f->api;
    long long every = qnum(f, req, "every", 0), timeout = qnum(f, req, "timeout", 5000);
    long long cap = qnum(f, req, "cap", 16384);
    if (cap < 1 || cap > 1 << 20)
        cap = 16384;
    char *buf = malloc((size_t)cap);
    if (buf == NULL)
        return PH_ERROR;
    uint64_t fnv = 0xcbf29ce484222325ULL, len = 0;
    unsigned long reads = 0;
    ssize_t n;
    waiting(f, req, "body_read");
    while ((n = api->co_body_read(req, buf, (size_t)cap, timeout)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            fnv ^= (unsigned char)buf[i];
            fnv *= 0x100000001b3ULL;
        }
        len += (uint64_t)n;
        reads++;
        if (every > 0 && api->co_sleep((uint64_t)every) == -ECANCELED) {
            n = -ECANCELED;
            break;
        }
    }
    free(buf);
    char s[32];
    if (n == -ECANCELED) {
        cancelled(f, req, "body_read");
        return PH_OK;
    }
    if (n < 0) {
        api->log(PH_LOG_INFO, "cofx: body ended with %s after %llu bytes", rcstr(n, s, sizeof s),
                 (unsigned long long)len);
        return api->body_printf(req, "body: %s after %llu bytes\n", rcstr(n, s, sizeof s), (unsigned long long)len);
    }
    return api->body_printf(req, "body: len=%llu fnv=%016llx reads=%s\n", (unsigned long long)len,
                            (unsigned long long)fnv, reads > 0 || len == 0 ? "ok" : "none");
}

/* --- /respond ----------------------------------------------------------------- */

static int do_respond(cofx_t *f, ph_request_t *req)
{
    const ph_server_api_t *api = f->api;
    long long len = qnum(f, req, "len", -1), pieces = qnum(f, req, "pieces", 3), big = qnum(f, req, "big", 0);
    long long timeout = qnum(f, req, "timeout", 5000);
    int over = (int)qnum(f, req, "over", 0), trailer = (int)qnum(f, req, "trailer", 0);
    char s[32], piece[32], count[32];
    if (pieces < 0 || pieces > 1000 || big < 0 || big > 100000)
        return api->send_error(req, 400, "bad counts");
    if (len == -2) { /* announce exactly what is sent */
        len = 0;
        for (long long i = 0; i < pieces; i++)
            len += snprintf(piece, sizeof piece, "piece %lld\n", i);
        len -= over;
    }
    api->set_status(req, 201);
    api->add_header(req, "X-Cofx", "yes");
    int rc = api->co_respond(req, len);
    if (rc != PH_OK) {
        api->log(PH_LOG_INFO, "cofx: co_respond(%lld) refused: %d", len, rc);
        return PH_ERROR;
    }
    char *chunk = big ? calloc(1, COFX_BIG_PIECE) : NULL;
    if (big && !chunk)
        return PH_ERROR;
    if (chunk)
        memset(chunk, 'x', COFX_BIG_PIECE);
    ssize_t w = 0;
    if (big)
        waiting(f, req, "send");
    for (long long i = 0; i < (big ? big : pieces) && w >= 0; i++) {
        if (big) {
            w = api->co_send(req, chunk, COFX_BIG_PIECE, timeout);
        } else {
            int n = snprintf(piece, sizeof piece, "piece %lld\n", i);
            w = api->co_send(req, piece, (size_t)n, timeout);
        }
    }
    free(chunk);
    if (w == -ECANCELED) {
        cancelled(f, req, "send");
        return PH_OK;
    }
    if (w < 0) {
        api->log(PH_LOG_INFO, "cofx: co_send ended with %s", rcstr(w, s, sizeof s));
        return PH_OK;
    }
    if (trailer) {
        snprintf(count, sizeof count, "%lld", pieces);
        api->add_trailer(req, "X-Cofx-Pieces", count);
    }
    return PH_OK;
}

/* --- /deep ------------------------------------------------------------------- */

/* Each frame writes a kilobyte the compiler cannot drop, so the recursion
 * walks down the stack a page at a time until the guard page. */
static unsigned long deep(unsigned long n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    pad[sizeof pad - 1] = (char)n;
    if (n == 0)
        return pad[0];
    return deep(n - 1) + pad[sizeof pad - 1];
}

/* --- the handler ---------------------------------------------------------------- */

static int cofx_handle(void *instance, ph_request_t *req)
{
    cofx_t *f = instance;
    ph_str_t sp = f->api->subpath(req);
    struct {
        const char *name;
        int (*fn)(cofx_t *, ph_request_t *);
    } routes[] = {{"/sleep", do_sleep},     {"/hold", do_hold},         {"/wait_fd", do_wait_fd},
                  {"/poll", do_poll},       {"/resolve", do_resolve},   {"/sock", do_sock},
                  {"/socknew", do_socknew}, {"/blocking", do_blocking}, {"/spawn", do_spawn},
                  {"/body", do_body},       {"/respond", do_respond}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (sp.len == strlen(routes[i].name) && memcmp(sp.ptr, routes[i].name, sp.len) == 0)
            return routes[i].fn(f, req);
    if (sp.len == 5 && memcmp(sp.ptr, "/info", 5) == 0)
        return f->api->body_printf(req, "co_active=%d\n", f->api->co_active());
    if (sp.len == 8 && memcmp(sp.ptr, "/holding", 8) == 0)
        return f->api->body_printf(req, "holding %lu\n", __atomic_load_n(&f->holding, __ATOMIC_RELAXED));
    if (sp.len == 5 && memcmp(sp.ptr, "/deep", 5) == 0) {
        waiting(f, req, "deep");
        return f->api->body_printf(req, "deep: %lu\n", deep(100000000UL));
    }
    return PH_DECLINED;
}

/* --- lifecycle ----------------------------------------------------------------- */

static int cofx_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    cofx_t *f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    f->api = args->api;
    snprintf(f->tag, sizeof f->tag, "-");
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        if (strcmp(k, "tag") == 0) {
            snprintf(f->tag, sizeof f->tag, "%s", v);
        } else if (strcmp(k, "spawn") == 0 && args->api->parse_bool(v, &f->spawn) == PH_OK) {
            continue;
        } else {
            err->key = (int)i;
            snprintf(err->msg, sizeof err->msg, "unknown key or bad value \"%s\"", k);
            free(f);
            return PH_ERROR;
        }
    }
    f->threads = args->threads < COFX_MAX_THREADS ? args->threads : COFX_MAX_THREADS;
    if (f->spawn) {
        f->tickers = calloc(f->threads ? f->threads : 1, sizeof *f->tickers);
        if (f->tickers == NULL) {
            free(f);
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return PH_ERROR;
        }
        for (unsigned i = 0; i < f->threads; i++) {
            f->tickers[i].f = f;
            f->tickers[i].index = i;
        }
    }
    f->api->log(PH_LOG_INFO, "cofx[%s]: create", f->tag);
    *instance = f;
    return PH_OK;
}

static void cofx_destroy(void *instance)
{
    cofx_t *f = instance;
    f->api->log(PH_LOG_INFO, "cofx[%s]: destroy", f->tag);
    free(f->tickers);
    free(f);
}

static const ph_hooks_t cofx_hooks = {
    .size = sizeof(ph_hooks_t),
    .thread_init = cofx_thread_init,
    .thread_exit = cofx_thread_exit,
};

PH_PLUGIN_DEFINE_HOOKS(COFX_NAME, "1.0", COFX_FLAGS, cofx_create, cofx_handle, cofx_destroy, &cofx_hooks);
