/* Rows <-> JSON: see data_json.h. */
#include "data_json.h"
#include "data_num.h"

#include <plughttpd/plugin.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_t *data_json_from_value(data_type_t type, const data_value_t *v)
{
    switch (v->kind) {
    case DATA_VALUE_NULL:
        return json_null();
    case DATA_VALUE_INT:
        if (type == DATA_TYPE_BOOL)
            return json_boolean(v->i != 0);
        /* SQLite stores integral reals as integers and RETURNING hands
         * them back so: the column says it is a number with a fraction. */
        if (type == DATA_TYPE_REAL) {
            char digits[24];
            /* A double holds every integer up to 2^53; beyond, the
             * integer's own digits (an SQLite NUMERIC column). */
            if (v->i >= -(INT64_C(1) << 53) && v->i <= (INT64_C(1) << 53))
                return json_real((double)v->i);
            snprintf(digits, sizeof digits, "%" PRId64, v->i);
            return data_num_raw(digits, strlen(digits));
        }
        return json_integer((json_int_t)v->i);
    case DATA_VALUE_NUM:
        return data_num_raw(v->ptr, v->len);
    case DATA_VALUE_BOOL:
        return json_boolean(v->i != 0);
    case DATA_VALUE_REAL:
        /* JSON has no NaN or infinity; their text is the closest honest
         * answer. */
        if (!isfinite(v->d))
            return json_string(isnan(v->d) ? "NaN" : v->d > 0 ? "Infinity" : "-Infinity");
        return json_real(v->d);
    case DATA_VALUE_TEXT:
        /* JSON the database built (an embedded row or array) nests in the
         * answer instead of being quoted as a string: checked, then kept
         * as its text, so its numbers stay exactly as the database wrote
         * them. */
        if (type == DATA_TYPE_JSON)
            return data_num_raw_json(v->ptr ? v->ptr : "", v->len);
        /* json_stringn validates UTF-8 and returns NULL on bad input. */
        return json_stringn(v->ptr ? v->ptr : "", v->len);
    case DATA_VALUE_BLOB: {
        char *b = data_base64_encode(v->ptr, v->len);
        json_t *j = b ? json_string(b) : NULL;
        free(b);
        return j;
    }
    }
    return NULL;
}

static int wrong(const data_column_t *col, const char *want, char *err, size_t errlen)
{
    snprintf(err, errlen, "column \"%s\" expects %s", col->name, want);
    return PH_ERROR;
}

/* A body's number that a jansson number could not hold exactly (see
 * data_num_loadb): kept as its text for exact and untyped columns, a
 * double for floating-point ones. */
static int raw_to_value(const data_column_t *col, const char *s, size_t len, data_value_t *out,
                        char *err, size_t errlen)
{
    if (col->type == DATA_TYPE_INTEGER)
        return wrong(col, "an integer within 64 bits", err, errlen);
    if (col->type != DATA_TYPE_REAL && col->type != DATA_TYPE_ANY)
        return wrong(col, col->type == DATA_TYPE_BOOL ? "true or false" : "a string", err, errlen);
    if (col->type == DATA_TYPE_ANY || data_num_exact_column(col)) {
        if (data_num_set(out, s, len) != PH_OK) {
            snprintf(err, errlen, "out of memory");
            return PH_ERROR;
        }
        return PH_OK;
    }
    char *copy = strndup(s, len);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    out->d = strtod(copy, NULL);
    free(copy);
    if (!isfinite(out->d))
        return wrong(col, "a number within the range of a double", err, errlen);
    out->kind = DATA_VALUE_REAL;
    return PH_OK;
}

