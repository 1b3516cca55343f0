/*
 * SQLite backend of the data API (see data_db.h).
 *
 * The database file is created with the schema file when it is missing.
 * Connections come from a pool (data_pool.h) so that each is used by one
 * thread at a time (SQLITE_OPEN_NOMUTEX); each waits busy_timeout for a
 * lock before the statement fails with 503. The file is in WAL mode, so
 * readers go on while one connection writes.
 */
#include "data_db.h"
#include "data_rpc_load.h"
#include "data_json.h"
#include "data_num.h"
#include "data_pool.h"
#include "data_sqlite_fts.h"
#include "data_sqlite_view.h"

#include <errno.h>
#include <fcntl.h>
#include <plughttpd/plugin.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct data_db {
    const data_conf_t *conf;
    data_pool_t *pool;
    /* SQLite lets one writer in at a time. Without this, concurrent writers
     * of this process poll for the lock in busy_timeout's sleep steps and
     * an unlucky one can lose every round until it times out; queued on a
     * mutex they take turns. busy_timeout still covers other processes. */
    pthread_mutex_t write_lock;
};

static void *conn_open(void *ctx, char *err, size_t errlen)
{
    const data_conf_t *conf = ctx;
    sqlite3 *db = NULL;
    int flags = (conf->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(conf->target, &db, flags, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, conf->busy_timeout_ms);
        rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    }
    /* In WAL mode NORMAL never corrupts the database; it skips the fsync of
     * every commit, so a power cut may lose the last commits, not more. */
    if (rc == SQLITE_OK && !conf->read_only)
        rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", conf->target, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static void conn_close(void *conn)
{
    sqlite3_close(conn);
}

/* mkdir -p of the folder holding path. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    int rc = PH_OK;

    if (dir == NULL)
        return PH_ERROR;
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; rc == PH_OK; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create folder %s: %s", dir, strerror(errno));
                rc = PH_ERROR;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    free(dir);
    return rc;
}

/* Creates the database file from conf->schema. On failure the half-made
 * file is removed so that the next start tries again. */
static int create_db(const data_conf_t *conf, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char *sql = NULL, *msg = NULL;
    int rc = PH_ERROR;

    if (make_parent(conf->target, err, errlen) != PH_OK)
        return PH_ERROR;
    if (conf->schema != NULL && (sql = data_schema_file(conf->schema, err, errlen)) == NULL)
        return PH_ERROR;
    if (sqlite3_open_v2(conf->target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create %s: %s", conf->target, sqlite3_errmsg(db));
    } else if (sql != NULL && sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "schema %s: %s", conf->schema, msg ? msg : sqlite3_errmsg(db));
    } else {
        rc = PH_OK;
    }
    sqlite3_free(msg);
    sqlite3_close(db);
    free(sql);
    if (rc != PH_OK)
        unlink(conf->target);
    return rc;
}

static bool is_rowid_alias(const char *decl)
{
    return strcasecmp(decl, "INTEGER") == 0;
}

/* The one-column foreign keys of a table (a key over several columns has
 * several rows with one id: none of them can embed). SQLite names no
 * constraints, so the FK column names the key. */
static int read_fks(sqlite3 *db, data_table_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?1) f"
                                " WHERE (SELECT count(*) FROM pragma_foreign_key_list(?1) g"
                                "        WHERE g.id = f.id) = 1 ORDER BY \"from\"",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 0);
        const char *ref = (const char *)sqlite3_column_text(st, 1);
        const char *to = (const char *)sqlite3_column_text(st, 2);
        if (col && ref && data_table_add_fk(t, NULL, col, ref, to) != PH_OK) {
            sqlite3_finalize(st);
            snprintf(err, errlen, "out of memory");
            return PH_ERROR;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading foreign keys of \"%s\": %s", t->name, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return PH_ERROR;
    }
    sqlite3_finalize(st);
    return PH_OK;
}

/* Whether name is a view (written only through its INSTEAD OF triggers,
 * data_sqlite_view.h). */
static bool is_view(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    bool view = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'view' AND name = ?1", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        view = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return view;
}

