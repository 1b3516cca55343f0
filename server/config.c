#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include <plughttpd/plugin.h>

#include "config_tls.h"
#include "coro.h"
#include "hostname.h"
#include "log.h"
#include "log_format.h"
#include "realip.h"
#include "version.h"

#ifndef PH_PLUGIN_DIR
#define PH_PLUGIN_DIR "/usr/local/lib/plughttpd/plugins"
#endif
/* defer_accept = yes: TCP_DEFER_ACCEPT of 1 s, which the kernel rounds to
 * one SYN-ACK retransmission, so a connection that sends nothing reaches
 * the server about a second late and header_timeout then still bounds it. */
#define DEFER_ACCEPT_SECS 1

/* Parse state shared by the line reader and the inih handler. The reader
 * sees every physical line, so it, not inih, tracks line numbers, section
 * headers (inih reports no empty section) and over-long lines (inih cuts a
 * line at its buffer size and parses the rest as a new line). */
typedef struct load_state {
    FILE *f;
    const char *file;
    int lineno;
    int in_route;        /* current section: 0 = [server], 1 = a route,
                            2 = [tls] or [certificate NAME] */
    int tls_cert;        /* in_route 2: the certificate its keys fill */
    int have_section;
    int error;           /* first error recorded */
    char *err;
    size_t errlen;
    cfg_t *cfg;
    /* which [server] keys were seen, to refuse duplicates */
    char seen[48][32];
    size_t nseen;
} load_state_t;

static void fail(load_state_t *st, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(load_state_t *st, int line, const char *fmt, ...)
{
    if (st->error)
        return;
    st->error = 1;
    int n = snprintf(st->err, st->errlen, "%s:%d: ", st->file, line);
    if (n < 0 || (size_t)n >= st->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort(); /* configuration is loaded at start-up or reload: OOM is fatal */
    return d;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL)
        abort();
    return q;
}

/* An absolute path for p, relative to dir unless already absolute. */
static char *resolve(const char *dir, const char *p)
{
    if (p[0] == '/')
        return xstrdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *r = xrealloc(NULL, n);
    snprintf(r, n, "%s/%s", dir, p);
    return r;
}

/* --- value parsers ---------------------------------------------------- */

int cfg_parse_size(const char *s, size_t *out)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned long long mul = 1;
    switch (tolower((unsigned char)*end)) {
    case '\0': break;
    case 'k': mul = 1ULL << 10; end++; break;
    case 'm': mul = 1ULL << 20; end++; break;
    case 'g': mul = 1ULL << 30; end++; break;
    default: return -1;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v > (unsigned long long)SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int cfg_parse_duration(const char *s, uint64_t *ms)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v > 1000000000ULL)
        return -1;
    if (strcmp(end, "ms") == 0)
        *ms = v;
    else if (*end == '\0' || strcmp(end, "s") == 0)
        *ms = v * 1000;
    else if (strcmp(end, "m") == 0)
        *ms = v * 60000;
    else if (strcmp(end, "h") == 0)
        *ms = v * 3600000;
    else
        return -1;
    return 0;
}

static int parse_port(const char *s, in_port_t *port)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return -1;
    *port = htons((in_port_t)v);
    return 0;
}

int cfg_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (strncmp(s, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        size_t n = strlen(s + 5);
        if (n == 0 || n >= sizeof un->sun_path)
            return -1;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, s + 5, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= INET6_ADDRSTRLEN)
            return -1;
        char host[INET6_ADDRSTRLEN];
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1 || parse_port(close + 2, &in6->sin6_port) < 0)
            return -1;
        *len = sizeof *in6;
        return 0;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    const char *colon = strrchr(s, ':');
    if (colon == NULL) { /* a bare port: every IPv4 address */
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        if (parse_port(s, &in->sin_port) < 0)
            return -1;
        *len = sizeof *in;
        return 0;
    }
    char host[INET_ADDRSTRLEN];
    size_t hl = (size_t)(colon - s);
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (strcmp(host, "*") == 0)
        in->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
        return -1;
    if (parse_port(colon + 1, &in->sin_port) < 0)
        return -1;
    *len = sizeof *in;
    return 0;
}

int cfg_parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcmp(v, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    if (!isdigit((unsigned char)v[0]))
        return -1;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *out = (unsigned)n;
    return 0;
}

/* --- sections ----------------------------------------------------------- */

/* "/a/b/" -> "/a/b"; refuses what could never match a normalised path. */
static char *route_prefix(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || p[0] != '/')
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '#')
            return NULL;
    }
    if (strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
        return NULL;
    while (n > 1 && p[n - 1] == '/')
        n--;
    if ((n >= 2 && strncmp(p + n - 2, "/.", 2) == 0) || (n >= 3 && strncmp(p + n - 3, "/..", 3) == 0))
        return NULL;
    char *r = xrealloc(NULL, n + 1);
    memcpy(r, p, n);
    r[n] = '\0';
    return r;
}

