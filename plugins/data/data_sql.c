/* SQL text builders: see data_sql.h. */
#include "data_sql.h"
#include "data_jpath.h"
#include "data_query.h"

#include "data_fts.h"

#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(data_stmt_t *st, const char *s, size_t n)
{
    if (st->oom)
        return;
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 256;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *p = realloc(st->sql, cap);
        if (p == NULL) {
            st->oom = 1;
            return;
        }
        st->sql = p;
        st->cap = cap;
    }
    memcpy(st->sql + st->len, s, n);
    st->len += n;
    st->sql[st->len] = '\0';
}

static void puts_(data_stmt_t *st, const char *s)
{
    put(st, s, strlen(s));
}

/* "name" with inner double quotes doubled: the SQL standard identifier
 * quoting both SQLite and PostgreSQL accept. MySQL quotes with backticks
 * (double quotes are strings there unless ANSI_QUOTES is on). */
static void ident(data_stmt_t *st, const char *name)
{
    const char *q = st->dialect == DATA_DIALECT_MYSQL ? "`" : "\"";
    put(st, q, 1);
    for (const char *p = name; *p; p++) {
        if (*p == *q)
            put(st, q, 1);
        put(st, p, 1);
    }
    put(st, q, 1);
}

/* Adds a parameter and writes its placeholder. */
static void param(data_stmt_t *st, const data_value_t *v)
{
    char ph[32];
    if (st->oom)
        return;
    data_value_t *p = realloc(st->params, (st->nparams + 1) * sizeof *p);
    if (p == NULL) {
        st->oom = 1;
        return;
    }
    st->params = p;
    if (data_value_copy(&p[st->nparams], v) != PH_OK) {
        st->oom = 1;
        return;
    }
    st->nparams++;
    if (st->dialect == DATA_DIALECT_MYSQL) {
        puts_(st, "?"); /* MySQL's placeholders are positional only */
        return;
    }
    snprintf(ph, sizeof ph, "%c%zu", st->dialect == DATA_DIALECT_PG ? '$' : '?', st->nparams);
    puts_(st, ph);
}

int data_stmt_bind(data_stmt_t *st, const data_value_t *v)
{
    data_value_t *p = st->oom ? NULL : realloc(st->params, (st->nparams + 1) * sizeof *p);
    if (p == NULL || data_value_copy(&p[st->nparams], v) != PH_OK) {
        if (p != NULL)
            st->params = p;
        st->oom = 1;
        return PH_ERROR;
    }
    st->params = p;
    st->nparams++;
    return PH_OK;
}

static void int_param(data_stmt_t *st, int64_t i)
{
    data_value_t v = {.kind = DATA_VALUE_INT, .i = i};
    param(st, &v);
}

static void column_list(data_stmt_t *st, const data_table_t *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (i > 0)
            puts_(st, ", ");
        ident(st, t->cols[i].name);
    }
}

static int done(data_stmt_t *st)
{
    return st->oom ? PH_ERROR : PH_OK;
}

/* A row of column defaults. */
static void default_values(data_stmt_t *st)
{
    puts_(st, st->dialect == DATA_DIALECT_MYSQL ? " () VALUES ()" : " DEFAULT VALUES");
}

static void cond_group(data_stmt_t *st, const data_group_t *g);

static void cond_fts_index(data_stmt_t *st, const data_filter_t *f, const data_value_t *v);

static void table_ref(data_stmt_t *st, const data_table_t *t, int depth);

/* Column col (qualified by t's alias at depth > 0), or its JSON path:
 * every key a bound parameter (PostgreSQL: an array index as its digits,
 * which data_jpath_parse checked); "->>" gives text on every dialect. */
static void col_expr(data_stmt_t *st, const data_table_t *t, int depth, const data_column_t *col,
                     const data_jpath_t *path)
{
    bool text = path && path->text;
    if (path && st->dialect == DATA_DIALECT_MYSQL)
        puts_(st, text ? "JSON_UNQUOTE(JSON_EXTRACT(" : "JSON_EXTRACT(");
    else if (text && st->dialect == DATA_DIALECT_SQLITE)
        puts_(st, "CAST(");
    else if (path)
        puts_(st, "(");
    if (depth > 0) {
        table_ref(st, t, depth);
        puts_(st, ".");
    }
    ident(st, col->name);
    if (path == NULL)
        return;
    if (st->dialect == DATA_DIALECT_MYSQL) {
        char *all = data_jpath_text(path, 0, true);
        data_value_t v = {.kind = DATA_VALUE_TEXT, .ptr = all, .len = all ? strlen(all) : 0};
        if (all == NULL)
            st->oom = 1;
        puts_(st, ", ");
        param(st, &v);
        free(all);
        puts_(st, text ? "))" : ")");
        return;
    }
    for (size_t i = 0; i < path->nsteps; i++) {
        const data_jpath_step_t *step = &path->steps[i];
        puts_(st, text && i + 1 == path->nsteps ? " ->> " : " -> ");
        if (st->dialect == DATA_DIALECT_PG && step->index) {
            puts_(st, step->key);
        } else if (st->dialect == DATA_DIALECT_PG) {
            data_value_t v = {.kind = DATA_VALUE_TEXT, .ptr = step->key, .len = step->len};
            puts_(st, "CAST(");
            param(st, &v);
            puts_(st, " AS text)");
        } else {
            /* SQLite: a path of this step alone; a bare label would be
             * read as a path itself when it starts with '$'. */
            char *one = data_jpath_text(path, i, false);
            data_value_t v = {.kind = DATA_VALUE_TEXT, .ptr = one, .len = one ? strlen(one) : 0};
            if (one == NULL)
                st->oom = 1;
            param(st, &v);
            free(one);
        }
    }
    puts_(st, text && st->dialect == DATA_DIALECT_SQLITE ? " AS TEXT)" : ")");
}

