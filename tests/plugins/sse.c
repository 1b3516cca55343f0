/*
 * Fixture: a response that waits (ABI 1.3 PH_STREAM_WAIT, stream_wake,
 * add_trailer). Each request gets a text/event-stream of "events" events,
 *   "data: NAME N\n\n" for N = 0 .. events-1,
 * produced by one thread of the instance, one event per stream every
 * "interval"; the stream's fn answers PH_STREAM_WAIT until the next one is
 * there. After the last event it adds the trailer "X-Events: <events>" and
 * ends.
 *
 * Route keys: events = N (default 3), interval = DURATION (default 50ms),
 * name = TEXT (default "-"), wake_at_end = BOOL (default no: the stream's
 * fn also calls stream_wake() when it ends, as a plugin that wakes after
 * every step would). Query "events=N" overrides events.
 *
 * Log lines: "sse NAME: on_cancel", "sse NAME: destroy".
 */
#include <plughttpd/plugin.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sse_stream sse_stream_t;

typedef struct sse {
    const ph_server_api_t *api;
    unsigned events;
    uint64_t interval_ms;
    char name[64];
    pthread_mutex_t lock; /* streams, and every wake (see stream_wake) */
    pthread_cond_t cond;
    sse_stream_t *streams;
    int started, stop;
    pthread_t thread;
    int wake_at_end;
} sse_t;

struct sse_stream {
    sse_t *s;
    ph_request_t *req;
    sse_stream_t *next;
    unsigned events;   /* to send in all */
    unsigned produced; /* made available by the producer thread */
    unsigned sent;     /* written by fn */
    size_t off;        /* bytes of event `sent` already written */
};

static int sse_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    sse_t *s = calloc(1, sizeof(*s));
    if (!s) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    s->api = args->api;
    s->events = 3;
    s->interval_ms = 50;
    strcpy(s->name, "-");
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        uint64_t n;
        int ok = PH_ERROR;
        if (strcmp(k, "events") == 0 && args->api->parse_size(v, &n) == PH_OK && n <= 100000)
            s->events = (unsigned)n, ok = PH_OK;
        else if (strcmp(k, "interval") == 0)
            ok = args->api->parse_duration(v, &s->interval_ms);
        else if (strcmp(k, "wake_at_end") == 0)
            ok = args->api->parse_bool(v, &s->wake_at_end);
        else if (strcmp(k, "name") == 0 && strlen(v) < sizeof(s->name))
            ok = (strcpy(s->name, v), PH_OK);
        if (ok != PH_OK) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "bad or unknown key \"%s\"", k);
            free(s);
            return PH_ERROR;
        }
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    *instance = s;
    return PH_OK;
}

/* One tick: every stream gets one more event, and a wake. */
static void *sse_producer(void *arg)
{
    sse_t *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(s->interval_ms / 1000);
        until.tv_nsec += (long)(s->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L)
            until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->cond, &s->lock, &until);
        if (s->stop)
            break;
        for (sse_stream_t *st = s->streams; st; st = st->next) {
            if (st->produced < st->events) {
                st->produced++;
                s->api->stream_wake(st->req);
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void sse_destroy(void *instance)
{
    sse_t *s = instance;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->cond);
    int started = s->started;
    pthread_mutex_unlock(&s->lock);
    if (started)
        pthread_join(s->thread, NULL);
    s->api->log(PH_LOG_INFO, "sse %s: destroy", s->name);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static ssize_t sse_read(void *arg, void *buf, size_t cap)
{
    sse_stream_t *st = arg;
    sse_t *s = st->s;
    pthread_mutex_lock(&s->lock);
    unsigned sent = st->sent, produced = st->produced;
    pthread_mutex_unlock(&s->lock);
    if (sent == st->events) {
        char n[16];
        snprintf(n, sizeof(n), "%u", st->events);
        if (s->api->add_trailer(st->req, "X-Events", n) != PH_OK)
            s->api->log(PH_LOG_ERROR, "sse %s: add_trailer failed", s->name);
        if (s->wake_at_end) /* before the cleanup: allowed */
            s->api->stream_wake(st->req);
        return 0;
    }
    if (sent == produced)
        return PH_STREAM_WAIT;
    char ev[128];
    int len = snprintf(ev, sizeof(ev), "data: %s %u\n\n", s->name, sent);
    size_t n = (size_t)len - st->off;
    if (n > cap)
        n = cap;
    memcpy(buf, ev + st->off, n);
    st->off += n;
    if (st->off == (size_t)len) {
        st->off = 0;
        pthread_mutex_lock(&s->lock);
        st->sent++;
        pthread_mutex_unlock(&s->lock);
    }
    return (ssize_t)n;
}

static void sse_cleanup(void *arg)
{
    sse_stream_t *st = arg;
    sse_t *s = st->s;
    pthread_mutex_lock(&s->lock);
    for (sse_stream_t **pp = &s->streams; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(st);
}

static int sse_handle(void *instance, ph_request_t *req)
{
    sse_t *s = instance;
    const ph_server_api_t *api = s->api;
    sse_stream_t *st = calloc(1, sizeof(*st));
    if (!st)
        return PH_ERROR;
    st->s = s;
    st->req = req;
    st->events = s->events;
    ph_str_t q = api->query(req);
    if (q.ptr && q.len > 7 && q.len < 14 && memcmp(q.ptr, "events=", 7) == 0) {
        char num[8];
        memcpy(num, q.ptr + 7, q.len - 7);
        num[q.len - 7] = '\0';
        st->events = (unsigned)strtoul(num, NULL, 10);
    }
    if (api->on_cleanup(req, sse_cleanup, st) != PH_OK) {
        free(st);
        return PH_ERROR;
    }
    if (api->add_header(req, "Content-Type", "text/event-stream") != PH_OK ||
        api->body_stream(req, sse_read, st) != PH_OK)
        return PH_ERROR;
    pthread_mutex_lock(&s->lock);
    st->next = s->streams;
    s->streams = st;
    int rc = 0;
    if (!s->started) {
        rc = pthread_create(&s->thread, NULL, sse_producer, s);
        s->started = rc == 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc == 0 ? PH_OK : PH_ERROR;
}

static void sse_cancel(void *instance, ph_request_t *req)
{
    sse_t *s = instance;
    (void)req;
    s->api->log(PH_LOG_INFO, "sse %s: on_cancel", s->name);
}

static const ph_hooks_t sse_hooks = {sizeof(ph_hooks_t), .on_cancel = sse_cancel};

PH_PLUGIN_DEFINE_HOOKS("sse", "1.0", 0, sse_create, sse_handle, sse_destroy, &sse_hooks);
