/*
 * compress_cache: one idle codec per coding and worker thread, kept for
 * the thread's next response. Setting a library up for each response and
 * freeing it after costs more than the compression of a small page: zlib's
 * 270 KiB go back to the allocator, which hands the pages back to the
 * kernel, and come back as about 30 page faults per response. A reset
 * (deflateReset, ZSTD_CCtx_reset) keeps them. libbrotlienc has no reset:
 * its codecs are never kept.
 *
 * Bounded: at most CZ_NCODINGS codecs per thread (gzip about 270 KiB,
 * zstd at most the 512 KiB window and its tables). Slots are per thread,
 * so no locking: each is used only by its own thread.
 */
#ifndef COMPRESS_CACHE_H
#define COMPRESS_CACHE_H

#include "compress_codec.h"

typedef struct cz_cache cz_cache_t;

/* A cache for threads worker threads (indexes 0..threads-1), or NULL when
 * out of memory. */
cz_cache_t *cz_cache_new(unsigned threads);

/* Frees c and every codec it keeps; NULL is fine. Only when no thread can
 * use it any more (the instance's destroy()). */
void cz_cache_free(cz_cache_t *c);

/* A codec for coding at level and size_hint, from thread's slot when the
 * one kept there can be reset for it, else a new one (as cz_codec_new,
 * why and cap included). thread out of range: always a new one. */
cz_codec_t *cz_cache_take(cz_cache_t *c, unsigned thread, cz_coding_t coding, int level, int64_t size_hint,
                          char *why, size_t cap);

/* Gives z back from thread: kept in the slot of its coding when that is
 * empty, else freed. z must have been taken on thread; NULL is fine. */
void cz_cache_put(cz_cache_t *c, unsigned thread, cz_coding_t coding, cz_codec_t *z);

#endif
