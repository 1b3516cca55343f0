#!/usr/bin/env python3
"""Signals that arrive while the server starts, and a service manager that
stops reading its notifications.

Asserted, with one process (processes = 0) and under a master (processes = 1):
  * SIGHUP sent again and again from the moment the process exists (before it
    has read its configuration) never kills it: it becomes ready, serves,
    and acts on the held SIGHUP with a reload once it serves;
  * the same for SIGUSR1 (a log reopening, which leaves it serving);
  * a NOTIFY_SOCKET whose queue is full (nobody reads it, a small receive
    buffer) does not stall the server: many reloads in a row each finish,
    the drop is logged once, and requests are answered throughout.
"""

import os
import re
import signal
import socket
import subprocess
import time
import unittest

import harness

ECHO = "[route /echo]\nplugin = echo\n"
# How long the early signals are sent for, and how many at most: from the
# spawn on, past the point where the configuration is read.
EARLY_SECONDS = 0.25
EARLY_MAX = 2000


def ini(processes):
    return harness.server_ini(routes=ECHO, access_log="off", server_extra="processes = %d" % processes)


def catches(pid, sig):
    """Whether pid has a handler for sig now (its SigCgt in /proc/PID/status)."""
    try:
        cgt = harness.proc_status_field(pid, "SigCgt")
    except OSError:
        return False
    return cgt is not None and int(cgt, 16) & (1 << (sig - 1)) != 0


def spawn_and_signal(ini_text, sig):
    """Starts the binary directly (Popen) and sends sig in a tight bounded
    loop from the moment its own code runs, which is when it has a SIGABRT
    handler (the crash reporter, installed before the configuration is
    read; AddressSanitizer leaves SIGABRT alone). Before that the dynamic
    loader runs, where no program can hold a signal yet. Returns (the
    Popen, signals sent, the path of its stderr)."""
    d = harness.tempfile.mkdtemp(prefix="phtest-")
    harness._SCRATCH_DIRS.append(d)
    path = os.path.join(d, "server.ini")
    with open(path, "w") as f:
        f.write(ini_text)
    log = open(os.path.join(d, "stderr"), "wb")
    proc = subprocess.Popen(harness.WRAPPER + [harness.BINARY, "-c", path], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    errpath = os.path.join(d, "stderr")
    deadline = time.time() + harness.START_TIMEOUT
    while not catches(proc.pid, signal.SIGABRT) and proc.poll() is None and time.time() < deadline:
        pass
    sent = 0
    end = time.time() + EARLY_SECONDS
    while sent < EARLY_MAX and time.time() < end and proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            break
        sent += 1
    return proc, sent, errpath


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def wait_text(path, pattern, proc, timeout):
    """Waits until the stderr file matches pattern; the match or None (also
    when the process exits first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, read(path), re.M)
        if m or proc.poll() is not None:
            return m
        time.sleep(0.02)
    return None


def get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=harness.IO_TIMEOUT)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        return harness.parse_responses(harness.recv_all(s))[0]
    finally:
        s.close()


class EarlySignals(unittest.TestCase):
    def survive(self, processes, sig, after):
        text = ini(processes)
        proc, sent, errpath = spawn_and_signal(text, sig)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        self.assertGreater(sent, 0)
        ready = r"ready: plughttpd \S+ master" if processes else r"\bready: plughttpd"
        m = wait_text(errpath, ready, proc, harness.START_TIMEOUT)
        self.assertIsNone(proc.poll(), "died of %r after %d early signal(s):\n%s" % (proc.returncode, sent,
                                                                                   read(errpath)[-3000:]))
        self.assertIsNotNone(m, read(errpath)[-3000:])
        port = int(wait_text(errpath, r"listening on 127\.0\.0\.1:(\d+)", proc, 5).group(1))
        # The held signal is acted on once the process serves.
        self.assertIsNotNone(wait_text(errpath, after, proc, 20), read(errpath)[-3000:])
        r = get(port, "/echo/early")
        self.assertEqual(r.status, 200)
        self.assertIsNone(proc.poll())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(20), 0, read(errpath)[-3000:])

    def test_sighup_one_process(self):
        self.survive(0, signal.SIGHUP, r"reload: generation 2 serving")

    def test_sighup_master(self):
        self.survive(1, signal.SIGHUP, r"reload: generation 2 serving")

    def test_sigusr1_one_process(self):
        self.survive(0, signal.SIGUSR1, r"log files reopened")

    def test_sigusr1_master(self):
        # the master passes SIGUSR1 on to its worker, which says so
        self.survive(1, signal.SIGUSR1, r"log files reopened")


class StalledNotifySocket(unittest.TestCase):
    """Nobody reads NOTIFY_SOCKET: its queue fills after a few messages."""

    RELOADS = 40

    def check(self, processes):
        d = harness.tempfile.mkdtemp(prefix="phtest-")
        harness._SCRATCH_DIRS.append(d)
        path = os.path.join(d, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.bind(path)
        self.addCleanup(sock.close)
        text = ini(processes)
        srv = harness.Server(text, env={"NOTIFY_SOCKET": path})
        self.addCleanup(srv.stop)
        start = harness.log_count(srv)
        for i in range(self.RELOADS):
            with open(srv.ini, "w") as f:
                f.write(text + "\n; reload %d\n" % i)
            t0 = time.time()
            srv.signal(signal.SIGHUP)
            m, start = harness.wait_log_from(srv, r"reload: generation %d serving" % (i + 2), start, timeout=15)
            self.assertIsNotNone(m, "reload %d did not finish:\n%s" % (i, srv.log()[-3000:]))
            self.assertLess(time.time() - t0, 12)
            self.assertEqual(srv.get("/echo/n%d" % i).status, 200)
        log = srv.log()
        self.assertEqual(log.count("is not being read (its queue is full)"), 1, log[-3000:])
        self.assertEqual(srv.stop(), 0)

    def test_one_process(self):
        self.check(0)

    def test_master(self):
        self.check(1)


if __name__ == "__main__":
    harness.main()
