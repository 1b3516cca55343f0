/* SQLite's FTS5 tables of the exposed tables: see data_sqlite_fts.h. */
#include "data_sqlite_fts.h"

#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Whether the CREATE statement sql makes an FTS5 virtual table. */
static bool is_fts5(const char *sql)
{
    if (sql == NULL || strncasecmp(sql, "CREATE VIRTUAL TABLE", 20) != 0)
        return false;
    for (const char *p = sql; *p; p++)
        if (strncasecmp(p, "USING", 5) == 0) {
            p += 5;
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
            return strncasecmp(p, "fts5", 4) == 0 && (p[4] == '(' || p[4] == ' ' || p[4] == '\0');
        }
    return false;
}

/* Whether t has rowids, which the FTS5 table's rowids name. */
static bool has_rowid(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st = NULL;
    char *sql = sqlite3_mprintf("SELECT rowid FROM \"%w\" LIMIT 0", table);
    bool ok = sql != NULL && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return ok;
}

static int failed(sqlite3 *db, sqlite3_stmt *st, const char *fts, char *err, size_t errlen)
{
    snprintf(err, errlen, "reading the full-text table \"%s\": %s", fts, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return PH_ERROR;
}

int data_sqlite_fts_read(sqlite3 *db, data_table_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char fts[256];
    bool found = false;
    int rc;

    if (snprintf(fts, sizeof fts, "%s_fts", t->name) >= (int)sizeof fts)
        return PH_OK; /* a name this long has no FTS5 table by this rule */
    rc = sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", -1,
                            &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        found = is_fts5((const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE)
        return failed(db, st, fts, err, errlen);
    sqlite3_finalize(st);
    if (!found || !has_rowid(db, t->name))
        return PH_OK;
    rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 0);
        const data_column_t *c = col ? data_table_column(t, col, strlen(col)) : NULL;
        rc = SQLITE_OK;
        if (c == NULL || (c->type != DATA_TYPE_TEXT && c->type != DATA_TYPE_ANY))
            continue;
        if (data_table_set_fts(t, col, fts) != PH_OK) {
            sqlite3_finalize(st);
            snprintf(err, errlen, "out of memory");
            return PH_ERROR;
        }
    }
    if (rc != SQLITE_DONE)
        return failed(db, st, fts, err, errlen);
    sqlite3_finalize(st);
    return PH_OK;
}