static int read_table(sqlite3 *db, const char *name, data_schema_t *schema, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    data_table_t *t = data_schema_add_table(schema, name);
    int rc;

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    rc = sqlite3_prepare_v2(db,
                            "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk, dflt_value "
                            "FROM pragma_table_info(?1)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *cname = (const char *)sqlite3_column_text(st, 0);
        const char *decl = (const char *)sqlite3_column_text(st, 1);
        bool pk = sqlite3_column_int(st, 4) > 0;
        decl = decl ? decl : "";
        /* An INTEGER PRIMARY KEY is the rowid: SQLite assigns it. */
        bool dflt = sqlite3_column_int(st, 3) || (pk && is_rowid_alias(decl));
        const char *dsql = (const char *)sqlite3_column_text(st, 5);
        if (data_table_add_column(t, cname ? cname : "", decl, data_type_from_sqlite(decl),
                                  sqlite3_column_int(st, 2), dflt, pk) != PH_OK ||
            (dsql && data_table_set_default(t, dsql) != PH_OK)) {
            sqlite3_finalize(st);
            snprintf(err, errlen, "out of memory");
            return PH_ERROR;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "reading table \"%s\": %s", name, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return PH_ERROR;
    }
    sqlite3_finalize(st);
    if (is_view(db, name)) {
        t->view_writes = data_sqlite_view_writes(db, name);
        return data_table_finish_view(t, err, errlen);
    }
    /* A composite key counts each of its columns with pk > 0. */
    if (data_table_finish(t, err, errlen) != PH_OK || data_sqlite_fts_read(db, t, err, errlen) != PH_OK)
        return PH_ERROR;
    return read_fks(db, t, err, errlen);
}

/* Whether this process (its effective ids) may write path; a message
 * naming path and the uid when not. */
static int writable(const char *what, const char *path, const char *why, char *err, size_t errlen)
{
    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0)
        return PH_OK;
    snprintf(err, errlen, "%s %s is not writable by uid %u%s (%s)", what, path, (unsigned)geteuid(),
             why, strerror(errno));
    return PH_ERROR;
}

/* SQLite opens a file it may not write read-only without a word, and
 * every write would then fail with 503: refuse at create() instead (a
 * reload after the server dropped its privileges meets a database made
 * by root). WAL mode also writes FILE-wal and FILE-shm, which SQLite
 * creates and removes in the file's folder. */
static int check_writable(const data_conf_t *conf, char *err, size_t errlen)
{
    static const char *const side[] = {"-wal", "-shm"};
    size_t n = strlen(conf->target);
    char *buf = malloc(n + 8);
    int rc = PH_ERROR;

    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    if (writable("database", conf->target, "", err, errlen) != PH_OK)
        goto out;
    for (size_t i = 0; i < 2; i++) {
        snprintf(buf, n + 8, "%s%s", conf->target, side[i]);
        if (access(buf, F_OK) == 0 && writable("database file", buf, "", err, errlen) != PH_OK)
            goto out;
    }
    memcpy(buf, conf->target, n + 1);
    char *slash = strrchr(buf, '/');
    if (slash == buf)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        strcpy(buf, ".");
    if (writable("folder", buf, ", where SQLite keeps the -wal and -shm files of the database", err,
                 errlen) != PH_OK)
        goto out;
    rc = PH_OK;
out:
    free(buf);
    return rc;
}

/* For a configuration test: the database as it is, read-only, or, when
 * the file does not exist yet, the schema applied to an in-memory database,
 * so the tables are checked without creating or changing anything. */
static sqlite3 *check_open(const data_conf_t *conf, char *err, size_t errlen)
{
    struct stat sb;
    sqlite3 *db = NULL;
    char *sql = NULL, *msg = NULL;
    bool exists = stat(conf->target, &sb) == 0;

    if (!exists && errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", conf->target, strerror(errno));
        return NULL;
    }
    if (exists && !conf->read_only && check_writable(conf, err, errlen) != PH_OK)
        return NULL;
    if (!exists && conf->schema != NULL && (sql = data_schema_file(conf->schema, err, errlen)) == NULL)
        return NULL;
    if (sqlite3_open_v2(exists ? conf->target : ":memory:", &db,
                        exists ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", conf->target, sqlite3_errmsg(db));
        sqlite3_close(db);
        db = NULL;
    } else if (sql != NULL && sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "schema %s: %s", conf->schema, msg ? msg : sqlite3_errmsg(db));
        sqlite3_close(db);
        db = NULL;
    }
    sqlite3_free(msg);
    free(sql);
    return db;
}

/* Creates the file from the schema when it is missing, turns WAL on, and
 * opens the first connection. */
