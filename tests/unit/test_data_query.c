/*
 * Unit tests of the data plugin's pure parts: query-string parsing, SQL
 * text, typed values, JSON conversion and route keys. Hostile names and
 * values must never reach SQL text: they are refused or become parameters.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h" /* server/: the parsers the API offers plugins */
#include "data_conf.h"
#include "data_cors.h"
#include "data_csv.h"
#include "data_json.h"
#include "data_prefer.h"
#include "data_query.h"
#include "data_rpc.h"
#include "data_schema.h"
#include "data_sql.h"
#include "data_value.h"

static data_schema_t schema;
static const data_table_t *notes;

/* notes(id INTEGER PK, title TEXT NOT NULL, body TEXT, score REAL,
 *       done BOOLEAN, data BLOB, created_at TEXT default) */
static void setup(void)
{
    char err[128];
    memset(&schema, 0, sizeof schema);
    data_table_t *t = data_schema_add_table(&schema, "notes");
    ck_assert_ptr_nonnull(t);
    data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true);
    data_table_add_column(t, "title", "TEXT", DATA_TYPE_TEXT, true, false, false);
    data_table_add_column(t, "body", "TEXT", DATA_TYPE_TEXT, false, false, false);
    data_table_add_column(t, "score", "REAL", DATA_TYPE_REAL, false, false, false);
    data_table_add_column(t, "done", "BOOLEAN", DATA_TYPE_BOOL, false, false, false);
    data_table_add_column(t, "data", "BLOB", DATA_TYPE_BLOB, false, false, false);
    data_table_add_column(t, "created_at", "TEXT", DATA_TYPE_TEXT, true, true, false);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    notes = &schema.tables[0];
}

static void teardown(void)
{
    data_schema_free(&schema);
}

/* Parses qs for SQLite; err (200 bytes) gets "CODE message" on refusal. */
static int parse(const char *qs, data_query_t *q, char *err)
{
    data_qerr_t e = {0};
    int rc = data_query_parse(notes, DATA_DIALECT_SQLITE, qs, strlen(qs), 1000, q, &e);
    snprintf(err, 200, "%.9s %.180s", e.code, e.msg);
    return rc;
}

static void expect_refused(const char *qs, const char *msg_part)
{
    data_query_t q;
    char err[200] = "";
    ck_assert_msg(parse(qs, &q, err) == PH_ERROR, "accepted: %s", qs);
    ck_assert_msg(strstr(err, msg_part) != NULL, "%s: message \"%s\" lacks \"%s\"", qs, err, msg_part);
    ck_assert_uint_eq(q.nfilters, 0);
    ck_assert_ptr_null(q.filters);
}

/* --- query parsing -------------------------------------------------------- */

START_TEST(empty_query_defaults)
{
    data_query_t q;
    data_qerr_t e;
    ck_assert_int_eq(data_query_parse(notes, DATA_DIALECT_SQLITE, NULL, 0, 1000, &q, &e), PH_OK);
    ck_assert_int_eq(q.limit, 1000);
    ck_assert_int_eq(q.offset, 0);
    ck_assert_uint_eq(q.nfilters, 0);
    ck_assert_uint_eq(q.norder, 0);
    data_query_free(&q);
}
END_TEST

START_TEST(limit_offset_order_filters)
{
    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("limit=5&offset=10&order=title.desc,id&title=like.a%25&id=gte.3&&", &q, err), PH_OK);
    ck_assert_int_eq(q.limit, 5);
    ck_assert_int_eq(q.offset, 10);
    ck_assert_uint_eq(q.norder, 2);
    ck_assert_str_eq(q.order[0].col->name, "title");
    ck_assert(q.order[0].desc);
    ck_assert_str_eq(q.order[1].col->name, "id");
    ck_assert(!q.order[1].desc);
    ck_assert_uint_eq(q.nfilters, 2);
    ck_assert_int_eq(q.filters[0].op, DATA_OP_LIKE);
    ck_assert_int_eq(q.filters[0].value.kind, DATA_VALUE_TEXT);
    ck_assert_str_eq(q.filters[0].value.ptr, "a%");
    ck_assert_int_eq(q.filters[1].op, DATA_OP_GTE);
    ck_assert_int_eq(q.filters[1].value.kind, DATA_VALUE_INT);
    ck_assert_int_eq(q.filters[1].value.i, 3);
    data_query_free(&q);
}
END_TEST

START_TEST(every_operator)
{
    static const struct { const char *qs; data_op_t op; const char *sql; } cases[] = {
        {"id=eq.1", DATA_OP_EQ, "="},   {"id=neq.1", DATA_OP_NEQ, "<>"}, {"id=lt.1", DATA_OP_LT, "<"},
        {"id=lte.1", DATA_OP_LTE, "<="}, {"id=gt.1", DATA_OP_GT, ">"},    {"id=gte.1", DATA_OP_GTE, ">="},
        {"body=like.x", DATA_OP_LIKE, "LIKE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        data_query_t q;
        char err[200];
        ck_assert_int_eq(parse(cases[i].qs, &q, err), PH_OK);
        ck_assert_int_eq(q.filters[0].op, cases[i].op);
        ck_assert_str_eq(data_op_sql(q.filters[0].op), cases[i].sql);
        data_query_free(&q);
    }
}
END_TEST

static int sql_of(const char *qs, data_dialect_t d, char *out, size_t size);

/* Modifiers, isdistinct and PostgreSQL's operators: SQL per dialect, and
 * a 400 where the dialect cannot run them. */
START_TEST(operators_per_dialect)
{
    static const struct { const char *qs; data_dialect_t d; const char *where; } cases[] = {
        {"id=eq(any).{1,2}", DATA_DIALECT_SQLITE, " WHERE (\"id\" = ?1 OR \"id\" = ?2) "},
        {"title=like(all).{a*,\"b,c\"}", DATA_DIALECT_PG, " WHERE (\"title\" LIKE $1 AND \"title\" LIKE $2) "},
        {"title=not.ilike(any).{}", DATA_DIALECT_SQLITE, " WHERE NOT (1 = 0) "},
        {"title=eq(all).{}", DATA_DIALECT_PG, " WHERE (1 = 1) "},
        {"body=isdistinct.x", DATA_DIALECT_SQLITE, " WHERE (\"body\" IS NOT ?1) "},
        {"body=isdistinct.x", DATA_DIALECT_PG, " WHERE (\"body\" IS DISTINCT FROM $1) "},
        {"title=match.^a", DATA_DIALECT_PG, " WHERE (\"title\" ~ $1) "},
        {"title=imatch(any).{^a,b$}", DATA_DIALECT_PG, " WHERE (\"title\" ~* $1 OR \"title\" ~* $2) "},
        {"title=fts.cat", DATA_DIALECT_PG, " WHERE (to_tsvector(\"title\") @@ to_tsquery($1)) "},
        {"title=wfts(english).a b", DATA_DIALECT_PG, " WHERE (to_tsvector($1::regconfig, \"title\") @@ "
                                                     "websearch_to_tsquery($2::regconfig, $3)) "},
        {"or=(title.phfts.x,title.plfts(french).y)", DATA_DIALECT_PG,
         " WHERE ((to_tsvector(\"title\") @@ phraseto_tsquery($1)) OR (to_tsvector($2::regconfig, \"title\")"
         " @@ plainto_tsquery($3::regconfig, $4))) "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char sql[1024];
        ck_assert_msg(sql_of(cases[i].qs, cases[i].d, sql, sizeof sql) == PH_OK, "refused: %s", cases[i].qs);
        ck_assert_msg(strstr(sql, cases[i].where) != NULL, "%s: %s", cases[i].qs, sql);
    }
    static const struct { const char *qs; data_dialect_t d; const char *msg; } bad[] = {
        {"title=match.a", DATA_DIALECT_SQLITE, "PostgreSQL"},
        {"or=(title.imatch.a)", DATA_DIALECT_SQLITE, "PostgreSQL"},
        {"title=fts.a", DATA_DIALECT_SQLITE, "full-text index"},
        {"title=cs.{a}", DATA_DIALECT_PG, "array, jsonb or range"},
        {"id=sl.[1,2)", DATA_DIALECT_PG, "need a PostgreSQL range column"},
        {"or=(title.not.adj.x)", DATA_DIALECT_PG, "need a PostgreSQL range column"},
        {"id=nxr(any).{[1,2)}", DATA_DIALECT_PG, "PGRST100"},
        {"title=nxl.x", DATA_DIALECT_SQLITE, "need a PostgreSQL range column"},
        {"id=match.1", DATA_DIALECT_PG, "text column"},
        {"id=is(any).{null}", DATA_DIALECT_PG, "take (any)"},
        {"title=fts(a;b).x", DATA_DIALECT_PG, "language"},
        {"title=eq(any).(a)", DATA_DIALECT_PG, "list"},
        {"title=eq(any).{a", DATA_DIALECT_PG, "unterminated"},
        {"title=eq(any.{a}", DATA_DIALECT_PG, "PGRST100"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        data_query_t q;
        data_qerr_t e = {0};
        char err[300];
        ck_assert_msg(data_query_parse(notes, bad[i].d, bad[i].qs, strlen(bad[i].qs), 1000, &q, &e) == PH_ERROR,
                      "accepted: %s", bad[i].qs);
        snprintf(err, sizeof err, "%s %s", e.code, e.msg);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "%s: %s", bad[i].qs, err);
    }
}
END_TEST

START_TEST(percent_decoding_and_plus)
{
    data_query_t q;
    char err[200];
    /* Name and value are both decoded; "+" is a space; "%2B" a plus. */
    ck_assert_int_eq(parse("%74itle=eq.a+b%2Bc%20%C3%A9", &q, err), PH_OK);
    ck_assert_str_eq(q.filters[0].col->name, "title");
    ck_assert_str_eq(q.filters[0].value.ptr, "a b+c \xC3\xA9");
    data_query_free(&q);
    /* The "." separating op and value can be encoded too. */
    ck_assert_int_eq(parse("title=eq%2Ex.y", &q, err), PH_OK);
    ck_assert_str_eq(q.filters[0].value.ptr, "x.y");
    data_query_free(&q);
}
END_TEST

START_TEST(limit_is_capped)
{
    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("limit=1001", &q, err), PH_OK);
    ck_assert_int_eq(q.limit, 1000);
    data_query_free(&q);
    ck_assert_int_eq(parse("limit=99999999999999999999999999", &q, err), PH_OK);
    ck_assert_int_eq(q.limit, 1000);
    data_query_free(&q);
    ck_assert_int_eq(parse("limit=0", &q, err), PH_OK);
    ck_assert_int_eq(q.limit, 0);
    data_query_free(&q);
}
END_TEST

START_TEST(bad_paging)
{
    expect_refused("limit=-1", "limit");
    expect_refused("limit=abc", "limit");
    expect_refused("limit=", "limit");
    expect_refused("limit=1&limit=2", "twice");
    expect_refused("offset=-5", "offset");
    expect_refused("offset=9223372036854775808", "offset");
    expect_refused("offset=1e3", "offset");
    expect_refused("order=title&order=id", "twice");
    expect_refused("order=", "empty");
    expect_refused("order=title,", "empty");
    expect_refused("order=title.sideways", "order");
    expect_refused("order=nope.asc", "42703");
}
END_TEST

START_TEST(hostile_names_refused)
{
    expect_refused("title;%20DROP%20TABLE%20notes=eq.1", "42703 column notes.");
    expect_refused("%22title%22=eq.1", "42703 column notes.(unprintable)");
    expect_refused("order=id;DROP%20TABLE%20notes", "42703");
    expect_refused("order=%22id%22", "42703");
    expect_refused("nope=eq.1", "42703 column notes.\"nope\" does not exist");
    expect_refused("TITLE=eq.1", "does not exist"); /* names are exact */
    expect_refused("%FF%FE=eq.1", "UTF-8");
    expect_refused("ti%00tle=eq.1", "NUL");
}
END_TEST

START_TEST(hostile_values_become_parameters)
{
    data_query_t q;
    char err[200];
    const char *evil = "x'); DROP TABLE notes; --\"";
    ck_assert_int_eq(parse("title=eq.x%27)%3B%20DROP%20TABLE%20notes%3B%20--%22", &q, err), PH_OK);
    ck_assert_str_eq(q.filters[0].value.ptr, evil);

    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_select(&st, notes, &q), PH_OK);
    ck_assert_ptr_null(strstr(st.sql, "DROP"));
    ck_assert_ptr_null(strstr(st.sql, "'"));
    ck_assert_uint_eq(st.nparams, 3);
    ck_assert_str_eq(st.params[0].ptr, evil);
    data_stmt_free(&st);
    data_query_free(&q);
}
END_TEST

