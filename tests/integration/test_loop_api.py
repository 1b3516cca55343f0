#!/usr/bin/env python3
"""The plugin API's event loop and lifecycle hooks (ABI 1.3), through the
loopy fixture (tests/plugins/loopy.c): loops, run_on from a thread of the
plugin, timers, watches, connect, and process_init/exit, thread_init/exit
and reload_check around start-up, reloads and the stop.

Everything asynchronous is observed through the fixture's log lines,
waited for (never a fixed sleep)."""

import os
import re
import socket
import tempfile
import unittest

import harness

LOOPY = os.path.join(harness.FIXTURE_DIR, "loopy.so")


def need_fixture():
    if not os.path.exists(LOOPY):
        raise unittest.SkipTest("fixture not built: %s (make check builds it)" % LOOPY)


def route(tag, extra=""):
    return "[route /l]\nplugin = %s\ntag = %s\n%s\n" % (LOOPY, tag, extra)


def lines_from(srv, pattern, start=0):
    """Every match of pattern in the log lines from index start on."""
    rx = re.compile(pattern)
    with srv._lock:
        lines = srv.log_lines[start:]
    return [m for m in (rx.search(l) for l in lines) if m]


def must_log(test, srv, pattern, start=0, timeout=harness.IO_TIMEOUT):
    m, end = harness.wait_log_from(srv, pattern, start, timeout)
    test.assertIsNotNone(m, "no log line /%s/ in:\n%s" % (pattern, srv.log()[-4000:]))
    return m, end


def reload(test, srv):
    """SIGHUP; returns ("ok", kept, created) or ("failed", message)."""
    start = harness.log_count(srv)
    srv.signal(harness._SIGHUP)
    m, _ = must_log(test, srv, r"reload: generation \d+ serving \((\d+) route instances kept, (\d+) created\)|"
                    r"reload failed, generation \d+ keeps serving: (.*)", start)
    if m.group(3) is not None:
        return ("failed", m.group(3))
    return ("ok", int(m.group(1)), int(m.group(2)))


