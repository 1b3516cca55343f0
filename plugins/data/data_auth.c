/* Who a request is: see data_auth.h. */
#include "data_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int refuse(data_auth_err_t *e, int status, const char *code, const char *msg, const char *details)
{
    e->status = status;
    e->code = code;
    e->msg = msg;
    snprintf(e->details, sizeof e->details, "%s", details ? details : "");
    if (status != 401)
        e->www[0] = '\0';
    else if (strcmp(code, "PGRST302") == 0)
        snprintf(e->www, sizeof e->www, "Bearer");
    else
        snprintf(e->www, sizeof e->www, "Bearer error=\"invalid_token\", error_description=\"%s\"", msg);
    return PH_ERROR;
}

/* A copy of s in the request's memory. */
static const char *keep(const ph_server_api_t *api, ph_request_t *req, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = api->alloc(req, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* Sets a's role and its claims text (claims with "role" set; NULL: an
 * object of the role alone). */
static int settle(const ph_server_api_t *api, ph_request_t *req, const data_role_conf_t *c, const char *role,
                  json_t *claims, data_auth_t *a, data_auth_err_t *e)
{
    /* role may be a string inside claims, which setting "role" frees:
     * copy it first. */
    a->role = keep(api, req, role);
    json_t *obj = claims ? json_incref(claims) : json_object();
    char *text = NULL;
    if (obj != NULL && a->role != NULL && json_object_set_new(obj, "role", json_string(a->role)) == 0)
        text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    a->claims = text ? keep(api, req, text) : NULL;
    a->anonymous = c->anon_role != NULL && a->role != NULL && strcmp(a->role, c->anon_role) == 0;
    free(text);
    if (a->role == NULL || a->claims == NULL)
        return refuse(e, 500, "PGRST000", "out of memory", NULL);
    return PH_OK;
}

/* The token of an "Authorization: Bearer <token>" value, or NULL. */
static const char *bearer(ph_str_t v, size_t *len)
{
    if (v.len < 6 || strncasecmp(v.ptr, "Bearer", 6) != 0 || (v.len > 6 && v.ptr[6] != ' '))
        return NULL;
    const char *p = v.ptr + 6, *end = v.ptr + v.len;
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    *len = (size_t)(end - p);
    return p;
}

static bool role_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DATA_ROLE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int data_auth_request(const data_role_conf_t *c, const data_jwt_keys_t *keys, const ph_server_api_t *api,
                      ph_request_t *req, data_auth_t *a, data_auth_err_t *e)
{
    ph_str_t h;
    size_t len = 0;
    data_jwt_err_t je;
    json_t *claims;

    *a = (data_auth_t){0};
    if (!data_role_enabled(c))
        return PH_OK;
    if (!api->header(req, "Authorization", &h)) {
        if (c->anon_role == NULL)
            return refuse(e, 401, "PGRST302", "Anonymous access is disabled", NULL);
        return settle(api, req, c, c->anon_role, NULL, a, e);
    }
    if (keys == NULL)
        return refuse(e, 500, "PGRST300", "Server lacks JWT secret", NULL);
    const char *tok = bearer(h, &len);
    if (tok == NULL)
        return refuse(e, 401, "PGRST301", "Empty JWT is sent in Authorization header",
                      "the Authorization header does not hold a Bearer token");
    if (data_jwt_verify(keys, tok, len, (int64_t)time(NULL), c->aud, &claims, &je) != PH_OK)
        return refuse(e, 401, je.code, je.msg, je.details[0] ? je.details : NULL);
    const json_t *r = data_role_claim(c, claims);
    const char *role = json_is_string(r) ? json_string_value(r) : NULL;
    int rc;
    if (r != NULL && !json_is_null(r) && (role == NULL || !role_name_ok(role)))
        rc = refuse(e, 401, "PGRST303", "Parsing claims failed",
                    "the role claim must be a role name (a string of 1 to 63 bytes)");
    else if (role == NULL && c->anon_role == NULL)
        rc = refuse(e, 401, "PGRST302", "Anonymous access is disabled", "the token names no role");
    else
        rc = settle(api, req, c, role ? role : c->anon_role, claims, a, e);
    json_decref(claims);
    return rc;
}
