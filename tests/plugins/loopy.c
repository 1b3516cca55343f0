/*
 * Fixture: exercises the event-loop calls and the lifecycle hooks of ABI
 * 1.3, reporting in response bodies and in "loopy[TAG] ..." log lines.
 *
 * Keys: tag = TEXT (named in every line, default "-"); renew_flag = PATH
 * (reload_check answers 1 while that file exists, else 0); fail =
 * process_init or thread_init (that hook fails).
 *
 * Subpaths (the content handler blocks only on tasks of OTHER loops):
 *   /          "loopy TAG id=N\n", the instance's number (X-Loopy-Id too)
 *   /loops     "loops=N distinct=1 end=NULL current=I of=I\n"
 *   /run_on    a thread of the plugin posts a task to every loop; the
 *              handler waits (at most 5 s) for the other loops' tasks and
 *              answers "loop J: ran on K rc=0\n" per loop; the task for its
 *              own loop logs "self task ran on loop K (posted for J)"
 *   /timers    timers of 300, 100 and 200 ms, one of 1000 ms re-set to 150,
 *              one of 50 ms stopped at once, and one of 400 ms that logs "timers
 *              done; stopped timer fired=0"; each other logs "timer MS fired"
 *   /watch     a socketpair: "watch read ping", pause, "watch paused:
 *              nothing read meanwhile", "watch read more", "watch writable",
 *              "watch eof", the watch freed in its own callback
 *   /connect   connect(X-Addr header): "connect ADDR: fd nonblock=1
 *              cloexec=1\n" (then, once connected, writes "hello from
 *              loopy\n" and logs "connect ADDR: connected") or "connect
 *              ADDR: errno=NAME\n"
 *   /misuse    calls that must be refused, one line each
 *   /poster    starts a thread posting a task to loop 0 every millisecond
 *              until run_on refuses ("poster refused after accepted=N"),
 *              the first task logging "poster's first task ran";
 *              destroy() joins it and logs "poster accepted=N ran=M"
 */
#include <plughttpd/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LOOPS 64

typedef struct loopy {
    const ph_server_api_t *api;
    char tag[64];
    char renew_flag[512];
    int fail_process_init, fail_thread_init;
    unsigned long long id;
    /* /poster: a thread of the plugin's posting to loop 0 until refused */
    pthread_t poster;
    int poster_started, poster_stop; /* atomic */
    unsigned long accepted, ran;     /* atomic */
} loopy_t;

/* Unique per instance in the whole run: each reload that loads the file
 * again gets a fresh copy of the library, so a static counter would not
 * be. */
static unsigned long long new_id(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

#define LOG(L, ...) (L)->api->log(PH_LOG_INFO, __VA_ARGS__)

static int loop_index(const ph_server_api_t *api, ph_loop_t *l)
{
    for (unsigned i = 0; l && i < api->loops(); i++)
        if (api->loop_at(i) == l)
            return (int)i;
    return -1;
}

/* --- lifecycle ---------------------------------------------------------- */

static int ly_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    loopy_t *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    l->api = args->api;
    snprintf(l->tag, sizeof l->tag, "-");
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        if (strcmp(k, "tag") == 0) {
            snprintf(l->tag, sizeof l->tag, "%s", v);
        } else if (strcmp(k, "renew_flag") == 0) {
            snprintf(l->renew_flag, sizeof l->renew_flag, "%s", v);
        } else if (strcmp(k, "fail") == 0 && strcmp(v, "process_init") == 0) {
            l->fail_process_init = 1;
        } else if (strcmp(k, "fail") == 0 && strcmp(v, "thread_init") == 0) {
            l->fail_thread_init = 1;
        } else {
            err->key = (int)i;
            snprintf(err->msg, sizeof err->msg, "unknown key \"%s\"", k);
            free(l);
            return PH_ERROR;
        }
    }
    l->id = new_id();
    LOG(l, "loopy[%s] create id=%llu pid=%d check=%d", l->tag, l->id, (int)getpid(),
        (args->flags & PH_CREATE_CHECK) != 0);
    *instance = l;
    return PH_OK;
}

