#!/usr/bin/env python3
"""Running as a systemd service: the unit file, the sd_notify protocol,
pid_file and user =.

The unit is generated from conf/plughttpd.service.in the way make does
(sed on @sbindir@ and @sysconfdir@), with @sbindir@ pointing at the build
so that `systemd-analyze verify` finds the binary. Those checks are skipped
where systemd-analyze is missing. The bound asserted: the offline security
exposure is 2.0 or lower ("OK").

The notify protocol is read from a real AF_UNIX datagram socket the test
binds and passes in NOTIFY_SOCKET, with SO_PASSCRED so each message's
sender is known.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import harness

UNIT_IN = os.path.join(harness.SRCDIR, "conf", "plughttpd.service.in")
ANALYZE = shutil.which("systemd-analyze")
ECHO = "[route /echo]\nplugin = echo\n"


def unit_text(sbindir, sysconfdir="/etc"):
    with open(UNIT_IN) as f:
        text = f.read()
    return text.replace("@sbindir@", sbindir).replace("@sysconfdir@", sysconfdir)


def unit_values(text, key):
    """Every value of key in the unit, in order (comments skipped)."""
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith(("#", ";")) or "=" not in line:
            continue
        k, _, v = line.partition("=")
        if k.strip() == key:
            out.append(v.strip())
    return out


class UnitFile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="phunit-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.text = unit_text(os.path.dirname(os.path.abspath(harness.BINARY)))
        self.path = os.path.join(self.dir, "plughttpd.service")
        with open(self.path, "w") as f:
            f.write(self.text)

    def test_directives(self):
        self.assertEqual(unit_values(self.text, "Type"), ["notify"])
        reload_cmd = unit_values(self.text, "ExecReload")
        self.assertEqual(len(reload_cmd), 1)
        self.assertRegex(reload_cmd[0], r"kill (-HUP|-s HUP|--signal=HUP|-SIGHUP|-s SIGHUP) \$MAINPID")
        self.assertEqual(unit_values(self.text, "CapabilityBoundingSet"), ["CAP_NET_BIND_SERVICE"])
        for v in unit_values(self.text, "AmbientCapabilities"):
            self.assertEqual(v, "CAP_NET_BIND_SERVICE")
        self.assertEqual(unit_values(self.text, "NoNewPrivileges"), ["yes"])
        start = unit_values(self.text, "ExecStart")
        self.assertEqual(len(start), 1)
        self.assertTrue(start[0].startswith(os.path.dirname(os.path.abspath(harness.BINARY)) + "/plughttpd "))
        self.assertIn("-c /etc/plughttpd/server.ini", start[0])
        self.assertIsNone(re.search(r"@[A-Za-z_]+@", self.text), "a placeholder was left unsubstituted")

    @unittest.skipIf(ANALYZE is None, "systemd-analyze not installed")
    def test_security_exposure_at_most_2(self):
        p = subprocess.run([ANALYZE, "security", "--offline=true", self.path], capture_output=True, text=True,
                           timeout=60)
        out = p.stdout + p.stderr
        m = re.search(r"Overall exposure level for plughttpd\.service: (\d+\.\d+)", out)
        self.assertIsNotNone(m, out)
        self.assertLessEqual(float(m.group(1)), 2.0, out)

    @unittest.skipIf(ANALYZE is None, "systemd-analyze not installed")
    def test_verify(self):
        # --man=no: the man page named in Documentation= is not installed
        # in a build tree.
        p = subprocess.run([ANALYZE, "verify", "--man=no", self.path], capture_output=True, text=True,
                           timeout=60, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("plughttpd.service:", p.stdout + p.stderr)


class NotifySocket(harness.NotifySocket):
    """harness.NotifySocket plus the sender's pid of each message."""

    def __init__(self, folder):
        super().__init__(folder)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def _recv(self, timeout):
        self.sock.settimeout(max(0.001, timeout))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        msg = {"_received": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000,
               "_raw": data.decode("utf-8", "replace"), "_pid": None}
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                msg["_pid"] = struct.unpack("iII", payload[:12])[0]
        for line in msg["_raw"].split("\n"):
            k, sep, v = line.partition("=")
            if sep:
                msg[k] = v
        self.messages.append(msg)
        return msg


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notify(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="phnotify-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ns = NotifySocket(self.dir)
        self.addCleanup(self.ns.close)

    def start(self, processes=1):
        ini = harness.server_ini(routes=ECHO, access_log="off", threads=2,
                                 server_extra="processes = %d" % processes)
        srv = harness.Server(ini, env=self.ns.env())
        self.addCleanup(srv.stop)
        return srv, ini

    def check_protocol(self, processes):
        srv, ini = self.start(processes)
        pid = srv.proc.pid
        ready = self.ns.wait_for("READY", "1")
        self.assertIsNotNone(ready, "no READY=1 at start")
        self.assertEqual(ready.get("MAINPID"), str(pid))
        self.assertIn("STATUS", ready)
        self.assertIn("generation 1", ready["STATUS"])

        # A good reload: RELOADING=1 with MONOTONIC_USEC taken during it,
        # then READY=1 naming generation 2.
        with open(srv.ini, "a") as f:
            f.write("\n[route /new]\nplugin = echo\n")
        before = monotonic_usec()
        srv.signal(signal.SIGHUP)
        reloading = self.ns.wait_for("RELOADING", "1")
        self.assertIsNotNone(reloading, "no RELOADING=1 on SIGHUP")
        self.assertIn("MONOTONIC_USEC", reloading, "MONOTONIC_USEC must come with RELOADING=1")
        usec = int(reloading["MONOTONIC_USEC"])
        self.assertLessEqual(before, usec, "MONOTONIC_USEC earlier than the SIGHUP")
        self.assertLessEqual(usec, reloading["_received"], "MONOTONIC_USEC later than its arrival")
        ready = self.ns.wait_for("READY", "1")
        self.assertIsNotNone(ready, "no READY=1 after the reload")
        self.assertRegex(ready.get("STATUS", ""), r"generation 2\b")
        self.assertNotIn("fail", ready.get("STATUS", ""))
        self.assertEqual(srv.get("/new/x").status, 200)

        # A failed reload: READY=1 again (still serving), STATUS says so.
        with open(srv.ini, "a") as f:
            f.write("\n[route /bad]\nplugin = ./missing.so\n")
        srv.signal(signal.SIGHUP)
        self.assertIsNotNone(self.ns.wait_for("RELOADING", "1"))
        ready = self.ns.wait_for("READY", "1")
        self.assertIsNotNone(ready, "no READY=1 after a failed reload")
        self.assertIn("fail", ready.get("STATUS", ""))
        self.assertRegex(ready.get("STATUS", ""), r"generation 2\b")
        self.assertEqual(srv.get("/new/x").status, 200)

        srv.signal(signal.SIGTERM)
        self.assertIsNotNone(self.ns.wait_for("STOPPING", "1"), "no STOPPING=1 on SIGTERM")
        self.assertEqual(srv.stop(), 0)
        # Every message came from the main process (NotifyAccess=main).
        senders = {m["_pid"] for m in self.ns.messages}
        self.assertEqual(senders, {pid}, [m["_raw"] for m in self.ns.messages])
        # Order: READY, RELOADING, READY, RELOADING, READY, STOPPING.
        kinds = [k for m in self.ns.messages for k in ("READY", "RELOADING", "STOPPING") if m.get(k) == "1"]
        self.assertEqual(kinds, ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"])

    def test_protocol_one_process(self):
        self.check_protocol(1)

    def test_protocol_worker_processes(self):
        self.check_protocol(2)

    def test_abstract_socket(self):
        # NOTIFY_SOCKET may name an abstract socket: "@name".
        name = "phtest-%d-%d" % (os.getpid(), time.monotonic_ns())
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("\0" + name)
        self.addCleanup(s.close)
        srv = harness.Server(harness.server_ini(routes=ECHO, access_log="off"), env={"NOTIFY_SOCKET": "@" + name})
        self.addCleanup(srv.stop)
        s.settimeout(10)
        data = s.recv(4096).decode()
        self.assertIn("READY=1", data.split("\n"))
        self.assertEqual(srv.stop(), 0)


class PidFile(unittest.TestCase):
    def check(self, processes):
        folder = tempfile.mkdtemp(prefix="phpid-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "plughttpd.pid")
        ini = harness.server_ini(routes=ECHO, access_log="off",
                                 server_extra="pid_file = %s\nprocesses = %d" % (path, processes))
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        with open(path) as f:
            self.assertEqual(f.read(), "%d\n" % srv.proc.pid)
        if processes > 1:
            # a worker process that dies must not take the pid file along
            kid = harness.proc_children(srv.proc.pid)[0]
            start = harness.log_count(srv)
            os.kill(kid, signal.SIGKILL)
            m, _ = harness.wait_log_from(srv, r"worker process \d+ started", start, 10)
            self.assertIsNotNone(m)
            self.assertTrue(os.path.exists(path), "pid file removed when a worker died")
            with open(path) as f:
                self.assertEqual(f.read(), "%d\n" % srv.proc.pid)
        srv.signal(signal.SIGHUP)
        self.assertIsNotNone(srv.wait_log(r"reload: generation 2 serving"))
        self.assertTrue(os.path.exists(path), "pid file removed by a reload")
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(path), "pid file left behind at exit")

    def test_pid_file_one_process(self):
        self.check(1)

    def test_pid_file_worker_processes(self):
        self.check(2)


def ids_of(pid, field):
    """(real, effective, saved, fs) ids of every thread of pid."""
    out = set()
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    out.add(tuple(int(x) for x in line.split()[1:]))
    return out


def free_low_port():
    """A free port below 1024 on 127.0.0.1 (binding it needs root)."""
    for port in range(980, 1020):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return None


@unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
class DropPrivileges(unittest.TestCase):
    def setUp(self):
        try:
            self.nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")

    def test_user_nobody_after_binding(self):
        port = free_low_port()
        if port is None:
            self.skipTest("no free port below 1024")
        ini = harness.server_ini(routes=ECHO, access_log="off", threads=2,
                                 listen=("127.0.0.1:%d" % port,), server_extra="user = nobody")
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        # the server must re-read its config as nobody on reload
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.ini, 0o644)
        pid = srv.proc.pid
        uid, gid = self.nobody.pw_uid, self.nobody.pw_gid
        self.assertEqual(ids_of(pid, "Uid"), {(uid, uid, uid, uid)})
        self.assertEqual(ids_of(pid, "Gid"), {(gid, gid, gid, gid)})
        with open("/proc/%d/status" % pid) as f:
            groups = [l for l in f if l.startswith("Groups:")][0].split()[1:]
        self.assertEqual(groups, [], "supplementary groups kept after dropping privileges")
        self.assertEqual(srv.get("/echo/x").status, 200)  # the port below 1024, bound before the drop
        with open(srv.ini, "a") as f:
            f.write("\n[route /new]\nplugin = echo\n")
        srv.signal(signal.SIGHUP)
        m = srv.wait_log(r"reload: generation 2 serving|reload failed.*")
        self.assertIsNotNone(m)
        self.assertIn("serving", m.group(0), m.group(0))
        self.assertEqual(srv.get("/new/x").status, 200)
        self.assertEqual(srv.stop(), 0)

    def test_new_privileged_listener_after_drop_fails_cleanly(self):
        # Once running as nobody, a reload that adds a port below 1024 cannot
        # bind it: that reload fails with the line, the old one keeps serving.
        port = free_low_port()
        if port is None:
            self.skipTest("no free port below 1024")
        ini = harness.server_ini(routes=ECHO, access_log="off", server_extra="user = nobody")
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        text = ini.replace("listen = 127.0.0.1:0\n", "listen = 127.0.0.1:0\nlisten = 127.0.0.1:%d\n" % port)
        with open(srv.ini, "w") as f:
            f.write(text)
        os.chmod(srv.ini, 0o644)
        srv.signal(signal.SIGHUP)
        m = srv.wait_log(r"reload failed, generation 1 keeps serving: (.*)|reload: generation 2 serving")
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertIn("keeps serving", m.group(0))
        line = text.split("\n").index("listen = 127.0.0.1:%d" % port) + 1
        self.assertIn("%s:%d:" % (srv.ini, line), m.group(1))
        self.assertEqual(srv.get("/echo/x").status, 200)
        self.assertEqual(srv.stop(), 0)

    def test_unknown_user_refused(self):
        ini = harness.server_ini(routes=ECHO, access_log="off", server_extra="user = no-such-user-ph")
        srv = harness.Server(ini, expect_ready=False)
        self.addCleanup(srv.stop)
        try:
            rc = srv.proc.wait(harness.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("server kept running with an unknown user")
        srv.stop()
        self.assertNotEqual(rc, 0)
        self.assertIn("no-such-user-ph", srv.log())
        self.assertNotRegex(srv.log(), r"\bready\b")


if __name__ == "__main__":
    harness.main()
