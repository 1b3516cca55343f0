#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_co.h"
#include "conn.h"
#include "coro.h"
#include "crash.h"
#include "exchange.h"
#include "request.h"
#include "httpdate.h"
#include "log.h"
#include "stats.h"

#define BUF_SIZE 16384
#define MAX_FREE_BUFS 64
#define MAX_FREE_POOLS 64
#define POOL_FIRST 4096
#define ACCEPT_BATCH 64

enum msg_kind { MSG_GEN, MSG_STOP, MSG_ABORT, MSG_REQ_RESUME, MSG_REQ_WAKE, MSG_REQ_DONE, MSG_TASK };

typedef struct wmsg {
    struct wmsg *next;
    enum msg_kind kind;
    void *ptr;
    void (*fn)(void *); /* MSG_TASK: fn(ptr) */
} wmsg_t;

static worker_t *all_workers;   /* atomic */
static unsigned nall_workers;   /* atomic */
static __thread worker_t *current;

static void on_accept(ev_loop_t *loop, ev_io_t *io, unsigned events);

size_t worker_buf_size(const worker_t *w) { return BUF_SIZE; }

const char *worker_date(worker_t *w)
{
    int64_t now = ev_wall(w->loop);
    if (now != w->date_sec) {
        httpdate_format((time_t)now, w->date);
        w->date_sec = now;
    }
    return w->date;
}

char *worker_buf_get(worker_t *w)
{
    if (w->nfree_bufs > 0)
        return w->free_bufs[--w->nfree_bufs];
    return malloc(BUF_SIZE);
}

void worker_buf_put(worker_t *w, char *buf)
{
    if (w->nfree_bufs < MAX_FREE_BUFS)
        w->free_bufs[w->nfree_bufs++] = buf;
    else
        free(buf);
}

pool_t *worker_pool_get(worker_t *w)
{
    if (w->nfree_pools > 0)
        return w->free_pools[--w->nfree_pools];
    return pool_new(POOL_FIRST);
}

void worker_pool_put(worker_t *w, pool_t *p)
{
    pool_reset(p);
    if (w->nfree_pools < MAX_FREE_POOLS)
        w->free_pools[w->nfree_pools++] = p;
    else
        pool_free(p);
}

/* --- listeners ------------------------------------------------------------ */

static void stop_accepting(worker_t *w)
{
    for (size_t i = 0; i < w->nlios; i++)
        ev_io_stop(w->loop, &w->lios[i]);
    w->accepting = 0;
}

static void start_accepting(worker_t *w)
{
    if (w->accepting || w->stopping)
        return;
    for (size_t i = 0; i < w->nlios; i++)
        if (ev_io_start(w->loop, &w->lios[i], EV_READ, 1) < 0)
            log_error("worker %u: cannot watch listener: %s", w->id, strerror(errno));
    w->accepting = 1;
}

/* Watches the listeners of w->gen (after start-up or a reload). */
static int watch_listeners(worker_t *w)
{
    int was = w->accepting;
    stop_accepting(w);
    /* Events of the current batch may still point into the old watchers:
     * free them after the batch (on_tick), not here. */
    if (w->lios) {
        void **r = realloc(w->retired, (w->nretired + 1) * sizeof *r);
        if (r == NULL)
            return -1;
        w->retired = r;
        w->retired[w->nretired++] = w->lios;
        w->lios = NULL;
    }
    w->nlios = w->gen->nlisteners;
    w->lios = calloc(w->nlios ? w->nlios : 1, sizeof *w->lios);
    if (w->lios == NULL)
        return -1;
    for (size_t i = 0; i < w->nlios; i++)
        ev_io_init(&w->lios[i], w->gen->listeners[i]->l.fd, on_accept, w);
    if (was || !w->stopping)
        start_accepting(w);
    return 0;
}

/* EPOLLEXCLUSIVE wakes the first loop waiting on a listener, so at modest
 * load one loop would take every connection while the others idle. A loop
 * holding more than its share (plus one) of all open connections steps
 * back from accepting for a few milliseconds. */
