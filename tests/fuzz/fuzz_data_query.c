/*
 * libFuzzer harness for plugins/data/data_query.c: the query string of
 * GET /api/<table> (filters, order, limit, offset), parsed against a fixed
 * table with one column of every type class.
 *
 * The input is the raw query string, copied to an exact-size buffer.
 * Properties checked on success: limit within 0..max_rows, offset >= 0,
 * every filter and sort key points at a column of the table, LIKE only on
 * text, TEXT values are valid UTF-8 and NUL-terminated. On failure: an
 * error message and an empty query. Leaks are caught by LeakSanitizer.
 */
#include "data_query.h"

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
    table = &schema.tables[0];
}

static bool column_of_table(const data_column_t *c)
{
    return c != NULL && c >= table->cols && c < table->cols + table->ncols;
}

static void check_value(const data_filter_t *f)
{
    const data_value_t *v = &f->value;

    if (f->op == DATA_OP_LIKE)
        REQUIRE(f->col->type == DATA_TYPE_TEXT || f->col->type == DATA_TYPE_ANY);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    data_query_t q;
    char *qs;
    size_t i;

    if (table == NULL)
        setup();
    qs = malloc(size ? size : 1);
    memcpy(qs, data, size);
    memset(&q, 0xa5, sizeof q); /* the parser must set every field */
    if (data_query_parse(table, size ? qs : NULL, size, MAX_ROWS, &q, err, sizeof err) == PH_OK) {
        REQUIRE(q.limit >= 0 && q.limit <= MAX_ROWS && q.offset >= 0);
        REQUIRE(q.nfilters == 0 || q.filters != NULL);
        REQUIRE(q.norder == 0 || q.order != NULL);
        for (i = 0; i < q.nfilters; i++) {
            REQUIRE(column_of_table(q.filters[i].col));
            REQUIRE(q.filters[i].op >= DATA_OP_EQ && q.filters[i].op <= DATA_OP_LIKE);
            check_value(&q.filters[i]);
        }
        for (i = 0; i < q.norder; i++)
            REQUIRE(column_of_table(q.order[i].col));
        data_query_free(&q);
    } else {
        REQUIRE(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        REQUIRE(q.nfilters == 0 && q.norder == 0);
    }
    free(qs);
    return 0;
}
