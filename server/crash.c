/*
 * The crash handler and the route quarantine (see crash.h). Everything the
 * handler calls is async-signal-safe: it formats into a stack buffer by
 * hand, writes with write(2), and backtrace_symbols_fd() writes without
 * allocating (backtrace() itself is loaded by crash_install()).
 */
#include "crash.h"

#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define CRASH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_ASAN 1
#endif
#endif

/* The quarantine table holds this many routes of a generation; routes
 * beyond it are never quarantined (a crash there costs a worker each time,
 * as without a table). */
#define CRASH_ROUTES 4096

static __thread const crash_site_t *current;
static int report_fd = -1;
static unsigned long *table; /* per route index: the generation it is
                                quarantined in, 0: none; MAP_SHARED */

const crash_site_t *crash_enter(const crash_site_t *site)
{
    const crash_site_t *prev = current;
    current = site;
    return prev;
}

void crash_leave(const crash_site_t *previous) { current = previous; }

/* --- formatting without stdio -------------------------------------------- */

typedef struct line {
    char buf[1024];
    size_t len;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (n > sizeof l->buf - 1 - l->len)
        n = sizeof l->buf - 1 - l->len; /* one byte kept for the newline */
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

static void put_uint(line_t *l, unsigned long v, unsigned base, unsigned width)
{
    char d[24];
    size_t n = 0;
    do {
        d[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v && n < sizeof d);
    while (n < width && n < sizeof d)
        d[n++] = '0';
    while (n > 0)
        put(l, &d[--n], 1);
}

/* Bytes as received, cut to max, with anything but printable ASCII other
 * than '"' and '\\' as \xHH: a target is whatever the client sent. */
static void put_escaped(line_t *l, const char *s, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
            put(l, (const char *)&c, 1);
        } else {
            puts_(l, "\\x");
            put_uint(l, c, 16, 2);
        }
    }
    if (n > max)
        puts_(l, "...");
}

/* The error log's time stamp (log.c's format) from the epoch seconds:
 * gmtime_r() is not async-signal-safe, so the civil date is computed. */
static void put_time(line_t *l)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long secs = (long)ts.tv_sec;
    long days = secs / 86400, rem = secs % 86400;
    /* days since 1970-01-01 to year/month/day (Howard Hinnant's civil_from_days) */
    long z = days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    long y = yoe + era * 400 + (m <= 2);
    put_uint(l, (unsigned long)y, 10, 4);
    puts_(l, "-");
    put_uint(l, (unsigned long)m, 10, 2);
    puts_(l, "-");
    put_uint(l, (unsigned long)d, 10, 2);
    puts_(l, "T");
    put_uint(l, (unsigned long)(rem / 3600), 10, 2);
    puts_(l, ":");
    put_uint(l, (unsigned long)(rem / 60 % 60), 10, 2);
    puts_(l, ":");
    put_uint(l, (unsigned long)(rem % 60), 10, 2);
    puts_(l, "Z");
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return; /* nowhere left to report it */
        p += w;
        n -= (size_t)w;
    }
}

/* --- the handler --------------------------------------------------------- */

/* The default action, now: the exit status names sig. Set here rather than
 * trusted to SA_RESETHAND, since another handler may have been installed in
 * front of this one and call it (coro.c's overflow check chains to it). */
static void die_of(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* still here (a fault blocked elsewhere): returning re-executes the
     * faulting instruction under the default action */
}

static void describe(line_t *l, int sig, const siginfo_t *si, const crash_site_t *s)
{
    put_time(l);
    puts_(l, " [error] ");
    put_uint(l, (unsigned long)getpid(), 10, 1);
    puts_(l, ": crash: ");
    puts_(l, signame(sig));
    if (sig != SIGABRT) {
        puts_(l, " at address 0x");
        put_uint(l, (unsigned long)(uintptr_t)si->si_addr, 16, 1);
    }
    if (s == NULL) {
        puts_(l, " outside any request (the loop, a plugin's own thread, a timer or a filter)");
        return;
    }
    puts_(l, " on route ");
    puts_(l, s->route);
    puts_(l, ", plugin ");
    puts_(l, s->file);
    puts_(l, ", request \"");
    put_escaped(l, s->method, s->method_len, 16);
    puts_(l, " ");
    put_escaped(l, s->target, s->target_len, 200);
    puts_(l, "\"");
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    const crash_site_t *s = current;
    int fd = log_error_fd();
    line_t l = {.len = 0};
    describe(&l, sig, si, s);
    l.buf[l.len++] = '\n';
    write_all(fd, l.buf, l.len);
    if (s && report_fd >= 0) {
        line_t r = {.len = 0};
        puts_(&r, "C");
        put_uint(&r, s->gen, 10, 1);
        puts_(&r, " ");
        put_uint(&r, (unsigned long)s->route_index, 10, 1);
        r.buf[r.len++] = '\n';
        write_all(report_fd, r.buf, r.len); /* shorter than PIPE_BUF: one piece */
    }
    void *frames[64];
    int n = backtrace(frames, 64);
    static const char head[] = "crash: backtrace:\n";
    write_all(fd, head, sizeof head - 1);
    backtrace_symbols_fd(frames, n, fd);
    die_of(sig);
}

