/* compress_br: the br coding through libbrotlienc (RFC 7932). */
#include <brotli/encode.h>
#include <stdio.h>

#include "compress_backend.h"

static void *br_open(int level, int64_t size_hint, char *why, size_t cap)
{
    BrotliEncoderState *s = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (s == NULL) {
        snprintf(why, cap, "br: out of memory");
        return NULL;
    }
    int ok = BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, (uint32_t)level) &&
             BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, CZ_WINDOW_LOG);
    /* a known length lets brotli size its ring buffer and tables to it */
    if (ok && size_hint >= 0)
        ok = BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT,
                                       size_hint > (1 << 30) ? 1u << 30 : (uint32_t)size_hint);
    if (!ok) {
        snprintf(why, cap, "br: level %d refused", level);
        BrotliEncoderDestroyInstance(s);
        return NULL;
    }
    return s;
}

static int br_run(void *state, const unsigned char *in, size_t len, cz_op_t op, cz_out_t *out)
{
    BrotliEncoderState *s = state;
    BrotliEncoderOperation bop = op == CZ_FINISH  ? BROTLI_OPERATION_FINISH
                                 : op == CZ_FLUSH ? BROTLI_OPERATION_FLUSH
                                                  : BROTLI_OPERATION_PROCESS;
    size_t avail_in = len;
    const uint8_t *next_in = in;
    for (;;) {
        size_t avail_out = out->cap;
        uint8_t *next_out = out->buf;
        if (!BrotliEncoderCompressStream(s, bop, &avail_in, &next_in, &avail_out, &next_out, NULL)) {
            snprintf(out->why, out->whycap, "br: BrotliEncoderCompressStream failed");
            return -1;
        }
        if (cz_out_emit(out, out->cap - avail_out) < 0)
            return -1;
        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(s) &&
            (bop != BROTLI_OPERATION_FINISH || BrotliEncoderIsFinished(s)))
            return 0;
    }
}

static void br_close(void *state)
{
    BrotliEncoderDestroyInstance(state);
}

const cz_backend_t cz_br_backend = {"br", BROTLI_MIN_QUALITY, BROTLI_MAX_QUALITY, br_open, NULL, br_run,
                                    br_close}; /* libbrotlienc has no reset */
