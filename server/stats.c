#include "stats.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gen.h"

static const uint64_t bounds_us[PH_LATENCY_BUCKETS] = PH_LATENCY_BOUNDS_US;

/* A thread's counters for one route: 224 bytes, aligned to (and so
 * occupying) four cache lines of its own. The latency buckets are not cumulative
 * here (one addition per request); the reader adds them up. */
typedef struct stats_slot {
    uint64_t begun;
    uint64_t ended;
    uint64_t status[6];
    uint64_t bytes_out;
    uint64_t bytes_in;
    uint64_t latency[PH_LATENCY_BUCKETS + 1]; /* the last: slower than all */
    uint64_t latency_us_sum;
} __attribute__((aligned(64))) stats_slot_t;

typedef struct stats_route {
    unsigned nslots;     /* slot 0 is shared (atomic additions) */
    stats_slot_t slot[]; /* slot i >= 1: thread index i only */
} stats_route_t;

typedef struct conn_slot {
    uint64_t opened;
    uint64_t closed;
    uint64_t tls_ok;
    uint64_t tls_failed;
} __attribute__((aligned(64))) conn_slot_t;

/* A worker loop's lag probe: written by that worker's thread only. */
typedef struct lag_slot {
    uint64_t checks;
    uint64_t last_us;
    uint64_t max_us;
    uint64_t sum_us;
} __attribute__((aligned(64))) lag_slot_t;

/* Room for a few threads that are not worker threads (helper threads
 * ending a blocking request) before they share slot 0. */
#define EXTRA_SLOTS 4
/* Process-wide counters: connections, and requests no route matched. */
#define PROCESS_SLOTS 64

static conn_slot_t conns[PROCESS_SLOTS];
static stats_slot_t unrouted[PROCESS_SLOTS];
/* Worker i's probe is lags[i]; workers past PROCESS_SLOTS are not probed. */
static lag_slot_t lags[PROCESS_SLOTS];

/* Rare events, counted with plain atomic additions. */
static uint64_t blocking_rejected, blocking_timeouts;
static unsigned blocking_depth; /* the blocking pool counts into it */

/* Each thread's slot index, 1.., drawn at its first count. */
static __thread unsigned my_index __attribute__((tls_model("initial-exec")));
static unsigned next_index;

static unsigned long current_gen;
/* Reloads are the master's to count (or the one process's): in memory
 * its worker processes share (stats_share_reloads), so that a worker
 * reports a reload that failed after it was forked. */
static uint64_t own_reloads[2];
static uint64_t *reloads = &own_reloads[0], *reloads_failed = &own_reloads[1];
static unsigned nthreads;
static unsigned process_index;

static unsigned thread_index(void)
{
    if (my_index == 0)
        my_index = __atomic_add_fetch(&next_index, 1, __ATOMIC_RELAXED);
    return my_index;
}

/* Adds n to *c: a plain store for a slot only this thread writes, an
 * atomic addition for the shared one. Release: a reader that sees the
 * new value sees what this thread counted before it. */
static void add(uint64_t *c, uint64_t n, int shared)
{
    if (shared)
        __atomic_add_fetch(c, n, __ATOMIC_RELEASE);
    else
        __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELEASE);
}

static uint64_t get(const uint64_t *c) { return __atomic_load_n(c, __ATOMIC_ACQUIRE); }

void *stats_route_new(unsigned threads)
{
    unsigned n = threads + 1 + EXTRA_SLOTS;
    void *p = NULL;
    if (posix_memalign(&p, 64, sizeof(stats_route_t) + n * sizeof(stats_slot_t)) != 0)
        return NULL;
    stats_route_t *s = p;
    memset(s, 0, sizeof *s + n * sizeof(stats_slot_t));
    s->nslots = n;
    return s;
}

void stats_route_free(void *stats) { free(stats); }

