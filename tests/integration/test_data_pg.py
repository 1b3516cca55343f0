#!/usr/bin/env python3
"""The data plugin on PostgreSQL: the same API tests as test_data.py
(data_cases.py) against a throwaway cluster (pg.py), plus a stopped server
(503, then recovery), a table lock held by another session, and worker
processes (processes = 2) that each open connections of their own.

Without PostgreSQL binaries these tests fail: CI installs them."""

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

import harness
from data_embed_cases import EmbedTypeCases
from data_fts_cases import FtsCases
from data_cases import DataApiCases
from data_count_cases import DataCountCases
from data_jpath_cases import DataJsonPathCases
from data_num_cases import DataNumberCases
from data_rpc_cases import BOOKS, BOOKS_INSERT, DataRpcSetCases, DataViewCases, jbody
from pg import PgCluster


class PgDataTest(DataApiCases, FtsCases, EmbedTypeCases, DataNumberCases, DataJsonPathCases, unittest.TestCase):
    flavour = "pg"
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster()

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.destroy()

    def database_keys(self, name):
        self.db_name = name
        return "database = %s\nschema = schema.sql" % self.cluster.create_db(name)

    def fill_titles(self, n, pad):
        self.cluster.psql("INSERT INTO notes (title) SELECT lpad(i::text, 7, '0') || '%s' "
                          "FROM generate_series(1, %d) i ORDER BY i" % (pad, n), db=self.db_name)

    @contextlib.contextmanager
    def outage(self):
        self.cluster.stop()
        try:
            yield
        finally:
            self.cluster.start()

    @contextlib.contextmanager
    def hold_write_lock(self):
        c = self.cluster
        p = subprocess.Popen(c.as_user + [os.path.join(c.bindir, "psql"), "-X", "-q", "-A", "-t",
                              "-h", "127.0.0.1", "-p", str(c.port), "-U", "postgres",
                              "-d", self.db_name],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            p.stdin.write("BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n")
            p.stdin.flush()
            self.assertEqual(p.stdout.readline().strip(), "locked")
            yield
        finally:
            p.stdin.write("ROLLBACK;\n")
            p.stdin.close()
            p.wait(30)

    def test_schema_applied_only_when_a_table_is_missing(self):
        cols = self.cluster.psql("SELECT count(*) FROM information_schema.columns "
                                 "WHERE table_name = 'notes'", db=self.db_name)
        self.assertEqual(cols.strip(), "4")
        # A second server on the same database must not fail on the schema
        # (the tables exist, so the file is not run again).
        self.cluster.psql("INSERT INTO notes (title) VALUES ('from psql')", db=self.db_name)
        routes = ("[route /api]\nplugin = data\ndatabase = %s\nschema = schema.sql\n"
                  "tables = notes\n" % self.cluster.uri(self.db_name))
        srv = harness.Server(harness.server_ini(routes=routes),
                             files={"schema.sql": "CREATE TABLE notes (x int);"})
        try:
            r = srv.get("/api/notes")
            self.assertEqual(r.status, 200)
            self.assertIn(b"from psql", r.body)
        finally:
            srv.stop()

    def test_configuration_test_rolls_the_schema_back(self):
        # -t runs the schema in a transaction it rolls back: a broken schema
        # or an unknown table is reported, a good one leaves no table behind
        uri = self.cluster.create_db("checkonly")
        d = tempfile.mkdtemp(prefix="phpgt-")
        self.addCleanup(shutil.rmtree, d, True)

        def check(schema, tables):
            with open(os.path.join(d, "schema.sql"), "w") as f:
                f.write(schema)
            ini = os.path.join(d, "server.ini")
            with open(ini, "w") as f:
                f.write(harness.server_ini(routes="[route /api]\nplugin = data\ndatabase = %s\n"
                                                  "schema = schema.sql\ntables = %s\n" % (uri, tables)))
            return subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", ini],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)

        good = "CREATE TABLE checked (id serial PRIMARY KEY, title text NOT NULL);"
        p = check(good, "checked")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("checked, nothing changed", p.stderr)
        p = check(good, "checked, nosuch")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nosuch", p.stderr)
        p = check("CREATE TABLE checked (;", "checked")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("schema", p.stderr)
        p = check(good + " COMMIT;", "checked")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ends the transaction itself", p.stderr)
        self.cluster.psql("DROP TABLE IF EXISTS checked", db="checkonly")  # what that COMMIT kept
        p = check(good, "checked")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM information_schema.tables "
                                           "WHERE table_name = 'checked'", db="checkonly").strip(), "0")

    def test_database_down_at_start_fails_create(self):
        routes = ("[route /api]\nplugin = data\ndatabase = postgresql://postgres@127.0.0.1:%d/x\n"
                  "tables = notes\n" % self.cluster.port)
        with self.outage():
            srv = harness.Server(harness.server_ini(routes=routes), expect_ready=False)
            try:
                srv.proc.wait(30)
                self.assertNotEqual(srv.proc.returncode, 0)
                self.assertTrue(srv.wait_log("cannot connect to PostgreSQL", 5), srv.log())
            finally:
                srv.stop()


