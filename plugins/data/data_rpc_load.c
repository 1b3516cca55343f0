/* Start-up reading of the callable functions: see data_rpc_load.h. */
#include "data_rpc_load.h"
#include "data_mystmt.h"

#include <libpq-fe.h>
#include <mysql.h>
#include <plughttpd/plugin.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- SQLite -------------------------------------------------------------- */

/* Whether only spaces and semicolons follow a statement. */
static bool only_blanks(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
            return false;
    return true;
}

static int sqlite_one(sqlite3 *db, const char *name, const char *sql, data_rpc_t *rpc, char *err, size_t errlen)
{
    data_rpc_fn_t *fn = data_rpc_add(rpc, name, "", DATA_RPC_SET, false);
    char *text = NULL;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;

    if (fn == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    if (data_rpc_sqlite_params(fn, sql, &text, err, errlen) != PH_OK)
        return PH_ERROR;
    free(fn->call);
    fn->call = text;
    /* Trailing semicolons would end the derived table the query becomes. */
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ';' || text[n - 1] == ' ' || text[n - 1] == '\t'))
        text[--n] = '\0';
    if (sqlite3_prepare_v2(db, text, -1, &st, &tail) != SQLITE_OK || st == NULL) {
        snprintf(err, errlen, "rpc.%s: %s", name, st == NULL && sqlite3_errcode(db) == SQLITE_OK
                 ? "no statement" : sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return PH_ERROR;
    }
    if (!only_blanks(tail)) {
        sqlite3_finalize(st);
        snprintf(err, errlen, "rpc.%s: one statement only", name);
        return PH_ERROR;
    }
    fn->writes = !sqlite3_stmt_readonly(st);
    fn->plain = fn->writes;
    data_table_t *shape = data_rpc_shape(rpc, rpc->n - 1);
    int rc = PH_OK;
    for (int i = 0; rc == PH_OK && i < sqlite3_column_count(st); i++) {
        const char *decl = sqlite3_column_decltype(st, i);
        rc = data_table_add_column(shape, sqlite3_column_name(st, i), decl ? decl : "",
                                   data_type_from_sqlite(decl), false, false, false);
    }
    sqlite3_finalize(st);
    if (rc != PH_OK)
        snprintf(err, errlen, "out of memory");
    return rc;
}

int data_rpc_load_sqlite(void *db, const data_conf_t *conf, data_rpc_t *rpc, char *err, size_t errlen)
{
    for (size_t i = 0; rpc && i < conf->nrpc; i++)
        if (sqlite_one(db, conf->rpc_names[i], conf->rpc_sql[i], rpc, err, errlen) != PH_OK)
            return PH_ERROR;
    return PH_OK;
}

/* --- PostgreSQL ------------------------------------------------------------ */

/* The function: how to call it, whether it returns a set, its volatility
 * and kind, whether it returns a composite row (and that type's relation),
 * its return type's name, and how many of its inputs have defaults. */
static const char fn_sql[] =
    "SELECT p.oid::regproc::text, p.proretset, p.provolatile, p.prokind,"
    "       t.typtype = 'c' OR p.prorettype = 'record'::regtype, t.typrelid, t.typname,"
    "       p.pronargs - p.pronargdefaults, (SELECT c.relname FROM pg_class c WHERE c.oid = t.typrelid)"
    " FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype WHERE p.oid = to_regproc($1)";

/* Every argument in order: name, mode (i o b v t), type as a cast, type
 * name. Without proargmodes every argument is an input. */
static const char args_sql[] =
    "SELECT a.name, a.mode, format_type(a.type, NULL), (SELECT typname FROM pg_type WHERE oid = a.type)"
    " FROM pg_proc p, unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),"
    "                        coalesce(p.proargmodes, array_fill('i'::\"char\", ARRAY[p.pronargs::int])),"
    "                        p.proargnames) WITH ORDINALITY AS a(type, mode, name, ord)"
    " WHERE p.oid = to_regproc($1) ORDER BY a.ord";

