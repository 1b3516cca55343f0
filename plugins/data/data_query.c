/* Query strings: see data_query.h. */
#include "data_query.h"
#include "data_jpath.h"

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

/* Parser state: where the result goes and what was seen. */
typedef struct qparse {
    const data_table_t *table;
    data_dialect_t dialect;
    int64_t max_rows;
    data_query_t *q;
    size_t budget; /* conditions left (data_filter.h) */
    size_t embeds; /* embeds left in the request */
    int depth;     /* of the embed parsed, 0 for the request's table */
    data_qerr_t *e;
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

static int syntax(qparse_t *p, const char *fmt, const char *what)
{
    return data_qerr_set(p->e, "PGRST100", fmt, what);
}

static int unknown_column(qparse_t *p, const char *name, size_t len)
{
    char shown[80];
    return data_qerr_set(p->e, "42703", "column %s.%s does not exist", p->table->name,
                         data_qerr_name(shown, sizeof shown, name, len));
}

static int parse_limit(qparse_t *p, const char *v, size_t len)
{
    data_value_t n;
    char e[64];
    if (p->q->seen_limit)
        return syntax(p, "%s given twice", "limit");
    p->q->seen_limit = true;
    p->q->paged = true;
    if (!all_digits(v, len))
        return syntax(p, "%s must be a non-negative integer", "limit");
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
    if (p->q->seen_offset)
        return syntax(p, "%s given twice", "offset");
    p->q->seen_offset = true;
    p->q->paged = true;
    if (!all_digits(v, len) || data_value_parse(DATA_TYPE_INTEGER, v, len, &n, e, sizeof e) != PH_OK)
        return syntax(p, "%s must be an integer from 0 to 9223372036854775807", "offset");
    p->q->offset = n.i;
    return PH_OK;
}

/* Applies one ".word" of a sort key. */
static int order_word(qparse_t *p, data_order_t *o, const char *w, size_t len)
{
    if (is(w, len, "asc"))
        o->desc = false;
    else if (is(w, len, "desc"))
        o->desc = true;
    else if (is(w, len, "nullsfirst") || is(w, len, "nullslast")) {
        o->nulls_given = true;
        o->nulls_first = len == 10;
    } else
        return syntax(p, "order: expected column[.asc|.desc][.nullsfirst|.nullslast]%s", "");
    return PH_OK;
}

static int add_order(qparse_t *p, const char *item, size_t len)
{
    data_order_t o = {0};
    /* A column name may itself hold a '.'; the exact name wins. */
    size_t clen = len;
    size_t name_len = data_jpath_col_len(item, len);
    if (name_len < len) {
        /* col->a->>b[.asc...]: the path ends at the first '.' after it */
        const char *dot = memchr(item + name_len, '.', len - name_len);
        clen = dot ? (size_t)(dot - item) : len;
        o.col = data_table_column(p->table, item, name_len);
        if (o.col == NULL)
            return unknown_column(p, item, name_len);
        if (data_jpath_parse(o.col, p->dialect, item + name_len, clen - name_len, &o.path, p->e) != PH_OK)
            return PH_ERROR;
    } else {
        o.col = data_table_column(p->table, item, len);
    }
    if (o.col == NULL) {
        const char *dot = memchr(item, '.', len);
        clen = dot ? (size_t)(dot - item) : len;
        o.col = data_table_column(p->table, item, clen);
        if (o.col == NULL)
            return unknown_column(p, item, clen);
    }
    for (size_t i = clen; i < len;) {
        size_t start = i + 1, end = start;
        while (end < len && item[end] != '.')
            end++;
        if (order_word(p, &o, item + start, end - start) != PH_OK) {
            data_jpath_free(o.path);
            return PH_ERROR;
        }
        i = end;
    }
    data_order_t *a = realloc(p->q->order, (p->q->norder + 1) * sizeof *a);
    if (a == NULL) {
        data_jpath_free(o.path);
        return syntax(p, "out of memory%s", "");
    }
    p->q->order = a;
    a[p->q->norder++] = o;
    return PH_OK;
}

/* Calls fn for each ','-separated item of v; an empty item is an error. */
static int each_item(qparse_t *p, const char *what, const char *v, size_t len,
                     int (*fn)(qparse_t *, const char *, size_t))
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && v[i] != ',')
            continue;
        if (i == start)
            return syntax(p, "%s: empty item", what);
        if (fn(p, v + start, i - start) != PH_OK)
            return PH_ERROR;
        start = i + 1;
    }
    return PH_OK;
}

