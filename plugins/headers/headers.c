/*
 * headers: an output filter that sets, adds and removes response header
 * fields on every answer of a route, whoever produced it (a plugin's answer,
 * a file, the core's own 404 or 500): security headers such as HSTS and
 * CSP, cache policy, or a header a backend should not leak.
 *
 *     [route /]
 *     plugin = static, headers
 *     static.root = /srv/www
 *     headers.set = Strict-Transport-Security: max-age=31536000
 *     headers.set = X-Content-Type-Options: nosniff
 *     headers.add = Link: </style.css>; rel=preload
 *     headers.remove = X-Powered-By
 *
 * Keys (each repeatable, applied in this order whatever the order written):
 *   remove = Name    removes every field so named (case-insensitive)
 *   set = Name: v    replaces every field so named by this one
 *   add = Name: v    appends a field, keeping those already there
 * Fields the core writes itself (Content-Length, Date, Connection...) are
 * refused when the configuration is read, and so is Server: its text is
 * the [server] key server_header.
 *
 * The body passes untouched (filter_head answers PH_DECLINED), so the
 * filter costs nothing per body byte and keeps a known length.
 */
#include <plughttpd/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { HD_REMOVE, HD_SET, HD_ADD, HD_KINDS };

typedef struct hd_field {
    char *name;  /* owned */
    char *value; /* owned; NULL for remove */
} hd_field_t;

/* Written by create() only; filter_head() reads it from every thread. */
typedef struct headers {
    const ph_server_api_t *api;
    hd_field_t *fields[HD_KINDS];
    size_t nfields[HD_KINDS];
} headers_t;

static void hd_destroy(void *instance);

__attribute__((format(printf, 2, 3))) static int hd_refuse(ph_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return PH_ERROR;
}

/* Splits "Name: value" (remove: "Name") into a new field. */
static int hd_parse(const ph_server_api_t *api, int kind, const char *text, hd_field_t *f, ph_error_t *err)
{
    const char *colon = kind == HD_REMOVE ? NULL : strchr(text, ':');
    if (kind != HD_REMOVE && colon == NULL)
        return hd_refuse(err, "\"%s\" is not \"Name: value\"", text);
    size_t nlen = colon ? (size_t)(colon - text) : strlen(text);
    const char *v = colon ? colon + 1 : "";
    while (*v == ' ' || *v == '\t')
        v++;
    f->name = strndup(text, nlen);
    f->value = kind == HD_REMOVE ? NULL : strdup(v);
    if (f->name == NULL || (kind != HD_REMOVE && f->value == NULL))
        return hd_refuse(err, "out of memory");
    if (strcasecmp(f->name, "server") == 0)
        return hd_refuse(err, "the Server field is set by [server] server_header, not by this plugin");
    int rc = api->field_check(f->name, f->value ? f->value : "x");
    if (rc == PH_DECLINED)
        return hd_refuse(err, "\"%s\" is a field the server writes itself", f->name);
    if (rc != PH_OK)
        return hd_refuse(err, "\"%s\" is not a valid header field", text);
    return PH_OK;
}

static int hd_key(headers_t *h, const ph_kv_t *kv, ph_error_t *err)
{
    static const char *const kinds[HD_KINDS] = {"remove", "set", "add"};
    int kind = -1;
    for (int k = 0; k < HD_KINDS; k++)
        if (strcmp(kv->key, kinds[k]) == 0)
            kind = k;
    if (kind < 0)
        return hd_refuse(err, "unknown key \"%s\" (remove, set, add)", kv->key);
    hd_field_t *grown = realloc(h->fields[kind], (h->nfields[kind] + 1) * sizeof *grown);
    if (grown == NULL)
        return hd_refuse(err, "out of memory");
    h->fields[kind] = grown;
    hd_field_t *f = &grown[h->nfields[kind]++];
    *f = (hd_field_t){NULL, NULL};
    return hd_parse(h->api, kind, kv->value, f, err);
}

static int hd_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    headers_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return hd_refuse(err, "out of memory");
    h->api = args->api;
    if (!PH_API_HAS(h->api, field_check)) {
        hd_destroy(h);
        return hd_refuse(err, "needs a server with plugin ABI 1.5");
    }
    for (size_t i = 0; i < args->nkeys; i++) {
        if (hd_key(h, &args->keys[i], err) != PH_OK) {
            err->key = (int)i;
            hd_destroy(h);
            return PH_ERROR;
        }
    }
    if (h->nfields[HD_REMOVE] + h->nfields[HD_SET] + h->nfields[HD_ADD] == 0) {
        hd_destroy(h);
        err->key = -1;
        return hd_refuse(err, "nothing to do: give remove, set or add keys");
    }
    *instance = h;
    return PH_OK;
}

/* Before the head goes out: the fields change, the body does not. */
static int hd_filter_head(void *instance, ph_request_t *req, void **state)
{
    (void)state;
    const headers_t *h = instance;
    const ph_server_api_t *api = h->api;
    for (size_t i = 0; i < h->nfields[HD_REMOVE]; i++)
        api->remove_header(req, h->fields[HD_REMOVE][i].name);
    for (size_t i = 0; i < h->nfields[HD_SET]; i++)
        if (api->set_header(req, h->fields[HD_SET][i].name, h->fields[HD_SET][i].value) != PH_OK)
            return PH_ERROR;
    for (size_t i = 0; i < h->nfields[HD_ADD]; i++)
        if (api->add_header(req, h->fields[HD_ADD][i].name, h->fields[HD_ADD][i].value) != PH_OK)
            return PH_ERROR;
    return PH_DECLINED;
}

/* Never called for a body (filter_head declines every one); its presence
 * is what makes this plugin an output filter. */
static int hd_filter_body(void *instance, ph_request_t *req, void *state, const void *data, size_t len,
                          unsigned flags)
{
    (void)state;
    (void)flags;
    const headers_t *h = instance;
    return h->api->filter_emit(req, data, len);
}

static void hd_destroy(void *instance)
{
    headers_t *h = instance;
    if (h == NULL)
        return;
    for (int k = 0; k < HD_KINDS; k++) {
        for (size_t i = 0; i < h->nfields[k]; i++) {
            free(h->fields[k][i].name);
            free(h->fields[k][i].value);
        }
        free(h->fields[k]);
    }
    free(h);
}

static const ph_hooks_t hd_hooks = {sizeof(ph_hooks_t), .filter_head = hd_filter_head,
                                    .filter_body = hd_filter_body};

PH_PLUGIN_DEFINE_HOOKS("headers", "1.0", 0, hd_create, NULL, hd_destroy, &hd_hooks);
