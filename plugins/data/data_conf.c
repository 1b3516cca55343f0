/* Route keys of the data plugin: see data_conf.h. */
#include "data_conf.h"
#include "data_myuri.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int refuse(ph_error_t *err, int key, const char *fmt, const char *what)
{
    snprintf(err->msg, sizeof err->msg, fmt, what);
    err->key = key;
    return PH_ERROR;
}

char *data_conf_path(const char *dir, const char *path)
{
    if (path[0] == '/' || dir == NULL || dir[0] == '\0')
        return strdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%s/%s", dir, path);
    return out;
}

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return PH_ERROR;
    *out = v;
    return PH_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* A comma-separated list of names into *list (what names them, for
 * messages): tables, functions. */
static int parse_names(char ***list, size_t *n, const char *what, const char *v, int key, ph_error_t *err)
{
    const char *p = v;
    while (*p) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        if (a == b)
            return refuse(err, key, strcmp(what, "tables") == 0 ? "tables: empty table name in \"%s\""
                                                                : "functions: empty function name in \"%s\"", v);
        char *name = strndup(a, (size_t)(b - a));
        char **t = name ? realloc(*list, (*n + 1) * sizeof *t) : NULL;
        if (t == NULL) {
            free(name);
            return refuse(err, key, "out of memory%s", "");
        }
        *list = t;
        t[(*n)++] = name;
        for (size_t i = 0; i + 1 < *n; i++)
            if (strcmp(t[i], name) == 0)
                return refuse(err, key, strcmp(what, "tables") == 0 ? "tables: \"%s\" listed twice"
                                                                    : "functions: \"%s\" listed twice", name);
        p = *end ? end + 1 : end;
    }
    return PH_OK;
}

static int parse_tables(data_conf_t *conf, const char *v, int key, ph_error_t *err)
{
    return parse_names(&conf->tables, &conf->ntables, "tables", v, key, err);
}

/* rpc.NAME = SQL: a named query of an SQLite route (data_rpc.h). */
static int parse_rpc(data_conf_t *conf, const char *name, const char *v, int key, ph_error_t *err)
{
    if (name[0] == '\0' || v[0] == '\0')
        return refuse(err, key, "rpc.NAME = SQL: a name and a query are needed%s", "");
    for (size_t i = 0; i < conf->nrpc; i++)
        if (strcmp(conf->rpc_names[i], name) == 0)
            return refuse(err, key, "rpc.%s given twice", name);
    char **n = realloc(conf->rpc_names, (conf->nrpc + 1) * sizeof *n);
    if (n != NULL)
        conf->rpc_names = n;
    char **q = n ? realloc(conf->rpc_sql, (conf->nrpc + 1) * sizeof *q) : NULL;
    if (q != NULL)
        conf->rpc_sql = q;
    char *a = q ? strdup(name) : NULL, *b = a ? strdup(v) : NULL;
    if (b == NULL) {
        free(a);
        return refuse(err, key, "out of memory%s", "");
    }
    conf->rpc_names[conf->nrpc] = a;
    conf->rpc_sql[conf->nrpc++] = b;
    return PH_OK;
}

static int parse_database(data_conf_t *conf, const char *dir, const char *v, int key,
                          ph_error_t *err)
{
    if (strncmp(v, "sqlite:", 7) == 0) {
        if (v[7] == '\0')
            return refuse(err, key, "database: sqlite: needs a file path%s", "");
        conf->backend = DATA_BACKEND_SQLITE;
        conf->target = data_conf_path(dir, v + 7);
    } else if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0) {
        conf->backend = DATA_BACKEND_PG;
        conf->target = strdup(v);
    } else if (strncmp(v, "mysql://", 8) == 0 || strncmp(v, "mariadb://", 10) == 0) {
        data_myuri_t u;
        char msg[160];
        if (data_myuri_parse(v, &u, msg, sizeof msg) != PH_OK)
            return refuse(err, key, "database: %s", msg);
        data_myuri_free(&u);
        conf->backend = DATA_BACKEND_MYSQL;
        conf->target = strdup(v);
    } else {
        return refuse(err, key, "database: expected sqlite:PATH, postgresql://... or mysql://..., "
                      "got \"%.100s\"", v);
    }
    if (conf->target == NULL)
        return refuse(err, key, "out of memory%s", "");
    return PH_OK;
}

