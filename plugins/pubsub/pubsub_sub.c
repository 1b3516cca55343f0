#include "pubsub_sub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub_http.h"

/* The SSE comment a heartbeat writes: keeps proxies and clients from
 * timing out an idle stream. */
static const char ps_heartbeat[] = ": heartbeat\n\n";

/* --- joining and leaving (the worker thread) ------------------------------ */

/* The channel named name when a subscriber more fits the limits, else
 * NULL and *busy says which limit. Hub lock held. */
static ps_chan_t *ps_sub_room(ps_t *ps, ph_str_t name, const char **busy)
{
    ps_hub_t *hub = &ps->hub;
    int full = 0;
    if (hub->nsubs >= ps->conf.max_subscribers) {
        *busy = "too many subscribers on this server: max_subscribers reached";
        return NULL;
    }
    ps_chan_t *ch = ps_hub_get(hub, name.ptr, name.len, ps_now_ms(), &full);
    if (ch == NULL) {
        *busy = full ? "too many channels: max_channels reached" : "out of memory";
        return NULL;
    }
    if (ch->nsubs >= ps->conf.channel_subscribers) {
        *busy = "too many subscribers on this channel: channel_subscribers reached";
        return NULL;
    }
    return ch;
}

/* Counts sub into the channel named name under the limits and links it on
 * its lane and loop. `after` (has_after) or the channel's newest id is
 * where it starts. PH_OK, or an error answer set and PH_ERROR. */
static int ps_sub_attach(ps_sub_t *sub, ph_str_t name, int has_after, uint64_t after, ps_msg_t **ready)
{
    ps_t *ps = sub->ps;
    ps_hub_t *hub = &ps->hub;
    const char *busy = NULL;
    pthread_mutex_lock(&hub->lock);
    ps_chan_t *ch = ps_sub_room(ps, name, &busy);
    if (ch) {
        ps_chan_ref(ch);
        ch->nsubs++;
        hub->nsubs++;
        ch->lanes[sub->idx].count++;
        sub->chan = ch;
        sub->cursor = has_after ? after : ch->last_id;
        if (ready)
            *ready = ps_chan_next(ch, sub->cursor);
    }
    pthread_mutex_unlock(&hub->lock);
    if (ch == NULL) {
        ps_http_busy(ps->api, sub->req, busy);
        return PH_ERROR;
    }
    ps_lane_t *lane = &sub->chan->lanes[sub->idx];
    sub->lane_next = lane->head;
    if (lane->head)
        lane->head->lane_prev = sub;
    lane->head = sub;
    ps_loop_t *loop = &ps->loops[sub->idx];
    sub->loop_next = loop->subs;
    if (loop->subs)
        loop->subs->loop_prev = sub;
    loop->subs = sub;
    return PH_OK;
}

/* Unlinks and uncounts sub; a channel left without subscribers starts its
 * idle time now. Idempotent. */
static void ps_sub_detach(ps_sub_t *sub)
{
    ps_chan_t *ch = sub->chan;
    if (ch == NULL)
        return;
    ps_lane_t *lane = &ch->lanes[sub->idx];
    if (sub->lane_prev)
        sub->lane_prev->lane_next = sub->lane_next;
    else
        lane->head = sub->lane_next;
    if (sub->lane_next)
        sub->lane_next->lane_prev = sub->lane_prev;
    ps_loop_t *loop = &sub->ps->loops[sub->idx];
    if (sub->loop_prev)
        sub->loop_prev->loop_next = sub->loop_next;
    else
        loop->subs = sub->loop_next;
    if (sub->loop_next)
        sub->loop_next->loop_prev = sub->loop_prev;
    sub->lane_prev = sub->lane_next = sub->loop_prev = sub->loop_next = NULL;
    sub->chan = NULL;

    ps_hub_t *hub = &sub->ps->hub;
    pthread_mutex_lock(&hub->lock);
    lane->count--;
    hub->nsubs--;
    if (--ch->nsubs == 0)
        ch->active_ms = ps_now_ms();
    ps_chan_unref(hub, ch);
    pthread_mutex_unlock(&hub->lock);
}

/* The request's end: the one place a subscriber is freed. */
static void ps_sub_free(void *arg)
{
    ps_sub_t *sub = arg;
    ps_sub_detach(sub);
    if (sub->timer)
        sub->ps->api->timer_free(sub->timer);
    ps_msg_unref(sub->cur);
    free(sub);
}

