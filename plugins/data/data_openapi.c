/* OpenAPI 2.0 description of the exposed tables: see data_openapi.h. */
#include "data_openapi.h"
#include "data_conf.h"
#include "data_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Swagger's type for a column's type class. */
static const char *swagger_type(data_type_t t)
{
    switch (t) {
    case DATA_TYPE_INTEGER: return "integer";
    case DATA_TYPE_REAL: return "number";
    case DATA_TYPE_BOOL: return "boolean";
    case DATA_TYPE_JSON: return "object";
    case DATA_TYPE_TEXT: case DATA_TYPE_BLOB: case DATA_TYPE_ANY: break;
    }
    return "string";
}

/* The relationship through column c of t to another table, if any. */
static const data_rel_t *fk_of(const data_table_t *t, const data_column_t *c)
{
    for (size_t i = 0; i < t->nrels; i++)
        if (t->rels[i].to_one && t->rels[i].col == c)
            return &t->rels[i];
    return NULL;
}

/* The notes PostgREST writes into a column's description. */
static json_t *column_note(const data_table_t *t, const data_column_t *c)
{
    const data_rel_t *fk = fk_of(t, c);
    char *text = NULL;
    int n;
    if (!c->pk && fk == NULL)
        return NULL;
    if (fk != NULL)
        n = asprintf(&text, "Note:\nThis is a %sForeign Key to `%s.%s`.%s<fk table='%s' column='%s'/>",
                     c->pk ? "Primary Key and a " : "", fk->other->name, fk->other_col->name,
                     c->pk ? "<pk/>" : "", fk->other->name, fk->other_col->name);
    else
        n = asprintf(&text, "Note:\nThis is a Primary Key.<pk/>");
    json_t *j = n < 0 ? NULL : json_string(text);
    free(text);
    return j;
}

static json_t *definition(const data_table_t *t)
{
    json_t *props = json_object(), *req = json_array();
    json_t *def = json_pack("{s:s, s:o, s:o}", "type", "object", "properties", props, "required", req);
    for (size_t i = 0; def && i < t->ncols; i++) {
        const data_column_t *c = &t->cols[i];
        json_t *p = json_pack("{s:s, s:s}", "type", swagger_type(c->type), "format", c->decl[0] ? c->decl : "any");
        json_t *note = p ? column_note(t, c) : NULL;
        if (p == NULL || (note && json_object_set_new(p, "description", note) != 0) ||
            json_object_set_new(props, c->name, p) != 0 ||
            (c->notnull && !c->has_default && json_array_append_new(req, json_string(c->name)) != 0)) {
            json_decref(def);
            return NULL;
        }
    }
    if (def != NULL && json_array_size(req) == 0)
        json_object_del(def, "required"); /* Swagger wants it non-empty or absent */
    return def;
}

/* {"$ref": "#/<section>/<name>"}. */
static json_t *ref(const char *section, const char *name)
{
    char *text = NULL;
    int n = asprintf(&text, "#/%s/%s", section, name);
    json_t *j = n < 0 ? NULL : json_pack("{s:s}", "$ref", text);
    free(text);
    return j;
}

/* Appends the $ref of parameter "a.b" (or "a.b.c") to array. 0 or -1. */
static int append_ref(json_t *array, const char *a, const char *b, const char *c)
{
    char *name = NULL;
    int n = c ? asprintf(&name, "%s.%s.%s", a, b, c) : asprintf(&name, "%s.%s", a, b);
    int rc = n < 0 ? -1 : json_array_append_new(array, ref("parameters", name));
    free(name);
    return rc;
}

/* The shared parameters (select, order, paging, Prefer). */
static json_t *common_parameters(void)
{
    return json_pack(
        "{s:{s:s,s:s,s:s,s:b,s:s}, s:{s:s,s:s,s:s,s:b,s:s}, s:{s:s,s:s,s:s,s:b,s:s},"
        " s:{s:s,s:s,s:s,s:b,s:s}, s:{s:s,s:s,s:s,s:b,s:s}, s:{s:s,s:s,s:s,s:b,s:s},"
        " s:{s:s,s:s,s:s,s:b,s:s}}",
        "select", "name", "select", "in", "query", "type", "string", "required", 0, "description",
        "Columns and embedded resources to return",
        "order", "name", "order", "in", "query", "type", "string", "required", 0, "description",
        "Sort keys: column[.asc|.desc][.nullsfirst|.nullslast],...",
        "limit", "name", "limit", "in", "query", "type", "string", "required", 0, "description",
        "Rows to return at most",
        "offset", "name", "offset", "in", "query", "type", "string", "required", 0, "description",
        "Rows to skip",
        "range", "name", "Range", "in", "header", "type", "string", "required", 0, "description",
        "Rows FIRST-LAST of the result",
        "preferReturn", "name", "Prefer", "in", "header", "type", "string", "required", 0, "description",
        "return=minimal, headers-only or representation; tx=rollback; missing=default",
        "preferCount", "name", "Prefer", "in", "header", "type", "string", "required", 0, "description",
        "count=exact: the total in Content-Range");
}