/* One list item of a cors_* key: items are separated by spaces or commas. */
typedef int (*item_fn)(data_conf_t *conf, const char *item, size_t len, int key, ph_error_t *err);

static int each_item(data_conf_t *conf, const ph_kv_t *kv, int key, item_fn fn, ph_error_t *err)
{
    size_t n = 0;
    for (const char *p = kv->value; *p;) {
        size_t len = strcspn(p, " \t,");
        if (len > 0) {
            if (fn(conf, p, len, key, err) != PH_OK)
                return PH_ERROR;
            n++;
        }
        p += len;
        p += strspn(p, " \t,");
    }
    if (n == 0)
        return refuse(err, key, "%s: expected at least one value", kv->key);
    return PH_OK;
}

static bool is_origin_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '[' || c == ']' || c == ':';
}

/* A serialized origin, as browsers send it in Origin: scheme "://" host
 * [":" port], lower case, no default port, no path. */
static int origin_item(data_conf_t *conf, const char *item, size_t len, int key, ph_error_t *err)
{
    data_cors_conf_t *c = &conf->cors;
    char o[256] = "";
    if (len == 1 && item[0] == '*') {
        c->any_origin = true;
        return PH_OK;
    }
    if (len >= sizeof o)
        return refuse(err, key, "cors_origins: origin too long: \"%.60s\"", item);
    for (size_t i = 0; i < len; i++)
        o[i] = (char)tolower((unsigned char)item[i]);
    o[len] = '\0';
    const char *host = strncmp(o, "https://", 8) == 0 ? o + 8 : strncmp(o, "http://", 7) == 0 ? o + 7 : NULL;
    if (host == NULL || *host == '\0' || *host == ':')
        return refuse(err, key, "cors_origins: expected http://HOST[:PORT] or https://HOST[:PORT] "
                      "or *, got \"%.100s\"", o);
    for (const char *p = host; *p; p++)
        if (!is_origin_host_char(*p))
            return refuse(err, key, "cors_origins: \"%.100s\" is not an origin (no path, no slash)", o);
    const char *port = strrchr(host, ':');
    if (port != NULL && strchr(port, ']') == NULL &&
        ((host == o + 8 && strcmp(port, ":443") == 0) || (host == o + 7 && strcmp(port, ":80") == 0)))
        return refuse(err, key, "cors_origins: browsers send \"%.100s\" without its default port", o);
    char *dup = strdup(o);
    char **t = dup ? realloc(c->origins, (c->norigins + 1) * sizeof *t) : NULL;
    if (t == NULL) {
        free(dup);
        return refuse(err, key, "out of memory%s", "");
    }
    c->origins = t;
    t[c->norigins++] = dup;
    return PH_OK;
}

static const struct {
    const char *name;
    unsigned bit;
} METHODS[] = {{"GET", DATA_M_GET},     {"HEAD", DATA_M_HEAD},   {"POST", DATA_M_POST},
               {"PUT", DATA_M_PUT},     {"PATCH", DATA_M_PATCH}, {"DELETE", DATA_M_DELETE}};

static int method_item(data_conf_t *conf, const char *item, size_t len, int key, ph_error_t *err)
{
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (strlen(METHODS[i].name) == len && strncasecmp(METHODS[i].name, item, len) == 0) {
            conf->cors.methods |= METHODS[i].bit;
            return PH_OK;
        }
    return refuse(err, key, "cors_methods: expected GET, HEAD, POST, PUT, PATCH or DELETE, got \"%.40s\"", item);
}

