/*
 * compress: on-the-fly compression as an output filter (README.md).
 *
 *   [route /]
 *   plugin = static, compress
 *   compress.encodings = zstd, br, gzip
 *
 * filter_head() decides, from the response's fields and the request's
 * Accept-Encoding, whether this body is compressed and with what;
 * filter_body() runs the codec over the body as it is produced, flushing
 * it whenever the producer waits, so a stream of events reaches the
 * client event by event. The codec belongs to the request: an on_cleanup
 * frees it whether the response ends, fails or is abandoned.
 */
#include <plughttpd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compress_cache.h"
#include "compress_codec.h"
#include "compress_conf.h"
#include "compress_neg.h"

typedef struct compress {
    const ph_server_api_t *api;
    cz_conf_t conf;
    cz_cache_t *cache; /* idle codecs per worker thread */
    char prefix[128];  /* the route, for log lines */
} compress_t;

/* One response being compressed. */
typedef struct cz_req {
    compress_t *c;
    ph_request_t *req;
    cz_codec_t *codec; /* NULL once finished or failed */
    cz_coding_t coding;
    unsigned thread;   /* the worker thread's index: its cache slot */
    int dirty;         /* input since the last flush */
} cz_req_t;

/* The calling worker thread's index + 1 (0: not a worker thread), set by
 * thread_init: the filter hooks run on the request's loop thread. Every
 * instance on a thread writes the same value. */
static __thread unsigned cz_thread_slot;

static int compress_thread_init(void *instance, unsigned index)
{
    (void)instance;
    cz_thread_slot = index + 1;
    return PH_OK;
}

static int compress_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    compress_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return PH_ERROR;
    }
    if (!PH_API_HAS(args->api, resp_length)) { /* older than the header we need (status too) */
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "needs plugin ABI 1.5 (api->resp_length)");
        free(c);
        return PH_ERROR;
    }
    if (cz_conf_parse(&c->conf, args->api, args->keys, args->nkeys, err) != PH_OK) {
        free(c);
        return PH_ERROR;
    }
    c->cache = cz_cache_new(args->threads);
    if (c->cache == NULL) {
        err->key = -1;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        free(c);
        return PH_ERROR;
    }
    c->api = args->api;
    snprintf(c->prefix, sizeof c->prefix, "%s", args->prefix);
    *instance = c;
    return PH_OK;
}

static void compress_destroy(void *instance)
{
    compress_t *c = instance;
    cz_cache_free(c->cache);
    free(c);
}

static int has_field(const ph_server_api_t *api, const ph_request_t *req, const char *name)
{
    ph_str_t v;
    return api->resp_header(req, name, &v);
}

/* Whether this response is one the route compresses for clients that
 * accept it: a listed type, not encoded already, not a part of a
 * representation, transformations allowed, and not known to be too small.
 * Only then does the answer depend on Accept-Encoding (and say so in Vary). */
static int compressible(const compress_t *c, const ph_request_t *req)
{
    const ph_server_api_t *api = c->api;
    ph_str_t v;
    if (!api->resp_header(req, "Content-Type", &v) || !cz_types_match(&c->conf.types, v.ptr, v.len))
        return 0;
    /* a part (206, also multipart/byteranges without Content-Range) or a
     * 416: the bytes are offsets into the identity representation */
    if (api->status(req) == 206 || has_field(api, req, "Content-Encoding") || has_field(api, req, "Content-Range"))
        return 0;
    if (api->resp_header(req, "Cache-Control", &v) && cz_list_has(v.ptr, v.len, "no-transform"))
        return 0;
    int64_t len = api->resp_length(req);
    return len < 0 || (uint64_t)len >= c->conf.min_length;
}

/* Vary: Accept-Encoding, unless the response says it already (in its
 * first Vary field) or varies on everything. Another Vary field line is
 * the same as a merged value (RFC 9110 section 5.3) and leaves the
 * handler's own fields alone. */
static int add_vary(const ph_server_api_t *api, ph_request_t *req)
{
    ph_str_t v;
    if (api->resp_header(req, "Vary", &v) &&
        (cz_list_has(v.ptr, v.len, "accept-encoding") || cz_list_has(v.ptr, v.len, "*")))
        return PH_OK;
    return api->add_header(req, "Vary", "Accept-Encoding");
}

/* A strong validator names exact bytes, which the compressed body is not:
 * weaken it (W/), as nginx does, so If-None-Match still revalidates. */