static sqlite3 *prepare_open(const data_conf_t *conf, char *err, size_t errlen)
{
    struct stat sb;
    sqlite3 *db = NULL;

    if (stat(conf->target, &sb) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", conf->target, strerror(errno));
            return NULL;
        }
        if (create_db(conf, err, errlen) != PH_OK)
            return NULL;
    }
    if (!conf->read_only && check_writable(conf, err, errlen) != PH_OK)
        return NULL;
    /* WAL is a property of the file: set it once, on a writable handle. */
    if (!conf->read_only) {
        if (sqlite3_open_v2(conf->target, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
            (sqlite3_busy_timeout(db, conf->busy_timeout_ms),
             sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", conf->target, sqlite3_errmsg(db));
            sqlite3_close(db);
            return NULL;
        }
        sqlite3_close(db);
    }
    return conn_open((void *)conf, err, errlen);
}

static data_db_t *sqlite_open(const data_conf_t *conf, data_schema_t *schema, char *err, size_t errlen)
{
    sqlite3 *db = conf->check ? check_open(conf, err, errlen) : prepare_open(conf, err, errlen);
    data_db_t *h;

    if (db == NULL)
        return NULL;
    for (size_t i = 0; i < conf->ntables; i++) {
        if (read_table(db, conf->tables[i], schema, err, errlen) != PH_OK) {
            sqlite3_close(db);
            return NULL;
        }
    }
    if (data_rpc_load_sqlite(db, conf, schema->rpc, err, errlen) != PH_OK) {
        sqlite3_close(db);
        return NULL;
    }
    h = calloc(1, sizeof *h);
    if (h != NULL)
        /* No forget hook: closing an inherited handle could checkpoint the
         * parent's database; leaving it costs a little memory. */
        h->pool = data_pool_new(conf->pool_size, conn_open, conn_close, NULL, (void *)conf);
    if (h == NULL || h->pool == NULL) {
        free(h);
        sqlite3_close(db);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->conf = conf;
    pthread_mutex_init(&h->write_lock, NULL);
    /* A check's (read-only or in memory) never serves; else the connection
     * that read the schema serves the first request. */
    if (conf->check || data_pool_adopt(h->pool, db) < 0)
        sqlite3_close(db);
    return h;
}

/* PostgreSQL's SQLSTATE for a SQLite constraint violation (extended
 * result code), so clients see the same codes on both backends. */
static const char *constraint_code(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return "23505";
    case SQLITE_CONSTRAINT_NOTNULL:
        return "23502";
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return "23503";
    case SQLITE_CONSTRAINT_CHECK:
        return "23514";
    default:
        return "23000";
    }
}

/* PostgREST's status for a constraint violation: 409 for a conflict with
 * another row (unique, foreign key), 400 for a row that is wrong by itself
 * (NOT NULL, CHECK). */
static int constraint_status(const char *code)
{
    return strcmp(code, "23505") == 0 || strcmp(code, "23503") == 0 || strcmp(code, "23000") == 0 ? 409
                                                                                                     : 400;
}

/* Maps a SQLite result code to a status; *broken: reopen the connection. */
static void map_error(sqlite3 *db, int rc, const data_conf_t *conf, data_dberr_t *err, bool *broken)
{
    const char *msg = sqlite3_errmsg(db);
    *broken = false;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        err->status = 503;
        snprintf(err->msg, sizeof err->msg,
                 "database is locked: still busy after %d ms, try again", conf->busy_timeout_ms);
        return;
    case SQLITE_CONSTRAINT:
        snprintf(err->code, sizeof err->code, "%s", constraint_code(rc));
        err->status = constraint_status(err->code);
        snprintf(err->msg, sizeof err->msg, "constraint violation: %s", msg);
        return;
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        err->status = 400;
        snprintf(err->msg, sizeof err->msg, "%s", msg);
        return;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        *broken = (rc & 0xff) != SQLITE_FULL;
        err->status = 503;
        snprintf(err->msg, sizeof err->msg, "database unavailable: %s", msg);
        return;
    default:
        err->status = 500;
        snprintf(err->msg, sizeof err->msg, "database error: %s", msg);
        return;
    }
}

/* An exact number as SQLite can hold it: a 64-bit integer, or a double
 * when the double is that very number. Anything else would be stored
 * rounded, so it is refused: SQLITE_FORMAT with a 400 in *err. */
