/*
 * The REST surface of the data plugin: routing of /<table>[/<id>] below the
 * route prefix, one function per endpoint, JSON answers and JSON errors
 * {"error": "...", "status": N}. See README.md for the API.
 */
#include "data.h"
#include "data_json.h"
#include "data_query.h"
#include "data_sql.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What one request is about, once routed. */
typedef struct rest {
    const data_t *d;
    const ph_server_api_t *api;
    ph_request_t *req;
    const data_table_t *table;
    data_value_t id; /* typed primary key from the URL (item routes) */
} rest_t;

/* --- answers ----------------------------------------------------------- */

static int reply_error(rest_t *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int reply_json(rest_t *r, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL)
        return reply_error(r, 500, "out of memory");
    r->api->set_status(r->req, status);
    r->api->add_header(r->req, "Content-Type", "application/json");
    r->api->body_append(r->req, s, strlen(s));
    r->api->body_append(r->req, "\n", 1);
    free(s);
    return PH_OK;
}

static int reply_error(rest_t *r, int status, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status >= 500)
        r->api->log(PH_LOG_WARN, "%d: %s", status, msg);
    /* A message quoting bad input could be bad UTF-8: never lose the
     * status over it. */
    json_t *j = json_pack("{s:s, s:i}", "error", msg, "status", status);
    if (j == NULL)
        j = json_pack("{s:s, s:i}", "error", "request refused", "status", status);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    r->api->set_status(r->req, status);
    r->api->add_header(r->req, "Content-Type", "application/json");
    if (s != NULL) {
        r->api->body_append(r->req, s, strlen(s));
        r->api->body_append(r->req, "\n", 1);
    }
    free(s);
    return PH_OK;
}

static int reply_405(rest_t *r, const char *allow, const char *why)
{
    r->api->add_header(r->req, "Allow", allow);
    return reply_error(r, 405, "%s", why);
}

static int reply_db(rest_t *r, const data_dberr_t *e)
{
    return reply_error(r, e->status, "%s", e->msg);
}

/* --- helpers ------------------------------------------------------------ */

static bool method_is(ph_str_t m, const char *name)
{
    return m.len == strlen(name) && memcmp(m.ptr, name, m.len) == 0;
}

/* Runs a built statement (st freed here). */
static int run(rest_t *r, data_stmt_t *st, int built, const data_table_t *shape, json_t **rows,
               data_dberr_t *e)
{
    int rc;
    if (built != PH_OK) {
        e->status = 500;
        snprintf(e->msg, sizeof e->msg, "out of memory");
        rc = PH_ERROR;
    } else {
        rc = r->d->ops->exec(r->d->db, st, shape, rows, e);
    }
    data_stmt_free(st);
    return rc;
}

/* Printable UTF-8 of modest length, safe to quote back in a message. */
static bool quotable(const char *s, size_t len)
{
    if (len > 64 || !data_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"')
            return false;
    return true;
}

static void pct_append(char *out, size_t *o, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len && *o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[(*o)++] = (char)c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
    out[*o] = '\0';
}

/* Location of a stored row: PREFIX/TABLE/ID, names percent-encoded. */
static void add_location(rest_t *r, const json_t *row)
{
    const json_t *pk = json_object_get(row, r->table->cols[r->table->pk].name);
    char id[64], loc[1024];
    const char *idp = id;
    size_t idlen, o = 0;

    if (json_is_integer(pk)) {
        snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(pk));
        idlen = strlen(id);
    } else if (json_is_string(pk)) {
        idp = json_string_value(pk);
        idlen = json_string_length(pk);
    } else {
        return; /* no key to point at */
    }
    snprintf(loc, sizeof loc, "%s/", r->d->prefix);
    o = strlen(loc);
    pct_append(loc, &o, sizeof loc, r->table->name, strlen(r->table->name));
    if (o + 2 < sizeof loc)
        loc[o++] = '/';
    pct_append(loc, &o, sizeof loc, idp, idlen);
    r->api->add_header(r->req, "Location", loc);
}

