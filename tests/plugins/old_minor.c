/*
 * Fixture: a plugin built against ABI 1.0, whatever minor the tree is at
 * now. It claims minor 0 and the size of the 1.0 descriptor (which ends with
 * destroy: later minors only append), so it must keep loading as the ABI
 * grows. Answers "old-minor ok\n".
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>

/* Size of ph_plugin_t in ABI 1.0: everything up to and including destroy. */
#define OLD_MINOR_V1_0_SIZE (offsetof(ph_plugin_t, destroy) + sizeof(void (*)(void *)))

typedef struct old_minor {
    const ph_server_api_t *api;
} old_minor_t;

static int om_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    if (args->nkeys > 0) {
        err->key = 0;
        snprintf(err->msg, sizeof(err->msg), "unknown key \"%s\"", args->keys[0].key);
        return PH_ERROR;
    }
    old_minor_t *om = malloc(sizeof(*om));
    if (!om) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    om->api = args->api;
    *instance = om;
    return PH_OK;
}

static int om_handle(void *instance, ph_request_t *req)
{
    const old_minor_t *om = instance;
    return om->api->body_append(req, "old-minor ok\n", 13);
}

static void om_destroy(void *instance)
{
    free(instance);
}

PH_EXPORT extern const ph_plugin_t plughttpd_plugin;
PH_EXPORT const ph_plugin_t plughttpd_plugin = {
    .magic = PH_ABI_MAGIC,
    .abi_major = PH_ABI_MAJOR,
    .abi_minor = 0,
    .size = (uint32_t)OLD_MINOR_V1_0_SIZE,
    .flags = 0,
    .name = "old_minor",
    .version = "1.0",
    .create = om_create,
    .handle = om_handle,
    .destroy = om_destroy,
};