static int weaken_etag(const ph_server_api_t *api, ph_request_t *req)
{
    ph_str_t v;
    if (!api->resp_header(req, "ETag", &v) || v.len == 0 || v.ptr[0] != '"')
        return PH_OK;
    char *w = api->alloc(req, v.len + 3);
    if (w == NULL)
        return PH_ERROR;
    memcpy(w, "W/", 2);
    memcpy(w + 2, v.ptr, v.len);
    w[v.len + 2] = '\0';
    return api->set_header(req, "ETag", w);
}

/* Done with the codec: back to the thread's cache when it can serve again
 * (a finished body, or one cut short: a reset makes either new), freed
 * after a library error or on another thread. */
static void release(cz_req_t *st, int reusable)
{
    cz_codec_t *z = st->codec;
    st->codec = NULL;
    if (reusable && cz_thread_slot == st->thread + 1)
        cz_cache_put(st->c->cache, st->thread, st->coding, z);
    else
        cz_codec_free(z);
}

/* on_cleanup: the request ends, however it ends. */
static void free_state(void *arg)
{
    release(arg, 1);
}

static int compress_head(void *instance, ph_request_t *req, void **state)
{
    compress_t *c = instance;
    const ph_server_api_t *api = c->api;
    ph_str_t method, ae;
    char why[160];

    if (!compressible(c, req))
        return PH_DECLINED;
    if (add_vary(api, req) != PH_OK)
        return PH_ERROR;
    /* HEAD: the length and validators stay those of the identity body */
    method = api->method(req);
    if (method.len == 4 && memcmp(method.ptr, "HEAD", 4) == 0)
        return PH_DECLINED;
    int has_ae = api->header(req, "Accept-Encoding", &ae);
    int coding = cz_neg_choose(c->conf.order, c->conf.ncodings, has_ae ? ae.ptr : NULL, has_ae ? ae.len : 0);
    if (coding < 0)
        return PH_DECLINED;

    cz_req_t *st = api->alloc(req, sizeof *st);
    if (st == NULL)
        return PH_ERROR;
    *st = (cz_req_t){c, req, NULL, (cz_coding_t)coding, cz_thread_slot - 1, 0};
    st->codec = cz_cache_take(c->cache, st->thread, st->coding, c->conf.level[coding], api->resp_length(req), why,
                              sizeof why);
    if (st->codec == NULL) {
        api->log(PH_LOG_ERROR, "compress %s: %s", c->prefix, why);
        return PH_ERROR;
    }
    if (api->on_cleanup(req, free_state, st) != PH_OK) {
        free_state(st);
        return PH_ERROR;
    }
    *state = st;
    /* Accept-Ranges: ranges of the compressed body cannot be served */
    api->remove_header(req, "Accept-Ranges");
    if (api->set_header(req, "Content-Encoding", cz_coding_name((cz_coding_t)coding)) != PH_OK ||
        weaken_etag(api, req) != PH_OK)
        return PH_ERROR;
    return PH_OK;
}

static int emit(void *arg, const void *data, size_t len)
{
    cz_req_t *st = arg;
    return st->c->api->filter_emit(st->req, data, len) == PH_OK ? 0 : -1;
}

static int compress_body(void *instance, ph_request_t *req, void *state, const void *data, size_t len,
                         unsigned flags)
{
    compress_t *c = instance;
    cz_req_t *st = state;
    char why[160];
    cz_op_t op = CZ_PROCESS;

    (void)req;
    if (st == NULL || st->codec == NULL) /* after the end or a failure */
        return len == 0 ? PH_OK : PH_ERROR;
    if (flags & PH_FILTER_END)
        op = CZ_FINISH;
    else if ((flags & PH_FILTER_FLUSH) && (st->dirty || len > 0))
        op = CZ_FLUSH; /* a flush with nothing new would only add bytes */
    if (len == 0 && op == CZ_PROCESS)
        return PH_OK;
    if (cz_codec_run(st->codec, data, len, op, emit, st, why, sizeof why) != 0) {
        c->api->log(PH_LOG_ERROR, "compress %s: %s", c->prefix, why);
        release(st, 0);
        return PH_ERROR;
    }
    st->dirty = op == CZ_PROCESS;
    if (op == CZ_FINISH) /* the codec serves the thread's next response */
        release(st, 1);
    return PH_OK;
}

static const ph_hooks_t compress_hooks = {
    sizeof compress_hooks,
    .filter_head = compress_head,
    .filter_body = compress_body,
    .thread_init = compress_thread_init,
};

PH_PLUGIN_DEFINE_HOOKS("compress", "1.0", 0, compress_create, NULL, compress_destroy, &compress_hooks);