START_TEST(bad_values_refused)
{
    expect_refused("id=eq.abc", "integer");
    expect_refused("id=eq.1.5", "integer");
    expect_refused("id=eq.99999999999999999999", "integer");
    expect_refused("id=eq.", "integer");
    expect_refused("score=gt.1e999", "number");
    expect_refused("score=gt.nan", "number");
    expect_refused("score=gt.0x10", "number");
    expect_refused("done=eq.yes", "true or false");
    expect_refused("data=eq.!!!", "base64");
    expect_refused("title=eq.%FF", "UTF-8");
    expect_refused("title=eq.%C0%AF", "UTF-8"); /* overlong "/" */
    expect_refused("title=eq.%ED%A0%80", "UTF-8"); /* surrogate */
    expect_refused("title=eq.a%00b", "NUL");
    expect_refused("title=eq.%zz", "percent");
    expect_refused("title=eq.%4", "percent");
    expect_refused("title=zz.1", "expected op.value");
    expect_refused("title=eq", "expected op.value");
    expect_refused("title", "without");
    expect_refused("id=like.1", "text column");
}
END_TEST

START_TEST(extreme_integers)
{
    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("id=eq.9223372036854775807&id=neq.-9223372036854775808", &q, err), PH_OK);
    ck_assert_int_eq(q.filters[0].value.i, INT64_MAX);
    ck_assert_int_eq(q.filters[1].value.i, INT64_MIN);
    data_query_free(&q);
    expect_refused("id=eq.9223372036854775808", "integer");
    expect_refused("id=eq.-9223372036854775809", "integer");
}
END_TEST

/* --- embedding ------------------------------------------------------------- */

/* authors(id, name); books(id, title, author_id -> authors, editor_id ->
 * authors, shelf_id -> shelves, which is not exposed); comments(id,
 * book_id -> books, ok BOOLEAN). */
static void embed_schema(data_schema_t *s)
{
    char err[128];
    memset(s, 0, sizeof *s);
    data_table_t *t = data_schema_add_table(s, "authors");
    data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true);
    data_table_add_column(t, "name", "TEXT", DATA_TYPE_TEXT, false, false, false);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    t = data_schema_add_table(s, "books");
    data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true);
    data_table_add_column(t, "title", "TEXT", DATA_TYPE_TEXT, false, false, false);
    data_table_add_column(t, "author_id", "INTEGER", DATA_TYPE_INTEGER, false, false, false);
    data_table_add_column(t, "editor_id", "INTEGER", DATA_TYPE_INTEGER, false, false, false);
    data_table_add_column(t, "shelf_id", "INTEGER", DATA_TYPE_INTEGER, false, false, false);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    ck_assert_int_eq(data_table_add_fk(t, "books_author", "author_id", "authors", NULL), PH_OK);
    ck_assert_int_eq(data_table_add_fk(t, NULL, "editor_id", "authors", "id"), PH_OK);
    ck_assert_int_eq(data_table_add_fk(t, NULL, "shelf_id", "shelves", "id"), PH_OK);
    t = data_schema_add_table(s, "comments");
    data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true);
    data_table_add_column(t, "book_id", "INTEGER", DATA_TYPE_INTEGER, false, false, false);
    data_table_add_column(t, "ok", "BOOLEAN", DATA_TYPE_BOOL, false, false, false);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    ck_assert_int_eq(data_table_add_fk(t, NULL, "book_id", "books", NULL), PH_OK);
    ck_assert_int_eq(data_schema_link(s), PH_OK);
}

static int embed_sql(const data_schema_t *s, const char *table, const char *qs, data_dialect_t d,
                     char *out, size_t size)
{
    data_query_t q;
    data_qerr_t e = {0};
    const data_table_t *t = data_schema_find(s, table, strlen(table));
    int rc = data_query_parse(t, d, qs, strlen(qs), 100, &q, &e);
    if (rc != PH_OK) {
        snprintf(out, size, "%s %s", e.code, e.msg);
        return rc;
    }
    data_stmt_t st = DATA_STMT_INIT(d);
    ck_assert_int_eq(data_sql_select(&st, t, &q), PH_OK);
    snprintf(out, size, "%s", st.sql);
    data_stmt_free(&st);
    data_query_free(&q);
    return PH_OK;
}