/* The JSON object of the request body, or NULL after answering the error. */
static json_t *load_body(rest_t *r)
{
    ph_str_t b = r->api->body(r->req);
    ph_str_t ct;
    json_error_t je;

    if (b.len > r->d->conf.max_body) {
        reply_error(r, 413, "request body larger than %zu bytes", r->d->conf.max_body);
        return NULL;
    }
    if (r->api->header(r->req, "Content-Type", &ct) &&
        !(ct.len >= 16 && strncasecmp(ct.ptr, "application/json", 16) == 0)) {
        reply_error(r, 415, "the body must be application/json");
        return NULL;
    }
    if (b.len == 0) {
        reply_error(r, 400, "a JSON object body is required");
        return NULL;
    }
    json_t *j = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        if (json_error_code(&je) == json_error_invalid_utf8)
            reply_error(r, 400, "request body is not valid UTF-8");
        else
            reply_error(r, 400, "malformed JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        reply_error(r, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* --- endpoints ------------------------------------------------------------ */

static int get_root(rest_t *r)
{
    json_t *tables = json_array();
    for (size_t i = 0; tables && i < r->d->schema.ntables; i++)
        if (json_array_append_new(tables, data_json_table_info(&r->d->schema.tables[i])) != 0) {
            json_decref(tables);
            tables = NULL;
        }
    return reply_json(r, 200, tables ? json_pack("{s:o}", "tables", tables) : NULL);
}

static int list_rows(rest_t *r)
{
    ph_str_t qs = r->api->query(r->req);
    data_query_t q;
    data_dberr_t e;
    char msg[200];
    json_t *rows, *count;

    if (data_query_parse(r->table, qs.ptr, qs.ptr ? qs.len : 0, r->d->conf.max_rows, &q, msg,
                         sizeof msg) != PH_OK)
        return reply_error(r, 400, "%s", msg);

    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    data_stmt_t ct = DATA_STMT_INIT(r->d->ops->dialect);
    int built = data_sql_select(&st, r->table, &q);
    int cbuilt = data_sql_count(&ct, r->table, &q);
    data_query_free(&q);
    if (run(r, &st, built, r->table, &rows, &e) != PH_OK) {
        data_stmt_free(&ct);
        return reply_db(r, &e);
    }
    if (run(r, &ct, cbuilt, NULL, &count, &e) != PH_OK) {
        json_decref(rows);
        return reply_db(r, &e);
    }
    json_t *n = json_object_get(json_array_get(count, 0), "count");
    char total[32];
    snprintf(total, sizeof total, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
    json_decref(count);
    r->api->add_header(r->req, "X-Total-Count", total);
    return reply_json(r, 200, rows);
}

/* Answers with the first row of rows (consumed), or 404 when there is
 * none. */
static int reply_row(rest_t *r, int status, json_t *rows)
{
    json_t *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    if (row == NULL)
        return reply_error(r, 404, "no row with this id in table \"%s\"", r->table->name);
    if (status == 201)
        add_location(r, row);
    return reply_json(r, status, row);
}

static int get_row(rest_t *r)
{
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    data_dberr_t e;
    json_t *rows;
    if (run(r, &st, data_sql_get(&st, r->table, &r->id), r->table, &rows, &e) != PH_OK)
        return reply_db(r, &e);
    return reply_row(r, 200, rows);
}

/* POST (insert), PUT and PATCH (update): body -> assignments -> statement. */
static int write_row(rest_t *r, data_json_mode_t mode)
{
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    data_assign_t *a;
    data_dberr_t e;
    size_t n;
    char msg[200];
    json_t *rows, *body = load_body(r);

    if (body == NULL)
        return PH_OK;
    int rc = data_json_assignments(r->table, body, mode, &r->id, &a, &n, msg, sizeof msg);
    json_decref(body);
    if (rc != PH_OK)
        return reply_error(r, 400, "%s", msg);
    int built = mode == DATA_JSON_INSERT ? data_sql_insert(&st, r->table, a, n)
                                         : data_sql_update(&st, r->table, a, n, &r->id);
    data_json_assign_free(a, n);
    if (run(r, &st, built, r->table, &rows, &e) != PH_OK)
        return reply_db(r, &e);
    return reply_row(r, mode == DATA_JSON_INSERT ? 201 : 200, rows);
}

static int delete_row(rest_t *r)
{
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    data_dberr_t e;
    json_t *rows;
    if (run(r, &st, data_sql_delete(&st, r->table, &r->id), NULL, &rows, &e) != PH_OK)
        return reply_db(r, &e);
    size_t n = json_array_size(rows);
    json_decref(rows);
    if (n == 0)
        return reply_error(r, 404, "no row with this id in table \"%s\"", r->table->name);
    r->api->set_status(r->req, 204);
    return PH_OK;
}

/* --- routing -------------------------------------------------------------- */

static const char ALLOW_READ[] = "GET, HEAD";

static int route_collection(rest_t *r, ph_str_t m)
{
    bool ro = r->d->conf.read_only;
    if (method_is(m, "GET") || method_is(m, "HEAD"))
        return list_rows(r);
    if (method_is(m, "POST"))
        return ro ? reply_405(r, ALLOW_READ, "this API is read-only") : write_row(r, DATA_JSON_INSERT);
    return reply_405(r, ro ? ALLOW_READ : "GET, HEAD, POST", "method not allowed on a table");
}

static int route_item(rest_t *r, ph_str_t m, const char *id, size_t idlen)
{
    bool ro = r->d->conf.read_only;
    bool write = method_is(m, "PUT") || method_is(m, "PATCH") || method_is(m, "DELETE");
    char msg[96];

    if (!method_is(m, "GET") && !method_is(m, "HEAD") && !write)
        return reply_405(r, ro ? ALLOW_READ : "GET, HEAD, PUT, PATCH, DELETE",
                         "method not allowed on a row");
    if (write && ro)
        return reply_405(r, ALLOW_READ, "this API is read-only");
    /* An id that cannot be a key of this table names no row. */
    const data_column_t *pk = &r->table->cols[r->table->pk];
    if (data_value_parse(pk->type, id, idlen, &r->id, msg, sizeof msg) != PH_OK)
        return reply_error(r, 404, "no row with this id in table \"%s\"", r->table->name);
    if (method_is(m, "PUT"))
        return write_row(r, DATA_JSON_PUT);
    if (method_is(m, "PATCH"))
        return write_row(r, DATA_JSON_PATCH);
    if (method_is(m, "DELETE"))
        return delete_row(r);
    return get_row(r);
}

static int route(rest_t *r)
{
    ph_str_t m = r->api->method(r->req);
    ph_str_t sp = r->api->subpath(r->req);
    const char *p = sp.ptr ? sp.ptr : "";
    size_t n = sp.ptr ? sp.len : 0;

    while (n > 0 && *p == '/')
        p++, n--;
    if (n > 0 && p[n - 1] == '/')
        n--; /* "/api/notes/" is "/api/notes" */
    if (n == 0) {
        if (method_is(m, "GET") || method_is(m, "HEAD"))
            return get_root(r);
        return reply_405(r, ALLOW_READ, "method not allowed on the table list");
    }
    const char *slash = memchr(p, '/', n);
    size_t tlen = slash ? (size_t)(slash - p) : n;
    r->table = data_schema_find(&r->d->schema, p, tlen);
    if (r->table == NULL) {
        if (quotable(p, tlen))
            return reply_error(r, 404, "unknown table \"%.*s\"", (int)tlen, p);
        return reply_error(r, 404, "unknown table");
    }
    if (slash == NULL)
        return route_collection(r, m);
    const char *id = slash + 1;
    size_t idlen = n - tlen - 1;
    if (idlen == 0 || memchr(id, '/', idlen) != NULL)
        return reply_error(r, 404, "no such resource: use /<table> or /<table>/<id>");
    return route_item(r, m, id, idlen);
}

int data_rest_handle(const data_t *d, ph_request_t *req)
{
    rest_t r = {.d = d, .api = d->api, .req = req, .id = {.kind = DATA_VALUE_NULL}};
    int rc = route(&r);
    data_value_clear(&r.id);
    return rc;
}
