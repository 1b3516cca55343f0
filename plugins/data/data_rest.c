/*
 * The REST surface of the data plugin: routing of /<table>[/<id>] below the
 * route prefix, one function per endpoint, JSON answers and JSON errors
 * (PostgREST's {"code", "message", "details", "hint"} plus this API's
 * {"error", "status"}). Tables speak PostgREST 12's protocol (query syntax
 * in data_query.h, headers in data_prefer.h); items keep this API's own
 * routes. See README.md for the API.
 */
#include "data.h"
#include "data_auth.h"
#include "data_cors.h"
#include "data_count.h"
#include "data_csv.h"
#include "data_json.h"
#include "data_jout.h"
#include "data_listing.h"
#include "data_num.h"
#include "data_openapi.h"
#include "data_prefer.h"
#include "data_query.h"
#include "data_rpc.h"
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
    data_auth_t auth; /* who asks (data_auth.h) */
} rest_t;

/* --- answers ----------------------------------------------------------- */

static int reply_err(rest_t *r, int status, const char *code, const char *details, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static int reply_error(rest_t *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Answers j (consumed, NULL: out of memory) as a body of media type. */
static int reply_json_as(rest_t *r, int status, json_t *j, const char *type)
{
    /* data_jout: raw numbers; a scalar function's answer is a bare value */
    char *s = j ? data_jout_dumps(j) : NULL;
    json_decref(j);
    if (s == NULL)
        return reply_error(r, 500, "out of memory");
    r->api->set_status(r->req, status);
    r->api->add_header(r->req, "Content-Type", type);
    r->api->body_append(r->req, s, strlen(s));
    r->api->body_append(r->req, "\n", 1);
    free(s);
    return PH_OK;
}

static int reply_json(rest_t *r, int status, json_t *j)
{
    return reply_json_as(r, status, j, "application/json");
}

/* This API's code for an error that carries none of its own: PostgREST's
 * code for the same situation where it has one. */
static const char *status_code(int status)
{
    switch (status) {
    case 400: return "PGRST100"; /* the request cannot be parsed */
    case 404: return "42P01";    /* no such table (or row: this API's 404) */
    case 405: return "PGRST117"; /* method not allowed */
    case 406: return "PGRST116"; /* not exactly one row for an object */
    case 409: return "23505";
    case 415: return "PGRST107"; /* media type */
    case 503: return "PGRST001"; /* database unavailable */
    default: return "PGRST000";
    }
}

/* Every error of the plugin: PostgREST's object {"code", "message",
 * "details", "hint"} plus this API's own {"error", "status"} (the same
 * message and the HTTP status), so clients of either read it. code NULL:
 * status_code(); details may be NULL. */
static int reply_err(rest_t *r, int status, const char *code, const char *details, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status >= 500)
        r->api->log(PH_LOG_WARN, "%d: %s", status, msg);
    if (code == NULL || code[0] == '\0')
        code = status_code(status);
    /* A message quoting bad input could be bad UTF-8: never lose the
     * status over it. */
    json_t *j = json_pack("{s:s, s:s, s:s?, s:n, s:s, s:i}", "code", code, "message", msg,
                          "details", details, "hint", "error", msg, "status", status);
    if (j == NULL)
        j = json_pack("{s:s, s:s, s:n, s:n, s:s, s:i}", "code", code, "message", "request refused",
                      "details", "hint", "error", "request refused", "status", status);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    r->api->set_status(r->req, status);
    r->api->add_header(r->req, "Content-Type", "application/json");
    if (status == 503) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", r->d->conf.retry_after_s);
        r->api->add_header(r->req, "Retry-After", secs);
    }
    if (s != NULL) {
        r->api->body_append(r->req, s, strlen(s));
        r->api->body_append(r->req, "\n", 1);
    }
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
    return reply_err(r, status, NULL, NULL, "%s", msg);
}

/* PostgREST answers an ambiguous embed with 300 Multiple Choices. */
static int reply_qerr(rest_t *r, const data_qerr_t *e)
{
    return reply_err(r, strcmp(e->code, "PGRST201") == 0 ? 300 : 400, e->code, NULL, "%s", e->msg);
}

static int reply_405(rest_t *r, const char *allow, const char *why)
{
    r->api->add_header(r->req, "Allow", allow);
    return reply_error(r, 405, "%s", why);
}

/* PostgREST's answer to a missing privilege (42501): 401 for the
 * anonymous role, which a token could change, 403 for any other role; a
 * role that does not exist (22023) is 401 too. */
static int reply_db(rest_t *r, const data_dberr_t *e)
{
    int status = e->status;
    bool no_role = strcmp(e->code, "22023") == 0 && strstr(e->msg, "role \"") != NULL &&
                   strstr(e->msg, "does not exist") != NULL;
    if (r->auth.role != NULL && (strcmp(e->code, "42501") == 0 || no_role)) {
        status = r->auth.anonymous || no_role ? 401 : 403;
        if (status == 401)
            r->api->add_header(r->req, "WWW-Authenticate", "Bearer");
    }
    return reply_err(r, status, e->code, NULL, "%s", e->msg);
}

/* Whether the route's grants (data_role.h) decide for this request: on
 * SQLite and MySQL whenever the route has roles, on PostgreSQL (whose own
 * privileges always apply) when grant lines are given. */
static bool grants_apply(const rest_t *r)
{
    return r->auth.role != NULL && (r->d->conf.backend != DATA_BACKEND_PG || r->d->conf.roles.ngrants > 0);
}

/* A missing grant on table, answered as PostgREST answers a missing
 * privilege: 401 for the anonymous role, 403 for any other. */
static int reply_denied(rest_t *r, const char *table)
{
    if (r->auth.anonymous)
        r->api->add_header(r->req, "WWW-Authenticate", "Bearer");
    return reply_err(r, r->auth.anonymous ? 401 : 403, "42501", NULL, "permission denied for table %s", table);
}

/* The first table q embeds (at any depth) that the role may not read
 * with method (a DATA_M_* bit), or NULL: an embed reads its table as a
 * listing of it would. */
static const char *embed_denied(const rest_t *r, const data_query_t *q, unsigned method)
{
    for (size_t i = 0; i < q->nselect; i++) {
        const data_embed_t *em = q->select[i].embed;
        if (em == NULL)
            continue;
        const char *t = em->rel->other->name;
        if (!data_role_allows(&r->d->conf.roles, r->auth.role, t, method))
            return t;
        if ((t = embed_denied(r, &em->sub, method)) != NULL)
            return t;
    }
    return NULL;
}

/* --- helpers ------------------------------------------------------------ */

static bool method_is(ph_str_t m, const char *name)
{
    return m.len == strlen(name) && memcmp(m.ptr, name, m.len) == 0;
}

/* Runs a built statement (st freed here), handing its rows to fn. */
static int run(rest_t *r, data_stmt_t *st, int built, const data_table_t *shape, data_row_fn fn,
               void *arg, data_dberr_t *e)
{
    int rc;
    if (built != PH_OK) {
        e->status = 500;
        snprintf(e->msg, sizeof e->msg, "out of memory");
        rc = PH_ERROR;
    } else {
        st->role = r->auth.role;
        st->claims = r->auth.claims;
        rc = r->d->ops->exec(r->d->db, st, shape, fn, arg, e);
    }
    data_stmt_free(st);
    return rc;
}

/* data_row_fn keeping every row in a JSON array (arg): for the short
 * results of single-row statements. */
static int collect(void *arg, json_t *row, data_dberr_t *e)
{
    if (json_array_append(arg, row) != 0) {
        e->status = 500;
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return PH_ERROR;
    }
    return PH_OK;
}

