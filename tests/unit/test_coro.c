/*
 * Unit tests for server/coro.c: a coroutine runs to completion, several
 * interleave in the order they are resumed, the user pointer, the stack
 * pool (through coro_stats), stack sizes (rounding and bounds), a deep but
 * legal recursion on the default stack, locals that live across a yield,
 * longjmp inside a coroutine, the floating-point control words, freeing
 * one that never ran, the overflow report (a child process overflows, on
 * the main thread or another, and must die of SIGSEGV with the report on
 * stderr or in the error log), and misuse stopping with a message.
 *
 * Built twice: test_coro on the switch configure chose, test_coro_ucontext
 * on the ucontext fallback. Under ASan, ASan's SIGSEGV handler (installed
 * first) gets the fault after the report: the child then exits with ASan's
 * error code instead of dying of the signal.
 */
#include "coro.h"
#include "log.h"

#include <check.h>
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static void setup(void) { ck_assert_int_eq(coro_thread_init(), 0); }
static void teardown(void) { coro_thread_exit(); }

static size_t page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

struct once {
    int ran;
    coro_t *self;
    void *arg_seen;
};

static void run_once(void *arg)
{
    struct once *o = arg;
    o->ran++;
    o->self = coro_current();
    o->arg_seen = arg;
}

START_TEST(run_to_completion)
{
    struct once o = {0};
    coro_t *c = coro_new(run_once, &o, 0, "once");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(o.ran, 0); /* not before the first resume */
    ck_assert_ptr_null(coro_current());
    ck_assert_int_eq(coro_resume(c), 1);
    ck_assert_int_eq(o.ran, 1);
    ck_assert_ptr_eq(o.self, c);
    ck_assert_ptr_eq(o.arg_seen, &o);
    ck_assert_ptr_null(coro_current());
    coro_free(c);
}
END_TEST

struct step {
    char *log;
    char name;
    int steps;
};

static void stepper(void *arg)
{
    struct step *s = arg;
    for (int i = 0; i < s->steps; i++) {
        size_t n = strlen(s->log);
        s->log[n] = s->name;
        s->log[n + 1] = (char)('0' + i);
        s->log[n + 2] = '\0';
        coro_yield();
    }
}

START_TEST(interleave)
{
    char log[64] = "";
    struct step s[3] = {{log, 'A', 2}, {log, 'B', 3}, {log, 'C', 1}};
    coro_t *c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = coro_new(stepper, &s[i], 0, "step");
        ck_assert_ptr_nonnull(c[i]);
    }
    int done[3] = {0, 0, 0}, left = 3, round = 0;
    /* round-robin, then backwards on odd rounds: the order of the log is
     * the order of resumes, whatever the stacks */
    while (left > 0 && round < 10) {
        for (int k = 0; k < 3; k++) {
            int i = (round % 2) ? 2 - k : k;
            if (done[i])
                continue;
            if (coro_resume(c[i])) {
                done[i] = 1;
                left--;
            }
        }
        round++;
    }
    ck_assert_int_eq(left, 0);
    /* each stepper writes, yields; the resume after its last write ends it */
    ck_assert_str_eq(log, "A0B0C0B1A1B2");
    coro_stats_t st;
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 3);
    ck_assert_uint_eq(st.switches, 3 + 4 + 2); /* resumes of A, B, C */
    for (int i = 0; i < 3; i++)
        coro_free(c[i]);
}
END_TEST

static void data_step(void *arg)
{
    coro_t *self = coro_current();
    *(void **)arg = coro_data(self);
    coro_set_data(self, arg);
    coro_yield();
}

START_TEST(user_data)
{
    int marker;
    void *seen = &marker;
    coro_t *c = coro_new(data_step, &seen, 0, "data");
    ck_assert_ptr_null(coro_data(c));
    coro_set_data(c, &marker);
    ck_assert_int_eq(coro_resume(c), 0);
    ck_assert_ptr_eq(seen, &marker);       /* what was set outside */
    ck_assert_ptr_eq(coro_data(c), &seen); /* what it set inside */
    ck_assert_int_eq(coro_resume(c), 1);
    coro_free(c);
    /* a pooled coroutine does not bring its old data back */
    c = coro_new(data_step, &seen, 0, "data");
    ck_assert_ptr_null(coro_data(c));
    coro_free(c);
}
END_TEST

static void nop(void *arg) { (void)arg; }