/* The columns of a composite return type. */
static const char cols_sql[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname"
    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

static PGresult *pg_query(PGconn *c, const char *sql, const char *param, const char *name, char *err, size_t errlen)
{
    const char *vals[1] = {param};
    PGresult *r = PQexecParams(c, sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        snprintf(err, errlen, "function %s: %.*s", name, (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int pg_args(PGconn *c, const char *cname, data_rpc_fn_t *fn, data_table_t *shape, bool out_cols,
                   int required, char *err, size_t errlen)
{
    PGresult *r = pg_query(c, args_sql, cname, cname, err, errlen);
    int rc = PH_OK, in = 0;
    if (r == NULL)
        return PH_ERROR;
    for (int i = 0; rc == PH_OK && i < PQntuples(r); i++) {
        char mode = PQgetvalue(r, i, 1)[0];
        const char *name = PQgetvalue(r, i, 0);
        bool input = mode == 'i' || mode == 'b' || mode == 'v';
        if ((input || out_cols) && (PQgetisnull(r, i, 0) || name[0] == '\0')) {
            snprintf(err, errlen, "function %s: every argument needs a name to be called with named arguments",
                     cname);
            rc = PH_ERROR;
            break;
        }
        if (input) {
            rc = data_rpc_add_arg(fn, name, PQgetvalue(r, i, 2), in >= required);
            in++;
        }
        if (rc == PH_OK && out_cols && (mode == 'o' || mode == 'b' || mode == 't'))
            rc = data_table_add_column(shape, name, PQgetvalue(r, i, 2), data_type_from_pg(PQgetvalue(r, i, 3)),
                                       false, false, false);
        if (rc != PH_OK && err[0] == '\0')
            snprintf(err, errlen, "out of memory");
    }
    PQclear(r);
    return rc;
}

static int pg_composite(PGconn *c, const char *cname, const char *relid, data_table_t *shape, char *err,
                        size_t errlen)
{
    PGresult *r = pg_query(c, cols_sql, relid, cname, err, errlen);
    int rc = PH_OK;
    if (r == NULL)
        return PH_ERROR;
    for (int i = 0; rc == PH_OK && i < PQntuples(r); i++)
        rc = data_table_add_column(shape, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                                   data_type_from_pg(PQgetvalue(r, i, 2)), false, false, false);
    PQclear(r);
    if (rc != PH_OK)
        snprintf(err, errlen, "out of memory");
    return rc;
}

static int pg_one(PGconn *c, const char *cname, data_rpc_t *rpc, char *err, size_t errlen)
{
    PGresult *r = pg_query(c, fn_sql, cname, cname, err, errlen);
    if (r == NULL)
        return PH_ERROR;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r);
        snprintf(err, errlen, "function %s does not exist, or has several overloads (one is needed)", cname);
        return PH_ERROR;
    }
    if (PQgetvalue(r, 0, 3)[0] != 'f') {
        PQclear(r);
        snprintf(err, errlen, "%s is not a plain function (a procedure, aggregate or window function)", cname);
        return PH_ERROR;
    }
    bool set = PQgetvalue(r, 0, 1)[0] == 't', composite = PQgetvalue(r, 0, 4)[0] == 't';
    bool has_rel = strcmp(PQgetvalue(r, 0, 5), "0") != 0;
    const char *dot = strrchr(cname, '.');
    const char *name = dot ? dot + 1 : cname;
    data_rpc_fn_t *fn = data_rpc_add(rpc, name, PQgetvalue(r, 0, 0),
                                     set ? DATA_RPC_SET : composite ? DATA_RPC_ROW : DATA_RPC_SCALAR,
                                     PQgetvalue(r, 0, 2)[0] == 'v');
    data_table_t *shape = fn ? data_rpc_shape(rpc, rpc->n - 1) : NULL;
    int rc = fn ? PH_OK : PH_ERROR;
    err[0] = '\0';
    if (fn != NULL) {
        fn->none = !set && strcmp(PQgetvalue(r, 0, 6), "void") == 0;
        if (!PQgetisnull(r, 0, 8) && (fn->row_table = strdup(PQgetvalue(r, 0, 8))) == NULL)
            rc = PH_ERROR;
    }
    if (rc == PH_OK)
        rc = pg_args(c, cname, fn, shape, composite && !has_rel, atoi(PQgetvalue(r, 0, 7)), err, errlen);
    if (rc == PH_OK && composite && has_rel)
        rc = pg_composite(c, cname, PQgetvalue(r, 0, 5), shape, err, errlen);
    /* A scalar (or a set of scalars) is one column named like the function,
     * as a function in FROM is under its alias. */
    if (rc == PH_OK && !composite)
        rc = data_table_add_column(shape, name, PQgetvalue(r, 0, 6), data_type_from_pg(PQgetvalue(r, 0, 6)),
                                   false, false, false);
    if (rc == PH_OK && shape->ncols == 0) {
        snprintf(err, errlen, "function %s: its result has no columns the API can read", cname);
        rc = PH_ERROR;
    }
    PQclear(r);
    if (rc != PH_OK && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    return rc;
}

int data_rpc_load_pg(void *conn, const data_conf_t *conf, data_rpc_t *rpc, char *err, size_t errlen)
{
    for (size_t i = 0; rpc && i < conf->nfunctions; i++)
        if (pg_one(conn, conf->functions[i], rpc, err, errlen) != PH_OK)
            return PH_ERROR;
    return PH_OK;
}

/* --- MySQL/MariaDB ----------------------------------------------------------- */

/* One row of information_schema, as text (NULL for SQL NULL). */
static const char *cell_text(const data_value_t *v)
{
    return v->kind == DATA_VALUE_TEXT || v->kind == DATA_VALUE_BLOB ? v->ptr : NULL;
}

typedef struct my_routine {
    bool found, function, writes;
    char type[64];
} my_routine_t;

static const char routine_sql[] =
    "SELECT ROUTINE_TYPE, SQL_DATA_ACCESS, DATA_TYPE FROM information_schema.ROUTINES"
    " WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = ?";

static int routine_row(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n, data_dberr_t *err)
{
    my_routine_t *r = arg;
    (void)fields;
    (void)err;
    if (n != 3)
        return PH_OK;
    const char *kind = cell_text(&cells[0]), *access = cell_text(&cells[1]), *type = cell_text(&cells[2]);
    r->found = true;
    r->function = kind && strcmp(kind, "FUNCTION") == 0;
    r->writes = !(access && (strcmp(access, "NO SQL") == 0 || strcmp(access, "READS SQL DATA") == 0));
    snprintf(r->type, sizeof r->type, "%s", type ? type : "");
    return PH_OK;
}

typedef struct my_params {
    data_rpc_fn_t *fn;
    bool unnamed, not_in;
} my_params_t;

static const char params_sql[] =
    "SELECT PARAMETER_NAME, PARAMETER_MODE FROM information_schema.PARAMETERS"
    " WHERE SPECIFIC_SCHEMA = DATABASE() AND SPECIFIC_NAME = ? AND ORDINAL_POSITION > 0"
    " ORDER BY ORDINAL_POSITION";

static int param_row(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n, data_dberr_t *err)
{
    my_params_t *p = arg;
    (void)fields;
    if (n != 2)
        return PH_OK;
    const char *name = cell_text(&cells[0]), *mode = cell_text(&cells[1]);
    if (name == NULL || name[0] == '\0') {
        p->unnamed = true;
        return PH_OK;
    }
    if (mode != NULL && strcmp(mode, "IN") != 0)
        p->not_in = true;
    if (data_rpc_add_arg(p->fn, name, NULL, false) != PH_OK) {
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    return PH_OK;
}

static int my_run(MYSQL *c, const char *sql, const char *name, data_mystmt_cells_fn fn, void *arg, char *err,
                  size_t errlen)
{
    data_value_t v = {.kind = DATA_VALUE_TEXT, .ptr = (char *)name, .len = strlen(name)};
    const data_value_t *p = &v;
    data_mystmt_call_t q = {.sql = sql, .len = strlen(sql), .params = &p, .nparams = 1};
    data_dberr_t e = {0};
    bool broken;
    if (data_mystmt_run(c, &q, fn, arg, &e, &broken) != PH_OK) {
        snprintf(err, errlen, "function %s: %s", name, e.msg);
        return PH_ERROR;
    }
    return PH_OK;
}

/* The type class of a function's DATA_TYPE, for filters on its value. */
static data_type_t my_type(const char *t)
{
    if (strstr(t, "int") != NULL)
        return DATA_TYPE_INTEGER;
    if (strcmp(t, "decimal") == 0 || strcmp(t, "float") == 0 || strcmp(t, "double") == 0)
        return DATA_TYPE_REAL;
    return DATA_TYPE_TEXT;
}

static int my_one(MYSQL *c, const char *name, data_rpc_t *rpc, char *err, size_t errlen)
{
    my_routine_t r = {0};
    if (my_run(c, routine_sql, name, routine_row, &r, err, errlen) != PH_OK)
        return PH_ERROR;
    if (!r.found) {
        snprintf(err, errlen, "function %s does not exist in this database", name);
        return PH_ERROR;
    }
    data_rpc_fn_t *fn = data_rpc_add(rpc, name, name, r.function ? DATA_RPC_SCALAR : DATA_RPC_SET, r.writes);
    if (fn == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    fn->plain = !r.function;
    my_params_t p = {.fn = fn};
    if (my_run(c, params_sql, name, param_row, &p, err, errlen) != PH_OK)
        return PH_ERROR;
    if (p.unnamed || p.not_in) {
        snprintf(err, errlen, "procedure %s: only IN parameters can be passed", name);
        return PH_ERROR;
    }
    if (r.function && data_table_add_column(data_rpc_shape(rpc, rpc->n - 1), name, r.type, my_type(r.type), false,
                                            false, false) != PH_OK) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    return PH_OK;
}

int data_rpc_load_mysql(void *conn, const data_conf_t *conf, data_rpc_t *rpc, char *err, size_t errlen)
{
    for (size_t i = 0; rpc && i < conf->nfunctions; i++)
        if (my_one(conn, conf->functions[i], rpc, err, errlen) != PH_OK)
            return PH_ERROR;
    return PH_OK;
}
