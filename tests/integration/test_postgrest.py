#!/usr/bin/env python3
"""The data plugin speaks PostgREST 12's protocol: @supabase/postgrest-js,
unchanged, against the real server on SQLite and on a throwaway PostgreSQL
(pg.py) and MariaDB (mysqld.py). The scenarios are in postgrest_js/scenarios.js; pgjs.py installs
the pinned client and runs them. Every test starts a server on a fresh
database seeded with the same rows, so expected rows are exact.

Raw HTTP tests next to them check what the client cannot send: hostile
filters (deep nesting, very long values, quotes, NULs, unknown columns)
answer 400 with a PostgREST error object, never 500, and the server lives.

Without node and npm these tests fail (CI installs them); without network
on the first run too (npm ci fetches the pinned package once)."""

import contextlib
import json
import unittest
import urllib.parse

import harness
import pgjs
from data_cases import schema_text
from mysqld import MariaDb
from pg import PgCluster

# Seeded rows: ids 1..5 on both backends (a fresh database numbers from 1).
NOTES = [("alpha", "first"), ("beta", None), ("gamma", "third"), ("delta", None),
         ("a,b (q)", "quoted")]
KINDS = [{"i": 7, "t": "seven"}, {"i": None, "t": "none"}, {"t": "dup"}]
KEYED = [{"k": "a", "v": "old"}, {"k": "b", "v": "bee"}]


def ids(*values):
    return [{"id": v} for v in values]


