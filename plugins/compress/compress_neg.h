/*
 * compress_neg: what a response may be compressed with, from the request's
 * Accept-Encoding and the response's own fields. Pure, no plugin API. The
 * q-value reading is the static plugin's (plugins/static/static_enc.c), so
 * both plugins read a header the same way.
 */
#ifndef COMPRESS_NEG_H
#define COMPRESS_NEG_H

#include <stddef.h>

#include "compress_codec.h"

/*
 * The coding for a request whose Accept-Encoding is value[0..len): the
 * acceptable one (quality above 0, "*" counting for codings not named) of
 * highest quality, ties going to the earlier in order[0..n) (the server's
 * preference). -1 for no coding: identity ranks higher (named with a
 * higher q; unnamed, it ranks below every named coding), or nothing in
 * order is acceptable. A request without the header (value NULL) gets -1:
 * RFC 9110 would allow any coding, but clients that decode one say so.
 */
int cz_neg_choose(const cz_coding_t *order, size_t n, const char *value, size_t len);

/* 1 when the comma-separated field value[0..len) holds token as an item
 * of its own (case-insensitive, parameters after '=' or ';' ignored):
 * "no-transform" in Cache-Control, "accept-encoding" or "*" in Vary. */
int cz_list_has(const char *value, size_t len, const char *token);

#endif
