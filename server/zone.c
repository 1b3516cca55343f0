#include "zone.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

#define ZONE_SIZE_MAX ((size_t)1 << 30)
#define ZONE_HEAD 128 /* bytes before the data: the header, 16-aligned */

/* At the start of the mapping, shared by every process. */
typedef struct zone_head {
    pthread_mutex_t lock;
    uint64_t recovered; /* times the lock was taken from a dead holder */
} zone_head_t;

_Static_assert(sizeof(zone_head_t) <= ZONE_HEAD, "zone header too large");

/* This process's record of a mapping (inherited across fork). */
struct zone {
    char name[ZONE_NAME_MAX + 1];
    size_t size;
    zone_head_t *head; /* the mapping */
    unsigned holders;  /* zone_holding_t that list it */
    int pinned;        /* asked for outside a collection: kept for good */
    struct zone *next;
};

static zone_t *zones;
static int worker;
static zone_holding_t *collecting;

void zone_set_worker(void) { worker = 1; }

static int init_lock(zone_head_t *h)
{
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0)
        return -1;
    int rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) || pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) ||
             pthread_mutex_init(&h->lock, &a);
    pthread_mutexattr_destroy(&a);
    return rc ? -1 : 0;
}

static zone_t *find(const char *name, size_t size)
{
    for (zone_t *z = zones; z; z = z->next)
        if (z->size == size && strcmp(z->name, name) == 0)
            return z;
    return NULL;
}

/* z is held by the collection running, if any, else for good. */
static zone_t *held(zone_t *z)
{
    if (collecting == NULL) {
        z->pinned = 1;
        return z;
    }
    for (size_t i = 0; i < collecting->n; i++)
        if (collecting->zones[i] == z)
            return z;
    zone_t **grown = realloc(collecting->zones, (collecting->n + 1) * sizeof *grown);
    if (grown == NULL) {
        z->pinned = 1; /* not releasable: never unmapped, as before holders */
        return z;
    }
    collecting->zones = grown;
    collecting->zones[collecting->n++] = z;
    z->holders++;
    return z;
}

static void unmap(zone_t *z)
{
    zone_t **p = &zones;
    while (*p != z)
        p = &(*p)->next;
    *p = z->next;
    log_info("zone %s: %zu bytes released", z->name, z->size);
    munmap(z->head, ZONE_HEAD + z->size);
    free(z);
}

void zone_collect(zone_holding_t *h) { collecting = h; }

void zone_release(zone_holding_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        zone_t *z = h->zones[i];
        if (--z->holders == 0 && !z->pinned)
            unmap(z);
    }
    free(h->zones);
    h->zones = NULL;
    h->n = 0;
}

zone_t *zone_get(const char *name, size_t size, char *err, size_t errlen)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > ZONE_NAME_MAX || strchr(name, '/')) {
        snprintf(err, errlen, "zone name must be 1 to %d bytes without '/'", ZONE_NAME_MAX);
        return NULL;
    }
    if (size == 0 || size > ZONE_SIZE_MAX) {
        snprintf(err, errlen, "zone %s: size must be 1 byte to 1 GiB", name);
        return NULL;
    }
    zone_t *z = find(name, size);
    if (z)
        return held(z);
    if (worker) {
        snprintf(err, errlen, "zone %s of %zu bytes was not made by the master: ask for it in create() also "
                 "under PH_CREATE_CHECK", name, size);
        return NULL;
    }
    z = calloc(1, sizeof *z);
    if (z == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    void *m = mmap(NULL, ZONE_HEAD + size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "zone %s: mmap of %zu bytes: %s", name, size, strerror(errno));
        free(z);
        return NULL;
    }
    z->head = m;
    if (init_lock(z->head) < 0) {
        snprintf(err, errlen, "zone %s: cannot make a process-shared robust lock", name);
        munmap(m, ZONE_HEAD + size);
        free(z);
        return NULL;
    }
    snprintf(z->name, sizeof z->name, "%s", name);
    z->size = size;
    z->next = zones;
    zones = z;
    log_info("zone %s: %zu bytes", name, size);
    return held(z);
}

void *zone_data(zone_t *z) { return (char *)z->head + ZONE_HEAD; }
size_t zone_size(const zone_t *z) { return z->size; }
const char *zone_name(const zone_t *z) { return z->name; }

int zone_lock(zone_t *z)
{
    int rc = pthread_mutex_lock(&z->head->lock);
    if (rc == 0)
        return 0;
    if (rc == EOWNERDEAD) {
        /* the holder died mid-update: the lock is ours, the data as it left it */
        pthread_mutex_consistent(&z->head->lock);
        z->head->recovered++;
        log_warn("zone %s: a process died holding its lock; lock recovered (%llu so far), the data may be "
                 "half-updated", z->name, (unsigned long long)z->head->recovered);
        return ZONE_RECOVERED;
    }
    log_error("zone %s: lock: %s", z->name, strerror(rc));
    return -1;
}

void zone_unlock(zone_t *z) { pthread_mutex_unlock(&z->head->lock); }

size_t zone_count(void)
{
    size_t n = 0;
    for (zone_t *z = zones; z; z = z->next)
        n++;
    return n;
}