static int parse_order(qparse_t *p, const char *v, size_t len)
{
    if (p->q->seen_order)
        return syntax(p, "%s given twice", "order");
    p->q->seen_order = true;
    return each_item(p, "order", v, len, add_order);
}

/* An alias: 1..63 bytes of letters, digits, '_' or non-ASCII UTF-8. It
 * reaches SQL as a quoted identifier; the limit is PostgreSQL's. */
static bool alias_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !data_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 0x80 || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static int push_select(qparse_t *p, data_select_t s)
{
    data_select_t *a = realloc(p->q->select, (p->q->nselect + 1) * sizeof *a);
    if (a == NULL) {
        free(s.alias);
        return syntax(p, "out of memory%s", "");
    }
    p->q->select = a;
    a[p->q->nselect++] = s;
    return PH_OK;
}

static int parse_select_list(qparse_t *p, const char *v, size_t len);

/* The relationship from p's table to the table named name (len bytes),
 * picked by hint (NULL: none) when several lead there. */
static int find_rel(qparse_t *p, const char *name, size_t len, const char *hint, size_t hlen,
                    const data_rel_t **out)
{
    char shown[80];
    size_t n = 0;
    for (size_t i = 0; i < p->table->nrels; i++) {
        const data_rel_t *r = &p->table->rels[i];
        const data_column_t *fkcol = r->to_one ? r->col : r->other_col;
        if (!is(name, len, r->other->name))
            continue;
        if (hint && !is(hint, hlen, r->fk) && !is(hint, hlen, fkcol->name))
            continue;
        *out = r;
        n++;
    }
    if (n == 1)
        return PH_OK;
    data_qerr_name(shown, sizeof shown, name, len);
    if (n == 0)
        return data_qerr_set(p->e, "PGRST200", "Could not find a relationship between '%s' and %s "
                             "in the schema cache", p->table->name, shown);
    return data_qerr_set(p->e, "PGRST201", "Could not embed because more than one relationship "
                         "was found for '%s' and %s: add a hint such as %s!<foreign key column>",
                         p->table->name, shown, shown);
}

/* Reads "!hint" words after an embed's name: inner, left or one hint. */
static int embed_hints(qparse_t *p, const char *h, size_t len, bool *inner, const char **hint,
                       size_t *hlen)
{
    for (size_t i = 0; i < len;) {
        size_t start = i + 1, end = start;
        while (end < len && h[end] != '!')
            end++;
        const char *w = h + start;
        size_t wlen = end - start;
        if (is(w, wlen, "inner"))
            *inner = true;
        else if (is(w, wlen, "left"))
            *inner = false;
        else if (*hint != NULL || wlen == 0)
            return syntax(p, "select: an embed takes one hint besides !inner or !left%s", "");
        else {
            *hint = w;
            *hlen = wlen;
        }
        i = end;
    }
    return PH_OK;
}

/* "[alias:]table[!hint...](items)": body is the part before '(', inner
 * the items between the parentheses. */
