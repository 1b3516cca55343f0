#include "proxy_tunnel.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

/* One direction: bytes read from side i, on their way to side 1 - i. Each
 * direction writes without waiting (what the peer's socket takes now), so
 * a peer that writes a whole piece before it reads on never deadlocks the
 * other direction: full duplex. */
typedef struct dir {
    char *buf;
    size_t off, len;   /* pending bytes: buf[off .. off + len) */
    int eof;           /* side i ended its stream */
    int64_t since;     /* ms: when the pending bytes last made progress */
} dir_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what side has now (buffered or ready) into d: 0, or -errno. */
static int fill(const proxy_t *p, ph_sock_t *side, dir_t *d, size_t cap)
{
    ssize_t n = p->api->sock_read(side, d->buf, cap, 0);
    if (n == -ETIMEDOUT || n == -EAGAIN)
        return 0;
    if (n < 0)
        return (int)n;
    if (n == 0)
        d->eof = 1;
    d->off = 0;
    d->len = (size_t)n;
    d->since = now_ms();
    return 0;
}

/* Writes what the peer takes now: 0, or -errno. */
static int drain(const proxy_t *p, ph_sock_t *to, dir_t *d)
{
    while (d->len > 0) {
        ssize_t w = send(p->api->sock_fd(to), d->buf + d->off, d->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        }
        d->off += (size_t)w;
        d->len -= (size_t)w;
        d->since = now_ms();
    }
    return 0;
}

int proxy_tunnel(const proxy_t *p, ph_sock_t *client, ph_sock_t *upstream, int *stalled)
{
    *stalled = -1;
    const ph_server_api_t *api = p->api;
    size_t cap = p->conf.buffer;
    ph_sock_t *side[2] = {client, upstream};
    dir_t d[2] = {{.buf = malloc(cap)}, {.buf = malloc(cap)}};
    int rc = 0;
    if (d[0].buf == NULL || d[1].buf == NULL)
        rc = -ENOMEM;
    while (rc == 0) {
        int again = 0;
        for (int i = 0; i < 2 && rc == 0; i++) {
            if (d[i].len == 0 && !d[i].eof)
                rc = fill(p, side[i], &d[i], cap);
            if (rc == 0)
                rc = drain(p, side[1 - i], &d[i]);
            /* bytes the socket buffered (the client's first frame, sent
             * with its request) are not announced by poll */
            if (d[i].len == 0 && !d[i].eof && api->sock_buffered(side[i]) > 0)
                again = 1;
        }
        if (rc)
            break;
        if ((d[0].eof && d[0].len == 0) || (d[1].eof && d[1].len == 0))
            break; /* a side closed and what it sent is through */
        if (again)
            continue;
        ph_pollfd_t fds[2];
        int64_t timeout = p->conf.tunnel_ms, t = now_ms();
        for (int i = 0; i < 2; i++) {
            fds[i] = (ph_pollfd_t){api->sock_fd(side[i]), 0, 0};
            if (d[i].len == 0 && !d[i].eof)
                fds[i].events |= PH_EV_READ;
            if (d[1 - i].len > 0) {
                fds[i].events |= PH_EV_WRITE;
                int64_t left = d[1 - i].since + p->conf.send_ms - t;
                if (left < 0)
                    left = 0;
                if (timeout < 0 || left < timeout)
                    timeout = left;
            }
        }
        int n = api->co_poll(fds, 2, timeout);
        if (n == -ETIMEDOUT) {
            /* a side that took nothing for send_timeout, else idle */
            for (int i = 0; i < 2; i++)
                if (d[1 - i].len > 0 && now_ms() - d[1 - i].since >= p->conf.send_ms) {
                    *stalled = i;
                    rc = -ETIMEDOUT;
                }
            if (rc == 0 && d[0].len == 0 && d[1].len == 0)
                rc = -ETIMEDOUT;
        } else if (n < 0) {
            rc = n;
        }
    }
    free(d[0].buf);
    free(d[1].buf);
    return rc == -1 ? 0 : rc;
}