def hook_lines(srv, tag, hook, start=0):
    """(index, id, match) of each "loopy[tag] thread_init/exit" line."""
    return [(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in
            lines_from(srv, r"loopy\[%s\] %s index=(\d+) id=(\d+) match=(\d)" % (tag, hook), start)]


class LoopCalls(unittest.TestCase):
    """One server, three worker threads, the fixture at /l."""

    @classmethod
    def setUpClass(cls):
        need_fixture()
        cls.srv = harness.Server(harness.server_ini(routes=route("calls"), threads=3, access_log="off"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path, headers=None):
        r = self.srv.get(path, headers=headers)
        self.assertEqual(r.status, 200, r.body)
        return r.body.decode()

    def test_loops_count_equals_threads(self):
        body = self.get("/l/loops")
        m = re.fullmatch(r"loops=3 distinct=1 end=NULL current=([0-2]) of=([0-2])\n", body)
        self.assertIsNotNone(m, body)
        self.assertEqual(m.group(1), m.group(2), "loop_current() and loop_of(req) differ on the loop thread")

    def test_thread_init_once_per_index_at_start(self):
        inits = harness.settle(lambda: hook_lines(self.srv, "calls", "thread_init"), lambda v: len(v) >= 3)
        self.assertEqual(sorted(i for i, _, _ in inits), [0, 1, 2], inits)
        self.assertEqual({(i_d, match) for _, i_d, match in inits}, {(inits[0][1], 1)}, inits)

    def test_run_on_from_a_plugin_thread_reaches_each_loop(self):
        start = harness.log_count(self.srv)
        body = self.get("/l/run_on")
        self_index = int(re.search(r"^self (\d): rc=0$", body, re.M).group(1))
        expected = "".join("loop %d: ran on %d rc=0\n" % (j, j) for j in range(3) if j != self_index)
        self.assertEqual(body, expected + "self %d: rc=0\n" % self_index)
        # The task posted to the handler's own loop runs once the handler
        # has returned, on that loop.
        must_log(self, self.srv, r"loopy\[calls\] self task ran on loop %d \(posted for %d\)"
                 % (self_index, self_index), start)

    def test_timers_fire_in_order(self):
        start = harness.log_count(self.srv)
        self.assertEqual(self.get("/l/timers"), "armed rc=0\n")
        must_log(self, self.srv, r"loopy\[calls\] timers done; stopped timer fired=0", start)
        fired = [int(m.group(1)) for m in lines_from(self.srv, r"loopy\[calls\] timer (\d+) fired", start)]
        # 1000 re-set to 150 fires at 150; the stopped 50 never does.
        self.assertEqual(fired, [100, 150, 200, 300])

    def test_watch_on_a_socketpair(self):
        start = harness.log_count(self.srv)
        self.assertEqual(self.get("/l/watch"), "watching\n")
        must_log(self, self.srv, r"loopy\[calls\] watch eof", start)
        got = [m.group(1) for m in lines_from(self.srv, r"loopy\[calls\] (watch .*)", start)]
        self.assertEqual(len(got), 5, got)
        self.assertEqual(got[:4], ["watch read ping events=R", "watch paused: nothing read meanwhile",
                                   "watch read more events=R", "watch writable events=W"])
        self.assertRegex(got[4], r"^watch eof read=0 events=RH?$")

    def connect_and_accept(self, listener, addr):
        listener.settimeout(harness.IO_TIMEOUT)
        start = harness.log_count(self.srv)
        body = self.get("/l/connect", headers={"X-Addr": addr})
        self.assertEqual(body, "connect %s: fd nonblock=1 cloexec=1\n" % addr)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(harness.IO_TIMEOUT)
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(100)
                if not chunk:
                    break
                data += chunk
        self.assertEqual(data, b"hello from loopy\n")
        must_log(self, self.srv, r"loopy\[calls\] connect %s: connected" % re.escape(addr), start)

    def test_connect_tcp(self):
        with socket.socket() as ls:
            ls.bind(("127.0.0.1", 0))
            ls.listen(1)
            self.connect_and_accept(ls, "127.0.0.1:%d" % ls.getsockname()[1])

    def test_connect_ipv6(self):
        try:
            ls = socket.socket(socket.AF_INET6)
            ls.bind(("::1", 0))
        except OSError:
            raise unittest.SkipTest("no IPv6 loopback")
        with ls:
            ls.listen(1)
            self.connect_and_accept(ls, "[::1]:%d" % ls.getsockname()[1])

    def test_connect_unix(self):
        d = tempfile.mkdtemp(prefix="phtest-", dir=self.srv.dir)
        path = os.path.join(d, "up.sock")
        with socket.socket(socket.AF_UNIX) as ls:
            ls.bind(path)
            ls.listen(1)
            self.connect_and_accept(ls, "unix:" + path)

    def test_connect_refusals(self):
        for addr in ("127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "::1:80", "[::1]",
                     "unix:", "unix:relative.sock", ":80", "a b:80", "[127.0.0.1]:80"):
            self.assertEqual(self.get("/l/connect", headers={"X-Addr": addr}),
                             "connect %s: errno=EINVAL\n" % addr, addr)
        missing = "unix:%s/none.sock" % self.srv.dir
        self.assertEqual(self.get("/l/connect", headers={"X-Addr": missing}),
                         "connect %s: errno=ENOENT\n" % missing)
        self.assertEqual(self.get("/l/"), "loopy calls id=%s\n" % self.srv.get("/l/").header("X-Loopy-Id"))

    def test_misuse_is_refused(self):
        start = harness.log_count(self.srv)
        self.assertEqual(self.get("/l/misuse"),
                         "bad fd: NULL other\n"      # EBADF
                         "bad events: NULL EINVAL\n"
                         "no loop: NULL EINVAL\n"
                         "run_on NULL: -1\n"
                         "run_on no fn: -1\n"
                         "foreign watch_new: NULL EPERM\n"
                         "foreign timer_new: NULL EPERM\n"
                         "foreign loop_current: NULL\n")
        must_log(self, self.srv, r"timer_new called off its loop's thread: refused", start)


class Lifecycle(unittest.TestCase):
    def setUp(self):
        need_fixture()

    def test_hooks_across_reloads_and_stop(self):
        """processes = 0 (one process), threads = 2: process_init once, thread_init on each
        thread once; a reload that keeps the instance runs no hook but
        reload_check; one whose reload_check says 1 creates it anew, with
        its own hooks, and the old one's thread_exit, process_exit and
        destroy; the stop ends the new one the same way."""
        flag = os.path.join(tempfile.mkdtemp(prefix="phtest-flag-"), "renew")
        ini = harness.server_ini(routes=route("life", "renew_flag = %s" % flag), threads=2, access_log="off",
                                 server_extra="processes = 0")
        with harness.Server(ini) as srv:
            pid = srv.proc.pid
            first = srv.get("/l/").header("X-Loopy-Id")
            must_log(self, srv, r"loopy\[life\] thread_init index=1")
            must_log(self, srv, r"loopy\[life\] thread_init index=0")
            self.assertEqual([(m.group(1), int(m.group(2))) for m in lines_from(
                srv, r"loopy\[life\] process_init index=(\d+) pid=(\d+) id=%s loops=2" % first)],
                [("0", pid)], "process_init runs once, and finds the loops")
            self.assertEqual(sorted(hook_lines(srv, "life", "thread_init")),
                             [(0, int(first), 1), (1, int(first), 1)])

            # reload_check says 0: kept, no other hook.
            mark = harness.log_count(srv)
            self.assertEqual(reload(self, srv), ("ok", 1, 0))
            self.assertEqual([m.group(1) for m in lines_from(srv, r"loopy\[life\] (\w+)", mark)],
                             ["reload_check"])
            self.assertEqual(srv.get("/l/").header("X-Loopy-Id"), first)

            # reload_check says 1: created anew.
            open(flag, "w").close()
            mark = harness.log_count(srv)
            self.assertEqual(reload(self, srv), ("ok", 0, 1))
            second = srv.get("/l/").header("X-Loopy-Id")
            self.assertNotEqual(second, first)
            must_log(self, srv, r"loopy\[life\] destroy id=%s" % first, mark)
            must_log(self, srv, r"loopy\[life\] thread_init index=\d id=%s" % second, mark)
            self.assertEqual(len(lines_from(srv, r"reload_check id=%s -> 1" % first, mark)), 1)
            self.assertEqual(sorted(hook_lines(srv, "life", "thread_exit", mark)),
                             [(0, int(first), 1), (1, int(first), 1)])
            self.assertEqual(sorted(hook_lines(srv, "life", "thread_init", mark)),
                             [(0, int(second), 1), (1, int(second), 1)])
            self.assertEqual(len(lines_from(srv, r"process_exit index=0 pid=%d id=%s" % (pid, first), mark)), 1)
            self.assertEqual(len(lines_from(srv, r"process_init index=0 pid=%d id=%s" % (pid, second), mark)), 1)

            mark = harness.log_count(srv)
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(sorted(hook_lines(srv, "life", "thread_exit", mark)),
                         [(0, int(second), 1), (1, int(second), 1)])
        ends = [m.group(1) for m in lines_from(srv, r"loopy\[life\] (\w+) .*id=%s" % second, mark)]
        self.assertEqual(ends, ["thread_exit", "thread_exit", "process_exit", "destroy"])

    def test_failing_process_init_fails_the_reload(self):
        ini = harness.server_ini(routes=route("pi"), threads=2, access_log="off", server_extra="processes = 0")
        with harness.Server(ini) as srv:
            first = srv.get("/l/").header("X-Loopy-Id")
            harness.settle(lambda: hook_lines(srv, "pi", "thread_init"), lambda v: len(v) == 2)
            mark = harness.log_count(srv)
            with open(srv.ini, "w") as f:
                f.write(ini.replace("tag = pi", "tag = pi\nfail = process_init"))
            outcome = reload(self, srv)
            self.assertEqual(outcome[0], "failed", outcome)
            self.assertIn("[route /l] plugin loopy: process_init failed", outcome[1])
            # The new instance was created, refused, and destroyed: no
            # process_exit for it, no thread hooks; the old one serves on.
            new = lines_from(srv, r"loopy\[pi\] create id=(\d+)", mark)[0].group(1)
            must_log(self, srv, r"loopy\[pi\] destroy id=%s" % new, mark)
            self.assertEqual([m.group(1) for m in lines_from(srv, r"loopy\[pi\] (\w+) .*id=%s\b" % new, mark)],
                             ["create", "process_init", "destroy"])
            self.assertEqual([m.group(0) for m in lines_from(srv, r"loopy\[pi\] thread_.*", mark)], [])
            r = srv.get("/l/")
            self.assertEqual((r.status, r.header("X-Loopy-Id")), (200, first))
            self.assertEqual(srv.stop(), 0)

    def test_failing_process_init_fails_a_reload_with_two_processes(self):
        """processes = 2: the new worker process whose process_init fails
        does not start, so the reload fails and the old processes serve on
        with their instances."""
        ini = harness.server_ini(routes=route("p2"), threads=1, access_log="off", server_extra="processes = 2")
        with harness.Server(ini) as srv:
            old = {m.group(1) for m in lines_from(srv, r"loopy\[p2\] process_init index=\d pid=\d+ id=(\d+)")}
            self.assertEqual(len(old), 2)
            with open(srv.ini, "w") as f:
                f.write(ini.replace("tag = p2", "tag = p2\nfail = process_init"))
            mark = harness.log_count(srv)
            srv.signal(harness._SIGHUP)
            must_log(self, srv, r"reload failed, generation 1 keeps serving: 2 of 2 new worker processes did not start",
                     mark)
            self.assertEqual(len(lines_from(srv, r"\[route /l\] plugin loopy: process_init failed", mark)), 1)
            for _ in range(4):
                r = srv.get("/l/")
                self.assertEqual(r.status, 200)
                self.assertIn(r.header("X-Loopy-Id"), old)
            self.assertEqual(srv.stop(), 0)

    def test_failing_process_init_fails_the_start(self):
        ini = harness.server_ini(routes=route("ps", "fail = process_init"), access_log="off",
                                 server_extra="processes = 0")
        srv = harness.Server(ini, expect_ready=False)
        try:
            srv.proc.wait(harness.START_TIMEOUT)
        finally:
            srv.stop()
        self.assertNotEqual(srv.proc.returncode, 0)
        self.assertIn("[route /l] plugin loopy: process_init failed", srv.log())
        self.assertEqual([m.group(1) for m in lines_from(srv, r"loopy\[ps\] (\w+)")],
                         ["create", "process_init", "destroy"])

    def test_failing_thread_init_is_logged_and_serving_goes_on(self):
        ini = harness.server_ini(routes=route("ti", "fail = thread_init"), threads=2, access_log="off")
        with harness.Server(ini) as srv:
            must_log(self, srv, r"\[route /l\] plugin loopy: thread_init failed on worker thread 0")
            must_log(self, srv, r"\[route /l\] plugin loopy: thread_init failed on worker thread 1")
            self.assertEqual(srv.get("/l/").status, 200)
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(lines_from(srv, r"loopy\[ti\] thread_exit"), [], "thread_exit after a failed thread_init")
        self.assertEqual(len(lines_from(srv, r"loopy\[ti\] process_exit")), 1)

    def test_run_on_refused_once_the_loop_stopped(self):
        """A thread of the plugin posts to loop 0 every millisecond: every
        task run_on accepted runs, also those accepted while the server
        stops, and once the loop is gone run_on refuses."""
        ini = harness.server_ini(routes=route("po"), threads=2, access_log="off")
        with harness.Server(ini) as srv:
            self.assertEqual(srv.get("/l/poster").body, b"posting\n")
            must_log(self, srv, r"loopy\[po\] poster's first task ran")
            self.assertEqual(srv.stop(), 0)
        refused = lines_from(srv, r"loopy\[po\] poster refused after accepted=(\d+)")
        done = lines_from(srv, r"loopy\[po\] poster accepted=(\d+) ran=(\d+)")
        self.assertEqual(len(refused), 1, srv.log()[-3000:])
        self.assertEqual(len(done), 1, srv.log()[-3000:])
        accepted = int(refused[0].group(1))
        self.assertGreater(accepted, 0)
        self.assertEqual((int(done[0].group(1)), int(done[0].group(2))), (accepted, accepted))

    def test_process_hooks_with_two_processes(self):
        """processes = 2: each worker process runs process_init and
        process_exit once for its own instance, with its index; the master
        only checks the keys."""
        ini = harness.server_ini(routes=route("pp"), threads=2, access_log="off",
                                 server_extra="processes = 2")
        with harness.Server(ini) as srv:
            master = srv.proc.pid
            self.assertEqual(lines_from(srv, r"loopy\[pp\] create id=\d+ pid=%d check=0" % master), [])
            inits = {(int(m.group(1)), int(m.group(2))) for m in
                     lines_from(srv, r"loopy\[pp\] process_init index=(\d+) pid=(\d+) id=\d+ loops=2")}
            self.assertEqual(sorted(i for i, _ in inits), [0, 1], inits)
            pids = {p for _, p in inits}
            self.assertEqual(len(pids), 2)
            self.assertNotIn(master, pids)
            tinits = harness.settle(lambda: hook_lines(srv, "pp", "thread_init"), lambda v: len(v) >= 4)
            self.assertEqual(sorted((i, m) for i, _, m in tinits), [(0, 1), (0, 1), (1, 1), (1, 1)])
            self.assertEqual(srv.stop(), 0)
        exits = {(int(m.group(1)), int(m.group(2))) for m in
                 lines_from(srv, r"loopy\[pp\] process_exit index=(\d+) pid=(\d+)")}
        self.assertEqual(exits, inits)
        self.assertEqual(len(lines_from(srv, r"loopy\[pp\] process_exit")), 2)
        self.assertEqual(len(lines_from(srv, r"loopy\[pp\] thread_exit")), 4)


if __name__ == "__main__":
    harness.main()
