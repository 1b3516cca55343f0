/* Row filters and logic trees: see data_filter.h. */
#include "data_filter.h"
#include "data_jpath.h"
#include "data_num.h"

#include <plughttpd/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int data_qerr_set(data_qerr_t *e, const char *code, const char *fmt, ...)
{
    va_list ap;
    snprintf(e->code, sizeof e->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return PH_ERROR;
}

const char *data_qerr_name(char *buf, size_t size, const char *name, size_t len)
{
    bool ok = len > 0 && len < 64 && len + 3 <= size && data_utf8_valid(name, len);
    for (size_t i = 0; ok && i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f || name[i] == '"')
            ok = false;
    if (ok)
        snprintf(buf, size, "\"%.*s\"", (int)len, name);
    else
        snprintf(buf, size, "(unprintable)");
    return buf;
}

static const struct {
    const char *name;
    data_op_t op;
} ops[] = {
    {"eq", DATA_OP_EQ},     {"neq", DATA_OP_NEQ},     {"lt", DATA_OP_LT}, {"lte", DATA_OP_LTE},
    {"gt", DATA_OP_GT},     {"gte", DATA_OP_GTE},     {"like", DATA_OP_LIKE},
    {"ilike", DATA_OP_ILIKE}, {"in", DATA_OP_IN},     {"is", DATA_OP_IS},
    {"isdistinct", DATA_OP_ISDISTINCT}, {"match", DATA_OP_MATCH}, {"imatch", DATA_OP_IMATCH},
    {"fts", DATA_OP_FTS},   {"plfts", DATA_OP_PLFTS}, {"phfts", DATA_OP_PHFTS},
    {"wfts", DATA_OP_WFTS}, {"cs", DATA_OP_CS},       {"cd", DATA_OP_CD}, {"ov", DATA_OP_OV},
    {"sl", DATA_OP_SL},     {"sr", DATA_OP_SR},       {"nxr", DATA_OP_NXR}, {"nxl", DATA_OP_NXL},
    {"adj", DATA_OP_ADJ},
};

static bool is_fts(data_op_t op)
{
    return op == DATA_OP_FTS || op == DATA_OP_PLFTS || op == DATA_OP_PHFTS || op == DATA_OP_WFTS;
}

/* Operators whose operand is text whatever the column's type. */
static bool text_operand(data_op_t op)
{
    return op == DATA_OP_MATCH || op == DATA_OP_IMATCH || is_fts(op) || op == DATA_OP_CS ||
           op == DATA_OP_CD || op == DATA_OP_OV || data_op_range(op);
}

bool data_op_range(data_op_t op)
{
    return op >= DATA_OP_SL && op <= DATA_OP_ADJ;
}

/* Operators that take (any)/(all). */
static bool quantifiable(data_op_t op)
{
    return op <= DATA_OP_ILIKE || op == DATA_OP_MATCH || op == DATA_OP_IMATCH;
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
    case DATA_OP_ILIKE: return "ILIKE";
    case DATA_OP_MATCH: return "~";
    case DATA_OP_IMATCH: return "~*";
    case DATA_OP_CS: return "@>";
    case DATA_OP_CD: return "<@";
    case DATA_OP_OV: return "&&";
    case DATA_OP_SL: return "<<";
    case DATA_OP_SR: return ">>";
    case DATA_OP_NXR: return "&<"; /* does not extend to the right of */
    case DATA_OP_NXL: return "&>"; /* does not extend to the left of */
    case DATA_OP_ADJ: return "-|-";
    case DATA_OP_IN: case DATA_OP_IS: case DATA_OP_ISDISTINCT: case DATA_OP_FTS:
    case DATA_OP_PLFTS: case DATA_OP_PHFTS: case DATA_OP_WFTS:
        break;
    }
    return "=";
}

/* A cursor over the decoded text of one parameter value. */
typedef struct cur {
    const char *s;
    size_t len, pos;
    size_t *budget;
    data_qerr_t *e;
} cur_t;

static bool at(const cur_t *c, const char *word)
{
    size_t n = strlen(word);
    return c->len - c->pos >= n && memcmp(c->s + c->pos, word, n) == 0;
}

static int spend(cur_t *c)
{
    if (*c->budget == 0)
        return data_qerr_set(c->e, "PGRST100", "too many conditions: at most %d per request",
                             DATA_FILTER_MAX_NODES);
    (*c->budget)--;
    return PH_OK;
}

