/*
 * pubsub_msg: one published message, immutable once numbered and shared by
 * reference between the channel's ring and every subscriber still writing
 * it, on any thread (the count is atomic). It holds the body as published
 * (for long polls) and its Server-Sent Events frame:
 *     "id: <id>\n" "data: <line>\n"... "\n"
 * one data: line per line of the body, lines split at CR LF, LF or CR, so
 * that an EventSource joins them back with LF. The frame's "data:" part is
 * built outside any lock by ps_msg_new(); ps_msg_number() writes the id
 * line under the channel's lock.
 */
#ifndef PUBSUB_MSG_H
#define PUBSUB_MSG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ps_msg {
    unsigned refs;     /* atomic */
    uint64_t id;       /* 0 until numbered */
    const char *type;  /* the publisher's Content-Type, NUL-terminated, or NULL */
    const char *data;  /* the body as published */
    size_t data_len;
    char head[32];     /* "id: <id>\n" */
    size_t head_len;
    const char *frame; /* the data: lines and the blank line */
    size_t frame_len;
} ps_msg_t;

/* A message of len bytes at data, Content-Type type (type_len bytes, may be
 * 0), with one reference. NULL when out of memory. */
ps_msg_t *ps_msg_new(const void *data, size_t len, const char *type, size_t type_len);
/* Gives msg its id (once, before anyone else sees it). */
void ps_msg_number(ps_msg_t *msg, uint64_t id);
/* Bytes of the whole SSE event (id line and frame). */
size_t ps_msg_sse_len(const ps_msg_t *msg);
/* Copies at most cap bytes of the SSE event from offset off to out;
 * returns how many. */
size_t ps_msg_sse_copy(const ps_msg_t *msg, size_t off, char *out, size_t cap);
void ps_msg_ref(ps_msg_t *msg);
/* Drops a reference; the last one frees msg. NULL is ignored. */
void ps_msg_unref(ps_msg_t *msg);

#endif
