/* CSV in and out: see data_csv.h. */
#include "data_csv.h"

#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_filter.h"
#include "data_json.h"
#include "data_jout.h"
#include "data_num.h"
#include "data_value.h"

static bool needs_quotes(const char *s, size_t len)
{
    if (len > 0 && (s[0] == ' ' || s[len - 1] == ' '))
        return true;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return true;
    return false;
}

static int field(const char *s, size_t len, data_csv_put_fn put, void *arg)
{
    if (!needs_quotes(s, len))
        return put(s, len, arg);
    if (put("\"", 1, arg) != 0)
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"')
            continue;
        if (put(s + start, i + 1 - start, arg) != 0 || put("\"", 1, arg) != 0)
            return -1; /* the quote written twice */
        start = i + 1;
    }
    if (put(s + start, len - start, arg) != 0)
        return -1;
    return put("\"", 1, arg);
}

int data_csv_header(const data_table_t *shape, data_csv_put_fn put, void *arg)
{
    for (size_t i = 0; i < shape->ncols; i++)
        if ((i > 0 && put(",", 1, arg) != 0) ||
            field(shape->cols[i].name, strlen(shape->cols[i].name), put, arg) != 0)
            return -1;
    return put("\n", 1, arg);
}

/* One JSON value as a CSV field. */
static int value(const json_t *v, data_csv_put_fn put, void *arg)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_NULL:
        return 0;
    case JSON_STRING: {
        const char *raw;
        size_t rawlen;
        if (data_num_is_raw(v, &raw, &rawlen)) /* an exact number, or JSON text */
            return field(raw, rawlen, put, arg);
        return field(json_string_value(v), json_string_length(v), put, arg);
    }
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return put(num, strlen(num), arg);
    case JSON_TRUE:
        return put("true", 4, arg);
    case JSON_FALSE:
        return put("false", 5, arg);
    default: { /* reals in JSON's spelling, objects and arrays as JSON */
        char *text = data_jout_dumps(v);
        int rc = text ? field(text, strlen(text), put, arg) : -1;
        free(text);
        return rc;
    }
    }
}

int data_csv_row(const data_table_t *shape, const json_t *row, data_csv_put_fn put, void *arg)
{
    for (size_t i = 0; i < shape->ncols; i++) {
        const json_t *v = json_object_get(row, shape->cols[i].name);
        if ((i > 0 && put(",", 1, arg) != 0) || (v != NULL && value(v, put, arg) != 0))
            return -1;
    }
    return put("\n", 1, arg);
}

/* A reader over the body: one field at a time. */
typedef struct reader {
    const char *s;
    size_t len, pos;
    size_t line;
} reader_t;

/* Reads the field at the cursor into a malloc'd *out (*n bytes); *quoted
 * says whether it was; *end is set when it ended its line (or the text).
 * -1 with err filled on an unterminated quote or text after one. */
static int read_field(reader_t *r, char **out, size_t *n, bool *quoted, bool *end, char *err, size_t errlen)
{
    char *buf = malloc(r->len - r->pos + 1);
    size_t o = 0;
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *quoted = r->pos < r->len && r->s[r->pos] == '"';
    if (*quoted) {
        r->pos++;
        for (;;) {
            if (r->pos >= r->len) {
                free(buf);
                snprintf(err, errlen, "CSV line %zu: unterminated quoted field", r->line);
                return -1;
            }
            char c = r->s[r->pos++];
            if (c == '"' && r->pos < r->len && r->s[r->pos] == '"')
                r->pos++;
            else if (c == '"')
                break;
            buf[o++] = c;
        }
    } else {
        while (r->pos < r->len && r->s[r->pos] != ',' && r->s[r->pos] != '\n' && r->s[r->pos] != '\r')
            buf[o++] = r->s[r->pos++];
    }
    if (r->pos < r->len && r->s[r->pos] == '\r' && r->pos + 1 < r->len && r->s[r->pos + 1] == '\n')
        r->pos++;
    *end = r->pos >= r->len || r->s[r->pos] == '\n';
    if (!*end && r->s[r->pos] != ',') {
        free(buf);
        snprintf(err, errlen, "CSV line %zu: text after a quoted field", r->line);
        return -1;
    }
    if (r->pos < r->len)
        r->pos++; /* the ',' or '\n' */
    buf[o] = '\0';
    *out = buf;
    *n = o;
    return 0;
}

