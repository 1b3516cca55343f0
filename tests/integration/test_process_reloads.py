#!/usr/bin/env python3
"""Resources across many reloads with processes = 2.

The configuration alternates between two listen sets (a port kept by
every generation plus one of two others) while routes hold plugin
instances with descriptors of their own (a SQLite database). After every
reload, awaited on its log line, the master and each worker process must
hold exactly the LISTEN sockets the current configuration names, and a
bounded number of descriptors that does not grow with the reload count.

RELOADS reloads (PH_RELOADS overrides, e.g. for a quick local run).
"""

import os
import signal
import socket
import time
import unittest

import harness

RELOADS = int(os.environ.get("PH_RELOADS", "1000"))
# Bounded in time whatever the machine: past MAX_SECONDS the run stops at
# the reload it has reached (on a machine loaded by other tests, or under a
# sanitizer), and is checked there; it must have reached MIN_RELOADS, far
# more than any leak per reload needs to show in the descriptor counts.
MAX_SECONDS = 110.0
MIN_RELOADS = min(RELOADS, 200)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen_inodes():
    """{socket inode: port} of sockets in LISTEN state on 127.0.0.1."""
    out = {}
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[1].startswith("0100007F:"):
                out[fields[9]] = int(fields[1].split(":")[1], 16)
    return out


def held_listen_ports(pid, inodes):
    """Sorted ports of the LISTEN sockets that pid holds descriptors of."""
    ports = []
    for target in harness.proc_fd_targets(pid):
        if target.startswith("socket:["):
            ino = target[len("socket:["):-1]
            if ino in inodes:
                ports.append(inodes[ino])
    return sorted(ports)


class ProcessReloads(unittest.TestCase):
    def test_reloads_keep_listeners_and_descriptors_bounded(self):
        if not harness.SRCDIR:
            raise unittest.SkipTest("PH_SRCDIR not set")
        schema = os.path.join(harness.SRCDIR, "conf", "schema.sql")
        base, one, two = free_port(), free_port(), free_port()
        routes = ("[route /echo]\nplugin = echo\n\n[route /api]\nplugin = data\n"
                  "database = sqlite:notes.db\nschema = %s\ntables = notes\n" % schema)

        def ini(port):
            return harness.server_ini(routes=routes, threads=1, access_log="off",
                                      listen=("127.0.0.1:%d" % base, "127.0.0.1:%d" % port),
                                      server_extra="processes = 2")

        srv = harness.Server(ini(one))
        self.addCleanup(srv.stop)
        master = srv.proc.pid
        t0 = time.time()
        baseline = None
        gen = 1
        last = RELOADS
        for n in range(1, RELOADS + 1):
            port = two if n % 2 else one
            with open(srv.ini, "w") as f:
                f.write(ini(port))
            start = harness.log_count(srv)
            srv.signal(signal.SIGHUP)
            gen += 1
            m, _ = harness.wait_log_from(srv, r"reload: generation %d serving|reload failed.*" % gen, start, 20)
            self.assertIsNotNone(m, "reload %d: no answer\n%s" % (n, srv.log()[-3000:]))
            self.assertIn("serving", m.group(0), "reload %d" % n)
            late = time.time() - t0 > MAX_SECONDS
            if late:
                self.assertGreaterEqual(n, MIN_RELOADS, "only %d reloads in %.0f s" % (n, MAX_SECONDS))
                last = n
            if n in (10, RELOADS) or late:
                counts = self.settled_counts(srv, master, [base, port], {base, one, two})
                if baseline is None:
                    baseline = counts
                else:
                    self.assertEqual(counts, baseline,
                                     "descriptors (master, worker, worker) after 10 reloads vs after %d" % n)
            if late:
                break
        elapsed = time.time() - t0
        print("%d reloads in %.1f s (%.1f ms each)" % (last, elapsed, 1000 * elapsed / last))
        # still serving, on the ports of the last configuration only
        self.assertEqual(srv.get("/echo/x").status, 200)
        port = two if last % 2 else one
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        gone = one if port == two else two
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", gone), timeout=5).close()
        self.assertEqual(srv.stop(), 0)

    def settled_counts(self, srv, master, ports, candidates):
        """Once the old workers have exited: checks that the master and each
        worker hold exactly the LISTEN sockets of ports; returns the
        descriptor counts (master, then workers in ascending count)."""
        kids = harness.settle(lambda: harness.proc_children(master), lambda k: len(k) == 2, 20)
        self.assertEqual(len(kids), 2, "worker processes: %r\n%s" % (kids, srv.log()[-3000:]))
        inodes = listen_inodes()
        self.assertEqual(sorted(set(inodes.values()) & candidates), sorted(ports),
                         "LISTEN sockets on the machine")
        for pid in [master] + kids:
            self.assertEqual(held_listen_ports(pid, inodes), sorted(ports),
                             "LISTEN sockets held by %s %d" % ("master" if pid == master else "worker", pid))
        return (harness.proc_fd_count(master),) + tuple(sorted(harness.proc_fd_count(k) for k in kids))



