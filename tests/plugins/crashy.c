/*
 * Fixture: a plugin that crashes on request, for crash containment
 * (tests/integration/test_crash.py). Below its route, "/boom" dereferences
 * NULL in crashy_boom() (exported, so a backtrace names it), "/abort"
 * calls abort(); anything else answers "crashy ok\n".
 */
#include <plughttpd/plugin.h>

#include <stdlib.h>
#include <string.h>

typedef struct crashy {
    const ph_server_api_t *api;
} crashy_t;

static int crashy_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    crashy_t *c = malloc(sizeof *c);
    if (c == NULL) {
        err->key = -1;
        strcpy(err->msg, "out of memory");
        return PH_ERROR;
    }
    c->api = args->api;
    *instance = c;
    return PH_OK;
}

/* Visible and not inlined: the frame the crash handler's backtrace names. */
__attribute__((visibility("default"), noinline)) int crashy_boom(volatile int *p);
int crashy_boom(volatile int *p)
{
    return *p;
}

static int is(ph_str_t s, const char *what)
{
    size_t n = strlen(what);
    return s.len == n && memcmp(s.ptr, what, n) == 0;
}

static int crashy_handle(void *instance, ph_request_t *req)
{
    const crashy_t *c = instance;
    ph_str_t sub = c->api->subpath(req);
    if (is(sub, "/boom"))
        return crashy_boom(NULL);
    if (is(sub, "/abort"))
        abort();
    return c->api->body_append(req, "crashy ok\n", 10);
}

static void crashy_destroy(void *instance) { free(instance); }

PH_PLUGIN_DEFINE("crashy", "1.0", 0, crashy_create, crashy_handle, crashy_destroy);
