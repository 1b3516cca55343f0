/* Route keys of the data plugin: see data_conf.h. */
#include "data_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int refuse(ph_error_t *err, int key, const char *fmt, const char *what)
{
    snprintf(err->msg, sizeof err->msg, fmt, what);
    err->key = key;
    return PH_ERROR;
}

/* dir/path unless path is absolute. */
static char *resolve(const char *dir, const char *path)
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

static int parse_tables(data_conf_t *conf, const char *v, int key, ph_error_t *err)
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
            return refuse(err, key, "tables: empty table name in \"%s\"", v);
        char *name = strndup(a, (size_t)(b - a));
        char **t = name ? realloc(conf->tables, (conf->ntables + 1) * sizeof *t) : NULL;
        if (t == NULL) {
            free(name);
            return refuse(err, key, "out of memory%s", "");
        }
        conf->tables = t;
        t[conf->ntables++] = name;
        for (size_t i = 0; i + 1 < conf->ntables; i++)
            if (strcmp(t[i], name) == 0)
                return refuse(err, key, "tables: \"%s\" listed twice", name);
        p = *end ? end + 1 : end;
    }
    return PH_OK;
}

static int parse_database(data_conf_t *conf, const char *dir, const char *v, int key,
                          ph_error_t *err)
{
    if (strncmp(v, "sqlite:", 7) == 0) {
        if (v[7] == '\0')
            return refuse(err, key, "database: sqlite: needs a file path%s", "");
        conf->backend = DATA_BACKEND_SQLITE;
        conf->target = resolve(dir, v + 7);
    } else if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0) {
        conf->backend = DATA_BACKEND_PG;
        conf->target = strdup(v);
    } else {
        return refuse(err, key, "database: expected sqlite:PATH or postgresql://..., got \"%.100s\"", v);
    }
    if (conf->target == NULL)
        return refuse(err, key, "out of memory%s", "");
    return PH_OK;
}

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0) {
        *out = true;
        return PH_OK;
    }
    if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0) {
        *out = false;
        return PH_OK;
    }
    return PH_ERROR;
}

static int parse_key(data_conf_t *conf, const char *dir, const ph_kv_t *kv, int i,
                     ph_error_t *err)
{
    const char *k = kv->key, *v = kv->value;
    long long n;

    if (strcmp(k, "database") == 0) {
        if (conf->target != NULL)
            return refuse(err, i, "%s given twice", k);
        return parse_database(conf, dir, v, i, err);
    }
    if (strcmp(k, "schema") == 0) {
        free(conf->schema);
        conf->schema = v[0] ? resolve(dir, v) : NULL;
        if (v[0] && conf->schema == NULL)
            return refuse(err, i, "out of memory%s", "");
        return PH_OK;
    }
    if (strcmp(k, "tables") == 0)
        return parse_tables(conf, v, i, err);
    if (strcmp(k, "read_only") == 0) {
        if (parse_bool(v, &conf->read_only) != PH_OK)
            return refuse(err, i, "read_only: expected yes or no, got \"%.100s\"", v);
        return PH_OK;
    }
    if (strcmp(k, "max_rows") == 0) {
        if (parse_num(v, 1, 1000000, &n) != PH_OK)
            return refuse(err, i, "max_rows: expected an integer from 1 to 1000000, got \"%.100s\"", v);
        conf->max_rows = n;
        return PH_OK;
    }
    if (strcmp(k, "max_body") == 0) {
        if (parse_num(v, 1, 1LL << 30, &n) != PH_OK)
            return refuse(err, i, "max_body: expected a byte count from 1 to 1073741824, got \"%.100s\"", v);
        conf->max_body = (size_t)n;
        return PH_OK;
    }
    if (strcmp(k, "pool_size") == 0) {
        if (parse_num(v, 1, 256, &n) != PH_OK)
            return refuse(err, i, "pool_size: expected an integer from 1 to 256, got \"%.100s\"", v);
        conf->pool_size = (unsigned)n;
        return PH_OK;
    }
    if (strcmp(k, "busy_timeout") == 0) {
        if (parse_num(v, 1, 600000, &n) != PH_OK)
            return refuse(err, i, "busy_timeout: expected milliseconds from 1 to 600000, got \"%.100s\"", v);
        conf->busy_timeout_ms = (int)n;
        return PH_OK;
    }
    return refuse(err, i, "unknown key \"%.100s\" (known: database, schema, tables, read_only, "
                  "max_rows, max_body, pool_size, busy_timeout)", k);
}

int data_conf_parse(data_conf_t *conf, const char *config_dir, const ph_kv_t *keys, size_t nkeys,
                    ph_error_t *err)
{
    memset(conf, 0, sizeof *conf);
    conf->max_rows = 1000;
    conf->max_body = 1 << 20;
    conf->pool_size = 8;
    conf->busy_timeout_ms = 5000;
    err->key = -1;
    err->msg[0] = '\0';
    for (size_t i = 0; i < nkeys; i++)
        if (parse_key(conf, config_dir, &keys[i], (int)i, err) != PH_OK)
            return PH_ERROR;
    if (conf->target == NULL)
        return refuse(err, -1, "missing key \"database\" (sqlite:PATH or postgresql://...)%s", "");
    return PH_OK;
}

void data_conf_free(data_conf_t *conf)
{
    for (size_t i = 0; i < conf->ntables; i++)
        free(conf->tables[i]);
    free(conf->tables);
    free(conf->target);
    free(conf->schema);
    memset(conf, 0, sizeof *conf);
}
