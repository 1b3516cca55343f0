#include "realip.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* What one list element says (see realip.h). */
enum elem { E_ADDR, E_UNKNOWN, E_BAD };

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static int is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A decimal port, 1 to 5 digits and at most 65535. */
static int parse_port(const char *s, size_t n, unsigned *port)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = v;
    return 0;
}

/* Dotted-quad IPv4 in s[0..n), as inet_pton reads it (four decimal parts
 * of at most 255, no leading zeros), without its copy and call: it runs
 * for the peer and each node walked, on every request from a proxy. */
static int parse_ip4(const char *s, size_t n, unsigned char *out)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return -1;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return -1;
        out[part] = (unsigned char)v;
    }
    return i == n ? 0 : -1;
}

/* An address in s[0..n), which is not NUL-terminated; IPv4-mapped IPv6
 * becomes IPv4. */
static int parse_ip(int family, const char *s, size_t n, realip_addr_t *a)
{
    if (family == AF_INET) {
        if (parse_ip4(s, n, a->addr) < 0)
            return -1;
        a->family = AF_INET;
        return 0;
    }
    char buf[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof buf || memchr(s, '\0', n))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(family, buf, a->addr) != 1)
        return -1;
    a->family = family;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(a->addr, mapped, sizeof mapped) == 0) {
        memmove(a->addr, a->addr + 12, 4);
        a->family = AF_INET;
    }
    return 0;
}

/* One node: "unknown", "_obfuscated" (forwarded: Forwarded's, whose port
 * may be obfuscated too), or an address in one of the forms realip.h
 * lists. */
static enum elem parse_node(const char *s, size_t n, int forwarded, realip_addr_t *a)
{
    if (n == 7 && strncasecmp(s, "unknown", 7) == 0)
        return E_UNKNOWN;
    if (forwarded && n > 1 && s[0] == '_')
        return E_UNKNOWN;
    a->port = 0;
    const char *port = NULL;
    size_t plen = 0;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || parse_ip(AF_INET6, s + 1, (size_t)(close - s - 1), a) < 0)
            return E_BAD;
        size_t rest = n - (size_t)(close + 1 - s);
        if (rest > 0) {
            if (close[1] != ':')
                return E_BAD;
            port = close + 2;
            plen = rest - 1;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s))) {
            if (parse_ip(AF_INET6, s, n, a) < 0) /* bare IPv6, no port */
                return E_BAD;
        } else {
            size_t alen = colon ? (size_t)(colon - s) : n;
            if (parse_ip(AF_INET, s, alen, a) < 0)
                return E_BAD;
            if (colon) {
                port = colon + 1;
                plen = n - alen - 1;
            }
        }
    }
    if (port == NULL)
        return E_ADDR;
    if (forwarded && plen > 1 && port[0] == '_') /* obfuscated port */
        return E_ADDR;
    return parse_port(port, plen, &a->port) == 0 ? E_ADDR : E_BAD;
}

static int trusted(const realip_trust_t *t, const realip_addr_t *a)
{
    return cidr_match_bin(t->ranges, t->n, a->family, a->addr);
}

/* The walk, right to left (see realip.h). */
typedef struct walk {
    const realip_trust_t *t;
    int have;           /* last holds the last trusted address walked */
    realip_addr_t last;
    int done;           /* stopped: result holds the answer */
    int result;
} walk_t;

/* The walk meets element e (address a). */
static void step(walk_t *w, enum elem e, const realip_addr_t *a)
{
    if (e == E_BAD) {
        w->done = 1;
        w->result = 0;
    } else if (e == E_UNKNOWN) {
        w->done = 1;
        w->result = w->have;
    } else if (!trusted(w->t, a)) {
        w->done = 1;
        w->result = 1;
        w->last = *a;
    } else {
        w->have = 1;
        w->last = *a;
    }
}

