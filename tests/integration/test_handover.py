#!/usr/bin/env python3
"""State across reloads (ABI 1.6 take_over), processes = 0 (one process).

The fixture "handover" (tests/plugins/handover.c, built as handover_a.so
and handover_b.so) counts its requests and answers "count N build X";
take_over() starts a new instance's count from the one it replaces.

Asserted:
  * a reload that replaces the plugin file carries the exact count over
    (and logs it); so does one that changes only the route's keys;
  * a reload that keeps the instance runs no take_over;
  * a reload that fails (another route's create() refuses) never calls
    take_over: the old instance serves on with its count untouched.
"""

import os
import re
import signal
import unittest

import harness

A = os.path.join(harness.FIXTURE_DIR, "handover_a.so")
B = os.path.join(harness.FIXTURE_DIR, "handover_b.so")
SERVING = r"reload: generation \d+ serving"
FAILED = r"reload failed, generation \d+ keeps serving"
TOOK = r"handover: took over (\d+) from version (\w+)"


def install(folder, src):
    with open(src, "rb") as f:
        data = f.read()
    tmp = os.path.join(folder, ".handover.so.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(folder, "handover.so"))


def ini(keys="tag = 1", extra=""):
    return harness.server_ini(routes="""
[route /h]
plugin = ./handover.so
%s
%s
""" % (keys, extra), threads=2, server_extra="processes = 0")


def reload(srv, text):
    start = harness.log_count(srv)
    with open(srv.ini, "w") as f:
        f.write(text)
    srv.signal(signal.SIGHUP)
    m, _ = harness.wait_log_from(srv, "(?:%s)|(?:%s)" % (SERVING, FAILED), start)
    assert m is not None, srv.log()[-2000:]
    return "failed" not in m.group(0), start


class TakeOver(unittest.TestCase):
    def setUp(self):
        for p in (A, B):
            if not os.path.exists(p):
                raise unittest.SkipTest("fixture not built: %s" % p)
        with open(A, "rb") as f:
            self.srv = harness.Server(ini(), files={"handover.so": f.read()})

    def tearDown(self):
        self.srv.stop()

    def count(self):
        r = self.srv.get("/h")
        self.assertEqual(r.status, 200, r)
        m = re.match(rb"count (\d+) build (\w)\n$", r.body)
        self.assertIsNotNone(m, r.body)
        return int(m.group(1)), m.group(2).decode()

    def took_over_since(self, start):
        with self.srv._lock:
            lines = self.srv.log_lines[start:]
        return [m.groups() for m in (re.search(TOOK, l) for l in lines) if m]

    def test_changed_file_carries_the_count(self):
        for i in range(1, 8):
            self.assertEqual(self.count(), (i, "A"))
        install(self.srv.dir, B)
        ok, start = reload(self.srv, ini())
        self.assertTrue(ok)
        self.assertEqual(self.count(), (8, "B"))
        self.assertEqual(self.took_over_since(start), [("7", "A")])

    def test_changed_keys_carry_the_count(self):
        for i in range(1, 4):
            self.assertEqual(self.count(), (i, "A"))
        ok, start = reload(self.srv, ini("tag = 2"))
        self.assertTrue(ok)
        self.assertEqual(self.count(), (4, "A"))
        self.assertEqual(self.took_over_since(start), [("3", "A")])

    def test_kept_instance_runs_no_take_over(self):
        self.assertEqual(self.count(), (1, "A"))
        ok, start = reload(self.srv, ini())
        self.assertTrue(ok)
        self.assertEqual(self.count(), (2, "A"))
        self.assertEqual(self.took_over_since(start), [])

    def test_failed_reload_leaves_the_old_instance(self):
        for i in range(1, 6):
            self.assertEqual(self.count(), (i, "A"))
        install(self.srv.dir, B)
        bad = ini("tag = 2", "\n[route /bad]\nplugin = ./handover.so\nrefuse = yes\n")
        ok, start = reload(self.srv, bad)
        self.assertFalse(ok)
        self.assertEqual(self.took_over_since(start), [])
        # the old instance (build A, in memory) serves on, its count intact
        self.assertEqual(self.count(), (6, "A"))
        install(self.srv.dir, B)
        ok, start = reload(self.srv, ini("tag = 2"))
        self.assertTrue(ok)
        self.assertEqual(self.count(), (7, "B"))
        self.assertEqual(self.took_over_since(start), [("6", "A")])


if __name__ == "__main__":
    harness.main()
