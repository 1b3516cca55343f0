/* Exact numbers: see data_num.h. */
#include "data_num.h"

#include <plughttpd/plugin.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first byte of a raw value: never part of UTF-8. */
#define RAW_MARK 0xFFu

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips a run of digits from *i; returns how many there were. */
static size_t digits(const char *s, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && digit(s[*i]))
        (*i)++;
    return *i - start;
}

/* From i on: an optional exponent (e or E, a sign, digits), then the end
 * of s. */
static bool exponent_to_end(const char *s, size_t len, size_t i)
{
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (digits(s, len, &i) == 0)
            return false;
    }
    return i == len;
}

bool data_num_valid(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0')
        i++;
    else if (digits(s, len, &i) == 0)
        return false;
    if (i < len && s[i] == '.') {
        i++;
        if (digits(s, len, &i) == 0)
            return false;
    }
    return exponent_to_end(s, len, i);
}

/* The looser decimal spelling query strings may use: [+-] digits with an
 * optional '.' somewhere (at least one digit), optional exponent. */
static bool decimal_text(const char *s, size_t len)
{
    size_t i = 0, n;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    n = digits(s, len, &i);
    if (i < len && s[i] == '.') {
        i++;
        n += digits(s, len, &i);
    }
    if (n == 0)
        return false;
    return exponent_to_end(s, len, i);
}

static bool has_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; s && *s; s++)
        if (strncasecmp(s, needle, n) == 0)
            return true;
    return false;
}

bool data_num_exact_column(const data_column_t *col)
{
    return col->type == DATA_TYPE_REAL && (has_ci(col->decl, "DEC") || has_ci(col->decl, "NUMERIC"));
}

int data_num_set(data_value_t *v, const char *s, size_t len)
{
    if (data_value_set_text(v, s, len) != PH_OK)
        return PH_ERROR;
    v->kind = DATA_VALUE_NUM;
    return PH_OK;
}

int data_num_parse(const data_column_t *col, const char *s, size_t len, data_value_t *out,
                   char *err, size_t errlen)
{
    if (!data_num_exact_column(col))
        return data_value_parse(col->type, s, len, out, err, errlen);
    memset(out, 0, sizeof *out);
    if (!decimal_text(s, len)) {
        snprintf(err, errlen, "expected a decimal number");
        return PH_ERROR;
    }
    if (data_num_set(out, s, len) != PH_OK) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    return PH_OK;
}

/* A decimal number as sign, significant digits (no leading or trailing
 * zeros; none for zero) and the power of ten of the last digit. */
typedef struct decimal {
    bool neg;
    char dig[800];
    size_t n;
    long exp;
} decimal_t;

/* Reads a decimal_text() spelling. false when it has too many digits or
 * too large an exponent to be compared here. */
static bool decimal_read(const char *s, size_t len, decimal_t *d)
{
    size_t i = 0;
    long frac = 0, e = 0;
    bool dot = false;

    memset(d, 0, sizeof *d);
    if (i < len && (s[i] == '-' || s[i] == '+'))
        d->neg = s[i++] == '-';
    for (; i < len && (digit(s[i]) || (s[i] == '.' && !dot)); i++) {
        if (s[i] == '.') {
            dot = true;
            continue;
        }
        if (dot)
            frac++;
        if (d->n == 0 && s[i] == '0')
            continue; /* leading zero */
        if (d->n >= sizeof d->dig)
            return false;
        d->dig[d->n++] = s[i];
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < len && digit(s[i]); i++) {
            if (e > 100000)
                return false;
            e = e * 10 + (s[i] - '0');
        }
        if (eneg)
            e = -e;
    }
    d->exp = e - frac;
    while (d->n > 0 && d->dig[d->n - 1] == '0') {
        d->n--;
        d->exp++;
    }
    if (d->n == 0)
        d->neg = false, d->exp = 0; /* -0 is 0 */
    return true;
}

static bool decimal_equal(const decimal_t *a, const decimal_t *b)
{
    return a->neg == b->neg && a->n == b->n && a->exp == b->exp && memcmp(a->dig, b->dig, a->n) == 0;
}

int data_num_sqlite(const char *s, size_t len, long long *i, double *d)
{
    decimal_t want, got;
    char buf[40];

    if (!decimal_read(s, len, &want))
        return 0;
    /* An integer: its digits, then exp zeros, within 64 bits. */
    if (want.exp >= 0 && want.n + (size_t)want.exp <= 19) {
        char *end;
        size_t k = 0;
        const char *digits = want.n ? want.dig : "0";
        size_t ndigits = want.n ? want.n : 1;
        buf[k++] = want.neg ? '-' : '+';
        for (size_t j = 0; j < ndigits; j++) /* at most 19 with the zeros below */
            buf[k++] = digits[j];
        for (long z = 0; z < want.exp; z++)
            buf[k++] = '0';
        buf[k] = '\0';
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno == 0 && *end == '\0') {
            *i = v;
            return 1;
        }
    }
    /* A fraction (or a larger integer): the nearest double must spell the
     * same number. strtod rounds correctly; its shortest spelling is
     * compared digit by digit. */
    char *copy = strndup(s, len);
    if (copy == NULL)
        return 0;
    errno = 0;
    double v = strtod(copy, NULL);
    free(copy);
    if (errno == ERANGE || !isfinite(v))
        return 0;
    size_t n = data_num_format_double(v, buf, sizeof buf);
    if (!decimal_read(buf, n, &got) || !decimal_equal(&want, &got))
        return 0;
    *d = v;
    return 2;
}

