#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api_cidr.h"
#include "api_co.h"
#include "api_loop.h"
#include "api_zone.h"
#include "config.h"
#include "exchange.h"
#include "worker.h"
#include "gen.h"
#include "log.h"
#include "slab.h"
#include "stats.h"
#include "urlenc.h"
#include "version.h"

void request_init(ph_request_t *req, pool_t *p)
{
    req->pool = p;
    req->status = 200;
    req->headers_tail = &req->headers;
    req->trailers_tail = &req->trailers;
    req->file_fd = -1;
    req->spill_fd = -1;
}

static void close_fd(void *arg)
{
    close((int)(intptr_t)arg);
}

void request_reset_response(ph_request_t *req)
{
    req->headers = NULL;
    req->headers_tail = &req->headers;
    req->has_content_type = 0;
    req->body_kind = BODY_NONE;
    req->mem_len = 0;
    req->ref = NULL;
    req->ref_len = 0;
    req->stream_fn = NULL;
    req->stream_has_len = 0;
    req->file_fd = -1; /* a file already handed over is closed by its cleanup */
}

const char *request_reason(int status)
{
    /* Every code of the IANA HTTP Status Code Registry (RFC 9110 and the
     * RFCs it lists); 418 is reserved there, named after RFC 2324. */
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

/* --- request view ------------------------------------------------------ */

static ph_str_t span(const ph_request_t *req, hp_span_t s)
{
    return (ph_str_t){req->head + s.off, s.len};
}

static ph_str_t api_method(const ph_request_t *req) { return span(req, req->hp.method); }
static ph_str_t api_target(const ph_request_t *req) { return span(req, req->hp.target); }
static ph_str_t api_path(const ph_request_t *req) { return (ph_str_t){req->path, req->path_len}; }
static ph_str_t api_raw_path(const ph_request_t *req) { return span(req, req->hp.path); }

static ph_str_t api_subpath(const ph_request_t *req)
{
    if (req->prefix_len >= req->path_len)
        return (ph_str_t){"/", 1};
    return (ph_str_t){req->path + req->prefix_len, req->path_len - req->prefix_len};
}

static ph_str_t api_query(const ph_request_t *req)
{
    if (!req->hp.has_query)
        return (ph_str_t){NULL, 0};
    return span(req, req->hp.query);
}

static ph_str_t api_prefix(const ph_request_t *req)
{
    if (req->prefix_len == 0)
        return (ph_str_t){"/", 1};
    return (ph_str_t){req->path, req->prefix_len};
}

static int api_version(const ph_request_t *req) { return req->hp.version_minor ? 11 : 10; }

int request_header(const ph_request_t *req, const char *name, ph_str_t *value)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < req->hp.nheaders; i++) {
        const hp_header_t *h = &req->hp.headers[i];
        if (h->name.len == n && strncasecmp(req->head + h->name.off, name, n) == 0) {
            *value = span(req, h->value);
            return 1;
        }
    }
    return 0;
}

static size_t api_header_count(const ph_request_t *req) { return req->hp.nheaders; }

static int api_header_at(const ph_request_t *req, size_t i, ph_str_t *name, ph_str_t *value)
{
    if (i >= req->hp.nheaders)
        return 0;
    *name = span(req, req->hp.headers[i].name);
    *value = span(req, req->hp.headers[i].value);
    return 1;
}

static ph_str_t api_body(const ph_request_t *req) { return (ph_str_t){req->body ? req->body : "", req->body_len}; }

static const char *api_peer(const ph_request_t *req)
{
    if (req->peer_copy[0] || req->carrier == NULL) /* copied: any thread */
        return req->peer_copy[0] ? req->peer_copy : "-";
    return req->ops->peer(req);
}

static void api_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, NULL, 0, "plugin: ", fmt, ap);
    va_end(ap);
}

/* --- memory ------------------------------------------------------------ */

static void *api_alloc(ph_request_t *req, size_t size) { return pool_alloc(req->pool, size); }

static int api_on_cleanup(ph_request_t *req, void (*fn)(void *), void *arg)
{
    return pool_cleanup_add(req->pool, fn, arg) == 0 ? PH_OK : PH_ERROR;
}

