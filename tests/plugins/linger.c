/*
 * Fixture: a run_on() task that lingers in the plugin's own code after it
 * told the instance it is done, as any task's last instructions do (the
 * return path after an unlock), only much longer.
 *
 *   GET /x   answers "posted NAME\n"; a thread of the plugin waits for the
 *            route key after (default 300ms: long enough for a reload to
 *            move every loop to the next generation), then posts a task
 *            to loop 0; the task logs "linger NAME: task running", marks itself done
 *            (destroy() waits for that), then spins for the route key
 *            spin (default 300ms) in this library's code before returning,
 *            and logs "linger NAME: task returning".
 *
 * Route keys: spin = DURATION, after = DURATION, name = TEXT (default "-").
 * destroy() joins the thread, waits until no task is still counted, and
 * logs "linger NAME: destroy". One request per instance.
 */
#include <plughttpd/plugin.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct linger {
    const ph_server_api_t *api;
    uint64_t spin_ms, after_ms;
    pthread_t thread;
    int started;
    char name[64];
    unsigned queued; /* tasks posted and not yet done (atomic) */
} linger_t;

static int linger_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    linger_t *l = calloc(1, sizeof(*l));
    if (!l) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    l->api = args->api;
    l->spin_ms = 300;
    l->after_ms = 300;
    strcpy(l->name, "-");
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        int ok = PH_ERROR;
        if (strcmp(k, "spin") == 0)
            ok = args->api->parse_duration(v, &l->spin_ms);
        else if (strcmp(k, "after") == 0)
            ok = args->api->parse_duration(v, &l->after_ms);
        else if (strcmp(k, "name") == 0 && strlen(v) < sizeof(l->name))
            ok = (strcpy(l->name, v), PH_OK);
        if (ok != PH_OK) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "bad or unknown key \"%s\"", k);
            free(l);
            return PH_ERROR;
        }
    }
    *instance = l;
    return PH_OK;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Copies what it logs afterwards: the instance may be gone once done. */
static void linger_task(void *arg)
{
    linger_t *l = arg;
    const ph_server_api_t *api = l->api;
    char name[64];
    uint64_t spin = l->spin_ms;
    memcpy(name, l->name, sizeof(name));
    api->log(PH_LOG_INFO, "linger %s: task running", name);
    __atomic_sub_fetch(&l->queued, 1, __ATOMIC_ACQ_REL);
    uint64_t end = now_ms() + spin;
    while (now_ms() < end)
        ;
    api->log(PH_LOG_INFO, "linger %s: task returning", name);
}

static void *linger_poster(void *arg)
{
    linger_t *l = arg;
    struct timespec after = {(time_t)(l->after_ms / 1000), (long)(l->after_ms % 1000) * 1000000};
    nanosleep(&after, NULL);
    if (l->api->run_on(l->api->loop_at(0), linger_task, l) < 0) {
        l->api->log(PH_LOG_ERROR, "linger %s: run_on refused", l->name);
        __atomic_sub_fetch(&l->queued, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static int linger_handle(void *instance, ph_request_t *req)
{
    linger_t *l = instance;
    if (l->started)
        return PH_ERROR;
    __atomic_add_fetch(&l->queued, 1, __ATOMIC_ACQ_REL);
    if (pthread_create(&l->thread, NULL, linger_poster, l) != 0) {
        __atomic_sub_fetch(&l->queued, 1, __ATOMIC_ACQ_REL);
        return PH_ERROR;
    }
    l->started = 1;
    char out[80];
    int n = snprintf(out, sizeof(out), "posted %s\n", l->name);
    return l->api->body_append(req, out, (size_t)n);
}

static void linger_destroy(void *instance)
{
    linger_t *l = instance;
    struct timespec pause = {0, 1000000};
    if (l->started)
        pthread_join(l->thread, NULL);
    while (__atomic_load_n(&l->queued, __ATOMIC_ACQUIRE) != 0)
        nanosleep(&pause, NULL);
    l->api->log(PH_LOG_INFO, "linger %s: destroy", l->name);
    free(l);
}

PH_PLUGIN_DEFINE("linger", "1.0", 0, linger_create, linger_handle, linger_destroy);
