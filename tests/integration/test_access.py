#!/usr/bin/env python3
"""plugins/access end to end: the access, ratelimit and auth_basic stages
in front of echo (or the probe fixture, which shows the noted user),
reached over 127.0.0.1, ::1 (where configured) and a unix socket, with
rules that match one peer family and not the other."""
import base64
import concurrent.futures
import ctypes
import json
import os
import re
import signal
import socket
import time
import unittest

import harness
from api13 import fixture
from harness import Server, parse_responses, recv_until_closed, server_ini


V6 = harness.have_ipv6_loopback()


def route(prefix, plugins, *keys):
    return "[route %s]\nplugin = %s\n%s\n\n" % (prefix, plugins, "\n".join(keys))


def targets(srv):
    """{"v4": (AF_INET, addr), "v6": ..., "unix": ...} for srv's listeners."""
    out = {"unix": (socket.AF_UNIX, os.path.join(os.path.realpath(srv.dir), "ph.sock"))}
    for a in srv.addresses:
        m = re.match(r"^127\.0\.0\.1:(\d+)$", a)
        if m:
            out["v4"] = (socket.AF_INET, ("127.0.0.1", int(m.group(1))))
        m = re.match(r"^\[::1\]:(\d+)$", a)
        if m:
            out["v6"] = (socket.AF_INET6, ("::1", int(m.group(1))))
    return out


def fetch(target, path, headers=None):
    """One GET with Connection: close over target; the Response."""
    family, addr = target
    h = {"Host": "x", "Connection": "close"}
    h.update(headers or {})
    data = ("GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n").encode()
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(harness.IO_TIMEOUT)
        s.connect(addr)
        s.sendall(data)
        raw, _ = recv_until_closed(s)
    rs = parse_responses(raw)
    if not rs:
        raise AssertionError("no response from %r" % (addr,))
    return rs[0]


ACCESS_ROUTES = (
    route("/v4", "access, echo", "access.allow = 127.0.0.0/8", "access.deny = all") +
    route("/v6", "access, echo", "access.allow = ::1", "access.deny = all") +
    # first match wins: the narrower deny first refuses, after the wider allow it does not
    route("/denyfirst", "access, echo", "access.deny = 127.0.0.1/32", "access.allow = 127.0.0.0/8, ::1/128") +
    route("/allowfirst", "access, echo", "access.allow = 127.0.0.0/8, ::1/128", "access.deny = 127.0.0.1/32") +
    route("/unixonly", "access, echo", "access.allow = unix", "access.deny = all") +
    route("/nounix", "access, echo", "access.deny = unix") +
    route("/open", "echo"))


class AccessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        listen = ["127.0.0.1:0", "unix:ph.sock"] + (["[::1]:0"] if V6 else [])
        cls.srv = Server(server_ini(routes=ACCESS_ROUTES, listen=listen))
        cls.t = targets(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def expect(self, path, want):
        """want: {"v4": status, "v6": status, "unix": status}."""
        for peer, status in want.items():
            if peer == "v6" and not V6:
                continue
            r = fetch(self.t[peer], path)
            self.assertEqual(r.status, status, "%s over %s" % (path, peer))
            if status == 403:
                self.assertEqual(r.body, b"forbidden\n")
                self.assertTrue(r.header("Content-Type", "").startswith("text/plain"))
            else:
                self.assertIn(b"\nTarget: %s\n" % path.encode(), r.body)

    def test_by_family(self):
        self.expect("/v4/x", {"v4": 200, "v6": 403, "unix": 403})
        self.expect("/v6/x", {"v4": 403, "v6": 200, "unix": 403})
        self.expect("/open/x", {"v4": 200, "v6": 200, "unix": 200})

    def test_first_match_wins(self):
        self.expect("/denyfirst/x", {"v4": 403, "v6": 200})
        self.expect("/allowfirst/x", {"v4": 200, "v6": 200})

    def test_unix_peers(self):
        self.expect("/unixonly/x", {"v4": 403, "v6": 403, "unix": 200})
        # no rule matches a TCP peer: allowed, as nginx does
        self.expect("/nounix/x", {"v4": 200, "v6": 200, "unix": 403})

    def test_refused_before_body(self):
        """The refusal comes from on_head: a POST's body is not read, and
        the connection closes after the 403."""
        family, addr = self.t["v4"]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(harness.IO_TIMEOUT)
            s.connect(addr)
            s.sendall(b"POST /v6/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            raw, closed = recv_until_closed(s)
        self.assertTrue(closed)
        self.assertEqual(parse_responses(raw)[0].status, 403)

    def test_ipv6_configured(self):
        if not V6:
            self.skipTest("::1 is not configured here: the IPv6 cases were skipped")


class AccessConfigTest(unittest.TestCase):
    def refused(self, keys, pattern):
        ini = server_ini(routes=route("/a", "access, echo", *keys))
        srv = Server(ini, expect_ready=False)
        try:
            srv.proc.wait(timeout=15)
        finally:
            rc = srv.stop()
        self.assertNotEqual(rc, 0, srv.log())
        self.assertRegex(srv.log(), pattern)

    def test_bad_entry_names_the_line(self):
        # server.ini: [server] takes 5 lines, a blank one, then the route
        # header (7), plugin (8), the first key (9), the second (10)
        self.refused(["access.allow = 127.0.0.1", "access.deny = 10.0.0.0/33"],
                     r"server\.ini:10\b.*10\.0\.0\.0/33.*not an address")

    def test_unknown_key(self):
        self.refused(["access.permit = all"], r"unknown key \"permit\"")

    def test_no_rules(self):
        self.refused([], r"no allow or deny rule")


class RateLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        listen = ["127.0.0.1:0", "unix:ph.sock"]
        routes = (route("/minute", "ratelimit, echo", "ratelimit.rate = 1r/m", "ratelimit.burst = 3") +
                  route("/fast", "ratelimit, echo", "ratelimit.rate = 5r/s", "ratelimit.key = peer") +
                  route("/shared", "ratelimit, echo", "ratelimit.rate = 1r/m", "ratelimit.burst = 10"))
        cls.srv = Server(server_ini(routes=routes, listen=listen, threads=2))
        cls.t = targets(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assert_limited(self, r, retry_after):
        self.assertEqual(r.status, 429)
        self.assertEqual(r.body, b"too many requests\n")
        self.assertEqual(r.header("Retry-After"), retry_after)

    def test_burst_then_429_with_exact_retry_after(self):
        for i in range(3):
            self.assertEqual(fetch(self.t["v4"], "/minute/%d" % i).status, 200, i)
        # one token a minute: the next one is 60 s away, rounded up
        self.assert_limited(fetch(self.t["v4"], "/minute/x"), "60")
        self.assert_limited(fetch(self.t["v4"], "/minute/y"), "60")
        # another client (unix-socket peers share one bucket) has its own
        self.assertEqual(fetch(self.t["unix"], "/minute/u").status, 200)

    def test_refilled_after_waiting(self):
        self.assertEqual(fetch(self.t["v4"], "/fast/a").status, 200)
        r = fetch(self.t["v4"], "/fast/b")
        refused = time.monotonic()
        self.assert_limited(r, "1")
        # the bucket gains a token 200 ms after the first request: poll
        # until it is there (a refusal takes no token)
        deadline = refused + 5
        while time.monotonic() < deadline:
            r = fetch(self.t["v4"], "/fast/c")
            if r.status == 200:
                break
            self.assert_limited(r, "1")
            time.sleep(0.02)
        self.assertEqual(r.status, 200)
        self.assertLess(time.monotonic() - refused, 2)
        self.assert_limited(fetch(self.t["v4"], "/fast/d"), "1")

    def test_threads_share_the_table(self):
        """Twenty requests at once over parallel connections (two worker
        threads): exactly the burst passes."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
            statuses = list(ex.map(lambda i: fetch(self.t["v4"], "/shared/%d" % i).status, range(20)))
        self.assertEqual(sorted(statuses), [200] * 10 + [429] * 10)


class RateLimitProcessesTest(unittest.TestCase):
    """processes = 2: the buckets live in a shared zone, so a burst holds
    across worker processes; it survives a reload that keeps the bounds
    and starts full when the burst changes."""

    def test_burst_holds_across_processes_and_reloads(self):
        routes = route("/p", "ratelimit, status", "ratelimit.rate = 1r/m", "ratelimit.burst = 10")
        ini = server_ini(routes=routes, threads=1, server_extra="processes = 2")
        with Server(ini) as srv:
            target = targets(srv)["v4"]
            procs, statuses = set(), []
            with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
                for r in ex.map(lambda i: fetch(target, "/p/json"), range(40)):
                    statuses.append(r.status)
                    if r.status == 200:
                        procs.add(json.loads(r.body)["process_index"])
            self.assertEqual(sorted(statuses), [200] * 10 + [429] * 30)
            self.assertEqual(procs, {0, 1})  # both processes took tokens
            start = harness.log_count(srv)
            with open(srv.ini, "w") as f:
                f.write(ini + "\n; reloaded\n")
            srv.signal(signal.SIGHUP)
            self.assertIsNotNone(harness.wait_log_from(srv, r"reload: generation \d+ serving", start, 20)[0])
            time.sleep(0.3)  # the old workers drain
            self.assertEqual(fetch(target, "/p/json").status, 429)
            start = harness.log_count(srv)
            with open(srv.ini, "w") as f:
                f.write(ini.replace("ratelimit.burst = 10", "ratelimit.burst = 2"))
            srv.signal(signal.SIGHUP)
            self.assertIsNotNone(harness.wait_log_from(srv, r"reload: generation \d+ serving", start, 20)[0])
            time.sleep(0.3)
            got = [fetch(target, "/p/json").status for i in range(4)]
            self.assertEqual(got, [200, 200, 429, 429])

    def test_zone_key_shares_buckets_between_routes(self):
        routes = (route("/a", "ratelimit, echo", "ratelimit.rate = 1r/m", "ratelimit.burst = 3",
                        "ratelimit.zone = api") +
                  route("/b", "ratelimit, echo", "ratelimit.rate = 1r/m", "ratelimit.burst = 3",
                        "ratelimit.zone = api"))
        with Server(server_ini(routes=routes, threads=2)) as srv:
            target = targets(srv)["v4"]
            got = [fetch(target, p).status for p in ("/a/1", "/b/1", "/a/2", "/b/2")]
            self.assertEqual(got, [200, 200, 200, 429])


class RateLimitConfigTest(unittest.TestCase):
    def refused(self, keys, pattern):
        ini = server_ini(routes=route("/a", "ratelimit, echo", *keys))
        srv = Server(ini, expect_ready=False)
        try:
            srv.proc.wait(timeout=15)
        finally:
            rc = srv.stop()
        self.assertNotEqual(rc, 0, srv.log())
        self.assertRegex(srv.log(), pattern)

    def test_bad_keys(self):
        self.refused(["ratelimit.rate = 10r/h"], r"server\.ini:9\b.*rate must be")
        self.refused(["ratelimit.rate = 10r/s", "ratelimit.burst = 0"], r"server\.ini:10\b.*burst must be")
        self.refused(["ratelimit.rate = 10r/s", "ratelimit.key = header"], r"key must be peer")
        self.refused(["ratelimit.burst = 5"], r"rate is required")


# Password hashes made by the system's libcrypt (what the plugin verifies
# with), for each method the plugin accepts; bcrypt at cost 5 to stay fast.
_LIBCRYPT = ctypes.CDLL("libcrypt.so.1")
_LIBCRYPT.crypt_gensalt.restype = ctypes.c_char_p
_LIBCRYPT.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_LIBCRYPT.crypt.restype = ctypes.c_char_p
_LIBCRYPT.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def crypt_hash(prefix, password, count=0):
    setting = _LIBCRYPT.crypt_gensalt(prefix.encode(), count, None, 0)
    return _LIBCRYPT.crypt(password.encode(), setting).decode()


USERS = {  # name: (method prefix, cost, password)
    "yes": ("$y$", 0, "pw-yescrypt"),
    "bcy": ("$2y$", 5, "pw-2y"),
    "bcb": ("$2b$", 5, "pw-2b"),
    "sha512": ("$6$", 0, "pw-6"),
    "sha256": ("$5$", 0, "pw-5"),
}


def htpasswd(users, extra=""):
    lines = ["# test users"]
    for name, (prefix, cost, pw) in users.items():
        h = crypt_hash(prefix, pw, cost)
        assert h.startswith(prefix), h
        lines.append("%s:%s" % (name, h))
    return "\n".join(lines) + "\n" + extra


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


CHALLENGE = 'Basic realm="test realm", charset="UTF-8"'
AUTH_ROUTES = route("/priv", "auth_basic, " + fixture("probe"), "auth_basic.file = users.htpasswd",
                    "auth_basic.realm = test realm")


class AuthBasicTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=AUTH_ROUTES, threads=2),
                         files={"users.htpasswd": htpasswd(USERS)})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assert_challenged(self, headers):
        r = self.srv.get("/priv/notes", headers=headers)
        self.assertEqual((r.status, r.body), (401, b"unauthorized\n"), headers)
        self.assertEqual(r.header("WWW-Authenticate"), CHALLENGE)

    def test_each_hash_method(self):
        for name, (_, _, pw) in USERS.items():
            for attempt in range(2):  # the second from the cache of successes
                r = self.srv.get("/priv/notes", headers=basic(name, pw))
                self.assertEqual((r.status, r.body), (200, b"user=%s\n" % name.encode()), (name, attempt))

    def test_wrong_password_and_unknown_user(self):
        self.assert_challenged(basic("sha512", "pw-5"))
        self.assert_challenged(basic("yes", "pw-yescrypt "))
        self.assert_challenged(basic("nobody", "pw-6"))
        # a success cached for one password does not open the door to another
        self.assertEqual(self.srv.get("/priv/notes", headers=basic("bcb", "pw-2b")).status, 200)
        self.assert_challenged(basic("bcb", "pw-2y"))

    def test_missing_and_malformed_header(self):
        self.assert_challenged({})
        for value in ("Bearer abc", "Basic", "Basic !!!!", "Basic " + base64.b64encode(b"nocolon").decode(),
                      "Basic " + base64.b64encode(b":pw-6").decode(), "Digest username=\"sha512\""):
            self.assert_challenged({"Authorization": value})

    def test_refused_before_body(self):
        s = self.srv.connect()
        s.sendall(b"POST /priv/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        raw, closed = recv_until_closed(s)
        s.close()
        self.assertTrue(closed)
        self.assertEqual(parse_responses(raw)[0].status, 401)


SERVING = r"reload: generation (\d+) serving"
FAILED = r"reload failed, generation (\d+) keeps serving: (.*)"


class AuthReloadTest(unittest.TestCase):
    def reload(self, srv):
        start = harness.log_count(srv)
        srv.signal(signal.SIGHUP)
        m, _ = harness.wait_log_from(srv, "(?:%s)|(?:%s)" % (SERVING, FAILED), start)
        self.assertIsNotNone(m, srv.log()[-2000:])
        return m.group(0)

    def test_reload_reads_a_changed_file(self):
        users = {"alice": ("$6$", 0, "old")}
        # one process: reload_check decides whether the instance is kept
        with Server(server_ini(routes=AUTH_ROUTES, server_extra="processes = 0"),
                    files={"users.htpasswd": htpasswd(users)}) as srv:
            path = os.path.join(srv.dir, "users.htpasswd")
            self.assertEqual(srv.get("/priv/notes", headers=basic("alice", "old")).status, 200)
            # unchanged file: the instance (and its cache) is kept
            self.assertRegex(self.reload(srv), SERVING)
            self.assertNotRegex(srv.log(), r"asked to be created anew")
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write(htpasswd({"alice": ("$y$", 0, "new")}))
            os.replace(tmp, path)
            self.assertRegex(self.reload(srv), SERVING)
            self.assertRegex(srv.log(), r"\[route /priv\] plugin auth_basic asked to be created anew")
            self.assertEqual(srv.get("/priv/notes", headers=basic("alice", "old")).status, 401)
            r = srv.get("/priv/notes", headers=basic("alice", "new"))
            self.assertEqual((r.status, r.body), (200, b"user=alice\n"))
            # a broken file fails the reload, naming file and line; the last good one serves on
            with open(tmp, "w") as f:
                f.write(htpasswd({"alice": ("$y$", 0, "newer")}) + "bob:$apr1$x$y\n")
            os.replace(tmp, path)
            m = self.reload(srv)
            self.assertRegex(m, FAILED)
            self.assertRegex(m, r"users\.htpasswd:3: hash is not bcrypt")
            self.assertEqual(srv.get("/priv/notes", headers=basic("alice", "new")).status, 200)

    def test_malformed_file_refused_at_start(self):
        ini = server_ini(routes=AUTH_ROUTES)
        srv = Server(ini, files={"users.htpasswd": htpasswd({"alice": ("$6$", 0, "pw")}) + "bob\n"}, expect_ready=False)
        try:
            srv.proc.wait(timeout=15)
        finally:
            rc = srv.stop()
        self.assertNotEqual(rc, 0, srv.log())
        self.assertRegex(srv.log(), r"users\.htpasswd:3: not user:hash")


if __name__ == "__main__":
    harness.main()
