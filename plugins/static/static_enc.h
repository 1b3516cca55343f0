/*
 * static_enc: Accept-Encoding negotiation (RFC 9110 section 12.5.3) for the
 * precompressed siblings. Pure, no plugin API.
 */
#ifndef PH_STATIC_ENC_H
#define PH_STATIC_ENC_H

#include <stddef.h>

/* se_quality() for a coding the header does not mention at all. */
#define SE_UNLISTED (-1)

/*
 * The quality (0 to 1000, "q=0.5" is 500) the Accept-Encoding value (len
 * bytes) gives coding ("gzip", "br", "identity"): from the coding's own
 * entry when listed (the highest if listed twice; "x-gzip" counts as
 * "gzip", RFC 9110 section 8.4.1.3), else from "*", else SE_UNLISTED.
 * Names are case-insensitive; an entry without q has 1000; a q that is not
 * a valid qvalue ("q=2", "q=0.5x") counts as 0, so a malformed preference
 * never selects a coding.
 */
int se_quality(const char *value, size_t len, const char *coding);

/* 1 when coding has a quality above 0 (listed, or matched by "*"). */
int se_accepts(const char *value, size_t len, const char *coding);

/*
 * Ranks the n candidate codings (at most 8; "identity" may be one of them)
 * by the header's preference: writes the indexes of the acceptable ones
 * (quality above 0) into order, highest quality first, ties in candidate
 * order, and returns how many. identity is acceptable unless excluded by
 * "identity;q=0", or by "*;q=0" without an identity entry; an unlisted
 * identity ranks with quality 1000 (RFC 9110 section 12.5.3, rule 2).
 */
size_t se_rank(const char *value, size_t len, const char *const *codings, size_t n, size_t *order);

#endif /* PH_STATIC_ENC_H */
