/*
 * libFuzzer harness for plugins/data/data_query.c and data_filter.c: the
 * query string of GET /api/<table> (select, filters, logic trees, order,
 * limit, offset), parsed against a fixed table with one column of every
 * type class, related to a second table by a foreign key so select lists
 * embed (both directions, nested). The first input byte picks the dialect
 * (casts, SQL text): bit 0 PostgreSQL, else bit 1 MySQL, else SQLite.
 *
 * The input is the raw query string, copied to an exact-size buffer.
 * Properties checked on success: limit within 0..max_rows, offset >= 0,
 * every filter, list item, sort key and selected column points at a
 * column of the table, LIKE and ILIKE only on text, TEXT values are valid
 * UTF-8 and NUL-terminated, lists only for in and (any)/(all), a language
 * only for the fts family, no cs/cd/ov (no column takes them), logic trees no deeper than
 * DATA_FILTER_MAX_DEPTH, embeds no deeper than DATA_EMBED_MAX_DEPTH with
 * every column of an embed in its own table, and the SELECT (and count)
 * of the query builds. On failure: an error code and message and an
 * empty query. Leaks are caught by LeakSanitizer.
 */
#include "data_query.h"
#include "data_sql.h"

#include <plughttpd/plugin.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_ROWS 100

static data_schema_t schema;
static const data_table_t *table;

static void setup(void)
{
    char err[256];
    data_table_t *t = data_schema_add_table(&schema, "notes");

    REQUIRE(t != NULL);
    REQUIRE(data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true) == PH_OK);
    REQUIRE(data_table_add_column(t, "title", "TEXT", DATA_TYPE_TEXT, true, false, false) == PH_OK);
    REQUIRE(data_table_add_column(t, "score", "REAL", DATA_TYPE_REAL, false, false, false) == PH_OK);
    REQUIRE(data_table_add_column(t, "done", "BOOLEAN", DATA_TYPE_BOOL, false, false, false) == PH_OK);
    REQUIRE(data_table_add_column(t, "data", "BLOB", DATA_TYPE_BLOB, false, false, false) == PH_OK);
    REQUIRE(data_table_add_column(t, "misc", "", DATA_TYPE_ANY, false, false, false) == PH_OK);
    REQUIRE(data_table_finish(t, err, sizeof err) == PH_OK);
    /* title has a full-text index, so fts filters reach SQL everywhere */
    REQUIRE(data_table_set_fts(t, "title", "notes_fts") == PH_OK);
    t = data_schema_add_table(&schema, "tags");
    REQUIRE(t != NULL);
    REQUIRE(data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true) == PH_OK);
    REQUIRE(data_table_add_column(t, "note_id", "INTEGER", DATA_TYPE_INTEGER, false, false, false) == PH_OK);
    REQUIRE(data_table_add_column(t, "name", "TEXT", DATA_TYPE_TEXT, false, false, false) == PH_OK);
    REQUIRE(data_table_finish(t, err, sizeof err) == PH_OK);
    REQUIRE(data_table_add_fk(t, "tags_note", "note_id", "notes", NULL) == PH_OK);
    REQUIRE(data_schema_link(&schema) == PH_OK);
    table = &schema.tables[0];
}

static bool column_in(const data_table_t *t, const data_column_t *c)
{
    return c != NULL && c >= t->cols && c < t->cols + t->ncols;
}

static bool column_of_table(const data_column_t *c)
{
    return column_in(table, c);
}

/* The select list of a query on t: columns of t, embeds bounded. */
static void check_select(const data_table_t *t, const data_query_t *q, int depth)
{
    REQUIRE(depth <= DATA_EMBED_MAX_DEPTH);
    for (size_t i = 0; i < q->nselect; i++) {
        const data_embed_t *em = q->select[i].embed;
        if (em == NULL) {
            REQUIRE(column_in(t, q->select[i].col));
            continue;
        }
        REQUIRE(em->name != NULL && em->sub.nselect > 0 && em->rel->other != NULL);
        REQUIRE(em->sub.limit >= 0 && em->sub.limit <= MAX_ROWS);
        for (size_t j = 0; j < em->sub.norder; j++)
            REQUIRE(column_in(em->rel->other, em->sub.order[j].col));
        check_select(em->rel->other, &em->sub, depth + 1);
    }
}