static void ly_destroy(void *instance)
{
    loopy_t *l = instance;
    if (__atomic_load_n(&l->poster_started, __ATOMIC_ACQUIRE) == 1) {
        /* At the stop the loops have ended: the poster is refused and
         * ends by itself. Otherwise (a reload), it is told to. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        if (pthread_timedjoin_np(l->poster, NULL, &until) != 0) {
            __atomic_store_n(&l->poster_stop, 1, __ATOMIC_RELEASE);
            pthread_join(l->poster, NULL);
        }
        LOG(l, "loopy[%s] poster accepted=%lu ran=%lu", l->tag, __atomic_load_n(&l->accepted, __ATOMIC_ACQUIRE),
            __atomic_load_n(&l->ran, __ATOMIC_ACQUIRE));
    }
    LOG(l, "loopy[%s] destroy id=%llu pid=%d", l->tag, l->id, (int)getpid());
    free(l);
}

static int ly_process_init(void *instance, unsigned index)
{
    loopy_t *l = instance;
    LOG(l, "loopy[%s] process_init index=%u pid=%d id=%llu loops=%u", l->tag, index, (int)getpid(), l->id,
        l->api->loops());
    return l->fail_process_init ? PH_ERROR : PH_OK;
}

static void ly_process_exit(void *instance, unsigned index)
{
    loopy_t *l = instance;
    LOG(l, "loopy[%s] process_exit index=%u pid=%d id=%llu", l->tag, index, (int)getpid(), l->id);
}

static int ly_thread_init(void *instance, unsigned index)
{
    loopy_t *l = instance;
    int match = l->api->loop_current() != NULL && l->api->loop_current() == l->api->loop_at(index);
    LOG(l, "loopy[%s] thread_init index=%u id=%llu match=%d", l->tag, index, l->id, match);
    return l->fail_thread_init ? PH_ERROR : PH_OK;
}

static void ly_thread_exit(void *instance, unsigned index)
{
    loopy_t *l = instance;
    int match = l->api->loop_current() != NULL && l->api->loop_current() == l->api->loop_at(index);
    LOG(l, "loopy[%s] thread_exit index=%u id=%llu match=%d", l->tag, index, l->id, match);
}

static int ly_reload_check(void *instance)
{
    loopy_t *l = instance;
    int renew = l->renew_flag[0] && access(l->renew_flag, F_OK) == 0;
    LOG(l, "loopy[%s] reload_check id=%llu -> %d", l->tag, l->id, renew);
    return renew;
}

/* --- /loops --------------------------------------------------------------- */

static int do_loops(loopy_t *l, ph_request_t *req)
{
    const ph_server_api_t *api = l->api;
    unsigned n = api->loops();
    int distinct = n > 0;
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < i; j++)
            if (api->loop_at(i) == NULL || api->loop_at(i) == api->loop_at(j))
                distinct = 0;
    return api->body_printf(req, "loops=%u distinct=%d end=%s current=%d of=%d\n", n, distinct,
                            api->loop_at(n) == NULL ? "NULL" : "set", loop_index(api, api->loop_current()),
                            loop_index(api, api->loop_of(req)));
}

/* --- /run_on -------------------------------------------------------------- */

typedef struct rendezvous rendezvous_t;

typedef struct task {
    rendezvous_t *rv;
    unsigned target;
} task_t;

struct rendezvous {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    loopy_t *l;
    unsigned n, self, want, got;
    int ran_on[MAX_LOOPS];
    int rc[MAX_LOOPS];
    task_t tasks[MAX_LOOPS];
};

static void other_task(void *arg)
{
    task_t *t = arg;
    rendezvous_t *rv = t->rv;
    pthread_mutex_lock(&rv->mu);
    rv->ran_on[t->target] = loop_index(rv->l->api, rv->l->api->loop_current());
    rv->got++;
    pthread_cond_signal(&rv->cv);
    pthread_mutex_unlock(&rv->mu);
}

typedef struct self_task {
    loopy_t *l;
    unsigned target;
} self_task_t;

static void own_task(void *arg)
{
    self_task_t *st = arg;
    LOG(st->l, "loopy[%s] self task ran on loop %d (posted for %u)", st->l->tag,
        loop_index(st->l->api, st->l->api->loop_current()), st->target);
    free(st);
}

static void *poster(void *arg)
{
    rendezvous_t *rv = arg;
    const ph_server_api_t *api = rv->l->api;
    for (unsigned j = 0; j < rv->n; j++) {
        if (j == rv->self) {
            self_task_t *st = malloc(sizeof *st);
            *st = (self_task_t){rv->l, j};
            rv->rc[j] = api->run_on(api->loop_at(j), own_task, st);
            if (rv->rc[j] != PH_OK)
                free(st);
            continue;
        }
        rv->tasks[j] = (task_t){rv, j};
        rv->rc[j] = api->run_on(api->loop_at(j), other_task, &rv->tasks[j]);
    }
    return NULL;
}

static int do_run_on(loopy_t *l, ph_request_t *req)
{
    const ph_server_api_t *api = l->api;
    /* On the heap and left there if a task never comes: a late task must
     * not write into a stack frame that is gone. */
    rendezvous_t *rv = calloc(1, sizeof *rv);
    pthread_mutex_init(&rv->mu, NULL);
    pthread_cond_init(&rv->cv, NULL);
    rv->l = l;
    rv->n = api->loops() < MAX_LOOPS ? api->loops() : MAX_LOOPS;
    rv->self = (unsigned)loop_index(api, api->loop_of(req));
    for (unsigned j = 0; j < rv->n; j++)
        rv->ran_on[j] = -1;
    pthread_t th;
    if (pthread_create(&th, NULL, poster, rv) != 0)
        return PH_ERROR;
    pthread_join(th, NULL);
    for (unsigned j = 0; j < rv->n; j++)
        if (j != rv->self && rv->rc[j] == PH_OK)
            rv->want++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&rv->mu);
    while (rv->got < rv->want && pthread_cond_timedwait(&rv->cv, &rv->mu, &until) == 0) {
    }
    int complete = rv->got == rv->want;
    for (unsigned j = 0; j < rv->n; j++)
        if (j != rv->self)
            api->body_printf(req, "loop %u: ran on %d rc=%d\n", j, rv->ran_on[j], rv->rc[j]);
    api->body_printf(req, "self %u: rc=%d\n", rv->self, rv->rc[rv->self]);
    pthread_mutex_unlock(&rv->mu);
    if (complete) {
        pthread_mutex_destroy(&rv->mu);
        pthread_cond_destroy(&rv->cv);
        free(rv);
    }
    return PH_OK;
}