static int add_embed(qparse_t *p, const char *body, size_t blen, const char *inner, size_t ilen)
{
    const char *colon = memchr(body, ':', blen);
    const char *name = colon ? colon + 1 : body;
    size_t nlen = blen - (size_t)(name - body);
    const char *bang = memchr(name, '!', nlen);
    const char *hint = NULL;
    size_t hlen = 0;
    const data_rel_t *rel = NULL;
    bool inner_join = false;
    data_embed_t *em;

    if (p->depth >= DATA_EMBED_MAX_DEPTH)
        return data_qerr_set(p->e, "PGRST100", "select: embedded resources nest at most %d levels deep",
                             DATA_EMBED_MAX_DEPTH);
    if (p->embeds == 0)
        return data_qerr_set(p->e, "PGRST100", "select: at most %d embedded resources per request",
                             DATA_EMBED_MAX);
    p->embeds--;
    if (colon && !alias_ok(body, (size_t)(colon - body)))
        return syntax(p, "select: an alias is 1 to 63 letters, digits or '_'%s", "");
    if (ilen == 0)
        return syntax(p, "select: an embedded resource needs columns, as in %s(*)", "name");
    if (bang && embed_hints(p, bang, nlen - (size_t)(bang - name), &inner_join, &hint, &hlen) != PH_OK)
        return PH_ERROR;
    size_t tlen = bang ? (size_t)(bang - name) : nlen;
    if (find_rel(p, name, tlen, hint, hlen, &rel) != PH_OK || rel == NULL)
        return PH_ERROR;
    em = calloc(1, sizeof *em);
    if (em != NULL)
        em->name = colon ? strndup(body, (size_t)(colon - body)) : strdup(rel->other->name);
    if (em == NULL || em->name == NULL) {
        free(em);
        return syntax(p, "out of memory%s", "");
    }
    em->rel = rel;
    em->inner = inner_join;
    /* From here the select list owns em: data_query_free frees it. */
    if (push_select(p, (data_select_t){.embed = em}) != PH_OK) {
        free(em->name);
        free(em);
        return PH_ERROR;
    }
    em->sub.limit = p->max_rows;
    qparse_t c = *p;
    c.table = rel->other;
    c.q = &em->sub;
    c.depth = p->depth + 1;
    em->sub.seen_select = true;
    int rc = parse_select_list(&c, inner, ilen);
    p->budget = c.budget;
    p->embeds = c.embeds;
    return rc;
}

static int add_select(qparse_t *p, const char *item, size_t len)
{
    data_select_t s = {0};
    if (is(item, len, "*")) {
        for (size_t i = 0; i < p->table->ncols; i++)
            if (push_select(p, (data_select_t){.col = &p->table->cols[i]}) != PH_OK)
                return PH_ERROR;
        return PH_OK;
    }
    const char *paren = memchr(item, '(', len);
    if (paren != NULL) {
        if (item[len - 1] != ')')
            return syntax(p, "select: text after an embedded resource's ')'%s", "");
        return add_embed(p, item, (size_t)(paren - item), paren + 1, len - (size_t)(paren - item) - 2);
    }
    const char *cast = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (item[i] == ':' && item[i + 1] == ':') {
            cast = item + i + 2;
            break;
        }
    size_t body = cast ? (size_t)(cast - 2 - item) : len;
    const char *colon = memchr(item, ':', body);
    const char *col = colon ? colon + 1 : item;
    size_t clen = body - (size_t)(col - item);
    if (colon && !alias_ok(item, (size_t)(colon - item)))
        return syntax(p, "select: an alias is 1 to 63 letters, digits or '_'%s", "");
    size_t plen = clen - data_jpath_col_len(col, clen);
    s.col = data_table_column(p->table, col, clen - plen);
    if (s.col == NULL)
        return unknown_column(p, col, clen - plen);
    if (plen > 0 && data_jpath_parse(s.col, p->dialect, col + clen - plen, plen, &s.path, p->e) != PH_OK)
        return PH_ERROR;
    if (cast) {
        size_t tlen = len - (size_t)(cast - item);
        s.cast = data_cast_find(p->dialect, cast, tlen);
        if (s.cast == NULL && s.path != NULL)
            data_jpath_free(s.path);
        if (s.cast == NULL)
            return data_qerr_set(p->e, "PGRST100", "select: cast to a type that is not allowed here "
                                 "(allowed: %s)", data_cast_names(p->dialect));
    }
    if (colon) {
        s.alias = strndup(item, (size_t)(colon - item));
        if (s.alias == NULL) {
            data_jpath_free(s.path);
            return syntax(p, "out of memory%s", "");
        }
    }
    return push_select(p, s);
}

/* Calls add_select for each ','-separated item of v outside parentheses. */
static int parse_select_list(qparse_t *p, const char *v, size_t len)
{
    size_t start = 0;
    int depth = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && v[i] == '(')
            depth++;
        else if (i < len && v[i] == ')' && --depth < 0)
            return syntax(p, "select: unbalanced parentheses%s", "");
        if (i < len && (v[i] != ',' || depth > 0))
            continue;
        if (depth != 0)
            return syntax(p, "select: unbalanced parentheses%s", "");
        if (i == start)
            return syntax(p, "%s: empty item", "select");
        if (add_select(p, v + start, i - start) != PH_OK)
            return PH_ERROR;
        start = i + 1;
    }
    return PH_OK;
}

