"""Prefer: count=planned and count=estimated on the books of
data_rpc_cases.py, shared by the backends. A backend class (an RpcServer)
provides planned(where): the planner's row estimate for "SELECT 1 FROM
books WHERE <where>" asked of the database directly, or None where the
database keeps no estimates (SQLite: both counts are then exact)."""

from data_rpc_cases import BOOKS, RpcServer, jbody


class DataCountCases(RpcServer):

    def expect(self, where, exact):
        figure = self.planned(where)
        return exact if figure is None else figure

    def listing(self, path, count):
        r = self.req("GET", path, headers={"Prefer": "count=%s" % count})
        total = int(r.header("Content-Range").rsplit("/", 1)[1])
        self.assertEqual(r.header("X-Total-Count"), str(total))
        return r, total

    def test_planned_count_is_the_planners_estimate(self):
        want = self.expect("year > 2005", 2)
        r, total = self.listing("/api/books?year=gt.2005&order=id&limit=1", "planned")
        self.assertEqual(total, want)
        self.assertEqual(r.status, 206 if want > 1 else 200, r.body)
        self.assertEqual(jbody(r), [BOOKS[2]])
        self.assertEqual(r.header("Content-Range"), "0-0/%d" % want)
        # the same on a view, over its own filters
        r, total = self.listing("/api/recent_books?order=id", "planned")
        self.assertEqual(jbody(r), BOOKS[1:])
        self.assertEqual(total, self.expect("year >= 2000", 3))

    def test_estimated_count_is_exact_up_to_max_rows(self):
        # max_rows defaults to 1000: two matching rows are counted
        r, total = self.listing("/api/books?year=gt.2005&order=id&limit=1", "estimated")
        self.assertEqual((r.status, total, r.header("Content-Range")), (206, 2, "0-0/2"))
        r, total = self.listing("/api/books?year=gt.2020", "estimated")
        self.assertEqual((r.status, total, r.header("Content-Range"), r.body), (200, 0, "*/0", b"[]\n"))

    def test_estimated_count_beyond_max_rows_is_planned(self):
        self.start(extra="max_rows = 3")
        want = self.expect("year > 1000", 4)
        r, total = self.listing("/api/books?year=gt.1000&order=id", "estimated")
        self.assertEqual(jbody(r), BOOKS[:3])
        self.assertEqual((total, r.header("Content-Range")), (want, "0-2/%d" % want))
        self.assertEqual(r.status, 206 if want > 3 else 200)
        # fewer or exactly max_rows matching rows are counted
        r, total = self.listing("/api/books?year=gt.2005", "estimated")
        self.assertEqual((r.status, total), (200, 2))
        r, total = self.listing("/api/books?year=gt.1995", "estimated")
        self.assertEqual((r.status, total, r.header("Content-Range")), (200, 3, "0-2/3"))

    def test_exact_wins_over_planned(self):
        r, total = self.listing("/api/books?order=id&limit=2", "exact, count=planned")
        self.assertEqual((r.status, total), (206, 4))
