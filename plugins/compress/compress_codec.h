/*
 * compress_codec: one response body being compressed, whatever the
 * library: gzip (zlib), br (libbrotlienc) or zstd (libzstd). Pure, no
 * plugin API: the output goes to a sink the caller gives.
 *
 * Memory is bounded per codec: the library's state (sized by the level,
 * the window below and, when the body's length is known, that length) and
 * one output buffer of CZ_OUT_BYTES, handed to the sink each time it fills.
 */
#ifndef COMPRESS_CODEC_H
#define COMPRESS_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef enum cz_coding { CZ_GZIP, CZ_BR, CZ_ZSTD, CZ_NCODINGS } cz_coding_t;

/* What a run does with the input, besides compressing it. */
typedef enum cz_op {
    CZ_PROCESS, /* keep what the library holds back: best ratio */
    CZ_FLUSH,   /* everything so far out now, decodable by the client
                   (Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH, ZSTD_e_flush) */
    CZ_FINISH,  /* the last input: close the stream */
} cz_op_t;

/* Bytes of the output buffer of each codec. */
#define CZ_OUT_BYTES 16384
/* log2 of the brotli and zstd windows: 512 KiB, a bound on the memory a
 * long stream holds (their own defaults, 4 and 2 MiB at these levels, gain
 * little on web responses). gzip's is deflate's 32 KiB. */
#define CZ_WINDOW_LOG 19

/* Where a codec's output goes: PH_OK-style 0, or -1 to stop the run. */
typedef int (*cz_sink_fn)(void *arg, const void *data, size_t len);

typedef struct cz_codec cz_codec_t;

/* The coding's name in Content-Encoding ("gzip", "br", "zstd"), and the
 * level range its key accepts. */
const char *cz_coding_name(cz_coding_t c);
int cz_level_min(cz_coding_t c);
int cz_level_max(cz_coding_t c);

/*
 * A codec for coding c at level (within cz_level_min..max), for a body of
 * size_hint bytes (-1: unknown; when known, the libraries size their
 * tables to it, and exactly so many bytes must follow). The caller frees
 * it with cz_codec_free(). NULL with a reason in why[0..cap) when the
 * library refuses or memory runs out.
 */
cz_codec_t *cz_codec_new(cz_coding_t c, int level, int64_t size_hint, char *why, size_t cap);

/*
 * Compresses len bytes of in (len may be 0) and does op, handing the
 * output to sink(arg, ...) in pieces of at most CZ_OUT_BYTES. 0, or -1
 * when the library failed (reason in why[0..cap)) or the sink refused (why
 * then says so). After CZ_FINISH, or after a failure, only free it.
 */
int cz_codec_run(cz_codec_t *z, const void *in, size_t len, cz_op_t op, cz_sink_fn sink, void *arg, char *why,
                 size_t cap);

/*
 * Readies z, finished or not, for a new body of coding c at level and
 * size_hint, keeping the library's memory (see compress_cache.h): 0, or -1
 * when z cannot serve it (another coding, a window of another size, a
 * library without a reset); z is unchanged then.
 */
int cz_codec_reuse(cz_codec_t *z, cz_coding_t c, int level, int64_t size_hint);
/* 1 when the library can reset z's state at all (not libbrotlienc's). */
int cz_codec_reusable(const cz_codec_t *z);

/* Frees z and the library's state; NULL is fine. */
void cz_codec_free(cz_codec_t *z);

#endif
