/*
 * Keys of a [route] section using the data plugin:
 *   database     = sqlite:PATH | postgresql://... | postgres://...   (required)
 *                  PATH is relative to the folder of server.ini; the URI is
 *                  a libpq connection URI, passed through unchanged
 *   schema       = FILE  SQL run to create the database: SQLite, when the
 *                  file is missing; PostgreSQL, when an exposed table is
 *                  missing. Relative to the folder of server.ini.
 *   tables       = a, b  exposed tables (default: none)
 *   read_only    = yes|no (default no)
 *   max_rows     = N     rows per listing at most, 1..1000000 (default 1000)
 *   max_body     = N     request body bytes at most (default 1048576)
 *   pool_size    = N     database connections at most, 1..256 (default 8)
 *   busy_timeout = MS    SQLite: wait this long for a lock before 503
 *                  (default 5000); PostgreSQL: connect timeout, rounded up
 *                  to seconds
 * Pure: no database, no files.
 */
#ifndef DATA_CONF_H
#define DATA_CONF_H

#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum data_backend {
    DATA_BACKEND_SQLITE,
    DATA_BACKEND_PG
} data_backend_t;

typedef struct data_conf {
    data_backend_t backend;
    char *target; /* SQLite: the file path, resolved; PG: the URI */
    char *schema; /* resolved path, or NULL */
    char **tables;
    size_t ntables;
    bool read_only;
    bool check;   /* a configuration test (PH_CREATE_CHECK): change nothing */
    int64_t max_rows;
    size_t max_body;
    unsigned pool_size;
    int busy_timeout_ms;
} data_conf_t;

/* Validates keys and fills *conf (free with data_conf_free, also after an
 * error). Unknown keys, bad values and a missing database are refused with
 * err->msg set and err->key the offending index (-1 for a missing key). */
int data_conf_parse(data_conf_t *conf, const char *config_dir, const ph_kv_t *keys, size_t nkeys,
                    ph_error_t *err);

void data_conf_free(data_conf_t *conf);

#endif