/* The left side of a condition: f's column or JSON path. */
static void filter_lhs(data_stmt_t *st, const data_filter_t *f)
{
    col_expr(st, NULL, 0, f->col, f->path);
}

/* The full-text match of col against the query text v: on PostgreSQL
 * to_tsvector of the column (a tsvector column as it is) @@ the
 * operator's tsquery function, both in the filter's language when it
 * names one; elsewhere through the column's full-text index. */
static void cond_fts(data_stmt_t *st, const data_filter_t *f, const data_value_t *v)
{
    if (st->dialect != DATA_DIALECT_PG) {
        cond_fts_index(st, f, v);
        return;
    }
    static const char *const fn[] = {"to_tsquery(", "plainto_tsquery(", "phraseto_tsquery(",
                                     "websearch_to_tsquery("};
    bool lang = f->lang.kind != DATA_VALUE_NULL;
    if (strcmp(f->col->decl, "tsvector") == 0) {
        ident(st, f->col->name);
    } else {
        puts_(st, "to_tsvector(");
        if (lang) {
            param(st, &f->lang);
            puts_(st, "::regconfig, ");
        }
        ident(st, f->col->name);
        puts_(st, ")");
    }
    puts_(st, " @@ ");
    puts_(st, fn[f->op - DATA_OP_FTS]);
    if (lang) {
        param(st, &f->lang);
        puts_(st, "::regconfig, ");
    }
    param(st, v);
    puts_(st, ")");
}

/* One query q of f's full-text index, true for the rows it matches:
 * SQLite "rowid IN (SELECT rowid FROM fts WHERE fts.col MATCH ?)", MySQL
 * "MATCH(col) AGAINST(? IN BOOLEAN MODE)". */
static void fts_match(data_stmt_t *st, const data_filter_t *f, const char *q)
{
    data_value_t v = {.kind = DATA_VALUE_TEXT, .ptr = (char *)q, .len = strlen(q)};
    if (st->dialect == DATA_DIALECT_MYSQL) {
        puts_(st, "MATCH(");
        ident(st, f->col->name);
        puts_(st, ") AGAINST(");
        param(st, &v);
        puts_(st, " IN BOOLEAN MODE)");
        return;
    }
    puts_(st, "rowid IN (SELECT rowid FROM ");
    ident(st, f->col->fts);
    puts_(st, " WHERE ");
    ident(st, f->col->fts);
    puts_(st, ".");
    ident(st, f->col->name);
    puts_(st, " MATCH ");
    param(st, &v);
    puts_(st, ")");
}

/* The alternatives groups[lo..hi) (hi > lo) ORed as a balanced tree: a
 * long "a or b or ..." stays within the databases' expression depth. */
static void fts_groups(data_stmt_t *st, const data_filter_t *f, const data_fts_group_t *groups,
                       size_t lo, size_t hi)
{
    puts_(st, "(");
    if (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        fts_groups(st, f, groups, lo, mid);
        puts_(st, " OR ");
        fts_groups(st, f, groups, mid, hi);
    } else {
        const data_fts_group_t *g = &groups[lo];
        if (g->all != NULL)
            fts_match(st, f, g->all);
        if (g->all != NULL && g->none != NULL)
            puts_(st, " AND ");
        if (g->none != NULL) {
            puts_(st, "NOT ");
            fts_match(st, f, g->none);
        }
    }
    puts_(st, ")");
}

/* Full-text search through the column's index (data_fts.h): the
 * alternatives ORed, each its required terms' query and NOT its excluded
 * terms'. A NULL column gives NULL, as PostgreSQL's @@ does, so not.fts
 * leaves such rows out too. */
static void cond_fts_index(data_stmt_t *st, const data_filter_t *f, const data_value_t *v)
{
    data_fts_t q;
    if (data_fts_build(&q, f->op, v->ptr ? v->ptr : "", v->len, st->dialect) != PH_OK) {
        st->oom = 1;
        return;
    }
    puts_(st, "CASE WHEN ");
    ident(st, f->col->name);
    puts_(st, " IS NULL THEN NULL ELSE ");
    if (q.ngroups > 0)
        fts_groups(st, f, q.groups, 0, q.ngroups);
    else
        puts_(st, "(1 = 0)"); /* no words: nothing matches */
    puts_(st, " END");
    data_fts_free(&q);
}

