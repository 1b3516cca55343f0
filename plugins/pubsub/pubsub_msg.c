#include "pubsub_msg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ps_data_tag[] = "data: ";

/* Bytes of the data: lines of len bytes at p, and the blank line. */
static size_t ps_frame_len(const char *p, size_t len)
{
    size_t lines = 1, text = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r' || p[i] == '\n') {
            if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
                i++;
            lines++;
        } else {
            text++;
        }
    }
    return lines * (sizeof ps_data_tag - 1 + 1) + text + 1;
}

static void ps_frame_write(char *out, const char *p, size_t len)
{
    memcpy(out, ps_data_tag, sizeof ps_data_tag - 1);
    out += sizeof ps_data_tag - 1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r' || p[i] == '\n') {
            if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
                i++;
            *out++ = '\n';
            memcpy(out, ps_data_tag, sizeof ps_data_tag - 1);
            out += sizeof ps_data_tag - 1;
        } else {
            *out++ = p[i];
        }
    }
    *out++ = '\n';
    *out = '\n';
}

ps_msg_t *ps_msg_new(const void *data, size_t len, const char *type, size_t type_len)
{
    size_t flen = ps_frame_len(data, len);
    /* one block: the struct, the body, the frame, the type */
    if (len > SIZE_MAX / 8 || type_len > 1024)
        return NULL;
    ps_msg_t *m = malloc(sizeof *m + len + flen + type_len + 1);
    if (m == NULL)
        return NULL;
    char *body = (char *)(m + 1), *frame = body + len, *t = frame + flen;
    if (len)
        memcpy(body, data, len);
    ps_frame_write(frame, data, len);
    if (type_len) {
        memcpy(t, type, type_len);
        t[type_len] = '\0';
    }
    *m = (ps_msg_t){.refs = 1, .type = type_len ? t : NULL, .data = body, .data_len = len,
                    .frame = frame, .frame_len = flen};
    return m;
}

void ps_msg_number(ps_msg_t *msg, uint64_t id)
{
    msg->id = id;
    int n = snprintf(msg->head, sizeof msg->head, "id: %" PRIu64 "\n", id);
    msg->head_len = n > 0 ? (size_t)n : 0;
}

size_t ps_msg_sse_len(const ps_msg_t *msg) { return msg->head_len + msg->frame_len; }

size_t ps_msg_sse_copy(const ps_msg_t *msg, size_t off, char *out, size_t cap)
{
    size_t done = 0;
    if (off < msg->head_len) {
        size_t n = msg->head_len - off;
        if (n > cap)
            n = cap;
        memcpy(out, msg->head + off, n);
        done = n;
        off += n;
    }
    if (done < cap && off >= msg->head_len) {
        size_t at = off - msg->head_len, n = msg->frame_len - at;
        if (n > cap - done)
            n = cap - done;
        memcpy(out + done, msg->frame + at, n);
        done += n;
    }
    return done;
}

void ps_msg_ref(ps_msg_t *msg) { __atomic_add_fetch(&msg->refs, 1, __ATOMIC_RELAXED); }

void ps_msg_unref(ps_msg_t *msg)
{
    if (msg && __atomic_sub_fetch(&msg->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(msg);
}
