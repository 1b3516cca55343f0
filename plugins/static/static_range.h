/*
 * static_range: the Range request header (RFC 9110 section 14), bytes unit.
 *
 * Pure: no I/O, no allocation, no plugin API.
 */
#ifndef PH_STATIC_RANGE_H
#define PH_STATIC_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum sr_result {
    SR_IGNORE,        /* malformed, invalid, other unit: serve the whole file */
    SR_MULTI,         /* several ranges: this server answers 200, whole file */
    SR_OK,            /* one satisfiable range: 206 with *start and *length */
    SR_UNSATISFIABLE  /* valid but outside the file: 416, bytes STAR/size */
} sr_result_t;

/*
 * Parses value (len bytes, not NUL-terminated) against a representation of
 * size bytes. Accepts "bytes=a-b", "bytes=a-", "bytes=-n" (unit
 * case-insensitive, optional whitespace around list elements, empty list
 * elements skipped). Numbers too large for 63 bits saturate, so a huge last
 * position means "to the end" and a huge first position is unsatisfiable.
 * "a-b" with b < a is invalid (SR_IGNORE); "-0" and a first position >= size
 * are unsatisfiable. On SR_OK, *start + *length <= size and *length > 0.
 */
sr_result_t sr_parse(const char *value, size_t len, int64_t size, int64_t *start, int64_t *length);

#endif /* PH_STATIC_RANGE_H */