/* --- response ------------------------------------------------------------ */

static int api_set_status(ph_request_t *req, int status)
{
    if (status < 200 || status > 599) {
        log_warn("plugin set invalid status %d: answering 500", status);
        req->bad = 1;
        return PH_ERROR;
    }
    req->status = status;
    return PH_OK;
}

/* Byte classes for header validation: 1 = token character (RFC 9110
 * tchar), 2 = allowed in a field value (VCHAR, SP, HTAB, obs-text). */
#define T 3 /* tchar, also valid in values */
#define V 2
static const unsigned char hclass[256] = {
    ['\t'] = V, [' '] = V, ['"'] = V, ['('] = V, [')'] = V, [','] = V, ['/'] = V, [':'] = V, [';'] = V,
    ['<'] = V, ['='] = V, ['>'] = V, ['?'] = V, ['@'] = V, ['['] = V, ['\\'] = V, [']'] = V, ['{'] = V,
    ['}'] = V,
    ['!'] = T, ['#'] = T, ['$'] = T, ['%'] = T, ['&'] = T, ['\''] = T, ['*'] = T, ['+'] = T, ['-'] = T,
    ['.'] = T, ['^'] = T, ['_'] = T, ['`'] = T, ['|'] = T, ['~'] = T,
    ['0' ... '9'] = T, ['A' ... 'Z'] = T, ['a' ... 'z'] = T, [0x80 ... 0xff] = V,
};
#undef T
#undef V

static int core_owned(const char *name, size_t n)
{
    /* Only a few lengths can match: skip the compares for the rest. */
    switch (n) {
    case 4: return strncasecmp(name, "date", 4) == 0;
    case 7: return strncasecmp(name, "upgrade", 7) == 0 || strncasecmp(name, "trailer", 7) == 0;
    case 10: return strncasecmp(name, "connection", 10) == 0 || strncasecmp(name, "keep-alive", 10) == 0;
    case 14: return strncasecmp(name, "content-length", 14) == 0;
    case 17: return strncasecmp(name, "transfer-encoding", 17) == 0;
    default: return 0;
    }
}

/* What a plugin's field is: not a valid field (FIELD_BAD), one the core
 * owns (FIELD_CORE), or one it may add (FIELD_OK). Valid: name an HTTP
 * token, value without controls or edge whitespace. *nlen and *vlen get
 * the lengths (unless FIELD_BAD), so nothing is measured twice. */
enum { FIELD_BAD, FIELD_CORE, FIELD_OK };

static int field_class(const char *name, const char *value, size_t *nlen, size_t *vlen)
{
    if (name == NULL || value == NULL)
        return FIELD_BAD;
    size_t nl = strlen(name), vl = strlen(value);
    unsigned ok = nl > 0 ? 1 : 0;
    for (size_t i = 0; i < nl; i++)
        ok &= hclass[(unsigned char)name[i]] & 1;
    unsigned vok = 2;
    for (size_t i = 0; i < vl; i++)
        vok &= hclass[(unsigned char)value[i]];
    if (!ok || !vok)
        return FIELD_BAD;
    if (vl && (value[0] == ' ' || value[0] == '\t' || value[vl - 1] == ' ' || value[vl - 1] == '\t'))
        return FIELD_BAD;
    *nlen = nl;
    *vlen = vl;
    return core_owned(name, nl) ? FIELD_CORE : FIELD_OK;
}

static int header_ok(const char *name, const char *value)
{
    size_t nl, vl;
    return field_class(name, value, &nl, &vl) == FIELD_OK;
}

/* field_class() for a response header. ABI 1.4: a route that takes
 * Upgrade requests (PH_PLUGIN_UPGRADE) names the protocol it switches to
 * (101) or asks for (426) itself. */
static int response_field_class(const ph_request_t *req, const char *name, const char *value, size_t *nlen,
                                size_t *vlen)
{
    int k = field_class(name, value, nlen, vlen);
    if (k == FIELD_CORE && *nlen == 7 && strncasecmp(name, "upgrade", 7) == 0 && req->route &&
        (req->route->desc->flags & PH_PLUGIN_UPGRADE))
        return FIELD_OK;
    return k;
}

