/*
 * proxy_cidr: address ranges ("10.0.0.0/8", "2001:db8::/32", "127.0.0.1")
 * for trusted_proxies. Pure: no plugin API.
 */
#ifndef PROXY_CIDR_H
#define PROXY_CIDR_H

#include <stddef.h>

typedef struct proxy_cidr {
    int family;            /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned bits;         /* prefix length */
} proxy_cidr_t;

/* Parses one range: 0, or -1 when s is not an address with an optional
 * /bits within the family's width. */
int proxy_cidr_parse(const char *s, proxy_cidr_t *out);
/* Whether the numeric address ip (no port, no brackets) is in one of
 * ranges[0..n). An IPv4-mapped IPv6 address matches IPv4 ranges. */
int proxy_cidr_match(const proxy_cidr_t *ranges, size_t n, const char *ip);

#endif