/* X-Forwarded-For: a comma-separated list of nodes, walked from its end. */
static void walk_xff(walk_t *w, const char *v, size_t n)
{
    size_t end = n;
    while (!w->done) {
        size_t start = end;
        while (start > 0 && v[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && is_ows(v[a]))
            a++;
        while (b > a && is_ows(v[b - 1]))
            b--;
        if (b > a) {
            realip_addr_t addr;
            step(w, parse_node(v + a, b - a, 0, &addr), &addr);
        }
        if (start == 0)
            return;
        end = start - 1; /* before the comma */
    }
}

/* Forwarded, read from its end, since its right part is what the trusted
 * proxies wrote and a client's bytes on the left (an unclosed quote, say)
 * must not change how that part reads. A quoted value is taken to the
 * quote before it, so it may not hold a quote or a backslash: no node
 * needs one, and a value with one makes the element bad. */

/* The value ending at v[*pos): sets [*a, *b) (quotes removed) and moves
 * *pos before it. -1 when there is none. */
static int fwd_value_back(const char *v, size_t *pos, size_t *a, size_t *b)
{
    size_t p = *pos;
    if (p > 0 && v[p - 1] == '"') {
        size_t q = p - 1;
        while (q > 0 && v[q - 1] != '"') {
            unsigned char c = (unsigned char)v[q - 1];
            if (c == '\\' || (c < 0x20 && c != '\t') || c == 0x7f)
                return -1;
            q--;
        }
        if (q == 0)
            return -1; /* no opening quote */
        *a = q;
        *b = p - 1;
        *pos = q - 1;
        return 0;
    }
    size_t q = p;
    while (q > 0 && is_tchar((unsigned char)v[q - 1]))
        q--;
    if (q == p)
        return -1;
    *a = q;
    *b = p;
    *pos = q;
    return 0;
}

/* The element ending at v[*pos) (after any OWS and empty elements):
 * 1 with e and *a set and *pos moved before its comma, 0 when none is
 * left, or -1 when it does not parse. An element without for= is
 * E_UNKNOWN. */
static int fwd_element_back(const char *v, size_t *pos, enum elem *e, realip_addr_t *a)
{
    size_t p = *pos;
    while (p > 0 && (is_ows(v[p - 1]) || v[p - 1] == ','))
        p--;
    if (p == 0)
        return 0;
    int seen_for = 0;
    *e = E_UNKNOWN;
    for (;;) { /* pairs, last first */
        while (p > 0 && (is_ows(v[p - 1]) || v[p - 1] == ';'))
            p--;
        if (p == 0 || v[p - 1] == ',')
            break;
        size_t va, vb;
        if (fwd_value_back(v, &p, &va, &vb) < 0 || p == 0 || v[p - 1] != '=')
            return -1;
        size_t name_end = --p;
        while (p > 0 && is_tchar((unsigned char)v[p - 1]))
            p--;
        if (p == name_end)
            return -1;
        if (p > 0 && !is_ows(v[p - 1]) && v[p - 1] != ';' && v[p - 1] != ',')
            return -1;
        if (name_end - p == 3 && strncasecmp(v + p, "for", 3) == 0) {
            if (seen_for++)
                return -1; /* a parameter occurs once per element */
            *e = parse_node(v + va, vb - va, 1, a);
        }
    }
    *pos = p;
    return 1;
}

static void walk_forwarded(walk_t *w, const char *v, size_t n)
{
    size_t pos = n;
    while (!w->done) {
        enum elem e;
        realip_addr_t a;
        int rc = fwd_element_back(v, &pos, &e, &a);
        if (rc == 0)
            return;
        step(w, rc < 0 ? E_BAD : e, &a);
    }
}

int realip_client(enum realip_header kind, const char *head, const hp_header_t *headers, unsigned n,
                  const realip_trust_t *t, realip_addr_t *client)
{
    if (kind == REALIP_NONE)
        return 0;
    const char *name = kind == REALIP_XFF ? "x-forwarded-for" : "forwarded";
    size_t name_len = strlen(name);
    walk_t w = {.t = t};
    for (unsigned i = n; i-- > 0 && !w.done;) { /* the last field first */
        const hp_header_t *h = &headers[i];
        if (h->name.len != name_len || strncasecmp(head + h->name.off, name, name_len) != 0)
            continue;
        if (kind == REALIP_XFF)
            walk_xff(&w, head + h->value.off, h->value.len);
        else
            walk_forwarded(&w, head + h->value.off, h->value.len);
    }
    int found = w.done ? w.result : w.have; /* all trusted: the leftmost */
    if (found)
        *client = w.last;
    return found;
}

int realip_peer_trusted(const realip_trust_t *t, const char *peer)
{
    if (strcmp(peer, "unix") == 0)
        return t->unix_peers;
    realip_addr_t a;
    return t->n > 0 && parse_node(peer, strlen(peer), 0, &a) == E_ADDR && trusted(t, &a);
}

/* Decimal digits of v at p; returns the end. */
static char *put_dec(char *p, unsigned v)
{
    char d[10];
    int n = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = d[--n];
    return p;
}

/* RFC 5952 text: lower-case hex groups without leading zeros, the longest
 * run of two or more zero groups (the first of equals) as "::". */
static char *put_ip6(char *p, const unsigned char *a)
{
    static const char hex[] = "0123456789abcdef";
    unsigned g[8];
    int best = -1, best_len = 1, run = 0;
    for (int i = 0; i < 8; i++) {
        g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        run = g[i] == 0 ? run + 1 : 0;
        if (run > best_len) {
            best_len = run;
            best = i - run + 1;
        }
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len)
            *p++ = ':';
        int started = 0;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned nib = (g[i] >> shift) & 15;
            if (nib || started || shift == 0) {
                *p++ = hex[nib];
                started = 1;
            }
        }
    }
    return p;
}

size_t realip_format(const realip_addr_t *a, char *buf, size_t cap)
{
    /* "[" + 39 + "]:" + 5 + NUL = 48 at most: written in place, as this
     * runs for every request a proxy passes on (snprintf and inet_ntop
     * were a third of such a request's instructions) */
    char tmp[64], *p = tmp;
    if (a->family == AF_INET6) {
        *p++ = '[';
        p = put_ip6(p, a->addr);
        *p++ = ']';
    } else {
        for (int i = 0; i < 4; i++) {
            if (i)
                *p++ = '.';
            p = put_dec(p, a->addr[i]);
        }
    }
    *p++ = ':';
    p = put_dec(p, a->port);
    size_t n = (size_t)(p - tmp);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

int realip_request_id(const char *head, const hp_header_t *headers, unsigned n, size_t *off, size_t *len)
{
    int found = 0;
    for (unsigned i = 0; i < n; i++) {
        const hp_header_t *h = &headers[i];
        if (h->name.len != 12 || strncasecmp(head + h->name.off, "x-request-id", 12) != 0)
            continue;
        if (found++)
            return 0; /* which one would be meant? */
        *off = h->value.off;
        *len = h->value.len;
    }
    if (!found || *len == 0 || *len > REALIP_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < *len; i++) {
        unsigned char c = (unsigned char)head[*off + i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}