/* The calling thread's slot among n, and whether it is the shared one. */
static stats_slot_t *slot_of(stats_slot_t *slots, unsigned n, int *shared)
{
    unsigned i = thread_index();
    *shared = i >= n;
    return &slots[*shared ? 0 : i];
}

static stats_slot_t *request_slot(const struct gen_route *r, int *shared)
{
    stats_route_t *s = r ? r->stats : NULL;
    if (s)
        return slot_of(s->slot, s->nslots, shared);
    return slot_of(unrouted, PROCESS_SLOTS, shared);
}

void stats_request_begin(const struct gen_route *r)
{
    int shared;
    stats_slot_t *sl = request_slot(r, &shared);
    add(&sl->begun, 1, shared);
}

/* The bucket of a request that took us microseconds: most requests are
 * fast, so a scan from the smallest bound ends early. */
static unsigned bucket_of(uint64_t us)
{
    unsigned b = 0;
    while (b < PH_LATENCY_BUCKETS && us > bounds_us[b])
        b++;
    return b;
}

void stats_request_end(const struct gen_route *r, const stats_end_t *e)
{
    int shared;
    stats_slot_t *sl = request_slot(r, &shared);
    int cls = e->status >= 100 && e->status <= 599 ? e->status / 100 : 0;
    add(&sl->status[cls], 1, shared);
    add(&sl->bytes_out, e->bytes_out, shared);
    add(&sl->bytes_in, e->bytes_in, shared);
    add(&sl->latency[bucket_of(e->us)], 1, shared);
    add(&sl->latency_us_sum, e->us, shared);
    add(&sl->ended, 1, shared); /* last: ended never runs ahead of the rest */
}

static conn_slot_t *conn_slot(int *shared)
{
    unsigned i = thread_index();
    *shared = i >= PROCESS_SLOTS;
    return &conns[*shared ? 0 : i];
}

void stats_conn_open(void)
{
    int shared;
    conn_slot_t *c = conn_slot(&shared);
    add(&c->opened, 1, shared);
}

void stats_conn_close(void)
{
    int shared;
    conn_slot_t *c = conn_slot(&shared);
    add(&c->closed, 1, shared);
}

void stats_tls_handshake(int ok)
{
    int shared;
    conn_slot_t *c = conn_slot(&shared);
    add(ok ? &c->tls_ok : &c->tls_failed, 1, shared);
}

void stats_loop_lag(unsigned worker, uint64_t us)
{
    if (worker >= PROCESS_SLOTS)
        return;
    lag_slot_t *l = &lags[worker];
    __atomic_store_n(&l->last_us, us, __ATOMIC_RELAXED);
    if (us > __atomic_load_n(&l->max_us, __ATOMIC_RELAXED))
        __atomic_store_n(&l->max_us, us, __ATOMIC_RELAXED);
    add(&l->sum_us, us, 0);
    add(&l->checks, 1, 0);
}

unsigned *stats_blocking_depth(void) { return &blocking_depth; }

void stats_blocking_rejected(void) { __atomic_add_fetch(&blocking_rejected, 1, __ATOMIC_RELAXED); }

void stats_blocking_timeout(void) { __atomic_add_fetch(&blocking_timeouts, 1, __ATOMIC_RELAXED); }

