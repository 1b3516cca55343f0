#include "cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int cidr_parse(const char *s, cidr_t *out)
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
    /* "::ffff:203.0.113.0/120" is that IPv4 range: an IPv4-mapped address
     * is matched as IPv4, and would never meet an IPv6 range */
    if (out->family == AF_INET6 && out->bits >= 96 && memcmp(out->addr, mapped, sizeof mapped) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->bits -= 96;
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

int cidr_match_bin(const cidr_t *ranges, size_t n, int family, const unsigned char *addr)
{
    if (family == AF_INET6 && memcmp(addr, mapped, sizeof mapped) == 0) {
        family = AF_INET;
        addr += 12;
    }
    if (family != AF_INET && family != AF_INET6)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ranges[i].family == family && prefix_equal(ranges[i].addr, addr, ranges[i].bits))
            return 1;
    return 0;
}

int cidr_match(const cidr_t *ranges, size_t n, const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        return cidr_match_bin(ranges, n, AF_INET, a);
    if (inet_pton(AF_INET6, ip, a) == 1)
        return cidr_match_bin(ranges, n, AF_INET6, a);
    return 0;
}
