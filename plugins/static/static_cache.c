/* static_cache: per-thread open-file cache; contracts in static_cache.h. */
#include "static_cache.h"

#include <stdlib.h>
#include <string.h>

struct scache {
    scache_entry_t **buckets;
    size_t nbuckets;        /* a power of two */
    scache_entry_t *head;   /* most recently used */
    scache_entry_t *tail;   /* next to evict */
    size_t count, bytes;
    size_t max_entries, max_bytes;
};

/* FNV-1a: paths are short and this is not exposed to hash flooding in any
 * way that matters, since the table is bounded and per thread. */
static uint64_t hash_key(const char *s, size_t *len)
{
    uint64_t h = 0xcbf29ce484222325u;
    const char *p = s;

    for (; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3u;
    }
    *len = (size_t)(p - s);
    return h;
}

scache_t *scache_new(size_t max_entries, size_t max_bytes)
{
    scache_t *c = calloc(1, sizeof(*c));
    size_t n = 16;

    if (c == NULL)
        return NULL;
    if (max_entries == 0)
        max_entries = 1;
    /* About one entry per bucket at the bound; a request may overshoot it
     * by a few entries until its trim. */
    while (n < max_entries && n < ((size_t)1 << 20))
        n <<= 1;
    c->buckets = calloc(n, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    c->nbuckets = n;
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    return c;
}

static void lru_unlink(scache_t *c, scache_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(scache_t *c, scache_entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static void entry_free(scache_t *c, scache_entry_t *e)
{
    c->bytes -= e->file.data_len;
    c->count--;
    sf_release(&e->file);
    free(e);
}

void scache_free(scache_t *c)
{
    if (c == NULL)
        return;
    while (c->head) {
        scache_entry_t *e = c->head;
        c->head = e->next;
        entry_free(c, e);
    }
    free(c->buckets);
    free(c);
}

scache_entry_t *scache_get(scache_t *c, const char *key)
{
    size_t len;
    uint64_t h = hash_key(key, &len);

    for (scache_entry_t *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext) {
        if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0) {
            if (c->head != e) {
                lru_unlink(c, e);
                lru_push_front(c, e);
            }
            return e;
        }
    }
    return NULL;
}

scache_entry_t *scache_put(scache_t *c, const char *key, sf_file_t *f, int64_t now)
{
    size_t len;
    uint64_t h = hash_key(key, &len);
    scache_entry_t *e = malloc(sizeof(*e) + len + 1);
    scache_entry_t **b;

    if (e == NULL)
        return NULL;
    sf_move(&e->file, f);
    e->checked = now;
    e->used = now;
    e->hash = h;
    e->keylen = len;
    memcpy(e->key, key, len + 1);
    b = &c->buckets[h & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    lru_push_front(c, e);
    c->count++;
    c->bytes += e->file.data_len;
    return e;
}

void scache_replace(scache_t *c, scache_entry_t *e, sf_file_t *f, int64_t now)
{
    c->bytes -= e->file.data_len;
    sf_release(&e->file);
    sf_move(&e->file, f);
    c->bytes += e->file.data_len;
    e->checked = now;
    e->used = now;
}

static void hash_unlink(scache_t *c, scache_entry_t *e)
{
    scache_entry_t **p = &c->buckets[e->hash & (c->nbuckets - 1)];

    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
}

static void evict_tail(scache_t *c)
{
    scache_entry_t *e = c->tail;

    /* The analyzer cannot see that lru_unlink() moves c->tail off the
     * freed entry (it does: tail becomes e->prev). */
    lru_unlink(c, e); // NOLINT(clang-analyzer-unix.Malloc)
    hash_unlink(c, e);
    entry_free(c, e);
}

void scache_trim(scache_t *c)
{
    while (c->tail && (c->count > c->max_entries || c->bytes > c->max_bytes))
        evict_tail(c);
}

void scache_touch(scache_entry_t *e, int64_t now)
{
    e->used = now;
}

void scache_sweep(scache_t *c, int64_t before)
{
    scache_entry_t *e = c->tail;

    /* Walks towards the head, taking the next entry before e is freed. */
    while (e != NULL && e->used < before) {
        scache_entry_t *newer = e->prev;

        lru_unlink(c, e);
        hash_unlink(c, e);
        entry_free(c, e);
        e = newer;
    }
}

size_t scache_count(const scache_t *c)
{
    return c->count;
}

size_t scache_bytes(const scache_t *c)
{
    return c->bytes;
}
