/* Typed values and their text forms: see data_value.h. */
#include "data_value.h"

#include <plughttpd/plugin.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_int(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t acc = 0;
    uint64_t limit = (uint64_t)INT64_MAX;

    if (len > 0 && s[0] == '-') {
        neg = true;
        limit += 1; /* |INT64_MIN| */
        i = 1;
    }
    if (i == len)
        return PH_ERROR;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return PH_ERROR;
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (limit - d) / 10)
            return PH_ERROR; /* out of range */
        acc = acc * 10 + d;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return PH_OK;
}

static int parse_real(const char *s, size_t len, double *out)
{
    char buf[64];
    char *end;

    /* strtod also takes hex, "inf" and "nan": allow only decimal syntax. */
    if (len == 0 || len >= sizeof buf || strspn(s, "0123456789+-.eE") < len)
        return PH_ERROR;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + len || errno == ERANGE || !isfinite(d))
        return PH_ERROR;
    *out = d;
    return PH_OK;
}

int data_value_parse(data_type_t type, const char *s, size_t len, data_value_t *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    switch (type) {
    case DATA_TYPE_INTEGER:
        out->kind = DATA_VALUE_INT;
        if (parse_int(s, len, &out->i) != PH_OK) {
            snprintf(err, errlen, "expected an integer within 64 bits");
            return PH_ERROR;
        }
        return PH_OK;
    case DATA_TYPE_REAL:
        out->kind = DATA_VALUE_REAL;
        if (parse_real(s, len, &out->d) != PH_OK) {
            snprintf(err, errlen, "expected a finite decimal number");
            return PH_ERROR;
        }
        return PH_OK;
    case DATA_TYPE_BOOL:
        out->kind = DATA_VALUE_BOOL;
        if (len == 4 && memcmp(s, "true", 4) == 0)
            out->i = 1;
        else if (len == 5 && memcmp(s, "false", 5) == 0)
            out->i = 0;
        else {
            snprintf(err, errlen, "expected true or false");
            return PH_ERROR;
        }
        return PH_OK;
    case DATA_TYPE_BLOB: {
        size_t n;
        unsigned char *b = data_base64_decode(s, len, &n);
        if (b == NULL) {
            snprintf(err, errlen, "expected base64");
            return PH_ERROR;
        }
        out->kind = DATA_VALUE_BLOB;
        out->ptr = (char *)b;
        out->len = n;
        return PH_OK;
    }
    case DATA_TYPE_TEXT:
    case DATA_TYPE_JSON: /* only result shapes have it: no filter reaches here */
    case DATA_TYPE_ANY:
        break;
    }
    if (!data_utf8_valid(s, len) || memchr(s, '\0', len) != NULL) {
        snprintf(err, errlen, "text must be valid UTF-8 without NUL");
        return PH_ERROR;
    }
    if (data_value_set_text(out, s, len) != PH_OK) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    return PH_OK;
}

int data_value_set_text(data_value_t *v, const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p == NULL)
        return PH_ERROR;
    memcpy(p, s, len);
    p[len] = '\0';
    v->kind = DATA_VALUE_TEXT;
    v->ptr = p;
    v->len = len;
    return PH_OK;
}

int data_value_set_blob(data_value_t *v, const void *p, size_t len)
{
    if (data_value_set_text(v, p, len) != PH_OK)
        return PH_ERROR;
    v->kind = DATA_VALUE_BLOB;
    return PH_OK;
}

int data_value_copy(data_value_t *dst, const data_value_t *src)
{
    *dst = *src;
    if (src->kind == DATA_VALUE_TEXT || src->kind == DATA_VALUE_BLOB || src->kind == DATA_VALUE_NUM) {
        dst->ptr = NULL;
        if (data_value_set_text(dst, src->ptr, src->len) != PH_OK)
            return PH_ERROR;
        dst->kind = src->kind;
    }
    return PH_OK;
}

void data_value_clear(data_value_t *v)
{
    free(v->ptr);
    memset(v, 0, sizeof *v);
    v->kind = DATA_VALUE_NULL;
}

bool data_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *data_base64_encode(const void *p, size_t len)
{
    const unsigned char *in = p;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_index(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

unsigned char *data_base64_decode(const char *s, size_t len, size_t *outlen)
{
    /* Strip padding, then every remaining character must be in the
     * alphabet and the length must not leave a lone 6-bit group. */
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
        return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 3);
    if (out == NULL)
        return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_index(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *outlen = o;
    return out;
}