int data_json_to_value(const data_column_t *col, const json_t *j, data_value_t *out,
                       char *err, size_t errlen)
{
    const char *raw;
    size_t rawlen;

    memset(out, 0, sizeof *out);
    out->kind = DATA_VALUE_NULL;
    if (json_is_null(j))
        return PH_OK;
    if (data_num_is_raw(j, &raw, &rawlen))
        return raw_to_value(col, raw, rawlen, out, err, errlen);
    switch (col->type) {
    case DATA_TYPE_INTEGER:
        if (!json_is_integer(j))
            return wrong(col, "an integer", err, errlen);
        out->kind = DATA_VALUE_INT;
        out->i = json_integer_value(j);
        return PH_OK;
    case DATA_TYPE_REAL:
        if (!json_is_number(j))
            return wrong(col, "a number", err, errlen);
        if (data_num_exact_column(col)) {
            char digits[40];
            size_t n;
            if (json_is_integer(j))
                n = (size_t)snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
            else
                n = data_num_format_double(json_real_value(j), digits, sizeof digits);
            if (data_num_set(out, digits, n) != PH_OK) {
                snprintf(err, errlen, "out of memory");
                return PH_ERROR;
            }
            return PH_OK;
        }
        out->kind = DATA_VALUE_REAL;
        out->d = json_number_value(j);
        return PH_OK;
    case DATA_TYPE_BOOL:
        if (!json_is_boolean(j))
            return wrong(col, "true or false", err, errlen);
        out->kind = DATA_VALUE_BOOL;
        out->i = json_is_true(j);
        return PH_OK;
    case DATA_TYPE_TEXT:
    case DATA_TYPE_JSON: /* only result shapes have it; bodies never meet it */
        if (!json_is_string(j))
            return wrong(col, "a string", err, errlen);
        break;
    case DATA_TYPE_BLOB: {
        size_t n;
        if (!json_is_string(j))
            return wrong(col, "a base64 string", err, errlen);
        unsigned char *b = data_base64_decode(json_string_value(j), json_string_length(j), &n);
        if (b == NULL)
            return wrong(col, "a base64 string", err, errlen);
        out->kind = DATA_VALUE_BLOB;
        out->ptr = (char *)b;
        out->len = n;
        return PH_OK;
    }
    case DATA_TYPE_ANY:
        if (json_is_integer(j)) {
            out->kind = DATA_VALUE_INT;
            out->i = json_integer_value(j);
            return PH_OK;
        }
        if (json_is_real(j)) {
            out->kind = DATA_VALUE_REAL;
            out->d = json_real_value(j);
            return PH_OK;
        }
        if (json_is_boolean(j)) {
            out->kind = DATA_VALUE_BOOL;
            out->i = json_is_true(j);
            return PH_OK;
        }
        if (!json_is_string(j))
            return wrong(col, "a string, number, boolean or null", err, errlen);
        break;
    }
    /* jansson refuses NUL in strings unless asked (JSON_ALLOW_NUL), so the
     * text is NUL-free UTF-8 here. */
    if (data_value_set_text(out, json_string_value(j), json_string_length(j)) != PH_OK) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    return PH_OK;
}

static int same_key(const data_value_t *a, const data_value_t *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case DATA_VALUE_TEXT:
    case DATA_VALUE_BLOB:
    case DATA_VALUE_NUM:
        return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
    case DATA_VALUE_REAL:
        return a->d == b->d;
    default:
        return a->i == b->i;
    }
}

void data_json_assign_free(data_assign_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        data_value_clear(&a[i].value);
    free(a);
}

int data_json_assignments(const data_table_t *t, const json_t *obj, data_json_mode_t mode,
                          const data_value_t *id, data_assign_t **out, size_t *n,
                          char *err, size_t errlen)
{
    const char *key;
    json_t *val;
    size_t k = 0;
    data_assign_t *a;

    *out = NULL;
    *n = 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "the body must be a JSON object");
        return PH_ERROR;
    }
    /* At most one assignment per column: the object's keys are unique
     * (loaded with JSON_REJECT_DUPLICATES) and PUT adds only absent ones. */
    a = calloc(t->ncols + 1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    json_object_foreach((json_t *)obj, key, val) {
        const data_column_t *col = data_table_column(t, key, strlen(key));
        if (col == NULL || k >= t->ncols) {
            if (strlen(key) < 64)
                snprintf(err, errlen, "unknown column \"%s\"", key);
            else
                snprintf(err, errlen, "unknown column");
            goto fail;
        }
        if (data_json_to_value(col, val, &a[k].value, err, errlen) != PH_OK)
            goto fail;
        if (col->pk && mode != DATA_JSON_INSERT) {
            bool same = same_key(&a[k].value, id);
            data_value_clear(&a[k].value);
            if (!same) {
                snprintf(err, errlen, "the primary key \"%s\" cannot be changed", col->name);
                goto fail;
            }
            continue;
        }
        a[k++].col = col;
    }
    if (mode == DATA_JSON_PUT) {
        for (size_t i = 0; i < t->ncols; i++) {
            const data_column_t *col = &t->cols[i];
            if (col->pk || col->has_default || json_object_get(obj, col->name) != NULL)
                continue;
            a[k].col = col;
            a[k++].value.kind = DATA_VALUE_NULL;
        }
    }
    if (mode != DATA_JSON_INSERT && k == 0) {
        snprintf(err, errlen, "nothing to update: give at least one column besides the primary key");
        goto fail;
    }
    *out = a;
    *n = k;
    return PH_OK;
fail:
    data_json_assign_free(a, t->ncols + 1);
    return PH_ERROR;
}

