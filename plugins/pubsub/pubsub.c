/*
 * The pubsub plugin: the descriptor, the instance's life, and the routing
 * of a request to publishing, subscribing or channel statistics.
 *
 *   POST <prefix>/<channel>   publish the body           (pubsub_pub.c)
 *   GET  <prefix>/<channel>   Accept: text/event-stream  event stream
 *                             Accept: application/json   channel statistics
 *                             otherwise                  long poll (pubsub_sub.c)
 *   GET  <prefix>/            Accept: application/json   totals
 *
 * Channels live in the process, shared by its worker threads; see
 * pubsub_chan.h for the locking and pubsub_pub.h for the fan-out.
 */
#include "pubsub.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pubsub_http.h"
#include "pubsub_loop.h"
#include "pubsub_pub.h"
#include "pubsub_sub.h"

/* How long destroy() waits for delivery tasks still queued on the worker
 * threads (they run within a loop turn; this only bounds a stuck thread). */
#define PS_DESTROY_WAIT_S 5

uint64_t ps_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void ps_destroy(void *instance);

static int ps_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    const ph_server_api_t *api = args->api;
    err->key = -1;
    if (!PH_API_HAS(api, slot)) {
        snprintf(err->msg, sizeof err->msg, "this server is too old for the pubsub plugin (needs ABI 1.3)");
        return PH_ERROR;
    }
    ps_t *ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    ps->api = api;
    if (ps_conf_parse(&ps->conf, api, args->keys, args->nkeys, err) != PH_OK) {
        free(ps);
        return PH_ERROR;
    }
    ps->nloops = args->threads ? args->threads : 1;
    ps->prefix = strdup(args->prefix ? args->prefix : "");
    ps->loops = calloc(ps->nloops, sizeof *ps->loops);
    if (ps->prefix == NULL || ps->loops == NULL ||
        ps_hub_init(&ps->hub, ps->nloops, ps->conf.buffer, ps->conf.buffer_bytes, ps->conf.max_channels) < 0) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        ps_destroy(ps);
        return PH_ERROR;
    }
    for (unsigned i = 0; i < ps->nloops; i++)
        ps->loops[i] = (ps_loop_t){.ps = ps, .idx = i};
    *instance = ps;
    return PH_OK;
}

static void ps_destroy(void *instance)
{
    ps_t *ps = instance;
    if (ps->hub.table) {
        /* Every request of the instance has ended, but a delivery task a
         * publish posted may still be queued on a thread: wait for it, as
         * it touches the hub. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += PS_DESTROY_WAIT_S;
        pthread_mutex_lock(&ps->hub.lock);
        int rc = 0;
        while (ps->hub.tasks && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&ps->hub.idle, &ps->hub.lock, &until);
        unsigned left = ps->hub.tasks;
        pthread_mutex_unlock(&ps->hub.lock);
        if (left) {
            /* a worker thread is stuck: freeing under its task would be
             * worse than this leak */
            ps->api->log(PH_LOG_ERROR, "pubsub %s: %u delivery task(s) never ran; channels not freed", ps->prefix,
                         left);
            return;
        }
        ps_hub_free(&ps->hub);
    }
    free(ps->loops);
    free(ps->prefix);
    free(ps);
}

/* The totals: channels, subscribers, and subscribers per worker thread
 * (how the connections spread). Hub lock held; at most cap bytes. */
static int ps_stats_totals(ps_t *ps, char *j, size_t cap)
{
    ps_hub_t *hub = &ps->hub;
    size_t n = (size_t)snprintf(j, cap, "{\"channels\":%u,\"subscribers\":%u,\"threads\":[", hub->nchannels,
                                hub->nsubs);
    for (unsigned i = 0; i < ps->nloops && n < cap; i++) {
        unsigned count = 0;
        for (size_t b = 0; b < hub->nbuckets; b++)
            for (const ps_chan_t *ch = hub->table[b]; ch; ch = ch->next)
                count += ch->lanes[i].count;
        n += (size_t)snprintf(j + n, cap - n, "%s%u", i ? "," : "", count);
    }
    if (n < cap)
        n += (size_t)snprintf(j + n, cap - n, "]}\n");
    return n < cap ? (int)n : -1;
}

