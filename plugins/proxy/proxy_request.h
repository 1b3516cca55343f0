/*
 * proxy_request: the request head sent upstream, built from the client's
 * request (RFC 9110 section 7.6: hop-by-hop fields dropped; Host passed or
 * set; Forwarded and X-Forwarded-* added).
 */
#ifndef PROXY_REQUEST_H
#define PROXY_REQUEST_H

#include "proxy.h"
#include "proxy_buf.h"

/* How the request body goes upstream. */
typedef enum {
    PROXY_BODY_NONE,    /* no body */
    PROXY_BODY_LENGTH,  /* Content-Length: length */
    PROXY_BODY_CHUNKED, /* the client's length is unknown: re-chunked */
} proxy_body_kind_t;

/* The client's address without the port ("127.0.0.1", "::1"), or
 * "unknown" (a unix socket), into out[0..cap). */
void proxy_peer_ip(const char *peer, char *out, size_t cap);

/* Appends the whole head (request line through the empty line) to out.
 * upstream_host: Host when the client sent none and host = pass.
 * upgrade: forward the client's Upgrade (websocket = yes and asked).
 * PH_OK, or PH_ERROR when out of memory. */
int proxy_request_head(const proxy_t *p, ph_request_t *req, const char *upstream_host, int upgrade,
                       proxy_body_kind_t kind, uint64_t length, proxy_buf_t *out);

#endif
