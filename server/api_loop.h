/*
 * The event-loop part of the plugin API (ABI 1.3): a plugin's view of the
 * worker loops (ph_loop_t is a worker), descriptor watches, timers, tasks
 * posted across threads, and a non-blocking connect. The functions are
 * the ph_server_api_t members of the same names.
 */
#ifndef PH_API_LOOP_H
#define PH_API_LOOP_H

#include <plughttpd/plugin.h>

ph_loop_t *api_loop_of(const ph_request_t *req);
ph_loop_t *api_loop_current(void);
unsigned api_loops(void);
ph_loop_t *api_loop_at(unsigned i);
int api_run_on(ph_loop_t *loop, ph_task_fn fn, void *arg);
ph_watch_t *api_watch_new(ph_loop_t *loop, int fd, unsigned events, ph_watch_fn cb, void *arg);
int api_watch_set(ph_watch_t *w, unsigned events);
void api_watch_free(ph_watch_t *w);
ph_timer_t *api_timer_new(ph_loop_t *loop, ph_timer_fn cb, void *arg);
int api_timer_set(ph_timer_t *t, uint64_t ms);
void api_timer_stop(ph_timer_t *t);
void api_timer_free(ph_timer_t *t);
int api_connect(const char *address);

#endif