/* Appends ", item" (or "item") to *text. */
static int text_append(char **text, const char *item, size_t len)
{
    size_t old = *text ? strlen(*text) : 0;
    char *t = realloc(*text, old + len + 3);
    if (t == NULL)
        return PH_ERROR;
    if (old > 0)
        memcpy(t + old, ", ", 2), old += 2;
    memcpy(t + old, item, len);
    t[old + len] = '\0';
    *text = t;
    return PH_OK;
}

static bool is_token(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
            return false;
    return len > 0;
}

static int header_item(data_conf_t *conf, const char *item, size_t len, int key, ph_error_t *err)
{
    /* "*" is literal for requests with credentials (Fetch): never send it. */
    if (!is_token(item, len) || (len == 1 && item[0] == '*'))
        return refuse(err, key, "cors_headers: expected header names, got \"%.40s\"", item);
    if (text_append(&conf->cors.headers_text, item, len) != PH_OK)
        return refuse(err, key, "out of memory%s", "");
    return PH_OK;
}

static int set_text(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? PH_OK : PH_ERROR;
}

static int parse_cors(data_conf_t *conf, const ph_server_api_t *api, const ph_kv_t *kv, int i,
                      ph_error_t *err)
{
    data_cors_conf_t *c = &conf->cors;
    const char *k = kv->key, *v = kv->value;
    uint64_t n;
    int b;

    if (strcmp(k, "cors_origins") == 0)
        return each_item(conf, kv, i, origin_item, err);
    if (strcmp(k, "cors_methods") == 0) {
        c->methods = 0;
        if (each_item(conf, kv, i, method_item, err) != PH_OK)
            return PH_ERROR;
        free(c->methods_text);
        c->methods_text = NULL;
        for (size_t m = 0; m < sizeof METHODS / sizeof METHODS[0]; m++)
            if ((c->methods & METHODS[m].bit) &&
                text_append(&c->methods_text, METHODS[m].name, strlen(METHODS[m].name)) != PH_OK)
                return refuse(err, i, "out of memory%s", "");
        return PH_OK;
    }
    if (strcmp(k, "cors_headers") == 0) {
        free(c->headers_text);
        c->headers_text = NULL;
        return each_item(conf, kv, i, header_item, err);
    }
    if (strcmp(k, "cors_max_age") == 0) {
        if (api->parse_duration(v, &n) != PH_OK || n > 86400000)
            return refuse(err, i, "cors_max_age: expected a duration up to 1d (\"10m\", \"600\"), got \"%.100s\"", v);
        c->max_age_s = (unsigned)(n / 1000);
        return PH_OK;
    }
    if (api->parse_bool(v, &b) != PH_OK)
        return refuse(err, i, "cors_credentials: expected yes or no, got \"%.100s\"", v);
    c->credentials = b != 0;
    return PH_OK;
}

static int parse_sized(const ph_server_api_t *api, const char *k, const char *v, uint64_t lo,
                       uint64_t hi, size_t *out, int i, ph_error_t *err)
{
    uint64_t n;
    if (api->parse_size(v, &n) != PH_OK || n < lo || n > hi) {
        snprintf(err->msg, sizeof err->msg, "%s: expected a size from %" PRIu64 " to %" PRIu64
                 " bytes (\"512\", \"64k\", \"16m\", \"1g\"), got \"%.100s\"", k, lo, hi, v);
        err->key = i;
        return PH_ERROR;
    }
    *out = (size_t)n;
    return PH_OK;
}

