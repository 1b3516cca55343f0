/*
 * A listing's body (GET on a table or view, the rows of a function): the
 * rows' JSON array or CSV text, written row by row as the database hands
 * them over (data_db.h's read), kept in memory while it is small and
 * streamed to the client once it is not.
 *
 * Up to DATA_LISTING_INLINE bytes the body stays in one buffer, and the
 * caller answers it whole (data_listing_reply: Content-Length, one
 * body_ref, its status and headers decided once every row is in).
 * Beyond that, on a listing that may stream, the head goes out as the
 * caller prepared it (status, range, total) with a body of unknown length
 * (chunked for HTTP/1.1), the buffer is sent, and every further
 * DATA_LISTING_CHUNK bytes follow as they are written: what stays in
 * memory is one chunk and one row, and the writing thread waits (inside
 * the row function) while the client reads slower than the database
 * sends. max bounds what the buffer holds at any time: the whole body of
 * a listing that does not stream, one chunk and one row's text of one
 * that does.
 *
 * Streaming needs a core whose blocking handlers may respond early (ABI
 * 1.8); on an older core every listing is built whole.
 */
#ifndef DATA_LISTING_H
#define DATA_LISTING_H

#include <jansson.h>
#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stddef.h>

#include "data_db.h"
#include "data_schema.h"

/* A body up to this size is answered whole, as before streaming existed:
 * with a Content-Length (which caches and clients prefer, and which lets
 * a late database error still be a proper JSON error answer), from one
 * buffer. A page of rows of a usual size fits; 256 KiB held per listing
 * is of the order of the socket buffers and the core's own output queue,
 * so it adds little next to them. */
#define DATA_LISTING_INLINE (256u * 1024u)
/* Once streaming, the body goes to the core in pieces of about this size:
 * large enough that each co_send() copies a worthwhile amount, small
 * enough that memory stays flat. */
#define DATA_LISTING_CHUNK (64u * 1024u)
/* How long one piece may wait for the client to read (co_send's timeout).
 * The core's send_timeout usually ends a stalled client first; this bounds
 * how long a stalled client can hold a helper thread and a database
 * connection in any case. */
#define DATA_LISTING_SEND_TIMEOUT_MS 60000

typedef struct data_listing {
    const ph_server_api_t *api;
    ph_request_t *req;
    char *buf;
    size_t len, cap, max; /* max: max_response_bytes, bounds buf */
    size_t rows;          /* rows written so far */
    bool csv;             /* CSV (data_csv.h) instead of JSON */
    const data_table_t *csv_cols; /* its columns, while the rows run */
    bool may_stream;      /* the caller allows streaming (set by init) */
    /* The head a streamed body goes out with, set by the caller before
     * it can start (before the first row): status (200 by default),
     * Content-Type, and the Content-Range and X-Total-Count values when
     * known ahead (empty: none). */
    int status;
    const char *type;
    char range[96], total[24];
    /* What happened: the head went (streaming), the text outgrew max,
     * the client left (co_send failed), memory ran out. */
    bool streaming, too_big, gone;
} data_listing_t;

/* Starts an empty listing for req: CSV of csv_cols when csv (else JSON),
 * max bytes in memory at most, streaming allowed when may_stream (and the
 * core can). Nothing is allocated yet. */
void data_listing_init(data_listing_t *l, const ph_server_api_t *api, ph_request_t *req, size_t max, bool csv,
                       const data_table_t *csv_cols, bool may_stream);

/* Writes what comes before the rows ("[" or the CSV header). PH_OK, or
 * PH_ERROR with *e filled. */
int data_listing_open(data_listing_t *l, data_dberr_t *e);

/* data_row_fn (data_db.h) writing one row (arg: the listing); may send
 * the head and a chunk, waiting for the client. PH_ERROR with *e filled
 * when the text outgrew max, memory ran out or the client left. */
int data_listing_row(void *arg, json_t *row, data_dberr_t *e);

/* Writes what comes after the rows ("]\n" for JSON) and, when streaming,
 * sends the rest. PH_OK, or PH_ERROR with *e filled. */
int data_listing_close(data_listing_t *l, data_dberr_t *e);

/* Answers the whole (not streamed) body with status and its Content-Type
 * (the object's for object: the one row of "[ROW]\n" as "ROW\n"); the
 * buffer passes to the request. PH_ERROR when out of memory (nothing
 * answered; the buffer is freed). */
int data_listing_reply(data_listing_t *l, int status, bool object);

/* Frees what the listing still holds (after data_listing_reply: nothing). */
void data_listing_free(data_listing_t *l);

#endif
