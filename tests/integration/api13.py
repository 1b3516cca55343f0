"""Shared bits of the ABI 1.3 request-lifecycle tests (test_api13_*.py):
the fixture plugins' paths and small raw-socket helpers."""

import hashlib
import os
import socket
import threading
import time

import harness


def fixture(name):
    """Path of a fixture plugin built in tests/plugins/."""
    return os.path.join(harness.FIXTURE_DIR, name + ".so")


def route(prefix, plugin, **keys):
    """A [route] section; plugin is a fixture name, a built-in plugin name
    (echo, static, data) or a comma list of them for a stacked route."""
    names = []
    for p in plugin.split(","):
        p = p.strip()
        names.append(p if p in ("echo", "static", "data") else fixture(p))
    lines = ["[route %s]" % prefix, "plugin = %s" % ", ".join(names)]
    lines += ["%s = %s" % (k.replace("__", "."), v) for k, v in keys.items()]
    return "\n".join(lines) + "\n\n"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pattern_chunk(size=1 << 20):
    """A deterministic 1 MiB block (bytes i % 251) repeated for big bodies."""
    return bytes(i % 251 for i in range(size))


class Uploader:
    """Sends `total` bytes (the head first) on sock from a thread, as fast
    as the peer takes them, until done or the peer closes. self.sent counts
    body bytes the kernel accepted; self.error is why it stopped early."""

    def __init__(self, sock, head, total, block=None, timeout=30.0):
        self.sock = sock
        self.head = head
        self.total = total
        self.block = block or pattern_chunk(65536)
        self.timeout = timeout
        self.sent = 0
        self.error = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        deadline = time.time() + self.timeout
        try:
            self.sock.sendall(self.head)
            while self.sent < self.total and time.time() < deadline:
                n = min(len(self.block), self.total - self.sent)
                # send, not sendall: count what the kernel really took
                k = self.sock.send(self.block[:n] if n < len(self.block) else self.block)
                self.sent += k
        except OSError as e:
            self.error = e
        finally:
            self.done.set()

    def join(self, timeout=30.0):
        self.thread.join(timeout)
        return not self.thread.is_alive()
