/*
 * Fixture: the stages of a stacked route (ABI 1.3), one build per role,
 * chosen with -D:
 *   STAGE_GATE    "gate": an access stage (on_head, no handle). Key
 *                 deny = yes answers 403 "denied by gate" from on_head.
 *   STAGE_UPPER   "upper": an output filter (filter_head, filter_body, no
 *                 handle) that upper-cases the body.
 *   STAGE_BOTH    "both": on_head and filter_body without handle(): no
 *                 route can tell its role.
 *   STAGE_NOROLE  "norole": no handle(), only on_cancel: refused on load.
 *   STAGE_NOBODY  "nobody": a content handler declaring
 *                 PH_PLUGIN_STREAM_BODY without on_body: refused on load.
 * Keys: tag = TEXT (any stage), deny = yes|no (gate); any other key is
 * refused, so a test sees which keys reach which stage.
 *
 * create() and destroy() log "stage NAME: create|check|destroy name=N
 * prefix=P processes=N keys=k=v;k=v", so a test can tell which instances
 * a reload kept, created or destroyed.
 */
#include <plughttpd/plugin.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(STAGE_GATE)
#define STAGE_NAME "gate"
#elif defined(STAGE_UPPER)
#define STAGE_NAME "upper"
#elif defined(STAGE_BOTH)
#define STAGE_NAME "both"
#elif defined(STAGE_NOROLE)
#define STAGE_NAME "norole"
#else
#define STAGE_NAME "nobody"
#endif

typedef struct stage {
    const ph_server_api_t *api;
    int deny;
    char name[64];
    char prefix[128];
} stage_t;

static void keys_text(const ph_create_args_t *args, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < args->nkeys && n < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s=%s", i ? ";" : "", args->keys[i].key, args->keys[i].value);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

static int stage_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    stage_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    s->api = args->api;
    for (size_t i = 0; i < args->nkeys; i++) {
        const ph_kv_t *kv = &args->keys[i];
        if (strcmp(kv->key, "tag") == 0)
            continue;
        if (strcmp(kv->key, "deny") == 0 && args->api->parse_bool(kv->value, &s->deny) == PH_OK)
            continue;
        err->key = (int)i;
        snprintf(err->msg, sizeof err->msg, STAGE_NAME ": unknown key \"%.100s\"", kv->key);
        free(s);
        return PH_ERROR;
    }
    snprintf(s->name, sizeof s->name, "%s", args->name ? args->name : "(null)");
    snprintf(s->prefix, sizeof s->prefix, "%s", args->prefix);
    char keys[512];
    keys_text(args, keys, sizeof keys);
    args->api->log(PH_LOG_INFO, "stage " STAGE_NAME ": %s name=%s prefix=%s processes=%u keys=%s",
                   (args->flags & PH_CREATE_CHECK) ? "check" : "create", s->name, s->prefix, args->processes,
                   keys);
    *instance = s;
    return PH_OK;
}

static void stage_destroy(void *instance)
{
    stage_t *s = instance;
    s->api->log(PH_LOG_INFO, "stage " STAGE_NAME ": destroy name=%s prefix=%s", s->name, s->prefix);
    free(s);
}

__attribute__((unused)) static int stage_head(void *instance, ph_request_t *req)
{
    stage_t *s = instance;
    if (!s->deny)
        return PH_OK;
    s->api->send_error(req, 403, "denied by gate");
    return PH_DONE;
}

__attribute__((unused)) static int upper_head(void *instance, ph_request_t *req, void **state)
{
    (void)instance;
    (void)req;
    (void)state;
    return PH_OK;
}

__attribute__((unused)) static int upper_body(void *instance, ph_request_t *req, void *state, const void *data, size_t len,
                      unsigned flags)
{
    stage_t *s = instance;
    (void)state;
    (void)flags;
    char buf[4096];
    const unsigned char *p = data;
    while (len > 0) {
        size_t n = len < sizeof buf ? len : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)toupper(p[i]);
        if (s->api->filter_emit(req, buf, n) != PH_OK)
            return PH_ERROR;
        p += n;
        len -= n;
    }
    return PH_OK;
}

__attribute__((unused)) static int nobody_handle(void *instance, ph_request_t *req)
{
    (void)instance;
    (void)req;
    return PH_OK;
}

__attribute__((unused)) static void stage_cancel(void *instance, ph_request_t *req)
{
    (void)instance;
    (void)req;
}

#if defined(STAGE_GATE)
static const ph_hooks_t hooks = {sizeof hooks, .on_head = stage_head};
PH_PLUGIN_DEFINE_HOOKS(STAGE_NAME, "1.0", 0, stage_create, NULL, stage_destroy, &hooks);
#elif defined(STAGE_UPPER)
static const ph_hooks_t hooks = {sizeof hooks, .filter_head = upper_head, .filter_body = upper_body};
PH_PLUGIN_DEFINE_HOOKS(STAGE_NAME, "1.0", 0, stage_create, NULL, stage_destroy, &hooks);
#elif defined(STAGE_BOTH)
static const ph_hooks_t hooks = {sizeof hooks, .on_head = stage_head, .filter_body = upper_body};
PH_PLUGIN_DEFINE_HOOKS(STAGE_NAME, "1.0", 0, stage_create, NULL, stage_destroy, &hooks);
#elif defined(STAGE_NOROLE)
static const ph_hooks_t hooks = {sizeof hooks, .on_cancel = stage_cancel};
PH_PLUGIN_DEFINE_HOOKS(STAGE_NAME, "1.0", 0, stage_create, NULL, stage_destroy, &hooks);
#else
static const ph_hooks_t hooks = {sizeof hooks, .on_cancel = stage_cancel};
PH_PLUGIN_DEFINE_HOOKS(STAGE_NAME, "1.0", PH_PLUGIN_STREAM_BODY | PH_PLUGIN_JSON_ERRORS, stage_create,
                       nobody_handle, stage_destroy, &hooks);
#endif
