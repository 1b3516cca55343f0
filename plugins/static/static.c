/*
 * static: serves a document root mounted on a route.
 *
 * This file holds the plugin side only: the route's keys, the instance, and
 * handle() turning a request into a response. The decisions that need no
 * server live in the pure files beside it: static_path (safe open beneath
 * the root), static_range, static_cond (validators, preconditions),
 * static_mime, static_enc (Accept-Encoding), static_dir (listing),
 * static_file (a path opened and described once) and static_cache (the
 * open-file cache).
 *
 * handle() runs on several threads at once: the instance is read-only after
 * create() except for its list of caches, which has its own lock and is
 * touched only when a thread meets the instance for the first time. Each
 * thread has its own cache, found through a pthread key, so serving from
 * the cache takes no lock. Everything else per request is on the stack or
 * in the request's arena.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, strerror_r returning char * */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <plughttpd/plugin.h>

#include "static_cache.h"
#include "static_cond.h"
#include "static_dir.h"
#include "static_enc.h"
#include "static_file.h"
#include "static_mime.h"
#include "static_path.h"
#include "static_range.h"

#define MIME_TYPES_FILE "/etc/mime.types"
#define MAX_INDEX 16

/* Open-file cache defaults and limits (route keys cache_ttl, cache_entries,
 * cache_max_file). */
#define CACHE_TTL_MS 1000
#define CACHE_TTL_MAX_MS (24 * 3600 * 1000)
#define CACHE_ENTRIES 1024
#define CACHE_ENTRIES_MAX 65536
#define CACHE_MAX_FILE (256 * 1024)
#define CACHE_MAX_FILE_LIMIT (1024 * 1024)
/* File bytes one thread's cache keeps in memory. */
#define CACHE_MAX_BYTES (16 * 1024 * 1024)

typedef struct static_inst {
    const ph_server_api_t *api;
    int root_fd;                /* O_PATH directory, owned */
    char *index[MAX_INDEX];     /* owned */
    size_t nindex;
    int autoindex;
    int precompressed;
    int allow_dotfiles;
    int well_known;             /* ".well-known" below root despite deny */
    sp_symlinks_t symlinks;
    char *cache_control;        /* owned, NULL when unset */
    sm_table_t *mime;           /* owned, NULL without /etc/mime.types */
    /* Open-file cache: off when cache_ttl is 0 or no key could be had. */
    int64_t cache_ttl_ms;
    size_t cache_entries;
    size_t cache_max_file;
    int cache_on;
    pthread_key_t cache_key;    /* this thread's scache_t, not owned by it */
    pthread_mutex_t cache_lock; /* guards caches, ncaches */
    scache_t **caches;          /* owned: every thread's cache */
    size_t ncaches, max_caches;
} static_inst_t;

/* --- create / destroy --------------------------------------------------- */

static void inst_free(static_inst_t *in)
{
    if (in == NULL)
        return;
    if (in->cache_on) {
        /* destroy() runs after the last request: no thread uses a cache. */
        for (size_t i = 0; i < in->ncaches; i++)
            scache_free(in->caches[i]);
        free(in->caches);
        pthread_key_delete(in->cache_key);
        pthread_mutex_destroy(&in->cache_lock);
    }
    if (in->root_fd >= 0)
        close(in->root_fd);
    for (size_t i = 0; i < in->nindex; i++)
        free(in->index[i]);
    free(in->cache_control);
    sm_table_free(in->mime);
    free(in);
}

static int refuse(ph_error_t *err, int key, const char *fmt, const char *arg)
{
    snprintf(err->msg, sizeof(err->msg), fmt, arg);
    err->key = key;
    return PH_ERROR;
}

/* The server's own parsers (ABI 1.2), so every spelling server.ini's keys
 * accept ("Yes", "1", "64k", "64KB", "5s", "1m") means the same here. A
 * size or duration above limit is refused. */