static int parse_key(data_conf_t *conf, const ph_server_api_t *api, const char *dir,
                     const ph_kv_t *kv, int i, ph_error_t *err)
{
    const char *k = kv->key, *v = kv->value;
    long long n;
    uint64_t ms;
    int b;

    if (strcmp(k, "database") == 0) {
        if (conf->target != NULL)
            return refuse(err, i, "%s given twice", k);
        return parse_database(conf, dir, v, i, err);
    }
    if (strcmp(k, "schema") == 0) {
        free(conf->schema);
        conf->schema = v[0] ? data_conf_path(dir, v) : NULL;
        if (v[0] && conf->schema == NULL)
            return refuse(err, i, "out of memory%s", "");
        return PH_OK;
    }
    if (strcmp(k, "tables") == 0)
        return parse_tables(conf, v, i, err);
    if (strcmp(k, "functions") == 0)
        return parse_names(&conf->functions, &conf->nfunctions, "functions", v, i, err);
    if (strncmp(k, "rpc.", 4) == 0)
        return parse_rpc(conf, k + 4, v, i, err);
    if (strcmp(k, "read_only") == 0) {
        if (api->parse_bool(v, &b) != PH_OK)
            return refuse(err, i, "read_only: expected yes or no, got \"%.100s\"", v);
        conf->read_only = b != 0;
        return PH_OK;
    }
    if (strcmp(k, "jwt_secret_is_base64") == 0) {
        if (api->parse_bool(v, &b) != PH_OK)
            return refuse(err, i, "jwt_secret_is_base64: expected yes or no, got \"%.100s\"", v);
        conf->roles.jwt_secret_is_base64 = b != 0;
        return PH_OK;
    }
    if (strcmp(k, "unfiltered_writes") == 0) {
        if (api->parse_bool(v, &b) != PH_OK)
            return refuse(err, i, "unfiltered_writes: expected yes or no, got \"%.100s\"", v);
        conf->unfiltered_writes = b != 0;
        return PH_OK;
    }
    if (strcmp(k, "max_rows") == 0) {
        if (parse_num(v, 1, 1000000, &n) != PH_OK)
            return refuse(err, i, "max_rows: expected an integer from 1 to 1000000, got \"%.100s\"", v);
        conf->max_rows = n;
        return PH_OK;
    }
    if (strcmp(k, "max_body") == 0)
        return parse_sized(api, k, v, 1, 1ULL << 30, &conf->max_body, i, err);
    if (strcmp(k, "max_response_bytes") == 0)
        return parse_sized(api, k, v, 1024, 1ULL << 32, &conf->max_response_bytes, i, err);
    if (strcmp(k, "pool_size") == 0) {
        if (parse_num(v, 1, 256, &n) != PH_OK)
            return refuse(err, i, "pool_size: expected an integer from 1 to 256, got \"%.100s\"", v);
        conf->pool_size = (unsigned)n;
        return PH_OK;
    }
    if (strcmp(k, "busy_timeout") == 0) {
        /* Bare digits were milliseconds before the server's parsers were
         * used here (where they mean seconds): keep that meaning. */
        char buf[32];
        bool bare = v[0] != '\0' && strspn(v, "0123456789") == strlen(v) && strlen(v) < 20;
        int len = snprintf(buf, sizeof buf, bare ? "%sms" : "%s", v);
        if (len < 0 || (size_t)len >= sizeof buf || api->parse_duration(buf, &ms) != PH_OK || ms < 1 ||
            ms > 600000)
            return refuse(err, i, "busy_timeout: expected a duration from 1ms to 10m (\"250ms\", \"5s\"; "
                          "a bare number is milliseconds), got \"%.100s\"", v);
        conf->busy_timeout_ms = (int)ms;
        return PH_OK;
    }
    if (strcmp(k, "retry_after") == 0) {
        if (api->parse_duration(v, &ms) != PH_OK || ms < 1000 || ms > 86400000)
            return refuse(err, i, "retry_after: expected a duration from 1s to 1d, got \"%.100s\"", v);
        conf->retry_after_s = (unsigned)((ms + 999) / 1000);
        return PH_OK;
    }
    if (strncmp(k, "cors_", 5) == 0 &&
        (strcmp(k, "cors_origins") == 0 || strcmp(k, "cors_methods") == 0 || strcmp(k, "cors_headers") == 0 ||
         strcmp(k, "cors_max_age") == 0 || strcmp(k, "cors_credentials") == 0))
        return parse_cors(conf, api, kv, i, err);
    bool mine;
    int rc = data_role_conf_key(&conf->roles, dir, kv, i, &mine, err);
    if (mine)
        return rc;
    return refuse(err, i, "unknown key \"%.24s\" (known: database, schema, tables, read_only, "
                  "unfiltered_writes, max_rows, max_body, max_response_bytes, pool_size, busy_timeout, "
                  "retry_after, cors_*, jwt_*, anon_role, grant, functions, rpc.NAME)", k);
}

