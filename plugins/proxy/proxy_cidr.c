#include "proxy_cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int proxy_cidr_parse(const char *s, proxy_cidr_t *out)
{
    char ip[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof ip)
        return -1;
    memcpy(ip, s, n);
    ip[n] = '\0';
    memset(out, 0, sizeof *out);
    unsigned width;
    if (inet_pton(AF_INET, ip, out->addr) == 1) {
        out->family = AF_INET;
        width = 32;
    } else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
        out->family = AF_INET6;
        width = 128;
    } else {
        return -1;
    }
    out->bits = width;
    if (slash) {
        char *end;
        const char *d = slash + 1;
        if (*d < '0' || *d > '9')
            return -1;
        unsigned long b = strtoul(d, &end, 10);
        if (*end != '\0' || b > width)
            return -1;
        out->bits = (unsigned)b;
    }
    return 0;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int proxy_cidr_match(const proxy_cidr_t *ranges, size_t n, const char *ip)
{
    unsigned char v4[4], v6[16];
    int is4 = inet_pton(AF_INET, ip, v4) == 1;
    int is6 = !is4 && inet_pton(AF_INET6, ip, v6) == 1;
    if (is6 && memcmp(v6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        memcpy(v4, v6 + 12, 4);
        is4 = 1;
    }
    for (size_t i = 0; i < n; i++) {
        const proxy_cidr_t *r = &ranges[i];
        if (r->family == AF_INET && is4 && prefix_equal(r->addr, v4, r->bits))
            return 1;
        if (r->family == AF_INET6 && is6 && prefix_equal(r->addr, v6, r->bits))
            return 1;
    }
    return 0;
}
