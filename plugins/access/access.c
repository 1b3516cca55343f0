/*
 * access: an access stage (no handle(); hooks->on_head) that lets a request
 * go on or answers 403 by the client's address, before any body byte is
 * read:
 *
 *     [route /admin]
 *     plugin = access, static
 *     access.allow = 10.0.0.0/8, 2001:db8::/32, unix
 *     access.deny = all
 *
 * access_rule holds the rules and the first-match decision; this file
 * reads the keys and answers. README.md lists the keys.
 */
#include <plughttpd/plugin.h>

#include "access_rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct access {
    const ph_server_api_t *api;
    access_rules_t rules;
} access_t;

static int access_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    access_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    a->api = a->rules.api = args->api;
    if (!PH_API_HAS(args->api, cidr_free)) {
        /* a 1.6 server from before address sets: nothing to match with */
        snprintf(err->msg, sizeof err->msg, "the server lacks api->cidr_* (ABI 1.6)");
        free(a);
        return PH_ERROR;
    }
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key;
        char why[200];
        err->key = (int)i;
        if (strcmp(k, "allow") != 0 && strcmp(k, "deny") != 0) {
            snprintf(err->msg, sizeof err->msg, "unknown key \"%s\" (allow, deny)", k);
        } else if (access_rules_add(&a->rules, k, args->keys[i].value, why, sizeof why) < 0) {
            snprintf(err->msg, sizeof err->msg, "%s: %s", k, why);
        } else {
            continue;
        }
        access_rules_free(&a->rules);
        free(a);
        return PH_ERROR;
    }
    if (a->rules.n == 0) {
        /* A stage that lets everyone through is a mistake, not a choice. */
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "no allow or deny rule");
        free(a);
        return PH_ERROR;
    }
    *instance = a;
    return PH_OK;
}

static void access_destroy(void *instance)
{
    access_t *a = instance;
    access_rules_free(&a->rules);
    free(a);
}

static int access_head(void *instance, ph_request_t *req)
{
    const access_t *a = instance;
    if (access_rules_allow(&a->rules, a->api->peer(req)))
        return PH_OK;
    return a->api->send_error(req, 403, "forbidden") == PH_OK ? PH_DONE : PH_ERROR;
}

static const ph_hooks_t access_hooks = {sizeof(ph_hooks_t), .on_head = access_head};

PH_PLUGIN_DEFINE_HOOKS("access", "1.0", 0, access_create, NULL, access_destroy, &access_hooks);