static void header_refused(ph_request_t *req, const char *name, int k)
{
    size_t nlen = name ? strlen(name) : 0;
    log_warn("plugin added %s header \"%.*s\": answering 500", k == FIELD_CORE ? "a core-owned" : "an invalid",
             (int)(nlen > 64 ? 64 : nlen), name ? name : "(null)");
    req->bad = 1;
}

static resp_header_t *header_new(ph_request_t *req, const char *name, size_t nlen, const char *value, size_t vlen)
{
    resp_header_t *h = pool_alloc(req->pool, sizeof *h);
    char *copy = pool_alloc(req->pool, nlen + vlen + 2);
    if (h == NULL || copy == NULL)
        return NULL;
    memcpy(copy, name, nlen + 1);
    memcpy(copy + nlen + 1, value, vlen + 1);
    h->name = copy;
    h->nlen = nlen;
    h->value = copy + nlen + 1;
    h->vlen = vlen;
    h->next = NULL;
    return h;
}

/* Appends a checked field at *tail (headers or trailers); NULL when it was
 * refused (the response is then a 500) or memory ran out. */
static resp_header_t *field_append(ph_request_t *req, resp_header_t ***tail, const char *name, const char *value)
{
    size_t nlen = 0, vlen = 0;
    int k = tail == &req->headers_tail ? response_field_class(req, name, value, &nlen, &vlen)
                                       : field_class(name, value, &nlen, &vlen);
    if (k != FIELD_OK) {
        header_refused(req, name, k);
        return NULL;
    }
    resp_header_t *h = header_new(req, name, nlen, value, vlen);
    if (h == NULL)
        return NULL;
    **tail = h;
    *tail = &h->next;
    return h;
}

static int api_add_header(ph_request_t *req, const char *name, const char *value)
{
    resp_header_t *h = field_append(req, &req->headers_tail, name, value);
    if (h == NULL)
        return PH_ERROR;
    if (h->nlen == 12 && strncasecmp(name, "content-type", 12) == 0)
        req->has_content_type = 1;
    return PH_OK;
}

static int mem_reserve(ph_request_t *req, size_t more)
{
    if (req->body_kind != BODY_MEM) {
        req->body_kind = BODY_MEM;
        req->mem_len = 0;
    }
    if (req->mem_len + more <= req->mem_cap)
        return 0;
    size_t cap = req->mem_cap ? req->mem_cap * 2 : 1024;
    while (cap < req->mem_len + more)
        cap *= 2;
    char *m = pool_realloc(req->pool, req->mem, req->mem_len, cap);
    if (m == NULL)
        return -1;
    req->mem = m;
    req->mem_cap = cap;
    return 0;
}

static int api_body_append(ph_request_t *req, const void *data, size_t len)
{
    if (mem_reserve(req, len) < 0)
        return PH_ERROR;
    memcpy(req->mem + req->mem_len, data, len);
    req->mem_len += len;
    return PH_OK;
}

static int api_body_printf(ph_request_t *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || mem_reserve(req, (size_t)n + 1) < 0)
        return PH_ERROR;
    va_start(ap, fmt);
    vsnprintf(req->mem + req->mem_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    req->mem_len += (size_t)n;
    return PH_OK;
}

static int api_body_file(ph_request_t *req, int fd, off_t offset, off_t length)
{
    if (fd < 0)
        return PH_ERROR;
    if (pool_cleanup_add(req->pool, close_fd, (void *)(intptr_t)fd) < 0) {
        close(fd);
        return PH_ERROR;
    }
    if (offset < 0 || length < 0) {
        req->bad = 1;
        return PH_ERROR;
    }
    req->body_kind = BODY_FILE;
    req->file_fd = fd;
    req->file_off = offset;
    req->file_len = length;
    return PH_OK;
}

