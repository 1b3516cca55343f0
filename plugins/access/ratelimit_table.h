/*
 * ratelimit_table: token buckets per client key, one table shared by every
 * thread of a process. Pure: no plugin API calls (the clock is the
 * caller's), so the unit test drives it with made-up times.
 *
 * Arithmetic. A bucket holds up to burst tokens and gains rate tokens per
 * period; a request takes one. Kept in integer nanoseconds of "credit"
 * (one token = interval_ns = period / rate), so the wait a refused client
 * is told is exact, not a float rounded twice.
 *
 * Concurrency. The table is split into stripes by key hash, each with its
 * own mutex, own entries and own share of the size bound: two threads
 * contend only when their clients hash to the same stripe, and a lock is
 * held for a lookup and a few additions.
 *
 * Bound. A stripe holds at most max_keys / stripes entries. A new key in
 * a full stripe first drops the stripe's idle entries (a bucket that has
 * refilled to burst is the same as no entry), and when none is idle the
 * one least recently seen (a client then starts again with a full bucket:
 * under a flood of distinct addresses the limit weakens rather than the
 * memory growing).
 */
#ifndef RATELIMIT_TABLE_H
#define RATELIMIT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 48 /* an IPv6 text address and its NUL fit */

typedef struct ratelimit_table ratelimit_table_t;

/* A table for rate requests per period_ns (> 0) with bursts of burst
 * (>= 1) and at most max_keys (>= 1) keys. NULL when out of memory or a
 * bound is out of range (rate 1..1000000000 per period). */
ratelimit_table_t *ratelimit_table_new(uint64_t rate, uint64_t period_ns, uint64_t burst, size_t max_keys);
void ratelimit_table_free(ratelimit_table_t *t);

/* Takes one token from key's bucket at time now_ns (a monotonic clock):
 * 0 when there was one, else the nanoseconds until there will be (> 0).
 * Thread-safe. A key longer than RATELIMIT_KEY_MAX - 1 is cut. */
uint64_t ratelimit_take(ratelimit_table_t *t, const char *key, uint64_t now_ns);

/* Keys held now (all stripes); for tests. Thread-safe. */
size_t ratelimit_table_size(ratelimit_table_t *t);

#endif
