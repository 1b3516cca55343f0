"""Exact numbers in the data plugin, shared by the three backends.

DataNumberCases is a mixin for the backend classes of test_data.py,
test_data_pg.py and test_data_mysql.py (their database_keys() and flavour).
Bodies are sent as raw bytes and answers compared as bytes: a JSON library
on this side would round the numbers this file is about.
"""

from harness import Server, server_ini

MONEY = {
    "sqlite": "CREATE TABLE money (id INTEGER PRIMARY KEY, price DECIMAL(38,9), big BIGINT, f REAL);",
    "pg": "CREATE TABLE money (id BIGINT PRIMARY KEY, price NUMERIC, big BIGINT, f DOUBLE PRECISION);",
    "mysql": "CREATE TABLE money (id BIGINT PRIMARY KEY, price DECIMAL(38,9), big BIGINT, f DOUBLE);",
}

HUGE = b"12345678901234567890.123456789"
NEAR = b"12345678901234567890.123456788"  # the same double as HUGE


class DataNumberCases:
    def money(self):
        keys = self.database_keys(self.fresh_name())
        routes = "[route /api]\nplugin = data\n%s\ntables = money\n" % keys
        srv = Server(server_ini(routes=routes), files={"schema.sql": MONEY[self.flavour]})
        self.addCleanup(srv.stop)
        return srv

    def send(self, srv, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        return srv.get(path, method=method, body=body, headers=h)

    def listing(self, srv, qs):
        r = self.send(srv, "GET", "/api/money?" + qs)
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def exact(self, price):
        """An exact backend's text of price: MariaDB's DECIMAL(38,9) writes
        its nine places; PostgreSQL's numeric the digits it was given."""
        if self.flavour != "mysql":
            return price
        whole, _, frac = price.partition(b".")
        return whole + b"." + (frac + b"0" * 9)[:9]

    def test_numbers_round_trip_exactly(self):
        srv = self.money()
        rows = [b'{"id":1,"price":0.1,"big":9007199254740993,"f":0.1}',
                b'{"id":2,"price":-0.000000001,"big":-9223372036854775808,"f":1e20}',
                b'{"id":3,"price":1.5e1,"big":null,"f":0.30000000000000004}']
        r = self.send(srv, "POST", "/api/money", b"[" + b",".join(rows) + b"]")
        self.assertEqual(r.status, 201, r.body)
        tiny = b"-1e-9" if self.flavour == "sqlite" else self.exact(b"-0.000000001")
        fifteen = {"sqlite": b"15.0", "pg": b"15", "mysql": b"15.000000000"}[self.flavour]
        self.assertEqual(self.listing(srv, "order=id"),
                         b'[{"id":1,"price":' + self.exact(b"0.1") + b',"big":9007199254740993,"f":0.1},'
                         b'{"id":2,"price":' + tiny + b',"big":-9223372036854775808,"f":1e20},'
                         b'{"id":3,"price":' + fifteen + b',"big":null,"f":0.30000000000000004}]\n')
        # The same rows as CSV.
        r = self.send(srv, "GET", "/api/money?select=id,price,f&order=id", headers={"Accept": "text/csv"})
        self.assertEqual(r.body, b"id,price,f\n1," + self.exact(b"0.1") + b",0.1\n2," + tiny + b",1e20\n3,"
                         + fifteen + b",0.30000000000000004\n")

    def test_a_bigint_beyond_two_to_the_53_stays_exact(self):
        srv = self.money()
        r = self.send(srv, "POST", "/api/money", b'{"id":9007199254740993,"big":9007199254740993}',
                      headers={"Prefer": "return=representation"})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body, b'[{"id":9007199254740993,"price":null,"big":9007199254740993,"f":null}]\n')
        self.assertEqual(self.listing(srv, "big=eq.9007199254740993&select=id"),
                         b'[{"id":9007199254740993}]\n')
        self.assertEqual(self.listing(srv, "big=eq.9007199254740992&select=id"), b"[]\n")
        r = self.send(srv, "GET", "/api/money/9007199254740993")
        self.assertEqual(r.body, b'{"id":9007199254740993,"price":null,"big":9007199254740993,"f":null}\n')

    def test_an_integer_beyond_64_bits_is_refused_for_a_bigint(self):
        srv = self.money()
        r = self.send(srv, "POST", "/api/money", b'{"id":1,"big":9223372036854775808}')
        self.assertEqual(r.status, 400, r.body)
        self.assertIn(b'"message":"column \\"big\\" expects an integer within 64 bits"', r.body)

    def test_decimals_beyond_a_double_are_exact_or_refused(self):
        srv = self.money()
        body = b'[{"id":1,"price":' + HUGE + b'},{"id":2,"price":' + NEAR + b'}]'
        r = self.send(srv, "POST", "/api/money", body, headers={"Prefer": "return=representation"})
        if self.flavour == "sqlite":
            # REAL would keep 17 digits of it: refused rather than rounded.
            self.assertEqual(r.status, 400, r.body)
            self.assertEqual(r.body, b'{"code":"22003","message":"12345678901234567890.123456789 cannot be '
                             b'stored exactly: SQLite holds numbers as 64-bit integers or doubles",'
                             b'"details":null,"hint":null,"error":"12345678901234567890.123456789 cannot '
                             b'be stored exactly: SQLite holds numbers as 64-bit integers or doubles",'
                             b'"status":400}\n')
            r = self.send(srv, "GET", "/api/money?price=eq." + HUGE.decode())
            self.assertEqual(r.status, 400, r.body)
            self.assertIn(b'"code":"22003"', r.body)
            self.assertEqual(self.listing(srv, "price=lt.0.5"), b"[]\n")
            return
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body, b'[{"id":1,"price":' + HUGE + b',"big":null,"f":null},'
                         b'{"id":2,"price":' + NEAR + b',"big":null,"f":null}]\n')
        # Filters compare the exact values: the two differ in the last place.
        self.assertEqual(self.listing(srv, "select=id,price&price=eq." + HUGE.decode()),
                         b'[{"id":1,"price":' + HUGE + b'}]\n')
        self.assertEqual(self.listing(srv, "select=id&price=lt." + HUGE.decode()), b'[{"id":2}]\n')
        self.assertEqual(self.listing(srv, "select=id&price=in.(" + NEAR.decode() + ",3)"), b'[{"id":2}]\n')
        # PATCH binds the body's text too.
        r = self.send(srv, "PATCH", "/api/money?id=eq.2", b'{"price":99999999999999999999.999999999}',
                      headers={"Prefer": "return=representation"})
        self.assertEqual(r.body, b'[{"id":2,"price":99999999999999999999.999999999,"big":null,"f":null}]\n')

    def test_a_number_that_is_no_decimal_is_refused(self):
        srv = self.money()
        r = self.send(srv, "GET", "/api/money?price=eq.1x")
        self.assertEqual(r.status, 400, r.body)
        self.assertIn(b'"code":"22P02"', r.body)
        self.assertIn(b'expected a decimal number', r.body)
        r = self.send(srv, "POST", "/api/money", b'{"id":1,"price":"1.5"}')
        self.assertEqual(r.status, 400, r.body)
        r = self.send(srv, "POST", "/api/money", b'{"id":1,"f":1e400}')
        self.assertEqual(r.status, 400, r.body)
        self.assertIn(b'expects a number within the range of a double', r.body)

    def test_csv_and_large_integers_in_decimals_are_exact(self):
        srv = self.money()
        r = self.send(srv, "POST", "/api/money", b"id,price\n1,9007199254740993\n2,0.25\n",
                      headers={"Content-Type": "text/csv"})
        self.assertEqual(r.status, 201, r.body)
        big = self.exact(b"9007199254740993.") if self.flavour == "mysql" else b"9007199254740993"
        self.assertEqual(self.listing(srv, "select=id,price&order=id"),
                         b'[{"id":1,"price":' + big + b'},{"id":2,"price":' + self.exact(b"0.25") + b'}]\n')
        self.assertEqual(self.listing(srv, "select=id&price=eq.9007199254740993"), b'[{"id":1}]\n')
        self.assertEqual(self.listing(srv, "select=id&price=eq.9007199254740992"), b"[]\n")
