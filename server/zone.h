/*
 * Named shared-memory zones: memory every worker process of one server
 * sees, with a lock that works across processes.
 *
 * A zone is an anonymous shared mapping (MAP_SHARED), so it is shared with
 * every process forked after it was made. Plugins ask for zones in
 * create(): the master of worker processes runs every create() (as a check)
 * before it forks the workers of a generation, so the zone exists before
 * them, and each worker's create() then finds the one it inherited. With
 * one process the zone is made by the real create() and is plain memory.
 *
 * A zone is identified by its name and size together: a reload that asks
 * for the same name and size gets the same zone, contents and all; another
 * size makes a new zone (the old one stays for whoever still uses it).
 *
 * Who uses a zone: the route instances whose create() asked for it. gen.c
 * collects, around each create(), the zones asked for into the instance's
 * holdings (zone_collect()), and releases them when the instance goes
 * (zone_release()): a zone no instance of this process holds any more is
 * unmapped then. In the master that is after the reload whose generation
 * drops the last route asking for it is published and the previous
 * generation released; the old generation's worker processes, still
 * draining, keep the mapping they inherited. A zone asked for outside a
 * create() (no collection running) is held until the process exits.
 *
 * The registry is used on the main thread only (create() runs there);
 * zone_lock/unlock on any thread of any process.
 */
#ifndef PH_ZONE_H
#define PH_ZONE_H

#include <stddef.h>

typedef struct zone zone_t;

/* Longest zone name, bytes. */
#define ZONE_NAME_MAX 63
/* zone_lock(): the previous holder died holding the lock. */
#define ZONE_RECOVERED 1

/* This process is a worker of a master (processes = N): from now on
 * zone_get() only finds zones the master made and never makes one. */
void zone_set_worker(void);

/* The zone named name of size bytes (1 byte up to 1 GiB), made zeroed if
 * there is none. NULL with err filled when the name is empty, too long or
 * holds a '/', the size is out of range, the mapping fails, or (in a
 * worker process) the master made no such zone. Main thread. */
zone_t *zone_get(const char *name, size_t size, char *err, size_t errlen);

/* The zone's data (16-aligned, size bytes as asked) and its size. */
void *zone_data(zone_t *z);
size_t zone_size(const zone_t *z);
const char *zone_name(const zone_t *z);

/* Takes the zone's lock (a robust, process-shared mutex): 0, or
 * ZONE_RECOVERED when its previous holder died holding it (a worker
 * killed): the lock is made consistent and taken, the event logged, and
 * the data may be half-updated; -1 on an error (logged). */
int zone_lock(zone_t *z);
void zone_unlock(zone_t *z);

/* The zones one holder (a route instance) asked for, each once. */
typedef struct zone_holding {
    zone_t **zones;
    size_t n;
} zone_holding_t;

/* From now until zone_collect(NULL), every zone zone_get() returns is
 * added to h (once) and counts h as a holder. Main thread. */
void zone_collect(zone_holding_t *h);
/* Drops h's holds; a zone that then has no holder (and was never asked for
 * outside a collection) is unmapped in this process. h is left empty. Main
 * thread. */
void zone_release(zone_holding_t *h);

/* Zones in this process's registry (tests). */
size_t zone_count(void);

#endif /* PH_ZONE_H */
