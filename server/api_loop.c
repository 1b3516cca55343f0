#include "api_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "request.h"
#include "worker.h"

/* ph_loop_t is never defined: a ph_loop_t * is a worker_t * in disguise. */
static worker_t *worker_of(ph_loop_t *loop) { return (worker_t *)(void *)loop; }
static ph_loop_t *loop_from(worker_t *w) { return (ph_loop_t *)(void *)w; }

struct ph_watch {
    worker_later_t later; /* first: a freed watch waits for the batch's end */
    ev_io_t io;
    worker_t *w;
    ph_watch_fn cb;
    void *arg;
};

struct ph_timer {
    ev_timer_t t;
    worker_t *w;
    ph_timer_fn cb;
    void *arg;
};

#define PH_EV_ALL (PH_EV_READ | PH_EV_WRITE | PH_EV_HUP)

/* --- loops ----------------------------------------------------------------- */

ph_loop_t *api_loop_of(const ph_request_t *req)
{
    return req ? loop_from(req->w) : NULL;
}

ph_loop_t *api_loop_current(void) { return loop_from(worker_current()); }
unsigned api_loops(void) { return worker_count(); }
ph_loop_t *api_loop_at(unsigned i) { return loop_from(worker_at(i)); }

int api_run_on(ph_loop_t *loop, ph_task_fn fn, void *arg)
{
    worker_t *w = worker_of(loop);
    if (fn == NULL || !worker_is_one(w)) {
        errno = EINVAL;
        return PH_ERROR;
    }
    if (worker_post_task(w, fn, arg) < 0) {
        errno = worker_ended(w) ? ESHUTDOWN : ENOMEM;
        return PH_ERROR;
    }
    return PH_OK;
}

/* The loop-thread-only calls: refused, and said once per call, from any
 * other thread. */
static int on_thread(const worker_t *w, const char *what)
{
    if (worker_current() == w)
        return 1;
    log_error("plugin: %s called off its loop's thread: refused", what);
    errno = EPERM;
    return 0;
}

/* --- watches --------------------------------------------------------------- */

static void on_io(ev_loop_t *loop, ev_io_t *io, unsigned ev)
{
    ph_watch_t *w = io->data;
    unsigned out = 0;
    if ((ev & EV_READ) && (io->mask & EV_READ))
        out |= PH_EV_READ;
    if ((ev & EV_WRITE) && (io->mask & EV_WRITE))
        out |= PH_EV_WRITE;
    if (ev & EV_HUP)
        out |= PH_EV_HUP;
    if (out)
        w->cb(w, io->fd, out, w->arg);
}

/* events != 0: (re)registers with the loop; PH_EV_HUP alone registers an
 * empty mask, for which epoll still reports hang-ups and errors. */
static int watch_apply(ph_watch_t *w, unsigned events)
{
    if (events == 0) {
        ev_io_stop(w->w->loop, &w->io);
        return 0;
    }
    unsigned mask = ((events & PH_EV_READ) ? EV_READ : 0) | ((events & PH_EV_WRITE) ? EV_WRITE : 0);
    return ev_io_set(w->w->loop, &w->io, mask);
}

ph_watch_t *api_watch_new(ph_loop_t *loop, int fd, unsigned events, ph_watch_fn cb, void *arg)
{
    worker_t *wk = worker_of(loop);
    if (!worker_is_one(wk) || cb == NULL || (events & ~PH_EV_ALL)) {
        errno = EINVAL;
        return NULL;
    }
    if (!on_thread(wk, "watch_new"))
        return NULL;
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
        errno = EBADF;
        return NULL;
    }
    ph_watch_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->w = wk;
    w->cb = cb;
    w->arg = arg;
    ev_io_init(&w->io, fd, on_io, w);
    if (watch_apply(w, events) < 0) { /* EEXIST: fd already watched; EPERM: a regular file */
        int e = errno;
        free(w);
        errno = e;
        return NULL;
    }
    return w;
}

int api_watch_set(ph_watch_t *w, unsigned events)
{
    if (w == NULL || (events & ~PH_EV_ALL)) {
        errno = EINVAL;
        return PH_ERROR;
    }
    if (!on_thread(w->w, "watch_set"))
        return PH_ERROR;
    return watch_apply(w, events) < 0 ? PH_ERROR : PH_OK;
}

