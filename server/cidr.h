/*
 * cidr: address ranges ("10.0.0.0/8", "2001:db8::/32", "127.0.0.1") and
 * whether an address lies in one of them. Pure: no I/O, no server state.
 *
 * The core reads [server] trusted_proxies with it (realip.c); plugins
 * reach the same implementation through the api->cidr_* sets
 * (api_cidr.c).
 */
#ifndef PH_CIDR_H
#define PH_CIDR_H

#include <stddef.h>

typedef struct cidr {
    int family;            /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned bits;         /* prefix length */
} cidr_t;

/* Parses one range: 0, or -1 when s is not an address with an optional
 * /bits within the family's width. An IPv4-mapped range of /96 or longer
 * ("::ffff:10.0.0.0/104") becomes the IPv4 range it maps (10.0.0.0/8). */
int cidr_parse(const char *s, cidr_t *out);
/* Whether the numeric address ip (no port, no brackets) is in one of
 * ranges[0..n). An IPv4-mapped IPv6 address matches IPv4 ranges. */
int cidr_match(const cidr_t *ranges, size_t n, const char *ip);
/* The same for an address already in binary: family AF_INET (addr holds 4
 * bytes) or AF_INET6 (16 bytes, an IPv4-mapped one matching IPv4 ranges).
 * Any other family matches nothing. */
int cidr_match_bin(const cidr_t *ranges, size_t n, int family, const unsigned char *addr);

#endif
