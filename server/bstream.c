#include "bstream.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_co.h"
#include "exchange.h"
#include "gen.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "worker.h"

typedef struct bstream {
    ph_request_t *req;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* room in q, the head under way, cancellation */
    char *q;               /* APICO_OUT_HIGH bytes: q[off..off+len) queued */
    size_t off, len;
    int64_t out_len;       /* announced length, -1: unknown */
    uint64_t sent;         /* bytes co_send() took */
    int head_done;         /* the loop answered co_respond() with head_rc */
    int head_rc;
    int cancelled;         /* the client left */
    int pulling;           /* the stream waits for bytes (PH_STREAM_WAIT) */
    int finished;          /* handle() returned rc (loop thread) */
    int rc;
} bstream_t;

static void bs_free(void *arg)
{
    bstream_t *b = arg;
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->q);
    free(b);
}

/* Whether the calling thread is req's blocking handler, built for this. */
static int caller_is_handler(const ph_request_t *req)
{
    return req != NULL && exchange_blocking_current() == req && req->route != NULL &&
           req->route->desc->abi_minor >= 8;
}

/* The stream's ph_read_fn (loop thread). */
static ssize_t bs_pull(void *arg, void *buf, size_t cap)
{
    bstream_t *b = arg;
    pthread_mutex_lock(&b->mu);
    if (b->len > 0) {
        size_t n = b->len < cap ? b->len : cap;
        memcpy(buf, b->q + b->off, n);
        b->off += n;
        b->len -= n;
        if (b->len == 0)
            b->off = 0;
        if (b->len < APICO_OUT_LOW)
            pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return (ssize_t)n;
    }
    if (!b->finished) {
        b->pulling = 1;
        pthread_mutex_unlock(&b->mu);
        return PH_STREAM_WAIT;
    }
    pthread_mutex_unlock(&b->mu);
    const ph_request_t *req = b->req;
    if (b->rc != PH_OK) {
        log_warn("blocking handler for \"%s\" returned %d after co_respond(): aborting the response",
                 req->path ? req->path : "", b->rc);
        return PH_ERROR;
    }
    if (b->out_len >= 0 && b->sent != (uint64_t)b->out_len && !req->hp.is_head) {
        log_warn("blocking handler for \"%s\" sent %llu of the %lld bytes it announced: aborting the response",
                 req->path ? req->path : "", (unsigned long long)b->sent, (long long)b->out_len);
        return PH_ERROR;
    }
    return 0;
}

/* Loop thread: sends the head co_respond() asked for. */
static void head_task(void *arg)
{
    bstream_t *b = arg;
    ph_request_t *req = b->req;
    int rc = 0;
    if (req->carrier == NULL || req->detached || __atomic_load_n(&req->cancelled, __ATOMIC_ACQUIRE))
        rc = -ECANCELED;
    else if (request_api.body_stream(req, bs_pull, b) != PH_OK)
        rc = -EINVAL;
    if (rc == 0) {
        req->stream_has_len = b->out_len >= 0;
        req->stream_len = b->out_len >= 0 ? (uint64_t)b->out_len : 0;
        exchange_co_respond(req);
        req->ops->ready(req);
    }
    pthread_mutex_lock(&b->mu);
    b->head_done = 1;
    b->head_rc = rc;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static bstream_t *bs_new(ph_request_t *req, int64_t length)
{
    bstream_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    pthread_condattr_t ca;
    b->q = malloc(APICO_OUT_HIGH);
    if (b->q == NULL || pthread_condattr_init(&ca) != 0) {
        free(b->q);
        free(b);
        return NULL;
    }
    /* timeouts are durations: immune to the wall clock being set */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->mu, NULL);
    b->req = req;
    b->out_len = length;
    return b;
}

