/*
 * Fixture: an access stage (ABI 1.3 on_head) that decides before any body
 * byte is read. Built twice: gate.so is a pure access stage (no handle(),
 * for stacked routes "plugin = gate, X"); gatesrv.so (GATE_CONTENT) is the
 * same on_head on a content handler whose handle() answers
 * "passed <body bytes>\n", so the early decision can be tested on a
 * one-plugin route as well.
 *
 * Route keys:
 *   mode = header | length | async
 *     header: without the request header named by "header" (default
 *             X-Token), answers 401 with WWW-Authenticate: Token and the
 *             body "gate: no token\n" (PH_DONE)
 *     length: a Content-Length above "max" (bytes) is answered 413 with
 *             "gate: too large\n" (PH_DONE)
 *     async:  returns PH_PENDING; a thread of its own decides after
 *             "delay" (parse_duration) as header mode does, and resumes
 *   header = NAME, max = N, delay = DURATION
 *
 * Every decision is logged: "gate <prefix>: pass|refuse <status>"; async
 * mode also logs "gate <prefix>: pending" and "gate <prefix>: resume
 * returned PH_OK|PH_ERROR".
 */
#include <plughttpd/plugin.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { GATE_HEADER, GATE_LENGTH, GATE_ASYNC };

typedef struct gate {
    const ph_server_api_t *api;
    int mode;
    char header[64];
    uint64_t max;
    uint64_t delay_ms;
    char prefix[128];
} gate_t;

static int gate_fail(ph_error_t *err, int key, const char *msg, const char *what)
{
    err->key = key;
    snprintf(err->msg, sizeof(err->msg), "%s \"%s\"", msg, what);
    return PH_ERROR;
}

static int gate_key(gate_t *g, const ph_create_args_t *args, size_t i, ph_error_t *err)
{
    const char *k = args->keys[i].key, *v = args->keys[i].value;
    if (strcmp(k, "mode") == 0) {
        if (strcmp(v, "header") == 0)
            g->mode = GATE_HEADER;
        else if (strcmp(v, "length") == 0)
            g->mode = GATE_LENGTH;
        else if (strcmp(v, "async") == 0)
            g->mode = GATE_ASYNC;
        else
            return gate_fail(err, (int)i, "unknown mode", v);
        return PH_OK;
    }
    if (strcmp(k, "header") == 0) {
        if (strlen(v) >= sizeof(g->header))
            return gate_fail(err, (int)i, "header name too long", v);
        strcpy(g->header, v);
        return PH_OK;
    }
    if (strcmp(k, "max") == 0)
        return args->api->parse_size(v, &g->max) == PH_OK ? PH_OK : gate_fail(err, (int)i, "bad size", v);
    if (strcmp(k, "delay") == 0)
        return args->api->parse_duration(v, &g->delay_ms) == PH_OK ? PH_OK
                                                                    : gate_fail(err, (int)i, "bad duration", v);
    return gate_fail(err, (int)i, "unknown key", k);
}

static int gate_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    gate_t *g = calloc(1, sizeof(*g));
    if (!g)
        return gate_fail(err, -1, "out of memory", "gate");
    g->api = args->api;
    strcpy(g->header, "X-Token");
    g->max = 1024;
    g->delay_ms = 100;
    snprintf(g->prefix, sizeof(g->prefix), "%s", args->prefix);
    for (size_t i = 0; i < args->nkeys; i++) {
        if (gate_key(g, args, i, err) != PH_OK) {
            free(g);
            return PH_ERROR;
        }
    }
    *instance = g;
    return PH_OK;
}

static void gate_destroy(void *instance)
{
    free(instance);
}

/* Builds the refusal; returns PH_DONE, or PH_ERROR when the core refused a
 * call (the test then sees a 500, not the fixture's 401). */
static int gate_refuse(const gate_t *g, ph_request_t *req, int status)
{
    const ph_server_api_t *api = g->api;
    const char *msg = status == 401 ? "gate: no token\n" : "gate: too large\n";
    if (api->set_status(req, status) != PH_OK || api->add_header(req, "Content-Type", "text/plain") != PH_OK)
        return PH_ERROR;
    if (status == 401 && api->add_header(req, "WWW-Authenticate", "Token") != PH_OK)
        return PH_ERROR;
    if (api->body_append(req, msg, strlen(msg)) != PH_OK)
        return PH_ERROR;
    api->log(PH_LOG_INFO, "gate %s: refuse %d", g->prefix, status);
    return PH_DONE;
}

static int gate_has_header(const gate_t *g, ph_request_t *req)
{
    ph_str_t v;
    return g->api->header(req, g->header, &v);
}

typedef struct gate_job {
    const gate_t *g;
    ph_request_t *req;
    int allow;
} gate_job_t;

static void *gate_thread(void *arg)
{
    gate_job_t *job = arg;
    const gate_t *g = job->g;
    struct timespec ts = {(time_t)(g->delay_ms / 1000), (long)(g->delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    int rc = PH_OK;
    if (job->allow)
        g->api->log(PH_LOG_INFO, "gate %s: pass", g->prefix);
    else
        rc = gate_refuse(g, job->req, 401);
    int r = g->api->resume(job->req, rc);
    g->api->log(PH_LOG_INFO, "gate %s: resume returned %s", g->prefix, r == PH_OK ? "PH_OK" : "PH_ERROR");
    free(job);
    return NULL;
}

static int gate_async(const gate_t *g, ph_request_t *req)
{
    gate_job_t *job = malloc(sizeof(*job));
    if (!job)
        return PH_ERROR;
    job->g = g;
    job->req = req;
    job->allow = gate_has_header(g, req);
    pthread_t t;
    if (pthread_create(&t, NULL, gate_thread, job) != 0) {
        free(job);
        return PH_ERROR;
    }
    pthread_detach(t);
    g->api->log(PH_LOG_INFO, "gate %s: pending", g->prefix);
    return PH_PENDING;
}

static int gate_head(void *instance, ph_request_t *req)
{
    const gate_t *g = instance;
    ph_str_t v;
    switch (g->mode) {
    case GATE_HEADER:
        if (!gate_has_header(g, req))
            return gate_refuse(g, req, 401);
        break;
    case GATE_LENGTH:
        if (g->api->header(req, "Content-Length", &v) && v.len < 20) {
            char num[21];
            memcpy(num, v.ptr, v.len);
            num[v.len] = '\0';
            if (strtoull(num, NULL, 10) > g->max)
                return gate_refuse(g, req, 413);
        }
        break;
    default:
        return gate_async(g, req);
    }
    g->api->log(PH_LOG_INFO, "gate %s: pass", g->prefix);
    return PH_OK;
}

static const ph_hooks_t gate_hooks = {sizeof(ph_hooks_t), .on_head = gate_head};

#ifdef GATE_CONTENT
static int gate_handle(void *instance, ph_request_t *req)
{
    const gate_t *g = instance;
    return g->api->body_printf(req, "passed %zu\n", g->api->body(req).len);
}
PH_PLUGIN_DEFINE_HOOKS("gatesrv", "1.0", 0, gate_create, gate_handle, gate_destroy, &gate_hooks);
#else
PH_PLUGIN_DEFINE_HOOKS("gate", "1.0", 0, gate_create, NULL, gate_destroy, &gate_hooks);
#endif
