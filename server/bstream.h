/*
 * A blocking handler's streamed response (ABI 1.8): co_respond() and
 * co_send() called by a PH_PLUGIN_BLOCKING plugin's handle() on its helper
 * thread.
 *
 * The helper thread produces, the loop thread sends. Between them sits one
 * bounded queue (APICO_OUT_HIGH bytes) under a mutex: co_send() copies into
 * it and waits on a condition variable while it is full, so a slow client
 * slows the producer down and memory stays flat; the stream's pull function
 * (ph_read_fn, loop thread) takes from it, signals room, and answers
 * PH_STREAM_WAIT when it is empty, after which the producer's next bytes
 * wake the stream (api->stream_wake, thread-safe).
 *
 * co_respond() posts the head to the loop and waits until it is under way
 * (or refused). The job's end (exchange_on_blocking_done) finishes the
 * queue: the stream ends after its last bytes when handle() returned PH_OK,
 * and aborts the connection otherwise. The client leaving (exchange_cancel)
 * wakes a waiting co_send(), which returns -ECANCELED; the request, held by
 * the job, is not freed before handle() returns.
 *
 * After co_respond() the loop owns the response and the request's pool: the
 * handler calls nothing on req but co_send() and cancelled().
 */
#ifndef PH_BSTREAM_H
#define PH_BSTREAM_H

#include <stdint.h>
#include <sys/types.h>

#include <plughttpd/plugin.h>

/* co_respond() from a blocking handle() of req (helper thread): 0 once the
 * head is under way, -EPERM when the caller is not req's blocking handler
 * (or its plugin was built before ABI 1.8), -EINVAL when already responded,
 * -ECANCELED when the client left, -ENOMEM. */
int bstream_respond(ph_request_t *req, int64_t length);
/* co_send() from the same thread: len, or -EPERM, -EINVAL (no
 * co_respond()), -EMSGSIZE (beyond the announced length), -ECANCELED,
 * -ETIMEDOUT (the client took nothing for timeout_ms), -ENOMEM. */
ssize_t bstream_send(ph_request_t *req, const void *data, size_t len, int64_t timeout_ms);

/* Loop thread. The client left: a waiting co_send() returns. */
void bstream_cancel(ph_request_t *req);
/* Loop thread, at the job's end: when req streams, records rc and lets the
 * stream pull its end; returns 1 then, 0 when req never responded. */
int bstream_finish(ph_request_t *req, int rc);

#endif
