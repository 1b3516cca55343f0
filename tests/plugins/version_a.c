/*
 * Fixture "swap", build A: answers every request with "A\n". version_b.c
 * builds the same source answering "B\n", so the reload tests can swap one
 * plugin file between two builds and see which code really runs.
 *
 * Every response also carries "X-Swap-Instance: N", a number drawn when the
 * instance was created, so a test can tell a kept instance from a new one
 * without relying on the server's log, and "X-Swap-Pid: PID", the process
 * that answered, so a test with worker processes knows which one it talks to.
 *
 * Route keys:
 *   tag = TEXT   echoed as "X-Swap-Tag: TEXT" (changing it re-creates the
 *                instance, which is what the reload tests use it for)
 *   refuse_real = yes
 *                create() accepts the keys when told it is a check
 *                (PH_CREATE_CHECK) and refuses them otherwise: the
 *                validation of "-t" or of a master passes, creating the
 *                instance that serves fails
 *   any other key is refused, so a test can make create() fail on reload.
 *
 * create() and destroy() log "swap: create|check|destroy pid PID" (at info
 * level), so a test can count where and how often plugin code runs.
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SWAP_ANSWER
#define SWAP_ANSWER "A"
#endif

typedef struct swap {
    const ph_server_api_t *api;
    char instance[32]; /* X-Swap-Instance value */
    char *tag;         /* owned, NULL when no tag key */
} swap_t;

static void swap_destroy(void *instance);

static int swap_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    swap_t *s = calloc(1, sizeof(*s));
    if (!s) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    s->api = args->api;
    int check = args->size >= offsetof(ph_create_args_t, flags) + sizeof(args->flags) &&
                (args->flags & PH_CREATE_CHECK);
    for (size_t i = 0; i < args->nkeys; i++) {
        if (strcmp(args->keys[i].key, "refuse_real") == 0 && strcmp(args->keys[i].value, "yes") == 0) {
            if (check)
                continue;
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "refuse_real = yes: refusing a real instance");
            swap_destroy(s);
            return PH_ERROR;
        }
        if (strcmp(args->keys[i].key, "tag") != 0 || s->tag) {
            err->key = (int)i;
            snprintf(err->msg, sizeof(err->msg), "unknown or repeated key \"%.200s\"", args->keys[i].key);
            swap_destroy(s);
            return PH_ERROR;
        }
        s->tag = strdup(args->keys[i].value);
        if (!s->tag) {
            err->key = -1;
            snprintf(err->msg, sizeof(err->msg), "out of memory");
            swap_destroy(s);
            return PH_ERROR;
        }
    }
    /* Nanoseconds at creation: unique enough to tell instances apart. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(s->instance, sizeof(s->instance), "%lld%09ld", (long long)ts.tv_sec, ts.tv_nsec);
    s->api->log(PH_LOG_INFO, "swap: %s pid %d", check ? "check" : "create", (int)getpid());
    *instance = s;
    return PH_OK;
}

static int swap_handle(void *instance, ph_request_t *req)
{
    swap_t *s = instance;
    const ph_server_api_t *api = s->api;
    if (api->set_status(req, 200) != PH_OK || api->add_header(req, "Content-Type", "text/plain") != PH_OK ||
        api->add_header(req, "X-Swap-Instance", s->instance) != PH_OK)
        return PH_ERROR;
    if (s->tag && api->add_header(req, "X-Swap-Tag", s->tag) != PH_OK)
        return PH_ERROR;
    char pid[24];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (api->add_header(req, "X-Swap-Pid", pid) != PH_OK)
        return PH_ERROR;
    return api->body_append(req, SWAP_ANSWER "\n", sizeof(SWAP_ANSWER "\n") - 1);
}

static void swap_destroy(void *instance)
{
    swap_t *s = instance;
    if (s->instance[0]) /* a whole instance, not one refused half-way */
        s->api->log(PH_LOG_INFO, "swap: destroy pid %d", (int)getpid());
    free(s->tag);
    free(s);
}

PH_PLUGIN_DEFINE("swap", SWAP_ANSWER, 0, swap_create, swap_handle, swap_destroy);
