/*
 * One prepared statement on a MariaDB Connector/C connection, for the
 * MySQL backend (data_mysql.c): values bound as typed parameters (never
 * spliced into SQL text), result rows fetched as typed values, and
 * server and client errors mapped to the statuses and PostgREST codes the
 * plugin answers with (data_dberr_t, data_db.h).
 *
 * Result typing comes from the column metadata: integer types give
 * DATA_VALUE_INT (tinyint(1), MySQL's BOOLEAN, gives DATA_VALUE_BOOL),
 * FLOAT and DOUBLE DATA_VALUE_REAL bound as doubles, DECIMAL
 * DATA_VALUE_REAL from its text, binary strings DATA_VALUE_BLOB,
 * everything else DATA_VALUE_TEXT (an unsigned BIGINT beyond int64 too).
 */
#ifndef DATA_MYSTMT_H
#define DATA_MYSTMT_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>

#include "data_db.h"
#include "data_value.h"

/* A statement to run: its text and its parameters, by pointer (borrowed,
 * in placeholder order). */
typedef struct data_mystmt_call {
    const char *sql;
    size_t len;
    const data_value_t **params;
    size_t nparams;
    /* Rows fetched from the server one at a time as fn takes them, none
     * stored client-side (no mysql_stmt_store_result): memory stays flat
     * however many there are, and the connection is busy until the last
     * is read. When fn stops early, the unread rest would have to be read
     * to the end before c could run anything else: c is shut down instead
     * (*broken), so the server stops the statement at once. */
    bool unbuffered;
} data_mystmt_call_t;

/* Receives one result row: n values described by fields, both borrowed
 * for the call. PH_OK to go on, PH_ERROR after filling *err. */
typedef int (*data_mystmt_cells_fn)(void *arg, MYSQL_FIELD *fields, const data_value_t *cells,
                                    unsigned n, data_dberr_t *err);

/* Prepares q on c, binds its parameters, runs it and hands every result
 * row to fn (none for a statement without a result set). PH_OK, or
 * PH_ERROR with *err filled; *broken is then true when c must not be used
 * again (the connection was lost or is out of step). */
int data_mystmt_run(MYSQL *c, const data_mystmt_call_t *q, data_mystmt_cells_fn fn, void *arg,
                    data_dberr_t *err, bool *broken);

/* Fills *err: status, SQLSTATE-style code, prefix + msg. */
void data_mystmt_err(data_dberr_t *err, int status, const char *code, const char *prefix, const char *msg);

/* Maps error number no (server or client; sqlstate may be NULL) with its
 * message into *err: duplicate key 409 23505, foreign key 409 23503, NOT
 * NULL 400 23502, CHECK 400 23514, a bad value (SQLSTATE 22xxx) 400, lock
 * waits, deadlocks and connection limits 503, a lost connection 503,
 * anything else 500. Returns true when the connection cannot be used
 * again. */
bool data_mystmt_map(unsigned no, const char *sqlstate, const char *msg, data_dberr_t *err);

/* data_mystmt_map of c's last error. */
bool data_mystmt_conn_error(MYSQL *c, data_dberr_t *err);

/* A 500 "out of memory" in *err. */
void data_mystmt_oom(data_dberr_t *err);

#endif
