/*
 * Strict HTTP/1.1 request parser (RFC 9110, RFC 9112), and a response head
 * parser with the same field rules.
 *
 * Pure functions over byte spans: no I/O, no allocation, no globals. The
 * results are offsets into the caller's buffer, so the buffer may move
 * (realloc) between calls. Parsing is resumable: call hp_parse_request()
 * again with the same hp_request_t and the same bytes plus whatever arrived
 * since; it carries on from where it stopped instead of starting over.
 */
#ifndef PH_HTTP_PARSE_H
#define PH_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HP_OK 0
#define HP_ERROR (-1)
#define HP_INCOMPLETE (-2)

#define HP_MAX_HEADERS 64
/* Longest method accepted; a longer one is a 501 (RFC 9110 section 9.1). */
#define HP_MAX_METHOD 32

/* A zero field (or a NULL hp_limits_t pointer) means "no limit" (INT_MAX). */
typedef struct hp_limits {
    size_t max_uri_bytes;    /* request-target longer than this -> 414 */
    size_t max_header_bytes; /* leading empty lines + request line + header
                                section through its final CRLF longer -> 431 */
} hp_limits_t;

/* An [off, off+len) span into the buffer handed to hp_parse_request(). */
typedef struct hp_span {
    uint32_t off;
    uint32_t len;
} hp_span_t;

typedef struct hp_header {
    hp_span_t name;  /* token, case preserved */
    hp_span_t value; /* leading/trailing OWS stripped */
} hp_header_t;

typedef struct hp_request {
    /* --- results, valid once hp_parse_request() returned > 0 --------- */
    hp_span_t method;
    hp_span_t target;    /* the whole request-target as received */
    hp_span_t path;      /* origin-form path ("/x/y"); for absolute-form the
                            path part of it ("/" when empty: then a 1-byte
                            span over the last '/' of "://"); for "*" the
                            span of "*" */
    hp_span_t query;     /* after '?', without it; len 0 when none */
    hp_span_t authority; /* host[:port] of absolute-form, else Host value
                            (len 0 when HTTP/1.0 sent no Host, or Host
                            was empty) */
    int has_query;       /* a '?' was present */
    int version_minor;   /* 0 or 1 (HTTP/1.x only; 1.2-1.9 read as 1.1) */
    hp_header_t headers[HP_MAX_HEADERS];
    unsigned nheaders;

    int64_t content_length; /* -1 when absent */
    unsigned chunked : 1;   /* Transfer-Encoding: chunked (final) */
    unsigned keep_alive : 1;/* after Connection and version defaults */
    unsigned expect_continue : 1; /* Expect: 100-continue */
    unsigned is_head : 1;   /* method is HEAD */
    unsigned asterisk : 1;  /* request-target is "*" */

    /* --- on HP_ERROR --------------------------------------------------- */
    int status;        /* 400, 414, 417, 431, 501 or 505 */
    const char *error; /* static, human-readable reason */

    /* --- private resume state ------------------------------------------ */
    size_t pos;  /* bytes already scanned and accepted */
    int state;
} hp_request_t;

/* Prepare r for a new request. */
void hp_request_init(hp_request_t *r);

/*
 * Parse a request line and header section from buf[0..len).
 * Returns the length of the request head (through the empty line) when it is
 * complete and valid; HP_INCOMPLETE when more bytes are needed (and the
 * limits are not yet exceeded); HP_ERROR with r->status and r->error set.
 *
 * Checks, beyond syntax: HTTP/1.1 needs exactly one Host, any Host must
 * be a valid host[:port] (empty allowed); no whitespace before a colon; no
 * obs-fold; no NUL or control bytes (HTAB and obs-text are fine in values);
 * lines end in CRLF only (a bare LF or bare CR -> 400); request-target is
 * visible ASCII without '#'; Content-Length only plain digits up to 2^62
 * and, if repeated (as fields or as a list), identical; not both
 * Content-Length and Transfer-Encoding; Transfer-Encoding (all its fields
 * as one list) must end in "chunked", have exactly one "chunked" and no
 * empty element, else 400; with those met, any other coding before it ->
 * 501; no Transfer-Encoding in HTTP/1.0. Expect: only "100-continue" in
 * HTTP/1.1 (anything else -> 417; ignored in HTTP/1.0). "*" only with
 * OPTIONS; CONNECT -> 501; other targets must be origin-form or http(s)
 * absolute-form (no userinfo, non-empty host). "HTTP/1.x" with x > 1 is
 * handled as 1.1 (RFC 9110 section 2.5); another major version -> 505;
 * anything not "HTTP/" DIGIT "." DIGIT -> 400. Leading empty lines before
 * the request line are skipped (RFC 9112 section 2.2) and count toward the
 * header limit. A method longer than HP_MAX_METHOD -> 501. The 414, 431
 * and method limits also fire while the head is still incomplete, as soon
 * as the bytes present exceed them.
 *
 * After a result other than HP_INCOMPLETE, further calls return the same
 * result. A complete head's length is at most INT_MAX.
 */
int hp_parse_request(hp_request_t *r, const char *buf, size_t len, const hp_limits_t *lim);

/*
 * Strict HTTP/1.x response head parser (RFC 9112 sections 4 to 6), for a
 * plugin that reads responses from an upstream server (api->parse_response).
 * Unlike hp_parse_request() it is not resumable: each call parses
 * buf[0..len) from the start, so call it again with the same bytes plus
 * what arrived since.
 */
