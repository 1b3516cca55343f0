/*
 * Fixture: a streamed-body content handler (PH_PLUGIN_STREAM_BODY).
 * handle() returns PH_PENDING; on_body() hashes every piece with SHA-256
 * and counts pieces and bytes; with the last piece it answers
 *   "len=N pieces=P pauses=Q early=E sha256=HEX\n"
 * and resumes. early counts pieces delivered while the body was paused
 * (must be 0). With the query "now", handle() answers "sink: not
 * reading\n" at once instead (the body is then never read); with "fail",
 * on_body() refuses the first piece with PH_ERROR (a 500); with "early",
 * on_body() answers "sink: early\n" and resumes at the first piece (the
 * rest of the body is not the plugin's any more).
 *
 * Route keys:
 *   pause_every = SIZE  pause the body after each SIZE bytes (0: never)
 *   pause_for = DURATION  how long; a thread of the plugin's posts the
 *                       body_resume() to the request's loop (run_on)
 *   trace = BOOL        log "sink: first piece, N bytes" per request
 *   direct = BOOL       the thread calls body_resume() itself instead of
 *                       posting it (breaks the loop-thread-only rule, for
 *                       a test that the core refuses it)
 *
 * on_cancel (the client left mid-body) resumes with PH_ERROR and logs
 * "sink: on_cancel after N bytes, resume returned PH_OK|PH_ERROR".
 *
 * The hooks get no per-request slot, so the per-request state is found
 * through a small list keyed by the request, under the instance's lock;
 * on_cleanup removes it.
 */
#include <plughttpd/plugin.h>

#include "fx_threads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sha256.h"

/* --- the plugin ---------------------------------------------------------- */
typedef struct sink_req sink_req_t;

typedef struct sink {
    const ph_server_api_t *api;
    uint64_t pause_every;
    uint64_t pause_for;
    int trace;
    int direct;
    pthread_mutex_t lock;
    sink_req_t *reqs; /* requests between handle() and their cleanup */
    fx_threads_t threads;
} sink_t;

struct sink_req {
    sink_t *s;
    ph_request_t *req;
    sink_req_t *next;
    sha256_t sha;
    uint64_t pieces, pauses, early, since_pause;
    int paused;
    int resumed; /* resume() called: by the last piece or on_cancel */
    int fail;    /* query "fail": refuse the first piece with PH_ERROR */
    int answer_early; /* query "early": answer and resume at the first piece */
};

static int sink_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    sink_t *s = calloc(1, sizeof(*s));
    if (!s) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    s->api = args->api;
    s->pause_for = 20;
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        int ok = strcmp(k, "pause_every") == 0 ? args->api->parse_size(v, &s->pause_every)
                 : strcmp(k, "pause_for") == 0 ? args->api->parse_duration(v, &s->pause_for)
                 : strcmp(k, "trace") == 0     ? args->api->parse_bool(v, &s->trace)
                 : strcmp(k, "direct") == 0    ? args->api->parse_bool(v, &s->direct)
                                               : PH_ERROR;
        if (ok != PH_OK) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "bad or unknown key \"%s\"", k);
            free(s);
            return PH_ERROR;
        }
    }
    pthread_mutex_init(&s->lock, NULL);
    fx_threads_init(&s->threads);
    *instance = s;
    return PH_OK;
}

