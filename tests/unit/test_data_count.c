/*
 * Unit tests of the planned and estimated totals (data_count.c): which
 * count a Prefer asks for, the statements asking the planner and counting
 * up to a cap, the reading of PostgreSQL's and MariaDB's plans; and of
 * the SQLite trigger reader (data_sqlite_view.c).
 */
#include <check.h>
#include <jansson.h>
#include <plughttpd/plugin.h>
#include <stdlib.h>
#include <string.h>

#include "data_conf.h"
#include "data_count.h"
#include "data_num.h"
#include "data_sqlite_view.h"

static data_count_mode_t mode(const char *prefer)
{
    return data_count_mode(prefer, prefer ? strlen(prefer) : 0);
}

START_TEST(prefer_picks_the_count)
{
    ck_assert_int_eq(mode(NULL), DATA_COUNT_NONE);
    ck_assert_int_eq(mode("return=minimal"), DATA_COUNT_NONE);
    ck_assert_int_eq(mode("count=planned"), DATA_COUNT_PLANNED);
    ck_assert_int_eq(mode("return=minimal, COUNT=Estimated"), DATA_COUNT_ESTIMATED);
    ck_assert_int_eq(mode("count=estimated,count=planned"), DATA_COUNT_PLANNED);
    ck_assert_int_eq(mode("count=planned, count=exact"), DATA_COUNT_EXACT);
    ck_assert_int_eq(mode("count=plannedx"), DATA_COUNT_NONE);
}
END_TEST

/* books(id INTEGER PK, year INTEGER), the query "year=gt.2000". */
static void with_books(data_dialect_t d, void (*check)(const data_table_t *, const data_query_t *, data_dialect_t))
{
    data_schema_t schema = {0};
    data_query_t q;
    data_qerr_t e = {0};
    char err[128];
    data_table_t *t = data_schema_add_table(&schema, "books");
    ck_assert_ptr_nonnull(t);
    data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true);
    data_table_add_column(t, "year", "INTEGER", DATA_TYPE_INTEGER, false, false, false);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    ck_assert_int_eq(data_query_parse(&schema.tables[0], d, "year=gt.2000", 12, 1000, &q, &e), PH_OK);
    check(&schema.tables[0], &q, d);
    data_query_free(&q);
    data_schema_free(&schema);
}

static void check_sql(const data_table_t *t, const data_query_t *q, data_dialect_t d)
{
    data_stmt_t plan = DATA_STMT_INIT(d), capped = DATA_STMT_INIT(d);
    ck_assert_int_eq(data_count_plan_sql(&plan, t, q), PH_OK);
    ck_assert_int_eq(data_count_capped_sql(&capped, t, q, 1000), PH_OK);
    if (d == DATA_DIALECT_PG) {
        ck_assert_str_eq(plan.sql, "EXPLAIN (FORMAT JSON) SELECT 1 FROM \"books\" WHERE (\"year\" > $1)");
        ck_assert_str_eq(capped.sql, "SELECT count(*) AS count FROM (SELECT 1 FROM \"books\" WHERE "
                                     "(\"year\" > $1) LIMIT 1001) AS capped");
    } else {
        ck_assert_str_eq(plan.sql, "EXPLAIN FORMAT=JSON SELECT 1 FROM `books` WHERE (`year` > ?)");
        ck_assert_str_eq(capped.sql, "SELECT count(*) AS count FROM (SELECT 1 FROM `books` WHERE "
                                     "(`year` > ?) LIMIT 1001) AS capped");
    }
    ck_assert_uint_eq(plan.nparams, 1);
    ck_assert_uint_eq(capped.nparams, 1);
    data_stmt_free(&plan);
    data_stmt_free(&capped);
}

START_TEST(statements_ask_the_planner_and_count_up_to_the_cap)
{
    ck_assert(!data_count_has_plan(DATA_DIALECT_SQLITE));
    ck_assert(data_count_has_plan(DATA_DIALECT_PG));
    ck_assert(data_count_has_plan(DATA_DIALECT_MYSQL));
    with_books(DATA_DIALECT_PG, check_sql);
    with_books(DATA_DIALECT_MYSQL, check_sql);
}
END_TEST

/* The estimate read from {key: text} (raw: as a raw JSON value), or -2
 * when the plan has no figure. */
