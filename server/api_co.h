/*
 * Coroutine waits and sockets for plugins (ABI 1.4): the api->co_* and
 * api->sock_* members, built on coro.h (stacks, switching) and the worker
 * loops (ev.h, worker.c's tasks). plugin.h states their contract; this
 * file adds how the core uses them.
 *
 * Every coroutine has a wait state (co_ctx_t, coro_data()): what it waits
 * on (a watch on a fd, a timer, a blocking-pool job, a socket, its
 * request's body or output space), the result to hand back, and its
 * cancel flag (its request's, or its own for a co_spawn()ed one). A wait
 * suspends the coroutine with coro_yield(); what it waits on resumes it:
 * directly from an event callback of the loop, or, for what the exchange
 * or a carrier says from deep inside their own code (cancellation, body
 * pieces, output drained), through a zero-delay timer, so a coroutine never
 * runs nested inside the carrier's state changes.
 *
 * Handler coroutines (exchange.c): apico_handler_start() runs handle() on a
 * new coroutine; when it waits, the request is held (HOLD_CORO) until it
 * returns, then exchange_co_done() takes its rc. The request, and its
 * generation, are never released while the coroutine lives.
 *
 * co_respond() before a streamed body's end: the carrier reads no more of
 * the body (the connection closes after the answer), and co_body_read()
 * returns -EPIPE from then on.
 *
 * Shutdown: a worker counts its live coroutines (worker_t.ncoro) and its
 * loop runs on until there are none; apico_worker_stop() cancels the
 * co_spawn()ed ones when the worker begins to stop.
 *
 * Loop thread only, except the calls plugin.h marks otherwise (co_spawn,
 * sock_new, sock_close).
 */
#ifndef PH_API_CO_H
#define PH_API_CO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <plughttpd/plugin.h>

struct worker;

/* Request body queue bounds for a streamed body read by co_body_read():
 * the socket pauses above HIGH and reads again below LOW. */
#define APICO_BODY_HIGH (256u * 1024u)
#define APICO_BODY_LOW (64u * 1024u)
/* co_send() output queue bounds. */
#define APICO_OUT_HIGH (256u * 1024u)
#define APICO_OUT_LOW (64u * 1024u)

/* --- the handler's coroutine (exchange.c) ------------------------------ */

/* Runs the route's handle() for req on a new coroutine (label: the route
 * prefix). Returns 0 with *rc when handle() returned without staying
 * suspended (nothing differs from a plain handler), or 1 when it waits:
 * req is then HOLD_CORO and exchange_co_done(req, rc) follows, from the
 * loop, once it returns. *rc is PH_ERROR when no coroutine could be made. */
int apico_handler_start(ph_request_t *req, int *rc);
/* req's client no longer waits: its coroutine's pending wait returns
 * -ECANCELED (from the loop, soon), and so does every later one. */
void apico_req_cancel(ph_request_t *req);
/* A decoded piece of a streamed body for co_body_read(): queued (the
 * carrier is paused above APICO_BODY_HIGH). 0, or -1 when out of memory. */
int apico_body_piece(ph_request_t *req, const char *data, size_t len);
/* The streamed body ended (err 0), or broke a limit (err -EMSGSIZE). */
void apico_body_end(ph_request_t *req, int err);

/* --- the worker (worker.c) ------------------------------------------------ */

/* Cancels every co_spawn()ed coroutine of w (begin of a stop). */
void apico_worker_stop(struct worker *w);

/* --- the api table members -------------------------------------------------- */

int apico_active(void);
int apico_sleep(uint64_t ms);
int apico_wait_fd(int fd, unsigned events, int64_t timeout_ms);
int apico_poll(ph_pollfd_t *fds, size_t n, int64_t timeout_ms);
int apico_resolve(const char *hostport, char *out, size_t cap, int64_t timeout_ms);
int apico_blocking(ph_task_fn fn, void *arg);
void *apico_spawn(ph_loop_t *loop, ph_task_fn fn, void *arg, size_t stack_size);
void apico_cancel(void *handle);
ph_sock_t *apico_sock_new(int fd, size_t buffer);
int apico_connect(const char *address, int64_t timeout_ms, ph_sock_t **out);
ssize_t apico_sock_read(ph_sock_t *s, void *buf, size_t cap, int64_t timeout_ms);
ssize_t apico_sock_read_exactly(ph_sock_t *s, void *buf, size_t n, int64_t timeout_ms);
ssize_t apico_sock_read_until(ph_sock_t *s, const char *delim, size_t dlen, size_t max, ph_str_t *line,
                              int64_t timeout_ms);
ssize_t apico_sock_write(ph_sock_t *s, const void *buf, size_t len, int64_t timeout_ms);
size_t apico_sock_buffered(const ph_sock_t *s);
int apico_sock_fd(const ph_sock_t *s);
void apico_sock_close(ph_sock_t *s);
ssize_t apico_body_read(ph_request_t *req, void *buf, size_t cap, int64_t timeout_ms);
int apico_respond(ph_request_t *req, int64_t length);
ssize_t apico_send(ph_request_t *req, const void *data, size_t len, int64_t timeout_ms);
int apico_upgrade(ph_request_t *req, ph_sock_t **client);

/* Pure: "host:port" for a numeric address family and sockaddr bytes,
 * "[v6]:port" for IPv6, into out[0..cap). 0, or -ENOSPC. */
int apico_format_addr(int family, const void *addr, unsigned port, char *out, size_t cap);

#endif
