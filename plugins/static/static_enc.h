/*
 * static_enc: Accept-Encoding negotiation (RFC 9110 section 12.5.3) for the
 * precompressed siblings. Pure, no plugin API.
 */
#ifndef PH_STATIC_ENC_H
#define PH_STATIC_ENC_H

#include <stddef.h>

/*
 * 1 when the Accept-Encoding value (len bytes) accepts coding ("gzip",
 * "br"): the coding is listed with a non-zero q, or it is not listed and
 * "*" is listed with a non-zero q. Names are case-insensitive; "q=0",
 * "q=0.0" ... refuse. An absent header is the caller's business (this
 * server then sends the identity representation).
 */
int se_accepts(const char *value, size_t len, const char *coding);

#endif /* PH_STATIC_ENC_H */