/* Reads one value up to (not including) the next ',' or close at this
 * level, or a double-quoted one, into a malloc'd buffer *out of *n bytes. */
static int read_value(cur_t *c, char **out, size_t *n, char close)
{
    char *buf = malloc(c->len - c->pos + 1);
    size_t o = 0;
    if (buf == NULL)
        return data_qerr_set(c->e, "PGRST100", "out of memory");
    if (c->pos < c->len && c->s[c->pos] == '"') {
        c->pos++;
        for (;;) {
            if (c->pos >= c->len) {
                free(buf);
                return data_qerr_set(c->e, "PGRST100", "unterminated quoted value");
            }
            char ch = c->s[c->pos++];
            if (ch == '"')
                break;
            if (ch == '\\' && c->pos < c->len)
                ch = c->s[c->pos++];
            buf[o++] = ch;
        }
    } else {
        while (c->pos < c->len && c->s[c->pos] != ',' && c->s[c->pos] != close)
            buf[o++] = c->s[c->pos++];
    }
    *out = buf;
    *n = o;
    return PH_OK;
}

static int typed_text(const data_filter_t *f, const char *s, size_t n, data_value_t *v, data_qerr_t *e)
{
    char msg[96];
    if (data_value_parse(DATA_TYPE_TEXT, s, n, v, msg, sizeof msg) != PH_OK)
        return data_qerr_set(e, "22P02", "filter on \"%s\": %s", f->col->name, msg);
    return PH_OK;
}

/* Types text (n bytes) for the filter's column and operator. */
static int typed(const data_filter_t *f, const char *s, size_t n, data_value_t *v, data_qerr_t *e)
{
    char msg[96], name[80];
    if (f->op == DATA_OP_IS) {
        memset(v, 0, sizeof *v);
        if (n == 4 && memcmp(s, "null", 4) == 0)
            return PH_OK;
        v->kind = DATA_VALUE_BOOL;
        if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
            v->i = n == 4;
            return PH_OK;
        }
        return data_qerr_set(e, "PGRST100", "is on %s: expected null, true or false",
                             data_qerr_name(name, sizeof name, f->col->name, strlen(f->col->name)));
    }
    if (text_operand(f->op)) {
        if (data_value_parse(DATA_TYPE_TEXT, s, n, v, msg, sizeof msg) != PH_OK)
            return data_qerr_set(e, "22P02", "filter on \"%s\": %s", f->col->name, msg);
        return PH_OK;
    }
    if (f->op == DATA_OP_LIKE || f->op == DATA_OP_ILIKE) {
        if (data_value_parse(DATA_TYPE_TEXT, s, n, v, msg, sizeof msg) != PH_OK)
            return data_qerr_set(e, "22P02", "filter on \"%s\": %s", f->col->name, msg);
        for (size_t i = 0; i < v->len; i++)
            if (v->ptr[i] == '*')
                v->ptr[i] = '%';
        return PH_OK;
    }
    if (f->path != NULL) /* "->>": the value's text */
        return typed_text(f, s, n, v, e);
    if (data_num_parse(f->col, s, n, v, msg, sizeof msg) != PH_OK)
        return data_qerr_set(e, "22P02", "filter on \"%s\": %s", f->col->name, msg);
    return PH_OK;
}

/* in's "(a,b,...)" (close ')') or a modifier's "{a,b,...}" (close '}'):
 * items quoted or not, typed by the column. */
static int read_list(cur_t *c, data_filter_t *f, char close)
{
    if (c->pos >= c->len || c->s[c->pos] != (close == ')' ? '(' : '{'))
        return data_qerr_set(c->e, "PGRST100", "%s", close == ')' ? "in needs a list: in.(a,b)"
                             : "a modifier needs a list: eq(any).{a,b}");
    c->pos++;
    if (c->pos < c->len && c->s[c->pos] == close) {
        c->pos++;
        return PH_OK;
    }
    for (;;) {
        char *text = NULL;
        size_t n = 0;
        if (spend(c) != PH_OK || read_value(c, &text, &n, close) != PH_OK)
            return PH_ERROR;
        data_value_t *l = realloc(f->list, (f->nlist + 1) * sizeof *l);
        int rc = l ? typed(f, text, n, &l[f->nlist], c->e)
                   : data_qerr_set(c->e, "PGRST100", "out of memory");
        free(text);
        if (l != NULL)
            f->list = l;
        if (rc != PH_OK)
            return PH_ERROR;
        f->nlist++;
        if (c->pos < c->len && c->s[c->pos] == ',') {
            c->pos++;
            continue;
        }
        if (c->pos < c->len && c->s[c->pos] == close) {
            c->pos++;
            return PH_OK;
        }
        return data_qerr_set(c->e, "PGRST100", "unterminated list: expected ',' or '%c'", close);
    }
}

