/* Listing queries: see data_query.h. */
#include "data_query.h"

#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long data_pct_decode(const char *in, size_t len, char *out, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            if (len - i < 3)
                return -1;
            int hi = hexval(in[i + 1]);
            int lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (in[i] == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = in[i];
        }
    }
    return (long)o;
}

const char *data_op_sql(data_op_t op)
{
    switch (op) {
    case DATA_OP_EQ: return "=";
    case DATA_OP_NEQ: return "<>";
    case DATA_OP_LT: return "<";
    case DATA_OP_LTE: return "<=";
    case DATA_OP_GT: return ">";
    case DATA_OP_GTE: return ">=";
    case DATA_OP_LIKE: return "LIKE";
    }
    return "=";
}

static const struct {
    const char *name;
    data_op_t op;
} ops[] = {
    {"eq", DATA_OP_EQ}, {"neq", DATA_OP_NEQ}, {"lt", DATA_OP_LT},     {"lte", DATA_OP_LTE},
    {"gt", DATA_OP_GT}, {"gte", DATA_OP_GTE}, {"like", DATA_OP_LIKE},
};

/* Parser state: the decoded name and value of one parameter and where the
 * result goes. */
typedef struct qparse {
    const data_table_t *table;
    int64_t max_rows;
    data_query_t *q;
    bool seen_limit, seen_offset, seen_order;
    char *err;
    size_t errlen;
} qparse_t;

static bool is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int fail(qparse_t *p, const char *fmt, const char *what)
{
    snprintf(p->err, p->errlen, fmt, what);
    return PH_ERROR;
}

static int parse_limit(qparse_t *p, const char *v, size_t len)
{
    data_value_t n;
    char e[64];
    if (p->seen_limit)
        return fail(p, "%s given twice", "limit");
    p->seen_limit = true;
    if (!all_digits(v, len))
        return fail(p, "%s must be a non-negative integer", "limit");
    /* Digits that overflow 64 bits still ask for "as many as allowed". */
    if (data_value_parse(DATA_TYPE_INTEGER, v, len, &n, e, sizeof e) != PH_OK ||
        n.i > p->max_rows)
        p->q->limit = p->max_rows;
    else
        p->q->limit = n.i;
    return PH_OK;
}

static int parse_offset(qparse_t *p, const char *v, size_t len)
{
    data_value_t n;
    char e[64];
    if (p->seen_offset)
        return fail(p, "%s given twice", "offset");
    p->seen_offset = true;
    if (!all_digits(v, len) || data_value_parse(DATA_TYPE_INTEGER, v, len, &n, e, sizeof e) != PH_OK)
        return fail(p, "%s must be an integer from 0 to 9223372036854775807", "offset");
    p->q->offset = n.i;
    return PH_OK;
}

static int add_order(qparse_t *p, const char *item, size_t len)
{
    bool desc = false;
    const data_column_t *col = data_table_column(p->table, item, len);

    /* A column name may itself end in ".asc"; the exact name wins. */
    if (col == NULL && len > 4 && memcmp(item + len - 4, ".asc", 4) == 0) {
        col = data_table_column(p->table, item, len - 4);
    } else if (col == NULL && len > 5 && memcmp(item + len - 5, ".desc", 5) == 0) {
        col = data_table_column(p->table, item, len - 5);
        desc = true;
    }
    if (col == NULL)
        return fail(p, "order: unknown column or direction (use column.asc or column.desc)%s", "");
    data_order_t *o = realloc(p->q->order, (p->q->norder + 1) * sizeof *o);
    if (o == NULL)
        return fail(p, "out of memory%s", "");
    p->q->order = o;
    o[p->q->norder].col = col;
    o[p->q->norder].desc = desc;
    p->q->norder++;
    return PH_OK;
}

static int parse_order(qparse_t *p, const char *v, size_t len)
{
    if (p->seen_order)
        return fail(p, "%s given twice", "order");
    p->seen_order = true;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || v[i] == ',') {
            if (i == start)
                return fail(p, "order: empty sort key%s", "");
            if (add_order(p, v + start, i - start) != PH_OK)
                return PH_ERROR;
            start = i + 1;
        }
    }
    return PH_OK;
}

