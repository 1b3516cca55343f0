/*
 * pubsub_loop: the instance on one worker thread (thread_init and
 * thread_exit hooks). Each thread has a heartbeat timer for its event
 * streams; thread 0 also sweeps expired channels. When a thread stops
 * taking requests for the instance (a reload that replaces it), its
 * subscribers are let go: streams end, polls answer 204, so the old
 * generation drains and clients come back to the new one.
 */
#ifndef PUBSUB_LOOP_H
#define PUBSUB_LOOP_H

#include "pubsub.h"

int ps_loop_init(ps_t *ps, unsigned idx);
void ps_loop_exit(ps_t *ps, unsigned idx);
/* The index of the thread serving req, or -1 when the instance does not
 * run there (thread_init failed, or after thread_exit). */
int ps_loop_index(ps_t *ps, const ph_request_t *req);

#endif