/* A subscriber for req, freed with the request; its slot points to it for
 * on_cancel. NULL when out of memory. */
static ps_sub_t *ps_sub_new(ps_t *ps, ph_request_t *req, enum ps_kind_sub kind, unsigned idx)
{
    const ph_server_api_t *api = ps->api;
    void **slot = api->slot(req, ps);
    ps_sub_t *sub = slot ? calloc(1, sizeof *sub) : NULL;
    if (sub == NULL)
        return NULL;
    if (api->on_cleanup(req, ps_sub_free, sub) != PH_OK) {
        free(sub);
        return NULL;
    }
    sub->ps = ps;
    sub->req = req;
    sub->kind = kind;
    sub->idx = idx;
    *slot = sub;
    return sub;
}

/* --- event streams ------------------------------------------------------- */

/* The next message for sub, with a reference, or NULL. */
static ps_msg_t *ps_sub_next(ps_sub_t *sub)
{
    if (sub->chan == NULL)
        return NULL;
    ps_hub_t *hub = &sub->ps->hub;
    pthread_mutex_lock(&hub->lock);
    ps_msg_t *m = ps_chan_next(sub->chan, sub->cursor);
    pthread_mutex_unlock(&hub->lock);
    return m;
}

/* Copies what is left of the heartbeat into out (cap bytes at most). */
static size_t ps_sse_heartbeat(ps_sub_t *sub, char *out, size_t cap)
{
    size_t len = sizeof ps_heartbeat - 1, k = len - sub->hb_off;
    if (k > cap)
        k = cap;
    memcpy(out, ps_heartbeat + sub->hb_off, k);
    sub->hb_off += k;
    if (sub->hb_off == len)
        sub->hb_off = 0;
    return k;
}

/* ph_read_fn: as many events as fit, then a heartbeat if one is due and no
 * event went out since it was asked for. A heartbeat or event begun is
 * finished before anything else is written. */
static ssize_t ps_sse_read(void *arg, void *buf, size_t cap)
{
    ps_sub_t *sub = arg;
    char *out = buf;
    size_t n = 0;
    while (n < cap) {
        if (sub->hb_off) {
            n += ps_sse_heartbeat(sub, out + n, cap - n);
            continue;
        }
        if (sub->cur == NULL && !sub->ending) {
            sub->cur = ps_sub_next(sub);
            sub->off = 0;
            if (sub->cur)
                sub->cursor = sub->cur->id;
        }
        if (sub->cur) {
            size_t len = ps_msg_sse_len(sub->cur);
            size_t k = ps_msg_sse_copy(sub->cur, sub->off, out + n, cap - n);
            n += k;
            sub->off += k;
            if (sub->off == len) {
                ps_msg_unref(sub->cur);
                sub->cur = NULL;
                sub->hb_due = 0; /* the event shows the stream is alive */
            }
            continue;
        }
        if (sub->hb_due) {
            sub->hb_due = 0;
            n += ps_sse_heartbeat(sub, out + n, cap - n);
            continue;
        }
        break;
    }
    if (n)
        return (ssize_t)n;
    return sub->ending ? 0 : PH_STREAM_WAIT;
}

int ps_sub_sse(ps_t *ps, ph_request_t *req, unsigned idx, ph_str_t name, int has_after, uint64_t after)
{
    const ph_server_api_t *api = ps->api;
    ps_sub_t *sub = ps_sub_new(ps, req, PS_SSE, idx);
    if (sub == NULL)
        return PH_ERROR;
    if (ps_sub_attach(sub, name, has_after, after, NULL) != PH_OK)
        return PH_OK; /* the 503 is set */
    /* X-Accel-Buffering: a buffering front proxy that honours it passes
     * each event on at once */
    if (api->set_header(req, "Content-Type", "text/event-stream") != PH_OK ||
        api->set_header(req, "Cache-Control", "no-store") != PH_OK ||
        api->set_header(req, "X-Accel-Buffering", "no") != PH_OK ||
        api->body_stream(req, ps_sse_read, sub) != PH_OK)
        return PH_ERROR;
    sub->streaming = 1;
    return PH_OK;
}

/* --- long polls ------------------------------------------------------------ */

/* Sets the answer: msg (200, the message as published) or none (204).
 * X-Event-Id is the id to send as ?after= next time in both. */
