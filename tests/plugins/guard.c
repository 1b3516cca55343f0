/*
 * Fixture: an access stage (ABI 1.3 on_head) that decides before any body
 * byte is read. Built twice: guard.so is a pure access stage (no handle(),
 * for stacked routes "plugin = guard, X"); guardsrv.so (GUARD_CONTENT) is the
 * same on_head on a content handler whose handle() answers
 * "passed <body bytes>\n", so the early decision can be tested on a
 * one-plugin route as well.
 *
 * Route keys:
 *   mode = header | length | async
 *     header: without the request header named by "header" (default
 *             X-Token), answers 401 with WWW-Authenticate: Token and the
 *             body "guard: no token\n" (PH_DONE)
 *     length: a Content-Length above "max" (bytes) is answered 413 with
 *             "guard: too large\n" (PH_DONE)
 *     async:  returns PH_PENDING; a thread of its own decides after
 *             "delay" (parse_duration) as header mode does, and resumes
 *   header = NAME, max = N, delay = DURATION
 *
 * A request that passes has the value of its header noted as "user"
 * (ABI 1.5 note_set), for the stages after the guard; in async mode the
 * guard's own thread notes it before resume().
 *
 * Every decision is logged: "guard <prefix>: pass|refuse <status>"; async
 * mode also logs "guard <prefix>: pending" and "guard <prefix>: resume
 * returned PH_OK|PH_ERROR".
 */
#include <plughttpd/plugin.h>

#include "fx_threads.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { GUARD_HEADER, GUARD_LENGTH, GUARD_ASYNC };

typedef struct guard {
    const ph_server_api_t *api;
    int mode;
    char header[64];
    uint64_t max;
    uint64_t delay_ms;
    char prefix[128];
    fx_threads_t threads; /* the async mode's deciders */
} guard_t;

static int guard_fail(ph_error_t *err, int key, const char *msg, const char *what)
{
    err->key = key;
    snprintf(err->msg, sizeof(err->msg), "%s \"%s\"", msg, what);
    return PH_ERROR;
}

static int guard_key(guard_t *g, const ph_create_args_t *args, size_t i, ph_error_t *err)
{
    const char *k = args->keys[i].key, *v = args->keys[i].value;
    if (strcmp(k, "mode") == 0) {
        if (strcmp(v, "header") == 0)
            g->mode = GUARD_HEADER;
        else if (strcmp(v, "length") == 0)
            g->mode = GUARD_LENGTH;
        else if (strcmp(v, "async") == 0)
            g->mode = GUARD_ASYNC;
        else
            return guard_fail(err, (int)i, "unknown mode", v);
        return PH_OK;
    }
    if (strcmp(k, "header") == 0) {
        if (strlen(v) >= sizeof(g->header))
            return guard_fail(err, (int)i, "header name too long", v);
        strcpy(g->header, v);
        return PH_OK;
    }
    if (strcmp(k, "max") == 0)
        return args->api->parse_size(v, &g->max) == PH_OK ? PH_OK : guard_fail(err, (int)i, "bad size", v);
    if (strcmp(k, "delay") == 0)
        return args->api->parse_duration(v, &g->delay_ms) == PH_OK ? PH_OK
                                                                    : guard_fail(err, (int)i, "bad duration", v);
    return guard_fail(err, (int)i, "unknown key", k);
}

static int guard_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    guard_t *g = calloc(1, sizeof(*g));
    if (!g)
        return guard_fail(err, -1, "out of memory", "guard");
    g->api = args->api;
    strcpy(g->header, "X-Token");
    g->max = 1024;
    g->delay_ms = 100;
    snprintf(g->prefix, sizeof(g->prefix), "%s", args->prefix);
    for (size_t i = 0; i < args->nkeys; i++) {
        if (guard_key(g, args, i, err) != PH_OK) {
            free(g);
            return PH_ERROR;
        }
    }
    fx_threads_init(&g->threads);
    *instance = g;
    return PH_OK;
}

static void guard_destroy(void *instance)
{
    guard_t *g = instance;
    fx_join_all(&g->threads);
    free(g);
}

/* Builds the refusal; returns PH_DONE, or PH_ERROR when the core refused a
 * call (the test then sees a 500, not the fixture's 401). */
