#include "coro.h"

#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sbuf.h"

/* The hand-written switch where there is one, ucontext elsewhere (or when
 * configure was told --with-coro-switch=ucontext, or a test defines
 * CORO_UCONTEXT to build the fallback on a machine that has the switch). */
#if !defined(CORO_UCONTEXT) && !(defined(__LP64__) && (defined(__x86_64__) || defined(__aarch64__)))
#define CORO_UCONTEXT 1
#endif
#ifdef CORO_UCONTEXT
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(HAVE_VALGRIND_VALGRIND_H) && !defined(CORO_NO_VALGRIND)
#include <valgrind/valgrind.h>
#define CORO_VALGRIND 1
#endif

/* Pooled stacks per thread: enough to absorb the churn of a busy loop
 * without an mmap()/munmap() pair per request; beyond it stacks are
 * unmapped. */
#define CORO_POOL_MAX 128
/* A pooled stack keeps this much of its top (the part every coroutine
 * touches: the entry frames and a typical handler's locals) and gives the
 * rest back, so a burst of deep coroutines does not pin its memory. */
#define CORO_POOL_KEEP (8u * 1024u)
/* Up to this many pooled stacks per thread are kept whole ("hot") and are
 * reused first: the next coroutines find their pages resident, with
 * neither a madvise() on each free nor page faults on each start. Only
 * stacks pooled beyond them (the oldest first) and stacks larger than
 * CORO_HOT_STACK_MAX are trimmed to CORO_POOL_KEEP, so what the pool pins
 * stays bounded by CORO_POOL_HOT stacks of at most CORO_HOT_STACK_MAX
 * (16 MiB) plus CORO_POOL_MAX tops. */
#define CORO_POOL_HOT 64
#define CORO_HOT_STACK_MAX (256u * 1024u)
/* The alternate signal stack: the overflow handler's only stack. */
#define CORO_ALTSTACK (64u * 1024u)

enum coro_state { CORO_NEW, CORO_STARTED, CORO_DONE };

struct coro {
#ifdef CORO_UCONTEXT
    ucontext_t uc;
#else
    void *sp; /* saved stack pointer while it is not running */
#endif
    coro_fn fn;
    void *arg;
    void *data;
    const char *label;
    char *map;       /* the mapping: guard page, then the stack */
    size_t map_len;
    size_t size;     /* usable stack bytes, above the guard page */
    enum coro_state state;
#ifdef CORO_VALGRIND
    unsigned vg_id;
#endif
    void *fake; /* ASan's fake stack while suspended */
    coro_t *next; /* pool link */
};

/* One thread's state. initial-exec TLS: the SIGSEGV handler reads
 * current, and only this model is a plain load (no __tls_get_addr). */
struct coro_thread {
    coro_t *current;
    coro_t *pool; /* hot stacks, kept whole (T.hot of them) */
    coro_t *cold; /* stacks trimmed to their top */
    size_t pooled, live, switches;
    size_t hot;
#ifdef CORO_UCONTEXT
    ucontext_t main_uc;
#else
    void *main_sp;
#endif
    /* for ASan: the thread stack's fake stack and extent */
    void *main_fake;
    const void *main_bottom;
    size_t main_size;
    void *altstack; /* ours, or NULL when the thread had one already */
    size_t altstack_len;
};
static __thread struct coro_thread T __attribute__((tls_model("initial-exec")));

