#include "config_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

static char *dup_or_die(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort(); /* configuration is loaded at start-up or reload: OOM is fatal */
    return d;
}

static char *path_in(const char *dir, const char *p)
{
    if (p[0] == '/')
        return dup_or_die(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (r == NULL)
        abort();
    snprintf(r, n, "%s/%s", dir, p);
    return r;
}

static void defaults(cfg_tls_t *t)
{
    t->min_version = TLS1_2_VERSION;
    t->max_version = TLS1_3_VERSION;
    t->handshake_timeout = 10000;
    t->tickets = 1;
    t->prefer_server_ciphers = 1;
    t->http2 = 1;
    t->ticket_rotation = 12 * 3600 * 1000ull;
}

static cfg_cert_t *add_cert(cfg_tls_t *t)
{
    cfg_cert_t *c = realloc(t->certs, (t->ncerts + 1) * sizeof *c);
    if (c == NULL)
        abort();
    t->certs = c;
    memset(&c[t->ncerts], 0, sizeof *c);
    return &c[t->ncerts++];
}

int cfg_tls_section(cfg_tls_t *t, const char *name, int line, char *why, size_t whylen)
{
    if (t->ncerts == 0) { /* the first TLS section of either kind */
        defaults(t);
        add_cert(t)->label = dup_or_die("default");
    }
    if (name == NULL) {
        if (t->line) {
            snprintf(why, whylen, "[tls] is already given on line %d", t->line);
            return -1;
        }
        t->line = line;
        t->certs[0].line = line;
        return 0;
    }
    if (name[0] == '\0' || strcmp(name, "default") == 0) {
        snprintf(why, whylen, "[certificate NAME] needs a name other than \"default\"");
        return -1;
    }
    for (size_t i = 1; i < t->ncerts; i++)
        if (strcmp(t->certs[i].label, name) == 0) {
            snprintf(why, whylen, "[certificate %s] is already given on line %d", name, t->certs[i].line);
            return -1;
        }
    cfg_cert_t *c = add_cert(t);
    c->label = dup_or_die(name);
    c->line = line;
    return (int)(t->ncerts - 1);
}

/* "TLSv1.2 TLSv1.3": the lowest and highest named. */
static int parse_protocols(cfg_tls_t *t, const char *v)
{
    int lo = 0, hi = 0;
    char *copy = dup_or_die(v), *save = NULL;
    for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
        int ver;
        if (strcasecmp(w, "TLSv1.2") == 0)
            ver = TLS1_2_VERSION;
        else if (strcasecmp(w, "TLSv1.3") == 0)
            ver = TLS1_3_VERSION;
        else {
            free(copy);
            return -1;
        }
        if (lo == 0 || ver < lo)
            lo = ver;
        if (ver > hi)
            hi = ver;
    }
    free(copy);
    if (lo == 0)
        return -1;
    t->min_version = lo;
    t->max_version = hi;
    return 0;
}

/* A cipher list may be longer than one line: repeated keys are joined. */
static void join(char **dst, const char *v)
{
    if (*dst == NULL) {
        *dst = dup_or_die(v);
        return;
    }
    size_t n = strlen(*dst) + strlen(v) + 2;
    char *r = malloc(n);
    if (r == NULL)
        abort();
    snprintf(r, n, "%s:%s", *dst, v);
    free(*dst);
    *dst = r;
}

static int set_once(char **dst, const char *v, const char *name, char *why, size_t whylen)
{
    if (*dst) {
        snprintf(why, whylen, "duplicate key \"%s\"", name);
        return -1;
    }
    *dst = dup_or_die(v);
    return 0;
}

static int cert_key(cfg_cert_t *c, const char *dir, const char *name, const char *value, int line, char *why,
                    size_t whylen)
{
    if (strcmp(name, "certificate") == 0) {
        if (c->chain) {
            snprintf(why, whylen, "duplicate key \"certificate\"");
            return -1;
        }
        c->chain = path_in(dir, value);
        c->chain_line = line;
        return 0;
    }
    if (strcmp(name, "key") == 0) {
        if (c->key) {
            snprintf(why, whylen, "duplicate key \"key\"");
            return -1;
        }
        c->key = path_in(dir, value);
        c->key_line = line;
        return 0;
    }
    if (strcmp(name, "hosts") == 0) {
        char *copy = dup_or_die(value), *save = NULL;
        for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
            char **h = realloc(c->hosts, (c->nhosts + 1) * sizeof *h);
            if (h == NULL)
                abort();
            c->hosts = h;
            for (char *p = w; *p; p++) /* host names compare without case */
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            c->hosts[c->nhosts++] = dup_or_die(w);
        }
        free(copy);
        if (c->nhosts == 0) {
            snprintf(why, whylen, "hosts: expected one or more host names");
            return -1;
        }
        return 0;
    }
    return 1; /* not a certificate's key */
}

