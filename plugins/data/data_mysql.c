/*
 * MySQL/MariaDB backend of the data API (see data_db.h), through MariaDB
 * Connector/C (libmariadb).
 *
 * Every statement is a server-side prepared statement with its values
 * bound as typed parameters. Connections come from a pool (data_pool.h);
 * an idle connection is checked before use, so one the server closed while
 * idle is replaced, and a read that still hits a dead connection is
 * retried once on a new one. Each session runs in strict SQL mode (a bad
 * value is an error, never silently truncated) with UTC as time zone and
 * lock waits bounded by busy_timeout.
 *
 * MariaDB has INSERT ... RETURNING and DELETE ... RETURNING (10.5+) but no
 * UPDATE ... RETURNING: an update comes as a plan (data_stmt_t's `then`)
 * run in one transaction: lock the matching rows and list their keys,
 * update those keys, read those rows back.
 *
 * An embed's JSON_ARRAYAGG (data_sql.c) is cut at group_concat_max_len,
 * which each session sets to max_response_bytes: a longer array could
 * not be answered anyway.
 *
 * Results are typed by the column metadata: integers as JSON integers,
 * tinyint(1) (BOOLEAN) as true/false, DECIMAL, FLOAT and DOUBLE as JSON
 * numbers, binary strings as base64, everything else as text.
 */
#include "data_db.h"
#include "data_rpc_load.h"
#include "data_json.h"
#include "data_myuri.h"
#include "data_mystmt.h"
#include "data_pool.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <plughttpd/plugin.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct data_db {
    const data_conf_t *conf;
    data_myuri_t uri;
    data_pool_t *pool;
    char init[320]; /* the session setup every connection runs */
};

static void *conn_open(void *ctx, char *err, size_t errlen)
{
    data_db_t *h = ctx;
    unsigned timeout = (unsigned)(h->conf->busy_timeout_ms + 999) / 1000;
    MYSQL *c = mysql_init(NULL);

    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(c, MYSQL_INIT_COMMAND, h->init);
    mysql_options(c, MYSQL_READ_DEFAULT_GROUP, NULL); /* no option files: the URI says it all */
    if (mysql_real_connect(c, h->uri.host, h->uri.user, h->uri.password, h->uri.database, h->uri.port,
                           h->uri.socket, 0) == NULL) {
        snprintf(err, errlen, "%s", mysql_error(c));
        mysql_close(c);
        return NULL;
    }
    return c;
}

static void conn_close(void *conn)
{
    mysql_close(conn);
}

/* A connection inherited across fork(): its socket carries the parent's
 * session, so mysql_close() runs only once data_pool_mute_fd() has put /dev/null in
 * its place. */
static void conn_forget(void *conn)
{
    if (data_pool_mute_fd((int)mysql_get_socket(conn)) == 0)
        mysql_close(conn);
}

/* False when the server has closed an idle connection: an idle session
 * has nothing to read unless it was ended. */
static bool conn_alive(MYSQL *c)
{
    struct pollfd p = {.fd = (int)mysql_get_socket(c), .events = POLLIN};
    return p.fd >= 0 && poll(&p, 1, 0) == 0;
}

static MYSQL *take_live(data_db_t *h, bool *fresh, char *err, size_t errlen)
{
    for (unsigned i = 0; i <= h->conf->pool_size; i++) {
        MYSQL *c = data_pool_take(h->pool, fresh, err, errlen);
        if (c == NULL || *fresh || conn_alive(c))
            return c;
        data_pool_give(h->pool, c, true);
    }
    return data_pool_take(h->pool, fresh, err, errlen);
}


/* A call for st's own text and parameters, plus keys appended as
 * "(?, ...)" when keys is not NULL. Free sql (when *owned) and params. */
