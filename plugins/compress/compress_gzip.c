/* compress_gzip: the gzip coding through zlib's deflate (RFC 1952). */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "compress_backend.h"

#define GZ_WBITS 15   /* deflate's largest window, 32 KiB */
#define GZ_MEMLEVEL 8 /* zlib's default: 128 KiB of hash state */

/* A body of known length needs no window longer than itself: shrink the
 * window and the hash with it, so a 2 KiB answer does not make zlib set up
 * 300 KiB. deflate needs 262 bytes of look-ahead beyond the data. */
static void fit(int64_t size_hint, int *wbits, int *memlevel)
{
    *wbits = GZ_WBITS;
    *memlevel = GZ_MEMLEVEL;
    if (size_hint < 0)
        return;
    while (*wbits > 9 && size_hint < (1 << (*wbits - 1)) - 262) {
        (*wbits)--;
        if (*memlevel > 1)
            (*memlevel)--;
    }
}

/* zlib's stream and the window and hash sizes it was set up with, which a
 * reset cannot change. */
typedef struct gz {
    z_stream s;
    int wbits, memlevel, level;
} gz_t;

static void *gz_open(int level, int64_t size_hint, char *why, size_t cap)
{
    gz_t *g = calloc(1, sizeof *g);
    z_stream *s;
    int wbits, memlevel, rc;
    if (g == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    s = &g->s;
    fit(size_hint, &wbits, &memlevel);
    /* windowBits + 16: a gzip header and trailer instead of zlib's */
    rc = deflateInit2(s, level, Z_DEFLATED, wbits + 16, memlevel, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        snprintf(why, cap, "gzip: deflateInit2 failed (%d%s%s)", rc, s->msg ? ": " : "", s->msg ? s->msg : "");
        free(g);
        return NULL;
    }
    g->wbits = wbits;
    g->memlevel = memlevel;
    g->level = level;
    return g;
}

static int gz_reset(void *state, int level, int64_t size_hint)
{
    gz_t *g = state;
    int wbits, memlevel;
    fit(size_hint, &wbits, &memlevel);
    if (wbits != g->wbits || memlevel != g->memlevel || deflateReset(&g->s) != Z_OK)
        return -1;
    /* deflateParams on a stream that has seen no input only sets the level */
    if (level != g->level && deflateParams(&g->s, level, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    g->level = level;
    return 0;
}

static int gz_run(void *state, const unsigned char *in, size_t len, cz_op_t op, cz_out_t *out)
{
    z_stream *s = &((gz_t *)state)->s;
    int flush = op == CZ_FINISH ? Z_FINISH : op == CZ_FLUSH ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    for (;;) {
        /* avail_in is a uInt: feed a larger piece in slices */
        size_t take = len > UINT_MAX ? UINT_MAX : len;
        int last = take == len;
        s->next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const */
        s->avail_in = (uInt)take;
        for (;;) {
            s->next_out = out->buf;
            s->avail_out = (uInt)out->cap;
            int rc = deflate(s, last ? flush : Z_NO_FLUSH);
            /* Z_BUF_ERROR: nothing to do, not an error */
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
                snprintf(out->why, out->whycap, "gzip: deflate failed (%d%s%s)", rc, s->msg ? ": " : "",
                         s->msg ? s->msg : "");
                return -1;
            }
            if (cz_out_emit(out, out->cap - s->avail_out) < 0)
                return -1;
            if ((last && flush == Z_FINISH) ? rc == Z_STREAM_END : (s->avail_in == 0 && s->avail_out != 0))
                break;
        }
        if (last)
            return 0;
        in += take;
        len -= take;
    }
}

static void gz_close(void *state)
{
    gz_t *g = state;
    if (g == NULL)
        return;
    deflateEnd(&g->s);
    free(g);
}

const cz_backend_t cz_gzip_backend = {"gzip", 1, 9, gz_open, gz_reset, gz_run, gz_close};
