/*
 * echo: answers every request with a description of the request itself
 * (method, target, path, query, headers, body, peer), as JSON when the client
 * accepts application/json and as plain text otherwise.
 *
 * It is also the template for new plugins. Its sections come in the order
 * every plugin should follow: the instance struct, create() with key
 * parsing, handle(), destroy(), and the descriptor last. Copy it, rename the
 * echo_ prefix, and keep the rules spelled out in the comments.
 *
 * Route keys:
 *   header = Name: value   add a fixed header to every response (repeatable)
 *   status = NNN           response status, 200-599 (default 200)
 *   show_credentials = no  yes: echo Cookie, Authorization and
 *                          Proxy-Authorization as sent; by default their
 *                          values are replaced by "[redacted]", so a page
 *                          that can read /echo (an XSS on the same site)
 *                          cannot read HttpOnly cookies or credentials
 */
#include <plughttpd/plugin.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- instance ----------------------------------------------------------- */

typedef struct echo_header {
    char *name;
    char *value;
} echo_header_t;

/* One per [route] section. handle() may run on several threads at once, so
 * everything here is written by create() and only read afterwards. */
typedef struct echo {
    const ph_server_api_t *api; /* the only way to call the server */
    int status;
    int show_credentials; /* 0: credential headers' values are redacted */
    echo_header_t *headers; /* owned, nheaders entries */
    size_t nheaders;
} echo_t;

static void echo_destroy(void *instance);

/* --- create: parse and validate the route's keys ------------------------ */

__attribute__((format(printf, 2, 3))) static int refuse(ph_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return PH_ERROR;
}

static int parse_status(const char *s, int *status, ph_error_t *err)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (!(*s >= '0' && *s <= '9') || *end != '\0' || n < 200 || n > 599)
        return refuse(err, "status must be a number from 200 to 599, not \"%s\"", s);
    *status = (int)n;
    return PH_OK;
}

/* Booleans go through the server's parser (ABI 1.2), so a plugin key reads
 * "Yes", "on" or "1" exactly as server.ini's own keys do. */
static int parse_flag(const ph_server_api_t *api, const char *key, const char *s, int *out,
                      ph_error_t *err)
{
    if (api->parse_bool(s, out) != PH_OK)
        return refuse(err, "%s must be yes or no, not \"%s\"", key, s);
    return PH_OK;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "Name: value". The core would refuse a bad header at request time with a
 * 500; refusing it here turns that into a config error with a line number. */
static int parse_header(const char *s, echo_header_t *h, ph_error_t *err)
{
    static const char *const reserved[] = {"Content-Length", "Transfer-Encoding", "Connection",
                                           "Date", "Keep-Alive", "Content-Type"};
    size_t n = 0;
    while (is_tchar((unsigned char)s[n]))
        n++;
    if (n == 0 || s[n] != ':')
        return refuse(err, "header must be \"Name: value\" with a token name, not \"%s\"", s);
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strlen(reserved[i]) == n && strncasecmp(s, reserved[i], n) == 0)
            return refuse(err, "header %s is set by the server or by echo itself", reserved[i]);
    const char *v = s + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return refuse(err, "header value holds a control character");
    size_t vlen = strlen(v);
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    h->name = strndup(s, n);
    h->value = strndup(v, vlen);
    if (!h->name || !h->value)
        return refuse(err, "out of memory");
    return PH_OK;
}

static int echo_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    echo_t *e = calloc(1, sizeof(*e));
    /* At most one header per key; +1 keeps calloc away from size 0. */
    echo_header_t *headers = calloc(args->nkeys + 1, sizeof(*headers));
    if (!e || !headers) {
        free(e);
        free(headers);
        err->key = -1;
        return refuse(err, "out of memory");
    }
    e->api = args->api; /* valid until destroy() returns: keep it */
    e->status = 200;
    e->headers = headers;
    for (size_t i = 0; i < args->nkeys; i++) {
        const ph_kv_t *kv = &args->keys[i];
        int rc;
        if (strcmp(kv->key, "status") == 0) {
            rc = parse_status(kv->value, &e->status, err);
        } else if (strcmp(kv->key, "show_credentials") == 0) {
            rc = parse_flag(e->api, kv->key, kv->value, &e->show_credentials, err);
        } else if (strcmp(kv->key, "header") == 0) {
            rc = parse_header(kv->value, &e->headers[e->nheaders], err);
            e->nheaders++; /* counted even on failure so destroy frees it */
        } else {
            rc = refuse(err, "unknown key \"%s\"", kv->key);
        }
        if (rc != PH_OK) {
            err->key = (int)i;
            echo_destroy(e);
            return PH_ERROR;
        }
    }
    *instance = e;
    return PH_OK;
}

