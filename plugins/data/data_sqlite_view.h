/*
 * SQLite views written through INSTEAD OF triggers. SQLite runs a
 * trigger on a view only INSTEAD OF the statement (a view has no BEFORE or
 * AFTER triggers), so every trigger whose table is the view names, after
 * "INSTEAD OF", the write it stands for: INSERT, UPDATE (of some columns or
 * all) or DELETE. A view takes exactly those writes (POST, PATCH, DELETE).
 */
#ifndef DATA_SQLITE_VIEW_H
#define DATA_SQLITE_VIEW_H

#include <sqlite3.h>

/* The DATA_M_* bit (data_conf.h) of the write the trigger text sql
 * ("CREATE TRIGGER ... INSTEAD OF INSERT ON ...", as sqlite_schema keeps
 * it; comments and any spacing allowed) stands for, 0 when sql names
 * none. Pure. */
unsigned data_sqlite_view_trigger(const char *sql);

/* The DATA_M_* writes the triggers on view name cover; 0 when it has none
 * or the schema cannot be read (the view is then read-only). */
unsigned data_sqlite_view_writes(sqlite3 *db, const char *name);

#endif
