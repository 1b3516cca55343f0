/*
 * One client connection: reading and parsing requests, bodies, dispatching
 * to the route's plugin, sending responses in order, keep-alive, timeouts
 * and limits. Runs on its worker's loop thread only; the one exception is a
 * blocking route, whose handle() runs on a helper thread while the
 * connection waits (it touches nothing but the request then).
 */
#ifndef PH_CONN_H
#define PH_CONN_H

#include <sys/socket.h>

struct worker;
typedef struct conn conn_t;

/* Takes ownership of fd (non-blocking, accepted). Returns NULL and closes fd
 * when out of memory. */
conn_t *conn_new(struct worker *w, int fd, const struct sockaddr *peer, socklen_t peerlen);

/* Starts serving c (after the worker has linked it): reads at once when
 * the listener defers accept, then waits for the socket. c may be closed
 * (and on the worker's dead list) on return. */
void conn_start(conn_t *c);

/* The worker is shutting down: close now if idle, else after the response
 * in progress. */
void conn_drain(conn_t *c);

/* Force-close (shutdown timeout). */
void conn_abort(conn_t *c);

/* A blocking handler finished on a helper thread; continue on the loop. */
void conn_blocking_done(conn_t *c);

/* "127.0.0.1:5555", "[::1]:5555" or "unix". */
const char *conn_peer(const conn_t *c);

/* Frees a closed connection (the worker calls it after the event batch). */
void conn_free(conn_t *c);

/* Intrusive list links, owned by the worker. */
conn_t *conn_next(const conn_t *c);
void conn_link(conn_t *c, conn_t **head);
void conn_unlink(conn_t *c, conn_t **head);

/* The worker serving c (any thread: fixed for c's life). */
struct worker *conn_worker(const conn_t *c);

#endif
