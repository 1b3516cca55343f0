/* A listing's body, in memory or streamed: see data_listing.h. */
#include "data_listing.h"
#include "data_csv.h"
#include "data_jout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void data_listing_init(data_listing_t *l, const ph_server_api_t *api, ph_request_t *req, size_t max, bool csv,
                       const data_table_t *csv_cols, bool may_stream)
{
    *l = (data_listing_t){.api = api, .req = req, .max = max, .csv = csv, .csv_cols = csv_cols, .status = 200,
                          .type = csv ? "text/csv; charset=utf-8" : "application/json"};
    /* Before ABI 1.8 a blocking handler cannot respond early. */
    l->may_stream = may_stream && api->abi_major == 1 && api->abi_minor >= 8 && PH_API_HAS(api, co_send);
}

static int grow(data_listing_t *l, size_t more)
{
    if (l->len + more <= l->cap)
        return PH_OK;
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < l->len + more)
        cap *= 2;
    char *b = realloc(l->buf, cap);
    if (b == NULL)
        return PH_ERROR;
    l->buf = b;
    l->cap = cap;
    return PH_OK;
}

/* json_dump_callback_t and data_csv_put_fn: appends to the buffer. */
static int put(const char *text, size_t len, void *arg)
{
    data_listing_t *l = arg;
    if (l->len + len > l->max) {
        l->too_big = true;
        return -1;
    }
    if (grow(l, len) != PH_OK)
        return -1;
    memcpy(l->buf + l->len, text, len);
    l->len += len;
    return 0;
}

/* Why put() failed. */
static int put_error(const data_listing_t *l, data_dberr_t *e)
{
    e->status = 500;
    if (l->too_big && l->streaming)
        snprintf(e->msg, sizeof e->msg, "a row's text is larger than max_response_bytes (%zu bytes)", l->max);
    else if (l->too_big)
        snprintf(e->msg, sizeof e->msg, "the answer would be larger than max_response_bytes "
                 "(%zu bytes): ask for fewer rows with limit=", l->max);
    else
        snprintf(e->msg, sizeof e->msg, "out of memory");
    return PH_ERROR;
}

/* Sends the buffer to the client (the head first, the first time).
 * PH_OK: sent, or streaming turned out impossible (may_stream cleared:
 * the body stays in memory). PH_ERROR with *e filled: the client left. */
static int flush(data_listing_t *l, data_dberr_t *e)
{
    const ph_server_api_t *api = l->api;
    if (!l->streaming) {
        api->set_status(l->req, l->status);
        api->add_header(l->req, "Content-Type", l->type);
        if (l->range[0] != '\0')
            api->add_header(l->req, "Content-Range", l->range);
        if (l->total[0] != '\0')
            api->add_header(l->req, "X-Total-Count", l->total);
        int rc = api->co_respond(l->req, -1);
        if (rc == -ECANCELED) {
            l->gone = true;
        } else if (rc != 0) {
            /* Not allowed here after all: answer whole, as before. */
            l->may_stream = false;
            return PH_OK;
        }
        l->streaming = !l->gone;
    }
    if (!l->gone && l->len > 0) {
        ssize_t n = api->co_send(l->req, l->buf, l->len, DATA_LISTING_SEND_TIMEOUT_MS);
        if (n < 0) {
            l->gone = true;
            e->status = 500;
            snprintf(e->msg, sizeof e->msg, "listing not sent: %s", n == -ETIMEDOUT ? "the client read nothing "
                     "for too long" : "the client left");
            return PH_ERROR;
        }
        l->len = 0;
    }
    if (l->gone) {
        e->status = 500;
        snprintf(e->msg, sizeof e->msg, "listing not sent: the client left");
        return PH_ERROR;
    }
    return PH_OK;
}

int data_listing_open(data_listing_t *l, data_dberr_t *e)
{
    if (l->csv ? data_csv_header(l->csv_cols, put, l) != 0 : put("[", 1, l) != 0)
        return put_error(l, e);
    return PH_OK;
}

int data_listing_row(void *arg, json_t *row, data_dberr_t *e)
{
    data_listing_t *l = arg;
    /* "[" alone is one byte; a streamed buffer may be empty after "[". */
    bool first = l->rows == 0;
    if (l->csv ? data_csv_row(l->csv_cols, row, put, l) != 0
               : (!first && put(",", 1, l) != 0) || data_jout_dump(row, put, l) != 0)
        return put_error(l, e);
    l->rows++;
    if (l->may_stream && l->len > (l->streaming ? DATA_LISTING_CHUNK : DATA_LISTING_INLINE))
        return flush(l, e);
    return PH_OK;
}

int data_listing_close(data_listing_t *l, data_dberr_t *e)
{
    if (!l->csv && put("]\n", 2, l) != 0)
        return put_error(l, e);
    return l->streaming ? flush(l, e) : PH_OK;
}

int data_listing_reply(data_listing_t *l, int status, bool object)
{
    const ph_server_api_t *api = l->api;
    const char *type = object ? "application/vnd.pgrst.object+json" : l->type;
    const char *body = l->buf;
    size_t len = l->len;
    if (object) { /* "[ROW]\n" -> "ROW\n" in place */
        l->buf[l->len - 2] = '\n';
        body = l->buf + 1;
        len = l->len - 2;
    }
    if (api->on_cleanup(l->req, free, l->buf) != PH_OK) {
        data_listing_free(l);
        return PH_ERROR;
    }
    l->buf = NULL; /* the request's now */
    api->set_status(l->req, status);
    api->add_header(l->req, "Content-Type", type);
    return api->body_ref(l->req, body, len);
}

void data_listing_free(data_listing_t *l)
{
    free(l->buf);
    l->buf = NULL;
    l->len = l->cap = 0;
}
