/* Prepared statements on a MariaDB connection: see data_mystmt.h. */
#include "data_mystmt.h"
#include "data_num.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The character set number of binary strings (BINARY, VARBINARY, BLOB). */
#define BINARY_CHARSET 63

void data_mystmt_err(data_dberr_t *err, int status, const char *code, const char *prefix,
                     const char *msg)
{
    err->status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->msg, sizeof err->msg, "%s%s", prefix, msg);
}

bool data_mystmt_map(unsigned no, const char *sqlstate, const char *msg, data_dberr_t *err)
{
    switch (no) {
    case ER_DUP_ENTRY: /* 1062 */
        data_mystmt_err(err, 409, "23505", "constraint violation: ", msg);
        return false;
    case ER_NO_REFERENCED_ROW_2: /* 1452 */
    case ER_ROW_IS_REFERENCED_2: /* 1451 */
        data_mystmt_err(err, 409, "23503", "constraint violation: ", msg);
        return false;
    case ER_BAD_NULL_ERROR:       /* 1048 */
    case ER_NO_DEFAULT_FOR_FIELD: /* 1364: strict mode, a NOT NULL column left out */
        data_mystmt_err(err, 400, "23502", "constraint violation: ", msg);
        return false;
    case ER_CONSTRAINT_FAILED: /* 4025: CHECK */
        data_mystmt_err(err, 400, "23514", "constraint violation: ", msg);
        return false;
    case ER_NO_DEFAULT_FOR_VIEW_FIELD: /* 1423: a view's insert left out a NOT NULL column */
        data_mystmt_err(err, 400, "23502", "constraint violation: ", msg);
        return false;
    case ER_VIEW_CHECK_FAILED: /* 1369: WITH CHECK OPTION */
        data_mystmt_err(err, 400, "44000", "", msg);
        return false;
    /* A write the view cannot take after all: PostgreSQL's "cannot insert
     * into view" (SQLSTATE 55000) */
    case ER_NON_UPDATABLE_TABLE:       /* 1288 */
    case ER_VIEW_MULTIUPDATE:          /* 1393: a join view's columns of two tables */
    case ER_VIEW_NO_INSERT_FIELD_LIST: /* 1394 */
    case ER_VIEW_DELETE_MERGE_VIEW:    /* 1395: DELETE from a join view */
    case ER_NON_INSERTABLE_TABLE:      /* 1471 */
        data_mystmt_err(err, 400, "55000", "", msg);
        return false;
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
        data_mystmt_err(err, 503, "", "database unavailable: ", msg);
        return false;
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_COMMANDS_OUT_OF_SYNC:
        data_mystmt_err(err, 503, "", "database unavailable: ", msg);
        return true;
    default:
        break;
    }
    if (sqlstate != NULL && strncmp(sqlstate, "22", 2) == 0) {
        /* A value wrong for its column: out of range, too long, bad date. */
        data_mystmt_err(err, 400, sqlstate, "", msg);
        return false;
    }
    if (no >= 2000 && no < 3000) {
        /* Any other client-side failure leaves the session in doubt. */
        data_mystmt_err(err, 503, "", "database unavailable: ", msg);
        return true;
    }
    data_mystmt_err(err, 500, sqlstate ? sqlstate : "", "database error: ", msg);
    return false;
}

static bool stmt_error(MYSQL_STMT *s, data_dberr_t *err)
{
    return data_mystmt_map(mysql_stmt_errno(s), mysql_stmt_sqlstate(s), mysql_stmt_error(s), err);
}

bool data_mystmt_conn_error(MYSQL *c, data_dberr_t *err)
{
    return data_mystmt_map(mysql_errno(c), mysql_sqlstate(c), mysql_error(c), err);
}

void data_mystmt_oom(data_dberr_t *err)
{
    data_mystmt_err(err, 500, "", "", "out of memory");
}

