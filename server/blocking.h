/*
 * A bounded pool of helper threads for handlers that may block (databases,
 * slow disks), so they never stall an event loop. Jobs are queued FIFO; the
 * queue has a fixed bound and a full queue refuses new jobs (the caller
 * answers 503) instead of growing without limit.
 */
#ifndef PH_BLOCKING_H
#define PH_BLOCKING_H

typedef struct blocking blocking_t;

/* A pool of nthreads threads with room for queue_max waiting jobs. The
 * threads start with the first blocking_submit(): a process whose routes
 * never block runs none. depth (may be NULL): a counter the pool adds its
 * waiting jobs to (not those running), atomically, so others read the
 * queue's depth without its lock, also after the pool is freed. NULL when
 * out of memory. */
blocking_t *blocking_new(unsigned nthreads, unsigned queue_max, unsigned *depth);
/* Finishes queued jobs, joins the threads, frees the pool. */
void blocking_free(blocking_t *b);

/* Runs fn(arg) on a helper thread. Returns 0, or -1 when the queue is full,
 * the pool is stopping, or no helper thread could be started (fn is then
 * not called). Thread-safe. */
int blocking_submit(blocking_t *b, void (*fn)(void *), void *arg);

#endif