static size_t page_size(void)
{
    static size_t ps; /* any thread may set it first: the same value */
    size_t v = __atomic_load_n(&ps, __ATOMIC_RELAXED);
    if (v == 0) {
        v = (size_t)sysconf(_SC_PAGESIZE);
        __atomic_store_n(&ps, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* A broken contract (the caller's bug, not bad input): say which, stop. */
static __attribute__((noreturn)) void die(const char *why)
{
    log_error("coroutine misuse: %s", why);
    abort();
}

static inline char *stack_lo(const coro_t *c) { return c->map + page_size(); }
static inline char *stack_hi(const coro_t *c) { return c->map + c->map_len; }

/* ASan keeps a stack extent and a fake stack per thread: every switch is
 * announced, or it reports false errors on coroutine stacks. */
static void san_start(void **fake_save, const void *bottom, size_t size)
{
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
    (void)fake_save, (void)bottom, (void)size;
#endif
}

static void san_finish(void *fake_save, const void **bottom_old, size_t *size_old)
{
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake_save, bottom_old, size_old);
#else
    (void)fake_save, (void)bottom_old, (void)size_old;
#endif
}

void coro_entry(coro_t *c); /* called by coro_boot / the ucontext start */

#ifdef CORO_UCONTEXT

static void uc_start(void) { coro_entry(T.current); }

static int ctx_init(coro_t *c)
{
    if (getcontext(&c->uc) < 0)
        return -1;
    c->uc.uc_stack.ss_sp = stack_lo(c);
    c->uc.uc_stack.ss_size = c->size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, uc_start, 0);
    return 0;
}

static void switch_in(coro_t *c) { swapcontext(&T.main_uc, &c->uc); }
static void switch_out(coro_t *c) { swapcontext(&c->uc, &T.main_uc); }

#else

/* server/coro_switch_<arch>.S */
void coro_switch(void **save_sp, void *load_sp);
void coro_boot(void);

/* The first frame, as coro_switch() pops it: coro_boot() as the return
 * address, the coroutine in the register coro_boot() passes on, the
 * thread's current floating-point control words, and a zero frame
 * pointer that ends backtraces. The stack top is 16-byte aligned. */
static int ctx_init(coro_t *c)
{
    uintptr_t top = (uintptr_t)stack_hi(c) & ~(uintptr_t)15;
#if defined(__x86_64__)
    uint64_t *f = (uint64_t *)(top - 64);
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    f[0] = (uint64_t)mxcsr | (uint64_t)fpucw << 32;
    f[1] = f[2] = f[3] = 0;      /* r15 r14 r13 */
    f[4] = (uint64_t)(uintptr_t)c; /* r12 */
    f[5] = f[6] = 0;             /* rbx rbp */
    f[7] = (uint64_t)(uintptr_t)coro_boot;
#elif defined(__aarch64__)
    uint64_t *f = (uint64_t *)(top - 176);
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    memset(f, 0, 176);
    f[0] = (uint64_t)(uintptr_t)c; /* x19 */
    f[10] = 0;                     /* x29 */
    f[11] = (uint64_t)(uintptr_t)coro_boot; /* x30 */
    f[20] = fpcr;
#endif
    c->sp = f;
    return 0;
}

static void switch_in(coro_t *c) { coro_switch(&T.main_sp, c->sp); }
static void switch_out(coro_t *c) { coro_switch(&c->sp, T.main_sp); }

#endif

/* Runs on the coroutine's stack, from its first resume. */
void coro_entry(coro_t *c)
{
    san_finish(NULL, &T.main_bottom, &T.main_size);
    c->fn(c->arg);
    c->state = CORO_DONE;
    /* leaving for good: NULL lets ASan drop this run's fake stack */
    san_start(NULL, T.main_bottom, T.main_size);
    switch_out(c);
    die("a finished coroutine was resumed");
}

static void stack_unmap(coro_t *c)
{
#ifdef CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(c->vg_id);
#endif
    munmap(c->map, c->map_len);
    free(c);
}

/* A coroutine object with a fresh stack of size bytes (whole pages). */
static coro_t *stack_map(size_t size)
{
    coro_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->size = size;
    c->map_len = size + page_size();
    c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (c->map == MAP_FAILED) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    if (mprotect(c->map, page_size(), PROT_NONE) < 0) {
        munmap(c->map, c->map_len);
        free(c);
        errno = ENOMEM;
        return NULL;
    }
#ifdef CORO_VALGRIND
    c->vg_id = VALGRIND_STACK_REGISTER(stack_lo(c), stack_hi(c));
#endif
    return c;
}

static coro_t *list_take(coro_t **head, size_t size)
{
    for (coro_t **p = head; *p; p = &(*p)->next) {
        if ((*p)->size == size) {
            coro_t *c = *p;
            *p = c->next;
            return c;
        }
    }
    return NULL;
}

/* A pooled coroutine whose stack has exactly size bytes, unlinked: a hot
 * one if there is one. */
static coro_t *pool_take(size_t size)
{
    coro_t *c = list_take(&T.pool, size);
    if (c != NULL)
        T.hot--;
    else
        c = list_take(&T.cold, size);
    if (c != NULL)
        T.pooled--;
    return c;
}

static void cold_put(coro_t *c)
{
    if (c->size > CORO_POOL_KEEP)
        madvise(stack_lo(c), c->size - CORO_POOL_KEEP, MADV_DONTNEED);
    c->next = T.cold;
    T.cold = c;
}

static void pool_put(coro_t *c)
{
    if (T.pooled >= CORO_POOL_MAX) {
        stack_unmap(c);
        return;
    }
    T.pooled++;
    if (c->size > CORO_HOT_STACK_MAX) {
        cold_put(c);
        return;
    }
    c->next = T.pool;
    T.pool = c;
    if (++T.hot <= CORO_POOL_HOT)
        return;
    /* the oldest hot stack goes cold: hot slots follow the sizes in use
     * (after a reload changed coroutine_stack, say) */
    coro_t **pp = &T.pool;
    while ((*pp)->next != NULL)
        pp = &(*pp)->next;
    coro_t *old = *pp;
    *pp = NULL;
    T.hot--;
    cold_put(old);
}

coro_t *coro_new(coro_fn fn, void *arg, size_t stack_size, const char *label)
{
    if (stack_size == 0)
        stack_size = CORO_STACK_DEFAULT;
    if (stack_size > CORO_STACK_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (stack_size < CORO_STACK_MIN)
        stack_size = CORO_STACK_MIN;
    size_t ps = page_size();
    size_t size = (stack_size + ps - 1) / ps * ps;
    coro_t *c = pool_take(size);
    if (c == NULL)
        c = stack_map(size);
    if (c == NULL)
        return NULL;
    c->fn = fn;
    c->arg = arg;
    c->data = NULL;
    c->label = label;
    c->state = CORO_NEW;
    c->next = NULL;
    c->fake = NULL;
#ifdef CORO_ASAN
    /* frames of an earlier run that ended in a switch, not a return */
    ASAN_UNPOISON_MEMORY_REGION(stack_lo(c), c->size);
#endif
    if (ctx_init(c) < 0) {
        pool_put(c);
        return NULL;
    }
    T.live++;
    return c;
}

int coro_resume(coro_t *c)
{
    if (T.current != NULL)
        die("coro_resume() from a coroutine (they do not nest)");
    if (c->state == CORO_DONE)
        die("coro_resume() of a finished coroutine");
    T.current = c;
    c->state = CORO_STARTED;
    T.switches++;
    san_start(&T.main_fake, stack_lo(c), c->size);
    switch_in(c);
    san_finish(T.main_fake, NULL, NULL);
    T.current = NULL;
    return c->state == CORO_DONE;
}

void coro_yield(void)
{
    coro_t *c = T.current;
    if (c == NULL)
        die("coro_yield() outside a coroutine");
    san_start(&c->fake, T.main_bottom, T.main_size);
    switch_out(c);
    san_finish(c->fake, &T.main_bottom, &T.main_size);
}

coro_t *coro_current(void) { return T.current; }
void *coro_data(const coro_t *c) { return c->data; }
void coro_set_data(coro_t *c, void *data) { c->data = data; }
size_t coro_stack_size(const coro_t *c) { return c->size; }

void coro_free(coro_t *c)
{
    if (c == NULL)
        return;
    if (c->state == CORO_STARTED || c == T.current)
        die("coro_free() of a suspended coroutine (its stack may hold live objects)");
    T.live--;
    pool_put(c);
}

void coro_stats(coro_stats_t *out)
{
    out->live = T.live;
    out->pooled = T.pooled;
    out->switches = T.switches;
}

static struct sigaction old_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static int segv_err;

/* The fault is the running coroutine's overflow: the address is in its
 * guard page, or the stack pointer itself is below the stack (a frame
 * larger than the guard page jumped over it). */
static int is_overflow(const coro_t *c, const siginfo_t *si, const void *uctx)
{
    uintptr_t addr = (uintptr_t)si->si_addr;
    uintptr_t lo = (uintptr_t)stack_lo(c), guard = (uintptr_t)c->map;
    if (addr >= guard && addr < lo)
        return 1;
    uintptr_t sp = 0;
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    sp = (uintptr_t)uc->uc_mcontext.sp;
#else
    (void)uc;
#endif
    return sp != 0 && sp < lo && lo - sp < CORO_STACK_MAX;
}

/* Async-signal-safe formatting (sbuf_put is a bounded memcpy; no printf,
 * no gmtime_r): v in decimal, at least width digits. */
static void put_dec(sbuf_t *b, uint64_t v, int width)
{
    char d[20];
    int n = 0;
    do {
        d[sizeof d - 1 - n] = (char)('0' + v % 10);
        v /= 10;
        n++;
    } while (v && n < (int)sizeof d);
    while (n < width && n < (int)sizeof d) {
        d[sizeof d - 1 - n] = '0';
        n++;
    }
    sbuf_put(b, d + sizeof d - n, (size_t)n);
}

/* "YYYY-MM-DDTHH:MM:SSZ" of the epoch time t, from the day count
 * (proleptic Gregorian calendar, as log.c's gmtime_r() gives). */
static void put_time(sbuf_t *b, int64_t t)
{
    int64_t days = t / 86400, rem = t % 86400;
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    put_dec(b, (uint64_t)y, 4);
    sbuf_putc(b, '-');
    put_dec(b, (uint64_t)m, 2);
    sbuf_putc(b, '-');
    put_dec(b, (uint64_t)d, 2);
    sbuf_putc(b, 'T');
    put_dec(b, (uint64_t)(rem / 3600), 2);
    sbuf_putc(b, ':');
    put_dec(b, (uint64_t)(rem / 60 % 60), 2);
    sbuf_putc(b, ':');
    put_dec(b, (uint64_t)(rem % 60), 2);
    sbuf_putc(b, 'Z');
}

/* One error-log line in log.c's format, written with write(2): "TIME
 * [error] PID: coroutine stack overflow on LABEL (stack N bytes)". The
 * label (a route prefix) is escaped so the line stays one line. */
static void report_overflow(const coro_t *c)
{
    char line[512];
    sbuf_t b;
    sbuf_init(&b, line, sizeof line, 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    put_time(&b, (int64_t)ts.tv_sec);
    sbuf_puts(&b, " [error] ");
    put_dec(&b, (uint64_t)getpid(), 1);
    sbuf_puts(&b, ": coroutine stack overflow on ");
    const char *label = c->label ? c->label : "(unnamed)";
    sbuf_put_escaped(&b, label, strlen(label), 256);
    sbuf_puts(&b, " (stack ");
    put_dec(&b, c->size, 1);
    sbuf_puts(&b, " bytes)");
    size_t n = sbuf_finish(&b, "\n", 1);
    if (write(log_error_fd(), line, n) < 0) {
        /* nowhere left to report it; the crash still happens */
    }
}

/* Hands the fault to whoever had SIGSEGV before (ASan's handler, say),
 * else restores the default action: returning re-executes the faulting
 * access, which now kills the process; a signal sent by kill() is raised
 * again. */
static void segv_chain(int sig, siginfo_t *si, void *uctx)
{
    if ((old_segv.sa_flags & SA_SIGINFO) && old_segv.sa_sigaction) {
        old_segv.sa_sigaction(sig, si, uctx);
        return;
    }
    if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
        old_segv.sa_handler(sig);
        return;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    int saved = errno;
    coro_t *c = T.current;
    if (c != NULL && is_overflow(c, si, uctx))
        report_overflow(c);
    errno = saved;
    segv_chain(sig, si, uctx);
}

static void segv_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) < 0)
        segv_err = errno;
}

int coro_thread_init(void)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) < 0)
        return -1;
    if (cur.ss_flags & SS_DISABLE) {
        size_t len = CORO_ALTSTACK;
        long min = sysconf(_SC_SIGSTKSZ);
        if (min > 0 && (size_t)min > len)
            len = (size_t)min;
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return -1;
        stack_t ss = {.ss_sp = p, .ss_size = len, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) < 0) {
            int e = errno;
            munmap(p, len);
            errno = e;
            return -1;
        }
        T.altstack = p;
        T.altstack_len = len;
    }
    /* Worker threads start with every signal blocked (signals go to the
     * main thread), and a synchronous fault with SIGSEGV blocked kills the
     * process without running any handler: the overflow report needs the
     * fault signals unblocked on every thread that runs coroutines. */
    sigset_t faults;
    sigemptyset(&faults);
    sigaddset(&faults, SIGSEGV);
    sigaddset(&faults, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &faults, NULL);
    T.switches = 0;
    pthread_once(&segv_once, segv_install);
    if (segv_err) {
        errno = segv_err;
        return -1;
    }
    return 0;
}

static void list_unmap(coro_t **head)
{
    while (*head) {
        coro_t *c = *head;
        *head = c->next;
        stack_unmap(c);
    }
}

void coro_thread_exit(void)
{
    list_unmap(&T.pool);
    list_unmap(&T.cold);
    T.pooled = 0;
    T.hot = 0;
    if (T.altstack) {
        stack_t ss, cur;
        memset(&ss, 0, sizeof ss);
        ss.ss_flags = SS_DISABLE;
        if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == T.altstack)
            sigaltstack(&ss, NULL);
        munmap(T.altstack, T.altstack_len);
        T.altstack = NULL;
    }
}
