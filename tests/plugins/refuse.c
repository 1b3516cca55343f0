/*
 * Fixture: create() accepts exactly one key, "ok = yes", and refuses
 * anything else with err->key on the offending key, so tests can check that
 * the server reports "FILE:LINE: message" for the right line and refuses to
 * start (or keeps the old generation on reload). A bad value also gets a
 * hint (ABI 1.3). Answers "refuse ok\n".
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct refuse {
    const ph_server_api_t *api;
} refuse_t;

static int refuse_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    for (size_t i = 0; i < args->nkeys; i++) {
        const ph_kv_t *kv = &args->keys[i];
        if (strcmp(kv->key, "ok") != 0) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "unknown key \"%s\"", kv->key);
            return PH_ERROR;
        }
        if (strcmp(kv->value, "yes") != 0) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "ok must be \"yes\", not \"%s\"", kv->value);
            /* ABI 1.3: the server's error struct may carry a hint */
            if (err->size >= offsetof(ph_error_t, hint) + sizeof err->hint)
                snprintf(err->hint, sizeof err->hint, "the only value is yes");
            return PH_ERROR;
        }
    }
    refuse_t *r = malloc(sizeof(*r));
    if (!r) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    r->api = args->api;
    *instance = r;
    return PH_OK;
}

static int refuse_handle(void *instance, ph_request_t *req)
{
    const refuse_t *r = instance;
    return r->api->body_append(req, "refuse ok\n", 10);
}

static void refuse_destroy(void *instance)
{
    free(instance);
}

PH_PLUGIN_DEFINE("refuse", "1.0", 0, refuse_create, refuse_handle, refuse_destroy);