static int over_share(const worker_t *w)
{
    if (w->loops <= 1)
        return 0;
    unsigned sum = 0;
    for (unsigned i = 0; i < w->nslots; i++)
        sum += __atomic_load_n(&w->conn_slots[i], __ATOMIC_RELAXED);
    return w->nconns > sum / w->loops + 1;
}

static void on_accept_retry(ev_loop_t *loop, ev_timer_t *t)
{
    worker_t *w = t->data;
    if (__atomic_load_n(w->total_conns, __ATOMIC_RELAXED) >= w->max_conns)
        ev_timer_set(loop, t, 100);
    else if (over_share(w))
        ev_timer_set(loop, t, 5);
    else
        start_accepting(w);
}

int worker_adopt(worker_t *w, int fd, const struct sockaddr *peer, socklen_t peerlen, const cfg_listen_t *cl,
                 const char *local)
{
    conn_t *c = conn_new(w, fd, peer, peerlen, cl, local);
    if (c == NULL)
        return -1;
    conn_link(c, &w->conns);
    w->nconns++;
    __atomic_add_fetch(w->total_conns, 1, __ATOMIC_RELAXED);
    if (w->share_slot)
        __atomic_add_fetch(w->share_slot, 1, __ATOMIC_RELAXED);
    stats_conn_open();
    conn_start(c);
    return 0;
}

static void on_accept(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    worker_t *w = io->data;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (__atomic_load_n(w->total_conns, __ATOMIC_RELAXED) >= w->max_conns) {
            /* At the limit: leave new connections in the backlog until
             * some close, rather than accept and drop them. */
            stop_accepting(w);
            ev_timer_set(loop, &w->accept_retry, 100);
            return;
        }
        struct sockaddr_storage ss = {0};
        socklen_t len = sizeof ss;
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                return;
            if (errno == EINVAL) { /* the listener was shut down: stopping */
                stop_accepting(w);
                return;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: pause instead of spinning on a
                 * listener that stays readable. */
                log_warn("accept: %s; pausing new connections for 100 ms", strerror(errno));
                stop_accepting(w);
                ev_timer_set(loop, &w->accept_retry, 100);
                return;
            }
            log_error("accept: %s", strerror(errno));
            return;
        }
        size_t li = (size_t)(io - w->lios);
        const cfg_listen_t *cl = &w->gen->cfg->listens[li];
        if (worker_adopt(w, fd, (struct sockaddr *)&ss, len, cl, w->gen->listeners[li]->l.local) < 0)
            continue;
        if (over_share(w)) {
            stop_accepting(w);
            ev_timer_set(loop, &w->accept_retry, 5);
            return;
        }
    }
}

void worker_conn_closed(worker_t *w, conn_t *c)
{
    conn_unlink(c, &w->conns);
    conn_link(c, &w->dead);
    w->nconns--;
    __atomic_sub_fetch(w->total_conns, 1, __ATOMIC_RELAXED);
    if (w->share_slot)
        __atomic_sub_fetch(w->share_slot, 1, __ATOMIC_RELAXED);
    stats_conn_close();
}

/* After each batch of events: free connections closed during it, and stop
 * the loop once a draining worker has no connections left. */
static void on_tick(ev_loop_t *loop, void *data)
{
    worker_t *w = data;
    log_access_flush(&w->alog);
    while (w->later) {
        worker_later_t *n = w->later;
        w->later = n->next;
        free(n);
    }
    for (size_t i = 0; i < w->nretired; i++)
        free(w->retired[i]);
    w->nretired = 0;
    while (w->dead) {
        conn_t *c = w->dead;
        conn_unlink(c, &w->dead);
        conn_free(c);
    }
    if (w->stopping && w->nconns == 0 && w->nheld == 0 && w->ncoro == 0)
        ev_break(loop);
}