/* --- /timers -------------------------------------------------------------- */

typedef struct timers {
    loopy_t *l;
    ph_timer_t *stopped;
    void *stopped_arg;
    int stopped_fired;
} timers_t;

typedef struct one_timer {
    timers_t *ts;
    unsigned ms; /* the delay it is meant to fire after: its name */
    int done;
} one_timer_t;

static void timer_fired(ph_timer_t *t, void *arg)
{
    one_timer_t *ot = arg;
    timers_t *ts = ot->ts;
    const ph_server_api_t *api = ts->l->api;
    if (ot->done) {
        LOG(ts->l, "loopy[%s] timers done; stopped timer fired=%d", ts->l->tag, ts->stopped_fired);
        api->timer_free(ts->stopped);
        free(ts->stopped_arg);
        free(ts);
    } else if (ot->ms == 50) {
        ts->stopped_fired = 1;
        LOG(ts->l, "loopy[%s] timer 50 fired", ts->l->tag);
        return; /* freed at "done" */
    } else {
        LOG(ts->l, "loopy[%s] timer %u fired", ts->l->tag, ot->ms);
    }
    free(ot);
    api->timer_free(t);
}

/* A timer named name, set for ms; *arg (if asked) is its callback's. */
static ph_timer_t *arm(timers_t *ts, unsigned name, unsigned ms, int done, void **arg)
{
    const ph_server_api_t *api = ts->l->api;
    one_timer_t *ot = calloc(1, sizeof *ot);
    *ot = (one_timer_t){ts, name, done};
    ph_timer_t *t = api->timer_new(api->loop_current(), timer_fired, ot);
    if (t == NULL || api->timer_set(t, ms) != PH_OK) {
        free(ot);
        return NULL;
    }
    if (arg)
        *arg = ot;
    return t;
}