static int parse_filter(qparse_t *p, const data_column_t *col, const char *v, size_t len)
{
    const char *dot = memchr(v, '.', len);
    size_t oplen = dot ? (size_t)(dot - v) : len;
    data_op_t op = DATA_OP_EQ;
    bool found = false;
    char e[96];

    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (is(v, oplen, ops[i].name)) {
            op = ops[i].op;
            found = true;
        }
    }
    if (!found || dot == NULL)
        return fail(p, "filter on \"%s\": expected op.value with op one of eq, neq, lt, lte, gt, gte, like",
                    col->name);
    if (op == DATA_OP_LIKE && col->type != DATA_TYPE_TEXT && col->type != DATA_TYPE_ANY)
        return fail(p, "filter on \"%s\": like needs a text column", col->name);

    data_filter_t *f = realloc(p->q->filters, (p->q->nfilters + 1) * sizeof *f);
    if (f == NULL)
        return fail(p, "out of memory%s", "");
    p->q->filters = f;
    f = &f[p->q->nfilters];
    f->col = col;
    f->op = op;
    /* like patterns are text whatever the column holds. */
    data_type_t vt = op == DATA_OP_LIKE ? DATA_TYPE_TEXT : col->type;
    if (data_value_parse(vt, dot + 1, len - oplen - 1, &f->value, e, sizeof e) != PH_OK) {
        snprintf(p->err, p->errlen, "filter on \"%s\": %s", col->name, e);
        return PH_ERROR;
    }
    p->q->nfilters++;
    return PH_OK;
}

static int parse_param(qparse_t *p, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (is(name, nlen, "limit"))
        return parse_limit(p, v, vlen);
    if (is(name, nlen, "offset"))
        return parse_offset(p, v, vlen);
    if (is(name, nlen, "order"))
        return parse_order(p, v, vlen);
    const data_column_t *col = data_table_column(p->table, name, nlen);
    if (col == NULL) {
        /* Echo the name only when it is printable UTF-8 of modest size. */
        char shown[80];
        bool printable = nlen < 64 && data_utf8_valid(name, nlen);
        for (size_t i = 0; printable && i < nlen; i++)
            if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
                printable = false;
        if (printable) {
            memcpy(shown, name, nlen);
            shown[nlen] = '\0';
            return fail(p, "unknown column \"%s\"", shown);
        }
        return fail(p, "unknown column%s", "");
    }
    return parse_filter(p, col, v, vlen);
}

int data_query_parse(const data_table_t *table, const char *qs, size_t len, int64_t max_rows,
                     data_query_t *q, char *err, size_t errlen)
{
    qparse_t p = {.table = table, .max_rows = max_rows, .q = q, .err = err, .errlen = errlen};
    char *buf = malloc(len + 1);
    int rc = PH_OK;

    memset(q, 0, sizeof *q);
    q->limit = max_rows;
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    size_t start = 0;
    for (size_t i = 0; i <= len && rc == PH_OK; i++) {
        if (i < len && qs[i] != '&')
            continue;
        size_t ilen = i - start;
        size_t from = start;
        start = i + 1;
        if (ilen == 0)
            continue; /* before forming a pointer: qs may be NULL when len is 0 */
        const char *item = qs + from;
        const char *eq = memchr(item, '=', ilen);
        size_t rawn = eq ? (size_t)(eq - item) : ilen;
        long nlen = data_pct_decode(item, rawn, buf, true);
        long vlen = nlen < 0 || !eq ? -1 : data_pct_decode(eq + 1, ilen - rawn - 1, buf + nlen, true);
        if (nlen < 0 || (eq && vlen < 0)) {
            rc = fail(&p, "malformed percent-encoding in the query string%s", "");
        } else if (!eq) {
            rc = fail(&p, "query parameter without '=' value%s", "");
        } else if (memchr(buf, '\0', (size_t)(nlen + vlen)) != NULL) {
            rc = fail(&p, "NUL byte in the query string%s", "");
        } else if (!data_utf8_valid(buf, (size_t)nlen)) {
            rc = fail(&p, "query parameter name is not valid UTF-8%s", "");
        } else {
            rc = parse_param(&p, buf, (size_t)nlen, buf + nlen, (size_t)vlen);
        }
    }
    free(buf);
    if (rc != PH_OK)
        data_query_free(q);
    return rc;
}

void data_query_free(data_query_t *q)
{
    for (size_t i = 0; i < q->nfilters; i++)
        data_value_clear(&q->filters[i].value);
    free(q->filters);
    free(q->order);
    memset(q, 0, sizeof *q);
}
