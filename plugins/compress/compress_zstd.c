/* compress_zstd: the zstd coding through libzstd (RFC 8878). */
#include <stdio.h>
#include <zstd.h>

#include "compress_backend.h"

/* Levels above 19 ("ultra") want windows of 8 MiB and more: refused. */
#define ZS_LEVEL_MAX 19

static int set(ZSTD_CCtx *c, ZSTD_cParameter p, int v, char *why, size_t cap)
{
    size_t rc = ZSTD_CCtx_setParameter(c, p, v);
    if (!ZSTD_isError(rc))
        return 0;
    snprintf(why, cap, "zstd: %s", ZSTD_getErrorName(rc));
    return -1;
}

/* Level, window and length of the next frame: 0, or -1 (reason in why). */
static int setup(ZSTD_CCtx *c, int level, int64_t size_hint, char *why, size_t cap)
{
    if (set(c, ZSTD_c_compressionLevel, level, why, cap) < 0 || set(c, ZSTD_c_windowLog, CZ_WINDOW_LOG, why, cap) < 0)
        return -1;
    /* The length in the frame header, and tables sized to it. */
    if (size_hint >= 0) {
        size_t rc = ZSTD_CCtx_setPledgedSrcSize(c, (unsigned long long)size_hint);
        if (ZSTD_isError(rc)) {
            snprintf(why, cap, "zstd: %s", ZSTD_getErrorName(rc));
            return -1;
        }
    }
    return 0;
}

static void *zs_open(int level, int64_t size_hint, char *why, size_t cap)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (c == NULL) {
        snprintf(why, cap, "zstd: out of memory");
        return NULL;
    }
    if (setup(c, level, size_hint, why, cap) < 0) {
        ZSTD_freeCCtx(c);
        return NULL;
    }
    return c;
}

/* The context keeps its workspace across frames: only the parameters go. */
static int zs_reset(void *state, int level, int64_t size_hint)
{
    char why[128];
    if (ZSTD_isError(ZSTD_CCtx_reset(state, ZSTD_reset_session_and_parameters)))
        return -1;
    return setup(state, level, size_hint, why, sizeof why);
}

static int zs_run(void *state, const unsigned char *in, size_t len, cz_op_t op, cz_out_t *out)
{
    ZSTD_CCtx *c = state;
    ZSTD_EndDirective mode = op == CZ_FINISH ? ZSTD_e_end : op == CZ_FLUSH ? ZSTD_e_flush : ZSTD_e_continue;
    ZSTD_inBuffer ib = {in, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {out->buf, out->cap, 0};
        size_t left = ZSTD_compressStream2(c, &ob, &ib, mode);
        if (ZSTD_isError(left)) {
            snprintf(out->why, out->whycap, "zstd: %s", ZSTD_getErrorName(left));
            return -1;
        }
        if (cz_out_emit(out, ob.pos) < 0)
            return -1;
        /* continue: done once the input is taken; flush and end: once
         * nothing is left to write */
        if (mode == ZSTD_e_continue ? ib.pos == ib.size : left == 0)
            return 0;
    }
}

static void zs_close(void *state)
{
    ZSTD_freeCCtx(state);
}

const cz_backend_t cz_zstd_backend = {"zstd", 1, ZS_LEVEL_MAX, zs_open, zs_reset, zs_run, zs_close};
