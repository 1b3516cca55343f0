#include "proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Version 1: "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n", at most 107 bytes. */
#define V1_MAX 107
static const unsigned char v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A decimal port 0-65535 without sign or leading zeros, from s[0..n). */
static int parse_port(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* One address of family af from s[0..n) with port, into ss. */
static int v1_addr(int af, const char *s, size_t n, uint16_t port, struct sockaddr_storage *ss)
{
    char text[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof text)
        return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    memset(ss, 0, sizeof *ss);
    if (af == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return inet_pton(AF_INET, text, &in->sin_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -1;
}

static int parse_v1(const unsigned char *buf, size_t len, pp_result_t *out)
{
    const unsigned char *end = memchr(buf, '\n', len < V1_MAX ? len : V1_MAX);
    if (end == NULL)
        return len >= V1_MAX ? -1 : 0;
    size_t total = (size_t)(end - buf) + 1;
    if (total < 8 || buf[total - 2] != '\r')
        return -1;
    /* the words between "PROXY " and "\r\n", split on single spaces */
    const char *p = (const char *)buf + 6, *stop = (const char *)buf + total - 2;
    const char *w[5];
    size_t wl[5], nw = 0;
    while (p < stop && nw < 5) {
        const char *sp = memchr(p, ' ', (size_t)(stop - p));
        const char *e = sp ? sp : stop;
        w[nw] = p;
        wl[nw++] = (size_t)(e - p);
        p = sp ? sp + 1 : stop;
    }
    memset(out, 0, sizeof *out);
    if (nw >= 1 && wl[0] == 7 && memcmp(w[0], "UNKNOWN", 7) == 0)
        return (int)total; /* the rest of the line is to be ignored */
    if (p != stop || nw != 5 || wl[0] != 4 || memcmp(w[0], "TCP", 3) != 0 || (w[0][3] != '4' && w[0][3] != '6'))
        return -1;
    int af = w[0][3] == '4' ? AF_INET : AF_INET6;
    uint16_t sport, dport;
    if (parse_port(w[3], wl[3], &sport) < 0 || parse_port(w[4], wl[4], &dport) < 0 ||
        v1_addr(af, w[1], wl[1], sport, &out->src) < 0 || v1_addr(af, w[2], wl[2], dport, &out->dst) < 0)
        return -1;
    out->known = 1;
    out->len = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    return (int)total;
}

static int parse_v2(const unsigned char *buf, size_t len, pp_result_t *out)
{
    if (len < 16)
        return 0;
    unsigned ver = buf[12] >> 4, cmd = buf[12] & 0x0f;
    size_t total = 16 + ((size_t)buf[14] << 8 | buf[15]);
    if (ver != 2 || cmd > 1 || total > PP_MAX_HEADER)
        return -1;
    if (len < total)
        return 0;
    memset(out, 0, sizeof *out);
    if (cmd == 0) /* LOCAL: the proxy's own connection (a health check) */
        return (int)total;
    const unsigned char *a = buf + 16;
    if (buf[13] == 0x11) { /* TCP over IPv4 */
        if (total - 16 < 12)
            return -1;
        struct sockaddr_in *s = (struct sockaddr_in *)&out->src, *d = (struct sockaddr_in *)&out->dst;
        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&d->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, a + 8, 2);
        memcpy(&d->sin_port, a + 10, 2);
        out->len = sizeof(struct sockaddr_in);
        out->known = 1;
    } else if (buf[13] == 0x21) { /* TCP over IPv6 */
        if (total - 16 < 36)
            return -1;
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src, *d = (struct sockaddr_in6 *)&out->dst;
        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&d->sin6_addr, a + 16, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        memcpy(&d->sin6_port, a + 34, 2);
        out->len = sizeof(struct sockaddr_in6);
        out->known = 1;
    }
    /* UNSPEC, UDP and unix: the connection's own addresses stand */
    return (int)total;
}

int pp_parse(const unsigned char *buf, size_t len, pp_result_t *out)
{
    /* enough bytes to tell which version, or that it is neither */
    size_t cmp = len < sizeof v2_sig ? len : sizeof v2_sig;
    if (memcmp(buf, v2_sig, cmp) == 0)
        return len < sizeof v2_sig ? 0 : parse_v2(buf, len, out);
    cmp = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", cmp) == 0)
        return len < 6 ? 0 : parse_v1(buf, len, out);
    return -1;
}
