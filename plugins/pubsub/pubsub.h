/*
 * The pubsub plugin: channels of messages published over HTTP and read as
 * Server-Sent Events or by long polling (README.md). This header is the
 * instance, shared by the plugin's files:
 *   pubsub.c       descriptor, create/destroy, request dispatch, hooks
 *   pubsub_conf.c  the route's keys
 *   pubsub_msg.c   a message and its SSE frame
 *   pubsub_chan.c  channels, their rings, the hub and its lock
 *   pubsub_pub.c   publishing and fan-out to the worker threads
 *   pubsub_sub.c   subscribers: event streams and long polls
 *   pubsub_loop.c  per worker thread: heartbeats, channel expiry, drain
 *   pubsub_http.c  request parsing and the JSON answers
 */
#ifndef PUBSUB_H
#define PUBSUB_H

#include <plughttpd/plugin.h>

#include "pubsub_chan.h"
#include "pubsub_conf.h"

typedef struct ps ps_t;

/* One worker thread's share of the instance. Every field is that thread's
 * alone: set by thread_init/thread_exit and used by the requests, timers
 * and tasks that run on it. */
typedef struct ps_loop {
    ps_t *ps;
    unsigned idx;
    int running;          /* between thread_init and thread_exit */
    ph_timer_t *heartbeat;
    ph_timer_t *sweep;    /* thread 0 only: channel expiry */
    ps_sub_t *subs;       /* every subscriber served on this thread */
} ps_loop_t;

struct ps {
    const ph_server_api_t *api;
    char *prefix; /* for log lines */
    ps_conf_t conf;
    ps_hub_t hub;
    unsigned nloops;
    ps_loop_t *loops;
};

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t ps_now_ms(void);

#endif
