#!/usr/bin/env python3
"""Shared zones (ABI 1.6) through the real server, with the "counter"
fixture (tests/plugins/counter.c): one count in a zone, taken under the
zone's lock, answered as "count N process P pid PID".

Asserted:
  * processes = 2: N requests over N connections, served by both worker
    processes, get the counts 1..N, each exactly once;
  * the zone and its count survive a reload (new worker processes); a
    reload that changes the zone's size starts a fresh zone at 0;
  * processes = 0 (one process): the same count and reload behaviour, in plain memory;
  * a worker killed with SIGKILL while it holds the lock does not deadlock
    the others: the next locker recovers it (logged) and every later
    request is answered.
"""

import os
import re
import signal
import socket
import threading
import time
import unittest

import harness

COUNTER = os.path.join(harness.FIXTURE_DIR, "counter.so")
SERVING = r"reload: generation \d+ serving"
FAILED = r"reload failed, generation \d+ keeps serving"
ANSWER = re.compile(rb"count (\d+) process (\d+) pid (\d+)\n$")


def ini(processes, keys=""):
    return harness.server_ini(routes="[route /c]\nplugin = %s\n%s\n" % (COUNTER, keys), threads=1,
                              server_extra="processes = %d" % processes)


def reload(srv, text):
    start = harness.log_count(srv)
    with open(srv.ini, "w") as f:
        f.write(text)
    srv.signal(signal.SIGHUP)
    m, _ = harness.wait_log_from(srv, "(?:%s)|(?:%s)" % (SERVING, FAILED), start, timeout=20)
    assert m is not None and "failed" not in m.group(0), srv.log()[-3000:]


def one(srv, path="/c"):
    r = srv.get(path)
    assert r.status == 200, r
    m = ANSWER.match(r.body)
    assert m, r.body
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def many(srv, n, threads=8):
    """n requests, each on its own connection, from several threads at
    once (so every worker process gets some); the answers."""
    out, lock = [], threading.Lock()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def run(k):
        for _ in range(k):
            a = one(srv)
            with lock:
                out.append(a)

    ts = [threading.Thread(target=run, args=(k,)) for k in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return out


class Zones(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(COUNTER):
            raise unittest.SkipTest("fixture not built: %s" % COUNTER)

    def test_exact_count_across_processes(self):
        with harness.Server(ini(2)) as srv:
            got = []
            for _ in range(10):  # until both processes answered (bounded)
                got += many(srv, 100)
                if {p for _, p, _ in got} == {0, 1}:
                    break
            self.assertEqual({p for _, p, _ in got}, {0, 1})
            self.assertEqual(sorted(c for c, _, _ in got), list(range(1, len(got) + 1)))
            self.assertEqual(one(srv)[0], len(got) + 1)

    def test_zone_kept_across_reload_and_new_size_is_fresh(self):
        with harness.Server(ini(2)) as srv:
            got = many(srv, 40)
            self.assertEqual(sorted(c for c, _, _ in got), list(range(1, 41)))
            pids = {p for _, _, p in got}
            reload(srv, ini(2, "; reloaded"))
            settle(lambda: one(srv)[2] not in pids)
            c = one(srv)[0]
            self.assertGreater(c, 41)  # settle's requests counted too
            reload(srv, ini(2, "size = 8192"))
            settle(lambda: one(srv)[0] <= 3)

    def test_one_process(self):
        with harness.Server(ini(0)) as srv:
            got = many(srv, 30, threads=3)
            self.assertEqual(sorted(c for c, _, _ in got), list(range(1, 31)))
            reload(srv, ini(0, "; reloaded"))
            self.assertEqual(one(srv)[0], 31)
            reload(srv, ini(0, "size = 8192"))
            self.assertEqual(one(srv)[0], 1)

    def test_holder_killed_does_not_deadlock(self):
        with harness.Server(ini(2, "hold = yes")) as srv:
            self.assertEqual(one(srv)[0], 1)
            start = harness.log_count(srv)
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"GET /c/hold HTTP/1.1\r\nHost: x\r\n\r\n")
            m, _ = harness.wait_log_from(srv, r"counter: holding the lock pid (\d+)", start, timeout=10)
            self.assertIsNotNone(m, srv.log()[-2000:])
            os.kill(int(m.group(1)), signal.SIGKILL)
            s.close()
            t0 = time.time()
            got = many(srv, 20, threads=4)
            self.assertLess(time.time() - t0, 30)
            self.assertEqual(len(got), 20)
            m, _ = harness.wait_log_from(srv, r"counter: lock recovered", start, timeout=10)
            self.assertIsNotNone(m, srv.log()[-2000:])
            self.assertIsNotNone(harness.wait_log_from(srv, r"zone counter: a process died holding its lock",
                                                       start, timeout=1)[0])
            # the held request never counted: 1, then 20 more
            self.assertEqual(sorted(c for c, _, _ in got), list(range(2, 22)))


def shared_mappings(pid):
    """The process's shared anonymous mappings (zones among them), as
    /proc/PID/maps names them."""
    with open("/proc/%d/maps" % pid) as f:
        return sum(1 for line in f if line.rstrip().endswith("/dev/zero (deleted)"))


def vm_size_kib(pid):
    return int(harness.proc_status_field(pid, "VmSize").split()[0])


class ZonesReleased(unittest.TestCase):
    """A zone no route asks for any more is unmapped after the reload that
    drops it: 30 reloads that each change a ratelimit's rate (a new zone
    each, of about 2 MB for 16384 addresses) leave the master's (or the one
    process's) mappings and size where they were after the first few."""

    RELOADS = 30
    # A ratelimit's zone with the default max_addresses: well above the
    # noise of a reload, so 4 MB of slack catches two leaked zones.
    SLACK_KIB = 4096

    def check(self, processes, extra):
        def text(i):
            routes = ("[route /r]\nplugin = ratelimit, echo\nratelimit.rate = %dr/s\nratelimit.burst = 50\n%s\n"
                      % (100 + i, extra))
            return harness.server_ini(routes=routes, access_log="off", server_extra="processes = %d" % processes)

        with harness.Server(text(0)) as srv:
            pid = srv.proc.pid
            start = harness.log_count(srv)
            marks = {}
            for i in range(1, self.RELOADS + 1):
                with open(srv.ini, "w") as f:
                    f.write(text(i))
                srv.signal(signal.SIGHUP)
                m, start = harness.wait_log_from(srv, r"reload: generation %d serving|reload failed" % (i + 1),
                                                 start, timeout=20)
                self.assertIsNotNone(m, srv.log()[-3000:])
                self.assertNotIn("failed", m.group(0), srv.log()[-3000:])
                m, start = harness.wait_log_from(srv, r"generation %d released" % i, start, timeout=20)
                self.assertIsNotNone(m, srv.log()[-3000:])
                r = srv.get("/r/%d" % i)
                self.assertEqual(r.status, 200)
                if i in (3, self.RELOADS):
                    marks[i] = (shared_mappings(pid), vm_size_kib(pid))
            self.assertEqual(marks[self.RELOADS][0], marks[3][0], marks)
            self.assertLess(marks[self.RELOADS][1], marks[3][1] + self.SLACK_KIB, marks)
            self.assertEqual(harness.log_count_of(srv, r"zone ratelimit\.\S+: \d+ bytes released", 0) >= self.RELOADS,
                             True, srv.log()[-3000:])

    def test_master(self):
        self.check(1, "")

    def test_one_process(self):
        self.check(0, "ratelimit.zone = api")


def settle(fn, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met within %.0f s" % timeout)


if __name__ == "__main__":
    harness.main()