START_TEST(pool_reuse)
{
    coro_stats_t st;
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.pooled, 0);
    ck_assert_uint_eq(st.switches, 0);

    coro_t *a = coro_new(nop, NULL, 0, "a");
    coro_t *b = coro_new(nop, NULL, 0, "b");
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 2);
    ck_assert_uint_eq(st.pooled, 0);
    ck_assert_int_eq(coro_resume(a), 1);
    coro_free(a);
    coro_free(b); /* never resumed */
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.pooled, 2);
    ck_assert_uint_eq(st.switches, 1);

    /* same size: from the pool; another size: a new stack */
    coro_t *c = coro_new(nop, NULL, CORO_STACK_DEFAULT, "c");
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 1);
    ck_assert_uint_eq(st.pooled, 1);
    coro_t *d = coro_new(nop, NULL, CORO_STACK_MIN, "d");
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 2);
    ck_assert_uint_eq(st.pooled, 1);
    /* a reused stack runs like a new one */
    ck_assert_int_eq(coro_resume(c), 1);
    ck_assert_int_eq(coro_resume(d), 1);
    coro_free(c);
    coro_free(d);
    coro_stats(&st);
    ck_assert_uint_eq(st.pooled, 3);

    coro_thread_exit();
    coro_stats(&st);
    ck_assert_uint_eq(st.pooled, 0);
    ck_assert_int_eq(coro_thread_init(), 0);
}
END_TEST

/* A big stack freed to the pool gives its deep pages back (only the
 * small "hot" stacks are kept whole): what a coroutine touched 3 MiB down
 * a 4 MiB stack is no longer resident once it is freed. */
static char *deep_lo;

/* Descends 3 MiB in 128 KiB frames: one 3 MiB frame would look to
 * valgrind like a switch of stacks (its limit is 2 MiB per frame). */
__attribute__((noinline)) static void descend(int levels)
{
    size_t n = (size_t)128 << 10;
    char *p = __builtin_alloca(n);
    memset(p, 1, n);
    __asm__ volatile("" ::"r"(p) : "memory");
    if (levels > 1)
        descend(levels - 1);
    else
        deep_lo = p;
}

static void touch_deep(void *arg)
{
    (void)arg;
    descend(24);
}

START_TEST(big_stacks_not_pinned)
{
    enum { N = 4 };
    char *lo[N];
    coro_t *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = coro_new(touch_deep, NULL, (size_t)4 << 20, "big");
        ck_assert_ptr_nonnull(c[i]);
        ck_assert_int_eq(coro_resume(c[i]), 1);
        lo[i] = deep_lo;
    }
    for (int i = 0; i < N; i++)
        coro_free(c[i]);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = (size_t)2 << 20;
    static unsigned char vec[((size_t)2 << 20) / 4096 + 1];
    for (int i = 0; i < N; i++) {
        char *start = (char *)(((uintptr_t)lo[i] + pg - 1) & ~(uintptr_t)(pg - 1));
        ck_assert_int_eq(mincore(start, len, vec), 0);
        size_t resident = 0;
        for (size_t j = 0; j < len / pg; j++)
            resident += vec[j] & 1;
        ck_assert_msg(resident == 0, "stack %d: %zu of %zu deep pages still resident after free", i, resident,
                      len / pg);
    }
    coro_thread_exit(); /* unmaps the pool */
    ck_assert_int_eq(coro_thread_init(), 0);
}
END_TEST

/* Many coroutines alive at once, suspended, then finished in reverse:
 * more than the pool keeps, so some stacks are unmapped. */
START_TEST(many)
{
    enum { N = 300 };
    static coro_t *c[N];
    static char log[N][8];
    static struct step s[N];
    for (int i = 0; i < N; i++) {
        s[i] = (struct step){log[i], 'x', 2};
        c[i] = coro_new(stepper, &s[i], 0, "many");
        ck_assert_ptr_nonnull(c[i]);
        ck_assert_int_eq(coro_resume(c[i]), 0);
    }
    for (int i = N - 1; i >= 0; i--) {
        ck_assert_int_eq(coro_resume(c[i]), 0);
        ck_assert_int_eq(coro_resume(c[i]), 1);
        ck_assert_str_eq(log[i], "x0x1");
        coro_free(c[i]);
    }
    coro_stats_t st;
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_gt(st.pooled, 0);
    ck_assert_uint_lt(st.pooled, N);
}
END_TEST