/* "col <op> value" for one operand v of f. */
/* MySQL has no ILIKE: LOWER on both sides ignores case whatever the
 * column's collation, without its accent folding; and no IS DISTINCT FROM:
 * NOT <=> (NULL-safe equality) is the same test. */
static void cond_mysql(data_stmt_t *st, const data_filter_t *f, const data_value_t *v)
{
    if (f->op == DATA_OP_ILIKE) {
        puts_(st, "LOWER(");
        filter_lhs(st, f);
        puts_(st, ") LIKE LOWER(");
        param(st, v);
        puts_(st, ")");
    } else {
        puts_(st, "NOT (");
        filter_lhs(st, f);
        puts_(st, " <=> ");
        param(st, v);
        puts_(st, ")");
    }
}

static void cond_binary(data_stmt_t *st, const data_filter_t *f, const data_value_t *v)
{
    bool sqlite = st->dialect == DATA_DIALECT_SQLITE;
    if (f->op >= DATA_OP_FTS && f->op <= DATA_OP_WFTS) {
        cond_fts(st, f, v);
        return;
    }
    if (st->dialect == DATA_DIALECT_MYSQL && (f->op == DATA_OP_ILIKE || f->op == DATA_OP_ISDISTINCT)) {
        cond_mysql(st, f, v);
        return;
    }
    filter_lhs(st, f);
    puts_(st, " ");
    if (f->op == DATA_OP_ISDISTINCT)
        puts_(st, sqlite ? "IS NOT" : "IS DISTINCT FROM");
    else if (f->op == DATA_OP_ILIKE && sqlite)
        puts_(st, "LIKE"); /* SQLite's LIKE already ignores ASCII case and has no ILIKE. */
    else
        puts_(st, data_op_sql(f->op));
    puts_(st, " ");
    param(st, v);
    if (data_op_range(f->op)) { /* the column's type from the catalogue (format_type) */
        puts_(st, "::");
        puts_(st, f->col->decl);
    }
}

/* One condition: "col op ?", "col IN (?, ...)", "col IS NULL", a
 * modifier's items joined by OR (any) or AND (all), ... */
static void cond_filter(data_stmt_t *st, const data_filter_t *f)
{
    if (f->negate)
        puts_(st, "NOT ");
    puts_(st, "(");
    if (f->quant != DATA_QUANT_NONE) {
        bool any = f->quant == DATA_QUANT_ANY;
        for (size_t i = 0; i < f->nlist; i++) {
            if (i > 0)
                puts_(st, any ? " OR " : " AND ");
            cond_binary(st, f, &f->list[i]);
        }
        if (f->nlist == 0)
            puts_(st, any ? "1 = 0" : "1 = 1"); /* no item: none matches, all do */
    } else if (f->op == DATA_OP_IN && f->nlist == 0) {
        puts_(st, "1 = 0"); /* in.() matches nothing */
    } else if (f->op == DATA_OP_IN) {
        filter_lhs(st, f);
        puts_(st, " IN (");
        for (size_t i = 0; i < f->nlist; i++) {
            if (i > 0)
                puts_(st, ", ");
            param(st, &f->list[i]);
        }
        puts_(st, ")");
    } else if (f->op == DATA_OP_IS) {
        filter_lhs(st, f);
        puts_(st, f->value.kind == DATA_VALUE_NULL ? " IS NULL" : f->value.i ? " IS TRUE" : " IS FALSE");
    } else {
        cond_binary(st, f, &f->value);
    }
    puts_(st, ")");
}

static void cond_group(data_stmt_t *st, const data_group_t *g)
{
    const char *join = g->any ? " OR " : " AND ";
    size_t n = 0;
    if (g->negate)
        puts_(st, "NOT ");
    puts_(st, "(");
    for (size_t i = 0; i < g->nfilters; i++, n++) {
        if (n > 0)
            puts_(st, join);
        cond_filter(st, &g->filters[i]);
    }
    for (size_t i = 0; i < g->ngroups; i++, n++) {
        if (n > 0)
            puts_(st, join);
        cond_group(st, &g->groups[i]);
    }
    if (n == 0)
        puts_(st, g->any ? "1 = 0" : "1 = 1"); /* empty OR: false; empty AND: true */
    puts_(st, ")");
}

/* The alias of an embedded table depth levels down ("_e1", ...); the
 * request's own table (depth 0) goes by its name. */
static void table_ref(data_stmt_t *st, const data_table_t *t, int depth)
{
    char a[16];
    if (depth == 0) {
        ident(st, t->name);
        return;
    }
    const char *q = st->dialect == DATA_DIALECT_MYSQL ? "`" : "\"";
    snprintf(a, sizeof a, "%s_e%d%s", q, depth, q);
    puts_(st, a);
}

