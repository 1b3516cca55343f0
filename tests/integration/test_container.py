#!/usr/bin/env python3
"""The server as PID 1 of a new PID namespace, as in a container.

`unshare --pid --fork --mount-proc` (root only) starts the server as the
namespace's init: with processes = 0, 1 (the default) and 2 it must serve,
report ready, and exit 0 on SIGTERM (sent from outside the namespace to its
pid there), leaving no process behind. Inside, the log's pid field is the
namespace's: the server must log as pid 1.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

import harness

VERSION_A = os.path.join(harness.FIXTURE_DIR, "version_a.so")
# --kill-child: a test that fails half-way leaves no server behind
LAUNCHER = ("unshare", "--pid", "--fork", "--kill-child", "--mount-proc")


def can_unshare():
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    try:
        rc = subprocess.run(list(LAUNCHER) + ["true"], timeout=10, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare failed: %s" % e
    return None if rc == 0 else "unshare --pid refused here (exit %d)" % rc


class Container(unittest.TestCase):
    def setUp(self):
        why = can_unshare()
        if why:
            raise unittest.SkipTest(why)
        if not os.path.exists(VERSION_A):
            raise unittest.SkipTest("fixture not built: %s" % VERSION_A)

    def run_as_init(self, processes):
        routes = "[route /swap]\nplugin = %s\n\n[route /echo]\nplugin = echo\n" % VERSION_A
        ini = harness.server_ini(routes=routes, threads=1, access_log="off",
                                 server_extra="processes = %d" % processes)
        # sd_notify: READY=1 from the namespace's pid 1
        tmp = tempfile.mkdtemp(prefix="phns-")
        self.addCleanup(shutil.rmtree, tmp, True)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(notify.close)
        notify.bind(os.path.join(tmp, "notify"))
        notify.settimeout(10)
        srv = harness.Server(ini, launcher=LAUNCHER, env={"NOTIFY_SOCKET": os.path.join(tmp, "notify")})
        self.addCleanup(srv.stop, signal.SIGKILL)
        msg = b""
        while b"READY=1" not in msg:
            msg = notify.recv(4096)
        self.assertIn(b"MAINPID=1\n", msg)
        # unshare's one child is the server, pid 1 inside
        init = harness.settle(lambda: harness.proc_children(srv.proc.pid), lambda k: len(k) == 1, 10)
        self.assertEqual(len(init), 1, srv.log())
        init = init[0]
        ready = r"\[info\] 1: ready: plughttpd \S+ master" if processes > 0 else r"\[info\] 1: ready: plughttpd"
        self.assertIsNotNone(srv.wait_log(ready, 10), srv.log()[-3000:])
        workers = harness.settle(lambda: harness.proc_children(init), lambda k: len(k) == processes, 10)
        if processes > 0:
            self.assertEqual(len(workers), processes, srv.log()[-3000:])
        pids = set()
        for _ in range(20):
            r = srv.get("/swap")
            self.assertEqual((r.status, r.body), (200, b"A\n"), srv.log()[-3000:])
            pids.add(int(r.header("X-Swap-Pid")))
        if processes == 0:
            self.assertEqual(pids, {1}, "processes = 0: the init itself serves")
        else:
            self.assertNotIn(1, pids, "the master must not serve")
        # no worker was started beyond the first ones (no respawn loop)
        self.assertEqual(len(harness.re.findall(r"worker process \d+ started", srv.log())), processes,
                         srv.log()[-3000:])
        os.kill(init, signal.SIGTERM)
        try:
            rc = srv.proc.wait(20)
        except subprocess.TimeoutExpired:
            rc = None
        self.assertEqual(rc, 0, srv.log()[-3000:])
        self.assertRegex(srv.log(), r"\[info\] 1: stopped")
        for w in workers:
            self.assertFalse(harness.alive(w), "worker %d outlived the init" % w)

    def test_single_process_as_pid_1(self):
        self.run_as_init(0)

    def test_default_master_as_pid_1(self):
        self.run_as_init(1)

    def test_worker_processes_as_pid_1(self):
        self.run_as_init(2)


if __name__ == "__main__":
    harness.main()
