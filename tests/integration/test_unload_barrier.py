#!/usr/bin/env python3
"""A reload that replaces an instance unloads the old copy of its library
only once no worker thread can still be in its code.

The fixture linger.so posts a run_on() task (from its own thread, after
the reload moved every loop to the new generation) that marks itself done
and then spins 600 ms in the library's code; destroy() waits only for the
mark, as a plugin counting its tasks does. The old library must stay mapped
until the task returned: the server must log "task returning" and keep
serving, with no crash and no sanitizer report.
"""

import os
import re
import unittest

import harness

LINGER = os.path.join(harness.FIXTURE_DIR, "linger.so")
SERVING = r"reload: generation (\d+) serving \((\d+) route instances kept, (\d+) created\)"


def route(name):
    return "[route /x]\nplugin = %s\nname = %s\nspin = 600ms\nafter = 300ms\n" % (LINGER, name)


class UnloadBarrier(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(LINGER):
            raise unittest.SkipTest("fixture not built: %s (make check builds it)" % LINGER)

    def must_log(self, srv, pattern, start):
        m, end = harness.wait_log_from(srv, pattern, start)
        self.assertIsNotNone(m, "no log line /%s/ in:\n%s" % (pattern, srv.log()[-4000:]))
        return m, end

    def test_task_returning_after_destroy_keeps_its_code(self):
        with harness.Server(harness.server_ini(routes=route("old"), threads=2, access_log="off", server_extra="processes = 0")) as srv:
            r = srv.get("/x")
            self.assertEqual((r.status, r.body), (200, b"posted old\n"))
            start = harness.log_count(srv)
            with open(srv.ini, "w") as f:
                f.write(harness.server_ini(routes=route("new"), threads=2, access_log="off", server_extra="processes = 0"))
            srv.signal(harness._SIGHUP)
            m, _ = self.must_log(srv, SERVING, start)
            self.assertEqual((m.group(2), m.group(3)), ("0", "1"))
            _, after_running = self.must_log(srv, r"linger old: task running", start)
            self.must_log(srv, r"linger old: destroy", start)
            self.must_log(srv, r"linger old: task returning", after_running)
            self.must_log(srv, r"generation 1 released", start)
            r = srv.get("/x")
            self.assertEqual((r.status, r.body), (200, b"posted new\n"))
            self.assertIsNone(srv.proc.poll(), "the server died:\n" + srv.log()[-4000:])
            self.assertNotRegex(srv.log(), r"AddressSanitizer|SEGV|runtime error")


if __name__ == "__main__":
    harness.main()