class ConnectionCounts(unittest.TestCase):
    """max_connections counts each worker process's own connections: a
    worker that dies holding many cannot leave them counted against
    another, however many old workers a run of reloads keeps draining."""

    def test_dead_draining_worker_leaves_no_count_behind(self):
        routes = "[route /]\nplugin = echo\n"
        text = harness.server_ini(routes, server_extra="max_connections = 10\nshutdown_timeout = 120s\n"
                                  "header_timeout = 120s")
        with harness.Server(text) as srv:
            first = srv.serving_pid()
            base = harness.proc_fd_count(first)
            slow = []
            try:
                for _ in range(10):  # heads never finished: the worker keeps them
                    s = srv.connect()
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                    slow.append(s)
                self.assertGreaterEqual(harness.settle(lambda: harness.proc_fd_count(first),
                                                       lambda n: n >= base + 10), base + 10)
                # two reloads while the first worker drains, the second
                # worker holding a connection too: three workers alive,
                # more than the master's two counters
                for gen in (2, 3):
                    m = srv.reload(text, r"generation %d serving|reload failed" % gen)
                    self.assertEqual(m.group(0), "generation %d serving" % gen, srv.log()[-2000:])
                    if gen == 2:
                        kids = harness.settle(lambda: harness.proc_children(srv.proc.pid), lambda k: len(k) == 2)
                        second = [k for k in kids if k != first][0]
                        fds = harness.proc_fd_count(second)
                        s = srv.connect()
                        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                        slow.append(s)
                        harness.settle(lambda: harness.proc_fd_count(second), lambda n: n > fds)
                self.assertEqual(len(harness.proc_children(srv.proc.pid)), 3)
                os.kill(first, signal.SIGKILL)
                harness.settle(lambda: harness.alive(first), lambda a: not a)
                self.assertFalse(harness.alive(first))
                for i in range(12):  # beyond the 10 the dead one held
                    self.assertEqual(srv.get("/after/%d" % i).status, 200)
            finally:
                for s in slow:
                    s.close()


class DrainLimits(unittest.TestCase):
    """A draining worker gives a request on its way one second, not its
    own timeout: a client sending its head slowly cannot keep an old
    worker, and its generation, alive for header_timeout at each reload."""

    def test_unfinished_head_is_cut_by_the_drain_not_header_timeout(self):
        text = harness.server_ini("[route /]\nplugin = echo\n", server_extra="header_timeout = 97s")
        with harness.Server(text) as srv:
            old = srv.serving_pid()
            s = srv.connect()
            try:
                s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
                m = srv.reload(text, r"generation 2 serving|reload failed")
                self.assertEqual(m.group(0), "generation 2 serving", srv.log()[-2000:])
                t0 = time.monotonic()
                resp = harness.read_responses(s, 1)
                waited = time.monotonic() - t0
            finally:
                s.close()
            self.assertEqual(resp[0].status, 408)
            self.assertEqual(resp[0].header("Connection"), "close")
            self.assertLess(waited, 30, "cut by header_timeout (97 s), not by the drain")
            self.assertIsNotNone(srv.wait_log(r"%d: .*shutting down: request head still incomplete; answering 408"
                                              % old), srv.log()[-2000:])
            harness.settle(lambda: harness.alive(old), lambda a: not a)
            self.assertFalse(harness.alive(old), "the old worker left once its connection was answered")

if __name__ == "__main__":
    harness.main()
