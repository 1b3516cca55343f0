#include "api_co.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_loop.h"
#include "bstream.h"
#include "coro.h"
#include "ev.h"
#include "exchange.h"
#include "stats.h"
#include "gen.h"
#include "log.h"
#include "request.h"
#include "worker.h"

#define SOCK_BUFFER_DEFAULT (16u * 1024u)
#define SOCK_BUFFER_MAX (64u * 1024u * 1024u)
#define POLL_MAX 64

/* What a coroutine waits on. Cancellation wakes every kind but W_JOB (a
 * co_blocking() job runs to its end and is waited for), W_JOIN (a
 * co_cancel() waits for the end of what it cancelled) and W_DEFER (a
 * carrier call the loop makes right away). */
enum wait_kind { W_NONE, W_TIMER, W_FD, W_POLL, W_SOCK, W_JOB, W_RESOLVE, W_BODY, W_OUT, W_JOIN, W_DEFER };

/* What the loop does for a handler coroutine outside of it (on_defer). */
#define D_READY 0x1u    /* co_respond(): the carrier sends the head */
#define D_UPGRADE 0x2u  /* upgrade(): the carrier hands the connection over */
#define D_BODY_ON 0x4u  /* the body queue drained: read the socket again */
#define D_WAKE 0x8u     /* output was queued: the carrier pulls it */

typedef struct co_job co_job_t;

/* co_poll()'s watches, freed after the current batch of events (one of
 * them may be named by an event still to be dispatched in it). */
typedef struct co_pios {
    worker_later_t later; /* first */
    ev_io_t io[];
} co_pios_t;

typedef struct co_ctx {
    worker_later_t later;  /* first: freed after the batch (its ev_io_t may
                              be named by an event still to be delivered) */
    coro_t *co;            /* NULL once fn returned */
    worker_t *w;
    ph_request_t *req;     /* the handler's request; NULL for co_spawn() */
    /* co_spawn() */
    ph_task_fn fn;
    void *arg;
    size_t stack;
    int started;
    int cancelled;
    struct co_ctx *prev, *next;  /* the worker's spawned list */
    struct co_ctx *joiners;      /* coroutines waiting in co_cancel() */
    struct co_ctx *next_joiner;
    struct co_ctx *join;         /* what this one waits for in co_cancel();
                                    NULL once it ended (it is freed after
                                    the loop's batch: never read it then) */
    /* the wait */
    enum wait_kind kind;
    int woke, result;
    int kicked, kick_result;
    int finished;
    int rc;                /* handle()'s return */
    ev_timer_t timer;      /* the timeout, or a kick (0 ms) */
    ev_timer_t defer;      /* on_defer */
    unsigned defer_what;
    ev_io_t io;            /* co_wait_fd() */
    co_pios_t *pios;       /* co_poll()'s watches */
    int *pdup;             /* per watch: a duplicate descriptor, or -1 */
    int pfd[POLL_MAX];     /* per watch: the caller's descriptor */
    size_t npios;
    co_job_t *job;
    /* the handler's request */
    char *bq;              /* streamed body not yet read */
    size_t bq_off, bq_len, bq_cap;
    size_t body_pos;       /* buffered body: next byte to read */
    int body_end, body_err, body_paused;
    char *oq;              /* co_send() output not yet pulled */
    size_t oq_off, oq_len;
    int64_t out_len;       /* announced length, -1: unknown */
    uint64_t out_sent;
    int responded;
    int up_rc;             /* the carrier's answer to D_UPGRADE */
    int up_fd;
    char *up_out, *up_in;
    size_t up_outlen, up_inlen;
    ph_sock_t *up;         /* the upgraded client, until closed */
} co_ctx_t;

static void free_pios(co_ctx_t *x)
{
    if (x->pios)
        worker_free_later(x->w, &x->pios->later);
    x->pios = NULL;
    x->npios = 0;
}

/* A socket's registration on one loop. It outlives the socket until the
 * loop has no event left for it. */
typedef struct sock_reg {
    worker_later_t later;
    ev_io_t io;
    worker_t *w;
    ph_sock_t *s;          /* NULL once the socket left it (atomic) */
    int fd_closed;         /* the descriptor was closed meanwhile */
} sock_reg_t;

struct ph_sock {
    int fd;
    char *buf;
    size_t cap, off, len;  /* buffered bytes are buf[off..off+len) */
    sock_reg_t *reg;
    co_ctx_t *waiter;
    co_ctx_t *up_of;       /* the handler whose upgraded client it is */
};

struct co_job {
    worker_t *w;
    co_ctx_t *ctx;         /* the waiter; NULL once it gave up (loop thread) */
    int done;              /* atomic: fn returned */
    ph_task_fn fn;
    void *arg;
    /* co_resolve() */
    char host[254];
    char port[6];
    int rc;
    char out[80];
};

static void on_timer(ev_loop_t *loop, ev_timer_t *t);
static void on_defer(ev_loop_t *loop, ev_timer_t *t);

/* --- time ---------------------------------------------------------------- */

/* Deadlines run on the precise clock: the coarse one the loop reads lags
 * real time by up to a jiffy, and a deadline taken from it ended a
 * sequence of waits up to that much early. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A deadline for timeout_ms (< 0: none, UINT64_MAX). */
static uint64_t deadline_of(int64_t timeout_ms)
{
    if (timeout_ms <= 0) /* 0: only what is ready now */
        return timeout_ms < 0 ? UINT64_MAX : 0;
    /* + 1: now_ms() drops the fraction of the current millisecond */
    return now_ms() + (uint64_t)timeout_ms + 1;
}

/* What is left of a deadline, as a wait's timeout (0: do not wait). */
static int64_t left_of(uint64_t deadline)
{
    if (deadline == UINT64_MAX)
        return -1;
    uint64_t now = now_ms();
    return deadline > now ? (int64_t)(deadline - now) : 0;
}