static void embed_where(data_stmt_t *st, const data_embed_t *em, const data_table_t *parent, int depth);

/* q's conditions on the table t at depth: filters, trees, and for every
 * !inner embed that a related row exists; the first begins " WHERE "
 * unless n conditions were written before it. */
static void where_conds(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int depth,
                        size_t n)
{
    for (size_t i = 0; i < q->nfilters; i++, n++) {
        puts_(st, n == 0 ? " WHERE " : " AND ");
        cond_filter(st, &q->filters[i]);
    }
    for (size_t i = 0; i < q->ngroups; i++, n++) {
        puts_(st, n == 0 ? " WHERE " : " AND ");
        cond_group(st, &q->groups[i]);
    }
    for (size_t i = 0; i < q->nselect; i++) {
        const data_embed_t *em = q->select[i].embed;
        if (em == NULL || !em->inner)
            continue;
        puts_(st, n++ == 0 ? " WHERE EXISTS (SELECT 1" : " AND EXISTS (SELECT 1");
        embed_where(st, em, t, depth);
        puts_(st, ")");
    }
}

static void where_filters(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int depth)
{
    where_conds(st, t, q, depth, 0);
}

static void select_list(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int depth);

/* " FROM other AS _eN WHERE <join to parent> AND <em's conditions>" of
 * the embed em of parent (at depth). Unqualified columns in the
 * conditions name the embedded table's, the innermost in scope. */
static void embed_where(data_stmt_t *st, const data_embed_t *em, const data_table_t *parent, int depth)
{
    const data_table_t *o = em->rel->other;
    puts_(st, " FROM ");
    ident(st, o->name);
    puts_(st, " AS ");
    table_ref(st, o, depth + 1);
    puts_(st, " WHERE ");
    table_ref(st, o, depth + 1);
    puts_(st, ".");
    ident(st, em->rel->other_col->name);
    puts_(st, " = ");
    table_ref(st, parent, depth);
    puts_(st, ".");
    ident(st, em->rel->col->name);
    where_conds(st, o, &em->sub, depth + 1, 1);
}

static void order_by(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int depth);

/* A SQL string literal: 'text', inner quotes doubled. */
static void literal(data_stmt_t *st, const char *s)
{
    put(st, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            put(st, "''", 2);
        else
            put(st, p, 1);
    }
    put(st, "'", 1);
}

/* SQLite: one key/value pair of json_object over the derived row "_x",
 * typed as PostgreSQL's row_to_json would type it. */
static void sqlite_pair(data_stmt_t *st, const char *key, data_type_t type)
{
    literal(st, key);
    puts_(st, ", ");
    switch (type) {
    case DATA_TYPE_BOOL:
        puts_(st, "CASE WHEN \"_x\".");
        ident(st, key);
        puts_(st, " IS NULL THEN NULL WHEN \"_x\".");
        ident(st, key);
        puts_(st, " THEN json('true') ELSE json('false') END");
        break;
    case DATA_TYPE_JSON: /* a nested embed: JSON, not a string holding it */
        puts_(st, "json(\"_x\".");
        ident(st, key);
        puts_(st, ")");
        break;
    case DATA_TYPE_REAL: /* a whole number in a REAL or NUMERIC column is stored as an integer */
        puts_(st, "CASE WHEN typeof(\"_x\".");
        ident(st, key);
        puts_(st, ") = 'integer' THEN CAST(\"_x\".");
        ident(st, key);
        puts_(st, " AS REAL) ELSE \"_x\".");
        ident(st, key);
        puts_(st, " END");
        break;
    case DATA_TYPE_BLOB: /* JSON cannot hold a blob: bytea's text form; NULL stays null */
        puts_(st, "CASE WHEN \"_x\".");
        ident(st, key);
        puts_(st, " IS NULL THEN NULL ELSE '\\x' || lower(hex(\"_x\".");
        ident(st, key);
        puts_(st, ")) END");
        break;
    default:
        puts_(st, "\"_x\".");
        ident(st, key);
        break;
    }
}

/* The JSON of the derived row "_x" with q's select list. */
static void row_json(data_stmt_t *st, const data_query_t *q)
{
    if (st->dialect == DATA_DIALECT_PG) {
        puts_(st, "row_to_json(\"_x\")");
        return;
    }
    puts_(st, "json_object(");
    for (size_t i = 0; i < q->nselect; i++) {
        const data_select_t *c = &q->select[i];
        if (i > 0)
            puts_(st, ", ");
        if (c->embed)
            sqlite_pair(st, c->embed->name, DATA_TYPE_JSON);
        else
            sqlite_pair(st, data_select_name(c), data_select_type(c));
    }
    puts_(st, ")");
}

static void embed_column(data_stmt_t *st, const data_embed_t *em, const data_table_t *parent,
                         int depth);

