#include "pubsub_pub.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pubsub_http.h"
#include "pubsub_sub.h"

/* Drops what a delivery task held: the channel and the count destroy()
 * waits on. Nothing may touch the hub after the unlock: destroy() may free
 * it as soon as it sees the count at 0. */
static void ps_pub_task_done(ps_hub_t *hub, ps_chan_t *ch)
{
    pthread_mutex_lock(&hub->lock);
    ps_chan_unref(hub, ch);
    if (--hub->tasks == 0)
        pthread_cond_broadcast(&hub->idle);
    pthread_mutex_unlock(&hub->lock);
}

/* run_on task, on the lane's thread. */
static void ps_pub_task(void *arg)
{
    ps_lane_t *lane = arg;
    ps_chan_t *ch = lane->chan;
    ps_hub_t *hub = ch->hub;
    /* cleared before the wake-ups: a publish from now on posts a new task,
     * so no message can slip between the wake-up and the flag */
    pthread_mutex_lock(&hub->lock);
    lane->posted = 0;
    pthread_mutex_unlock(&hub->lock);
    ps_sub_deliver(lane);
    ps_pub_task_done(hub, ch);
}

/* A Content-Type kept for long polls: short, printable ASCII only, so
 * that set_header() never refuses it when the answer goes out (a refused
 * header would turn every poll answer for the message into a 500). */
static int ps_pub_type_ok(ph_str_t t)
{
    if (t.len == 0 || t.len > 255)
        return 0;
    for (size_t i = 0; i < t.len; i++)
        if ((unsigned char)t.ptr[i] < 0x20 || (unsigned char)t.ptr[i] > 0x7e)
            return 0;
    return 1;
}

int ps_pub_publish(ps_t *ps, ph_request_t *req, ph_str_t name)
{
    const ph_server_api_t *api = ps->api;
    ps_hub_t *hub = &ps->hub;
    ph_str_t body = api->body(req);
    if (body.len > ps->conf.message_max) {
        char why[96];
        snprintf(why, sizeof why, "message larger than %zu bytes (message_max)", ps->conf.message_max);
        return ps_http_error(api, req, 413, why);
    }
    ph_str_t type = {NULL, 0};
    if (!api->header(req, "Content-Type", &type) || !ps_pub_type_ok(type))
        type.len = 0;
    unsigned char *post = api->alloc(req, ps->nloops);
    ps_msg_t *msg = post ? ps_msg_new(body.ptr, body.len, type.ptr, type.len) : NULL;
    if (msg == NULL)
        return ps_http_busy(api, req, "out of memory");

    int full;
    pthread_mutex_lock(&hub->lock);
    ps_chan_t *ch = ps_hub_get(hub, name.ptr, name.len, ps_now_ms(), &full);
    if (ch == NULL) {
        pthread_mutex_unlock(&hub->lock);
        ps_msg_unref(msg);
        return ps_http_busy(api, req, full ? "too many channels: max_channels reached" : "out of memory");
    }
    ps_chan_put(ch, msg, ps_now_ms()); /* the ring has msg's reference now */
    uint64_t id = msg->id;
    unsigned subs = ch->nsubs;
    for (unsigned i = 0; i < ps->nloops; i++) {
        ps_lane_t *lane = &ch->lanes[i];
        post[i] = lane->count > 0 && !lane->posted;
        if (post[i]) {
            lane->posted = 1;
            ps_chan_ref(ch);
            hub->tasks++;
        }
    }
    pthread_mutex_unlock(&hub->lock);

    /* the references taken above keep ch and its lanes alive here */
    for (unsigned i = 0; i < ps->nloops; i++) {
        if (!post[i] || api->run_on(api->loop_at(i), ps_pub_task, &ch->lanes[i]) == PH_OK)
            continue;
        /* the thread has stopped (shutdown): its subscribers are being
         * cancelled, nobody is left to wake */
        pthread_mutex_lock(&hub->lock);
        ch->lanes[i].posted = 0;
        pthread_mutex_unlock(&hub->lock);
        ps_pub_task_done(hub, ch);
    }

    char j[96];
    int n = snprintf(j, sizeof j, "{\"id\":%" PRIu64 ",\"subscribers\":%u}\n", id, subs);
    return ps_http_json(api, req, subs ? 201 : 202, j, (size_t)n);
}
