/*
 * hello: the smallest useful out-of-tree plugin, built the way a third party
 * builds one (see Makefile here and plugins/echo/README.md). It answers
 * "GREETING SUBPATH\n", where GREETING comes from the route key
 * "greeting" (default "hello").
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hello {
    const ph_server_api_t *api;
    char *greeting; /* owned */
} hello_t;

static int hello_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    const char *greeting = "hello";
    for (size_t i = 0; i < args->nkeys; i++) {
        if (strcmp(args->keys[i].key, "greeting") != 0) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "unknown key \"%s\"", args->keys[i].key);
            return PH_ERROR;
        }
        greeting = args->keys[i].value; /* valid during create() only: copied below */
    }
    hello_t *h = malloc(sizeof(*h));
    if (h)
        h->greeting = strdup(greeting);
    if (!h || !h->greeting) {
        free(h);
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    h->api = args->api;
    *instance = h;
    return PH_OK;
}

static int hello_handle(void *instance, ph_request_t *req)
{
    const hello_t *h = instance;
    ph_str_t sub = h->api->subpath(req);
    if (h->api->add_header(req, "Content-Type", "text/plain; charset=utf-8") != PH_OK)
        return PH_ERROR;
    return h->api->body_printf(req, "%s %.*s\n", h->greeting, (int)sub.len, sub.ptr);
}

static void hello_destroy(void *instance)
{
    hello_t *h = instance;
    free(h->greeting);
    free(h);
}

PH_PLUGIN_DEFINE("hello", "1.0", 0, hello_create, hello_handle, hello_destroy);
