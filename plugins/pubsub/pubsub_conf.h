/*
 * pubsub_conf: the route's keys (README.md, "Keys"), parsed once at
 * create() into an immutable ps_conf_t.
 */
#ifndef PUBSUB_CONF_H
#define PUBSUB_CONF_H

#include <plughttpd/plugin.h>

typedef struct ps_conf {
    unsigned buffer;              /* messages kept per channel (the ring) */
    size_t buffer_bytes;          /* and at most so many bytes of them */
    size_t message_max;           /* bytes of one published message */
    unsigned name_max;            /* bytes of a channel name */
    unsigned max_channels;        /* channels alive in the process */
    unsigned max_subscribers;     /* subscribers in the process, all channels */
    unsigned channel_subscribers; /* subscribers of one channel */
    uint64_t heartbeat_ms;        /* SSE comment every so often; 0: none */
    uint64_t poll_timeout_ms;     /* a long poll answers 204 after this */
    uint64_t channel_timeout_ms;  /* a channel without subscribers expires */
} ps_conf_t;

/* Fills *conf from the keys (defaults for those absent). PH_OK, or
 * PH_ERROR with err filled (key index, message, accepted values). */
int ps_conf_parse(ps_conf_t *conf, const ph_server_api_t *api, const ph_kv_t *keys, size_t nkeys,
                  ph_error_t *err);

#endif
