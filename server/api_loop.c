#include "api_loop.h"

#include <errno.h>
#include <stddef.h>

/* Placeholders until the loop API lands: every call fails cleanly. */
ph_loop_t *api_loop_of(const ph_request_t *req) { (void)req; return NULL; }
ph_loop_t *api_loop_current(void) { return NULL; }
unsigned api_loops(void) { return 0; }
ph_loop_t *api_loop_at(unsigned i) { (void)i; return NULL; }
int api_run_on(ph_loop_t *loop, ph_task_fn fn, void *arg) { (void)loop; (void)fn; (void)arg; return PH_ERROR; }
ph_watch_t *api_watch_new(ph_loop_t *loop, int fd, unsigned events, ph_watch_fn cb, void *arg)
{
    (void)loop; (void)fd; (void)events; (void)cb; (void)arg;
    return NULL;
}
int api_watch_set(ph_watch_t *w, unsigned events) { (void)w; (void)events; return PH_ERROR; }
void api_watch_free(ph_watch_t *w) { (void)w; }
ph_timer_t *api_timer_new(ph_loop_t *loop, ph_timer_fn cb, void *arg) { (void)loop; (void)cb; (void)arg; return NULL; }
int api_timer_set(ph_timer_t *t, uint64_t ms) { (void)t; (void)ms; return PH_ERROR; }
void api_timer_stop(ph_timer_t *t) { (void)t; }
void api_timer_free(ph_timer_t *t) { (void)t; }
int api_connect(const char *address) { (void)address; errno = ENOSYS; return -1; }
