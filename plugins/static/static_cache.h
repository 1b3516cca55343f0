/*
 * static_cache: the open-file cache. Maps a normalised path below the root
 * to an sf_file_t (descriptor or bytes, stat, ready-made header values),
 * bounded in entries and in bytes held in memory, with least-recently-used
 * eviction.
 *
 * Not thread-safe by design: the plugin keeps one cache per (instance,
 * thread), so lookups take no lock. Pure apart from close() and free() of
 * what entries own; the caller supplies the clock, so the bookkeeping can be
 * tested without sleeping.
 *
 * Entry pointers stay valid until the next scache_trim() or scache_free():
 * scache_put() and scache_replace() never evict, so everything one request
 * looked up remains usable until the request calls scache_trim() at its end.
 */
#ifndef PH_STATIC_CACHE_H
#define PH_STATIC_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "static_file.h"

typedef struct scache scache_t;

typedef struct scache_entry {
    sf_file_t file;  /* owned by the cache */
    int64_t checked; /* caller's clock when file was last opened or revalidated */
    int64_t used;    /* caller's clock when last looked up (scache_touch) */
    /* private */
    struct scache_entry *hnext, *prev, *next;
    uint64_t hash;
    size_t keylen;
    char key[];
} scache_entry_t;

/* A cache holding at most max_entries entries (>= 1) and max_bytes bytes of
 * file data after each scache_trim(). NULL when out of memory. */
scache_t *scache_new(size_t max_entries, size_t max_bytes);

/* Releases every entry (closing its fd) and the cache. NULL allowed. */
void scache_free(scache_t *c);

/* The entry for key (NUL-terminated), marked most recently used, or NULL. */
scache_entry_t *scache_get(scache_t *c, const char *key);

/*
 * Adds key with the contents of *f (moved in: *f is left empty) checked at
 * now. key must not be present (scache_get() first; use scache_replace()
 * for an existing entry). Does not evict. Returns the entry, or NULL when
 * out of memory, *f then untouched and still the caller's.
 */
scache_entry_t *scache_put(scache_t *c, const char *key, sf_file_t *f, int64_t now);

/* Replaces e's contents with *f (moved in), releasing the old ones (e's fd
 * is closed), and sets e->checked = now. e stays valid. */
void scache_replace(scache_t *c, scache_entry_t *e, sf_file_t *f, int64_t now);

/* Evicts least-recently-used entries until the bounds hold again. */
void scache_trim(scache_t *c);

/* Records a use of e at now (for scache_sweep). scache_put() and
 * scache_replace() count as one. */
void scache_touch(scache_entry_t *e, int64_t now);

/*
 * Evicts every entry not used since before the given time (closing its
 * descriptor), least recently used first; stops at the first more recent
 * one, so it costs nothing when nothing is idle. Entries are ordered by
 * use only if each scache_get() that counts is followed by scache_touch()
 * with a clock that never goes back. Like scache_trim(), for the end of a
 * request only.
 */
void scache_sweep(scache_t *c, int64_t before);

/* Entries held, and bytes of file data they hold in memory. */
size_t scache_count(const scache_t *c);
size_t scache_bytes(const scache_t *c);

#endif /* PH_STATIC_CACHE_H */
