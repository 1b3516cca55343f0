#!/usr/bin/env python3
"""Socket activation (sd_listen_fds(3)): listening sockets passed in as
fds 3, 4, ... with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.

The test binds the sockets itself and starts the real server the way
systemd does: a small launcher (ACTIVATE below) moves the sockets to fds
3, 4, ..., sets LISTEN_PID to its own pid and execs the server command
(with harness.WRAPPER in front, so under valgrind too the pid stays the
one the variables name). The test keeps its own copy of every socket, as
systemd does: a server that bound a second socket on the same address
would fail to start, and connections made while no server runs wait in
the backlog.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

import harness

ECHO = "[route /echo]\nplugin = echo\n"
SOCKET_UNIT = os.path.join(harness.SRCDIR, "conf", "plughttpd.socket")
UNIT_IN = os.path.join(harness.SRCDIR, "conf", "plughttpd.service.in")
ANALYZE = shutil.which("systemd-analyze")

# argv: launcher FDS PIDMODE COMMAND...; FDS "7,9" become fds 3 and 4.
# PIDMODE "self": LISTEN_PID is this process, which execs the server;
# "parent": the test's pid, so the variables are not meant for the server.
ACTIVATE = r"""
import fcntl, os, sys
fds = [int(f) for f in sys.argv[1].split(",") if f]
high = [fcntl.fcntl(f, fcntl.F_DUPFD, 100) for f in fds]  # out of the way of 3, 4, ...
for f in fds:
    os.close(f)
for i, h in enumerate(high):
    os.dup2(h, 3 + i)  # inheritable
    os.close(h)
