#!/usr/bin/env python3
"""ABI 1.3 lifecycle races found in review: what resume() returned must be
what the client gets, even when the loop only sees the resume message after
the request's handler_timeout has passed."""

import re
import unittest

import harness
from harness import Server, parse_responses, server_ini, wait_log_from, log_count
from api13 import route

TIMEOUTS = ("header_timeout = 31s\nbody_timeout = 33s\nkeepalive_timeout = 35s\n"
            "send_timeout = 37s\nhandler_timeout = %s\nmax_keepalive_requests = 0")


class ResumeBeforeTimeoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # one worker thread: /busy/sleep stalls the loop that serves /later
        cls.srv = Server(server_ini(routes=route("/later", "later") + route("/busy", "misbehave"), threads=1,
                                    server_extra=TIMEOUTS % "1s"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_resume_ok_before_timeout_is_answered(self):
        # the plugin resumes at 300 ms (resume() returns PH_OK: "the answer
        # will be sent"); the loop is stalled until 1800 ms by another
        # request's handler, so it sees the 1 s handler_timeout and the
        # resume message in the same turn
        start = log_count(self.srv)
        a = self.srv.connect()
        a.sendall(b"GET /later/x?ms=300&tag=race HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIsNotNone(wait_log_from(self.srv, r"later -: pending tag=race", start)[0])
        b = self.srv.connect()
        b.sendall(b"GET /busy/sleep?ms=1800 HTTP/1.1\r\nHost: x\r\n\r\n")
        m, _ = wait_log_from(self.srv, r"later -: resume tag=race cancelled=(\d) returned (\S+)", start)
        self.assertIsNotNone(m)
        self.assertEqual(m.groups(), ("0", "PH_OK"))
        ra = harness.read_responses(a, 1)[0]
        rb = harness.read_responses(b, 1)[0]
        a.close()
        b.close()
        self.assertEqual((rb.status, rb.body), (200, b"slept 1800\n"))
        self.assertEqual((ra.status, ra.body), (200, b"later - 300\n"))
        self.assertEqual(log_count_of(self.srv, r"later -: on_cancel tag=race", start), 0)


def log_count_of(srv, pattern, start):
    with srv._lock:
        lines = srv.log_lines[start:]
    return sum(1 for line in lines if re.search(pattern, line))


if __name__ == "__main__":
    harness.main()