/* The "(...)" after an operator (arg, len bytes up to the '.', with its
 * ')'): (any) or (all) for the operators that take a list, a language
 * (letters and '_') for the fts family. */
static int op_arg(cur_t *c, data_filter_t *f, const char *arg, size_t len)
{
    char msg[96];
    if (len < 2 || arg[len - 1] != ')')
        return data_qerr_set(c->e, "PGRST100", "operator on \"%s\": unbalanced '('", f->col->name);
    len--;
    if (quantifiable(f->op) && len == 3 && (memcmp(arg, "any", 3) == 0 || memcmp(arg, "all", 3) == 0)) {
        f->quant = arg[1] == 'n' ? DATA_QUANT_ANY : DATA_QUANT_ALL;
        return PH_OK;
    }
    if (!is_fts(f->op))
        return data_qerr_set(c->e, "PGRST100", "operator on \"%s\": only eq, neq, lt, lte, gt, gte, "
                             "like, ilike, match and imatch take (any) or (all), only the fts family "
                             "a language", f->col->name);
    for (size_t i = 0; i < len; i++)
        if (!((arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= 'A' && arg[i] <= 'Z') || arg[i] == '_') ||
            len > 63)
            return data_qerr_set(c->e, "PGRST100", "fts on \"%s\": a language is 1 to 63 letters",
                                 f->col->name);
    return data_value_parse(DATA_TYPE_TEXT, arg, len, &f->lang, msg, sizeof msg) == PH_OK
               ? PH_OK : data_qerr_set(c->e, "PGRST100", "out of memory");
}

/* "[not.]op.value" at the cursor; in_tree: the value ends at ',' or ')'
 * and may be quoted, else it is the rest of the text as it stands. */
/* path (owned from here on, may be NULL): a JSON path into col. */
static int parse_cond(cur_t *c, const data_column_t *col, struct data_jpath *path, bool in_tree,
                      data_filter_t *f)
{
    memset(f, 0, sizeof *f);
    f->col = col;
    f->path = path;
    if (spend(c) != PH_OK)
        return PH_ERROR;
    if (at(c, "not.")) {
        f->negate = true;
        c->pos += 4;
    }
    const char *op = c->s + c->pos;
    const char *dot = memchr(op, '.', c->len - c->pos);
    size_t toklen = dot ? (size_t)(dot - op) : 0;
    const char *paren = memchr(op, '(', toklen);
    size_t oplen = paren ? (size_t)(paren - op) : toklen;
    bool found = false;
    for (size_t i = 0; dot && i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == oplen && memcmp(op, ops[i].name, oplen) == 0) {
            f->op = ops[i].op;
            found = true;
        }
    if (!found)
        return data_qerr_set(c->e, "PGRST100", "filter on \"%s\": expected op.value with op one of "
                             "eq, neq, lt, lte, gt, gte, like, ilike, match, imatch, in, is, isdistinct, "
                             "fts, plfts, phfts, wfts, cs, cd, ov (each may follow not.)", col->name);
    if (paren && op_arg(c, f, paren + 1, toklen - oplen - 1) != PH_OK)
        return PH_ERROR;
    c->pos += toklen + 1;
    bool textual = f->op == DATA_OP_LIKE || f->op == DATA_OP_ILIKE || f->op == DATA_OP_MATCH ||
                   f->op == DATA_OP_IMATCH || is_fts(f->op);
    if (textual && col->type != DATA_TYPE_TEXT && col->type != DATA_TYPE_ANY && path == NULL)
        return data_qerr_set(c->e, "PGRST100", "filter on \"%s\": like, ilike, match, imatch and "
                             "full-text search need a text column", col->name);
    if (f->op == DATA_OP_IN)
        return read_list(c, f, ')');
    if (f->quant != DATA_QUANT_NONE)
        return read_list(c, f, '}');
    if (!in_tree) {
        int rc = typed(f, c->s + c->pos, c->len - c->pos, &f->value, c->e);
        c->pos = c->len;
        return rc;
    }
    char *text = NULL;
    size_t n = 0;
    if (read_value(c, &text, &n, ')') != PH_OK)
        return PH_ERROR;
    int rc = typed(f, text, n, &f->value, c->e);
    free(text);
    return rc;
}

