/*
 * PostgreSQL backend of the data API (see data_db.h), through libpq.
 *
 * Connections come from a pool (data_pool.h). An idle connection is checked
 * before use, so one the server closed while idle (restart, failover) is
 * replaced instead of failing the request; a read that still hits a dead
 * connection is retried once on a new one. Parameters go as text with type
 * left to the server to infer from the column (bytea as binary); results
 * come back as text and are typed by the column's type OID.
 */
#include "data_db.h"
#include "data_rpc_load.h"
#include "data_json.h"
#include "data_num.h"
#include "data_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <plughttpd/plugin.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Type OIDs fixed by PostgreSQL's catalog (pg_type.dat). */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_JSON = 114, OID_JSONB = 3802, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700
};

struct data_db {
    const data_conf_t *conf;
    data_pool_t *pool;
    char timeout[16]; /* connect_timeout in seconds, as text */
};

static void quiet_notices(void *arg, const char *message)
{
    /* NOTICEs ("relation already exists, skipping") are not errors; libpq
     * would print them on the server's stderr. */
    (void)arg;
    (void)message;
}

/* libpq messages end with a newline: copy without it. */
static void copy_msg(char *dst, size_t dstlen, const char *prefix, const char *msg)
{
    snprintf(dst, dstlen, "%s%s", prefix, msg ? msg : "unknown error");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static void *conn_open(void *ctx, char *err, size_t errlen)
{
    data_db_t *h = ctx;
    /* The URI comes last and is expanded (expand_dbname): whatever it says
     * overrides the defaults before it. */
    const char *keys[] = {"connect_timeout", "client_encoding", "application_name", "dbname", NULL};
    const char *vals[] = {h->timeout, "UTF8", "plughttpd", h->conf->target, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        copy_msg(err, errlen, "", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    return c;
}

static void conn_close(void *conn)
{
    PQfinish(conn);
}

/* A connection inherited across fork(): its socket carries the parent's
 * session, so PQfinish() runs only once data_pool_mute_fd() has put /dev/null in
 * its place. */
static void conn_forget(void *conn)
{
    if (data_pool_mute_fd(PQsocket(conn)) == 0)
        PQfinish(conn);
}

/* False when the server has closed an idle connection. */
static bool conn_alive(PGconn *c)
{
    struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
    if (p.fd < 0)
        return false;
    if (poll(&p, 1, 0) > 0) {
        if (!PQconsumeInput(c))
            return false;
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL)
            PQfreemem(n);
    }
    return PQstatus(c) == CONNECTION_OK;
}

/* An idle, live connection or a fresh one; NULL when none can be had. */
static PGconn *take_live(data_db_t *h, bool *fresh, char *err, size_t errlen)
{
    for (unsigned i = 0; i <= h->conf->pool_size; i++) {
        PGconn *c = data_pool_take(h->pool, fresh, err, errlen);
        if (c == NULL || *fresh || conn_alive(c))
            return c;
        data_pool_give(h->pool, c, true);
    }
    return data_pool_take(h->pool, fresh, err, errlen);
}

static char *quote_ident(const char *name)
{
    size_t n = strlen(name);
    char *q = malloc(2 * n + 3), *p = q;
    if (q == NULL)
        return NULL;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            *p++ = '"';
        *p++ = name[i];
    }
    *p++ = '"';
    *p = '\0';
    return q;
}

static const char column_sql[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, a.attnotnull,"
    "       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',"
    "       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid"
    "               AND i.indisprimary AND a.attnum = ANY (i.indkey))"
    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

static PGresult *table_columns(PGconn *c, const char *name, char *err, size_t errlen)
{
    char *q = quote_ident(name);
    const char *vals[1] = {q};
    PGresult *r = q ? PQexecParams(c, column_sql, 1, NULL, vals, NULL, NULL, 0) : NULL;
    free(q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        copy_msg(err, errlen, "reading the schema: ", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* The one-column foreign keys of a table: constraint, column, referenced
 * table and column. Keys over several columns cannot embed here. */
static const char fk_sql[] =
    "SELECT c.conname, a.attname, r.relname, ra.attname"
    " FROM pg_constraint c"
    " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
    " JOIN pg_class r ON r.oid = c.confrelid"
    " JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]"
    " WHERE c.contype = 'f' AND c.conrelid = to_regclass($1) AND cardinality(c.conkey) = 1"
    " ORDER BY c.conname";

static int read_fks(PGconn *c, const char *name, data_table_t *t, char *err, size_t errlen)
{
    char *q = quote_ident(name);
    const char *vals[1] = {q};
    PGresult *r = q ? PQexecParams(c, fk_sql, 1, NULL, vals, NULL, NULL, 0) : NULL;
    int rc = PH_OK;
    free(q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        copy_msg(err, errlen, "reading foreign keys: ", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return PH_ERROR;
    }
    for (int i = 0; rc == PH_OK && i < PQntuples(r); i++)
        rc = data_table_add_fk(t, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                               PQgetvalue(r, i, 3));
    PQclear(r);
    if (rc != PH_OK)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* Whether the relation name is a view (or materialized view), and then
 * the write methods the database can run on it: pg_relation_is_updatable
 * gives the events as bits (8 INSERT, 4 UPDATE, 16 DELETE), the test
 * behind information_schema.views' is_insertable_into and is_updatable. */
static const char view_sql[] =
    "SELECT c.relkind IN ('v', 'm'), pg_relation_is_updatable(c.oid::regclass, false)"
    " FROM pg_class c WHERE c.oid = to_regclass($1)";

static int read_view(PGconn *c, const char *name, bool *view, unsigned *writes, char *err, size_t errlen)
{
    char *q = quote_ident(name);
    const char *vals[1] = {q};
    PGresult *r = q ? PQexecParams(c, view_sql, 1, NULL, vals, NULL, NULL, 0) : NULL;
    free(q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        copy_msg(err, errlen, "reading the schema: ", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return PH_ERROR;
    }
    *view = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    long bits = *view ? strtol(PQgetvalue(r, 0, 1), NULL, 10) : 0;
    *writes = (bits & 8 ? DATA_M_POST : 0) | (bits & 4 ? DATA_M_PATCH : 0) | (bits & 16 ? DATA_M_DELETE : 0);
    PQclear(r);
    return PH_OK;
}

static int read_table(PGconn *c, const char *name, data_schema_t *schema, char *err, size_t errlen)
{
    PGresult *r = table_columns(c, name, err, errlen);
    data_table_t *t;

    if (r == NULL)
        return PH_ERROR;
    t = data_schema_add_table(schema, name);
    for (int i = 0; t && i < PQntuples(r); i++) {
        if (data_table_add_column(t, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                                  data_type_from_pg(PQgetvalue(r, i, 2)),
                                  PQgetvalue(r, i, 3)[0] == 't', PQgetvalue(r, i, 4)[0] == 't',
                                  PQgetvalue(r, i, 5)[0] == 't') != PH_OK)
            t = NULL;
    }
    PQclear(r);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    bool view;
    unsigned writes;
    if (read_view(c, name, &view, &writes, err, errlen) != PH_OK)
        return PH_ERROR;
    if (view) {
        t->view_writes = writes;
        return data_table_finish_view(t, err, errlen);
    }
    if (data_table_finish(t, err, errlen) != PH_OK)
        return PH_ERROR;
    return read_fks(c, name, t, err, errlen);
}

/* Runs the schema file when one of the exposed tables is missing: a shared
 * database is not touched once it has what this route serves. */
static int exec_command(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        copy_msg(err, errlen, "", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return ok ? PH_OK : PH_ERROR;
}

static int ensure_schema(PGconn *c, const data_conf_t *conf, char *err, size_t errlen)
{
    bool missing = false;
    for (size_t i = 0; i < conf->ntables && !missing; i++) {
        PGresult *r = table_columns(c, conf->tables[i], err, errlen);
        if (r == NULL)
            return PH_ERROR;
        missing = PQntuples(r) == 0;
        PQclear(r);
    }
    if (!missing || conf->schema == NULL)
        return PH_OK;
    char *sql = data_schema_file(conf->schema, err, errlen);
    if (sql == NULL)
        return PH_ERROR;
    PGresult *r = PQexec(c, sql);
    free(sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!rc)
        copy_msg(err, errlen, "schema: ", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return rc ? PH_OK : PH_ERROR;
}

static void pg_close(data_db_t *h);

static data_db_t *pg_open(const data_conf_t *conf, data_schema_t *schema, char *err, size_t errlen)
{
    data_db_t *h = calloc(1, sizeof *h);
    char msg[240];
    bool fresh;

    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->conf = conf;
    snprintf(h->timeout, sizeof h->timeout, "%d", (conf->busy_timeout_ms + 999) / 1000);
    h->pool = data_pool_new(conf->pool_size, conn_open, conn_close, conn_forget, h);
    if (h->pool == NULL) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    PGconn *c = data_pool_take(h->pool, &fresh, msg, sizeof msg);
    if (c == NULL) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", msg);
        pg_close(h);
        return NULL;
    }
    /* A configuration test runs the same steps in a transaction it rolls
     * back (PostgreSQL's DDL is transactional): the schema is tried, and
     * nothing stays. */
    int rc = conf->check ? exec_command(c, "BEGIN", err, errlen) : PH_OK;
    if (rc == PH_OK)
        rc = ensure_schema(c, conf, err, errlen);
    if (rc == PH_OK && conf->check && PQtransactionStatus(c) != PQTRANS_INTRANS) {
        snprintf(err, errlen, "schema %s ends the transaction itself (COMMIT or ROLLBACK): "
                 "a configuration test cannot keep it from changing the database", conf->schema);
        rc = PH_ERROR;
    }
    for (size_t i = 0; rc == PH_OK && i < conf->ntables; i++)
        rc = read_table(c, conf->tables[i], schema, err, errlen);
    if (rc == PH_OK)
        rc = data_rpc_load_pg(c, conf, schema->rpc, err, errlen);
    if (conf->check)
        PQclear(PQexec(c, "ROLLBACK"));
    /* After a check the connection goes: it never serves. */
    data_pool_give(h->pool, c, rc != PH_OK || conf->check);
    if (rc != PH_OK) {
        pg_close(h);
        return NULL;
    }
    return h;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Maps a failed result to a status; true when the connection is gone. */
static bool map_error(PGconn *c, PGresult *r, data_dberr_t *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (PQstatus(c) != CONNECTION_OK) {
        err->status = 503;
        copy_msg(err->msg, sizeof err->msg, "database unavailable: ", PQerrorMessage(c));
        return true;
    }
    state = state ? state : "";
    snprintf(err->code, sizeof err->code, "%s", state);
    if (starts(state, "23")) {
        /* PostgREST's mapping: a conflict with another row is 409, a row
         * that is wrong by itself (NOT NULL, CHECK) is 400. */
        err->status = strcmp(state, "23502") == 0 || strcmp(state, "23514") == 0 ? 400 : 409;
        copy_msg(err->msg, sizeof err->msg, "constraint violation: ", msg);
    } else if (starts(state, "22") || strcmp(state, "42601") == 0 || strcmp(state, "42704") == 0) {
        /* A value the database cannot use, as PostgREST answers it: also
         * a tsquery's syntax error (fts) and an unknown text search
         * configuration (fts(lang)). */
        err->status = 400;
        copy_msg(err->msg, sizeof err->msg, "", msg);
    } else if (starts(state, "08") || starts(state, "53") || starts(state, "57") ||
               strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
               strcmp(state, "55P03") == 0) {
        /* Connection trouble, resources, shutdown, cancel, lock waits,
         * serialization failures: all pass; try again later. */
        err->status = 503;
        copy_msg(err->msg, sizeof err->msg, "database unavailable: ", msg);
        return starts(state, "08") || starts(state, "57P");
    } else {
        err->status = 500;
        copy_msg(err->msg, sizeof err->msg, "database error: ", msg);
    }
    return false;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* bytea's text output is "\x" and hex (bytea_output = hex, the default
 * since PostgreSQL 9.0). Decodes in place. */
static long unhex(char *s, size_t len)
{
    if (len < 2 || s[0] != '\\' || s[1] != 'x' || len % 2 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 2; i < len; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        s[o++] = (char)(hi * 16 + lo);
    }
    return (long)o;
}

static json_t *cell_json(PGresult *r, int row, int col)
{
    data_value_t v = {.kind = DATA_VALUE_NULL};
    char *s = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);
    data_type_t type = DATA_TYPE_TEXT;

    if (PQgetisnull(r, row, col))
        return json_null();
    switch (PQftype(r, col)) {
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
        v.kind = DATA_VALUE_INT;
        v.i = strtoll(s, NULL, 10);
        break;
    case OID_NUMERIC:
        /* numeric's text is exact: it reaches the answer unchanged
         * (NaN and the infinities, not JSON numbers, as strings). */
        v.kind = data_num_valid(s, len) ? DATA_VALUE_NUM : DATA_VALUE_TEXT;
        v.ptr = s;
        v.len = len;
        break;
    case OID_FLOAT4: case OID_FLOAT8:
        v.kind = DATA_VALUE_REAL;
        v.d = strtod(s, NULL);
        break;
    case OID_BOOL:
        v.kind = DATA_VALUE_BOOL;
        v.i = s[0] == 't';
        break;
    case OID_JSON: case OID_JSONB:
        /* Nested rows of an embedding (and json columns) stay JSON. */
        v.kind = DATA_VALUE_TEXT;
        v.ptr = s;
        v.len = len;
        type = DATA_TYPE_JSON;
        break;
    case OID_BYTEA: {
        long n = unhex(s, len); /* the result buffer is ours to reuse */
        if (n < 0)
            return NULL;
        v.kind = DATA_VALUE_BLOB;
        v.ptr = s;
        v.len = (size_t)n;
        type = DATA_TYPE_BLOB;
        break;
    }
    default:
        v.kind = DATA_VALUE_TEXT;
        v.ptr = s;
        v.len = len;
        break;
    }
    return data_json_from_value(type, &v);
}

/* Hands every row of r to fn; PH_ERROR with *err filled when one could
 * not be built or fn refused it. */
static int rows_each(PGresult *r, data_row_fn fn, void *arg, data_dberr_t *err)
{
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_object();
        for (int j = 0; row && j < PQnfields(r); j++) {
            json_t *v = cell_json(r, i, j);
            if (v == NULL || json_object_set_new(row, PQfname(r, j), v) != 0) {
                json_decref(row);
                row = NULL;
            }
        }
        if (row == NULL) {
            err->status = 500;
            snprintf(err->msg, sizeof err->msg, "a stored value cannot be shown as JSON");
            return PH_ERROR;
        }
        int taken = fn(arg, row, err);
        json_decref(row);
        if (taken != PH_OK)
            return PH_ERROR;
    }
    return PH_OK;
}

/* Parameters as libpq wants them: text, except blobs in binary. */
typedef struct pg_params {
    const char **vals;
    int *lens, *fmts;
    Oid *types;
    char (*num)[32];
} pg_params_t;

static int params_build(pg_params_t *p, const data_stmt_t *s)
{
    size_t n = s->nparams ? s->nparams : 1;
    p->vals = calloc(n, sizeof *p->vals);
    p->lens = calloc(n, sizeof *p->lens);
    p->fmts = calloc(n, sizeof *p->fmts);
    p->types = calloc(n, sizeof *p->types);
    p->num = calloc(n, sizeof *p->num);
    if (!p->vals || !p->lens || !p->fmts || !p->types || !p->num)
        return PH_ERROR;
    for (size_t i = 0; i < s->nparams; i++) {
        const data_value_t *v = &s->params[i];
        switch (v->kind) {
        case DATA_VALUE_NULL: p->vals[i] = NULL; break;
        case DATA_VALUE_INT:
            snprintf(p->num[i], sizeof p->num[i], "%" PRId64, v->i);
            p->vals[i] = p->num[i];
            break;
        case DATA_VALUE_REAL:
            snprintf(p->num[i], sizeof p->num[i], "%.17g", v->d);
            p->vals[i] = p->num[i];
            break;
        case DATA_VALUE_BOOL: p->vals[i] = v->i ? "true" : "false"; break;
        case DATA_VALUE_NUM: /* its exact text, typed by the context */
        case DATA_VALUE_TEXT: p->vals[i] = v->ptr; break;
        case DATA_VALUE_BLOB:
            p->vals[i] = v->ptr;
            p->lens[i] = (int)v->len;
            p->fmts[i] = 1;
            p->types[i] = OID_BYTEA;
            break;
        }
    }
    return PH_OK;
}

static void params_free(pg_params_t *p)
{
    free(p->vals);
    free(p->lens);
    free(p->fmts);
    free(p->types);
    free(p->num);
}

/* Ends a dry run's transaction. Returns whether the connection is
 * unusable; then *rc (when given) becomes PH_ERROR with a 503 in *err. */
static bool rollback(PGconn *c, data_dberr_t *err, int *rc)
{
    PGresult *r = PQexec(c, "ROLLBACK");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok && rc != NULL) {
        *rc = PH_ERROR;
        err->status = 503;
        snprintf(err->msg, sizeof err->msg, "database unavailable: the dry run could not be rolled back");
    }
    return !ok;
}

/* Opens the statement's transaction when it needs one: a dry run, or a
 * request with a role, which becomes the transaction's role with its
 * claims as request.jwt.claims (both local to it, so the next request on
 * this connection starts as the connecting user again). The result of
 * the last command, or NULL when no transaction is needed. */
static PGresult *begin_as(PGconn *c, const data_stmt_t *s, const char *begin_sql);

static PGresult *begin(PGconn *c, const data_stmt_t *s)
{
    if (s->role == NULL && !s->dry_run)
        return NULL;
    return begin_as(c, s, "BEGIN");
}

/* Runs begin_sql (a BEGIN) and, with a role, begin()'s role and claims
 * after it. The result of the last command. */
static PGresult *begin_as(PGconn *c, const data_stmt_t *s, const char *begin_sql)
{
    if (s->role == NULL)
        return PQexec(c, begin_sql);
    char *role = PQescapeIdentifier(c, s->role, strlen(s->role));
    char *claims = PQescapeLiteral(c, s->claims ? s->claims : "{}", strlen(s->claims ? s->claims : "{}"));
    size_t n = (role ? strlen(role) : 0) + (claims ? strlen(claims) : 0) + strlen(begin_sql) + 96;
    char *sql = role && claims ? malloc(n) : NULL;
    PGresult *r = NULL;
    if (sql != NULL) {
        snprintf(sql, n, "%s; SET LOCAL ROLE %s; SELECT set_config('request.jwt.claims', %s, true)", begin_sql,
                 role, claims);
        r = PQexec(c, sql);
    }
    free(sql);
    PQfreemem(role);
    PQfreemem(claims);
    return r ? r : PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
}

/* COMMIT: PH_ERROR with *err filled when it failed; *broken then tells
 * whether the connection is unusable. */
static int commit(PGconn *c, data_dberr_t *err, bool *broken)
{
    PGresult *r = PQexec(c, "COMMIT");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        *broken = map_error(c, r, err);
    PQclear(r);
    return ok ? PH_OK : PH_ERROR;
}

/* Ends the transaction of a statement with a role: COMMIT, or ROLLBACK for
 * a dry run. PH_ERROR with *err filled when the commit failed; *broken
 * then tells whether the connection is unusable. */
static int finish(PGconn *c, const data_stmt_t *s, data_dberr_t *err, bool *broken)
{
    *broken = false;
    if (s->dry_run) {
        int rc = PH_OK;
        *broken = rollback(c, err, &rc);
        return rc;
    }
    if (s->role == NULL)
        return PH_OK;
    return commit(c, err, broken);
}

static int pg_exec(data_db_t *h, const data_stmt_t *s, const data_table_t *shape, data_row_fn fn,
                   void *arg, data_dberr_t *err)
{
    pg_params_t p = {0};
    bool fresh, broken;
    char msg[200];
    /* A read may be retried once on a new connection; a write may not, as
     * it could have been applied before the connection broke. */
    int tries = starts(s->sql, "SELECT") && !s->writes ? 2 : 1;
    int rc = PH_ERROR;

    (void)shape; /* results carry their type OIDs */
    if (params_build(&p, s) != PH_OK) {
        params_free(&p);
        err->status = 500;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    for (int t = 0; t < tries; t++) {
        PGconn *c = take_live(h, &fresh, msg, sizeof msg);
        if (c == NULL) {
            err->status = 503;
            snprintf(err->msg, sizeof err->msg, "database unavailable: %s", msg);
            break;
        }
        PGresult *r = begin(c, s);
        bool in_tx = r != NULL;
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_COMMAND_OK;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            PQclear(r);
            r = PQexecParams(c, s->sql, (int)s->nparams, p.types, p.vals, p.lens, p.fmts, 0);
            st = PQresultStatus(r);
        }
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            /* Committed before the rows are handed on: a commit that fails
             * (a deferred constraint) answers its error, not the rows. */
            broken = false;
            rc = in_tx ? finish(c, s, err, &broken) : PH_OK;
            if (rc == PH_OK)
                rc = rows_each(r, fn, arg, err);
            PQclear(r);
            data_pool_give(h->pool, c, broken);
            break;
        }
        broken = map_error(c, r, err);
        PQclear(r);
        if (in_tx && !broken) /* the failed transaction must end too */
            broken = rollback(c, err, NULL);
        data_pool_give(h->pool, c, broken);
        if (!broken || fresh)
            break;
    }
    params_free(&p);
    return rc;
}

/* Stops the statement running on c: its remaining rows are not sent,
 * and it ends with an error result (query_canceled) that the caller
 * drains. A cancel that arrives once the statement is over is ignored by
 * the server while it waits for the next command, so the connection
 * stays fit for reuse either way. */
static void cancel(PGconn *c)
{
    PGcancel *cn = PQgetCancel(c);
    char msg[128];
    if (cn != NULL)
        (void)PQcancel(cn, msg, sizeof msg);
    PQfreeCancel(cn);
}

/* Runs s on c in single-row mode, each row to fn as it arrives; when fn
 * refuses one, the statement is cancelled and its results drained.
 * PH_OK, or PH_ERROR with *err filled (fn's own error when it refused);
 * *broken: c is unusable; *delivered is set once a row reached fn. */
static int stream_rows(PGconn *c, const data_stmt_t *s, const pg_params_t *p, data_row_fn fn, void *arg,
                       data_dberr_t *err, bool *broken, bool *delivered)
{
    PGresult *r;
    int rc = PH_OK;

    if (!PQsendQueryParams(c, s->sql, (int)s->nparams, p->types, p->vals, p->lens, p->fmts, 0)) {
        *broken = map_error(c, NULL, err);
        return PH_ERROR;
    }
    /* Fails only when not right after the send: the result then comes
     * whole, correct but held at once. */
    (void)PQsetSingleRowMode(c);
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (rc == PH_OK && PQntuples(r) > 0) {
                *delivered = true;
                if (rows_each(r, fn, arg, err) != PH_OK) {
                    rc = PH_ERROR;
                    cancel(c);
                }
            }
        } else if (rc == PH_OK) {
            *broken = map_error(c, r, err);
            rc = PH_ERROR;
        }
        PQclear(r);
    }
    if (PQstatus(c) != CONNECTION_OK)
        *broken = true;
    return rc;
}

/* A read (data_db.h) on c. *broken and *delivered as stream_rows. */
static int read_on(PGconn *c, const data_read_t *rd, const pg_params_t *pc, const pg_params_t *pr,
                   data_dberr_t *err, bool *broken, bool *delivered)
{
    /* The count and the rows see one snapshot; with a role, as begin(). */
    PGresult *r = rd->count ? begin_as(c, rd->st, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                            : begin(c, rd->st);
    bool in_tx = r != NULL;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_COMMAND_OK;
    int rc = PH_OK;

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        *broken = map_error(c, r, err);
        rc = PH_ERROR;
    }
    PQclear(r);
    if (rc == PH_OK && rd->count != NULL) {
        const data_stmt_t *cs = rd->count;
        r = PQexecParams(c, cs->sql, (int)cs->nparams, pc->types, pc->vals, pc->lens, pc->fmts, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            rc = rows_each(r, rd->count_fn, rd->count_arg, err);
        } else {
            *broken = map_error(c, r, err);
            rc = PH_ERROR;
        }
        PQclear(r);
    }
    if (rc == PH_OK)
        rc = stream_rows(c, rd->st, pr, rd->fn, rd->arg, err, broken, delivered);
    if (in_tx && !*broken) {
        if (rc == PH_OK)
            rc = commit(c, err, broken);
        else
            *broken = rollback(c, err, NULL);
    }
    return rc;
}

static int pg_read(data_db_t *h, const data_read_t *rd, data_dberr_t *err)
{
    pg_params_t pc = {0}, pr = {0};
    bool fresh, broken;
    char msg[200];
    int rc = PH_ERROR;

    if ((rd->count != NULL && params_build(&pc, rd->count) != PH_OK) || params_build(&pr, rd->st) != PH_OK) {
        params_free(&pc);
        params_free(&pr);
        err->status = 500;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    for (int t = 0; t < 2; t++) {
        bool delivered = false;
        PGconn *c = take_live(h, &fresh, msg, sizeof msg);
        if (c == NULL) {
            err->status = 503;
            snprintf(err->msg, sizeof err->msg, "database unavailable: %s", msg);
            break;
        }
        broken = false;
        rc = read_on(c, rd, &pc, &pr, err, &broken, &delivered);
        data_pool_give(h->pool, c, broken);
        /* Only a read whose rows have not started may run again; and only
         * when its connection broke (a stale one), a fresh one having no
         * such excuse. A function with side effects never repeats. */
        if (rc == PH_OK || !broken || fresh || delivered || rd->st->writes)
            break;
    }
    params_free(&pc);
    params_free(&pr);
    return rc;
}

static void pg_close(data_db_t *h)
{
    if (h == NULL)
        return;
    data_pool_free(h->pool);
    free(h);
}

const data_db_ops_t data_pg_ops = {
    .name = "postgresql",
    .dialect = DATA_DIALECT_PG,
    .open = pg_open,
    .exec = pg_exec,
    .read = pg_read,
    .close = pg_close,
};
