#include "pubsub_conf.h"

#include <stdio.h>
#include <string.h>

/* One numeric key: its name, where it goes, its kind and bounds. */
enum ps_kind { PS_COUNT, PS_SIZE, PS_DURATION };

typedef struct ps_key {
    const char *name;
    enum ps_kind kind;
    uint64_t min, max;
    size_t off;   /* offset in ps_conf_t */
    size_t width; /* sizeof the member */
} ps_key_t;

#define PS_KEY(n, k, lo, hi, m) {n, k, lo, hi, offsetof(ps_conf_t, m), sizeof(((ps_conf_t *)0)->m)}

static const ps_key_t ps_keys[] = {
    PS_KEY("buffer", PS_COUNT, 1, 65536, buffer),
    PS_KEY("buffer_bytes", PS_SIZE, 1, 1ull << 30, buffer_bytes),
    PS_KEY("message_max", PS_SIZE, 1, 16u << 20, message_max),
    PS_KEY("channel_name_max", PS_COUNT, 1, 255, name_max),
    PS_KEY("max_channels", PS_COUNT, 1, 1000000, max_channels),
    PS_KEY("max_subscribers", PS_COUNT, 1, 1000000, max_subscribers),
    PS_KEY("channel_subscribers", PS_COUNT, 1, 1000000, channel_subscribers),
    PS_KEY("heartbeat", PS_DURATION, 0, 3600000, heartbeat_ms),
    PS_KEY("poll_timeout", PS_DURATION, 1, 3600000, poll_timeout_ms),
    PS_KEY("channel_timeout", PS_DURATION, 1, 7 * 86400000ull, channel_timeout_ms),
};

static int ps_key_value(const ph_server_api_t *api, const ps_key_t *k, const char *v, uint64_t *out)
{
    switch (k->kind) {
    case PS_DURATION:
        return api->parse_duration(v, out);
    case PS_SIZE:
        return api->parse_size(v, out);
    case PS_COUNT:
    default:
        /* a count is plain digits: "1k" reads as a size, not a number */
        if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 9)
            return PH_ERROR;
        return api->parse_size(v, out);
    }
}

static void ps_key_store(ps_conf_t *conf, const ps_key_t *k, uint64_t n)
{
    char *p = (char *)conf + k->off;
    if (k->width == sizeof(unsigned)) {
        unsigned u = (unsigned)n;
        memcpy(p, &u, sizeof u);
    } else if (k->width == sizeof(uint64_t)) {
        memcpy(p, &n, sizeof n);
    }
}

static const char *ps_kind_hint(enum ps_kind kind)
{
    return kind == PS_DURATION ? "a duration such as 500ms, 15s, 5m" : kind == PS_SIZE ? "a size such as 4096, 64k, 1m" : "a whole number";
}

int ps_conf_parse(ps_conf_t *conf, const ph_server_api_t *api, const ph_kv_t *keys, size_t nkeys,
                  ph_error_t *err)
{
    *conf = (ps_conf_t){
        .buffer = 64,
        .buffer_bytes = 1024 * 1024,
        .message_max = 64 * 1024,
        .name_max = 64,
        .max_channels = 1024,
        .max_subscribers = 10000,
        .channel_subscribers = 10000,
        .heartbeat_ms = 15000,
        .poll_timeout_ms = 30000,
        .channel_timeout_ms = 300000,
    };
    int hint = err->size >= offsetof(ph_error_t, hint) + sizeof err->hint;
    for (size_t i = 0; i < nkeys; i++) {
        const ps_key_t *k = NULL;
        for (size_t j = 0; j < sizeof ps_keys / sizeof ps_keys[0]; j++)
            if (strcmp(keys[i].key, ps_keys[j].name) == 0)
                k = &ps_keys[j];
        err->key = (int)i;
        if (k == NULL) {
            snprintf(err->msg, sizeof err->msg, "unknown key \"%s\"", keys[i].key);
            if (hint)
                snprintf(err->hint, sizeof err->hint,
                         "keys: buffer, buffer_bytes, message_max, channel_name_max, max_channels, max_subscribers, "
                         "channel_subscribers, heartbeat, poll_timeout, channel_timeout");
            return PH_ERROR;
        }
        uint64_t n;
        if (ps_key_value(api, k, keys[i].value, &n) != PH_OK || n < k->min || n > k->max) {
            snprintf(err->msg, sizeof err->msg, "bad value \"%s\" for %s", keys[i].value, k->name);
            if (hint)
                snprintf(err->hint, sizeof err->hint, "%s from %llu to %llu%s", ps_kind_hint(k->kind),
                         (unsigned long long)k->min, (unsigned long long)k->max,
                         k->kind == PS_DURATION ? " ms" : "");
            return PH_ERROR;
        }
        ps_key_store(conf, k, n);
    }
    err->key = -1;
    if (conf->message_max > conf->buffer_bytes) {
        /* a message the ring could not keep could not be resumed from */
        snprintf(err->msg, sizeof err->msg, "message_max (%zu) is larger than buffer_bytes (%zu)", conf->message_max,
                 conf->buffer_bytes);
        return PH_ERROR;
    }
    return PH_OK;
}
