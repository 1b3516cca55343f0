#!/usr/bin/env python3
"""The data plugin on PostgreSQL: the same API tests as test_data.py
(data_cases.py) against a throwaway cluster (pg.py), plus a stopped server
(503, then recovery) and a table lock held by another session.

Without PostgreSQL binaries these tests fail: CI installs them."""

import contextlib
import os
import subprocess
import unittest

import harness
from data_cases import DataApiCases
from pg import PgCluster


class PgDataTest(DataApiCases, unittest.TestCase):
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


if __name__ == "__main__":
    harness.main()