static int call_make(data_mystmt_call_t *q, const data_stmt_t *st, const data_value_t *keys, size_t nkeys,
                     char **owned)
{
    *owned = NULL;
    q->unbuffered = false;
    q->params = calloc(st->nparams + nkeys + 1, sizeof *q->params);
    if (q->params == NULL)
        return PH_ERROR;
    for (size_t i = 0; i < st->nparams; i++)
        q->params[i] = &st->params[i];
    for (size_t i = 0; i < nkeys; i++)
        q->params[st->nparams + i] = &keys[i];
    q->nparams = st->nparams + nkeys;
    q->sql = st->sql;
    q->len = st->len;
    if (keys == NULL)
        return PH_OK;
    char *sql = malloc(st->len + 3 * nkeys + 3), *p = sql;
    if (sql == NULL) {
        free(q->params);
        return PH_ERROR;
    }
    memcpy(p, st->sql, st->len);
    p += st->len;
    *p++ = '(';
    for (size_t i = 0; i < nkeys; i++) {
        if (i > 0)
            *p++ = ',';
        *p++ = '?';
    }
    *p++ = ')';
    *p = '\0';
    q->sql = *owned = sql;
    q->len = (size_t)(p - sql);
    return PH_OK;
}

/* Rows as JSON to the plugin's row function. */
typedef struct to_json {
    const data_table_t *shape;
    data_row_fn fn;
    void *arg;
    bool called; /* a row went to fn */
} to_json_t;

static int cells_to_json(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n,
                         data_dberr_t *err)
{
    to_json_t *t = arg;
    json_t *row = json_object();

    for (unsigned i = 0; row && i < n; i++) {
        data_type_t type = cells[i].kind == DATA_VALUE_BLOB ? DATA_TYPE_BLOB : DATA_TYPE_ANY;
        data_value_t cell = cells[i];
        /* A whole-table row: its columns say which tinyints are booleans
         * and which text is JSON to nest. */
        if (t->shape != NULL && n == t->shape->ncols && t->shape->cols[i].type == DATA_TYPE_BOOL)
            type = DATA_TYPE_BOOL;
        /* An embed's JSON_OBJECT/JSON_ARRAYAGG (data_sql.c) or a JSON
         * path's "->" (JSON_EXTRACT): the JSON text nests. */
        if (t->shape != NULL && n == t->shape->ncols && t->shape->cols[i].type == DATA_TYPE_JSON &&
            (cell.kind == DATA_VALUE_TEXT || cell.kind == DATA_VALUE_BLOB)) {
            type = DATA_TYPE_JSON;
            cell.kind = DATA_VALUE_TEXT;
        }
        json_t *v = data_json_from_value(type, &cell);
        if (v == NULL || json_object_set_new(row, fields[i].name, v) != 0) {
            json_decref(row);
            row = NULL;
        }
    }
    if (row == NULL) {
        data_mystmt_err(err, 500, "", "", "a stored value cannot be shown as JSON");
        return PH_ERROR;
    }
    t->called = true;
    int rc = t->fn(t->arg, row, err);
    json_decref(row);
    return rc;
}