static int do_timers(loopy_t *l, ph_request_t *req)
{
    const ph_server_api_t *api = l->api;
    timers_t *ts = calloc(1, sizeof *ts);
    ts->l = l;
    /* 50 ms apart: the order holds however slowly this runs (valgrind) */
    arm(ts, 300, 300, 0, NULL);
    arm(ts, 100, 100, 0, NULL);
    arm(ts, 200, 200, 0, NULL);
    ph_timer_t *t150 = arm(ts, 150, 1000, 0, NULL);
    ts->stopped = arm(ts, 50, 50, 0, &ts->stopped_arg);
    api->timer_stop(ts->stopped);
    arm(ts, 400, 400, 1, NULL);
    /* re-set: fires at 150 ms, not 1000 */
    int rc = api->timer_set(t150, 150);
    return api->body_printf(req, "armed rc=%d\n", rc);
}

/* --- /watch --------------------------------------------------------------- */

typedef struct watching {
    loopy_t *l;
    int a, b;
    int step;
    int paused;
    ph_watch_t *w;
    ph_timer_t *resume;
} watching_t;

static const char *ev_letters(unsigned ev, char *buf)
{
    char *p = buf;
    if (ev & PH_EV_READ)
        *p++ = 'R';
    if (ev & PH_EV_WRITE)
        *p++ = 'W';
    if (ev & PH_EV_HUP)
        *p++ = 'H';
    *p = '\0';
    return buf;
}

static void resume_watch(ph_timer_t *t, void *arg)
{
    watching_t *wg = arg;
    LOG(wg->l, "loopy[%s] watch paused: nothing read meanwhile", wg->l->tag);
    wg->paused = 0;
    wg->l->api->watch_set(wg->w, PH_EV_READ);
}

static void on_watch(ph_watch_t *w, int fd, unsigned events, void *arg)
{
    watching_t *wg = arg;
    const ph_server_api_t *api = wg->l->api;
    char ev[4], buf[16];
    if (wg->paused) {
        LOG(wg->l, "loopy[%s] watch event while paused", wg->l->tag);
        api->watch_set(w, 0);
        return;
    }
    switch (wg->step) {
    case 0:
    case 1: {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        LOG(wg->l, "loopy[%s] watch read %s events=%s", wg->l->tag, buf, ev_letters(events, ev));
        if (wg->step++ == 0) {
            wg->paused = 1;
            api->watch_set(w, 0);
            if (write(wg->b, "more", 4) != 4)
                LOG(wg->l, "loopy[%s] write failed", wg->l->tag);
            wg->resume = api->timer_new(api->loop_current(), resume_watch, wg);
            api->timer_set(wg->resume, 30);
        } else {
            api->watch_set(w, PH_EV_WRITE);
        }
        break;
    }
    case 2:
        LOG(wg->l, "loopy[%s] watch writable events=%s", wg->l->tag, ev_letters(events, ev));
        wg->step++;
        close(wg->b);
        api->watch_set(w, PH_EV_READ);
        break;
    default: {
        ssize_t n = read(fd, buf, sizeof buf);
        LOG(wg->l, "loopy[%s] watch eof read=%zd events=%s", wg->l->tag, n, ev_letters(events, ev));
        api->watch_free(w); /* in its own callback */
        api->timer_free(wg->resume);
        close(wg->a);
        free(wg);
    }
    }
}