/* "[route /prefix]" or "[route HOST/prefix]": a new route. */
static void route_section(load_state_t *st, char *p)
{
    char host[HOSTNAME_MAX + 1];
    int has_host = p[0] != '/';
    char *slash = strchr(p, '/');
    if (has_host) {
        if (slash == NULL) {
            fail(st, st->lineno, "bad route prefix \"%s\": expected [route /prefix] or [route HOST/prefix]", p);
            return;
        }
        *slash = '\0';
        const char *why;
        int kind = hostname_pattern(p, host, &why);
        *slash = '/';
        if (kind == 0) {
            fail(st, st->lineno, "bad host name in [route %s]: %s", p, why);
            return;
        }
        p = slash;
    }
    char *prefix = route_prefix(p);
    if (prefix == NULL) {
        fail(st, st->lineno, "bad route prefix \"%s\": it must start with '/' and hold no spaces, '%%', '?', '#' or dot segments", p);
        return;
    }
    size_t hlen = has_host ? strlen(host) : 0, plen = strlen(prefix);
    char *label = xrealloc(NULL, hlen + plen + 1);
    memcpy(label, host, hlen);
    memcpy(label + hlen, prefix, plen + 1);
    cfg_t *cfg = st->cfg;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (strcmp(cfg->routes[i].name, label) == 0) {
            fail(st, st->lineno, "route %s is already defined on line %d", label, cfg->routes[i].line);
            free(prefix);
            free(label);
            return;
        }
    }
    cfg->routes = xrealloc(cfg->routes, (cfg->nroutes + 1) * sizeof *cfg->routes);
    cfg_route_t *r = &cfg->routes[cfg->nroutes++];
    memset(r, 0, sizeof *r);
    r->host = has_host ? xstrdup(host) : NULL;
    r->prefix = prefix;
    r->prefix_len = plen;
    r->name = label;
    r->line = st->lineno;
    st->in_route = 1;
}

