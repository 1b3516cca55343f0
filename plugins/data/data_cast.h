/*
 * Casts in select lists ("col::text"): the types a client may name, per
 * backend. A cast reaches SQL only as the spelling from this table, never
 * as the client's text, so the whitelist is the whole defence: a type not
 * listed for the backend is refused (400) before any SQL is built.
 */
#ifndef DATA_CAST_H
#define DATA_CAST_H

#include <stddef.h>

#include "data_dialect.h"
#include "data_schema.h"

typedef struct data_cast {
    const char *name; /* as the client writes it, lower case */
    const char *sql;  /* type name inside CAST(... AS <sql>) */
    data_type_t type; /* JSON typing of the result */
} data_cast_t;

/* The cast named name (len bytes, exact lower case) in dialect d, or NULL
 * when it is not allowed there. */
const data_cast_t *data_cast_find(data_dialect_t d, const char *name, size_t len);

/* The names allowed in d, comma-separated, for error hints. Static. */
const char *data_cast_names(data_dialect_t d);

#endif
