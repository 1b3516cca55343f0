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
 * and per process, shared by its threads). With processes above 1, or a
 * "zone = NAME" key, ratelimit_shm holds them instead in a shared zone
 * (ABI 1.6), so every worker process counts against the same buckets.
 * This file reads the keys, reads the clock and answers. README.md lists
 * the keys.
 */
#include <plughttpd/plugin.h>

#include "access_peer.h"
#include "ratelimit_shm.h"
#include "ratelimit_table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000ull

typedef struct ratelimit_conf {
    uint64_t rate, period_ns, burst, max_keys;
    const char *zone; /* "zone =": valid during create() only */
} ratelimit_conf_t;

typedef struct ratelimit {
    const ph_server_api_t *api;
    ratelimit_table_t *table; /* this process's buckets, or NULL */
    ph_zone_t *zone;          /* or every process's (the server's) */
    ratelimit_conf_t conf;    /* the bounds, for ratelimit_shm_take */
} ratelimit_t;

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
        } else if (strcmp(k, "zone") == 0) {
            if (v[0] == '\0' || strlen(v) > 32 || strchr(v, '/'))
                return refuse(err, (int)i, "zone must be a name of 1 to 32 bytes without '/', not \"%s\"", v);
            c->zone = v;
        } else if (strcmp(k, "key") == 0) {
            /* Only the peer for now; the key exists so that a later
             * "key = header:X-Api-Key" does not change what this means. */
            if (strcmp(v, "peer") != 0)
                return refuse(err, (int)i, "key must be peer, not \"%s\"", v);
        } else {
            return refuse(err, (int)i, "unknown key \"%s\" (rate, burst, key, max_addresses, zone)", k);
        }
    }
    if (c->rate == 0)
        return refuse(err, -1, "rate is required (e.g. rate = 10r/s)");
    return PH_OK;
}

/* FNV-1a over a string, continuing from h. */
static uint64_t mix(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u;
}

/* The shared zone for these buckets. Its name carries the zone key (or
 * the route prefix) and the bounds: routes naming one zone with the same
 * bounds share their buckets, and a reload that changes the rate or the
 * burst starts from full buckets, as a new private table would. Asked for
 * in the check too: that is when the master makes it. */
static ph_zone_t *shared_zone(const ph_create_args_t *args, const ratelimit_conf_t *c)
{
    char bounds[80], name[64];
    snprintf(bounds, sizeof bounds, "%llu/%llu/%llu", (unsigned long long)c->rate,
             (unsigned long long)c->period_ns, (unsigned long long)c->burst);
    uint64_t h = mix(mix(1469598103934665603u, c->zone ? c->zone : args->prefix), bounds);
    snprintf(name, sizeof name, "ratelimit.%s.%016llx", c->zone ? c->zone : "route", (unsigned long long)h);
    return args->api->zone(name, ratelimit_shm_size((size_t)c->max_keys));
}

static int ratelimit_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    ratelimit_conf_t c;
    if (conf_read(args, &c, err) != PH_OK)
        return PH_ERROR;
    /* Under a master (PH_CREATE_WORKER) a reload replaces the process: the
     * buckets then live in a zone, so a reload does not refill them. */
    int multi = args->size >= offsetof(ph_create_args_t, processes) + sizeof args->processes && args->processes > 1;
    int shared = c.zone != NULL || multi || (args->flags & PH_CREATE_WORKER);
    if (shared && !PH_API_HAS(args->api, zone_unlock))
        return refuse(err, -1, "zone or worker processes need a server with shared zones (ABI 1.6)");
    ratelimit_t *r = calloc(1, sizeof *r);
    if (!r)
        return refuse(err, -1, "out of memory");
    r->api = args->api;
    r->conf = c;
    r->conf.zone = NULL;
    if (shared) {
        r->zone = shared_zone(args, &c);
        if (r->zone == NULL) {
            free(r);
            return refuse(err, -1, "no shared zone for %llu addresses (see the log)",
                          (unsigned long long)c.max_keys);
        }
    } else if (!(args->flags & PH_CREATE_CHECK) &&
               !(r->table = ratelimit_table_new(c.rate, c.period_ns, c.burst, (size_t)c.max_keys))) {
        /* A configuration test allocates no table: the keys were the check. */
        free(r);
        return refuse(err, -1, "out of memory for %llu addresses", (unsigned long long)c.max_keys);
    }
    *instance = r;
    return PH_OK;
}

/* One token from ip's bucket in the shared zone. */
static uint64_t take_shared(const ratelimit_t *r, const char *ip, uint64_t now)
{
    const ph_server_api_t *api = r->api;
    size_t size = ratelimit_shm_size((size_t)r->conf.max_keys);
    void *mem = api->zone_data(r->zone);
    int rc = api->zone_lock(r->zone);
    if (rc == PH_ERROR)
        return 0; /* logged by the server; failing open beats refusing all */
    if (rc == PH_ZONE_RECOVERED) {
        /* a slot may be half-written: every client starts from a full bucket */
        api->log(PH_LOG_WARN, "ratelimit: buckets reset after a process died holding the zone's lock");
        ratelimit_shm_reset(mem);
    }
    uint64_t wait = ratelimit_shm_take(mem, size, r->conf.rate, r->conf.period_ns, r->conf.burst, ip, now);
    api->zone_unlock(r->zone);
    return wait;
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
    uint64_t now = (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
    uint64_t wait = r->zone ? take_shared(r, ip, now) : ratelimit_take(r->table, ip, now);
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
