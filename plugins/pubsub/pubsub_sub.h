/*
 * pubsub_sub: subscribers. A subscriber is one GET request waiting on a
 * channel, in one of two forms:
 *   PS_SSE   an event stream (Accept: text/event-stream): the response is
 *            a body_stream whose read function pulls the next messages
 *            from the channel's ring, or answers PH_STREAM_WAIT;
 *   PS_POLL  a long poll: handle() returned PH_PENDING; the first message
 *            after its id, or its poll_timeout, answers it with resume().
 * Everything here runs on the worker thread serving the request: handle(),
 * the stream's read function, on_cancel, on_cleanup, the poll timer and
 * the delivery task the publisher posts to that thread (pubsub_pub.c). A
 * subscriber struct is freed by its request's cleanup and by nothing else.
 */
#ifndef PUBSUB_SUB_H
#define PUBSUB_SUB_H

#include "pubsub.h"

enum ps_kind_sub { PS_SSE, PS_POLL };

struct ps_sub {
    ps_t *ps;
    ph_request_t *req;
    enum ps_kind_sub kind;
    unsigned idx;      /* the worker thread */
    ps_chan_t *chan;   /* while attached (counted, listed), else NULL */
    uint64_t cursor;   /* id of the last message sent or skipped */
    ps_msg_t *cur;     /* SSE: the message being written; POLL: the answer */
    size_t off;        /* SSE: bytes of cur already written */
    size_t hb_off;     /* SSE: bytes of the heartbeat written; 0: none due */
    int hb_due;
    int streaming;     /* SSE: body_stream() took it: wakes reach it */
    int ending;        /* SSE: end the stream after the message in hand */
    int answered;      /* POLL: resume() was called */
    ph_timer_t *timer; /* POLL */
    ps_sub_t *lane_prev, *lane_next; /* the channel's lane for idx */
    ps_sub_t *loop_prev, *loop_next; /* ps->loops[idx].subs */
};

/* GET as an event stream / as a long poll, name valid. `after` is the
 * id to resume after (has_after: given). Answer set or stream started:
 * return what handle() returns. */
int ps_sub_sse(ps_t *ps, ph_request_t *req, unsigned idx, ph_str_t name, int has_after, uint64_t after);
int ps_sub_poll(ps_t *ps, ph_request_t *req, unsigned idx, ph_str_t name, int has_after, uint64_t after);
/* The lane's subscribers: wake each stream, answer each poll that now has
 * a message. Runs on the lane's thread. */
void ps_sub_deliver(ps_lane_t *lane);
/* A heartbeat for every stream on the loop. */
void ps_sub_heartbeat(ps_loop_t *loop);
/* The loop's instance stops taking requests there (reload): streams end
 * after the message in hand, polls answer 204. */
void ps_sub_drain(ps_loop_t *loop);
/* on_cancel: the client no longer waits. */
void ps_sub_cancel(ps_t *ps, ph_request_t *req);

#endif
