#!/usr/bin/env python3
"""The data plugin on MySQL/MariaDB: the same API tests as test_data.py
(data_cases.py) against a throwaway MariaDB (mysqld.py), plus what is
MariaDB's own: URI forms, the schema file run only when a table is missing,
a configuration test that changes nothing, the server down at start, and
update plans (MariaDB's UPDATE has no RETURNING) that stay atomic.

Without MariaDB's binaries these tests fail: CI installs them."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
from data_embed_cases import EmbedTypeCases
from data_fts_cases import FtsCases
from data_cases import DataApiCases, jbody
from data_jpath_cases import DataJsonPathCases
from data_num_cases import DataNumberCases
from data_count_cases import DataCountCases
from data_rpc_cases import BOOKS, BOOKS_INSERT, DataViewCases
from mysqld import MariaDb


class MysqlDataTest(DataApiCases, FtsCases, EmbedTypeCases, DataNumberCases, DataJsonPathCases, unittest.TestCase):
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
        self.db_name = name
        return "database = %s\nschema = schema.sql" % self.server.create_db(name)

    def fill_titles(self, n, pad):
        self.server.sql("SET SESSION max_recursive_iterations = %d; "
                        "INSERT INTO notes (title) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                        "WHERE i < %d) SELECT CONCAT(LPAD(i, 7, '0'), '%s') FROM c ORDER BY i" % (n, n, pad),
                        db=self.db_name)

    @contextlib.contextmanager
    def outage(self):
        self.server.stop()
        try:
            yield
        finally:
            self.server.start()

    @contextlib.contextmanager
    def hold_write_lock(self):
        p = subprocess.Popen(self.server.client_cmd(self.db_name), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        try:
            p.stdin.write("LOCK TABLES notes WRITE; SELECT 'locked';\n")
            p.stdin.flush()
            self.assertEqual(p.stdout.readline().strip(), "locked")
            yield
        finally:
            p.stdin.write("UNLOCK TABLES;\n")
            p.stdin.close()
            p.wait(30)
            p.stdout.close()

    def test_schema_applied_only_when_a_table_is_missing(self):
        cols = self.server.sql("SELECT count(*) FROM information_schema.columns "
                               "WHERE table_schema = '%s' AND table_name = 'notes'" % self.db_name)
        self.assertEqual(cols.strip(), "4")
        self.server.sql("INSERT INTO notes (title) VALUES ('from the client')", db=self.db_name)
        routes = ("[route /api]\nplugin = data\ndatabase = %s\nschema = schema.sql\n"
                  "tables = notes\n" % self.server.uri(self.db_name, "mariadb"))
        srv = harness.Server(harness.server_ini(routes=routes),
                             files={"schema.sql": "CREATE TABLE notes (x int);"})
        try:
            r = srv.get("/api/notes")
            self.assertEqual(r.status, 200)
            self.assertIn(b"from the client", r.body)
        finally:
            srv.stop()

    def check_config(self, uri, schema, tables):
        d = tempfile.mkdtemp(prefix="phmyt-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "schema.sql"), "w") as f:
            f.write(schema)
        ini = os.path.join(d, "server.ini")
        with open(ini, "w") as f:
            f.write(harness.server_ini(routes="[route /api]\nplugin = data\ndatabase = %s\n"
                                              "schema = schema.sql\ntables = %s\n" % (uri, tables)))
        return subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", ini],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)

    def test_configuration_test_changes_nothing(self):
        # MySQL's DDL commits by itself: -t does not run the schema file,
        # it checks the connection, the tables that exist and the file.
        uri = self.server.create_db("checkonly")
        good = "CREATE TABLE checked (id BIGINT AUTO_INCREMENT PRIMARY KEY, title TEXT NOT NULL);"
        p = self.check_config(uri, good, "checked")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("checked, nothing changed", p.stderr)
        self.assertEqual(self.server.sql("SELECT count(*) FROM information_schema.tables "
                                         "WHERE table_schema = 'checkonly'").strip(), "0")
        self.server.sql(good, db="checkonly")
        p = self.check_config(uri, good, "checked")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.server.sql("CREATE TABLE twokeys (a INT, b INT, PRIMARY KEY (a, b))", db="checkonly")
        p = self.check_config(uri, good, "checked, twokeys")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("twokeys", p.stderr)

    def test_uri_forms_and_bad_uris(self):
        # user and password percent-encoded, socket= as a parameter, both
        # schemes; a wrong password or a malformed URI stops the server.
        self.assertEqual(self.post({"title": "uri"}).status, 201)
        for uri, needle in [(self.server.uri(self.db_name).replace("p%40ss", "wrong"), "Access denied"),
                            ("mysql://ph@localhost/", "database"),
                            ("mysql://ph@localhost:99999/x", "port"),
                            ("mysql://ph@localhost/x?sock=/tmp/x", "socket")]:
            routes = "[route /api]\nplugin = data\ndatabase = %s\ntables = notes\n" % uri
            srv = harness.Server(harness.server_ini(routes=routes), expect_ready=False)
            try:
                srv.proc.wait(30)
                self.assertNotEqual(srv.proc.returncode, 0)
                self.assertTrue(srv.wait_log(needle, 5), srv.log())
                self.assertNotIn("w/rd", srv.log())  # the password stays out of the log
            finally:
                srv.stop()

    def test_database_down_at_start_fails_create(self):
        routes = "[route /api]\nplugin = data\ndatabase = %s\ntables = notes\n" % self.server.uri("x")
        with self.outage():
            srv = harness.Server(harness.server_ini(routes=routes), expect_ready=False)
            try:
                srv.proc.wait(30)
                self.assertNotEqual(srv.proc.returncode, 0)
                self.assertTrue(srv.wait_log("cannot connect to MySQL", 5), srv.log())
            finally:
                srv.stop()

    def test_update_plan_reads_back_changed_rows_and_keys(self):
        # The rows an update changed come back even when they no longer
        # match its filter, and under their new key when it changed.
        for t in ["a", "b", "c"]:
            self.assertEqual(self.post({"title": t, "body": "open"}).status, 201)
        r = self.req("PATCH", "/api/notes?body=eq.open&title=neq.b", {"body": "closed"},
                     headers={"Prefer": "return=representation"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(sorted((x["title"], x["body"]) for x in jbody(r)), [("a", "closed"), ("c", "closed")])
        r = self.req("PATCH", "/api/notes?title=eq.b", {"id": 100},
                     headers={"Prefer": "return=representation"})
        self.assertEqual((r.status, [x["id"] for x in jbody(r)]), (200, [100]), r.body)
        # A failing update changes nothing: the transaction is undone.
        r = self.req("PATCH", "/api/notes?body=eq.closed", {"id": 100})
        self.assertEqual(r.status, 409, r.body)
        self.assertEqual(sorted(x["id"] for x in jbody(self.req("GET", "/api/notes"))), [1, 3, 100])

    def test_foreign_keys_are_409_23503(self):
        self.server.sql("CREATE TABLE parent (id BIGINT PRIMARY KEY);"
                        "CREATE TABLE child (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
                        " parent_id BIGINT NOT NULL REFERENCES parent (id));", db=self.db_name)
        routes = ("[route /fk]\nplugin = data\ndatabase = %s\ntables = parent, child\n"
                  % self.server.uri(self.db_name))
        srv = harness.Server(harness.server_ini(routes=routes))
        try:
            def post(table, obj):
                return srv.get("/fk/" + table, method="POST", body=json.dumps(obj).encode(),
                               headers={"Content-Type": "application/json"})
            r = post("child", {"parent_id": 1})  # no such parent: 1452
            self.assertEqual((r.status, jbody(r)["code"]), (409, "23503"), r.body)
            self.assertEqual(post("parent", {"id": 1}).status, 201)
            self.assertEqual(post("child", {"parent_id": 1}).status, 201)
            r = srv.get("/fk/parent?id=eq.1", method="DELETE")  # still referenced: 1451
            self.assertEqual((r.status, jbody(r)["code"]), (409, "23503"), r.body)
        finally:
            srv.stop()

    def test_ignore_duplicates_refuses_other_errors(self):
        # INSERT IGNORE would store NULL-violating rows with a warning:
        # the backend undoes them and answers the error.
        ok = {"Prefer": "resolution=ignore-duplicates,return=representation"}
        r = self.req("POST", "/api/notes", [{"title": "x"}, {"body": "no title"}], headers=ok)
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(jbody(r)["code"], "23502")
        self.assertEqual(self.count(), "0")


MYSQL_RPC_SCHEMA = """
CREATE TABLE books (id BIGINT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(100) NOT NULL, year INT)
    DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
