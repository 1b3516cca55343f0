/*
 * A slab of fixed-size records laid over a caller's memory: in a shared
 * zone, where every process maps the same bytes, it hands out and takes
 * back records with no pointer stored inside (only offsets), so it works
 * whatever address a process sees the memory at.
 *
 * The memory starts zeroed (a new zone is) and slab_init() is idempotent:
 * every process may call it with the same record size, and the first call
 * formats the slab. Nothing here locks: the caller holds the zone's lock
 * around every call (or the memory is its alone).
 */
#ifndef PH_SLAB_H
#define PH_SLAB_H

#include <stddef.h>

/* Formats mem[0..size) as a slab of records of record_size bytes (rounded
 * up to 16, each 16-aligned), unless it already is one of that record
 * size. Returns the number of records it holds (> 0), or -1 when mem is
 * not 16-aligned, the record size is 0, no record fits, or the slab was
 * formatted with another record size. */
long slab_init(void *mem, size_t size, size_t record_size);

/* A free record, zeroed; NULL when all are in use or mem is no slab. */
void *slab_alloc(void *mem);

/* Gives back a record slab_alloc() returned. A pointer that is not such a
 * record (out of range, misaligned) is ignored and returns -1; 0 on
 * success. Freeing a record twice is the caller's bug (not detected). */
int slab_free(void *mem, void *record);

/* Records in use. */
size_t slab_used(const void *mem);

#endif /* PH_SLAB_H */
