/*
 * A worker thread: one event loop, the connections it accepted, and its own
 * caches (Date header, free buffers and pools). Other threads talk to it only
 * through messages (a locked list plus an eventfd wake-up): a new
 * generation, stop, a finished blocking job, a plugin's task (run_on). No
 * locks on the request path.
 *
 * Plugins' thread hooks run here, on the thread: thread_init for every
 * instance of a generation when the thread starts serving it, thread_exit
 * when it stops (a newer generation, or the end of the loop). An instance
 * a reload keeps spans both generations: the thread never stops serving it,
 * so it gets neither hook again.
 */
#ifndef PH_WORKER_H
#define PH_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "blocking.h"
#include "ev.h"
#include "gen.h"
#include "log.h"
#include "pool.h"

struct conn;
struct wmsg;

/* Memory to free after the current batch of events (an ev_io_t inside it
 * may still be named by a pending event): the node is the first member of
 * a malloc()ed block, which free(node) releases. */
typedef struct worker_later {
    struct worker_later *next;
} worker_later_t;

typedef struct worker {
    unsigned id;
    pthread_t thread;
    ev_loop_t *loop;
    ev_async_t wake;
    pthread_mutex_t lock;
    struct wmsg *inbox, **inbox_tail;

    gen_t *gen;               /* current generation: one reference held */
    ev_io_t *lios;            /* one watch per listener of gen */
    size_t nlios;
    void **retired;           /* replaced watcher arrays, freed after the batch */
    size_t nretired;
    int accepting;            /* listeners registered */
    unsigned long gen_seen;   /* id of the generation in use (atomic) */
    int accept_closed;        /* stopping and no longer accepting (atomic) */

    struct conn *conns;       /* every open connection */
    struct conn *dead;        /* closed during this batch, freed after it */
    unsigned nconns;
    int stopping;
    ev_timer_t accept_retry;  /* re-enables accepting after EMFILE */
    ev_timer_t lag_probe;     /* fires every PH_LAG_INTERVAL_MS: how late? */
    uint64_t lag_due_us;      /* when it should fire (ev_clock_us) */
    unsigned long ticks;      /* lag probes fired so far (atomic): the loop
                                 runs while this moves */
    unsigned long ticks_seen; /* main thread only: ticks at its last look */
    uint64_t ticks_moved;     /* and when it last saw them move (usec) */

    log_buf_t alog;           /* access-log lines of the current batch */
    char date[32];            /* Date header value, refreshed each second */
    int64_t date_sec;

    char **free_bufs;         /* read buffers to reuse */
    unsigned nfree_bufs;
    pool_t **free_pools;
    unsigned nfree_pools;

    blocking_t *blocking;     /* shared helper pool (thread-safe) */
    unsigned *total_conns;    /* this process's connections (atomic) */
    unsigned *share_slot;     /* their copy in conn_slots, or NULL */
    unsigned *conn_slots;     /* every serving process's count (atomic) */
    unsigned nslots;
    unsigned loops;           /* event loops sharing the listeners */
    unsigned nheld;           /* detached requests a plugin still holds, and
                                 ended ones a wake message still points at */
    uint64_t nrequests;       /* requests started (request ids) */
    uint64_t id_base;         /* process and worker bits of request ids */
    unsigned max_conns;

    /* The plugin API's view (api_loop.c): ph_loop_t is a worker_t. */
    int closed;               /* no more tasks accepted (under lock) */
    int ended;                /* the thread is done with the loop (atomic) */
    worker_later_t *later;    /* freed after the batch (on_tick) */
    gen_instance_t **tinit_failed; /* thread_init failed: no thread_exit */
    size_t ntinit_failed;

    /* Coroutines (api_co.c): the loop runs on until none is left. */
    unsigned ncoro;           /* live coroutines, handlers and spawned */
    struct co_ctx *co_spawned; /* co_spawn()ed ones, cancelled at stop */
} worker_t;

