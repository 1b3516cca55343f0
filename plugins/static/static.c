/*
 * static: serves a document root mounted on a route.
 *
 * This file holds the plugin side only: the route's keys, the instance, and
 * handle() turning a request into a response. The decisions that need no
 * server live in the pure files beside it: static_path (safe open beneath
 * the root), static_range, static_cond (validators, preconditions),
 * static_mime, static_enc (Accept-Encoding) and static_dir (listing).
 *
 * handle() runs on several threads at once: the instance is read-only after
 * create(), and all per-request state is on the stack or in the request's
 * arena.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, strerror_r returning char * */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plughttpd/plugin.h>

#include "static_cond.h"
#include "static_dir.h"
#include "static_enc.h"
#include "static_mime.h"
#include "static_path.h"
#include "static_range.h"

#define MIME_TYPES_FILE "/etc/mime.types"
#define MAX_INDEX 16

typedef struct static_inst {
    const ph_server_api_t *api;
    int root_fd;                /* O_PATH directory, owned */
    char *index[MAX_INDEX];     /* owned */
    size_t nindex;
    int autoindex;
    int precompressed;
    int allow_dotfiles;
    sp_symlinks_t symlinks;
    char *cache_control;        /* owned, NULL when unset */
    sm_table_t *mime;           /* owned, NULL without /etc/mime.types */
} static_inst_t;

/* --- create / destroy --------------------------------------------------- */

static void inst_free(static_inst_t *in)
{
    if (in == NULL)
        return;
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

/* on|off (yes/no, true/false are accepted too). Returns 1, 0 or -1. */
static int parse_bool(const char *v)
{
    if (!strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true"))
        return 1;
    if (!strcasecmp(v, "off") || !strcasecmp(v, "no") || !strcasecmp(v, "false"))
        return 0;
    return -1;
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
    } else if (!strcmp(k, "autoindex") || !strcmp(k, "precompressed")) {
        if ((b = parse_bool(v)) < 0)
            return refuse(err, i, "%s: expected on or off", k);
        *(k[0] == 'a' ? &in->autoindex : &in->precompressed) = b;
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
    if ((in->index[0] = strdup("index.html")) == NULL) {
        inst_free(in);
        return refuse(err, -1, "%s", "out of memory");
    }
    in->nindex = 1;
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
                memcpy(p, ", ", 2);
                p += 2;
            }
            memcpy(p, v.ptr, v.len);
            p += v.len;
        }
    }
    out->ptr = buf;
    out->len = (size_t)(p - buf);
    return 0;
}

/* 301 to the same path with a trailing slash, query kept. */
static int redirect_slash(const static_inst_t *in, ph_request_t *req)
{
    const ph_server_api_t *api = in->api;
    ph_str_t raw = api->raw_path(req), q = api->query(req);
    size_t n = raw.len + 2 + (q.ptr ? q.len + 1 : 0);
    char *loc = api->alloc(req, n);

    if (loc == NULL)
        return send_status(in, req, 500);
    if (q.ptr)
        snprintf(loc, n, "%.*s/?%.*s", (int)raw.len, raw.ptr, (int)q.len, q.ptr);
    else
        snprintf(loc, n, "%.*s/", (int)raw.len, raw.ptr);
    api->set_status(req, 301);
    api->add_header(req, "Location", loc);
    api->add_header(req, "Content-Type", "text/plain; charset=utf-8");
    api->body_append(req, "Moved Permanently\n", 18);
    return PH_OK;
}

/* Opens a precompressed sibling (path + suffix) when it is a regular file.
 * Returns the fd with *st filled, or -1. */