static void section_header(load_state_t *st, char *line)
{
    char *close = strchr(line, ']');
    if (close == NULL) {
        fail(st, st->lineno, "section header without ']'");
        return;
    }
    *close = '\0';
    char *name = line + 1;
    while (*name == ' ' || *name == '\t')
        name++;
    char *e = name + strlen(name);
    while (e > name && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    st->have_section = 1;
    if (strcmp(name, "server") == 0) {
        st->in_route = 0;
        return;
    }
    if (strncmp(name, "route", 5) == 0 && (name[5] == ' ' || name[5] == '\t')) {
        char *p = name + 6;
        while (*p == ' ' || *p == '\t')
            p++;
        route_section(st, p);
        return;
    }
    if (strcmp(name, "tls") == 0 ||
        (strncmp(name, "certificate", 11) == 0 && (name[11] == ' ' || name[11] == '\t'))) {
        const char *label = NULL;
        if (name[0] == 'c') {
            label = name + 12;
            while (*label == ' ' || *label == '\t')
                label++;
        }
        char why[200];
        int cert = cfg_tls_section(&st->cfg->tls, label, st->lineno, why, sizeof why);
        if (cert < 0) {
            fail(st, st->lineno, "%s", why);
            return;
        }
        st->in_route = 2;
        st->tls_cert = cert;
        return;
    }
    fail(st, st->lineno, "unknown section [%s] (expected [server], [route /prefix], [route HOST/prefix], [tls] or [certificate NAME])",
         name);
}

/* inih's line reader: one physical line per call (see load_state_t). */
static char *read_line(char *str, int num, void *stream)
{
    load_state_t *st = stream;
    if (st->error)
        return NULL; /* stop inih after our own error */
    if (fgets(str, num, st->f) == NULL)
        return NULL;
    st->lineno++;
    size_t n = strlen(str);
    if (n > 0 && str[n - 1] != '\n' && !feof(st->f)) {
        fail(st, st->lineno, "line longer than %d bytes", num - 3);
        return NULL;
    }
    char *p = str;
    if (st->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* inih skips a UTF-8 byte order mark too */
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[') {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", p);
        copy[strcspn(copy, "\r\n")] = '\0';
        section_header(st, copy);
    }
    return str;
}

static int seen_once(load_state_t *st, const char *name)
{
    for (size_t i = 0; i < st->nseen; i++)
        if (strcmp(st->seen[i], name) == 0)
            return 0;
    if (st->nseen < sizeof st->seen / sizeof st->seen[0])
        snprintf(st->seen[st->nseen++], sizeof st->seen[0], "%s", name);
    return 1;
}

/* "owner=" and "group=": a name or a number. */
static int lookup_uid(const char *v, uid_t *out)
{
    unsigned n;
    if (parse_uint(v, 0, 4294967294u, &n) == 0) {
        *out = (uid_t)n;
        return 0;
    }
    struct passwd *pw = getpwnam(v);
    if (pw == NULL)
        return -1;
    *out = pw->pw_uid;
    return 0;
}

static int lookup_gid(const char *v, gid_t *out)
{
    unsigned n;
    if (parse_uint(v, 0, 4294967294u, &n) == 0) {
        *out = (gid_t)n;
        return 0;
    }
    struct group *gr = getgrnam(v);
    if (gr == NULL)
        return -1;
    *out = gr->gr_gid;
    return 0;
}

/* The options after a unix address: "mode=0660 owner=www-data group=proxy". */
static int listen_option(load_state_t *st, cfg_listen_t *l, const char *opt)
{
    int line = st->lineno;
    const char *eq = strchr(opt, '=');
    const char *v = eq ? eq + 1 : "";
    size_t klen = eq ? (size_t)(eq - opt) : strlen(opt);
    if (strcmp(opt, "tls") == 0 || (klen == 14 && strncmp(opt, "https-redirect", 14) == 0)) {
        if (l->addr.ss_family == AF_UNIX) {
            fail(st, line, "listen: \"%s\" is for TCP listeners", opt);
            return -1;
        }
        if (opt[0] == 't') {
            l->tls = 1;
            return 0;
        }
        unsigned port = 443;
        if (eq && parse_uint(v, 1, 65535, &port) < 0) {
            fail(st, line, "listen: https-redirect=%s: expected a port (1..65535)", v);
            return -1;
        }
        l->https_redirect = (int)port;
        return 0;
    }
    if (strcmp(opt, "h2c") == 0) {
        l->h2c = 1;
        return 0;
    }
    if (strcmp(opt, "proxy_protocol") == 0) {
        l->proxy_protocol = 1;
        return 0;
    }
    if (l->addr.ss_family != AF_UNIX) {
        fail(st, line, "listen: \"%s\": options are for unix sockets only", opt);
        return -1;
    }
    if (klen == 4 && strncmp(opt, "mode", 4) == 0) {
        size_t n = strlen(v);
        if (n == 0 || n > 4 || strspn(v, "01234567") != n || strtoul(v, NULL, 8) > 0777) {
            fail(st, line, "listen: mode=%s: expected octal permissions, e.g. mode=0660", v);
            return -1;
        }
        unsigned long m = strtoul(v, NULL, 8);
        l->unix_mode = (int)m;
        return 0;
    }
    if (klen == 5 && strncmp(opt, "owner", 5) == 0) {
        if (lookup_uid(v, &l->unix_uid) < 0) {
            fail(st, line, "listen: owner=%s: no such user", v);
            return -1;
        }
        return 0;
    }
    if (klen == 5 && strncmp(opt, "group", 5) == 0) {
        if (lookup_gid(v, &l->unix_gid) < 0) {
            fail(st, line, "listen: group=%s: no such group", v);
            return -1;
        }
        return 0;
    }
    fail(st, line, "listen: unknown option \"%s\" (expected mode=, owner= or group=)", opt);
    return -1;
}

/* "listen = ADDRESS [mode=OCTAL] [owner=USER] [group=GROUP]". */
static int listen_key(load_state_t *st, const char *value)
{
    cfg_t *cfg = st->cfg;
    int line = st->lineno;
    cfg_listen_t l = {.line = line, .unix_mode = -1, .unix_uid = (uid_t)-1, .unix_gid = (gid_t)-1};
    char *copy = xstrdup(value);
    char *save = NULL;
    char *addr = strtok_r(copy, " \t", &save);
    if (addr == NULL || cfg_parse_listen(addr, &l.addr, &l.addrlen) < 0) {
        fail(st, line, "bad listen address \"%s\" (expected host:port, [v6]:port or unix:/path)", value);
        free(copy);
        return 0;
    }
    for (char *opt; (opt = strtok_r(NULL, " \t", &save)) != NULL;) {
        if (listen_option(st, &l, opt) < 0) {
            free(copy);
            return 0;
        }
    }
    if (l.addr.ss_family == AF_UNIX && ((struct sockaddr_un *)&l.addr)->sun_path[0] != '/') {
        char *abs = resolve(cfg->dir, addr + 5);
        char buf[PATH_MAX + 8];
        snprintf(buf, sizeof buf, "unix:%s", abs);
        free(abs);
        if (cfg_parse_listen(buf, &l.addr, &l.addrlen) < 0) {
            fail(st, line, "unix socket path too long");
            free(copy);
            return 0;
        }
        l.text = xstrdup(buf);
    } else {
        l.text = xstrdup(addr);
    }
    free(copy);
    cfg->listens = xrealloc(cfg->listens, (cfg->nlistens + 1) * sizeof *cfg->listens);
    cfg->listens[cfg->nlistens++] = l;
    return 1;
}

/* server_header = off | TEXT: the Server field each response carries
 * ("plughttpd" unless set). TEXT is sent as written, so it must be a valid
 * field value: printable ASCII and inner spaces, at most 128 bytes. */
static int set_server_header(cfg_t *cfg, load_state_t *st, int line, const char *value)
{
    size_t n = strlen(value);
    int ok = n > 0 && n <= 128 && value[0] != ' ' && value[n - 1] != ' ';
    for (size_t i = 0; ok && i < n; i++)
        ok = value[i] >= 0x20 && value[i] < 0x7f;
    if (!ok) {
        fail(st, line, "server_header must be off or printable text of at most 128 bytes, not \"%s\"", value);
        return 0;
    }
    free(cfg->server_header);
    cfg->server_header = strcmp(value, "off") == 0 ? NULL : xstrdup(value);
    return 1;
}

/* "trusted_proxies = RANGE ...": addresses, ADDRESS/BITS or "unix",
 * separated by blanks or commas. Each line adds to the list, so a list
 * longer than a line (inih reads at most 200 bytes) is written on
 * several. */
static int trusted_key(load_state_t *st, const char *value)
{
    cfg_t *cfg = st->cfg;
    char *copy = xstrdup(value), *save = NULL;
    int any = 0;
    for (char *e = strtok_r(copy, " \t,", &save); e; e = strtok_r(NULL, " \t,", &save)) {
        cidr_t r;
        any = 1;
        if (strcmp(e, "unix") == 0) {
            cfg->trust_unix = 1;
            continue;
        }
        if (cidr_parse(e, &r) < 0) {
            fail(st, st->lineno, "trusted_proxies: \"%s\" is not an address, ADDRESS/BITS or unix", e);
            free(copy);
            return 0;
        }
        cfg->trusted = xrealloc(cfg->trusted, (cfg->ntrusted + 1) * sizeof *cfg->trusted);
        cfg->trusted[cfg->ntrusted++] = r;
    }
    free(copy);
    if (!any)
        fail(st, st->lineno, "trusted_proxies: empty list");
    return any;
}

static int server_key(load_state_t *st, const char *name, const char *value)
{
    cfg_t *cfg = st->cfg;
    int line = st->lineno;
    if (strcmp(name, "listen") == 0)
        return listen_key(st, value);
    if (strcmp(name, "trusted_proxies") == 0) /* may repeat: a long list */
        return trusted_key(st, value);
    if (!seen_once(st, name)) {
        fail(st, line, "duplicate key \"%s\"", name);
        return 0;
    }
    if (strcmp(name, "threads") == 0) {
        if (strcmp(value, "auto") == 0) {
            long n = sysconf(_SC_NPROCESSORS_ONLN);
            cfg->threads = n > 0 ? (unsigned)n : 1;
        } else if (parse_uint(value, 1, 1024, &cfg->threads) < 0) {
            fail(st, line, "threads must be auto or 1..1024");
            return 0;
        }
        return 1;
    }
    struct { const char *name; unsigned *dst; unsigned min, max; } uints[] = {
        {"processes", &cfg->processes, 0, 256},
        {"max_connections", &cfg->max_connections, 1, 10000000},
        {"max_keepalive_requests", &cfg->max_keepalive_requests, 0, 4000000000u},
        {"blocking_threads", &cfg->blocking_threads, 1, 1024},
        {"blocking_queue", &cfg->blocking_queue, 1, 1000000},
        {"http2_max_streams", &cfg->http2_max_streams, 1, 1000},
        {"max_connections_per_address", &cfg->max_connections_per_address, 0, 10000000},
        {"crash_limit", &cfg->crash_limit, 0, 1000},
    };
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        if (strcmp(name, uints[i].name) == 0) {
            if (parse_uint(value, uints[i].min, uints[i].max, uints[i].dst) < 0) {
                fail(st, line, "%s must be a number from %u to %u", name, uints[i].min, uints[i].max);
                return 0;
            }
            return 1;
        }
    }
    struct { const char *name; uint64_t *dst; } durations[] = {
        {"header_timeout", &cfg->header_timeout}, {"body_timeout", &cfg->body_timeout},
        {"keepalive_timeout", &cfg->keepalive_timeout}, {"send_timeout", &cfg->send_timeout},
        {"shutdown_timeout", &cfg->shutdown_timeout}, {"handler_timeout", &cfg->handler_timeout},
        {"body_rate_grace", &cfg->body_rate_grace}, {"crash_window", &cfg->crash_window},
        {"worker_stall_timeout", &cfg->worker_stall_timeout},
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        if (strcmp(name, durations[i].name) == 0) {
            if (cfg_parse_duration(value, durations[i].dst) < 0) {
                fail(st, line, "%s: bad duration \"%s\" (e.g. 30s, 500ms, 2m)", name, value);
                return 0;
            }
            /* a rate judged over less than a second says nothing about
             * the client: its first bytes may still be in flight */
            if (durations[i].dst == &cfg->body_rate_grace && cfg->body_rate_grace < 1000) {
                fail(st, line, "body_rate_grace must be at least 1s");
                return 0;
            }
            /* a loop's heartbeat moves every PH_LAG_INTERVAL_MS, seen on
             * the next 200 ms tick: less than a second would kill a
             * worker that is merely busy for a moment */
            if (durations[i].dst == &cfg->worker_stall_timeout && cfg->worker_stall_timeout != 0 &&
                cfg->worker_stall_timeout < 1000) {
                fail(st, line, "worker_stall_timeout must be 0 (off) or at least 1s");
                return 0;
            }
            return 1;
        }
    }
    struct { const char *name; size_t *dst; size_t min, max; } sizes[] = {
        {"max_header_bytes", &cfg->max_header_bytes, 256, SIZE_MAX},
        {"max_uri_bytes", &cfg->max_uri_bytes, 16, SIZE_MAX},
        {"max_body_bytes", &cfg->max_body_bytes, 0, SIZE_MAX},
        {"send_buffer", &cfg->send_buffer, 0, 1u << 30}, /* SO_SNDBUF takes an int */
        {"body_min_rate", &cfg->body_min_rate, 0, 1u << 30},
        {"http2_window", &cfg->http2_window, 16384, 0x7fffffff}, /* RFC 9113 6.9.2 */
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (strcmp(name, sizes[i].name) == 0) {
            if (cfg_parse_size(value, sizes[i].dst) < 0 || *sizes[i].dst < sizes[i].min ||
                *sizes[i].dst > sizes[i].max) {
                fail(st, line, "%s: bad size \"%s\" (e.g. 8k, 1m; at least %zu, at most %zu)", name, value,
                     sizes[i].min, sizes[i].max);
                return 0;
            }
            return 1;
        }
    }
    struct { const char *name; char **dst; int path; int *line; } strs[] = {
        {"plugin_dir", &cfg->plugin_dir, 1, NULL}, {"access_log", &cfg->access_log, 1, &cfg->access_log_line},
        {"error_log", &cfg->error_log, 1, &cfg->error_log_line}, {"pid_file", &cfg->pid_file, 1, &cfg->pid_file_line},
        {"user", &cfg->user, 0, &cfg->user_line}, {"group", &cfg->group, 0, &cfg->group_line},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strcmp(name, strs[i].name) == 0) {
            if (*value == '\0') {
                fail(st, line, "%s must not be empty", name);
                return 0;
            }
            free(*strs[i].dst);
            if (strs[i].line)
                *strs[i].line = line;
            if (strs[i].path && strcmp(value, "-") != 0 && strcmp(value, "off") != 0 &&
                !(strs[i].dst == &cfg->error_log && log_is_syslog(value)))
                *strs[i].dst = resolve(cfg->dir, value);
            else
                *strs[i].dst = xstrdup(value);
            return 1;
        }
    }
    if (strcmp(name, "server_header") == 0)
        return set_server_header(cfg, st, line, value);
    if (strcmp(name, "access_log_format") == 0) {
        char why[160];
        log_format_t *f = log_format_compile(value, why, sizeof why);
        if (f == NULL) {
            fail(st, line, "%s", why);
            return 0;
        }
        log_format_free(cfg->log_format);
        cfg->log_format = f;
        return 1;
    }
    if (strcmp(name, "real_ip_header") == 0) {
        static const char *const kinds[] = {"none", "x-forwarded-for", "forwarded"};
        static const int values[] = {REALIP_NONE, REALIP_XFF, REALIP_FORWARDED};
        for (int i = 0; i < 3; i++) {
            if (strcasecmp(value, kinds[i]) == 0) {
                cfg->real_ip_header = values[i];
                return 1;
            }
        }
        fail(st, line, "real_ip_header must be x-forwarded-for, forwarded or none");
        return 0;
    }
    if (strcmp(name, "send_request_id") == 0) {
        if (cfg_parse_bool(value, &cfg->send_request_id) < 0) {
            fail(st, line, "send_request_id must be yes or no");
            return 0;
        }
        return 1;
    }
    if (strcmp(name, "defer_accept") == 0) {
        int on;
        if (cfg_parse_bool(value, &on) < 0) {
            fail(st, line, "defer_accept must be yes or no");
            return 0;
        }
        cfg->defer_accept = on ? DEFER_ACCEPT_SECS : 0;
        return 1;
    }
    if (strcmp(name, "unknown_host") == 0) {
        if (strcmp(value, "default") == 0 || strcmp(value, "404") == 0 || strcmp(value, "421") == 0) {
            cfg->unknown_host = value[0] == 'd' ? 0 : atoi(value);
            return 1;
        }
        fail(st, line, "unknown_host must be default, 404 or 421, not \"%s\"", value);
        return 0;
    }
    if (strcmp(name, "log_level") == 0) {
        static const char *const levels[] = {"error", "warn", "info", "debug"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(value, levels[i]) == 0) {
                cfg->log_level = i;
                return 1;
            }
        }
        fail(st, line, "log_level must be error, warn, info or debug");
        return 0;
    }
    fail(st, line, "unknown key \"%s\" in [server]", name);
    return 0;
}

