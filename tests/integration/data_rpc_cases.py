"""Views and RPC of the data plugin, shared by the backends.

DataViewCases runs on the three backends, DataRpcSetCases on SQLite and
PostgreSQL (a function returning rows: an SQLite named query, a
PostgreSQL set-returning function). A backend class provides:
  flavour              "sqlite", "pg" or "mysql"
  database_keys(name)  route keys (database) for a fresh database
  RPC_SCHEMA           the SQL that creates books, its views and functions
  RPC_KEYS             the route keys exposing them (functions, rpc.NAME)
Every test gets a fresh database holding BOOKS.
"""

import json

from harness import Server, server_ini

# The rows every schema inserts, in id order.
BOOKS = [
    {"id": 1, "title": "Alpha", "year": 1990},
    {"id": 2, "title": "Beta", "year": 2005},
    {"id": 3, "title": "Gamma", "year": 2010},
    {"id": 4, "title": "Delta", "year": 2020},
]
BOOKS_INSERT = ("INSERT INTO books (title, year) VALUES ('Alpha', 1990), ('Beta', 2005), "
                "('Gamma', 2010), ('Delta', 2020);\n")


def jbody(resp):
    return json.loads(resp.body.decode("utf-8"))


class RpcServer:
    counter = 0
    EXTRA_TABLES = ""  # more exposed tables, ", a, b"

    def start(self, extra="", read_only=False):
        type(self).counter += 1
        keys = self.database_keys("rpc%d_%d" % (id(self) % 100000, type(self).counter))
        routes = ("[route /api]\nplugin = data\n%s\nschema = schema.sql\ntables = books, recent_books, "
                  "book_years%s\n%s\nread_only = %s\n%s\n" % (keys, self.EXTRA_TABLES, self.RPC_KEYS,
                                                               "yes" if read_only else "no", extra))
        srv = Server(server_ini(routes=routes), files={"schema.sql": self.RPC_SCHEMA})
        self.addCleanup(srv.stop)
        self.srv = srv
        return srv

    def setUp(self):
        self.start()

    def req(self, method, path, obj=None, headers=None):
        body = json.dumps(obj).encode() if obj is not None else None
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        return self.srv.get(path, method=method, body=body, headers=h)

    def assertJson(self, resp, status, expected):
        self.assertEqual(resp.status, status, resp.body)
        self.assertEqual(jbody(resp), expected)

    def assertErr(self, resp, status, code):
        self.assertEqual(resp.status, status, resp.body)
        e = jbody(resp)
        self.assertEqual((e["code"], e["status"]), (code, status), e)
        return e


class DataViewCases(RpcServer):
    """recent_books: the books of 2000 and later; book_years: books per
    year (GROUP BY: never updatable)."""

    def test_view_reads_like_a_table(self):
        self.assertJson(self.req("GET", "/api/recent_books"), 200, BOOKS[1:])
        r = self.req("GET", "/api/recent_books?select=title&year=gt.2005&order=year.desc")
        self.assertJson(r, 200, [{"title": "Delta"}, {"title": "Gamma"}])
        r = self.req("GET", "/api/recent_books?order=id&limit=1&offset=1", headers={"Prefer": "count=exact"})
        self.assertJson(r, 206, [BOOKS[2]])
        self.assertEqual(r.header("Content-Range"), "1-1/3")
        r = self.req("GET", "/api/recent_books?id=eq.3", headers={"Accept": "application/vnd.pgrst.object+json"})
        self.assertJson(r, 200, BOOKS[2])
        r = self.req("GET", "/api/book_years?select=year,n&order=year&year=lt.2010")
        self.assertJson(r, 200, [{"year": 1990, "n": 1}, {"year": 2005, "n": 1}])

    def test_view_has_no_item_routes(self):
        e = self.assertErr(self.req("GET", "/api/recent_books/2"), 404, "42P01")
        self.assertEqual(e["message"], 'view "recent_books" has no primary key: it has no item routes')

    def test_read_only_view_refuses_writes(self):
        for m in ("POST", "PATCH", "DELETE", "PUT"):
            r = self.req(m, "/api/book_years?year=eq.1990", {"year": 1})
            e = self.assertErr(r, 405, "PGRST117")
            self.assertEqual(e["message"], 'view "book_years" is read-only')
            self.assertEqual(r.header("Allow"), "GET, HEAD")
        self.assertEqual(len(jbody(self.req("GET", "/api/books"))), 4)

    def test_range_operators_need_a_range_column(self):
        # year is an integer on every backend; SQLite and MariaDB have no ranges at all
        for op in ("sl", "sr", "nxr", "nxl", "adj", "not.adj"):
            e = self.assertErr(self.req("GET", "/api/books?year=%s.[1,5)" % op), 400, "PGRST100")
            self.assertEqual(e["message"], 'filter on "year": sl, sr, nxr, nxl and adj need a PostgreSQL '
                             'range column')

    def test_openapi_lists_views(self):
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/book_years"]), ["get"])
        self.assertEqual(list(doc["definitions"]["book_years"]["properties"]), ["year", "n"])


