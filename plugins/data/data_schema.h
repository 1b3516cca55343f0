/*
 * Schema model of the data plugin: the exposed tables, their columns, the
 * type class of every column and the one-column primary key.
 *
 * The schema is read from the database once, in create(), and is read-only
 * afterwards, so request threads share it without locks. Table and column
 * names that reach SQL text come only from here, never from a request.
 */
#ifndef DATA_SCHEMA_H
#define DATA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/* How values of a column are typed in JSON and bound as parameters. */
typedef enum data_type {
    DATA_TYPE_ANY,     /* SQLite column without a declared type          */
    DATA_TYPE_INTEGER, /* JSON integer                                   */
    DATA_TYPE_REAL,    /* JSON number                                    */
    DATA_TYPE_TEXT,    /* JSON string (also dates, uuids, ...)           */
    DATA_TYPE_BLOB,    /* JSON string holding base64                     */
    DATA_TYPE_BOOL,    /* JSON true/false                                */
    DATA_TYPE_JSON     /* JSON text the database built (embedded rows)   */
} data_type_t;

typedef struct data_column {
    char *name;
    char *decl;       /* declared type as the database reports it */
    data_type_t type;
    bool notnull;
    bool has_default; /* a default, identity or rowid alias fills it */
    bool pk;
    char *dflt_sql;   /* SQLite: the default's SQL expression, else NULL */
    char *fts;        /* the full-text index of this column (data_fts.h): SQLite
                         the FTS5 table, MySQL the FULLTEXT index; else NULL */
} data_column_t;

/* A one-column foreign key as the database reports it, before
 * data_schema_link resolves it: names only, all owned. ref_col NULL means
 * the referenced table's primary key. */
typedef struct data_fk {
    char *name, *col, *ref_table, *ref_col;
} data_fk_t;

struct data_table;

/* A relationship usable for embedding, seen from one table: through a
 * foreign key of this table (to_one: at most one row of other) or of other
 * (one-to-many). col is this table's column of the pair, other_col the
 * other's; fk names the constraint (SQLite: the FK column). Built by
 * data_schema_link; the pointers stay valid as long as the schema. */
typedef struct data_rel {
    const struct data_table *other;
    const data_column_t *col;
    const data_column_t *other_col;
    bool to_one;
    const char *fk;
} data_rel_t;

/* data_table_t.pk of a table without a primary key (a view). */
#define DATA_NO_PK ((size_t)-1)

typedef struct data_table {
    char *name;
    data_column_t *cols;
    size_t ncols;
    size_t pk; /* index into cols of the primary key, or DATA_NO_PK */
    /* A view (data_table_finish_view): no primary key, so no item routes;
     * view_writes holds the DATA_M_* write methods the database can run
     * on it (POST, PATCH, DELETE), 0 when it is read-only. */
    bool view;
    unsigned view_writes;
    /* When set, the SQL text SELECTs read FROM instead of the quoted name:
     * a derived table or a function call aliased as name (data_rpc.h).
     * Borrowed; never set on the schema's own tables. */
    const char *from_sql;
    data_fk_t *fks;
    size_t nfks;
    data_rel_t *rels;
    size_t nrels;
} data_table_t;

struct data_rpc;

typedef struct data_schema {
    data_table_t *tables;
    size_t ntables;
    /* Where the backend's open() puts the callable functions (data_rpc.h);
     * set by the caller before open, owned by the caller. */
    struct data_rpc *rpc;
} data_schema_t;

/* "integer", "real", "text", "blob", "boolean" or "any". */
const char *data_type_name(data_type_t type);

/* Type class of a SQLite declared type, by SQLite's affinity rules, with
 * BOOL* read as boolean and DATE/TIME* as text. NULL or "" gives ANY. */
data_type_t data_type_from_sqlite(const char *decl);

/* Type class of a PostgreSQL type name (pg_type.typname). */
data_type_t data_type_from_pg(const char *typname);

/* Appends an empty table named name. Returns it, or NULL when out of
 * memory. The pointer is valid until the next add. */
data_table_t *data_schema_add_table(data_schema_t *schema, const char *name);

/* Appends a column; strings are copied. PH_OK or PH_ERROR (memory). */
int data_table_add_column(data_table_t *table, const char *name, const char *decl,
                          data_type_t type, bool notnull, bool has_default, bool pk);

/* Sets the default expression (SQL text from the database's own schema)
 * of the column added last. PH_OK or PH_ERROR (memory). */
int data_table_set_default(data_table_t *table, const char *sql);

/* Records that the full-text index named index (copied) covers the
 * column named col of table; no such column: nothing. PH_OK or PH_ERROR
 * (memory). */
int data_table_set_fts(data_table_t *table, const char *col, const char *index);

/* Records a one-column foreign key of table (strings copied; name and
 * ref_col may be NULL). PH_OK or PH_ERROR (memory). */
int data_table_add_fk(data_table_t *table, const char *name, const char *col, const char *ref_table,
                      const char *ref_col);

/* Once every table is read: turns the foreign keys into relationships on
 * both of their tables. A key whose referenced table is not exposed (or
 * whose columns are unknown) gives none, so embedding reaches exposed
 * tables only. The tables must not move afterwards. PH_OK or PH_ERROR
 * (memory). */
int data_schema_link(data_schema_t *schema);

/* Checks the table has columns and exactly one primary-key column, and
 * records it. PH_OK, or PH_ERROR with a message in err. */
int data_table_finish(data_table_t *table, char *err, size_t errlen);

/* The same for a view: columns are required, a primary key is not (pk
 * becomes DATA_NO_PK); view_writes is set by the caller. */
int data_table_finish_view(data_table_t *table, char *err, size_t errlen);

/* Lookups by exact, case-sensitive name (len bytes, need not be
 * NUL-terminated). NULL when absent. */
const data_table_t *data_schema_find(const data_schema_t *schema, const char *name, size_t len);
const data_column_t *data_table_column(const data_table_t *table, const char *name, size_t len);

/* Frees everything the schema owns and leaves it empty. */
void data_schema_free(data_schema_t *schema);

/* The whole schema file at path (the route's schema key), NUL-terminated,
 * for the backend to run; the caller frees it. Read to its end rather than
 * by its size, which a pipe does not have. NULL with "schema PATH: reason"
 * in err on failure. */
char *data_schema_file(const char *path, char *err, size_t errlen);

#endif
