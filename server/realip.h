/*
 * realip: what a trusted proxy in front says about the request it passes
 * on. When the direct peer (the connection's address, or the PROXY
 * protocol's) is in [server] trusted_proxies, the client's address is read
 * from X-Forwarded-For or Forwarded (RFC 7239), and the request id from
 * X-Request-Id. Pure: spans of a parsed head in, results out; no I/O, no
 * allocation, no server state, so the unit test drives it from tables.
 *
 * The walk is nginx realip's with recursion: the header's addresses, every
 * X-Forwarded-For (or Forwarded) field in the order received joined as one
 * list, are taken from right to left; trusted ones are passed over, and
 * the first one that is not trusted is the client. When every one is
 * trusted, the leftmost is. Where the walk stops decides:
 *   - an address not trusted: the client;
 *   - "unknown", an obfuscated identifier ("_hidden", RFC 7239 section
 *     6.3) or a Forwarded element without for=: the client is not known,
 *     so the result is the last trusted address walked (the proxy that
 *     saw the unknown client), or none when that element is the rightmost;
 *   - anything that is not an address, or a Forwarded field that does not
 *     parse: none (the header is not believed at all).
 * "None" keeps the direct peer: a proxy header never makes a request fail.
 * Elements left of where the walk stops are never judged: a client may
 * write anything there.
 *
 * Accepted element forms, in both headers: 192.0.2.1, 192.0.2.1:PORT,
 * 2001:db8::1, [2001:db8::1], [2001:db8::1]:PORT (Forwarded quotes the
 * last three, and its port may be an obfuscated "_x": unknown). IPv6 zone
 * ids ("fe80::1%eth0") are not addresses. Whitespace around commas (and
 * around Forwarded's semicolons) is allowed; empty list elements are
 * skipped, as RFC 9110 section 5.6.1 lets a recipient do.
 */
#ifndef PH_REALIP_H
#define PH_REALIP_H

#include <stddef.h>

#include "cidr.h"
#include "http_parse.h"

/* Which header names the client ([server] real_ip_header). */
enum realip_header { REALIP_NONE, REALIP_XFF, REALIP_FORWARDED };

/* The proxies whose headers are believed: ranges, and whether a peer on a
 * unix-socket listener ("unix") is one. */
typedef struct realip_trust {
    const cidr_t *ranges;
    size_t n;
    int unix_peers;
} realip_trust_t;

typedef struct realip_addr {
    int family;             /* AF_INET or AF_INET6 (IPv4-mapped: AF_INET) */
    unsigned char addr[16]; /* 4 or 16 bytes used */
    unsigned port;          /* 0: not said */
} realip_addr_t;

/* Whether a peer as api->peer() writes it ("127.0.0.1:5555", "[::1]:5555",
 * "unix") is a trusted proxy. */
int realip_peer_trusted(const realip_trust_t *t, const char *peer);

/* Walks the fields named by kind among headers[0..n) (spans into head;
 * see above). Returns 1 with *client set, or 0 when the direct peer
 * stands (no such field, a walk that names no client, or a malformed
 * one). The caller has checked that the direct peer is trusted. */
int realip_client(enum realip_header kind, const char *head, const hp_header_t *headers, unsigned n,
                  const realip_trust_t *t, realip_addr_t *client);

/* Writes a as api->peer() writes peers: "192.0.2.1:PORT", "[2001:db8::1]:PORT"
 * (PORT 0 when not said), NUL-terminated in buf[0..cap) (cap >= 56).
 * Returns its length. */
size_t realip_format(const realip_addr_t *a, char *buf, size_t cap);

/* The longest X-Request-Id taken from a trusted proxy. */
#define REALIP_REQUEST_ID_MAX 200

/* The request id a trusted proxy sent: exactly one X-Request-Id field of
 * 1..REALIP_REQUEST_ID_MAX visible ASCII bytes other than '"' and '\'
 * (safe in a header and a log line as they are). Returns 1 with *off and
 * *len (into head) set, or 0 (none, several, or not such a value: the
 * server's own id stands). */
int realip_request_id(const char *head, const hp_header_t *headers, unsigned n, size_t *off, size_t *len);

#endif
