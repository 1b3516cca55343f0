/*
 * Crash containment: a handler for the fatal signals (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT) that logs what the crashing thread was running
 * and a backtrace, tells the master which route crashed, and dies of the
 * signal; and the route quarantine the master keeps from those reports.
 */
#ifndef PH_CRASH_H
#define PH_CRASH_H

#include <stddef.h>
#include <stdint.h>

/* What a thread is running while it calls into a plugin for a request.
 * The strings are the generation's (route name, plugin file) and the
 * request's head; they outlive the call. */
typedef struct crash_site {
    const char *route;       /* "example.com/api", "/api" */
    const char *file;        /* the plugin file called */
    const char *method;      /* not NUL-terminated */
    size_t method_len;
    const char *target;      /* not NUL-terminated */
    size_t target_len;
    unsigned long gen;       /* the generation and ... */
    size_t route_index;      /* ... the route's index in its routes */
} crash_site_t;

/* Makes site this thread's current one until crash_leave(the returned
 * value). Cheap (a thread-local store): called around every plugin call
 * for a request. */
const crash_site_t *crash_enter(const crash_site_t *site);
void crash_leave(const crash_site_t *previous);

/* Installs the handler for the process (once, before threads start) and
 * an alternate signal stack for the calling thread, so that a stack
 * overflow is reported too. report_fd >= 0: the crash handler writes
 * "C<gen> <route index>\n" there when a site was current (a worker's pipe
 * to its master); -1: no report. Also loads what backtrace() needs, which
 * must not happen first inside the handler. In a build with AddressSanitizer
 * the sanitizer keeps its handlers for the faults (its report is the one
 * that matters there); SIGABRT, which it leaves alone, is still handled. */
void crash_install(int report_fd);

/* An alternate signal stack for a thread started after crash_install()
 * (worker and blocking-pool threads); without one, a crash on that thread
 * is still reported unless it overflowed its stack. The stack is mapped
 * once per thread and never unmapped: a thread's exit does not tell the
 * kernel to stop using it, and server threads live as long as their
 * process. */
void crash_thread_init(void);

/* --- the quarantine: shared between a master and its workers ------------- */

/* Maps the quarantine table shared with the worker processes forked
 * afterwards. Returns 0, or -1 (then no route is ever quarantined). */
int crash_table_init(void);

/* Whether route index of generation gen answers 503 (a worker asks it for
 * every routed request: one relaxed load). */
int crash_quarantined(unsigned long gen, size_t index);

/* The master: one crash reported for (gen, index) at now (monotonic ms).
 * Returns 1 when that makes limit crashes within window ms: the route is
 * then quarantined for generation gen (a reload starts a new generation,
 * which no entry names). limit 0: never. */
int crash_record(unsigned long gen, size_t index, uint64_t now, unsigned limit, uint64_t window);

/* Parses one "C<gen> <index>" report without its newline. Returns 0, or
 * -1 when line is not one. */
int crash_parse_report(const char *line, size_t len, unsigned long *gen, size_t *index);

#endif
