/* compress_cache: idle codecs per thread; contract in compress_cache.h. */
#include "compress_cache.h"

#include <stdlib.h>

struct cz_cache {
    unsigned threads;
    cz_codec_t *(*idle)[CZ_NCODINGS]; /* idle[thread][coding] */
};

cz_cache_t *cz_cache_new(unsigned threads)
{
    cz_cache_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->threads = threads;
    c->idle = calloc(threads ? threads : 1, sizeof *c->idle);
    if (c->idle == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void cz_cache_free(cz_cache_t *c)
{
    if (c == NULL)
        return;
    for (unsigned t = 0; t < c->threads; t++)
        for (int k = 0; k < CZ_NCODINGS; k++)
            cz_codec_free(c->idle[t][k]);
    free(c->idle);
    free(c);
}

cz_codec_t *cz_cache_take(cz_cache_t *c, unsigned thread, cz_coding_t coding, int level, int64_t size_hint,
                          char *why, size_t cap)
{
    if (thread < c->threads && c->idle[thread][coding] != NULL) {
        cz_codec_t *z = c->idle[thread][coding];
        c->idle[thread][coding] = NULL;
        if (cz_codec_reuse(z, coding, level, size_hint) == 0)
            return z;
        cz_codec_free(z); /* another window size: the next one may fit */
    }
    return cz_codec_new(coding, level, size_hint, why, cap);
}

void cz_cache_put(cz_cache_t *c, unsigned thread, cz_coding_t coding, cz_codec_t *z)
{
    if (z == NULL)
        return;
    if (thread < c->threads && c->idle[thread][coding] == NULL && cz_codec_reusable(z)) {
        c->idle[thread][coding] = z;
        return;
    }
    cz_codec_free(z);
}
