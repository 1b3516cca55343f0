"""JSON paths (col->a->>b) in select, filters and order, shared by the
three backends: a mixin for the backend classes of test_data.py,
test_data_pg.py and test_data_mysql.py (their database_keys() and flavour).
"""

import json
import urllib.parse

from harness import Server, server_ini

DOCS = {
    "sqlite": "CREATE TABLE docs (id INTEGER PRIMARY KEY, data JSON, title TEXT, n INTEGER);",
    "pg": "CREATE TABLE docs (id BIGINT PRIMARY KEY, data JSONB, title TEXT, n INTEGER);",
    "mysql": "CREATE TABLE docs (id BIGINT PRIMARY KEY, data JSON, title TEXT, n INTEGER);",
}

ROWS = [
    {"id": 1, "data": {"a": {"b": "x"}, "color": "red", "n": 3, "arr": [10, 20], "k'y": "q", "$x": 1}},
    {"id": 2, "data": {"a": {"b": "y"}, "color": "blue", "n": 7, "arr": [30]}},
    {"id": 3, "data": {"color": "red", "n": 5}},
]


class DataJsonPathCases:
    def docs(self):
        keys = self.database_keys(self.fresh_name())
        routes = "[route /api]\nplugin = data\n%s\ntables = docs\n" % keys
        srv = Server(server_ini(routes=routes), files={"schema.sql": DOCS[self.flavour]})
        self.addCleanup(srv.stop)
        body = json.dumps([dict(r, data=json.dumps(r["data"])) for r in ROWS]).encode()
        r = srv.get("/api/docs", method="POST", body=body, headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.body)
        return srv

    def q(self, srv, qs):
        return srv.get("/api/docs?" + urllib.parse.quote(qs, safe="=&,.:()*"))

    def ok(self, srv, qs):
        r = self.q(srv, qs)
        self.assertEqual(r.status, 200, (qs, r.body))
        return r.body

    def test_json_paths_in_select_are_named_by_their_last_key(self):
        srv = self.docs()
        self.assertEqual(self.ok(srv, "select=id,data->a->>b&order=id"),
                         b'[{"id":1,"b":"x"},{"id":2,"b":"y"},{"id":3,"b":null}]\n')
        self.assertEqual(self.ok(srv, "select=id,x:data->a,second:data->arr->1&id=lt.3&order=id"),
                         b'[{"id":1,"x":{"b":"x"},"second":20},{"id":2,"x":{"b":"y"},"second":null}]\n')
        self.assertEqual(self.ok(srv, "select=data->n,data->>color&id=eq.1"), b'[{"n":3,"color":"red"}]\n')

    def test_json_paths_filter_as_text_and_order(self):
        srv = self.docs()
        self.assertEqual(self.ok(srv, "select=id&data->>color=eq.red&order=id"), b'[{"id":1},{"id":3}]\n')
        self.assertEqual(self.ok(srv, "select=id&data->a->>b=in.(y,z)"), b'[{"id":2}]\n')
        self.assertEqual(self.ok(srv, "select=id&data->>color=like.bl*"), b'[{"id":2}]\n')
        self.assertEqual(self.ok(srv, "select=id&data->a->>b=is.null"), b'[{"id":3}]\n')
        self.assertEqual(self.ok(srv, "select=id&order=data->>n.desc"), b'[{"id":2},{"id":3},{"id":1}]\n')
        self.assertEqual(self.ok(srv, "select=id&order=data->n.asc,id"), b'[{"id":1},{"id":3},{"id":2}]\n')

    def test_json_path_keys_are_parameters(self):
        srv = self.docs()
        # a quote in a key reaches the database as a bound value, not SQL
        self.assertEqual(self.ok(srv, "select=id,data->>k'y&order=id"),
                         b'[{"id":1,"k\'y":"q"},{"id":2,"k\'y":null},{"id":3,"k\'y":null}]\n')
        self.assertEqual(self.ok(srv, "select=id&data->>k'y);DROP TABLE docs;--=eq.q"), b"[]\n")
        # a key that looks like a path is a key
        self.assertEqual(self.ok(srv, "select=v:data->>$x&id=eq.1"), b'[{"v":"1"}]\n')
        r = self.q(srv, 'select=data->>a"b')
        if self.flavour == "pg":
            self.assertEqual(r.status, 200, r.body)
        else:
            self.assertEqual(r.status, 400, r.body)
            self.assertIn(b"cannot be addressed on this database", r.body)
        self.assertEqual(self.ok(srv, "select=id&order=id"), b'[{"id":1},{"id":2},{"id":3}]\n')

    def test_json_paths_refused_where_they_cannot_apply(self):
        srv = self.docs()
        for qs, code, text in (("data->color=eq.red", b"PGRST100", b"with ->> at its last step"),
                               ("select=n->a", b"PGRST100", b"needs a JSON column"),
                               ("select=data->>a->b", b"PGRST100", b"->> at its last step only"),
                               ("select=data->", b"PGRST100", b"needs a key"),
                               ("select=nope->a", b"42703", b""),
                               ("or=(data->>color.eq.red)", b"42703", b"")):
            r = self.q(srv, qs)
            self.assertEqual(r.status, 400, (qs, r.body))
            self.assertIn(b'"code":"' + code + b'"', r.body)
            self.assertIn(text, r.body)
