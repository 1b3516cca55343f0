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
#include <sys/types.h>

#include "config.h"

struct worker;
typedef struct conn conn_t;

/* Takes ownership of fd (non-blocking, accepted on the listener cl, which
 * says TLS or https-redirect; NULL: plain). local: the connection's local
 * address when the listener knows it (see worker_adopt), else NULL or "".
 * Returns NULL and closes fd when out of memory, or when the peer's
 * address already holds [server] max_connections_per_address connections
 * (the refused client sees its connection closed, no answer; on a
 * proxy_protocol listener the header's client address is counted once it
 * has come, and such a connection is closed then). */
conn_t *conn_new(struct worker *w, int fd, const struct sockaddr *peer, socklen_t peerlen,
                 const cfg_listen_t *cl, const char *local);

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

/* The byte stream under a connection's framing: TLS over the socket on a
 * TLS listener, else the socket itself. For a framing layer other than
 * HTTP/1 (h2.c). Like recv() and send(): > 0 bytes, 0 at the end of the
 * stream (read), or -1 with errno (EAGAIN: nothing now; watch the socket
 * with conn_io_watch() and try again when it fires). */
ssize_t conn_io_read(conn_t *c, void *buf, size_t cap);
ssize_t conn_io_write(conn_t *c, const void *buf, size_t len);
/* Watches c's socket for mask (EV_READ, EV_WRITE); 0 or -1. Under TLS,
 * plaintext already decrypted and buffered makes the read side fire at
 * once, as unread socket bytes would. */
int conn_io_watch(conn_t *c, unsigned mask);

/* For the framing above the byte stream (h2.c): c's worker, its local
 * address as api->local() says it, whether it is TLS (and its session,
 * NULL for plain text), and closing it (the framing's state is freed
 * through h2_free() on the way). */
struct worker *conn_worker(const conn_t *c);
const char *conn_local(conn_t *c);
int conn_secure(const conn_t *c);
const struct tls_conn *conn_tls(const conn_t *c);
void conn_close(conn_t *c);

/* Frees a closed connection (the worker calls it after the event batch). */
void conn_free(conn_t *c);

/* Intrusive list links, owned by the worker. */
conn_t *conn_next(const conn_t *c);
void conn_link(conn_t *c, conn_t **head);
void conn_unlink(conn_t *c, conn_t **head);

#endif