uint64_t worker_next_request_id(worker_t *w)
{
    /* pid (16 bits), worker (8), count (40): unique across the worker
     * processes and threads of one run for 2^40 requests per thread */
    if (w->id_base == 0) /* first request: the process is final by now */
        w->id_base = ((uint64_t)(getpid() & 0xffff) << 48) | ((uint64_t)(w->id & 0xff) << 40);
    return w->id_base | (++w->nrequests & 0xffffffffffull);
}

void worker_free_later(worker_t *w, worker_later_t *node)
{
    node->next = w->later;
    w->later = node;
}

/* --- plugins' thread hooks ------------------------------------------------- */

static int tinit_failed(worker_t *w, const gen_instance_t *gi, int forget)
{
    for (size_t i = 0; i < w->ntinit_failed; i++)
        if (w->tinit_failed[i] == gi) {
            if (forget)
                w->tinit_failed[i] = w->tinit_failed[--w->ntinit_failed];
            return 1;
        }
    return 0;
}

/* thread_init for each instance of g the thread did not serve in old. A
 * failure is logged; the thread serves on (requests cannot be refused
 * per thread) and that instance gets no thread_exit here. */
static void thread_enter(worker_t *w, const gen_t *g, const gen_t *old)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        const gen_member_t *m = &g->members[i];
        if (m->inst->instance == NULL || m->hooks.thread_init == NULL || (old && gen_has_member(old, m->inst)))
            continue;
        if (m->hooks.thread_init(m->inst->instance, w->id) == PH_OK)
            continue;
        log_error("[route %s] plugin %s: thread_init failed on worker thread %u", m->route, m->name, w->id);
        gen_instance_t **f = realloc(w->tinit_failed, (w->ntinit_failed + 1) * sizeof *f);
        if (f) {
            w->tinit_failed = f;
            w->tinit_failed[w->ntinit_failed++] = m->inst;
        }
    }
}

/* thread_exit for each instance of g that next (NULL: none) does not keep. */
static void thread_leave(worker_t *w, const gen_t *g, const gen_t *next)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        const gen_member_t *m = &g->members[i];
        if (m->inst->instance == NULL || (next && gen_has_member(next, m->inst)))
            continue;
        if (!tinit_failed(w, m->inst, 1) && m->hooks.thread_exit)
            m->hooks.thread_exit(m->inst->instance, w->id);
    }
}

/* --- the plugin API's registry ------------------------------------------- */

void worker_set_all(worker_t *ws, unsigned n)
{
    __atomic_store_n(&nall_workers, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&all_workers, ws, __ATOMIC_RELEASE);
    __atomic_store_n(&nall_workers, ws ? n : 0, __ATOMIC_RELEASE);
}

unsigned worker_count(void) { return __atomic_load_n(&nall_workers, __ATOMIC_ACQUIRE); }

worker_t *worker_at(unsigned i)
{
    unsigned n = worker_count();
    worker_t *ws = __atomic_load_n(&all_workers, __ATOMIC_ACQUIRE);
    return i < n && ws ? &ws[i] : NULL;
}

int worker_is_one(const worker_t *w)
{
    unsigned n = worker_count();
    worker_t *ws = __atomic_load_n(&all_workers, __ATOMIC_ACQUIRE);
    return w && ws && w >= ws && w < ws + n && (size_t)((const char *)w - (const char *)ws) % sizeof *w == 0;
}

worker_t *worker_current(void) { return current; }

void worker_claim_thread(worker_t *w) { current = w; }

int worker_ended(const worker_t *w) { return __atomic_load_n(&w->ended, __ATOMIC_ACQUIRE); }

/* --- messages ---------------------------------------------------------------- */

/* Queues m and wakes w, or frees m when w takes no more messages: returns
 * 0 or -1. The wake-up is sent under the lock: other threads are not
 * ordered with the stop, and once closed is set (under the lock) the
 * eventfd may be closed and its number reused. */
