#include "proxy_health.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxy_buf.h"
#include "proxy_response.h"

/* One check of upstream i: 1 up, 0 down, -ECANCELED. why: what failed. */
static int check(proxy_t *p, int i, char *why, size_t cap)
{
    const ph_server_api_t *api = p->api;
    const proxy_conf_t *c = &p->conf;
    const proxy_upstream_t *u = &c->ups.list[i];
    ph_sock_t *s = NULL;
    int rc = api->co_connect(u->address, c->connect_ms, &s);
    if (rc == -ECANCELED)
        return rc;
    if (rc < 0) {
        snprintf(why, cap, "connect: %s", strerror(-rc));
        return 0;
    }
    proxy_buf_t req = {0};
    int up = 0;
    if (proxy_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: plughttpd-health\r\nConnection: close\r\n\r\n",
                         c->health_path, u->host) < 0) {
        snprintf(why, cap, "out of memory");
        goto out;
    }
    ssize_t w = api->sock_write(s, req.data, req.len, c->send_ms);
    if (w < 0) {
        rc = (int)w;
        snprintf(why, cap, "send: %s", strerror((int)-w));
        goto out;
    }
    ph_str_t line;
    ssize_t n = api->sock_read_until(s, "\r\n\r\n", 4, 16384, &line, c->read_ms);
    if (n < 0) {
        rc = (int)n;
        snprintf(why, cap, "read: %s", strerror((int)-n));
        goto out;
    }
    ph_str_t names[PROXY_FIELDS_MAX], values[PROXY_FIELDS_MAX];
    ph_http_response_t r = {.size = sizeof r, .names = names, .values = values, .cap = PROXY_FIELDS_MAX};
    if (api->parse_response(line.ptr, line.len, &r) <= 0) {
        snprintf(why, cap, "bad response head");
        goto out;
    }
    up = r.status >= 200 && r.status < 400;
    if (!up)
        snprintf(why, cap, "status %d", r.status);
out:
    proxy_buf_free(&req);
    api->sock_close(s);
    return rc == -ECANCELED ? rc : up;
}

static void health_run(void *arg)
{
    proxy_thread_t *t = arg;
    proxy_t *p = t->p;
    const ph_server_api_t *api = p->api;
    for (;;) {
        for (size_t i = t->index; i < p->conf.ups.n; i += p->nthreads) {
            char why[160] = "";
            int up = check(p, (int)i, why, sizeof why);
            if (up == -ECANCELED)
                goto done;
            if (proxy_upstream_checked(&p->conf.ups, (int)i, up))
                proxy_log(p, up ? PH_LOG_INFO : PH_LOG_ERROR, "upstream %s: health check %s%s%s",
                          p->conf.ups.list[i].address, up ? "passed: up again" : "failed: marked down (",
                          up ? "" : why, up ? "" : ")");
        }
        if (api->co_sleep((uint64_t)p->conf.health_ms) == -ECANCELED)
            break;
    }
done:
    t->health = NULL; /* the handle is void once this returns */
}

int proxy_health_start(proxy_thread_t *t)
{
    proxy_t *p = t->p;
    if (!p->conf.health_path || t->index >= p->conf.ups.n)
        return PH_OK;
    t->health = p->api->co_spawn(t->loop, health_run, t, 0);
    if (!t->health) {
        proxy_log(p, PH_LOG_ERROR, "health check: cannot start its coroutine on thread %u", t->index);
        return PH_ERROR;
    }
    return PH_OK;
}

void proxy_health_stop(proxy_thread_t *t)
{
    if (t->health)
        t->p->api->co_cancel(t->health);
    t->health = NULL;
}
