#include "proxy_upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

int64_t proxy_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_port(const char *p, char *why, size_t cap)
{
    char *end;
    if (*p < '0' || *p > '9') {
        snprintf(why, cap, "no port");
        return -1;
    }
    unsigned long port = strtoul(p, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535) {
        snprintf(why, cap, "bad port \"%s\"", p);
        return -1;
    }
    return 0;
}

int proxy_upstream_check(const char *a, char *why, size_t cap)
{
    if (strncmp(a, "unix:", 5) == 0) {
        const char *path = a + 5;
        if (path[0] != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(why, cap, "a unix socket needs an absolute path under %zu bytes",
                     sizeof(((struct sockaddr_un *)0)->sun_path));
            return -1;
        }
        return 0;
    }
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close || close == a + 1 || close[1] != ':') {
            snprintf(why, cap, "an IPv6 address is written [addr]:port");
            return -1;
        }
        return check_port(close + 2, why, cap);
    }
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a) {
        snprintf(why, cap, "write host:port, [v6]:port or unix:/path");
        return -1;
    }
    for (const char *p = a; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '-' || *p == '_')) {
            snprintf(why, cap, "bad host name");
            return -1;
        }
    return check_port(colon + 1, why, cap);
}

int proxy_upstreams_add(proxy_upstreams_t *u, const char *address)
{
    if (u->n >= PROXY_UPSTREAMS_MAX)
        return -1;
    proxy_upstream_t *l = realloc(u->list, (u->n + 1) * sizeof *l);
    if (!l)
        return -1;
    u->list = l;
    proxy_upstream_t *up = &l[u->n];
    memset(up, 0, sizeof *up);
    up->address = strdup(address);
    up->host = strdup(strncmp(address, "unix:", 5) == 0 ? "localhost" : address);
    if (!up->address || !up->host) {
        free(up->address);
        free(up->host);
        return -1;
    }
    u->n++;
    return 0;
}

void proxy_upstreams_free(proxy_upstreams_t *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->list[i].address);
        free(u->list[i].host);
    }
    free(u->list);
    u->list = NULL;
    u->n = 0;
}

int proxy_upstream_is_up(proxy_upstreams_t *u, int i, int64_t now)
{
    proxy_upstream_t *up = &u->list[i];
    return !LOAD(&up->check_down) && LOAD(&up->down_until) <= now;
}

/* FNV-1a over the client's address: the same client keeps its upstream
 * while the set of live upstreams stays the same. */
static uint64_t hash_ip(const char *ip)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)ip; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

int proxy_upstream_pick(proxy_upstreams_t *u, uint64_t tried, const char *ip)
{
    int64_t now = proxy_now_ms();
    size_t n = u->n, start;
    if (u->balance == PROXY_HASH)
        start = (size_t)(hash_ip(ip ? ip : "") % n);
    else
        start = __atomic_fetch_add(&u->rr, 1, __ATOMIC_RELAXED) % n;
    int best = -1;
    unsigned best_load = 0;
    for (size_t k = 0; k < n; k++) {
        int i = (int)((start + k) % n);
        if ((tried >> i) & 1u || !proxy_upstream_is_up(u, i, now))
            continue;
        if (u->balance != PROXY_LEAST_CONN) {
            best = i;
            break;
        }
        unsigned load = LOAD(&u->list[i].in_flight);
        if (best < 0 || load < best_load) {
            best = i;
            best_load = load;
        }
    }
    if (best >= 0)
        __atomic_fetch_add(&u->list[best].in_flight, 1, __ATOMIC_RELAXED);
    return best;
}

void proxy_upstream_release(proxy_upstreams_t *u, int i)
{
    __atomic_fetch_sub(&u->list[i].in_flight, 1, __ATOMIC_RELAXED);
}

int proxy_upstream_failed(proxy_upstreams_t *u, int i)
{
    proxy_upstream_t *up = &u->list[i];
    if (u->max_fails == 0)
        return 0;
    unsigned f = __atomic_add_fetch(&up->fails, 1, __ATOMIC_RELAXED);
    if (f < u->max_fails)
        return 0;
    /* Only the thread that brings the count to max_fails marks it, so one
     * burst of failures logs once. */
    if (!__atomic_compare_exchange_n(&up->fails, &f, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return 0;
    STORE(&up->down_until, proxy_now_ms() + u->fail_timeout_ms);
    return 1;
}

void proxy_upstream_succeeded(proxy_upstreams_t *u, int i)
{
    if (LOAD(&u->list[i].fails))
        STORE(&u->list[i].fails, 0);
}

int proxy_upstream_checked(proxy_upstreams_t *u, int i, int up)
{
    int down = !up;
    int was = __atomic_exchange_n(&u->list[i].check_down, down, __ATOMIC_RELAXED);
    if (up && was)
        STORE(&u->list[i].down_until, 0); /* back up: a passive mark meanwhile ends too */
    return was != down;
}