typedef struct hp_response {
    int status;             /* 100-999 (600-999: invalid per RFC 9110
                               section 15, to be handled as a 5xx) */
    int version_minor;      /* 0 or 1 ("HTTP/1.2".."HTTP/1.9" read as 1.1) */
    hp_span_t reason;       /* as received, possibly empty */
    unsigned nheaders;      /* field lines */
    int64_t content_length; /* -1 when absent */
    unsigned chunked : 1;   /* Transfer-Encoding's last coding is chunked */
    unsigned keep_alive : 1;/* from Connection and the version only */
    const char *error;      /* on HP_ERROR: static, human-readable */
} hp_response_t;

/*
 * Receives field line `index` (0, 1, ...) as soon as it is scanned; spans
 * are offsets into the parsed buffer. Return 0 to go on, nonzero when the
 * field cannot be taken (no room): the parse then fails with "too many
 * header fields". A call that ends incomplete or in an error may already
 * have reported some fields.
 */
typedef int (*hp_field_fn)(void *arg, unsigned index, hp_span_t name, hp_span_t value);

/*
 * Parse a response head from buf[0..len). Returns its length through the
 * empty line (> 0), HP_INCOMPLETE when the bytes so far are a valid start
 * of one, or HP_ERROR with r->error set. fn (may be NULL) gets each field.
 *
 * Status line: "HTTP/1." DIGIT SP 3DIGIT SP reason CRLF, exactly: the
 * second SP is required even when the reason is empty; the status is 100
 * to 999; another major version is an error; the reason is HTAB, SP,
 * VCHAR and obs-text. No empty lines before it. Field lines follow the
 * request parser's rules (tokens, no whitespace before the colon, no
 * obs-fold, CRLF only, no controls but HTAB). Content-Length: plain digits
 * up to 2^62, repeats (fields or list) identical. Transfer-Encoding (all
 * its fields as one list): no empty element, "chunked" at most once, and
 * not with Content-Length or in an HTTP/1.0 response (faulty framing,
 * RFC 9112 section 6.1): each an error. Its last coding chunked sets
 * chunked; any other last coding (chunked=0, content_length=-1) means the
 * body runs until the server closes (RFC 9112 section 6.3). keep_alive:
 * "close" in Connection clears it, else HTTP/1.1 or "keep-alive" sets it
 * (options are case-insensitive, the field a list). A head longer than
 * INT_MAX bytes is an error.
 *
 * Framing stays the caller's (RFC 9112 section 6.3), since only it knows
 * the request: a response to HEAD and every 1xx, 204 and 304 response has
 * no body whatever its fields say (a 1xx other than 101 is followed by
 * another head); otherwise a chunked body, else content_length bytes, else
 * the body runs until the server closes, and the connection cannot be
 * reused whatever keep_alive says.
 */
int hp_parse_response(hp_response_t *r, const char *buf, size_t len, hp_field_fn fn, void *arg);

/* Incremental, in-place chunked body decoder. */
typedef struct hp_chunked {
    uint64_t remaining; /* bytes left in the current chunk */
    size_t trailer_bytes;
    int state;
    unsigned hex_digits;
} hp_chunked_t;

void hp_chunked_init(hp_chunked_t *c);

/*
 * Decode buf[0..*len) in place. On return buf[0..*len) holds the decoded
 * data found in this call (append it to what earlier calls produced).
 * Returns HP_INCOMPLETE when the body is not finished (call again with the
 * next bytes in a fresh span), HP_ERROR on a malformed or oversized chunk
 * size (more than 16 hex digits, or overflow), a missing CRLF, or trailers
 * over max_trailer_bytes; or, when the last chunk and the trailer section
 * are complete, the number of bytes left over after them: those bytes are
 * the start of the next request and sit at buf[*len .. *len + return).
 * Chunk extensions are accepted and ignored; trailer fields are validated
 * and discarded. Chunk sizes above INT64_MAX are errors. max_trailer_bytes
 * bounds the trailer field bytes (names, colons, values; line endings not
 * counted) and, separately, each chunk's extension bytes; 0 allows neither.
 * Lines end in CRLF only. After completion every further call returns all
 * its bytes as leftover (*len = 0); after HP_ERROR it keeps failing.
 */
ssize_t hp_chunked_decode(hp_chunked_t *c, char *buf, size_t *len, size_t max_trailer_bytes);

/*
 * Percent-decode the path in[0..len) and remove dot segments (RFC 3986
 * section 5.2.4), writing to out (capacity >= len; the result never grows).
 * Decoding happens first, so "%2e%2e" counts as "..". Consecutive slashes
 * are kept. Returns HP_OK with *outlen set, or HP_ERROR when the path does
 * not start with '/', holds a bad %-escape, decodes to NUL or to a control
 * byte, or climbs above the root ("/../x"). in and out may be the same
 * buffer (in-place normalisation).
 */
int hp_path_normalize(const char *in, size_t len, char *out, size_t *outlen);

/* Case-insensitive compare of a span with a NUL-terminated lowercase name. */
int hp_span_ieq(const char *buf, hp_span_t s, const char *lower);

#endif /* PH_HTTP_PARSE_H */
