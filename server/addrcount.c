#include "addrcount.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define NBUCKETS 4096
#define NSTRIPES 64 /* bucket b is guarded by stripes[b % NSTRIPES] */

typedef struct entry {
    struct entry *next;
    addrcount_key_t key;
    unsigned count;
} entry_t;

static entry_t *buckets[NBUCKETS];
static pthread_mutex_t stripes[NSTRIPES];
static uint64_t seed;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The mutexes, and a random seed per process, so which addresses share a
 * bucket cannot be known from outside and long chains cannot be made on
 * purpose. */
static void table_init(void)
{
    for (size_t i = 0; i < NSTRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15u;
}

int addrcount_key(const struct sockaddr *sa, addrcount_key_t *k)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(k, 0, sizeof *k);
    if (sa->sa_family == AF_INET) {
        k->family = AF_INET;
        memcpy(k->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    const unsigned char *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    if (memcmp(a, mapped, sizeof mapped) == 0) {
        k->family = AF_INET;
        memcpy(k->addr, a + 12, 4);
    } else {
        k->family = AF_INET6;
        memcpy(k->addr, a, 8); /* the /64 */
    }
    return 0;
}

static size_t bucket_of(const addrcount_key_t *k)
{
    uint64_t h = seed ^ k->family;
    for (size_t i = 0; i < sizeof k->addr; i++) {
        h ^= k->addr[i];
        h *= 0x100000001b3u; /* FNV-1a over the seeded state */
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 32;
    return (size_t)(h % NBUCKETS);
}

static entry_t **find(size_t b, const addrcount_key_t *k)
{
    entry_t **p = &buckets[b];
    while (*p && memcmp(&(*p)->key, k, sizeof *k) != 0)
        p = &(*p)->next;
    return p;
}

int addrcount_take(const addrcount_key_t *k, unsigned max)
{
    pthread_once(&once, table_init);
    size_t b = bucket_of(k);
    pthread_mutex_t *m = &stripes[b % NSTRIPES];
    int ok = 0;
    pthread_mutex_lock(m);
    entry_t **p = find(b, k);
    if (*p) {
        if ((*p)->count < max) {
            (*p)->count++;
            ok = 1;
        }
    } else if (max > 0) {
        entry_t *e = malloc(sizeof *e);
        if (e) {
            *e = (entry_t){.next = NULL, .key = *k, .count = 1};
            *p = e;
            ok = 1;
        }
    }
    pthread_mutex_unlock(m);
    return ok;
}

void addrcount_drop(const addrcount_key_t *k)
{
    pthread_once(&once, table_init);
    size_t b = bucket_of(k);
    pthread_mutex_t *m = &stripes[b % NSTRIPES];
    pthread_mutex_lock(m);
    entry_t **p = find(b, k), *e = *p;
    if (e && --e->count == 0) {
        *p = e->next;
        free(e);
    }
    pthread_mutex_unlock(m);
}

unsigned addrcount_get(const addrcount_key_t *k)
{
    pthread_once(&once, table_init);
    size_t b = bucket_of(k);
    pthread_mutex_t *m = &stripes[b % NSTRIPES];
    pthread_mutex_lock(m);
    entry_t *e = *find(b, k);
    unsigned n = e ? e->count : 0;
    pthread_mutex_unlock(m);
    return n;
}