static int api_body_ref(ph_request_t *req, const void *data, size_t len)
{
    if (data == NULL && len > 0) {
        req->bad = 1;
        return PH_ERROR;
    }
    req->body_kind = BODY_REF;
    req->ref = data;
    req->ref_len = len;
    return PH_OK;
}

static int api_body_stream(ph_request_t *req, ph_read_fn fn, void *arg)
{
    if (fn == NULL)
        return PH_ERROR;
    req->body_kind = BODY_STREAM;
    req->stream_fn = fn;
    req->stream_arg = arg;
    return PH_OK;
}

static int api_send_error(ph_request_t *req, int status, const char *message)
{
    if (api_set_status(req, status) < 0)
        return PH_ERROR;
    request_reset_response(req);
    api_add_header(req, "Content-Type", "text/plain; charset=utf-8");
    return api_body_printf(req, "%s\n", message ? message : request_reason(status));
}

int request_answer(ph_request_t *req, int status, const char *text, const char *location)
{
    req->status = status;
    req->bad = 0;
    request_reset_response(req);
    if (api_add_header(req, "Content-Type", "text/plain; charset=utf-8") != PH_OK ||
        (location && api_add_header(req, "Location", location) != PH_OK) ||
        api_body_printf(req, "%s\n", text) != PH_OK) {
        req->bad = 1;
        return -1;
    }
    return 0;
}

int request_add_header(ph_request_t *req, const char *name, const char *value)
{
    return api_add_header(req, name, value) == PH_OK ? 0 : -1;
}

/* PostgREST's error code for a status the core answers itself
 * (PH_PLUGIN_PGRST_ERRORS). */
static const char *pgrst_code(int status)
{
    switch (status) {
    case 405: return "PGRST117"; /* method not allowed */
    case 415: return "PGRST107"; /* media type */
    case 503: return "PGRST001"; /* service unavailable */
    default: return "PGRST000";
    }
}

void request_error(ph_request_t *req, int status)
{
    req->status = status;
    req->bad = 0;
    request_reset_response(req);
    if (req->route && (req->route->desc->flags & PH_PLUGIN_JSON_ERRORS)) {
        const ph_plugin_t *d = req->route->desc;
        api_add_header(req, "Content-Type", "application/json");
        if (d->abi_minor >= 7 && (d->flags & PH_PLUGIN_PGRST_ERRORS))
            api_body_printf(req, "{\"code\":\"%s\",\"message\":\"%s\",\"details\":null,\"hint\":null,",
                            pgrst_code(status), request_reason(status));
        else
            api_body_printf(req, "{");
        api_body_printf(req, "\"error\":\"%s\",\"status\":%d}\n", request_reason(status), status);
    } else {
        api_add_header(req, "Content-Type", "text/plain; charset=utf-8");
        api_body_printf(req, "%d %s\n", status, request_reason(status));
    }
    /* Overload and a handler's overrun pass: say when to come back. */
    if (status == 503)
        api_add_header(req, "Retry-After", "1");
}

/* --- ABI 1.3 ------------------------------------------------------------ */

static void api_vlog(int level, const char *fmt, va_list ap) { log_vmsg(level, NULL, 0, "plugin: ", fmt, ap); }

static int api_body_vprintf(ph_request_t *req, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || mem_reserve(req, (size_t)n + 1) < 0)
        return PH_ERROR;
    vsnprintf(req->mem + req->mem_len, (size_t)n + 1, fmt, ap);
    req->mem_len += (size_t)n;
    return PH_OK;
}

static ph_str_t api_request_id(const ph_request_t *req)
{
    static const char hex[] = "0123456789abcdef";
    if (req->ext_id)
        return (ph_str_t){req->ext_id, req->ext_id_len};
    ph_request_t *r = (ph_request_t *)req; /* the id is written once, lazily */
    if (r->id[0] == '\0') {
        for (int i = 0; i < 16; i++)
            r->id[i] = hex[(req->seq >> (60 - 4 * i)) & 0xf];
        r->id[16] = '\0';
    }
    return (ph_str_t){r->id, 16};
}