START_TEST(embed_relationships_and_sql)
{
    data_schema_t s;
    char sql[2048];
    embed_schema(&s);
    /* books: two keys to authors, one from comments; shelves is not exposed. */
    ck_assert_uint_eq(s.tables[1].nrels, 3);
    ck_assert_uint_eq(s.tables[0].nrels, 2);
    ck_assert_int_eq(embed_sql(&s, "books", "select=id,authors(name)", DATA_DIALECT_SQLITE, sql,
                               sizeof sql), PH_ERROR);
    ck_assert_ptr_nonnull(strstr(sql, "PGRST201"));
    ck_assert_int_eq(embed_sql(&s, "books", "select=id,shelves(id)", DATA_DIALECT_SQLITE, sql,
                               sizeof sql), PH_ERROR);
    ck_assert_ptr_nonnull(strstr(sql, "PGRST200"));
    ck_assert_int_eq(embed_sql(&s, "books", "select=w:authors!books_author(name)", DATA_DIALECT_SQLITE,
                               sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT (SELECT json_object('name', \"_x\".\"name\") FROM (SELECT \"name\" AS "
                          "\"name\" FROM \"authors\" AS \"_e1\" WHERE \"_e1\".\"id\" = \"books\".\"author_id\")"
                          " AS \"_x\") AS \"w\" FROM \"books\" ORDER BY \"id\" ASC LIMIT ?1 OFFSET ?2");
    ck_assert_int_eq(embed_sql(&s, "books", "select=id,comments!inner(ok)&comments.id=eq.3&comments.limit=2"
                               "&comments.order=ok.desc", DATA_DIALECT_SQLITE, sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT \"id\" AS \"id\", (SELECT json_group_array(json_object('ok', CASE WHEN "
                          "\"_x\".\"ok\" IS NULL THEN NULL WHEN \"_x\".\"ok\" THEN json('true') ELSE "
                          "json('false') END)) FROM (SELECT \"ok\" AS \"ok\" FROM \"comments\" AS \"_e1\" "
                          "WHERE \"_e1\".\"book_id\" = \"books\".\"id\" AND (\"id\" = ?1) ORDER BY \"_e1\".\"ok\" "
                          "DESC, \"_e1\".\"id\" ASC LIMIT ?2 OFFSET ?3) AS \"_x\") AS \"comments\" FROM \"books\" "
                          "WHERE EXISTS (SELECT 1 FROM \"comments\" AS \"_e1\" WHERE \"_e1\".\"book_id\" = "
                          "\"books\".\"id\" AND (\"id\" = ?4)) ORDER BY \"id\" ASC LIMIT ?5 OFFSET ?6");
    ck_assert_int_eq(embed_sql(&s, "comments", "select=books(title,authors!editor_id(*))", DATA_DIALECT_PG,
                               sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT (SELECT row_to_json(\"_x\") FROM (SELECT \"title\" AS \"title\", (SELECT "
                          "row_to_json(\"_x\") FROM (SELECT \"id\" AS \"id\", \"name\" AS \"name\" FROM "
                          "\"authors\" AS \"_e2\" WHERE \"_e2\".\"id\" = \"_e1\".\"editor_id\") AS \"_x\") AS "
                          "\"authors\" FROM \"books\" AS \"_e1\" WHERE \"_e1\".\"id\" = \"comments\".\"book_id\")"
                          " AS \"_x\") AS \"books\" FROM \"comments\" ORDER BY \"id\" ASC LIMIT $1 OFFSET $2");
    ck_assert_int_eq(embed_sql(&s, "authors", "select=books!author_id(id)", DATA_DIALECT_PG, sql, sizeof sql),
                     PH_OK);
    ck_assert_ptr_nonnull(strstr(sql, "coalesce(json_agg(\"_x\"), '[]')"));
    /* Bounds and mistakes: refused with a PostgREST code, never SQL. */
    static const struct { const char *table, *qs, *code; } bad[] = {
        {"books", "select=comments(books(comments(books(comments(id)))))", "PGRST100"},
        {"books", "select=comments(id", "PGRST100"},
        {"books", "select=comments(id))", "PGRST100"},
        {"books", "select=comments()", "PGRST100"},
        {"books", "select=comments!inner!x!y(id)", "PGRST100"},
        {"books", "select=comments(id)&comments.nope=eq.1", "42703"},
        {"books", "select=comments(id)&other.id=eq.1", "42703"},
        {"books", "comments.id=eq.1", "42703"}, /* no such embed in the select */
        {"books", "select=comments(id)&comments.id=eq.x", "22P02"},
        {"books", "select=x%27y:comments(id)", "PGRST100"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(embed_sql(&s, bad[i].table, bad[i].qs, DATA_DIALECT_SQLITE, sql, sizeof sql), PH_ERROR);
        ck_assert_msg(strncmp(sql, bad[i].code, strlen(bad[i].code)) == 0, "%s: %s", bad[i].qs, sql);
    }
    data_schema_free(&s);
}
END_TEST

/* MySQL: JSON_OBJECT of the related table's columns (typed: a boolean as
 * JSON true/false, text cast to a string, JSON paths), JSON_ARRAYAGG with the embed's
 * order and paging inside it, aliases in backquotes. */
START_TEST(embed_sql_on_mysql)
{
    data_schema_t s;
    char sql[2048];
    embed_schema(&s);
    ck_assert_int_eq(embed_sql(&s, "books", "select=id,c:comments!inner(ok)&c.id=eq.3&c.limit=2&c.order=ok.desc",
                               DATA_DIALECT_MYSQL, sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT `id` AS `id`, (SELECT COALESCE(JSON_ARRAYAGG(JSON_OBJECT('ok', CASE WHEN "
                          "`_e1`.`ok` IS NULL THEN NULL WHEN `_e1`.`ok` THEN JSON_EXTRACT('true', '$') ELSE "
                          "JSON_EXTRACT('false', '$') END) ORDER BY `_e1`.`ok` IS NULL DESC, `_e1`.`ok` DESC, "
                          "`_e1`.`id` ASC LIMIT ? OFFSET ?), JSON_ARRAY()) FROM `comments` AS `_e1` WHERE "
                          "`_e1`.`book_id` = `books`.`id` AND (`id` = ?)) AS `c` FROM `books` WHERE EXISTS "
                          "(SELECT 1 FROM `comments` AS `_e1` WHERE `_e1`.`book_id` = `books`.`id` AND "
                          "(`id` = ?)) ORDER BY `id` ASC LIMIT ? OFFSET ?");
    ck_assert_int_eq(embed_sql(&s, "comments", "select=books(t:title,authors!editor_id(name))",
                               DATA_DIALECT_MYSQL, sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT (SELECT JSON_OBJECT('t', CAST(`_e1`.`title` AS CHAR), 'authors', (SELECT "
                          "JSON_OBJECT('name', CAST(`_e2`.`name` AS CHAR)) FROM `authors` AS `_e2` WHERE "
                          "`_e2`.`id` = `_e1`.`editor_id`)) FROM `books` AS `_e1` WHERE `_e1`.`id` = "
                          "`comments`.`book_id`) AS `books` FROM `comments` ORDER BY `id` ASC LIMIT ? OFFSET ?");
    /* JSON paths qualified by the embed's alias: "->" nests as
     * JSON_EXTRACT's JSON, "->>" is a string; the path is a parameter. */
    ck_assert_int_eq(embed_sql(&s, "comments", "select=books(title->a,x:title->a->>b)",
                               DATA_DIALECT_MYSQL, sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT (SELECT JSON_OBJECT('a', JSON_EXTRACT(`_e1`.`title`, ?), 'x', "
                          "CAST(JSON_UNQUOTE(JSON_EXTRACT(`_e1`.`title`, ?)) AS CHAR)) FROM `books` AS `_e1` "
                          "WHERE `_e1`.`id` = `comments`.`book_id`) AS `books` FROM `comments` "
                          "ORDER BY `id` ASC LIMIT ? OFFSET ?");
    data_schema_free(&s);
}
END_TEST

/* --- CSV ------------------------------------------------------------------- */

static int csv_put(const char *s, size_t len, void *arg)
{
    char *out = arg;
    size_t have = strlen(out);
    if (have + len >= 512)
        return -1;
    memcpy(out + have, s, len);
    out[have + len] = '\0';
    return 0;
}

START_TEST(csv_out_and_in)
{
    char out[512] = "", err[200];
    json_t *row = json_pack("{s:i, s:s, s:n, s:b, s:[i], s:s}", "id", 7, "title", "a,\"b\"", "body",
                            "done", 1, "score", 2, "created_at", " x");
    ck_assert_int_eq(data_csv_header(notes, csv_put, out), 0);
    ck_assert_int_eq(data_csv_row(notes, row, csv_put, out), 0);
    json_decref(row);
    /* title quoted with its quotes doubled; NULL and absent columns empty;
     * a JSON value as its text; a leading space quoted. */
    ck_assert_str_eq(out, "id,title,body,score,done,data,created_at\n"
                          "7,\"a,\"\"b\"\"\",,[2],true,,\" x\"\n");

    const char *body = "title,body,done\r\nx,NULL,true\n\"y,\"\"z\"\"\",,false\n";
    json_t *rows = data_csv_parse(notes, body, strlen(body), err, sizeof err);
    ck_assert_ptr_nonnull(rows);
    char *text = json_dumps(rows, JSON_COMPACT);
    ck_assert_str_eq(text, "[{\"title\":\"x\",\"body\":null,\"done\":true},"
                           "{\"title\":\"y,\\\"z\\\"\",\"body\":\"\",\"done\":false}]");
    free(text);
    json_decref(rows);
    static const char *const bad[] = {"", "nope\n1\n", "id,id\n1,2\n", "id\nx\n", "id,title\n1\n",
                                      "id\n1,2\n", "title\n\"open\n", "title\n\"a\"b\n", "done\nyes\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(data_csv_parse(notes, bad[i], strlen(bad[i]), err, sizeof err) == NULL, "accepted: %s",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no message: %s", bad[i]);
    }
}
END_TEST

/* --- SQL text --------------------------------------------------------------- */

/* --- PostgREST syntax: select lists, logic trees, in/is, nulls order ------- */

/* SQL text of qs for dialect d into out (size bytes); PH_ERROR when refused. */
static int sql_of(const char *qs, data_dialect_t d, char *out, size_t size)
{
    data_query_t q;
    data_qerr_t e;
    if (data_query_parse(notes, d, qs, strlen(qs), 1000, &q, &e) != PH_OK)
        return PH_ERROR;
    data_stmt_t st = DATA_STMT_INIT(d);
    ck_assert_int_eq(data_sql_select(&st, notes, &q), PH_OK);
    snprintf(out, size, "%s", st.sql);
    data_stmt_free(&st);
    data_query_free(&q);
    return PH_OK;
}

START_TEST(select_list_alias_cast)
{
    char sql[1024];
    ck_assert_int_eq(sql_of("select=heading:title,id::text,score", DATA_DIALECT_SQLITE, sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT \"title\" AS \"heading\", CAST(\"id\" AS TEXT) AS \"id\", \"score\" AS \"score\""
                          " FROM \"notes\" ORDER BY \"id\" ASC LIMIT ?1 OFFSET ?2");
    ck_assert_int_eq(sql_of("select=id::float8", DATA_DIALECT_PG, sql, sizeof sql), PH_OK);
    ck_assert_ptr_nonnull(strstr(sql, "CAST(\"id\" AS double precision) AS \"id\""));

    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("select=*,t:title", &q, err), PH_OK);
    ck_assert_uint_eq(q.nselect, notes->ncols + 1);
    ck_assert_str_eq(q.select[notes->ncols].alias, "t");
    data_schema_t shape;
    ck_assert_int_eq(data_query_shape(&q, notes, &shape), PH_OK);
    ck_assert_uint_eq(shape.tables[0].ncols, notes->ncols + 1);
    ck_assert_str_eq(shape.tables[0].cols[notes->ncols].name, "t");
    data_schema_free(&shape);
    data_query_free(&q);
    ck_assert_int_eq(parse("select=id::integer", &q, err), PH_OK);
    ck_assert_int_eq(q.select[0].cast->type, DATA_TYPE_INTEGER);
    data_query_free(&q);

    expect_refused("select=id::regclass", "PGRST100 select: cast");
    expect_refused("select=id::boolean", "PGRST100"); /* PostgreSQL only */
    expect_refused("select=nope", "42703");
    expect_refused("select=a%20b:title", "alias");
    expect_refused("select=%22x%22:title", "alias");
    expect_refused("select=notes(*)", "PGRST200"); /* no relationship to itself */
    expect_refused("select=id,,title", "empty item");
    expect_refused("select=id&select=title", "twice");
}
END_TEST

START_TEST(order_nulls)
{
    char sql[1024];
    ck_assert_int_eq(sql_of("select=id&order=body.desc.nullslast,title.nullsfirst", DATA_DIALECT_PG, sql,
                            sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT \"id\" AS \"id\" FROM \"notes\" ORDER BY \"body\" DESC NULLS LAST, "
                          "\"title\" ASC NULLS FIRST, \"id\" ASC LIMIT $1 OFFSET $2");
    expect_refused("order=body.up", "PGRST100 order");
    expect_refused("order=body.desc.nullsmiddle", "PGRST100 order");
}
END_TEST

START_TEST(in_is_not_ilike)
{
    char sql[1024];
    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("title=in.(a,%22b,c%22,%22d%5C%22e%22)&body=not.is.null&done=is.true"
                           "&title=ilike.*X*&id=not.in.()", &q, err), PH_OK);
    ck_assert_uint_eq(q.nfilters, 5);
    ck_assert_uint_eq(q.filters[0].nlist, 3);
    ck_assert_str_eq(q.filters[0].list[1].ptr, "b,c");
    ck_assert_str_eq(q.filters[0].list[2].ptr, "d\"e");
    ck_assert(q.filters[1].negate);
    ck_assert_int_eq(q.filters[1].value.kind, DATA_VALUE_NULL);
    ck_assert_int_eq(q.filters[2].value.kind, DATA_VALUE_BOOL);
    ck_assert_str_eq(q.filters[3].value.ptr, "%X%");
    ck_assert_uint_eq(q.filters[4].nlist, 0);
    data_query_free(&q);

    ck_assert_int_eq(sql_of("select=id&title=in.(a,b)&body=not.is.null&done=is.false&title=ilike.x&id=in.()",
                            DATA_DIALECT_SQLITE, sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT \"id\" AS \"id\" FROM \"notes\" WHERE (\"title\" IN (?1, ?2)) AND "
                          "NOT (\"body\" IS NULL) AND (\"done\" IS FALSE) AND (\"title\" LIKE ?3) AND "
                          "(1 = 0) ORDER BY \"id\" ASC LIMIT ?4 OFFSET ?5");
    ck_assert_int_eq(sql_of("title=ilike.x", DATA_DIALECT_PG, sql, sizeof sql), PH_OK);
    ck_assert_ptr_nonnull(strstr(sql, "(\"title\" ILIKE $1)"));

    expect_refused("title=in.(a,b", "PGRST100");
    expect_refused("title=in.a,b", "PGRST100");
    expect_refused("title=in.(a)x", "PGRST100");
    expect_refused("id=in.(1,x)", "22P02");
    expect_refused("body=is.maybe", "PGRST100");
    expect_refused("id=ilike.1", "text column");
    expect_refused("title=not.zz.1", "PGRST100");
}
END_TEST

START_TEST(logic_trees)
{
    char sql[1024];
    ck_assert_int_eq(sql_of("select=id&or=(title.eq.a,and(id.gte.3,body.is.null),not.or(id.eq.9,"
                            "title.not.like.%22x,y%22))&not.and=(id.eq.1)",
                            DATA_DIALECT_PG, sql, sizeof sql), PH_OK);
    ck_assert_str_eq(sql, "SELECT \"id\" AS \"id\" FROM \"notes\" WHERE ((\"title\" = $1) OR "
                          "((\"id\" >= $2) AND (\"body\" IS NULL)) OR NOT ((\"id\" = $3) OR "
                          "NOT (\"title\" LIKE $4))) AND NOT ((\"id\" = $5)) "
                          "ORDER BY \"id\" ASC LIMIT $6 OFFSET $7");

    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("or=(title.eq.%22a)b%22,title.in.(%22(%22,x))", &q, err), PH_OK);
    ck_assert_str_eq(q.groups[0].filters[0].value.ptr, "a)b");
    ck_assert_str_eq(q.groups[0].filters[1].list[0].ptr, "(");
    data_query_free(&q);

    expect_refused("or=title.eq.a", "PGRST100 logic tree must be parenthesised");
    expect_refused("or=(title.eq.a", "PGRST100");
    expect_refused("or=(title.eq.a))", "PGRST100");
    expect_refused("or=(title.eq.%22a)", "PGRST100 unterminated");
    expect_refused("or=(title)", "PGRST100");
    expect_refused("or=()", "42703");
    expect_refused("or=(not.title.eq.a)", "PGRST100 not.");
    expect_refused("or=(nope.eq.1)", "42703 column notes.\"nope\"");
    expect_refused("or=(id.eq.x)", "22P02");
    expect_refused("xor=(id.eq.1)", "42703");

    /* Depth and size are bounded, whatever the input. */
    char deep[4096] = "or=(";
    for (int i = 1; i < DATA_FILTER_MAX_DEPTH; i++)
        strcat(deep, "or(");
    strcat(deep, "id.eq.1");
    for (int i = 0; i < DATA_FILTER_MAX_DEPTH; i++)
        strcat(deep, ")");
    ck_assert_int_eq(parse(deep, &q, err), PH_OK);
    data_query_free(&q);
    expect_refused("or=(or(or(or(or(or(or(or(or(or(or(or(or(or(or(or(or(id.eq.1)))))))))))))))))",
                   "PGRST100 logic tree nested deeper");
    size_t n = 4 + (DATA_FILTER_MAX_NODES + 1) * 8 + 2;
    char *many = malloc(n);
    strcpy(many, "or=(");
    for (int i = 0; i <= DATA_FILTER_MAX_NODES; i++)
        strcat(many, i ? ",id.eq.1" : "id.eq.1");
    strcat(many, ")");
    expect_refused(many, "PGRST100 too many conditions");
    free(many);
}
END_TEST

START_TEST(select_sql_sqlite)
{
    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("title=eq.a&id=lt.9&order=title.desc&limit=2&offset=4", &q, err), PH_OK);
    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_select(&st, notes, &q), PH_OK);
    ck_assert_str_eq(st.sql,
                     "SELECT \"id\", \"title\", \"body\", \"score\", \"done\", \"data\", \"created_at\""
                     " FROM \"notes\" WHERE (\"title\" = ?1) AND (\"id\" < ?2)"
                     " ORDER BY \"title\" DESC, \"id\" ASC LIMIT ?3 OFFSET ?4");
    ck_assert_uint_eq(st.nparams, 4);
    ck_assert_int_eq(st.params[2].i, 2);
    ck_assert_int_eq(st.params[3].i, 4);
    data_stmt_free(&st);

    data_stmt_t ct = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_count(&ct, notes, &q), PH_OK);
    ck_assert_str_eq(ct.sql, "SELECT count(*) AS \"count\" FROM \"notes\" WHERE (\"title\" = $1) AND (\"id\" < $2)");
    data_stmt_free(&ct);
    data_query_free(&q);
}
END_TEST

START_TEST(order_by_pk_not_repeated)
{
    data_query_t q;
    char err[200];
    ck_assert_int_eq(parse("order=id.desc", &q, err), PH_OK);
    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_select(&st, notes, &q), PH_OK);
    ck_assert_ptr_nonnull(strstr(st.sql, " ORDER BY \"id\" DESC LIMIT $1 OFFSET $2"));
    data_stmt_free(&st);
    data_query_free(&q);
}
END_TEST

START_TEST(write_sql)
{
    data_value_t id = {.kind = DATA_VALUE_INT, .i = 7};
    data_assign_t a[2] = {{&notes->cols[1], {.kind = DATA_VALUE_NULL}}, {&notes->cols[2], {.kind = DATA_VALUE_NULL}}};
    data_value_set_text(&a[0].value, "t", 1);
    const char *cols = "\"id\", \"title\", \"body\", \"score\", \"done\", \"data\", \"created_at\"";
    char want[512];

    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_insert(&st, notes, a, 2), PH_OK);
    snprintf(want, sizeof want, "INSERT INTO \"notes\" (\"title\", \"body\") VALUES ($1, $2) RETURNING %s", cols);
    ck_assert_str_eq(st.sql, want);
    ck_assert_str_eq(st.params[0].ptr, "t");
    ck_assert_int_eq(st.params[1].kind, DATA_VALUE_NULL);
    data_stmt_free(&st);

    data_stmt_t e = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_insert(&e, notes, NULL, 0), PH_OK);
    snprintf(want, sizeof want, "INSERT INTO \"notes\" DEFAULT VALUES RETURNING %s", cols);
    ck_assert_str_eq(e.sql, want);
    data_stmt_free(&e);

    data_stmt_t u = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_update(&u, notes, a, 1, &id), PH_OK);
    snprintf(want, sizeof want, "UPDATE \"notes\" SET \"title\" = ?1 WHERE \"id\" = ?2 RETURNING %s", cols);
    ck_assert_str_eq(u.sql, want);
    ck_assert_int_eq(u.params[1].i, 7);
    data_stmt_free(&u);

    data_stmt_t d = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_delete(&d, notes, &id), PH_OK);
    ck_assert_str_eq(d.sql, "DELETE FROM \"notes\" WHERE \"id\" = $1 RETURNING \"id\"");
    data_stmt_free(&d);

    data_stmt_t g = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_get(&g, notes, &id), PH_OK);
    snprintf(want, sizeof want, "SELECT %s FROM \"notes\" WHERE \"id\" = $1", cols);
    ck_assert_str_eq(g.sql, want);
    data_stmt_free(&g);
    data_value_clear(&a[0].value);
}
END_TEST

START_TEST(bulk_write_sql)
{
    char err[200];
    data_query_t q;
    data_rows_t rows;
    json_t *body = json_loads("[{\"title\": \"a\"}, {\"body\": \"b\", \"id\": 9}]", 0, NULL);
    ck_assert_int_eq(data_json_rows(notes, body, &rows, err, sizeof err), PH_OK);
    json_decref(body);
    /* the union of the keys, in column order; missing keys are NULL */
    ck_assert_uint_eq(rows.ncols, 3);
    ck_assert_uint_eq(rows.nrows, 2);
    ck_assert_str_eq(rows.cols[0]->name, "id");
    ck_assert_int_eq(rows.vals[0].kind, DATA_VALUE_NULL);
    ck_assert_str_eq(rows.vals[1].ptr, "a");
    ck_assert_int_eq(rows.vals[2].kind, DATA_VALUE_NULL);
    ck_assert_int_eq(rows.vals[3].i, 9);

    ck_assert_int_eq(parse("select=t:title&on_conflict=title", &q, err), PH_OK);
    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_insert_rows(&st, notes, &rows, DATA_CONFLICT_MERGE, q.on_conflict, &q), PH_OK);
    ck_assert_str_eq(st.sql, "INSERT INTO \"notes\" (\"id\", \"title\", \"body\") VALUES (?1, ?2, ?3), "
                             "(?4, ?5, ?6) ON CONFLICT (\"title\") DO UPDATE SET \"id\" = excluded.\"id\", "
                             "\"body\" = excluded.\"body\" RETURNING \"title\" AS \"t\"");
    ck_assert_uint_eq(st.nparams, 6);
    data_stmt_free(&st);
    data_query_free(&q);

    /* missing=default: left-out values take DEFAULT (SQLite: the
     * schema's expression, else NULL) instead of a NULL parameter. */
    ck_assert(rows.missing[0] && !rows.missing[1] && rows.missing[2] && !rows.missing[3]);
    data_schema_t ds = {0};
    data_table_t *t = data_schema_add_table(&ds, "d");
    ck_assert_int_eq(data_table_add_column(t, "id", "INTEGER", DATA_TYPE_INTEGER, false, true, true), PH_OK);
    ck_assert_int_eq(data_table_add_column(t, "v", "TEXT", DATA_TYPE_TEXT, false, true, false), PH_OK);
    ck_assert_int_eq(data_table_set_default(t, "'it''s'"), PH_OK);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    data_rows_t dr;
    json_t *db = json_loads("[{\"v\": \"a\"}, {\"id\": 9}]", 0, NULL);
    ck_assert_int_eq(data_json_rows(t, db, &dr, err, sizeof err), PH_OK);
    json_decref(db);
    dr.defaults = true;
    ck_assert_int_eq(parse("", &q, err), PH_OK);
    data_stmt_t md = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_insert_rows(&md, t, &dr, DATA_CONFLICT_ERROR, NULL, &q), PH_OK);
    ck_assert_ptr_nonnull(strstr(md.sql, "VALUES (NULL, ?1), (?2, ('it''s'))"));
    data_stmt_free(&md);
    data_stmt_t mp = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_insert_rows(&mp, t, &dr, DATA_CONFLICT_ERROR, NULL, &q), PH_OK);
    ck_assert_ptr_nonnull(strstr(mp.sql, "VALUES (DEFAULT, $1), ($2, DEFAULT)"));
    data_stmt_free(&mp);
    data_json_rows_free(&dr);
    data_schema_free(&ds);
    data_query_free(&q);

    ck_assert_int_eq(parse("id=in.(1,2)", &q, err), PH_OK);
    data_stmt_t ig = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_insert_rows(&ig, notes, &rows, DATA_CONFLICT_IGNORE, NULL, &q), PH_OK);
    ck_assert_ptr_nonnull(strstr(ig.sql, " ON CONFLICT (\"id\") DO NOTHING RETURNING \"id\", "));
    data_stmt_free(&ig);

    data_assign_t a = {&notes->cols[2], {.kind = DATA_VALUE_NULL}};
    data_stmt_t u = DATA_STMT_INIT(DATA_DIALECT_PG);
    ck_assert_int_eq(data_sql_update_where(&u, notes, &a, 1, &q), PH_OK);
    ck_assert_ptr_nonnull(strstr(u.sql, "UPDATE \"notes\" SET \"body\" = $1 WHERE (\"id\" IN ($2, $3)) RETURNING \"id\""));
    data_stmt_free(&u);
    data_stmt_t d = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_delete_where(&d, notes, &q), PH_OK);
    ck_assert_ptr_nonnull(strstr(d.sql, "DELETE FROM \"notes\" WHERE (\"id\" IN (?1, ?2)) RETURNING \"id\""));
    data_stmt_free(&d);
    data_query_free(&q);
    data_json_rows_free(&rows);

    /* refused bodies leave nothing allocated */
    static const char *bad[] = {"[{\"nope\": 1}]", "[{\"title\": \"a\"}, 3]", "[{\"id\": \"x\"}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body = json_loads(bad[i], 0, NULL);
        ck_assert_int_eq(data_json_rows(notes, body, &rows, err, sizeof err), PH_ERROR);
        ck_assert_ptr_null(rows.vals);
        json_decref(body);
    }
    expect_refused("on_conflict=nope", "42703");
}
END_TEST

START_TEST(prefer_range_content_range)
{
    const char *p = "count=exact, Return=Representation ,resolution=merge-duplicates";
    ck_assert(data_prefer_has(p, strlen(p), "count=exact"));
    ck_assert(data_prefer_has(p, strlen(p), "return=representation"));
    ck_assert(data_prefer_has(p, strlen(p), "resolution=merge-duplicates"));
    ck_assert(!data_prefer_has(p, strlen(p), "return=minimal"));
    ck_assert(!data_prefer_has(p, strlen(p), "count"));
    ck_assert(!data_prefer_has("count=exactly", 13, "count=exact"));
    ck_assert(!data_prefer_has(NULL, 0, "count=exact"));
    ck_assert(data_prefer_has("count=exact", 11, "count=exact"));

    int64_t a, b;
    ck_assert(data_range_parse("0-9", 3, &a, &b));
    ck_assert_int_eq(a, 0);
    ck_assert_int_eq(b, 9);
    ck_assert(data_range_parse("5-", 2, &a, &b));
    ck_assert_int_eq(b, -1);
    static const char *bad[] = {"", "-", "-5", "9-5", "a-b", "1-2-3", " 1-2", "1-2 ",
                                "9999999999999999999-", "items=0-9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!data_range_parse(bad[i], strlen(bad[i]), &a, &b), "accepted %s", bad[i]);

    char cr[64];
    ck_assert_int_eq(data_content_range(0, 15, false, 0, cr, sizeof cr), 200);
    ck_assert_str_eq(cr, "0-14/*");
    ck_assert_int_eq(data_content_range(10, 5, true, 100, cr, sizeof cr), 206);
    ck_assert_str_eq(cr, "10-14/100");
    ck_assert_int_eq(data_content_range(0, 3, true, 3, cr, sizeof cr), 200);
    ck_assert_str_eq(cr, "0-2/3");
    ck_assert_int_eq(data_content_range(0, 0, true, 0, cr, sizeof cr), 200);
    ck_assert_str_eq(cr, "*/0");
    ck_assert_int_eq(data_content_range(3, 0, true, 3, cr, sizeof cr), 206);
    ck_assert_int_eq(data_content_range(4, 0, true, 3, cr, sizeof cr), 416);
    ck_assert_int_eq(data_content_range(4, 0, false, 0, cr, sizeof cr), 200);
    ck_assert_str_eq(cr, "*/*");
}
END_TEST

START_TEST(identifiers_are_quoted)
{
    /* Names come from the schema, but even a schema name with quotes
     * cannot end the identifier early. */
    data_schema_t s = {0};
    char err[100];
    data_table_t *t = data_schema_add_table(&s, "we\"ird; DROP");
    data_table_add_column(t, "k\"", "INTEGER", DATA_TYPE_INTEGER, true, true, true);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_OK);
    data_value_t id = {.kind = DATA_VALUE_INT, .i = 1};
    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_SQLITE);
    ck_assert_int_eq(data_sql_delete(&st, t, &id), PH_OK);
    ck_assert_str_eq(st.sql, "DELETE FROM \"we\"\"ird; DROP\" WHERE \"k\"\"\" = ?1 RETURNING \"k\"\"\"");
    data_stmt_free(&st);
    data_schema_free(&s);
}
END_TEST

/* --- schema --------------------------------------------------------------- */

START_TEST(schema_types_and_keys)
{
    ck_assert_int_eq(data_type_from_sqlite("INTEGER"), DATA_TYPE_INTEGER);
    ck_assert_int_eq(data_type_from_sqlite("bigint"), DATA_TYPE_INTEGER);
    ck_assert_int_eq(data_type_from_sqlite("VARCHAR(20)"), DATA_TYPE_TEXT);
    ck_assert_int_eq(data_type_from_sqlite("BLOB"), DATA_TYPE_BLOB);
    ck_assert_int_eq(data_type_from_sqlite("double precision"), DATA_TYPE_REAL);
    ck_assert_int_eq(data_type_from_sqlite("BOOLEAN"), DATA_TYPE_BOOL);
    ck_assert_int_eq(data_type_from_sqlite("DATETIME"), DATA_TYPE_TEXT);
    ck_assert_int_eq(data_type_from_sqlite(""), DATA_TYPE_ANY);
    ck_assert_int_eq(data_type_from_pg("int8"), DATA_TYPE_INTEGER);
    ck_assert_int_eq(data_type_from_pg("bytea"), DATA_TYPE_BLOB);
    ck_assert_int_eq(data_type_from_pg("timestamptz"), DATA_TYPE_TEXT);
    ck_assert_int_eq(data_type_from_pg("bool"), DATA_TYPE_BOOL);

    ck_assert_ptr_eq(data_schema_find(&schema, "notes", 5), notes);
    ck_assert_ptr_null(data_schema_find(&schema, "note", 4));
    ck_assert_ptr_null(data_schema_find(&schema, "notesx", 5 + 1));
    ck_assert_uint_eq(notes->pk, 0);

    data_schema_t s = {0};
    char err[120];
    data_table_t *t = data_schema_add_table(&s, "two");
    data_table_add_column(t, "a", "INTEGER", DATA_TYPE_INTEGER, true, false, true);
    data_table_add_column(t, "b", "INTEGER", DATA_TYPE_INTEGER, true, false, true);
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "exactly one column"));
    t = data_schema_add_table(&s, "missing");
    ck_assert_int_eq(data_table_finish(t, err, sizeof err), PH_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "does not exist"));
    data_schema_free(&s);
}
END_TEST

/* --- values and JSON ------------------------------------------------------ */

START_TEST(base64_round_trip)
{
    const char raw[] = "\x00\xff\x10hello";
    for (size_t n = 0; n <= sizeof raw - 1; n++) {
        char *enc = data_base64_encode(raw, n);
        size_t outlen;
        unsigned char *dec = data_base64_decode(enc, strlen(enc), &outlen);
        ck_assert_ptr_nonnull(dec);
        ck_assert_uint_eq(outlen, n);
        ck_assert_int_eq(memcmp(dec, raw, n), 0);
        free(enc);
        free(dec);
    }
    size_t n;
    char *e = data_base64_encode("hi", 2);
    ck_assert_str_eq(e, "aGk=");
    free(e);
    ck_assert_ptr_null(data_base64_decode("a", 1, &n));
    ck_assert_ptr_null(data_base64_decode("aG k", 4, &n));
    ck_assert_ptr_null(data_base64_decode("a===", 4, &n));
}
END_TEST

START_TEST(utf8_validation)
{
    ck_assert(data_utf8_valid("plain", 5));
    ck_assert(data_utf8_valid("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9));
    ck_assert(!data_utf8_valid("\xC3", 1));
    ck_assert(!data_utf8_valid("\xC0\x80", 2));
    ck_assert(!data_utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    ck_assert(!data_utf8_valid("\xED\xBF\xBF", 3));
    ck_assert(!data_utf8_valid("\x80", 1));
}
END_TEST

START_TEST(json_out_typing)
{
    data_value_t i = {.kind = DATA_VALUE_INT, .i = 42};
    data_value_t b = {.kind = DATA_VALUE_BLOB, .ptr = "hi", .len = 2};
    data_value_t bad = {.kind = DATA_VALUE_TEXT, .ptr = "\xff", .len = 1};
    data_value_t r = {.kind = DATA_VALUE_REAL, .d = 1.5};
    json_t *j;

    j = data_json_from_value(DATA_TYPE_INTEGER, &i);
    ck_assert(json_is_integer(j) && json_integer_value(j) == 42);
    json_decref(j);
    j = data_json_from_value(DATA_TYPE_BOOL, &i);
    ck_assert(json_is_true(j));
    json_decref(j);
    j = data_json_from_value(DATA_TYPE_BLOB, &b);
    ck_assert_str_eq(json_string_value(j), "aGk=");
    json_decref(j);
    j = data_json_from_value(DATA_TYPE_REAL, &r);
    ck_assert(json_is_real(j) && json_real_value(j) == 1.5);
    json_decref(j);
    j = data_json_from_value(DATA_TYPE_REAL, &i); /* integral value in a REAL column */
    ck_assert(json_is_real(j) && json_real_value(j) == 42.0);
    json_decref(j);
    ck_assert_ptr_null(data_json_from_value(DATA_TYPE_TEXT, &bad));
}
END_TEST

static int assign(const char *body, data_json_mode_t mode, data_assign_t **a, size_t *n, char *err)
{
    data_value_t id = {.kind = DATA_VALUE_INT, .i = 7};
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    int rc = data_json_assignments(notes, j, mode, &id, a, n, err, 200);
    json_decref(j);
    return rc;
}

START_TEST(json_in_typing)
{
    data_assign_t *a;
    size_t n;
    char err[200];

    ck_assert_int_eq(assign("{\"title\":\"t\",\"score\":2,\"done\":true,\"data\":\"aGk=\",\"body\":null}",
                            DATA_JSON_INSERT, &a, &n, err), PH_OK);
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].col->name, "score") == 0) {
            ck_assert_int_eq(a[i].value.kind, DATA_VALUE_REAL);
            ck_assert(a[i].value.d == 2.0);
        } else if (strcmp(a[i].col->name, "data") == 0) {
            ck_assert_int_eq(a[i].value.kind, DATA_VALUE_BLOB);
            ck_assert_uint_eq(a[i].value.len, 2);
        } else if (strcmp(a[i].col->name, "done") == 0) {
            ck_assert_int_eq(a[i].value.kind, DATA_VALUE_BOOL);
        } else if (strcmp(a[i].col->name, "body") == 0) {
            ck_assert_int_eq(a[i].value.kind, DATA_VALUE_NULL);
        }
    }
    data_json_assign_free(a, n);

    static const struct { const char *body; data_json_mode_t mode; const char *msg; } bad[] = {
        {"{\"nope\":1}", DATA_JSON_INSERT, "unknown column \"nope\""},
        {"{\"title; DROP TABLE notes\":1}", DATA_JSON_INSERT, "unknown column"},
        {"{\"title\":5}", DATA_JSON_INSERT, "expects a string"},
        {"{\"id\":\"5\"}", DATA_JSON_INSERT, "expects an integer"},
        {"{\"id\":1.5}", DATA_JSON_INSERT, "expects an integer"},
        {"{\"done\":1}", DATA_JSON_INSERT, "true or false"},
        {"{\"data\":\"***\"}", DATA_JSON_INSERT, "base64"},
        {"{\"title\":[1]}", DATA_JSON_INSERT, "expects a string"},
        {"{\"id\":8,\"title\":\"x\"}", DATA_JSON_PATCH, "cannot be changed"},
        {"{}", DATA_JSON_PATCH, "nothing to update"},
        {"{\"id\":7}", DATA_JSON_PATCH, "nothing to update"},
        {"[1]", DATA_JSON_INSERT, "JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(assign(bad[i].body, bad[i].mode, &a, &n, err) == PH_ERROR, "accepted %s", bad[i].body);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "%s: \"%s\"", bad[i].body, err);
    }
}
END_TEST