static int do_watch(loopy_t *l, ph_request_t *req)
{
    const ph_server_api_t *api = l->api;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return PH_ERROR;
    watching_t *wg = calloc(1, sizeof *wg);
    *wg = (watching_t){.l = l, .a = sv[0], .b = sv[1]};
    wg->w = api->watch_new(api->loop_of(req), sv[0], PH_EV_READ, on_watch, wg);
    if (wg->w == NULL || write(sv[1], "ping", 4) != 4) {
        close(sv[0]);
        close(sv[1]);
        free(wg);
        return PH_ERROR;
    }
    return api->body_printf(req, "watching\n");
}

/* --- /connect ------------------------------------------------------------- */

typedef struct connecting {
    loopy_t *l;
    char addr[300];
} connecting_t;

static const char *errno_name(int e)
{
    switch (e) {
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENXIO: return "ENXIO";
    case ENOENT: return "ENOENT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return "other";
    }
}

static void on_connected(ph_watch_t *w, int fd, unsigned events, void *arg)
{
    connecting_t *c = arg;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0 && write(fd, "hello from loopy\n", 17) == 17)
        LOG(c->l, "loopy[%s] connect %s: connected", c->l->tag, c->addr);
    else
        LOG(c->l, "loopy[%s] connect %s: failed: %s", c->l->tag, c->addr, errno_name(err));
    c->l->api->watch_free(w);
    close(fd);
    free(c);
}

static int do_connect(loopy_t *l, ph_request_t *req)
{
    const ph_server_api_t *api = l->api;
    ph_str_t v;
    if (!api->header(req, "X-Addr", &v) || v.len >= 300)
        return api->send_error(req, 400, "X-Addr header wanted");
    connecting_t *c = calloc(1, sizeof *c);
    c->l = l;
    memcpy(c->addr, v.ptr, v.len);
    int fd = api->connect(c->addr);
    if (fd < 0) {
        int e = errno;
        api->body_printf(req, "connect %s: errno=%s\n", c->addr, errno_name(e));
        free(c);
        return PH_OK;
    }
    int nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
    int cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
    api->body_printf(req, "connect %s: fd nonblock=%d cloexec=%d\n", c->addr, nonblock, cloexec);
    if (api->watch_new(api->loop_of(req), fd, PH_EV_WRITE, on_connected, c) == NULL) {
        close(fd);
        free(c);
        return PH_ERROR;
    }
    return PH_OK;
}

/* --- /poster -------------------------------------------------------------- */

static void count_task(void *arg)
{
    loopy_t *l = arg;
    if (__atomic_add_fetch(&l->ran, 1, __ATOMIC_ACQ_REL) == 1)
        LOG(l, "loopy[%s] poster's first task ran", l->tag);
}

/* Posts to loop 0 every millisecond (for at most 120 s) until run_on
 * refuses (the loop has stopped) or destroy() asks it to end. */
