/*
 * proxy: the instance shared by the plugin's files. One per [route].
 */
#ifndef PROXY_H
#define PROXY_H

#include <plughttpd/plugin.h>

#include "proxy_conf.h"

typedef struct proxy_thread proxy_thread_t;

typedef struct proxy {
    const ph_server_api_t *api; /* valid until destroy() returns */
    char *prefix;               /* the route, for log lines; owned */
    proxy_conf_t conf;
    proxy_thread_t *threads;    /* one per worker thread; owned */
    unsigned nthreads;
} proxy_t;

/* "proxy /app: " + message, at level. */
void proxy_log(const proxy_t *p, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