/* --- the wait ------------------------------------------------------------ */

static co_ctx_t *current_ctx(void)
{
    coro_t *c = coro_current();
    return c ? coro_data(c) : NULL;
}

static int is_cancelled(const co_ctx_t *x)
{
    if (x->req)
        return __atomic_load_n(&x->req->cancelled, __ATOMIC_ACQUIRE) != 0;
    return x->cancelled;
}

static int cancellable(enum wait_kind k) { return k != W_JOB && k != W_JOIN && k != W_DEFER && k != W_NONE; }

static void ctx_init(co_ctx_t *x, worker_t *w)
{
    x->w = w;
    x->out_len = -1;
    x->up_fd = -1;
    ev_timer_init(&x->timer, on_timer, x);
    ev_timer_init(&x->defer, on_defer, x);
}

/* Suspends x until what it registered wakes it, timeout_ms passes (< 0:
 * never) or, for a cancellable kind, its request is cancelled. */
static int wait_for(co_ctx_t *x, enum wait_kind kind, int64_t timeout_ms)
{
    if (cancellable(kind) && is_cancelled(x))
        return -ECANCELED;
    if (timeout_ms == 0)
        return -ETIMEDOUT;
    x->kind = kind;
    x->woke = 0;
    x->kicked = 0;
    if (timeout_ms > 0) {
        const int64_t max = (int64_t)1 << 40;
        ev_timer_set_exact(x->w->loop, &x->timer, (uint64_t)(timeout_ms < max ? timeout_ms : max));
    }
    while (!x->woke)
        coro_yield();
    ev_timer_stop(x->w->loop, &x->timer);
    x->kind = W_NONE;
    return x->result;
}

static void ended(co_ctx_t *x);

/* Resumes x (from the loop, outside any coroutine). */
static void run(co_ctx_t *x)
{
    if (coro_resume(x->co))
        ended(x);
}

/* From a loop callback: x's wait is over with result. */
static void wake(co_ctx_t *x, int result)
{
    if (x->co == NULL || x->kind == W_NONE || x->woke)
        return;
    x->woke = 1;
    x->result = result;
    run(x);
}

/* From code that must not run x nested (the exchange, a carrier, another
 * coroutine): x wakes with result on the loop's next round. force: also
 * a kind that cancellation does not wake. */
static void kick(co_ctx_t *x, int result, int force)
{
    if (x->co == NULL || x->kind == W_NONE || x->woke || x->kicked || (!force && !cancellable(x->kind)))
        return;
    x->kicked = 1;
    x->kick_result = result;
    ev_timer_set(x->w->loop, &x->timer, 0);
}

static void on_timer(ev_loop_t *loop, ev_timer_t *t)
{
    co_ctx_t *x = t->data;
    wake(x, x->kicked ? x->kick_result : -ETIMEDOUT);
}

/* Asks the loop to make carrier calls for x's request (on_defer). */
static void defer(co_ctx_t *x, unsigned what)
{
    x->defer_what |= what;
    if (!ev_timer_active(&x->defer))
        ev_timer_set(x->w->loop, &x->defer, 0);
}

/* --- handler coroutines ------------------------------------------------------ */

static void handler_main(void *arg)
{
    co_ctx_t *x = arg;
    const gen_route_t *r = x->req->route;
    x->rc = r->desc->handle(r->inst->instance, x->req);
}

/* Request cleanup: the coroutine has ended (the request was held until
 * then); what stays for the stream's last pulls goes now. */
static void ctx_release(void *arg)
{
    co_ctx_t *x = arg;
    ev_timer_stop(x->w->loop, &x->timer);
    ev_timer_stop(x->w->loop, &x->defer);
    free(x->bq);
    free(x->oq);
    free_pios(x);
    free(x->pdup);
    free(x->up_out);
    free(x->up_in);
    if (x->up_fd >= 0)
        close(x->up_fd);
    x->req->co = NULL;
    worker_free_later(x->w, &x->later);
}

int apico_handler_start(ph_request_t *req, int *rc)
{
    const gen_route_t *r = req->route;
    co_ctx_t *x = calloc(1, sizeof *x);
    if (x == NULL || pool_cleanup_add(req->pool, ctx_release, x) < 0) {
        free(x);
        log_error("out of memory starting a coroutine for \"%s\"", req->path ? req->path : "");
        *rc = PH_ERROR;
        return 0;
    }
    ctx_init(x, req->w);
    x->req = req;
    req->co = x;
    x->co = coro_new(handler_main, x, r->coroutine_stack, r->cfg->name);
    if (x->co == NULL) {
        log_error("cannot make a coroutine for \"%s\": %s", req->path ? req->path : "", strerror(errno));
        *rc = PH_ERROR;
        return 0;
    }
    coro_set_data(x->co, x);
    req->w->ncoro++;
    if (coro_resume(x->co) == 0)
        return 1;
    coro_free(x->co);
    x->co = NULL;
    req->w->ncoro--;
    x->finished = 1;
    *rc = x->rc;
    return 0;
}

void apico_req_cancel(ph_request_t *req)
{
    co_ctx_t *x = req->co;
    if (x)
        kick(x, -ECANCELED, 0);
}

static void handler_ended(co_ctx_t *x)
{
    ph_request_t *req = x->req;
    x->finished = 1;
    if (x->up)
        apico_sock_close(x->up); /* the handler's return closes the tunnel */
    exchange_co_done(req, x->rc); /* may end req: x is not touched after */
}

/* --- co_spawn()ed coroutines ---------------------------------------------- */