/* Runs st into a new JSON array *rows (NULL on error). */
static int run_rows(rest_t *r, data_stmt_t *st, int built, const data_table_t *shape, json_t **rows,
                    data_dberr_t *e)
{
    *rows = json_array();
    if (*rows == NULL)
        built = PH_ERROR;
    if (run(r, st, built, shape, collect, *rows, e) != PH_OK) {
        json_decref(*rows);
        *rows = NULL;
        return PH_ERROR;
    }
    return PH_OK;
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

/* Whether a path can carry key (len bytes) as PREFIX/TABLE/ID. The core
 * decodes %2E and %2F before it removes dot segments, so a key that is
 * empty, or "." or ".." between its '/'s, would name another resource
 * ("../notes/1" the row of another table), and the core refuses a control
 * byte. */
static bool addressable(const char *key, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i < len && ((unsigned char)key[i] < 0x20 || key[i] == 0x7f))
            return false;
        if (i < len && key[i] != '/')
            continue;
        size_t n = i - start;
        if ((n == 1 || n == 2) && memcmp(key + start, "..", n) == 0)
            return false;
        start = i + 1;
    }
    return true;
}

/* Location of a stored row: PREFIX/TABLE/ID, each part percent-encoded,
 * so that the core's decoding gives back the exact key (a '/' in a key is
 * %2F and stays one path segment, see route()). None for a key no path
 * can carry (addressable()). */
static void add_location(rest_t *r, const json_t *row)
{
    const json_t *pk = json_object_get(row, r->table->cols[r->table->pk].name);
    const char *prefix = r->d->prefix, *tname = r->table->name;
    char id[64];
    const char *idp = id;
    size_t idlen, plen = strlen(prefix), o = 0;

    if (json_is_integer(pk)) {
        snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(pk));
        idlen = strlen(id);
    } else if (json_is_string(pk)) {
        idp = json_string_value(pk);
        idlen = json_string_length(pk);
        if (!addressable(idp, idlen))
            return;
    } else {
        return; /* no key to point at */
    }
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--; /* route "/" gives "/notes/1", not "//notes/1" */
    size_t cap = 3 * (plen + strlen(tname) + idlen) + 3;
    char *loc = r->api->alloc(r->req, cap);
    if (loc == NULL)
        return;
    const ph_server_api_t *api = r->api;
    o += api->url_escape(prefix, plen, 0, loc + o, cap - o);
    loc[o++] = '/';
    o += api->url_escape(tname, strlen(tname), PH_URL_ESCAPE_SLASH, loc + o, cap - o);
    loc[o++] = '/';
    api->url_escape(idp, idlen, PH_URL_ESCAPE_SLASH, loc + o, cap - o); /* and the NUL */
    r->api->add_header(r->req, "Location", loc);
}

/* The JSON object of the request body (or, when arrays, an array of
 * them: data_json_rows checks the items), or NULL after answering the
 * error. */
