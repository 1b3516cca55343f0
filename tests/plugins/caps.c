/*
 * Fixture: an output filter (ABI 1.3 filter_head/filter_body). Uppercases
 * ASCII letters of the body and adds "X-Caps: 1". filter_head() declines
 * (the body passes untouched, no X-Caps) when the response's Content-Type
 * starts with the route key "skip" (default "image/").
 *
 * With "hold = yes" it keeps what it gets until PH_FILTER_FLUSH or
 * PH_FILTER_END and emits it then, so a test can see that a waiting
 * stream's bytes are flushed through the filter. Output pieces are counted
 * and logged at the end: "caps: end pieces=N flushes=F bytes=B".
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct caps {
    const ph_server_api_t *api;
    char skip[64];
    int hold;
} caps_t;

typedef struct caps_state {
    unsigned char *held; /* request memory; grows by doubling */
    size_t len, cap;
    unsigned long pieces, flushes, bytes;
} caps_state_t;

static int caps_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    caps_t *u = calloc(1, sizeof(*u));
    if (!u) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    u->api = args->api;
    strcpy(u->skip, "image/");
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        int ok = PH_ERROR;
        if (strcmp(k, "skip") == 0 && strlen(v) < sizeof(u->skip))
            ok = (strcpy(u->skip, v), PH_OK);
        else if (strcmp(k, "hold") == 0)
            ok = args->api->parse_bool(v, &u->hold);
        if (ok != PH_OK) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "bad or unknown key \"%s\"", k);
            free(u);
            return PH_ERROR;
        }
    }
    *instance = u;
    return PH_OK;
}

static void caps_destroy(void *instance)
{
    free(instance);
}

static int caps_head(void *instance, ph_request_t *req, void **state)
{
    caps_t *u = instance;
    ph_str_t ct;
    if (u->api->resp_header(req, "Content-Type", &ct) && ct.len >= strlen(u->skip) &&
        strncmp(ct.ptr, u->skip, strlen(u->skip)) == 0)
        return PH_DECLINED;
    caps_state_t *st = u->api->alloc(req, sizeof(*st));
    if (!st)
        return PH_ERROR;
    memset(st, 0, sizeof(*st));
    *state = st;
    return u->api->add_header(req, "X-Caps", "1");
}

static int caps_hold(caps_t *u, ph_request_t *req, caps_state_t *st, const unsigned char *p, size_t n)
{
    if (st->len + n > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->len + n)
            cap *= 2;
        unsigned char *b = u->api->alloc(req, cap);
        if (!b)
            return PH_ERROR;
        if (st->len)
            memcpy(b, st->held, st->len);
        st->held = b, st->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        st->held[st->len + i] = (p[i] >= 'a' && p[i] <= 'z') ? (unsigned char)(p[i] - 32) : p[i];
    st->len += n;
    return PH_OK;
}

static int caps_emit(caps_t *u, ph_request_t *req, caps_state_t *st)
{
    if (st->len == 0)
        return PH_OK;
    int rc = u->api->filter_emit(req, st->held, st->len);
    st->pieces++;
    st->bytes += st->len;
    st->len = 0;
    return rc;
}

static int caps_body(void *instance, ph_request_t *req, void *state, const void *data, size_t len,
                      unsigned flags)
{
    caps_t *u = instance;
    caps_state_t *st = state;
    if (caps_hold(u, req, st, data, len) != PH_OK)
        return PH_ERROR;
    if (flags & PH_FILTER_FLUSH)
        st->flushes++;
    if (!u->hold || (flags & (PH_FILTER_FLUSH | PH_FILTER_END)))
        if (caps_emit(u, req, st) != PH_OK)
            return PH_ERROR;
    if (flags & PH_FILTER_END)
        u->api->log(PH_LOG_INFO, "caps: end pieces=%lu flushes=%lu bytes=%lu", st->pieces, st->flushes,
                    st->bytes);
    return PH_OK;
}

static const ph_hooks_t caps_hooks = {sizeof(ph_hooks_t), .filter_head = caps_head, .filter_body = caps_body};

PH_PLUGIN_DEFINE_HOOKS("caps", "1.0", 0, caps_create, NULL, caps_destroy, &caps_hooks);