static void spawn_link(co_ctx_t *x)
{
    co_ctx_t **head = &x->w->co_spawned;
    x->prev = NULL;
    x->next = *head;
    if (*head)
        (*head)->prev = x;
    *head = x;
}

static void spawn_unlink(co_ctx_t *x)
{
    co_ctx_t **head = &x->w->co_spawned;
    if (x->prev)
        x->prev->next = x->next;
    else
        *head = x->next;
    if (x->next)
        x->next->prev = x->prev;
}

static void spawn_main(void *arg)
{
    co_ctx_t *x = arg;
    x->fn(x->arg);
}

static void spawned_ended(co_ctx_t *x)
{
    x->finished = 1;
    spawn_unlink(x);
    ev_timer_stop(x->w->loop, &x->timer);
    for (co_ctx_t *j = x->joiners; j; j = j->next_joiner) {
        j->join = NULL;
        kick(j, 0, 1);
    }
    free_pios(x);
    free(x->pdup);
    x->pdup = NULL;
    worker_free_later(x->w, &x->later);
}

/* fn returned: the stack goes back to the pool. */
static void ended(co_ctx_t *x)
{
    coro_free(x->co);
    x->co = NULL;
    x->w->ncoro--;
    if (x->req)
        handler_ended(x);
    else
        spawned_ended(x);
}

/* Starts x on its loop (a task, or co_cancel() before the task ran). */
static void spawn_run(co_ctx_t *x)
{
    x->started = 1;
    x->co = coro_new(spawn_main, x, x->stack, "co_spawn");
    if (x->co == NULL) {
        log_error("plugin: co_spawn: cannot make a coroutine: %s", strerror(errno));
        x->finished = 1;
        worker_free_later(x->w, &x->later);
        return;
    }
    coro_set_data(x->co, x);
    x->w->ncoro++;
    spawn_link(x);
    if (x->w->stopping)
        x->cancelled = 1; /* a loop winding down runs it cancelled */
    run(x);
}

static void spawn_task(void *arg)
{
    co_ctx_t *x = arg;
    if (!x->started)
        spawn_run(x);
}

void *apico_spawn(ph_loop_t *loop, ph_task_fn fn, void *arg, size_t stack_size)
{
    worker_t *w = (worker_t *)(void *)loop;
    if (fn == NULL || !worker_is_one(w))
        return NULL;
    co_ctx_t *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    ctx_init(x, w);
    x->fn = fn;
    x->arg = arg;
    x->stack = stack_size > CORO_STACK_MAX ? CORO_STACK_MAX : stack_size;
    if (worker_post_task(w, spawn_task, x) < 0) {
        free(x);
        return NULL;
    }
    return x;
}

/* Waits, blocking the thread, until a co_blocking() job's fn returned.
 * It always returns; the loop cannot take its message while it waits. */
