/* Roles of the data API: see data_role.h. */
#include "data_role.h"
#include "data_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int refuse(ph_error_t *err, int key, const char *fmt, const char *what)
{
    snprintf(err->msg, sizeof err->msg, fmt, what);
    err->key = key;
    return PH_ERROR;
}


/* A role name: 1..DATA_ROLE_MAX bytes, no spaces or control bytes (it
 * travels in config lines and, on PostgreSQL, as a quoted identifier). */
static bool role_ok(const char *s, size_t len)
{
    if (len == 0 || len > DATA_ROLE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* One step of a role claim path at *p: ".name", ".\"quoted name\"" or
 * "[index]". Moves *p past it and returns the value it leads to in v
 * (NULL stays NULL, so a path can be checked without claims). false for
 * a malformed step. */
static bool path_step(const char **p, const json_t **v)
{
    const char *s = *p;
    char key[256];
    size_t n = 0;

    if (*s == '[') {
        char *end;
        long idx = strtol(s + 1, &end, 10);
        if (end == s + 1 || *end != ']' || idx < 0 || s[1] == '-' || s[1] == '+')
            return false;
        *v = *v ? json_array_get(*v, (size_t)idx) : NULL;
        *p = end + 1;
        return true;
    }
    if (*s != '.')
        return false;
    s++;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++)
            if (n + 1 < sizeof key)
                key[n++] = *s;
        if (*s != '"' || n == 0 || n + 1 >= sizeof key)
            return false;
        s++;
    } else {
        for (; *s && *s != '.' && *s != '[' && *s != '"'; s++)
            if (n + 1 < sizeof key)
                key[n++] = *s;
        if (n == 0 || n + 1 >= sizeof key || *s == '"')
            return false;
    }
    key[n] = '\0';
    *v = *v ? json_object_get(*v, key) : NULL;
    *p = s;
    return true;
}

/* Follows path (with its leading '.', or a bare name) from root; false
 * for a malformed path. */
static bool path_walk(const char *path, const json_t *root, const json_t **out)
{
    char dotted[200];
    if (path[0] != '.' && path[0] != '[') {
        int n = snprintf(dotted, sizeof dotted, ".%s", path);
        if (n < 0 || (size_t)n >= sizeof dotted)
            return false;
        path = dotted;
    }
    const json_t *v = root;
    const char *p = path;
    while (*p)
        if (!path_step(&p, &v))
            return false;
    *out = v;
    return true;
}

static const struct {
    const char *name;
    unsigned bits;
} METHODS[] = {{"GET", DATA_M_GET | DATA_M_HEAD}, {"HEAD", DATA_M_HEAD}, {"POST", DATA_M_POST},
               {"PUT", DATA_M_PUT},               {"PATCH", DATA_M_PATCH}, {"DELETE", DATA_M_DELETE}};

static unsigned method_bits(const char *s, size_t len)
{
    if (len == 1 && s[0] == '*')
        return DATA_M_GET | DATA_M_HEAD | DATA_M_POST | DATA_M_PUT | DATA_M_PATCH | DATA_M_DELETE;
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (strlen(METHODS[i].name) == len && memcmp(METHODS[i].name, s, len) == 0)
            return METHODS[i].bits;
    return 0;
}

static int add_grant(data_role_conf_t *c, const char *role, size_t rlen, const char *table, size_t tlen,
                     unsigned methods)
{
    data_grant_t *g = realloc(c->grants, (c->ngrants + 1) * sizeof *g);
    if (g == NULL)
        return PH_ERROR;
    c->grants = g;
    g[c->ngrants] = (data_grant_t){strndup(role, rlen), strndup(table, tlen), methods};
    if (g[c->ngrants].role == NULL || g[c->ngrants].table == NULL) {
        free(g[c->ngrants].role);
        free(g[c->ngrants].table);
        return PH_ERROR;
    }
    c->ngrants++;
    return PH_OK;
}

/* "ROLE TABLE:METHODS [TABLE:METHODS ...]" */
static int parse_grant(data_role_conf_t *c, const char *v, int key, ph_error_t *err)
{
    const char *p = v + strspn(v, " \t");
    size_t rlen = strcspn(p, " \t");
    const char *role = p;
    size_t items = 0;

    if (!role_ok(role, rlen) || memchr(role, ':', rlen) != NULL)
        return refuse(err, key, "grant: expected ROLE TABLE:METHODS ..., got \"%.100s\"", v);
    for (p += rlen; *(p += strspn(p, " \t")) != '\0'; items++) {
        size_t len = strcspn(p, " \t");
        const char *colon = memchr(p, ':', len);
        if (colon == NULL || colon == p || colon + 1 == p + len)
            return refuse(err, key, "grant: expected TABLE:METHODS (notes:GET,POST), got \"%.60s\"", p);
        unsigned bits = 0;
        for (const char *m = colon + 1; m < p + len;) {
            size_t mlen = strcspn(m, ",");
            if (m + mlen > p + len)
                mlen = (size_t)(p + len - m);
            unsigned b = method_bits(m, mlen);
            if (b == 0)
                return refuse(err, key, "grant: methods are GET, HEAD, POST, PUT, PATCH, DELETE or *, "
                              "got \"%.60s\"", colon + 1);
            bits |= b;
            m += mlen + (m + mlen < p + len);
        }
        if (add_grant(c, role, rlen, p, (size_t)(colon - p), bits) != PH_OK)
            return refuse(err, key, "out of memory%s", "");
        p += len;
    }
    if (items == 0)
        return refuse(err, key, "grant: expected ROLE TABLE:METHODS ..., got \"%.100s\"", v);
    return PH_OK;
}