int data_filter_parse(const data_column_t *col, const char *v, size_t len, size_t *budget,
                      data_filter_t *f, data_qerr_t *e)
{
    return data_filter_parse_path(col, NULL, v, len, budget, f, e);
}

int data_filter_parse_path(const data_column_t *col, struct data_jpath *path, const char *v, size_t len,
                           size_t *budget, data_filter_t *f, data_qerr_t *e)
{
    cur_t c = {.s = v, .len = len, .budget = budget, .e = e};
    if (parse_cond(&c, col, path, false, f) != PH_OK) {
        data_filter_free(f);
        return PH_ERROR;
    }
    if (c.pos != c.len) {
        data_filter_free(f);
        return data_qerr_set(e, "PGRST100", "filter on \"%s\": unexpected text after the in list",
                             col->name);
    }
    return PH_OK;
}

static int parse_items(cur_t *c, const data_table_t *t, int depth, data_group_t *g);

/* Bytes of s (len bytes) before the first byte of stop. */
static size_t strcspn_len(const char *s, size_t len, const char *stop)
{
    size_t i = 0;
    while (i < len && strchr(stop, s[i]) == NULL)
        i++;
    return i;
}

static int add_group(cur_t *c, const data_table_t *t, int depth, data_group_t *g, bool any, bool negate)
{
    data_group_t *kids = realloc(g->groups, (g->ngroups + 1) * sizeof *kids);
    if (kids == NULL)
        return data_qerr_set(c->e, "PGRST100", "out of memory");
    g->groups = kids;
    data_group_t *k = &kids[g->ngroups++];
    memset(k, 0, sizeof *k);
    k->any = any;
    k->negate = negate;
    return parse_items(c, t, depth + 1, k);
}

static int add_filter(cur_t *c, const data_table_t *t, data_group_t *g)
{
    char name[80];
    const char *col = c->s + c->pos;
    size_t clen = strcspn_len(col, c->len - c->pos, ".,()");
    const data_column_t *column = data_table_column(t, col, clen);
    if (column == NULL)
        return data_qerr_set(c->e, "42703", "column %s.%s does not exist", t->name,
                             data_qerr_name(name, sizeof name, col, clen));
    if (clen == c->len - c->pos || col[clen] != '.')
        return data_qerr_set(c->e, "PGRST100", "logic tree item without an operator: use col.op.value");
    c->pos += clen + 1;
    data_filter_t *fs = realloc(g->filters, (g->nfilters + 1) * sizeof *fs);
    if (fs == NULL)
        return data_qerr_set(c->e, "PGRST100", "out of memory");
    g->filters = fs;
    int rc = parse_cond(c, column, NULL, true, &fs[g->nfilters]);
    g->nfilters++; /* even on error: data_group_free frees what was parsed */
    return rc;
}

/* "(item,item,...)" at the cursor into g. */
static int parse_items(cur_t *c, const data_table_t *t, int depth, data_group_t *g)
{
    if (depth > DATA_FILTER_MAX_DEPTH)
        return data_qerr_set(c->e, "PGRST100", "logic tree nested deeper than %d levels",
                             DATA_FILTER_MAX_DEPTH);
    if (c->pos >= c->len || c->s[c->pos] != '(')
        return data_qerr_set(c->e, "PGRST100", "logic tree must be parenthesised: or=(a.eq.1,b.eq.2)");
    c->pos++;
    for (;;) {
        bool negate = at(c, "not.");
        if (negate)
            c->pos += 4;
        int rc;
        if (spend(c) != PH_OK)
            return PH_ERROR;
        if (at(c, "and(")) {
            c->pos += 3;
            rc = add_group(c, t, depth, g, false, negate);
        } else if (at(c, "or(")) {
            c->pos += 2;
            rc = add_group(c, t, depth, g, true, negate);
        } else if (negate) {
            return data_qerr_set(c->e, "PGRST100", "not. in a logic tree must precede and(...) or "
                                 "or(...), or follow the column: col.not.eq.1");
        } else {
            rc = add_filter(c, t, g);
        }
        if (rc != PH_OK)
            return PH_ERROR;
        if (c->pos < c->len && c->s[c->pos] == ',') {
            c->pos++;
            continue;
        }
        if (c->pos < c->len && c->s[c->pos] == ')') {
            c->pos++;
            return PH_OK;
        }
        return data_qerr_set(c->e, "PGRST100", "logic tree: expected ',' or ')' after an item");
    }
}

