/*
 * Unit tests for server/ev_epoll.c (the ev.h loop), driven with pipes,
 * socketpairs, timers of 10-120 ms and a second thread.
 *
 * Timing is checked by ORDER wherever possible (a timer against a canary
 * timer), never by tight bounds: the loop's clock is CLOCK_MONOTONIC_COARSE
 * and CI machines are slow. Every test arms a watchdog timer that fails it
 * instead of hanging.
 */
#include "ev.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- helpers ------------------------------------------------------------- */

static void watchdog_cb(ev_loop_t *loop, ev_timer_t *t)
{
    ck_abort_msg("watchdog: the loop ran for 2 s without finishing the test");
}

/* The watchdog lives as long as the test. */
static ev_timer_t watchdog;

static void arm_watchdog(ev_loop_t *loop)
{
    ev_timer_init(&watchdog, watchdog_cb, NULL);
    ev_timer_set(loop, &watchdog, 2000);
}

/* A loop with the watchdog armed. Tests that build an exact heap layout
 * use ev_new() and arm it last instead. */
static ev_loop_t *new_loop(void)
{
    ev_loop_t *loop = ev_new();
    ck_assert_ptr_nonnull(loop);
    arm_watchdog(loop);
    return loop;
}

static void free_loop(ev_loop_t *loop)
{
    ev_timer_stop(loop, &watchdog);
    ev_free(loop);
}