static void sink_destroy(void *instance)
{
    sink_t *s = instance;
    fx_join_all(&s->threads);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Caller holds s->lock. */
static sink_req_t *sink_find(sink_t *s, const ph_request_t *req)
{
    for (sink_req_t *r = s->reqs; r; r = r->next)
        if (r->req == req)
            return r;
    return NULL;
}

static void sink_cleanup(void *arg)
{
    sink_req_t *r = arg;
    sink_t *s = r->s;
    pthread_mutex_lock(&s->lock);
    for (sink_req_t **pp = &s->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(r);
}

static int sink_handle(void *instance, ph_request_t *req)
{
    sink_t *s = instance;
    ph_str_t q = s->api->query(req);
    if (q.ptr && q.len == 3 && memcmp(q.ptr, "now", 3) == 0)
        return s->api->body_append(req, "sink: not reading\n", 18);
    sink_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return PH_ERROR;
    r->s = s;
    r->req = req;
    r->fail = q.ptr && q.len == 4 && memcmp(q.ptr, "fail", 4) == 0;
    r->answer_early = q.ptr && q.len == 5 && memcmp(q.ptr, "early", 5) == 0;
    sha256_init(&r->sha);
    if (s->api->on_cleanup(req, sink_cleanup, r) != PH_OK) {
        free(r);
        return PH_ERROR;
    }
    pthread_mutex_lock(&s->lock);
    r->next = s->reqs;
    s->reqs = r;
    pthread_mutex_unlock(&s->lock);
    return PH_PENDING;
}

/* On the request's loop: restart the body, unless the request ended. */
typedef struct sink_wake {
    sink_t *s;
    ph_request_t *req;
} sink_wake_t;

static void sink_resume_task(void *arg)
{
    sink_wake_t *w = arg;
    pthread_mutex_lock(&w->s->lock);
    sink_req_t *r = sink_find(w->s, w->req);
    int go = r && r->paused;
    if (go)
        r->paused = 0;
    pthread_mutex_unlock(&w->s->lock);
    /* Outside the lock: body_resume() may deliver the next piece at once.
     * The request cannot end meanwhile: it ends on this (its loop) thread. */
    if (go && w->s->api->body_resume(w->req) != PH_OK)
        w->s->api->log(PH_LOG_ERROR, "sink: body_resume failed");
    free(w);
}

static void *sink_timer_thread(void *arg)
{
    sink_wake_t *w = arg;
    uint64_t ms = w->s->pause_for;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    /* The loop is asked under the lock, so the request cannot end between
     * the lookup and loop_of(). */
    if (w->s->direct) {
        sink_resume_task(w);
        return NULL;
    }
    pthread_mutex_lock(&w->s->lock);
    ph_loop_t *loop = sink_find(w->s, w->req) ? w->s->api->loop_of(w->req) : NULL;
    pthread_mutex_unlock(&w->s->lock);
    if (!loop || w->s->api->run_on(loop, sink_resume_task, w) != PH_OK) {
        w->s->api->log(PH_LOG_ERROR, "sink: cannot post body_resume");
        free(w);
    }
    return NULL;
}

/* On the loop thread, outside s->lock (body_pause() might call back). */
static int sink_pause(sink_t *s, ph_request_t *req)
{
    sink_wake_t *w = malloc(sizeof(*w));
    if (!w)
        return PH_ERROR;
    w->s = s;
    w->req = req;
    if (s->api->body_pause(req) != PH_OK) {
        s->api->log(PH_LOG_ERROR, "sink: body_pause failed");
        free(w);
        return PH_ERROR;
    }
    if (fx_spawn(&w->s->threads, sink_timer_thread, w) != 0) {
        free(w);
        return PH_ERROR;
    }
    return PH_OK;
}

static int sink_body(void *instance, ph_request_t *req, const void *data, size_t len, int last)
{
    sink_t *s = instance;
    pthread_mutex_lock(&s->lock);
    sink_req_t *r = sink_find(s, req);
    if (!r || r->resumed) {
        pthread_mutex_unlock(&s->lock);
        s->api->log(PH_LOG_ERROR, "sink: on_body for a request %s", r ? "already resumed" : "unknown");
        return PH_ERROR;
    }
    if (r->fail) {
        /* PH_ERROR stands for resume(): the request is not ours any more */
        r->resumed = 1;
        pthread_mutex_unlock(&s->lock);
        s->api->log(PH_LOG_INFO, "sink: refusing the body with PH_ERROR");
        return PH_ERROR;
    }
    if (r->answer_early) {
        r->resumed = 1;
        pthread_mutex_unlock(&s->lock);
        s->api->body_append(req, "sink: early\n", 12);
        s->api->resume(req, PH_OK);
        return PH_OK;
    }
    if (r->paused)
        r->early++;
    sha256_update(&r->sha, data, len);
    r->pieces++;
    if (s->trace && r->pieces == 1)
        s->api->log(PH_LOG_INFO, "sink: first piece, %zu bytes", len);
    r->since_pause += len;
    int pause = !last && s->pause_every && r->since_pause >= s->pause_every;
    if (pause) {
        r->since_pause = 0;
        r->paused = 1;
        r->pauses++;
    }
    if (last)
        r->resumed = 1;
    pthread_mutex_unlock(&s->lock);
    int rc = pause ? sink_pause(s, req) : PH_OK;
    if (rc != PH_OK || !last)
        return rc;
    char hex[65];
    uint64_t total = r->sha.len;
    sha256_hex(&r->sha, hex);
    s->api->add_header(req, "Content-Type", "text/plain");
    s->api->body_printf(req, "len=%llu pieces=%llu pauses=%llu early=%llu sha256=%s\n",
                        (unsigned long long)total, (unsigned long long)r->pieces,
                        (unsigned long long)r->pauses, (unsigned long long)r->early, hex);
    if (s->api->resume(req, PH_OK) != PH_OK)
        s->api->log(PH_LOG_INFO, "sink: resume returned PH_ERROR");
    return PH_OK;
}

/* The client left mid-body: resume as promised; the answer is not sent. */
static void sink_cancel(void *instance, ph_request_t *req)
{
    sink_t *s = instance;
    pthread_mutex_lock(&s->lock);
    sink_req_t *r = sink_find(s, req);
    int mine = r && !r->resumed;
    uint64_t got = r ? r->sha.len : 0;
    if (mine)
        r->resumed = 1;
    pthread_mutex_unlock(&s->lock);
    if (!mine) {
        s->api->log(PH_LOG_INFO, "sink: on_cancel after resume");
        return;
    }
    int rc = s->api->resume(req, PH_ERROR);
    s->api->log(PH_LOG_INFO, "sink: on_cancel after %llu bytes, resume returned %s", (unsigned long long)got,
                rc == PH_OK ? "PH_OK" : "PH_ERROR");
}

static const ph_hooks_t sink_hooks = {sizeof(ph_hooks_t), .on_body = sink_body, .on_cancel = sink_cancel};

PH_PLUGIN_DEFINE_HOOKS("sink", "1.0", PH_PLUGIN_STREAM_BODY, sink_create, sink_handle, sink_destroy,
                       &sink_hooks);
