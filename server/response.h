/*
 * The only place that writes HTTP/1.1 response framing: status line, core
 * headers (Server, Date, Content-Length or Transfer-Encoding, Connection),
 * the plugin's headers, and chunk framing. Plugins never write raw bytes.
 */
#ifndef PH_RESPONSE_H
#define PH_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "request.h"

enum framing {
    FRAME_NONE,    /* no body on the wire: HEAD, 1xx, 204, 304 */
    FRAME_LENGTH,  /* Content-Length */
    FRAME_CHUNKED, /* Transfer-Encoding: chunked (HTTP/1.1, unknown length) */
    FRAME_CLOSE,   /* HTTP/1.0, unknown length: the body ends at close */
};

typedef struct response_info {
    enum framing framing;
    uint64_t body_len;   /* FRAME_LENGTH: bytes that follow the head */
    int keep_alive;      /* in: what the connection allows; out: decided */
    size_t head_len;
} response_info_t;

/* Appends the response head for req to out. is_head: HEAD request (same
 * headers, no body). server: the Server field's value, NULL for none.
 * info->keep_alive is the connection's wish on entry and the decision on
 * return (FRAME_CLOSE forces it off). Returns 0 or -1 (OOM). */
int response_head(const ph_request_t *req, int is_head, const char *date, const char *server, buf_t *out,
                  response_info_t *info);

/* "HTTP/1.1 100 Continue\r\n\r\n" */
int response_continue(buf_t *out);

/* Chunk framing around n bytes: the size line before, CRLF after. */
int response_chunk_start(buf_t *out, size_t n);
int response_chunk_end(buf_t *out);
/* The last chunk, with the trailer fields (validated by the API). */
int response_chunk_last(buf_t *out, const resp_header_t *trailers);
/* An informational answer (1xx) with headers the caller validated. */
int response_informational(buf_t *out, int status, const ph_kv_t *h, size_t n);

#endif