static int parse_select(qparse_t *p, const char *v, size_t len)
{
    if (p->q->seen_select)
        return syntax(p, "%s given twice", "select");
    p->q->seen_select = true;
    return parse_select_list(p, v, len);
}

static int add_tree(qparse_t *p, bool any, bool negate, const char *v, size_t len)
{
    data_group_t *g = realloc(p->q->groups, (p->q->ngroups + 1) * sizeof *g);
    if (g == NULL)
        return syntax(p, "out of memory%s", "");
    p->q->groups = g;
    if (data_group_parse(p->table, v, len, any, negate, &p->budget, &g[p->q->ngroups], p->e) != PH_OK)
        return PH_ERROR;
    p->q->ngroups++;
    if (data_group_check(&g[p->q->ngroups - 1], p->dialect, p->e) != PH_OK)
        return PH_ERROR;
    return PH_OK;
}

/* path: owned from here on, NULL for the column itself. */
static int add_filter(qparse_t *p, const data_column_t *col, data_jpath_t *path, const char *v, size_t len)
{
    data_filter_t *f = realloc(p->q->filters, (p->q->nfilters + 1) * sizeof *f);
    if (f == NULL) {
        data_jpath_free(path);
        return syntax(p, "out of memory%s", "");
    }
    p->q->filters = f;
    if (data_filter_parse_path(col, path, v, len, &p->budget, &f[p->q->nfilters], p->e) != PH_OK)
        return PH_ERROR;
    p->q->nfilters++;
    if (data_filter_check(&f[p->q->nfilters - 1], p->dialect, p->e) != PH_OK)
        return PH_ERROR;
    return PH_OK;
}

static int parse_param(qparse_t *p, const char *name, size_t nlen, const char *v, size_t vlen);

/* The embed of p's select list named name (len bytes), or NULL. */
static data_embed_t *find_embed(qparse_t *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->q->nselect; i++) {
        data_embed_t *em = p->q->select[i].embed;
        if (em && is(name, len, em->name))
            return em;
    }
    return NULL;
}

/* "path.param=v": the first segment names an embed of p's select list, the
 * rest is parsed against it. */
static int embedded_param(qparse_t *p, const char *name, size_t nlen, const char *v, size_t vlen)
{
    const char *dot = memchr(name, '.', nlen);
    size_t seg = dot ? (size_t)(dot - name) : nlen;
    data_embed_t *em = dot ? find_embed(p, name, seg) : NULL;
    if (em == NULL)
        return unknown_column(p, name, seg);
    qparse_t c = *p;
    c.table = em->rel->other;
    c.q = &em->sub;
    c.depth = p->depth + 1;
    int rc = parse_param(&c, dot + 1, nlen - seg - 1, v, vlen);
    p->budget = c.budget;
    return rc;
}

static int parse_param(qparse_t *p, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (is(name, nlen, "select"))
        return parse_select(p, v, vlen);
    if (is(name, nlen, "limit"))
        return parse_limit(p, v, vlen);
    if (is(name, nlen, "offset"))
        return parse_offset(p, v, vlen);
    if (is(name, nlen, "order"))
        return parse_order(p, v, vlen);
    if (is(name, nlen, "or") || is(name, nlen, "and"))
        return add_tree(p, nlen == 2, false, v, vlen);
    if (is(name, nlen, "not.or") || is(name, nlen, "not.and"))
        return add_tree(p, nlen == 6, true, v, vlen);
    if (is(name, nlen, "columns"))
        return PH_OK; /* the body's keys say the same */
    if (is(name, nlen, "on_conflict")) {
        p->q->on_conflict = data_table_column(p->table, v, vlen);
        return p->q->on_conflict ? PH_OK : unknown_column(p, v, vlen);
    }
    const data_column_t *col = data_table_column(p->table, name, nlen);
    size_t name_len = data_jpath_col_len(name, nlen);
    if (col == NULL && name_len < nlen) {
        data_jpath_t *path;
        col = data_table_column(p->table, name, name_len);
        if (col == NULL)
            return unknown_column(p, name, name_len);
        if (data_jpath_parse(col, p->dialect, name + name_len, nlen - name_len, &path, p->e) != PH_OK)
            return PH_ERROR;
        return add_filter(p, col, path, v, vlen);
    }
    if (col == NULL && memchr(name, '.', nlen) != NULL)
        return embedded_param(p, name, nlen, v, vlen);
    if (col == NULL)
        return unknown_column(p, name, nlen);
    return add_filter(p, col, NULL, v, vlen);
}