START_TEST(stack_sizes)
{
    size_t ps = page();
    struct {
        size_t ask, got;
    } cases[] = {
        {0, CORO_STACK_DEFAULT},
        {1, CORO_STACK_MIN},
        {CORO_STACK_MIN - 1, CORO_STACK_MIN},
        {CORO_STACK_MIN, CORO_STACK_MIN},
        {CORO_STACK_MIN + 1, CORO_STACK_MIN + ps},
        {100000, (100000 + ps - 1) / ps * ps},
        {CORO_STACK_MAX, CORO_STACK_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        coro_t *c = coro_new(nop, NULL, cases[i].ask, "size");
        ck_assert_msg(c != NULL, "coro_new(%zu) failed", cases[i].ask);
        ck_assert_msg(coro_stack_size(c) == cases[i].got, "coro_new(%zu): %zu bytes, not %zu", cases[i].ask,
                      coro_stack_size(c), cases[i].got);
        ck_assert_int_eq(coro_resume(c), 1);
        coro_free(c);
    }
    errno = 0;
    ck_assert_ptr_null(coro_new(nop, NULL, CORO_STACK_MAX + 1, "big"));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(coro_new(nop, NULL, (size_t)-1, "huge"));
    coro_stats_t st;
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 0);
}
END_TEST

/* 1 KiB frames: DEPTH of them use about 40 KiB of the 64 KiB stack. */
enum { DEPTH = 40 };
static volatile int sink;

static __attribute__((noinline)) int recurse(int n)
{
    volatile char buf[1024];
    buf[0] = (char)n;
    buf[sizeof buf - 1] = (char)n;
    if (n == 0)
        return buf[0];
    int r = recurse(n - 1);
    return r + buf[sizeof buf - 1] - (char)n + 1;
}

static void deep(void *arg)
{
    *(int *)arg = recurse(DEPTH);
    coro_yield();
    *(int *)arg += recurse(DEPTH); /* again after a switch away and back */
}

START_TEST(deep_recursion)
{
    int result = -1;
    coro_t *c = coro_new(deep, &result, CORO_STACK_DEFAULT, "deep");
    ck_assert_int_eq(coro_resume(c), 0);
    ck_assert_int_eq(result, DEPTH);
    ck_assert_int_eq(coro_resume(c), 1);
    ck_assert_int_eq(result, 2 * DEPTH);
    coro_free(c);
}
END_TEST

/* A suspended coroutine's frames stay valid: others may read them through
 * a pointer it handed out, and other coroutines' frames (on the real stack
 * or, under ASan, on the fake stack each one keeps across switches) never
 * land on them. */
struct holder {
    int tag;
    volatile int *pub; /* the coroutine's local array, while suspended */
    int ok;
};

static void hold(void *arg)
{
    struct holder *h = arg;
    volatile int local[32];
    for (int i = 0; i < 32; i++)
        local[i] = h->tag * 100 + i;
    h->pub = local;
    coro_yield();
    int ok = 1;
    for (int i = 0; i < 32; i++)
        ok &= local[i] == h->tag * 100 + i + 1; /* the resumer's +1 */
    h->pub = NULL;
    h->ok = ok;
}

START_TEST(locals_across_yield)
{
    enum { N = 8 };
    struct holder h[N];
    coro_t *c[N];
    for (int k = 0; k < N; k++) {
        h[k] = (struct holder){k + 1, NULL, 0};
        c[k] = coro_new(hold, &h[k], 0, "hold");
        ck_assert_int_eq(coro_resume(c[k]), 0);
    }
    for (int k = 0; k < N; k++)
        for (int i = 0; i < 32; i++) {
            ck_assert_int_eq(h[k].pub[i], (k + 1) * 100 + i);
            h[k].pub[i]++;
        }
    for (int k = N - 1; k >= 0; k--) {
        ck_assert_int_eq(coro_resume(c[k]), 1);
        ck_assert_int_eq(h[k].ok, 1);
        coro_free(c[k]);
    }
}
END_TEST

/* The frames longjmp() skips leave their redzones poisoned under ASan;
 * ASan clears them only if it knows which stack is running, which the
 * switch announcements tell it. Later frames over the same bytes must not
 * be reported. Variable-length arrays: ASan keeps them on the real stack
 * even with detect_stack_use_after_return (fixed arrays move to its fake
 * stack). */
static jmp_buf jb;
static volatile int vla_len = 64;
static volatile int do_jump = 1;

static __attribute__((noinline)) void jump_out(int n)
{
    volatile char buf[vla_len];
    buf[n % 64] = (char)n;
    if (n == 0) {
        if (do_jump)
            longjmp(jb, 1);
        return;
    }
    jump_out(n - 1);
    sink = buf[n % 64];
}

