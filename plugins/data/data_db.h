/*
 * The database behind the data API: one small vtable, three backends
 * (data_sqlite.c, data_pg.c, data_mysql.c).
 *
 * open() runs in create(): it creates the database from the schema file
 * when needed, checks it can be reached and reads the schema of the exposed
 * tables. A failure there is a configuration error and create() fails with
 * its message. After that, exec() may be called from several threads at
 * once; each call takes a connection from a bounded pool (opened lazily,
 * reopened after a failure), so an outage later on is a 503 for the
 * requests it touches, not a crash, and service resumes when the database
 * is back.
 */
#ifndef DATA_DB_H
#define DATA_DB_H

#include <jansson.h>
#include <stddef.h>

#include "data_conf.h"
#include "data_schema.h"
#include "data_sql.h"

/* Why a statement failed, as an HTTP status and a message for the client:
 * 400 bad value for the column or a NOT NULL/CHECK violation, 409 a
 * conflict with another row (unique, foreign key), 503 database
 * unavailable, locked or busy, 500 anything else; and, when known, the
 * SQLSTATE-style code PostgREST would report (empty when not). Start
 * from a zeroed struct. */
typedef struct data_dberr {
    int status;
    char code[10];
    char msg[256];
} data_dberr_t;

typedef struct data_db data_db_t;

/* Receives one result row (see exec). */
typedef int (*data_row_fn)(void *arg, json_t *row, data_dberr_t *err);

/* A listing's read (see data_db_ops_t's read): the rows' statement and,
 * when the total is asked for, a count statement run before it in the
 * same snapshot. */
typedef struct data_read {
    const data_stmt_t *st;      /* the rows: a SELECT that changes nothing */
    const data_table_t *shape;  /* as exec's shape */
    data_row_fn fn;             /* each row, as exec's fn */
    void *arg;
    const data_stmt_t *count;   /* NULL: no count */
    data_row_fn count_fn;       /* count's one row ({"count": N}) */
    void *count_arg;
} data_read_t;

typedef struct data_db_ops {
    const char *name;
    data_dialect_t dialect;
    /* Opens the database described by conf (which must outlive the
     * handle) and fills *schema with the tables conf->tables. NULL with a
     * message in err on failure. */
    data_db_t *(*open)(const data_conf_t *conf, data_schema_t *schema, char *err, size_t errlen);
    /* Runs st and hands each result row to fn, one at a time, typed by
     * shape when given (the statement returns shape's columns in order).
     * The row is borrowed: fn takes a reference to keep it. fn returns
     * PH_OK to go on, or PH_ERROR after filling *err, which stops the
     * statement. Returns PH_OK when every row went to fn, PH_ERROR with
     * *err filled otherwise. With st->dry_run the statement runs inside a
     * transaction that is rolled back once its rows are read, so they
     * are the rows as if committed and nothing is stored (PostgREST's
     * Prefer: tx=rollback). With st->role, PostgreSQL runs it in a
     * transaction after SET LOCAL ROLE and set_config of
     * request.jwt.claims, local to that transaction, so the database's
     * privileges and row security decide and nothing outlives the
     * statement on the pooled connection; the other backends ignore it
     * (the plugin applies grants there). Thread-safe. */
    int (*exec)(data_db_t *db, const data_stmt_t *st, const data_table_t *shape, data_row_fn fn,
                void *arg, data_dberr_t *err);
    /* Runs a listing: rd->st's rows go to rd->fn as the database sends
     * them, never all held by the client library (SQLite steps the
     * statement, PostgreSQL reads in single-row mode, MariaDB fetches
     * unbuffered), so memory stays flat whatever the size. fn may block
     * for as long as it likes (the HTTP client's back-pressure) and may
     * return PH_ERROR to abandon the statement (the client left): the
     * connection then goes back to the pool clean (PostgreSQL: the query
     * cancelled and its results drained) or is closed (MariaDB, whose
     * pending rows would otherwise be read to the end). With rd->count,
     * the count runs FIRST and the rows after, on one connection inside
     * one read-only transaction seeing one snapshot (SQLite BEGIN ..
     * COMMIT; PostgreSQL REPEATABLE READ READ ONLY, after which st->role
     * is set as exec does; MariaDB WITH CONSISTENT SNAPSHOT, READ ONLY):
     * the total is known, and exact for these rows, before the first row
     * reaches fn. Without it, st->role is honoured as by exec. A read
     * whose stale connection broke before any row reached fn is tried
     * once more on a new connection. PH_OK when every row went to fn,
     * PH_ERROR with *err filled otherwise (also after some rows went to
     * fn). st->dry_run must not be set. Thread-safe. */
    int (*read)(data_db_t *db, const data_read_t *rd, data_dberr_t *err);
    /* Closes every connection. No exec() or read() may be running. */
    void (*close)(data_db_t *db);
} data_db_ops_t;

extern const data_db_ops_t data_sqlite_ops;
extern const data_db_ops_t data_pg_ops;
extern const data_db_ops_t data_mysql_ops;

#endif