int data_group_parse(const data_table_t *t, const char *v, size_t len, bool any, bool negate,
                     size_t *budget, data_group_t *g, data_qerr_t *e)
{
    cur_t c = {.s = v, .len = len, .budget = budget, .e = e};
    memset(g, 0, sizeof *g);
    g->any = any;
    g->negate = negate;
    int rc = parse_items(&c, t, 1, g);
    if (rc == PH_OK && c.pos != c.len)
        rc = data_qerr_set(e, "PGRST100", "logic tree: unexpected text after the closing ')'");
    if (rc != PH_OK)
        data_group_free(g);
    return rc;
}

/* cs, cd and ov need an operand type PostgreSQL gives them meaning for. */
static bool containable(const data_column_t *col)
{
    size_t n = strlen(col->decl);
    return (n > 2 && strcmp(col->decl + n - 2, "[]") == 0) || strcmp(col->decl, "jsonb") == 0 ||
           strstr(col->decl, "range") != NULL;
}

/* A range or multirange type (int4range, tstzmultirange, a type of the
 * application's named so), not an array of them. */
static bool range_column(const data_column_t *col)
{
    size_t n = strlen(col->decl);
    return strstr(col->decl, "range") != NULL && !(n > 2 && strcmp(col->decl + n - 2, "[]") == 0);
}

int data_filter_check(const data_filter_t *f, data_dialect_t d, data_qerr_t *e)
{
    bool pg = d == DATA_DIALECT_PG;
    if (f->path != NULL && !f->path->text)
        return data_qerr_set(e, "PGRST100", "filter on \"%s\": compare a JSON path's value as text, with ->> "
                             "at its last step", f->col->name);
    if (f->path != NULL && f->op > DATA_OP_ISDISTINCT)
        return data_qerr_set(e, "PGRST100", "filter on \"%s\": a JSON path takes eq, neq, lt, lte, gt, gte, "
                             "like, ilike, in, is and isdistinct", f->col->name);
    if ((f->op == DATA_OP_MATCH || f->op == DATA_OP_IMATCH) && !pg)
        return data_qerr_set(e, "PGRST100", "filter on \"%s\": match and imatch need PostgreSQL "
                             "(this database has no regular expressions)", f->col->name);
    if (is_fts(f->op) && !pg && f->col->fts == NULL)
        return data_qerr_set(e, "PGRST100", "filter on \"%s\": full-text search (fts, plfts, phfts, "
                             "wfts) needs a full-text index on this column: %s", f->col->name,
                             d == DATA_DIALECT_SQLITE ? "an FTS5 table named after its table plus "
                             "\"_fts\" with a column of this name"
                             : "a FULLTEXT index on this column alone");
    if ((f->op == DATA_OP_CS || f->op == DATA_OP_CD || f->op == DATA_OP_OV) && (!pg || !containable(f->col)))
        return data_qerr_set(e, "PGRST100", "filter on \"%s\": cs, cd and ov need a PostgreSQL "
                             "array, jsonb or range column", f->col->name);
    if (data_op_range(f->op) && (!pg || !range_column(f->col)))
        return data_qerr_set(e, "PGRST100", "filter on \"%s\": sl, sr, nxr, nxl and adj need a PostgreSQL "
                             "range column", f->col->name);
    return PH_OK;
}

int data_group_check(const data_group_t *g, data_dialect_t d, data_qerr_t *e)
{
    for (size_t i = 0; i < g->nfilters; i++)
        if (data_filter_check(&g->filters[i], d, e) != PH_OK)
            return PH_ERROR;
    for (size_t i = 0; i < g->ngroups; i++)
        if (data_group_check(&g->groups[i], d, e) != PH_OK)
            return PH_ERROR;
    return PH_OK;
}

void data_filter_free(data_filter_t *f)
{
    data_value_clear(&f->lang);
    data_value_clear(&f->value);
    for (size_t i = 0; i < f->nlist; i++)
        data_value_clear(&f->list[i]);
    free(f->list);
    f->list = NULL;
    f->nlist = 0;
    data_jpath_free(f->path);
    f->path = NULL;
}

void data_group_free(data_group_t *g)
{
    for (size_t i = 0; i < g->nfilters; i++)
        data_filter_free(&g->filters[i]);
    for (size_t i = 0; i < g->ngroups; i++)
        data_group_free(&g->groups[i]);
    free(g->filters);
    free(g->groups);
    memset(g, 0, sizeof *g);
}
