/* The RPC model and the SQL of one call: see data_rpc.h. */
#include "data_rpc.h"
#include "data_jout.h"
#include "data_num.h"

#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

data_rpc_fn_t *data_rpc_add(data_rpc_t *rpc, const char *name, const char *call, data_rpc_ret_t ret,
                            bool writes)
{
    data_rpc_fn_t *f = realloc(rpc->fns, (rpc->n + 1) * sizeof *f);
    if (f == NULL)
        return NULL;
    rpc->fns = f;
    f = &f[rpc->n];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    f->call = strdup(call);
    f->ret = ret;
    f->writes = writes;
    data_table_t *shape = f->name && f->call ? data_schema_add_table(&rpc->shapes, name) : NULL;
    if (shape == NULL) {
        free(f->name);
        free(f->call);
        return NULL;
    }
    shape->pk = DATA_NO_PK;
    rpc->n++;
    return f;
}

int data_rpc_add_arg(data_rpc_fn_t *fn, const char *name, const char *cast, bool has_default)
{
    data_rpc_arg_t *a = realloc(fn->args, (fn->nargs + 1) * sizeof *a);
    if (a == NULL)
        return PH_ERROR;
    fn->args = a;
    a = &a[fn->nargs];
    a->name = strdup(name);
    a->cast = cast ? strdup(cast) : NULL;
    a->has_default = has_default;
    if (a->name == NULL || (cast && a->cast == NULL)) {
        free(a->name);
        free(a->cast);
        return PH_ERROR;
    }
    fn->nargs++;
    return PH_OK;
}

data_table_t *data_rpc_shape(data_rpc_t *rpc, size_t i)
{
    return &rpc->shapes.tables[i];
}

const data_rpc_fn_t *data_rpc_find(const data_rpc_t *rpc, const char *name, size_t len,
                                   const data_table_t **shape)
{
    for (size_t i = 0; rpc && i < rpc->n; i++) {
        if (strlen(rpc->fns[i].name) == len && memcmp(rpc->fns[i].name, name, len) == 0) {
            *shape = &rpc->shapes.tables[i];
            return &rpc->fns[i];
        }
    }
    return NULL;
}

void data_rpc_free(data_rpc_t *rpc)
{
    for (size_t i = 0; i < rpc->n; i++) {
        data_rpc_fn_t *f = &rpc->fns[i];
        for (size_t j = 0; j < f->nargs; j++) {
            free(f->args[j].name);
            free(f->args[j].cast);
        }
        free(f->args);
        free(f->row_table);
        free(f->name);
        free(f->call);
    }
    free(rpc->fns);
    data_schema_free(&rpc->shapes);
    memset(rpc, 0, sizeof *rpc);
}

int data_rpc_link(data_rpc_t *rpc, const data_schema_t *schema)
{
    for (size_t i = 0; i < rpc->n; i++) {
        const char *name = rpc->fns[i].row_table;
        const data_table_t *t = name ? data_schema_find(schema, name, strlen(name)) : NULL;
        data_table_t *shape = &rpc->shapes.tables[i];
        if (t == NULL || t->nrels == 0)
            continue;
        shape->rels = malloc(t->nrels * sizeof *shape->rels);
        if (shape->rels == NULL)
            return PH_ERROR;
        memcpy(shape->rels, t->rels, t->nrels * sizeof *shape->rels);
        shape->nrels = t->nrels;
    }
    return PH_OK;
}

