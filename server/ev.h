/*
 * Event loop: file descriptors, timers and a cross-thread wake-up. It knows
 * nothing of HTTP: callers hand it an fd, a mask and a callback with an
 * opaque pointer. One loop per thread; only ev_async_send() may be called
 * from another thread.
 */
#ifndef PH_EV_H
#define PH_EV_H

#include <stddef.h>
#include <stdint.h>

#define EV_READ 0x1u
#define EV_WRITE 0x2u
#define EV_HUP 0x4u   /* peer hung up or error: delivered with READ */

typedef struct ev_loop ev_loop_t;
typedef struct ev_io ev_io_t;
typedef struct ev_timer ev_timer_t;
typedef struct ev_async ev_async_t;

typedef void (*ev_io_cb)(ev_loop_t *loop, ev_io_t *io, unsigned events);
typedef void (*ev_timer_cb)(ev_loop_t *loop, ev_timer_t *t);
typedef void (*ev_async_cb)(ev_loop_t *loop, ev_async_t *a);

/* Embed these in the caller's structs; the loop never allocates them. */
struct ev_io {
    int fd;
    unsigned mask;    /* current interest, EV_READ|EV_WRITE */
    unsigned active;  /* registered with the loop */
    ev_io_cb cb;
    void *data;
};

struct ev_timer {
    uint64_t when;    /* absolute deadline, loop milliseconds */
    size_t slot;      /* index in the heap, or SIZE_MAX when idle */
    ev_timer_cb cb;
    void *data;
};

struct ev_async {
    int fd;           /* eventfd */
    ev_io_t io;
    ev_async_cb cb;
    void *data;
};

ev_loop_t *ev_new(void);
void ev_free(ev_loop_t *loop);

/* Runs until ev_break(). Returns 0, or -1 if polling failed. */
int ev_run(ev_loop_t *loop);
void ev_break(ev_loop_t *loop);
/* cb(loop, data) runs after each round of due timers and after each batch
 * of events, before the loop sleeps: the place to free objects closed
 * during them. */
void ev_set_tick(ev_loop_t *loop, void (*cb)(ev_loop_t *, void *), void *data);
/* Monotonic milliseconds, cached once per loop iteration. */
uint64_t ev_now(const ev_loop_t *loop);
/* Monotonic microseconds, read now (not cached): for measuring. */
uint64_t ev_clock_us(void);
/* Wall-clock seconds, cached once per loop iteration. */
int64_t ev_wall(const ev_loop_t *loop);

void ev_io_init(ev_io_t *io, int fd, ev_io_cb cb, void *data);
/* exclusive: EPOLLEXCLUSIVE, for a listening socket shared by several loops
 * (only one of them wakes per connection). Returns 0 or -1 with errno. */
int ev_io_start(ev_loop_t *loop, ev_io_t *io, unsigned mask, int exclusive);
/* Changes the interest mask; a no-op when it is unchanged. */
int ev_io_set(ev_loop_t *loop, ev_io_t *io, unsigned mask);
void ev_io_stop(ev_loop_t *loop, ev_io_t *io);
/* Marks io inactive without telling epoll: for an fd about to be closed
 * that was never dup()ed (close() removes it from the interest list). */
void ev_io_forget(ev_io_t *io);

void ev_timer_init(ev_timer_t *t, ev_timer_cb cb, void *data);
/* (Re)arms t to fire after ms milliseconds; O(log n). */
void ev_timer_set(ev_loop_t *loop, ev_timer_t *t, uint64_t ms);
/* The same, never firing before ms have passed since the call (the plain
 * form counts from the clock the loop read at the start of its round:
 * cheaper, and early by the round's time so far, which the core's own
 * timeouts do not mind). For waits a plugin can measure. */
void ev_timer_set_exact(ev_loop_t *loop, ev_timer_t *t, uint64_t ms);
void ev_timer_stop(ev_loop_t *loop, ev_timer_t *t);
int ev_timer_active(const ev_timer_t *t);

int ev_async_init(ev_loop_t *loop, ev_async_t *a, ev_async_cb cb, void *data);
void ev_async_close(ev_loop_t *loop, ev_async_t *a);
/* Thread-safe: makes a->cb run soon on the loop's thread. */
void ev_async_send(ev_async_t *a);

#endif
