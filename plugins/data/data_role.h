/*
 * Roles of the data API, PostgREST's model: who a request is (the role of
 * its JWT, or the anonymous role) and, on backends without roles of their
 * own, what each role may do. Keys of a [route] section:
 *
 *   jwt_secret     = TEXT | @FILE   HS256 secret, at least 32 bytes; @FILE
 *                    reads it from a file (relative to the folder of
 *                    server.ini; one trailing newline is dropped); JSON
 *                    text is a JSON Web Key or key set (data_jwt.h)
 *   (jwt_secret_is_base64 = yes|no, the secret is base64 in either
 *   alphabet, is read by data_conf.c, which parses booleans)
 *   jwt_key_file   = FILE  a PEM public key: RSA (RS256, 2048 bits or
 *                    more) or EC P-256 (ES256); may repeat (key rotation)
 *   jwt_aud        = TEXT  a token with an "aud" claim must name it
 *   jwt_role_claim = PATH  where the role is in the claims, PostgREST's
 *                    jwt-role-claim-key: .role (default), .app.role,
 *                    ."https://example.com/role", .roles[0]; a bare name
 *                    is the same as .name
 *   anon_role      = ROLE  the role of requests without a token; without
 *                    it such a request is 401 once a key is configured
 *   grant          = ROLE TABLE:METHODS [TABLE:METHODS ...]  what ROLE may
 *                    do: TABLE an exposed table or *, METHODS a comma list
 *                    of GET POST PUT PATCH DELETE or * (GET includes
 *                    HEAD). May repeat, for one role or several; grants
 *                    add up.
 *
 * Pure: parsing and lookups only. Files are read by data_jwt.c.
 */
#ifndef DATA_ROLE_H
#define DATA_ROLE_H

#include <jansson.h>
#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stddef.h>

/* One grant: role may use methods (DATA_M_* bits) on table ("*": every
 * exposed table). */
typedef struct data_grant {
    char *role;
    char *table;
    unsigned methods;
} data_grant_t;

typedef struct data_role_conf {
    char *jwt_secret;      /* the secret itself, or NULL */
    char *jwt_secret_file; /* resolved path of @FILE, or NULL */
    bool jwt_secret_is_base64;
    char **key_files;      /* resolved paths */
    size_t nkey_files;
    char *aud;             /* NULL: any audience */
    char *role_claim;      /* the path as given, NULL: .role */
    char *anon_role;       /* NULL: no anonymous access */
    data_grant_t *grants;
    size_t ngrants;
} data_role_conf_t;

/* Longest role name (PostgreSQL's NAMEDATALEN - 1). */
#define DATA_ROLE_MAX 63

/* Parses kv when it is one of the keys above: *mine tells whether it was.
 * PH_ERROR with err filled (err->key = key) for a bad value. dir: the
 * folder of server.ini, for relative paths. */
int data_role_conf_key(data_role_conf_t *c, const char *dir, const ph_kv_t *kv, int key, bool *mine,
                       ph_error_t *err);

/* Checks the keys together once all are read: every grant names one of
 * the exposed tables (or *). PH_ERROR with err filled (key -1). */
int data_role_conf_finish(const data_role_conf_t *c, char *const *tables, size_t ntables, ph_error_t *err);

void data_role_conf_free(data_role_conf_t *c);

/* Whether the route authenticates requests at all: a key or anon_role. */
bool data_role_enabled(const data_role_conf_t *c);

/* Whether role may use the method (a DATA_M_* bit) on table. */
bool data_role_allows(const data_role_conf_t *c, const char *role, const char *table, unsigned method);

/* The value at c's role claim path in claims (borrowed), or NULL when the
 * path leads nowhere. */
const json_t *data_role_claim(const data_role_conf_t *c, const json_t *claims);

#endif
