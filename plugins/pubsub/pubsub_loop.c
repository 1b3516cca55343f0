#include "pubsub_loop.h"

#include "pubsub_sub.h"

static void ps_loop_heartbeat(ph_timer_t *t, void *arg)
{
    ps_loop_t *loop = arg;
    ps_sub_heartbeat(loop);
    loop->ps->api->timer_set(t, loop->ps->conf.heartbeat_ms);
}

/* Often enough that a channel goes at most a quarter of its timeout late. */
static uint64_t ps_sweep_interval(const ps_t *ps)
{
    uint64_t ms = ps->conf.channel_timeout_ms / 4;
    return ms < 25 ? 25 : ms > 60000 ? 60000 : ms;
}

static void ps_loop_sweep(ph_timer_t *t, void *arg)
{
    ps_loop_t *loop = arg;
    ps_t *ps = loop->ps;
    pthread_mutex_lock(&ps->hub.lock);
    ps_hub_sweep(&ps->hub, ps_now_ms(), ps->conf.channel_timeout_ms);
    pthread_mutex_unlock(&ps->hub.lock);
    ps->api->timer_set(t, ps_sweep_interval(ps));
}

static void ps_loop_timers_free(ps_t *ps, ps_loop_t *loop)
{
    if (loop->heartbeat)
        ps->api->timer_free(loop->heartbeat);
    if (loop->sweep)
        ps->api->timer_free(loop->sweep);
    loop->heartbeat = loop->sweep = NULL;
}

int ps_loop_init(ps_t *ps, unsigned idx)
{
    const ph_server_api_t *api = ps->api;
    if (idx >= ps->nloops)
        return PH_ERROR; /* more threads than at create(): see reload_check */
    ps_loop_t *loop = &ps->loops[idx];
    ph_loop_t *l = api->loop_current();
    if (ps->conf.heartbeat_ms) {
        loop->heartbeat = api->timer_new(l, ps_loop_heartbeat, loop);
        if (loop->heartbeat == NULL || api->timer_set(loop->heartbeat, ps->conf.heartbeat_ms) != PH_OK)
            goto fail;
    }
    if (idx == 0) {
        loop->sweep = api->timer_new(l, ps_loop_sweep, loop);
        if (loop->sweep == NULL || api->timer_set(loop->sweep, ps_sweep_interval(ps)) != PH_OK)
            goto fail;
    }
    loop->running = 1;
    return PH_OK;
fail:
    ps_loop_timers_free(ps, loop);
    return PH_ERROR;
}

void ps_loop_exit(ps_t *ps, unsigned idx)
{
    if (idx >= ps->nloops)
        return;
    ps_loop_t *loop = &ps->loops[idx];
    loop->running = 0;
    ps_loop_timers_free(ps, loop);
    ps_sub_drain(loop);
}

int ps_loop_index(ps_t *ps, const ph_request_t *req)
{
    const ph_server_api_t *api = ps->api;
    ph_loop_t *l = api->loop_of(req);
    for (unsigned i = 0; i < ps->nloops; i++)
        if (api->loop_at(i) == l)
            return ps->loops[i].running ? (int)i : -1;
    return -1;
}
