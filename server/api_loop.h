/*
 * The event-loop part of the plugin API (ABI 1.3): a plugin's view of the
 * worker loops (ph_loop_t is a worker), descriptor watches, timers, tasks
 * posted across threads, and a non-blocking connect. The functions are
 * the ph_server_api_t members of the same names; plugin.h states their
 * contract. What this implementation adds to it:
 *
 *   loops      loop_at(i) is worker thread i, the index thread_init gets.
 *   run_on     a task accepted (PH_OK) always runs, exactly once, on the
 *              loop's thread: a task that arrives while the worker winds
 *              down at shutdown runs right after the loop's last round,
 *              before the thread's thread_exit hooks, so it must not count
 *              on its watches or timers firing any more. Once the thread
 *              is past that point, run_on returns PH_ERROR.
 *   watches    level-triggered: cb runs again while the condition holds.
 *              events is PH_EV_READ and/or PH_EV_WRITE, 0 to pause (no
 *              callback at all, hang-ups included), or PH_EV_HUP alone to
 *              hear only of a hang-up or error. Free a watch before closing
 *              its fd. A watch freed from its own or another callback is
 *              released after the current batch of events.
 *   timers     count from the moment of timer_set(), not from the start of
 *              the loop's round; a callback may free its own timer.
 *   misuse     watch and timer calls from a thread other than the loop's
 *              are refused (NULL / PH_ERROR, logged, errno EPERM) and
 *              change nothing; watch_free and timer_free from elsewhere are
 *              refused too, except once the loop's thread has ended (at
 *              shutdown, from destroy()): then they just release the memory.
 *   connect    the first address getaddrinfo gives for a name; errno EINVAL
 *              for a malformed address (see api_addr_parse), ENAMETOOLONG
 *              for a unix path too long for sockaddr_un, ENXIO for a name
 *              that does not resolve, EAGAIN when the lookup should be
 *              retried, or connect(2)'s own errno (ECONNREFUSED, ENOENT...).
 */
#ifndef PH_API_LOOP_H
#define PH_API_LOOP_H

#include <plughttpd/plugin.h>

ph_loop_t *api_loop_of(const ph_request_t *req);
ph_loop_t *api_loop_current(void);
unsigned api_loops(void);
ph_loop_t *api_loop_at(unsigned i);
int api_run_on(ph_loop_t *loop, ph_task_fn fn, void *arg);
ph_watch_t *api_watch_new(ph_loop_t *loop, int fd, unsigned events, ph_watch_fn cb, void *arg);
int api_watch_set(ph_watch_t *w, unsigned events);
void api_watch_free(ph_watch_t *w);
ph_timer_t *api_timer_new(ph_loop_t *loop, ph_timer_fn cb, void *arg);
int api_timer_set(ph_timer_t *t, uint64_t ms);
void api_timer_stop(ph_timer_t *t);
void api_timer_free(ph_timer_t *t);
int api_connect(const char *address);

/* connect()'s address, split. Pure. */
typedef struct api_addr {
    int unix_path;   /* 1: "unix:/path" (path), 0: host and port */
    int bracketed;   /* host was written [...]: an IPv6 literal */
    char host[254];  /* without brackets; a name is at most 253 bytes */
    char port[6];    /* decimal, 1..65535 */
    char path[108];  /* absolute, fits sockaddr_un's sun_path with its NUL */
} api_addr_t;

/* Splits s: "unix:/abs/path", "[v6]:port" or "host:port" where host is a
 * numeric IPv4 or a name of letters, digits, '-', '.' and '_' (an
 * unbracketed ':' in it is refused: IPv6 needs brackets), and port is 1 to
 * 5 digits in 1..65535. Returns 0, EINVAL (malformed: empty parts,
 * missing port, stray characters, a relative unix path) or ENAMETOOLONG
 * (unix path too long). Whether a bracketed host is a valid IPv6 address
 * is for getaddrinfo to say. */
int api_addr_parse(const char *s, api_addr_t *out);

#endif
