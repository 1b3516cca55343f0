/*
 * Keys of a [route] section using the data plugin:
 *   database     = sqlite:PATH | postgresql://... | postgres://... |
 *                  mysql://... | mariadb://...   (required)
 *                  PATH is relative to the folder of server.ini; the
 *                  PostgreSQL URI is a libpq connection URI, passed through
 *                  unchanged; the MySQL one is checked here (data_myuri.h)
 *   schema       = FILE  SQL run to create the database: SQLite, when the
 *                  file is missing; PostgreSQL, when an exposed table is
 *                  missing. Relative to the folder of server.ini.
 *   tables       = a, b  exposed tables and views (default: none)
 *   functions    = f, g  PostgreSQL and MySQL: functions (and MySQL
 *                  procedures) exposed as /rpc/NAME (default: none)
 *   rpc.NAME     = SQL   SQLite: a named query exposed as /rpc/NAME
 *   read_only    = BOOL  (default no)
 *   unfiltered_writes = BOOL  PATCH and DELETE on a whole table without a
 *                  filter; refused (400) unless yes (default no)
 *   max_rows     = N     rows per listing at most, 1..1000000 (default 1000)
 *   max_body     = SIZE  request body bytes at most (default 1m)
 *   max_response_bytes = SIZE  bytes of one answer at most (default 64m)
 *   pool_size    = N     database connections at most, 1..256 (default 8)
 *   busy_timeout = DURATION  SQLite: wait this long for a lock before 503
 *                  (default 5s; a bare number is milliseconds, as it always
 *                  was for this key); PostgreSQL: connect timeout, rounded
 *                  up to seconds; MySQL: connect timeout and lock wait
 *                  timeout, rounded up to seconds
 *   retry_after  = DURATION  Retry-After of every 503, whole seconds
 *                  (default 1s)
 *   cors_origins, cors_methods, cors_headers, cors_max_age,
 *   cors_credentials: the cross-origin policy, see data_cors.h
 *   jwt_secret, jwt_key_file, jwt_aud, jwt_role_claim, anon_role, grant:
 *                  authentication and roles, see data_role.h
 * BOOL, SIZE and DURATION are parsed by the server's own parsers (the API's
 * parse_bool, parse_size, parse_duration), so they accept exactly what
 * server.ini's keys accept. Pure: no database, no files.
 */
#ifndef DATA_CONF_H
#define DATA_CONF_H

#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_role.h"

typedef enum data_backend {
    DATA_BACKEND_SQLITE,
    DATA_BACKEND_PG,
    DATA_BACKEND_MYSQL
} data_backend_t;

/* Methods as bits, for cors_methods. */
enum {
    DATA_M_GET = 1u << 0,
    DATA_M_HEAD = 1u << 1,
    DATA_M_POST = 1u << 2,
    DATA_M_PUT = 1u << 3,
    DATA_M_PATCH = 1u << 4,
    DATA_M_DELETE = 1u << 5,
};

/* The cross-origin policy (see data_cors.h). No origins: cross-site
 * writes are refused and no CORS header is ever sent. */
typedef struct data_cors_conf {
    char **origins;     /* serialized origins ("https://app.example"),
                           lower case, may write */
    size_t norigins;
    bool any_origin;    /* "*": every origin may read (GET, HEAD) */
    unsigned methods;   /* DATA_M_* the listed origins may use */
    char *methods_text; /* the same as an Access-Control-Allow-Methods value */
    char *headers_text; /* Access-Control-Allow-Headers value */
    unsigned max_age_s; /* Access-Control-Max-Age */
    bool credentials;   /* Access-Control-Allow-Credentials: true */
} data_cors_conf_t;

typedef struct data_conf {
    data_backend_t backend;
    char *target; /* SQLite: the file path, resolved; PG: the URI */
    char *schema; /* resolved path, or NULL */
    char **tables;
    size_t ntables;
    char **functions; /* functions = */
    size_t nfunctions;
    char **rpc_names, **rpc_sql; /* rpc.NAME = SQL, in order */
    size_t nrpc;
    bool read_only;
    bool unfiltered_writes;
    bool check;   /* a configuration test (PH_CREATE_CHECK): change nothing */
    int64_t max_rows;
    size_t max_body;
    size_t max_response_bytes;
    unsigned pool_size;
    int busy_timeout_ms;
    unsigned retry_after_s;
    data_cors_conf_t cors;
    data_role_conf_t roles; /* JWT and roles (data_role.h) */
} data_conf_t;

/* Validates keys and fills *conf (free with data_conf_free, also after an
 * error). api supplies the value parsers (parse_bool, parse_size,
 * parse_duration; ABI 1.2). Unknown keys, bad values and a missing database
 * are refused with err->msg set and err->key the offending index (-1 for a
 * missing key). */
int data_conf_parse(data_conf_t *conf, const ph_server_api_t *api, const char *config_dir,
                    const ph_kv_t *keys, size_t nkeys, ph_error_t *err);

void data_conf_free(data_conf_t *conf);

/* dir/path unless path is absolute (dir: the folder of server.ini);
 * malloc'ed, NULL when out of memory. */
char *data_conf_path(const char *dir, const char *path);

#endif