static int set_string(char **dst, const char *v, int key, const char *name, ph_error_t *err)
{
    if (v[0] == '\0')
        return refuse(err, key, "%s: expected a value", name);
    free(*dst);
    *dst = strdup(v);
    return *dst ? PH_OK : refuse(err, key, "out of memory%s", "");
}

int data_role_conf_key(data_role_conf_t *c, const char *dir, const ph_kv_t *kv, int key, bool *mine,
                       ph_error_t *err)
{
    const char *k = kv->key, *v = kv->value;
    const json_t *unused;

    *mine = true;
    if (strcmp(k, "jwt_secret") == 0) {
        free(c->jwt_secret);
        free(c->jwt_secret_file);
        c->jwt_secret = c->jwt_secret_file = NULL;
        if (v[0] == '@') {
            if (v[1] == '\0')
                return refuse(err, key, "jwt_secret: @ needs a file name%s", "");
            c->jwt_secret_file = data_conf_path(dir, v + 1);
            return c->jwt_secret_file ? PH_OK : refuse(err, key, "out of memory%s", "");
        }
        /* PostgREST's minimum: shorter HS256 secrets can be guessed (a
         * base64 one is measured again once decoded, by data_jwt.c) */
        if (strlen(v) < 32)
            return refuse(err, key, "jwt_secret: at least 32 bytes are needed (or @FILE)%s", "");
        return set_string(&c->jwt_secret, v, key, k, err);
    }
    if (strcmp(k, "jwt_key_file") == 0) {
        if (v[0] == '\0')
            return refuse(err, key, "jwt_key_file: expected a PEM file name%s", "");
        if (c->nkey_files >= 8)
            return refuse(err, key, "jwt_key_file: at most 8 keys%s", "");
        char **t = realloc(c->key_files, (c->nkey_files + 1) * sizeof *t);
        if (t == NULL)
            return refuse(err, key, "out of memory%s", "");
        c->key_files = t;
        if ((t[c->nkey_files] = data_conf_path(dir, v)) == NULL)
            return refuse(err, key, "out of memory%s", "");
        c->nkey_files++;
        return PH_OK;
    }
    if (strcmp(k, "jwt_aud") == 0)
        return set_string(&c->aud, v, key, k, err);
    if (strcmp(k, "jwt_role_claim") == 0) {
        if (!path_walk(v, NULL, &unused) || v[0] == '\0')
            return refuse(err, key, "jwt_role_claim: expected a path such as .role, .app.role, "
                          ".\"https://example.com/role\" or .roles[0], got \"%.80s\"", v);
        return set_string(&c->role_claim, v, key, k, err);
    }
    if (strcmp(k, "anon_role") == 0) {
        if (!role_ok(v, strlen(v)))
            return refuse(err, key, "anon_role: expected a role name (1 to 63 bytes, no spaces), got \"%.80s\"", v);
        return set_string(&c->anon_role, v, key, k, err);
    }
    if (strcmp(k, "grant") == 0)
        return parse_grant(c, v, key, err);
    *mine = false;
    return PH_OK;
}

int data_role_conf_finish(const data_role_conf_t *c, char *const *tables, size_t ntables, ph_error_t *err)
{
    for (size_t i = 0; i < c->ngrants; i++) {
        const char *t = c->grants[i].table;
        bool found = strcmp(t, "*") == 0;
        for (size_t j = 0; j < ntables && !found; j++)
            found = strcmp(tables[j], t) == 0;
        if (!found)
            return refuse(err, -1, "grant: \"%.60s\" is not one of the exposed tables", t);
    }
    if (c->ngrants > 0 && !data_role_enabled(c))
        return refuse(err, -1, "grant needs jwt_secret, jwt_key_file or anon_role%s", "");
    return PH_OK;
}

void data_role_conf_free(data_role_conf_t *c)
{
    free(c->jwt_secret);
    free(c->jwt_secret_file);
    for (size_t i = 0; i < c->nkey_files; i++)
        free(c->key_files[i]);
    free(c->key_files);
    free(c->aud);
    free(c->role_claim);
    free(c->anon_role);
    for (size_t i = 0; i < c->ngrants; i++) {
        free(c->grants[i].role);
        free(c->grants[i].table);
    }
    free(c->grants);
    memset(c, 0, sizeof *c);
}

bool data_role_enabled(const data_role_conf_t *c)
{
    return c->jwt_secret || c->jwt_secret_file || c->nkey_files > 0 || c->anon_role;
}

bool data_role_allows(const data_role_conf_t *c, const char *role, const char *table, unsigned method)
{
    for (size_t i = 0; i < c->ngrants; i++) {
        const data_grant_t *g = &c->grants[i];
        if ((g->methods & method) && strcmp(g->role, role) == 0 &&
            (strcmp(g->table, "*") == 0 || strcmp(g->table, table) == 0))
            return true;
    }
    return false;
}

const json_t *data_role_claim(const data_role_conf_t *c, const json_t *claims)
{
    const json_t *v = NULL;
    if (!path_walk(c->role_claim ? c->role_claim : ".role", claims, &v))
        return NULL;
    return v;
}