/* Appends $refs to parameters: the shared ones named, then the row
 * filters of t when filters, the body of t when body. */
static json_t *params(const data_table_t *t, const char *const *shared, bool filters, bool body)
{
    json_t *a = json_array();
    for (size_t i = 0; a && shared[i]; i++)
        if (json_array_append_new(a, ref("parameters", shared[i])) != 0)
            goto fail;
    for (size_t i = 0; a && filters && i < t->ncols; i++)
        if (append_ref(a, "rowFilter", t->name, t->cols[i].name) != 0)
            goto fail;
    if (a && body && append_ref(a, "body", t->name, NULL) != 0)
        goto fail;
    return a;
fail:
    json_decref(a);
    return NULL;
}

static json_t *operation(const data_table_t *t, const char *summary, const char *const *shared, bool filters,
                         bool body, const char *status, bool rows)
{
    json_t *schema = rows ? json_pack("{s:s, s:o}", "type", "array", "items", ref("definitions", t->name))
                          : NULL;
    json_t *resp = schema ? json_pack("{s:s, s:o}", "description", "OK", "schema", schema)
                          : json_pack("{s:s}", "description", "OK");
    return json_pack("{s:[s], s:s, s:o, s:{s:o}}", "tags", t->name, "summary", summary, "parameters",
                     params(t, shared, filters, body), "responses", status, resp);
}

static json_t *path_item(const data_table_t *t)
{
    static const char *const get[] = {"select", "order", "limit", "offset", "range", "preferCount", NULL};
    static const char *const write[] = {"select", "preferReturn", NULL};
    /* A view offers what the database can write through it, and no PUT
     * (its upsert needs a primary key). */
    unsigned w = t->view ? t->view_writes : DATA_M_POST | DATA_M_PUT | DATA_M_PATCH | DATA_M_DELETE;
    json_t *item = json_pack("{s:o}", "get", operation(t, "Rows matching the filters", get, true, false, "200", true));
    if (item != NULL && (w & DATA_M_POST) &&
        json_object_set_new(item, "post", operation(t, "Insert rows (one object or an array)", write, false, true,
                                                     "201", false)) != 0)
        goto fail;
    if (item != NULL && (w & DATA_M_PUT) &&
        json_object_set_new(item, "put", operation(t, "Insert or replace the row whose primary key is given (pk=eq.X)",
                                                   write, true, true, "200", false)) != 0)
        goto fail;
    if (item != NULL && (w & DATA_M_PATCH) &&
        json_object_set_new(item, "patch", operation(t, "Update the rows matching the filters", write, true, true,
                                                     "200", false)) != 0)
        goto fail;
    if (item != NULL && (w & DATA_M_DELETE) &&
        json_object_set_new(item, "delete", operation(t, "Delete the rows matching the filters", write, true, false,
                                                      "200", false)) != 0)
        goto fail;
    return item;
fail:
    json_decref(item);
    return NULL;
}

/* "rowFilter.<table>.<column>": a filter on each column, "col=op.value". */
static int row_filters(json_t *parameters, const data_table_t *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        const data_column_t *c = &t->cols[i];
        char *name = NULL;
        if (asprintf(&name, "rowFilter.%s.%s", t->name, c->name) < 0)
            return -1;
        int rc = json_object_set_new(parameters, name,
                                     json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", c->name, "in", "query",
                                               "type", "string", "format", c->decl[0] ? c->decl : "any",
                                               "required", 0));
        free(name);
        if (rc != 0)
            return -1;
    }
    return 0;
}