START_TEST(put_nulls_the_rest)
{
    data_assign_t *a;
    size_t n;
    char err[200];
    /* PUT: the same key as the URL is accepted and dropped; columns not
     * given become NULL except the key and those with a default. */
    ck_assert_int_eq(assign("{\"id\":7,\"title\":\"t\"}", DATA_JSON_PUT, &a, &n, err), PH_OK);
    ck_assert_uint_eq(n, 5); /* title, body, score, done, data */
    ck_assert_str_eq(a[0].col->name, "title");
    for (size_t i = 1; i < n; i++) {
        ck_assert_int_eq(a[i].value.kind, DATA_VALUE_NULL);
        ck_assert_str_ne(a[i].col->name, "created_at");
        ck_assert_str_ne(a[i].col->name, "id");
    }
    data_json_assign_free(a, n);
}
END_TEST

/* --- route keys ------------------------------------------------------------- */

/* The API's value parsers, as the server fills them in (request.c). */
static int t_parse_bool(const char *s, int *out)
{
    return cfg_parse_bool(s, out) < 0 ? PH_ERROR : PH_OK;
}

static int t_parse_size(const char *s, uint64_t *out)
{
    size_t v;
    if (cfg_parse_size(s, &v) < 0)
        return PH_ERROR;
    *out = v;
    return PH_OK;
}