static void *post_until_refused(void *arg)
{
    loopy_t *l = arg;
    ph_loop_t *loop = l->api->loop_at(0);
    for (int i = 0; i < 120000 && !__atomic_load_n(&l->poster_stop, __ATOMIC_ACQUIRE); i++) {
        if (l->api->run_on(loop, count_task, l) != PH_OK) {
            LOG(l, "loopy[%s] poster refused after accepted=%lu", l->tag,
                __atomic_load_n(&l->accepted, __ATOMIC_ACQUIRE));
            return NULL;
        }
        __atomic_add_fetch(&l->accepted, 1, __ATOMIC_ACQ_REL);
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static int do_poster(loopy_t *l, ph_request_t *req)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&l->poster_started, &expected, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return l->api->body_printf(req, "already posting\n");
    if (pthread_create(&l->poster, NULL, post_until_refused, l) != 0) {
        __atomic_store_n(&l->poster_started, 0, __ATOMIC_RELEASE);
        return PH_ERROR;
    }
    __atomic_store_n(&l->poster_started, 1, __ATOMIC_RELEASE);
    return l->api->body_printf(req, "posting\n");
}

/* --- /misuse -------------------------------------------------------------- */

typedef struct foreign {
    loopy_t *l;
    ph_loop_t *loop;
    int fd;
    int watch_null, watch_errno, timer_null, timer_errno, current_null;
} foreign_t;

static void never(ph_watch_t *w, int fd, unsigned ev, void *arg) {}
static void never_t(ph_timer_t *t, void *arg) {}
static void never_task(void *arg) {}

static void *foreign_calls(void *arg)
{
    foreign_t *f = arg;
    const ph_server_api_t *api = f->l->api;
    errno = 0;
    f->watch_null = api->watch_new(f->loop, f->fd, PH_EV_READ, never, NULL) == NULL;
    f->watch_errno = errno;
    errno = 0;
    f->timer_null = api->timer_new(f->loop, never_t, NULL) == NULL;
    f->timer_errno = errno;
    f->current_null = api->loop_current() == NULL;
    return NULL;
}

static int do_misuse(loopy_t *l, ph_request_t *req)
{
    const ph_server_api_t *api = l->api;
    ph_loop_t *loop = api->loop_of(req);
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return PH_ERROR;
    errno = 0;
    int r = api->watch_new(loop, -1, PH_EV_READ, never, NULL) == NULL;
    api->body_printf(req, "bad fd: %s %s\n", r ? "NULL" : "watch", errno_name(errno) );
    errno = 0;
    r = api->watch_new(loop, p[0], 0x80, never, NULL) == NULL;
    api->body_printf(req, "bad events: %s %s\n", r ? "NULL" : "watch", errno_name(errno));
    errno = 0;
    r = api->watch_new(NULL, p[0], PH_EV_READ, never, NULL) == NULL;
    api->body_printf(req, "no loop: %s %s\n", r ? "NULL" : "watch", errno_name(errno));
    api->body_printf(req, "run_on NULL: %d\n", api->run_on(NULL, never_task, NULL));
    api->body_printf(req, "run_on no fn: %d\n", api->run_on(loop, NULL, NULL));
    foreign_t f = {.l = l, .loop = loop, .fd = p[0]};
    pthread_t th;
    if (pthread_create(&th, NULL, foreign_calls, &f) == 0) {
        pthread_join(th, NULL);
        api->body_printf(req, "foreign watch_new: %s %s\n", f.watch_null ? "NULL" : "watch",
                         f.watch_errno == EPERM ? "EPERM" : "other");
        api->body_printf(req, "foreign timer_new: %s %s\n", f.timer_null ? "NULL" : "timer",
                         f.timer_errno == EPERM ? "EPERM" : "other");
        api->body_printf(req, "foreign loop_current: %s\n", f.current_null ? "NULL" : "set");
    }
    close(p[0]);
    close(p[1]);
    return PH_OK;
}

/* --- dispatch ------------------------------------------------------------- */

static int ly_handle(void *instance, ph_request_t *req)
{
    loopy_t *l = instance;
    const ph_server_api_t *api = l->api;
    ph_str_t sp = api->subpath(req);
#define IS(s) (sp.len == sizeof(s) - 1 && memcmp(sp.ptr, s, sp.len) == 0)
    if (IS("/loops"))
        return do_loops(l, req);
    if (IS("/run_on"))
        return do_run_on(l, req);
    if (IS("/timers"))
        return do_timers(l, req);
    if (IS("/watch"))
        return do_watch(l, req);
    if (IS("/connect"))
        return do_connect(l, req);
    if (IS("/misuse"))
        return do_misuse(l, req);
    if (IS("/poster"))
        return do_poster(l, req);
#undef IS
    char id[24];
    snprintf(id, sizeof id, "%llu", l->id);
    api->add_header(req, "X-Loopy-Id", id);
    return api->body_printf(req, "loopy %s id=%llu\n", l->tag, l->id);
}

static const ph_hooks_t hooks = {
    .size = sizeof hooks,
    .process_init = ly_process_init,
    .process_exit = ly_process_exit,
    .thread_init = ly_thread_init,
    .thread_exit = ly_thread_exit,
    .reload_check = ly_reload_check,
};

PH_PLUGIN_DEFINE_HOOKS("loopy", "1.0", 0, ly_create, ly_handle, ly_destroy, &hooks);