/* The route's own sizes: "max_body_bytes" (the route's limit instead of
 * [server]'s) and "body_spill" (buffered bodies above it go to a
 * temporary file; 0: never). */
static int route_size_key(load_state_t *st, cfg_route_t *r, const char *name, const char *value)
{
    int spill = strcmp(name, "body_spill") == 0;
    int *seen = spill ? &r->body_spill_line : &r->max_body_line;
    if (*seen) {
        fail(st, st->lineno, "duplicate key \"%s\" in [route %s] (first on line %d)", name, r->name, *seen);
        return 0;
    }
    size_t v;
    if (cfg_parse_size(value, &v) < 0) {
        fail(st, st->lineno, "%s: bad size \"%s\" (e.g. 8k, 1m; 0 %s)", name, value,
             spill ? "keeps every body in memory" : "refuses any body");
        return 0;
    }
    *(spill ? &r->body_spill : &r->max_body_bytes) = v;
    *seen = st->lineno;
    return 1;
}

static int route_key(load_state_t *st, const char *name, const char *value)
{
    cfg_route_t *r = &st->cfg->routes[st->cfg->nroutes - 1];
    int line = st->lineno;
    if (strcmp(name, "plugin") == 0) {
        if (r->plugin) {
            fail(st, line, "duplicate key \"plugin\" in [route %s]", r->name);
            return 0;
        }
        if (*value == '\0') {
            fail(st, line, "plugin must name a plugin");
            return 0;
        }
        r->plugin = xstrdup(value);
        r->plugin_line = line;
        return 1;
    }
    if (strcmp(name, "blocking") == 0) {
        if (cfg_parse_bool(value, &r->blocking) < 0) {
            fail(st, line, "blocking must be yes or no");
            return 0;
        }
        return 1;
    }
    if (strcmp(name, "coroutine") == 0) {
        if (cfg_parse_bool(value, &r->coroutine) < 0) {
            fail(st, line, "coroutine must be yes or no");
            return 0;
        }
        return 1;
    }
    if (strcmp(name, "coroutine_stack") == 0) {
        size_t v;
        if (cfg_parse_size(value, &v) < 0 || v < CORO_STACK_MIN || v > CORO_STACK_MAX) {
            fail(st, line, "coroutine_stack: bad size \"%s\" (%uk to %um, e.g. 64k)", value, CORO_STACK_MIN / 1024,
                 CORO_STACK_MAX / (1024 * 1024));
            return 0;
        }
        r->coroutine_stack = v;
        return 1;
    }
    if (strcmp(name, "max_body_bytes") == 0 || strcmp(name, "body_spill") == 0)
        return route_size_key(st, r, name, value);
    r->keys = xrealloc(r->keys, (r->nkeys + 1) * sizeof *r->keys);
    r->keys[r->nkeys].key = xstrdup(name);
    r->keys[r->nkeys].value = xstrdup(value);
    r->keys[r->nkeys].line = line;
    r->nkeys++;
    return 1;
}

