#!/usr/bin/env python3
"""The blocking helper pool starts its threads on the first blocking job.

Asserted (processes = 0 and under a master, blocking_threads = 5): while
only non-blocking routes are asked, the serving process runs its main
thread and its loops (threads = 2) and no helper thread; the first request
to a blocking route starts exactly blocking_threads more, answered 200;
later blocking requests start none.
"""

import os
import unittest

import harness

THREADS = 2
HELPERS = 5


def tasks(pid):
    return len(os.listdir("/proc/%d/task" % pid))


class LazyPool(unittest.TestCase):
    def check(self, processes):
        if not os.path.exists(harness.MISBEHAVE):
            self.skipTest("misbehave fixture not built")
        ini = harness.server_ini(routes=harness.fixture_routes(slow=True), threads=THREADS, access_log="off",
                                 server_extra="processes = %d\nblocking_threads = %d" % (processes, HELPERS))
        with harness.Server(ini) as srv:
            pid = srv.serving_pid()
            for i in range(3):
                self.assertEqual(srv.get("/echo/%d" % i).status, 200)
            idle = tasks(pid)
            self.assertEqual(idle, 1 + THREADS)
            r = srv.get("/slow/sleep?ms=10")
            self.assertEqual((r.status, r.body), (200, b"slept 10\n"))
            self.assertEqual(tasks(pid), idle + HELPERS)
            for i in range(3):
                self.assertEqual(srv.get("/slow/sleep?ms=1").status, 200)
            self.assertEqual(tasks(pid), idle + HELPERS)

    def test_one_process(self):
        self.check(0)

    def test_worker_process(self):
        self.check(1)


if __name__ == "__main__":
    harness.main()
