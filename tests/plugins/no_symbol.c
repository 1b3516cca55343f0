/*
 * Fixture: a valid shared object that exports a descriptor under the wrong
 * name, so dlopen() succeeds and dlsym(PH_PLUGIN_SYMBOL) fails. The loader
 * must refuse it with a message naming the missing symbol.
 */
#include <plughttpd/plugin.h>

static int ns_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    *instance = NULL;
    return PH_OK;
}

static int ns_handle(void *instance, ph_request_t *req)
{
    return PH_OK;
}

static void ns_destroy(void *instance)
{
}

PH_EXPORT extern const ph_plugin_t plughttpd_plugin_v0;
PH_EXPORT const ph_plugin_t plughttpd_plugin_v0 = {
    PH_ABI_MAGIC, PH_ABI_MAJOR, PH_ABI_MINOR, (uint32_t)sizeof(ph_plugin_t), 0,
    "no_symbol", "1.0", ns_create, ns_handle, ns_destroy, NULL,
};
