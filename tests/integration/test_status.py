#!/usr/bin/env python3
"""The status plugin: exact counters after known traffic, the latency
histogram's shape, label escaping of hostile route prefixes, many routes,
generations across a reload, the blocking pool, TLS handshakes, worker
processes, `promtool check metrics` on the real output, a real Prometheus
server scraping it (queried through its HTTP API), and the HTML page in
headless Chromium.

Missing prometheus, promtool, Chromium, chromedriver or Selenium is a
failure, not a skip: CI installs them (Debian: prometheus, chromium,
chromium-driver, python3-selenium)."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

import harness
from harness import MISBEHAVE, Server, server_ini, settle

WAIT = 20.0


def need(name):
    path = shutil.which(name)
    if path is None:
        raise RuntimeError("%s not found: install Debian's prometheus package (it has promtool too)" % name)
    return path


# --- a reader of the text format, independent of the plugin's writer -------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\":
            out.append({"\\": "\\", '"': '"', "n": "\n"}[v[i + 1]])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}};
    checks the format's rules on the way: HELP and TYPE once and before
    the family's samples, each family in one block, no repeated series."""
    fams, seen, current = {}, set(), None
    for line in text.split("\n"):
        if line == "":
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = line.split(" ", 3)
            f = fams.setdefault(name, {"samples": []})
            assert kind.lower() not in f, "second %s for %s" % (kind, name)
            assert not f["samples"], "%s after samples of %s" % (kind, name)
            f[kind.lower()] = rest
            current = name
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, raw, value = m.groups()
        labels = {}
        pos = 0
        while raw and pos < len(raw):
            lm = LABEL.match(raw, pos)
            assert lm, "bad labels in %r" % line
            labels[lm.group(1)] = unescape(lm.group(2))
            pos = lm.end()
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in fams and fams[name[:-len(suffix)]].get("type") == "histogram":
                fam = name[:-len(suffix)]
        assert fam == current, "sample %s outside its family's block" % name
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, "repeated series %r" % (key,)
        seen.add(key)
        float(value)
        fams[fam]["samples"].append((name, labels, value))
    for name, f in fams.items():
        assert "type" in f and "help" in f, name
        if f["type"] == "counter":
            assert name.endswith("_total"), name
    return fams


def value(fams, name, **labels):
    """The one sample of name whose labels include labels, as a number."""
    fam = fams[re.sub(r"_(bucket|sum|count)$", "", name)] if name not in fams else fams[name]
    # a label left out is the empty one, as Prometheus reads it
    hits = [v for n, l, v in fam["samples"] if n == name and all(l.get(k, "") == str(w) for k, w in labels.items())]
    assert len(hits) == 1, "%s %r: %d samples" % (name, labels, len(hits))
    return float(hits[0])


def histogram(fams, name, **labels):
    """[(le, count)] in the order given, then _sum and _count."""
    buckets = [(l["le"], float(v)) for n, l, v in fams[name]["samples"]
               if n == name + "_bucket" and all(l.get(k) == str(w) for k, w in labels.items())]
    return buckets, value(fams, name + "_sum", **labels), value(fams, name + "_count", **labels)


def routes(extra=""):
    return ("[route /status]\nplugin = status\n\n"
            "[route /ok]\nplugin = return\nstatus = 200\nbody = fine\n\n"
            "[route /gone]\nplugin = return\nstatus = 404\n\n"
            "[route /echo]\nplugin = echo\n\n" + extra)


