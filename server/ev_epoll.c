/* The epoll backend of ev.h. */
#include "ev.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct ev_loop {
    int epfd;
    int stop;
    uint64_t now;
    int64_t wall;
    ev_timer_t **heap; /* min-heap on ->when */
    size_t nheap, capheap;
    void (*tick)(ev_loop_t *, void *);
    void *tick_data;
    struct epoll_event events[MAX_EVENTS];
};

static void update_now(ev_loop_t *loop)
{
    struct timespec ts;
    /* the precise clock (a vDSO read, ~20 ns): the coarse one moves in
     * jiffies, which would make a 1 ms timer take up to 4 ms */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    loop->now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    loop->wall = ts.tv_sec;
}

ev_loop_t *ev_new(void)
{
    ev_loop_t *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    update_now(loop);
    return loop;
}

void ev_free(ev_loop_t *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    free(loop->heap);
    free(loop);
}

uint64_t ev_now(const ev_loop_t *loop) { return loop->now; }

uint64_t ev_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
int64_t ev_wall(const ev_loop_t *loop) { return loop->wall; }
void ev_break(ev_loop_t *loop) { loop->stop = 1; }

void ev_set_tick(ev_loop_t *loop, void (*cb)(ev_loop_t *, void *), void *data)
{
    loop->tick = cb;
    loop->tick_data = data;
}

/* --- fds ------------------------------------------------------------- */

void ev_io_init(ev_io_t *io, int fd, ev_io_cb cb, void *data)
{
    io->fd = fd;
    io->mask = 0;
    io->active = 0;
    io->cb = cb;
    io->data = data;
}

static uint32_t to_epoll(unsigned mask)
{
    uint32_t e = 0;
    if (mask & EV_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (mask & EV_WRITE)
        e |= EPOLLOUT;
    return e;
}

int ev_io_start(ev_loop_t *loop, ev_io_t *io, unsigned mask, int exclusive)
{
    struct epoll_event ev = {.events = to_epoll(mask), .data.ptr = io};
    if (exclusive) /* the kernel takes EPOLLEXCLUSIVE with plain EPOLLIN only */
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0)
        return -1;
    io->mask = mask;
    io->active = 1;
    return 0;
}

int ev_io_set(ev_loop_t *loop, ev_io_t *io, unsigned mask)
{
    if (!io->active)
        return ev_io_start(loop, io, mask, 0);
    if (io->mask == mask)
        return 0;
    struct epoll_event ev = {.events = to_epoll(mask), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return -1;
    io->mask = mask;
    return 0;
}

void ev_io_stop(ev_loop_t *loop, ev_io_t *io)
{
    if (!io->active)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->active = 0;
    io->mask = 0;
}

void ev_io_forget(ev_io_t *io)
{
    io->active = 0;
    io->mask = 0;
}

/* --- timers: a binary min-heap -------------------------------------- */

void ev_timer_init(ev_timer_t *t, ev_timer_cb cb, void *data)
{
    t->when = 0;
    t->slot = SIZE_MAX;
    t->cb = cb;
    t->data = data;
}

int ev_timer_active(const ev_timer_t *t) { return t->slot != SIZE_MAX; }

static void heap_swap(ev_loop_t *loop, size_t a, size_t b)
{
    ev_timer_t *ta = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = ta;
    loop->heap[a]->slot = a;
    loop->heap[b]->slot = b;
}

static void heap_up(ev_loop_t *loop, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->when <= loop->heap[i]->when)
            break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void heap_down(ev_loop_t *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->nheap && loop->heap[l]->when < loop->heap[m]->when)
            m = l;
        if (r < loop->nheap && loop->heap[r]->when < loop->heap[m]->when)
            m = r;
        if (m == i)
            break;
        heap_swap(loop, i, m);
        i = m;
    }
}

static void heap_remove(ev_loop_t *loop, size_t i)
{
    ev_timer_t *t = loop->heap[i];
    loop->nheap--;
    if (i != loop->nheap) {
        loop->heap[i] = loop->heap[loop->nheap];
        loop->heap[i]->slot = i;
        heap_down(loop, i);
        heap_up(loop, i);
    }
    t->slot = SIZE_MAX;
}

static void timer_at(ev_loop_t *loop, ev_timer_t *t, uint64_t when);