/* MySQL: a string literal, with the backslash escaping its default SQL
 * mode (the session's) reads. */
static void my_literal(data_stmt_t *st, const char *s)
{
    put(st, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'' || *p == '\\')
            put(st, p, 1);
        put(st, p, 1);
    }
    put(st, "'", 1);
}

/* MySQL: the value of select item c (a column or its JSON path) of the
 * embedded table at depth as JSON_OBJECT should hold it, typed as the top
 * level's rows are (data_mysql.c): BOOLEAN true/false (not 1/0), a FLOAT
 * widened to the double the top level reads, text as a string (a JSON
 * column too, which JSON_OBJECT would nest), a "->" path's JSON_EXTRACT
 * nested, bytes as bytea's text form ("\x0a1b") as on the other backends.
 * A DECIMAL goes in as it is: JSON_OBJECT writes its exact text, which
 * data_json.c passes on as the top level's DECIMAL is. */
static void my_value(data_stmt_t *st, const data_select_t *c, const data_table_t *t, int depth)
{
    if (c->cast) {
        puts_(st, "CAST(");
        col_expr(st, t, depth, c->col, c->path);
        puts_(st, " AS ");
        puts_(st, c->cast->sql);
        puts_(st, ")");
        return;
    }
    switch (data_select_type(c)) {
    case DATA_TYPE_BOOL:
        puts_(st, "CASE WHEN ");
        col_expr(st, t, depth, c->col, c->path);
        puts_(st, " IS NULL THEN NULL WHEN ");
        col_expr(st, t, depth, c->col, c->path);
        puts_(st, " THEN JSON_EXTRACT('true', '$') ELSE JSON_EXTRACT('false', '$') END");
        return;
    case DATA_TYPE_BLOB:
        puts_(st, "CONCAT('\\\\x', LOWER(HEX(");
        col_expr(st, t, depth, c->col, c->path);
        puts_(st, ")))");
        return;
    case DATA_TYPE_TEXT:
        puts_(st, "CAST(");
        col_expr(st, t, depth, c->col, c->path);
        puts_(st, " AS CHAR)");
        return;
    default:
        break;
    }
    bool single = c->path == NULL && strncmp(c->col->decl, "float", 5) == 0;
    puts_(st, single ? "CAST(" : "");
    col_expr(st, t, depth, c->col, c->path);
    puts_(st, single ? " AS DOUBLE)" : "");
}

/* MySQL: JSON_OBJECT of q's select list over the embedded table t at
 * depth; a nested embed is its own subquery, whose JSON stays JSON. */
static void my_object(data_stmt_t *st, const data_query_t *q, const data_table_t *t, int depth)
{
    puts_(st, "JSON_OBJECT(");
    for (size_t i = 0; i < q->nselect; i++) {
        const data_select_t *c = &q->select[i];
        if (i > 0)
            puts_(st, ", ");
        my_literal(st, c->embed ? c->embed->name : data_select_name(c));
        puts_(st, ", ");
        if (c->embed)
            embed_column(st, c->embed, t, depth);
        else
            my_value(st, c, t, depth);
    }
    puts_(st, ")");
}

/* MySQL, whose derived tables cannot see the row around them: the
 * related row's JSON_OBJECT straight from the table, or the related rows'
 * JSON_ARRAYAGG with the embed's order, limit and offset inside it (never
 * NULL: JSON_ARRAY() for none). */
static void my_embed_column(data_stmt_t *st, const data_embed_t *em, const data_table_t *parent,
                            int depth)
{
    const data_table_t *o = em->rel->other;
    puts_(st, "(SELECT ");
    if (em->rel->to_one) {
        my_object(st, &em->sub, o, depth + 1);
    } else {
        puts_(st, "COALESCE(JSON_ARRAYAGG(");
        my_object(st, &em->sub, o, depth + 1);
        order_by(st, o, &em->sub, depth + 1);
        puts_(st, " LIMIT ");
        int_param(st, em->sub.limit);
        puts_(st, " OFFSET ");
        int_param(st, em->sub.offset);
        puts_(st, "), JSON_ARRAY())");
    }
    embed_where(st, em, parent, depth);
    puts_(st, ")");
}

/* An embed as one column of its parent's row (at depth): the related row
 * as a JSON object (or NULL), or the related rows as a JSON array, built
 * by the database so each parent row arrives complete. */
