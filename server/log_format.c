#include "log_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbuf.h"

/* The variables a template may name, in the order of enum lf_var. */
static const char *const var_names[] = {
    "remote_addr", "time_local", "time_iso8601", "request", "method", "target", "protocol", "status",
    "bytes", "request_time", "request_id", "host", "scheme", "referer", "user_agent",
    "direct_addr",
};
enum lf_var {
    V_REMOTE_ADDR, V_TIME_LOCAL, V_TIME_ISO, V_REQUEST, V_METHOD, V_TARGET, V_PROTOCOL, V_STATUS,
    V_BYTES, V_REQUEST_TIME, V_REQUEST_ID, V_HOST, V_SCHEME, V_REFERER, V_USER_AGENT, V_DIRECT_ADDR, V_COUNT,
    V_NOTE = V_COUNT, V_TEXT
};

/* One piece of a template: literal text, a variable, or a note. */
typedef struct lf_item {
    int var;    /* enum lf_var */
    char *text; /* V_TEXT: the text; V_NOTE: the note's name (owned) */
    size_t len;
} lf_item_t;

enum { LF_COMBINED, LF_JSON, LF_TEMPLATE };

struct log_format {
    int kind;
    lf_item_t *items;
    size_t nitems;
};

/* Share of the line one client-chosen field may take, escapes counted
 * (the combined format's own shares). */
#define FIELD_MAX 512
#define TARGET_MAX 2048

void log_format_free(log_format_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nitems; i++)
        free(f->items[i].text);
    free(f->items);
    free(f);
}