static int bind_num(sqlite3_stmt *st, int idx, const data_value_t *v, data_dberr_t *err)
{
    long long i;
    double d;
    switch (data_num_sqlite(v->ptr, v->len, &i, &d)) {
    case 1: return sqlite3_bind_int64(st, idx, i);
    case 2: return sqlite3_bind_double(st, idx, d);
    default: break;
    }
    err->status = 400;
    snprintf(err->code, sizeof err->code, "22003");
    snprintf(err->msg, sizeof err->msg, "%.60s%s cannot be stored exactly: SQLite holds numbers as 64-bit "
             "integers or doubles", v->ptr, v->len > 60 ? "..." : "");
    return SQLITE_FORMAT;
}

static int bind_params(sqlite3_stmt *st, const data_stmt_t *s, data_dberr_t *err)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < s->nparams && rc == SQLITE_OK; i++) {
        const data_value_t *v = &s->params[i];
        int idx = (int)i + 1;
        switch (v->kind) {
        case DATA_VALUE_NULL: rc = sqlite3_bind_null(st, idx); break;
        case DATA_VALUE_INT:
        case DATA_VALUE_BOOL: rc = sqlite3_bind_int64(st, idx, v->i); break;
        case DATA_VALUE_REAL: rc = sqlite3_bind_double(st, idx, v->d); break;
        case DATA_VALUE_NUM: rc = bind_num(st, idx, v, err); break;
        /* The statement is finalized before s is freed: no copies. */
        case DATA_VALUE_TEXT: rc = sqlite3_bind_text(st, idx, v->ptr, (int)v->len, SQLITE_STATIC); break;
        case DATA_VALUE_BLOB: rc = sqlite3_bind_blob(st, idx, v->ptr, (int)v->len, SQLITE_STATIC); break;
        }
    }
    return rc;
}

static json_t *row_json(sqlite3_stmt *st, const data_table_t *shape)
{
    int n = sqlite3_column_count(st);
    json_t *row = json_object();

    if (shape != NULL && (size_t)n != shape->ncols)
        shape = NULL;
    for (int i = 0; row && i < n; i++) {
        data_value_t v = {.kind = DATA_VALUE_NULL};
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: v.kind = DATA_VALUE_INT; v.i = sqlite3_column_int64(st, i); break;
        case SQLITE_FLOAT: v.kind = DATA_VALUE_REAL; v.d = sqlite3_column_double(st, i); break;
        case SQLITE_TEXT:
            v.kind = DATA_VALUE_TEXT;
            v.ptr = (char *)sqlite3_column_text(st, i);
            v.len = (size_t)sqlite3_column_bytes(st, i);
            break;
        case SQLITE_BLOB:
            v.kind = DATA_VALUE_BLOB;
            v.ptr = (char *)sqlite3_column_blob(st, i);
            v.len = (size_t)sqlite3_column_bytes(st, i);
            break;
        default: break;
        }
        json_t *j = data_json_from_value(shape ? shape->cols[i].type : DATA_TYPE_ANY, &v);
        if (j == NULL || json_object_set_new(row, sqlite3_column_name(st, i), j) != 0) {
            json_decref(row);
            return NULL;
        }
    }
    return row;
}

/* Steps st to its end, each row to fn: SQLITE_DONE, SQLITE_FORMAT when
 * a row could not be built or fn refused it (*err filled), else the
 * failed step's code. */
static int step_rows(sqlite3_stmt *st, const data_table_t *shape, data_row_fn fn, void *arg, data_dberr_t *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = row_json(st, shape);
        if (row == NULL) {
            err->status = 500;
            snprintf(err->msg, sizeof err->msg, "a stored value is not valid UTF-8 text");
            return SQLITE_FORMAT;
        }
        int taken = fn(arg, row, err);
        json_decref(row);
        if (taken != PH_OK)
            return SQLITE_FORMAT; /* *err is filled */
    }
    return rc;
}

