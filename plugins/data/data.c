/*
 * The data plugin: tables of a SQLite or PostgreSQL database as a JSON REST
 * API. This file is the descriptor and the instance lifecycle; requests are
 * answered in data_rest.c.
 *
 * create() reads the configuration, opens the database (creating a missing
 * SQLite file from the schema file) and reads the schema of the exposed
 * tables. Any failure there, including an unreachable database, fails
 * create() with a message: the schema is needed to check every name a
 * request uses. Outages after start-up are answered with 503 per request.
 * The core re-creates instances on reload, which re-reads the schema.
 */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void data_destroy(void *instance);

static int data_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    data_t *d = calloc(1, sizeof *d);
    char msg[sizeof err->msg];

    if (d == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        err->key = -1;
        return PH_ERROR;
    }
    d->api = args->api;
    if (!PH_API_HAS(d->api, url_escape)) {
        snprintf(err->msg, sizeof err->msg, "this server is too old for the data plugin (needs ABI 1.6)");
        err->key = -1;
        data_destroy(d);
        return PH_ERROR;
    }
    if (data_conf_parse(&d->conf, d->api, args->config_dir, args->keys, args->nkeys, err) != PH_OK) {
        data_destroy(d);
        return PH_ERROR;
    }
    d->conf.check = (args->flags & PH_CREATE_CHECK) != 0;
    d->jwt = data_jwt_keys_load(&d->conf.roles, msg, sizeof msg);
    if (d->jwt == NULL && msg[0] != '\0') {
        snprintf(err->msg, sizeof err->msg, "%s", msg);
        err->key = -1;
        data_destroy(d);
        return PH_ERROR;
    }
    d->prefix = strdup(args->prefix ? args->prefix : "");
    d->ops = d->conf.backend == DATA_BACKEND_PG      ? &data_pg_ops
             : d->conf.backend == DATA_BACKEND_MYSQL ? &data_mysql_ops
                                                     : &data_sqlite_ops;
    d->schema.rpc = &d->rpc;
    d->db = d->prefix ? d->ops->open(&d->conf, &d->schema, msg, sizeof msg) : NULL;
    /* Relationships join exposed tables only, so they are linked once all
     * are read. */
    if (d->db != NULL && (data_schema_link(&d->schema) != PH_OK || data_rpc_link(&d->rpc, &d->schema) != PH_OK))
        snprintf(msg, sizeof msg, "out of memory");
    else if (d->db != NULL)
        msg[0] = '\0';
    if (d->db == NULL || msg[0] != '\0') {
        snprintf(err->msg, sizeof err->msg, "%s", d->prefix ? msg : "out of memory");
        err->key = -1;
        data_destroy(d);
        return PH_ERROR;
    }
    if (d->conf.ntables == 0)
        d->api->log(PH_LOG_WARN, "no tables exposed: add a \"tables\" key");
    /* Without roles of its own the backend relies on grant lines. */
    if (data_role_enabled(&d->conf.roles) && d->conf.roles.ngrants == 0 && d->conf.backend != DATA_BACKEND_PG)
        d->api->log(PH_LOG_WARN, "roles without any \"grant\" line: every table request is refused");
    d->api->log(PH_LOG_INFO, "%s database, %zu table(s), %zu function(s)%s%s", d->ops->name, d->schema.ntables,
                d->rpc.n,
                d->conf.read_only ? ", read-only" : "", d->conf.check ? " (checked, nothing changed)" : "");
    *instance = d;
    return PH_OK;
}

static int data_handle(void *instance, ph_request_t *req)
{
    return data_rest_handle(instance, req);
}

static void data_destroy(void *instance)
{
    data_t *d = instance;
    if (d == NULL)
        return;
    if (d->db != NULL)
        d->ops->close(d->db);
    data_schema_free(&d->schema);
    data_jwt_keys_free(d->jwt);
    data_rpc_free(&d->rpc);
    data_conf_free(&d->conf);
    free(d->prefix);
    free(d);
}

/* JSON_ERRORS and PGRST_ERRORS: the core's own errors on this route (413,
 * 414, 431, ...) are JSON in the plugin's shape, {"code", "message",
 * "details", "hint", "error", "status"}. */
PH_PLUGIN_DEFINE("data", "1.0", PH_PLUGIN_BLOCKING | PH_PLUGIN_JSON_ERRORS | PH_PLUGIN_PGRST_ERRORS,
                 data_create, data_handle, data_destroy);
