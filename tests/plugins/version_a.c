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
 *   any other key is refused, so a test can make create() fail on reload.
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
    for (size_t i = 0; i < args->nkeys; i++) {
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
    free(s->tag);
    free(s);
}

PH_PLUGIN_DEFINE("swap", SWAP_ANSWER, 0, swap_create, swap_handle, swap_destroy);