class DataRpcSetCases(RpcServer):
    """top_books(min_year): id, title, year of the books from min_year on,
    by id."""

    def test_post_calls_with_named_arguments(self):
        self.assertJson(self.req("POST", "/api/rpc/top_books", {"min_year": 2006}), 200, BOOKS[2:])

    def test_get_calls_with_query_arguments(self):
        self.assertJson(self.req("GET", "/api/rpc/top_books?min_year=2006"), 200, BOOKS[2:])

    def test_result_takes_select_filters_order_and_paging(self):
        r = self.req("GET", "/api/rpc/top_books?min_year=2000&select=title&year=neq.2010&order=year.desc")
        self.assertJson(r, 200, [{"title": "Delta"}, {"title": "Beta"}])
        r = self.req("POST", "/api/rpc/top_books?order=id.desc&limit=2&offset=1", {"min_year": 1900})
        self.assertJson(r, 200, [BOOKS[2], BOOKS[1]])
        self.assertEqual(r.header("Content-Range"), "1-2/*")
        r = self.req("POST", "/api/rpc/top_books?id=eq.2", {"min_year": 1900},
                     headers={"Accept": "application/vnd.pgrst.object+json"})
        self.assertJson(r, 200, BOOKS[1])
        r = self.req("POST", "/api/rpc/top_books?nosuch=eq.1", {"min_year": 1900})
        self.assertErr(r, 400, "42703")

    def test_unknown_function_and_wrong_arguments_are_404(self):
        e = self.assertErr(self.req("POST", "/api/rpc/nosuch", {}), 404, "PGRST202")
        self.assertEqual(e["message"], "Could not find the function nosuch in the schema cache")
        e = self.assertErr(self.req("POST", "/api/rpc/top_books", {"min_year": 1, "x": 2}), 404, "PGRST202")
        self.assertEqual(e["details"], "no argument named x")
        e = self.assertErr(self.req("POST", "/api/rpc/top_books", {}), 404, "PGRST202")
        self.assertEqual(e["details"], "argument min_year is required")
        e = self.assertErr(self.req("GET", "/api/rpc/top_books"), 404, "PGRST202")

    def test_body_must_be_an_object(self):
        self.assertErr(self.req("POST", "/api/rpc/top_books", [1]), 400, "PGRST102")
        r = self.srv.get("/api/rpc/top_books", method="POST", body=b"{}", headers={"Content-Type": "text/plain"})
        self.assertErr(r, 415, "PGRST107")

    def test_other_methods_are_405(self):
        r = self.req("DELETE", "/api/rpc/top_books")
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST")

    def test_openapi_lists_functions(self):
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/rpc/top_books"]), ["get", "post"])
        post = doc["paths"]["/rpc/top_books"]["post"]
        self.assertEqual(post["parameters"][0]["schema"]["properties"], {"min_year": self.MIN_YEAR_PROP})
        self.assertEqual(post["parameters"][0]["schema"]["required"], ["min_year"])
