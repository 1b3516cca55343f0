/*
 * compress_conf: the route's compress.* keys (README.md, "Keys"), parsed
 * once at create() into an immutable cz_conf_t.
 */
#ifndef COMPRESS_CONF_H
#define COMPRESS_CONF_H

#include <plughttpd/plugin.h>

#include "compress_codec.h"
#include "compress_type.h"

/* The defaults, with the reasons in README.md. */
#define CZ_DEFAULT_ENCODINGS "zstd, br, gzip"
#define CZ_DEFAULT_TYPES                                                                                     \
    "text/*, application/json, application/*+json, application/javascript, application/xml, "                \
    "application/*+xml, application/wasm, image/svg+xml"
#define CZ_DEFAULT_MIN_LENGTH 256
#define CZ_DEFAULT_GZIP_LEVEL 5
#define CZ_DEFAULT_BROTLI_LEVEL 4
#define CZ_DEFAULT_ZSTD_LEVEL 3

typedef struct cz_conf {
    cz_coding_t order[CZ_NCODINGS]; /* offered codings, preferred first */
    size_t ncodings;
    int level[CZ_NCODINGS];         /* by cz_coding_t */
    uint64_t min_length;            /* bodies known to be shorter pass */
    cz_types_t types;
} cz_conf_t;

/* Fills *conf from the keys (defaults for those absent). PH_OK, or
 * PH_ERROR with err filled (key index, message, accepted values). */
int cz_conf_parse(cz_conf_t *conf, const ph_server_api_t *api, const ph_kv_t *keys, size_t nkeys, ph_error_t *err);

#endif
