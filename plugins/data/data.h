/*
 * One data API instance: a [route] section with plugin = data. Built by
 * create() and read-only afterwards, so handle() may run on several threads
 * at once (the database handle does its own locking).
 */
#ifndef DATA_H
#define DATA_H

#include <plughttpd/plugin.h>

#include "data_conf.h"
#include "data_db.h"
#include "data_jwt.h"
#include "data_rpc.h"
#include "data_schema.h"

typedef struct data {
    const ph_server_api_t *api;
    char *prefix; /* the route prefix, for Location headers */
    data_conf_t conf;
    data_schema_t schema; /* the exposed tables, in conf->tables order */
    data_rpc_t rpc;       /* the callable functions (/rpc/<name>) */
    const data_db_ops_t *ops;
    data_db_t *db;
    data_jwt_keys_t *jwt; /* the route's JWT keys, NULL without (data_jwt.h) */
} data_t;

/* Answers one request (see README.md for the API). Always PH_OK: every
 * failure is answered with a JSON error. */
int data_rest_handle(const data_t *d, ph_request_t *req);

#endif