/* Defaults of every key; the CORS texts are filled after parsing when no
 * key set them. */
static void set_defaults(data_conf_t *conf)
{
    memset(conf, 0, sizeof *conf);
    conf->max_rows = 1000;
    conf->max_body = 1 << 20;
    conf->max_response_bytes = (size_t)64 << 20;
    conf->pool_size = 8;
    conf->busy_timeout_ms = 5000;
    conf->retry_after_s = 1;
    conf->cors.methods = DATA_M_GET | DATA_M_HEAD | DATA_M_POST | DATA_M_PUT | DATA_M_PATCH | DATA_M_DELETE;
    conf->cors.max_age_s = 600;
}

static int finish_cors(data_cors_conf_t *c, ph_error_t *err)
{
    if (c->any_origin && c->credentials)
        return refuse(err, -1, "cors_origins = * cannot be combined with cors_credentials = yes "
                      "(list the origins instead)%s", "");
    if ((c->methods_text == NULL && set_text(&c->methods_text, "GET, HEAD, POST, PUT, PATCH, DELETE") != PH_OK) ||
        (c->headers_text == NULL && set_text(&c->headers_text, "Content-Type") != PH_OK))
        return refuse(err, -1, "out of memory%s", "");
    return PH_OK;
}

int data_conf_parse(data_conf_t *conf, const ph_server_api_t *api, const char *config_dir,
                    const ph_kv_t *keys, size_t nkeys, ph_error_t *err)
{
    set_defaults(conf);
    err->key = -1;
    err->msg[0] = '\0';
    for (size_t i = 0; i < nkeys; i++)
        if (parse_key(conf, api, config_dir, &keys[i], (int)i, err) != PH_OK)
            return PH_ERROR;
    if (conf->target == NULL)
        return refuse(err, -1, "missing key \"database\" (sqlite:PATH, postgresql://... or mysql://...)%s", "");
    if (data_role_conf_finish(&conf->roles, conf->tables, conf->ntables, err) != PH_OK)
        return PH_ERROR;
    if (conf->backend == DATA_BACKEND_SQLITE && conf->nfunctions > 0)
        return refuse(err, -1, "functions: SQLite has no stored functions; declare named queries "
                      "instead, rpc.NAME = SELECT ...%s", "");
    if (conf->backend != DATA_BACKEND_SQLITE && conf->nrpc > 0)
        return refuse(err, -1, "rpc.%s: named queries are for SQLite; list the database's functions "
                      "in \"functions\" instead", conf->rpc_names[0]);
    return finish_cors(&conf->cors, err);
}

void data_conf_free(data_conf_t *conf)
{
    for (size_t i = 0; i < conf->ntables; i++)
        free(conf->tables[i]);
    free(conf->tables);
    for (size_t i = 0; i < conf->nfunctions; i++)
        free(conf->functions[i]);
    free(conf->functions);
    for (size_t i = 0; i < conf->nrpc; i++) {
        free(conf->rpc_names[i]);
        free(conf->rpc_sql[i]);
    }
    free(conf->rpc_names);
    free(conf->rpc_sql);
    free(conf->target);
    free(conf->schema);
    for (size_t i = 0; i < conf->cors.norigins; i++)
        free(conf->cors.origins[i]);
    free(conf->cors.origins);
    free(conf->cors.methods_text);
    free(conf->cors.headers_text);
    data_role_conf_free(&conf->roles);
    memset(conf, 0, sizeof *conf);
}