# Each row of hits records the PostgreSQL session that stored it (column
# defaults run in that session): its backend pid and the client's port,
# which is the local port of the server process's database socket.
HITS_PG = """
CREATE TABLE hits (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tag TEXT NOT NULL,
    backend INTEGER NOT NULL DEFAULT pg_backend_pid(),
    client_port INTEGER DEFAULT inet_client_port()
);
"""


def tcp_inodes(local_port, remote_port):
    """Inodes of the IPv4 sockets 127.0.0.1:local_port -> 127.0.0.1:remote_port."""
    # /proc/net/tcp prints the address as the host-order value of its
    # network-order bytes, the port in plain hex.
    addr = "%08X" % struct.unpack("=I", socket.inet_aton("127.0.0.1"))[0]
    local = "%s:%04X" % (addr, local_port)
    remote = "%s:%04X" % (addr, remote_port)
    with open("/proc/net/tcp") as f:
        next(f)
        return {fields[9] for fields in (line.split() for line in f)
                if fields[1] == local and fields[2] == remote}


def socket_holders(pids, inodes):
    """The pids (among pids) with a descriptor on one of the socket inodes."""
    wanted = {"socket:[%s]" % i for i in inodes}
    holders = set()
    for pid in pids:
        try:
            if wanted.intersection(harness.proc_fd_targets(pid)):
                holders.add(pid)
        except OSError:  # the process is gone
            continue
    return holders


