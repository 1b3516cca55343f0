#include "proxy_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

proxy_thread_t *proxy_thread_find(proxy_t *p)
{
    const ph_server_api_t *api = p->api;
    ph_loop_t *me = api->loop_current();
    if (!me)
        return NULL;
    unsigned n = api->loops();
    for (unsigned i = 0; i < n && i < p->nthreads; i++)
        if (api->loop_at(i) == me)
            return &p->threads[i];
    return NULL;
}

proxy_thread_t *proxy_thread_current(proxy_t *p)
{
    proxy_thread_t *t = proxy_thread_find(p);
    return t && t->open ? t : NULL;
}

int proxy_pool_open(proxy_thread_t *t)
{
    const proxy_conf_t *c = &t->p->conf;
    if (c->keepalive > 0 && !t->idle) {
        t->idle = calloc(c->ups.n * c->keepalive, sizeof *t->idle);
        t->nidle = calloc(c->ups.n, sizeof *t->nidle);
        if (!t->idle || !t->nidle) {
            free(t->idle);
            free(t->nidle);
            t->idle = NULL;
            t->nidle = NULL;
            return PH_ERROR;
        }
    }
    t->open = 1;
    return PH_OK;
}

void proxy_pool_close(proxy_thread_t *t)
{
    t->open = 0;
    if (!t->nidle)
        return;
    unsigned k = t->p->conf.keepalive;
    for (size_t i = 0; i < t->p->conf.ups.n; i++) {
        while (t->nidle[i] > 0) {
            proxy_idle_t *e = &t->idle[i * k + --t->nidle[i]];
            t->p->api->sock_close(e->sock);
            e->sock = NULL;
        }
    }
}

void proxy_pool_free(proxy_thread_t *t)
{
    proxy_pool_close(t);
    free(t->idle);
    free(t->nidle);
    t->idle = NULL;
    t->nidle = NULL;
}

/* The upstream may have closed an idle connection (its own keep-alive
 * timeout) or sent something unasked: a non-blocking peek tells both
 * without taking a byte. */
static int still_open(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

ph_sock_t *proxy_pool_get(proxy_thread_t *t, int i)
{
    if (!t || !t->nidle)
        return NULL;
    const ph_server_api_t *api = t->p->api;
    unsigned k = t->p->conf.keepalive;
    int64_t now = proxy_now_ms();
    /* Newest first: the most recently used is the least likely closed. */
    while (t->nidle[i] > 0) {
        proxy_idle_t *e = &t->idle[(size_t)i * k + --t->nidle[i]];
        ph_sock_t *s = e->sock;
        e->sock = NULL;
        if (now - e->since < t->p->conf.keepalive_ms && api->sock_buffered(s) == 0 && still_open(api->sock_fd(s))) {
            return s;
        }
        api->sock_close(s);
    }
    return NULL;
}

void proxy_pool_put(proxy_t *p, proxy_thread_t *t, int i, ph_sock_t *s)
{
    const ph_server_api_t *api = p->api;
    if (!t || !t->open || !t->nidle || api->sock_buffered(s) != 0) {
        api->sock_close(s);
        return;
    }
    unsigned k = p->conf.keepalive;
    proxy_idle_t *slots = &t->idle[(size_t)i * k];
    if (t->nidle[i] == k) {
        /* Full: the oldest goes, so the pool holds the freshest. */
        api->sock_close(slots[0].sock);
        for (unsigned j = 1; j < k; j++)
            slots[j - 1] = slots[j];
        t->nidle[i]--;
    }
    slots[t->nidle[i]++] = (proxy_idle_t){s, proxy_now_ms()};
}
