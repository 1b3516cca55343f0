/*
 * proxy_conf: the route's keys, parsed and checked by create(). Read-only
 * once built, except the upstreams' shared counters (proxy_upstream.h).
 */
#ifndef PROXY_CONF_H
#define PROXY_CONF_H

#include <plughttpd/plugin.h>

#include "proxy_upstream.h"

typedef struct proxy_conf {
    const ph_server_api_t *api; /* frees trusted */
    proxy_upstreams_t ups;
    int64_t connect_ms;       /* connect_timeout */
    int64_t read_ms;          /* read_timeout: each wait for upstream bytes */
    int64_t send_ms;          /* send_timeout: each wait to write upstream */
    int64_t health_ms;        /* health_interval */
    int64_t tunnel_ms;        /* tunnel_timeout: idle WebSocket relay */
    int64_t keepalive_ms;     /* keepalive_timeout: idle pooled connection */
    unsigned keepalive;       /* idle connections per upstream per thread */
    unsigned retries;         /* further upstreams tried (idempotent only) */
    char *health_path;        /* NULL: no active check; owned */
    char *host;               /* NULL: pass the client's Host; owned */
    ph_cidr_t *trusted;       /* trusted_proxies; NULL: none; owned */
    int websocket;            /* relay Upgrade requests */
    int via;                  /* add Via both ways */
    size_t buffer;            /* bytes read/written per step (64k) */
} proxy_conf_t;

/* Fills c from args' keys: PH_OK, or PH_ERROR with err set (err->key
 * names the key). The caller frees c with proxy_conf_free() either way. */
int proxy_conf_load(proxy_conf_t *c, const ph_create_args_t *args, ph_error_t *err);
void proxy_conf_free(proxy_conf_t *c);

#endif