def scrape(srv, path="/status/metrics"):
    r = srv.get(path)
    assert r.status == 200, r
    return r


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(server_ini(routes(), threads=2))
        self.addCleanup(self.srv.stop)

    def test_exact_counts_after_known_traffic(self):
        for _ in range(3):
            self.assertEqual(self.srv.get("/ok").status, 200)
        for _ in range(2):
            self.assertEqual(self.srv.get("/gone").status, 404)
        self.assertEqual(self.srv.get("/echo", method="POST", body=b"x" * 1234).status, 200)
        r = scrape(self.srv)
        self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        fams = parse(r.body.decode())
        want = {"/ok": {"2xx": 3}, "/gone": {"4xx": 2}, "/echo": {"2xx": 1}, "/status": {}}
        for route, classes in want.items():
            for c in ("none", "1xx", "2xx", "3xx", "4xx", "5xx"):
                self.assertEqual(value(fams, "plughttpd_route_requests_total", route=route, generation=1, **{"class": c}),
                                 classes.get(c, 0), (route, c))
        self.assertEqual(value(fams, "plughttpd_route_response_bytes_total", route="/ok", generation=1), 3 * len("fine\n"))
        self.assertEqual(value(fams, "plughttpd_route_request_bytes_total", route="/echo", generation=1), 1234)
        self.assertEqual(value(fams, "plughttpd_route_request_bytes_total", route="/ok", generation=1), 0)
        # the scrape itself is the one request in flight
        self.assertEqual(value(fams, "plughttpd_route_requests_in_flight", route="/status", generation=1), 1)
        self.assertEqual(value(fams, "plughttpd_route_requests_in_flight", route="/ok", generation=1), 0)
        self.assertEqual(value(fams, "plughttpd_requests_in_flight"), 1)
        self.assertEqual(value(fams, "plughttpd_generation_requests_in_flight", generation=1), 1)
        # the scrape's own connection, and the earlier ones unless their
        # lingering close has not ended yet
        self.assertGreaterEqual(value(fams, "plughttpd_connections_open"), 1)
        self.assertEqual(value(fams, "plughttpd_connections_accepted_total"), 7)
        self.assertEqual(value(fams, "plughttpd_worker_threads"), 2)
        self.assertEqual(value(fams, "plughttpd_process_index"), 0)
        self.assertEqual(value(fams, "plughttpd_generation_current"), 1)
        self.assertEqual(value(fams, "plughttpd_generations_alive"), 1)
        self.assertEqual(value(fams, "plughttpd_reloads_total"), 0)
        self.assertEqual(value(fams, "plughttpd_build_info", abi=harness.header_abi()), 1)
        files = {l["file"] for n, l, v in fams["plughttpd_generation_plugin_info"]["samples"]}
        self.assertEqual({os.path.basename(f) for f in files}, {"status.so", "return.so", "echo.so"})
        self.assertEqual(value(fams, "plughttpd_tls_handshakes_total", result="ok"), 0)
        self.assertEqual(value(fams, "plughttpd_blocking_queue_depth"), 0)
        self.assertEqual(settle(lambda: value(parse(scrape(self.srv).body.decode()), "plughttpd_connections_open"),
                                lambda v: v == 1, WAIT), 1)

    def test_histogram_shape(self):
        for _ in range(3):
            self.srv.get("/ok")
        self.srv.get("/ok/sleep")  # same route, still fast
        fams = parse(scrape(self.srv).body.decode())
        self.assertEqual(fams["plughttpd_route_request_duration_seconds"]["type"], "histogram")
        buckets, total, count = histogram(fams, "plughttpd_route_request_duration_seconds", route="/ok", generation=1)
        self.assertEqual(count, 4)
        self.assertEqual(buckets[-1], ("+Inf", 4))
        les = [float(le) for le, _ in buckets]
        self.assertEqual(les, sorted(les))
        self.assertEqual(les[0], 0.0001)
        self.assertEqual(les[-2], 10)
        counts = [c for _, c in buckets]
        self.assertEqual(counts, sorted(counts), "buckets are cumulative")
        self.assertGreater(total, 0)
        self.assertLess(total, 4 * 10)
        # a request that takes 300 ms lands between the 0.25 and 0.5 bounds
        srv = Server(server_ini(routes("[route /mb]\nplugin = %s\n" % MISBEHAVE)))
        self.addCleanup(srv.stop)
        self.assertEqual(srv.get("/mb/sleep?ms=300").status, 200)
        fams = parse(scrape(srv).body.decode())
        buckets, total, count = histogram(fams, "plughttpd_route_request_duration_seconds", route="/mb", generation=1)
        b = dict(buckets)
        self.assertEqual((b["0.25"], b["0.5"], b["+Inf"], count), (0, 1, 1, 1))
        self.assertGreaterEqual(total, 0.3)
        self.assertLess(total, 0.5)

    def test_promtool_is_clean(self):
        promtool = need("promtool")
        for _ in range(2):
            self.srv.get("/ok")
        body = scrape(self.srv).body
        p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""))

    def test_loop_lag_is_measured(self):
        def checks():
            fams = parse(scrape(self.srv).body.decode())
            return [value(fams, "plughttpd_worker_loop_lag_checks_total", worker=w) for w in (0, 1)]
        # every loop's probe fires twice a second
        self.assertTrue(all(c >= 2 for c in settle(checks, lambda c: all(x >= 2 for x in c), WAIT)))
        fams = parse(scrape(self.srv).body.decode())
        for w in (0, 1):
            lag = value(fams, "plughttpd_worker_loop_lag_max_seconds", worker=w)
            self.assertLess(lag, 5 if harness.SANITIZED else 1, "an idle loop is not late")

    def test_paths_and_methods(self):
        r = self.srv.get("/status")
        self.assertEqual((r.status, r.header("Location")), (301, "/status/"))
        r = self.srv.get("/status/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertIn("script-src 'self'", r.header("Content-Security-Policy"))
        self.assertIn(b'<canvas id="chart"', r.body)
        self.assertNotIn(b"http://", r.body)  # nothing from elsewhere
        self.assertNotIn(b"https://", r.body)
        r = self.srv.get("/status/status.js")
        self.assertEqual((r.status, r.header("Content-Type")), (200, "text/javascript; charset=utf-8"))
        self.assertNotIn(b"innerHTML", r.body)
        r = self.srv.get("/status/json")
        self.assertEqual(r.header("Content-Type"), "application/json")
        d = json.loads(r.body)
        self.assertEqual([x["route"] for x in d["routes"]], ["/status", "/ok", "/gone", "/echo"])
        self.assertEqual(self.srv.get("/status/nope").status, 404)
        r = self.srv.get("/status/metrics", method="POST", body=b"")
        self.assertEqual((r.status, r.header("Allow")), (405, "GET, HEAD"))
        r = self.srv.get("/status/metrics", method="HEAD")
        self.assertEqual((r.status, r.body), (200, b""))

    def test_refuses_keys(self):
        srv = Server(server_ini("[route /s]\nplugin = status\nfoo = 1\n"), expect_ready=False)
        # the server ends by itself (a SIGTERM during a sanitizer's slow
        # exit would be taken for the test's own stop)
        try:
            srv.proc.wait(timeout=15)
        finally:
            rc = srv.stop()
        self.assertNotEqual(rc, 0, srv.log())
        self.assertRegex(srv.log(), r"server\.ini:\d+: \[route /s\] plugin status refused its configuration: "
                                    r"status takes no keys")


class BehindAccessTest(unittest.TestCase):
    """The documented set-up: an access stage in front of the route."""

    def test_access_stage_decides(self):
        text = ("[route /status]\nplugin = access, status\naccess.allow = 10.9.9.9\naccess.deny = all\n\n"
                "[route /local]\nplugin = access, status\naccess.allow = 127.0.0.1, ::1\naccess.deny = all\n")
        srv = Server(server_ini(text))
        self.addCleanup(srv.stop)
        self.assertEqual(srv.get("/status/metrics").status, 403)
        self.assertEqual(srv.get("/status/").status, 403)
        r = srv.get("/local/metrics")
        self.assertEqual(r.status, 200)
        fams = parse(r.body.decode())
        self.assertEqual(value(fams, "plughttpd_route_requests_total", route="/status", generation=1,
                               **{"class": "4xx"}), 2)


class HostileRoutesTest(unittest.TestCase):
    """Prefixes with quotes, backslashes, non-UTF-8 bytes; many routes."""

    PREFIXES = ['/q"uote', '/back\\slash', '/both\\"end', '/br{ace}=,x"', '/a\\n']

    def test_labels_round_trip_and_promtool(self):
        text = routes("".join("[route %s]\nplugin = echo\n\n" % p for p in self.PREFIXES)
                      + "".join("[route /r%03d]\nplugin = return\nstatus = 204\n\n" % i for i in range(300)))
        srv = Server(server_ini(text), files=None)
        self.addCleanup(srv.stop)
        for i in range(0, 300, 7):
            self.assertEqual(srv.get("/r%03d" % i).status, 204)
        self.assertEqual(srv.get(urllib.parse.quote('/q"uote')).status, 200)
        body = scrape(srv).body
        fams = parse(body.decode("utf-8"))  # valid UTF-8 throughout
        got = {l["route"] for n, l, v in fams["plughttpd_route_requests_in_flight"]["samples"]}
        for p in self.PREFIXES:
            self.assertIn(p, got)
        self.assertEqual(value(fams, "plughttpd_route_requests_total", route='/q"uote', generation=1,
                               **{"class": "2xx"}), 1)
        for i in range(300):
            self.assertEqual(value(fams, "plughttpd_route_requests_total", route="/r%03d" % i, generation=1,
                                   **{"class": "2xx"}), 1 if i % 7 == 0 else 0)
        p = subprocess.run([need("promtool"), "check", "metrics"], input=body, capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        d = json.loads(srv.get("/status/json").body.decode("utf-8", "replace"))
        self.assertIn('/both\\"end', [x["route"] for x in d["routes"]])


class VirtualHostsTest(unittest.TestCase):
    """A [route HOST/prefix] route's series carry its host; the default
    host's keep the labels they had."""

    def test_same_prefix_on_two_hosts(self):
        text = routes("[route a.example/api]\nplugin = return\nstatus = 200\n\n"
                      "[route b.example/api]\nplugin = return\nstatus = 204\n\n"
                      "[route /api]\nplugin = return\nstatus = 202\n\n")
        srv = Server(server_ini(text), files=None)
        self.addCleanup(srv.stop)
        self.assertEqual(srv.get("/api", headers={"Host": "b.example"}).status, 204)
        self.assertEqual(srv.get("/api", headers={"Host": "b.example"}).status, 204)
        self.assertEqual(srv.get("/api", headers={"Host": "a.example"}).status, 200)
        body = scrape(srv).body
        fams = parse(body.decode("utf-8"))  # asserts no repeated series
        for host, n in (("a.example", 1), ("b.example", 2), ("", 0)):
            self.assertEqual(value(fams, "plughttpd_route_request_duration_seconds_count", route="/api", host=host,
                                   generation=1), n)
        p = subprocess.run([need("promtool"), "check", "metrics"], input=body, capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        d = json.loads(srv.get("/status/json").body)
        self.assertEqual({x["host"]: x["requests"] for x in d["routes"] if x["route"] == "/api"},
                         {"a.example": 1, "b.example": 2, "": 0})

    def raw_get(self, srv, host, path):
        data = srv.raw(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host))
        head, _, body = data.partition(b"\r\n\r\n")
        return head.split(b"\r\n")[0], body

    def test_host_label_and_field(self):
        text = routes("[route Example.COM/]\nplugin = return\nstatus = 200\nbody = $host\n\n"
                      "[route *.example.org/w]\nplugin = return\nstatus = 204\n\n")
        srv = Server(server_ini(text), files=None)
        self.addCleanup(srv.stop)
        self.assertEqual(self.raw_get(srv, b"Example.COM.:8080", b"/x"), (b"HTTP/1.1 200 OK", b"example.com\n"))
        self.assertEqual(self.raw_get(srv, b"a.EXAMPLE.org", b"/w")[0], b"HTTP/1.1 204 No Content")
        self.assertEqual(srv.get("/ok").status, 200)
        body = scrape(srv).body
        fams = parse(body.decode("utf-8"))
        self.assertEqual(value(fams, "plughttpd_route_requests_total", route="/", host="example.com", generation=1,
                               **{"class": "2xx"}), 1)
        self.assertEqual(value(fams, "plughttpd_route_requests_total", route="/w", host="*.example.org",
                               generation=1, **{"class": "2xx"}), 1)
        self.assertEqual(histogram(fams, "plughttpd_route_request_duration_seconds", route="/w",
                                   host="*.example.org")[2], 1)
        for n, l, v in fams["plughttpd_route_requests_in_flight"]["samples"]:
            self.assertEqual("host" in l, l["route"] in ("/", "/w"), l)
        p = subprocess.run([need("promtool"), "check", "metrics"], input=body, capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        d = json.loads(srv.get("/status/json").body)
        hosts = {x["route"]: x["host"] for x in d["routes"]}
        self.assertEqual((hosts["/"], hosts["/w"], hosts["/ok"]), ("example.com", "*.example.org", ""))


class GenerationsTest(unittest.TestCase):
    def test_reload_while_a_request_runs_and_scrapes_go_on(self):
        mb = "[route /mb]\nplugin = %s\n" % MISBEHAVE
        srv = Server(server_ini(routes(mb), threads=2, server_extra="processes = 0"))
        self.addCleanup(srv.stop)
        # a request on generation 1 that lasts across the reload: its body
        # comes only when the test sends the rest (a sleeping handler could
        # end before a slow reload does)
        held = socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT)
        self.addCleanup(held.close)
        held.sendall(b"POST /mb/sleep?ms=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        settle(lambda: parse(scrape(srv).body.decode()),
               lambda f: value(f, "plughttpd_route_requests_in_flight", route="/mb", generation=1) == 1, WAIT)
        # scrapes go on from another thread all through the reloads
        errors, stop = [], threading.Event()

        def scraper():
            while not stop.is_set():
                try:
                    parse(scrape(srv).body.decode())
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)
                    return
        t = threading.Thread(target=scraper)
        t.start()
        try:
            m = srv.reload(server_ini(routes(mb + "\n[route /new]\nplugin = echo\n"), threads=2),
                           r"reload: generation \d+ serving|reload failed")
            self.assertRegex(m.group(0), "generation 2 serving")
            fams = settle(lambda: parse(scrape(srv).body.decode()),
                          lambda f: value(f, "plughttpd_generation_current") == 2, WAIT)
            self.assertEqual(value(fams, "plughttpd_reloads_total"), 1)
            self.assertEqual(value(fams, "plughttpd_generations_alive"), 2)
            self.assertEqual(value(fams, "plughttpd_generation_requests_in_flight", generation=1), 1)
            self.assertEqual(value(fams, "plughttpd_route_requests_in_flight", route="/mb", generation=1), 1)
            gens = {l["generation"] for n, l, v in fams["plughttpd_generation_plugin_info"]["samples"]}
            self.assertEqual(gens, {"1", "2"})
            self.assertEqual(value(fams, "plughttpd_route_requests_total", route="/new", generation=2,
                                   **{"class": "2xx"}), 0)
            # a failed reload keeps generation 2 and is counted
            start = harness.log_count(srv)
            with open(srv.ini, "w") as f:
                f.write(server_ini("[route /x]\nplugin = no-such-plugin\n"))
            srv.signal(harness.signal.SIGHUP)
            m, _ = harness.wait_log_from(srv, r"reload: generation \d+ serving|reload failed", start)
            self.assertRegex(m.group(0), "reload failed")
            fams = settle(lambda: parse(scrape(srv).body.decode()),
                          lambda f: value(f, "plughttpd_reloads_failed_total") == 1, WAIT)
            self.assertEqual(value(fams, "plughttpd_generation_current"), 2)
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        held.sendall(b"cd")
        self.assertTrue(held.recv(4096).startswith(b"HTTP/1.1 200 "))
        # generation 1 drains once its request ended
        fams = settle(lambda: parse(scrape(srv).body.decode()),
                      lambda f: value(f, "plughttpd_generations_alive") == 1, WAIT)
        self.assertEqual(value(fams, "plughttpd_generations_alive"), 1)
        self.assertNotIn("1", {l["generation"] for n, l, v in
                               fams["plughttpd_route_requests_total"]["samples"]})


class BlockingTest(unittest.TestCase):
    def test_queue_rejections_and_timeouts(self):
        text = routes("[route /slow]\nplugin = %s\nblocking = yes\n" % MISBEHAVE)
        srv = Server(server_ini(text, server_extra="blocking_threads = 1\nblocking_queue = 1\n"
                                "handler_timeout = 700ms\n"))
        self.addCleanup(srv.stop)
        results = []
        threads = [threading.Thread(target=lambda: results.append(srv.get("/slow/sleep?ms=1500", timeout=WAIT).status))]
        threads[0].start()
        # one runs; wait until it does, then one more waits in the queue
        settle(lambda: parse(scrape(srv).body.decode()),
               lambda f: value(f, "plughttpd_route_requests_in_flight", route="/slow", generation=1) == 1, WAIT)
        threads.append(threading.Thread(target=lambda: results.append(srv.get("/slow/sleep?ms=10", timeout=WAIT).status)))
        threads[1].start()
        fams = settle(lambda: parse(scrape(srv).body.decode()),
                      lambda f: value(f, "plughttpd_blocking_queue_depth") == 1, WAIT)
        self.assertEqual(value(fams, "plughttpd_blocking_queue_depth"), 1)
        # the queue is full: the third is refused at once
        self.assertEqual(srv.get("/slow/sleep?ms=10").status, 503)
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [504, 504])
        fams = settle(lambda: parse(scrape(srv).body.decode()),
                      lambda f: value(f, "plughttpd_blocking_queue_depth") == 0, WAIT)
        self.assertEqual(value(fams, "plughttpd_blocking_rejected_total"), 1)
        self.assertEqual(value(fams, "plughttpd_blocking_timeouts_total"), 2)