static json_t *load_json(rest_t *r, bool arrays)
{
    ph_str_t b = r->api->body(r->req);
    ph_str_t ct;
    json_error_t je;

    if (b.len > r->d->conf.max_body) {
        reply_error(r, 413, "request body larger than %zu bytes", r->d->conf.max_body);
        return NULL;
    }
    /* A missing or other type is what a cross-site form or a "simple"
     * fetch() sends without a preflight: never parse it as JSON. CSV
     * (also "simple") is read for inserts only, after the cross-site
     * gate (cors_gate) refused writes from other sites' pages. */
    bool has_ct = r->api->header(r->req, "Content-Type", &ct);
    if (has_ct && arrays && data_media_type_is(ct.ptr, ct.len, "text/csv")) {
        char msg[200];
        json_t *rows = data_csv_parse(r->table, b.ptr ? b.ptr : "", b.len, msg, sizeof msg);
        if (rows == NULL)
            reply_err(r, 400, "PGRST102", NULL, "%s", msg);
        return rows;
    }
    if (!has_ct || !data_json_media_type_ok(ct.ptr, ct.len)) {
        reply_error(r, 415, "the body must be sent with Content-Type: application/json");
        return NULL;
    }
    if (b.len == 0) {
        reply_err(r, 400, "PGRST102", NULL, "a JSON object body is required");
        return NULL;
    }
    json_t *j = data_num_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        if (json_error_code(&je) == json_error_invalid_utf8)
            reply_err(r, 400, "PGRST102", NULL, "request body is not valid UTF-8");
        else
            reply_err(r, 400, "PGRST102", NULL, "malformed JSON: %s (line %d, column %d)", je.text, je.line,
                      je.column);
        return NULL;
    }
    if (!json_is_object(j) && !(arrays && json_is_array(j))) {
        json_decref(j);
        reply_err(r, 400, "PGRST102", NULL, "%s", arrays ? "the body must be a JSON object or an array of objects"
                                                         : "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static json_t *load_body(rest_t *r)
{
    return load_json(r, false);
}

/* --- endpoints ------------------------------------------------------------ */

/* The route root: PostgREST's OpenAPI description (data_openapi.h). */
static int get_root(rest_t *r)
{
    json_t *doc = data_openapi(&r->d->schema, r->d->prefix);
    if (doc != NULL && data_openapi_rpc(doc, &r->d->rpc) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    return reply_json_as(r, 200, doc, "application/openapi+json");
}

static int count_row(void *arg, json_t *row, data_dberr_t *e)
{
    (void)e;
    *(json_int_t *)arg = json_integer_value(json_object_get(row, "count"));
    return PH_OK;
}

/* Whether the request's header name holds token (data_prefer_has). */
static bool header_has(rest_t *r, const char *name, const char *token)
{
    ph_str_t v;
    return r->api->header(r->req, name, &v) && data_prefer_has(v.ptr, v.len, token);
}

/* The count Prefer asks for (data_count_mode). */
static data_count_mode_t count_mode(rest_t *r)
{
    ph_str_t v;
    return r->api->header(r->req, "Prefer", &v) ? data_count_mode(v.ptr, v.len) : DATA_COUNT_NONE;
}

/* A planner's estimate being read: the dialect of its plan, the figure
 * (-1 when the plan has none). */
typedef struct plan_read {
    data_dialect_t dialect;
    int64_t rows;
} plan_read_t;

/* data_row_fn reading the estimate of a plan (data_count_plan_rows). */
static int plan_row(void *arg, json_t *row, data_dberr_t *e)
{
    plan_read_t *p = arg;
    (void)e;
    if (!data_count_plan_rows(p->dialect, row, &p->rows))
        p->rows = -1;
    return PH_OK;
}

/* The total of the rows matching q, as mode asks (data_count.h): the
 * exact count, the planner's estimate, or the exact count up to max_rows
 * and the estimate beyond; the exact count where there is no estimate. */
static int total_rows(rest_t *r, const data_query_t *q, data_count_mode_t mode, json_int_t *total,
                      data_dberr_t *e)
{
    data_dialect_t d = r->d->ops->dialect;
    int64_t cap = r->d->conf.max_rows;
    data_stmt_t st = DATA_STMT_INIT(d);
    plan_read_t plan = {.dialect = d, .rows = -1};
    bool planner = data_count_has_plan(d) && (mode == DATA_COUNT_PLANNED || mode == DATA_COUNT_ESTIMATED);

    if (planner && mode == DATA_COUNT_ESTIMATED) {
        if (run(r, &st, data_count_capped_sql(&st, r->table, q, cap), NULL, count_row, total, e) != PH_OK)
            return PH_ERROR;
        if (*total <= cap)
            return PH_OK;
    }
    if (planner && run(r, &st, data_count_plan_sql(&st, r->table, q), NULL, plan_row, &plan, e) != PH_OK)
        return PH_ERROR;
    if (plan.rows >= 0) {
        *total = (json_int_t)plan.rows;
        return PH_OK;
    }
    return run(r, &st, data_sql_count(&st, r->table, q), NULL, count_row, total, e);
}

/* Accept asks for one JSON object instead of an array. */
static bool wants_object(rest_t *r)
{
    return header_has(r, "Accept", "application/vnd.pgrst.object+json");
}

/* A Range header narrows the rows: it moves the offset and lowers the
 * limit. One that does not parse is ignored, as PostgREST does. */
static void apply_range(rest_t *r, data_query_t *q)
{
    ph_str_t v;
    int64_t first, last;
    if (!r->api->header(r->req, "Range", &v) || !data_range_parse(v.ptr, v.len, &first, &last))
        return;
    q->offset = q->offset > INT64_MAX - first ? INT64_MAX : q->offset + first;
    if (last >= 0 && last - first + 1 < q->limit)
        q->limit = last - first + 1;
}

/* Adds Content-Range; returns the status it implies (data_content_range). */
static int content_range(rest_t *r, const data_query_t *q, size_t rows, bool counted, json_int_t total)
{
    char cr[96];
    int status = data_content_range(q->offset, rows, counted, (int64_t)total, cr, sizeof cr);
    r->api->add_header(r->req, "Content-Range", cr);
    return status;
}

/* What a counted listing learns from its count, which runs before its
 * rows (data_db.h's read): the total, and with it how many rows follow,
 * min(limit, total - offset), so the head of a streamed body can carry
 * Content-Range, X-Total-Count and the status they imply. */
typedef struct list_count {
    data_listing_t *l;
    const data_query_t *q;
    json_int_t total;
} list_count_t;

/* Takes total as the listing's count: what its head says. */
static void count_apply(list_count_t *c, json_int_t total)
{
    c->total = total;
    int64_t left = c->total > c->q->offset ? (int64_t)c->total - c->q->offset : 0;
    size_t rows = (size_t)(left < c->q->limit ? left : c->q->limit);
    c->l->status = data_content_range(c->q->offset, rows, true, (int64_t)c->total, c->l->range,
                                      sizeof c->l->range);
    snprintf(c->l->total, sizeof c->l->total, "%" JSON_INTEGER_FORMAT, c->total);
}

/* data_row_fn of a listing's count. */
static int count_head(void *arg, json_t *row, data_dberr_t *e)
{
    (void)e;
    count_apply(arg, json_integer_value(json_object_get(row, "count")));
    return PH_OK;
}

/* Runs st (and before it ct, the count, when not NULL: count_head with
 * cnt) into the listing l, opened and closed around the rows, with the
 * backend's read (rows streamed from the database) when read, else with
 * exec (a function that may write: its rows whole, after its commit).
 * st and ct are freed. */
static int run_listing(rest_t *r, data_stmt_t *st, int built, const data_table_t *shape, data_stmt_t *ct,
                       list_count_t *cnt, bool read, data_listing_t *l, data_dberr_t *e)
{
    int rc = PH_OK;
    if (built != PH_OK) {
        e->status = 500;
        snprintf(e->msg, sizeof e->msg, "out of memory");
        rc = PH_ERROR;
    }
    if (rc == PH_OK)
        rc = data_listing_open(l, e);
    if (rc == PH_OK) {
        st->role = r->auth.role;
        st->claims = r->auth.claims;
        data_read_t rd = {.st = st, .shape = shape, .fn = data_listing_row, .arg = l,
                          .count = ct, .count_fn = count_head, .count_arg = cnt};
        rc = read ? r->d->ops->read(r->d->db, &rd, e)
                  : r->d->ops->exec(r->d->db, st, shape, data_listing_row, l, e);
    }
    if (rc == PH_OK)
        rc = data_listing_close(l, e);
    data_stmt_free(st);
    if (ct != NULL)
        data_stmt_free(ct);
    return rc;
}

/* The end of a listing whose head went out: the body ends (PH_OK), or
 * after a failure the connection is aborted (PH_ERROR), so the client
 * sees a truncated body rather than a complete-looking one. */
static int stream_end(rest_t *r, data_listing_t *l, int rc, const data_dberr_t *e)
{
    data_listing_free(l);
    if (rc == PH_OK)
        return PH_OK;
    r->api->log(l->gone ? PH_LOG_INFO : PH_LOG_WARN, "%s: listing cut after %zu rows: %s", r->d->prefix, l->rows,
                e->msg);
    return PH_ERROR;
}

/* Answers the whole listing l (see data_listing_reply). */
static int reply_listing(rest_t *r, int status, data_listing_t *l, bool object)
{
    if (data_listing_reply(l, status, object) != PH_OK)
        return reply_error(r, 500, "out of memory");
    return PH_OK;
}

/* MariaDB stores the current time for a NULL written to a NOT NULL
 * TIMESTAMP column (and the next number for one written to an
 * AUTO_INCREMENT key) where PostgreSQL refuses it: on MySQL such a value
 * is refused here as PostgreSQL would (23502) before the database sees it.
 * A value Prefer: missing=default fills (missing[i]) is not a NULL. */
static const data_column_t *null_into_notnull(const rest_t *r, const data_column_t *const *cols, size_t ncols,
                                              const data_value_t *vals, size_t n, const bool *missing)
{
    if (r->d->ops->dialect != DATA_DIALECT_MYSQL || ncols == 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (vals[i].kind == DATA_VALUE_NULL && cols[i % ncols]->notnull && !(missing && missing[i]))
            return cols[i % ncols];
    return NULL;
}

static int reply_null(rest_t *r, const data_column_t *col)
{
    return reply_err(r, 400, "23502", NULL, "null value in column \"%s\" of relation \"%s\" violates "
                     "not-null constraint", col->name, r->table->name);
}

static int list_rows(rest_t *r)
{
    ph_str_t qs = r->api->query(r->req);
    data_query_t q;
    data_qerr_t qe;
    data_dberr_t e = {0};
    data_schema_t shape = {0};
    data_listing_t l;
    data_count_mode_t cmode = count_mode(r);
    bool object = wants_object(r), counted = cmode != DATA_COUNT_NONE;
    /* An exact count runs in the rows' snapshot, before them; a planner's
     * figure is read on its own first (SQLite has none: its count is
     * exact) */
    bool snapshot = cmode == DATA_COUNT_EXACT || (counted && !data_count_has_plan(r->d->ops->dialect));

    if (data_query_parse(r->table, r->d->ops->dialect, qs.ptr, qs.ptr ? qs.len : 0,
                         r->d->conf.max_rows, &q, &qe) != PH_OK)
        return reply_qerr(r, &qe);
    const char *denied = grants_apply(r) ? embed_denied(r, &q, data_cors_method_bit(
                             r->api->method(r->req).ptr, r->api->method(r->req).len)) : NULL;
    if (denied != NULL) {
        reply_denied(r, denied);
        data_query_free(&q);
        return PH_OK;
    }
    apply_range(r, &q);
    if (q.nselect > 0 && data_query_shape(&q, r->table, &shape) != PH_OK) {
        data_query_free(&q);
        return reply_error(r, 500, "out of memory");
    }
    const data_table_t *cols = q.nselect > 0 ? &shape.tables[0] : r->table;
    /* An object wins over CSV, as a client asking for one row means it;
     * being one row, it is never streamed. */
    data_listing_init(&l, r->api, r->req, r->d->conf.max_response_bytes,
                      !object && header_has(r, "Accept", "text/csv"), cols, !object);
    list_count_t cnt = {.l = &l, .q = &q};
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect), ct = DATA_STMT_INIT(r->d->ops->dialect);
    json_int_t planned = 0;
    /* The count runs only when asked for, as PostgREST's. */
    int built = data_sql_select(&st, r->table, &q), rc = PH_OK;
    if (snapshot && data_sql_count(&ct, r->table, &q) != PH_OK)
        built = PH_ERROR;
    if (counted && !snapshot && (rc = total_rows(r, &q, cmode, &planned, &e)) == PH_OK)
        count_apply(&cnt, planned);
    if (rc == PH_OK)
        rc = run_listing(r, &st, built, cols, snapshot ? &ct : NULL, &cnt, true, &l, &e);
    else
        data_stmt_free(&st);
    if (!snapshot)
        data_stmt_free(&ct);
    l.csv_cols = NULL; /* freed with the shape */
    data_schema_free(&shape);
    if (l.streaming) {
        data_query_free(&q);
        return stream_end(r, &l, rc, &e);
    }
    if (rc != PH_OK) {
        data_query_free(&q);
        data_listing_free(&l);
        return reply_db(r, &e);
    }
    if (counted)
        r->api->add_header(r->req, "X-Total-Count", l.total);
    int status = content_range(r, &q, l.rows, counted, cnt.total);
    data_query_free(&q);
    if (object && l.rows != 1) {
        data_listing_free(&l);
        char details[64];
        snprintf(details, sizeof details, "The result contains %zu rows", l.rows);
        return reply_err(r, 406, "PGRST116", details,
                         "JSON object requested, multiple (or no) rows returned");
    }
    if (status == 416) {
        data_listing_free(&l);
        return reply_err(r, 416, "PGRST103", NULL, "Requested range not satisfiable");
    }
    return reply_listing(r, object ? 200 : status, &l, object);
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
    data_dberr_t e = {0};
    json_t *rows;
    if (run_rows(r, &st, data_sql_get(&st, r->table, &r->id), r->table, &rows, &e) != PH_OK)
        return reply_db(r, &e);
    return reply_row(r, 200, rows);
}

/* PUT and PATCH of one row (item routes): body -> assignments -> UPDATE. */
static int write_row(rest_t *r, data_json_mode_t mode)
{
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    data_assign_t *a;
    data_dberr_t e = {0};
    size_t n;
    char msg[200];
    json_t *rows, *body = load_body(r);

    if (body == NULL)
        return PH_OK;
    int rc = data_json_assignments(r->table, body, mode, &r->id, &a, &n, msg, sizeof msg);
    json_decref(body);
    if (rc != PH_OK)
        return reply_err(r, 400, "PGRST102", NULL, "%s", msg);
    int built = data_sql_update(&st, r->table, a, n, &r->id);
    data_json_assign_free(a, n);
    if (run_rows(r, &st, built, r->table, &rows, &e) != PH_OK)
        return reply_db(r, &e);
    return reply_row(r, 200, rows);
}

static int delete_row(rest_t *r)
{
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    data_dberr_t e = {0};
    json_t *rows;
    if (run_rows(r, &st, data_sql_delete(&st, r->table, &r->id), NULL, &rows, &e) != PH_OK)
        return reply_db(r, &e);
    size_t n = json_array_size(rows);
    json_decref(rows);
    if (n == 0)
        return reply_error(r, 404, "no row with this id in table \"%s\"", r->table->name);
    r->api->set_status(r->req, 204);
    return PH_OK;
}

/* --- writes on a table (PostgREST) -------------------------------------- */

/* Prefer: return=... ; RET_DEFAULT when absent. */
typedef enum ret {
    RET_DEFAULT,
    RET_MINIMAL,
    RET_HEADERS,
    RET_REPRESENTATION
} ret_t;

static ret_t prefer_return(rest_t *r)
{
    if (header_has(r, "Prefer", "return=representation"))
        return RET_REPRESENTATION;
    if (header_has(r, "Prefer", "return=headers-only"))
        return RET_HEADERS;
    if (header_has(r, "Prefer", "return=minimal"))
        return RET_MINIMAL;
    return RET_DEFAULT;
}

/* The query string of a write, parsed; PH_ERROR after answering. Paging
 * and order of writes are refused rather than ignored, so a limited
 * DELETE never removes more than asked. */
static int write_query(rest_t *r, data_query_t *q)
{
    ph_str_t qs = r->api->query(r->req);
    data_qerr_t qe;
    if (data_query_parse(r->table, r->d->ops->dialect, qs.ptr, qs.ptr ? qs.len : 0,
                         r->d->conf.max_rows, q, &qe) != PH_OK)
        return reply_qerr(r, &qe), PH_ERROR;
    if (q->paged || q->norder > 0) {
        data_query_free(q);
        reply_err(r, 400, "PGRST100", NULL, "limit, offset and order are not supported on writes");
        return PH_ERROR;
    }
    if (data_query_embeds(q)) {
        data_query_free(q);
        reply_err(r, 400, "PGRST100", NULL, "embedded resources are not supported on writes");
        return PH_ERROR;
    }
    return PH_OK;
}

/* Runs a built write statement into *rows, typed by q's select list;
 * with Prefer: tx=rollback as a dry run (data_db.h). */
static int run_write(rest_t *r, data_stmt_t *st, int built, const data_query_t *q, json_t **rows,
                     data_dberr_t *e)
{
    data_schema_t shape = {0};
    if (built == PH_OK && q->nselect > 0 && data_query_shape(q, r->table, &shape) != PH_OK)
        built = PH_ERROR;
    st->dry_run = header_has(r, "Prefer", "tx=rollback");
    if (st->dry_run)
        r->api->add_header(r->req, "Preference-Applied", "tx=rollback");
    int rc = run_rows(r, st, built, q->nselect > 0 ? &shape.tables[0] : r->table, rows, e);
    data_schema_free(&shape);
    return rc;
}

/* 406 unless exactly n rows is one (an object was asked for). */
static int reply_not_one(rest_t *r, size_t n)
{
    char details[64];
    snprintf(details, sizeof details, "The result contains %zu rows", n);
    return reply_err(r, 406, "PGRST116", details, "JSON object requested, multiple (or no) rows returned");
}

/* Whether rows shaped by q carry t's primary key under its own name, so
 * a Location can be built from them. */
static bool pk_selected(const data_query_t *q, const data_table_t *t)
{
    if (t->pk == DATA_NO_PK)
        return false;
    const data_column_t *pk = &t->cols[t->pk];
    bool found = q->nselect == 0;
    for (size_t i = 0; i < q->nselect; i++) {
        const data_select_t *c = &q->select[i];
        const char *name = c->embed ? c->embed->name : data_select_name(c);
        if (c->col == pk && c->alias == NULL && c->cast == NULL && c->path == NULL)
            found = true;
        else if (strcmp(name, pk->name) == 0)
            return false; /* another value under the key's name */
    }
    return found;
}

/* Answers a write with its rows (consumed) as Prefer: return asks:
 * without it, minimal and headers-only without a body (201 for POST,
 * else 204), representation with the rows (one object for an object
 * request). A single inserted row gets its Location with headers-only
 * (as PostgREST) and with representation (this API's addition) when
 * locatable says the rows hold the key. */
static int reply_written(rest_t *r, bool insert, ret_t ret, bool object, bool locatable, json_t *rows)
{
    if (insert && locatable && json_array_size(rows) == 1 &&
        (ret == RET_HEADERS || ret == RET_REPRESENTATION))
        add_location(r, json_array_get(rows, 0));
    if (ret == RET_REPRESENTATION) {
        if (object) {
            json_t *row = json_incref(json_array_get(rows, 0));
            json_decref(rows);
            return reply_json(r, insert ? 201 : 200, row);
        }
        return reply_json(r, insert ? 201 : 200, rows);
    }
    json_decref(rows);
    r->api->set_status(r->req, insert ? 201 : 204);
    return PH_OK;
}

/* POST on a table: one object or an array of them, one statement. */
static int insert_rows(rest_t *r)
{
    data_query_t q;
    data_rows_t rows;
    data_dberr_t e = {0};
    char msg[200];
    json_t *out, *body = load_json(r, true);
    ret_t ret = prefer_return(r);
    bool object = wants_object(r);
    data_conflict_t conflict = header_has(r, "Prefer", "resolution=merge-duplicates") ? DATA_CONFLICT_MERGE
                               : header_has(r, "Prefer", "resolution=ignore-duplicates") ? DATA_CONFLICT_IGNORE
                               : DATA_CONFLICT_ERROR;

    if (body == NULL)
        return PH_OK;
    if (write_query(r, &q) != PH_OK) {
        json_decref(body);
        return PH_OK;
    }
    if (r->table->view && (conflict != DATA_CONFLICT_ERROR || q.on_conflict != NULL)) {
        json_decref(body);
        data_query_free(&q);
        return reply_err(r, 400, "PGRST100", NULL, "upserts are not supported on a view");
    }
    if (data_query_filters(&q)) {
        json_decref(body);
        data_query_free(&q);
        return reply_err(r, 400, "PGRST100", NULL, "filters are not allowed on POST");
    }
    int rc = data_json_rows(r->table, body, &rows, msg, sizeof msg);
    json_decref(body);
    if (rc != PH_OK) {
        data_query_free(&q);
        return reply_err(r, 400, "PGRST102", NULL, "%s", msg);
    }
    if (object && rows.nrows != 1) {
        size_t n = rows.nrows;
        data_json_rows_free(&rows);
        data_query_free(&q);
        return reply_not_one(r, n);
    }
    if (rows.nrows == 0 || (rows.ncols == 0 && rows.nrows > 1)) {
        bool none = rows.nrows == 0;
        data_json_rows_free(&rows);
        data_query_free(&q);
        if (none) /* nothing to insert: PostgREST answers the same */
            return reply_written(r, true, ret, false, false, json_array());
        return reply_err(r, 400, "PGRST102", NULL, "rows without any column: insert them one by one");
    }
    rows.defaults = header_has(r, "Prefer", "missing=default");
    const data_column_t *nul = null_into_notnull(r, rows.cols, rows.ncols, rows.vals, rows.nrows * rows.ncols,
                                                 rows.defaults ? rows.missing : NULL);
    if (nul != NULL) {
        data_json_rows_free(&rows);
        data_query_free(&q);
        return reply_null(r, nul);
    }
    if (rows.defaults)
        r->api->add_header(r->req, "Preference-Applied", "missing=default");
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    int built = data_sql_insert_rows(&st, r->table, &rows, conflict, q.on_conflict, &q);
    data_json_rows_free(&rows);
    rc = run_write(r, &st, built, &q, &out, &e);
    bool locatable = pk_selected(&q, r->table);
    data_query_free(&q);
    if (rc != PH_OK)
        return reply_db(r, &e);
    return reply_written(r, true, ret, object, locatable, out);
}

/* Whether a PATCH or DELETE without conditions may go ahead: only on a
 * route with unfiltered_writes = yes. PH_ERROR after answering. */
static int filtered_enough(rest_t *r, const data_query_t *q, bool update)
{
    if (data_query_filters(q) || r->d->conf.unfiltered_writes)
        return PH_OK;
    reply_err(r, 400, "PGRST100", "Add a filter such as id=eq.1, or set unfiltered_writes = yes on the route",
              "%s on a whole table without a filter is refused", update ? "PATCH" : "DELETE");
    return PH_ERROR;
}

/* For an object request: 406 unless exactly one row matches q, checked
 * before the write (not in its transaction). PH_ERROR after answering. */
static int exactly_one(rest_t *r, const data_query_t *q)
{
    json_int_t count = 0;
    data_dberr_t e = {0};
    data_stmt_t ct = DATA_STMT_INIT(r->d->ops->dialect);
    if (run(r, &ct, data_sql_count(&ct, r->table, q), NULL, count_row, &count, &e) != PH_OK)
        return reply_db(r, &e), PH_ERROR;
    if (count != 1)
        return reply_not_one(r, (size_t)count), PH_ERROR;
    return PH_OK;
}

/* PATCH (update) or DELETE on a table, of the rows q's filters match. */
static int change_rows(rest_t *r, bool update)
{
    data_query_t q;
    data_assign_t *a = NULL;
    size_t n = 0;
    data_dberr_t e = {0};
    char msg[200];
    json_t *out, *body = NULL;
    ret_t ret = prefer_return(r);
    bool object = wants_object(r);

    if (update && (body = load_body(r)) == NULL)
        return PH_OK;
    if (write_query(r, &q) != PH_OK || filtered_enough(r, &q, update) != PH_OK ||
        (object && exactly_one(r, &q) != PH_OK)) {
        json_decref(body);
        data_query_free(&q);
        return PH_OK;
    }
    if (update) {
        int rc = data_json_assignments(r->table, body, DATA_JSON_INSERT, NULL, &a, &n, msg, sizeof msg);
        json_decref(body);
        if (rc != PH_OK || n == 0) {
            data_query_free(&q);
            data_json_assign_free(a, n);
            return reply_err(r, 400, "PGRST102", NULL, "%s", rc != PH_OK ? msg : "nothing to update: "
                             "give at least one column");
        }
        for (size_t i = 0; i < n; i++) {
            if (null_into_notnull(r, &a[i].col, 1, &a[i].value, 1, NULL) != NULL) {
                const data_column_t *col = a[i].col;
                data_query_free(&q);
                data_json_assign_free(a, n);
                return reply_null(r, col);
            }
        }
    }
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    int built = update ? data_sql_update_where(&st, r->table, a, n, &q)
                       : data_sql_delete_where(&st, r->table, &q);
    data_json_assign_free(a, n);
    int rc = run_write(r, &st, built, &q, &out, &e);
    data_query_free(&q);
    if (rc != PH_OK)
        return reply_db(r, &e);
    return reply_written(r, false, ret, object, false, out);
}

/* Whether two values of one column are the same key. */
static bool same_key(const data_value_t *a, const data_value_t *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case DATA_VALUE_NULL: return true;
    case DATA_VALUE_INT: case DATA_VALUE_BOOL: return a->i == b->i;
    case DATA_VALUE_REAL: return a->d == b->d;
    case DATA_VALUE_TEXT: case DATA_VALUE_BLOB: case DATA_VALUE_NUM:
        return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
    }
    return false;
}

/* Whether q's only condition is "pk=eq.value" (PUT's target). */
static const data_filter_t *pk_target(const data_query_t *q, const data_table_t *t)
{
    if (q->nfilters != 1 || q->ngroups != 0)
        return NULL;
    const data_filter_t *f = &q->filters[0];
    if (f->col != &t->cols[t->pk] || f->op != DATA_OP_EQ || f->negate || f->quant != DATA_QUANT_NONE)
        return NULL;
    return f;
}

/* PUT on a table, PostgREST's single-row upsert: "?pk=eq.X" and a body
 * (an object, or an array of one) holding every column, its key equal to
 * X. The row is inserted, or replaces the one with that key. */
static int put_row(rest_t *r)
{
    data_query_t q;
    data_rows_t rows;
    data_dberr_t e = {0};
    char msg[200];
    json_t *out, *body = load_json(r, true);
    ret_t ret = prefer_return(r);
    const data_filter_t *f;

    if (body == NULL)
        return PH_OK;
    if (write_query(r, &q) != PH_OK) {
        json_decref(body);
        return PH_OK;
    }
    if ((f = pk_target(&q, r->table)) == NULL) {
        json_decref(body);
        data_query_free(&q);
        return reply_err(r, 400, "PGRST105", NULL, "Filters must include all and only primary key "
                         "columns with 'eq' operators");
    }
    int rc = data_json_rows(r->table, body, &rows, msg, sizeof msg);
    json_decref(body);
    if (rc == PH_OK && (rows.nrows != 1 || rows.ncols != r->table->ncols)) {
        data_json_rows_free(&rows);
        rc = PH_ERROR;
        snprintf(msg, sizeof msg, "PUT takes one row holding every column of the table");
    }
    if (rc != PH_OK) {
        data_query_free(&q);
        return reply_err(r, 400, "PGRST102", NULL, "%s", msg);
    }
    if (!same_key(&rows.vals[r->table->pk], &f->value)) {
        data_json_rows_free(&rows);
        data_query_free(&q);
        return reply_err(r, 400, "PGRST115", NULL, "Payload values do not match URL in primary key column(s)");
    }
    const data_column_t *nul = null_into_notnull(r, rows.cols, rows.ncols, rows.vals, rows.ncols, NULL);
    if (nul != NULL) {
        data_json_rows_free(&rows);
        data_query_free(&q);
        return reply_null(r, nul);
    }
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    q.nfilters = 0; /* the key is in the row; an INSERT takes no WHERE */
    int built = data_sql_insert_rows(&st, r->table, &rows, DATA_CONFLICT_MERGE, NULL, &q);
    q.nfilters = 1;
    data_json_rows_free(&rows);
    rc = run_write(r, &st, built, &q, &out, &e);
    data_query_free(&q);
    if (rc != PH_OK)
        return reply_db(r, &e);
    return reply_written(r, false, ret, wants_object(r), false, out);
}

/* --- RPC: /rpc/<name> (data_rpc.h) ------------------------------------------ */

/* PostgREST's answer for a function it does not know, or not with these
 * arguments. */
static int reply_no_fn(rest_t *r, const char *name, size_t len, const char *why)
{
    if (!quotable(name, len))
        return reply_err(r, 404, "PGRST202", why, "Could not find the function in the schema cache");
    return reply_err(r, 404, "PGRST202", why, "Could not find the function %.*s in the schema cache", (int)len,
                     name);
}

/* A GET's query string: parameters naming an argument go into c (decoded
 * text), the rest (select, filters, order, paging) into *rest, copied raw
 * and joined by '&'. PH_ERROR after answering. */
static int rpc_get_args(rest_t *r, const data_rpc_fn_t *fn, data_rpc_call_t *c, char **rest, size_t *restlen)
{
    ph_str_t qs = r->api->query(r->req);
    size_t n = qs.ptr ? qs.len : 0, o = 0;
    char *out = r->api->alloc(r->req, n + 1), *dec = r->api->alloc(r->req, n + 1);

    if (out == NULL || dec == NULL || data_rpc_call_init(fn, c) != PH_OK)
        return reply_error(r, 500, "out of memory"), PH_ERROR;
    for (size_t i = 0; i < n;) {
        const char *p = qs.ptr + i, *amp = memchr(p, '&', n - i);
        size_t plen = amp ? (size_t)(amp - p) : n - i;
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        long kl = data_pct_decode(p, klen, dec, true);
        long idx = kl > 0 ? data_rpc_arg_index(fn, dec, (size_t)kl) : -1;
        i += plen + (amp != NULL);
        if (idx < 0) {
            if (plen > 0) {
                if (o > 0)
                    out[o++] = '&';
                memcpy(out + o, p, plen);
                o += plen;
            }
            continue;
        }
        long vl = eq ? data_pct_decode(eq + 1, plen - klen - 1, dec, true) : 0;
        if (vl < 0 || !data_utf8_valid(dec, (size_t)vl) || memchr(dec, '\0', (size_t)vl) != NULL) {
            data_rpc_call_free(c);
            return reply_err(r, 400, "PGRST100", NULL, "argument %s: not valid text", fn->args[idx].name), PH_ERROR;
        }
        if (data_rpc_call_text(c, (size_t)idx, dec, (size_t)vl) != PH_OK) {
            data_rpc_call_free(c);
            return reply_err(r, 400, "PGRST100", NULL, "argument %s given twice", fn->args[idx].name), PH_ERROR;
        }
    }
    out[o] = '\0';
    *rest = out;
    *restlen = o;
    return PH_OK;
}

/* The first value of the first row (a scalar function's result). */
static json_t *first_value(json_t *rows)
{
    json_t *row = json_array_get(rows, 0);
    void *it = row ? json_object_iter(row) : NULL;
    return it ? json_incref(json_object_iter_value(it)) : json_null();
}

/* Runs the call's SELECT and answers: the bare value, the one row, or the
 * rows as a listing. */
static int rpc_answer(rest_t *r, const data_rpc_fn_t *fn, data_stmt_t *st, int built, const data_query_t *q,
                      const data_table_t *cols)
{
    data_dberr_t e = {0};
    bool object = wants_object(r);
    if (fn->ret != DATA_RPC_SET) {
        json_t *rows;
        if (run_rows(r, st, built, cols, &rows, &e) != PH_OK)
            return reply_db(r, &e);
        json_t *v = fn->none ? json_null()
                    : fn->ret == DATA_RPC_SCALAR ? first_value(rows) : json_incref(json_array_get(rows, 0));
        json_decref(rows);
        return reply_json(r, 200, v ? v : json_null());
    }
    data_listing_t l;
    /* A plain function's columns are known only from its rows: JSON. The
     * rows of a function that may write come whole after its commit
     * (exec), so a failing commit is still answered as an error; those
     * of one that reads stream like a table's. */
    bool reads = !fn->writes && !fn->plain && !st->dry_run;
    data_listing_init(&l, r->api, r->req, r->d->conf.max_response_bytes,
                      !object && cols != NULL && cols->ncols > 0 && header_has(r, "Accept", "text/csv"), cols,
                      !object && reads);
    int rc = run_listing(r, st, built, cols, NULL, NULL, reads, &l, &e);
    if (l.streaming)
        return stream_end(r, &l, rc, &e);
    if (rc != PH_OK) {
        data_listing_free(&l);
        return reply_db(r, &e);
    }
    int status = content_range(r, q, l.rows, false, 0);
    if (object && l.rows != 1) {
        data_listing_free(&l);
        return reply_not_one(r, l.rows);
    }
    return reply_listing(r, object ? 200 : status, &l, object);
}

/* Calls fn with the arguments in c (consumed), shaping its result by the
 * query string rest (select, filters, order, limit, offset). */
static int rpc_call(rest_t *r, const data_rpc_fn_t *fn, const data_table_t *shape, data_rpc_call_t *c,
                    const char *rest, size_t restlen, bool post)
{
    data_query_t q;
    data_qerr_t qe;
    data_schema_t sel = {0};
    data_stmt_t st = DATA_STMT_INIT(r->d->ops->dialect);
    const char *missing;

    if (!data_rpc_call_complete(fn, c, &missing)) {
        data_rpc_call_free(c);
        char why[128];
        snprintf(why, sizeof why, "argument %.64s is required", missing);
        return reply_no_fn(r, fn->name, strlen(fn->name), why);
    }
    if (fn->plain && restlen > 0) {
        data_rpc_call_free(c);
        return reply_err(r, 400, "PGRST100", NULL, "%s: select, filters, order and paging do not apply "
                         "to this function", fn->name);
    }
    if (data_query_parse(shape, r->d->ops->dialect, rest, restlen, r->d->conf.max_rows, &q, &qe) != PH_OK) {
        data_rpc_call_free(c);
        return reply_qerr(r, &qe);
    }
    /* Rows of a table embed like the table's: the same grants. */
    const char *denied = grants_apply(r) ? embed_denied(r, &q, DATA_M_GET) : NULL;
    if (denied != NULL) {
        data_rpc_call_free(c);
        data_query_free(&q);
        return reply_denied(r, denied);
    }
    apply_range(r, &q);
    st.writes = fn->writes;
    st.dry_run = post && header_has(r, "Prefer", "tx=rollback");
    if (st.dry_run)
        r->api->add_header(r->req, "Preference-Applied", "tx=rollback");
    int built = PH_ERROR;
    char *from = NULL;
    if (fn->plain) {
        /* A query that writes or a procedure cannot be a derived table:
         * it runs as it is, its rows answered whole. */
        built = data_rpc_plain(fn, c, &st);
    } else if ((from = data_rpc_from(fn, c, &st)) != NULL) {
        data_table_t src = *shape;
        src.from_sql = from;
        built = data_sql_select(&st, &src, &q);
    }
    data_rpc_call_free(c);
    if (built == PH_OK && q.nselect > 0 && data_query_shape(&q, shape, &sel) != PH_OK)
        built = PH_ERROR;
    int rc = rpc_answer(r, fn, &st, built, &q, q.nselect > 0 ? &sel.tables[0] : shape);
    free(from);
    data_schema_free(&sel);
    data_query_free(&q);
    return rc;
}

/* A function may read or change any table: where the route's grants
 * decide, a call needs a grant on every table ("*"), GET for GET and
 * HEAD, POST for POST; refused as a missing privilege otherwise. False
 * after answering. */
static bool fn_granted(rest_t *r, const data_rpc_fn_t *fn, bool post)
{
    if (!grants_apply(r) ||
        data_role_allows(&r->d->conf.roles, r->auth.role, "*", post ? DATA_M_POST : DATA_M_GET))
        return true;
    if (r->auth.anonymous)
        r->api->add_header(r->req, "WWW-Authenticate", "Bearer");
    reply_err(r, r->auth.anonymous ? 401 : 403, "42501", NULL, "permission denied for function %s", fn->name);
    return false;
}

static int rpc_route(rest_t *r, ph_str_t m, const char *name, size_t len)
{
    const data_table_t *shape;
    const data_rpc_fn_t *fn = data_rpc_find(&r->d->rpc, name, len, &shape);
    bool get = method_is(m, "GET") || method_is(m, "HEAD"), post = method_is(m, "POST");
    data_rpc_call_t c;

    if (fn == NULL)
        return reply_no_fn(r, name, len, NULL);
    if ((!get && !post) || (get && fn->writes))
        return reply_405(r, fn->writes ? "POST" : "GET, HEAD, POST",
                         fn->writes ? "this function may change data: call it with POST"
                                    : "method not allowed on a function");
    if (fn->writes && r->d->conf.read_only)
        return reply_405(r, "", "this API is read-only: functions that may change data cannot be called");
    if (!fn_granted(r, fn, post))
        return PH_OK;
    if (get) {
        char *rest;
        size_t restlen;
        if (rpc_get_args(r, fn, &c, &rest, &restlen) != PH_OK)
            return PH_OK;
        return rpc_call(r, fn, shape, &c, rest, restlen, false);
    }
    json_t *body = load_body(r);
    char msg[96];
    bool unknown;
    if (body == NULL)
        return PH_OK;
    int rc = data_rpc_call_json(fn, body, &c, &unknown, msg, sizeof msg);
    json_decref(body);
    if (rc != PH_OK && unknown) {
        char why[128];
        snprintf(why, sizeof why, "no argument named %s", msg);
        return reply_no_fn(r, fn->name, strlen(fn->name), why);
    }
    if (rc != PH_OK)
        return reply_error(r, 500, "%s", msg);
    ph_str_t qs = r->api->query(r->req);
    return rpc_call(r, fn, shape, &c, qs.ptr ? qs.ptr : "", qs.ptr ? qs.len : 0, true);
}

/* --- routing -------------------------------------------------------------- */

static const char ALLOW_READ[] = "GET, HEAD";

/* Whether a write (DATA_M_* bit) through a view can answer the rows it
 * wrote. PostgreSQL's RETURNING reaches through a view. SQLite's, through
 * INSTEAD OF triggers, returns the values the INSERT or UPDATE statement
 * gave, not the rows stored (a key the table assigns reads null): only a
 * DELETE's are the view's rows. MariaDB's INSERT and DELETE return the
 * rows; its UPDATE has no RETURNING and a view no key to read them back
 * by. */
static bool view_returns_rows(const rest_t *r, unsigned bit)
{
    switch (r->d->ops->dialect) {
    case DATA_DIALECT_PG: return true;
    case DATA_DIALECT_SQLITE: return bit == DATA_M_DELETE;
    case DATA_DIALECT_MYSQL: return bit != DATA_M_PATCH;
    }
    return false;
}

/* A view: read like a table; written with the methods the database can
 * run on it (view_writes), never PUT, whose upsert needs a key. */
static int route_view(rest_t *r, ph_str_t m)
{
    unsigned w = r->d->conf.read_only ? 0 : r->table->view_writes;
    unsigned bit = method_is(m, "POST") ? DATA_M_POST : method_is(m, "PATCH") ? DATA_M_PATCH
                   : method_is(m, "DELETE") ? DATA_M_DELETE : 0;
    if (method_is(m, "GET") || method_is(m, "HEAD"))
        return list_rows(r);
    if (bit == 0 || (w & bit) == 0) {
        char allow[64];
        snprintf(allow, sizeof allow, "GET, HEAD%s%s%s", w & DATA_M_POST ? ", POST" : "",
                 w & DATA_M_PATCH ? ", PATCH" : "", w & DATA_M_DELETE ? ", DELETE" : "");
        r->api->add_header(r->req, "Allow", allow);
        if (w == 0)
            return reply_error(r, 405, "view \"%s\" is read-only", r->table->name);
        return reply_error(r, 405, "method not allowed on view \"%s\"", r->table->name);
    }
    if (prefer_return(r) == RET_REPRESENTATION && !view_returns_rows(r, bit))
        return reply_err(r, 400, "PGRST100", NULL, "return=representation is not supported on writes "
                         "through view \"%s\": the database cannot return the rows written", r->table->name);
    if (bit == DATA_M_POST)
        return insert_rows(r);
    return change_rows(r, bit == DATA_M_PATCH);
}

static int route_collection(rest_t *r, ph_str_t m)
{
    bool ro = r->d->conf.read_only;
    if (r->table->view)
        return route_view(r, m);
    if (method_is(m, "GET") || method_is(m, "HEAD"))
        return list_rows(r);
    bool post = method_is(m, "POST"), patch = method_is(m, "PATCH"), del = method_is(m, "DELETE");
    bool put = method_is(m, "PUT");
    if (!post && !patch && !del && !put)
        return reply_405(r, ro ? ALLOW_READ : "GET, HEAD, POST, PUT, PATCH, DELETE",
                         "method not allowed on a table");
    if (ro)
        return reply_405(r, ALLOW_READ, "this API is read-only");
    if (post)
        return insert_rows(r);
    if (put)
        return put_row(r);
    return change_rows(r, patch);
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
    if (r->table->pk == DATA_NO_PK)
        return reply_err(r, 404, NULL, "Filter the view instead: ?column=eq.value",
                         "view \"%s\" has no primary key: it has no item routes", r->table->name);
    /* An id that cannot be a key of this table names no row. */
    const data_column_t *pk = &r->table->cols[r->table->pk];
    if (data_num_parse(pk, id, idlen, &r->id, msg, sizeof msg) != PH_OK)
        return reply_error(r, 404, "no row with this id in table \"%s\"", r->table->name);
    if (method_is(m, "PUT"))
        return write_row(r, DATA_JSON_PUT);
    if (method_is(m, "PATCH"))
        return write_row(r, DATA_JSON_PATCH);
    if (method_is(m, "DELETE"))
        return delete_row(r);
    return get_row(r);
}

/* Where a row route's table and id are, in the decoded path below the
 * prefix. */
typedef struct target {
    const char *table, *id; /* id NULL: the collection */
    size_t tlen, idlen;
    bool id_from_raw;       /* the id may hold '/' */
} target_t;

/* The core decodes %2F before routing, so a key holding '/' spans several
 * decoded segments. Its id is the last segment of the raw path, decoded
 * here, when the decoded path p (n bytes, no leading '/') ends with it and
 * exactly one table segment comes before it. */
static bool split_raw(rest_t *r, const char *p, size_t n, target_t *t)
{
    ph_str_t raw = r->api->raw_path(r->req);
    if (raw.ptr == NULL || raw.len == 0 || raw.ptr[raw.len - 1] == '/')
        return false;
    const char *last = raw.ptr + raw.len;
    while (last > raw.ptr && last[-1] != '/')
        last--;
    size_t rawlen = (size_t)(raw.ptr + raw.len - last);
    char *dec = r->api->alloc(r->req, rawlen);
    long dl = dec ? data_pct_decode(last, rawlen, dec, false) : -1;
    if (dl <= 0 || (size_t)dl + 2 > n)
        return false;
    size_t tl = n - (size_t)dl - 1;
    if (p[tl] != '/' || memcmp(p + tl + 1, dec, (size_t)dl) != 0 || memchr(p, '/', tl) != NULL)
        return false;
    *t = (target_t){.table = p, .tlen = tl, .id = p + tl + 1, .idlen = (size_t)dl, .id_from_raw = true};
    return true;
}

/* "/notes" -> the collection, "/notes/" too, "/notes/ID" -> an item.
 * Returns false for the root (no table). */
static bool split_target(rest_t *r, target_t *t)
{
    ph_str_t sp = r->api->subpath(r->req);
    const char *p = sp.ptr ? sp.ptr : "";
    size_t n = sp.ptr ? sp.len : 0;

    while (n > 0 && *p == '/')
        p++, n--;
    if (split_raw(r, p, n, t))
        return true;
    if (n > 0 && p[n - 1] == '/')
        n--; /* "/api/notes/" is "/api/notes" */
    if (n == 0)
        return false;
    const char *slash = memchr(p, '/', n);
    *t = (target_t){.table = p, .tlen = slash ? (size_t)(slash - p) : n, .id = slash ? slash + 1 : NULL};
    t->idlen = slash ? n - t->tlen - 1 : 0;
    return true;
}

/* The route's grants on the request's table; false after answering. */
static bool granted(rest_t *r, ph_str_t m)
{
    unsigned bit = data_cors_method_bit(m.ptr, m.len);
    if (!grants_apply(r) || bit == 0 || data_role_allows(&r->d->conf.roles, r->auth.role, r->table->name, bit))
        return true;
    reply_denied(r, r->table->name);
    return false;
}

static int route(rest_t *r)
{
    ph_str_t m = r->api->method(r->req);
    target_t t;

    if (!split_target(r, &t)) {
        if (method_is(m, "GET") || method_is(m, "HEAD"))
            return get_root(r);
        return reply_405(r, ALLOW_READ, "method not allowed on the table list");
    }
    /* /rpc/<name> calls a function (a table named rpc keeps its
     * collection route only). */
    if (t.tlen == 3 && memcmp(t.table, "rpc", 3) == 0 && t.id != NULL && t.idlen > 0)
        return rpc_route(r, m, t.id, t.idlen);
    r->table = data_schema_find(&r->d->schema, t.table, t.tlen);
    if (r->table == NULL) {
        if (quotable(t.table, t.tlen))
            return reply_error(r, 404, "unknown table \"%.*s\"", (int)t.tlen, t.table);
        return reply_error(r, 404, "unknown table");
    }
    if (!granted(r, m))
        return PH_OK;
    if (t.id == NULL)
        return route_collection(r, m);
    if (t.idlen == 0 || (!t.id_from_raw && memchr(t.id, '/', t.idlen) != NULL))
        return reply_error(r, 404, "no such resource: use /<table> or /<table>/<id>");
    return route_item(r, m, t.id, t.idlen);
}

/* --- cross-origin requests (data_cors.h) ------------------------------------ */

static bool header_is(rest_t *r, const char *name, const char *value)
{
    ph_str_t v;
    return r->api->header(r->req, name, &v) && v.len == strlen(value) &&
           strncasecmp(v.ptr, value, v.len) == 0;
}

/* The header value as a NUL-terminated copy in the request's memory. */
static const char *header_copy(rest_t *r, ph_str_t v)
{
    char *s = r->api->alloc(r->req, v.len + 1);
    if (s != NULL) {
        memcpy(s, v.ptr, v.len);
        s[v.len] = '\0';
    }
    return s;
}

static void allow_origin(rest_t *r, data_cors_grant_t grant, ph_str_t origin)
{
    const data_cors_conf_t *c = &r->d->conf.cors;
    const char *o = grant == DATA_CORS_LISTED ? header_copy(r, origin) : "*";
    if (o == NULL)
        return;
    r->api->add_header(r->req, "Access-Control-Allow-Origin", o);
    if (grant == DATA_CORS_LISTED && c->credentials)
        r->api->add_header(r->req, "Access-Control-Allow-Credentials", "true");
}

/* OPTIONS with Origin and Access-Control-Request-Method: 204 with the
 * Access-Control-Allow-* headers, or 403 without them. */
static int preflight(rest_t *r, data_cors_grant_t grant, ph_str_t origin, ph_str_t acrm)
{
    const data_cors_conf_t *c = &r->d->conf.cors;
    ph_str_t acrh = {NULL, 0};
    char why[96], age[16];

    r->api->header(r->req, "Access-Control-Request-Headers", &acrh);
    if (data_cors_preflight(c, grant, acrm.ptr, acrm.len, acrh.ptr, acrh.len, why, sizeof why) != PH_OK)
        return reply_error(r, 403, "CORS preflight refused: %s", why);
    r->api->set_status(r->req, 204);
    allow_origin(r, grant, origin);
    r->api->add_header(r->req, "Access-Control-Allow-Methods",
                       grant == DATA_CORS_LISTED ? c->methods_text : ALLOW_READ);
    if (grant == DATA_CORS_LISTED)
        r->api->add_header(r->req, "Access-Control-Allow-Headers", c->headers_text);
    snprintf(age, sizeof age, "%u", c->max_age_s);
    r->api->add_header(r->req, "Access-Control-Max-Age", age);
    return PH_OK;
}

/* Applies the cross-origin policy before routing. Returns true when the
 * request is answered (a preflight, or a refused cross-site write). */
static bool cors_gate(rest_t *r, ph_str_t m)
{
    const data_cors_conf_t *c = &r->d->conf.cors;
    ph_str_t origin = {NULL, 0}, host = {NULL, 0}, acrm;
    bool has_origin = r->api->header(r->req, "Origin", &origin);
    bool safe = method_is(m, "GET") || method_is(m, "HEAD") || method_is(m, "OPTIONS");

    r->api->header(r->req, "Host", &host);
    bool foreign = has_origin && !data_cors_same_origin(origin.ptr, origin.len, host.ptr, host.len);
    bool cross = foreign || header_is(r, "Sec-Fetch-Site", "cross-site");
    data_cors_grant_t grant = has_origin ? data_cors_grant(c, origin.ptr, origin.len) : DATA_CORS_DENIED;
    bool preflight_req = method_is(m, "OPTIONS") && has_origin &&
                         r->api->header(r->req, "Access-Control-Request-Method", &acrm);

    /* Which CORS headers go out depends on Origin: caches must know. */
    if (c->norigins > 0 || c->any_origin || preflight_req)
        r->api->add_header(r->req, "Vary", "Origin");
    if (preflight_req) {
        preflight(r, grant, origin, acrm);
        return true;
    }
    if (!safe && cross &&
        !(grant == DATA_CORS_LISTED && (c->methods & data_cors_method_bit(m.ptr, m.len)))) {
        reply_error(r, 403, "cross-site %.*s refused: this origin may not write (cors_origins)",
                    (int)(m.len < 16 ? m.len : 16), m.ptr);
        return true;
    }
    if (foreign && (grant == DATA_CORS_LISTED || (grant == DATA_CORS_READ && safe))) {
        allow_origin(r, grant, origin);
        /* Scripts may read these answers' own headers too. */
        r->api->add_header(r->req, "Access-Control-Expose-Headers", "Location, X-Total-Count, Content-Range");
    }
    return false;
}

/* Who asks (data_auth.h); false after answering a refusal. */
static bool authenticated(rest_t *r)
{
    data_auth_err_t e;
    if (data_auth_request(&r->d->conf.roles, r->d->jwt, r->api, r->req, &r->auth, &e) == PH_OK)
        return true;
    if (e.www[0] != '\0')
        r->api->add_header(r->req, "WWW-Authenticate", e.www);
    reply_err(r, e.status, e.code, e.details[0] ? e.details : NULL, "%s", e.msg);
    return false;
}

int data_rest_handle(const data_t *d, ph_request_t *req)
{
    rest_t r = {.d = d, .api = d->api, .req = req, .id = {.kind = DATA_VALUE_NULL}};
    int rc = cors_gate(&r, r.api->method(req)) || !authenticated(&r) ? PH_OK : route(&r);
    data_value_clear(&r.id);
    return rc;
}
