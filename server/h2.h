/*
 * HTTP/2 (RFC 9113) over one connection's byte stream (conn_io_read,
 * conn_io_write, conn_io_watch), with libnghttp2 doing the framing, HPACK,
 * stream states and flow control. Each request stream carries an exchange
 * (exchange.h) exactly as an HTTP/1 request does: the same routing, plugin
 * stages, bodies and answers, so plugins see no difference. The stream's
 * head is given to the exchange as the HTTP/1.1 head it stands for
 * (pseudo-header fields as the request line and Host), parsed by the same
 * strict parser; the access log says HTTP/2.0.
 *
 * Limits: http2_max_streams concurrent streams, max_header_bytes per
 * header list (431 beyond, the decoder's work bounded by the frames'
 * size), http2_window per stream; the floods of the protocol (rapid reset,
 * CONTINUATION, SETTINGS, PING, empty DATA frames) end the connection.
 * Timeouts: header_timeout before the first request, keepalive_timeout
 * while no stream is open, body_timeout per request body,
 * handler_timeout per held request (504), send_timeout per response that
 * makes no progress (the stream is reset) and for a socket that takes no
 * bytes (the connection is closed).
 *
 * Loop thread only.
 */
#ifndef PH_H2_H
#define PH_H2_H

#include <stddef.h>

#include "conn.h"

typedef struct h2 h2_t;

/* Starts HTTP/2 on c: the server's SETTINGS go out and in[0..inlen), the
 * bytes already read (the client's preface onwards), is taken as input.
 * NULL when out of memory. Then conn.c passes c's socket events on. */
h2_t *h2_new(conn_t *c, const char *in, size_t inlen);

/* c's socket is ready (EV_READ, EV_WRITE...). c may be closed on return. */
void h2_on_io(h2_t *h, unsigned events);

/* The worker stops or reloads: a GOAWAY that refuses nothing yet, then,
 * a second later, the final one; streams received until then finish, later
 * ones are refused; the connection closes once the last one ends. */
void h2_drain(h2_t *h);

/* Ends every stream (requests a plugin holds live on, detached) and frees
 * h. Called by conn.c as it closes c. */
void h2_free(h2_t *h);

#endif