static void check_one(const data_value_t *v)
{
    switch (v->kind) {
    case DATA_VALUE_TEXT:
        REQUIRE(v->ptr != NULL && v->ptr[v->len] == '\0');
        REQUIRE(memchr(v->ptr, '\0', v->len) == NULL && data_utf8_valid(v->ptr, v->len));
        break;
    case DATA_VALUE_BOOL:
        REQUIRE(v->i == 0 || v->i == 1);
        break;
    case DATA_VALUE_BLOB:
        REQUIRE(v->ptr != NULL || v->len == 0);
        break;
    default:
        break;
    }
}

static void check_filter(const data_filter_t *f)
{
    REQUIRE(column_of_table(f->col));
    REQUIRE(f->op >= DATA_OP_EQ && f->op <= DATA_OP_OV);
    if (f->op == DATA_OP_LIKE || f->op == DATA_OP_ILIKE || f->op == DATA_OP_MATCH ||
        f->op == DATA_OP_IMATCH || (f->op >= DATA_OP_FTS && f->op <= DATA_OP_WFTS))
        REQUIRE(f->col->type == DATA_TYPE_TEXT || f->col->type == DATA_TYPE_ANY);
    REQUIRE(f->op != DATA_OP_CS && f->op != DATA_OP_CD && f->op != DATA_OP_OV); /* no such column */
    REQUIRE(f->nlist == 0 || ((f->op == DATA_OP_IN || f->quant != DATA_QUANT_NONE) && f->list != NULL));
    REQUIRE(f->lang.kind == DATA_VALUE_NULL || (f->op >= DATA_OP_FTS && f->op <= DATA_OP_WFTS));
    check_one(&f->lang);
    check_one(&f->value);
    for (size_t i = 0; i < f->nlist; i++)
        check_one(&f->list[i]);
}

static void check_group(const data_group_t *g, int depth)
{
    REQUIRE(depth <= DATA_FILTER_MAX_DEPTH);
    for (size_t i = 0; i < g->nfilters; i++)
        check_filter(&g->filters[i]);
    for (size_t i = 0; i < g->ngroups; i++)
        check_group(&g->groups[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    data_qerr_t e;
    data_query_t q;
    char *qs;
    size_t i;

    if (table == NULL)
        setup();
    data_dialect_t d = size == 0 ? DATA_DIALECT_SQLITE
                       : (data[0] & 1) ? DATA_DIALECT_PG
                       : (data[0] & 2) ? DATA_DIALECT_MYSQL
                                       : DATA_DIALECT_SQLITE;
    qs = malloc(size ? size : 1);
    memcpy(qs, data, size);
    memset(&q, 0xa5, sizeof q); /* the parser must set every field */
    memset(&e, 0, sizeof e);
    if (data_query_parse(table, d, size ? qs : NULL, size, MAX_ROWS, &q, &e) == PH_OK) {
        REQUIRE(q.limit >= 0 && q.limit <= MAX_ROWS && q.offset >= 0);
        REQUIRE(q.nfilters == 0 || q.filters != NULL);
        REQUIRE(q.norder == 0 || q.order != NULL);
        for (i = 0; i < q.nfilters; i++)
            check_filter(&q.filters[i]);
        for (i = 0; i < q.ngroups; i++)
            check_group(&q.groups[i], 1);
        for (i = 0; i < q.norder; i++)
            REQUIRE(column_of_table(q.order[i].col));
        check_select(table, &q, 0);
        data_stmt_t st = DATA_STMT_INIT(d), ct = DATA_STMT_INIT(d);
        REQUIRE(data_sql_select(&st, table, &q) == PH_OK && data_sql_count(&ct, table, &q) == PH_OK);
        data_stmt_free(&st);
        data_stmt_free(&ct);
        REQUIRE(q.on_conflict == NULL || column_of_table(q.on_conflict));
        data_query_free(&q);
    } else {
        REQUIRE(e.code[0] != '\0' && e.msg[0] != '\0');
        REQUIRE(memchr(e.msg, '\0', sizeof e.msg) != NULL);
        REQUIRE(q.nfilters == 0 && q.norder == 0 && q.ngroups == 0 && q.nselect == 0);
    }
    free(qs);
    return 0;
}