static int open_sibling(const static_inst_t *in, const char *path, const char *suffix, struct stat *st)
{
    char sib[SP_PATH_MAX + 1];
    int fd, n = snprintf(sib, sizeof(sib), "%s%s", path, suffix);

    if (n < 0 || (size_t)n >= sizeof(sib))
        return -1;
    fd = sp_open(in->root_fd, sib, O_RDONLY | O_NONBLOCK, in->symlinks);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Picks the representation: the file itself or a .br/.gz sibling. Replaces
 * *fd and *st when a sibling wins and returns its Content-Encoding, NULL
 * for the file itself. Sets *vary when the choice depends on the request. */
static const char *choose_encoding(const static_inst_t *in, ph_request_t *req, const char *path,
                                   const char *type, int *fd, struct stat *st, int *vary)
{
    static const struct { const char *coding, *suffix; } order[] = {{"br", ".br"}, {"gzip", ".gz"}};
    ph_str_t ae;

    *vary = 0;
    if (!in->precompressed || !sm_compressible(type))
        return NULL;
    *vary = 1;
    if (header_list(in, req, "Accept-Encoding", &ae) < 0 || ae.ptr == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        struct stat sst;
        int sfd;

        if (!se_accepts(ae.ptr, ae.len, order[i].coding))
            continue;
        if ((sfd = open_sibling(in, path, order[i].suffix, &sst)) < 0)
            continue;
        close(*fd);
        *fd = sfd;
        *st = sst;
        return order[i].coding;
    }
    return NULL;
}

/* Headers shared by 200, 206 and 304: validators, caching, Vary. */
static void add_validators(const static_inst_t *in, ph_request_t *req, const char *etag,
                           const struct stat *st, int vary)
{
    char date[SC_DATE_MAX];

    in->api->add_header(req, "ETag", etag);
    if (sc_date_format(st->st_mtime, date) == 0)
        in->api->add_header(req, "Last-Modified", date);
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

/* Sends regular file fd (owned) found at path (relative, for the type and
 * siblings). */
static int serve_file(const static_inst_t *in, ph_request_t *req, const char *path, int fd,
                      struct stat *st)
{
    const ph_server_api_t *api = in->api;
    char ctype[160], etag[SC_ETAG_MAX], crange[96];
    const char *base_type = sm_lookup(in->mime, path), *coding;
    ph_str_t range, ifr;
    int64_t start = 0, length = st->st_size;
    int vary;
    sc_result_t cond;

    if (sm_content_type(in->mime, path, ctype, sizeof(ctype)) == 0)
        strcpy(ctype, "application/octet-stream");
    coding = choose_encoding(in, req, path, base_type ? base_type : "application/octet-stream", &fd, st, &vary);
    length = st->st_size;
    sc_etag_format(etag, (uint64_t)st->st_ino, (uint64_t)st->st_size,
                   (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
    add_validators(in, req, etag, st, vary);

    cond = preconditions(in, req, etag, st->st_mtime);
    if (cond != SC_PROCEED) {
        close(fd);
        if (cond == SC_PRECONDITION_FAILED)
            return send_status(in, req, 412);
        api->set_status(req, 304);
        return PH_OK;
    }

    if (api->header(req, "Range", &range)
        && (!api->header(req, "If-Range", &ifr) || sc_if_range(ifr.ptr, ifr.len, etag, st->st_mtime))) {
        switch (sr_parse(range.ptr, range.len, st->st_size, &start, &length)) {
        case SR_OK:
            snprintf(crange, sizeof(crange), "bytes %" PRId64 "-%" PRId64 "/%" PRId64, start,
                     start + length - 1, (int64_t)st->st_size);
            api->set_status(req, 206);
            api->add_header(req, "Content-Range", crange);
            break;
        case SR_UNSATISFIABLE:
            close(fd);
            snprintf(crange, sizeof(crange), "bytes */%" PRId64, (int64_t)st->st_size);
            return send_status_hdr(in, req, 416, "Content-Range", crange);
        case SR_IGNORE:
        case SR_MULTI:
            start = 0;
            length = st->st_size;
            break;
        }
    }
    api->add_header(req, "Content-Type", ctype);
    if (coding)
        api->add_header(req, "Content-Encoding", coding);
    api->add_header(req, "Accept-Ranges", "bytes");
    /* The core owns fd from here on, also when this fails. */
    return api->body_file(req, fd, (off_t)start, (off_t)length) == PH_OK ? PH_OK : PH_ERROR;
}

/* A directory requested with its trailing slash: an index file, else the
 * listing, else 403. rel is the directory path relative to the root. */
static int serve_dir(const static_inst_t *in, ph_request_t *req, const char *rel)
{
    const ph_server_api_t *api = in->api;
    sd_buf_t page = {0};
    char path[SP_PATH_MAX + 1], url[SP_PATH_MAX + 1];
    ph_str_t upath;

    for (size_t i = 0; i < in->nindex; i++) {
        struct stat st;
        int fd, n = snprintf(path, sizeof(path), "%s%s", rel, in->index[i]);

        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        fd = sp_open(in->root_fd, path, O_RDONLY | O_NONBLOCK, in->symlinks);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
            return serve_file(in, req, path, fd, &st);
        close(fd);
    }
    if (!in->autoindex)
        return send_status(in, req, 403);
    upath = api->path(req);
    snprintf(url, sizeof(url), "%.*s", (int)upath.len, upath.ptr);
    if (sd_listing(&page, in->root_fd, rel, url, in->allow_dotfiles ? SD_SHOW_DOTFILES : 0,
                   in->symlinks) < 0)
        return send_errno(in, req, errno, "listing");
    api->add_header(req, "Content-Type", "text/html; charset=utf-8");
    if (in->cache_control)
        api->add_header(req, "Cache-Control", in->cache_control);
    api->body_append(req, page.ptr, page.len);
    sd_buf_free(&page);
    return PH_OK;
}

static int is_method(ph_str_t m, const char *name)
{
    return m.len == strlen(name) && memcmp(m.ptr, name, m.len) == 0;
}

static int static_handle(void *instance, ph_request_t *req)
{
    const static_inst_t *in = instance;
    const ph_server_api_t *api = in->api;
    ph_str_t method = api->method(req), sub = api->subpath(req);
    char rel[SP_PATH_MAX + 1];
    struct stat st;
    int fd;

    if (!is_method(method, "GET") && !is_method(method, "HEAD")) {
        return send_status_hdr(in, req, 405, "Allow", "GET, HEAD");
    }
    if (sub.len > SP_PATH_MAX
        || sp_check(sub.ptr, sub.len, in->allow_dotfiles ? SP_ALLOW_DOTFILES : 0) < 0)
        return send_status(in, req, 404);
    memcpy(rel, sub.ptr, sub.len);
    rel[sub.len] = '\0';

    fd = sp_open(in->root_fd, rel, O_RDONLY | O_NONBLOCK, in->symlinks);
    if (fd < 0)
        return send_errno(in, req, errno, "open");
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return send_errno(in, req, e, "fstat");
    }
    if (S_ISDIR(st.st_mode)) {
        ph_str_t full = api->path(req);

        close(fd);
        /* Decided on the full path: relative links in the listing and in
         * index pages only work below a URL that ends in '/'. */
        if (full.len == 0 || full.ptr[full.len - 1] != '/')
            return redirect_slash(in, req);
        if (sub.len > 0 && rel[sub.len - 1] != '/') {
            if (sub.len == SP_PATH_MAX)
                return send_status(in, req, 404);
            rel[sub.len] = '/';
            rel[sub.len + 1] = '\0';
        }
        return serve_dir(in, req, rel);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return send_status(in, req, 404);
    }
    return serve_file(in, req, rel, fd, &st);
}

PH_PLUGIN_DEFINE("static", "1.0", 0, static_create, static_handle, static_destroy);
