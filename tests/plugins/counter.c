/*
 * Example "counter" (ABI 1.6 shared zones; installed with the documentation
 * as examples/counter.c, and a test fixture): counts the requests of every
 * worker process in one shared zone and answers
 * "count N process P pid PID\n" (N including this request, P the worker
 * process index). It is the example of api->zone: the zone is asked for in
 * every create(), the check too, so the master makes it before forking.
 *
 * Route keys:
 *   zone = NAME      the zone (default "counter")
 *   size = BYTES     its size (default 4096): another size, another zone
 *   hold = yes       a request whose path ends in "/hold" takes the lock,
 *                    logs "counter: holding the lock pid PID" and sleeps
 *                    60 s holding it, so a test can kill the process with
 *                    the lock held
 * A request that took the lock from a dead holder logs
 * "counter: lock recovered".
 */
#include <plughttpd/plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct counter_data {
    uint64_t count;
} counter_data_t;

typedef struct counter {
    const ph_server_api_t *api;
    ph_zone_t *zone;
    counter_data_t *data; /* in the zone */
    int hold;
    unsigned process; /* from process_init */
} counter_t;

static int refuse(ph_error_t *err, int key, const char *msg)
{
    err->key = key;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return PH_ERROR;
}

static int counter_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    const ph_server_api_t *api = args->api;
    if (!PH_API_HAS(api, slab_free))
        return refuse(err, -1, "needs a server with ABI 1.6 (shared zones)");
    const char *name = "counter";
    uint64_t size = 4096;
    int hold = 0;
    for (size_t i = 0; i < args->nkeys; i++) {
        const ph_kv_t *kv = &args->keys[i];
        if (strcmp(kv->key, "zone") == 0)
            name = kv->value;
        else if (strcmp(kv->key, "size") == 0 && api->parse_size(kv->value, &size) == PH_OK)
            continue;
        else if (strcmp(kv->key, "hold") == 0 && api->parse_bool(kv->value, &hold) == PH_OK)
            continue;
        else
            return refuse(err, (int)i, "unknown key or bad value");
    }
    if (size < sizeof(counter_data_t))
        return refuse(err, -1, "size too small");
    /* every create(), the check too: the master makes the zone then */
    ph_zone_t *zone = api->zone(name, (size_t)size);
    if (zone == NULL)
        return refuse(err, -1, "no zone (see the log)");
    counter_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return refuse(err, -1, "out of memory");
    c->api = api;
    c->zone = zone;
    c->data = api->zone_data(zone);
    c->hold = hold;
    *instance = c;
    return PH_OK;
}

static int counter_process_init(void *instance, unsigned index)
{
    ((counter_t *)instance)->process = index;
    return PH_OK;
}

static int ends_with_hold(ph_str_t p) { return p.len >= 5 && memcmp(p.ptr + p.len - 5, "/hold", 5) == 0; }

static int counter_handle(void *instance, ph_request_t *req)
{
    counter_t *c = instance;
    const ph_server_api_t *api = c->api;
    int rc = api->zone_lock(c->zone);
    if (rc == PH_ERROR)
        return PH_ERROR;
    if (rc == PH_ZONE_RECOVERED) /* a count is one add: nothing half-done to repair */
        api->log(PH_LOG_WARN, "counter: lock recovered");
    if (c->hold && ends_with_hold(api->path(req))) {
        api->log(PH_LOG_INFO, "counter: holding the lock pid %ld", (long)getpid());
        sleep(60);
    }
    uint64_t n = ++c->data->count;
    api->zone_unlock(c->zone);
    api->set_header(req, "Content-Type", "text/plain");
    return api->body_printf(req, "count %llu process %u pid %ld\n", (unsigned long long)n, c->process,
                            (long)getpid());
}

static void counter_destroy(void *instance) { free(instance); }

static const ph_hooks_t hooks = {sizeof hooks, .process_init = counter_process_init};
PH_PLUGIN_DEFINE_HOOKS("counter", "1.0", 0, counter_create, counter_handle, counter_destroy, &hooks);