static int key_bool(const static_inst_t *in, const char *v, int *out)
{
    return in->api->parse_bool(v, out);
}

static int key_size(const static_inst_t *in, const char *v, uint64_t limit, size_t *out)
{
    uint64_t n;

    if (in->api->parse_size(v, &n) != PH_OK || n > limit)
        return PH_ERROR;
    *out = (size_t)n;
    return PH_OK;
}

static int key_duration(const static_inst_t *in, const char *v, uint64_t limit_ms, int64_t *out)
{
    uint64_t ms;

    if (in->api->parse_duration(v, &ms) != PH_OK || ms > limit_ms)
        return PH_ERROR;
    *out = (int64_t)ms;
    return PH_OK;
}

/* One index name: a plain file name, no path. */
static int index_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255 || memchr(s, '/', n) || memchr(s, '\\', n))
        return 0;
    return !(s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.')));
}

/* "index = a.html, b.htm": appends each name. The first index key replaces
 * the default. */
static int add_index(static_inst_t *in, const char *v, int *replaced, ph_error_t *err, int key)
{
    if (!*replaced) {
        for (size_t i = 0; i < in->nindex; i++)
            free(in->index[i]);
        in->nindex = 0;
        *replaced = 1;
    }
    while (*v) {
        const char *e = strchr(v, ',');
        size_t n;

        if (e == NULL)
            e = v + strlen(v);
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        n = (size_t)(e - v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (!index_name_ok(v, n))
            return refuse(err, key, "index: '%s' is not a plain file name", v);
        if (in->nindex == MAX_INDEX)
            return refuse(err, key, "index: more than %s names", "16");
        in->index[in->nindex] = strndup(v, n);
        if (in->index[in->nindex] == NULL)
            return refuse(err, key, "%s", "out of memory");
        in->nindex++;
        v = *e ? e + 1 : e;
    }
    return PH_OK;
}

static int printable(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int apply_key(static_inst_t *in, const ph_kv_t *kv, int i, int *index_set,
                     const char **root, int *root_key, ph_error_t *err)
{
    const char *k = kv->key, *v = kv->value;
    int b;

    if (!strcmp(k, "root")) {
        if (*v == '\0')
            return refuse(err, i, "%s", "root: empty");
        *root = v;
        *root_key = i;
    } else if (!strcmp(k, "index")) {
        return add_index(in, v, index_set, err, i);
    } else if (!strcmp(k, "autoindex") || !strcmp(k, "precompressed") || !strcmp(k, "well_known")) {
        if (key_bool(in, v, &b) != PH_OK)
            return refuse(err, i, "%s: expected on or off", k);
        *(k[0] == 'a' ? &in->autoindex : k[0] == 'p' ? &in->precompressed : &in->well_known) = b;
    } else if (!strcmp(k, "cache_control")) {
        if (!printable(v))
            return refuse(err, i, "%s", "cache_control: empty or holds control characters");
        free(in->cache_control);
        if ((in->cache_control = strdup(v)) == NULL)
            return refuse(err, i, "%s", "out of memory");
    } else if (!strcmp(k, "dotfiles")) {
        if (strcmp(v, "deny") && strcmp(v, "allow"))
            return refuse(err, i, "%s", "dotfiles: expected deny or allow");
        in->allow_dotfiles = !strcmp(v, "allow");
    } else if (!strcmp(k, "symlinks")) {
        if (strcmp(v, "inside") && strcmp(v, "off"))
            return refuse(err, i, "%s", "symlinks: expected inside or off");
        in->symlinks = !strcmp(v, "off") ? SP_SYMLINKS_OFF : SP_SYMLINKS_INSIDE;
    } else if (!strcmp(k, "cache_ttl")) {
        if (key_duration(in, v, CACHE_TTL_MAX_MS, &in->cache_ttl_ms) != PH_OK)
            return refuse(err, i, "%s", "cache_ttl: expected a duration such as 1s or 200ms, at most 1 day");
    } else if (!strcmp(k, "cache_entries")) {
        if (key_size(in, v, CACHE_ENTRIES_MAX, &in->cache_entries) != PH_OK || in->cache_entries == 0)
            return refuse(err, i, "%s", "cache_entries: expected a number from 1 to 65536");
    } else if (!strcmp(k, "cache_max_file")) {
        if (key_size(in, v, CACHE_MAX_FILE_LIMIT, &in->cache_max_file) != PH_OK)
            return refuse(err, i, "%s", "cache_max_file: expected a size such as 32k, at most 1m");
    } else {
        return refuse(err, i, "unknown key '%s'", k);
    }
    return PH_OK;
}

static int open_root(static_inst_t *in, const ph_create_args_t *args, const char *root, int key,
                     ph_error_t *err)
{
    char path[4096], ebuf[128];
    int n;

    if (root[0] == '/')
        n = snprintf(path, sizeof(path), "%s", root);
    else
        n = snprintf(path, sizeof(path), "%s/%s", args->config_dir ? args->config_dir : ".", root);
    if (n < 0 || (size_t)n >= sizeof(path))
        return refuse(err, key, "%s", "root: path too long");
    in->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (in->root_fd < 0) {
        snprintf(err->msg, sizeof(err->msg), "root: cannot open directory %.180s: %s", path,
                 strerror_r(errno, ebuf, sizeof(ebuf)));
        err->key = key;
        return PH_ERROR;
    }
    return PH_OK;
}

/* Turns the cache on when cache_ttl > 0. Without a pthread key (the
 * process ran out of them) the route simply serves uncached. */
static void cache_init(static_inst_t *in, unsigned threads)
{
    if (in->cache_ttl_ms == 0)
        return;
    if (pthread_key_create(&in->cache_key, NULL) != 0) {
        in->api->log(PH_LOG_WARN, "open-file cache off: no thread-specific key left");
        return;
    }
    pthread_mutex_init(&in->cache_lock, NULL);
    /* Threads that come and go (a helper pool) each leave a cache behind
     * until destroy(): past this many the newcomers serve uncached. */
    in->max_caches = 2 * (size_t)(threads ? threads : 1) + 16;
    in->cache_on = 1;
}

static int static_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    static_inst_t *in = calloc(1, sizeof(*in));
    const char *root = NULL;
    int root_key = -1, index_set = 0;

    if (in == NULL)
        return refuse(err, -1, "%s", "out of memory");
    in->api = args->api;
    in->root_fd = -1;
    in->symlinks = SP_SYMLINKS_INSIDE;
    if (!PH_API_HAS(args->api, url_escape)) {
        inst_free(in);
        return refuse(err, -1, "%s", "the server lacks api->url_escape (ABI 1.6)");
    }
    if ((in->index[0] = strdup("index.html")) == NULL) {
        inst_free(in);
        return refuse(err, -1, "%s", "out of memory");
    }
    in->nindex = 1;
    in->cache_ttl_ms = CACHE_TTL_MS;
    in->cache_entries = CACHE_ENTRIES;
    in->cache_max_file = CACHE_MAX_FILE;
    for (size_t i = 0; i < args->nkeys; i++) {
        if (apply_key(in, &args->keys[i], (int)i, &index_set, &root, &root_key, err) != PH_OK) {
            inst_free(in);
            return PH_ERROR;
        }
    }
    if (root == NULL) {
        inst_free(in);
        return refuse(err, -1, "%s", "missing required key 'root'");
    }
    if (open_root(in, args, root, root_key, err) != PH_OK) {
        inst_free(in);
        return PH_ERROR;
    }
    in->mime = sm_table_load(MIME_TYPES_FILE);
    cache_init(in, args->threads);
    *instance = in;
    return PH_OK;
}

static void static_destroy(void *instance)
{
    inst_free(instance);
}

/* --- responses ---------------------------------------------------------- */

/* Error responses carry a fixed text only: never a filesystem path.
 * send_error() replaces the whole response, headers included, so a header
 * that belongs to the error (Allow, Content-Range) is added after it. */
static int send_status_hdr(const static_inst_t *in, ph_request_t *req, int status,
                           const char *name, const char *value)
{
    const char *msg;

    switch (status) {
    case 403: msg = "Forbidden"; break;
    case 404: msg = "Not Found"; break;
    case 405: msg = "Method Not Allowed"; break;
    case 412: msg = "Precondition Failed"; break;
    case 416: msg = "Range Not Satisfiable"; break;
    default: status = 500; msg = "Internal Server Error"; break;
    }
    in->api->send_error(req, status, msg);
    if (name != NULL)
        in->api->add_header(req, name, value);
    return PH_OK;
}

static int send_status(const static_inst_t *in, ph_request_t *req, int status)
{
    return send_status_hdr(in, req, status, NULL, NULL);
}

/* Answers an sp_open()/fstat() failure, logging only unexpected ones. */
static int send_errno(const static_inst_t *in, ph_request_t *req, int err, const char *what)
{
    int status = sp_errno_status(err);
    char ebuf[128];

    if (status == 500)
        in->api->log(PH_LOG_ERROR, "%s: %s", what, strerror_r(err, ebuf, sizeof(ebuf)));
    return send_status(in, req, status);
}

/* All values of header name joined with ", " (lists may span lines).
 * Returns 0 and sets *out (ptr NULL when absent), -1 when out of memory. */
static int header_list(const static_inst_t *in, ph_request_t *req, const char *name, ph_str_t *out)
{
    const ph_server_api_t *api = in->api;
    size_t n = api->header_count(req), total = 0, hits = 0;
    ph_str_t k, v, first = {NULL, 0};
    char *buf, *p;

    for (size_t i = 0; i < n; i++) {
        if (api->header_at(req, i, &k, &v) && k.len == strlen(name) && !strncasecmp(k.ptr, name, k.len)) {
            if (hits++ == 0)
                first = v;
            total += v.len + 2;
        }
    }
    *out = first;
    if (hits <= 1)
        return 0;
    if ((buf = api->alloc(req, total)) == NULL)
        return -1;
    p = buf;
    for (size_t i = 0; i < n; i++) {
        if (api->header_at(req, i, &k, &v) && k.len == strlen(name) && !strncasecmp(k.ptr, name, k.len)) {
            if (p != buf) {
                *p++ = ',';
                *p++ = ' ';
            }
            memcpy(p, v.ptr, v.len);
            p += v.len;
        }
    }
    out->ptr = buf;
    out->len = (size_t)(p - buf);
    return 0;
}

/*
 * 301 to the same path with a trailing slash, query kept. Built from the
 * decoded, normalised path, re-encoded, never from the raw target: a raw
 * "//evil.example/..%2fsub" would make a scheme-relative Location that a
 * browser follows to another site. Leading slashes collapse into one and a
 * backslash is encoded, so the Location always stays on this origin.
 */
static int redirect_slash(const static_inst_t *in, ph_request_t *req)
{
    const ph_server_api_t *api = in->api;
    ph_str_t path = api->path(req), q = api->query(req);
    size_t i = 0, o = 0, n = 3 * path.len + 3 + (q.ptr ? q.len + 1 : 0);
    char *loc = api->alloc(req, n);

    if (loc == NULL)
        return send_status(in, req, 500);
    while (i < path.len && path.ptr[i] == '/')
        i++;
    loc[o++] = '/';
    o += api->url_escape(path.ptr + i, path.len - i, 0, loc + o, n - o);
    if (loc[o - 1] != '/')
        loc[o++] = '/';
    if (q.ptr) {
        loc[o++] = '?';
        memcpy(loc + o, q.ptr, q.len);
        o += q.len;
    }
    loc[o] = '\0';
    api->set_status(req, 301);
    api->add_header(req, "Location", loc);
    api->add_header(req, "Content-Type", "text/plain; charset=utf-8");
    api->body_append(req, "Moved Permanently\n", 18);
    return PH_OK;
}

/* --- the open-file cache ------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;

    /* The coarse clock is read without a system call (vDSO); its few
     * milliseconds of resolution are far below any useful cache_ttl. */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The sp_check()/sp_open() flags for the route's dotfile keys. */
static unsigned path_flags(const static_inst_t *in)
{
    return (in->allow_dotfiles ? SP_ALLOW_DOTFILES : 0) | (in->well_known ? SP_ALLOW_WELL_KNOWN : 0);
}

/* This thread's cache for the instance, made on the thread's first request.
 * NULL when the cache is off, when too many threads already have one, or
 * when memory runs out: the request is then served uncached. */
static scache_t *thread_cache(static_inst_t *in)
{
    scache_t *c;

    if (!in->cache_on)
        return NULL;
    if ((c = pthread_getspecific(in->cache_key)) != NULL)
        return c;
    if (__atomic_load_n(&in->ncaches, __ATOMIC_RELAXED) >= in->max_caches)
        return NULL;
    pthread_mutex_lock(&in->cache_lock);
    if (in->caches == NULL)
        in->caches = calloc(in->max_caches, sizeof(*in->caches));
    if (in->caches != NULL && in->ncaches < in->max_caches
        && (c = scache_new(in->cache_entries, CACHE_MAX_BYTES)) != NULL) {
        in->caches[in->ncaches] = c;
        __atomic_store_n(&in->ncaches, in->ncaches + 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&in->cache_lock);
    if (c != NULL)
        pthread_setspecific(in->cache_key, c);
    return c;
}

/* A file as one request sees it: an entry of this thread's cache (shared:
 * its fd is lent out only as a dup()), or, when there is no entry to be
 * had, the request's own sf_file_t. */
typedef struct view {
    sf_file_t *f;
    int shared;
} view_t;

/*
 * Looks rel up. A cache entry younger than cache_ttl is used as it is,
 * unless it holds a descriptor whose file changed or lost its name since
 * (sf_current: a file truncated, grown or deleted in place must never go
 * out with its old length and ETag). An older or no longer current one is
 * revalidated by opening rel again (the same safe open as any request) and
 * comparing identity, size and times, and rebuilt when they differ; a
 * missing one is opened and added. Failures that say something about the
 * path (404, 403) are cached too; transient ones (500) are not. Without a
 * cache, rel is opened into *own. The caller releases *own afterwards in
 * every case.
 */
static view_t find(const static_inst_t *in, scache_t *c, const char *rel, sf_file_t *own)
{
    scache_entry_t *e = NULL;
    int64_t now = 0;

    own->fd = -1;
    own->data = NULL;
    own->data_len = 0;
    if (c != NULL) {
        now = now_ms();
        e = scache_get(c, rel);
        if (e != NULL) {
            scache_touch(e, now);
            if (now - e->checked < in->cache_ttl_ms && sf_current(&e->file))
                return (view_t){&e->file, 1};
        }
    }
    sf_open(own, in->root_fd, rel, in->symlinks, path_flags(in));
    if (e != NULL && sf_unchanged(&e->file, own)) {
        sf_release(own);
        e->checked = now;
        return (view_t){&e->file, 1};
    }
    /* Uncached, a file goes out with sendfile as it always did. */
    sf_finish(own, in->mime, rel, c != NULL ? in->cache_max_file : 0);
    if (c == NULL || (own->err != 0 && sp_errno_status(own->err) == 500))
        return (view_t){own, 0};
    if (e != NULL) {
        scache_replace(c, e, own, now);
        return (view_t){&e->file, 1};
    }
    if ((e = scache_put(c, rel, own, now)) == NULL)
        return (view_t){own, 0};
    return (view_t){&e->file, 1};
}

/* --- files ---------------------------------------------------------------- */

/* Hands length bytes from start to the core: the bytes in memory, lent
 * without a copy and held until the request ends (the core writes head and
 * body with one writev), else the fd, which the core closes: the request's
 * own, or a dup() of the cache's. */
static int send_body(const static_inst_t *in, ph_request_t *req, view_t v, int64_t start,
                     int64_t length)
{
    int fd;

    if (v.f->data != NULL) {
        const char *data = sf_data_hold(v.f);
        if (in->api->on_cleanup(req, sf_data_drop, (void *)(uintptr_t)data) != PH_OK) {
            sf_data_drop((void *)(uintptr_t)data);
            return PH_ERROR;
        }
        return in->api->body_ref(req, data + start, (size_t)length);
    }
    if (v.shared) {
        if ((fd = fcntl(v.f->fd, F_DUPFD_CLOEXEC, 0)) < 0)
            return send_errno(in, req, errno, "dup");
    } else {
        fd = v.f->fd;
        v.f->fd = -1;
    }
    /* sendfile() is given an offset, so dup()s sharing one file position
     * never disturb each other. */
    return in->api->body_file(req, fd, (off_t)start, (off_t)length) == PH_OK ? PH_OK : PH_ERROR;
}

static int older(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Picks the representation: the file itself or a .br/.gz sibling (looked up
 * like any path, so through the cache), in the order of the client's
 * preference (q-values; equal ones prefer br, then gzip, then the file). A
 * sibling older than the file is stale, never served. When nothing the
 * client accepts exists, the file itself goes out. Replaces *v when a
 * sibling wins and returns its Content-Encoding, NULL for the file itself;
 * *own holds what the caller releases. Sets *vary when the choice depends
 * on the request. */
static const char *choose_encoding(const static_inst_t *in, scache_t *c, ph_request_t *req,
                                   const char *path, view_t *v, sf_file_t *own, int *vary)
{
    static const char *const codings[] = {"br", "gzip", "identity"};
    static const char *const suffixes[] = {".br", ".gz", NULL};
    struct timespec mtime;
    size_t order[3], n;
    ph_str_t ae;

    *vary = 0;
    if (!in->precompressed || !v->f->compressible)
        return NULL;
    *vary = 1;
    if (header_list(in, req, "Accept-Encoding", &ae) < 0 || ae.ptr == NULL)
        return NULL;
    mtime = v->f->st.st_mtim;
    n = se_rank(ae.ptr, ae.len, codings, 3, order);
    for (size_t k = 0; k < n; k++) {
        char sib[SP_PATH_MAX + 1];
        size_t i = order[k];
        int len;
        view_t s;

        if (suffixes[i] == NULL)
            return NULL;
        len = snprintf(sib, sizeof(sib), "%s%s", path, suffixes[i]);
        if (len < 0 || (size_t)len >= sizeof(sib))
            continue;
        s = find(in, c, sib, own);
        if (s.f->err == 0 && S_ISREG(s.f->st.st_mode) && !older(&s.f->st.st_mtim, &mtime)) {
            *v = s;
            return codings[i];
        }
        sf_release(own);
    }
    return NULL;
}

/* Headers shared by 200, 206 and 304: validators, caching, Vary. */
static void add_validators(const static_inst_t *in, ph_request_t *req, const sf_file_t *f, int vary)
{
    in->api->add_header(req, "ETag", f->etag);
    if (f->last_modified[0] != '\0')
        in->api->add_header(req, "Last-Modified", f->last_modified);
    if (in->cache_control)
        in->api->add_header(req, "Cache-Control", in->cache_control);
    if (vary)
        in->api->add_header(req, "Vary", "Accept-Encoding");
}

static sc_result_t preconditions(const static_inst_t *in, ph_request_t *req, const char *etag,
                                 time_t mtime)
{
    sc_request_t rq;
    ph_str_t im, inm, ius = {NULL, 0}, ims = {NULL, 0};

    if (header_list(in, req, "If-Match", &im) < 0 || header_list(in, req, "If-None-Match", &inm) < 0)
        return SC_PRECONDITION_FAILED;
    in->api->header(req, "If-Unmodified-Since", &ius);
    in->api->header(req, "If-Modified-Since", &ims);
    rq.if_match = im.ptr;
    rq.if_match_len = im.len;
    rq.if_none_match = inm.ptr;
    rq.if_none_match_len = inm.len;
    rq.if_unmodified_since = ius.ptr;
    rq.if_unmodified_since_len = ius.len;
    rq.if_modified_since = ims.ptr;
    rq.if_modified_since_len = ims.len;
    return sc_evaluate(&rq, etag, mtime);
}

/* Answers with representation v (Content-Type from the file itself, ctype,
 * whichever encoding was chosen). */
static int respond(const static_inst_t *in, ph_request_t *req, view_t v, const char *ctype,
                   const char *coding, int vary)
{
    const ph_server_api_t *api = in->api;
    const sf_file_t *f = v.f;
    char crange[96];
    ph_str_t range, ifr;
    int64_t start = 0, length = f->st.st_size;
    sc_result_t cond;

    add_validators(in, req, f, vary);
    cond = preconditions(in, req, f->etag, f->st.st_mtime);
    if (cond != SC_PROCEED) {
        if (cond == SC_PRECONDITION_FAILED)
            return send_status(in, req, 412);
        api->set_status(req, 304);
        return PH_OK;
    }

    if (api->header(req, "Range", &range)
        && (!api->header(req, "If-Range", &ifr) || sc_if_range(ifr.ptr, ifr.len, f->etag, f->st.st_mtime))) {
        switch (sr_parse(range.ptr, range.len, f->st.st_size, &start, &length)) {
        case SR_OK:
            snprintf(crange, sizeof(crange), "bytes %" PRId64 "-%" PRId64 "/%" PRId64, start,
                     start + length - 1, (int64_t)f->st.st_size);
            api->set_status(req, 206);
            api->add_header(req, "Content-Range", crange);
            break;
        case SR_UNSATISFIABLE:
            snprintf(crange, sizeof(crange), "bytes */%" PRId64, (int64_t)f->st.st_size);
            return send_status_hdr(in, req, 416, "Content-Range", crange);
        case SR_IGNORE:
        case SR_MULTI:
            start = 0;
            length = f->st.st_size;
            break;
        }
    }
    api->add_header(req, "Content-Type", ctype);
    if (coding)
        api->add_header(req, "Content-Encoding", coding);
    api->add_header(req, "Accept-Ranges", "bytes");
    return send_body(in, req, v, start, length);
}

/* Serves regular file v found at path (relative: its name gives the type
 * and the siblings' names). */
static int serve_file(const static_inst_t *in, scache_t *c, ph_request_t *req, const char *path,
                      view_t v)
{
    /* The main file's entry outlives the sibling lookups: nothing is
     * evicted before the request's trim. */
    const char *ctype = v.f->ctype, *coding;
    sf_file_t sib = {.fd = -1};
    int vary, rc;

    coding = choose_encoding(in, c, req, path, &v, &sib, &vary);
    rc = respond(in, req, v, ctype, coding, vary);
    sf_release(&sib);
    return rc;
}

/* A directory requested with its trailing slash: an index file, else the
 * listing, else 403. rel is the directory path relative to the root. */
static int serve_dir(const static_inst_t *in, scache_t *c, ph_request_t *req, const char *rel)
{
    const ph_server_api_t *api = in->api;
    sd_buf_t page = {0};
    char path[SP_PATH_MAX + 1], url[SP_PATH_MAX + 1];
    ph_str_t upath;

    for (size_t i = 0; i < in->nindex; i++) {
        sf_file_t own;
        view_t v;
        int n = snprintf(path, sizeof(path), "%s%s", rel, in->index[i]), rc;

        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        v = find(in, c, path, &own);
        if (v.f->err == 0 && S_ISREG(v.f->st.st_mode)) {
            rc = serve_file(in, c, req, path, v);
            sf_release(&own);
            return rc;
        }
        sf_release(&own);
    }
    if (!in->autoindex)
        return send_status(in, req, 403);
    upath = api->path(req);
    snprintf(url, sizeof(url), "%.*s", (int)upath.len, upath.ptr);
    if (sd_listing(api, &page, in->root_fd, rel, url,
                   (in->allow_dotfiles ? SD_SHOW_DOTFILES : 0) | (in->well_known ? SD_WELL_KNOWN : 0),
                   in->symlinks) < 0) {
        int err = errno;
        sd_buf_free(&page); /* what was built before the failure */
        return send_errno(in, req, err, "listing");
    }
    api->add_header(req, "Content-Type", "text/html; charset=utf-8");
    if (in->cache_control)
        api->add_header(req, "Cache-Control", in->cache_control);
    api->body_append(req, page.ptr, page.len);
    sd_buf_free(&page);
    return PH_OK;
}

/* rel (len bytes, room for SP_PATH_MAX + 1) names a directory. */
static int dir_request(const static_inst_t *in, scache_t *c, ph_request_t *req, char *rel, size_t len)
{
    ph_str_t full = in->api->path(req), raw = in->api->raw_path(req);

    /* Relative links in the listing and in index pages only work below a
     * URL that ends in '/', as the client sent it: "/dir%2F" and "/dir/."
     * end in '/' only once decoded and normalised. */
    if (full.len == 0 || full.ptr[full.len - 1] != '/' || raw.len == 0 || raw.ptr[raw.len - 1] != '/')
        return redirect_slash(in, req);
    if (len > 0 && rel[len - 1] != '/') {
        if (len == SP_PATH_MAX)
            return send_status(in, req, 404);
        rel[len] = '/';
        rel[len + 1] = '\0';
    }
    return serve_dir(in, c, req, rel);
}

static int is_method(ph_str_t m, const char *name)
{
    return m.len == strlen(name) && memcmp(m.ptr, name, m.len) == 0;
}

static int static_handle(void *instance, ph_request_t *req)
{
    static_inst_t *in = instance;
    const ph_server_api_t *api = in->api;
    ph_str_t method = api->method(req), sub = api->subpath(req);
    char rel[SP_PATH_MAX + 1];
    sf_file_t own;
    scache_t *c;
    view_t v;
    int rc;

    if (!is_method(method, "GET") && !is_method(method, "HEAD")) {
        return send_status_hdr(in, req, 405, "Allow", "GET, HEAD");
    }
    if (sub.len > SP_PATH_MAX
        || sp_check(sub.ptr, sub.len, path_flags(in)) < 0)
        return send_status(in, req, 404);
    memcpy(rel, sub.ptr, sub.len);
    rel[sub.len] = '\0';

    c = thread_cache(in);
    v = find(in, c, rel, &own);
    if (v.f->err != 0)
        rc = send_errno(in, req, v.f->err, "open");
    else if (S_ISDIR(v.f->st.st_mode))
        rc = dir_request(in, c, req, rel, sub.len);
    else if (!S_ISREG(v.f->st.st_mode))
        rc = send_status(in, req, 404);
    else
        rc = serve_file(in, c, req, rel, v);
    sf_release(&own);
    /* The response holds copies and dup()s only: entries may go now,
     * and so may those nobody used for cache_ttl (a deleted file's
     * descriptor is not kept open for long by an idle entry). */
    if (c != NULL) {
        scache_trim(c);
        scache_sweep(c, now_ms() - in->cache_ttl_ms);
    }
    return rc;
}

PH_PLUGIN_DEFINE("static", "1.0", 0, static_create, static_handle, static_destroy);
