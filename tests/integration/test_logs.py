#!/usr/bin/env python3
"""Logs. [server] access_log_format: JSON lines (each line one valid JSON object
whatever bytes the client sent, the user an access stage noted included)
and templates of $variables (exact lines, client-chosen bytes escaped,
notes, a dollar sign), a request refused before its request line, and an
unknown variable refused naming it. error_log = syslog:PATH: each line a
datagram "<PRI>plughttpd[PID]: ..." with the severity of its level, the
socket connected again on SIGUSR1, a missing socket refusing the start."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, server_ini
from api13 import route

ROUTES = (route("/app", "guard, echo", guard__mode="header", guard__header="X-User") +
          "[route /echo]\nplugin = echo\n")
TEMPLATE = ('$remote_addr "$request" $status $bytes $host $scheme user=$note_user '
            'm=$method t=$target p=$protocol ua="$user_agent" $$5 id=$request_id')


class LogFormat(unittest.TestCase):
    def start(self, fmt):
        self.srv = Server(server_ini(routes=ROUTES, access_log="access.log",
                                     server_extra="access_log_format = %s" % fmt))
        self.addCleanup(self.srv.stop)
        self.path = os.path.join(self.srv.dir, "access.log")

    def wait_lines(self, n, timeout=10):
        deadline = time.time() + timeout
        lines = []
        while time.time() < deadline:
            if os.path.exists(self.path):
                with open(self.path, "rb") as f:
                    lines = f.read().splitlines()
                if len(lines) >= n:
                    return lines
            time.sleep(0.05)
        return lines

    def test_json_lines(self):
        self.start("json")
        r = self.srv.get("/app/x?q=1", headers={"X-User": "alice", "Host": "site.test",
                                               "User-Agent": 'probe "1" \xe9', "Referer": "http://r.test/"})
        self.assertEqual(r.status, 200)
        self.srv.raw(b"GET /echo/\x7fz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.srv.raw(b"BAD\r\n\r\n")
        lines = self.wait_lines(3)
        self.assertEqual(len(lines), 3, lines)
        objs = [json.loads(l) for l in lines]  # every line is valid JSON
        first = objs[0]
        self.assertRegex(first.pop("time"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertRegex(first.pop("request_id"), r"^[0-9a-f]{16}$")
        self.assertIsInstance(first.pop("request_time"), float)
        self.assertEqual(first, {
            "remote_addr": "127.0.0.1", "method": "GET", "target": "/app/x?q=1", "protocol": "HTTP/1.1",
            "status": 200, "bytes": len(r.body), "host": "site.test", "scheme": "http",
            "referer": "http://r.test/", "user_agent": 'probe "1" \u00e9', "user": "alice"})
        # a request line the parser refused (a DEL in the target), and none
        # at all: nulls, not made-up values
        for o in objs[1:]:
            self.assertEqual((o["method"], o["target"], o["protocol"], o["status"]), (None, None, None, 400))
        self.assertNotIn(b"\x7f", lines[1])

    def test_template(self):
        self.start(TEMPLATE)
        r = self.srv.get("/app/y", headers={"X-User": "bob", "Host": "h.test", "User-Agent": 'a"b'})
        self.assertEqual(r.status, 200)
        r2 = self.srv.get("/echo/z")
        lines = self.wait_lines(2)
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[0].decode(), r"^127\.0\.0\.1 \"GET /app/y HTTP/1\.1\" 200 %d h\.test http user=bob "
                         r"m=GET t=/app/y p=HTTP/1\.1 ua=\"a\\x22b\" \$5 id=[0-9a-f]{16}$" % len(r.body))
        self.assertRegex(lines[1].decode(), r"^127\.0\.0\.1 \"GET /echo/z HTTP/1\.1\" 200 %d localhost http "
                         r"user=- m=GET t=/echo/z p=HTTP/1\.1 ua=\"-\" \$5 id=[0-9a-f]{16}$" % len(r2.body))

    def test_request_time(self):
        self.start("$request_time")
        self.srv.get("/echo/t")
        lines = self.wait_lines(1)
        self.assertRegex(lines[0].decode(), r"^\d+\.\d{3}$")

    def test_unknown_variable_refused(self):
        with tempfile.TemporaryDirectory(prefix="ph-lf-") as d:
            path = os.path.join(d, "server.ini")
            with open(path, "w") as f:
                f.write(server_ini(routes=ROUTES, server_extra="access_log_format = $status $nope x"))
            p = subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", path], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('access_log_format: unknown variable "$nope"', p.stderr)



class Syslog(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ph-sl-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.tmp, True))
        self.path = os.path.join(self.tmp, "log")
        self.sock = self.listen()

    def listen(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(self.path)
        s.settimeout(10)
        self.addCleanup(s.close)
        return s

    def until(self, sock, pattern, timeout=10):
        """Datagrams until one matches pattern; returns them all."""
        got, deadline = [], time.time() + timeout
        while time.time() < deadline:
            try:
                d = sock.recv(65536).decode("utf-8", "replace")
            except socket.timeout:
                break
            got.append(d)
            if re.search(pattern, d):
                return got
        self.fail("no datagram matching %r in %r" % (pattern, got))

    def test_lines_are_syslog_datagrams(self):
        srv = Server(server_ini(routes="[route /echo]\nplugin = echo\n", access_log="off",
                                server_extra="error_log = syslog:%s\nlog_level = debug" % self.path),
                     expect_ready=False)
        self.addCleanup(srv.stop)
        pid = srv.proc.pid
        got = self.until(self.sock, r"ready: plughttpd \S+ master")
        worker = srv.serving_pid()
        # daemon facility (3 x 8) + info (6); the master's own line
        self.assertRegex(got[-1], r"^<30>plughttpd\[%d\]: \[info\] ready: plughttpd " % pid)
        # the daemon restarts: its socket is new, and SIGUSR1 reaches it
        self.sock.close()
        os.unlink(self.path)
        fresh = self.listen()
        srv.proc.send_signal(signal.SIGUSR1)
        got = self.until(fresh, r"log files reopened")
        # the master passes SIGUSR1 on to its worker, which says so
        self.assertRegex(got[-1], r"^<30>plughttpd\[%d\]: \[info\] log files reopened" % worker)
        srv.proc.send_signal(signal.SIGHUP)
        got = self.until(fresh, r"reload: generation 2 serving")
        self.assertRegex(got[-1], r"^<30>plughttpd\[%d\]: \[info\] reload: generation 2 serving" % pid)
        self.assertEqual(srv.stop(), 0)

    def test_a_stalled_daemon_does_not_stall_the_server(self):
        # the daemon stops reading: its queue fills, and lines are dropped
        # rather than blocking the thread that logs (here each connection
        # without a PROXY header logs a line)
        # a unix listener: with the log elsewhere, no line tells an
        # ephemeral port, and a path needs none
        where = os.path.join(self.tmp, "http.sock")

        def connect(timeout):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(timeout)
            c.connect(where)
            return c
        srv = Server(server_ini(routes="[route /echo]\nplugin = echo\n", access_log="off",
                                listen=("unix:%s proxy_protocol" % where,),
                                server_extra="error_log = syslog:%s\nlog_level = info" % self.path),
                     expect_ready=False)
        self.addCleanup(srv.stop)
        self.until(self.sock, r"ready: plughttpd")
        for _ in range(1500):
            c = connect(10)
            c.sendall(b"BAD\r\n\r\n")
            try:
                c.recv(100)
            except ConnectionResetError:
                pass
            c.close()
        c = connect(5)
        self.addCleanup(c.close)
        c.sendall(b"PROXY UNKNOWN\r\nGET /echo/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 200 "))

    def test_missing_socket_refuses_the_start(self):
        gone = os.path.join(self.tmp, "nobody-here")
        srv = Server(server_ini(routes="[route /echo]\nplugin = echo\n",
                                server_extra="error_log = syslog:%s" % gone), expect_ready=False)
        srv.proc.wait(timeout=20)
        self.assertNotEqual(srv.stop(), 0)
        self.assertIn("error_log syslog:%s: No such file or directory" % gone, srv.log())

if __name__ == "__main__":
    harness.main()