/* GET with Accept: application/json: a channel's numbers, or the totals. */
static int ps_stats(ps_t *ps, ph_request_t *req, ph_str_t name)
{
    char j[4096];
    int n;
    pthread_mutex_lock(&ps->hub.lock);
    if (name.len == 0) {
        n = ps_stats_totals(ps, j, sizeof j);
    } else {
        ps_chan_t *ch = ps_hub_find(&ps->hub, name.ptr, name.len);
        n = ch ? snprintf(j, sizeof j,
                          "{\"channel\":\"%.*s\",\"last_id\":%" PRIu64 ",\"oldest_id\":%" PRIu64
                          ",\"buffered\":%u,\"subscribers\":%u}\n",
                          (int)name.len, name.ptr, ch->last_id, ps_chan_oldest(ch), ch->count, ch->nsubs)
               : -2;
    }
    pthread_mutex_unlock(&ps->hub.lock);
    if (n == -2)
        return ps_http_error(ps->api, req, 404, "no such channel");
    if (n < 0)
        return ps_http_error(ps->api, req, 500, "statistics too long");
    return ps_http_json(ps->api, req, 200, j, (size_t)n);
}

/* GET on a channel: subscribe, in the form the client asks for. */
static int ps_subscribe(ps_t *ps, ph_request_t *req, ph_str_t name)
{
    const ph_server_api_t *api = ps->api;
    int idx = ps_loop_index(ps, req);
    if (idx < 0)
        return ps_http_busy(api, req, "this route is being replaced by a reload: retry");
    uint64_t after = 0;
    int has;
    if (ps_http_accepts(api, req, "text/event-stream")) {
        /* the header (an EventSource's reconnection) wins over the query */
        ph_str_t v;
        has = api->header(req, "Last-Event-ID", &v) ? ps_http_parse_id(v, &after) : 0;
        if (has == 0)
            has = ps_http_query_id(api->query(req), "last_event_id", &after);
        if (has < 0)
            return ps_http_error(api, req, 400, "Last-Event-ID must be a decimal event id");
        return ps_sub_sse(ps, req, (unsigned)idx, name, has, after);
    }
    has = ps_http_query_id(api->query(req), "after", &after);
    if (has < 0)
        return ps_http_error(api, req, 400, "after must be a decimal event id");
    return ps_sub_poll(ps, req, (unsigned)idx, name, has, after);
}

static int ps_handle(void *instance, ph_request_t *req)
{
    ps_t *ps = instance;
    const ph_server_api_t *api = ps->api;
    ph_str_t m = api->method(req), name = api->subpath(req);
    if (name.len && name.ptr[0] == '/')
        name.ptr++, name.len--;
    int get = m.len == 3 && memcmp(m.ptr, "GET", 3) == 0;
    int post = m.len == 4 && memcmp(m.ptr, "POST", 4) == 0;
    if (!get && !post) {
        ps_http_error(api, req, 405, "use GET to subscribe or POST to publish");
        return api->set_header(req, "Allow", "GET, POST");
    }
    int json = get && ps_http_accepts(api, req, "application/json") &&
               !ps_http_accepts(api, req, "text/event-stream");
    if (name.len == 0)
        return json ? ps_stats(ps, req, name)
                    : ps_http_error(api, req, 404, "no channel in the path: use PREFIX/CHANNEL");
    char why[96];
    if (ps_http_name_ok(name, ps->conf.name_max, why, sizeof why) != PH_OK)
        return ps_http_error(api, req, 400, why);
    if (post)
        return ps_pub_publish(ps, req, name);
    if (json)
        return ps_stats(ps, req, name);
    return ps_subscribe(ps, req, name);
}

static void ps_cancel(void *instance, ph_request_t *req) { ps_sub_cancel(instance, req); }
static int ps_thread_init(void *instance, unsigned index) { return ps_loop_init(instance, index); }
static void ps_thread_exit(void *instance, unsigned index) { ps_loop_exit(instance, index); }

/* A kept instance whose thread count changed would have threads without
 * a lane: build it anew instead. */
static int ps_reload_check(void *instance)
{
    ps_t *ps = instance;
    unsigned n = ps->api->loops();
    return n != 0 && n != ps->nloops;
}

static const ph_hooks_t ps_hooks = {
    .size = sizeof(ph_hooks_t),
    .on_cancel = ps_cancel,
    .thread_init = ps_thread_init,
    .thread_exit = ps_thread_exit,
    .reload_check = ps_reload_check,
};

/* JSON_ERRORS: the core's own errors on the route are JSON like ours. */
PH_PLUGIN_DEFINE_HOOKS("pubsub", "1.0", PH_PLUGIN_JSON_ERRORS, ps_create, ps_handle, ps_destroy, &ps_hooks);