class TlsTest(unittest.TestCase):
    def test_handshakes_by_result(self):
        from tlsutil import client_context, make_cert
        folder = tempfile.mkdtemp(prefix="phstatus-tls-")
        self.addCleanup(shutil.rmtree, folder, True)
        cert, key = make_cert(folder, "main")
        text = server_ini(routes(), listen=("127.0.0.1:0 tls",))
        text += "[tls]\ncertificate = %s\nkey = %s\n" % (cert, key)
        srv = Server(text)
        self.addCleanup(srv.stop)
        ctx = client_context(cert)

        def get(path):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as s:
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    t.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    return harness.parse_responses(harness.recv_all(t))[0]
        for _ in range(2):
            self.assertEqual(get(b"/ok").status, 200)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as s:
            # a client hello that is not one
            s.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64)
            harness.recv_all(s, 5)
        scrapes = []

        def read():
            scrapes.append(1)  # each scrape is a handshake of its own
            return parse(get(b"/status/metrics").body.decode())
        fams = settle(read, lambda f: value(f, "plughttpd_tls_handshakes_total", result="failed") == 1, WAIT)
        self.assertEqual(value(fams, "plughttpd_tls_handshakes_total", result="ok"), 2 + len(scrapes))
        self.assertEqual(value(fams, "plughttpd_tls_handshakes_total", result="failed"), 1)


