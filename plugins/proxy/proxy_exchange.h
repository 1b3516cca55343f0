/*
 * proxy_exchange: one proxied request on the handler's coroutine: the
 * request body read from the client, attempts on upstreams (a pooled or a
 * new connection, the head and body sent, the response head read), then
 * the response body relayed to the client.
 *
 * Retries. A request goes to another upstream after a failure only when
 * its method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS) and its body
 * can be sent again: no body, or a body read whole before the first
 * attempt (up to PROXY_REPLAY_MAX bytes). A pooled connection the
 * upstream closed before answering is retried once on a new connection to
 * the same upstream under the same rule. A larger body streams to the
 * upstream as it arrives and never goes twice; it always takes a new
 * connection, so an idle one the upstream has just closed cannot lose it.
 */
#ifndef PROXY_EXCHANGE_H
#define PROXY_EXCHANGE_H

#include "proxy_buf.h"
#include "proxy_pool.h"
#include "proxy_request.h"
#include "proxy_response.h"

/* A body up to this size is read before the first attempt, so it can be
 * sent again, and goes with a Content-Length even when the client sent it
 * chunked. */
#define PROXY_REPLAY_MAX (64u * 1024u)

/* What an attempt came to. */
typedef enum {
    PROXY_X_OK,       /* response head received and set on the client's */
    PROXY_X_CONNECT,  /* no connection (refused, unreachable): 502 */
    PROXY_X_STALE,    /* a pooled connection closed before any byte */
    PROXY_X_SEND,     /* writing upstream failed: 502 */
    PROXY_X_TIMEOUT,  /* connect, send or read timed out: 504 */
    PROXY_X_BAD,      /* bad, missing or cut response head: 502 */
    PROXY_X_CLIENT,   /* the client's body failed (too large, timed out) */
    PROXY_X_CANCELED, /* the request was cancelled */
    PROXY_X_NOMEM,
    PROXY_X_LOCAL,    /* this process ran out of descriptors or memory
                         connecting: 503, not the upstream's failure */
} proxy_x_t;

typedef struct proxy_exchange {
    proxy_t *p;
    ph_request_t *req;
    proxy_thread_t *t;   /* the thread's pool, or NULL */
    char ip[64];         /* the client's address */
    int upgrade;         /* an Upgrade the route relays */
    int idempotent;
    int head_only;       /* HEAD: the response has no body */
    proxy_body_kind_t kind;
    uint64_t length;     /* PROXY_BODY_LENGTH */
    char *pre;           /* body bytes read before the first attempt */
    size_t npre;
    int body_whole;      /* pre holds the whole body: it can be replayed */
    int body_sent;       /* some of the body beyond pre was consumed */
    int body_client_rc;  /* PROXY_X_CLIENT: co_body_read()'s -errno */
    int hop_overflow;    /* the client's Connection names too many fields:
                            answered 400 */
    int head_set;        /* the client's response head was touched: no
                            other upstream may answer */
    char *buf;           /* I/O buffer of conf.buffer bytes */
    proxy_buf_t head;    /* the head sent upstream; owned */
    /* the current attempt */
    int up;
    ph_sock_t *sock;
    int reused;
    char why[224];       /* what failed, for the log */
    ph_str_t names[PROXY_FIELDS_MAX], values[PROXY_FIELDS_MAX];
    ph_http_response_t resp;
} proxy_exchange_t;

/* Sets x up for req (allocated with the request) and reads the replayable
 * part of the body. NULL when out of memory; *client_rc < 0 when reading
 * the body failed (the core may have answered, e.g. 413). */
proxy_exchange_t *proxy_exchange_new(proxy_t *p, ph_request_t *req, int *client_rc);
/* One attempt on upstream up. On PROXY_X_OK, x->sock is connected and
 * positioned at the response body and the client's status and fields are
 * set; otherwise x->sock is closed and x->why says what failed. */
proxy_x_t proxy_exchange_attempt(proxy_exchange_t *x, int up);
/* The response after PROXY_X_OK: body relayed (or tunnel after a 101),
 * the connection pooled or closed. The handler's return value. */
int proxy_exchange_relay(proxy_exchange_t *x);
/* Frees what x owns (not x: the request's memory). */
void proxy_exchange_free(proxy_exchange_t *x);

#endif