static void break_cb(ev_loop_t *loop, ev_timer_t *t)
{
    if (t->data)
        ++*(int *)t->data;
    ev_break(loop);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void make_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void put_byte(int fd, char c) { ck_assert_int_eq(write(fd, &c, 1), 1); }

/* What an io callback saw. */
typedef struct io_rec {
    int calls;
    unsigned events;     /* of the last call */
    unsigned all_events; /* or of every call */
    int consume;         /* read what is there */
    int stop_self;       /* ev_io_stop() itself on the first call */
    int break_after;     /* ev_break() after this many calls (0: never) */
    ev_io_t *stop_other; /* ev_io_stop() this one on the first call */
} io_rec_t;

static void rec_io_cb(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    io_rec_t *r = io->data;
    r->calls++;
    r->events = events;
    r->all_events |= events;
    if (r->consume) {
        char buf[64];
        while (read(io->fd, buf, sizeof buf) > 0) {
        }
    }
    if (r->calls == 1 && r->stop_self)
        ev_io_stop(loop, io);
    if (r->calls == 1 && r->stop_other)
        ev_io_stop(loop, r->stop_other);
    if (r->break_after && r->calls >= r->break_after)
        ev_break(loop);
}

/* --- fds ----------------------------------------------------------------- */

START_TEST(read_readiness)
{
    ev_loop_t *loop = new_loop();
    int sv[2];
    make_pair(sv);
    io_rec_t rec = {.consume = 1, .break_after = 1};
    ev_io_t io;
    ev_io_init(&io, sv[0], rec_io_cb, &rec);
    ck_assert_int_eq(ev_io_start(loop, &io, EV_READ, 0), 0);
    ck_assert_uint_eq(io.active, 1);
    ck_assert_uint_eq(io.mask, EV_READ);
    put_byte(sv[1], 'x');
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_uint_eq(rec.events & EV_READ, EV_READ);
    ck_assert_uint_eq(rec.events & EV_WRITE, 0); /* not asked for */
    ev_io_stop(loop, &io);
    ck_assert_uint_eq(io.active, 0);
    close(sv[0]);
    close(sv[1]);
    free_loop(loop);
}
END_TEST

/* Nothing to read: no callback until the interest changes to EV_WRITE. */
typedef struct switch_ctx {
    ev_io_t *io;
    io_rec_t *rec;
    int calls_before;
} switch_ctx_t;

static void switch_to_write(ev_loop_t *loop, ev_timer_t *t)
{
    switch_ctx_t *c = t->data;
    c->calls_before = c->rec->calls;
    ck_assert_int_eq(ev_io_set(loop, c->io, EV_WRITE), 0);
    ck_assert_uint_eq(c->io->mask, EV_WRITE);
    ck_assert_int_eq(ev_io_set(loop, c->io, EV_WRITE), 0); /* unchanged: no-op */
}

START_TEST(io_set_write)
{
    ev_loop_t *loop = new_loop();
    int sv[2];
    make_pair(sv);
    io_rec_t rec = {.break_after = 1};
    ev_io_t io;
    ev_io_init(&io, sv[0], rec_io_cb, &rec);
    ck_assert_int_eq(ev_io_start(loop, &io, EV_READ, 0), 0);
    switch_ctx_t ctx = {.io = &io, .rec = &rec, .calls_before = -1};
    ev_timer_t t;
    ev_timer_init(&t, switch_to_write, &ctx);
    ev_timer_set(loop, &t, 20);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(ctx.calls_before, 0); /* idle socket, READ only: silent */
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_uint_eq(rec.events & EV_WRITE, EV_WRITE);
    ck_assert_uint_eq(rec.events & EV_READ, 0);
    ev_io_stop(loop, &io);
    close(sv[0]);
    close(sv[1]);
    free_loop(loop);
}
END_TEST

/* ev_io_set() on an io that is not started starts it. */
START_TEST(io_set_starts_inactive)
{
    ev_loop_t *loop = new_loop();
    int sv[2];
    make_pair(sv);
    io_rec_t rec = {.break_after = 1};
    ev_io_t io;
    ev_io_init(&io, sv[0], rec_io_cb, &rec);
    ck_assert_int_eq(ev_io_set(loop, &io, EV_WRITE), 0);
    ck_assert_uint_eq(io.active, 1);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_uint_eq(rec.events & EV_WRITE, EV_WRITE);
    ev_io_stop(loop, &io);
    close(sv[0]);
    close(sv[1]);
    free_loop(loop);
}
END_TEST

/* The fd stays readable (level-triggered), but after ev_io_stop() in its
 * first callback the io is never called again. */
START_TEST(io_stop_stops_callbacks)
{
    ev_loop_t *loop = new_loop();
    int sv[2];
    make_pair(sv);
    io_rec_t rec = {.stop_self = 1};
    ev_io_t io;
    ev_io_init(&io, sv[0], rec_io_cb, &rec);
    ck_assert_int_eq(ev_io_start(loop, &io, EV_READ, 0), 0);
    put_byte(sv[1], 'x'); /* never consumed */
    ev_timer_t t;
    ev_timer_init(&t, break_cb, NULL);
    ev_timer_set(loop, &t, 50);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_uint_eq(io.active, 0);

    /* and it can be started again */
    rec = (io_rec_t){.consume = 1, .break_after = 1};
    ck_assert_int_eq(ev_io_start(loop, &io, EV_READ, 0), 0);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(rec.calls, 1);
    ev_io_stop(loop, &io);
    close(sv[0]);
    close(sv[1]);
    free_loop(loop);
}
END_TEST

/* Two fds ready in the same batch: the first callback stops the other io
 * (as closing a connection from another's callback does). The stopped io
 * must not be called, although its event was already collected. */
START_TEST(io_stop_within_batch)
{
    ev_loop_t *loop = new_loop();
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    ev_io_t ioa, iob;
    io_rec_t ra = {.stop_self = 1, .stop_other = &iob};
    io_rec_t rb = {.stop_self = 1, .stop_other = &ioa};
    ev_io_init(&ioa, a[0], rec_io_cb, &ra);
    ev_io_init(&iob, b[0], rec_io_cb, &rb);
    ck_assert_int_eq(ev_io_start(loop, &ioa, EV_READ, 0), 0);
    ck_assert_int_eq(ev_io_start(loop, &iob, EV_READ, 0), 0);
    put_byte(a[1], 'x');
    put_byte(b[1], 'y');
    ev_timer_t t;
    ev_timer_init(&t, break_cb, NULL);
    ev_timer_set(loop, &t, 50);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_msg(ra.calls + rb.calls == 1, "stopped io called: a %d, b %d calls", ra.calls, rb.calls);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    free_loop(loop);
}
END_TEST

/* A peer that goes away is reported with EV_READ (EV_HUP for a pipe whose
 * writer is gone), and read() then returns 0. */
START_TEST(hangup_delivered_with_read)
{
    ev_loop_t *loop = new_loop();
    int sv[2];
    make_pair(sv);
    io_rec_t rec = {.break_after = 1};
    ev_io_t io;
    ev_io_init(&io, sv[0], rec_io_cb, &rec);
    ck_assert_int_eq(ev_io_start(loop, &io, EV_READ, 0), 0);
    close(sv[1]);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_uint_eq(rec.events & EV_READ, EV_READ);
    char c;
    ck_assert_int_eq(read(sv[0], &c, 1), 0);
    ev_io_stop(loop, &io);
    close(sv[0]);

    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    rec = (io_rec_t){.break_after = 1};
    ev_io_init(&io, p[0], rec_io_cb, &rec);
    ck_assert_int_eq(ev_io_start(loop, &io, EV_READ, 0), 0);
    close(p[1]);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_uint_eq(rec.events & (EV_READ | EV_HUP), EV_READ | EV_HUP);
    ev_io_stop(loop, &io);
    close(p[0]);
    free_loop(loop);
}
END_TEST

/* --- timers -------------------------------------------------------------- */

#define MAX_FIRED 16

typedef struct fired {
    int order[MAX_FIRED]; /* timer ids in firing order */
    uint64_t at[MAX_FIRED];
    int n;
    int last_id;          /* ev_break() when this id fires */
} fired_t;

typedef struct idtimer {
    ev_timer_t t;
    int id;
    fired_t *log;
} idtimer_t;

static void id_cb(ev_loop_t *loop, ev_timer_t *t)
{
    idtimer_t *it = t->data;
    fired_t *f = it->log;
    ck_assert_int_lt(f->n, MAX_FIRED);
    /* never before its deadline, by the loop's own clock */
    ck_assert_msg(ev_now(loop) >= t->when, "timer %d fired at %llu, deadline %llu", it->id,
                  (unsigned long long)ev_now(loop), (unsigned long long)t->when);
    ck_assert(!ev_timer_active(t));
    f->order[f->n] = it->id;
    f->at[f->n] = mono_ms();
    f->n++;
    if (it->id == f->last_id)
        ev_break(loop);
}

static void id_init(idtimer_t *it, int id, fired_t *log)
{
    it->id = id;
    it->log = log;
    ev_timer_init(&it->t, id_cb, it);
}

static void assert_order(const fired_t *f, const int *want, int n)
{
    char got[128] = "", exp[128] = "";
    for (int i = 0; i < f->n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%d ", f->order[i]);
    for (int i = 0; i < n; i++)
        snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%d ", want[i]);
    ck_assert_msg(f->n == n && memcmp(f->order, want, (size_t)n * sizeof *want) == 0,
                  "timers fired in order [%s], want [%s]", got, exp);
}

START_TEST(timers_fire_in_deadline_order)
{
    ev_loop_t *loop = new_loop();
    fired_t f = {.last_id = 50};
    static const int ms[] = {40, 10, 30, 50, 20, 15, 45};
    idtimer_t t[7];
    for (int i = 0; i < 7; i++) {
        id_init(&t[i], ms[i], &f);
        ev_timer_set(loop, &t[i].t, (uint64_t)ms[i]);
        ck_assert(ev_timer_active(&t[i].t));
    }
    ck_assert_int_eq(ev_run(loop), 0);
    static const int want[] = {10, 15, 20, 30, 40, 45, 50};
    assert_order(&f, want, 7);
    free_loop(loop);
}
END_TEST

/* Moving a deadline later: it fires at the later time, after a canary that
 * is due in between, never at the original time. */
START_TEST(timer_moved_later)
{
    ev_loop_t *loop = new_loop();
    fired_t f = {.last_id = 2};
    idtimer_t moved, canary;
    id_init(&moved, 2, &f);
    id_init(&canary, 1, &f);
    uint64_t start = mono_ms();
    ev_timer_set(loop, &moved.t, 20);
    ev_timer_set(loop, &canary.t, 50);
    ev_timer_set(loop, &moved.t, 100);
    ck_assert(ev_timer_active(&moved.t));
    ck_assert_int_eq(ev_run(loop), 0);
    static const int want[] = {1, 2};
    assert_order(&f, want, 2);
    /* generous: well past the original 20 ms (coarse clock slop allowed) */
    ck_assert_msg(f.at[1] - start >= 80, "moved timer fired after %llu ms", (unsigned long long)(f.at[1] - start));
    free_loop(loop);
}
END_TEST

/* And earlier: it fires before the canary. */
START_TEST(timer_moved_earlier)
{
    ev_loop_t *loop = new_loop();
    fired_t f = {.last_id = 1};
    idtimer_t moved, canary;
    id_init(&moved, 2, &f);
    id_init(&canary, 1, &f);
    ev_timer_set(loop, &moved.t, 100);
    ev_timer_set(loop, &canary.t, 50);
    ev_timer_set(loop, &moved.t, 10);
    ck_assert_int_eq(ev_run(loop), 0);
    static const int want[] = {2, 1};
    assert_order(&f, want, 2);
    free_loop(loop);
}
END_TEST

/* A timer moved later while it sits below the heap's root must not delay
 * the timers under it: the deadline order holds for all of them. The
 * deadlines are all relative to one loop time, so the expected order does
 * not depend on timing. */
START_TEST(timer_moved_later_keeps_others_in_order)
{
    ev_loop_t *loop = ev_new();
    ck_assert_ptr_nonnull(loop);
    fired_t f = {.last_id = 120};
    static const int ms[] = {10, 20, 60, 30, 80};
    idtimer_t t[5];
    for (int i = 0; i < 5; i++) {
        id_init(&t[i], ms[i], &f);
        ev_timer_set(loop, &t[i].t, (uint64_t)ms[i]);
    }
    t[1].id = 120;
    ev_timer_set(loop, &t[1].t, 120); /* the 20 ms timer moves to 120 ms */
    arm_watchdog(loop);
    ck_assert_int_eq(ev_run(loop), 0);
    static const int want[] = {10, 30, 60, 80, 120};
    assert_order(&f, want, 5);
    free_loop(loop);
}
END_TEST

/* Many timers with some moved later, some earlier and some stopped: every
 * remaining one fires, in deadline order. */
START_TEST(timer_heap_stress)
{
    ev_loop_t *loop = ev_new();
    ck_assert_ptr_nonnull(loop);
    enum { N = 12 };
    fired_t f = {.last_id = -1};
    idtimer_t t[N];
    int deadline[N];
    for (int i = 0; i < N; i++) {
        deadline[i] = 5 + ((i * 5) % N) * 5; /* 5..60, shuffled */
        id_init(&t[i], i, &f);
        ev_timer_set(loop, &t[i].t, (uint64_t)deadline[i]);
    }
    /* moves: later (lazy path), earlier, and a stop */
    int moves[][2] = {{0, 100}, {3, 95}, {7, 2}, {5, 90}, {1, 85}, {9, 1}};
    for (size_t m = 0; m < sizeof moves / sizeof moves[0]; m++) {
        deadline[moves[m][0]] = moves[m][1];
        ev_timer_set(loop, &t[moves[m][0]].t, (uint64_t)moves[m][1]);
    }
    ev_timer_stop(loop, &t[4].t);
    deadline[4] = -1;
    arm_watchdog(loop);

    /* expected: by deadline; the last one breaks the loop */
    int want[N], n = 0;
    for (int d = 0; d <= 100; d++)
        for (int i = 0; i < N; i++)
            if (deadline[i] == d)
                want[n++] = i;
    f.last_id = want[n - 1];
    ck_assert_int_eq(ev_run(loop), 0);
    assert_order(&f, want, n);
    free_loop(loop);
}
END_TEST

static void stop_other_cb(ev_loop_t *loop, ev_timer_t *t)
{
    ev_timer_t *other = t->data;
    ev_timer_stop(loop, other);
    ck_assert(!ev_timer_active(other));
}

START_TEST(timer_stop_prevents_firing)
{
    ev_loop_t *loop = new_loop();
    fired_t f = {.last_id = 1};
    idtimer_t stopped, canary, moved_then_stopped;
    id_init(&stopped, 2, &f);
    id_init(&canary, 1, &f);
    id_init(&moved_then_stopped, 3, &f);
    ev_timer_set(loop, &stopped.t, 10);
    ev_timer_set(loop, &moved_then_stopped.t, 5);
    ev_timer_set(loop, &moved_then_stopped.t, 20); /* lazily moved, then stopped */
    ev_timer_set(loop, &canary.t, 50);
    ev_timer_stop(loop, &stopped.t);
    ev_timer_stop(loop, &moved_then_stopped.t);
    ck_assert(!ev_timer_active(&stopped.t));
    ev_timer_stop(loop, &stopped.t); /* stopping twice is harmless */
    ck_assert_int_eq(ev_run(loop), 0);
    static const int want[] = {1};
    assert_order(&f, want, 1);

    /* stopped from the callback of a timer due just before it */
    f = (fired_t){.last_id = 1};
    ev_timer_t stopper;
    ev_timer_init(&stopper, stop_other_cb, &stopped.t);
    ev_timer_set(loop, &stopper, 10);
    ev_timer_set(loop, &stopped.t, 15);
    ev_timer_set(loop, &canary.t, 40);
    ck_assert_int_eq(ev_run(loop), 0);
    assert_order(&f, want, 1);
    ck_assert(!ev_timer_active(&stopped.t));
    free_loop(loop);
}
END_TEST

/* A timer re-armed from its own callback fires again. */
static void rearm_cb(ev_loop_t *loop, ev_timer_t *t)
{
    int *n = t->data;
    if (++*n == 3)
        ev_break(loop);
    else
        ev_timer_set(loop, t, 10);
}

/* ev_timer_set_exact() never fires before its delay has passed on the
 * precise clock, even when set late in a round whose cached coarse clock
 * is stale (here: 6 ms of work after the loop last read it). */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t exact_fired_ns;

static void exact_cb(ev_loop_t *loop, ev_timer_t *t)
{
    (void)t;
    exact_fired_ns = mono_ns();
    ev_break(loop);
}

/* An I/O callback that works 6 ms, then sets the timer: the next round's
 * coarse clock has moved on by those 6 ms, which a plain ev_timer_set()
 * would count as already waited. */
static void stale_round(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    (void)events;
    char c;
    ck_assert_int_eq(read(io->fd, &c, 1), 1);
    ev_io_stop(loop, io);
    uint64_t until = mono_ns() + 6000000u;
    while (mono_ns() < until)
        ;
    ev_timer_t *exact = io->data;
    *(uint64_t *)exact->data = mono_ns();
    ev_timer_set_exact(loop, exact, 7);
}

START_TEST(timer_exact_never_early)
{
    for (int i = 0; i < 20; i++) {
        ev_loop_t *loop = new_loop();
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        uint64_t set_ns = 0;
        ev_timer_t exact;
        ev_io_t kick;
        ev_timer_init(&exact, exact_cb, &set_ns);
        ev_io_init(&kick, p[0], stale_round, &exact);
        ck_assert_int_eq(ev_io_start(loop, &kick, EV_READ, 0), 0);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        ck_assert_int_eq(ev_run(loop), 0);
        ck_assert_msg(exact_fired_ns >= set_ns + 7000000u, "fired %.3f ms after a 7 ms timer was set",
                      (double)(exact_fired_ns - set_ns) / 1e6);
        close(p[0]);
        close(p[1]);
        free_loop(loop);
    }
}
END_TEST

/* An exact timer of 0 ms is due in the loop's current millisecond: the
 * next round runs it, with no 1 ms sleep for the rounding up. */
START_TEST(timer_exact_zero_is_due_now)
{
    ev_loop_t *loop = new_loop();
    ev_timer_t t;
    ev_timer_init(&t, exact_cb, NULL);
    ev_timer_set_exact(loop, &t, 0);
    ck_assert_uint_eq(t.when, ev_now(loop));
    ev_timer_stop(loop, &t);
    free_loop(loop);
}
END_TEST

START_TEST(timer_rearm_from_callback)
{
    ev_loop_t *loop = new_loop();
    int n = 0;
    ev_timer_t t;
    ev_timer_init(&t, rearm_cb, &n);
    ev_timer_set(loop, &t, 10);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(n, 3);
    ck_assert(!ev_timer_active(&t));
    free_loop(loop);
}
END_TEST

/* --- async --------------------------------------------------------------- */

typedef struct async_ctx {
    ev_async_t a;
    pthread_t loop_thread;
    int calls;
    int on_loop_thread;
    int sends;
} async_ctx_t;

static void async_cb(ev_loop_t *loop, ev_async_t *a)
{
    async_ctx_t *c = a->data;
    c->calls++;
    c->on_loop_thread = pthread_equal(pthread_self(), c->loop_thread);
    ev_break(loop);
}

static void *sender(void *arg)
{
    async_ctx_t *c = arg;
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    for (int i = 0; i < c->sends; i++)
        ev_async_send(&c->a);
    return NULL;
}

START_TEST(async_wakes_loop)
{
    ev_loop_t *loop = new_loop();
    async_ctx_t c = {.loop_thread = pthread_self(), .sends = 1};
    ck_assert_int_eq(ev_async_init(loop, &c.a, async_cb, &c), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, sender, &c), 0);
    ck_assert_int_eq(ev_run(loop), 0); /* no timer but the watchdog: only the send ends it */
    pthread_join(th, NULL);
    ck_assert_int_eq(c.calls, 1);
    ck_assert(c.on_loop_thread);

    /* many sends before the loop runs coalesce into at least one call */
    c.calls = 0;
    c.sends = 1000;
    ck_assert_int_eq(pthread_create(&th, NULL, sender, &c), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_ge(c.calls, 1);
    ck_assert_int_le(c.calls, 1000);

    /* the counter was drained: no spurious call afterwards */
    c.calls = 0;
    ev_timer_t t;
    ev_timer_init(&t, break_cb, NULL);
    ev_timer_set(loop, &t, 30);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(c.calls, 0);

    ev_async_close(loop, &c.a);
    free_loop(loop);
}
END_TEST

/* --- tick and break ---------------------------------------------------- */

typedef struct tick_ctx {
    int fd_peer;
    int io_calls;
    int pending; /* set by the io callback, cleared by the tick */
    int ticks_after_io;
    int ticks;
} tick_ctx_t;

static void tick_io_cb(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    tick_ctx_t *c = io->data;
    char buf[8];
    ck_assert_msg(!c->pending, "io callback %d ran before the tick of the previous batch", c->io_calls);
    ck_assert_int_eq(read(io->fd, buf, sizeof buf), 1);
    c->io_calls++;
    c->pending = 1;
    if (c->io_calls == 5)
        ev_break(loop);
    else
        put_byte(c->fd_peer, 'n'); /* readable again: the next batch */
}

static void tick_cb(ev_loop_t *loop, void *data)
{
    tick_ctx_t *c = data;
    c->ticks++;
    if (c->pending)
        c->ticks_after_io++;
    c->pending = 0;
}

START_TEST(tick_after_each_batch)
{
    ev_loop_t *loop = new_loop();
    int sv[2];
    make_pair(sv);
    tick_ctx_t c = {.fd_peer = sv[1]};
    ev_set_tick(loop, tick_cb, &c);
    ev_io_t io;
    ev_io_init(&io, sv[0], tick_io_cb, &c);
    ck_assert_int_eq(ev_io_start(loop, &io, EV_READ, 0), 0);
    put_byte(sv[1], 'f');
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(c.io_calls, 5);
    ck_assert_int_eq(c.ticks_after_io, 5); /* the batch that called ev_break too */
    ck_assert_int_ge(c.ticks, 5);
    ck_assert_int_eq(c.pending, 0);
    ev_io_stop(loop, &io);
    close(sv[0]);
    close(sv[1]);
    free_loop(loop);
}
END_TEST

START_TEST(break_ends_run_and_run_again)
{
    ev_loop_t *loop = new_loop();
    int fired = 0;
    ev_timer_t t, later;
    ev_timer_init(&t, break_cb, &fired);
    ev_timer_init(&later, break_cb, &fired);
    ev_timer_set(loop, &t, 10);
    ev_timer_set(loop, &later, 60);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_int_eq(fired, 1); /* returned at once, "later" still pending */
    ck_assert(ev_timer_active(&later));
    ck_assert_int_eq(ev_run(loop), 0); /* a second run works */
    ck_assert_int_eq(fired, 2);
    free_loop(loop);
}
END_TEST

START_TEST(loop_clock)
{
    ev_loop_t *loop = new_loop();
    time_t wall = time(NULL);
    ck_assert_int_le(llabs((long long)(ev_wall(loop) - wall)), 2);
    uint64_t t0 = ev_now(loop);
    ev_timer_t t;
    ev_timer_init(&t, break_cb, NULL);
    ev_timer_set(loop, &t, 30);
    ck_assert_uint_eq(t.when, t0 + 30);
    ck_assert_int_eq(ev_run(loop), 0);
    ck_assert_uint_ge(ev_now(loop), t0 + 30);
    free_loop(loop);
}
END_TEST

static Suite *ev_suite(void)
{
    Suite *s = suite_create("ev");

    TCase *io = tcase_create("io");
    tcase_add_test(io, read_readiness);
    tcase_add_test(io, io_set_write);
    tcase_add_test(io, io_set_starts_inactive);
    tcase_add_test(io, io_stop_stops_callbacks);
    tcase_add_test(io, io_stop_within_batch);
    tcase_add_test(io, hangup_delivered_with_read);
    suite_add_tcase(s, io);

    TCase *timers = tcase_create("timers");
    tcase_add_test(timers, timers_fire_in_deadline_order);
    tcase_add_test(timers, timer_moved_later);
    tcase_add_test(timers, timer_moved_earlier);
    tcase_add_test(timers, timer_moved_later_keeps_others_in_order);
    tcase_add_test(timers, timer_heap_stress);
    tcase_add_test(timers, timer_stop_prevents_firing);
    tcase_add_test(timers, timer_rearm_from_callback);
    tcase_add_test(timers, timer_exact_never_early);
    tcase_add_test(timers, timer_exact_zero_is_due_now);
    suite_add_tcase(s, timers);

    TCase *loop = tcase_create("loop");
    tcase_add_test(loop, async_wakes_loop);
    tcase_add_test(loop, tick_after_each_batch);
    tcase_add_test(loop, break_ends_run_and_run_again);
    tcase_add_test(loop, loop_clock);
    suite_add_tcase(s, loop);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ev_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
