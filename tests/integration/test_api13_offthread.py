#!/usr/bin/env python3
"""Plugin calls made off the request's loop thread (a blocking handler on
the helper pool; the same holds for a plugin's answering thread after
PH_PENDING).

A request that outlives its connection (the client left while a plugin
held it): what the plugin read from it before stays valid. peer() and
local() are the request's own strings from the start, so a handler on the
helper pool (or a plugin thread between PH_PENDING and resume()) that took
them keeps reading the same bytes after the connection is freed and its
memory reused by the next one."""
import re
import socket
import unittest

from api13 import route
from harness import Server, fixture_routes, parse_responses, server_ini, wait_log_from, log_count


class PeerAfterDetach(unittest.TestCase):
    def test_peer_taken_before_the_client_left(self):
        ini = server_ini(routes=fixture_routes(slow=True), server_extra="log_level = debug\n")
        with Server(ini) as srv:
            a = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            a_peer = "127.0.0.1:%d" % a.getsockname()[1]
            start = log_count(srv)
            a.sendall(b"GET /slow/peerlate?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n")
            m, _ = wait_log_from(srv, r"misbehave: peer taken: " + re.escape(a_peer), start)
            self.assertIsNotNone(m, "the handler never started")
            a.close()
            m, _ = wait_log_from(srv, re.escape(a_peer) + r": the client went away while its request waited", start)
            self.assertIsNotNone(m, "the server did not see the client leave")
            # the next connections take the freed connection's memory
            bs = []
            for _ in range(8):
                b = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                b.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b"200 OK", b.recv(4096))
                bs.append(b)
            m, _ = wait_log_from(srv, r"misbehave: peer after sleep: (\S*) local (\S*)", start)
            self.assertIsNotNone(m, "the handler never finished")
            self.assertEqual(m.group(1), a_peer)
            self.assertEqual(m.group(2), "127.0.0.1:%d" % srv.port)
            for b in bs:
                b.close()


class EarlyHintsOffLoop(unittest.TestCase):
    """early_hints() is loop-thread only: it writes to the connection,
    which the loop thread owns. From a blocking handler it is refused (the
    probe fixture then fails its request: 500), and no 103 goes out."""

    def test_refused_from_a_blocking_handler(self):
        ini = server_ini(routes=route("/p", "probe", blocking="yes") + route("/q", "probe"))
        with Server(ini) as srv:
            start = log_count(srv)
            data = srv.raw(b"GET /p/info?hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertEqual([r.status for r in parse_responses(data)], [500], data[:300])
            m, _ = wait_log_from(srv, r"plugin: early_hints called off its loop's thread: refused", start)
            self.assertIsNotNone(m)
            # on the loop thread it is sent
            data = srv.raw(b"GET /q/info?hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertEqual([r.status for r in parse_responses(data)], [103, 200], data[:300])


class BodyFlowOffLoop(unittest.TestCase):
    """body_pause()/body_resume() are loop-thread only (they change what
    the connection reads). The sink fixture with direct = yes calls
    body_resume() from its own thread: refused, so the body stays paused
    until handler_timeout answers 504."""

    def test_resume_from_a_plugin_thread_is_refused(self):
        ini = server_ini(routes=route("/d", "sink", pause_every="1k", pause_for="20ms", direct="yes"),
                         server_extra="handler_timeout = 700ms\n")
        with Server(ini) as srv:
            start = log_count(srv)
            data = srv.raw(b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"s" * 5000)
            self.assertEqual([r.status for r in parse_responses(data)], [504], data[:300])
            m, _ = wait_log_from(srv, r"plugin: body_resume called off its loop's thread: refused", start)
            self.assertIsNotNone(m)


if __name__ == "__main__":
    unittest.main()
