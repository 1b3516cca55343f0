/*
 * static_cond: validators and conditional requests (RFC 9110 sections 8.8
 * and 13): ETag formatting and comparison, HTTP-date parsing and
 * formatting, and the precondition decision for GET/HEAD.
 *
 * Pure: no I/O beyond the clock (two-digit years), no plugin API.
 */
#ifndef PH_STATIC_COND_H
#define PH_STATIC_COND_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Room for a quoted ETag from sc_etag_format(), NUL included. */
#define SC_ETAG_MAX 64
/* Room for an IMF-fixdate, NUL included ("Sun, 06 Nov 1994 08:49:37 GMT"). */
#define SC_DATE_MAX 30

/* Writes the strong ETag "ino-size-mtimens" (lower-case hex, quoted) into
 * buf (SC_ETAG_MAX bytes). mtime_ns is the modification time in nanoseconds
 * since the epoch. Returns the length written. */
size_t sc_etag_format(char *buf, uint64_t ino, uint64_t size, uint64_t mtime_ns);

/* Formats t as an IMF-fixdate into buf (SC_DATE_MAX bytes). Independent of
 * the locale. Returns 0, or -1 when t cannot be represented. */
int sc_date_format(time_t t, char *buf);

/* Parses an HTTP-date (len bytes): IMF-fixdate, or the obsolete RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37
 * 1994") forms that recipients must accept. Surrounding whitespace is
 * allowed. A two-digit year more than 50 years in the future is taken as
 * the past century. Returns 0 and sets *out, or -1 when invalid. */
int sc_date_parse(const char *s, size_t len, time_t *out);

/* Compares two entity-tags (each "..." or W/"..."; len bytes, not
 * NUL-terminated). strong: both must be strong and equal; otherwise the
 * opaque-tags are compared ignoring W/. Returns 1 on a match. */
int sc_etag_equal(const char *a, size_t alen, const char *b, size_t blen, int strong);

/* Evaluates an If-Match / If-None-Match value (a comma list of entity-tags,
 * or "*") against etag. "*" matches any existing representation. strong as
 * in sc_etag_equal(). Returns 1 when some member matches, 0 otherwise
 * (including a malformed list). */
int sc_etag_list_match(const char *list, size_t len, const char *etag, int strong);

/* The request's preconditions; a NULL ptr means the header is absent. */
typedef struct sc_request {
    const char *if_match;            size_t if_match_len;
    const char *if_unmodified_since; size_t if_unmodified_since_len;
    const char *if_none_match;       size_t if_none_match_len;
    const char *if_modified_since;   size_t if_modified_since_len;
} sc_request_t;

typedef enum sc_result {
    SC_PROCEED,       /* serve the representation */
    SC_NOT_MODIFIED,  /* 304 */
    SC_PRECONDITION_FAILED /* 412 */
} sc_result_t;

/*
 * RFC 9110 section 13.2.2 for a GET or HEAD of an existing representation
 * with validators etag (quoted) and last_modified: If-Match (strong) else
 * If-Unmodified-Since -> 412; then If-None-Match (weak) -> 304, else
 * If-Modified-Since -> 304. Dates that do not parse are ignored.
 */
sc_result_t sc_evaluate(const sc_request_t *rq, const char *etag, time_t last_modified);

/* If-Range (len bytes): 1 when the range may be honoured: an entity-tag
 * that strongly equals etag, or an HTTP-date exactly equal to
 * last_modified. */
int sc_if_range(const char *value, size_t len, const char *etag, time_t last_modified);

#endif /* PH_STATIC_COND_H */