/* inih handler: returns nonzero on success (inih's convention). */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    load_state_t *st = user;
    (void)section; /* the reader tracks sections, empty ones included */
    if (st->error)
        return 0;
    if (!st->have_section) {
        fail(st, st->lineno, "key \"%s\" outside any section", name);
        return 0;
    }
    if (st->in_route == 2) {
        char why[200];
        if (cfg_tls_key(&st->cfg->tls, st->tls_cert, st->cfg->dir, name, value, st->lineno, why, sizeof why) < 0) {
            fail(st, st->lineno, "%s", why);
            return 0;
        }
        return 1;
    }
    return st->in_route ? route_key(st, name, value) : server_key(st, name, value);
}

static void set_defaults(cfg_t *cfg)
{
    cfg->threads = 1;
    cfg->processes = 1;
    cfg->blocking_threads = 16;
    cfg->blocking_queue = 1024;
    cfg->log_level = PH_LOG_INFO;
    cfg->header_timeout = 60000;
    cfg->body_timeout = 60000;
    cfg->keepalive_timeout = 75000;
    cfg->http2_max_streams = 100;
    cfg->http2_window = 256 * 1024;
    cfg->send_timeout = 60000;
    cfg->shutdown_timeout = 30000;
    cfg->crash_limit = 3;
    cfg->crash_window = 60000;
    cfg->worker_stall_timeout = 30000;
    cfg->handler_timeout = 60000;
    cfg->body_min_rate = 500;
    cfg->body_rate_grace = 10000;
    cfg->max_header_bytes = 32 * 1024;
    cfg->max_uri_bytes = 8 * 1024;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->max_connections = 16384;
    cfg->max_keepalive_requests = 10000;
    cfg->defer_accept = DEFER_ACCEPT_SECS;
    cfg->server_header = xstrdup(PH_SERVER_NAME);
    cfg->real_ip_header = REALIP_XFF;
}

