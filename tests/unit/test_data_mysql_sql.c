/*
 * Unit tests of the data plugin's MySQL/MariaDB pure parts: the URI
 * parser (data_myuri.c) and the MySQL dialect of data_sql.c (quoting,
 * placeholders, ilike, NULL placement, upserts, the update plan).
 */
#include <check.h>
#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_myuri.h"
#include "data_query.h"
#include "data_schema.h"
#include "data_sql.h"

static data_schema_t schema;
static const data_table_t *notes;

static void setup(void)
{
    char err[128];
    memset(&schema, 0, sizeof schema);
    data_table_t *t = data_schema_add_table(&schema, "no`tes");
    ck_assert_ptr_nonnull(t);
    data_table_add_column(t, "id", "bigint(20)", DATA_TYPE_INTEGER, true, true, true);
    data_table_add_column(t, "title", "text", DATA_TYPE_TEXT, true, false, false);
    data_table_add_column(t, "body", "text", DATA_TYPE_TEXT, false, false, false);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    notes = &schema.tables[0];
}

static void teardown(void)
{
    data_schema_free(&schema);
}

START_TEST(uri_parts_are_decoded)
{
    data_myuri_t u;
    char err[160];
    ck_assert_int_eq(data_myuri_parse("mysql://ph:p%40ss%3Aw%2Frd@db.example:3307/app%20x?socket=/run/my%20sql.sock",
                                      &u, err, sizeof err), PH_OK);
    ck_assert_str_eq(u.user, "ph");
    ck_assert_str_eq(u.password, "p@ss:w/rd");
    ck_assert_str_eq(u.host, "db.example");
    ck_assert_uint_eq(u.port, 3307);
    ck_assert_str_eq(u.database, "app x");
    ck_assert_str_eq(u.socket, "/run/my sql.sock");
    data_myuri_free(&u);

    ck_assert_int_eq(data_myuri_parse("mariadb://[::1]:3306/d", &u, err, sizeof err), PH_OK);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_ptr_null(u.user);
    ck_assert_ptr_null(u.password);
    data_myuri_free(&u);

    ck_assert_int_eq(data_myuri_parse("mysql://app@/d", &u, err, sizeof err), PH_OK);
    ck_assert_ptr_null(u.host);
    ck_assert_uint_eq(u.port, 0);
    data_myuri_free(&u);
}
END_TEST

START_TEST(bad_uris_are_refused)
{
    static const char *const bad[] = {
        "mysql://h",            "mysql://h/",          "mysql://h:0/d",      "mysql://h:65536/d",
        "mysql://h:/d",         "mysql://h:12x/d",     "mysql://[::1/d",     "mysql://[::1]x/d",
        "mysql://:pw@h/d",      "mysql://u:%zz@h/d",   "mysql://u:%00@h/d",  "mysql://h/d?sockt=/x",
        "mysql://h/d?socket=",  "mysql://h/d?socket=/a&socket=/b",       "mysql://h/%4",
        "postgresql://h/d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        data_myuri_t u;
        char err[160] = "";
        ck_assert_msg(data_myuri_parse(bad[i], &u, err, sizeof err) == PH_ERROR, "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for %s", bad[i]);
        ck_assert_ptr_null(u.user);
        ck_assert_ptr_null(u.database);
    }
    data_myuri_t u;
    char err[160];
    ck_assert_int_eq(data_myuri_parse("mysql://u:secret%zz@h/d", &u, err, sizeof err), PH_ERROR);
    ck_assert_ptr_null(strstr(err, "secret")); /* the password stays out of messages */
}
END_TEST

static void select_sql(const char *qs, char *out, size_t size)
{
    data_query_t q;
    data_qerr_t e;
    ck_assert_int_eq(data_query_parse(notes, DATA_DIALECT_MYSQL, qs, strlen(qs), 1000, &q, &e), PH_OK);
    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_MYSQL);
    ck_assert_int_eq(data_sql_select(&st, notes, &q), PH_OK);
    snprintf(out, size, "%s", st.sql);
    data_stmt_free(&st);
    data_query_free(&q);
}

START_TEST(select_in_mysql_dialect)
{
    char sql[1024];
    select_sql("select=id,t:title::text&title=ilike.*X*&body=is.null&order=body.desc,title.asc.nullsfirst",
               sql, sizeof sql);
    ck_assert_str_eq(sql, "SELECT `id` AS `id`, CAST(`title` AS CHAR) AS `t` FROM `no``tes`"
                          " WHERE (LOWER(`title`) LIKE LOWER(?)) AND (`body` IS NULL)"
                          " ORDER BY `body` IS NULL DESC, `body` DESC, `title` IS NULL DESC, `title` ASC,"
                          " `id` ASC LIMIT ? OFFSET ?");
    select_sql("order=body", sql, sizeof sql);
    ck_assert_ptr_nonnull(strstr(sql, "ORDER BY `body` IS NULL ASC, `body` ASC, `id` ASC"));

    data_query_t q;
    data_qerr_t e;
    ck_assert_int_eq(data_query_parse(notes, DATA_DIALECT_MYSQL, "select=id::numeric", 18, 1000, &q, &e),
                     PH_ERROR); /* CAST AS DECIMAL would round: not offered */
}
END_TEST