static void embed_column(data_stmt_t *st, const data_embed_t *em, const data_table_t *parent,
                         int depth)
{
    bool pg = st->dialect == DATA_DIALECT_PG;
    if (st->dialect == DATA_DIALECT_MYSQL) {
        my_embed_column(st, em, parent, depth);
        return;
    }
    puts_(st, "(SELECT ");
    if (em->rel->to_one)
        row_json(st, &em->sub);
    else if (pg)
        puts_(st, "coalesce(json_agg(\"_x\"), '[]')");
    else {
        puts_(st, "json_group_array(");
        row_json(st, &em->sub);
        puts_(st, ")");
    }
    puts_(st, " FROM (SELECT ");
    select_list(st, em->rel->other, &em->sub, depth + 1);
    embed_where(st, em, parent, depth);
    if (!em->rel->to_one) {
        order_by(st, em->rel->other, &em->sub, depth + 1);
        puts_(st, " LIMIT ");
        int_param(st, em->sub.limit);
        puts_(st, " OFFSET ");
        int_param(st, em->sub.offset);
    }
    puts_(st, ") AS \"_x\")");
}

/* The select list: q's columns (cast, aliased) and embeds, or the
 * table's columns. */
static void select_list(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int depth)
{
    if (q->nselect == 0) {
        column_list(st, t);
        return;
    }
    for (size_t i = 0; i < q->nselect; i++) {
        const data_select_t *c = &q->select[i];
        if (i > 0)
            puts_(st, ", ");
        if (c->embed) {
            embed_column(st, c->embed, t, depth);
            puts_(st, " AS ");
            ident(st, c->embed->name);
            continue;
        }
        if (c->cast) {
            puts_(st, "CAST(");
            col_expr(st, t, 0, c->col, c->path);
            puts_(st, " AS ");
            puts_(st, c->cast->sql);
            puts_(st, ")");
        } else {
            col_expr(st, t, 0, c->col, c->path);
        }
        puts_(st, " AS ");
        ident(st, data_select_name(c));
    }
}

static int mysql_update_plan(data_stmt_t *st, const data_table_t *t, const data_assign_t *a,
                             size_t n, const data_query_t *q, const data_value_t *id);

static void where_pk(data_stmt_t *st, const data_table_t *t, const data_value_t *id)
{
    puts_(st, " WHERE ");
    ident(st, t->cols[t->pk].name);
    puts_(st, " = ");
    param(st, id);
}

/* An embedded table's column qualified by its alias: in ORDER BY a bare
 * name would mean an output column first, which an alias may shadow. */
static void sort_key(data_stmt_t *st, const data_table_t *t, const data_order_t *o, int depth)
{
    col_expr(st, t, depth, o->col, o->path);
}

/* " ORDER BY" q's keys, then the primary key: a total order, so paging
 * neither skips nor repeats rows (ordering by it twice would be harmless
 * but noisy). */
static void order_by(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int depth)
{
    /* Without a key (a view, a function's result) there is no total
     * order to add: the rows come in q's order, or the source's. */
    bool pk_ordered = t->pk == DATA_NO_PK;
    if (pk_ordered && q->norder == 0)
        return;
    puts_(st, " ORDER BY ");
    for (size_t i = 0; i < q->norder; i++) {
        const data_order_t *o = &q->order[i];
        if (i > 0)
            puts_(st, ", ");
        if (st->dialect == DATA_DIALECT_MYSQL) {
            /* No NULLS FIRST/LAST, and NULL sorts low: spell out
             * PostgreSQL's placement (NULLs last ascending, first
             * descending, unless asked). */
            bool first = o->nulls_given ? o->nulls_first : o->desc;
            sort_key(st, t, o, depth);
            puts_(st, first ? " IS NULL DESC, " : " IS NULL ASC, ");
        }
        sort_key(st, t, o, depth);
        puts_(st, o->desc ? " DESC" : " ASC");
        if (o->nulls_given && st->dialect != DATA_DIALECT_MYSQL)
            puts_(st, o->nulls_first ? " NULLS FIRST" : " NULLS LAST");
        pk_ordered |= !pk_ordered && o->col == &t->cols[t->pk] && o->path == NULL;
    }
    if (!pk_ordered) {
        puts_(st, q->norder > 0 ? ", " : "");
        col_expr(st, t, depth, &t->cols[t->pk], NULL);
        puts_(st, " ASC");
    }
}

/* The source of a top-level SELECT: the table's name, or its from_sql. */
static void from_source(data_stmt_t *st, const data_table_t *t)
{
    if (t->from_sql != NULL)
        puts_(st, t->from_sql);
    else
        ident(st, t->name);
}

int data_sql_select(data_stmt_t *st, const data_table_t *t, const data_query_t *q)
{
    puts_(st, "SELECT ");
    select_list(st, t, q, 0);
    puts_(st, " FROM ");
    from_source(st, t);
    where_filters(st, t, q, 0);
    order_by(st, t, q, 0);
    puts_(st, " LIMIT ");
    int_param(st, q->limit);
    puts_(st, " OFFSET ");
    int_param(st, q->offset);
    return done(st);
}

int data_sql_count(data_stmt_t *st, const data_table_t *t, const data_query_t *q)
{
    puts_(st, "SELECT count(*) AS ");
    ident(st, "count");
    puts_(st, " FROM ");
    from_source(st, t);
    where_filters(st, t, q, 0);
    return done(st);
}

