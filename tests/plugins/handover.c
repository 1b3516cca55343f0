/*
 * Fixture "handover" (ABI 1.6 take_over): counts the requests it answers
 * and answers "count N build X\n" (N including this request). Built twice,
 * handover_a.so and handover_b.so (X = A or B), so a reload can replace
 * the instance with a different file of the same plugin; take_over()
 * starts the new instance's count from the old one's and logs
 * "handover: took over N from version V".
 *
 * Route keys:
 *   tag = TEXT   ignored; changing it replaces the instance
 *   refuse = yes create() refuses its keys (to make a reload fail)
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HANDOVER_BUILD
#define HANDOVER_BUILD "A"
#endif

typedef struct handover {
    const ph_server_api_t *api;
    unsigned long count; /* atomic: handle() runs on several threads */
} handover_t;

static int handover_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    for (size_t i = 0; i < args->nkeys; i++) {
        const ph_kv_t *kv = &args->keys[i];
        if (strcmp(kv->key, "refuse") == 0 && strcmp(kv->value, "yes") == 0) {
            err->key = (int)i;
            snprintf(err->msg, sizeof err->msg, "refuse = yes");
            return PH_ERROR;
        }
        if (strcmp(kv->key, "tag") != 0 && strcmp(kv->key, "refuse") != 0) {
            err->key = (int)i;
            snprintf(err->msg, sizeof err->msg, "unknown key %s", kv->key);
            return PH_ERROR;
        }
    }
    handover_t *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    h->api = args->api;
    *instance = h;
    return PH_OK;
}

static int handover_handle(void *instance, ph_request_t *req)
{
    handover_t *h = instance;
    unsigned long n = __atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
    h->api->set_header(req, "Content-Type", "text/plain");
    return h->api->body_printf(req, "count %lu build %s\n", n, HANDOVER_BUILD);
}

/* Both builds share this layout, which the name check vouches for; the
 * old instance keeps its own count and goes on serving. */
static void handover_take_over(void *instance, void *old_instance, const ph_plugin_t *old_plugin)
{
    handover_t *h = instance;
    const handover_t *old = old_instance;
    unsigned long n = __atomic_load_n(&old->count, __ATOMIC_RELAXED);
    __atomic_store_n(&h->count, n, __ATOMIC_RELAXED);
    h->api->log(PH_LOG_INFO, "handover: took over %lu from version %s", n, old_plugin->version);
}

static void handover_destroy(void *instance) { free(instance); }

static const ph_hooks_t hooks = {sizeof hooks, .take_over = handover_take_over};
PH_PLUGIN_DEFINE_HOOKS("handover", HANDOVER_BUILD, 0, handover_create, handover_handle, handover_destroy, &hooks);
