/* Cast whitelist: see data_cast.h. */
#include "data_cast.h"

#include <string.h>

/* SQLite has storage classes, not types: these are the casts that change
 * how a value is stored and therefore how it is written as JSON. */
static const data_cast_t sqlite_casts[] = {
    {"text", "TEXT", DATA_TYPE_TEXT},       {"integer", "INTEGER", DATA_TYPE_INTEGER},
    {"int", "INTEGER", DATA_TYPE_INTEGER},  {"bigint", "INTEGER", DATA_TYPE_INTEGER},
    {"real", "REAL", DATA_TYPE_REAL},       {"float8", "REAL", DATA_TYPE_REAL},
    {"numeric", "NUMERIC", DATA_TYPE_REAL},
};

/* PostgreSQL: built-in scalar types without side effects on input. The
 * JSON typing comes from the result's type OID, not from here. */
static const data_cast_t pg_casts[] = {
    {"text", "text", DATA_TYPE_TEXT},         {"integer", "integer", DATA_TYPE_INTEGER},
    {"int", "integer", DATA_TYPE_INTEGER},    {"int4", "integer", DATA_TYPE_INTEGER},
    {"bigint", "bigint", DATA_TYPE_INTEGER},  {"int8", "bigint", DATA_TYPE_INTEGER},
    {"smallint", "smallint", DATA_TYPE_INTEGER}, {"real", "real", DATA_TYPE_REAL},
    {"float8", "double precision", DATA_TYPE_REAL}, {"numeric", "numeric", DATA_TYPE_REAL},
    {"boolean", "boolean", DATA_TYPE_BOOL},   {"bool", "boolean", DATA_TYPE_BOOL},
    {"date", "date", DATA_TYPE_TEXT},         {"timestamptz", "timestamptz", DATA_TYPE_TEXT},
    {"json", "json", DATA_TYPE_TEXT},         {"uuid", "uuid", DATA_TYPE_TEXT},
};

/* MySQL/MariaDB: CAST knows only a few target types. numeric is left out
 * (CAST AS DECIMAL without a precision rounds to an integer), and so are
 * boolean and json, which are not CAST targets there. */
static const data_cast_t mysql_casts[] = {
    {"text", "CHAR", DATA_TYPE_TEXT},         {"integer", "SIGNED", DATA_TYPE_INTEGER},
    {"int", "SIGNED", DATA_TYPE_INTEGER},     {"int4", "SIGNED", DATA_TYPE_INTEGER},
    {"bigint", "SIGNED", DATA_TYPE_INTEGER},  {"int8", "SIGNED", DATA_TYPE_INTEGER},
    {"smallint", "SIGNED", DATA_TYPE_INTEGER}, {"real", "DOUBLE", DATA_TYPE_REAL},
    {"float8", "DOUBLE", DATA_TYPE_REAL},     {"date", "DATE", DATA_TYPE_TEXT},
};

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

const data_cast_t *data_cast_find(data_dialect_t d, const char *name, size_t len)
{
    const data_cast_t *t = d == DATA_DIALECT_PG ? pg_casts : d == DATA_DIALECT_MYSQL ? mysql_casts : sqlite_casts;
    size_t n = d == DATA_DIALECT_PG ? COUNT(pg_casts) : d == DATA_DIALECT_MYSQL ? COUNT(mysql_casts)
                                                                              : COUNT(sqlite_casts);
    for (size_t i = 0; i < n; i++)
        if (strlen(t[i].name) == len && memcmp(t[i].name, name, len) == 0)
            return &t[i];
    return NULL;
}

const char *data_cast_names(data_dialect_t d)
{
    if (d == DATA_DIALECT_PG)
        return "text, integer, int, int4, bigint, int8, smallint, real, float8, numeric, "
               "boolean, bool, date, timestamptz, json, uuid";
    if (d == DATA_DIALECT_MYSQL)
        return "text, integer, int, int4, bigint, int8, smallint, real, float8, date";
    return "text, integer, int, bigint, real, float8, numeric";
}