class PgWorkerProcesses(unittest.TestCase):
    """processes = 2 with a PostgreSQL data route. The master only validates
    the route (PH_CREATE_CHECK); each worker process creates its own
    instance, which reads the schema on a session of its own: no session is
    shared between processes, and the master holds none.

    A POST to /api/hits asking for its row (Prefer: return=representation
    and an object) answers with the stored row, whose defaults name the
    database session that ran it (backend pid, client port); the client port
    leads through /proc/net/tcp and /proc/PID/fd to the server process that
    holds that socket. A keep-alive HTTP connection stays on the worker that
    accepted it, so a test can talk to a chosen worker."""

    cluster = None
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster()
        # DEBUG1 logs "unexpected EOF on client connection" for a session
        # whose client went away without saying goodbye (PQfinish).
        cls.cluster.psql("ALTER SYSTEM SET log_min_messages = debug1")
        cls.cluster.psql("SELECT pg_reload_conf()")
        # New sessions get it once the postmaster has reloaded.
        shown = harness.settle(lambda: cls.cluster.psql("SHOW log_min_messages").strip(),
                               lambda v: v == "debug1")
        if shown != "debug1":
            cls.cluster.destroy()
            raise RuntimeError("log_min_messages is still %r" % shown)

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.destroy()

    def setUp(self):
        type(self).counter += 1
        self.db = "procs%d_%d" % (os.getpid(), self.counter)
        uri = self.cluster.create_db(self.db)
        with open(os.path.join(harness.SRCDIR, "conf", "schema.pg.sql")) as f:
            schema = f.read() + HITS_PG
        routes = ("[route /api]\nplugin = data\ndatabase = %s\nschema = schema.sql\n"
                  "tables = notes, hits\n" % uri)
        ini = harness.server_ini(routes=routes, threads=2, access_log="off",
                                 server_extra="processes = 2")
        self.srv = harness.Server(ini, files={"schema.sql": schema})
        self.addCleanup(self.srv.stop)
        self.master = self.srv.proc.pid
        kids = harness.settle(lambda: harness.proc_children(self.master), lambda k: len(k) == 2)
        self.assertEqual(len(kids), 2, "worker processes: %r\n%s" % (kids, self.srv.log()))
        self.kids = set(kids)

    # --- the database's view ------------------------------------------------
    def sessions(self):
        """{backend pid: client port} of the server's sessions on the test database."""
        out = self.cluster.psql("SELECT pid, client_port FROM pg_stat_activity "
                                "WHERE datname = '%s' AND application_name = 'plughttpd'" % self.db)
        return {int(p): int(port) for p, port in (l.split("|") for l in out.split())}

    def holders(self, client_port):
        """The server processes (master and workers) holding the database
        socket with this local port."""
        pids = [self.master] + harness.proc_children(self.master)
        return socket_holders(pids, tcp_inodes(client_port, self.cluster.port))

    def served_by(self, row):
        """The one worker process whose own database connection stored row."""
        owners = self.holders(row["client_port"])
        self.assertEqual(len(owners), 1, "processes sharing the database socket of %r: %r (master %d)"
                         % (row, owners, self.master))
        pid = owners.pop()
        self.assertIn(pid, harness.proc_children(self.master), "row %r stored by the master" % row)
        return pid

    # --- HTTP on keep-alive connections ---------------------------------------
    def connect(self):
        conn = (self.srv.connect(), bytearray())
        self.addCleanup(conn[0].close)
        return conn

    @staticmethod
    def send(conn, method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        head = "%s %s HTTP/1.1\r\nHost: localhost\r\n" % (method, path)
        if obj is not None:
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        if method == "POST":  # the stored row back, as one object
            head += "Prefer: return=representation\r\nAccept: application/vnd.pgrst.object+json\r\n"
        else:  # listings with their total
            head += "Prefer: count=exact\r\n"
        conn[0].sendall(head.encode() + b"\r\n" + body)

    @staticmethod
    def receive(conn):
        return harness.read_one_response(conn[0], conn[1])

    def hit(self, conn, tag):
        """POSTs a hit on conn; returns (row, worker pid that stored it)."""
        self.send(conn, "POST", "/api/hits", {"tag": tag})
        r = self.receive(conn)
        self.assertEqual(r.status, 201, r.body)
        row = json.loads(r.body)
        return row, self.served_by(row)

    def connect_to_each(self, workers, rounds=20, batch=8):
        """Opens batches of concurrent keep-alive connections, one hit on
        each, until every pid in workers has answered one; returns
        {pid: connection} (one per worker; the others are closed) and
        {pid: backend pid of that first hit}. (One connection after the
        other is not enough: one process can win every accept().)"""
        found, backends = {}, {}
        for _ in range(rounds):
            if set(workers) <= set(found):
                break
            conns = [self.connect() for _ in range(batch)]
            for i, c in enumerate(conns):
                self.send(c, "POST", "/api/hits", {"tag": "probe%d" % i})
            for c in conns:
                r = self.receive(c)
                self.assertEqual(r.status, 201, r.body)
                row = json.loads(r.body)
                pid = self.served_by(row)
                if pid in workers and pid not in found:
                    found[pid], backends[pid] = c, row["backend"]
                else:
                    c[0].close()
        self.assertEqual(set(found), set(workers), "workers reached on a database request")
        return found, backends

    # --- the tests --------------------------------------------------------------
    def start_sessions(self):
        """The sessions open before any request: each worker process
        created its own instance, which read the schema on a session of its
        own; the master (which only validated the keys) holds none.
        Returns {worker pid: backend pid}."""
        before = harness.settle(self.sessions, lambda s: len(s) == len(self.kids))
        self.assertEqual(len(before), len(self.kids), "sessions before any request: one per worker")
        owner = {}
        for backend, port in before.items():
            pids = self.holders(port)
            self.assertEqual(len(pids), 1, "processes sharing a session: %r" % pids)
            owner[pids.pop()] = backend
        self.assertEqual(set(owner), self.kids, "the master holds a session")
        return owner

    def test_each_worker_uses_connections_of_its_own(self):
        first = self.start_sessions()
        conns, _ = self.connect_to_each(self.kids)
        backends = {pid: set() for pid in self.kids}
        for pid, conn in conns.items():
            for i in range(5):
                row, by = self.hit(conn, "w%d-%d" % (pid, i))
                self.assertEqual(by, pid, "a keep-alive connection stays on its worker")
                backends[pid].add(row["backend"])
            self.send(conn, "GET", "/api/hits?limit=1")
            r = self.receive(conn)
            # counted (Prefer: count=exact), one row of several: partial
            self.assertEqual((r.status, r.header("Content-Range")[:4]), (206, "0-0/"), r.body)
        a, b = backends.values()
        self.assertFalse(a & b, "two workers used the same database session: %r" % backends)
        for pid in self.kids:
            others = set(first.values()) - {first[pid]}
            self.assertFalse(backends[pid] & others, "worker %d used another worker's session" % pid)
        self.assertEqual(self.srv.stop(), 0, self.srv.log()[-2000:])

    def test_concurrent_writes_through_both_workers_lose_nothing(self):
        conns, _ = self.connect_to_each(self.kids)
        per_worker = 50
        gate = threading.Barrier(len(conns))
        results = {pid: [] for pid in conns}

        def writer(pid, conn):
            gate.wait(10)
            for i in range(per_worker):
                self.send(conn, "POST", "/api/notes", {"title": "w%d-%d" % (pid, i)})
                r = self.receive(conn)
                results[pid].append((r.status, json.loads(r.body) if r.status == 201 else r.body))

        threads = [threading.Thread(target=writer, args=kv) for kv in conns.items()]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertFalse(any(th.is_alive() for th in threads), "writers did not finish")
        rows = [row for pid in conns for status, row in results[pid]]
        statuses = [status for pid in conns for status, row in results[pid]]
        self.assertEqual(statuses, [201] * (per_worker * len(conns)), rows)
        want = {"w%d-%d" % (pid, i) for pid in conns for i in range(per_worker)}
        self.assertEqual({row["title"] for row in rows}, want)
        ids = {row["id"] for row in rows}
        self.assertEqual(len(ids), len(want), "ids handed out twice")

        stored = self.cluster.psql("SELECT id, title FROM notes", db=self.db).split()
        self.assertEqual({int(l.split("|")[0]): l.split("|")[1] for l in stored},
                         {row["id"]: row["title"] for row in rows})
        for conn in conns.values():
            self.send(conn, "GET", "/api/notes?limit=1")
            r = self.receive(conn)
            self.assertEqual((r.status, r.header("Content-Range")), (206, "0-0/%d" % len(want)), r.body)
            self.assertEqual(r.header("X-Total-Count"), str(len(want)))
        self.assertEqual(self.srv.stop(), 0, self.srv.log()[-2000:])

    def test_killed_worker_is_replaced_by_one_with_its_own_connection(self):
        self.start_sessions()
        conns, first = self.connect_to_each(self.kids)
        victim, survivor = sorted(self.kids)
        held = {b: self.holders(port) for b, port in self.sessions().items()}
        victim_backends = {b for b, pids in held.items() if pids == {victim}}
        survivor_backends = {b for b, pids in held.items() if pids == {survivor}}
        self.assertIn(first[victim], victim_backends)

        start = harness.log_count(self.srv)
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(harness.settle(lambda: not harness.alive(victim), bool), "the killed worker is still there")
        m, i = harness.wait_log_from(self.srv, r"worker process %d killed by signal 9\b" % victim, start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        m, _ = harness.wait_log_from(self.srv, r"worker process (\d+) started", i)
        self.assertIsNotNone(m, "no new worker process:\n" + self.srv.log()[-2000:])
        newpid = int(m.group(1))
        self.assertEqual(harness.settle(lambda: set(harness.proc_children(self.master)),
                                        lambda k: k == {survivor, newpid}), {survivor, newpid})

        # The killed worker's sessions end with it; the survivor's do not.
        left = harness.settle(self.sessions, lambda s: not (set(s) & victim_backends))
        self.assertFalse(set(left) & victim_backends, "sessions of the killed worker remain")
        self.assertTrue(survivor_backends <= set(left), "the survivor's sessions")

        # The survivor goes on with the sessions it had.
        row, by = self.hit(conns[survivor], "after-kill")
        self.assertEqual(by, survivor)
        self.assertIn(row["backend"], survivor_backends)

        # The new worker opens a session of its own (not the dead worker's,
        # not the survivor's) and serves reads and writes.
        new_conns, new_first = self.connect_to_each({newpid})
        self.assertNotIn(new_first[newpid], victim_backends | survivor_backends)
        for n in range(5):
            row, by = self.hit(new_conns[newpid], "new-%d" % n)
            self.assertEqual(by, newpid)
        self.send(new_conns[newpid], "GET", "/api/hits?tag=eq.after-kill")
        r = self.receive(new_conns[newpid])
        self.assertEqual((r.status, [h["tag"] for h in json.loads(r.body)]), (200, ["after-kill"]))
        self.assertEqual(self.srv.stop(), 0, self.srv.log()[-2000:])

    def test_worker_stopping_ends_only_its_own_sessions(self):
        # A worker stopped by itself (SIGTERM to it, not to the master)
        # finishes and destroys its instance, ending its session, then is
        # replaced by one that opens a session of its own.
        first = self.start_sessions()
        victim = min(self.kids)
        survivor = max(self.kids)
        start = harness.log_count(self.srv)
        os.kill(victim, signal.SIGTERM)
        m, i = harness.wait_log_from(self.srv, r"worker process %d exited with status 0" % victim, start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        m, _ = harness.wait_log_from(self.srv, r"worker process (\d+) started", i)
        self.assertIsNotNone(m, "no new worker process:\n" + self.srv.log()[-2000:])
        newpid = int(m.group(1))
        # A session ended by the worker goes within milliseconds: give it 2 s.
        left = harness.settle(self.sessions, lambda s: first[victim] not in s and len(s) == 2, 2.0)
        self.assertNotIn(first[victim], left, "the stopped worker's session")
        self.assertIn(first[survivor], left, "the survivor's session")
        owners = {b: self.holders(port) for b, port in left.items()}
        self.assertEqual(sorted(map(sorted, owners.values())), sorted([[survivor], [newpid]]))
        self.assertEqual(self.srv.stop(), 0, self.srv.log()[-2000:])

    def test_sigterm_exits_zero_and_ends_every_session(self):
        conns, _ = self.connect_to_each(self.kids)
        sessions = self.sessions()
        self.assertGreaterEqual(len(sessions), 2, "at least one session per worker")
        for conn in conns.values():
            conn[0].close()
        log_start = os.path.getsize(self.cluster.logfile)
        self.assertEqual(self.srv.stop(), 0, self.srv.log()[-2000:])
        for pid in self.kids:
            self.assertTrue(harness.settle(lambda: not harness.alive(pid), bool),
                            "worker %d outlived the master" % pid)
        self.assertEqual(harness.settle(self.sessions, lambda s: not s), {}, "sessions left after exit")
        # Every session was closed by the server (PQfinish), none dropped
        # when a process died with it still open.
        with open(self.cluster.logfile, "rb") as f:
            f.seek(log_start)
            log = f.read().decode(errors="replace")
        dropped = [l for l in log.splitlines() if "unexpected EOF on client connection" in l and
                   any("[%d]" % b in l for b in sessions)]
        self.assertEqual(dropped, [], "sessions %r" % sessions)


PG_RPC_SCHEMA = """
CREATE TABLE books (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, title TEXT NOT NULL, year INT);
""" + BOOKS_INSERT + """
CREATE VIEW recent_books AS SELECT id, title, year FROM books WHERE year >= 2000;
CREATE VIEW book_years AS SELECT year, count(*)::int AS n FROM books GROUP BY year;
CREATE TABLE reviews (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, book_id BIGINT REFERENCES books(id),
                      stars INT);
INSERT INTO reviews (book_id, stars) VALUES (3, 5), (3, 4), (1, 2);
CREATE TABLE stays (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, nights int4range,
                    span tstzrange, spans int4multirange);
INSERT INTO stays (nights, span, spans) VALUES
    ('[1,3)', '[2024-01-01 00:00+00,2024-01-05 00:00+00)', '{[1,3)}'),
    ('[3,6)', '[2024-02-01 00:00+00,2024-02-03 00:00+00)', '{[3,6)}'),
    ('[8,9)', NULL, '{[8,9),[20,30)}');
CREATE FUNCTION top_books(min_year int) RETURNS SETOF books LANGUAGE sql STABLE
    AS $$ SELECT * FROM books WHERE year >= min_year ORDER BY id $$;
CREATE FUNCTION add_them(a int, b int DEFAULT 10) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION add_book(title text, year int) RETURNS books LANGUAGE sql
    AS $$ INSERT INTO books (title, year) VALUES (title, year) RETURNING * $$;
CREATE FUNCTION book_stats() RETURNS TABLE (total bigint, newest int) LANGUAGE sql STABLE
    AS $$ SELECT count(*), max(year) FROM books $$;
CREATE FUNCTION touch(t text) RETURNS void LANGUAGE sql AS $$ UPDATE books SET title = t WHERE id = 1 $$;
CREATE FUNCTION echo_json(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT doc $$;
CREATE FUNCTION overloaded(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;
CREATE FUNCTION overloaded(a text) RETURNS text LANGUAGE sql AS $$ SELECT a $$;
"""


class PgViewRpcTest(DataViewCases, DataRpcSetCases, DataCountCases, unittest.TestCase):
    """Views (recent_books is updatable in PostgreSQL) and functions."""
    flavour = "pg"
    cluster = None
    RPC_SCHEMA = PG_RPC_SCHEMA
    EXTRA_TABLES = ", reviews, stays"
    RPC_KEYS = "functions = top_books, add_them, add_book, book_stats, echo_json, touch"
    MIN_YEAR_PROP = {"format": "integer"}

    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster()

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.destroy()

    def database_keys(self, name):
        self.db_name = name
        return "database = %s" % self.cluster.create_db(name)

    def planned(self, where):
        """Plan Rows of the top node, as EXPLAIN tells psql."""
        out = self.cluster.psql("EXPLAIN (FORMAT JSON) SELECT 1 FROM books WHERE %s" % where, db=self.db_name)
        return int(json.loads(out)[0]["Plan"]["Plan Rows"])

    def test_planned_count_without_statistics_is_not_the_exact_count(self):
        # books was never analysed: the planner guesses from its size on
        # disk, and the API passes the guess on
        r = self.req("GET", "/api/books", headers={"Prefer": "count=planned"})
        self.assertNotEqual(r.header("Content-Range"), "0-3/4")
        self.cluster.psql("ANALYZE books", db=self.db_name)
        r = self.req("GET", "/api/books", headers={"Prefer": "count=planned"})
        self.assertEqual((r.status, r.header("Content-Range")), (200, "0-3/4"))

    def test_range_operators(self):
        def ids(query):
            r = self.req("GET", "/api/stays?select=id&order=id&" + query)
            self.assertEqual(r.status, 200, r.body)
            return [x["id"] for x in jbody(r)]
        # nights: 1 [1,3)  2 [3,6)  3 [8,9)
        self.assertEqual(ids("nights=sl.[3,4)"), [1])          # strictly left of
        self.assertEqual(ids("nights=sr.[3,4)"), [3])          # strictly right of
        self.assertEqual(ids("nights=nxr.[4,7)"), [1, 2])      # does not extend right of
        self.assertEqual(ids("nights=nxl.[3,4)"), [2, 3])      # does not extend left of
        self.assertEqual(ids("nights=adj.[6,8)"), [2, 3])      # adjacent to
        self.assertEqual(ids("nights=not.adj.[6,8)"), [1])
        # in a logic tree a value holding ',' or ')' is quoted
        self.assertEqual(ids('or=(nights.sl."[2,3)",nights.sr."[7,8)")'), [3])
        q = urllib.parse.quote
        self.assertEqual(ids("span=sl." + q("[2024-01-10 00:00+00,2024-01-20 00:00+00)")), [1])
        self.assertEqual(ids("span=adj." + q("[2024-02-03 00:00+00,2024-03-01 00:00+00)")), [2])
        self.assertEqual(ids("span=adj." + q("(2024-02-03 00:00+00,2024-03-01 00:00+00)")), [])  # 02-03 in neither
        # a multirange column takes the operand as a multirange
        self.assertEqual(ids("spans=sr.{[6,7)}"), [3])
        self.assertEqual(ids("spans=nxr.{[1,10)}"), [1, 2])
        e = self.assertErr(self.req("GET", "/api/stays?nights=sl.[3,x)"), 400, "22P02")
        self.assertIn("x", e["message"])

    def test_updatable_view_takes_writes(self):
        r = self.req("POST", "/api/recent_books", {"title": "Epsilon", "year": 2024},
                     headers={"Prefer": "return=representation"})
        self.assertJson(r, 201, [{"id": 5, "title": "Epsilon", "year": 2024}])
        self.assertIsNone(r.header("Location"))
        r = self.req("PATCH", "/api/recent_books?id=eq.5", {"year": 2025}, headers={"Prefer": "return=representation"})
        self.assertJson(r, 200, [{"id": 5, "title": "Epsilon", "year": 2025}])
        self.assertEqual(self.req("DELETE", "/api/recent_books?id=eq.5").status, 204)
        self.assertJson(self.req("GET", "/api/books?select=id&order=id"), 200, [{"id": i} for i in range(1, 5)])
        r = self.req("PUT", "/api/recent_books?id=eq.2", {"id": 2, "title": "B", "year": 2005})
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST, PATCH, DELETE")
        r = self.req("POST", "/api/recent_books", {"id": 2, "title": "B", "year": 2005},
                     headers={"Prefer": "resolution=merge-duplicates"})
        self.assertErr(r, 400, "PGRST100")
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/recent_books"]), ["delete", "get", "patch", "post"])

    def test_read_only_route_makes_views_read_only(self):
        self.start(read_only=True)
        r = self.req("POST", "/api/recent_books", {"title": "Epsilon", "year": 2024})
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_scalar_function_returns_the_bare_value(self):
        r = self.req("POST", "/api/rpc/add_them", {"a": 1, "b": 2})
        self.assertEqual((r.status, r.body), (200, b"3\n"))
        self.assertJson(self.req("GET", "/api/rpc/add_them?a=5"), 200, 15)
        self.assertJson(self.req("POST", "/api/rpc/add_them", {"a": None}), 200, None)
        self.assertErr(self.req("GET", "/api/rpc/add_them?a=x"), 400, "22P02")
        self.assertJson(self.req("POST", "/api/rpc/echo_json", {"doc": {"k": [1, True]}}), 200, {"k": [1, True]})

    def test_composite_function_returns_an_object(self):
        r = self.req("GET", "/api/rpc/add_book?title=X&year=1")
        self.assertErr(r, 405, "PGRST117")
        self.assertEqual(r.header("Allow"), "POST")
        r = self.req("POST", "/api/rpc/add_book", {"title": "Epsilon", "year": 2024})
        self.assertJson(r, 200, {"id": 5, "title": "Epsilon", "year": 2024})
        r = self.req("POST", "/api/rpc/add_book", {"title": "Zeta", "year": 2025}, headers={"Prefer": "tx=rollback"})
        self.assertJson(r, 200, {"id": 6, "title": "Zeta", "year": 2025})
        self.assertJson(self.req("GET", "/api/books?select=title&id=gt.4"), 200, [{"title": "Epsilon"}])

    def test_rows_of_a_table_embed_like_the_table(self):
        r = self.req("POST", "/api/rpc/top_books?select=title,reviews(stars)&reviews.order=stars", {"min_year": 2006})
        self.assertJson(r, 200, [{"title": "Gamma", "reviews": [{"stars": 4}, {"stars": 5}]},
                                 {"title": "Delta", "reviews": []}])
        r = self.req("GET", "/api/rpc/top_books?min_year=1900&select=id,reviews!inner(id)&reviews.stars=gt.2")
        self.assertJson(r, 200, [{"id": 3, "reviews": [{"id": 1}, {"id": 2}]}])
        r = self.req("GET", "/api/rpc/book_stats?select=total,reviews(id)")
        self.assertErr(r, 400, "PGRST200")

    def test_void_function_answers_null(self):
        self.assertJson(self.req("POST", "/api/rpc/touch", {"t": "A"}), 200, None)
        self.assertJson(self.req("GET", "/api/books?select=title&id=eq.1"), 200, [{"title": "A"}])

    def test_table_function_returns_rows(self):
        self.assertJson(self.req("GET", "/api/rpc/book_stats"), 200, [{"total": 4, "newest": 2020}])
        self.assertJson(self.req("POST", "/api/rpc/book_stats?select=newest", {}), 200, [{"newest": 2020}])

    def test_read_only_route_refuses_volatile_functions(self):
        self.start(read_only=True)
        self.assertErr(self.req("POST", "/api/rpc/add_book", {"title": "X", "year": 1}), 405, "PGRST117")
        self.assertJson(self.req("POST", "/api/rpc/add_them", {"a": 1}), 200, 11)

    def test_openapi_marks_defaults_and_volatile_functions(self):
        doc = jbody(self.req("GET", "/api"))
        self.assertEqual(sorted(doc["paths"]["/rpc/add_book"]), ["post"])
        get = doc["paths"]["/rpc/add_them"]["get"]["parameters"]
        self.assertEqual([(p["name"], p["required"], p["format"]) for p in get],
                         [("a", True, "integer"), ("b", False, "integer")])

    def test_bad_functions_fail_the_start(self):
        for fns, msg in (("nosuch", "function nosuch does not exist, or has several overloads"),
                         ("overloaded", "function overloaded does not exist, or has several overloads")):
            routes = ("[route /api]\nplugin = data\ndatabase = %s\nschema = schema.sql\ntables = books\n"
                      "functions = %s\n" % (self.cluster.create_db("bad%d" % len(msg + fns)), fns))
            srv = harness.Server(harness.server_ini(routes=routes), files={"schema.sql": self.RPC_SCHEMA},
                                 expect_ready=False)
            try:
                srv.proc.wait(30)
                self.assertNotEqual(srv.proc.returncode, 0)
                self.assertTrue(srv.wait_log(msg, 5), srv.log())
            finally:
                srv.stop()


if __name__ == "__main__":
    harness.main()
