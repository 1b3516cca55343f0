#!/usr/bin/env python3
"""Stacked routes (ABI 1.3) on the configuration side, --check-plugin's
1.3 report, and the introspection counters (api->server_info and
api->routes_visit, read through the fixture plugin "introspect").

Fixtures (tests/plugins/stage.c, one build per role): gate.so (access
stage: on_head), upper.so (output filter), both.so (on_head and
filter_body without handle(): no role), norole.so (no handle(), no stage
hook), nobody.so (stream_body without on_body). Each logs "stage NAME:
create|check|destroy name=N prefix=P processes=N keys=k=v;..." and
accepts only the keys tag and deny, so a test sees which keys reach which
plugin and which instances a reload keeps.

Errors are asserted with their exact text. Every wait is bounded and
waits on a log line or on what introspection reports.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import Server, server_ini

FIX = harness.FIXTURE_DIR
GATE = os.path.join(FIX, "gate.so")
UPPER = os.path.join(FIX, "upper.so")
BOTH = os.path.join(FIX, "both.so")
NOROLE = os.path.join(FIX, "norole.so")
NOBODY = os.path.join(FIX, "nobody.so")
INTRO = os.path.join(FIX, "introspect.so")
OLD_MINOR = os.path.join(FIX, "old_minor.so")
MISBEHAVE = harness.MISBEHAVE
ECHO_SO = os.path.join(harness.PLUGIN_DIR, "echo.so")
SERVING = r"reload: generation (\d+) serving \((\d+) route instances kept, (\d+) created\)"
FAILED = r"reload failed, generation (\d+) keeps serving: (.*)"


def run(*args, cwd=None):
    return subprocess.run(harness.WRAPPER + [harness.BINARY] + list(args), cwd=cwd,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


def need(*paths):
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise unittest.SkipTest("fixture not built: %s (make check builds it)" % ", ".join(missing))


class ConfigTestCase(unittest.TestCase):
    """Writes a server.ini (a 4-line [server] part, then the routes) and
    runs -t on it."""

    def setUp(self):
        need(GATE, UPPER, BOTH, NOROLE, NOBODY)
        self.dir = tempfile.mkdtemp(prefix="phtest-stack-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check(self, routes):
        """-t on [server] (4 lines) + routes; returns (ini path, result)."""
        ini = os.path.join(self.dir, "server.ini")
        with open(ini, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:0\nplugin_dir = %s\naccess_log = off\n%s"
                    % (harness.PLUGIN_DIR, routes))
        return ini, run("-t", "-c", ini)

    def refused(self, routes, line, message):
        ini, p = self.check(routes)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("plughttpd: %s:%d: %s\n" % (ini, line, message), p.stderr)


class StackConfigErrors(ConfigTestCase):
    def test_empty_item(self):
        self.refused("[route /app]\nplugin = %s, , echo\n" % GATE, 6,
                     "[route /app] plugin: empty item in \"%s, , echo\" (expected plugin names or paths "
                     "separated by commas)" % GATE)
        self.refused("[route /app]\nplugin = echo,\n", 6,
                     "[route /app] plugin: empty item in \"echo,\" (expected plugin names or paths "
                     "separated by commas)")

    def test_listed_twice(self):
        self.refused("[route /app]\nplugin = echo, %s\n" % ECHO_SO, 6,
                     "[route /app] plugin: echo is listed twice (\"echo\" and \"%s\"); a route runs each "
                     "plugin once" % ECHO_SO)

    def test_key_for_unlisted_plugin(self):
        self.refused("[route /app]\nplugin = %s, echo\nstatus = 201\ngaet.tag = x\n" % GATE, 8,
                     "[route /app] key \"gaet.tag\": no plugin named \"gaet\" in this route's list "
                     "\"%s, echo\"" % GATE)

    def test_no_content_handler(self):
        self.refused("[route /app]\nplugin = %s, %s\n" % (GATE, UPPER), 6,
                     "[route /app]: no plugin of \"%s, %s\" has handle(); a route needs exactly one content "
                     "handler" % (GATE, UPPER))

    def test_two_content_handlers(self):
        self.refused("[route /app]\nplugin = %s, echo, %s\n" % (GATE, MISBEHAVE), 6,
                     "[route /app]: plugins echo and misbehave both have handle(); a route has exactly one "
                     "content handler")

    def test_undecidable_role(self):
        self.refused("[route /app]\n\nplugin = echo, %s\n" % BOTH, 7,
                     "[route /app]: plugin both has no handle() but both on_head and filter_body hooks: "
                     "neither an access stage nor an output filter, it cannot be placed")

    def test_stage_without_role_or_body_hook_refused_on_load(self):
        self.refused("[route /app]\nplugin = echo, %s\n" % NOROLE, 6,
                     "[route /app]: %s: plugin has no handle() and neither an on_head nor a filter_body hook: "
                     "it is no content handler, access stage or output filter" % NOROLE)
        self.refused("[route /app]\nplugin = %s\n" % NOBODY, 6,
                     "[route /app]: %s: plugin declares PH_PLUGIN_STREAM_BODY but has no on_body hook to take "
                     "the body" % NOBODY)

    def test_bare_keys_go_to_the_content_handler(self):
        # deny is gate's key: bare, it reaches echo, which refuses it
        self.refused("[route /app]\nplugin = %s, echo\nstatus = 201\ndeny = yes\n" % GATE, 8,
                     "[route /app] plugin echo refused its configuration: unknown key \"deny\"")
        # and a stage's key is refused by that stage, on its line
        self.refused("[route /app]\nplugin = %s, echo\ngate.bogus = 1\n" % GATE, 7,
                     "[route /app] plugin gate refused its configuration: gate: unknown key \"bogus\"")

    def test_route_sizes(self):
        self.refused("[route /app]\nplugin = echo\nbody_spill = 1x\n", 7,
                     "body_spill: bad size \"1x\" (e.g. 8k, 1m; 0 keeps every body in memory)")
        self.refused("[route /app]\nplugin = echo\nmax_body_bytes = 1k\nmax_body_bytes = 1k\n", 8,
                     "duplicate key \"max_body_bytes\" in [route /app] (first on line 7)")

    def test_good_stack_each_plugin_its_keys(self):
        ini, p = self.check("[route /app]\ngate.tag = early\nplugin = %s, echo, %s\nstatus = 201\n"
                            "upper.tag = u\necho.header = X-A: b\ngate.deny = no\nmax_body_bytes = 1k\n"
                            "body_spill = 0\n" % (GATE, UPPER))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("plugin: stage gate: check name=gate prefix=/app processes=1 keys=tag=early;deny=no\n",
                      p.stderr)
        self.assertIn("plugin: stage upper: check name=upper prefix=/app processes=1 keys=tag=u\n", p.stderr)
        self.assertEqual(p.stdout, "plughttpd: configuration %s is ok (1 listeners, 1 routes)\n" % ini)


class CheckPluginReport(unittest.TestCase):
    def setUp(self):
        need(GATE, UPPER, BOTH, OLD_MINOR)

    def report(self, path, role, hooks, flags="none", abi=harness.header_abi()):
        return ("plugin: %s 1.0\nfile: %s\nABI: %s (server %s)\nflags: %s\nrole: %s\nhooks: %s\n"
                % (os.path.basename(path)[:-3], path, abi, harness.header_abi(), flags, role, hooks))

    def test_access_stage(self):
        p = run("--check-plugin", GATE, "tag=t")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.report(GATE, "access stage", "on_head") +
                         "instance: created and destroyed with 1 key(s): ok\n")
        self.assertIn("stage gate: check name=gate prefix=/ processes=1 keys=tag=t\n", p.stderr)

    def test_output_filter(self):
        p = run("--check-plugin", UPPER)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.report(UPPER, "output filter", "filter_head filter_body") +
                         "instance: created and destroyed with 0 key(s): ok\n")

    def test_content_handler_of_an_older_minor(self):
        p = run("--check-plugin", OLD_MINOR)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.report(OLD_MINOR, "content handler", "none", abi="1.0") +
                         "instance: created and destroyed with 0 key(s): ok\n")

    def test_echo(self):
        p = run("--check-plugin", ECHO_SO)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("\nflags: none\nrole: content handler\nhooks: none\n", p.stdout)

    def test_flags_are_named(self):
        """The features a plugin declares are named, so an operator sees
        what the plugin will do with a request (data: blocking with JSON
        errors; proxy: a coroutine taking streamed bodies and upgrades)."""
        for so, want in (("data.so", "\nflags: blocking json_errors pgrst_errors\nrole: content handler\nhooks: none\n"),
                         ("proxy.so", "\nflags: stream_body coroutine upgrade\nrole: content handler\n")):
            path = os.path.join(harness.PLUGIN_DIR, so)
            if not os.path.exists(path):
                self.skipTest("%s not built" % so)
            p = run("--check-plugin", path)
            self.assertIn(want, p.stdout, p.stdout + p.stderr)

    def test_undecidable_role(self):
        p = run("--check-plugin", BOTH)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, self.report(BOTH, "none", "on_head filter_body"))
        self.assertIn("plughttpd: %s: no handle() but both on_head and filter_body hooks: neither an access "
                      "stage nor an output filter, no route can place it\n" % BOTH, p.stderr)
        self.assertNotIn("stage both: check", p.stderr)  # refused before create()


class StackReload(unittest.TestCase):
    """Each stage is kept or created anew on its own at a reload."""

    def setUp(self):
        need(GATE, UPPER)

    def ini(self, gate_tag, status, upper_tag="u"):
        # one process: a kept stage is the very same instance
        return server_ini("[route /app]\nplugin = %s, echo, %s\ngate.tag = %s\nstatus = %s\nupper.tag = %s\n"
                          % (GATE, UPPER, gate_tag, status, upper_tag), server_extra="processes = 0")

    def test_reload_keeps_unchanged_stages(self):
        with Server(self.ini("1", "201")) as srv:
            self.assertIsNotNone(srv.wait_log(r"stage gate: create name=gate prefix=/app processes=1 keys=tag=1$"))
            self.assertEqual(srv.get("/app").status, 201)
            start = harness.log_count(srv)
            srv.reload(self.ini("2", "201"), r"reload: generation 2 serving|reload failed")
            m, _ = harness.wait_log_from(srv, SERVING + "|" + FAILED, start)
            self.assertEqual(m.group(1, 2, 3), ("2", "2", "1"))  # echo and upper kept, gate created
            m, _ = harness.wait_log_from(srv, r"stage gate: create name=gate prefix=/app processes=1 keys=tag=2$",
                                         start)
            self.assertIsNotNone(m)
            m, _ = harness.wait_log_from(srv, r"stage gate: destroy name=gate prefix=/app$", start)
            self.assertIsNotNone(m, "the old gate instance was not destroyed")
            self.assertEqual(srv.get("/app").status, 201)

            # a bare key is the content handler's: only echo is created anew
            start = harness.log_count(srv)
            srv.reload(self.ini("2", "202"), r"reload: generation 3 serving|reload failed")
            m, _ = harness.wait_log_from(srv, SERVING, start)
            self.assertEqual(m.group(1, 2, 3), ("3", "2", "1"))
            self.assertEqual(srv.get("/app").status, 202)

            # a stage's key: only that stage
            start = harness.log_count(srv)
            srv.reload(self.ini("2", "202", "v"), r"reload: generation 4 serving|reload failed")
            m, _ = harness.wait_log_from(srv, SERVING, start)
            self.assertEqual(m.group(1, 2, 3), ("4", "2", "1"))
            m, _ = harness.wait_log_from(srv, r"stage upper: destroy name=upper prefix=/app$", start)
            self.assertIsNotNone(m)
            self.assertNotIn("stage gate: destroy", "\n".join(srv.log_lines[start:]))

            # nothing changed: everything kept
            start = harness.log_count(srv)
            srv.reload(self.ini("2", "202", "v"), r"reload: generation 5 serving|reload failed")
            m, _ = harness.wait_log_from(srv, SERVING, start)
            self.assertEqual(m.group(1, 2, 3), ("5", "3", "0"))

    def test_reload_refusing_a_stack_changes_nothing(self):
        with Server(self.ini("1", "201")) as srv:
            start = harness.log_count(srv)
            srv.reload(server_ini("[route /app]\nplugin = %s, %s\n" % (GATE, UPPER)), FAILED)
            m, _ = harness.wait_log_from(srv, FAILED, start)
            self.assertEqual(m.group(1), "1")
            self.assertIn("[route /app]: no plugin of", m.group(2))
            self.assertEqual(srv.get("/app").status, 201)
            self.assertNotIn("stage gate: destroy", "\n".join(srv.log_lines[start:]))


class StackServes(unittest.TestCase):
    """The generation puts each listed plugin where its role says: the
    access stage answers before the handler, the filter rewrites its
    output, and the route's own max_body_bytes applies."""

    def setUp(self):
        need(GATE, UPPER)

    def test_roles_and_route_limits(self):
        routes = ("[route /app]\nplugin = %s, echo, %s\n\n[route /deny]\nplugin = %s, %s, echo\n"
                  "gate.deny = yes\n\n[route /small]\nplugin = echo\nmax_body_bytes = 10\n\n"
                  "[route /big]\nplugin = echo\n" % (UPPER, GATE, GATE, UPPER))
        with Server(server_ini(routes, server_extra="max_body_bytes = 20")) as srv:
            r = srv.get("/app/path")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.body.startswith(b"METHOD: GET\nTARGET: /APP/PATH\n"), r.body)
            self.assertEqual(r.body, r.body.upper())
            r = srv.get("/deny/x")
            self.assertEqual((r.status, r.body), (403, b"DENIED BY GATE\n"))  # and the filter saw it
            self.assertEqual(srv.get("/small", method="POST", body=b"x" * 10).status, 200)
            self.assertEqual(srv.get("/small", method="POST", body=b"x" * 11).status, 413)
            self.assertEqual(srv.get("/big", method="POST", body=b"x" * 20).status, 200)
            self.assertEqual(srv.get("/big", method="POST", body=b"x" * 21).status, 413)


