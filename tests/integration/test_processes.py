#!/usr/bin/env python3
"""processes = N: a master process supervising worker processes.

The "swap" fixture (tests/plugins/version_a.c) names the process that
answered in X-Swap-Pid, so each load connection knows which worker serves it.

What "service continuity" means when a worker is killed with SIGKILL (stated
here because a killed process necessarily loses its own connections):
  * a connection that was served only by the killed worker may fail (reset
    or EOF); the client then reconnects and sends the request again;
  * a connection served by any other worker never fails;
  * a connection opened after the killed worker was gone never fails;
  * every request is eventually answered (at most 20 retries each).
On SIGHUP the master starts new workers and tells the old ones to drain: a
request sent on a fresh connection during that must never fail.
"""

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness

VERSION_A = os.path.join(harness.FIXTURE_DIR, "version_a.so")
MISBEHAVE = os.path.join(harness.FIXTURE_DIR, "misbehave.so")


def need_fixture():
    if not os.path.exists(VERSION_A):
        raise unittest.SkipTest("fixture not built: %s (make check builds it)" % VERSION_A)


def routes(extra=""):
    return "[route /swap]\nplugin = %s\n\n[route /echo]\nplugin = echo\n%s" % (VERSION_A, extra)


settle = harness.settle


def pids_serving(srv, want, timeout=20.0):
    """Runs a load of 20 keep-alive connections on /swap until every pid in
    want has answered or timeout; returns the set of pids that answered.
    (Sequential connections are not enough: one process can win every
    accept() while the others sleep.)"""
    load = harness.KeepAliveLoad(srv.port, ["/swap"], swap_check, conns=20, max_seconds=timeout).start()
    try:
        seen = set()
        deadline = time.time() + timeout
        while time.time() < deadline:
            with load.lock:
                seen = {int(p) for p in load.headers_seen}
            if want <= seen:
                break
            time.sleep(0.05)
    finally:
        load.stop()
    return seen


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_status(port):
    """Status of GET /swap on a fresh connection to port, or "refused"."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionRefusedError:
        return "refused"
    with s:
        s.sendall(b"GET /swap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = harness.read_responses(s, 1, timeout=5)
        return resp[0].status if resp else "no answer"


def listening_ports():
    """Ports in LISTEN state on 127.0.0.1 (from /proc/net/tcp)."""
    ports = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "0A" and local.startswith("0100007F:"):
                ports.add(int(local.split(":")[1], 16))
    return ports


def reload_and_wait(test, srv, gen, old):
    """SIGHUP; waits for generation gen to serve and the old workers to exit."""
    start = harness.log_count(srv)
    srv.signal(signal.SIGHUP)
    m, _ = harness.wait_log_from(srv, r"reload: generation %d serving|reload failed.*" % gen, start, 20)
    test.assertIsNotNone(m, srv.log()[-2000:])
    test.assertIn("serving", m.group(0))
    for p in old:
        test.assertTrue(settle(lambda: not harness.alive(p), bool, 20),
                        "old worker %d still there:\n%s" % (p, srv.log()[-3000:]))


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def in_nanosleep(pid):
    """Whether a thread of pid is inside nanosleep/clock_nanosleep (a
    handler of the misbehave fixture sleeping)."""
    calls = {"x86_64": ("35", "230"), "aarch64": ("101", "115")}.get(platform.machine(), ())
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                if f.read().split()[0] in calls:
                    return True
    except OSError:
        pass
    return False


def swap_check(path, r):
    if r.status != 200:
        return "status %d" % r.status
    if path == "/swap" and r.body != b"A\n":
        return "body %r" % r.body
    return None


class Processes(unittest.TestCase):
    def setUp(self):
        need_fixture()

    def start(self, extra_routes="", processes=2, threads=2):
        ini = harness.server_ini(routes=routes(extra_routes), threads=threads, access_log="off",
                                 server_extra="processes = %d" % processes)
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        master = srv.proc.pid
        kids = settle(lambda: harness.proc_children(master), lambda k: len(k) == processes)
        self.assertEqual(len(kids), processes, "worker processes: %r\n%s" % (kids, srv.log()))
        return srv, ini, set(kids)

    def test_data_plugin_in_worker_processes(self):
        # Each worker process creates its own data instance (the first one
        # creates the database file and its schema, the second finds them):
        # concurrent writes through both lose nothing.
        import json
        import threading
        schema = os.path.join(harness.SRCDIR, "conf", "schema.sql")
        db = os.path.join(self.id().replace(".", "_") + ".db")
        extra = ("\n[route /api]\nplugin = data\ndatabase = sqlite:%s\nschema = %s\ntables = notes\n"
                 % (db, schema))
        srv, _, kids = self.start(extra_routes=extra)
        statuses = []
        lock = threading.Lock()

        def writer(n):
            for i in range(25):
                body = json.dumps({"title": "w%d-%d" % (n, i)}).encode()
                r = srv.get("/api/notes", method="POST", body=body,
                            headers={"Content-Type": "application/json"})
                with lock:
                    statuses.append(r.status)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(statuses, [201] * 200)
        r = srv.get("/api/notes?limit=1", headers={"Prefer": "count=exact"})
        self.assertEqual(r.status, 206)
        self.assertEqual((r.header("X-Total-Count"), r.header("Content-Range")), ("200", "0-0/200"))
        titles = set()
        for off in range(0, 200, 100):
            rows = json.loads(srv.get("/api/notes?limit=100&offset=%d" % off).body)
            titles.update(row["title"] for row in rows)
        self.assertEqual(len(titles), 200)
        self.assertEqual(srv.stop(), 0)

    def test_both_workers_serve(self):
        srv, _, kids = self.start()
        seen = pids_serving(srv, kids)
        self.assertEqual(seen, kids, "pids that answered vs the master's children")
        self.assertNotIn(srv.proc.pid, seen, "the master itself must not serve")
        for k in kids:
            # each worker runs the threaded core: 2 serving threads + main + helpers
            self.assertGreaterEqual(len(os.listdir("/proc/%d/task" % k)), 3)
        self.assertEqual(srv.stop(), 0)

    def kill_and_replace(self, srv, victim):
        """SIGKILLs a worker; waits for the master to log it and start a
        new one. Returns (time just before the kill, time the victim was
        gone, new pid)."""
        master = srv.proc.pid
        start = harness.log_count(srv)
        t_kill = time.time()
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(settle(lambda: not harness.alive(victim), bool, 10), "the killed worker is still there")
        t_dead = time.time()
        m, i = harness.wait_log_from(srv, r"worker process %d killed by signal 9\b" % victim, start, 10)
        self.assertIsNotNone(m, "the master did not log the signal:\n" + srv.log()[-2000:])
        m, _ = harness.wait_log_from(srv, r"worker process (\d+) started", i, 10)
        self.assertIsNotNone(m, "no new worker process started:\n" + srv.log()[-2000:])
        newpid = int(m.group(1))
        self.assertTrue(settle(lambda: newpid in harness.proc_children(master), bool, 10))
        return t_kill, t_dead, newpid

    def test_killed_worker_is_replaced_under_load(self):
        # Two kills under one load: first the worker with the fewest load
        # connections (so most connections sit on the other one, which must
        # not see a single failure), then the one with the most (its
        # connections reset, reconnect, and every request is answered).
        srv, _, kids = self.start()
        master = srv.proc.pid
        load = harness.KeepAliveLoad(srv.port, ["/swap", "/echo/k"], swap_check, conns=20, max_requests=1000000,
                                     max_seconds=90, retry=True).start()
        kills = []  # (victim, t_kill, t_dead)
        try:
            self.assertTrue(load.wait_requests(200, 20), "no load before the kill")
            for pick in (min, max):
                with load.lock:
                    per_pid = {}
                    for _, pids in load.conn_pids:
                        for p in pids:
                            per_pid[int(p)] = per_pid.get(int(p), 0) + 1
                current = set(harness.proc_children(master))
                victim = pick(sorted(current), key=lambda k: per_pid.get(k, 0))
                t_kill, t_dead, newpid = self.kill_and_replace(srv, victim)
                kills.append((victim, t_kill, t_dead, dict(per_pid)))
                self.assertEqual(set(harness.proc_children(master)), (current - {victim}) | {newpid})
                self.assertTrue(load.wait_requests(500, 30), "load stalled after killing %d" % victim)
        finally:
            self.assertTrue(load.stop(), "load threads did not stop")

        self.assertEqual(load.unanswered, 0, "requests never answered: %r" % load.failures)
        bad = []
        for f in load.failures:
            served_by = {int(p) for p in f["pids"]}
            before = [k for k in kills if k[1] <= f["at"]]
            if not before:
                bad.append(("failure before any kill", f))
                continue
            victim, _, t_dead, _ = before[-1]
            if f["kind"] not in ("reset", "eof"):
                bad.append(("not a reset", f))
            elif f["opened"] >= t_dead:
                bad.append(("connection opened after worker %d was gone" % victim, f))
            elif not served_by <= {victim}:
                bad.append(("connection of a worker other than %d" % victim, f))
        self.assertEqual(bad, [], "failures beyond the killed worker's own connections; kills "
                         "(victim, t_kill, t_dead, connections per pid): %r" % kills)
        # Both current workers serve.
        kids = set(harness.proc_children(master))
        self.assertEqual(len(kids), 2)
        self.assertEqual(pids_serving(srv, kids), kids)
        self.assertEqual(srv.stop(), 0)

    def test_sighup_starts_new_workers_on_new_config(self):
        srv, ini, old = self.start()
        self.assertEqual(srv.get("/new/x").status, 404)
        with open(srv.ini, "w") as f:
            f.write(ini.replace("[route /echo]", "[route /new]\nplugin = echo\n\n[route /echo]"))
        start = harness.log_count(srv)
        srv.signal(signal.SIGHUP)
        m, i = harness.wait_log_from(srv, r"reload: generation 2 serving|reload failed", start, 10)
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertIn("serving", m.group(0))
        master = srv.proc.pid
        new = settle(lambda: set(harness.proc_children(master)), lambda k: len(k) == 2 and not (k & old), 20)
        self.assertEqual(len(new), 2, "children after the reload: %r (old %r)" % (new, old))
        self.assertFalse(new & old, "old worker processes still running: %r" % (new & old))
        for p in old:
            self.assertIsNotNone(srv.wait_log(r"worker process %d exited" % p, 10),
                                 "old worker %d did not exit cleanly:\n%s" % (p, srv.log()[-2000:]))
        for _ in range(20):
            self.assertEqual(srv.get("/new/x").status, 200)
        self.assertEqual(pids_serving(srv, new), new)
        self.assertEqual(srv.stop(), 0)

    def test_reloads_under_load_fail_no_request(self):
        # Each request on a connection of its own, sent as soon as the
        # connection is up, while the master replaces its workers 10 times:
        # a connection accepted by a worker that is told to drain must
        # still get its answer. (Keep-alive connections that an old worker
        # closes while idle are left out: a client must be ready for that.)
        srv, ini, _ = self.start()
        load = harness.KeepAliveLoad(srv.port, ["/swap", "/echo/r"], swap_check, conns=10, max_seconds=90,
                                     close=True, pause=0.005).start()
        try:
            for n in range(2, 12):
                start = harness.log_count(srv)
                srv.signal(signal.SIGHUP)
                m, i = harness.wait_log_from(srv, r"reload: generation %d serving|reload failed" % n, start, 10)
                self.assertIsNotNone(m, srv.log()[-2000:])
                self.assertIn("serving", m.group(0))
                # the new workers start before the generation is announced
                j = start
                for _ in range(2):
                    m, j = harness.wait_log_from(srv, r"worker process \d+ started \(generation %d\)" % n, j, 10)
                    self.assertIsNotNone(m, srv.log()[-2000:])
                self.assertTrue(load.wait_requests(50, 20), "load stalled during reloads")
        finally:
            self.assertTrue(load.stop(), "load threads did not stop")
        self.assertEqual(len(load.failures), 0, "requests that failed during reloads: " + load.summary())
        self.assertGreater(load.ok, 500)
        self.assertEqual(srv.stop(), 0)

    def test_sigterm_stops_all_workers(self):
        srv, _, kids = self.start()
        self.assertEqual(srv.get("/swap").status, 200)
        self.assertEqual(srv.stop(), 0, srv.log()[-2000:])
        for k in kids:
            self.assertTrue(settle(lambda: not harness.alive(k), bool, 10), "worker %d outlived the master" % k)
        self.assertRegex(srv.log(), r"SIGTERM: stopping worker processes")

    def test_route_instances_live_in_the_worker_processes(self):
        # The master serves nothing: it only validates (create() with
        # PH_CREATE_CHECK, destroy() at once). Each worker creates its own
        # instance and destroys it once, at its exit.
        srv, _, kids = self.start()
        master = srv.proc.pid
        self.assertEqual(srv.stop(), 0, srv.log()[-2000:])
        log = srv.log()
        for pid in kids:
            self.assertEqual(len(re.findall(r"swap: create pid %d\b" % pid, log)), 1, log[-3000:])
            self.assertEqual(len(re.findall(r"swap: destroy pid %d\b" % pid, log)), 1, log[-3000:])
        self.assertEqual(re.findall(r"swap: create pid %d\b" % master, log), [], "the master created an instance")
        self.assertEqual(len(re.findall(r"swap: check pid %d\b" % master, log)), 1, log[-3000:])
        self.assertEqual(len(re.findall(r"swap: destroy pid %d\b" % master, log)), 1, log[-3000:])
        self.assertEqual(len(re.findall(r"swap: destroy pid", log)), 1 + len(kids), log[-3000:])

    def test_start_fails_when_worker_processes_cannot_start(self):
        # The master's validation passes (refuse_real accepts a check), each
        # worker's create() fails: the master must not announce "ready" nor
        # respawn workers forever; it exits 1 and says why.
        ini = harness.server_ini(routes=routes("").replace(
            "plugin = %s\n" % VERSION_A, "plugin = %s\nrefuse_real = yes\n" % VERSION_A),
            threads=1, access_log="off", server_extra="processes = 2")
        srv = harness.Server(ini, expect_ready=False)
        self.addCleanup(srv.stop)
        try:
            rc = srv.proc.wait(20)
        except subprocess.TimeoutExpired:
            rc = None
        srv.stop()  # once it exited: returns when every line of its stderr is read
        self.assertEqual(rc, 1, srv.log()[-3000:])
        log = srv.log()
        self.assertRegex(log, r"worker process cannot start: .*server\.ini:\d+: \[route /swap\] plugin swap "
                              r"refused its configuration: refuse_real")
        self.assertRegex(log, r"worker processes did not start: stopping")
        self.assertNotRegex(log, r"ready: plughttpd \S+ master")
        self.assertEqual(len(re.findall(r"worker process \d+ started", log)), 1, "started more than one: " + log)

    def test_reload_whose_workers_fail_keeps_the_old_ones(self):
        srv, ini, old = self.start()
        master = srv.proc.pid
        with open(srv.ini, "w") as f:
            f.write(ini.replace("plugin = %s\n" % VERSION_A, "plugin = %s\nrefuse_real = yes\n" % VERSION_A))
        start = harness.log_count(srv)
        srv.signal(signal.SIGHUP)
        m, i = harness.wait_log_from(srv, r"reload: generation 2 serving|reload failed.*", start, 20)
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertRegex(m.group(0), r"reload failed, generation 1 keeps serving: 2 of 2 new worker processes "
                                     r"did not start")
        # the failed worker is reaped, not replaced; the old ones go on
        m, _ = harness.wait_log_from(srv, r"worker process \d+ exited with status 1", start, 10)
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertEqual(set(harness.proc_children(master)), old)
        self.assertEqual(pids_serving(srv, old), old)
        self.assertNotRegex("\n".join(srv.log_lines[start:]), r"worker process \d+ killed by signal .*starting a new")
        # the next good reload works
        with open(srv.ini, "w") as f:
            f.write(ini)
        start = harness.log_count(srv)
        srv.signal(signal.SIGHUP)
        m, _ = harness.wait_log_from(srv, r"reload: generation 3 serving|reload failed", start, 20)
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertIn("serving", m.group(0))
        new = settle(lambda: set(harness.proc_children(master)), lambda k: len(k) == 2 and not (k & old), 20)
        self.assertEqual(pids_serving(srv, new), new)
        self.assertEqual(srv.stop(), 0)

    def test_reload_whose_workers_fail_keeps_the_log_files(self):
        """A reload naming another error_log whose worker processes fail
        changes nothing: the failure and what follows go to the old file."""
        folder = tempfile.mkdtemp(prefix="phlog-")
        self.addCleanup(shutil.rmtree, folder, True)
        first, second = os.path.join(folder, "first.log"), os.path.join(folder, "second.log")

        def ini(log, extra=""):
            return harness.server_ini(routes=routes(extra), threads=1, access_log="off",
                                      server_extra="processes = 2\nerror_log = %s" % log)
        srv = harness.Server(ini(first), expect_ready=False)
        self.addCleanup(srv.stop)
        self.assertTrue(settle(lambda: read_text(first), lambda t: "ready: plughttpd" in t and " master" in t, 20),
                        read_text(first))
        with open(srv.ini, "w") as f:
            f.write(ini(second).replace("plugin = %s\n" % VERSION_A, "plugin = %s\nrefuse_real = yes\n" % VERSION_A))
        srv.signal(signal.SIGHUP)
        self.assertTrue(settle(lambda: read_text(first) + read_text(second),
                               lambda t: "reload failed, generation 1 keeps serving" in t, 20),
                        read_text(first) + read_text(second))
        self.assertIn("reload failed, generation 1 keeps serving: 2 of 2 new worker processes", read_text(first))
        srv.signal(signal.SIGUSR1)
        self.assertTrue(settle(lambda: read_text(first), lambda t: "log files reopened" in t, 10), read_text(first))
        self.assertNotIn("log files reopened", read_text(second))
        self.assertEqual(srv.stop(), 0)

    def test_removed_listener_is_closed_in_new_workers(self):
        # New worker processes must hold only the new generation's sockets:
        # a port removed by a reload stops accepting, and adding it back in
        # a later reload binds it again.
        extra = free_port()
        ini = harness.server_ini(routes=routes(), threads=1, access_log="off", server_extra="processes = 2",
                                 listen=("127.0.0.1:0", "127.0.0.1:%d" % extra))
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        master = srv.proc.pid
        old = settle(lambda: set(harness.proc_children(master)), lambda k: len(k) == 2)
        base = srv.port
        self.assertEqual(fetch_status(extra), 200)
        with open(srv.ini, "w") as f:
            f.write(ini.replace("listen = 127.0.0.1:%d\n" % extra, ""))
        reload_and_wait(self, srv, 2, old)
        self.assertNotIn(extra, listening_ports())
        self.assertIn(base, listening_ports())
        self.assertEqual(fetch_status(extra), "refused")
        with open(srv.ini, "w") as f:
            f.write(ini)
        reload_and_wait(self, srv, 3, set(harness.proc_children(master)))
        self.assertEqual(fetch_status(extra), 200)
        self.assertEqual(srv.stop(), 0)

    def test_stuck_draining_worker_leaves_the_pid_file(self):
        """A worker process that exits past shutdown_timeout without its
        stuck handler leaves the pid file alone: it is the master's, and
        the master still runs."""
        if not os.path.exists(MISBEHAVE):
            raise unittest.SkipTest("fixture not built: %s" % MISBEHAVE)
        folder = tempfile.mkdtemp(prefix="phpid-")
        self.addCleanup(shutil.rmtree, folder, True)
        pid_file = os.path.join(folder, "plughttpd.pid")
        ini = harness.server_ini(routes=routes("\n[route /mb]\nplugin = %s\n" % MISBEHAVE), threads=1,
                                 access_log="off",
                                 server_extra="processes = 2\nshutdown_timeout = 1s\npid_file = %s" % pid_file)
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        master = srv.proc.pid
        kids = settle(lambda: harness.proc_children(master), lambda k: len(k) == 2)
        self.assertEqual(len(kids), 2, srv.log())
        c = srv.connect(timeout=20)
        self.addCleanup(c.close)
        c.sendall(b"GET /mb/sleep?ms=5000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        busy = settle(lambda: [k for k in kids if in_nanosleep(k)], bool, 10)
        self.assertTrue(busy, "no worker process entered the handler's sleep")
        start = harness.log_count(srv)
        srv.signal(signal.SIGHUP)
        m, _ = harness.wait_log_from(srv, r"%d: a plugin handler is still running after shutdown_timeout"
                                     % busy[0], start, 15)
        self.assertIsNotNone(m, srv.log()[-3000:])
        self.assertTrue(settle(lambda: not harness.alive(busy[0]), bool, 10), srv.log()[-2000:])
        with open(pid_file) as f:
            self.assertEqual(f.read(), "%d\n" % master)
        self.assertEqual(fetch_status(srv.port), 200)
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(pid_file))

    def test_default_is_a_master_with_one_worker(self):
        # no processes key: a master and one worker process, which serves
        ini = harness.server_ini(routes=routes(), threads=2, access_log="off")
        with harness.Server(ini) as srv:
            self.assertRegex(srv.log(), r"ready: plughttpd \S+ master, generation 1, 1 worker processes")
            kids = harness.settle(lambda: harness.proc_children(srv.proc.pid), lambda k: len(k) == 1)
            self.assertEqual(len(kids), 1, kids)
            r = srv.get("/swap")
            self.assertEqual(int(r.header("X-Swap-Pid")), kids[0])
            self.assertEqual(srv.stop(), 0)

    def test_zero_is_one_process(self):
        # processes = 0: no master, the server itself serves.
        ini = harness.server_ini(routes=routes(), threads=2, access_log="off", server_extra="processes = 0")
        with harness.Server(ini) as srv:
            self.assertEqual(harness.proc_children(srv.proc.pid), [], "processes = 0 must not fork")
            r = srv.get("/swap")
            self.assertEqual(int(r.header("X-Swap-Pid")), srv.proc.pid)
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    harness.main()