/* The header line: the columns, each of t and named once. */
static int read_header(reader_t *r, const data_table_t *t, const data_column_t ***cols, size_t *ncols,
                       char *err, size_t errlen)
{
    bool end = false;
    *cols = NULL;
    *ncols = 0;
    while (!end) {
        char *name;
        size_t n;
        bool quoted;
        if (read_field(r, &name, &n, &quoted, &end, err, errlen) != 0)
            return -1;
        const data_column_t *c = data_table_column(t, name, n);
        const data_column_t **a = c ? realloc(*cols, (*ncols + 1) * sizeof *a) : NULL;
        bool twice = false;
        for (size_t i = 0; c && a && i < *ncols; i++)
            twice |= a[i] == c;
        if (c == NULL || a == NULL || twice) {
            char shown[80];
            if (a != NULL)
                *cols = a;
            snprintf(err, errlen, a == NULL && c ? "out of memory" : "CSV header: column %s %s",
                     data_qerr_name(shown, sizeof shown, name, n), twice ? "given twice" : "is not in the table");
            free(name);
            return -1;
        }
        free(name);
        *cols = a;
        a[(*ncols)++] = c;
    }
    r->line++;
    return 0;
}

/* One field as its column's JSON value. */
static json_t *typed(const data_column_t *c, const char *s, size_t n, bool quoted, size_t line, char *err,
                     size_t errlen)
{
    data_value_t v;
    char msg[96];
    if (!quoted && n == 4 && memcmp(s, "NULL", 4) == 0)
        return json_null();
    if (data_num_parse(c, s, n, &v, msg, sizeof msg) != PH_OK) {
        snprintf(err, errlen, "CSV line %zu, column \"%s\": %s", line, c->name, msg);
        return NULL;
    }
    json_t *j = data_json_from_value(c->type, &v);
    data_value_clear(&v);
    if (j == NULL)
        snprintf(err, errlen, "out of memory");
    return j;
}

/* One line into a row object of the header's columns. */
static json_t *read_row(reader_t *r, const data_column_t **cols, size_t ncols, char *err, size_t errlen)
{
    json_t *row = json_object();
    bool end = false;
    size_t i = 0;
    if (row == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (; !end; i++) {
        char *text;
        size_t n;
        bool quoted;
        if (read_field(r, &text, &n, &quoted, &end, err, errlen) != 0) {
            json_decref(row);
            return NULL;
        }
        json_t *v = i < ncols ? typed(cols[i], text, n, quoted, r->line, err, errlen) : NULL;
        free(text);
        if (i >= ncols)
            snprintf(err, errlen, "CSV line %zu: more fields than the header's %zu", r->line, ncols);
        if (v == NULL || json_object_set_new(row, cols[i]->name, v) != 0) {
            json_decref(row);
            return NULL;
        }
    }
    if (i < ncols) {
        snprintf(err, errlen, "CSV line %zu: %zu fields, the header has %zu", r->line, i, ncols);
        json_decref(row);
        return NULL;
    }
    r->line++;
    return row;
}

json_t *data_csv_parse(const data_table_t *t, const char *s, size_t len, char *err, size_t errlen)
{
    reader_t r = {.s = s, .len = len, .line = 1};
    const data_column_t **cols;
    size_t ncols;
    json_t *rows = json_array();

    if (rows == NULL || !data_utf8_valid(s, len) || memchr(s, '\0', len) != NULL) {
        snprintf(err, errlen, rows ? "CSV body is not UTF-8 text without NUL" : "out of memory");
        json_decref(rows);
        return NULL;
    }
    if (len == 0 || read_header(&r, t, &cols, &ncols, err, errlen) != 0) {
        if (len == 0)
            snprintf(err, errlen, "CSV body without a header line");
        else
            free(cols);
        json_decref(rows);
        return NULL;
    }
    while (r.pos < r.len) {
        json_t *row = read_row(&r, cols, ncols, err, errlen);
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            free(cols);
            json_decref(rows);
            return NULL;
        }
    }
    free(cols);
    return rows;
}