static const char *api_local(const ph_request_t *req)
{
    if (req->local_copy[0] || req->carrier == NULL) /* copied: any thread */
        return req->local_copy[0] ? req->local_copy : "-";
    return req->ops->local(req);
}

static ph_str_t api_scheme(const ph_request_t *req)
{
    if (req->carrier && req->ops->secure && req->ops->secure(req))
        return (ph_str_t){"https", 5};
    return (ph_str_t){"http", 4};
}

/* Made by exchange_route() on the request's loop before any plugin runs:
 * here only read, so no thread allocates from the request's pool. */
static ph_str_t api_host(const ph_request_t *req)
{
    return (ph_str_t){req->host ? req->host : "", req->host ? req->host_len : 0};
}

static ph_str_t api_authority(const ph_request_t *req)
{
    ph_str_t t = span(req, req->hp.target), v;
    /* absolute-form: scheme "://" authority [path] */
    const char *p = t.len > 3 ? memchr(t.ptr, ':', t.len) : NULL;
    if (t.len && t.ptr[0] != '/' && p && (size_t)(t.ptr + t.len - p) > 3 && p[1] == '/' && p[2] == '/') {
        const char *a = p + 3, *end = t.ptr + t.len, *q = a;
        while (q < end && *q != '/' && *q != '?' && *q != '#')
            q++;
        return (ph_str_t){a, (size_t)(q - a)};
    }
    if (request_header(req, "Host", &v))
        return v;
    return (ph_str_t){"", 0};
}

static int api_resp_header(const ph_request_t *req, const char *name, ph_str_t *value)
{
    size_t n = strlen(name);
    for (const resp_header_t *h = req->headers; h; h = h->next)
        if (h->nlen == n && strncasecmp(h->name, name, n) == 0) {
            *value = (ph_str_t){h->value, h->vlen};
            return 1;
        }
    return 0;
}

static int api_remove_header(ph_request_t *req, const char *name)
{
    size_t n = strlen(name);
    int removed = 0;
    resp_header_t **pp = &req->headers;
    while (*pp) {
        resp_header_t *h = *pp;
        if (h->nlen == n && strncasecmp(h->name, name, n) == 0) {
            *pp = h->next;
            removed++;
        } else {
            pp = &h->next;
        }
    }
    req->headers_tail = pp;
    if (removed && n == 12 && strncasecmp(name, "content-type", 12) == 0)
        req->has_content_type = 0;
    return removed;
}

static int api_set_header(ph_request_t *req, const char *name, const char *value)
{
    size_t nlen, vlen;
    int k = response_field_class(req, name, value, &nlen, &vlen);
    if (k != FIELD_OK) {
        header_refused(req, name, k);
        return PH_ERROR;
    }
    api_remove_header(req, name);
    return api_add_header(req, name, value);
}

static int api_early_hints(ph_request_t *req, const ph_kv_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].key == NULL || h[i].value == NULL || !header_ok(h[i].key, h[i].value)) {
            log_warn("plugin sent an invalid early hint: not sent");
            return PH_ERROR;
        }
    /* It writes to the connection, which only the loop thread may touch
     * (a blocking handler or a plugin's own thread would race it, or
     * reach it after the client left). */
    if (worker_current() != req->w) {
        log_error("plugin: early_hints called off its loop's thread: refused");
        return PH_ERROR;
    }
    if (req->carrier == NULL)
        return PH_ERROR;
    return req->ops->informational(req, 103, h, n);
}

static int api_add_trailer(ph_request_t *req, const char *name, const char *value)
{
    return field_append(req, &req->trailers_tail, name, value) ? PH_OK : PH_ERROR;
}

static int api_resume(ph_request_t *req, int rc)
{
    if (__atomic_load_n(&req->held, __ATOMIC_RELAXED) == HOLD_CORO) { /* set before handle() ran */
        log_error("plugin called resume() for a coroutine handler's request (its return answers): ignored");
        return PH_ERROR;
    }
    if (__atomic_exchange_n(&req->resumed, 1, __ATOMIC_ACQ_REL)) {
        log_error("plugin called resume() twice for one pending request: ignored");
        return PH_ERROR;
    }
    req->pend_rc = rc; /* the post below publishes it to the loop */
    int cancelled = __atomic_load_n(&req->cancelled, __ATOMIC_ACQUIRE);
    worker_post_req(req->w, WREQ_RESUME, req);
    return cancelled ? PH_ERROR : PH_OK;
}