void ev_timer_set(ev_loop_t *loop, ev_timer_t *t, uint64_t ms) { timer_at(loop, t, loop->now + ms); }

/* loop->now is read once per round (and rounded down): it lags the clock
 * by the round's time so far. Counting from a fresh reading, rounded up to
 * the next whole millisecond, and firing when loop->now reaches the
 * deadline, never fires early. */
void ev_timer_set_exact(ev_loop_t *loop, ev_timer_t *t, uint64_t ms)
{
    if (ms == 0) { /* due now: the next round runs it, without a 1 ms wait */
        timer_at(loop, t, loop->now);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + ((uint64_t)ts.tv_nsec + 999999) / 1000000;
    timer_at(loop, t, now + ms);
}

static void timer_at(ev_loop_t *loop, ev_timer_t *t, uint64_t when)
{
    if (t->slot != SIZE_MAX) {
        int later = when > t->when;
        t->when = when;
        if (later)
            heap_down(loop, t->slot);
        else
            heap_up(loop, t->slot);
        return;
    }
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 64;
        ev_timer_t **h = realloc(loop->heap, cap * sizeof *h);
        if (h == NULL)
            abort(); /* out of memory in the loop: nothing safe to do */
        loop->heap = h;
        loop->capheap = cap;
    }
    t->when = when;
    t->slot = loop->nheap;
    loop->heap[loop->nheap++] = t;
    heap_up(loop, t->slot);
}

void ev_timer_stop(ev_loop_t *loop, ev_timer_t *t)
{
    if (t->slot != SIZE_MAX)
        heap_remove(loop, t->slot);
}

/* Runs the timers that are due. Returns ms until the next deadline, or -1
 * when there is none. */
static int run_timers(ev_loop_t *loop)
{
    while (loop->nheap > 0) {
        ev_timer_t *t = loop->heap[0];
        if (t->when > loop->now) {
            uint64_t d = t->when - loop->now;
            return d > 60000 ? 60000 : (int)d;
        }
        heap_remove(loop, 0);
        t->cb(loop, t);
    }
    return -1;
}

/* --- cross-thread wake-up --------------------------------------------- */

static void async_io(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    ev_async_t *a = io->data;
    uint64_t v;
    while (read(a->fd, &v, sizeof v) > 0) {
    }
    a->cb(loop, a);
}

int ev_async_init(ev_loop_t *loop, ev_async_t *a, ev_async_cb cb, void *data)
{
    a->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->fd < 0)
        return -1;
    a->cb = cb;
    a->data = data;
    ev_io_init(&a->io, a->fd, async_io, a);
    if (ev_io_start(loop, &a->io, EV_READ, 0) < 0) {
        close(a->fd);
        return -1;
    }
    return 0;
}

void ev_async_close(ev_loop_t *loop, ev_async_t *a)
{
    ev_io_stop(loop, &a->io);
    close(a->fd);
}

void ev_async_send(ev_async_t *a)
{
    uint64_t one = 1;
    if (write(a->fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, a wake-up is pending anyway */
    }
}

/* --- the loop --------------------------------------------------------- */

int ev_run(ev_loop_t *loop)
{
    loop->stop = 0;
    while (!loop->stop) {
        update_now(loop);
        int timeout = run_timers(loop);
        /* what the timers closed or logged is dealt with before sleeping,
         * not after whatever event comes next */
        if (loop->tick)
            loop->tick(loop, loop->tick_data);
        if (loop->stop)
            break;
        int n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        update_now(loop);
        for (int i = 0; i < n; i++) {
            ev_io_t *io = loop->events[i].data.ptr;
            uint32_t e = loop->events[i].events;
            if (!io->active) /* stopped by an earlier callback of this batch */
                continue;
            unsigned mask = 0;
            if (e & (EPOLLIN | EPOLLRDHUP))
                mask |= EV_READ;
            if (e & EPOLLOUT)
                mask |= EV_WRITE;
            if (e & (EPOLLERR | EPOLLHUP))
                mask |= EV_HUP | EV_READ | (io->mask & EV_WRITE);
            io->cb(loop, io, mask);
        }
        if (loop->tick)
            loop->tick(loop, loop->tick_data);
    }
    return 0;
}
