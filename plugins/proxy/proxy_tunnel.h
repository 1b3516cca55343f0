/*
 * proxy_tunnel: after a 101, bytes relayed both ways between the client
 * and the upstream until either side closes, an error, or idle_ms without
 * a byte either way. Runs on the handler's coroutine.
 */
#ifndef PROXY_TUNNEL_H
#define PROXY_TUNNEL_H

#include "proxy.h"

/* Relays between client and upstream (neither closed here). Returns 0 when
 * a side closed, -ETIMEDOUT when idle, or another -errno (-ECANCELED:
 * the server is stopping). A side that took no byte for send_timeout
 * also ends it with -ETIMEDOUT, and sets *stalled to that side (0 the
 * client, 1 the upstream); *stalled is -1 otherwise. */
int proxy_tunnel(const proxy_t *p, ph_sock_t *client, ph_sock_t *upstream, int *stalled);

#endif
