/*
 * Unit tests of the data plugin's full-text queries for FTS5 and MySQL's
 * boolean mode (data_fts.c) and the SQL that runs them (data_sql.c): the
 * words of the text become quoted phrases, so operators in the text are
 * only separators.
 */
#include <check.h>
#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_fts.h"
#include "data_query.h"
#include "data_schema.h"
#include "data_sql.h"

/* The groups of a query as "all|none;all|none", "-" for NULL. */
static void show(data_op_t op, const char *text, data_dialect_t d, char *out, size_t size)
{
    data_fts_t q;
    size_t n = 0;
    ck_assert_int_eq(data_fts_build(&q, op, text, strlen(text), d), PH_OK);
    out[0] = '\0';
    for (size_t i = 0; i < q.ngroups; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%s|%s", i ? ";" : "", q.groups[i].all ? q.groups[i].all : "-",
                              q.groups[i].none ? q.groups[i].none : "-");
    data_fts_free(&q);
}

START_TEST(fts5_queries)
{
    static const struct { data_op_t op; const char *text, *want; } cases[] = {
        {DATA_OP_FTS, "fat & rat", "\"fat\" AND \"rat\"|-"},
        {DATA_OP_PLFTS, "NEAR(a b) OR c*", "\"NEAR\" AND \"a\" AND \"b\" AND \"OR\" AND \"c\"|-"},
        {DATA_OP_PLFTS, "col:x {col}:y ^z", "\"col\" AND \"x\" AND \"col\" AND \"y\" AND \"z\"|-"},
        {DATA_OP_PLFTS, "\"\"\" ' * ( ) -", ""},
        {DATA_OP_PLFTS, "", ""},
        {DATA_OP_PHFTS, "the \"fat\" rat's", "\"the fat rat s\"|-"},
        {DATA_OP_PLFTS, "caf\xc3\xa9 na\xc3\xafve", "\"caf\xc3\xa9\" AND \"na\xc3\xafve\"|-"},
        {DATA_OP_WFTS, "a \"b c\" -d or e -\"f g\"", "\"a\" AND \"b c\"|\"d\";\"e\"|\"f g\""},
        {DATA_OP_WFTS, "or a or or OR b or", "\"a\"|-;\"b\"|-"},
        {DATA_OP_WFTS, "-x", "-|\"x\""},
        {DATA_OP_WFTS, "a -", "\"a\"|-"},
        {DATA_OP_WFTS, "\"unterminated phrase", "\"unterminated phrase\"|-"},
        {DATA_OP_WFTS, "-or a-b", "\"a b\"|\"or\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[512];
        show(cases[i].op, cases[i].text, DATA_DIALECT_SQLITE, got, sizeof got);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s: %s", cases[i].text, got);
    }
}
END_TEST

START_TEST(boolean_mode_queries)
{
    static const struct { data_op_t op; const char *text, *want; } cases[] = {
        {DATA_OP_PLFTS, "+a -b <c >d ~e f* @3 (g)", "+\"a\" +\"b\" +\"c\" +\"d\" +\"e\" +\"f\" +\"3\" +\"g\"|-"},
        {DATA_OP_PHFTS, "a \"b\" c", "+\"a b c\"|-"},
        {DATA_OP_WFTS, "a -b or \"c d\"", "+\"a\"|\"b\";+\"c d\"|-"},
        {DATA_OP_WFTS, "-b -c", "-|\"b\" \"c\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[512];
        show(cases[i].op, cases[i].text, DATA_DIALECT_MYSQL, got, sizeof got);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s: %s", cases[i].text, got);
    }
}
END_TEST

static data_schema_t schema;

static const data_table_t *table(const char *index)
{
    char err[128];
    memset(&schema, 0, sizeof schema);
    data_table_t *t = data_schema_add_table(&schema, "notes");
    ck_assert_ptr_nonnull(t);
    data_table_add_column(t, "id", "integer", DATA_TYPE_INTEGER, true, true, true);
    data_table_add_column(t, "body", "text", DATA_TYPE_TEXT, false, false, false);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    if (index)
        ck_assert_int_eq(data_table_set_fts(t, "body", index), PH_OK);
    return &schema.tables[0];
}

/* The WHERE clause of qs on notes, or the error's code and message. */
static void where_of(const char *qs, data_dialect_t d, const char *index, char *out, size_t size)
{
    const data_table_t *t = table(index);
    data_query_t q;
    data_qerr_t e = {0};
    if (data_query_parse(t, d, qs, strlen(qs), 10, &q, &e) != PH_OK) {
        snprintf(out, size, "%s %s", e.code, e.msg);
        data_schema_free(&schema);
        return;
    }
    data_stmt_t st = DATA_STMT_INIT(d);
    ck_assert_int_eq(data_sql_count(&st, t, &q), PH_OK);
    const char *w = strstr(st.sql, " WHERE ");
    snprintf(out, size, "%s", w ? w + 7 : "");
    for (size_t i = 0; i < st.nparams; i++) {
        size_t n = strlen(out);
        snprintf(out + n, size - n, " [%s]", st.params[i].ptr);
    }
    data_stmt_free(&st);
    data_query_free(&q);
    data_schema_free(&schema);
}

START_TEST(sql_through_the_index)
{
    char got[1024];
    where_of("body=wfts.a -b or c", DATA_DIALECT_SQLITE, "notes_fts", got, sizeof got);
    ck_assert_str_eq(got, "(CASE WHEN \"body\" IS NULL THEN NULL ELSE ((rowid IN (SELECT rowid FROM "
                          "\"notes_fts\" WHERE \"notes_fts\".\"body\" MATCH ?1) AND NOT rowid IN (SELECT rowid "
                          "FROM \"notes_fts\" WHERE \"notes_fts\".\"body\" MATCH ?2)) OR (rowid IN (SELECT rowid "
                          "FROM \"notes_fts\" WHERE \"notes_fts\".\"body\" MATCH ?3))) END) [\"a\"] [\"b\"] [\"c\"]");
    where_of("body=not.phfts(english).a b", DATA_DIALECT_MYSQL, "ft_body", got, sizeof got);
    ck_assert_str_eq(got, "NOT (CASE WHEN `body` IS NULL THEN NULL ELSE (MATCH(`body`) AGAINST(? IN BOOLEAN "
                          "MODE)) END) [+\"a b\"]");
    /* Alternatives nest as a balanced tree: four are two levels deep. */
    where_of("body=wfts.a or b or c or d", DATA_DIALECT_MYSQL, "ft_body", got, sizeof got);
    ck_assert_msg(strstr(got, "ELSE (((MATCH(`body`) AGAINST(? IN BOOLEAN MODE)) OR (MATCH(`body`) AGAINST(? IN "
                              "BOOLEAN MODE))) OR ((MATCH") != NULL, "%s", got);
    where_of("body=plfts.*", DATA_DIALECT_SQLITE, "notes_fts", got, sizeof got);
    ck_assert_str_eq(got, "(CASE WHEN \"body\" IS NULL THEN NULL ELSE (1 = 0) END)");
    where_of("body=fts.a", DATA_DIALECT_SQLITE, NULL, got, sizeof got);
    ck_assert_msg(strstr(got, "PGRST100") == got && strstr(got, "\"body\"") && strstr(got, "FTS5"), "%s", got);
    where_of("or=(body.wfts.a)", DATA_DIALECT_MYSQL, NULL, got, sizeof got);
    ck_assert_msg(strstr(got, "PGRST100") == got && strstr(got, "FULLTEXT"), "%s", got);
}
END_TEST

static Suite *fts_suite(void)
{
    Suite *s = suite_create("data_fts");
    TCase *t = tcase_create("fts");
    tcase_add_test(t, fts5_queries);
    tcase_add_test(t, boolean_mode_queries);
    tcase_add_test(t, sql_through_the_index);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
