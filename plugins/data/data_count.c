/* Planned and estimated totals: see data_count.h. */
#include "data_count.h"

#include <inttypes.h>
#include <math.h>
#include <plughttpd/plugin.h>
#include <stdio.h>

#include "data_num.h"
#include "data_prefer.h"

data_count_mode_t data_count_mode(const char *prefer, size_t len)
{
    if (data_prefer_has(prefer, len, "count=exact"))
        return DATA_COUNT_EXACT;
    if (data_prefer_has(prefer, len, "count=planned"))
        return DATA_COUNT_PLANNED;
    if (data_prefer_has(prefer, len, "count=estimated"))
        return DATA_COUNT_ESTIMATED;
    return DATA_COUNT_NONE;
}

bool data_count_has_plan(data_dialect_t d)
{
    return d != DATA_DIALECT_SQLITE;
}

int data_count_plan_sql(data_stmt_t *st, const data_table_t *t, const data_query_t *q)
{
    data_stmt_puts(st, st->dialect == DATA_DIALECT_PG ? "EXPLAIN (FORMAT JSON) " : "EXPLAIN FORMAT=JSON ");
    return data_sql_matching(st, t, q);
}

int data_count_capped_sql(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int64_t cap)
{
    char limit[48];
    /* count is an alias every dialect takes unquoted; the derived table
     * must be named on PostgreSQL and MySQL */
    data_stmt_puts(st, "SELECT count(*) AS count FROM (");
    data_sql_matching(st, t, q);
    snprintf(limit, sizeof limit, " LIMIT %" PRId64 ") AS capped", cap + 1);
    return data_stmt_puts(st, limit);
}

static bool figure(double v, int64_t *rows)
{
    if (!isfinite(v) || v > 9e18)
        return false;
    *rows = v < 0 ? 0 : (int64_t)(v + 0.5);
    return true;
}

/* [{"Plan": {"Plan Rows": N, ...}}]: the top node's estimate. */
static bool pg_rows(const json_t *plan, int64_t *rows)
{
    const json_t *n = json_object_get(json_object_get(json_array_get(plan, 0), "Plan"), "Plan Rows");
    return json_is_number(n) && figure(json_number_value(n), rows);
}

/* One table of a MySQL plan: "rows" it reads times "filtered" percent
 * of them kept (100 when not given). */
static bool my_table(const json_t *t, double *rows)
{
    const json_t *n = json_object_get(t, "rows"), *f = json_object_get(t, "filtered");
    if (!json_is_number(n))
        return false;
    *rows = json_number_value(n) * (json_is_number(f) ? json_number_value(f) / 100.0 : 1.0);
    return true;
}

/* {"query_block": {"table": {...}}} or {"query_block": {"nested_loop":
 * [{"table": {...}}, ...]}}: the rows the join yields, the product of
 * its tables'. */
static bool my_rows(const json_t *plan, int64_t *rows)
{
    const json_t *qb = json_object_get(plan, "query_block");
    const json_t *loop = json_object_get(qb, "nested_loop");
    double total = 1, r;
    if (json_is_object(json_object_get(qb, "table")))
        return my_table(json_object_get(qb, "table"), &r) && figure(r, rows);
    if (!json_is_array(loop) || json_array_size(loop) == 0)
        return false;
    for (size_t i = 0; i < json_array_size(loop); i++) {
        if (!my_table(json_object_get(json_array_get(loop, i), "table"), &r))
            return false;
        total *= r;
    }
    return figure(total, rows);
}

bool data_count_plan_rows(data_dialect_t d, const json_t *row, int64_t *rows)
{
    const json_t *v = json_object_get(row, d == DATA_DIALECT_PG ? "QUERY PLAN" : "EXPLAIN");
    const char *text;
    size_t len;
    /* the plan's JSON text: a raw value (data_num.h), as backends keep
     * JSON the database built, or a string */
    if (!data_num_is_raw(v, &text, &len)) {
        text = json_string_value(v);
        len = json_string_length(v);
    }
    json_t *parsed = text != NULL ? json_loadb(text, len, 0, NULL) : NULL;
    const json_t *plan = parsed ? parsed : v;
    bool ok = plan != NULL && (d == DATA_DIALECT_PG ? pg_rows(plan, rows) : my_rows(plan, rows));
    json_decref(parsed);
    return ok;
}
