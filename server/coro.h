/*
 * Coroutines: a function running on its own stack, switched to and from
 * on one thread. This is only the machinery (stacks, the context switch,
 * overflow detection); it knows nothing of requests, sockets or the event
 * loop. api_co.c builds the plugin-facing calls (api->co_*, api->sock_*)
 * on it, and exchange.c runs coroutine handlers with it.
 *
 * Threads: a coroutine is created, resumed, yields and is freed on one
 * thread, the one that called coro_thread_init(). Every call here is for
 * that thread only, except where noted.
 *
 * Stacks: mmap()ed, with a PROT_NONE guard page below (stacks grow down on
 * every supported architecture), and kept in a per-thread pool for reuse
 * (pooled stacks give back their touched pages beyond the first few with
 * madvise(MADV_DONTNEED), so a burst does not pin its memory). A write
 * into a guard page raises SIGSEGV; the handler (on an alternate signal
 * stack) recognises the current coroutine's guard page, writes
 * "coroutine stack overflow on <label> (stack N bytes)" to the error log
 * and re-raises the signal: the process dies as for any crash, never
 * silently corrupting memory.
 *
 * Context switch: hand-written for x86-64 and aarch64 (callee-saved
 * registers, stack pointer and the floating-point control words), ucontext
 * elsewhere (configure chooses). Built with ASan, every switch is
 * announced with __sanitizer_start/finish_switch_fiber; under valgrind
 * stacks are registered (VALGRIND_STACK_REGISTER) so neither reports
 * false errors.
 */
#ifndef PH_CORO_H
#define PH_CORO_H

#include <stddef.h>

typedef struct coro coro_t;
typedef void (*coro_fn)(void *arg);

/* Stack sizes: a request's coroutine_stack key is bounded by these. The
 * size is rounded up to whole pages; the guard page is extra. */
#define CORO_STACK_DEFAULT (64u * 1024u)
#define CORO_STACK_MIN (16u * 1024u)
#define CORO_STACK_MAX (8u * 1024u * 1024u)

/* Sets up the calling thread: its alternate signal stack and the SIGSEGV
 * handler (installed once per process; it passes faults that are not a
 * coroutine's guard page on to the default action). 0, or -1 with errno. */
int coro_thread_init(void);
/* Frees the thread's stack pool and alternate stack. Every coroutine of
 * the thread must have been freed. */
void coro_thread_exit(void);

/* A new coroutine that will run fn(arg) on a stack of stack_size bytes
 * (0: CORO_STACK_DEFAULT; below CORO_STACK_MIN: CORO_STACK_MIN; above
 * CORO_STACK_MAX: NULL with errno EINVAL). label names it in an overflow report (e.g. the
 * route prefix); the string must outlive the coroutine. It does not run
 * until coro_resume(). NULL when out of memory. */
coro_t *coro_new(coro_fn fn, void *arg, size_t stack_size, const char *label);

/* Switches to c until it yields or fn returns. Returns 1 when fn has
 * returned (c is finished: free it), 0 when c yielded. Only from outside
 * any coroutine (the thread's own stack): coroutines do not nest. */
int coro_resume(coro_t *c);

/* From inside a coroutine: switches back to the coro_resume() that ran
 * it; returns when it is resumed again. */
void coro_yield(void);

/* The coroutine running on this thread, or NULL on the thread's own
 * stack. */
coro_t *coro_current(void);

/* The user pointer of c (NULL until set): api_co.c's wait state. */
void *coro_data(const coro_t *c);
void coro_set_data(coro_t *c, void *data);

/* The usable stack of c in bytes: the requested size rounded up to whole
 * pages (the guard page not counted). Overflow reports name it. */
size_t coro_stack_size(const coro_t *c);

/* Frees c, returning its stack to the pool. c must be finished or never
 * resumed (a suspended coroutine's stack may hold live objects: it has
 * to be resumed until it returns). */
void coro_free(coro_t *c);

/* Statistics of the calling thread, for tests and the status page. */
typedef struct coro_stats {
    size_t live;      /* coroutines created and not freed */
    size_t pooled;    /* stacks kept for reuse */
    size_t switches;  /* resumes since coro_thread_init() */
} coro_stats_t;
void coro_stats(coro_stats_t *out);

#endif /* PH_CORO_H */
