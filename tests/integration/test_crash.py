#!/usr/bin/env python3
"""Crash containment: a plugin that crashes costs the worker process it ran
in, not the service; the log names the route, the plugin file, the request
line and a backtrace; a route that crashes crash_limit times within
crash_window answers 503 until the next reload, and every other route
keeps serving. In the single-process mode the server dies of the signal.

The "crashy" fixture (tests/plugins/crashy.c) dereferences NULL in
crashy_boom() on /crash/boom and calls abort() on /crash/abort. What a crash
costs, stated here because a killed process necessarily loses its own
connections: the crashing request's connection closes without an answer,
and so does every other request in flight on that worker process (on any
route); requests on other workers, and new connections once the master has
started the replacement, are served.

Under AddressSanitizer the sanitizer keeps its own SIGSEGV handler (its
report is the useful one there) and the worker exits with its status
instead of the signal: the tests then crash with abort(), which the
server's handler reports in every build.
"""

import os
import re
import signal
import socket
import time
import unittest

import harness

CRASHY = os.path.join(harness.FIXTURE_DIR, "crashy.so")
CRASH = "/crash/abort" if harness.SANITIZED else "/crash/boom"


def need_fixture():
    if not os.path.exists(CRASHY):
        raise unittest.SkipTest("fixture not built: %s (make check builds it)" % CRASHY)


def ini(processes, extra=""):
    routes = "[route /crash]\nplugin = %s\n\n[route /echo]\nplugin = echo\n" % CRASHY
    return harness.server_ini(routes, server_extra="processes = %d\n%s" % (processes, extra))


def crash_once(srv):
    """Sends the crashing request; returns what came back before the close."""
    s = srv.connect()
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % CRASH).encode())
        return harness.recv_all(s)
    finally:
        s.close()


def seen(srv, pattern, start):
    """The first match of pattern in the log from line start on, or None."""
    return harness.wait_log_from(srv, pattern, start)[0]


def status_of(srv, path):
    try:
        return srv.get(path).status
    except (OSError, AssertionError):
        return None