int cfg_run_ids(const cfg_t *cfg, uid_t *uid, gid_t *gid, const char **unknown)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (cfg->group) {
        struct group *gr = getgrnam(cfg->group);
        if (gr == NULL) {
            *unknown = "group";
            return -1;
        }
        *gid = gr->gr_gid;
    }
    if (cfg->user) {
        struct passwd *pw = getpwnam(cfg->user);
        if (pw == NULL) {
            *unknown = "user";
            return -1;
        }
        *uid = pw->pw_uid;
        if (*gid == (gid_t)-1)
            *gid = pw->pw_gid;
    }
    return 0;
}

/* A unix socket without owner= or group= goes to the user and group the
 * server runs as after dropping privileges (user =, group =). An unknown
 * name leaves them unset here: the start-up refuses it. */
static void unix_defaults(cfg_t *cfg)
{
    uid_t uid;
    gid_t gid;
    const char *unknown;
    if (cfg_run_ids(cfg, &uid, &gid, &unknown) < 0) {
        uid = (uid_t)-1;
        gid = (gid_t)-1;
    }
    for (size_t i = 0; i < cfg->nlistens; i++) {
        cfg_listen_t *l = &cfg->listens[i];
        if (l->addr.ss_family != AF_UNIX)
            continue;
        if (l->unix_uid == (uid_t)-1)
            l->unix_uid = uid;
        if (l->unix_gid == (gid_t)-1)
            l->unix_gid = gid;
    }
}