/* --- handle: build the response ----------------------------------------- */

/* Case-insensitive comparison of a span with a word. */
static int str_is(ph_str_t s, const char *word)
{
    return s.len == strlen(word) && strncasecmp(s.ptr, word, s.len) == 0;
}

static ph_str_t trim(ph_str_t s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* Returns the part of *s before the first sep and leaves the rest in *s. */
static ph_str_t next_item(ph_str_t *s, char sep)
{
    const char *at = s->len > 0 ? memchr(s->ptr, sep, s->len) : NULL;
    ph_str_t item = {s->ptr, at ? (size_t)(at - s->ptr) : s->len};
    size_t used = at ? item.len + 1 : s->len;
    s->ptr += used;
    s->len -= used;
    return item;
}

/* One element of an Accept list: does it accept JSON? A q of zero means
 * "not acceptable"; any nonzero digit in the qvalue makes it positive. */
static int accepts_json(ph_str_t elem)
{
    ph_str_t type = trim(next_item(&elem, ';'));
    if (!str_is(type, "application/json") && !str_is(type, "application/*"))
        return 0;
    while (elem.len > 0) {
        ph_str_t param = trim(next_item(&elem, ';'));
        if (param.len < 2 || (param.ptr[0] != 'q' && param.ptr[0] != 'Q') || param.ptr[1] != '=')
            continue;
        for (size_t i = 2; i < param.len; i++)
            if (param.ptr[i] >= '1' && param.ptr[i] <= '9')
                return 1;
        return 0;
    }
    return 1;
}

static int wants_json(const ph_server_api_t *api, const ph_request_t *req)
{
    ph_str_t name, value;
    for (size_t i = 0; i < api->header_count(req); i++) {
        if (!api->header_at(req, i, &name, &value) || !str_is(name, "Accept"))
            continue;
        while (value.len > 0)
            if (accepts_json(next_item(&value, ',')))
                return 1;
    }
    return 0;
}

/* Standard base64 (RFC 4648, with padding) into request memory. */
static char *base64(const ph_server_api_t *api, ph_request_t *req, ph_str_t in, size_t *outlen)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *)in.ptr;
    if (s == NULL)
        in.len = 0;
    char *out = api->alloc(req, (in.len + 2) / 3 * 4 + 1); /* freed with the request */
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < in.len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < in.len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < in.len)
            v |= s[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < in.len ? abc[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < in.len ? abc[v & 63] : '=';
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* A JSON string from request bytes. JSON needs UTF-8 (json_stringn returns
 * NULL otherwise); bytes that are not UTF-8 are read as ISO-8859-1, which
 * HTTP headers historically use, so nothing is lost. */
static json_t *jstr(ph_str_t s)
{
    json_t *j = json_stringn(s.ptr ? s.ptr : "", s.len);
    if (j || !s.ptr)
        return j;
    char *u = malloc(s.len * 2 + 1);
    size_t o = 0;
    if (!u)
        return NULL;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x80) {
            u[o++] = (char)c;
        } else {
            u[o++] = (char)(0xc0 | (c >> 6));
            u[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    j = json_stringn(u, o);
    free(u);
    return j;
}

static const char *version(const ph_server_api_t *api, const ph_request_t *req)
{
    return api->version(req) == 10 ? "HTTP/1.0" : "HTTP/1.1";
}

#define REDACTED "[redacted]"

/* Header i as echoed: its value replaced by REDACTED when it carries
 * credentials (cookies, HTTP authentication) and the route does not ask to
 * show them. Returns 0 when i is out of range, like header_at(). */
static int echoed_header(const echo_t *e, const ph_request_t *req, size_t i, ph_str_t *name,
                         ph_str_t *value)
{
    static const char *const secret[] = {"Cookie", "Authorization", "Proxy-Authorization"};

    if (!e->api->header_at(req, i, name, value))
        return 0;
    if (e->show_credentials)
        return 1;
    for (size_t k = 0; k < sizeof(secret) / sizeof(secret[0]); k++) {
        if (str_is(*name, secret[k])) {
            *value = (ph_str_t){REDACTED, sizeof(REDACTED) - 1};
            break;
        }
    }
    return 1;
}

/* [["Host", "localhost"], ...] in the order received, names as received. */
static json_t *header_list(const echo_t *e, const ph_request_t *req)
{
    const ph_server_api_t *api = e->api;
    json_t *list = json_array();
    ph_str_t name, value;
    for (size_t i = 0; list && i < api->header_count(req); i++) {
        if (!echoed_header(e, req, i, &name, &value))
            continue;
        if (json_array_append_new(list, json_pack("[oo]", jstr(name), jstr(value))) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static int reply_json(const echo_t *e, ph_request_t *req)
{
    const ph_server_api_t *api = e->api;
    json_t *o = json_object();
    ph_str_t query = api->query(req), body = api->body(req);
    int bad = !o;

    bad |= json_object_set_new(o, "method", jstr(api->method(req)));
    bad |= json_object_set_new(o, "target", jstr(api->target(req)));
    bad |= json_object_set_new(o, "path", jstr(api->path(req)));
    bad |= json_object_set_new(o, "subpath", jstr(api->subpath(req)));
    bad |= json_object_set_new(o, "query", query.ptr ? jstr(query) : json_null());
    bad |= json_object_set_new(o, "version", json_string(version(api, req)));
    bad |= json_object_set_new(o, "headers", header_list(e, req));
    json_t *jbody = json_stringn(body.ptr ? body.ptr : "", body.len); /* NULL: not UTF-8 */
    if (jbody) {
        bad |= json_object_set_new(o, "body", jbody);
    } else {
        size_t n = 0;
        char *b64 = base64(api, req, body, &n);
        bad |= !b64 || json_object_set_new(o, "body_base64", json_stringn_nocheck(b64, n));
    }
    bad |= json_object_set_new(o, "peer", json_string(api->peer(req)));

    char *text = bad ? NULL : json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text)
        return PH_ERROR;
    int rc = api->add_header(req, "Content-Type", "application/json");
    if (rc == PH_OK)
        rc = api->body_append(req, text, strlen(text));
    if (rc == PH_OK)
        rc = api->body_append(req, "\n", 1);
    free(text); /* json_dumps memory is jansson's (malloc), not the request's */
    return rc;
}

/* "Name: value\n". An absent value (query) has a NULL ptr: append nothing. */
static int line(const ph_server_api_t *api, ph_request_t *req, ph_str_t name, ph_str_t value)
{
    if (api->body_append(req, name.ptr, name.len) != PH_OK ||
        api->body_append(req, ": ", 2) != PH_OK ||
        (value.len > 0 && api->body_append(req, value.ptr, value.len) != PH_OK))
        return PH_ERROR;
    return api->body_append(req, "\n", 1);
}

#define S(lit) ((ph_str_t){lit, sizeof(lit) - 1})

static int reply_text(const echo_t *e, ph_request_t *req)
{
    const ph_server_api_t *api = e->api;
    const char *peer = api->peer(req);
    ph_str_t name, value, body = api->body(req);
    int rc = api->add_header(req, "Content-Type", "text/plain; charset=utf-8");

    rc |= line(api, req, S("Method"), api->method(req));
    rc |= line(api, req, S("Target"), api->target(req));
    rc |= line(api, req, S("Path"), api->path(req));
    rc |= line(api, req, S("Subpath"), api->subpath(req));
    rc |= line(api, req, S("Query"), api->query(req));
    rc |= line(api, req, S("Version"), (ph_str_t){version(api, req), 8});
    rc |= line(api, req, S("Peer"), (ph_str_t){peer, strlen(peer)});
    for (size_t i = 0; i < api->header_count(req); i++) {
        if (echoed_header(e, req, i, &name, &value))
            rc |= line(api, req, name, value);
    }
    rc |= api->body_append(req, "\n", 1);
    if (body.len > 0)
        rc |= api->body_append(req, body.ptr, body.len);
    return rc == PH_OK ? PH_OK : PH_ERROR;
}

static int echo_handle(void *instance, ph_request_t *req)
{
    const echo_t *e = instance; /* read-only: other threads use it too */
    const ph_server_api_t *api = e->api;
    int rc = wants_json(api, req) ? reply_json(e, req) : reply_text(e, req);

    if (rc == PH_OK)
        rc = api->set_status(req, e->status);
    for (size_t i = 0; rc == PH_OK && i < e->nheaders; i++)
        rc = api->add_header(req, e->headers[i].name, e->headers[i].value);
    return rc == PH_OK ? PH_OK : PH_ERROR;
}

/* --- destroy: free what create() allocated ------------------------------ */

static void echo_destroy(void *instance)
{
    echo_t *e = instance;
    for (size_t i = 0; i < e->nheaders; i++) {
        free(e->headers[i].name);
        free(e->headers[i].value);
    }
    free(e->headers);
    free(e);
}

/* --- descriptor: the one exported symbol, always last ------------------- */

PH_PLUGIN_DEFINE("echo", "1.0", 0, echo_create, echo_handle, echo_destroy);