void crash_thread_init(void)
{
    /* threads start with signals blocked (they go to the main thread),
     * and a fault while its signal is blocked kills without a handler */
    sigset_t faults;
    sigemptyset(&faults);
    sigaddset(&faults, SIGSEGV);
    sigaddset(&faults, SIGBUS);
    sigaddset(&faults, SIGFPE);
    sigaddset(&faults, SIGILL);
    sigaddset(&faults, SIGABRT);
    pthread_sigmask(SIG_UNBLOCK, &faults, NULL);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* one already (coro.c's) */
    size_t size = 64 * 1024;
    if (size < (size_t)SIGSTKSZ)
        size = (size_t)SIGSTKSZ;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return; /* crashes are still reported, bar stack overflows */
    stack_t ss = {.ss_sp = p, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) < 0)
        munmap(p, size);
}

void crash_install(int fd)
{
    report_fd = fd;
    void *warm[1];
    backtrace(warm, 1); /* loads libgcc_s now, not from inside the handler */
    crash_thread_init();
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
#ifdef CRASH_ASAN
        if (sigs[i] != SIGABRT)
            continue; /* AddressSanitizer reports faults itself */
#endif
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* --- the quarantine ------------------------------------------------------ */

int crash_table_init(void)
{
    if (table)
        return 0;
    void *p = mmap(NULL, CRASH_ROUTES * sizeof *table, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    table = p;
    return 0;
}

int crash_quarantined(unsigned long gen, size_t index)
{
    return table && index < CRASH_ROUTES && __atomic_load_n(&table[index], __ATOMIC_RELAXED) == gen;
}

/* The master's recent crashes (one process, one thread: no locking). */
typedef struct crash_event {
    unsigned long gen;
    size_t index;
    uint64_t at;
} crash_event_t;

static crash_event_t *events;
static size_t nevents, capevents;

int crash_record(unsigned long gen, size_t index, uint64_t now, unsigned limit, uint64_t window)
{
    if (limit == 0 || table == NULL || index >= CRASH_ROUTES)
        return 0;
    size_t keep = 0, count = 1;
    for (size_t i = 0; i < nevents; i++) {
        if (now - events[i].at >= window)
            continue; /* forgotten: outside every window from now on */
        if (events[i].gen == gen && events[i].index == index)
            count++;
        events[keep++] = events[i];
    }
    nevents = keep;
    if (count >= limit) {
        __atomic_store_n(&table[index], gen, __ATOMIC_RELAXED);
        size_t w = 0; /* a quarantined route's crashes are done with */
        for (size_t i = 0; i < nevents; i++)
            if (events[i].gen != gen || events[i].index != index)
                events[w++] = events[i];
        nevents = w;
        return 1;
    }
    if (nevents == capevents) {
        size_t cap = capevents ? capevents * 2 : 16;
        crash_event_t *e = realloc(events, cap * sizeof *e);
        if (e == NULL)
            return 0;
        events = e;
        capevents = cap;
    }
    events[nevents++] = (crash_event_t){gen, index, now};
    return 0;
}

int crash_parse_report(const char *s, size_t len, unsigned long *gen, size_t *index)
{
    if (len < 4 || s[0] != 'C')
        return -1;
    unsigned long v[2] = {0, 0};
    size_t i = 1;
    for (int k = 0; k < 2; k++) {
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && v[k] < 1000000000000ul)
            v[k] = v[k] * 10 + (unsigned long)(s[i++] - '0');
        if (i == start || (k == 0 && (i >= len || s[i++] != ' ')))
            return -1;
    }
    if (i != len)
        return -1;
    *gen = v[0];
    *index = (size_t)v[1];
    return 0;
}