os.environ["LISTEN_PID"] = str(os.getpid() if sys.argv[2] == "self" else os.getppid())
os.execvp(sys.argv[3], sys.argv[3:])
"""


def listening_tcp(host="127.0.0.1", family=socket.AF_INET, backlog=64, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((host, 0))
    s.listen(backlog)
    return s


def launcher(socks, pid_mode="self"):
    """The ACTIVATE launcher for socks; the server command follows it."""
    fds = ",".join(str(s.fileno()) for s in socks)
    return [sys.executable, "-S", "-c", ACTIVATE, fds, pid_mode]


def activation_env(socks, names=None):
    env = {"LISTEN_FDS": str(len(socks))}
    if names is not None:
        env["LISTEN_FDNAMES"] = ":".join(names)
    return env


class ActivatedServer(harness.Server):
    """harness.Server started through the launcher, with socks passed as
    fds 3, 4, ..."""

    def __init__(self, ini_text, socks, names=None, pid_mode="self", env=None, **kw):
        penv = activation_env(socks, names)
        penv.update(env or {})
        super().__init__(ini_text, env=penv, launcher=launcher(socks, pid_mode),
                         pass_fds=[s.fileno() for s in socks], **kw)


def ini_for(*addresses, extra=""):
    return harness.server_ini(routes=ECHO, listen=addresses, server_extra=extra)


def port_of(sock):
    return sock.getsockname()[1]


def sock_inode(sock):
    return os.fstat(sock.fileno()).st_ino


def listening_inodes(pid):
    """Inodes of the TCP sockets in LISTEN state that process pid holds."""
    held = set()
    for target in harness.proc_fd_targets(pid):
        m = re.match(r"socket:\[(\d+)\]$", target)
        if m:
            held.add(int(m.group(1)))
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":  # TCP_LISTEN
                        listening.add(int(fields[9]))
        except FileNotFoundError:
            pass
    return held & listening


def send_request(sock, path="/echo/queued"):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path).encode())


def read_response(sock):
    resps = harness.parse_responses(harness.recv_all(sock))
    return resps[0] if resps else None


def wait_exit(srv, timeout=None):
    timeout = timeout or harness.START_TIMEOUT
    try:
        return srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


class Activation(unittest.TestCase):
    def passed(self, *args, **kw):
        s = listening_tcp(*args, **kw)
        self.addCleanup(s.close)
        return s

    def start(self, ini, socks, **kw):
        srv = ActivatedServer(ini, socks, **kw)
        self.addCleanup(srv.stop)
        return srv

    def test_queued_connection_is_served_on_the_passed_socket(self):
        sock = self.passed()
        port = port_of(sock)
        # Made while no server runs: it waits in the passed socket's backlog.
        early = socket.create_connection(("127.0.0.1", port), timeout=harness.IO_TIMEOUT)
        self.addCleanup(early.close)
        send_request(early)
        srv = self.start(ini_for("127.0.0.1:%d" % port), [sock], names=["http"])
        r = read_response(early)
        self.assertIsNotNone(r, srv.log())
        self.assertEqual(r.status, 200)
        self.assertIn(b"/echo/queued", r.body)
        self.assertEqual(srv.get("/echo/x").status, 200)
        self.assertRegex(srv.log(), r'listening on 127\.0\.0\.1:%d \(passed by systemd: fd 3 "http"\)' % port)
        self.assertIn("socket activation: 1 socket passed by systemd", srv.log())
        # The only listening socket the server holds is the passed one, at fd 3.
        self.assertEqual(listening_inodes(srv.proc.pid), {sock_inode(sock)})
        self.assertEqual(os.stat("/proc/%d/fd/3" % srv.proc.pid).st_ino, sock_inode(sock))
        self.assertEqual(srv.stop(), 0)

    def test_passed_socket_keeps_its_defer_accept(self):
        # The unit's DeferAcceptSec= (or its absence) stays: the server's
        # defer_accept is for the sockets it binds itself.
        plain, deferring = self.passed(), self.passed()
        deferring.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
        before = [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) for s in (plain, deferring)]
        self.assertEqual(before[0], 0)
        self.assertGreater(before[1], 0)
        for extra in ("", "defer_accept = no"):
            with self.subTest(extra=extra or "default"):
                srv = self.start(ini_for("127.0.0.1:%d" % port_of(plain), "127.0.0.1:%d" % port_of(deferring),
                                         extra=extra), [plain, deferring])
                for sock in (plain, deferring):  # served: the server took both sockets
                    with socket.create_connection(("127.0.0.1", port_of(sock)), timeout=harness.IO_TIMEOUT) as c:
                        send_request(c)
                        self.assertEqual(read_response(c).status, 200, srv.log())
                after = [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) for s in (plain, deferring)]
                self.assertEqual(srv.stop(), 0)
                self.assertEqual(after, before)

    def test_mixed_passed_and_bound_listeners(self):
        a, b = self.passed(), self.passed()
        srv = self.start(ini_for("127.0.0.1:%d" % port_of(b), "127.0.0.1:0", "127.0.0.1:%d" % port_of(a)),
                         [a, b], names=["first", "second"])
        own = [int(m) for m in re.findall(r"listening on 127\.0\.0\.1:(\d+)\n", srv.log() + "\n")]
        self.assertEqual(len(own), 1, srv.log())
        self.assertNotIn(own[0], (port_of(a), port_of(b)))
        for port in (port_of(a), port_of(b), own[0]):
            with socket.create_connection(("127.0.0.1", port), timeout=harness.IO_TIMEOUT) as c:
                send_request(c, "/echo/p%d" % port)
                r = read_response(c)
                self.assertEqual((r.status, b"/echo/p%d" % port in r.body), (200, True), (port, srv.log()))
        self.assertIn('fd 4 "second"', srv.log())
        self.assertIn('fd 3 "first"', srv.log())
        self.assertEqual(len(listening_inodes(srv.proc.pid)), 3)
        self.assertEqual(srv.stop(), 0)

    def test_unmatched_passed_socket_fails_start(self):
        sock = self.passed()
        srv = self.start(ini_for("127.0.0.1:0"), [sock], names=["web"], expect_ready=False)
        self.assertEqual(wait_exit(srv), 1, srv.log())
        harness.settle(srv.log, lambda t: "matches no listen line" in t, 5)
        self.assertRegex(srv.log(), r'server\.ini: the socket passed by systemd on fd 3 \("web"\) '
                         r'\(127\.0\.0\.1:%d\) matches no listen line; add "listen = 127\.0\.0\.1:%d"'
                         % (port_of(sock), port_of(sock)))
        self.assertNotIn("ready", srv.log())

    def test_two_lines_on_one_passed_socket_fail_start(self):
        sock = self.passed()
        port = port_of(sock)
        srv = self.start(ini_for("127.0.0.1:%d" % port, "localhost:%d" % port), [sock], expect_ready=False)
        self.assertEqual(wait_exit(srv), 1, srv.log())
        harness.settle(srv.log, lambda t: "served by" in t, 5)
        self.assertRegex(srv.log(), r"server\.ini:\d+: listen localhost:%d: served by the same socket passed by "
                         r"systemd as listen 127\.0\.0\.1:%d on line \d+" % (port, port))

    def test_not_a_listening_socket_fails_start(self):
        bound = socket.socket()
        self.addCleanup(bound.close)
        bound.bind(("127.0.0.1", 0))  # bound, never listen()ed
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        udp.bind(("127.0.0.1", 0))
        for bad in (bound, udp):
            srv = self.start(ini_for("127.0.0.1:%d" % bad.getsockname()[1]), [bad], expect_ready=False)
            self.assertEqual(wait_exit(srv), 1, srv.log())
            harness.settle(srv.log, lambda t: "socket activation" in t, 5)
            self.assertIn("socket activation: fd 3: not a listening stream socket", srv.log())

    def test_listen_pid_of_another_process_is_ignored(self):
        sock = self.passed()
        # The passed socket matches no listen line: taking it would fail.
        srv = self.start(ini_for("127.0.0.1:0"), [sock], pid_mode="parent")
        self.assertNotEqual(srv.port, port_of(sock))
        self.assertEqual(srv.get("/echo/own").status, 200)
        self.assertRegex(srv.log(), r"LISTEN_PID=%d is not this process \(%d\): ignored"
                         % (os.getpid(), srv.proc.pid))
        # It binds its own socket; the passed one (inherited, as the
        # variables were not meant for it) is left alone.
        self.assertEqual(len(listening_inodes(srv.proc.pid) - {sock_inode(sock)}), 1)
        self.assertEqual(srv.stop(), 0)

    def test_unix_socket(self):
        d = tempfile.mkdtemp(prefix="phsock-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "http.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        sock.listen(16)
        early = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(early.close)
        early.settimeout(harness.IO_TIMEOUT)
        early.connect(path)
        send_request(early, "/echo/unix")
        srv = self.start(ini_for("127.0.0.1:0", "unix:" + path), [sock])
        r = read_response(early)
        self.assertEqual(r.status if r else None, 200, srv.log())
        self.assertIn("listening on unix:%s (passed by systemd: fd 3)" % path, srv.log())
        self.assertEqual(srv.stop(), 0)
        # Its path belongs to whoever bound it: still there, still listening.
        self.assertTrue(os.path.exists(path))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect(path)

    @unittest.skipUnless(socket.has_ipv6, "no IPv6")
    def test_dual_stack_socket_serves_a_bare_port(self):
        # What ListenStream=PORT with BindIPv6Only=both hands over.
        try:
            sock = self.passed("::", socket.AF_INET6, v6only=0)
        except OSError as e:
            self.skipTest("cannot bind [::]: %s" % e)
        port = port_of(sock)
        srv = self.start(ini_for(str(port)), [sock])
        self.assertIn("listening on [::]:%d (passed by systemd: fd 3)" % port, srv.log())
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family, socket.SOCK_STREAM) as c:
                c.settimeout(harness.IO_TIMEOUT)
                c.connect((host, port))
                send_request(c)
                r = read_response(c)
                self.assertEqual(r.status if r else None, 200, (host, srv.log()))
        self.assertEqual(listening_inodes(srv.proc.pid), {sock_inode(sock)})
        self.assertEqual(srv.stop(), 0)

    def test_stop_leaves_the_socket_listening_for_the_next_start(self):
        for processes in (1, 2):
            with self.subTest(processes=processes):
                sock = self.passed()
                port = port_of(sock)
                ini = ini_for("127.0.0.1:%d" % port, extra="processes = %d" % processes)
                first = self.start(ini, [sock])
                self.assertEqual(first.get("/echo/1").status, 200)
                self.assertEqual(first.stop(), 0)
                # Between the two servers (a restart): accepted by the
                # kernel, not refused.
                waiting = socket.create_connection(("127.0.0.1", port), timeout=harness.IO_TIMEOUT)
                self.addCleanup(waiting.close)
                send_request(waiting, "/echo/between")
                second = self.start(ini, [sock])
                r = read_response(waiting)
                self.assertEqual(r.status if r else None, 200, second.log())
                self.assertIn(b"/echo/between", r.body)
                self.assertEqual(second.stop(), 0)

    def test_config_test_ignores_passed_sockets(self):
        sock = self.passed()
        d = tempfile.mkdtemp(prefix="phsock-")
        self.addCleanup(shutil.rmtree, d, True)
        ini = os.path.join(d, "server.ini")
        with open(ini, "w") as f:
            f.write(ini_for("127.0.0.1:0"))  # the passed socket matches nothing
        env = dict(os.environ, **activation_env([sock]))
        p = subprocess.run(launcher([sock]) + harness.WRAPPER + [harness.BINARY, "-t", "-c", ini],
                           pass_fds=(sock.fileno(),), env=env, capture_output=True, text=True,
                           timeout=harness.START_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("is ok", p.stdout)
        self.assertNotIn("socket activation", p.stderr)


class Reload(unittest.TestCase):
    def setUp(self):
        self.sock = listening_tcp()
        self.addCleanup(self.sock.close)
        self.port = port_of(self.sock)

    def start(self, ini, **kw):
        srv = ActivatedServer(ini, [self.sock], **kw)
        self.addCleanup(srv.stop)
        return srv

    def reload(self, srv, ini_text, outcome=r"generation (\d+) serving"):
        start = harness.log_count(srv)
        with open(srv.ini, "w") as f:
            f.write(ini_text)
        srv.signal(signal.SIGHUP)
        m, _ = harness.wait_log_from(srv, outcome + "|reload failed", start, timeout=harness.START_TIMEOUT)
        self.assertIsNotNone(m, srv.log())
        self.assertNotIn("reload failed", m.group(0), srv.log())
        return start

    def get(self, path, port=None):
        with socket.create_connection(("127.0.0.1", port or self.port), timeout=harness.IO_TIMEOUT) as c:
            send_request(c, path)
            return read_response(c)

    def test_reload_keeps_serving_on_the_passed_socket(self):
        srv = self.start(ini_for("127.0.0.1:%d" % self.port))
        self.assertEqual(self.get("/echo/a").status, 200)
        self.reload(srv, harness.server_ini(routes=ECHO + "\n[route /more]\nplugin = echo\n",
                                            listen=("127.0.0.1:%d" % self.port,)))
        r = self.get("/more/b")
        self.assertEqual(r.status if r else None, 200, srv.log())
        self.assertEqual(listening_inodes(srv.proc.pid), {sock_inode(self.sock)})
        self.assertEqual(srv.stop(), 0)

    def test_reload_spelling_the_address_differently_keeps_the_socket(self):
        srv = self.start(ini_for("127.0.0.1:%d" % self.port))
        self.reload(srv, ini_for("localhost:%d" % self.port))
        self.assertEqual(self.get("/echo/c").status, 200)
        self.assertEqual(listening_inodes(srv.proc.pid), {sock_inode(self.sock)})
        self.assertEqual(srv.stop(), 0)

    def test_line_dropped_then_listed_again(self):
        srv = self.start(ini_for("127.0.0.1:%d" % self.port, "127.0.0.1:0"))
        own = [int(p) for p in re.findall(r"listening on 127\.0\.0\.1:(\d+)\n", srv.log() + "\n")][0]
        start = self.reload(srv, ini_for("127.0.0.1:0"))
        m, _ = harness.wait_log_from(srv, r"listen 127\.0\.0\.1:%d removed: the socket passed by systemd"
                                     % self.port, start, timeout=1)
        self.assertIsNotNone(m, srv.log())
        self.assertEqual(self.get("/echo/own", own).status, 200)
        # Not closed: the server still holds it, and listing the address
        # again takes it back (binding it anew would fail: the test holds it).
        self.assertIn("socket:[%d]" % sock_inode(self.sock), harness.proc_fd_targets(srv.proc.pid))
        self.reload(srv, ini_for("127.0.0.1:0", "127.0.0.1:%d" % self.port))
        r = self.get("/echo/back")
        self.assertEqual(r.status if r else None, 200, srv.log())
        self.assertEqual(srv.stop(), 0)

    def test_reload_adding_a_second_line_for_the_socket_fails(self):
        srv = self.start(ini_for("127.0.0.1:%d" % self.port))
        start = harness.log_count(srv)
        with open(srv.ini, "w") as f:
            f.write(ini_for("127.0.0.1:%d" % self.port, "localhost:%d" % self.port))
        srv.signal(signal.SIGHUP)
        m, _ = harness.wait_log_from(srv, r"reload failed.*served by the same socket", start,
                                     timeout=harness.START_TIMEOUT)
        self.assertIsNotNone(m, srv.log())
        self.assertEqual(self.get("/echo/still").status, 200)
        self.assertEqual(srv.stop(), 0)

    def test_worker_processes(self):
        ini = ini_for("127.0.0.1:%d" % self.port, extra="processes = 2")
        srv = self.start(ini)
        self.assertEqual(self.get("/echo/p").status, 200)
        kids = harness.settle(lambda: harness.proc_children(srv.proc.pid), lambda k: len(k) == 2)
        self.assertEqual(len(kids), 2)
        for pid in [srv.proc.pid] + kids:
            self.assertEqual(listening_inodes(pid), {sock_inode(self.sock)}, pid)
        self.reload(srv, ini_for("127.0.0.1:%d" % self.port, extra="processes = 2\nmax_body_bytes = 2k"),
                    outcome=r"reload: generation (\d+) serving")
        new = harness.settle(lambda: harness.proc_children(srv.proc.pid),
                             lambda k: len(k) == 2 and not set(k) & set(kids))
        self.assertEqual(len(new), 2)
        self.assertFalse(set(new) & set(kids))
        self.assertEqual(self.get("/echo/q").status, 200)
        self.assertEqual(srv.stop(), 0)


@unittest.skipIf(ANALYZE is None, "systemd-analyze not installed")
class SocketUnit(unittest.TestCase):
    def test_verify(self):
        d = tempfile.mkdtemp(prefix="phunit-")
        self.addCleanup(shutil.rmtree, d, True)
        sbindir = os.path.dirname(os.path.abspath(harness.BINARY))
        with open(UNIT_IN) as f:
            service = f.read().replace("@sbindir@", sbindir).replace("@sysconfdir@", "/etc")
        with open(os.path.join(d, "plughttpd.service"), "w") as f:
            f.write(service)
        shutil.copy(SOCKET_UNIT, d)
        p = subprocess.run([ANALYZE, "verify", "--man=no", "plughttpd.socket"], capture_output=True,
                           text=True, timeout=60, cwd=d)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("plughttpd.socket:", p.stdout + p.stderr)


if __name__ == "__main__":
    harness.main()