static int run_stmt(MYSQL *c, const data_stmt_t *st, const data_value_t *keys, size_t nkeys,
                    data_mystmt_cells_fn fn, void *arg, data_dberr_t *err, bool *broken)
{
    data_mystmt_call_t q;
    char *owned;

    *broken = false;
    if (call_make(&q, st, keys, nkeys, &owned) != PH_OK) {
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    int rc = data_mystmt_run(c, &q, fn, arg, err, broken);
    free(owned);
    free(q.params);
    return rc;
}

static int simple(MYSQL *c, const char *sql, data_dberr_t *err, bool *broken)
{
    if (mysql_real_query(c, sql, strlen(sql)) == 0)
        return PH_OK;
    *broken = data_mystmt_conn_error(c, err);
    return PH_ERROR;
}

/* Counts rows. */
static int count_row(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n,
                     data_dberr_t *err)
{
    (void)fields;
    (void)cells;
    (void)n;
    (void)err;
    ++*(size_t *)arg;
    return PH_OK;
}

/* Keys collected from the first column of a result. */
typedef struct keys {
    data_value_t *v;
    size_t n;
} keys_t;

static void keys_free(keys_t *k)
{
    for (size_t i = 0; i < k->n; i++)
        data_value_clear(&k->v[i]);
    free(k->v);
}

static int collect_key(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n,
                       data_dberr_t *err)
{
    keys_t *k = arg;
    data_value_t *v = realloc(k->v, (k->n + 1) * sizeof *v);

    (void)fields;
    if (n < 1 || v == NULL) {
        if (v != NULL)
            k->v = v;
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    k->v = v;
    data_value_t key = cells[0];
    if (key.kind == DATA_VALUE_BOOL)
        key.kind = DATA_VALUE_INT;
    if (data_value_copy(&k->v[k->n], &key) != PH_OK) {
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    k->n++;
    return PH_OK;
}

/* The update plan of data_stmt_t's `then`, inside a transaction the
 * caller opened. */
static int run_plan(MYSQL *c, const data_stmt_t *st, to_json_t *out, data_dberr_t *err, bool *broken)
{
    keys_t keys = {0};
    size_t none = 0;
    int rc = run_stmt(c, st, NULL, 0, collect_key, &keys, err, broken);

    if (rc == PH_OK && keys.n > 0)
        rc = run_stmt(c, st->then, keys.v, keys.n, count_row, &none, err, broken);
    if (rc == PH_OK && keys.n > 0) {
        /* The rows now carry the key the update gave them, if it did. */
        if (st->key_param >= 0) {
            keys_free(&keys);
            keys = (keys_t){0};
            keys.v = calloc(1, sizeof *keys.v);
            if (keys.v == NULL || data_value_copy(keys.v, &st->then->params[st->key_param]) != PH_OK) {
                data_mystmt_oom(err);
                rc = PH_ERROR;
            } else {
                keys.n = 1;
            }
        }
        if (rc == PH_OK)
            rc = run_stmt(c, st->then->then, keys.v, keys.n, cells_to_json, out, err, broken);
    }
    keys_free(&keys);
    return rc;
}

/* INSERT IGNORE also turns errors other than duplicates into warnings
 * (NULL into NOT NULL, bad values, CHECK): any such warning undoes the
 * statement and answers as the error would. */
static int ignored_only_duplicates(MYSQL *c, data_dberr_t *err, bool *broken)
{
    if (mysql_warning_count(c) == 0)
        return PH_OK;
    if (simple(c, "SHOW WARNINGS", err, broken) != PH_OK)
        return PH_ERROR;
    MYSQL_RES *r = mysql_store_result(c);
    MYSQL_ROW row;
    int rc = PH_OK;
    if (r == NULL) {
        *broken = data_mystmt_conn_error(c, err);
        return PH_ERROR;
    }
    while (rc == PH_OK && (row = mysql_fetch_row(r)) != NULL) {
        unsigned no = row[1] ? (unsigned)strtoul(row[1], NULL, 10) : 0;
        if (no != ER_DUP_ENTRY && row[0] && strcmp(row[0], "Note") != 0) {
            data_mystmt_map(no, no == ER_WARN_DATA_OUT_OF_RANGE || no == WARN_DATA_TRUNCATED ? "22003" : NULL,
                      row[2] ? row[2] : "", err);
            if (err->status == 500)
                err->status = 400;
            rc = PH_ERROR;
        }
    }
    mysql_free_result(r);
    return rc;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Runs st on c: a plan, an INSERT IGNORE or a dry run (rolled back) in a
 * transaction of its own, anything else as one statement (atomic by
 * itself). */
static int run_any(MYSQL *c, const data_stmt_t *st, to_json_t *out, data_dberr_t *err, bool *broken)
{
    bool tx = st->dry_run || st->then != NULL || starts(st->sql, "INSERT IGNORE");
    int rc;

    *broken = false;
    if (!tx)
        return run_stmt(c, st, NULL, 0, cells_to_json, out, err, broken);
    if (simple(c, "START TRANSACTION", err, broken) != PH_OK)
        return PH_ERROR;
    if (st->then != NULL) {
        rc = run_plan(c, st, out, err, broken);
    } else {
        rc = run_stmt(c, st, NULL, 0, cells_to_json, out, err, broken);
        if (rc == PH_OK && !*broken)
            rc = ignored_only_duplicates(c, err, broken);
    }
    if (*broken)
        return PH_ERROR;
    bool b2 = false;
    data_dberr_t e2 = {0};
    /* Prefer: tx=rollback: the rows went to the client, nothing stays */
    bool commit = rc == PH_OK && !st->dry_run;
    if (simple(c, commit ? "COMMIT" : "ROLLBACK", rc == PH_OK ? err : &e2, &b2) != PH_OK) {
        *broken = b2 || rc != PH_OK; /* a session whose transaction is in doubt goes */
        return PH_ERROR;
    }
    return rc;
}

static int my_exec(data_db_t *h, const data_stmt_t *st, const data_table_t *shape, data_row_fn fn,
                   void *arg, data_dberr_t *err)
{
    to_json_t out = {.shape = shape, .fn = fn, .arg = arg};
    char msg[200];
    bool fresh, broken;
    /* A read may be retried once on a new connection; a write may not, as
     * it could have been applied before the connection broke. */
    int tries = starts(st->sql, "SELECT") && st->then == NULL && !st->writes ? 2 : 1;
    int rc = PH_ERROR;

    for (int t = 0; t < tries; t++) {
        MYSQL *c = take_live(h, &fresh, msg, sizeof msg);
        if (c == NULL) {
            data_mystmt_err(err, 503, "", "database unavailable: ", msg);
            break;
        }
        rc = run_any(c, st, &out, err, &broken);
        data_pool_give(h->pool, c, broken);
        if (rc == PH_OK || !broken || fresh)
            break;
    }
    return rc;
}

/* A read (data_db.h) on c: the rows fetched unbuffered, after the count
 * in one consistent snapshot when there is one. */
static int read_on(MYSQL *c, const data_read_t *rd, to_json_t *out, data_dberr_t *err, bool *broken)
{
    to_json_t counted = {.fn = rd->count_fn, .arg = rd->count_arg};
    data_mystmt_call_t q;
    char *owned;
    int rc = PH_OK;

    *broken = false;
    if (rd->count != NULL) {
        if (simple(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err, broken) != PH_OK)
            return PH_ERROR;
        rc = run_stmt(c, rd->count, NULL, 0, cells_to_json, &counted, err, broken);
    }
    if (rc == PH_OK && call_make(&q, rd->st, NULL, 0, &owned) != PH_OK) {
        data_mystmt_oom(err);
        rc = PH_ERROR;
    } else if (rc == PH_OK) {
        q.unbuffered = true;
        rc = data_mystmt_run(c, &q, cells_to_json, out, err, broken);
        free(q.params);
    }
    if (rd->count != NULL && !*broken) {
        data_dberr_t e2 = {0};
        bool b2 = false;
        if (simple(c, rc == PH_OK ? "COMMIT" : "ROLLBACK", rc == PH_OK ? err : &e2, &b2) != PH_OK) {
            *broken = true; /* a session whose transaction is in doubt goes */
            rc = PH_ERROR;
        }
    }
    return rc;
}

static int my_read(data_db_t *h, const data_read_t *rd, data_dberr_t *err)
{
    to_json_t out = {.shape = rd->shape, .fn = rd->fn, .arg = rd->arg};
    char msg[200];
    bool fresh, broken;
    int rc = PH_ERROR;

    for (int t = 0; t < 2; t++) {
        MYSQL *c = take_live(h, &fresh, msg, sizeof msg);
        if (c == NULL) {
            data_mystmt_err(err, 503, "", "database unavailable: ", msg);
            break;
        }
        rc = read_on(c, rd, &out, err, &broken);
        data_pool_give(h->pool, c, broken);
        /* Again only when a stale connection broke before any row. */
        if (rc == PH_OK || !broken || fresh || out.called || rd->st->writes)
            break;
    }
    return rc;
}

/* Type class of a column from information_schema (DATA_TYPE, COLUMN_TYPE):
 * BOOLEAN is tinyint(1). */
static data_type_t type_from_mysql(const char *type, const char *column_type)
{
    static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint", "year"};
    static const char *const reals[] = {"float", "double", "decimal"};
    static const char *const blobs[] = {"binary", "varbinary", "tinyblob", "blob", "mediumblob",
                                        "longblob", "bit"};

    if (strcmp(type, "tinyint") == 0 && starts(column_type, "tinyint(1)"))
        return DATA_TYPE_BOOL;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(type, ints[i]) == 0)
            return DATA_TYPE_INTEGER;
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        if (strcmp(type, reals[i]) == 0)
            return DATA_TYPE_REAL;
    for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++)
        if (strcmp(type, blobs[i]) == 0)
            return DATA_TYPE_BLOB;
    return DATA_TYPE_TEXT;
}

static const char column_sql[] =
    "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE = 'NO',"
    "       (COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL') OR EXTRA LIKE '%auto_increment%'"
    "       OR EXTRA LIKE '%GENERATED%' OR EXTRA LIKE '%VIRTUAL%' OR EXTRA LIKE '%STORED%',"
    "       COLUMN_KEY = 'PRI'"
    " FROM information_schema.COLUMNS"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
    " ORDER BY ORDINAL_POSITION";

/* One information_schema row, as text cells. */
static int add_column(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n,
                      data_dberr_t *err)
{
    data_table_t *t = arg;
    const char *s[6];

    (void)fields;
    if (n != 6) {
        data_mystmt_err(err, 500, "", "", "unexpected information_schema shape");
        return PH_ERROR;
    }
    for (unsigned i = 0; i < 6; i++)
        s[i] = cells[i].kind == DATA_VALUE_TEXT || cells[i].kind == DATA_VALUE_BLOB ? cells[i].ptr : "";
    if (data_table_add_column(t, s[0], s[1], type_from_mysql(s[2], s[1]), cells[3].i != 0,
                              cells[4].i != 0, cells[5].i != 0) != PH_OK) {
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    return PH_OK;
}

/* The one-column foreign keys of a table (constraint, column, referenced
 * table and column) within this database. Keys over several columns
 * cannot embed here. */
static const char fk_sql[] =
    "SELECT CONSTRAINT_NAME, MIN(COLUMN_NAME), MIN(REFERENCED_TABLE_NAME), MIN(REFERENCED_COLUMN_NAME)"
    " FROM information_schema.KEY_COLUMN_USAGE"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND REFERENCED_TABLE_SCHEMA = DATABASE()"
    " GROUP BY CONSTRAINT_NAME HAVING COUNT(*) = 1"
    " ORDER BY CONSTRAINT_NAME";

/* One foreign key row, as text cells. */
static int add_fk(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n, data_dberr_t *err)
{
    data_table_t *t = arg;
    const char *s[4];

    (void)fields;
    if (n != 4) {
        data_mystmt_err(err, 500, "", "", "unexpected information_schema shape");
        return PH_ERROR;
    }
    for (unsigned i = 0; i < 4; i++) {
        if (cells[i].kind != DATA_VALUE_TEXT && cells[i].kind != DATA_VALUE_BLOB)
            return PH_OK; /* not a key this database describes fully */
        s[i] = cells[i].ptr;
    }
    if (data_table_add_fk(t, s[0], s[1], s[2], s[3]) != PH_OK) {
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    return PH_OK;
}

/* The FULLTEXT indexes of a table over one column each: those MATCH
 * (col) can use (data_fts.h). */
static const char fulltext_sql[] =
    "SELECT MIN(COLUMN_NAME), INDEX_NAME FROM information_schema.STATISTICS"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_TYPE = 'FULLTEXT'"
    " GROUP BY INDEX_NAME HAVING COUNT(*) = 1 ORDER BY INDEX_NAME";

/* One FULLTEXT index row, as text cells. */
static int add_fulltext(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n,
                        data_dberr_t *err)
{
    (void)fields;
    if (n != 2 || cells[0].kind != DATA_VALUE_TEXT || cells[1].kind != DATA_VALUE_TEXT)
        return PH_OK;
    if (data_table_set_fts(arg, cells[0].ptr, cells[1].ptr) != PH_OK) {
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    return PH_OK;
}

/* Runs sql (one parameter: the table's name), fn for each row. */
static int run_on_table(MYSQL *c, const char *sql, const char *name, data_mystmt_cells_fn fn, void *arg,
                        char *err, size_t errlen)
{
    data_value_t v = {.kind = DATA_VALUE_TEXT, .ptr = (char *)name, .len = strlen(name)};
    const data_value_t *p = &v;
    data_mystmt_call_t q = {.sql = sql, .len = strlen(sql), .params = &p, .nparams = 1};
    data_dberr_t e = {0};
    bool broken;

    if (data_mystmt_run(c, &q, fn, arg, &e, &broken) != PH_OK) {
        snprintf(err, errlen, "reading the schema: %s", e.msg);
        return PH_ERROR;
    }
    return PH_OK;
}

static int query_table(MYSQL *c, const char *name, data_mystmt_cells_fn fn, void *arg, char *err, size_t errlen)
{
    return run_on_table(c, column_sql, name, fn, arg, err, errlen);
}

/* mark_view's answer for a view that takes no writes: a bit apart from
 * the DATA_M_* ones, as 0 means "not a view". */
#define VIEW_READ_ONLY (1u << 30)

/* A row of view_sql: the table is a view; arg (unsigned) gets the
 * DATA_M_* writes it takes, or VIEW_READ_ONLY. */
static int mark_view(void *arg, MYSQL_FIELD *fields, const data_value_t *cells, unsigned n,
                     data_dberr_t *err)
{
    (void)fields;
    (void)err;
    bool yes = n == 1 && (cells[0].kind == DATA_VALUE_TEXT || cells[0].kind == DATA_VALUE_BLOB) &&
               cells[0].len == 3 && memcmp(cells[0].ptr, "YES", 3) == 0;
    *(unsigned *)arg = yes ? DATA_M_POST | DATA_M_PATCH | DATA_M_DELETE : VIEW_READ_ONLY;
    return PH_OK;
}

/* A view is written through when MariaDB calls it updatable (a view of one
 * table's columns without aggregates, DISTINCT or the like; a join view
 * too, though it then takes only some writes, refused when run). UPDATE
 * has no RETURNING: PATCH on a view runs a plain UPDATE (a view has no
 * key to read the rows back by), INSERT and DELETE return their rows. */
static const char view_sql[] =
    "SELECT IS_UPDATABLE FROM information_schema.VIEWS"
    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?";

static int read_table(MYSQL *c, const char *name, data_schema_t *schema, char *err, size_t errlen)
{
    data_table_t *t = data_schema_add_table(schema, name);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    unsigned view = 0;
    if (query_table(c, name, add_column, t, err, errlen) != PH_OK ||
        run_on_table(c, view_sql, name, mark_view, &view, err, errlen) != PH_OK)
        return PH_ERROR;
    if (view != 0) {
        t->view_writes = view & ~VIEW_READ_ONLY;
        return data_table_finish_view(t, err, errlen);
    }
    if (data_table_finish(t, err, errlen) != PH_OK)
        return PH_ERROR;
    if (run_on_table(c, fulltext_sql, name, add_fulltext, t, err, errlen) != PH_OK)
        return PH_ERROR;
    return run_on_table(c, fk_sql, name, add_fk, t, err, errlen);
}

/* Runs every statement of sql (a file of several), stopping at the first
 * error. Multi-statement mode is on only for this. */
static int run_script(MYSQL *c, const char *sql, char *err, size_t errlen)
{
    int rc = PH_OK, more;

    if (mysql_set_server_option(c, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0) {
        snprintf(err, errlen, "schema: %s", mysql_error(c));
        return PH_ERROR;
    }
    if (mysql_real_query(c, sql, strlen(sql)) != 0)
        rc = PH_ERROR;
    for (more = rc == PH_OK; more;) {
        mysql_free_result(mysql_store_result(c));
        more = mysql_next_result(c);
        if (more > 0)
            rc = PH_ERROR;
        more = more == 0;
    }
    if (rc != PH_OK)
        snprintf(err, errlen, "schema: %s", mysql_error(c));
    if (mysql_set_server_option(c, MYSQL_OPTION_MULTI_STATEMENTS_OFF) != 0 && rc == PH_OK) {
        snprintf(err, errlen, "schema: %s", mysql_error(c));
        rc = PH_ERROR;
    }
    return rc;
}

/* Runs the schema file when one of the exposed tables is missing: a shared
 * database is not touched once it has what this route serves. MySQL's DDL
 * commits by itself, so a configuration test cannot try the file and undo
 * it: it only checks the file can be read, and *skip tells the caller the
 * missing tables are not there to read. */
static int ensure_schema(MYSQL *c, const data_conf_t *conf, bool *skip, char *err, size_t errlen)
{
    bool missing = false;

    *skip = false;
    for (size_t i = 0; i < conf->ntables && !missing; i++) {
        size_t n = 0;
        if (query_table(c, conf->tables[i], count_row, &n, err, errlen) != PH_OK)
            return PH_ERROR;
        missing = n == 0;
    }
    if (!missing || conf->schema == NULL)
        return PH_OK;
    char *sql = data_schema_file(conf->schema, err, errlen);
    if (sql == NULL)
        return PH_ERROR;
    int rc = PH_OK;
    if (conf->check)
        *skip = true;
    else
        rc = run_script(c, sql, err, errlen);
    free(sql);
    return rc;
}

static void my_close(data_db_t *h);

/* Keeps libmariadb loaded for the life of the process. Its global set-up
 * (mysql_library_init: character sets, client plugins) runs once and is
 * only undone by mysql_library_end, which no instance may call while
 * another (of this or a newer generation) still uses the library. Were the
 * library unloaded with the plugin at a reload, that state would be lost
 * and set up again each time: a leak per reload. Pinned, it stays set up
 * once and reachable. */
static void pin_library(void)
{
    Dl_info info;
    if (dladdr((void *)mysql_init, &info) != 0 && info.dli_fname != NULL)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static data_db_t *my_open(const data_conf_t *conf, data_schema_t *schema, char *err, size_t errlen)
{
    data_db_t *h = calloc(1, sizeof *h);
    char msg[240];
    bool fresh, skip = false;

    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->conf = conf;
    /* Before any thread: the connector's global set-up is not thread-safe. */
    pin_library();
    if (mysql_library_init(0, NULL, NULL) != 0 || data_myuri_parse(conf->target, &h->uri, err, errlen) != PH_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "cannot initialise the MySQL client library");
        free(h);
        return NULL;
    }
    unsigned wait = (unsigned)(conf->busy_timeout_ms + 999) / 1000;
    snprintf(h->init, sizeof h->init,
             "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
             "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00',"
             " lock_wait_timeout = %u, innodb_lock_wait_timeout = %u, group_concat_max_len = %zu",
             wait ? wait : 1, wait ? wait : 1, conf->max_response_bytes);
    h->pool = data_pool_new(conf->pool_size, conn_open, conn_close, conn_forget, h);
    if (h->pool == NULL) {
        snprintf(err, errlen, "out of memory");
        my_close(h);
        return NULL;
    }
    MYSQL *c = data_pool_take(h->pool, &fresh, msg, sizeof msg);
    if (c == NULL) {
        snprintf(err, errlen, "cannot connect to MySQL: %s", msg);
        my_close(h);
        return NULL;
    }
    int rc = ensure_schema(c, conf, &skip, err, errlen);
    for (size_t i = 0; rc == PH_OK && i < conf->ntables; i++) {
        size_t n = 0;
        if (skip && (rc = query_table(c, conf->tables[i], count_row, &n, err, errlen)) == PH_OK && n == 0)
            continue; /* created by the schema file when the server really starts */
        if (rc == PH_OK)
            rc = read_table(c, conf->tables[i], schema, err, errlen);
    }
    /* Functions the schema file would create are not there to read
     * either when it was skipped. */
    if (rc == PH_OK && !skip)
        rc = data_rpc_load_mysql(c, conf, schema->rpc, err, errlen);
    data_pool_give(h->pool, c, rc != PH_OK || conf->check);
    if (rc != PH_OK) {
        my_close(h);
        return NULL;
    }
    return h;
}

static void my_close(data_db_t *h)
{
    if (h == NULL)
        return;
    data_pool_free(h->pool);
    data_myuri_free(&h->uri);
    free(h);
}

const data_db_ops_t data_mysql_ops = {
    .name = "mysql",
    .dialect = DATA_DIALECT_MYSQL,
    .open = my_open,
    .exec = my_exec,
    .read = my_read,
    .close = my_close,
};
