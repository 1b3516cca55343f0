/*
 * urlenc: percent-encoding of a path, api->url_escape (ABI 1.6). Pure: no
 * allocation, no state; plugin.h states the contract.
 */
#ifndef PH_URLENC_H
#define PH_URLENC_H

#include <stddef.h>

size_t urlenc_escape(const char *s, size_t len, unsigned flags, char *out, size_t cap);

#endif
