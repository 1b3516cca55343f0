/*
 * Fixture: a plugin built against ABI 1.5, whatever minor the tree is at
 * now. It claims minor 5, uses 1.5 calls (notes, resp_length, authority)
 * and reads the introspection structures as 1.5 had them: server_info
 * with a 1.5 size must leave the bytes after it alone, and a route's
 * fields up to bytes_out are there. Answers
 * "minor5 ok note=N authority=A canary=intact|clobbered route=P\n".
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <string.h>

/* ph_server_info_t as 1.5 had it: everything before blocking_queued. */
#define INFO_V1_5_SIZE offsetof(ph_server_info_t, blocking_queued)

typedef struct m5 {
    const ph_server_api_t *api;
} m5_t;

static m5_t the_instance;

static int m5_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    if (args->nkeys > 0) {
        err->key = 0;
        snprintf(err->msg, sizeof err->msg, "unknown key \"%s\"", args->keys[0].key);
        return PH_ERROR;
    }
    the_instance.api = args->api;
    *instance = &the_instance;
    return PH_OK;
}

/* Remembers the first route's prefix: a field every 1.x server fills. */
static int first_route(void *arg, const ph_route_info_t *r)
{
    snprintf(arg, 64, "%s", r->prefix);
    return 1;
}

static int m5_handle(void *instance, ph_request_t *req)
{
    const ph_server_api_t *api = ((const m5_t *)instance)->api;
    union {
        ph_server_info_t info;
        unsigned char bytes[sizeof(ph_server_info_t)];
    } u;
    char route[64] = "";

    memset(&u, 0xA5, sizeof u);
    u.info.size = (uint32_t)INFO_V1_5_SIZE;
    if (api->server_info(&u.info) != PH_OK)
        return PH_ERROR;
    int intact = 1;
    for (size_t i = INFO_V1_5_SIZE; i < sizeof u.bytes; i++)
        intact &= u.bytes[i] == 0xA5;
    api->routes_visit(first_route, route);
    if (api->note_set(req, "who", "five") != PH_OK)
        return PH_ERROR;
    ph_str_t a = api->authority(req);
    return api->body_printf(req, "minor5 ok note=%s authority=%.*s canary=%s route=%s len=%lld\n",
                            api->note(req, "who"), (int)a.len, a.ptr, intact ? "intact" : "clobbered", route,
                            (long long)api->resp_length(req));
}

static void m5_destroy(void *instance) { (void)instance; }

PH_EXPORT extern const ph_plugin_t plughttpd_plugin;
PH_EXPORT const ph_plugin_t plughttpd_plugin = {
    .magic = PH_ABI_MAGIC,
    .abi_major = PH_ABI_MAJOR,
    .abi_minor = 5,
    .size = (uint32_t)sizeof(ph_plugin_t), /* the descriptor is unchanged since 1.3 */
    .flags = 0,
    .name = "minor5",
    .version = "1.5",
    .create = m5_create,
    .handle = m5_handle,
    .destroy = m5_destroy,
};
