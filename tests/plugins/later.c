/*
 * Fixture: asynchronous answers (ABI 1.3 PH_PENDING + resume).
 *
 *   GET /x?ms=N&tag=T  handle() returns PH_PENDING; a thread of the plugin
 *                      answers "later <name> N\n" after N ms (default: the
 *                      route key delay), or at once when on_cancel() tells
 *                      it the client no longer waits
 *   GET /x?now         answers "now\n" at once (no PH_PENDING)
 *   &rc=declined|error resume() with PH_DECLINED or PH_ERROR instead of
 *                      PH_OK (and no body)
 *
 * Route keys: delay = DURATION (default 200ms), name = TEXT (default "-",
 * echoed in the answer and the log so a test can tell instances apart).
 *
 * Log lines, for tests to wait on (T is the tag, "-" without one):
 *   "later NAME: pending tag=T"
 *   "later NAME: on_cancel tag=T"
 *   "later NAME: resume tag=T cancelled=C returned PH_OK|PH_ERROR"
 *   "later NAME: destroy"
 */
#include <plughttpd/plugin.h>

#include "fx_threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct later_job later_job_t;

typedef struct later {
    const ph_server_api_t *api;
    uint64_t delay_ms;
    char name[64];
    pthread_mutex_t lock;
    later_job_t *jobs; /* pending requests, for on_cancel */
    fx_threads_t threads;
} later_t;

struct later_job {
    later_t *l;
    ph_request_t *req;
    later_job_t *next;
    uint64_t ms;
    int rc;            /* what resume() hands back: query rc=declined|error */
    char tag[32];
    int cancel;        /* set by on_cancel, under l->lock */
    pthread_cond_t cond;
};

static int later_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    later_t *l = calloc(1, sizeof(*l));
    if (!l) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    l->api = args->api;
    l->delay_ms = 200;
    strcpy(l->name, "-");
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        int ok = PH_ERROR;
        if (strcmp(k, "delay") == 0)
            ok = args->api->parse_duration(v, &l->delay_ms);
        else if (strcmp(k, "name") == 0 && strlen(v) < sizeof(l->name))
            ok = (strcpy(l->name, v), PH_OK);
        if (ok != PH_OK) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "bad or unknown key \"%s\"", k);
            free(l);
            return PH_ERROR;
        }
    }
    pthread_mutex_init(&l->lock, NULL);
    fx_threads_init(&l->threads);
    *instance = l;
    return PH_OK;
}

static void later_destroy(void *instance)
{
    later_t *l = instance;
    fx_join_all(&l->threads);
    l->api->log(PH_LOG_INFO, "later %s: destroy", l->name);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Value of key in a query "a=1&b=2" (copied into out), or NULL. */
static const char *query_get(ph_str_t q, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key), i = 0;
    while (q.ptr && i < q.len) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        if (end - i > kl && memcmp(q.ptr + i, key, kl) == 0 && q.ptr[i + kl] == '=') {
            size_t n = end - i - kl - 1;
            if (n >= cap)
                n = cap - 1;
            memcpy(out, q.ptr + i + kl + 1, n);
            out[n] = '\0';
            return out;
        }
        i = end + 1;
    }
    return NULL;
}

static void *later_thread(void *arg)
{
    later_job_t *j = arg;
    later_t *l = j->l;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(j->ms / 1000);
    until.tv_nsec += (long)(j->ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->lock);
    while (!j->cancel && pthread_cond_timedwait(&j->cond, &l->lock, &until) != ETIMEDOUT)
        ;
    int cancel = j->cancel;
    for (later_job_t **pp = &l->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    pthread_mutex_unlock(&l->lock);
    /* The response is ours to build from this one thread until resume(). */
    if (!cancel && j->rc == PH_OK) {
        l->api->add_header(j->req, "Content-Type", "text/plain");
        l->api->body_printf(j->req, "later %s %llu\n", l->name, (unsigned long long)j->ms);
    }
    int c = l->api->cancelled(j->req);
    int rc = l->api->resume(j->req, j->rc);
    l->api->log(PH_LOG_INFO, "later %s: resume tag=%s cancelled=%d returned %s", l->name, j->tag, c,
                rc == PH_OK ? "PH_OK" : "PH_ERROR");
    pthread_cond_destroy(&j->cond);
    free(j);
    return NULL;
}

static int later_handle(void *instance, ph_request_t *req)
{
    later_t *l = instance;
    ph_str_t q = l->api->query(req);
    char buf[32];
    if (q.ptr && q.len == 3 && memcmp(q.ptr, "now", 3) == 0)
        return l->api->body_append(req, "now\n", 4);
    later_job_t *j = calloc(1, sizeof(*j));
    if (!j)
        return PH_ERROR;
    j->l = l;
    j->req = req;
    j->ms = query_get(q, "ms", buf, sizeof(buf)) ? strtoull(buf, NULL, 10) : l->delay_ms;
    if (j->ms > 60000)
        j->ms = 60000;
    j->rc = PH_OK;
    if (query_get(q, "rc", buf, sizeof(buf)))
        j->rc = strcmp(buf, "declined") == 0 ? PH_DECLINED : strcmp(buf, "error") == 0 ? PH_ERROR : PH_OK;
    if (!query_get(q, "tag", j->tag, sizeof(j->tag)))
        strcpy(j->tag, "-");
    pthread_cond_init(&j->cond, NULL);
    l->api->log(PH_LOG_INFO, "later %s: pending tag=%s", l->name, j->tag);
    pthread_mutex_lock(&l->lock);
    j->next = l->jobs;
    l->jobs = j;
    if (fx_spawn(&l->threads, later_thread, j) != 0) {
        l->jobs = j->next;
        pthread_mutex_unlock(&l->lock);
        pthread_cond_destroy(&j->cond);
        free(j);
        return PH_ERROR;
    }
    pthread_mutex_unlock(&l->lock);
    return PH_PENDING;
}

static void later_cancel(void *instance, ph_request_t *req)
{
    later_t *l = instance;
    pthread_mutex_lock(&l->lock);
    later_job_t *j = l->jobs;
    while (j && j->req != req)
        j = j->next;
    if (j) {
        j->cancel = 1;
        pthread_cond_signal(&j->cond);
        l->api->log(PH_LOG_INFO, "later %s: on_cancel tag=%s", l->name, j->tag);
    } else {
        l->api->log(PH_LOG_INFO, "later %s: on_cancel for a request no longer pending", l->name);
    }
    pthread_mutex_unlock(&l->lock);
}

static const ph_hooks_t later_hooks = {sizeof(ph_hooks_t), .on_cancel = later_cancel};

PH_PLUGIN_DEFINE_HOOKS("later", "1.0", 0, later_create, later_handle, later_destroy, &later_hooks);