""" + BOOKS_INSERT + """
CREATE VIEW recent_books AS SELECT id, title, year FROM books WHERE year >= 2000;
CREATE VIEW book_years AS SELECT year, count(*) AS n FROM books GROUP BY year;
CREATE VIEW book_dates AS SELECT id, year FROM books;
CREATE VIEW book_pairs AS SELECT b.id, b.title, c.year FROM books b JOIN books c ON c.id = b.id;
CREATE FUNCTION add_them(a INT, b INT) RETURNS INT DETERMINISTIC NO SQL RETURN a + b;
CREATE FUNCTION greet(who VARCHAR(50)) RETURNS VARCHAR(60) DETERMINISTIC NO SQL RETURN CONCAT('hello ', who);
CREATE PROCEDURE top_books(IN min_year INT) READS SQL DATA
    SELECT id, title, year FROM books WHERE year >= min_year ORDER BY id;
CREATE PROCEDURE add_book(IN t VARCHAR(100), IN y INT) MODIFIES SQL DATA
    INSERT INTO books (title, year) VALUES (t, y);
CREATE PROCEDURE out_param(OUT x INT) NO SQL SET x = 1;
"""


class MysqlViewRpcTest(DataViewCases, DataCountCases, unittest.TestCase):
    """Views (recent_books and the join view book_pairs are updatable in MariaDB), stored functions
    and procedures."""
    flavour = "mysql"
    server = None
    RPC_SCHEMA = MYSQL_RPC_SCHEMA
    EXTRA_TABLES = ", book_dates, book_pairs"
    RPC_KEYS = "functions = add_them, greet, top_books, add_book"

    @classmethod
    def setUpClass(cls):
        cls.server = MariaDb()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.destroy()

    def database_keys(self, name):
        self.db_name = name
        return "database = %s" % self.server.create_db(name)

    def planned(self, where):
        """rows times filtered percent of each joined table, as EXPLAIN
        FORMAT=JSON tells the client (batch mode escapes \\ and newlines)."""
        out = self.server.sql("EXPLAIN FORMAT=JSON SELECT 1 FROM books WHERE %s" % where, db=self.db_name)
        out = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), out.strip())
        qb = json.loads(out)["query_block"]
        tables = [qb["table"]] if "table" in qb else [t["table"] for t in qb["nested_loop"]]
        total = 1.0
        for t in tables:
            total *= t["rows"] * t.get("filtered", 100) / 100.0
        return int(total + 0.5)

    def test_updatable_view_takes_writes(self):
        rep = {"Prefer": "return=representation"}
        r = self.req("POST", "/api/recent_books", {"title": "Epsilon", "year": 2024}, headers=rep)
        self.assertJson(r, 201, [{"id": 5, "title": "Epsilon", "year": 2024}])
        self.assertIsNone(r.header("Location"))
        r = self.req("PATCH", "/api/recent_books?id=eq.5", {"year": 2025})
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertJson(self.req("GET", "/api/books?id=eq.5"), 200, [{"id": 5, "title": "Epsilon", "year": 2025}])
        r = self.req("DELETE", "/api/recent_books?year=eq.2025", headers=rep)
        self.assertJson(r, 200, [{"id": 5, "title": "Epsilon", "year": 2025}])
        self.assertJson(self.req("GET", "/api/books?select=id"), 200, [{"id": i} for i in range(1, 5)])
        r = self.req("PUT", "/api/recent_books?id=eq.2", {"id": 2, "title": "B", "year": 2005})
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST, PATCH, DELETE")
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/recent_books"]), ["delete", "get", "patch", "post"])

    def test_update_through_a_view_cannot_return_its_rows(self):
        r = self.req("PATCH", "/api/recent_books?id=eq.2", {"year": 2006},
                     headers={"Prefer": "return=representation"})
        e = self.assertErr(r, 400, "PGRST100")
        self.assertEqual(e["message"], 'return=representation is not supported on writes through view '
                         '"recent_books": the database cannot return the rows written')
        self.assertJson(self.req("GET", "/api/books?id=eq.2"), 200, [BOOKS[1]])

    def test_writes_mariadb_refuses_through_a_view(self):
        # title is NOT NULL without a default, and book_dates does not show it
        e = self.assertErr(self.req("POST", "/api/book_dates", {"year": 2030}), 400, "23502")
        self.assertIn("book_dates", e["message"])
        # a join view is updatable, but not for DELETE nor for columns of both tables
        e = self.assertErr(self.req("DELETE", "/api/book_pairs?id=eq.1"), 400, "55000")
        self.assertIn("book_pairs", e["message"])
        self.assertErr(self.req("PATCH", "/api/book_pairs?id=eq.1", {"title": "A", "year": 1}), 400, "55000")
        self.assertEqual(self.req("PATCH", "/api/book_pairs?id=eq.1", {"title": "A1"}).status, 204)
        self.assertJson(self.req("GET", "/api/books?select=title&order=id"), 200,
                        [{"title": t} for t in ("A1", "Beta", "Gamma", "Delta")])

    def test_function_returns_the_bare_value(self):
        r = self.req("POST", "/api/rpc/add_them", {"a": 1, "b": 2})
        self.assertEqual((r.status, r.body), (200, b"3\n"))
        self.assertJson(self.req("GET", "/api/rpc/add_them?a=40&b=2"), 200, 42)
        self.assertJson(self.req("POST", "/api/rpc/greet", {"who": "you"}), 200, "hello you")
        e = self.assertErr(self.req("POST", "/api/rpc/add_them", {"a": 1}), 404, "PGRST202")
        self.assertEqual(e["details"], "argument b is required")
        self.assertErr(self.req("POST", "/api/rpc/add_them", {"a": 1, "b": 2, "c": 3}), 404, "PGRST202")
        self.assertErr(self.req("POST", "/api/rpc/nosuch", {}), 404, "PGRST202")

    def test_procedure_returns_its_rows(self):
        self.assertJson(self.req("POST", "/api/rpc/top_books", {"min_year": 2006}), 200, BOOKS[2:])
        self.assertJson(self.req("GET", "/api/rpc/top_books?min_year=2015"), 200, BOOKS[3:])
        # and the connection serves the next statement
        self.assertJson(self.req("GET", "/api/books?select=id&id=lt.3"), 200, [{"id": 1}, {"id": 2}])
        self.assertErr(self.req("GET", "/api/rpc/top_books?min_year=2015&limit=1"), 400, "PGRST100")

    def test_procedure_that_modifies_data_takes_post(self):
        r = self.req("GET", "/api/rpc/add_book?t=X&y=1")
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "POST")
        self.assertJson(self.req("POST", "/api/rpc/add_book", {"t": "Epsilon", "y": 2024}), 200, [])
        self.assertJson(self.req("GET", "/api/books?select=title&id=gt.4"), 200, [{"title": "Epsilon"}])
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/rpc/add_book"]), ["post"])
        self.assertEqual(sorted(doc["paths"]["/rpc/add_them"]), ["get", "post"])

    def test_bad_routines_fail_the_start(self):
        for fns, msg in (("nosuch", "function nosuch does not exist in this database"),
                         ("out_param", "procedure out_param: only IN parameters can be passed")):
            routes = ("[route /api]\nplugin = data\ndatabase = %s\nschema = schema.sql\ntables = books\n"
                      "functions = %s\n" % (self.server.create_db("bad_" + fns), fns))
            srv = harness.Server(harness.server_ini(routes=routes), files={"schema.sql": self.RPC_SCHEMA},
                                 expect_ready=False)
            try:
                srv.proc.wait(30)
                self.assertNotEqual(srv.proc.returncode, 0)
                self.assertTrue(srv.wait_log(msg, 5), srv.log())
            finally:
                srv.stop()


if __name__ == "__main__":
    harness.main()
