#include "response.h"

#include <stdio.h>
#include <string.h>


#define CRLF "\r\n"

static int add(buf_t *b, const char *s, size_t n) { return buf_append(b, s, n); }

/* Decimal digits of v into the end of buf[0..20); returns the start. */
static char *u64_digits(uint64_t v, char buf[20])
{
    char *p = buf + 20;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}
#define ADDLIT(b, s) add((b), (s), sizeof(s) - 1)

/* "HTTP/1.1 NNN Reason\r\n" */
static int status_line(buf_t *out, int status)
{
    char st[13] = "HTTP/1.1 000 ";
    st[9] = (char)('0' + status / 100);
    st[10] = (char)('0' + status / 10 % 10);
    st[11] = (char)('0' + status % 10);
    const char *reason = request_reason(status);
    if (add(out, st, sizeof st) < 0 || add(out, reason, strlen(reason)) < 0)
        return -1;
    return ADDLIT(out, CRLF);
}

static int body_allowed(int status) { return !(status == 204 || status == 304 || status < 200); }

int response_head(const ph_request_t *req, int is_head, const char *date, const char *server, buf_t *out,
                  response_info_t *info)
{
    int status = req->status;
    int http11 = req->hp.version_minor != 0;
    uint64_t len = 0;
    enum framing f;

    switch (req->body_kind) {
    case BODY_MEM: len = req->mem_len; f = FRAME_LENGTH; break;
    case BODY_REF: len = req->ref_len; f = FRAME_LENGTH; break;
    case BODY_FILE: len = (uint64_t)req->file_len; f = FRAME_LENGTH; break;
    case BODY_STREAM:
        if (req->stream_has_len) { /* co_respond() with a length */
            len = req->stream_len;
            f = FRAME_LENGTH;
        } else {
            f = http11 ? FRAME_CHUNKED : FRAME_CLOSE;
        }
        break;
    default: f = FRAME_LENGTH; break;
    }
    if (f == FRAME_CLOSE)
        info->keep_alive = 0;

    if (buf_reserve(out, 256) < 0)
        return -1;
    size_t before = buf_pending(out); /* invariant under compaction */
    char line[64];
    if (status_line(out, status) < 0)
        return -1;
    if (server && (ADDLIT(out, "Server: ") < 0 || add(out, server, strlen(server)) < 0 || ADDLIT(out, CRLF) < 0))
        return -1;
    if (ADDLIT(out, "Date: ") < 0 || add(out, date, strlen(date)) < 0 || ADDLIT(out, CRLF) < 0)
        return -1;

    if (!body_allowed(status)) {
        f = FRAME_NONE;
        len = 0;
    } else if (f == FRAME_LENGTH) {
        char *d = u64_digits(len, line);
        if (ADDLIT(out, "Content-Length: ") < 0 || add(out, d, (size_t)(line + 20 - d)) < 0 || ADDLIT(out, CRLF) < 0)
            return -1;
    } else if (f == FRAME_CHUNKED) {
        if (ADDLIT(out, "Transfer-Encoding: chunked" CRLF) < 0)
            return -1;
    }
    if (!info->keep_alive) {
        if (ADDLIT(out, "Connection: close" CRLF) < 0)
            return -1;
    } else if (!http11) {
        if (ADDLIT(out, "Connection: keep-alive" CRLF) < 0)
            return -1;
    }
    for (const resp_header_t *h = req->headers; h; h = h->next) {
        if (buf_reserve(out, h->nlen + h->vlen + 4) < 0)
            return -1;
        memcpy(out->p + out->len, h->name, h->nlen);
        out->len += h->nlen;
        out->p[out->len++] = ':';
        out->p[out->len++] = ' ';
        memcpy(out->p + out->len, h->value, h->vlen);
        out->len += h->vlen;
        out->p[out->len++] = '\r';
        out->p[out->len++] = '\n';
    }
    if (ADDLIT(out, CRLF) < 0)
        return -1;
    if (is_head)
        f = FRAME_NONE;
    info->framing = f;
    info->body_len = f == FRAME_LENGTH ? len : 0;
    info->head_len = buf_pending(out) - before;
    return 0;
}

int response_continue(buf_t *out) { return ADDLIT(out, "HTTP/1.1 100 Continue" CRLF CRLF); }

int response_chunk_start(buf_t *out, size_t n)
{
    char line[32];
    int k = snprintf(line, sizeof line, "%zx" CRLF, n);
    return add(out, line, (size_t)k);
}

int response_chunk_end(buf_t *out) { return ADDLIT(out, CRLF); }
int response_chunk_last(buf_t *out, const resp_header_t *trailers)
{
    if (ADDLIT(out, "0" CRLF) < 0)
        return -1;
    for (const resp_header_t *h = trailers; h; h = h->next)
        if (add(out, h->name, h->nlen) < 0 || ADDLIT(out, ": ") < 0 || add(out, h->value, h->vlen) < 0 ||
            ADDLIT(out, CRLF) < 0)
            return -1;
    return ADDLIT(out, CRLF);
}

int response_informational(buf_t *out, int status, const ph_kv_t *h, size_t n)
{
    if (status_line(out, status) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (add(out, h[i].key, strlen(h[i].key)) < 0 || ADDLIT(out, ": ") < 0 ||
            add(out, h[i].value, strlen(h[i].value)) < 0 || ADDLIT(out, CRLF) < 0)
            return -1;
    return ADDLIT(out, CRLF);
}
