/*
 * ratelimit_shm: the token buckets of ratelimit_table laid out in one
 * block of shared memory (a zone), so that every worker process of the
 * server counts against the same buckets. Pure and position-independent
 * (offsets only, no pointers stored); the caller holds the zone's lock
 * around every call.
 *
 * Arithmetic as in ratelimit_table.h: credit in nanoseconds, one request
 * costs period / rate, a full bucket is burst requests.
 *
 * Layout. An open-addressing table of a power of two slots, at least
 * twice max_keys; a key lives in the first PROBE slots from its hash.
 * Slots are never emptied, only reused, so a lookup may stop at the first
 * empty slot. A new key whose window is full takes an idle slot of it (a
 * bucket refilled to burst is the same as none), else the least recently
 * seen one: under a flood of distinct addresses the limit weakens rather
 * than the memory growing, as in ratelimit_table.
 */
#ifndef RATELIMIT_SHM_H
#define RATELIMIT_SHM_H

#include <stddef.h>
#include <stdint.h>

/* Bytes ratelimit_shm_take needs for max_keys (>= 1) keys (a multiple of 16). */
size_t ratelimit_shm_size(size_t max_keys);

/* Takes one token from key's bucket at now_ns (CLOCK_MONOTONIC, which
 * every process shares) in the table at mem (size bytes, 16-aligned,
 * zeroed or formatted by an earlier call with the same bounds; formatted
 * on first use): 0 when there was one, else the nanoseconds until there
 * will be. A table formatted with other bounds is formatted anew (every
 * bucket full). Same bounds as ratelimit_table_new; a bad bound or a size
 * too small for them lets the request pass (0). */
uint64_t ratelimit_shm_take(void *mem, size_t size, uint64_t rate, uint64_t period_ns, uint64_t burst,
                            const char *key, uint64_t now_ns);

/* Forgets every bucket (after a holder of the lock died mid-update). */
void ratelimit_shm_reset(void *mem);

/* Keys held; for tests. */
size_t ratelimit_shm_used(const void *mem);

#endif