void api_watch_free(ph_watch_t *w)
{
    if (w == NULL)
        return;
    if (worker_current() != w->w && worker_ended(w->w)) {
        free(w); /* the loop is gone or will never poll again */
        return;
    }
    if (!on_thread(w->w, "watch_free"))
        return;
    ev_io_stop(w->w->loop, &w->io);
    worker_free_later(w->w, &w->later);
}

/* --- timers ---------------------------------------------------------------- */

static void on_timer(ev_loop_t *loop, ev_timer_t *t)
{
    ph_timer_t *pt = t->data;
    pt->cb(pt, pt->arg); /* may free pt: nothing touches it afterwards */
}

ph_timer_t *api_timer_new(ph_loop_t *loop, ph_timer_fn cb, void *arg)
{
    worker_t *wk = worker_of(loop);
    if (!worker_is_one(wk) || cb == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (!on_thread(wk, "timer_new"))
        return NULL;
    ph_timer_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->w = wk;
    t->cb = cb;
    t->arg = arg;
    ev_timer_init(&t->t, on_timer, t);
    return t;
}

int api_timer_set(ph_timer_t *t, uint64_t ms)
{
    if (t == NULL) {
        errno = EINVAL;
        return PH_ERROR;
    }
    if (!on_thread(t->w, "timer_set"))
        return PH_ERROR;
    const uint64_t max = (uint64_t)1 << 48; /* thousands of years: no overflow */
    ev_timer_set_exact(t->w->loop, &t->t, ms < max ? ms : max);
    return PH_OK;
}

void api_timer_stop(ph_timer_t *t)
{
    if (t && on_thread(t->w, "timer_stop"))
        ev_timer_stop(t->w->loop, &t->t);
}

void api_timer_free(ph_timer_t *t)
{
    if (t == NULL)
        return;
    if (worker_current() != t->w && worker_ended(t->w)) {
        free(t); /* the loop never runs its timers again */
        return;
    }
    if (!on_thread(t->w, "timer_free"))
        return;
    ev_timer_stop(t->w->loop, &t->t);
    free(t);
}

/* --- connect --------------------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
}

static int parse_port(const char *p, api_addr_t *out)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5 || !all_digits(p, n) || atol(p) < 1 || atol(p) > 65535)
        return EINVAL;
    memcpy(out->port, p, n + 1);
    return 0;
}

int api_addr_parse(const char *s, api_addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return EINVAL;
    if (strncmp(s, "unix:", 5) == 0) {
        const char *path = s + 5;
        if (path[0] != '/')
            return EINVAL;
        if (strlen(path) >= sizeof out->path)
            return ENAMETOOLONG;
        out->unix_path = 1;
        strcpy(out->path, path);
        return 0;
    }
    const char *colon;
    const char *host = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return EINVAL;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
        if (memchr(host, '[', hlen))
            return EINVAL;
        out->bracketed = 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return EINVAL;
        hlen = (size_t)(colon - s);
        for (size_t i = 0; i < hlen; i++)
            if (!name_char(s[i]))
                return EINVAL;
    }
    if (hlen == 0 || hlen >= sizeof out->host)
        return EINVAL;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    return parse_port(colon + 1, out);
}

static int gai_errno(int rc)
{
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return ENXIO;
    case EAI_AGAIN: return EAGAIN;
    case EAI_MEMORY: return ENOMEM;
    case EAI_SYSTEM: return errno ? errno : EIO;
    default: return EINVAL;
    }
}

/* A non-blocking, close-on-exec socket connecting to sa. */
static int start_connect(int family, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) == 0 || errno == EINPROGRESS)
        return fd;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int api_connect(const char *address)
{
    api_addr_t a;
    int rc = api_addr_parse(address, &a);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    if (a.unix_path) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        memcpy(un.sun_path, a.path, strlen(a.path) + 1);
        return start_connect(AF_UNIX, (struct sockaddr *)&un, sizeof un);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    if (a.bracketed) {
        hints.ai_family = AF_INET6;
        hints.ai_flags |= AI_NUMERICHOST;
    }
    struct addrinfo *res = NULL;
    errno = 0;
    rc = getaddrinfo(a.host, a.port, &hints, &res);
    if (rc != 0) {
        errno = a.bracketed && rc == EAI_NONAME ? EINVAL : gai_errno(rc);
        return -1;
    }
    int fd = start_connect(res->ai_family, res->ai_addr, res->ai_addrlen);
    int e = errno;
    freeaddrinfo(res);
    errno = e;
    return fd;
}
