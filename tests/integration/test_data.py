#!/usr/bin/env python3
"""The data plugin on SQLite: every endpoint (data_cases.py), concurrency,
a locked database (503) and a waiting data request next to other routes."""

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
import unittest

import harness
from data_embed_cases import EmbedTypeCases
from data_fts_cases import FtsCases
from data_cases import DataApiCases, jbody, schema_text
from data_jpath_cases import DataJsonPathCases
from data_num_cases import DataNumberCases
from data_count_cases import DataCountCases
from data_rpc_cases import BOOKS, BOOKS_INSERT, DataRpcSetCases, DataViewCases

MIB = 1 << 20


def vm_hwm(pid):
    """Peak resident set of a process, in bytes (VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM for pid %d" % pid)


class SqliteDataTest(DataApiCases, FtsCases, EmbedTypeCases, DataNumberCases, DataJsonPathCases, unittest.TestCase):
    flavour = "sqlite"

    def database_keys(self, name):
        self.db_name = name
        return "database = sqlite:data/%s.db\nschema = schema.sql" % name

    def db_path(self):
        return os.path.join(self.srv.dir, "data", self.db_name + ".db")

    @contextlib.contextmanager
    def hold_write_lock(self):
        # WAL mode: an exclusive transaction blocks writers, not readers.
        con = sqlite3.connect(self.db_path(), timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            con.rollback() if con.in_transaction else None
            con.close()

    def outage(self):
        # Writes wait busy_timeout for the lock, then give up with 503.
        return self.hold_write_lock()

    def test_database_created_from_schema_in_wal_mode(self):
        path = self.db_path()
        self.assertTrue(os.path.exists(path))
        con = sqlite3.connect(path)
        try:
            self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            self.assertLessEqual({"notes", "kinds"}, names)
        finally:
            con.close()

    def test_bad_schema_file_stops_the_server_and_leaves_no_file(self):
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/x.db\n"
                  "schema = schema.sql\ntables = notes\n")
        srv = harness.Server(harness.server_ini(routes=routes),
                             files={"schema.sql": "CREATE TABLE broken (;"}, expect_ready=False)
        try:
            srv.proc.wait(15)
            self.assertNotEqual(srv.proc.returncode, 0)
            self.assertTrue(srv.wait_log("schema", 5), srv.log())
            self.assertFalse(os.path.exists(os.path.join(srv.dir, "data", "x.db")))
        finally:
            srv.stop()

    def fill_titles(self, n, pad):
        con = sqlite3.connect(self.db_path(), timeout=5)
        try:
            with con:
                con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                            "INSERT INTO notes (title) SELECT printf('%07d', i) || ? FROM c", (n, pad))
        finally:
            con.close()

    def fill_notes(self, rows, size):
        """rows rows of size bytes of title, written straight to the file
        (the API takes bodies up to max_body)."""
        con = sqlite3.connect(self.db_path(), timeout=5)
        try:
            with con:
                con.executemany("INSERT INTO notes (title) VALUES (?)",
                                [(chr(ord("a") + i % 26) * size,) for i in range(rows)])
        finally:
            con.close()

    @unittest.skipIf(harness.SANITIZED or harness.WRAPPER, "RSS of an instrumented server says nothing")
    def test_listing_memory_is_bounded(self):
        # 40 rows of 1 MiB: the answer is 40 MiB of JSON. It is built once,
        # in one buffer the core sends from; around it live SQLite's page
        # cache (2 MiB a connection) and one row being converted (a few
        # MiB). So the peak may grow by the data plus half of it at most;
        # holding the rows as JSON values, then as text, then as a copy for
        # the core (3.5 times the data) cannot pass.
        self.fill_notes(40, MIB)
        self.assertEqual(self.req("GET", "/api/notes?limit=1").status, 200)
        before = vm_hwm(self.srv.serving_pid())
        r, body = self.big_get("/api/notes?limit=40", headers={"Prefer": "count=exact"})
        after = vm_hwm(self.srv.serving_pid())
        self.assertEqual(r.status, 200)
        rows = json.loads(body)
        self.assertEqual((len(rows), r.getheader("X-Total-Count")), (40, "40"))
        self.assertEqual([len(x["title"]) for x in rows], [MIB] * 40)
        self.assertEqual(rows[1]["title"][:3], "bbb")
        print("listing of 40 MiB: peak RSS %.1f -> %.1f MiB" % (before / MIB, after / MIB))
        self.assertLess(after - before, 60 * MIB, "peak RSS grew by %.1f MiB" % ((after - before) / MIB))

    def test_max_response_bytes_bounds_what_is_built_in_memory(self):
        # max_response_bytes bounds what is held in memory: a listing
        # streams past it, an object (never streamed) or one row's text
        # cannot exceed it
        self.start(extra="max_response_bytes = 512k")
        self.fill_notes(10, 100 * 1024)
        r = self.req("GET", "/api/notes")
        self.assertEqual((r.status, r.header("Transfer-Encoding")), (200, "chunked"))
        self.assertEqual([x["title"][:2] for x in jbody(r)], [c * 2 for c in "abcdefghij"])
        r = self.req("GET", "/api/notes?limit=4&offset=6", headers={"Prefer": "count=exact"})
        self.assertEqual((r.status, r.header("X-Total-Count"), r.header("Content-Range")), (206, "10", "6-9/10"))
        self.assertEqual([x["title"][:2] for x in jbody(r)], ["gg", "hh", "ii", "jj"])
        self.fill_notes(1, 600 * 1024)  # id 11, one row beyond the bound
        r = self.req("GET", "/api/notes?id=eq.11", headers={"Accept": "application/vnd.pgrst.object+json"})
        self.assertError(r, 500, "max_response_bytes")
        self.assertIn("limit=", jbody(r)["error"])
        self.assertEqual(self.srv.get("/echo/x").status, 200)

    def test_unwritable_database_file_fails_at_start(self):
        # A WAL-mode database the server's user may read but not write, in
        # a folder it may write: SQLite would open it read-only and every
        # write would be a 503. As root (CI) the server runs as nobody.
        seed = tempfile.mkdtemp(prefix="phseed-")
        self.addCleanup(shutil.rmtree, seed, True)
        con = sqlite3.connect(os.path.join(seed, "x.db"))
        con.executescript(schema_text("sqlite"))
        con.execute("PRAGMA journal_mode = WAL")
        con.close()
        with open(os.path.join(seed, "x.db"), "rb") as f:
            db = f.read()
        uid = 65534 if os.geteuid() == 0 else os.geteuid()
        # The launcher runs after the files exist: it opens the scratch
        # folder to the server's user and takes write access away.
        script = ('for a; do ini=$a; done; d=$(dirname "$ini"); chmod 755 "$d"; chmod 777 "$d/data"; '
                  'chmod 444 "$d/data/x.db"; ')
        if os.geteuid() == 0:
            script += 'exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"'
        else:
            script += 'exec "$@"'
        routes = "[route /api]\nplugin = data\ndatabase = sqlite:data/x.db\ntables = notes\n"
        srv = harness.Server(harness.server_ini(routes=routes), files={"data/x.db": db},
                             launcher=("sh", "-c", script, "sh"), expect_ready=False)
        try:
            srv.proc.wait(15)
            self.assertNotEqual(srv.proc.returncode, 0, srv.log())
            path = os.path.join(srv.dir, "data", "x.db")
            self.assertTrue(srv.wait_log(r"database %s is not writable by uid %d" % (path, uid), 5), srv.log())
        finally:
            srv.stop()

    def test_core_errors_are_json(self):
        # The core side of PH_PLUGIN_JSON_ERRORS and PH_PLUGIN_PGRST_ERRORS:
        # errors the core answers itself on a data route (the route judged
        # from the request line even when the head is too large) are JSON
        # in the plugin's own shape and bytes.
        keys = self.database_keys(self.fresh_name())
        routes = "[route /api]\nplugin = data\n%s\ntables = notes\n" % keys
        srv = harness.Server(harness.server_ini(routes=routes, server_extra="max_body_bytes = 1k\n"
                                                "max_header_bytes = 4k\nmax_uri_bytes = 256"),
                             files={"schema.sql": schema_text("sqlite")})
        self.addCleanup(srv.stop)
        cases = [(413, "Content Too Large", dict(method="POST", body=b"{}" + b" " * 4096,
                                                 headers={"Content-Type": "application/json"})),
                 (431, "Request Header Fields Too Large", dict(method="GET", headers={"X-Big": "y" * 8192})),
                 (414, "URI Too Long", dict(method="GET", path="/api/notes?" + "q" * 300))]
        for status, reason, kw in cases:
            r = srv.get(kw.pop("path", "/api/notes"), **kw)
            self.assertEqual(r.status, status, r.body)
            self.assertEqual(r.header("Content-Type"), "application/json", r.body)
            self.assertEqual(r.body, ('{"code":"PGRST000","message":"%s","details":null,"hint":null,'
                                      '"error":"%s","status":%d}\n' % (reason, reason, status)).encode())
        # a route whose plugin did not ask for JSON keeps the text line
        r = srv.get("/elsewhere?" + "q" * 300)
        self.assertEqual((r.status, r.header("Content-Type"), r.body),
                         (414, "text/plain; charset=utf-8", b"414 URI Too Long\n"))


class SqliteViewRpcTest(DataViewCases, DataRpcSetCases, DataCountCases, unittest.TestCase):
    """Views and named queries (rpc.NAME) on SQLite."""
    flavour = "sqlite"
    RPC_SCHEMA = ("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, year INTEGER);\n" + BOOKS_INSERT +
                  "CREATE VIEW recent_books AS SELECT id, title, year FROM books WHERE year >= 2000;\n"
                  "CREATE VIEW book_years AS SELECT year, count(*) AS n FROM books GROUP BY year;\n"
                  # recent_books takes INSERT and DELETE (not UPDATE) through triggers
                  "CREATE TRIGGER recent_add /* not: INSTEAD OF UPDATE */ INSTEAD OF\n  INSERT ON recent_books\n"
                  "BEGIN INSERT INTO books (title, year) VALUES (NEW.title, NEW.year); END;\n"
                  "CREATE TRIGGER \"instead of update\" INSTEAD OF DELETE ON recent_books\n"
                  "BEGIN DELETE FROM books WHERE id = OLD.id; END;\n"
                  # titles takes UPDATE, through a trigger that fires when the title changes
                  "CREATE VIEW titles AS SELECT id, title FROM books;\n"
                  "CREATE TRIGGER titles_set INSTEAD OF UPDATE OF title ON titles\n"
                  "BEGIN UPDATE books SET title = NEW.title WHERE id = OLD.id; END;\n")
    EXTRA_TABLES = ", titles"
    RPC_KEYS = ("rpc.top_books = SELECT id, title, year FROM books WHERE year >= :min_year ORDER BY id\n"
                "rpc.add_book = INSERT INTO books (title, year) VALUES (:title, :year) RETURNING id, title\n"
                "rpc.titled = SELECT id FROM books WHERE title = :t OR title = ':t' -- :nope\n")
    MIN_YEAR_PROP = {}

    def database_keys(self, name):
        return "database = sqlite:data/%s.db" % name

    def planned(self, where):
        return None  # SQLite keeps no row estimates

    def test_view_takes_the_writes_its_triggers_cover(self):
        r = self.req("POST", "/api/recent_books", [{"title": "X", "year": 2030}, {"title": "Y", "year": 2031}])
        self.assertEqual((r.status, r.body, r.header("Location")), (201, b"", None))
        self.assertJson(self.req("GET", "/api/books?id=gt.4"), 200,
                        [{"id": 5, "title": "X", "year": 2030}, {"id": 6, "title": "Y", "year": 2031}])
        r = self.req("DELETE", "/api/recent_books?year=gt.2025", headers={"Prefer": "return=representation"})
        self.assertJson(r, 200, [{"id": 5, "title": "X", "year": 2030}, {"id": 6, "title": "Y", "year": 2031}])
        self.assertEqual(self.req("DELETE", "/api/recent_books?id=eq.2").status, 204)
        self.assertJson(self.req("GET", "/api/books?select=id"), 200, [{"id": 1}, {"id": 3}, {"id": 4}])
        # no INSTEAD OF UPDATE trigger: PATCH is refused before SQLite sees it
        r = self.req("PATCH", "/api/recent_books?id=eq.3", {"year": 2011})
        e = self.assertErr(r, 405, "PGRST117")
        self.assertEqual(e["message"], 'method not allowed on view "recent_books"')
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST, DELETE")
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/recent_books"]), ["delete", "get", "post"])

    def test_view_with_an_update_trigger_takes_patch(self):
        r = self.req("PATCH", "/api/titles?id=lt.3", {"title": "Renamed"})
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertJson(self.req("GET", "/api/books?select=title&order=id"), 200,
                        [{"title": t} for t in ("Renamed", "Renamed", "Gamma", "Delta")])
        r = self.req("PATCH", "/api/titles?id=eq.3", {"title": "G"}, headers={"Prefer": "return=representation"})
        self.assertErr(r, 400, "PGRST100")
        r = self.req("POST", "/api/titles", {"title": "New"})
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "GET, HEAD, PATCH")
        self.assertJson(self.req("GET", "/api/books?select=title&id=eq.3"), 200, [{"title": "Gamma"}])

    def test_insert_through_a_view_cannot_return_its_rows(self):
        # RETURNING through an INSTEAD OF trigger gives the values sent,
        # not the row stored (its id would read null)
        r = self.req("POST", "/api/recent_books", {"title": "X", "year": 2030},
                     headers={"Prefer": "return=representation"})
        e = self.assertErr(r, 400, "PGRST100")
        self.assertEqual(e["message"], 'return=representation is not supported on writes through view '
                         '"recent_books": the database cannot return the rows written')
        self.assertEqual(len(jbody(self.req("GET", "/api/books"))), 4)

    def test_named_parameters_are_bound_by_name(self):
        # ':t' in quotes and after -- is text, not a parameter
        self.assertJson(self.req("GET", "/api/rpc/titled?t=Gamma"), 200, [{"id": 3}])
        self.assertErr(self.req("POST", "/api/rpc/titled", {"t": "x", "nope": 1}), 404, "PGRST202")

    def test_rows_as_csv_and_arguments_given_once(self):
        r = self.req("GET", "/api/rpc/top_books?min_year=2010&select=id,title", headers={"Accept": "text/csv"})
        self.assertEqual((r.status, r.header("Content-Type"), r.body),
                         (200, "text/csv; charset=utf-8", b"id,title\n3,Gamma\n4,Delta\n"))
        e = self.assertErr(self.req("GET", "/api/rpc/top_books?min_year=1&min_year=2"), 400, "PGRST100")
        self.assertEqual(e["message"], "argument min_year given twice")

    def test_a_query_that_writes_takes_post_only(self):
        r = self.req("GET", "/api/rpc/add_book?title=X&year=1")
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "POST")
        r = self.req("POST", "/api/rpc/add_book", {"title": "Epsilon", "year": 2024})
        self.assertJson(r, 200, [{"id": 5, "title": "Epsilon"}])
        r = self.req("POST", "/api/rpc/add_book", {"title": "Zeta", "year": 2025}, headers={"Prefer": "tx=rollback"})
        self.assertJson(r, 200, [{"id": 6, "title": "Zeta"}])
        self.assertEqual(r.header("Preference-Applied"), "tx=rollback")
        self.assertJson(self.req("GET", "/api/books?select=title&id=gt.4"), 200, [{"title": "Epsilon"}])
        r = self.req("POST", "/api/rpc/add_book?limit=1", {"title": "Eta", "year": 2026})
        self.assertErr(r, 400, "PGRST100")

    def test_numbers_in_a_body_reach_the_query_exactly(self):
        # The body's numbers come from the exact loader (data_num.h): a
        # number SQLite holds exactly is bound as it, a nested one stays
        # as written in the JSON text of an object argument, and one SQLite
        # would round is refused.
        srv = self.start(extra="rpc.echo = SELECT :v AS v")
        h = {"Content-Type": "application/json"}
        for body, answer in ((b'{"v":0.1}', b'[{"v":0.1}]\n'),
                             (b'{"v":9007199254740993}', b'[{"v":9007199254740993}]\n'),
                             (b'{"v":{"a":[1.50,2e3]}}', b'[{"v":"{\\"a\\":[1.50,2e3]}"}]\n')):
            r = srv.get("/api/rpc/echo", method="POST", body=body, headers=h)
            self.assertEqual((r.status, r.body), (200, answer), body)
        r = srv.get("/api/rpc/echo", method="POST", body=b'{"v":12345678901234567890.5}', headers=h)
        self.assertErr(r, 400, "22003")

    def test_openapi_lists_a_writing_query_with_post_only(self):
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/rpc/add_book"]), ["post"])
        self.assertEqual(doc["paths"]["/rpc/add_book"]["post"]["parameters"][0]["schema"]["required"],
                         ["title", "year"])

    def test_read_only_route_refuses_a_writing_query(self):
        self.start(read_only=True)
        self.assertErr(self.req("POST", "/api/rpc/add_book", {"title": "X", "year": 1}), 405, "PGRST117")
        self.assertJson(self.req("POST", "/api/rpc/top_books", {"min_year": 2015}), 200, BOOKS[3:])

    def test_a_bad_query_fails_the_start(self):
        for keys, msg in (("rpc.broken = SELECT nosuch FROM books", "rpc.broken: no such column: nosuch"),
                          ("rpc.two = SELECT 1; SELECT 2", "rpc.two: one statement only"),
                          ("rpc.pos = SELECT ?1", "rpc.pos: use :name parameters only"),
                          ("functions = f", "SQLite has no stored functions")):
            routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/bad.db\nschema = schema.sql\n"
                      "tables = books\n%s\n" % keys)
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