/* --- a route's plugin list ---------------------------------------------- */

/* A plugin's file: a path (holding a '/') relative to the configuration's
 * folder, or a name in plugin_dir. */
static char *plugin_file(const cfg_t *cfg, const char *item)
{
    if (strchr(item, '/'))
        return resolve(cfg->dir, item);
    size_t n = strlen(cfg->plugin_dir) + strlen(item) + 5;
    char *path = xrealloc(NULL, n);
    snprintf(path, n, "%s/%s.so", cfg->plugin_dir, item);
    return path;
}

/* The name an item goes by in "name.key" keys: its file name without
 * ".so". */
static char *stage_name(const char *item)
{
    const char *base = strrchr(item, '/');
    base = base ? base + 1 : item;
    size_t n = strlen(base);
    if (n >= 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    char *name = xrealloc(NULL, n + 1);
    memcpy(name, base, n);
    name[n] = '\0';
    return name;
}

static int add_stage(load_state_t *st, cfg_route_t *r, const char *item)
{
    char *name = stage_name(item);
    if (name[0] == '\0') {
        fail(st, r->plugin_line, "[route %s] plugin: \"%s\" names no file", r->name, item);
        free(name);
        return -1;
    }
    for (size_t i = 0; i < r->nstages; i++) {
        if (strcmp(r->stages[i].name, name) == 0) {
            fail(st, r->plugin_line, "[route %s] plugin: %s is listed twice (\"%s\" and \"%s\"); a route runs "
                 "each plugin once", r->name, name, r->stages[i].plugin, item);
            free(name);
            return -1;
        }
    }
    r->stages = xrealloc(r->stages, (r->nstages + 1) * sizeof *r->stages);
    cfg_stage_t *s = &r->stages[r->nstages++];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->plugin = xstrdup(item);
    s->path = plugin_file(st->cfg, item);
    return 0;
}

/* "plugin = a, b, c": one stage per item, spaces around items ignored. A
 * value without a comma is one item exactly as written, as it always was. */
static int split_plugins(load_state_t *st, cfg_route_t *r)
{
    if (strchr(r->plugin, ',') == NULL)
        return add_stage(st, r, r->plugin);
    char *copy = xstrdup(r->plugin);
    int rc = 0;
    for (char *item = copy, *next; rc == 0 && item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        while (*item == ' ' || *item == '\t')
            item++;
        char *e = item + strlen(item);
        while (e > item && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*item == '\0') {
            fail(st, r->plugin_line, "[route %s] plugin: empty item in \"%s\" (expected plugin names or paths "
                 "separated by commas)", r->name, r->plugin);
            rc = -1;
        } else {
            rc = add_stage(st, r, item);
        }
    }
    free(copy);
    return rc;
}

/* The stage whose "name." starts key, the longest name winning (a name
 * may hold dots); NULL when none does. */
static cfg_stage_t *key_stage(cfg_route_t *r, const char *key)
{
    cfg_stage_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < r->nstages; i++) {
        size_t n = strlen(r->stages[i].name);
        if (n > best_len && strncmp(key, r->stages[i].name, n) == 0 && key[n] == '.') {
            best = &r->stages[i];
            best_len = n;
        }
    }
    return best;
}

/* assign_keys() stopped at key i: keys i.. are still r's (and cfg_free's),
 * after the kept ones. Returns -1. */
static int keys_left(cfg_route_t *r, size_t kept, size_t i)
{
    memmove(&r->keys[kept], &r->keys[i], (r->nkeys - i) * sizeof *r->keys);
    r->nkeys = kept + (r->nkeys - i);
    return -1;
}

/* Moves each "name.key" key to the stage so named, without "name.".
 * Bare keys stay in r->keys. In a stack a dotted key must name a listed
 * plugin; with one plugin it stays bare, as before stacks existed. */