class ProcessesTest(unittest.TestCase):
    """With processes = 2 each process answers with its own numbers."""

    def test_each_process_its_own(self):
        srv = Server(server_ini(routes(), server_extra="processes = 2\n"))
        self.addCleanup(srv.stop)
        seen = {}
        req = b"GET /status/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

        def burst():
            # connections open at once spread over both processes (one at
            # a time, one process may win them all)
            socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) for _ in range(20)]
            try:
                for s in socks:
                    s.sendall(req)
                for s in socks:
                    fams = parse(harness.parse_responses(harness.recv_all(s))[0].body.decode())
                    seen[int(value(fams, "plughttpd_process_index"))] = fams
            finally:
                for s in socks:
                    s.close()
            return seen
        settle(burst, lambda s: len(s) == 2, WAIT)
        self.assertEqual(sorted(seen), [0, 1])
        for fams in seen.values():
            self.assertEqual(value(fams, "plughttpd_worker_threads"), 1)
            self.assertEqual(value(fams, "plughttpd_generation_current"), 1)


class PrometheusTest(unittest.TestCase):
    """A real Prometheus scrapes the route and answers queries."""

    def setUp(self):
        self.prom_bin = need("prometheus")
        self.srv = Server(server_ini(routes(), threads=2))
        self.addCleanup(self.srv.stop)
        self.dir = tempfile.mkdtemp(prefix="phprom-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        with socket.socket() as s:  # a free port for Prometheus's own listener
            s.bind(("127.0.0.1", 0))
            self.prom_port = s.getsockname()[1]
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: plughttpd\n    metrics_path: /status/metrics\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % self.srv.port)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.addCleanup(self.log.close)
        self.prom = subprocess.Popen(
            [self.prom_bin, "--web.listen-address=127.0.0.1:%d" % self.prom_port,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--config.file=" + os.path.join(self.dir, "prometheus.yml")],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.addCleanup(self.kill_prometheus)

    def kill_prometheus(self):
        if self.prom.poll() is None:
            self.prom.terminate()
            try:
                self.prom.wait(20)
            except subprocess.TimeoutExpired:
                self.prom.kill()
                self.prom.wait()

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s" % (self.prom_port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        try:
            with opener.open(url, timeout=5) as r:
                return json.load(r)
        except OSError:
            return None

    def prom_log(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def wait(self, fn, what):
        deadline = time.time() + 60
        while time.time() < deadline:
            self.assertIsNone(self.prom.poll(), "prometheus exited:\n" + self.prom_log())
            v = fn()
            if v is not None:
                return v
            time.sleep(0.2)
        self.fail("%s: not within 60 s\n%s" % (what, self.prom_log()))

    def target_up(self):
        d = self.api("targets")
        if not d:
            return None
        ups = [t for t in d["data"]["activeTargets"] if t["health"] == "up"]
        return ups or None

    def query(self, q):
        d = self.api("query", query=q)
        if not d or d["status"] != "success" or not d["data"]["result"]:
            return None
        return d["data"]["result"]

    def test_prometheus_scrapes_and_answers(self):
        targets = self.wait(self.target_up, "target up")
        self.assertEqual(targets[0]["scrapeUrl"], "http://127.0.0.1:%d/status/metrics" % self.srv.port)
        self.assertEqual(targets[0]["lastError"], "")
        for _ in range(5):
            self.assertEqual(self.srv.get("/ok").status, 200)
        for _ in range(3):
            self.assertEqual(self.srv.get("/gone").status, 404)
        q = 'plughttpd_route_requests_total{route="/ok",class="2xx"}'
        got = self.wait(lambda: (lambda r: r if r and r[0]["value"][1] == "5" else None)(self.query(q)), q)
        self.assertEqual(got[0]["metric"]["generation"], "1")
        q = 'sum(plughttpd_route_requests_total{route="/gone"})'
        self.wait(lambda: (lambda r: r if r and r[0]["value"][1] == "3" else None)(self.query(q)), q)
        q = 'plughttpd_route_request_duration_seconds_count{route="/ok"}'
        self.wait(lambda: (lambda r: r if r and r[0]["value"][1] == "5" else None)(self.query(q)), q)
        # the histogram is one Prometheus understands
        q = 'histogram_quantile(0.5, rate(plughttpd_route_request_duration_seconds_bucket{route="/ok"}[1m]))'
        self.assertIsNotNone(self.api("query", query=q))


class BrowserTest(unittest.TestCase):
    """The HTML page in headless Chromium: the chart draws, the numbers match."""

    def setUp(self):
        try:
            from selenium import webdriver
        except ImportError:
            sys.path.append("/usr/lib/python3/dist-packages")
            from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        self.srv = Server(server_ini(routes(), threads=2))
        self.addCleanup(self.srv.stop)
        self.profile = tempfile.mkdtemp(prefix="phchrome-")
        self.addCleanup(shutil.rmtree, self.profile, True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
        for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--user-data-dir=" + self.profile]:
            opts.add_argument(flag)
        driver_bin = shutil.which("chromedriver")
        if driver_bin is None:
            raise RuntimeError("chromedriver not found: install Debian's chromium-driver")
        self.driver = webdriver.Chrome(service=Service(executable_path=driver_bin), options=opts)
        self.addCleanup(self.driver.quit)
        self.driver.set_page_load_timeout(WAIT)

    def js(self, code):
        return self.driver.execute_script(code)

    def until(self, code, what):
        deadline = time.time() + WAIT
        while time.time() < deadline:
            v = self.js(code)
            if v:
                return v
            time.sleep(0.05)
        self.fail("%s: not within %s s (console: %s)" % (what, WAIT, self.driver.get_log("browser")))

    def test_chart_draws_and_numbers_match(self):
        from selenium.webdriver.common.by import By
        d = self.driver
        d.get(self.srv.url("/status/?interval=200"))
        self.until("return window.phStatus && window.phStatus.last", "first poll")
        for _ in range(7):
            self.assertEqual(self.srv.get("/ok").status, 200)
        for _ in range(2):
            self.srv.get("/gone")
        # the chart has points, and at least one of them shows the burst
        self.until("return window.phStatus.points.length >= 3", "points")
        self.until("return window.phStatus.points.some(function (p) { return p > 0; })", "a rate above 0")
        self.assertGreaterEqual(int(d.find_element(By.ID, "chart").get_attribute("data-points")), 3)
        # pixels were drawn: the line's colour is on the canvas
        blue = self.js("var c = document.getElementById('chart').getContext('2d');"
                       "var p = c.getImageData(0, 0, 720, 220).data, n = 0;"
                       "for (var i = 0; i < p.length; i += 4) if (p[i] < 60 && p[i+2] > 150 && p[i+3] > 0) n++;"
                       "return n;")
        self.assertGreater(blue, 10)
        # the route table shows the exact counts
        row = "tr[data-route='%s'] td.%s"
        self.until("return document.querySelector(\"%s\") && document.querySelector(\"%s\").textContent === '7'"
                   % (row % ("/ok", "requests"), row % ("/ok", "requests")), "/ok row")
        # read in one script: each poll redraws the table, and may land
        # between two reads from here
        ok, gone, shown, last = self.js(
            "var q = function (r, c) { var e = document.querySelector(\"tr[data-route='\" + r + \"'] td.\" + c);"
            " return e && e.textContent; };"
            "return [q('/ok', 's2xx'), q('/gone', 's4xx'), document.getElementById('requests').textContent,"
            " window.phStatus.last];")
        self.assertEqual((ok, gone), ("7", "2"))
        # the totals match the JSON the page read last
        self.assertEqual(shown, str(last["requests"]))
        self.assertEqual(d.find_element(By.ID, "generation").text, "1")
        self.assertEqual(d.find_element(By.ID, "error").text, "")


if __name__ == "__main__":
    harness.main()