static int guard_refuse(const guard_t *g, ph_request_t *req, int status)
{
    const ph_server_api_t *api = g->api;
    const char *msg = status == 401 ? "guard: no token\n" : "guard: too large\n";
    if (api->set_status(req, status) != PH_OK || api->add_header(req, "Content-Type", "text/plain") != PH_OK)
        return PH_ERROR;
    if (status == 401 && api->add_header(req, "WWW-Authenticate", "Token") != PH_OK)
        return PH_ERROR;
    if (api->body_append(req, msg, strlen(msg)) != PH_OK)
        return PH_ERROR;
    api->log(PH_LOG_INFO, "guard %s: refuse %d", g->prefix, status);
    return PH_DONE;
}

static int guard_has_header(const guard_t *g, ph_request_t *req)
{
    ph_str_t v;
    return g->api->header(req, g->header, &v);
}

/* Notes the header's value as "user": PH_OK, or PH_ERROR (a 500). */
static int guard_note_user(const guard_t *g, ph_request_t *req)
{
    ph_str_t v;
    char user[128];
    if (!g->api->header(req, g->header, &v))
        return PH_ERROR;
    snprintf(user, sizeof(user), "%.*s", (int)v.len, v.ptr);
    return g->api->note_set(req, "user", user);
}

typedef struct guard_job {
    const guard_t *g;
    ph_request_t *req;
    int allow;
} guard_job_t;

static void *guard_thread(void *arg)
{
    guard_job_t *job = arg;
    const guard_t *g = job->g;
    struct timespec ts = {(time_t)(g->delay_ms / 1000), (long)(g->delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    int rc = PH_OK;
    if (job->allow) {
        g->api->log(PH_LOG_INFO, "guard %s: pass", g->prefix);
        rc = guard_note_user(g, job->req);
    } else
        rc = guard_refuse(g, job->req, 401);
    int r = g->api->resume(job->req, rc);
    g->api->log(PH_LOG_INFO, "guard %s: resume returned %s", g->prefix, r == PH_OK ? "PH_OK" : "PH_ERROR");
    free(job);
    return NULL;
}

static int guard_async(const guard_t *g, ph_request_t *req)
{
    guard_job_t *job = malloc(sizeof(*job));
    if (!job)
        return PH_ERROR;
    job->g = g;
    job->req = req;
    job->allow = guard_has_header(g, req);
    if (fx_spawn((fx_threads_t *)&g->threads, guard_thread, job) != 0) {
        free(job);
        return PH_ERROR;
    }
    g->api->log(PH_LOG_INFO, "guard %s: pending", g->prefix);
    return PH_PENDING;
}

static int guard_head(void *instance, ph_request_t *req)
{
    const guard_t *g = instance;
    ph_str_t v;
    switch (g->mode) {
    case GUARD_HEADER:
        if (!guard_has_header(g, req))
            return guard_refuse(g, req, 401);
        if (guard_note_user(g, req) != PH_OK)
            return PH_ERROR;
        break;
    case GUARD_LENGTH:
        if (g->api->header(req, "Content-Length", &v) && v.len < 20) {
            char num[21];
            memcpy(num, v.ptr, v.len);
            num[v.len] = '\0';
            if (strtoull(num, NULL, 10) > g->max)
                return guard_refuse(g, req, 413);
        }
        break;
    default:
        return guard_async(g, req);
    }
    g->api->log(PH_LOG_INFO, "guard %s: pass", g->prefix);
    return PH_OK;
}

static const ph_hooks_t guard_hooks = {sizeof(ph_hooks_t), .on_head = guard_head};

#ifdef GUARD_CONTENT
static int guard_handle(void *instance, ph_request_t *req)
{
    const guard_t *g = instance;
    return g->api->body_printf(req, "passed %zu\n", g->api->body(req).len);
}
PH_PLUGIN_DEFINE_HOOKS("guardsrv", "1.0", 0, guard_create, guard_handle, guard_destroy, &guard_hooks);
#else
PH_PLUGIN_DEFINE_HOOKS("guard", "1.0", 0, guard_create, NULL, guard_destroy, &guard_hooks);
#endif