static int sqlite_exec(data_db_t *h, const data_stmt_t *s, const data_table_t *shape,
                       data_row_fn fn, void *arg, data_dberr_t *err)
{
    bool fresh, broken = false;
    char msg[200];
    sqlite3 *db = data_pool_take(h->pool, &fresh, msg, sizeof msg);
    sqlite3_stmt *st = NULL;
    int rc;

    if (db == NULL) {
        err->status = 503;
        snprintf(err->msg, sizeof err->msg, "database unavailable: %s", msg);
        return PH_ERROR;
    }
    rc = sqlite3_prepare_v2(db, s->sql, (int)s->len, &st, NULL);
    if (rc == SQLITE_OK)
        rc = bind_params(st, s, err);
    bool writes = rc == SQLITE_OK && !sqlite3_stmt_readonly(st);
    bool dry = writes && s->dry_run;
    if (writes)
        pthread_mutex_lock(&h->write_lock);
    if (dry)
        rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = step_rows(st, shape, fn, arg, err);
    int ext = sqlite3_extended_errcode(db); /* before reset touches it */
    if (writes) {
        sqlite3_reset(st); /* ends the statement's transaction before unlocking */
        /* A dry run leaves nothing behind, and a connection still in a
         * transaction must not go back to the pool. */
        if (dry && sqlite3_get_autocommit(db) == 0 && sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
            broken = true;
        pthread_mutex_unlock(&h->write_lock);
    }
    if (rc == SQLITE_DONE && !broken) {
        sqlite3_finalize(st);
        data_pool_give(h->pool, db, false);
        return PH_OK;
    }
    if (rc == SQLITE_DONE) {
        rc = SQLITE_FORMAT;
        err->status = 503;
        snprintf(err->msg, sizeof err->msg, "database busy: the dry run could not be rolled back");
    }
    if (rc != SQLITE_FORMAT)
        map_error(db, ext, h->conf, err, &broken);
    sqlite3_finalize(st);
    data_pool_give(h->pool, db, broken);
    return PH_ERROR;
}

/* One statement of a read on db, its rows to fn: SQLITE_DONE, or as
 * step_rows, *err filled by map_error unless SQLITE_FORMAT. Finalizing
 * ends the statement wherever fn stopped it. */
static int read_stmt(data_db_t *h, sqlite3 *db, const data_stmt_t *s, const data_table_t *shape, data_row_fn fn,
                     void *arg, data_dberr_t *err, bool *broken)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, s->sql, (int)s->len, &st, NULL);
    if (rc == SQLITE_OK)
        rc = bind_params(st, s, err);
    if (rc == SQLITE_OK)
        rc = step_rows(st, shape, fn, arg, err);
    if (rc != SQLITE_DONE && rc != SQLITE_FORMAT)
        map_error(db, sqlite3_extended_errcode(db), h->conf, err, broken);
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_read(data_db_t *h, const data_read_t *rd, data_dberr_t *err)
{
    bool fresh, broken = false;
    char msg[200];
    sqlite3 *db = data_pool_take(h->pool, &fresh, msg, sizeof msg);
    int rc = SQLITE_DONE;

    if (db == NULL) {
        err->status = 503;
        snprintf(err->msg, sizeof err->msg, "database unavailable: %s", msg);
        return PH_ERROR;
    }
    /* A deferred transaction takes its snapshot at the count's first
     * read and keeps it for the rows (WAL: writers go on meanwhile). */
    if (rd->count != NULL && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        map_error(db, sqlite3_extended_errcode(db), h->conf, err, &broken);
        rc = SQLITE_ERROR;
    }
    if (rc == SQLITE_DONE && rd->count != NULL)
        rc = read_stmt(h, db, rd->count, NULL, rd->count_fn, rd->count_arg, err, &broken);
    if (rc == SQLITE_DONE)
        rc = read_stmt(h, db, rd->st, rd->shape, rd->fn, rd->arg, err, &broken);
    /* Read-only: COMMIT and ROLLBACK only end it; one still open would
     * hold its snapshot on the pooled connection. */
    if (sqlite3_get_autocommit(db) == 0 && sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        broken = true;
    data_pool_give(h->pool, db, broken);
    return rc == SQLITE_DONE ? PH_OK : PH_ERROR;
}

static void sqlite_close(data_db_t *h)
{
    if (h == NULL)
        return;
    data_pool_free(h->pool);
    pthread_mutex_destroy(&h->write_lock);
    free(h);
}

const data_db_ops_t data_sqlite_ops = {
    .name = "sqlite",
    .dialect = DATA_DIALECT_SQLITE,
    .open = sqlite_open,
    .exec = sqlite_exec,
    .read = sqlite_read,
    .close = sqlite_close,
};