json_t *data_openapi(const data_schema_t *schema, const char *base_path)
{
    json_t *paths = json_object(), *defs = json_object(), *parameters = common_parameters();
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:s, s:[s,s], s:[s,s,s], s:[s,s,s], s:o, s:o, s:o}", "swagger", "2.0",
        "info", "title", "plughttpd data API", "version", "12", "description",
        "Tables of this route, in PostgREST 12's protocol", "basePath",
        base_path && base_path[0] ? base_path : "/", "schemes", "http", "https", "consumes", "application/json",
        "application/vnd.pgrst.object+json", "text/csv", "produces", "application/json",
        "application/vnd.pgrst.object+json", "text/csv", "paths", paths, "definitions", defs, "parameters",
        parameters);
    if (doc == NULL ||
        json_object_set_new(paths, "/",
                            json_pack("{s:{s:[s], s:s, s:{s:{s:s}}}}", "get", "tags", "Introspection",
                                      "summary", "This OpenAPI description", "responses", "200",
                                      "description", "OK")) != 0)
        goto fail;
    for (size_t i = 0; i < schema->ntables; i++) {
        const data_table_t *t = &schema->tables[i];
        char *path = NULL, *body = NULL;
        int ok = json_object_set_new(defs, t->name, definition(t)) == 0 &&
                 asprintf(&path, "/%s", t->name) >= 0 && asprintf(&body, "body.%s", t->name) >= 0 &&
                 json_object_set_new(paths, path, path_item(t)) == 0 &&
                 json_object_set_new(parameters, body,
                                     json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", t->name, "in", "body",
                                               "required", 0, "description", t->name, "schema",
                                               ref("definitions", t->name))) == 0 &&
                 row_filters(parameters, t) == 0;
        free(path);
        free(body);
        if (!ok)
            goto fail;
    }
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

/* The arguments of fn: a body schema (object properties, required) or
 * query parameters. */
static json_t *rpc_args(const data_rpc_fn_t *fn, bool query)
{
    json_t *props = json_object(), *req = json_array(), *qp = json_array();
    for (size_t i = 0; props && req && qp && i < fn->nargs; i++) {
        const data_rpc_arg_t *a = &fn->args[i];
        json_t *p = a->cast ? json_pack("{s:s}", "format", a->cast) : json_object();
        json_t *q = json_pack("{s:s, s:s, s:b, s:s}", "name", a->name, "in", "query", "required", !a->has_default,
                              "type", "string");
        if (q && a->cast)
            json_object_set_new(q, "format", json_string(a->cast));
        if (p == NULL || q == NULL || json_object_set_new(props, a->name, p) != 0 || json_array_append_new(qp, q) != 0 ||
            (!a->has_default && json_array_append_new(req, json_string(a->name)) != 0)) {
            json_decref(props);
            props = NULL;
        }
    }
    json_t *out = NULL;
    if (props && req && qp) {
        if (query) {
            out = json_incref(qp);
        } else {
            json_t *schema = json_pack("{s:s, s:o}", "type", "object", "properties", props);
            props = NULL;
            if (schema && json_array_size(req) > 0)
                json_object_set(schema, "required", req);
            out = schema ? json_pack("[{s:s, s:s, s:b, s:o}]", "name", "args", "in", "body", "required", 1,
                                     "schema", schema)
                         : NULL;
        }
    }
    json_decref(props);
    json_decref(req);
    json_decref(qp);
    return out;
}

static json_t *rpc_op(const data_rpc_fn_t *fn, bool query)
{
    return json_pack("{s:[s], s:s, s:o, s:{s:{s:s}}}", "tags", "(rpc) functions", "summary", fn->name,
                     "parameters", rpc_args(fn, query), "responses", "200", "description", "OK");
}

int data_openapi_rpc(json_t *doc, const data_rpc_t *rpc)
{
    json_t *paths = json_object_get(doc, "paths");
    for (size_t i = 0; paths && rpc && i < rpc->n; i++) {
        const data_rpc_fn_t *fn = &rpc->fns[i];
        char *path = NULL;
        json_t *item = json_pack("{s:o}", "post", rpc_op(fn, false));
        if (item && !fn->writes && json_object_set_new(item, "get", rpc_op(fn, true)) != 0) {
            json_decref(item);
            item = NULL;
        }
        if (item == NULL || asprintf(&path, "/rpc/%s", fn->name) < 0) {
            json_decref(item);
            return -1;
        }
        int rc = json_object_set_new(paths, path, item);
        free(path);
        if (rc != 0)
            return -1;
    }
    return paths ? 0 : -1;
}