/* Set up w (zeroed by the caller) on gen (the worker takes a reference). */
int worker_init(worker_t *w, unsigned id, gen_t *gen, blocking_t *blocking, unsigned *total_conns);
int worker_start(worker_t *w);
void worker_join(worker_t *w);
/* After the thread ended: frees everything but what the plugin API may
 * still touch until the instances are destroyed (w->lock, w->closed);
 * worker_release() frees that. */
void worker_destroy(worker_t *w);
void worker_release(worker_t *w);

/* Thread-safe messages. worker_post_gen transfers one reference of g. */
void worker_post_gen(worker_t *w, gen_t *g);
void worker_post_stop(worker_t *w);
void worker_post_abort(worker_t *w);
/* Request messages (exchange.c): a plugin's resume(), a stream's wake-up,
 * a blocking handler's end. req stays valid until delivered. */
enum worker_req_msg { WREQ_RESUME, WREQ_WAKE, WREQ_BLOCKING_DONE };
void worker_post_req(worker_t *w, enum worker_req_msg kind, struct ph_request *req);
/* fn(arg) runs on w's thread: soon while its loop runs; a task accepted
 * while the loop winds down runs on that thread right after the loop's
 * last round, so every accepted task runs exactly once. Returns 0, or -1
 * when w no longer accepts tasks (its loop has stopped) or out of memory:
 * fn then never runs. */
int worker_post_task(worker_t *w, void (*fn)(void *), void *arg);

/* A barrier behind everything queued so far on every live worker: a task
 * posted to each inbox (FIFO, so it runs after every earlier task, and after
 * whatever callback the thread is in). A worker that takes no more tasks is
 * waited for until its thread is done with the loop. Never blocks: the
 * caller polls worker_barrier_passed(), so a worker waiting on the caller
 * cannot deadlock it. Returns NULL when out of memory. */
typedef struct worker_barrier worker_barrier_t;
worker_barrier_t *worker_barrier_post(void);
/* 1 once every worker ran the barrier or ended. A passed barrier is freed
 * here (b is then invalid); one not passed stays the caller's. */
int worker_barrier_passed(worker_barrier_t *b);

/* The workers of this process, for the plugin API (loop_at, loops): set
 * once they are initialised and before their threads start; cleared (NULL,
 * 0) only after every plugin instance was destroyed, as plugins may call
 * run_on until then. Readers on any thread. */
void worker_set_all(worker_t *ws, unsigned n);
unsigned worker_count(void);
worker_t *worker_at(unsigned i);   /* NULL when i >= worker_count() */
int worker_is_one(const worker_t *w); /* w is one of them */
/* The worker whose loop thread calls, NULL on any other thread. */
worker_t *worker_current(void);
/* The calling thread runs w's loop itself, without worker_start() (a test
 * harness driving ev_run): worker_current() answers w on it. */
void worker_claim_thread(worker_t *w);
/* Whether w's thread is done with its loop for good (any thread). */
int worker_ended(const worker_t *w);

/* Loop thread only. */
const char *worker_date(worker_t *w);
char *worker_buf_get(worker_t *w);
void worker_buf_put(worker_t *w, char *buf);
pool_t *worker_pool_get(worker_t *w);
void worker_pool_put(worker_t *w, pool_t *p);
void worker_conn_closed(worker_t *w, struct conn *c);
/* A number for the next request's id, unique in this server's run. */
uint64_t worker_next_request_id(worker_t *w);
size_t worker_buf_size(const worker_t *w);
/* Serves fd (connected, non-blocking; ownership passes to w) as a
 * connection from peer, exactly as an accepted one: on_accept's path, and
 * the fuzz harness's way in. local: the listener's local address for
 * every connection (listener_t.local), or NULL or "" to ask the kernel
 * when a plugin wants it. Returns 0, or -1 when out of memory or refused
 * by max_connections_per_address (fd is then closed). The connection may
 * already be closed on return. */
int worker_adopt(worker_t *w, int fd, const struct sockaddr *peer, socklen_t peerlen, const cfg_listen_t *cl,
                 const char *local);
/* Frees node (see worker_later_t) after the current batch. */
void worker_free_later(worker_t *w, worker_later_t *node);

#endif
