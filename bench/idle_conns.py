#!/usr/bin/env python3
"""Scenario f: resident memory a server adds per idle keep-alive connection.

    idle_conns.py --port P --pid SERVER_PID [--conns 10000] [--hold 5]

Sums VmRSS over the server's process tree (SERVER_PID and its descendants)
once before connecting. Then it opens --conns connections, at most --window
of them in flight at a time, sends one keep-alive GET on each and reads the
whole response, so each connection has served a request and is now idle.
It holds all of them for --hold seconds and samples the tree's VmRSS twice a
second; the last sample is the steady state (a server may release buffers
of idle connections after a moment). Finally it checks how many connections
the server kept open.

Prints one JSON object on stdout. bytes_per_conn = (rss_last - rss_before)
/ connections that got a 200. Kernel socket memory is not in VmRSS.
Only loopback targets are accepted; every phase has a deadline.
"""
import argparse
import errno
import json
import os
import resource
import selectors
import socket
import sys
import time


def process_tree(root):
    """root and all its descendants, from the ppid field of /proc/*/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


class Probe:
    """One connection: connect, send the request, read one response."""

    def __init__(self, addr, request):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.request = request
        self.sent = 0
        self.buf = b""
        self.need = None  # total bytes of the response once headers are in
        self.status = 0
        rc = self.sock.connect_ex(addr)
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, os.strerror(rc))

    def on_writable(self):
        self.sent += self.sock.send(self.request[self.sent:])
        return self.sent == len(self.request)

    def on_readable(self):
        """True once the full response is in; raises on a closed socket."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk
        if self.need is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = self.buf[:end].split(b"\r\n")
            self.status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            self.need = end + 4 + length
        return len(self.buf) >= self.need


def open_idle(addr, request, count, window, deadline):
    """Returns (idle sockets that got a 200, number of failures)."""
    sel = selectors.DefaultSelector()
    done, failed, started, active = [], 0, 0, 0
    while (started < count or active) and time.monotonic() < deadline:
        while started < count and active < window:
            started += 1
            try:
                p = Probe(addr, request)
            except OSError:
                failed += 1
                continue
            sel.register(p.sock, selectors.EVENT_WRITE, p)
            active += 1
        for key, _ in sel.select(timeout=0.5):
            p = key.data
            try:
                if key.events == selectors.EVENT_WRITE:
                    if p.on_writable():
                        sel.modify(p.sock, selectors.EVENT_READ, p)
                    continue
                if not p.on_readable():
                    continue
                sel.unregister(p.sock)
                active -= 1
                if p.status == 200:
                    done.append(p.sock)
                else:
                    failed += 1
                    p.sock.close()
            except (OSError, ValueError, IndexError, ConnectionError):
                sel.unregister(p.sock)
                active -= 1
                failed += 1
                p.sock.close()
    for key in list(sel.get_map().values()):  # deadline hit: abandon the rest
        key.fileobj.close()
        failed += 1
    sel.close()
    return done, failed


def still_open(sock):
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="server root process")
    ap.add_argument("--path", default="/index.html")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--window", type=int, default=256, help="connections in flight")
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--deadline", type=float, default=90.0, help="seconds to open all")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "localhost"):
        sys.exit("idle_conns.py: loopback only")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    rss_before = rss_kb(process_tree(a.pid))
    request = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
               f"Connection: keep-alive\r\n\r\n").encode()
    t0 = time.monotonic()
    socks, failed = open_idle((a.host, a.port), request, a.conns, a.window, t0 + a.deadline)
    open_secs = time.monotonic() - t0

    samples = []
    end = time.monotonic() + a.hold
    while True:
        samples.append(rss_kb(process_tree(a.pid)))
        if time.monotonic() >= end:
            break
        time.sleep(0.5)
    alive = sum(1 for s in socks if still_open(s))
    for s in socks:
        s.close()

    ok = len(socks)
    rss_last = samples[-1]
    print(json.dumps({
        "conns": a.conns, "ok": ok, "failed": failed, "alive": alive,
        "rss_before_kb": rss_before, "rss_last_kb": rss_last, "rss_max_kb": max(samples),
        "bytes_per_conn": round((rss_last - rss_before) * 1024 / ok) if ok else None,
        "open_secs": round(open_secs, 2), "pids": process_tree(a.pid),
    }))


if __name__ == "__main__":
    main()