static int assign_keys(load_state_t *st, cfg_route_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->nkeys; i++) {
        cfg_kv_t kv = r->keys[i];
        cfg_stage_t *s = key_stage(r, kv.key);
        const char *dot = strchr(kv.key, '.');
        if (s == NULL && dot && r->nstages > 1) {
            fail(st, kv.line, "[route %s] key \"%s\": no plugin named \"%.*s\" in this route's list \"%s\"",
                 r->name, kv.key, (int)(dot - kv.key), kv.key, r->plugin);
            return keys_left(r, kept, i);
        }
        if (s == NULL) {
            r->keys[kept++] = kv;
            continue;
        }
        size_t skip = strlen(s->name) + 1;
        if (kv.key[skip] == '\0') {
            fail(st, kv.line, "[route %s] key \"%s\": no key name after \"%s.\"", r->name, kv.key, s->name);
            return keys_left(r, kept, i);
        }
        char *key = xstrdup(kv.key + skip);
        free(kv.key);
        kv.key = key;
        s->keys = xrealloc(s->keys, (s->nkeys + 1) * sizeof *s->keys);
        s->keys[s->nkeys++] = kv;
    }
    r->nkeys = kept;
    return 0;
}

static int finish(load_state_t *st)
{
    cfg_t *cfg = st->cfg;
    if (cfg->nlistens == 0) {
        fail(st, st->lineno, "no listen address in [server]");
        return -1;
    }
    char why[200];
    int tls_line;
    if (cfg_tls_finish(cfg, &tls_line, why, sizeof why) < 0) {
        fail(st, tls_line, "%s", why);
        return -1;
    }
    if (cfg->plugin_dir == NULL)
        cfg->plugin_dir = xstrdup(PH_PLUGIN_DIR);
    if (cfg->access_log == NULL)
        cfg->access_log = xstrdup("-");
    if (cfg->error_log == NULL)
        cfg->error_log = xstrdup("-");
    if (cfg->max_uri_bytes > cfg->max_header_bytes)
        cfg->max_uri_bytes = cfg->max_header_bytes;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        cfg_route_t *r = &cfg->routes[i];
        if (r->plugin == NULL) {
            fail(st, r->line, "[route %s] has no plugin key", r->name);
            return -1;
        }
        if (split_plugins(st, r) < 0 || assign_keys(st, r) < 0)
            return -1;
        r->plugin_path = xstrdup(r->stages[0].path);
    }
    unix_defaults(cfg);
    for (size_t i = 0; i < cfg->nlistens; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->listens[i].text, cfg->listens[j].text) == 0) {
                fail(st, cfg->listens[i].line, "listen %s is already given on line %d", cfg->listens[i].text,
                     cfg->listens[j].line);
                return -1;
            }
    return 0;
}

int cfg_load(const char *path, cfg_t **out, char *err, size_t errlen)
{
    cfg_t *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    set_defaults(cfg);
    cfg->path = xstrdup(path);
    char *abs = realpath(path, NULL);
    if (abs == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        cfg_free(cfg);
        return -1;
    }
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = '\0';
    else
        *slash = '\0';
    cfg->dir = abs;

    load_state_t st = {.file = path, .err = err, .errlen = errlen, .cfg = cfg};
    st.f = fopen(path, "r");
    if (st.f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        cfg_free(cfg);
        return -1;
    }
    /* Continuation lines would silently glue an indented key onto the value
     * above it; server.ini has no multi-line values. */
    ini_allow_multiline = false;
    ini_stop_on_first_error = true;
    int rc = ini_parse_stream(read_line, &st, on_key, &st);
    fclose(st.f);
    if (rc != 0 && !st.error) /* inih's own syntax error; rc is its line */
        fail(&st, rc > 0 ? rc : st.lineno, "syntax error (expected key = value or [section])");
    if (!st.error)
        finish(&st);
    if (st.error) {
        cfg_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

void cfg_free(cfg_t *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->nlistens; i++)
        free(cfg->listens[i].text);
    free(cfg->listens);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        cfg_route_t *r = &cfg->routes[i];
        free(r->prefix);
        free(r->host);
        free(r->name);
        free(r->plugin);
        free(r->plugin_path);
        for (size_t k = 0; k < r->nkeys; k++) {
            free(r->keys[k].key);
            free(r->keys[k].value);
        }
        free(r->keys);
        for (size_t j = 0; j < r->nstages; j++) {
            cfg_stage_t *s = &r->stages[j];
            for (size_t k = 0; k < s->nkeys; k++) {
                free(s->keys[k].key);
                free(s->keys[k].value);
            }
            free(s->keys);
            free(s->name);
            free(s->plugin);
            free(s->path);
        }
        free(r->stages);
    }
    free(cfg->routes);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->plugin_dir);
    free(cfg->access_log);
    free(cfg->server_header);
    free(cfg->trusted);
    log_format_free(cfg->log_format);
    free(cfg->error_log);
    free(cfg->user);
    free(cfg->group);
    free(cfg->pid_file);
    cfg_tls_free(&cfg->tls);
    free(cfg);
}