long data_rpc_arg_index(const data_rpc_fn_t *fn, const char *name, size_t len)
{
    for (size_t i = 0; i < fn->nargs; i++)
        if (strlen(fn->args[i].name) == len && memcmp(fn->args[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

static bool ident_char(char c, bool first)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

/* Length of the quoted text, comment or identifier starting at p (one of
 * ' " ` [ -- / *), so that a ':' inside is not read as a parameter. */
static size_t skip_quoted(const char *p)
{
    const char *s = p;
    if (p[0] == '-' && p[1] == '-') {
        while (*s && *s != '\n')
            s++;
        return (size_t)(s - p);
    }
    if (p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");
        return e ? (size_t)(e + 2 - p) : strlen(p);
    }
    char close = p[0] == '[' ? ']' : p[0];
    for (s = p + 1; *s; s++) {
        if (*s == close) {
            if (close != ']' && s[1] == close) {
                s++; /* a doubled quote stays inside */
                continue;
            }
            return (size_t)(s + 1 - p);
        }
    }
    return (size_t)(s - p);
}

int data_rpc_sqlite_params(data_rpc_fn_t *fn, const char *sql, char **out, char *err, size_t errlen)
{
    size_t n = strlen(sql), o = 0;
    /* Each ":x" (2 bytes or more, so n / 2 of them at most) becomes "?N",
     * N at most 20 digits: room for the worst case. */
    char *buf = malloc(n + (n / 2 + 1) * 20 + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    for (size_t i = 0; i < n;) {
        char c = sql[i];
        if (c == '\'' || c == '"' || c == '`' || c == '[' || (c == '-' && sql[i + 1] == '-') ||
            (c == '/' && sql[i + 1] == '*')) {
            size_t k = skip_quoted(sql + i);
            memcpy(buf + o, sql + i, k);
            o += k;
            i += k;
            continue;
        }
        if (c == '?' || c == '@' || c == '$') {
            free(buf);
            snprintf(err, errlen, "rpc.%s: use :name parameters only", fn->name);
            return PH_ERROR;
        }
        if (c != ':' || !ident_char(sql[i + 1], true)) {
            buf[o++] = sql[i++];
            continue;
        }
        size_t b = ++i;
        while (i < n && ident_char(sql[i], false))
            i++;
        long idx = data_rpc_arg_index(fn, sql + b, i - b);
        if (idx < 0) {
            char *name = strndup(sql + b, i - b);
            int rc = name ? data_rpc_add_arg(fn, name, NULL, false) : PH_ERROR;
            free(name);
            if (rc != PH_OK) {
                free(buf);
                snprintf(err, errlen, "out of memory");
                return PH_ERROR;
            }
            idx = (long)fn->nargs - 1;
        }
        o += (size_t)snprintf(buf + o, 22, "?%ld", idx + 1);
    }
    buf[o] = '\0';
    *out = buf;
    return PH_OK;
}

int data_rpc_call_init(const data_rpc_fn_t *fn, data_rpc_call_t *c)
{
    size_t n = fn->nargs ? fn->nargs : 1;
    c->vals = calloc(n, sizeof *c->vals);
    c->given = calloc(n, sizeof *c->given);
    c->n = fn->nargs;
    if (c->vals == NULL || c->given == NULL) {
        data_rpc_call_free(c);
        return PH_ERROR;
    }
    return PH_OK;
}

void data_rpc_call_free(data_rpc_call_t *c)
{
    for (size_t i = 0; c->vals && i < c->n; i++)
        data_value_clear(&c->vals[i]);
    free(c->vals);
    free(c->given);
    memset(c, 0, sizeof *c);
}

int data_rpc_call_text(data_rpc_call_t *c, size_t i, const char *s, size_t len)
{
    if (i >= c->n || c->given[i] || data_value_set_text(&c->vals[i], s, len) != PH_OK)
        return PH_ERROR;
    c->given[i] = true;
    return PH_OK;
}

/* One JSON argument value as a parameter. A number the body kept as its
 * text (data_num_loadb) stays that exact text, as for a numeric column;
 * an object or array is its JSON text with such numbers written as they
 * came. */
static int json_arg(const json_t *j, data_value_t *v)
{
    const char *raw;
    size_t rawlen;
    if (data_num_is_raw(j, &raw, &rawlen))
        return data_num_set(v, raw, rawlen);
    switch (json_typeof(j)) {
    case JSON_NULL: v->kind = DATA_VALUE_NULL; return PH_OK;
    case JSON_TRUE: case JSON_FALSE: v->kind = DATA_VALUE_BOOL; v->i = json_is_true(j); return PH_OK;
    case JSON_INTEGER: v->kind = DATA_VALUE_INT; v->i = json_integer_value(j); return PH_OK;
    case JSON_REAL: v->kind = DATA_VALUE_REAL; v->d = json_real_value(j); return PH_OK;
    case JSON_STRING: return data_value_set_text(v, json_string_value(j), json_string_length(j));
    default: {
        char *s = data_jout_dumps(j);
        int rc = s ? data_value_set_text(v, s, strlen(s)) : PH_ERROR;
        free(s);
        return rc;
    }
    }
}

int data_rpc_call_json(const data_rpc_fn_t *fn, const json_t *obj, data_rpc_call_t *c, bool *unknown,
                       char *err, size_t errlen)
{
    const char *key;
    json_t *val;

    *unknown = false;
    if (data_rpc_call_init(fn, c) != PH_OK) {
        snprintf(err, errlen, "out of memory");
        return PH_ERROR;
    }
    json_object_foreach((json_t *)obj, key, val) {
        long i = data_rpc_arg_index(fn, key, strlen(key));
        if (i < 0) {
            *unknown = true;
            snprintf(err, errlen, "%.64s", key);
            data_rpc_call_free(c);
            return PH_ERROR;
        }
        if (json_arg(val, &c->vals[i]) != PH_OK) {
            snprintf(err, errlen, "out of memory");
            data_rpc_call_free(c);
            return PH_ERROR;
        }
        c->given[i] = true;
    }
    return PH_OK;
}

bool data_rpc_call_complete(const data_rpc_fn_t *fn, const data_rpc_call_t *c, const char **missing)
{
    for (size_t i = 0; i < fn->nargs; i++) {
        if (!c->given[i] && !fn->args[i].has_default) {
            *missing = fn->args[i].name;
            return false;
        }
    }
    return true;
}

/* A growing string; NULL text after a failed append. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->s == NULL && b->cap != 0)
        return; /* failed before */
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (p == NULL) {
            free(b->s);
            b->s = NULL;
            b->cap = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

/* name quoted as an identifier with quote q (inner ones doubled). */
static void sb_ident(sbuf_t *b, const char *name, char q)
{
    char one[2] = {q, '\0'};
    sb_put(b, one);
    for (const char *p = name; *p; p++) {
        char c[3] = {*p, '\0', '\0'};
        if (*p == q)
            c[1] = q;
        sb_put(b, c);
    }
    sb_put(b, one);
}

char *data_rpc_from(const data_rpc_fn_t *fn, const data_rpc_call_t *c, data_stmt_t *st)
{
    sbuf_t b = {0};
    char ph[24];
    size_t np = 0;

    switch (st->dialect) {
    case DATA_DIALECT_PG:
        sb_put(&b, fn->call);
        sb_put(&b, "(");
        for (size_t i = 0; i < fn->nargs; i++) {
            if (!c->given[i])
                continue; /* its default applies */
            if (data_stmt_bind(st, &c->vals[i]) != PH_OK)
                break;
            sb_put(&b, np > 0 ? ", " : "");
            sb_ident(&b, fn->args[i].name, '"');
            snprintf(ph, sizeof ph, " => $%zu::", ++np);
            sb_put(&b, ph);
            sb_put(&b, fn->args[i].cast);
        }
        sb_put(&b, ") AS ");
        sb_ident(&b, fn->name, '"');
        break;
    case DATA_DIALECT_MYSQL:
        sb_put(&b, "(SELECT ");
        sb_ident(&b, fn->call, '`');
        sb_put(&b, "(");
        for (size_t i = 0; i < fn->nargs; i++) {
            if (data_stmt_bind(st, &c->vals[i]) != PH_OK)
                break;
            sb_put(&b, i > 0 ? ", ?" : "?");
        }
        sb_put(&b, ") AS ");
        sb_ident(&b, fn->name, '`');
        sb_put(&b, ") AS ");
        sb_ident(&b, fn->name, '`');
        break;
    default:
        for (size_t i = 0; i < fn->nargs; i++)
            if (data_stmt_bind(st, &c->vals[i]) != PH_OK)
                break;
        sb_put(&b, "(");
        sb_put(&b, fn->call);
        sb_put(&b, "\n) AS "); /* past a -- comment ending the query */
        sb_ident(&b, fn->name, '"');
        break;
    }
    if (st->oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int data_rpc_plain(const data_rpc_fn_t *fn, const data_rpc_call_t *c, data_stmt_t *st)
{
    for (size_t i = 0; i < fn->nargs; i++)
        if (data_stmt_bind(st, &c->vals[i]) != PH_OK)
            return PH_ERROR;
    char *sql = NULL;
    if (st->dialect == DATA_DIALECT_MYSQL) {
        sbuf_t b = {0};
        sb_put(&b, "CALL ");
        sb_ident(&b, fn->call, '`');
        sb_put(&b, "(");
        for (size_t i = 0; i < fn->nargs; i++)
            sb_put(&b, i > 0 ? ", ?" : "?");
        sb_put(&b, ")");
        sql = b.s;
    } else {
        sql = strdup(fn->call);
    }
    if (sql == NULL)
        return PH_ERROR;
    free(st->sql);
    st->sql = sql;
    st->len = strlen(sql);
    st->cap = st->len + 1;
    return PH_OK;
}
