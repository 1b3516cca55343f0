/*
 * Fixture "introspect": answers every request with the server's
 * introspection (ABI 1.3 api->server_info and api->routes_visit) as one
 * line of JSON:
 *
 *   {"pid":PID,"generation":G,"generations":N,"process_index":P,"threads":T,
 *    "connections":C,"connections_total":CT,"in_flight":I,"reloads":R,
 *    "reloads_failed":RF,"routes":[{"generation":G,"current":1,
 *    "prefix":"/a","plugins":"gate, echo","file":"/x/echo.so",
 *    "in_flight":I,"requests":N,"status":[S0,S1,S2,S3,S4,S5],
 *    "bytes_out":B}, ...]}
 *
 * Routes come in the order routes_visit gives them. No keys.
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct intro {
    const ph_server_api_t *api;
} intro_t;

typedef struct walk {
    const ph_server_api_t *api;
    ph_request_t *req;
    int n;
} walk_t;

static int intro_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    if (args->nkeys > 0) {
        err->key = 0;
        snprintf(err->msg, sizeof err->msg, "unknown key \"%.100s\"", args->keys[0].key);
        return PH_ERROR;
    }
    intro_t *in = malloc(sizeof *in);
    if (in == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    in->api = args->api;
    *instance = in;
    return PH_OK;
}

static void intro_destroy(void *instance) { free(instance); }

/* A JSON string: quotes, backslashes and control characters escaped. */
static int put_string(const ph_server_api_t *api, ph_request_t *req, const char *s)
{
    if (s == NULL)
        return api->body_printf(req, "null");
    int rc = api->body_append(req, "\"", 1);
    for (; *s && rc == PH_OK; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = api->body_printf(req, "\\%c", c);
        else if (c < 0x20)
            rc = api->body_printf(req, "\\u%04x", c);
        else
            rc = api->body_append(req, s, 1);
    }
    return rc == PH_OK ? api->body_append(req, "\"", 1) : rc;
}

static int put_route(void *arg, const ph_route_info_t *r)
{
    walk_t *w = arg;
    const ph_server_api_t *api = w->api;
    ph_request_t *req = w->req;
    int rc = api->body_printf(req, "%s{\"generation\":%lu,\"current\":%d,\"prefix\":", w->n++ ? "," : "",
                              r->generation, r->current);
    rc |= put_string(api, req, r->prefix);
    rc |= api->body_printf(req, ",\"plugins\":");
    rc |= put_string(api, req, r->plugins);
    rc |= api->body_printf(req, ",\"file\":");
    rc |= put_string(api, req, r->file);
    rc |= api->body_printf(req, ",\"in_flight\":%llu,\"requests\":%llu,\"status\":[%llu,%llu,%llu,%llu,%llu,%llu],"
                           "\"bytes_out\":%llu}",
                           (unsigned long long)r->in_flight, (unsigned long long)r->requests,
                           (unsigned long long)r->status[0], (unsigned long long)r->status[1],
                           (unsigned long long)r->status[2], (unsigned long long)r->status[3],
                           (unsigned long long)r->status[4], (unsigned long long)r->status[5],
                           (unsigned long long)r->bytes_out);
    return rc != PH_OK; /* nonzero stops the walk */
}

static int intro_handle(void *instance, ph_request_t *req)
{
    const ph_server_api_t *api = ((intro_t *)instance)->api;
    ph_server_info_t si = {.size = sizeof si};
    if (api->server_info(&si) != PH_OK)
        return api->send_error(req, 500, "server_info failed") == PH_OK ? PH_OK : PH_ERROR;
    api->add_header(req, "Content-Type", "application/json");
    api->body_printf(req,
                     "{\"pid\":%d,\"generation\":%lu,\"generations\":%u,\"process_index\":%u,\"threads\":%u,"
                     "\"connections\":%llu,\"connections_total\":%llu,\"in_flight\":%llu,\"reloads\":%llu,"
                     "\"reloads_failed\":%llu,\"routes\":[",
                     (int)getpid(), si.generation, si.generations, si.process_index, si.threads,
                     (unsigned long long)si.connections, (unsigned long long)si.connections_total,
                     (unsigned long long)si.in_flight, (unsigned long long)si.reloads,
                     (unsigned long long)si.reloads_failed);
    walk_t w = {api, req, 0};
    if (api->routes_visit(put_route, &w) != 0)
        return PH_ERROR;
    return api->body_printf(req, "]}\n") == PH_OK ? PH_OK : PH_ERROR;
}

PH_PLUGIN_DEFINE("introspect", "1.0", 0, intro_create, intro_handle, intro_destroy);
