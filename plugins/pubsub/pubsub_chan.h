/*
 * pubsub_chan: channels and the hub that holds them.
 *
 * Locking. One mutex per instance, hub->lock, guards everything shared
 * between worker threads: the channel table, every channel's ring, ids,
 * counters and reference counts, each lane's count and posted flag, and
 * the number of delivery tasks in flight. One lock rather than one per
 * channel because every critical section is a few pointer moves (lookups,
 * ring slots, counters): message bytes are never copied under it (a
 * message is immutable and shared by reference, see pubsub_msg.h), so a
 * second level of locks would buy little and add an ordering to get wrong.
 *
 * What is NOT under the lock: a lane's list of subscribers (ps_lane_t.head)
 * belongs to the lane's worker thread alone. Subscribers join and leave on
 * the thread serving their request, and the delivery task for the lane runs
 * there too (posted with run_on), so the list needs no lock, and a
 * subscriber found on it is certainly alive: its request's cleanup, which
 * unlinks it, runs on the same thread.
 *
 * Lifetime. A channel is reference counted (under the lock): the table
 * holds one while the channel is listed, each subscriber one, each queued
 * delivery task one. It leaves the table when it has no subscriber and
 * was idle for channel_timeout (ps_hub_sweep); the memory goes with the
 * last reference.
 */
#ifndef PUBSUB_CHAN_H
#define PUBSUB_CHAN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pubsub_msg.h"

typedef struct ps_chan ps_chan_t;
typedef struct ps_sub ps_sub_t;

/* A channel's subscribers on one worker thread. */
typedef struct ps_lane {
    ps_chan_t *chan;
    unsigned idx;   /* the worker thread */
    ps_sub_t *head; /* that thread only (see above) */
    unsigned count; /* lock: subscribers counted here */
    int posted;     /* lock: a delivery task for this lane is queued */
} ps_lane_t;

typedef struct ps_hub ps_hub_t;

struct ps_chan {
    ps_chan_t *next; /* hash chain */
    ps_hub_t *hub;
    unsigned refs;
    int listed;
    unsigned nsubs;
    uint64_t last_id;   /* newest id given; 0: none yet */
    unsigned count;     /* messages in the ring: ids last_id-count+1..last_id */
    unsigned cap;
    ps_msg_t **ring;    /* id lives at ring[id % cap] */
    size_t bytes;       /* of the messages in the ring (bodies) */
    uint64_t active_ms; /* last publish, or when the last subscriber left */
    ps_lane_t *lanes;   /* one per worker thread */
    unsigned nlanes;
    size_t name_len;
    char name[];        /* NUL-terminated */
};

struct ps_hub {
    pthread_mutex_t lock;
    pthread_cond_t idle; /* signalled when tasks drops to 0 */
    ps_chan_t **table;
    size_t nbuckets;     /* a power of two */
    unsigned nchannels;
    unsigned nsubs;      /* in all channels */
    unsigned tasks;      /* delivery tasks queued or running */
    unsigned nlanes, cap, max_channels;
    size_t max_bytes;    /* per channel ring */
};

/* Sets up an empty hub: nlanes worker threads, rings of cap messages and
 * at most max_bytes bytes of message bodies. */
int ps_hub_init(ps_hub_t *hub, unsigned nlanes, unsigned cap, size_t max_bytes, unsigned max_channels);
/* Frees every channel; no subscriber or task may remain. */
void ps_hub_free(ps_hub_t *hub);

/* All below: hub->lock held. */

ps_chan_t *ps_hub_find(ps_hub_t *hub, const char *name, size_t len);
/* The channel so named, created when absent. NULL with *full = 1 when
 * max_channels are alive, *full = 0 when out of memory. */
ps_chan_t *ps_hub_get(ps_hub_t *hub, const char *name, size_t len, uint64_t now_ms, int *full);
void ps_chan_ref(ps_chan_t *ch);
/* Drops a reference; frees an unlisted channel at the last. */
void ps_chan_unref(ps_hub_t *hub, ps_chan_t *ch);
/* Numbers msg as the channel's next id and keeps it (the ring's reference
 * is msg's first one, handed over); the oldest fall out while the ring
 * holds more than cap messages or max_bytes (the newest always stays). */
void ps_chan_put(ps_chan_t *ch, ps_msg_t *msg, uint64_t now_ms);
/* The first buffered message after id `after`, with a new reference, or
 * NULL when there is none yet. An id older than the ring gets the oldest
 * still there; an id ahead of last_id (a channel that started again, after
 * a restart) gets the oldest too. */
ps_msg_t *ps_chan_next(const ps_chan_t *ch, uint64_t after);
/* Oldest buffered id, 0 when none. */
uint64_t ps_chan_oldest(const ps_chan_t *ch);
/* Unlists channels with no subscriber idle for timeout_ms. */
void ps_hub_sweep(ps_hub_t *hub, uint64_t now_ms, uint64_t timeout_ms);

#endif
