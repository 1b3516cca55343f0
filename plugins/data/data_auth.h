/*
 * Who a request to the data API is, PostgREST's way: the role of the JWT
 * in "Authorization: Bearer <token>" (data_jwt.h verifies it; the role is
 * found at jwt_role_claim, data_role.h), or without a token the anonymous
 * role (anon_role). The claims, with "role" set to the role, become the
 * text PostgreSQL sees as request.jwt.claims.
 */
#ifndef DATA_AUTH_H
#define DATA_AUTH_H

#include <plughttpd/plugin.h>
#include <stdbool.h>

#include "data_jwt.h"
#include "data_role.h"

typedef struct data_auth {
    const char *role;   /* NULL: the route does not authenticate */
    const char *claims; /* JSON object text, for request.jwt.claims */
    bool anonymous;     /* the role is anon_role: a refusal is 401, not 403 */
} data_auth_t;

/* Why a request was refused: status (401, or 500 for a token on a route
 * with anon_role but no key), PostgREST's code and message, details (or
 * ""), and the WWW-Authenticate value to send (RFC 6750). */
typedef struct data_auth_err {
    int status;
    const char *code;
    const char *msg;
    char details[128];
    char www[160];
} data_auth_err_t;

/* Fills *a for req (its strings live in the request's memory), or answers
 * PH_ERROR with *e filled. keys: data_jwt_keys_load() of c (NULL without
 * a key). */
int data_auth_request(const data_role_conf_t *c, const data_jwt_keys_t *keys, const ph_server_api_t *api,
                      ph_request_t *req, data_auth_t *a, data_auth_err_t *e);

#endif
