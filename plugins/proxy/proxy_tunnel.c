#include "proxy_tunnel.h"

#include <errno.h>
#include <stdlib.h>

/* Moves what from has now (timeout 0: buffered or ready bytes) to to.
 * 1 when bytes moved, 0 when nothing was ready, -1 at from's end, or a
 * -errno below -1 (*stalled set when to took nothing for send_timeout). */
static int pass(const proxy_t *p, ph_sock_t *from, ph_sock_t *to, char *buf, size_t cap, int *stalled)
{
    const ph_server_api_t *api = p->api;
    ssize_t n = api->sock_read(from, buf, cap, 0);
    if (n == -ETIMEDOUT || n == -EAGAIN)
        return 0;
    if (n == 0)
        return -1;
    if (n < 0)
        return (int)n;
    ssize_t w = api->sock_write(to, buf, (size_t)n, p->conf.send_ms);
    if (w == -ETIMEDOUT)
        *stalled = 1;
    return w < 0 ? (int)w : 1;
}

int proxy_tunnel(const proxy_t *p, ph_sock_t *client, ph_sock_t *upstream, int *stalled)
{
    *stalled = -1;
    const ph_server_api_t *api = p->api;
    size_t cap = p->conf.buffer;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    ph_sock_t *side[2] = {client, upstream};
    int rc = 0;
    for (;;) {
        /* Bytes already buffered on a socket (the client's first frame,
         * sent with its request) are not announced by poll: move them
         * first. */
        for (int i = 0; i < 2 && rc == 0; i++) {
            while (api->sock_buffered(side[i]) > 0 && rc == 0) {
                int st = 0, r = pass(p, side[i], side[1 - i], buf, cap, &st);
                if (r < 0)
                    rc = r;
                if (st)
                    *stalled = 1 - i;
            }
        }
        if (rc)
            break;
        ph_pollfd_t fds[2] = {{api->sock_fd(client), PH_EV_READ, 0}, {api->sock_fd(upstream), PH_EV_READ, 0}};
        int n = api->co_poll(fds, 2, p->conf.tunnel_ms);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < 2 && rc == 0; i++) {
            if (!fds[i].revents)
                continue;
            int st = 0, r = pass(p, side[i], side[1 - i], buf, cap, &st);
            if (r < 0)
                rc = r;
            if (st)
                *stalled = 1 - i;
        }
        if (rc)
            break;
    }
    free(buf);
    return rc == -1 ? 0 : rc;
}
