#include "proxy_conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static int refuse(ph_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return PH_ERROR;
}

static void hint(ph_error_t *err, const char *text)
{
    if (err->size >= offsetof(ph_error_t, hint) + sizeof err->hint)
        snprintf(err->hint, sizeof err->hint, "%s", text);
}

/* "upstream = a b c": each address checked; the key may repeat. */
static int add_upstreams(proxy_conf_t *c, const char *value, ph_error_t *err)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return refuse(err, "out of memory");
    int rc = PH_OK, any = 0;
    for (char *a = strtok_r(copy, " \t,", &save); a && rc == PH_OK; a = strtok_r(NULL, " \t,", &save)) {
        char why[128];
        any = 1;
        if (proxy_upstream_check(a, why, sizeof why) < 0)
            rc = refuse(err, "upstream \"%s\": %s", a, why);
        else if (proxy_upstreams_add(&c->ups, a) < 0)
            rc = refuse(err, "upstream \"%s\": more than %d upstreams, or out of memory", a,
                        PROXY_UPSTREAMS_MAX);
    }
    if (rc == PH_OK && !any)
        rc = refuse(err, "upstream is empty");
    free(copy);
    return rc;
}

static int add_trusted(proxy_conf_t *c, const ph_server_api_t *api, const char *value, ph_error_t *err)
{
    char why[160];
    if (!c->trusted && !(c->trusted = api->cidr_new()))
        return refuse(err, "out of memory");
    if (api->cidr_add(c->trusted, value, why, sizeof why) != PH_OK)
        return refuse(err, "trusted_proxies: %s", why);
    return PH_OK;
}

static int duration(const ph_server_api_t *api, const char *key, const char *s, int64_t *out, int zero_ok,
                    ph_error_t *err)
{
    uint64_t ms;
    if (api->parse_duration(s, &ms) != PH_OK || ms > (uint64_t)INT32_MAX * 1000u || (!zero_ok && ms == 0))
        return refuse(err, "%s must be a duration%s (250ms, 5s, 2m), not \"%s\"", key,
                      zero_ok ? "" : " above 0", s);
    *out = (int64_t)ms;
    return PH_OK;
}

static int count(const char *key, const char *s, unsigned max, unsigned *out, ph_error_t *err)
{
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || n > max)
        return refuse(err, "%s must be a number from 0 to %u, not \"%s\"", key, max, s);
    *out = (unsigned)n;
    return PH_OK;
}

static int flag(const ph_server_api_t *api, const char *key, const char *s, int *out, ph_error_t *err)
{
    if (api->parse_bool(s, out) != PH_OK)
        return refuse(err, "%s must be yes or no, not \"%s\"", key, s);
    return PH_OK;
}

static int text(const char *key, const char *s, char **out, ph_error_t *err)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p == 0x7f)
            return refuse(err, "%s must not hold spaces or control characters", key);
    if (*s == '\0')
        return refuse(err, "%s is empty", key);
    free(*out);
    *out = strdup(s);
    return *out ? PH_OK : refuse(err, "out of memory");
}

static int one_key(proxy_conf_t *c, const ph_server_api_t *api, const ph_kv_t *kv, ph_error_t *err)
{
    const char *k = kv->key, *v = kv->value;
    if (strcmp(k, "upstream") == 0)
        return add_upstreams(c, v, err);
    if (strcmp(k, "balance") == 0) {
        if (strcmp(v, "round-robin") == 0)
            c->ups.balance = PROXY_ROUND_ROBIN;
        else if (strcmp(v, "least-conn") == 0)
            c->ups.balance = PROXY_LEAST_CONN;
        else if (strcmp(v, "hash") == 0)
            c->ups.balance = PROXY_HASH;
        else
            return refuse(err, "balance must be round-robin, least-conn or hash, not \"%s\"", v);
        return PH_OK;
    }
    if (strcmp(k, "connect_timeout") == 0)
        return duration(api, k, v, &c->connect_ms, 0, err);
    if (strcmp(k, "read_timeout") == 0)
        return duration(api, k, v, &c->read_ms, 0, err);
    if (strcmp(k, "send_timeout") == 0)
        return duration(api, k, v, &c->send_ms, 0, err);
    if (strcmp(k, "fail_timeout") == 0)
        return duration(api, k, v, &c->ups.fail_timeout_ms, 0, err);
    if (strcmp(k, "health_interval") == 0)
        return duration(api, k, v, &c->health_ms, 0, err);
    if (strcmp(k, "tunnel_timeout") == 0)
        return duration(api, k, v, &c->tunnel_ms, 0, err);
    if (strcmp(k, "keepalive_timeout") == 0)
        return duration(api, k, v, &c->keepalive_ms, 0, err);
    if (strcmp(k, "max_fails") == 0)
        return count(k, v, 1000, &c->ups.max_fails, err);
    if (strcmp(k, "keepalive") == 0)
        return count(k, v, 1024, &c->keepalive, err);
    if (strcmp(k, "retries") == 0)
        return count(k, v, PROXY_UPSTREAMS_MAX - 1, &c->retries, err);
    if (strcmp(k, "health_check") == 0) {
        if (v[0] != '/')
            return refuse(err, "health_check must be a path starting with /, not \"%s\"", v);
        return text(k, v, &c->health_path, err);
    }
    if (strcmp(k, "host") == 0) {
        if (strcmp(v, "pass") == 0) {
            free(c->host);
            c->host = NULL;
            return PH_OK;
        }
        return text(k, v, &c->host, err);
    }
    if (strcmp(k, "trusted_proxies") == 0)
        return add_trusted(c, api, v, err);
    if (strcmp(k, "websocket") == 0)
        return flag(api, k, v, &c->websocket, err);
    if (strcmp(k, "via") == 0)
        return flag(api, k, v, &c->via, err);
    hint(err, "keys: upstream, balance, connect_timeout, read_timeout, send_timeout, fail_timeout, max_fails, "
              "health_check, health_interval, keepalive, keepalive_timeout, retries, host, trusted_proxies, "
              "websocket, tunnel_timeout, via");
    return refuse(err, "unknown key \"%s\"", k);
}

int proxy_conf_load(proxy_conf_t *c, const ph_create_args_t *args, ph_error_t *err)
{
    memset(c, 0, sizeof *c);
    c->api = args->api;
    if (!PH_API_HAS(args->api, cidr_free))
        return refuse(err, "the server lacks api->cidr_* (ABI 1.6)");
    c->connect_ms = 5000;
    c->read_ms = 60000;
    c->send_ms = 60000;
    c->health_ms = 5000;
    c->tunnel_ms = 600000;
    c->keepalive_ms = 30000;
    c->keepalive = 16;
    c->retries = 1;
    c->ups.max_fails = 1;
    c->ups.fail_timeout_ms = 10000;
    c->buffer = 64 * 1024;
    err->key = -1;
    for (size_t i = 0; i < args->nkeys; i++) {
        if (one_key(c, args->api, &args->keys[i], err) != PH_OK) {
            err->key = (int)i;
            return PH_ERROR;
        }
    }
    if (c->ups.n == 0) {
        hint(err, "upstream = 127.0.0.1:9000 127.0.0.1:9001 unix:/run/app.sock");
        return refuse(err, "no upstream: the route needs \"upstream =\"");
    }
    return PH_OK;
}

void proxy_conf_free(proxy_conf_t *c)
{
    proxy_upstreams_free(&c->ups);
    free(c->health_path);
    free(c->host);
    if (c->api)
        c->api->cidr_free(c->trusted);
    memset(c, 0, sizeof *c);
}
