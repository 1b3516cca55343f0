/* compress_conf: the route's keys; contract in compress_conf.h. */
#include "compress_conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CZ_KEYS "encodings, types, min_length, gzip_level, brotli_level, zstd_level"

__attribute__((format(printf, 3, 4))) static void refuse(ph_error_t *err, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (hint && err->size >= offsetof(ph_error_t, hint) + sizeof err->hint)
        snprintf(err->hint, sizeof err->hint, "%s", hint);
}

static int coding_of(const char *s, size_t n)
{
    for (int c = 0; c < CZ_NCODINGS; c++)
        if (strlen(cz_coding_name((cz_coding_t)c)) == n && strncmp(cz_coding_name((cz_coding_t)c), s, n) == 0)
            return c;
    return -1;
}

/* "zstd, br, gzip": each known coding at most once, at least one. */
static int parse_encodings(cz_conf_t *conf, const char *v, char *why, size_t cap)
{
    const char *p = v;
    unsigned seen = 0;
    conf->ncodings = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        int c = coding_of(p, n);
        if (c < 0) {
            snprintf(why, cap, "\"%.*s\" is not a coding", (int)(n > 40 ? 40 : n), p);
            return -1;
        }
        if (seen & (1u << c)) {
            snprintf(why, cap, "%s is listed twice", cz_coding_name((cz_coding_t)c));
            return -1;
        }
        seen |= 1u << c;
        conf->order[conf->ncodings++] = (cz_coding_t)c;
        p += n;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return 0;
        if (*p++ != ',') {
            snprintf(why, cap, "codings are separated by commas");
            return -1;
        }
    }
}

/* A level: plain digits within the coding's range. */
static int parse_level(const char *v, cz_coding_t c, int *out)
{
    char *end;
    if (v[0] < '0' || v[0] > '9' || strlen(v) > 2)
        return -1;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < cz_level_min(c) || n > cz_level_max(c))
        return -1;
    *out = (int)n;
    return 0;
}

static int parse_key(cz_conf_t *conf, const ph_server_api_t *api, const ph_kv_t *kv, ph_error_t *err)
{
    static const struct {
        const char *key;
        cz_coding_t coding;
    } levels[] = {{"gzip_level", CZ_GZIP}, {"brotli_level", CZ_BR}, {"zstd_level", CZ_ZSTD}};
    char why[160], hint[96];

    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcmp(kv->key, levels[i].key) != 0)
            continue;
        if (parse_level(kv->value, levels[i].coding, &conf->level[levels[i].coding]) == 0)
            return PH_OK;
        snprintf(hint, sizeof hint, "a whole number from %d to %d", cz_level_min(levels[i].coding),
                 cz_level_max(levels[i].coding));
        refuse(err, hint, "bad value \"%.80s\" for %s", kv->value, kv->key);
        return PH_ERROR;
    }
    if (strcmp(kv->key, "encodings") == 0) {
        if (parse_encodings(conf, kv->value, why, sizeof why) == 0)
            return PH_OK;
        refuse(err, "a comma list of zstd, br, gzip, preferred first", "bad encodings: %s", why);
        return PH_ERROR;
    }
    if (strcmp(kv->key, "types") == 0) {
        if (cz_types_parse(&conf->types, kv->value, why, sizeof why) == 0)
            return PH_OK;
        refuse(err, "a comma list of type/subtype, type/*, type/*+suffix", "bad types: %s", why);
        return PH_ERROR;
    }
    if (strcmp(kv->key, "min_length") == 0) {
        if (api->parse_size(kv->value, &conf->min_length) == PH_OK)
            return PH_OK;
        refuse(err, "a size such as 256, 1k", "bad value \"%.80s\" for %s", kv->value, kv->key);
        return PH_ERROR;
    }
    refuse(err, "keys: " CZ_KEYS, "unknown key \"%.80s\"", kv->key);
    return PH_ERROR;
}

int cz_conf_parse(cz_conf_t *conf, const ph_server_api_t *api, const ph_kv_t *keys, size_t nkeys, ph_error_t *err)
{
    char why[160];
    memset(conf, 0, sizeof *conf);
    conf->level[CZ_GZIP] = CZ_DEFAULT_GZIP_LEVEL;
    conf->level[CZ_BR] = CZ_DEFAULT_BROTLI_LEVEL;
    conf->level[CZ_ZSTD] = CZ_DEFAULT_ZSTD_LEVEL;
    conf->min_length = CZ_DEFAULT_MIN_LENGTH;
    /* the defaults go through the parsers too, so they cannot drift */
    if (parse_encodings(conf, CZ_DEFAULT_ENCODINGS, why, sizeof why) < 0 ||
        cz_types_parse(&conf->types, CZ_DEFAULT_TYPES, why, sizeof why) < 0) {
        err->key = -1;
        refuse(err, NULL, "built-in default refused: %s", why);
        return PH_ERROR;
    }
    for (size_t i = 0; i < nkeys; i++) {
        err->key = (int)i;
        if (parse_key(conf, api, &keys[i], err) != PH_OK)
            return PH_ERROR;
    }
    err->key = -1;
    return PH_OK;
}