static void job_wait_done(co_job_t *j)
{
    while (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* co_cancel() from the loop itself: runs t until fn returns, each wait
 * returning -ECANCELED. */
static void cancel_sync(co_ctx_t *t)
{
    t->cancelled = 1;
    if (!t->started)
        spawn_run(t);
    while (!t->finished) {
        if (t->kind == W_JOIN && t->join)
            cancel_sync(t->join);
        if (t->kind == W_JOB && t->job) {
            job_wait_done(t->job);
            t->job->ctx = NULL; /* its message frees it */
            t->job = NULL;
        }
        if (t->kind == W_NONE) { /* cannot happen: a live coroutine waits */
            log_error("co_cancel: coroutine not waiting");
            return;
        }
        t->woke = 1;
        t->result = t->kicked ? t->kick_result : -ECANCELED;
        run(t);
    }
}

void apico_cancel(void *handle)
{
    co_ctx_t *t = handle;
    if (t == NULL)
        return;
    if (worker_current() != t->w) {
        log_error("plugin: co_cancel called off its loop's thread: refused");
        return;
    }
    co_ctx_t *me = current_ctx();
    if (me == t) {
        log_error("plugin: co_cancel called from the coroutine it cancels: refused");
        return;
    }
    if (t->finished)
        return;
    if (me == NULL) {
        cancel_sync(t);
        return;
    }
    t->cancelled = 1;
    if (!t->started) {
        /* it starts cancelled, from its task, and ends at once */
    } else {
        kick(t, -ECANCELED, 0);
    }
    me->join = t;
    me->next_joiner = t->joiners;
    t->joiners = me;
    while (me->join)
        wait_for(me, W_JOIN, -1);
}

void apico_worker_stop(worker_t *w)
{
    for (co_ctx_t *x = w->co_spawned; x; x = x->next) {
        x->cancelled = 1;
        kick(x, -ECANCELED, 0);
    }
}

/* --- simple waits ------------------------------------------------------------- */

int apico_active(void) { return current_ctx() != NULL; }

int apico_sleep(uint64_t ms)
{
    co_ctx_t *x = current_ctx();
    if (x == NULL)
        return -EPERM;
    if (ms == 0)
        ms = 1; /* a wait of 0 would not wait: give the loop a turn */
    int r = wait_for(x, W_TIMER, ms > INT64_MAX ? INT64_MAX : (int64_t)ms);
    return r == -ETIMEDOUT ? 0 : r;
}

static unsigned to_ph(unsigned ev)
{
    return ((ev & EV_READ) ? PH_EV_READ : 0) | ((ev & EV_WRITE) ? PH_EV_WRITE : 0) |
           ((ev & EV_HUP) ? PH_EV_HUP : 0);
}

static unsigned to_ev(unsigned events)
{
    return ((events & PH_EV_READ) ? EV_READ : 0) | ((events & PH_EV_WRITE) ? EV_WRITE : 0);
}

/* Watches fd for mask on x's loop. An fd the loop watches already (a
 * socket of this API between its waits, a plugin's watch) is watched
 * through a duplicate (*dup, closed by unwatch_fd): epoll takes each
 * descriptor number once, but a duplicate reports the same events. */
static int watch_fd(co_ctx_t *x, ev_io_t *io, int fd, unsigned mask, ev_io_cb cb, int *dup)
{
    *dup = -1;
    ev_io_init(io, fd, cb, x);
    if (ev_io_start(x->w->loop, io, mask, 0) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    *dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (*dup < 0)
        return -errno;
    io->fd = *dup;
    if (ev_io_start(x->w->loop, io, mask, 0) == 0)
        return 0;
    int e = errno;
    close(*dup);
    *dup = -1;
    return -e;
}

static void unwatch_fd(co_ctx_t *x, ev_io_t *io, int dup)
{
    ev_io_stop(x->w->loop, io);
    if (dup >= 0)
        close(dup);
}

static void on_fd(ev_loop_t *loop, ev_io_t *io, unsigned ev)
{
    co_ctx_t *x = io->data;
    if (x->kind != W_FD) {
        ev_io_stop(loop, io);
        return;
    }
    unsigned out = 0;
    if ((ev & EV_READ) && (io->mask & EV_READ))
        out |= PH_EV_READ;
    if ((ev & EV_WRITE) && (io->mask & EV_WRITE))
        out |= PH_EV_WRITE;
    if (ev & EV_HUP)
        out |= PH_EV_HUP;
    if (out == 0)
        return;
    wake(x, (int)out);
}

/* poll(2) now, without waiting: how many of fds are ready. */
static int poll_now(ph_pollfd_t *fds, size_t n)
{
    struct pollfd p[POLL_MAX];
    for (size_t i = 0; i < n; i++) {
        p[i].fd = fds[i].fd;
        p[i].events = (short)(((fds[i].events & PH_EV_READ) ? POLLIN : 0) | ((fds[i].events & PH_EV_WRITE) ? POLLOUT : 0));
        p[i].revents = 0;
    }
    int k = poll(p, n, 0);
    if (k < 0)
        return -errno;
    int ready = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned r = 0;
        if (p[i].revents & (POLLIN | POLLPRI))
            r |= PH_EV_READ;
        if (p[i].revents & POLLOUT)
            r |= PH_EV_WRITE;
        if (p[i].revents & (POLLHUP | POLLERR | POLLNVAL))
            r |= PH_EV_HUP;
        fds[i].revents = r;
        ready += r != 0;
    }
    return ready;
}

int apico_wait_fd(int fd, unsigned events, int64_t timeout_ms)
{
    co_ctx_t *x = current_ctx();
    if (x == NULL)
        return -EPERM;
    if (fd < 0 || (events & (PH_EV_READ | PH_EV_WRITE)) == 0 || (events & ~(PH_EV_READ | PH_EV_WRITE | PH_EV_HUP)))
        return -EINVAL;
    if (is_cancelled(x))
        return -ECANCELED;
    if (timeout_ms == 0) {
        ph_pollfd_t p = {fd, events, 0};
        int k = poll_now(&p, 1);
        return k < 0 ? k : k == 0 ? -ETIMEDOUT : (int)p.revents;
    }
    int dup = -1;
    int r = watch_fd(x, &x->io, fd, to_ev(events), on_fd, &dup);
    if (r < 0)
        return r;
    r = wait_for(x, W_FD, timeout_ms);
    unwatch_fd(x, &x->io, dup);
    return r;
}

static void on_poll(ev_loop_t *loop, ev_io_t *io, unsigned ev)
{
    co_ctx_t *x = io->data;
    if (x->kind != W_POLL) {
        ev_io_stop(loop, io);
        return;
    }
    wake(x, 0);
}

static void poll_unwatch(co_ctx_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        unwatch_fd(x, &x->pios->io[i], x->pdup[i]);
}

/* Watches every distinct fd of fds (the union of what is asked of it). */
static int poll_watch(co_ctx_t *x, const ph_pollfd_t *fds, size_t n, size_t *nw)
{
    if (x->npios < n) {
        /* none of the old watches is active here; the block goes after
         * the batch, as an event of it may still name one */
        co_pios_t *p = malloc(sizeof *p + n * sizeof p->io[0]);
        if (p == NULL)
            return -ENOMEM;
        free_pios(x);
        x->pios = p;
        int *d = realloc(x->pdup, n * sizeof *d);
        if (d == NULL)
            return -ENOMEM;
        x->pdup = d;
        x->npios = n;
    }
    *nw = 0;
    for (size_t i = 0; i < n; i++) {
        if (fds[i].fd < 0)
            continue;
        size_t j;
        for (j = 0; j < *nw && x->pfd[j] != fds[i].fd; j++) {
        }
        unsigned m = to_ev(fds[i].events);
        if (j < *nw) {
            if (ev_io_set(x->w->loop, &x->pios->io[j], x->pios->io[j].mask | m) < 0)
                goto fail;
            continue;
        }
        int r = watch_fd(x, &x->pios->io[j], fds[i].fd, m, on_poll, &x->pdup[j]);
        if (r < 0) {
            poll_unwatch(x, *nw);
            return r;
        }
        x->pfd[j] = fds[i].fd;
        (*nw)++;
    }
    return 0;
fail:;
    int e = errno;
    poll_unwatch(x, *nw);
    return -e;
}

int apico_poll(ph_pollfd_t *fds, size_t n, int64_t timeout_ms)
{
    co_ctx_t *x = current_ctx();
    if (x == NULL)
        return -EPERM;
    if (n == 0 || n > POLL_MAX || fds == NULL)
        return -EINVAL;
    if (is_cancelled(x))
        return -ECANCELED;
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        int k = poll_now(fds, n);
        if (k != 0)
            return k;
        size_t nw;
        int r = poll_watch(x, fds, n, &nw);
        if (r < 0)
            return r;
        r = wait_for(x, W_POLL, left_of(deadline));
        poll_unwatch(x, nw);
        if (r < 0)
            return r;
    }
}

/* --- the blocking pool ------------------------------------------------------- */

static void job_done(void *arg)
{
    co_job_t *j = arg;
    co_ctx_t *x = j->ctx;
    if (x == NULL) {
        free(j); /* its waiter gave up (timeout, cancellation) */
        return;
    }
    x->job = NULL; /* the waiter frees it */
    wake(x, 0);
}

static void job_run(void *arg)
{
    co_job_t *j = arg;
    j->fn(j->arg);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    /* a waiter keeps its loop running, so only a job nobody waits for
     * finds the loop gone */
    if (worker_post_task(j->w, job_done, j) < 0)
        free(j);
}

/* Runs j on the pool and waits (kind). Returns 0 when it finished, with
 * j still the caller's, or a negative errno with j left to job_done. */
static int job_submit_wait(co_ctx_t *x, co_job_t *j, enum wait_kind kind, int64_t timeout_ms)
{
    j->w = x->w;
    j->ctx = x;
    x->job = j;
    if (blocking_submit(x->w->blocking, job_run, j) < 0) {
        stats_blocking_rejected();
        x->job = NULL;
        free(j);
        return -ENOMEM;
    }
    int r = wait_for(x, kind, timeout_ms);
    if (x->job) { /* not finished: job_done frees it */
        x->job->ctx = NULL;
        x->job = NULL;
        return r < 0 ? r : -ECANCELED;
    }
    return r == 0 ? 0 : r;
}

int apico_blocking(ph_task_fn fn, void *arg)
{
    co_ctx_t *x = current_ctx();
    if (x == NULL)
        return -EPERM;
    if (fn == NULL)
        return -EINVAL;
    if (is_cancelled(x))
        return -ECANCELED;
    co_job_t *j = calloc(1, sizeof *j);
    if (j == NULL)
        return -ENOMEM;
    j->fn = fn;
    j->arg = arg;
    int r = job_submit_wait(x, j, W_JOB, -1);
    if (r == -ENOMEM)
        return r;
    if (r == 0)
        free(j);
    return is_cancelled(x) ? -ECANCELED : r;
}

int apico_format_addr(int family, const void *addr, unsigned port, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (inet_ntop(family, addr, ip, sizeof ip) == NULL)
        return -EAFNOSUPPORT;
    int k = snprintf(out, cap, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
    return k < 0 || (size_t)k >= cap ? -ENOSPC : 0;
}

static void resolve_job(void *arg)
{
    co_job_t *j = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(j->host, j->port, &hints, &res);
    if (rc != 0) {
        j->rc = rc == EAI_AGAIN ? -EAGAIN : rc == EAI_MEMORY ? -ENOMEM : -ENOENT;
        return;
    }
    unsigned port = (unsigned)atoi(j->port);
    if (res->ai_family == AF_INET6)
        j->rc = apico_format_addr(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, port, j->out,
                                  sizeof j->out);
    else if (res->ai_family == AF_INET)
        j->rc = apico_format_addr(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, port, j->out,
                                  sizeof j->out);
    else
        j->rc = -ENOENT;
    freeaddrinfo(res);
}

static int copy_out(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n + 1 > cap)
        return -ENOSPC;
    memcpy(out, s, n + 1);
    return 0;
}

int apico_resolve(const char *hostport, char *out, size_t cap, int64_t timeout_ms)
{
    co_ctx_t *x = current_ctx();
    if (x == NULL)
        return -EPERM;
    api_addr_t a;
    if (out == NULL || api_addr_parse(hostport, &a) != 0 || a.unix_path)
        return -EINVAL;
    struct in_addr v4;
    if (a.bracketed || inet_pton(AF_INET, a.host, &v4) == 1)
        return copy_out(hostport, out, cap);
    if (is_cancelled(x))
        return -ECANCELED;
    co_job_t *j = calloc(1, sizeof *j);
    if (j == NULL)
        return -ENOMEM;
    j->fn = resolve_job;
    j->arg = j;
    memcpy(j->host, a.host, sizeof j->host);
    memcpy(j->port, a.port, sizeof j->port);
    int r = job_submit_wait(x, j, W_RESOLVE, timeout_ms);
    if (r < 0)
        return r;
    r = j->rc < 0 ? j->rc : copy_out(j->out, out, cap);
    free(j);
    return r;
}

/* --- sockets ------------------------------------------------------------------- */

static void reg_drop(void *arg)
{
    sock_reg_t *reg = arg;
    if (__atomic_load_n(&reg->fd_closed, __ATOMIC_ACQUIRE))
        ev_io_forget(&reg->io); /* close() took it out of epoll */
    else
        ev_io_stop(reg->w->loop, &reg->io);
    worker_free_later(reg->w, &reg->later);
}

/* The socket leaves its registration (it moves to another loop, or
 * closes: fd_closing, the descriptor is closed right after). */
static void reg_release(sock_reg_t *reg, int fd_closing)
{
    __atomic_store_n(&reg->s, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&reg->fd_closed, fd_closing, __ATOMIC_RELEASE);
    if (worker_current() == reg->w) {
        reg_drop(reg);
        return;
    }
    if (worker_ended(reg->w)) {
        free(reg); /* that loop polls no more */
        return;
    }
    /* moving to another thread: out of the old loop's epoll now (a
     * thread-safe call), before the descriptor can be closed and its
     * number reused there; the memory goes once that loop is past any
     * event naming it */
    if (!fd_closing)
        ev_io_stop(reg->w->loop, &reg->io);
    if (worker_post_task(reg->w, reg_drop, reg) < 0)
        free(reg);
}

static void on_sock(ev_loop_t *loop, ev_io_t *io, unsigned ev)
{
    sock_reg_t *reg = io->data;
    ph_sock_t *s = __atomic_load_n(&reg->s, __ATOMIC_ACQUIRE);
    if (s == NULL || s->waiter == NULL || s->waiter->kind != W_SOCK) {
        ev_io_stop(loop, io); /* nobody waits: registered again when asked */
        return;
    }
    wake(s->waiter, (int)to_ph(ev));
}

/* Waits for events on s from coroutine x. */
static int sock_wait(co_ctx_t *x, ph_sock_t *s, unsigned events, int64_t timeout_ms)
{
    if (cancellable(W_SOCK) && is_cancelled(x))
        return -ECANCELED;
    if (timeout_ms == 0)
        return -ETIMEDOUT;
    if (s->reg && s->reg->w != x->w) {
        reg_release(s->reg, 0);
        s->reg = NULL;
    }
    if (s->reg == NULL) {
        s->reg = calloc(1, sizeof *s->reg);
        if (s->reg == NULL)
            return -ENOMEM;
        s->reg->w = x->w;
        s->reg->s = s;
        ev_io_init(&s->reg->io, s->fd, on_sock, s->reg);
    }
    if (ev_io_set(x->w->loop, &s->reg->io, to_ev(events)) < 0)
        return -errno;
    s->waiter = x;
    int r = wait_for(x, W_SOCK, timeout_ms);
    s->waiter = NULL;
    return r < 0 ? r : 0;
}

ph_sock_t *apico_sock_new(int fd, size_t buffer)
{
    if (fd < 0)
        return NULL;
    if (buffer == 0)
        buffer = SOCK_BUFFER_DEFAULT;
    if (buffer > SOCK_BUFFER_MAX)
        buffer = SOCK_BUFFER_MAX;
    ph_sock_t *s = calloc(1, sizeof *s);
    char *b = malloc(buffer);
    if (s == NULL || b == NULL) {
        free(s);
        free(b);
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    s->fd = fd;
    s->buf = b;
    s->cap = buffer;
    return s;
}

void apico_sock_close(ph_sock_t *s)
{
    if (s == NULL)
        return;
    if (s->reg)
        reg_release(s->reg, 1);
    if (s->up_of) {
        s->up_of->up = NULL;
        s->up_of = NULL;
    }
    close(s->fd);
    free(s->buf);
    free(s);
}

size_t apico_sock_buffered(const ph_sock_t *s) { return s ? s->len : 0; }
int apico_sock_fd(const ph_sock_t *s) { return s ? s->fd : -1; }

static size_t take_buffered(ph_sock_t *s, void *buf, size_t cap)
{
    size_t n = s->len < cap ? s->len : cap;
    if (n == 0)
        return 0;
    memcpy(buf, s->buf + s->off, n);
    s->off += n;
    s->len -= n;
    if (s->len == 0)
        s->off = 0;
    return n;
}

/* recv() into p, waiting as needed: > 0, 0 at the end of stream, or a
 * negative errno. */
static ssize_t recv_wait(ph_sock_t *s, void *p, size_t cap, uint64_t deadline)
{
    for (;;) {
        ssize_t n = recv(s->fd, p, cap, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int64_t left = left_of(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        co_ctx_t *x = current_ctx();
        if (x == NULL)
            return -EPERM;
        int r = sock_wait(x, s, PH_EV_READ, left);
        if (r < 0)
            return r;
    }
}

ssize_t apico_sock_read(ph_sock_t *s, void *buf, size_t cap, int64_t timeout_ms)
{
    if (s == NULL || (buf == NULL && cap > 0))
        return -EINVAL;
    if (cap == 0)
        return 0;
    if (s->len)
        return (ssize_t)take_buffered(s, buf, cap);
    return recv_wait(s, buf, cap, deadline_of(timeout_ms));
}

ssize_t apico_sock_read_exactly(ph_sock_t *s, void *buf, size_t n, int64_t timeout_ms)
{
    if (s == NULL || (buf == NULL && n > 0) || n > SSIZE_MAX)
        return -EINVAL;
    uint64_t deadline = deadline_of(timeout_ms);
    size_t got = take_buffered(s, buf, n);
    while (got < n) {
        ssize_t k = recv_wait(s, (char *)buf + got, n - got, deadline);
        if (k == 0)
            return -EPIPE;
        if (k < 0)
            return k;
        got += (size_t)k;
    }
    return (ssize_t)n;
}

ssize_t apico_sock_read_until(ph_sock_t *s, const char *delim, size_t dlen, size_t max, ph_str_t *line,
                              int64_t timeout_ms)
{
    if (s == NULL || delim == NULL || dlen == 0 || line == NULL)
        return -EINVAL;
    if (max == 0 || max > s->cap)
        max = s->cap;
    uint64_t deadline = deadline_of(timeout_ms);
    size_t scanned = 0; /* bytes known to hold no delimiter start */
    for (;;) {
        size_t span = s->len < max ? s->len : max;
        if (span >= dlen) {
            const char *p = s->buf + s->off;
            for (size_t i = scanned; i + dlen <= span; i++)
                if (p[i] == delim[0] && memcmp(p + i, delim, dlen) == 0) {
                    *line = (ph_str_t){p, i + dlen};
                    s->off += i + dlen;
                    s->len -= i + dlen;
                    return (ssize_t)(i + dlen);
                }
            scanned = span - dlen + 1;
        }
        if (s->len >= max)
            return -ENOBUFS;
        if (s->off > 0) {
            memmove(s->buf, s->buf + s->off, s->len);
            s->off = 0;
        }
        ssize_t k = recv_wait(s, s->buf + s->len, s->cap - s->len, deadline);
        if (k == 0)
            return -EPIPE;
        if (k < 0)
            return k;
        s->len += (size_t)k;
    }
}

ssize_t apico_sock_write(ph_sock_t *s, const void *buf, size_t len, int64_t timeout_ms)
{
    if (s == NULL || (buf == NULL && len > 0) || len > SSIZE_MAX)
        return -EINVAL;
    uint64_t deadline = deadline_of(timeout_ms);
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(s->fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int64_t left = left_of(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        co_ctx_t *x = current_ctx();
        if (x == NULL)
            return -EPERM;
        int r = sock_wait(x, s, PH_EV_WRITE, left);
        if (r < 0)
            return r;
    }
    return (ssize_t)len;
}

int apico_connect(const char *address, int64_t timeout_ms, ph_sock_t **out)
{
    co_ctx_t *x = current_ctx();
    if (x == NULL)
        return -EPERM;
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    api_addr_t a;
    int rc = api_addr_parse(address, &a);
    if (rc != 0)
        return -rc;
    if (is_cancelled(x))
        return -ECANCELED;
    uint64_t deadline = deadline_of(timeout_ms);
    char numeric[80];
    if (!a.unix_path) {
        int r = apico_resolve(address, numeric, sizeof numeric, timeout_ms);
        if (r < 0)
            return r;
        address = numeric;
    }
    int fd = api_connect(address);
    if (fd < 0)
        return errno == ENXIO ? -ENOENT : -errno;
    ph_sock_t *s = apico_sock_new(fd, 0);
    if (s == NULL)
        return -ENOMEM;
    int r = sock_wait(x, s, PH_EV_WRITE, left_of(deadline));
    if (r == 0) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        r = -err;
    }
    if (r < 0) {
        apico_sock_close(s);
        return r;
    }
    *out = s;
    return 0;
}

/* --- the request's body and response ---------------------------------------- */

/* The handler coroutine of req that is calling, or NULL. */
static co_ctx_t *req_ctx(const ph_request_t *req)
{
    co_ctx_t *x = current_ctx();
    return x && req && x->req == req ? x : NULL;
}

int apico_body_piece(ph_request_t *req, const char *data, size_t len)
{
    co_ctx_t *x = req->co;
    if (x == NULL || x->finished)
        return 0; /* answered: the rest is dropped */
    if (x->bq_off + x->bq_len + len > x->bq_cap) {
        if (x->bq_off) {
            memmove(x->bq, x->bq + x->bq_off, x->bq_len);
            x->bq_off = 0;
        }
        if (x->bq_len + len > x->bq_cap) {
            size_t cap = x->bq_len + len;
            char *p = realloc(x->bq, cap);
            if (p == NULL)
                return -1;
            x->bq = p;
            x->bq_cap = cap;
        }
    }
    memcpy(x->bq + x->bq_off + x->bq_len, data, len);
    x->bq_len += len;
    if (x->bq_len >= APICO_BODY_HIGH && !x->body_paused && req->carrier) {
        x->body_paused = 1;
        req->ops->body_flow(req, 0);
    }
    if (x->kind == W_BODY)
        kick(x, 0, 0);
    return 0;
}

void apico_body_end(ph_request_t *req, int err)
{
    co_ctx_t *x = req->co;
    if (x == NULL)
        return;
    if (err)
        x->body_err = err;
    else
        x->body_end = 1;
    if (x->kind == W_BODY)
        kick(x, 0, 0);
}

ssize_t apico_body_read(ph_request_t *req, void *buf, size_t cap, int64_t timeout_ms)
{
    co_ctx_t *x = req_ctx(req);
    if (x == NULL)
        return -EPERM;
    if (buf == NULL || cap == 0)
        return cap == 0 ? 0 : -EINVAL;
    if (!req->co_body) {
        if (x->body_pos >= req->body_len)
            return 0;
        size_t n = req->body_len - x->body_pos < cap ? req->body_len - x->body_pos : cap;
        memcpy(buf, req->body + x->body_pos, n);
        x->body_pos += n;
        return (ssize_t)n;
    }
    uint64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        if (x->body_err)
            return x->body_err;
        if (x->bq_len > 0) {
            size_t n = x->bq_len < cap ? x->bq_len : cap;
            memcpy(buf, x->bq + x->bq_off, n);
            x->bq_off += n;
            x->bq_len -= n;
            if (x->bq_len == 0)
                x->bq_off = 0;
            if (x->body_paused && x->bq_len <= APICO_BODY_LOW) {
                x->body_paused = 0;
                defer(x, D_BODY_ON);
            }
            return (ssize_t)n;
        }
        if (x->body_end)
            return 0;
        int r = wait_for(x, W_BODY, left_of(deadline));
        if (r < 0 && !x->body_err) /* a broken limit says so, not "cancelled" */
            return r;
    }
}

/* The carrier pulls the response body (ph_read_fn of the stream). */
static ssize_t out_pull(void *arg, void *buf, size_t cap)
{
    co_ctx_t *x = arg;
    if (x->oq_len > 0) {
        size_t n = x->oq_len < cap ? x->oq_len : cap;
        memcpy(buf, x->oq + x->oq_off, n);
        x->oq_off += n;
        x->oq_len -= n;
        if (x->oq_len == 0)
            x->oq_off = 0;
        if (x->kind == W_OUT && x->oq_len < APICO_OUT_LOW)
            kick(x, 0, 0);
        return (ssize_t)n;
    }
    if (x->finished) {
        if (x->rc != PH_OK) {
            log_warn("coroutine handler for \"%s\" returned %d after co_respond(): aborting the response",
                     x->req->path ? x->req->path : "", x->rc);
            return PH_ERROR;
        }
        /* a HEAD answer announces the length and sends no body */
        if (x->out_len >= 0 && x->out_sent != (uint64_t)x->out_len && !x->req->hp.is_head) {
            log_warn("coroutine handler for \"%s\" sent %llu of the %lld bytes it announced: aborting the response",
                     x->req->path ? x->req->path : "", (unsigned long long)x->out_sent, (long long)x->out_len);
            return PH_ERROR;
        }
        return 0;
    }
    if (x->kind == W_OUT)
        kick(x, 0, 0);
    return PH_STREAM_WAIT;
}

static void on_defer(ev_loop_t *loop, ev_timer_t *t)
{
    co_ctx_t *x = t->data;
    ph_request_t *req = x->req;
    unsigned what = x->defer_what;
    x->defer_what = 0;
    if ((what & D_BODY_ON) && req->carrier)
        req->ops->body_flow(req, 1);
    if (what & D_READY) {
        int ok = req->carrier && !req->detached && !is_cancelled(x);
        if (ok)
            req->ops->ready(req);
        if (x->kind == W_DEFER)
            wake(x, ok ? 0 : -ECANCELED);
    }
    if (what & D_UPGRADE) {
        int r = -ECANCELED;
        if (req->carrier && !is_cancelled(x))
            r = req->ops->upgrade(req, &x->up_fd, &x->up_out, &x->up_outlen, &x->up_in, &x->up_inlen) == 0
                    ? 0
                    : -EINVAL;
        if (x->kind == W_DEFER)
            wake(x, r);
    }
    /* last: the carrier may end the request (and release x) */
    if ((what & D_WAKE) && req->carrier && req->streaming && x->req)
        req->ops->wake(req);
}

int apico_respond(ph_request_t *req, int64_t length)
{
    co_ctx_t *x = req_ctx(req);
    if (x == NULL) /* a blocking handler's, or -EPERM */
        return bstream_respond(req, length);
    if (x->responded || req->upgraded || length < -1)
        return -EINVAL;
    if (is_cancelled(x) || req->carrier == NULL)
        return -ECANCELED;
    if (request_api.body_stream(req, out_pull, x) != PH_OK)
        return -EINVAL;
    req->stream_has_len = length >= 0;
    req->stream_len = length >= 0 ? (uint64_t)length : 0;
    x->out_len = length;
    x->responded = 1;
    /* a response before the end of a streamed body: the carrier reads no
     * more of it (and closes after the answer) */
    if (req->co_body && !x->body_end && !x->body_err)
        x->body_err = -EPIPE;
    exchange_co_respond(req);
    defer(x, D_READY);
    return wait_for(x, W_DEFER, -1);
}

ssize_t apico_send(ph_request_t *req, const void *data, size_t len, int64_t timeout_ms)
{
    co_ctx_t *x = req_ctx(req);
    if (x == NULL)
        return bstream_send(req, data, len, timeout_ms);
    if (!x->responded || (data == NULL && len > 0) || len > SSIZE_MAX)
        return -EINVAL;
    if (x->out_len >= 0 && x->out_sent + len > (uint64_t)x->out_len)
        return -EMSGSIZE;
    if (is_cancelled(x))
        return -ECANCELED;
    if (x->oq == NULL && len > 0) {
        x->oq = malloc(APICO_OUT_HIGH);
        if (x->oq == NULL)
            return -ENOMEM;
    }
    uint64_t deadline = deadline_of(timeout_ms);
    size_t done = 0;
    while (done < len) {
        if (is_cancelled(x))
            return -ECANCELED;
        size_t room = APICO_OUT_HIGH - x->oq_len;
        if (room == 0) {
            int r = wait_for(x, W_OUT, left_of(deadline));
            if (r < 0)
                return r;
            continue;
        }
        if (x->oq_off + x->oq_len + room > APICO_OUT_HIGH) {
            memmove(x->oq, x->oq + x->oq_off, x->oq_len);
            x->oq_off = 0;
        }
        size_t n = len - done < room ? len - done : room;
        memcpy(x->oq + x->oq_off + x->oq_len, (const char *)data + done, n);
        x->oq_len += n;
        x->out_sent += n;
        done += n;
        defer(x, D_WAKE);
    }
    return (ssize_t)len;
}

int apico_upgrade(ph_request_t *req, ph_sock_t **client)
{
    co_ctx_t *x = req_ctx(req);
    if (client)
        *client = NULL;
    ph_str_t v;
    if (x == NULL || client == NULL || !(req->route->desc->flags & PH_PLUGIN_UPGRADE) || req->has_body ||
        x->responded || req->upgraded || req->hp.version_minor != 1 || !request_header(req, "Upgrade", &v) ||
        req->ops->upgrade == NULL || is_cancelled(x) || req->carrier == NULL)
        return PH_ERROR;
    req->status = 101;
    defer(x, D_UPGRADE);
    if (wait_for(x, W_DEFER, -1) < 0) {
        req->status = 200;
        return PH_ERROR;
    }
    req->upgraded = 1;
    ph_sock_t *s = apico_sock_new(x->up_fd, x->up_inlen > SOCK_BUFFER_DEFAULT ? x->up_inlen : 0);
    x->up_fd = -1; /* the socket's now (closed by it when out of memory) */
    if (s == NULL)
        return PH_ERROR;
    if (x->up_inlen)
        memcpy(s->buf, x->up_in, x->up_inlen);
    s->len = x->up_inlen;
    x->up = s;
    s->up_of = x;
    ssize_t r = apico_sock_write(s, x->up_out, x->up_outlen, (int64_t)req->gen->cfg->send_timeout);
    free(x->up_out);
    free(x->up_in);
    x->up_out = x->up_in = NULL;
    if (r < 0)
        return PH_ERROR; /* the handler's return closes it */
    *client = s;
    return PH_OK;
}