static void bind_params(MYSQL_BIND *b, const data_mystmt_call_t *q)
{
    for (size_t i = 0; i < q->nparams; i++) {
        const data_value_t *v = q->params[i];
        switch (v->kind) {
        case DATA_VALUE_NULL:
            b[i].buffer_type = MYSQL_TYPE_NULL;
            break;
        case DATA_VALUE_INT:
        case DATA_VALUE_BOOL: /* 0 or 1: what BOOLEAN (tinyint) stores */
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&v->i;
            break;
        case DATA_VALUE_REAL:
            b[i].buffer_type = MYSQL_TYPE_DOUBLE;
            b[i].buffer = (void *)&v->d;
            break;
        case DATA_VALUE_NUM:
            /* As a decimal, not a string: MariaDB compares a DECIMAL
             * column with a string as doubles. */
            b[i].buffer_type = MYSQL_TYPE_NEWDECIMAL;
            b[i].buffer = v->ptr;
            b[i].buffer_length = v->len;
            break;
        case DATA_VALUE_TEXT:
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = v->ptr;
            b[i].buffer_length = v->len;
            break;
        case DATA_VALUE_BLOB:
            b[i].buffer_type = MYSQL_TYPE_BLOB;
            b[i].buffer = v->ptr;
            b[i].buffer_length = v->len;
            break;
        }
    }
}

static bool is_integer(enum enum_field_types t)
{
    return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
           t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_YEAR;
}

static bool is_float(enum enum_field_types t)
{
    return t == MYSQL_TYPE_FLOAT || t == MYSQL_TYPE_DOUBLE;
}

/* A string type, whose binary character set means bytes. Dates and times
 * are described with the binary character set too, but are text. */
static bool is_bytes(enum enum_field_types t)
{
    return t == MYSQL_TYPE_STRING || t == MYSQL_TYPE_VAR_STRING || t == MYSQL_TYPE_VARCHAR ||
           t == MYSQL_TYPE_TINY_BLOB || t == MYSQL_TYPE_BLOB || t == MYSQL_TYPE_MEDIUM_BLOB ||
           t == MYSQL_TYPE_LONG_BLOB || t == MYSQL_TYPE_BIT || t == MYSQL_TYPE_GEOMETRY;
}

/* Result buffers of one statement: doubles bound as such, everything
 * else fetched as its text (or bytes) into a buffer sized per cell. */
typedef struct cols {
    unsigned n;
    MYSQL_BIND *bind;
    unsigned long *len;
    my_bool *null, *trunc;
    double *dbl;
    data_value_t *cells;
} cols_t;

static void cols_free(cols_t *c)
{
    for (unsigned i = 0; c->cells && i < c->n; i++)
        if (c->cells[i].ptr != NULL)
            free(c->cells[i].ptr);
    free(c->bind);
    free(c->len);
    free(c->null);
    free(c->trunc);
    free(c->dbl);
    free(c->cells);
}

static int cols_bind(MYSQL_STMT *s, MYSQL_FIELD *f, cols_t *c)
{
    c->bind = calloc(c->n, sizeof *c->bind);
    c->len = calloc(c->n, sizeof *c->len);
    c->null = calloc(c->n, sizeof *c->null);
    c->trunc = calloc(c->n, sizeof *c->trunc);
    c->dbl = calloc(c->n, sizeof *c->dbl);
    c->cells = calloc(c->n, sizeof *c->cells);
    if (!c->bind || !c->len || !c->null || !c->trunc || !c->dbl || !c->cells)
        return PH_ERROR;
    for (unsigned i = 0; i < c->n; i++) {
        MYSQL_BIND *b = &c->bind[i];
        b->length = &c->len[i];
        b->is_null = &c->null[i];
        b->error = &c->trunc[i];
        if (is_float(f[i].type)) {
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &c->dbl[i];
        } else {
            b->buffer_type = MYSQL_TYPE_STRING;
        }
    }
    return mysql_stmt_bind_result(s, c->bind) ? PH_ERROR : PH_OK;
}

