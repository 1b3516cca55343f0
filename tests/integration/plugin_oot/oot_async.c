/*
 * oot_async: answers later, from a thread of its own (ABI 1.3), built out
 * of tree like hello.c (see Makefile here and plughttpd-plugin(3)).
 *
 * Route keys:
 *   mode = answer   handle() returns PH_PENDING; DELAY later the plugin's
 *                   thread answers "async SUBPATH after DELAY ms\n" and
 *                   calls api->resume() (the default)
 *   mode = stream   a streamed body "tick 1\n" ... "tick TICKS\n", one line
 *                   every DELAY: the stream returns PH_STREAM_WAIT until the
 *                   thread releases the next line with api->stream_wake(),
 *                   and ends with the trailer "X-Ticks: TICKS"
 *   delay = 100ms   0 to 60s
 *   ticks = 3       stream mode: 1 to 1000 lines
 *
 * One thread per instance and process, started by hooks->process_init and
 * stopped by hooks->process_exit: the master of worker processes and a
 * configuration check (PH_CREATE_CHECK) start none. Work waits in a list
 * under the instance's lock; the thread sleeps until the earliest job is
 * due.
 */
#include <plughttpd/plugin.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ASYNC_MAX_DELAY_MS 60000u
#define ASYNC_MAX_TICKS 1000u

typedef struct async async_t;

/* One request's work. An answer job is the thread's once queued (it frees
 * it after resume()); a stream job is the request's (its on_cleanup frees
 * it) and only borrowed by the thread while queued. */
typedef struct async_job {
    struct async_job *next;
    async_t *a;
    ph_request_t *req;
    uint64_t due_ms;  /* CLOCK_MONOTONIC */
    int stream;       /* 1: release ticks; 0: answer once */
    int queued;       /* in a->jobs (under a->lock) */
    unsigned ready;   /* ticks released by the thread (under a->lock) */
    unsigned sent;    /* ticks written by the stream (loop thread only) */
} async_job_t;

/* Keys are read-only after create(); the rest is under lock. */
struct async {
    const ph_server_api_t *api;
    int stream;
    uint64_t delay_ms;
    unsigned ticks;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* jobs changed, or stopping */
    async_job_t *jobs;
    int stopping;
    int running; /* the thread exists (process_init succeeded) */
    pthread_t thread;
};

static uint64_t async_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The millisecond at or after now: a delay counted from it is never cut
 * short by the part of a millisecond already gone. */
static uint64_t async_now_ms_up(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + ((uint64_t)ts.tv_nsec + 999999u) / 1000000u;
}

/* --- create / destroy ---------------------------------------------------- */

static int async_refuse(ph_error_t *err, int key, const char *what, const char *value)
{
    err->key = key;
    snprintf(err->msg, sizeof(err->msg), "%s \"%s\"", what, value);
    return PH_ERROR;
}

static int async_keys(async_t *a, const ph_create_args_t *args, ph_error_t *err)
{
    const ph_server_api_t *api = args->api;
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        uint64_t n;
        if (strcmp(k, "mode") == 0) {
            if (strcmp(v, "answer") != 0 && strcmp(v, "stream") != 0)
                return async_refuse(err, (int)i, "mode is answer or stream, not", v);
            a->stream = strcmp(v, "stream") == 0;
        } else if (strcmp(k, "delay") == 0) {
            if (api->parse_duration(v, &n) != PH_OK || n > ASYNC_MAX_DELAY_MS)
                return async_refuse(err, (int)i, "delay is a duration up to 60s, not", v);
            a->delay_ms = n;
        } else if (strcmp(k, "ticks") == 0) {
            char *end;
            unsigned long t = strtoul(v, &end, 10);
            if (v[0] < '0' || v[0] > '9' || *end != '\0' || t < 1 || t > ASYNC_MAX_TICKS)
                return async_refuse(err, (int)i, "ticks is a count from 1 to 1000, not", v);
            a->ticks = (unsigned)t;
        } else {
            return async_refuse(err, (int)i, "unknown key", k);
        }
    }
    return PH_OK;
}