int data_sql_matching(data_stmt_t *st, const data_table_t *t, const data_query_t *q)
{
    puts_(st, "SELECT 1 FROM ");
    from_source(st, t);
    where_filters(st, t, q, 0);
    return done(st);
}

int data_sql_get(data_stmt_t *st, const data_table_t *t, const data_value_t *id)
{
    puts_(st, "SELECT ");
    column_list(st, t);
    puts_(st, " FROM ");
    ident(st, t->name);
    where_pk(st, t, id);
    return done(st);
}

int data_sql_insert(data_stmt_t *st, const data_table_t *t, const data_assign_t *a, size_t n)
{
    puts_(st, "INSERT INTO ");
    ident(st, t->name);
    if (n == 0) {
        default_values(st);
    } else {
        puts_(st, " (");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                puts_(st, ", ");
            ident(st, a[i].col->name);
        }
        puts_(st, ") VALUES (");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                puts_(st, ", ");
            param(st, &a[i].value);
        }
        puts_(st, ")");
    }
    puts_(st, " RETURNING ");
    column_list(st, t);
    return done(st);
}

int data_sql_update(data_stmt_t *st, const data_table_t *t, const data_assign_t *a, size_t n,
                    const data_value_t *id)
{
    if (st->dialect == DATA_DIALECT_MYSQL)
        return mysql_update_plan(st, t, a, n, NULL, id);
    puts_(st, "UPDATE ");
    ident(st, t->name);
    puts_(st, " SET ");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            puts_(st, ", ");
        ident(st, a[i].col->name);
        puts_(st, " = ");
        param(st, &a[i].value);
    }
    where_pk(st, t, id);
    puts_(st, " RETURNING ");
    column_list(st, t);
    return done(st);
}

int data_sql_delete(data_stmt_t *st, const data_table_t *t, const data_value_t *id)
{
    puts_(st, "DELETE FROM ");
    ident(st, t->name);
    where_pk(st, t, id);
    puts_(st, " RETURNING ");
    ident(st, t->cols[t->pk].name);
    return done(st);
}

/* True when a merge has a column besides the key to take. */
static bool merges_something(const data_rows_t *rows, const data_column_t *key)
{
    for (size_t c = 0; c < rows->ncols; c++)
        if (rows->cols[c] != key)
            return true;
    return false;
}

/* MySQL's upsert: a duplicate in any unique key (not only key) takes the
 * inserted columns. */
static void mysql_merge(data_stmt_t *st, const data_rows_t *rows, const data_column_t *key)
{
    size_t set = 0;
    puts_(st, " ON DUPLICATE KEY UPDATE ");
    for (size_t c = 0; c < rows->ncols; c++) {
        if (rows->cols[c] == key)
            continue;
        if (set++ > 0)
            puts_(st, ", ");
        ident(st, rows->cols[c]->name);
        puts_(st, " = VALUES(");
        ident(st, rows->cols[c]->name);
        puts_(st, ")");
    }
}

/* MySQL's UPDATE has no RETURNING: the three statements of the plan that
 * data_stmt_t's `then` describes. With q the rows are q's and come back
 * with q's select list; without, the one row whose key is id, whole. */
static int mysql_update_plan(data_stmt_t *st, const data_table_t *t, const data_assign_t *a,
                             size_t n, const data_query_t *q, const data_value_t *id)
{
    const char *pk = t->cols[t->pk].name;
    data_stmt_t *up = calloc(1, sizeof *up), *re = calloc(1, sizeof *re);

    if (up == NULL || re == NULL) {
        free(up);
        free(re);
        return PH_ERROR;
    }
    up->dialect = re->dialect = st->dialect;
    st->then = up;
    up->then = re;
    st->key_param = -1;
    puts_(st, "SELECT ");
    ident(st, pk);
    puts_(st, " FROM ");
    ident(st, t->name);
    if (q != NULL)
        where_filters(st, t, q, 0);
    else
        where_pk(st, t, id);
    puts_(st, " FOR UPDATE");

    puts_(up, "UPDATE ");
    ident(up, t->name);
    puts_(up, " SET ");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            puts_(up, ", ");
        ident(up, a[i].col->name);
        puts_(up, " = ");
        if (a[i].col == &t->cols[t->pk])
            st->key_param = (long)up->nparams;
        param(up, &a[i].value);
    }
    puts_(up, " WHERE ");
    ident(up, pk);
    puts_(up, " IN ");

    puts_(re, "SELECT ");
    if (q != NULL)
        select_list(re, t, q, 0);
    else
        column_list(re, t);
    puts_(re, " FROM ");
    ident(re, t->name);
    puts_(re, " WHERE ");
    ident(re, pk);
    puts_(re, " IN ");
    return st->oom || up->oom || re->oom ? PH_ERROR : PH_OK;
}

static void returning(data_stmt_t *st, const data_table_t *t, const data_query_t *q)
{
    puts_(st, " RETURNING ");
    select_list(st, t, q, 0);
}