/* Turns the fetched row into c->cells. */
static int cols_cells(MYSQL_STMT *s, MYSQL_FIELD *f, cols_t *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        data_value_t *v = &c->cells[i];
        free(v->ptr); /* NULL unless TEXT, BLOB or NUM */
        memset(v, 0, sizeof *v);
        if (c->null[i])
            continue;
        if (is_float(f[i].type)) {
            v->kind = DATA_VALUE_REAL;
            v->d = c->dbl[i];
            continue;
        }
        char *p = malloc(c->len[i] + 1);
        if (p == NULL)
            return PH_ERROR;
        MYSQL_BIND b = {.buffer_type = MYSQL_TYPE_STRING, .buffer = p, .buffer_length = c->len[i] + 1};
        if (c->len[i] > 0 && mysql_stmt_fetch_column(s, &b, i, 0) != 0) {
            free(p);
            return PH_ERROR;
        }
        p[c->len[i]] = '\0';
        if (is_integer(f[i].type)) {
            char *end;
            errno = 0;
            long long ll = strtoll(p, &end, 10);
            if (errno == 0 && *end == '\0') {
                v->kind = f[i].type == MYSQL_TYPE_TINY && f[i].length == 1 ? DATA_VALUE_BOOL : DATA_VALUE_INT;
                v->i = ll;
                free(p);
                continue;
            }
            /* an unsigned BIGINT beyond int64: shown as its digits */
        } else if ((f[i].type == MYSQL_TYPE_NEWDECIMAL || f[i].type == MYSQL_TYPE_DECIMAL) &&
                   data_num_valid(p, c->len[i])) {
            /* DECIMAL's text is exact: it reaches the answer unchanged. */
            v->kind = DATA_VALUE_NUM;
            v->ptr = p;
            v->len = c->len[i];
            continue;
        }
        v->kind = f[i].charsetnr == BINARY_CHARSET && is_bytes(f[i].type) ? DATA_VALUE_BLOB : DATA_VALUE_TEXT;
        v->ptr = p;
        v->len = c->len[i];
    }
    return PH_OK;
}

/* Hands every row of the executed statement s to fn; *early is set when
 * it stopped before the end of the result (fn or the conversion). */
static int fetch_rows(MYSQL_STMT *s, data_mystmt_cells_fn fn, void *arg, data_dberr_t *err, bool *early)
{
    MYSQL_RES *meta = mysql_stmt_result_metadata(s);
    cols_t c = {0};
    int rc = PH_OK, f;

    if (meta == NULL)
        return PH_OK; /* no result set */
    c.n = mysql_num_fields(meta);
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    if (cols_bind(s, fields, &c) != PH_OK) {
        data_mystmt_oom(err);
        rc = PH_ERROR;
    }
    while (rc == PH_OK && ((f = mysql_stmt_fetch(s)) == 0 || f == MYSQL_DATA_TRUNCATED)) {
        if (cols_cells(s, fields, &c) != PH_OK) {
            data_mystmt_oom(err);
            rc = PH_ERROR;
        } else {
            rc = fn(arg, fields, c.cells, c.n, err);
        }
    }
    if (rc == PH_OK && f == 1) {
        stmt_error(s, err);
        rc = PH_ERROR;
    } else if (rc != PH_OK) {
        *early = true;
    }
    cols_free(&c);
    mysql_free_result(meta);
    return rc;
}

int data_mystmt_run(MYSQL *c, const data_mystmt_call_t *q, data_mystmt_cells_fn fn, void *arg,
                    data_dberr_t *err, bool *broken)
{
    MYSQL_STMT *s = mysql_stmt_init(c);
    MYSQL_BIND *b = NULL;
    int rc = PH_ERROR;

    *broken = false;
    if (s == NULL) {
        data_mystmt_oom(err);
        return PH_ERROR;
    }
    if (mysql_stmt_prepare(s, q->sql, q->len) != 0) {
        *broken = stmt_error(s, err);
        goto out;
    }
    b = calloc(q->nparams ? q->nparams : 1, sizeof *b);
    if (b == NULL) {
        data_mystmt_oom(err);
        goto out;
    }
    bind_params(b, q);
    if ((q->nparams > 0 && mysql_stmt_bind_param(s, b) != 0) || mysql_stmt_execute(s) != 0 ||
        (!q->unbuffered && mysql_stmt_store_result(s) != 0)) {
        *broken = stmt_error(s, err);
        goto out;
    }
    bool early = false;
    rc = fetch_rows(s, fn, arg, err, &early);
    if (early && q->unbuffered) {
        /* mysql_stmt_close() would read every pending row first. */
        int fd = (int)mysql_get_socket(c);
        if (fd >= 0)
            (void)shutdown(fd, SHUT_RDWR);
        *broken = true;
    }
out:
    free(b);
    mysql_stmt_close(s);
    return rc;
}
