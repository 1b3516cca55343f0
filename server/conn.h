/*
 * One HTTP/1 client connection: the framing under the exchanges
 * (exchange.h) it carries. Reading and parsing request heads, decoding
 * bodies (Content-Length, chunked), sending responses in order with their
 * framing (length, chunked, close), pipelining, keep-alive, 100-continue,
 * timeouts and limits. What runs the route's plugins is the exchange's;
 * this file knows requests only as heads, bodies and answers. Runs on its
 * worker's loop thread only.
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

/* "127.0.0.1:5555", "[::1]:5555" or "unix". */
const char *conn_peer(const conn_t *c);

/* Frees a closed connection (the worker calls it after the event batch). */
void conn_free(conn_t *c);

/* Intrusive list links, owned by the worker. */
conn_t *conn_next(const conn_t *c);
void conn_link(conn_t *c, conn_t **head);
void conn_unlink(conn_t *c, conn_t **head);

#endif