/* A value a row left out, under Prefer: missing=default. */
static void missing_value(data_stmt_t *st, const data_column_t *col)
{
    if (st->dialect != DATA_DIALECT_SQLITE) {
        puts_(st, "DEFAULT");
    } else if (col->dflt_sql != NULL) {
        puts_(st, "(");
        puts_(st, col->dflt_sql);
        puts_(st, ")");
    } else {
        puts_(st, "NULL"); /* also what makes SQLite number a rowid key */
    }
}

int data_sql_insert_rows(data_stmt_t *st, const data_table_t *t, const data_rows_t *rows,
                         data_conflict_t conflict, const data_column_t *conflict_col,
                         const data_query_t *q)
{
    bool mysql = st->dialect == DATA_DIALECT_MYSQL;
    const data_column_t *key = conflict_col ? conflict_col : t->pk != DATA_NO_PK ? &t->cols[t->pk] : NULL;
    if (key == NULL)
        conflict = DATA_CONFLICT_ERROR; /* no key to conflict on (a view); callers refuse it before */
    /* A merge with nothing to take leaves the row as it is and does not
     * return it: that is ignoring it (PostgreSQL's DO NOTHING below). */
    if (conflict == DATA_CONFLICT_MERGE && !merges_something(rows, key))
        conflict = DATA_CONFLICT_IGNORE;
    /* MySQL: IGNORE skips the duplicates; it also turns other errors into
     * warnings, which the backend refuses (data_mysql.c). */
    puts_(st, mysql && conflict == DATA_CONFLICT_IGNORE ? "INSERT IGNORE INTO " : "INSERT INTO ");
    ident(st, t->name);
    if (rows->ncols == 0) {
        default_values(st);
    } else {
        puts_(st, " (");
        for (size_t c = 0; c < rows->ncols; c++) {
            if (c > 0)
                puts_(st, ", ");
            ident(st, rows->cols[c]->name);
        }
        puts_(st, ") VALUES ");
        for (size_t r = 0; r < rows->nrows; r++) {
            puts_(st, r > 0 ? ", (" : "(");
            for (size_t c = 0; c < rows->ncols; c++) {
                size_t i = r * rows->ncols + c;
                if (c > 0)
                    puts_(st, ", ");
                if (rows->defaults && rows->missing && rows->missing[i])
                    missing_value(st, rows->cols[c]);
                else
                    param(st, &rows->vals[i]);
            }
            puts_(st, ")");
        }
    }
    if (mysql && conflict == DATA_CONFLICT_MERGE)
        mysql_merge(st, rows, key);
    if (conflict != DATA_CONFLICT_ERROR && !mysql) {
        size_t set = 0;
        puts_(st, " ON CONFLICT (");
        ident(st, key->name);
        puts_(st, ") DO ");
        for (size_t c = 0; conflict == DATA_CONFLICT_MERGE && c < rows->ncols; c++) {
            if (rows->cols[c] == key)
                continue;
            puts_(st, set++ == 0 ? "UPDATE SET " : ", ");
            ident(st, rows->cols[c]->name);
            puts_(st, " = excluded.");
            ident(st, rows->cols[c]->name);
        }
        if (set == 0)
            puts_(st, "NOTHING"); /* nothing to merge: the row stays as it is */
    }
    returning(st, t, q);
    return done(st);
}

int data_sql_update_where(data_stmt_t *st, const data_table_t *t, const data_assign_t *a, size_t n,
                          const data_query_t *q)
{
    if (st->dialect == DATA_DIALECT_MYSQL && t->pk != DATA_NO_PK)
        return mysql_update_plan(st, t, a, n, q, NULL);
    puts_(st, "UPDATE ");
    ident(st, t->name);
    puts_(st, " SET ");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            puts_(st, ", ");
        ident(st, a[i].col->name);
        puts_(st, " = ");
        param(st, &a[i].value);
    }
    where_filters(st, t, q, 0);
    if (st->dialect != DATA_DIALECT_MYSQL) /* a MySQL view (no key to read rows back by): no rows */
        returning(st, t, q);
    return done(st);
}

int data_sql_delete_where(data_stmt_t *st, const data_table_t *t, const data_query_t *q)
{
    puts_(st, "DELETE FROM ");
    ident(st, t->name);
    where_filters(st, t, q, 0);
    returning(st, t, q);
    return done(st);
}

int data_stmt_puts(data_stmt_t *st, const char *text)
{
    puts_(st, text);
    return done(st);
}

void data_stmt_free(data_stmt_t *st)
{
    if (st->then != NULL) {
        data_stmt_free(st->then);
        free(st->then);
        st->then = NULL;
    }
    for (size_t i = 0; i < st->nparams; i++)
        data_value_clear(&st->params[i]);
    free(st->params);
    free(st->sql);
    st->params = NULL;
    st->sql = NULL;
    st->nparams = st->len = st->cap = 0;
}