static int ps_poll_answer_set(ps_sub_t *sub, ps_msg_t *msg)
{
    const ph_server_api_t *api = sub->ps->api;
    ph_request_t *req = sub->req;
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, msg ? msg->id : sub->cursor);
    int rc = api->set_status(req, msg ? 200 : 204) | api->set_header(req, "X-Event-Id", id) |
             api->set_header(req, "Cache-Control", "no-store");
    if (msg) {
        /* the reference is the subscriber's, dropped at the request's end,
         * after the last body byte went out */
        sub->cur = msg;
        rc |= api->set_header(req, "Content-Type", msg->type ? msg->type : "application/octet-stream");
        if (msg->data_len)
            rc |= api->body_ref(req, msg->data, msg->data_len);
    }
    return rc == PH_OK ? PH_OK : PH_ERROR;
}

/* Answers a waiting poll (once) and gives the request back. */
static void ps_poll_finish(ps_sub_t *sub, ps_msg_t *msg)
{
    if (sub->answered) {
        ps_msg_unref(msg);
        return;
    }
    sub->answered = 1;
    ps_sub_detach(sub);
    if (sub->timer)
        sub->ps->api->timer_stop(sub->timer);
    int rc = ps_poll_answer_set(sub, msg);
    sub->ps->api->resume(sub->req, rc);
}

static void ps_poll_timeout(ph_timer_t *t, void *arg)
{
    (void)t;
    ps_poll_finish(arg, NULL);
}

int ps_sub_poll(ps_t *ps, ph_request_t *req, unsigned idx, ph_str_t name, int has_after, uint64_t after)
{
    const ph_server_api_t *api = ps->api;
    ps_sub_t *sub = ps_sub_new(ps, req, PS_POLL, idx);
    if (sub == NULL)
        return PH_ERROR;
    ps_msg_t *ready = NULL;
    if (ps_sub_attach(sub, name, has_after, after, &ready) != PH_OK)
        return PH_OK; /* the 503 is set */
    if (ready) { /* already there: answered at once */
        sub->answered = 1;
        ps_sub_detach(sub);
        return ps_poll_answer_set(sub, ready);
    }
    sub->timer = api->timer_new(api->loop_of(req), ps_poll_timeout, sub);
    if (sub->timer == NULL || api->timer_set(sub->timer, ps->conf.poll_timeout_ms) != PH_OK) {
        sub->answered = 1; /* no delivery may resume() a request not pending */
        ps_sub_detach(sub);
        return PH_ERROR;
    }
    return PH_PENDING;
}

/* --- what the loop does to them ---------------------------------------------- */

void ps_sub_deliver(ps_lane_t *lane)
{
    ps_sub_t *sub = lane->head, *next;
    for (; sub; sub = next) {
        next = sub->lane_next; /* a poll answered now leaves the list */
        if (sub->kind == PS_SSE) {
            if (sub->streaming)
                sub->ps->api->stream_wake(sub->req);
        } else {
            ps_msg_t *m = ps_sub_next(sub);
            if (m)
                ps_poll_finish(sub, m);
        }
    }
}

void ps_sub_heartbeat(ps_loop_t *loop)
{
    for (ps_sub_t *sub = loop->subs; sub; sub = sub->loop_next) {
        if (sub->kind == PS_SSE && sub->streaming && !sub->ending) {
            sub->hb_due = 1;
            sub->ps->api->stream_wake(sub->req);
        }
    }
}

void ps_sub_drain(ps_loop_t *loop)
{
    ps_sub_t *sub = loop->subs, *next;
    for (; sub; sub = next) {
        next = sub->loop_next;
        if (sub->kind == PS_SSE) {
            sub->ending = 1;
            if (sub->streaming)
                sub->ps->api->stream_wake(sub->req);
        } else {
            ps_poll_finish(sub, NULL);
        }
    }
}

void ps_sub_cancel(ps_t *ps, ph_request_t *req)
{
    void **slot = ps->api->slot(req, ps);
    ps_sub_t *sub = slot ? *slot : NULL;
    if (sub == NULL)
        return;
    if (sub->kind == PS_SSE) {
        if (!sub->streaming)
            return;
        /* the stream ends at its next read (a shutdown drains it cleanly;
         * a client that left is not read from again) */
        sub->ending = 1;
        ps->api->stream_wake(req);
    } else {
        ps_poll_finish(sub, NULL);
    }
}
