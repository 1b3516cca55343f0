/*
 * proxy_health: the active check (health_check = /path). Each worker
 * thread runs one coroutine (co_spawn()ed by thread_init(), co_cancel()ed
 * by thread_exit()) that checks the upstreams whose index modulo the
 * thread count is its own, so each upstream is checked once per
 * health_interval per process. A check is "GET path" with Connection:
 * close; any 2xx or 3xx within connect_timeout + read_timeout is up,
 * anything else is down until a later check passes.
 */
#ifndef PROXY_HEALTH_H
#define PROXY_HEALTH_H

#include "proxy_pool.h"

/* Starts t's coroutine on its loop: PH_OK, or PH_ERROR (logged). */
int proxy_health_start(proxy_thread_t *t);
/* Stops it (from t's loop thread) and waits for it to end. */
void proxy_health_stop(proxy_thread_t *t);

#endif
