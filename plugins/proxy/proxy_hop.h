/*
 * proxy_hop: which header fields stop at the proxy (RFC 9110 section 7.6.1:
 * hop-by-hop fields, and every field the Connection header names). Pure.
 */
#ifndef PROXY_HOP_H
#define PROXY_HOP_H

#include <plughttpd/plugin.h>

#define PROXY_HOP_TOKENS_MAX 32

/* The field names one message's Connection headers list, spans into the
 * header values. Past PROXY_HOP_TOKENS_MAX tokens, overflow is set and
 * the rest are not remembered: the caller refuses such a message (the
 * fields it names could not all be dropped). */
typedef struct proxy_hop {
    ph_str_t tokens[PROXY_HOP_TOKENS_MAX];
    size_t n;
    int overflow;
    int upgrade;    /* "upgrade" is among them */
    int close;      /* "close" is among them */
} proxy_hop_t;

/* Adds the tokens of one Connection value. */
void proxy_hop_add(proxy_hop_t *h, ph_str_t value);
/* Whether a field so named is not forwarded: a hop-by-hop field (Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authorization, Proxy-Authenticate) or one the Connection header
 * names. */
int proxy_hop_is(const proxy_hop_t *h, ph_str_t name);
/* Case-insensitive comparison of a span with a C string. */
int proxy_str_ieq(ph_str_t a, const char *b);

#endif