static int api_cancelled(const ph_request_t *req) { return __atomic_load_n(&req->cancelled, __ATOMIC_ACQUIRE) != 0; }

static int body_flow(ph_request_t *req, int on)
{
    /* It changes what the connection reads: the loop thread's alone. */
    if (worker_current() != req->w) {
        log_error("plugin: %s called off its loop's thread: refused", on ? "body_resume" : "body_pause");
        return PH_ERROR;
    }
    if (!req->stream_body || req->carrier == NULL || req->body_done)
        return PH_ERROR;
    req->body_paused = !on;
    req->ops->body_flow(req, on);
    return PH_OK;
}

static int api_body_pause(ph_request_t *req) { return body_flow(req, 0); }
static int api_body_resume(ph_request_t *req) { return body_flow(req, 1); }

static int api_body_fd(const ph_request_t *req, int *fd, uint64_t *len)
{
    if (req->spill_fd < 0 || (req->spill_map == NULL && req->body_len > 0))
        return 0;
    *fd = req->spill_fd;
    *len = req->body_len;
    return 1;
}

static int api_stream_wake(ph_request_t *req)
{
    if (!__atomic_exchange_n(&req->wake_posted, 1, __ATOMIC_ACQ_REL))
        worker_post_req(req->w, WREQ_WAKE, req);
    return PH_OK;
}

static int api_filter_emit(ph_request_t *req, const void *d, size_t n) { return exchange_emit(req, d, n); }

/* ABI 1.5: what response.c will frame the body with, as it stands. */
static int64_t api_resp_length(const ph_request_t *req)
{
    if (req->ftransformed)
        return -1;
    switch (req->body_kind) {
    case BODY_MEM: return (int64_t)req->mem_len;
    case BODY_REF: return (int64_t)req->ref_len;
    case BODY_FILE: return (int64_t)req->file_len;
    case BODY_STREAM: return req->stream_has_len ? (int64_t)req->stream_len : -1;
    default: return 0;
    }
}

struct req_slot {
    struct req_slot *next;
    const void *instance;
    void *value;
};

static void **api_slot(ph_request_t *req, const void *instance)
{
    struct req_slot *s;
    for (s = req->slots; s; s = s->next)
        if (s->instance == instance)
            return &s->value;
    s = pool_calloc(req->pool, sizeof *s);
    if (s == NULL)
        return NULL;
    s->instance = instance;
    s->next = req->slots;
    req->slots = s;
    return &s->value;
}

/* ABI 1.5 notes: a short list in the request's pool (a handful per
 * request at most, so a list beats a table). */
struct req_note {
    struct req_note *next;
    char *name, *value;
};

static int api_note_set(ph_request_t *req, const char *name, const char *value)
{
    if (name == NULL || name[0] == '\0')
        return PH_ERROR;
    struct req_note **p = &req->notes;
    while (*p && strcmp((*p)->name, name) != 0)
        p = &(*p)->next;
    if (value == NULL) {
        if (*p)
            *p = (*p)->next;
        return PH_OK;
    }
    char *v = pool_strndup(req->pool, value, strlen(value));
    if (v == NULL)
        return PH_ERROR;
    if (*p == NULL) {
        struct req_note *n = pool_alloc(req->pool, sizeof *n);
        char *nm = pool_strndup(req->pool, name, strlen(name));
        if (n == NULL || nm == NULL)
            return PH_ERROR;
        n->next = NULL;
        n->name = nm;
        *p = n;
    }
    (*p)->value = v;
    return PH_OK;
}

