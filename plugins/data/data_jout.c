/* JSON text of the answers: see data_jout.h. */
#include "data_jout.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_num.h"
#include "data_value.h"

/* A string with the escapes jansson's compact form uses: quote,
 * backslash and the control characters (short forms where JSON has them,
 * else \u00XX); everything else, UTF-8 included, as is. */
static int put_string(const char *s, size_t len, json_dump_callback_t put, void *arg)
{
    size_t run = 0;
    if (!data_utf8_valid(s, len) || put("\"", 1, arg) != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        const char *e = NULL;
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04X", c);
            e = esc;
        }
        if (e == NULL)
            continue;
        if ((i > run && put(s + run, i - run, arg) != 0) || put(e, strlen(e), arg) != 0)
            return -1;
        run = i + 1;
    }
    if (len > run && put(s + run, len - run, arg) != 0)
        return -1;
    return put("\"", 1, arg);
}

static int put_text(const char *s, json_dump_callback_t put, void *arg)
{
    return put(s, strlen(s), arg);
}

int data_jout_dump(const json_t *j, json_dump_callback_t put, void *arg)
{
    char num[40];
    const char *raw;
    size_t rawlen;

    switch (json_typeof(j)) {
    case JSON_NULL: return put_text("null", put, arg);
    case JSON_TRUE: return put_text("true", put, arg);
    case JSON_FALSE: return put_text("false", put, arg);
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return put_text(num, put, arg);
    case JSON_REAL: {
        size_t n = data_num_format_double(json_real_value(j), num, sizeof num);
        return n == 0 ? -1 : put(num, n, arg);
    }
    case JSON_STRING:
        if (data_num_is_raw(j, &raw, &rawlen))
            return put(raw, rawlen, arg);
        return put_string(json_string_value(j), json_string_length(j), put, arg);
    case JSON_ARRAY: {
        if (put("[", 1, arg) != 0)
            return -1;
        for (size_t i = 0; i < json_array_size(j); i++)
            if ((i > 0 && put(",", 1, arg) != 0) || data_jout_dump(json_array_get(j, i), put, arg) != 0)
                return -1;
        return put("]", 1, arg);
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *v;
        bool first = true;
        if (put("{", 1, arg) != 0)
            return -1;
        /* jansson keeps insertion order: the columns' order. */
        json_object_foreach((json_t *)j, key, v) {
            if ((!first && put(",", 1, arg) != 0) || put_string(key, strlen(key), put, arg) != 0 ||
                put(":", 1, arg) != 0 || data_jout_dump(v, put, arg) != 0)
                return -1;
            first = false;
        }
        return put("}", 1, arg);
    }
    }
    return -1;
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static int buf_put(const char *s, size_t n, void *arg)
{
    buf_t *b = arg;
    if (b->p == NULL || b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

char *data_jout_dumps(const json_t *j)
{
    buf_t b = {0};
    if (data_jout_dump(j, buf_put, &b) != 0 || b.p == NULL) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