static int enqueue(worker_t *w, wmsg_t *m)
{
    pthread_mutex_lock(&w->lock);
    int closed = w->closed;
    if (!closed) {
        *w->inbox_tail = m;
        w->inbox_tail = &m->next;
        ev_async_send(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    if (closed)
        free(m);
    return closed ? -1 : 0;
}

static void post(worker_t *w, enum msg_kind kind, void *ptr)
{
    wmsg_t *m = malloc(sizeof *m);
    if (m == NULL)
        abort(); /* a lost message would leak a generation or hang a request */
    m->kind = kind;
    m->ptr = ptr;
    m->next = NULL;
    /* a plugin's resume() or stream_wake() may come from its own thread
     * after the loop has ended (a shutdown that gave up waiting on it);
     * its request is then left as it is */
    enqueue(w, m);
}

void worker_post_gen(worker_t *w, gen_t *g) { post(w, MSG_GEN, g); }
void worker_post_stop(worker_t *w) { post(w, MSG_STOP, NULL); }
void worker_post_abort(worker_t *w) { post(w, MSG_ABORT, NULL); }
void worker_post_req(worker_t *w, enum worker_req_msg kind, ph_request_t *req)
{
    static const enum msg_kind kinds[] = {
        [WREQ_RESUME] = MSG_REQ_RESUME, [WREQ_WAKE] = MSG_REQ_WAKE, [WREQ_BLOCKING_DONE] = MSG_REQ_DONE};
    post(w, kinds[kind], req);
}

int worker_post_task(worker_t *w, void (*fn)(void *), void *arg)
{
    wmsg_t *m = malloc(sizeof *m);
    if (m == NULL)
        return -1;
    *m = (wmsg_t){.kind = MSG_TASK, .ptr = arg, .fn = fn};
    return enqueue(w, m);
}

/* One slot per worker index (by index: the worker array may be gone by
 * the time the barrier is polled). */
struct barrier_slot {
    unsigned char posted; /* its task is queued (caller's thread only) */
    unsigned char done;   /* its task ran (atomic) */
};

struct worker_barrier {
    unsigned n;
    struct barrier_slot slot[];
};

static void barrier_task(void *arg)
{
    struct barrier_slot *s = arg;
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
}

/* Queues the task of every slot not queued yet on a live worker: a post
 * that failed for lack of memory is tried again at the next poll, so one
 * failed malloc() does not hold the barrier until the worker ends. */
static void barrier_post_missing(worker_barrier_t *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        worker_t *w = worker_at(i);
        if (!b->slot[i].posted && w && !worker_ended(w) && worker_post_task(w, barrier_task, &b->slot[i]) == 0)
            b->slot[i].posted = 1;
    }
}

worker_barrier_t *worker_barrier_post(void)
{
    unsigned n = worker_count();
    worker_barrier_t *b = calloc(1, sizeof *b + n * sizeof b->slot[0]);
    if (b == NULL)
        return NULL;
    b->n = n;
    barrier_post_missing(b);
    return b;
}

int worker_barrier_passed(worker_barrier_t *b)
{
    barrier_post_missing(b);
    for (unsigned i = 0; i < b->n; i++) {
        if (__atomic_load_n(&b->slot[i].done, __ATOMIC_ACQUIRE))
            continue;
        /* A worker that ended runs no more plugin code (a task still queued
         * to it is dropped, never run); cleared workers (NULL) were joined
         * before the list was cleared. */
        const worker_t *w = worker_at(i);
        if (w && !worker_ended(w))
            return 0;
    }
    free(b);
    return 1;
}

static void begin_stop(worker_t *w)
{
    w->stopping = 1;
    stop_accepting(w);
    __atomic_store_n(&w->accept_closed, 1, __ATOMIC_RELEASE);
    ev_timer_stop(w->loop, &w->accept_retry);
    conn_t *c = w->conns;
    while (c) {
        conn_t *next = conn_next(c);
        conn_drain(c);
        c = next;
    }
    apico_worker_stop(w);
    if (w->nconns == 0 && w->nheld == 0 && w->ncoro == 0)
        ev_break(w->loop);
}

static void on_wake(ev_loop_t *loop, ev_async_t *a)
{
    worker_t *w = a->data;
    pthread_mutex_lock(&w->lock);
    wmsg_t *m = w->inbox;
    w->inbox = NULL;
    w->inbox_tail = &w->inbox;
    pthread_mutex_unlock(&w->lock);
    while (m) {
        wmsg_t *next = m->next;
        switch (m->kind) {
        case MSG_GEN: {
            gen_t *old = w->gen;
            w->gen = m->ptr;
            w->max_conns = w->gen->cfg->max_connections; /* a reload applies it */
            if (watch_listeners(w) < 0)
                log_error("worker %u: out of memory watching listeners", w->id);
            /* the old instances' thread_exit, then the new ones' init */
            thread_leave(w, old, w->gen);
            thread_enter(w, w->gen, old);
            __atomic_store_n(&w->gen_seen, w->gen->id, __ATOMIC_RELEASE);
            gen_unref(old);
            break;
        }
        case MSG_STOP:
            begin_stop(w);
            break;
        case MSG_ABORT: {
            begin_stop(w);
            conn_t *c = w->conns;
            while (c) {
                conn_t *n = conn_next(c);
                conn_abort(c);
                c = n;
            }
            /* their plugins were told (on_cancel): the loop runs on
             * until they let go, within the server's last grace */
            if (w->nheld)
                log_warn("worker %u: shutdown_timeout: waiting for plugins to let go of %u request%s", w->id,
                         w->nheld, w->nheld == 1 ? "" : "s");
            break;
        }
        case MSG_REQ_RESUME:
            exchange_on_resume(m->ptr);
            break;
        case MSG_REQ_WAKE:
            exchange_on_wake(m->ptr);
            break;
        case MSG_REQ_DONE:
            exchange_on_blocking_done(m->ptr);
            break;
        case MSG_TASK:
            m->fn(m->ptr);
            break;
        }
        free(m);
        m = next;
    }
}

/* --- life cycle ------------------------------------------------------------- */

/* The loop's lag: how late the probe fires is how long any ready event
 * could have waited for this thread (a handler that blocks it, a long
 * batch). One timer per interval: no cost on the request path. */
static void lag_probe_arm(worker_t *w)
{
    uint64_t now = ev_clock_us();
    /* the timer fires on a whole millisecond at the earliest */
    w->lag_due_us = ((now + 999) / 1000 + PH_LAG_INTERVAL_MS) * 1000;
    ev_timer_set_exact(w->loop, &w->lag_probe, PH_LAG_INTERVAL_MS);
}

static void on_lag_probe(ev_loop_t *loop, ev_timer_t *t)
{
    (void)loop;
    worker_t *w = t->data;
    uint64_t now = ev_clock_us();
    stats_loop_lag(w->id, now > w->lag_due_us ? now - w->lag_due_us : 0);
    __atomic_add_fetch(&w->ticks, 1, __ATOMIC_RELAXED);
    lag_probe_arm(w);
}

int worker_init(worker_t *w, unsigned id, gen_t *gen, blocking_t *blocking, unsigned *total_conns)
{
    w->id = id;
    w->loop = ev_new();
    if (w->loop == NULL)
        return -1;
    pthread_mutex_init(&w->lock, NULL);
    w->inbox_tail = &w->inbox;
    if (ev_async_init(w->loop, &w->wake, on_wake, w) < 0)
        return -1;
    ev_set_tick(w->loop, on_tick, w);
    ev_timer_init(&w->accept_retry, on_accept_retry, w);
    ev_timer_init(&w->lag_probe, on_lag_probe, w);
    gen_ref(gen);
    w->gen = gen;
    w->gen_seen = gen->id;
    w->blocking = blocking;
    w->total_conns = total_conns;
    w->max_conns = gen->cfg->max_connections;
    w->free_bufs = calloc(MAX_FREE_BUFS, sizeof *w->free_bufs);
    w->free_pools = calloc(MAX_FREE_POOLS, sizeof *w->free_pools);
    if (w->free_bufs == NULL || w->free_pools == NULL)
        return -1;
    return watch_listeners(w);
}

/* The loop has ended: no task is accepted any more, and those accepted
 * meanwhile run now, on this thread, in order. Other messages stay for
 * worker_destroy. */
static void run_last_tasks(worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    w->closed = 1;
    wmsg_t *m = w->inbox;
    w->inbox = NULL;
    w->inbox_tail = &w->inbox;
    pthread_mutex_unlock(&w->lock);
    wmsg_t *keep = NULL, **tail = &keep;
    while (m) {
        wmsg_t *next = m->next;
        if (m->kind == MSG_TASK) {
            m->fn(m->ptr);
            free(m);
        } else {
            m->next = NULL;
            *tail = m;
            tail = &m->next;
        }
        m = next;
    }
    if (keep == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    *tail = w->inbox;
    if (w->inbox == NULL)
        w->inbox_tail = tail;
    w->inbox = keep;
    pthread_mutex_unlock(&w->lock);
}

static void *run(void *arg)
{
    worker_t *w = arg;
    current = w;
    if (coro_thread_init() < 0)
        log_error("worker %u: cannot set up coroutines: %s", w->id, strerror(errno));
    crash_thread_init();
    thread_enter(w, w->gen, NULL);
    lag_probe_arm(w);
    if (ev_run(w->loop) < 0)
        log_error("worker %u: event loop failed: %s", w->id, strerror(errno));
    run_last_tasks(w);
    thread_leave(w, w->gen, NULL);
    if (w->ncoro)
        log_error("worker %u: %u coroutine%s still suspended at the end of the loop", w->id, w->ncoro,
                  w->ncoro == 1 ? "" : "s");
    else
        coro_thread_exit();
    __atomic_store_n(&w->ended, 1, __ATOMIC_RELEASE);
    current = NULL;
    return NULL;
}

int worker_start(worker_t *w)
{
    /* Workers take no signals: the main thread handles them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, run, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

void worker_join(worker_t *w) { pthread_join(w->thread, NULL); }

void worker_destroy(worker_t *w)
{
    stop_accepting(w);
    on_tick(w->loop, w); /* frees closed connections */
    /* messages that arrived after the loop ended */
    pthread_mutex_lock(&w->lock);
    w->closed = 1;
    wmsg_t *m = w->inbox;
    w->inbox = NULL;
    w->inbox_tail = &w->inbox;
    pthread_mutex_unlock(&w->lock);
    __atomic_store_n(&w->ended, 1, __ATOMIC_RELEASE);
    unsigned dropped = 0;
    while (m) {
        wmsg_t *next = m->next;
        if (m->kind == MSG_GEN)
            gen_unref(m->ptr);
        dropped += m->kind == MSG_TASK; /* only when the thread never ran */
        free(m);
        m = next;
    }
    if (dropped)
        log_warn("worker %u: %u plugin task%s dropped: the thread never ran", w->id, dropped, dropped == 1 ? "" : "s");
    free(w->tinit_failed);
    w->tinit_failed = NULL;
    w->ntinit_failed = 0;
    for (unsigned i = 0; i < w->nfree_bufs; i++)
        free(w->free_bufs[i]);
    for (unsigned i = 0; i < w->nfree_pools; i++)
        pool_free(w->free_pools[i]);
    free(w->free_bufs);
    free(w->free_pools);
    free(w->lios);
    free(w->retired);
    ev_async_close(w->loop, &w->wake);
    ev_free(w->loop);
    w->loop = NULL;
    if (w->gen)
        gen_unref(w->gen);
    w->gen = NULL;
}

void worker_release(worker_t *w) { pthread_mutex_destroy(&w->lock); }
