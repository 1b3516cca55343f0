#!/usr/bin/env python3
"""The master's backoff for worker processes that die right after their
start (within 1 s): a timer, not a pause of the master.

Asserted:
  * processes = 1: while the replacement of a worker that died right after
    its start waits for its backoff, the master takes a SIGHUP at once: the
    reload starts generation 2's worker and no worker of generation 1 is
    started after the backoff (a paused master would start that one first,
    then reload); the server then serves;
  * processes = 2: two workers killed together right after their start are
    both reaped (two "died ... after its start" lines) before either
    replacement starts, and both replacements serve.
"""

import os
import re
import signal
import unittest

import harness

ECHO = "[route /echo]\nplugin = echo\n"
BACKOFF = r"worker process (\d+) died \d+ ms after its start: its replacement starts in 1000 ms"
STARTED = r"worker process (\d+) started \(generation (\d+)\)"


def ini(processes):
    return harness.server_ini(routes=ECHO, access_log="off", server_extra="processes = %d" % processes)


class RespawnBackoff(unittest.TestCase):
    def must(self, srv, pattern, start, timeout):
        m, i = harness.wait_log_from(srv, pattern, start, timeout=timeout)
        self.assertIsNotNone(m, "no %r in:\n%s" % (pattern, srv.log()[-3000:]))
        return m, i

    def kill_fresh(self, srv, pids, start):
        """SIGKILLs pids, waits for as many replacements to start, and
        SIGKILLs those at once (well within 1 s of their start). Returns
        the replacements' pids and the log index after their lines."""
        for p in pids:
            os.kill(p, signal.SIGKILL)
        fresh = []
        for _ in pids:
            m, start = self.must(srv, STARTED, start, 10)
            fresh.append(int(m.group(1)))
        mark = harness.log_count(srv)
        for p in fresh:
            os.kill(p, signal.SIGKILL)
        return fresh, mark

    def test_sighup_during_backoff(self):
        with harness.Server(ini(1)) as srv:
            start = harness.log_count(srv)
            _, mark = self.kill_fresh(srv, [srv.serving_pid()], start)
            _, after = self.must(srv, BACKOFF, mark, 10)
            srv.signal(signal.SIGHUP)
            _, i = self.must(srv, r"reload: generation 2 serving", after, 20)
            with srv._lock:
                lines = srv.log_lines[after:i]
            started = [re.search(STARTED, l) for l in lines]
            gens = [m.group(2) for m in started if m]
            self.assertEqual(gens, ["2"], "\n".join(lines))
            self.assertEqual(srv.get("/echo/after").status, 200)
            # the backoff ran out with generation 2 complete: no extra worker
            self.assertIsNone(harness.wait_log_from(srv, STARTED, i, timeout=1.6)[0], srv.log()[-2000:])
            self.assertEqual(len(harness.proc_children(srv.proc.pid)), 1)

    def test_two_workers_reaped_together(self):
        with harness.Server(ini(2)) as srv:
            start = harness.log_count(srv)
            kids = harness.proc_children(srv.proc.pid)
            self.assertEqual(len(kids), 2)
            fresh, mark = self.kill_fresh(srv, kids, start)
            _, i = self.must(srv, BACKOFF, mark, 10)
            _, j = self.must(srv, BACKOFF, i, 10)
            with srv._lock:
                between = srv.log_lines[mark:j]
            self.assertFalse([l for l in between if re.search(STARTED, l)], "\n".join(between))
            m1, k = self.must(srv, STARTED, j, 10)
            m2, _ = self.must(srv, STARTED, k, 10)
            new = {int(m1.group(1)), int(m2.group(1))}
            kids = harness.settle(lambda: sorted(harness.proc_children(srv.proc.pid)),
                                  lambda v: v == sorted(new), timeout=10)
            self.assertEqual(kids, sorted(new))
            for n in range(4):
                self.assertEqual(srv.get("/echo/%d" % n).status, 200)


if __name__ == "__main__":
    harness.main()