class CrashTest(unittest.TestCase):
    def setUp(self):
        need_fixture()

    def test_worker_crash_is_contained_and_logged(self):
        with harness.Server(ini(2)) as srv:
            start = harness.log_count(srv)
            self.assertEqual(crash_once(srv), b"", "the crashing request gets no answer")
            m = seen(srv, r"crash: SIG\w+\b.*? on route /crash, plugin (\S+), request \"GET %s\""
                                      % re.escape(CRASH), start)
            self.assertIsNotNone(m, srv.log())
            self.assertIn("crashy.so", m.group(1))
            self.assertIsNotNone(seen(srv, r"worker process \d+ killed by signal", start), srv.log())
            if not harness.SANITIZED:
                # the frame of the plugin's crashing function, by name
                self.assertIsNotNone(seen(srv, r"\(crashy_boom\+0x", start), srv.log())
            else:
                self.assertIsNotNone(seen(srv, r"crash: backtrace:", start), srv.log())
            # the other routes, and the crashing one on another path, serve on
            self.assertEqual(harness.settle(lambda: status_of(srv, "/echo/x"), lambda v: v == 200), 200)
            self.assertEqual(harness.settle(lambda: status_of(srv, "/crash/fine"), lambda v: v == 200), 200)
            # the master replaced the worker: two serve again
            self.assertIsNotNone(seen(srv, r"worker process \d+ started", start), srv.log())

    def test_route_quarantine_until_reload(self):
        text = ini(2, "crash_limit = 2\ncrash_window = 60s")
        with harness.Server(text) as srv:
            start = harness.log_count(srv)
            for n in range(2):
                # each crash kills a worker; wait until a new one serves
                # before the next, or the crash lands on nothing
                self.assertEqual(crash_once(srv), b"")
                harness.settle(lambda: status_of(srv, "/echo/x"), lambda v: v == 200)
            m = seen(srv, r"route /crash crashed 2 times within 60000 ms: it answers 503", start)
            self.assertIsNotNone(m, srv.log())
            # every worker started after the quarantine, and the ones that
            # were already serving, answer 503 there; other routes 200
            got = harness.settle(lambda: status_of(srv, "/crash/fine"), lambda v: v == 503)
            self.assertEqual(got, 503, srv.log())
            for _ in range(10):
                self.assertEqual(status_of(srv, CRASH), 503)
                self.assertEqual(status_of(srv, "/echo/x"), 200)
            # a reload clears it: the route serves (and can crash) again
            self.assertIsNotNone(srv.reload(text, r"reload: generation 2 serving|reload failed"), srv.log())
            self.assertEqual(harness.settle(lambda: status_of(srv, "/crash/fine"), lambda v: v == 200), 200,
                             srv.log())
            start = harness.log_count(srv)
            self.assertEqual(crash_once(srv), b"")
            self.assertIsNotNone(seen(srv, r"crash: SIG\w+\b.*? on route /crash,", start), srv.log())

    def test_crash_limit_zero_never_quarantines(self):
        with harness.Server(ini(2, "crash_limit = 0")) as srv:
            for _ in range(3):
                self.assertEqual(crash_once(srv), b"")
                harness.settle(lambda: status_of(srv, "/crash/fine"), lambda v: v == 200)
            self.assertEqual(harness.settle(lambda: status_of(srv, "/crash/fine"), lambda v: v == 200), 200)
            self.assertNotIn("answers 503", srv.log())

    def test_default_worker_crash_costs_its_requests_in_flight(self):
        """The default (a master and one worker): a crash costs the requests
        in flight on the worker, on every route, not the service."""
        routes = "[route /crash]\nplugin = %s\n\n[route /echo]\nplugin = echo\n" % CRASHY
        with harness.Server(harness.server_ini(routes)) as srv:
            worker = srv.serving_pid()
            start = harness.log_count(srv)
            # a keep-alive connection the worker has answered once, now in
            # the middle of its second request's body
            held = srv.connect()
            held.sendall(b"GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(harness.read_responses(held, 1)[0].status, 200)
            held.sendall(b"POST /echo/two HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            self.assertEqual(crash_once(srv), b"")
            # it is lost with its worker: closed without an answer
            self.assertEqual(harness.recv_all(held), b"")
            held.close()
            self.assertIsNotNone(seen(srv, r"worker process %d killed by signal" % worker, start), srv.log())
            # the master starts another worker, which serves every route
            self.assertEqual(harness.settle(lambda: status_of(srv, "/echo/x"), lambda v: v == 200), 200)
            self.assertEqual(status_of(srv, "/crash/fine"), 200)
            self.assertNotEqual(srv.serving_pid(), worker)
            self.assertIsNone(srv.proc.poll())

    def test_single_process_dies_of_the_signal(self):
        srv = harness.Server(ini(0))
        try:
            crash_once(srv)
            srv.proc.wait(30)
            want = signal.SIGABRT if harness.SANITIZED else signal.SIGSEGV
            self.assertEqual(srv.proc.returncode, -want, srv.log())
            self.assertRegex(srv.log(), r"crash: SIG\w+\b.*? on route /crash, plugin \S+crashy\.so, request \"GET %s\""
                             % re.escape(CRASH))
        finally:
            srv.stop()

    def test_escaped_request_line(self):
        """The request line is the client's: the handler writes it escaped."""
        srv = harness.Server(ini(0))
        try:
            s = srv.connect()
            s.sendall(("GET %s?a=%%22%%0a\"x HTTP/1.1\r\nHost: localhost\r\n\r\n" % CRASH).encode())
            harness.recv_all(s)
            s.close()
            srv.proc.wait(30)
            self.assertRegex(srv.log(), r"request \"GET %s\?a=%%22%%0a\\x22x\"" % re.escape(CRASH))
        finally:
            srv.stop()


if __name__ == "__main__":
    harness.main()