static const char *api_note(const ph_request_t *req, const char *name)
{
    if (name == NULL)
        return NULL;
    for (const struct req_note *n = req->notes; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n->value;
    return NULL;
}

static int api_field_check(const char *name, const char *value)
{
    size_t nl, vl;
    int k = field_class(name, value, &nl, &vl);
    return k == FIELD_OK ? PH_OK : k == FIELD_CORE ? PH_DECLINED : PH_ERROR;
}

static int api_status(const ph_request_t *req) { return req->status; }

static int api_parse_bool(const char *s, int *out)
{
    int v;
    if (s == NULL || cfg_parse_bool(s, &v) < 0)
        return PH_ERROR;
    *out = v;
    return PH_OK;
}

/* ---- ABI 1.4 HTTP/1 helpers: the pure parsers of http_parse.c ---------- */

/* A member of the plugin's ph_http_response_t lies within its out->size. */
#define RESP_HAS(out, m) ((out)->size >= offsetof(ph_http_response_t, m) + sizeof((out)->m))

typedef struct {
    const char *buf;
    ph_str_t *names, *values;
    size_t cap;
} resp_fields_t;

static int api_resp_field(void *arg, unsigned i, hp_span_t name, hp_span_t value)
{
    resp_fields_t *f = arg;

    if (i >= f->cap)
        return -1;
    f->names[i] = (ph_str_t){f->buf + name.off, name.len};
    f->values[i] = (ph_str_t){f->buf + value.off, value.len};
    return 0;
}

static int api_parse_response(const char *buf, size_t len, ph_http_response_t *out)
{
    resp_fields_t f = {buf, NULL, NULL, 0};
    hp_response_t r;
    int rc;

    /* Without both arrays there is no room: any field is one too many. */
    if (RESP_HAS(out, cap) && out->names != NULL && out->values != NULL) {
        f.names = out->names;
        f.values = out->values;
        f.cap = out->cap;
    }
    rc = hp_parse_response(&r, buf, len, api_resp_field, &f);
    if (rc == HP_INCOMPLETE)
        return 0;
    if (rc < 0)
        return PH_ERROR;
    if (RESP_HAS(out, status))
        out->status = r.status;
    if (RESP_HAS(out, version))
        out->version = r.version_minor ? 11 : 10;
    if (RESP_HAS(out, reason))
        out->reason = (ph_str_t){buf + r.reason.off, r.reason.len};
    if (RESP_HAS(out, nheaders))
        out->nheaders = r.nheaders;
    if (RESP_HAS(out, content_length))
        out->content_length = r.content_length;
    if (RESP_HAS(out, chunked))
        out->chunked = r.chunked;
    if (RESP_HAS(out, keep_alive))
        out->keep_alive = r.keep_alive;
    return rc;
}

/* The plugin's opaque state holds an hp_chunked_t, copied in and out so the
 * plugin's object is never accessed through another type. */
_Static_assert(sizeof(hp_chunked_t) <= sizeof(ph_chunked_t), "ph_chunked_t too small for hp_chunked_t");

static void api_chunked_init(ph_chunked_t *c)
{
    hp_chunked_t h;

    hp_chunked_init(&h);
    memset(c, 0, sizeof(*c));
    memcpy(c, &h, sizeof(h));
}

static ssize_t api_chunked_decode(ph_chunked_t *c, char *buf, size_t *len, size_t max_trailer_bytes)
{
    hp_chunked_t h;
    ssize_t rc;

    memcpy(&h, c, sizeof(h));
    rc = hp_chunked_decode(&h, buf, len, max_trailer_bytes);
    memcpy(c, &h, sizeof(h));
    if (rc == HP_INCOMPLETE)
        return PH_CHUNKED_MORE;
    return rc < 0 ? PH_ERROR : rc;
}

static int api_parse_size(const char *s, uint64_t *out)
{
    size_t v;
    if (s == NULL || cfg_parse_size(s, &v) < 0)
        return PH_ERROR;
    *out = v;
    return PH_OK;
}

static int api_parse_duration(const char *s, uint64_t *ms)
{
    uint64_t v;
    if (s == NULL || cfg_parse_duration(s, &v) < 0)
        return PH_ERROR;
    *ms = v;
    return PH_OK;
}

const ph_server_api_t request_api = {
    .size = sizeof(ph_server_api_t),
    .abi_major = PH_ABI_MAJOR,
    .abi_minor = PH_ABI_MINOR,
    .server_version = PH_SERVER_VERSION,
    .log = api_log,
    .method = api_method,
    .target = api_target,
    .path = api_path,
    .subpath = api_subpath,
    .raw_path = api_raw_path,
    .query = api_query,
    .prefix = api_prefix,
    .version = api_version,
    .header = request_header,
    .header_count = api_header_count,
    .header_at = api_header_at,
    .body = api_body,
    .peer = api_peer,
    .alloc = api_alloc,
    .on_cleanup = api_on_cleanup,
    .set_status = api_set_status,
    .add_header = api_add_header,
    .body_append = api_body_append,
    .body_printf = api_body_printf,
    .body_file = api_body_file,
    .body_stream = api_body_stream,
    .send_error = api_send_error,
    .body_ref = api_body_ref,
    .parse_bool = api_parse_bool,
    .parse_size = api_parse_size,
    .parse_duration = api_parse_duration,
    /* ABI 1.4 HTTP/1 helpers */
    .parse_response = api_parse_response,
    .chunked_init = api_chunked_init,
    .chunked_decode = api_chunked_decode,
    .vlog = api_vlog,
    .body_vprintf = api_body_vprintf,
    .request_id = api_request_id,
    .local = api_local,
    .scheme = api_scheme,
    .authority = api_authority,
    .resp_header = api_resp_header,
    .set_header = api_set_header,
    .remove_header = api_remove_header,
    .early_hints = api_early_hints,
    .add_trailer = api_add_trailer,
    .resume = api_resume,
    .cancelled = api_cancelled,
    .body_pause = api_body_pause,
    .body_resume = api_body_resume,
    .body_fd = api_body_fd,
    .stream_wake = api_stream_wake,
    .loop_of = api_loop_of,
    .loop_current = api_loop_current,
    .loops = api_loops,
    .loop_at = api_loop_at,
    .run_on = api_run_on,
    .watch_new = api_watch_new,
    .watch_set = api_watch_set,
    .watch_free = api_watch_free,
    .timer_new = api_timer_new,
    .timer_set = api_timer_set,
    .timer_stop = api_timer_stop,
    .timer_free = api_timer_free,
    .connect = api_connect,
    .filter_emit = api_filter_emit,
    .server_info = stats_server_info,
    .routes_visit = stats_routes_visit,
    .slot = api_slot,
    .co_active = apico_active,
    .co_sleep = apico_sleep,
    .co_wait_fd = apico_wait_fd,
    .co_poll = apico_poll,
    .co_resolve = apico_resolve,
    .co_blocking = apico_blocking,
    .co_spawn = apico_spawn,
    .co_cancel = apico_cancel,
    .sock_new = apico_sock_new,
    .co_connect = apico_connect,
    .sock_read = apico_sock_read,
    .sock_read_exactly = apico_sock_read_exactly,
    .sock_read_until = apico_sock_read_until,
    .sock_write = apico_sock_write,
    .sock_buffered = apico_sock_buffered,
    .sock_fd = apico_sock_fd,
    .sock_close = apico_sock_close,
    .co_body_read = apico_body_read,
    .co_respond = apico_respond,
    .co_send = apico_send,
    .upgrade = apico_upgrade,
    .note_set = api_note_set,
    .note = api_note,
    .field_check = api_field_check,
    .status = api_status,
    .reason = request_reason,
    .resp_length = api_resp_length,
    .worker_info = stats_worker_info,
    .generations_visit = stats_generations_visit,
    .zone = apizone_zone,
    .zone_data = apizone_data,
    .zone_lock = apizone_lock,
    .zone_unlock = apizone_unlock,
    .slab_init = slab_init,
    .slab_alloc = slab_alloc,
    .slab_free = slab_free,
    .host = api_host,
    .cidr_new = api_cidr_new,
    .cidr_add = api_cidr_add,
    .cidr_match = api_cidr_match,
    .cidr_match_addr = api_cidr_match_addr,
    .cidr_free = api_cidr_free,
    .url_escape = urlenc_escape,
};