START_TEST(upserts_in_mysql_dialect)
{
    data_value_t vals[2] = {{.kind = DATA_VALUE_INT, .i = 1}, {.kind = DATA_VALUE_NULL}};
    const data_column_t *cols[2] = {&notes->cols[0], &notes->cols[1]};
    data_rows_t rows = {.cols = cols, .ncols = 2, .vals = vals, .nrows = 1};
    data_query_t q = {0};

    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_MYSQL);
    ck_assert_int_eq(data_sql_insert_rows(&st, notes, &rows, DATA_CONFLICT_MERGE, NULL, &q), PH_OK);
    ck_assert_str_eq(st.sql, "INSERT INTO `no``tes` (`id`, `title`) VALUES (?, ?)"
                             " ON DUPLICATE KEY UPDATE `title` = VALUES(`title`)"
                             " RETURNING `id`, `title`, `body`");
    ck_assert_uint_eq(st.nparams, 2);
    data_stmt_free(&st);

    /* Nothing to merge but the key: the row is skipped, as DO NOTHING does. */
    rows.ncols = 1;
    st = (data_stmt_t)DATA_STMT_INIT(DATA_DIALECT_MYSQL);
    ck_assert_int_eq(data_sql_insert_rows(&st, notes, &rows, DATA_CONFLICT_MERGE, NULL, &q), PH_OK);
    ck_assert_str_eq(st.sql, "INSERT IGNORE INTO `no``tes` (`id`) VALUES (?) RETURNING `id`, `title`, `body`");
    data_stmt_free(&st);

    rows.ncols = 0;
    st = (data_stmt_t)DATA_STMT_INIT(DATA_DIALECT_MYSQL);
    ck_assert_int_eq(data_sql_insert_rows(&st, notes, &rows, DATA_CONFLICT_ERROR, NULL, &q), PH_OK);
    ck_assert_str_eq(st.sql, "INSERT INTO `no``tes` () VALUES () RETURNING `id`, `title`, `body`");
    data_stmt_free(&st);
}
END_TEST

START_TEST(update_is_a_plan)
{
    data_query_t q;
    data_qerr_t e;
    ck_assert_int_eq(data_query_parse(notes, DATA_DIALECT_MYSQL, "select=title&body=eq.x", 22, 1000, &q, &e),
                     PH_OK);
    data_assign_t a[2] = {{.col = &notes->cols[2], .value = {.kind = DATA_VALUE_NULL}},
                          {.col = &notes->cols[0], .value = {.kind = DATA_VALUE_INT, .i = 9}}};
    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_MYSQL);
    ck_assert_int_eq(data_sql_update_where(&st, notes, a, 2, &q), PH_OK);
    ck_assert_str_eq(st.sql, "SELECT `id` FROM `no``tes` WHERE (`body` = ?) FOR UPDATE");
    ck_assert_uint_eq(st.nparams, 1);
    ck_assert_ptr_nonnull(st.then);
    ck_assert_str_eq(st.then->sql, "UPDATE `no``tes` SET `body` = ?, `id` = ? WHERE `id` IN ");
    ck_assert_uint_eq(st.then->nparams, 2);
    ck_assert_int_eq(st.key_param, 1); /* the rows are read back by their new key */
    ck_assert_ptr_nonnull(st.then->then);
    ck_assert_str_eq(st.then->then->sql, "SELECT `title` AS `title` FROM `no``tes` WHERE `id` IN ");
    data_stmt_free(&st);
    ck_assert_ptr_null(st.then);
    data_query_free(&q);

    data_value_t id = {.kind = DATA_VALUE_INT, .i = 3};
    st = (data_stmt_t)DATA_STMT_INIT(DATA_DIALECT_MYSQL);
    ck_assert_int_eq(data_sql_update(&st, notes, a, 1, &id), PH_OK);
    ck_assert_str_eq(st.sql, "SELECT `id` FROM `no``tes` WHERE `id` = ? FOR UPDATE");
    ck_assert_int_eq(st.key_param, -1);
    ck_assert_str_eq(st.then->then->sql, "SELECT `id`, `title`, `body` FROM `no``tes` WHERE `id` IN ");
    data_stmt_free(&st);
}
END_TEST

static Suite *mysql_suite(void)
{
    Suite *s = suite_create("data_mysql");
    TCase *u = tcase_create("uri");
    tcase_add_test(u, uri_parts_are_decoded);
    tcase_add_test(u, bad_uris_are_refused);
    suite_add_tcase(s, u);
    TCase *sql = tcase_create("sql");
    tcase_add_checked_fixture(sql, setup, teardown);
    tcase_add_test(sql, select_in_mysql_dialect);
    tcase_add_test(sql, upserts_in_mysql_dialect);
    tcase_add_test(sql, update_is_a_plan);
    suite_add_tcase(s, sql);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mysql_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