static __attribute__((noinline)) int fill_stack(int n)
{
    volatile char buf[vla_len * 47];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i + (size_t)n);
    return buf[n % 3000];
}

static void jumper(void *arg)
{
    int *rounds = arg;
    while (*rounds < 3) {
        if (setjmp(jb) == 0)
            jump_out(8);
        sink = fill_stack(*rounds);
        ++*rounds;
        coro_yield();
    }
}

START_TEST(longjmp_inside)
{
    int rounds = 0;
    coro_t *c = coro_new(jumper, &rounds, 0, "jump");
    while (coro_resume(c) == 0)
        ;
    ck_assert_int_eq(rounds, 3);
    coro_free(c);
}
END_TEST

/* The rounding mode is part of a context: a coroutine's setting stays with
 * it across switches and does not leak to the thread's stack. */
static void round_up(void *arg)
{
    int *seen = arg;
    fesetround(FE_UPWARD);
    coro_yield();
    seen[0] = fegetround() == FE_UPWARD;
    fesetround(FE_TONEAREST);
}

START_TEST(fp_control)
{
    int seen[1] = {0};
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    coro_t *c = coro_new(round_up, seen, 0, "fp");
    ck_assert_int_eq(coro_resume(c), 0);
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    fesetround(FE_TOWARDZERO);
    ck_assert_int_eq(coro_resume(c), 1);
    ck_assert_int_eq(seen[0], 1);
    ck_assert_int_eq(fegetround(), FE_TOWARDZERO);
    fesetround(FE_TONEAREST);
    coro_free(c);
}
END_TEST

START_TEST(free_unresumed)
{
    struct once o = {0};
    coro_t *c = coro_new(run_once, &o, 0, "never");
    coro_set_data(c, &o);
    coro_free(c);
    ck_assert_int_eq(o.ran, 0);
    coro_stats_t st;
    coro_stats(&st);
    ck_assert_uint_eq(st.live, 0);
    ck_assert_uint_eq(st.pooled, 1);
    ck_assert_uint_eq(st.switches, 0);
    /* its stack serves the next one */
    c = coro_new(run_once, &o, 0, "next");
    ck_assert_int_eq(coro_resume(c), 1);
    ck_assert_int_eq(o.ran, 1);
    coro_free(c);
}
END_TEST

static volatile int limit = 1 << 30;

static __attribute__((noinline)) int bottomless(int n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    if (n >= limit)
        return buf[0];
    return bottomless(n + 1) + buf[0];
}

static void overflow(void *arg)
{
    sink = bottomless(0);
    (void)arg;
}

/* The overflow, on the calling thread. Returns only on failure. */
static void *overflow_here(void *arg)
{
    if (coro_thread_init() < 0)
        _exit(90);
    coro_t *c = coro_new(overflow, NULL, CORO_STACK_MIN, "/deep/route");
    if (c == NULL)
        _exit(91);
    coro_resume(c);
    return arg;
}

/* Runs the overflowing coroutine in a child (on a second thread if
 * in_thread) with stderr on a pipe (and the error log in logpath unless
 * NULL); returns the wait status and what the child wrote to stderr;
 * *child is its pid. */
static int overflow_child(char *out, size_t cap, const char *logpath, int in_thread, pid_t *child)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        if (logpath && log_error_open(logpath) < 0)
            _exit(89);
        pthread_t t;
        if (!in_thread)
            overflow_here(NULL);
        else if (pthread_create(&t, NULL, overflow_here, NULL) == 0)
            pthread_join(t, NULL);
        _exit(92); /* not reached: the overflow kills the process */
    }
    *child = pid;
    close(p[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(p[0], out + len, cap - 1 - len)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        ck_assert_int_gt(r, 0);
        len += (size_t)r;
    }
    out[len] = '\0';
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* _i 0: on the main thread; 1: on another thread, which has its own
 * alternate signal stack. */
START_TEST(overflow_report)
{
    static char out[16384];
    pid_t pid;
    int status = overflow_child(out, sizeof out, NULL, _i, &pid);
    char want[160];
    snprintf(want, sizeof want, "Z [error] %d: coroutine stack overflow on /deep/route (stack %u bytes)\n",
             (int)pid, (unsigned)CORO_STACK_MIN);
    ck_assert_msg(strstr(out, want) != NULL, "no overflow report in: %s", out);
#ifdef TEST_ASAN
    /* ASan's SIGSEGV handler runs after the report (it was installed
     * first, and the overflow handler hands the fault on): it prints its
     * own report and exits with its error code */
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x", status);
    ck_assert_msg(strstr(out, "AddressSanitizer") != NULL, "no ASan report in: %s", out);
#else
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %#x, not killed by SIGSEGV",
                  status);
#endif
}
END_TEST