static long long plan_rows(data_dialect_t d, const char *key, const char *text, bool raw)
{
    json_t *row = json_object();
    json_object_set_new(row, key, raw ? data_num_raw_json(text, strlen(text)) : json_string(text));
    int64_t n = -1;
    bool ok = data_count_plan_rows(d, row, &n);
    json_decref(row);
    return ok ? (long long)n : -2;
}

START_TEST(plans_give_their_row_estimate)
{
    const char *pg = "[{\"Plan\": {\"Node Type\": \"Seq Scan\", \"Plan Rows\": 377, \"Plan Width\": 4}}]";
    ck_assert_int_eq(plan_rows(DATA_DIALECT_PG, "QUERY PLAN", pg, true), 377);
    ck_assert_int_eq(plan_rows(DATA_DIALECT_PG, "QUERY PLAN", pg, false), 377);
    ck_assert_int_eq(plan_rows(DATA_DIALECT_PG, "EXPLAIN", pg, true), -2);
    ck_assert_int_eq(plan_rows(DATA_DIALECT_PG, "QUERY PLAN", "[{\"Plan\": {}}]", true), -2);
    ck_assert_int_eq(plan_rows(DATA_DIALECT_PG, "QUERY PLAN", "not json", false), -2);

    ck_assert_int_eq(plan_rows(DATA_DIALECT_MYSQL, "EXPLAIN", "{\"query_block\": {\"select_id\": 1, "
                               "\"table\": {\"table_name\": \"books\", \"rows\": 1000, \"filtered\": 33.33}}}",
                               false), 333);
    ck_assert_int_eq(plan_rows(DATA_DIALECT_MYSQL, "EXPLAIN", "{\"query_block\": {\"nested_loop\": ["
                               "{\"table\": {\"rows\": 10, \"filtered\": 50}}, {\"table\": {\"rows\": 3}}]}}",
                               false), 15);
    ck_assert_int_eq(plan_rows(DATA_DIALECT_MYSQL, "EXPLAIN", "{\"query_block\": {\"select_id\": 1, "
                               "\"table\": {\"message\": \"Impossible WHERE\"}}}", false), -2);
    ck_assert_int_eq(plan_rows(DATA_DIALECT_MYSQL, "EXPLAIN", "{\"query_block\": {\"nested_loop\": []}}",
                               false), -2);
}
END_TEST

START_TEST(triggers_name_the_write_they_stand_for)
{
    ck_assert_uint_eq(data_sqlite_view_trigger("CREATE TRIGGER t INSTEAD OF INSERT ON v BEGIN SELECT 1; END"),
                      DATA_M_POST);
    ck_assert_uint_eq(data_sqlite_view_trigger("create trigger if not exists t instead   of\n update of a, b "
                                               "on v begin select 1; end"), DATA_M_PATCH);
    ck_assert_uint_eq(data_sqlite_view_trigger("CREATE TEMP TRIGGER \"instead of insert\" -- INSTEAD OF INSERT\n"
                                               " /* INSTEAD OF UPDATE */ INSTEAD OF DELETE ON v BEGIN END"),
                      DATA_M_DELETE);
    /* not a view's trigger, or INSTEAD only in the body */
    ck_assert_uint_eq(data_sqlite_view_trigger("CREATE TRIGGER t AFTER INSERT ON b BEGIN "
                                               "SELECT 'INSTEAD OF DELETE'; END"), 0);
    ck_assert_uint_eq(data_sqlite_view_trigger("CREATE TRIGGER [instead] INSTEADOF INSERT"), 0);
    ck_assert_uint_eq(data_sqlite_view_trigger(NULL), 0);
    ck_assert_uint_eq(data_sqlite_view_trigger("CREATE TRIGGER t INSTEAD OF"), 0);
}
END_TEST

static Suite *count_suite(void)
{
    Suite *s = suite_create("data_count");
    TCase *t = tcase_create("count");
    tcase_add_test(t, prefer_picks_the_count);
    tcase_add_test(t, statements_ask_the_planner_and_count_up_to_the_cap);
    tcase_add_test(t, plans_give_their_row_estimate);
    tcase_add_test(t, triggers_name_the_write_they_stand_for);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(count_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