int bstream_respond(ph_request_t *req, int64_t length)
{
    if (!caller_is_handler(req))
        return -EPERM;
    if (req->bs != NULL || req->upgraded || length < -1)
        return -EINVAL;
    if (__atomic_load_n(&req->cancelled, __ATOMIC_ACQUIRE))
        return -ECANCELED;
    bstream_t *b = bs_new(req, length);
    if (b == NULL)
        return -ENOMEM;
    /* the pool is the handler's until the head task runs */
    if (pool_cleanup_add(req->pool, bs_free, b) < 0) {
        bs_free(b);
        return -ENOMEM;
    }
    req->bs = b;
    if (worker_post_task(req->w, head_task, b) < 0) {
        b->head_rc = -ECANCELED; /* the loop has stopped */
        return b->head_rc;
    }
    pthread_mutex_lock(&b->mu);
    while (!b->head_done)
        pthread_cond_wait(&b->cv, &b->mu);
    int rc = b->head_rc;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static void deadline_of(struct timespec *ts, int64_t timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(timeout_ms / 1000);
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits for room in b->q (b->mu held): 0, or -ECANCELED, -ETIMEDOUT. */
static int wait_room(bstream_t *b, const struct timespec *deadline)
{
    while (b->len >= APICO_OUT_HIGH) {
        if (b->cancelled || __atomic_load_n(&b->req->cancelled, __ATOMIC_ACQUIRE))
            return -ECANCELED;
        int r = deadline ? pthread_cond_timedwait(&b->cv, &b->mu, deadline) : pthread_cond_wait(&b->cv, &b->mu);
        if (r == ETIMEDOUT && b->len >= APICO_OUT_HIGH)
            return -ETIMEDOUT;
    }
    return 0;
}

ssize_t bstream_send(ph_request_t *req, const void *data, size_t len, int64_t timeout_ms)
{
    if (!caller_is_handler(req))
        return -EPERM;
    bstream_t *b = req->bs;
    if (b == NULL || b->head_rc != 0 || (data == NULL && len > 0) || len > SSIZE_MAX)
        return -EINVAL;
    if (b->out_len >= 0 && b->sent + len > (uint64_t)b->out_len)
        return -EMSGSIZE;
    struct timespec deadline;
    if (timeout_ms > 0)
        deadline_of(&deadline, timeout_ms);
    size_t done = 0;
    int wake = 0, rc = 0;
    pthread_mutex_lock(&b->mu);
    while (done < len) {
        if (b->cancelled || __atomic_load_n(&req->cancelled, __ATOMIC_ACQUIRE)) {
            rc = -ECANCELED;
            break;
        }
        if (b->len >= APICO_OUT_HIGH) {
            if (timeout_ms == 0) {
                rc = -ETIMEDOUT;
                break;
            }
            if (wake) { /* let the loop take what is queued before waiting */
                pthread_mutex_unlock(&b->mu);
                request_api.stream_wake(req);
                wake = 0;
                pthread_mutex_lock(&b->mu);
            }
            if ((rc = wait_room(b, timeout_ms > 0 ? &deadline : NULL)) < 0)
                break;
            continue;
        }
        if (b->off > 0 && b->off + b->len >= APICO_OUT_HIGH) {
            memmove(b->q, b->q + b->off, b->len);
            b->off = 0;
        }
        size_t room = APICO_OUT_HIGH - b->off - b->len;
        size_t n = len - done < room ? len - done : room;
        memcpy(b->q + b->off + b->len, (const char *)data + done, n);
        b->len += n;
        b->sent += n;
        done += n;
        if (b->pulling) {
            b->pulling = 0;
            wake = 1;
        }
    }
    pthread_mutex_unlock(&b->mu);
    /* the job holds req: it cannot end before handle() returns */
    if (wake)
        request_api.stream_wake(req);
    return rc < 0 ? rc : (ssize_t)len;
}

void bstream_cancel(ph_request_t *req)
{
    bstream_t *b = req->bs;
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    b->cancelled = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

int bstream_finish(ph_request_t *req, int rc)
{
    bstream_t *b = req->bs;
    if (b == NULL || b->head_rc != 0)
        return 0;
    pthread_mutex_lock(&b->mu);
    b->finished = 1;
    b->rc = rc;
    pthread_mutex_unlock(&b->mu);
    return 1;
}