/* Marks in used[] the columns named by obj's keys. */
static int mark_columns(const data_table_t *t, const json_t *obj, bool *used, char *err, size_t errlen)
{
    const char *key;
    json_t *val;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "every item of the array must be a JSON object");
        return PH_ERROR;
    }
    json_object_foreach((json_t *)obj, key, val) {
        const data_column_t *col = data_table_column(t, key, strlen(key));
        if (col == NULL) {
            if (strlen(key) < 64)
                snprintf(err, errlen, "unknown column \"%s\"", key);
            else
                snprintf(err, errlen, "unknown column");
            return PH_ERROR;
        }
        used[col - t->cols] = true;
    }
    return PH_OK;
}

int data_json_rows(const data_table_t *t, const json_t *body, data_rows_t *rows, char *err,
                   size_t errlen)
{
    size_t n = json_is_array(body) ? json_array_size(body) : 1;
    bool *used = calloc(t->ncols, sizeof *used);

    memset(rows, 0, sizeof *rows);
    if (used == NULL)
        goto oom;
    for (size_t r = 0; r < n; r++)
        if (mark_columns(t, json_is_array(body) ? json_array_get(body, r) : body, used, err,
                         errlen) != PH_OK)
            goto fail;
    rows->cols = calloc(t->ncols + 1, sizeof *rows->cols);
    if (rows->cols == NULL)
        goto oom;
    for (size_t c = 0; c < t->ncols; c++)
        if (used[c])
            rows->cols[rows->ncols++] = &t->cols[c];
    rows->vals = calloc(n * rows->ncols + 1, sizeof *rows->vals);
    rows->missing = calloc(n * rows->ncols + 1, sizeof *rows->missing);
    if (rows->vals == NULL || rows->missing == NULL)
        goto oom;
    rows->nrows = n; /* every value starts NULL: safe to free from here on */
    for (size_t r = 0; r < n; r++) {
        const json_t *obj = json_is_array(body) ? json_array_get(body, r) : body;
        for (size_t tc = 0, c = 0; tc < t->ncols; tc++) {
            if (!used[tc])
                continue;
            const json_t *v = json_object_get(obj, t->cols[tc].name);
            rows->missing[r * rows->ncols + c] = v == NULL;
            if (v != NULL && data_json_to_value(&t->cols[tc], v, &rows->vals[r * rows->ncols + c], err,
                                                errlen) != PH_OK)
                goto fail;
            c++;
        }
    }
    free(used);
    return PH_OK;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    free(used);
    data_json_rows_free(rows);
    return PH_ERROR;
}

void data_json_rows_free(data_rows_t *rows)
{
    for (size_t i = 0; rows->vals && i < rows->nrows * rows->ncols; i++)
        data_value_clear(&rows->vals[i]);
    free(rows->vals);
    free(rows->missing);
    free(rows->cols);
    memset(rows, 0, sizeof *rows);
}

static size_t skip_ows(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* True when the parameter at s[i..len) (after its ';') is charset=X with X
 * something other than utf-8, quoted or not. */
static bool foreign_charset(const char *s, size_t i, size_t len)
{
    i = skip_ows(s, i, len);
    if (len - i < 8 || strncasecmp(s + i, "charset=", 8) != 0)
        return false;
    i += 8;
    size_t end = i;
    while (end < len && s[end] != ';')
        end++;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    if (end - i >= 2 && s[i] == '"' && s[end - 1] == '"')
        i++, end--;
    return !(end - i == 5 && strncasecmp(s + i, "utf-8", 5) == 0);
}

bool data_json_media_type_ok(const char *ct, size_t len)
{
    return data_media_type_is(ct, len, "application/json");
}

bool data_media_type_is(const char *ct, size_t len, const char *want)
{
    size_t wlen = strlen(want);
    size_t i = skip_ows(ct, 0, len);
    if (len - i < wlen || strncasecmp(ct + i, want, wlen) != 0)
        return false;
    i = skip_ows(ct, i + wlen, len);
    if (i == len)
        return true;
    if (ct[i] != ';')
        return false;
    /* Every parameter: only a charset is looked at. */
    for (size_t p = i; p < len; p++)
        if (ct[p] == ';' && foreign_charset(ct, p + 1, len))
            return false;
    return true;
}