static int t_parse_duration(const char *s, uint64_t *ms)
{
    return cfg_parse_duration(s, ms) < 0 ? PH_ERROR : PH_OK;
}

static const ph_server_api_t api = {
    .size = sizeof(ph_server_api_t),
    .parse_bool = t_parse_bool,
    .parse_size = t_parse_size,
    .parse_duration = t_parse_duration,
};

START_TEST(conf_keys)
{
    ph_kv_t ok[] = {{"database", "sqlite:../data/app.db"}, {"tables", " notes , tags"},
                    {"read_only", "yes"}, {"max_rows", "50"}, {"schema", "schema.sql"},
                    {"busy_timeout", "200"}};
    data_conf_t c;
    ph_error_t e;
    ck_assert_int_eq(data_conf_parse(&c, &api, "/etc/ph", ok, 6, &e), PH_OK);
    ck_assert_int_eq(c.backend, DATA_BACKEND_SQLITE);
    ck_assert_str_eq(c.target, "/etc/ph/../data/app.db");
    ck_assert_str_eq(c.schema, "/etc/ph/schema.sql");
    ck_assert_uint_eq(c.ntables, 2);
    ck_assert_str_eq(c.tables[0], "notes");
    ck_assert_str_eq(c.tables[1], "tags");
    ck_assert(c.read_only);
    ck_assert_int_eq(c.max_rows, 50);
    ck_assert_int_eq(c.busy_timeout_ms, 200);
    data_conf_free(&c);

    ph_kv_t pg[] = {{"database", "postgresql://u@127.0.0.1:5/db"}};
    ck_assert_int_eq(data_conf_parse(&c, &api, "/etc/ph", pg, 1, &e), PH_OK);
    ck_assert_int_eq(c.backend, DATA_BACKEND_PG);
    ck_assert_str_eq(c.target, "postgresql://u@127.0.0.1:5/db");
    ck_assert_int_eq(c.max_rows, 1000);
    ck_assert_uint_eq(c.ntables, 0);
    data_conf_free(&c);

    static const struct { ph_kv_t kv[2]; int key; const char *msg; } bad[] = {
        {{{"database", "sqlite:x"}, {"colour", "red"}}, 1, "unknown key \"colour\""},
        {{{"database", "mysql://x"}, {"tables", "a"}}, 0, "mysql URI: missing /DATABASE"},
        {{{"database", "oracle://x"}, {"tables", "a"}}, 0, "expected sqlite:PATH"},
        {{{"database", "sqlite:x"}, {"max_rows", "0"}}, 1, "max_rows"},
        {{{"database", "sqlite:x"}, {"read_only", "maybe"}}, 1, "read_only"},
        {{{"database", "sqlite:x"}, {"tables", "a,,b"}}, 1, "empty table name"},
        {{{"database", "sqlite:x"}, {"tables", "a,a"}}, 1, "listed twice"},
        {{{"tables", "a"}, {"max_rows", "5"}}, -1, "missing key \"database\""},
        {{{"database", "sqlite:x"}, {"functions", "f"}}, -1, "SQLite has no stored functions"},
        {{{"database", "postgresql://h/d"}, {"rpc.q", "SELECT 1"}}, -1, "rpc.q: named queries are for SQLite"},
        {{{"database", "sqlite:x"}, {"rpc.", "SELECT 1"}}, 1, "a name and a query are needed"},
        {{{"database", "mysql://h/d"}, {"functions", "f,,g"}}, 1, "empty function name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(data_conf_parse(&c, &api, "/x", bad[i].kv, 2, &e), PH_ERROR);
        ck_assert_int_eq(e.key, bad[i].key);
        ck_assert_msg(strstr(e.msg, bad[i].msg) != NULL, "\"%s\" lacks \"%s\"", e.msg, bad[i].msg);
        data_conf_free(&c);
    }
}
END_TEST

/* --- rpc ------------------------------------------------------------------- */

START_TEST(rpc_sqlite_named_parameters)
{
    data_rpc_t rpc = {0};
    char err[128], *out = NULL;
    data_rpc_fn_t *fn = data_rpc_add(&rpc, "q", "", DATA_RPC_SET, false);
    ck_assert_ptr_nonnull(fn);
    ck_assert_int_eq(data_rpc_sqlite_params(fn, "SELECT :b, ':a', \"x:y\", :a1 -- :c\n, :b /* :d */ FROM t",
                                            &out, err, sizeof err), PH_OK);
    ck_assert_str_eq(out, "SELECT ?1, ':a', \"x:y\", ?2 -- :c\n, ?1 /* :d */ FROM t");
    ck_assert_uint_eq(fn->nargs, 2);
    ck_assert_str_eq(fn->args[0].name, "b");
    ck_assert_str_eq(fn->args[1].name, "a1");
    free(out);
    ck_assert_int_eq(data_rpc_sqlite_params(fn, "SELECT ?1", &out, err, sizeof err), PH_ERROR);
    ck_assert_str_eq(err, "rpc.q: use :name parameters only");
    data_rpc_free(&rpc);
}
END_TEST

/* The call's source text per dialect, its parameters first. */
START_TEST(rpc_call_sql)
{
    data_rpc_t rpc = {0};
    data_rpc_fn_t *fn = data_rpc_add(&rpc, "top", "api.top", DATA_RPC_SET, false);
    ck_assert_int_eq(data_rpc_add_arg(fn, "a", "integer", false), PH_OK);
    ck_assert_int_eq(data_rpc_add_arg(fn, "b\"", "text", true), PH_OK);
    ck_assert_int_eq(data_table_add_column(data_rpc_shape(&rpc, 0), "id", "integer", DATA_TYPE_INTEGER, false,
                                           false, false), PH_OK);
    json_t *args = json_pack("{s:i}", "a", 7);
    data_rpc_call_t c;
    bool unknown;
    char err[96];
    ck_assert_int_eq(data_rpc_call_json(fn, args, &c, &unknown, err, sizeof err), PH_OK);
    const char *missing = NULL;
    ck_assert(data_rpc_call_complete(fn, &c, &missing));

    data_stmt_t st = DATA_STMT_INIT(DATA_DIALECT_PG);
    char *from = data_rpc_from(fn, &c, &st);
    ck_assert_str_eq(from, "api.top(\"a\" => $1::integer) AS \"top\"");
    data_table_t src = *data_rpc_shape(&rpc, 0);
    src.from_sql = from;
    data_query_t q;
    data_qerr_t qe;
    ck_assert_int_eq(data_query_parse(&src, DATA_DIALECT_PG, "id=gt.1", 7, 100, &q, &qe), PH_OK);
    ck_assert_int_eq(data_sql_select(&st, &src, &q), PH_OK);
    ck_assert_str_eq(st.sql, "SELECT \"id\" FROM api.top(\"a\" => $1::integer) AS \"top\" WHERE (\"id\" > $2) "
                             "LIMIT $3 OFFSET $4");
    ck_assert_uint_eq(st.nparams, 4);
    ck_assert_int_eq(st.params[0].i, 7);
    data_query_free(&q);
    data_stmt_free(&st);
    free(from);

    data_stmt_t my = DATA_STMT_INIT(DATA_DIALECT_MYSQL);
    c.given[1] = true; /* MySQL passes every argument, by position */
    from = data_rpc_from(fn, &c, &my);
    ck_assert_str_eq(from, "(SELECT `api.top`(?, ?) AS `top`) AS `top`");
    ck_assert_uint_eq(my.nparams, 2);
    data_stmt_free(&my);
    free(from);

    data_rpc_call_free(&c);
    json_decref(args);
    args = json_pack("{s:i}", "z", 1);
    ck_assert_int_eq(data_rpc_call_json(fn, args, &c, &unknown, err, sizeof err), PH_ERROR);
    ck_assert(unknown);
    ck_assert_str_eq(err, "z");
    json_decref(args);
    data_rpc_free(&rpc);
}
END_TEST

/* --- media type and origins ---------------------------------------------- */

START_TEST(media_type_is_exact)
{
    static const char *const ok[] = {"application/json", "APPLICATION/Json", " application/json\t",
                                     "application/json;charset=utf-8", "application/json ; charset=\"UTF-8\"",
                                     "application/json; foo=bar"};
    static const char *const bad[] = {"", " ", "application/jsonfoo", "application/json-patch+json",
                                      "application/json,text/plain", "text/plain", "application/jso",
                                      "application/json; charset=latin1", "application/json;charset=\"\"",
                                      "xapplication/json"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(data_json_media_type_ok(ok[i], strlen(ok[i])), "refused \"%s\"", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!data_json_media_type_ok(bad[i], strlen(bad[i])), "accepted \"%s\"", bad[i]);
    /* Not NUL-terminated: only len bytes count. */
    ck_assert(data_json_media_type_ok("application/jsonXYZ", 16));
}
END_TEST

START_TEST(same_origin)
{
    static const struct { const char *origin, *host; bool same; } cases[] = {
        {"http://localhost", "localhost", true},
        {"http://localhost", "localhost:80", true},
        {"https://localhost", "localhost:443", true},
        {"https://LocalHost", "localhost", true},
        {"http://localhost:8080", "localhost:8080", true},
        {"http://[::1]:8080", "[::1]:8080", true},
        {"http://[::1]", "[::1]", true},
        {"http://localhost:8080", "localhost", false},
        {"https://localhost", "localhost:80", false},
        {"http://localhost.evil", "localhost", false},
        {"http://local", "localhost", false},
        {"http://localhost/", "localhost", false},
        {"null", "localhost", false},
        {"file://", "localhost", false},
        {"http://", "", false},
        {"http://a:99999", "a:99999", false},
        {"http://a:", "a:", false},
        {"http://[::1", "[::1", false},
        {"http://a", "", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(data_cors_same_origin(cases[i].origin, strlen(cases[i].origin), cases[i].host,
                                            strlen(cases[i].host)) == cases[i].same,
                      "%s vs %s", cases[i].origin, cases[i].host);
}
END_TEST

START_TEST(cors_grants_and_preflights)
{
    ph_kv_t kv[] = {{"database", "sqlite:x"}, {"cors_origins", "https://App.example, *"},
                    {"cors_methods", "get post"}, {"cors_headers", "Content-Type X-A"}};
    data_conf_t c;
    ph_error_t e;
    char why[96];
    ck_assert_int_eq(data_conf_parse(&c, &api, "/x", kv, 4, &e), PH_OK);
    const data_cors_conf_t *p = &c.cors;
    ck_assert_str_eq(p->methods_text, "GET, POST");
    ck_assert_str_eq(p->headers_text, "Content-Type, X-A");
    ck_assert_int_eq(data_cors_grant(p, "https://app.example", 19), DATA_CORS_LISTED);
    ck_assert_int_eq(data_cors_grant(p, "https://app.example.evil", 24), DATA_CORS_READ);
    ck_assert_int_eq(data_cors_preflight(p, DATA_CORS_LISTED, "POST", 4, "content-type, x-a", 17, why, sizeof why), PH_OK);
    ck_assert_int_eq(data_cors_preflight(p, DATA_CORS_LISTED, "PUT", 3, NULL, 0, why, sizeof why), PH_ERROR);
    ck_assert_int_eq(data_cors_preflight(p, DATA_CORS_LISTED, "POST", 4, "x-b", 3, why, sizeof why), PH_ERROR);
    ck_assert_int_eq(data_cors_preflight(p, DATA_CORS_READ, "GET", 3, NULL, 0, why, sizeof why), PH_OK);
    ck_assert_int_eq(data_cors_preflight(p, DATA_CORS_READ, "POST", 4, NULL, 0, why, sizeof why), PH_ERROR);
    ck_assert_int_eq(data_cors_preflight(p, DATA_CORS_READ, "GET", 3, "x-a", 3, why, sizeof why), PH_ERROR);
    ck_assert_int_eq(data_cors_preflight(p, DATA_CORS_DENIED, "GET", 3, NULL, 0, why, sizeof why), PH_ERROR);
    data_conf_free(&c);
}
END_TEST

START_TEST(conf_server_spellings)
{
    ph_kv_t kv[] = {{"database", "sqlite:x"}, {"read_only", "Yes"}, {"max_body", "64k"},
                    {"busy_timeout", "5s"}, {"retry_after", "1m"}, {"cors_max_age", "1m"},
                    {"max_response_bytes", "2m"}};
    data_conf_t c;
    ph_error_t e;
    ck_assert_int_eq(data_conf_parse(&c, &api, "/x", kv, 7, &e), PH_OK);
    ck_assert(c.read_only);
    ck_assert_uint_eq(c.max_body, 65536);
    ck_assert_int_eq(c.busy_timeout_ms, 5000);
    ck_assert_uint_eq(c.retry_after_s, 60);
    ck_assert_uint_eq(c.cors.max_age_s, 60);
    ck_assert_uint_eq(c.max_response_bytes, 2 << 20);
    data_conf_free(&c);
    ph_kv_t legacy[] = {{"database", "sqlite:x"}, {"busy_timeout", "250"}};
    ck_assert_int_eq(data_conf_parse(&c, &api, "/x", legacy, 2, &e), PH_OK);
    ck_assert_int_eq(c.busy_timeout_ms, 250); /* bare: milliseconds, as before */
    data_conf_free(&c);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *q = tcase_create("query");
    tcase_add_checked_fixture(q, setup, teardown);
    tcase_add_test(q, empty_query_defaults);
    tcase_add_test(q, limit_offset_order_filters);
    tcase_add_test(q, select_list_alias_cast);
    tcase_add_test(q, embed_relationships_and_sql);
    tcase_add_test(q, embed_sql_on_mysql);
    tcase_add_test(q, csv_out_and_in);
    tcase_add_test(q, order_nulls);
    tcase_add_test(q, in_is_not_ilike);
    tcase_add_test(q, logic_trees);
    tcase_add_test(q, bulk_write_sql);
    tcase_add_test(q, prefer_range_content_range);
    tcase_add_test(q, every_operator);
    tcase_add_test(q, operators_per_dialect);
    tcase_add_test(q, percent_decoding_and_plus);
    tcase_add_test(q, limit_is_capped);
    tcase_add_test(q, bad_paging);
    tcase_add_test(q, hostile_names_refused);
    tcase_add_test(q, hostile_values_become_parameters);
    tcase_add_test(q, bad_values_refused);
    tcase_add_test(q, extreme_integers);
    suite_add_tcase(s, q);

    TCase *sql = tcase_create("sql");
    tcase_add_checked_fixture(sql, setup, teardown);
    tcase_add_test(sql, select_sql_sqlite);
    tcase_add_test(sql, order_by_pk_not_repeated);
    tcase_add_test(sql, write_sql);
    tcase_add_test(sql, identifiers_are_quoted);
    tcase_add_test(sql, schema_types_and_keys);
    suite_add_tcase(s, sql);

    TCase *v = tcase_create("values");
    tcase_add_checked_fixture(v, setup, teardown);
    tcase_add_test(v, base64_round_trip);
    tcase_add_test(v, utf8_validation);
    tcase_add_test(v, json_out_typing);
    tcase_add_test(v, json_in_typing);
    tcase_add_test(v, put_nulls_the_rest);
    tcase_add_test(v, conf_keys);
    tcase_add_test(v, conf_server_spellings);
    tcase_add_test(v, media_type_is_exact);
    tcase_add_test(v, same_origin);
    tcase_add_test(v, cors_grants_and_preflights);
    tcase_add_test(v, rpc_sqlite_named_parameters);
    tcase_add_test(v, rpc_call_sql);
    suite_add_tcase(s, v);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
