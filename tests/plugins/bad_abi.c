/*
 * Fixture: a descriptor built for the next ABI major. The loader must refuse
 * it with a message naming both versions. Written out by hand because
 * PH_PLUGIN_DEFINE always stamps the current major.
 */
#include <plughttpd/plugin.h>

static int bad_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    *instance = NULL;
    return PH_OK;
}

static int bad_handle(void *instance, ph_request_t *req)
{
    return PH_ERROR;
}

static void bad_destroy(void *instance)
{
}

PH_EXPORT extern const ph_plugin_t plughttpd_plugin;
PH_EXPORT const ph_plugin_t plughttpd_plugin = {
    .magic = PH_ABI_MAGIC,
    .abi_major = PH_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = (uint32_t)sizeof(ph_plugin_t),
    .flags = 0,
    .name = "bad_abi",
    .version = "1.0",
    .create = bad_create,
    .handle = bad_handle,
    .destroy = bad_destroy,
};
