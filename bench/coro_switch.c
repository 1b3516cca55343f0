/*
 * Coroutine costs (server/coro.c), three numbers:
 *   - a resume/yield pair: one coroutine yields in a loop, the thread's
 *     stack resumes it; nanoseconds per pair;
 *   - a short-lived coroutine: coro_new, one run touching TOUCH bytes of
 *     stack, coro_free (a pooled stack, madvise() included); ns each;
 *   - the memory of idle coroutines: COUNT coroutines, each suspended after
 *     touching TOUCH bytes of its stack (a handler waiting on a socket),
 *     measured as VmRSS (/proc/self/status) before and after.
 * Times are the thread's CPU time.
 * Built twice by make: bench/coro_switch uses the switch configure chose,
 * bench/coro_switch_ucontext the ucontext fallback. Not run by the tests.
 *
 * Usage: coro_switch [-n PAIRS] [-c COUNT] [-t TOUCH] [-s STACK]
 */
#include "coro.h"

#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef CORO_UCONTEXT
#define SWITCH_NAME "ucontext"
#elif defined(__x86_64__)
#define SWITCH_NAME "asm x86-64"
#elif defined(__aarch64__)
#define SWITCH_NAME "asm aarch64"
#else
#define SWITCH_NAME "?"
#endif

/* The thread's CPU time (user and system): on a shared machine, time
 * spent waiting for a CPU is not the switch's. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS in KiB, or -1. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static void yielder(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        coro_yield();
}

static double pair_ns(long pairs)
{
    coro_t *c = coro_new(yielder, &pairs, 0, "bench");
    if (c == NULL) {
        perror("coro_new");
        exit(1);
    }
    double t0 = now();
    while (coro_resume(c) == 0)
        ;
    double t = now() - t0;
    coro_free(c);
    return t * 1e9 / (double)pairs;
}

static size_t touch;

static __attribute__((noinline)) void use_stack(void)
{
    char *buf = __builtin_alloca(touch);
    memset(buf, 0x5a, touch);
    __asm__ volatile("" : : "r"(buf) : "memory"); /* the writes happen */
}

static void idler(void *arg)
{
    (void)arg;
    use_stack();
    coro_yield();
}

int main(int argc, char **argv)
{
    long pairs = 5000000, count = 10000;
    size_t stack = 0;
    touch = 1536;
    int opt;
    while ((opt = getopt(argc, argv, "n:c:t:s:")) != -1) {
        switch (opt) {
        case 'n': pairs = atol(optarg); break;
        case 'c': count = atol(optarg); break;
        case 't': touch = (size_t)atol(optarg); break;
        case 's': stack = (size_t)atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-n PAIRS] [-c COUNT] [-t TOUCH] [-s STACK]\n", argv[0]);
            return 2;
        }
    }
    if (pairs < 1 || count < 1) {
        fprintf(stderr, "%s: PAIRS and COUNT must be positive\n", argv[0]);
        return 2;
    }
    if (coro_thread_init() < 0) {
        perror("coro_thread_init");
        return 1;
    }

    pair_ns(pairs / 10 + 1); /* warm up: stack pool, caches, frequency */
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double ns = pair_ns(pairs);
        if (ns < best)
            best = ns;
    }
    printf("switch %s: %.1f ns per resume/yield pair (best of 3 x %ld)\n", SWITCH_NAME, best, pairs);

    long cycles = pairs / 10 + 1;
    double t0 = now();
    for (long i = 0; i < cycles; i++) {
        coro_t *one = coro_new(idler, NULL, stack, "short");
        if (one == NULL) {
            perror("coro_new");
            return 1;
        }
        coro_resume(one);
        coro_resume(one);
        coro_free(one);
    }
    printf("short-lived: %.1f ns per coro_new + 2 resumes + coro_free (%ld)\n", (now() - t0) * 1e9 / (double)cycles,
           cycles);

    coro_t **c = calloc((size_t)count, sizeof *c);
    if (c == NULL) {
        perror("calloc");
        return 1;
    }
    long before = rss_kib();
    for (long i = 0; i < count; i++) {
        c[i] = coro_new(idler, NULL, stack, "idle");
        if (c[i] == NULL) {
            perror("coro_new");
            return 1;
        }
        coro_resume(c[i]);
    }
    long idle = rss_kib();
    size_t stack_size = coro_stack_size(c[0]);
    for (long i = 0; i < count; i++) {
        coro_resume(c[i]);
        coro_free(c[i]);
    }
    long after = rss_kib();
    coro_stats_t st;
    coro_stats(&st);
    printf("idle: %ld coroutines, %zu-byte stacks, %zu bytes touched: VmRSS %+.1f MiB (%.2f KiB each)\n", count,
           stack_size, touch, (double)(idle - before) / 1024.0, (double)(idle - before) / (double)count);
    printf("freed: VmRSS %+.1f MiB over the start, %zu stacks pooled\n", (double)(after - before) / 1024.0,
           st.pooled);
    free(c);
    coro_thread_exit();
    return 0;
}