static int add_item(log_format_t *f, int var, const char *text, size_t len)
{
    lf_item_t *grown = realloc(f->items, (f->nitems + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    f->items = grown;
    lf_item_t *it = &grown[f->nitems];
    *it = (lf_item_t){var, NULL, len};
    if (text && (it->text = strndup(text, len)) == NULL)
        return -1;
    f->nitems++;
    return 0;
}

static int is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

/* Parses the template t into f's items. */
static int compile_template(log_format_t *f, const char *t, char *err, size_t errlen)
{
    while (*t) {
        const char *d = strchr(t, '$');
        size_t lit = d ? (size_t)(d - t) : strlen(t);
        if (lit && add_item(f, V_TEXT, t, lit) < 0)
            goto oom;
        if (d == NULL)
            break;
        if (d[1] == '$') {
            if (add_item(f, V_TEXT, "$", 1) < 0)
                goto oom;
            t = d + 2;
            continue;
        }
        size_t n = 0;
        while (is_name_char(d[1 + n]))
            n++;
        int var = -1;
        for (int v = 0; v < V_COUNT; v++)
            if (strlen(var_names[v]) == n && strncmp(d + 1, var_names[v], n) == 0)
                var = v;
        if (var < 0 && n > 5 && strncmp(d + 1, "note_", 5) == 0) {
            if (add_item(f, V_NOTE, d + 6, n - 5) < 0)
                goto oom;
        } else if (var < 0) {
            snprintf(err, errlen, "access_log_format: unknown variable \"$%.*s\"", (int)(n ? n : 1), d + 1);
            return -1;
        } else if (add_item(f, var, NULL, 0) < 0) {
            goto oom;
        }
        t = d + 1 + n;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

log_format_t *log_format_compile(const char *text, char *err, size_t errlen)
{
    log_format_t *f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strcmp(text, "combined") == 0)
        f->kind = LF_COMBINED;
    else if (strcmp(text, "json") == 0)
        f->kind = LF_JSON;
    else {
        f->kind = LF_TEMPLATE;
        if (compile_template(f, text, err, errlen) < 0) {
            log_format_free(f);
            return NULL;
        }
    }
    return f;
}

/* --- values ---------------------------------------------------------------- */

static void put_iso(sbuf_t *b, time_t when)
{
    struct tm tm;
    gmtime_r(&when, &tm);
    sbuf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
}

static void put_protocol(sbuf_t *b, const log_access_entry_t *e)
{
    if (e->http2)
        sbuf_puts(b, "HTTP/2.0");
    else
        sbuf_printf(b, "HTTP/1.%d", e->version_minor);
}

static const char *note_of(const log_access_entry_t *e, const char *name)
{
    return e->note ? e->note(e->note_ctx, name) : NULL;
}

/* A template variable's value, escaped as the combined format escapes. */
static void put_var(sbuf_t *b, const lf_item_t *it, const log_access_entry_t *e)
{
    int line = e->method.len > 0;
    switch (it->var) {
    case V_REMOTE_ADDR: sbuf_put(b, e->peer, log_peer_host_len(e->peer)); break;
    case V_DIRECT_ADDR: {
        const char *d = e->direct_peer ? e->direct_peer : e->peer;
        sbuf_put(b, d, log_peer_host_len(d));
        break;
    }
    case V_TIME_LOCAL: sbuf_puts(b, e->time); break;
    case V_TIME_ISO: put_iso(b, e->when); break;
    case V_REQUEST:
        if (!line) {
            sbuf_putc(b, '-');
            break;
        }
        sbuf_put_escaped(b, e->method.ptr, e->method.len, 128);
        sbuf_putc(b, ' ');
        sbuf_put_escaped(b, e->target.ptr, e->target.len, TARGET_MAX);
        sbuf_putc(b, ' ');
        put_protocol(b, e);
        break;
    case V_METHOD:
        if (line)
            sbuf_put_escaped(b, e->method.ptr, e->method.len, 128);
        else
            sbuf_putc(b, '-');
        break;
    case V_TARGET:
        if (line)
            sbuf_put_escaped(b, e->target.ptr, e->target.len, TARGET_MAX);
        else
            sbuf_putc(b, '-');
        break;
    case V_PROTOCOL:
        if (line)
            put_protocol(b, e);
        else
            sbuf_putc(b, '-');
        break;
    case V_STATUS: sbuf_printf(b, "%d", e->status); break;
    case V_BYTES: sbuf_printf(b, "%llu", (unsigned long long)e->bytes); break;
    case V_REQUEST_TIME:
        sbuf_printf(b, "%llu.%03llu", (unsigned long long)(e->request_ms / 1000),
                    (unsigned long long)(e->request_ms % 1000));
        break;
    default: {
        ph_str_t v = {NULL, 0};
        if (it->var == V_REQUEST_ID)
            v = e->request_id;
        else if (it->var == V_HOST)
            v = e->host;
        else if (it->var == V_SCHEME)
            v = e->scheme;
        else if (it->var == V_REFERER)
            v = e->referer;
        else if (it->var == V_USER_AGENT)
            v = e->user_agent;
        else if (it->var == V_NOTE) {
            const char *n = note_of(e, it->text);
            if (n)
                v = (ph_str_t){n, strlen(n)};
        }
        if (v.ptr && v.len)
            sbuf_put_escaped(b, v.ptr, v.len, FIELD_MAX);
        else
            sbuf_putc(b, '-');
    }
    }
}

static size_t template_line(const log_format_t *f, char *line, const log_access_entry_t *e)
{
    sbuf_t b;
    sbuf_init(&b, line, LOG_LINE_MAX, 1);
    for (size_t i = 0; i < f->nitems; i++) {
        if (f->items[i].var == V_TEXT)
            sbuf_put(&b, f->items[i].text, f->items[i].len);
        else
            put_var(&b, &f->items[i], e);
    }
    return sbuf_finish(&b, "\n", 1);
}

/* --- JSON lines ------------------------------------------------------------ */

/* s[0..n) as a JSON string: quotes, backslashes, control and non-ASCII
 * bytes escaped (\u00HH), so any bytes give valid JSON; at most max
 * output bytes, never a split escape. */
static void put_json_str(sbuf_t *b, const char *s, size_t n, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t out = 2;
    sbuf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c < 0x20 || c >= 0x7f) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (out + k > max)
            break;
        sbuf_put(b, esc, k);
        out += k;
    }
    sbuf_putc(b, '"');
}

static void put_json_field(sbuf_t *b, const char *name, ph_str_t v, size_t max)
{
    sbuf_printf(b, ",\"%s\":", name);
    if (v.ptr)
        put_json_str(b, v.ptr, v.len, max);
    else
        sbuf_puts(b, "null");
}

static size_t json_line(char *line, const log_access_entry_t *e)
{
    sbuf_t b;
    sbuf_init(&b, line, LOG_LINE_MAX, 2);
    sbuf_puts(&b, "{\"time\":\"");
    put_iso(&b, e->when);
    sbuf_puts(&b, "\",\"remote_addr\":");
    put_json_str(&b, e->peer, log_peer_host_len(e->peer), 64);
    int line_ = e->method.len > 0;
    put_json_field(&b, "method", line_ ? e->method : (ph_str_t){NULL, 0}, 256);
    put_json_field(&b, "target", line_ ? e->target : (ph_str_t){NULL, 0}, TARGET_MAX);
    if (line_) {
        sbuf_puts(&b, ",\"protocol\":\"");
        put_protocol(&b, e);
        sbuf_putc(&b, '"');
    } else {
        sbuf_puts(&b, ",\"protocol\":null");
    }
    sbuf_printf(&b, ",\"status\":%d,\"bytes\":%llu,\"request_time\":%llu.%03llu", e->status,
                (unsigned long long)e->bytes, (unsigned long long)(e->request_ms / 1000),
                (unsigned long long)(e->request_ms % 1000));
    put_json_field(&b, "request_id", e->request_id, FIELD_MAX); /* a proxy's: up to 200 bytes */
    put_json_field(&b, "host", e->host.len ? e->host : (ph_str_t){NULL, 0}, 256);
    put_json_field(&b, "scheme", e->scheme, 16);
    put_json_field(&b, "referer", e->referer, FIELD_MAX);
    put_json_field(&b, "user_agent", e->user_agent, FIELD_MAX);
    const char *user = note_of(e, "user");
    put_json_field(&b, "user", user ? (ph_str_t){user, strlen(user)} : (ph_str_t){NULL, 0}, 256);
    return sbuf_finish(&b, "}\n", 2);
}

size_t log_format_line(const log_format_t *f, char *line, const log_access_entry_t *e)
{
    if (f == NULL || f->kind == LF_COMBINED)
        return log_access_format(line, e);
    if (f->kind == LF_JSON)
        return json_line(line, e);
    return template_line(f, line, e);
}