int stats_share_reloads(void)
{
    uint64_t *m = mmap(NULL, sizeof own_reloads, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    m[0] = *reloads;
    m[1] = *reloads_failed;
    reloads = &m[0];
    reloads_failed = &m[1];
    return 0;
}

void stats_generation_current(unsigned long id)
{
    unsigned long was = __atomic_load_n(&current_gen, __ATOMIC_RELAXED);
    if (was != 0 && was != id)
        __atomic_add_fetch(reloads, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&current_gen, id, __ATOMIC_RELEASE);
}

void stats_generation_adopt(unsigned long id) { __atomic_store_n(&current_gen, id, __ATOMIC_RELEASE); }

void stats_reload_failed(void) { __atomic_add_fetch(reloads_failed, 1, __ATOMIC_RELAXED); }

void stats_threads(unsigned n) { __atomic_store_n(&nthreads, n, __ATOMIC_RELAXED); }

void stats_process_index(unsigned i) { __atomic_store_n(&process_index, i, __ATOMIC_RELAXED); }

/* Sums n slots into out (route counters). ended is read before begun, so
 * a request counted as ended is counted as begun too. */
static void sum_slots(const stats_slot_t *slots, unsigned n, ph_route_info_t *out)
{
    uint64_t begun = 0, ended = 0;
    uint64_t le[PH_LATENCY_BUCKETS] = {0};
    for (unsigned i = 0; i < n; i++) {
        ended += get(&slots[i].ended);
        for (int c = 0; c < 6; c++)
            out->status[c] += get(&slots[i].status[c]);
        out->bytes_out += get(&slots[i].bytes_out);
        out->bytes_in += get(&slots[i].bytes_in);
        for (unsigned b = 0; b < PH_LATENCY_BUCKETS; b++)
            le[b] += get(&slots[i].latency[b]);
        out->latency_us_sum += get(&slots[i].latency_us_sum);
        begun += get(&slots[i].begun);
    }
    /* cumulative; and a bucket never above the count beside it, which
     * was read first (its slower requests may have ended since) */
    uint64_t acc = 0;
    for (unsigned b = 0; b < PH_LATENCY_BUCKETS; b++) {
        acc += le[b];
        out->latency_le[b] += acc < ended ? acc : ended;
    }
    out->requests += ended;
    /* a request may end on another thread than the one it began on */
    out->in_flight += begun > ended ? begun - ended : 0;
}

void stats_route_read(const struct gen_route *r, ph_route_info_t *out)
{
    const stats_route_t *s = r->stats;
    if (s)
        sum_slots(s->slot, s->nslots, out);
}

typedef struct server_sum {
    unsigned generations;
    uint64_t in_flight;
} server_sum_t;

static int sum_gen(const gen_t *g, void *arg)
{
    server_sum_t *sum = arg;
    sum->generations++;
    for (size_t i = 0; i < g->nroutes; i++) {
        ph_route_info_t ri;
        memset(&ri, 0, sizeof ri);
        stats_route_read(&g->routes[i], &ri);
        sum->in_flight += ri.in_flight;
    }
    return 0;
}

int stats_server_info(ph_server_info_t *out)
{
    /* the caller's struct may be an older, shorter one: its size says */
    if (out == NULL || out->size < offsetof(ph_server_info_t, generation))
        return PH_ERROR;
    size_t room = out->size < sizeof(ph_server_info_t) ? out->size : sizeof(ph_server_info_t);
    ph_server_info_t full;
    server_sum_t sum = {0, 0};
    unsigned long current = __atomic_load_n(&current_gen, __ATOMIC_ACQUIRE);
    gen_each(current, sum_gen, &sum);
    ph_route_info_t none;
    memset(&none, 0, sizeof none);
    sum_slots(unrouted, PROCESS_SLOTS, &none);
    uint64_t closed = 0, opened = 0;
    for (unsigned i = 0; i < PROCESS_SLOTS; i++) {
        closed += get(&conns[i].closed);
        opened += get(&conns[i].opened);
    }
    uint64_t tls_ok = 0, tls_failed = 0;
    for (unsigned i = 0; i < PROCESS_SLOTS; i++) {
        tls_ok += get(&conns[i].tls_ok);
        tls_failed += get(&conns[i].tls_failed);
    }
    memset(&full, 0, sizeof full);
    full.size = (uint32_t)room;
    full.generation = current;
    full.generations = sum.generations;
    full.process_index = __atomic_load_n(&process_index, __ATOMIC_RELAXED);
    full.threads = __atomic_load_n(&nthreads, __ATOMIC_RELAXED);
    full.connections = opened > closed ? opened - closed : 0;
    full.connections_total = opened;
    full.in_flight = sum.in_flight + none.in_flight;
    full.reloads = __atomic_load_n(reloads, __ATOMIC_RELAXED);
    full.reloads_failed = __atomic_load_n(reloads_failed, __ATOMIC_RELAXED);
    full.blocking_queued = __atomic_load_n(&blocking_depth, __ATOMIC_RELAXED);
    full.blocking_rejected = __atomic_load_n(&blocking_rejected, __ATOMIC_RELAXED);
    full.blocking_timeouts = __atomic_load_n(&blocking_timeouts, __ATOMIC_RELAXED);
    full.tls_handshakes = tls_ok;
    full.tls_handshakes_failed = tls_failed;
    memcpy(out, &full, room);
    return PH_OK;
}

typedef struct visit {
    ph_route_visit_fn fn;
    void *arg;
    unsigned long current;
} visit_t;

static int visit_gen(const gen_t *g, void *arg)
{
    visit_t *v = arg;
    for (size_t i = 0; i < g->nroutes; i++) {
        const gen_route_t *gr = &g->routes[i];
        ph_route_info_t ri;
        memset(&ri, 0, sizeof ri);
        ri.size = sizeof ri;
        ri.generation = g->id;
        ri.current = g->id == v->current;
        ri.prefix = gr->cfg->prefix;

        ri.plugins = gr->cfg->plugin;
        ri.file = gr->stage->path;
        ri.host = gr->cfg->host ? gr->cfg->host : "";
        stats_route_read(gr, &ri);
        int rc = v->fn(v->arg, &ri);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int stats_routes_visit(ph_route_visit_fn fn, void *arg)
{
    if (fn == NULL)
        return PH_ERROR;
    visit_t v = {fn, arg, __atomic_load_n(&current_gen, __ATOMIC_ACQUIRE)};
    return gen_each(v.current, visit_gen, &v);
}

int stats_worker_info(unsigned i, ph_worker_info_t *out)
{
    if (out == NULL || out->size < offsetof(ph_worker_info_t, lag_checks) ||
        i >= __atomic_load_n(&nthreads, __ATOMIC_RELAXED))
        return PH_ERROR;
    size_t room = out->size < sizeof(ph_worker_info_t) ? out->size : sizeof(ph_worker_info_t);
    ph_worker_info_t full;
    memset(&full, 0, sizeof full);
    full.size = (uint32_t)room;
    full.index = i;
    if (i < PROCESS_SLOTS) { /* the others are not probed: zeros */
        const lag_slot_t *l = &lags[i];
        full.lag_checks = get(&l->checks);
        full.lag_us_last = get(&l->last_us);
        full.lag_us_max = get(&l->max_us);
        full.lag_us_sum = get(&l->sum_us);
    }
    memcpy(out, &full, room);
    return PH_OK;
}

typedef struct gen_visit {
    ph_generation_visit_fn fn;
    void *arg;
    unsigned long current;
} gen_visit_t;

static int visit_generation(const gen_t *g, void *arg)
{
    gen_visit_t *v = arg;
    server_sum_t sum = {0, 0};
    sum_gen(g, &sum);
    ph_generation_info_t gi;
    memset(&gi, 0, sizeof gi);
    gi.size = sizeof gi;
    gi.id = g->id;
    gi.current = g->id == v->current;
    gi.in_flight = sum.in_flight;
    gi.files = (const char *const *)g->files;
    gi.nfiles = g->nfiles;
    return v->fn(v->arg, &gi);
}

int stats_generations_visit(ph_generation_visit_fn fn, void *arg)
{
    if (fn == NULL)
        return PH_ERROR;
    gen_visit_t v = {fn, arg, __atomic_load_n(&current_gen, __ATOMIC_ACQUIRE)};
    return gen_each(v.current, visit_generation, &v);
}
