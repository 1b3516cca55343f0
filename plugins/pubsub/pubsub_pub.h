/*
 * pubsub_pub: publishing. POST <prefix>/<channel> stores the body as the
 * channel's next message, then tells every worker thread that has
 * subscribers on the channel, with one task per thread (api->run_on): the
 * task runs on that thread and wakes its subscribers there, so no thread
 * ever touches a request another thread serves. A thread that already has
 * a task queued for the channel gets no second one: subscribers pull every
 * message after their own id from the ring, so one wake-up delivers all
 * that arrived meanwhile.
 */
#ifndef PUBSUB_PUB_H
#define PUBSUB_PUB_H

#include "pubsub.h"

/* Answers the POST: 201 (subscribers were there) or 202 (none: the
 * message is only buffered), {"id":N,"subscribers":N}; 413, 503. */
int ps_pub_publish(ps_t *ps, ph_request_t *req, ph_str_t name);

#endif