/* With an error log file, the report goes there, as one whole line in the
 * log's format, and not to stderr. */
START_TEST(overflow_to_error_log)
{
    char path[] = "/tmp/test_coro_log_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    static char out[16384];
    pid_t pid;
    int status = overflow_child(out, sizeof out, path, 0, &pid);
    char log[4096];
    ssize_t n = read(fd, log, sizeof log - 1);
    close(fd);
    unlink(path);
    ck_assert_int_gt(n, 0);
    log[n] = '\0';
    char want[160];
    snprintf(want, sizeof want, "Z [error] %d: coroutine stack overflow on /deep/route (stack %u bytes)\n",
             (int)pid, (unsigned)CORO_STACK_MIN);
    /* "YYYY-MM-DDTHH:MM:SS" then the rest */
    ck_assert_msg(n > 19 && strcmp(log + 19, want) == 0 && log[4] == '-' && log[10] == 'T', "log: %s", log);
    ck_assert_msg(strstr(out, "coroutine stack overflow") == NULL, "also on stderr: %s", out);
    ck_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}
END_TEST

/* Breaking the contract stops the process with a message that names the
 * mistake, rather than switching to garbage. _i picks the mistake. */
static void nested(void *arg)
{
    coro_resume(arg); /* from inside a coroutine */
}

static void misuse(int which)
{
    coro_t *c;
    switch (which) {
    case 0:
        coro_yield();
        break;
    case 1:
        c = coro_new(data_step, &(void *){NULL}, 0, "suspended");
        coro_resume(c);
        coro_free(c);
        break;
    case 2:
        c = coro_new(nested, coro_new(nop, NULL, 0, "inner"), 0, "outer");
        coro_resume(c);
        break;
    default:
        c = coro_new(nop, NULL, 0, "finished");
        coro_resume(c);
        coro_resume(c);
        break;
    }
}

START_TEST(misuse_dies)
{
    static const char *const why[] = {
        "coroutine misuse: coro_yield() outside a coroutine",
        "coroutine misuse: coro_free() of a suspended coroutine",
        "coroutine misuse: coro_resume() from a coroutine",
        "coroutine misuse: coro_resume() of a finished coroutine",
    };
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        misuse(_i);
        _exit(92);
    }
    close(p[1]);
    char out[4096];
    ssize_t n, len = 0;
    while ((n = read(p[0], out + len, sizeof out - 1 - (size_t)len)) > 0)
        len += n;
    out[len] = '\0';
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(strstr(out, why[_i]) != NULL, "case %d: %s", _i, out);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "case %d: status %#x", _i, status);
}
END_TEST

/* A fault that is not an overflow (a null write on the thread's stack) is
 * not reported as one and still kills the process. */
START_TEST(other_fault)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        coro_thread_init();
        raise(SIGSEGV);
        _exit(92);
    }
    close(p[1]);
    char out[4096];
    ssize_t n, len = 0;
    while ((n = read(p[0], out + len, sizeof out - 1 - (size_t)len)) > 0)
        len += n;
    out[len] = '\0';
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(strstr(out, "coroutine stack overflow") == NULL, "false report: %s", out);
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 92), "survived SIGSEGV");
}
END_TEST

static Suite *coro_suite(void)
{
    Suite *s = suite_create("coro");
    TCase *t = tcase_create("coro");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, run_to_completion);
    tcase_add_test(t, interleave);
    tcase_add_test(t, user_data);
    tcase_add_test(t, pool_reuse);
    tcase_add_test(t, many);
    tcase_add_test(t, big_stacks_not_pinned);
    tcase_add_test(t, stack_sizes);
    tcase_add_test(t, deep_recursion);
    tcase_add_test(t, locals_across_yield);
    tcase_add_test(t, longjmp_inside);
    tcase_add_test(t, fp_control);
    tcase_add_test(t, free_unresumed);
    tcase_add_loop_test(t, overflow_report, 0, 2);
    tcase_add_test(t, overflow_to_error_log);
    tcase_add_test(t, other_fault);
    tcase_add_loop_test(t, misuse_dies, 0, 4);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(coro_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