int cfg_tls_key(cfg_tls_t *t, int cert, const char *dir, const char *name, const char *value, int line,
                char *why, size_t whylen)
{
    int r = cert_key(&t->certs[cert], dir, name, value, line, why, whylen);
    if (r <= 0) {
        if (r == 0 && cert == 0 && strcmp(name, "hosts") == 0) {
            snprintf(why, whylen, "hosts: [tls]'s certificate serves every name; use a [certificate NAME] section");
            return -1;
        }
        return r;
    }
    if (cert != 0) {
        snprintf(why, whylen, "unknown key \"%s\" in [certificate %s] (expected certificate, key or hosts)", name,
                 t->certs[cert].label);
        return -1;
    }
    if (strcmp(name, "protocols") == 0) {
        if (parse_protocols(t, value) < 0) {
            snprintf(why, whylen, "protocols: expected TLSv1.2 and/or TLSv1.3");
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "ciphers") == 0) {
        join(&t->ciphers, value);
        return 0;
    }
    if (strcmp(name, "ciphersuites") == 0) {
        join(&t->ciphersuites, value);
        return 0;
    }
    if (strcmp(name, "groups") == 0)
        return set_once(&t->groups, value, name, why, whylen);
    if (strcmp(name, "prefer_server_ciphers") == 0 || strcmp(name, "session_tickets") == 0 ||
        strcmp(name, "http2") == 0) {
        int *dst = name[0] == 'p' ? &t->prefer_server_ciphers : name[0] == 's' ? &t->tickets : &t->http2;
        if (cfg_parse_bool(value, dst) < 0) {
            snprintf(why, whylen, "%s: expected yes or no", name);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "handshake_timeout") == 0 || strcmp(name, "ticket_rotation") == 0) {
        uint64_t *dst = name[0] == 'h' ? &t->handshake_timeout : &t->ticket_rotation;
        if (cfg_parse_duration(value, dst) < 0 || *dst == 0) {
            snprintf(why, whylen, "%s: expected a duration above 0 (e.g. 10s, 12h)", name);
            return -1;
        }
        if (dst == &t->ticket_rotation && *dst < 60000) {
            snprintf(why, whylen, "ticket_rotation: at least 1m");
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "ticket_key_file") == 0) {
        if (t->ticket_key_file) {
            snprintf(why, whylen, "duplicate key \"%s\"", name);
            return -1;
        }
        t->ticket_key_file = path_in(dir, value);
        return 0;
    }
    if (strcmp(name, "session_cache") == 0) {
        int on;
        if (cfg_parse_bool(value, &on) == 0 && !on) {
            t->session_cache = 0;
            return 0;
        }
        char *end;
        unsigned long n = strtoul(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end || n == 0 || n > 10000000) {
            snprintf(why, whylen, "session_cache: expected off or a number of sessions (1..10000000)");
            return -1;
        }
        t->session_cache = (unsigned)n;
        return 0;
    }
    if (strcmp(name, "hsts") == 0) {
        int on;
        if (cfg_parse_bool(value, &on) == 0) {
            free(t->hsts);
            t->hsts = on ? dup_or_die("max-age=63072000") : NULL;
            return 0;
        }
        if (strncasecmp(value, "max-age=", 8) != 0 || strpbrk(value, "\r\n")) {
            snprintf(why, whylen, "hsts: expected yes, no or a header value starting with max-age=");
            return -1;
        }
        return set_once(&t->hsts, value, name, why, whylen);
    }
    snprintf(why, whylen, "unknown key \"%s\" in [tls]", name);
    return -1;
}

int cfg_tls_finish(const cfg_t *cfg, int *line, char *why, size_t whylen)
{
    const cfg_tls_t *t = &cfg->tls;
    int need = 0;
    for (size_t i = 0; i < cfg->nlistens; i++)
        if (cfg->listens[i].tls) {
            need = cfg->listens[i].line;
            break;
        }
    if (t->ncerts == 0) {
        if (need) {
            *line = need;
            snprintf(why, whylen, "a tls listener needs a [tls] section with certificate and key");
            return -1;
        }
        return 0;
    }
    if (t->line == 0) {
        *line = t->certs[1].line;
        snprintf(why, whylen, "[certificate] sections need a [tls] section (with the default certificate)");
        return -1;
    }
    for (size_t i = 0; i < t->ncerts; i++) {
        const cfg_cert_t *c = &t->certs[i];
        if (c->chain == NULL || c->key == NULL) {
            *line = c->line;
            snprintf(why, whylen, "%s%s%s needs both certificate = and key =", i ? "[certificate " : "[tls",
                     i ? c->label : "", "]");
            return -1;
        }
    }
    return 0;
}

void cfg_tls_free(cfg_tls_t *t)
{
    for (size_t i = 0; i < t->ncerts; i++) {
        cfg_cert_t *c = &t->certs[i];
        free(c->label);
        free(c->chain);
        free(c->key);
        for (size_t j = 0; j < c->nhosts; j++)
            free(c->hosts[j]);
        free(c->hosts);
    }
    free(t->certs);
    free(t->ciphers);
    free(t->ciphersuites);
    free(t->groups);
    free(t->ticket_key_file);
    free(t->hsts);
    memset(t, 0, sizeof *t);
}
