/*
 * The route root's answer, as PostgREST 12 serves it: an OpenAPI 2.0
 * (Swagger) description of the exposed tables. Pure: built from the
 * schema, no database.
 *
 * Per table: a path "/<table>" with get (the row filters of every column,
 * select, order, limit, offset, Range, Prefer), post, put, patch and
 * delete; a definition of its row (every column with its JSON type and
 * the database type as format, NOT NULL columns without a default
 * required); the primary key and each foreign key noted in the column's
 * description the way PostgREST marks them ("<pk/>", "<fk table='t'
 * column='c'/>"), so clients that read those notes find relationships.
 */
#ifndef DATA_OPENAPI_H
#define DATA_OPENAPI_H

#include <jansson.h>

#include "data_schema.h"

/* The document for schema served under base_path (the route's prefix, ""
 * or "/" for the root). NULL when out of memory. */
json_t *data_openapi(const data_schema_t *schema, const char *base_path);

/* Adds to doc (data_openapi's) a path /rpc/<name> per function of rpc, as
 * PostgREST lists them: post with the arguments as one JSON object body,
 * and get with each argument as a query parameter unless the function
 * may change data. 0, or -1 when out of memory. */
struct data_rpc;
int data_openapi_rpc(json_t *doc, const struct data_rpc *rpc);

#endif