size_t data_num_format_double(double d, char *buf, size_t size)
{
    int len = 0;
    /* %g drops trailing zeros, so the first precision that reads back is
     * the shortest spelling. */
    for (int p = 15; p <= 17; p++) {
        len = snprintf(buf, size, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (len < 0 || (size_t)len >= size - 3)
        return 0;
    if (strpbrk(buf, ".eE") == NULL) {
        memcpy(buf + len, ".0", 3);
        return (size_t)len + 2;
    }
    char *e = strchr(buf, 'e');
    if (e != NULL) {
        /* "1e+20" -> "1e20", "1e-09" -> "1e-9" */
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            from++, to++;
        while (*from == '0' && from[1] != '\0')
            from++;
        memmove(to, from, strlen(from) + 1);
        len = (int)strlen(buf);
    }
    return (size_t)len;
}

json_t *data_num_raw(const char *s, size_t len)
{
    char *b = malloc(len + 1);
    if (b == NULL)
        return NULL;
    b[0] = (char)RAW_MARK;
    memcpy(b + 1, s, len);
    json_t *j = json_stringn_nocheck(b, len + 1);
    free(b);
    return j;
}

json_t *data_num_raw_json(const char *s, size_t len)
{
    json_t *check = json_loadb(s, len, JSON_DECODE_ANY, NULL);
    if (check == NULL)
        return NULL;
    json_decref(check);
    /* Valid JSON: whitespace outside strings is insignificant. */
    char *b = malloc(len + 1);
    size_t o = 0;
    bool in_str = false;
    if (b == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            b[o++] = c;
            if (c == '\\' && i + 1 < len)
                b[o++] = s[++i];
            else if (c == '"')
                in_str = false;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            b[o++] = c;
            in_str = c == '"';
        }
    }
    json_t *j = data_num_raw(b, o);
    free(b);
    return j;
}

bool data_num_is_raw(const json_t *j, const char **s, size_t *len)
{
    if (!json_is_string(j) || json_string_length(j) == 0 ||
        (unsigned char)json_string_value(j)[0] != RAW_MARK)
        return false;
    *s = json_string_value(j) + 1;
    *len = json_string_length(j) - 1;
    return true;
}

/* Whether the JSON number s[0..len) is an integer jansson holds exactly. */
static bool int64_text(const char *s, size_t len)
{
    long long v;
    double d;
    return memchr(s, '.', len) == NULL && memchr(s, 'e', len) == NULL && memchr(s, 'E', len) == NULL &&
           data_num_sqlite(s, len, &v, &d) == 1;
}

static void load_error(json_error_t *e, const char *buf, size_t pos, const char *msg)
{
    memset(e, 0, sizeof *e);
    e->line = 1;
    for (size_t i = 0; i < pos; i++) {
        e->column++;
        if (buf[i] == '\n')
            e->line++, e->column = 0;
    }
    e->column++;
    e->position = (int)pos;
    snprintf(e->text, sizeof e->text - 1, "%s", msg);
}

/* The strings data_num_loadb's rewrite made, "\0<number>" (no client's
 * string holds a NUL: refused before), become raw values. */
static json_t *unmarked(json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_value(v)[0] != '\0')
        return NULL;
    return data_num_raw(json_string_value(v) + 1, json_string_length(v) - 1);
}

static int unmark(json_t *j)
{
    const char *key;
    json_t *v;
    if (json_is_object(j)) {
        json_object_foreach(j, key, v) {
            json_t *raw = unmarked(v);
            if ((raw != NULL && json_object_set_new(j, key, raw) != 0) || (raw == NULL && unmark(v) != PH_OK))
                return PH_ERROR;
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            v = json_array_get(j, i);
            json_t *raw = unmarked(v);
            if ((raw != NULL && json_array_set_new(j, i, raw) != 0) || (raw == NULL && unmark(v) != PH_OK))
                return PH_ERROR;
        }
    }
    return PH_OK;
}

json_t *data_num_loadb(const char *buf, size_t len, size_t flags, json_error_t *e)
{
    /* Numbers jansson would round become "\u0000<text>" strings, which
     * load as raw values; the text grows by 8 bytes per such number. */
    size_t cap = len + 1, o = 0;
    char *t = malloc(cap);
    bool in_str = false;

    if (t == NULL) {
        load_error(e, buf, 0, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        char c = buf[i];
        size_t end = i + 1;
        if (in_str) {
            if (c == '\\' && i + 1 < len) {
                if (buf[i + 1] == 'u' && len - i >= 6 && memcmp(buf + i + 2, "0000", 4) == 0) {
                    free(t);
                    load_error(e, buf, i, "\\u0000 is not allowed in strings");
                    return NULL;
                }
                end = i + 2;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '-' || digit(c)) {
            while (end < len && (digit(buf[end]) || strchr(".eE+-", buf[end]) != NULL))
                end++;
            if (data_num_valid(buf + i, end - i) && !int64_text(buf + i, end - i)) {
                size_t need = o + (end - i) + 9 + (len - end) + 1;
                if (need > cap) {
                    char *bigger = realloc(t, need * 2);
                    if (bigger == NULL) {
                        free(t);
                        load_error(e, buf, i, "out of memory");
                        return NULL;
                    }
                    t = bigger;
                    cap = need * 2;
                }
                static const char mark[7] = {'"', '\\', 'u', '0', '0', '0', '0'}; /* "\u0000 */
                memcpy(t + o, mark, sizeof mark);
                o += sizeof mark;
                memcpy(t + o, buf + i, end - i);
                o += end - i;
                t[o++] = '"';
                i = end;
                continue;
            }
        }
        memcpy(t + o, buf + i, end - i);
        o += end - i;
        i = end;
    }
    json_t *j = json_loadb(t, o, flags | JSON_ALLOW_NUL, e);
    free(t);
    if (j != NULL && unmark(j) != PH_OK) {
        json_decref(j);
        load_error(e, buf, 0, "out of memory");
        return NULL;
    }
    return j;
}