static int async_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    async_t *a = calloc(1, sizeof(*a));
    pthread_condattr_t ca;
    if (!a) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    a->api = args->api;
    a->delay_ms = 100;
    a->ticks = 3;
    if (async_keys(a, args, err) != PH_OK) {
        free(a);
        return PH_ERROR;
    }
    /* The thread sleeps on the monotonic clock: a change of the wall clock
     * must not stretch or cut a delay. */
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&a->cond, &ca) != 0) {
        free(a);
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "cannot set up a condition variable");
        return PH_ERROR;
    }
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&a->lock, NULL);
    *instance = a;
    return PH_OK;
}

static void async_destroy(void *instance)
{
    async_t *a = instance;
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* --- the thread ------------------------------------------------------------ */

static void async_unlink(async_t *a, async_job_t *job)
{
    for (async_job_t **p = &a->jobs; *p; p = &(*p)->next) {
        if (*p == job) {
            *p = job->next;
            job->queued = 0;
            return;
        }
    }
}

static async_job_t *async_earliest(const async_t *a)
{
    async_job_t *best = NULL;
    for (async_job_t *j = a->jobs; j; j = j->next)
        if (!best || j->due_ms < best->due_ms)
            best = j;
    return best;
}

/* Builds the answer and hands the request back. Between PH_PENDING and
 * resume() the response is this thread's; after resume() req is not. */
static void async_answer(async_t *a, async_job_t *job)
{
    const ph_server_api_t *api = a->api;
    ph_request_t *req = job->req;
    int rc = PH_OK;
    if (!api->cancelled(req)) {
        ph_str_t sub = api->subpath(req);
        if (api->add_header(req, "Content-Type", "text/plain; charset=utf-8") != PH_OK ||
            api->body_printf(req, "async %.*s after %llu ms\n", (int)sub.len, sub.ptr,
                             (unsigned long long)a->delay_ms) != PH_OK)
            rc = PH_ERROR;
    }
    api->resume(req, rc); /* exactly once, cancelled or not */
    free(job);
}

/* Releases one tick of a stream. Under a->lock, which the stream's cleanup
 * also takes, so req is alive while the job is queued. */
static void async_tick(async_t *a, async_job_t *job, int all)
{
    job->ready = all ? a->ticks : job->ready + 1;
    a->api->stream_wake(job->req);
    if (job->ready >= a->ticks)
        async_unlink(a, job);
    else
        job->due_ms += a->delay_ms;
}

static void async_wait_until(async_t *a, uint64_t due_ms)
{
    struct timespec ts = {(time_t)(due_ms / 1000u), (long)(due_ms % 1000u) * 1000000L};
    pthread_cond_timedwait(&a->cond, &a->lock, &ts);
}

static void *async_thread(void *arg)
{
    async_t *a = arg;
    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        async_job_t *job = async_earliest(a);
        if (!job) {
            pthread_cond_wait(&a->cond, &a->lock);
        } else if (job->due_ms > async_now_ms()) {
            async_wait_until(a, job->due_ms);
        } else if (job->stream) {
            async_tick(a, job, 0);
        } else {
            async_unlink(a, job);
            pthread_mutex_unlock(&a->lock);
            async_answer(a, job);
            pthread_mutex_lock(&a->lock);
        }
    }
    /* Stopping: nothing may be left waiting on this thread. Pending
     * answers are given now; streams get all their ticks at once. */
    while (a->jobs) {
        async_job_t *job = a->jobs;
        if (job->stream) {
            async_tick(a, job, 1);
        } else {
            async_unlink(a, job);
            pthread_mutex_unlock(&a->lock);
            async_answer(a, job);
            pthread_mutex_lock(&a->lock);
        }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static int async_process_init(void *instance, unsigned index)
{
    async_t *a = instance;
    (void)index;
    pthread_mutex_lock(&a->lock);
    a->stopping = 0;
    a->running = pthread_create(&a->thread, NULL, async_thread, a) == 0;
    pthread_mutex_unlock(&a->lock);
    if (!a->running) {
        a->api->log(PH_LOG_ERROR, "oot_async: cannot start its thread");
        return PH_ERROR;
    }
    return PH_OK;
}

static void async_process_exit(void *instance, unsigned index)
{
    async_t *a = instance;
    (void)index;
    if (!a->running)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = 1;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    pthread_mutex_lock(&a->lock);
    a->running = 0;
    pthread_mutex_unlock(&a->lock);
}

/* --- requests ---------------------------------------------------------------- */

/* Hands job to the thread; PH_ERROR when no thread takes jobs (process_init
 * did not run, or process_exit has begun), so none is left waiting. */
static int async_enqueue(async_t *a, async_job_t *job)
{
    int rc = PH_ERROR;
    job->due_ms = async_now_ms_up() + a->delay_ms;
    pthread_mutex_lock(&a->lock);
    if (a->running && !a->stopping) {
        job->next = a->jobs;
        a->jobs = job;
        job->queued = 1;
        pthread_cond_signal(&a->cond);
        rc = PH_OK;
    }
    pthread_mutex_unlock(&a->lock);
    if (rc != PH_OK)
        a->api->log(PH_LOG_ERROR, "oot_async: its thread is not running");
    return rc;
}

/* The stream's function: loop thread, never blocks. */
static ssize_t async_read(void *arg, void *buf, size_t cap)
{
    async_job_t *job = arg;
    async_t *a = job->a;
    const ph_server_api_t *api = a->api;
    pthread_mutex_lock(&a->lock);
    unsigned ready = job->ready;
    pthread_mutex_unlock(&a->lock);
    if (job->sent < ready) {
        int n = snprintf(buf, cap, "tick %u\n", job->sent + 1);
        if (n < 0 || (size_t)n >= cap)
            return PH_ERROR;
        job->sent++;
        return n;
    }
    if (job->sent < a->ticks)
        return PH_STREAM_WAIT; /* async_tick() wakes us */
    char count[16];
    snprintf(count, sizeof(count), "%u", a->ticks);
    if (api->add_trailer(job->req, "X-Ticks", count) != PH_OK)
        return PH_ERROR;
    return 0;
}

/* The request ended: the thread must not wake it any more. */
static void async_stream_cleanup(void *arg)
{
    async_job_t *job = arg;
    async_t *a = job->a;
    pthread_mutex_lock(&a->lock);
    if (job->queued)
        async_unlink(a, job);
    pthread_mutex_unlock(&a->lock);
    free(job);
}

static int async_handle(void *instance, ph_request_t *req)
{
    async_t *a = instance;
    const ph_server_api_t *api = a->api;
    async_job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return PH_ERROR;
    job->a = a;
    job->req = req;
    job->stream = a->stream;
    if (!job->stream) {
        if (async_enqueue(a, job) != PH_OK) {
            free(job);
            return PH_ERROR;
        }
        return PH_PENDING; /* job is the thread's now */
    }
    if (api->on_cleanup(req, async_stream_cleanup, job) != PH_OK) {
        free(job);
        return PH_ERROR;
    }
    if (api->add_header(req, "Content-Type", "text/plain; charset=utf-8") != PH_OK ||
        api->body_stream(req, async_read, job) != PH_OK)
        return PH_ERROR; /* the cleanup frees job */
    return async_enqueue(a, job);
}

/* The client is gone, timed out or the server stops: a pending answer is
 * given at once (resume() as promised; it will not be sent). A stream
 * needs nothing: its request ends and the cleanup unqueues it. */
static void async_cancel(void *instance, ph_request_t *req)
{
    async_t *a = instance;
    pthread_mutex_lock(&a->lock);
    for (async_job_t *j = a->jobs; j; j = j->next)
        if (j->req == req && !j->stream)
            j->due_ms = 0;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

static const ph_hooks_t async_hooks = {
    .size = sizeof(ph_hooks_t),
    .on_cancel = async_cancel,
    .process_init = async_process_init,
    .process_exit = async_process_exit,
};

PH_PLUGIN_DEFINE_HOOKS("oot_async", "1.0", 0, async_create, async_handle, async_destroy, &async_hooks);
