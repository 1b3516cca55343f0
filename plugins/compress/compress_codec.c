/* compress_codec: one body's compressor; contract in compress_codec.h. */
#include "compress_codec.h"

#include <stdio.h>
#include <stdlib.h>

#include "compress_backend.h"

struct cz_codec {
    cz_coding_t coding;
    const cz_backend_t *be;
    void *state;
    unsigned char buf[CZ_OUT_BYTES];
};

static const cz_backend_t *const backends[CZ_NCODINGS] = {
    [CZ_GZIP] = &cz_gzip_backend,
    [CZ_BR] = &cz_br_backend,
    [CZ_ZSTD] = &cz_zstd_backend,
};

const char *cz_coding_name(cz_coding_t c) { return backends[c]->name; }
int cz_level_min(cz_coding_t c) { return backends[c]->level_min; }
int cz_level_max(cz_coding_t c) { return backends[c]->level_max; }

cz_codec_t *cz_codec_new(cz_coding_t c, int level, int64_t size_hint, char *why, size_t cap)
{
    cz_codec_t *z = malloc(sizeof *z);
    if (z == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    z->coding = c;
    z->be = backends[c];
    z->state = z->be->open(level, size_hint, why, cap);
    if (z->state == NULL) {
        free(z);
        return NULL;
    }
    return z;
}

int cz_codec_run(cz_codec_t *z, const void *in, size_t len, cz_op_t op, cz_sink_fn sink, void *arg, char *why,
                 size_t cap)
{
    cz_out_t out = {z->buf, sizeof z->buf, sink, arg, why, cap};
    return z->be->run(z->state, in, len, op, &out);
}

int cz_codec_reuse(cz_codec_t *z, cz_coding_t c, int level, int64_t size_hint)
{
    if (z->coding != c || z->be->reset == NULL)
        return -1;
    return z->be->reset(z->state, level, size_hint);
}

int cz_codec_reusable(const cz_codec_t *z)
{
    return z->be->reset != NULL;
}

void cz_codec_free(cz_codec_t *z)
{
    if (z == NULL)
        return;
    z->be->close(z->state);
    free(z);
}

int cz_out_emit(cz_out_t *out, size_t n)
{
    if (n == 0 || out->sink(out->arg, out->buf, n) == 0)
        return 0;
    snprintf(out->why, out->whycap, "the compressed output could not be passed on");
    return -1;
}
