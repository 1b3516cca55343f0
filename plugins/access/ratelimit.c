/*
 * ratelimit: an access stage (no handle(); hooks->on_head) that answers
 * 429 with Retry-After once a client address has used its burst, refilled
 * at the route's rate (a token bucket):
 *
 *     [route /api]
 *     plugin = ratelimit, access, echo
 *     ratelimit.rate = 10r/s
 *     ratelimit.burst = 20
 *
 * ratelimit_table holds the buckets (one table per instance, so per route
 * and per process, shared by its threads); this file reads the keys,
 * reads the clock and answers. README.md lists the keys.
 */
#include <plughttpd/plugin.h>

#include "access_peer.h"
#include "ratelimit_table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000ull

typedef struct ratelimit {
    const ph_server_api_t *api;
    ratelimit_table_t *table;
} ratelimit_t;

typedef struct ratelimit_conf {
    uint64_t rate, period_ns, burst, max_keys;
} ratelimit_conf_t;

__attribute__((format(printf, 3, 4))) static int refuse(ph_error_t *err, int key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->key = key;
    return PH_ERROR;
}

/* A decimal count in 1..max: 0, or -1. */
static int count(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long n = strtoull(s, &end, 10);
    if (*end != '\0' || n == 0 || n > max)
        return -1;
    *out = n;
    return 0;
}

/* "10r/s" or "600r/m", as nginx's limit_req_zone spells it. */
static int parse_rate(const char *s, ratelimit_conf_t *c)
{
    char num[24];
    const char *r = strstr(s, "r/");
    if (!r || (size_t)(r - s) >= sizeof num)
        return -1;
    memcpy(num, s, (size_t)(r - s));
    num[r - s] = '\0';
    if (count(num, 1000000, &c->rate) < 0)
        return -1;
    if (strcmp(r, "r/s") == 0)
        c->period_ns = NS_PER_S;
    else if (strcmp(r, "r/m") == 0)
        c->period_ns = 60 * NS_PER_S;
    else
        return -1;
    return 0;
}

static int conf_read(const ph_create_args_t *args, ratelimit_conf_t *c, ph_error_t *err)
{
    *c = (ratelimit_conf_t){.burst = 1, .max_keys = 16384};
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        if (strcmp(k, "rate") == 0) {
            if (parse_rate(v, c) < 0)
                return refuse(err, (int)i, "rate must be N r/s or N r/m (1..1000000), e.g. 10r/s, not \"%s\"", v);
        } else if (strcmp(k, "burst") == 0) {
            if (count(v, 1000000, &c->burst) < 0)
                return refuse(err, (int)i, "burst must be a count in 1..1000000, not \"%s\"", v);
        } else if (strcmp(k, "max_addresses") == 0) {
            if (count(v, 16777216, &c->max_keys) < 0)
                return refuse(err, (int)i, "max_addresses must be a count in 1..16777216, not \"%s\"", v);
        } else if (strcmp(k, "key") == 0) {
            /* Only the peer for now; the key exists so that a later
             * "key = header:X-Api-Key" does not change what this means. */
            if (strcmp(v, "peer") != 0)
                return refuse(err, (int)i, "key must be peer, not \"%s\"", v);
        } else {
            return refuse(err, (int)i, "unknown key \"%s\" (rate, burst, key, max_addresses)", k);
        }
    }
    if (c->rate == 0)
        return refuse(err, -1, "rate is required (e.g. rate = 10r/s)");
    return PH_OK;
}

static int ratelimit_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    ratelimit_conf_t c;
    if (conf_read(args, &c, err) != PH_OK)
        return PH_ERROR;
    ratelimit_t *r = calloc(1, sizeof *r);
    if (!r)
        return refuse(err, -1, "out of memory");
    r->api = args->api;
    /* A configuration test allocates no table: the keys were the check. */
    if (!(args->flags & PH_CREATE_CHECK) &&
        !(r->table = ratelimit_table_new(c.rate, c.period_ns, c.burst, (size_t)c.max_keys))) {
        free(r);
        return refuse(err, -1, "out of memory for %llu addresses", (unsigned long long)c.max_keys);
    }
    *instance = r;
    return PH_OK;
}

static void ratelimit_destroy(void *instance)
{
    ratelimit_t *r = instance;
    ratelimit_table_free(r->table);
    free(r);
}

static int ratelimit_head(void *instance, ph_request_t *req)
{
    const ratelimit_t *r = instance;
    const ph_server_api_t *api = r->api;
    const char *peer = api->peer(req);
    char ip[RATELIMIT_KEY_MAX];
    /* Unix-socket peers have no address: they share one bucket, "unix". */
    if (access_peer_ip(peer, ip, sizeof ip) < 0)
        snprintf(ip, sizeof ip, "%s", peer);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t wait = ratelimit_take(r->table, ip, (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec);
    if (wait == 0)
        return PH_OK;
    char secs[24];
    snprintf(secs, sizeof secs, "%llu", (unsigned long long)((wait + NS_PER_S - 1) / NS_PER_S));
    if (api->send_error(req, 429, "too many requests") != PH_OK || api->add_header(req, "Retry-After", secs) != PH_OK)
        return PH_ERROR;
    return PH_DONE;
}

static const ph_hooks_t ratelimit_hooks = {sizeof(ph_hooks_t), .on_head = ratelimit_head};

PH_PLUGIN_DEFINE_HOOKS("ratelimit", "1.0", 0, ratelimit_create, NULL, ratelimit_destroy, &ratelimit_hooks);
