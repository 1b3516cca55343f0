/*
 * compress_backend: what compress_codec.c asks of each library's file
 * (compress_gzip.c, compress_br.c, compress_zstd.c). Internal to the
 * codec: nothing else includes it.
 */
#ifndef COMPRESS_BACKEND_H
#define COMPRESS_BACKEND_H

#include "compress_codec.h"

/* The output side of one run: the codec's buffer and where it goes. */
typedef struct cz_out {
    unsigned char *buf;
    size_t cap;
    cz_sink_fn sink;
    void *arg;
    char *why;
    size_t whycap;
} cz_out_t;

typedef struct cz_backend {
    const char *name;
    int level_min, level_max;
    /* The library's state, or NULL (reason in why). */
    void *(*open)(int level, int64_t size_hint, char *why, size_t cap);
    /* Makes a finished or unfinished state ready for a new body at level
     * and size_hint without freeing what it allocated: 0, or -1 when it
     * cannot be (the caller then closes it and opens another). NULL: the
     * library cannot reset its state. */
    int (*reset)(void *state, int level, int64_t size_hint);
    /* As cz_codec_run(). */
    int (*run)(void *state, const unsigned char *in, size_t len, cz_op_t op, cz_out_t *out);
    void (*close)(void *state);
} cz_backend_t;

/* Hands n bytes of out->buf to the sink: 0, or -1 (why filled). */
int cz_out_emit(cz_out_t *out, size_t n);

extern const cz_backend_t cz_gzip_backend;
extern const cz_backend_t cz_br_backend;
extern const cz_backend_t cz_zstd_backend;

#endif
