/*
 * SQLite's full-text indexes for the data plugin (data_fts.h): found when
 * the schema is read, by name. The FTS5 table of table T is the virtual
 * table T_fts (created USING fts5) whose rowids are T's rowids: an
 * external-content table (content='T', content_rowid= T's INTEGER PRIMARY
 * KEY) kept in step by triggers, or any FTS5 table the application fills
 * with T's rowids. Each column of T whose name is a column of T_fts can be
 * searched.
 */
#ifndef DATA_SQLITE_FTS_H
#define DATA_SQLITE_FTS_H

#include <sqlite3.h>
#include <stddef.h>

#include "data_schema.h"

/* Marks the columns of t (read already) that t's FTS5 table indexes. A
 * table without one, or without rowids (WITHOUT ROWID), gets none. PH_OK,
 * or PH_ERROR with a message in err. */
int data_sqlite_fts_read(sqlite3 *db, data_table_t *t, char *err, size_t errlen);

#endif