class PostgrestJsCases:
    flavour = None
    counter = 0

    def setUp(self):
        type(self).counter += 1
        name = "pgjs%d" % self.counter
        routes = ("[route /api]\nplugin = data\n%s\ntables = notes, kinds, keyed\n" %
                  self.database_keys(name))
        # Long enough for the 10k filters of the hostile tests.
        self.srv = harness.Server(harness.server_ini(routes=routes, server_extra="max_uri_bytes = 64k"),
                                  files={"schema.sql": schema_text(self.flavour)})
        self.addCleanup(self.srv.stop)
        for title, body in NOTES:
            self.post("notes", {"title": title, "body": body})
        for row in KINDS:
            self.post("kinds", row)
        for row in KEYED:
            self.post("keyed", row)

    def post(self, table, obj):
        r = self.srv.get("/api/" + table, method="POST", body=json.dumps(obj).encode(),
                         headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.body)

    def js(self, *names):
        return pgjs.run(self.srv.url("/api"), *names)

    def assertRows(self, result, rows, status=200, count=None):
        self.assertEqual(result, {"status": status, "data": rows, "error": None, "count": count})

    def assertPgError(self, result, status, code):
        self.assertEqual(result["status"], status, result)
        self.assertIsNone(result["data"], result)
        e = result["error"]
        self.assertEqual(e["code"], code, e)
        self.assertIsInstance(e["message"], str)
        self.assertIn("details", e)
        self.assertIn("hint", e)

    def raw(self, query, method="GET", headers=None):
        return self.srv.get("/api/notes?" + query, method=method, headers=headers)

    def assertRaw400(self, query, code="PGRST100"):
        r = self.raw(query)
        self.assertEqual(r.status, 400, (query[:200], r.status, r.body[:300]))
        e = json.loads(r.body)
        self.assertEqual((e["code"], e["status"]), (code, 400), e)
        self.assertEqual(e["message"], e["error"])
        return e

    # --- reading: columns ---------------------------------------------------
    def test_select_star_and_column_lists(self):
        res = self.js("select_all", "select_columns", "select_alias")
        rows = res["select_all"]["data"]
        self.assertEqual(res["select_all"]["status"], 200)
        self.assertEqual([(r["id"], r["title"], r["body"]) for r in rows],
                         [(i + 1, t, b) for i, (t, b) in enumerate(NOTES)])
        self.assertEqual({tuple(sorted(r)) for r in rows}, {("body", "created_at", "id", "title")})
        self.assertRows(res["select_columns"], [{"id": i + 1, "title": t} for i, (t, _) in enumerate(NOTES)])
        self.assertRows(res["select_alias"], [{"heading": t, "id": i + 1} for i, (t, _) in enumerate(NOTES)])

    def test_select_cast_and_errors(self):
        res = self.js("select_cast", "select_bad_cast", "select_unknown_column")
        self.assertRows(res["select_cast"], [{"id": 1, "i": "7", "label": "seven"},
                                             {"id": 2, "i": None, "label": "none"},
                                             {"id": 3, "i": None, "label": "dup"}])
        self.assertPgError(res["select_bad_cast"], 400, "PGRST100")
        self.assertPgError(res["select_unknown_column"], 400, "42703")

    # --- reading: filters -----------------------------------------------------
    def test_comparison_filters(self):
        res = self.js("eq", "neq", "gt_lt", "gte_lte", "like", "ilike", "in_list")
        self.assertRows(res["eq"], ids(2))
        self.assertRows(res["neq"], ids(1, 3, 4, 5))
        self.assertRows(res["gt_lt"], ids(2, 3))
        self.assertRows(res["gte_lte"], ids(2, 3))
        self.assertRows(res["like"], [{"title": "beta"}, {"title": "delta"}])
        self.assertRows(res["ilike"], [{"title": "beta"}])
        self.assertRows(res["in_list"], ids(1, 3, 5))

    def test_is_not_or_and(self):
        res = self.js("is_null", "not_is_null", "not_eq", "or_simple", "or_nested")
        self.assertRows(res["is_null"], ids(2, 4))
        self.assertRows(res["not_is_null"], ids(1, 3, 5))
        self.assertRows(res["not_eq"], ids(2, 3, 4, 5))
        self.assertRows(res["or_simple"], ids(1, 4))
        self.assertRows(res["or_nested"], ids(1, 4))

    # --- reading: order, paging, count ------------------------------------------
    def test_order(self):
        res = self.js("order_desc", "order_nulls", "order_nulls_last_desc")
        self.assertRows(res["order_desc"], ids(3, 4, 2, 1, 5))
        self.assertRows(res["order_nulls"], [{"id": 2, "body": None}, {"id": 4, "body": None},
                                             {"id": 1, "body": "first"}, {"id": 5, "body": "quoted"},
                                             {"id": 3, "body": "third"}])
        self.assertRows(res["order_nulls_last_desc"], ids(3, 5, 1, 2, 4))

    def test_limit_range_and_count(self):
        res = self.js("limit", "range", "count_exact", "count_all", "count_head")
        self.assertRows(res["limit"], ids(1, 2))
        self.assertRows(res["range"], ids(2, 3))
        self.assertRows(res["count_exact"], ids(1, 2), status=206, count=5)
        self.assertRows(res["count_all"], ids(1, 2, 3, 4, 5), count=5)
        self.assertRows(res["count_head"], None, count=5)

    def test_content_range_headers(self):
        r = self.raw("select=id&order=id&offset=1&limit=2")
        self.assertEqual((r.status, r.header("Content-Range")), (200, "1-2/*"))
        r = self.raw("select=id&order=id", headers={"Range-Unit": "items", "Range": "1-3",
                                                   "Prefer": "count=exact"})
        self.assertEqual((r.status, r.header("Content-Range")), (206, "1-3/5"))
        self.assertEqual(json.loads(r.body), ids(2, 3, 4))
        r = self.raw("select=id&id=gt.100", headers={"Prefer": "count=exact"})
        self.assertEqual((r.status, r.header("Content-Range"), json.loads(r.body)), (200, "*/0", []))
        r = self.raw("select=id&offset=5", headers={"Prefer": "count=exact"})
        self.assertEqual((r.status, r.header("Content-Range"), json.loads(r.body)), (206, "*/5", []))
        r = self.raw("select=id&offset=6", headers={"Prefer": "count=exact"})
        self.assertEqual((r.status, json.loads(r.body)["code"]), (416, "PGRST103"))
        r = self.raw("select=id", headers={"Range": "junk", "Prefer": "count=exact"})  # ignored
        self.assertEqual((r.status, r.header("Content-Range")), (200, "0-4/5"))

    def test_single_object(self):
        self.maxDiff = None
        res = self.js("single", "single_none", "single_many", "maybe_single_none")
        self.assertRows(res["single"], {"id": 2, "title": "beta"})
        self.assertPgError(res["single_none"], 406, "PGRST116")
        self.assertPgError(res["single_many"], 406, "PGRST116")
        self.assertRows(res["maybe_single_none"], None)

    # --- writing -------------------------------------------------------------------
    def notes_now(self):
        return self.js("after_writes")["after_writes"]["data"]

    def test_insert_one_bulk_and_return_preferences(self):
        res = self.js("insert_one", "insert_minimal", "insert_bulk", "insert_single", "insert_bulk_single")
        self.assertRows(res["insert_one"], [{"id": 6, "title": "one"}], status=201)
        # Without Prefer: return=, one object answers with the stored row
        # (this API's own form; PostgREST sends no body).
        quiet = res["insert_minimal"]
        self.assertEqual((quiet["status"], quiet["error"], quiet["data"]["title"]), (201, None, "quiet"))
        self.assertRows(res["insert_bulk"], [{"title": "b1", "body": None}, {"title": "b2", "body": "x"}],
                        status=201)
        self.assertRows(res["insert_single"], {"title": "solo"}, status=201)
        self.assertPgError(res["insert_bulk_single"], 406, "PGRST116")
        self.assertEqual([(r["id"], r["title"]) for r in self.notes_now()[5:]],
                         [(6, "one"), (7, "quiet"), (8, "b1"), (9, "b2"), (10, "solo")])

    def test_raw_insert_preferences(self):
        def post(body, prefer=None, query=""):
            h = {"Content-Type": "application/json"}
            if prefer:
                h["Prefer"] = prefer
            return self.srv.get("/api/notes" + query, method="POST", body=json.dumps(body).encode(), headers=h)
        r = post([{"title": "m"}])
        self.assertEqual((r.status, r.body, r.header("Location")), (201, b"", None))
        r = post({"title": "h"}, "return=headers-only")
        self.assertEqual((r.status, r.body, r.header("Location")), (201, b"", "/api/notes/7"))
        r = post({"title": "min"}, "return=minimal")
        self.assertEqual((r.status, r.body), (201, b""))
        r = post([{"title": "r", "body": "b"}], "return=representation", "?select=t:title,body")
        self.assertEqual((r.status, json.loads(r.body)), (201, [{"t": "r", "body": "b"}]))
        r = post([], "return=representation")
        self.assertEqual((r.status, json.loads(r.body)), (201, []))
        r = post([{"title": "x"}, {"nosuch": 1}])
        self.assertEqual((r.status, json.loads(r.body)["code"]), (400, "PGRST102"))
        r = post([{"title": "x"}, 5])
        self.assertEqual((r.status, json.loads(r.body)["code"]), (400, "PGRST102"))
        r = post({"title": "x"}, query="?id=eq.1")
        self.assertEqual((r.status, json.loads(r.body)["code"]), (400, "PGRST100"))
        # a NOT NULL column left out of one row of a batch: nothing stored
        r = post([{"title": "ok"}, {"body": "no title"}])
        self.assertEqual((r.status, json.loads(r.body)["code"]), (400, "23502"))
        self.assertEqual(len(self.notes_now()), 9)

    def test_bulk_insert_is_one_transaction(self):
        res = self.js("insert_bulk_conflict", "kinds_rows")
        self.assertPgError(res["insert_bulk_conflict"], 409, "23505")
        self.assertRows(res["kinds_rows"], [{"t": "seven"}, {"t": "none"}, {"t": "dup"}])

    def test_upsert(self):
        res = self.js("upsert_merge", "upsert_ignore", "keyed_rows")
        self.assertRows(res["upsert_merge"], [{"k": "a", "v": "new"}, {"k": "c", "v": "c1"}], status=201)
        self.assertRows(res["upsert_ignore"], [{"k": "d", "v": "d1"}], status=201)
        self.assertRows(res["keyed_rows"], [{"k": "a", "v": "new"}, {"k": "b", "v": "bee"},
                                            {"k": "c", "v": "c1"}, {"k": "d", "v": "d1"}])

    def test_update_and_delete_by_filter(self):
        res = self.js("update_filter", "update_no_filter", "update_single", "update_single_many",
                      "delete_filter", "delete_no_filter", "delete_minimal", "after_writes")
        up = res["update_filter"]
        self.assertEqual((up["status"], sorted(up["data"], key=lambda r: r["id"])),
                         (200, [{"id": 3, "body": "patched"}, {"id": 4, "body": "patched"},
                                {"id": 5, "body": "patched"}]))
        self.assertPgError(res["update_no_filter"], 400, "PGRST100")
        self.assertRows(res["update_single"], {"id": 3, "body": "one"})
        self.assertPgError(res["update_single_many"], 406, "PGRST116")
        d = res["delete_filter"]
        self.assertEqual((d["status"], sorted(d["data"], key=lambda r: r["id"])), (200, ids(1, 2)))
        self.assertPgError(res["delete_no_filter"], 400, "PGRST100")
        self.assertRows(res["delete_minimal"], None, status=204)
        self.assertRows(res["after_writes"], [{"id": 3, "title": "gamma", "body": "one"},
                                              {"id": 4, "title": "delta", "body": "patched"}])

    def test_unfiltered_writes_and_paged_writes(self):
        r = self.srv.get("/api/notes?limit=1", method="DELETE")
        self.assertEqual((r.status, json.loads(r.body)["code"]), (400, "PGRST100"))
        r = self.srv.get("/api/notes?order=id", method="DELETE")
        self.assertEqual(r.status, 400)
        self.assertEqual(len(self.notes_now()), 5)
        r = self.srv.get("/api/notes?or=(id.eq.1,title.eq.gamma)", method="DELETE",
                         headers={"Prefer": "return=representation"})
        self.assertEqual((r.status, sorted(x["id"] for x in json.loads(r.body))), (200, [1, 3]))

    # --- hostile input ------------------------------------------------------------
    def test_hostile_filters_answer_400(self):
        deep = "or=" + "or(" * 200 + "id.eq.1" + ")" * 200
        self.assertRaw400(deep)
        self.assertRaw400("or=(" + ",".join(["id.eq.1"] * 1500) + ")")  # too many conditions
        self.assertRaw400("title=eq." + "x" * 10000 + "%00")  # NUL
        self.assertRaw400("or=(title.eq.\"unterminated)")
        self.assertRaw400("or=(title.eq.a")
        self.assertRaw400("or=title.eq.a")
        self.assertRaw400("nosuch=eq.1", "42703")
        self.assertRaw400("or=(nosuch.eq.1)", "42703")
        self.assertRaw400("or=(title.eq.a,and(id.gt.1,not.or(x%01.eq.1)))", "42703")
        self.assertRaw400("select=id,nosuch", "42703")
        self.assertRaw400("order=nosuch.desc", "42703")
        self.assertRaw400("select=id::nosuchtype")
        self.assertRaw400("select=" + urllib.parse.quote("id;drop table notes"), "42703")
        self.assertRaw400("order=title.sideways")
        self.assertRaw400("title=in.(a,b")
        self.assertRaw400("body=is.maybe")
        self.assertRaw400("id=eq.notanumber", "22P02")
        self.assertRaw400("or=(id.in.(1,x))", "22P02")
        self.assertRaw400("title=eq.%FF%FE", "22P02")  # not UTF-8
        self.assertRaw400("or=(title.eq.%22a%00b%22)")  # NUL inside quotes
        # Long and quoted values that are well-formed are just values.
        long = "y" * 10000
        r = self.raw("select=id&title=eq." + long)
        self.assertEqual((r.status, json.loads(r.body)), (200, []))
        r = self.raw("select=id&or=(title.eq.%s,title.in.(%s))" % (long, ",".join(["z"] * 900)))
        self.assertEqual((r.status, json.loads(r.body)), (200, []))
        r = self.raw("select=id&or=" + urllib.parse.quote('(title.eq."it\'s \\"x\\"",title.eq.alpha)'))
        self.assertEqual((r.status, json.loads(r.body)), (200, ids(1)), r.body)
        self.assertEqual(self.raw("select=id").status, 200)  # still serving


class SqlitePostgrestJs(PostgrestJsCases, unittest.TestCase):
    flavour = "sqlite"

    def database_keys(self, name):
        return "database = sqlite:data/%s.db\nschema = schema.sql" % name


class PgPostgrestJs(PostgrestJsCases, unittest.TestCase):
    flavour = "pg"
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster()

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.destroy()

    def database_keys(self, name):
        return "database = %s\nschema = schema.sql" % self.cluster.create_db(name)


class MysqlPostgrestJs(PostgrestJsCases, unittest.TestCase):
    flavour = "mysql"
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = MariaDb()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.destroy()

    def database_keys(self, name):
        return "database = %s\nschema = schema.sql" % self.server.create_db(name)


if __name__ == "__main__":
    harness.main()