class Introspection(unittest.TestCase):
    def setUp(self):
        need(INTRO, GATE)

    def routes(self):
        return ("[route /intro]\nplugin = %s\n\n[route /app]\nplugin = %s, echo\n\n"
                "[route /missing]\nplugin = echo\nstatus = 404\n" % (INTRO, GATE))

    def info(self, srv):
        r = srv.get("/intro")
        self.assertEqual(r.status, 200, r.body)
        return json.loads(r.body)

    def test_connections(self):
        with Server(server_ini(self.routes())) as srv:
            first = self.info(srv)
            self.assertEqual(first["connections"], 1)  # the request's own
            self.assertEqual(first["connections_total"], 1)
            idle = [srv.connect() for _ in range(3)]
            try:
                info = harness.settle(lambda: self.info(srv), lambda v: v["connections"] == 4)
                self.assertEqual(info["connections"], 4)
                self.assertGreaterEqual(info["connections_total"], 5)
            finally:
                for s in idle:
                    s.close()
            info = harness.settle(lambda: self.info(srv), lambda v: v["connections"] == 1)
            self.assertEqual(info["connections"], 1)
            self.assertGreaterEqual(info["connections_total"], 6)
            self.assertEqual(info["threads"], 1)
            self.assertEqual(info["process_index"], 0)

    def test_routes_and_reloads(self):
        with Server(server_ini(self.routes())) as srv:
            info = self.info(srv)
            self.assertEqual((info["generation"], info["generations"], info["reloads"], info["reloads_failed"]),
                             (1, 1, 0, 0))
            self.assertEqual([(r["generation"], r["current"], r["prefix"], r["plugins"], r["file"])
                              for r in info["routes"]],
                             [(1, 1, "/intro", INTRO, INTRO),
                              (1, 1, "/app", GATE + ", echo", ECHO_SO),
                              (1, 1, "/missing", "echo", ECHO_SO)])
            srv.reload(server_ini("[server]\nbogus = 1\n"), FAILED)
            info = self.info(srv)
            self.assertEqual((info["generation"], info["reloads"], info["reloads_failed"]), (1, 0, 1))
            srv.reload(server_ini(self.routes()), r"reload: generation 2 serving")
            srv.wait_log(r"generation 1 released")
            info = self.info(srv)
            self.assertEqual((info["generation"], info["generations"], info["reloads"], info["reloads_failed"]),
                             (2, 1, 1, 1))

    def test_generations_alive_during_a_drain(self):
        # one process: both generations live in it during the drain
        one = "processes = 0"
        with Server(server_ini(self.routes(), server_extra=one)) as srv:
            # a request waiting for its body holds generation 1
            held = srv.connect()
            held.sendall(b"POST /app/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            self.assertEqual(harness.read_head(held), b"HTTP/1.1 100 Continue\r\n\r\n")
            srv.reload(server_ini(self.routes().replace("status = 404", "status = 410"), server_extra=one),
                       r"reload: generation 2 serving")
            info = self.info(srv)
            self.assertEqual((info["generation"], info["generations"]), (2, 2))
            self.assertEqual([(r["generation"], r["current"], r["prefix"]) for r in info["routes"]],
                             [(2, 1, "/intro"), (2, 1, "/app"), (2, 1, "/missing"),
                              (1, 0, "/intro"), (1, 0, "/app"), (1, 0, "/missing")])
            held.sendall(b"hello")
            resp = harness.read_responses(held, 1)
            held.close()
            self.assertEqual(resp[0].status, 200)
            self.assertIsNotNone(srv.wait_log(r"generation 1 released"))
            info = self.info(srv)
            self.assertEqual((info["generation"], info["generations"]), (2, 1))
            self.assertEqual([r["generation"] for r in info["routes"]], [2, 2, 2])

    def test_worker_processes(self):
        """A worker process serves one generation; one forked for a reload
        counts it, and a failed reload before it."""
        with Server(server_ini(self.routes(), server_extra="processes = 2")) as srv:
            info = self.info(srv)
            self.assertEqual((info["generation"], info["generations"], info["reloads"]), (1, 1, 0))
            srv.reload(server_ini("[server]\nbogus = 1\n", server_extra="processes = 2"), FAILED)
            srv.reload(server_ini(self.routes(), server_extra="processes = 2"), r"reload: generation 2 serving")
            info = self.info(srv)
            self.assertEqual((info["generation"], info["generations"], info["reloads"], info["reloads_failed"]),
                             (2, 1, 1, 1))
            self.assertEqual({r["generation"] for r in info["routes"]}, {2})
            # each worker process has its own index. Idle connections held
            # open make a process that holds more than its share step back
            # from accepting, so requests reach both.
            seen = {}
            idle = []
            try:
                for _ in range(100):
                    info = self.info(srv)
                    seen.setdefault(info["pid"], set()).add(info["process_index"])
                    if len(seen) == 2:
                        break
                    # a byte of a head: a deferring listener (the default)
                    # hands over only connections that have sent something
                    c = srv.connect()
                    c.sendall(b"G")
                    idle.append(c)
            finally:
                for s in idle:
                    s.close()
            self.assertEqual(sorted(i for v in seen.values() for i in v), [0, 1], seen)

    def test_requests_per_route(self):
        with Server(server_ini(self.routes())) as srv:
            for _ in range(5):
                self.assertEqual(srv.get("/app/x").status, 200)
            for _ in range(3):
                self.assertEqual(srv.get("/missing").status, 404)
            info = self.info(srv)
            by = {r["prefix"]: r for r in info["routes"]}
            self.assertEqual((by["/app"]["requests"], by["/app"]["status"]), (5, [0, 0, 5, 0, 0, 0]))
            self.assertEqual((by["/missing"]["requests"], by["/missing"]["status"]), (3, [0, 0, 0, 0, 3, 0]))
            self.assertEqual(by["/intro"]["in_flight"], 1)  # this very request
            self.assertEqual(by["/app"]["in_flight"], 0)
            self.assertGreater(by["/app"]["bytes_out"], 0)


if __name__ == "__main__":
    harness.main()