/* Parses the parameters of qs named select (selects) or all others. */
static int parse_items(qparse_t *p, const char *qs, size_t len, char *buf, bool selects)
{
    int rc = PH_OK;
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
            rc = syntax(p, "malformed percent-encoding in the query string%s", "");
        } else if (!eq) {
            rc = syntax(p, "query parameter without '=' value%s", "");
        } else if (memchr(buf, '\0', (size_t)(nlen + vlen)) != NULL) {
            rc = syntax(p, "NUL byte in the query string%s", "");
        } else if (!data_utf8_valid(buf, (size_t)nlen)) {
            rc = syntax(p, "query parameter name is not valid UTF-8%s", "");
        } else if (is(buf, (size_t)nlen, "select") == selects) {
            rc = parse_param(p, buf, (size_t)nlen, buf + nlen, (size_t)vlen);
        }
    }
    return rc;
}

int data_query_parse(const data_table_t *table, data_dialect_t d, const char *qs, size_t len,
                     int64_t max_rows, data_query_t *q, data_qerr_t *e)
{
    qparse_t p = {.table = table, .dialect = d, .max_rows = max_rows, .q = q, .e = e,
                  .budget = DATA_FILTER_MAX_NODES, .embeds = DATA_EMBED_MAX};
    char *buf = malloc(len + 1);
    int rc = PH_OK;

    memset(q, 0, sizeof *q);
    q->limit = max_rows;
    if (buf == NULL)
        return syntax(&p, "out of memory%s", "");
    /* select first: parameters of embeds ("books.limit") need its embeds. */
    for (int pass = 0; pass < 2 && rc == PH_OK; pass++)
        rc = parse_items(&p, qs, len, buf, pass == 0);
    free(buf);
    if (rc != PH_OK)
        data_query_free(q);
    return rc;
}

bool data_query_embeds(const data_query_t *q)
{
    for (size_t i = 0; i < q->nselect; i++)
        if (q->select[i].embed)
            return true;
    return false;
}

bool data_query_filters(const data_query_t *q)
{
    for (size_t i = 0; i < q->nselect; i++)
        if (q->select[i].embed && q->select[i].embed->inner)
            return true;
    return q->nfilters > 0 || q->ngroups > 0;
}

const char *data_select_name(const data_select_t *c)
{
    return c->alias ? c->alias : c->path ? data_jpath_name(c->path) : c->col->name;
}

data_type_t data_select_type(const data_select_t *c)
{
    return c->cast ? c->cast->type : c->path ? data_jpath_type(c->path) : c->col->type;
}

int data_query_shape(const data_query_t *q, const data_table_t *t, data_schema_t *out)
{
    memset(out, 0, sizeof *out);
    data_table_t *s = data_schema_add_table(out, t->name);
    if (s == NULL)
        return PH_ERROR;
    for (size_t i = 0; i < q->nselect; i++) {
        const data_select_t *c = &q->select[i];
        if (c->embed) {
            if (data_table_add_column(s, c->embed->name, "json", DATA_TYPE_JSON, false, false,
                                      false) != PH_OK) {
                data_schema_free(out);
                return PH_ERROR;
            }
            continue;
        }
        if (data_table_add_column(s, data_select_name(c), c->col->decl, data_select_type(c), c->col->notnull,
                                  c->col->has_default, false) != PH_OK) {
            data_schema_free(out);
            return PH_ERROR;
        }
    }
    return PH_OK;
}

void data_query_free(data_query_t *q)
{
    for (size_t i = 0; i < q->nfilters; i++)
        data_filter_free(&q->filters[i]);
    for (size_t i = 0; i < q->ngroups; i++)
        data_group_free(&q->groups[i]);
    for (size_t i = 0; i < q->nselect; i++) {
        data_embed_t *em = q->select[i].embed;
        free(q->select[i].alias);
        data_jpath_free(q->select[i].path);
        if (em) {
            data_query_free(&em->sub);
            free(em->name);
            free(em);
        }
    }
    for (size_t i = 0; i < q->norder; i++)
        data_jpath_free(q->order[i].path);
    free(q->filters);
    free(q->groups);
    free(q->select);
    free(q->order);
    memset(q, 0, sizeof *q);
}
