#!/usr/bin/env python3
"""worker_stall_timeout: the master kills and replaces a worker process
whose heartbeat (its event loops' ticks) is stale.

Asserted:
  * a worker stopped with SIGSTOP is logged as stalled, killed with SIGKILL
    and replaced within the timeout plus a tick or two; the new worker
    serves;
  * an idle, healthy worker is never taken for a stalled one (a run of
    several timeouts without the line);
  * worker_stall_timeout = 0: a stopped worker is left alone;
  * a timeout below 1s (other than 0) is refused with its line.
"""

import os
import re
import signal
import subprocess
import time
import unittest

import harness

ECHO = "[route /echo]\nplugin = echo\n"
STALLED = r"worker process (\d+) stalled: no heartbeat for (\d+) ms \(worker_stall_timeout %d ms"


def ini(timeout_text, processes=1):
    return harness.server_ini(routes=ECHO, access_log="off",
                              server_extra="processes = %d\nworker_stall_timeout = %s" % (processes, timeout_text))


class WorkerStall(unittest.TestCase):
    def test_stopped_worker_is_replaced(self):
        with harness.Server(ini("1500ms")) as srv:
            self.assertEqual(srv.get("/echo/before").status, 200)
            pid = srv.serving_pid()
            start = harness.log_count(srv)
            os.kill(pid, signal.SIGSTOP)
            t0 = time.time()
            m, i = harness.wait_log_from(srv, STALLED % 1500, start, timeout=8)
            self.assertIsNotNone(m, srv.log()[-3000:])
            self.assertEqual(int(m.group(1)), pid)
            self.assertGreaterEqual(int(m.group(2)), 1500)
            # not before the timeout, and not long after it
            self.assertGreaterEqual(time.time() - t0, 1.4)
            self.assertLess(time.time() - t0, 5.5)
            m, i = harness.wait_log_from(srv, r"worker process %d killed by signal 9 \(Killed\); starting a new one"
                                         % pid, i, timeout=5)
            self.assertIsNotNone(m, srv.log()[-3000:])
            m, _ = harness.wait_log_from(srv, r"worker process (\d+) started", i, timeout=5)
            self.assertIsNotNone(m, srv.log()[-3000:])
            new = int(m.group(1))
            self.assertNotEqual(new, pid)
            self.assertFalse(harness.alive(pid))
            r = harness.settle(lambda: srv.get("/echo/after"), lambda r: r.status == 200, timeout=10)
            self.assertEqual(r.status, 200)
            self.assertEqual(harness.proc_children(srv.proc.pid), [new])

    def test_healthy_worker_is_left_alone(self):
        with harness.Server(ini("1s", processes=2)) as srv:
            start = harness.log_count(srv)
            kids = harness.proc_children(srv.proc.pid)
            self.assertEqual(len(kids), 2)
            m, _ = harness.wait_log_from(srv, r"stalled: no heartbeat", start, timeout=3.5)
            self.assertIsNone(m, srv.log()[-3000:])
            self.assertEqual(harness.proc_children(srv.proc.pid), kids)
            self.assertEqual(srv.get("/echo/idle").status, 200)

    def test_zero_turns_the_watch_off(self):
        with harness.Server(ini("0")) as srv:
            pid = srv.serving_pid()
            start = harness.log_count(srv)
            os.kill(pid, signal.SIGSTOP)
            try:
                m, _ = harness.wait_log_from(srv, r"stalled: no heartbeat|killed by signal", start, timeout=2.5)
                self.assertIsNone(m, srv.log()[-3000:])
                self.assertTrue(harness.alive(pid))
            finally:
                os.kill(pid, signal.SIGCONT)
            self.assertEqual(srv.get("/echo/resumed").status, 200)

    def test_too_short_is_refused(self):
        srv = harness.Server(ini("500ms"), expect_ready=False)
        try:
            srv.proc.wait(20)
        except subprocess.TimeoutExpired:
            srv.stop()
            self.fail("started with worker_stall_timeout = 500ms")
        self.assertNotEqual(srv.proc.returncode, 0)
        self.assertRegex(srv.log(), r"server\.ini:\d+: worker_stall_timeout must be 0 \(off\) or at least 1s")


if __name__ == "__main__":
    harness.main()
