#!/usr/bin/env python3
"""The data plugin on SQLite: every endpoint (data_cases.py), concurrency,
a locked database (503) and a waiting data request next to other routes."""

import contextlib
import os
import sqlite3
import unittest

import harness
from data_cases import DataApiCases


class SqliteDataTest(DataApiCases, unittest.TestCase):
    flavour = "sqlite"

    def database_keys(self, name):
        self.db_name = name
        return "database = sqlite:data/%s.db\nschema = schema.sql" % name

    def db_path(self):
        return os.path.join(self.srv.dir, "data", self.db_name + ".db")

    @contextlib.contextmanager
    def hold_write_lock(self):
        # WAL mode: an exclusive transaction blocks writers, not readers.
        con = sqlite3.connect(self.db_path(), timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            con.rollback() if con.in_transaction else None
            con.close()

    def outage(self):
        # Writes wait busy_timeout for the lock, then give up with 503.
        return self.hold_write_lock()

    def test_database_created_from_schema_in_wal_mode(self):
        path = self.db_path()
        self.assertTrue(os.path.exists(path))
        con = sqlite3.connect(path)
        try:
            self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            self.assertLessEqual({"notes", "kinds"}, names)
        finally:
            con.close()

    def test_bad_schema_file_stops_the_server_and_leaves_no_file(self):
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/x.db\n"
                  "schema = schema.sql\ntables = notes\n")
        srv = harness.Server(harness.server_ini(routes=routes),
                             files={"schema.sql": "CREATE TABLE broken (;"}, expect_ready=False)
        try:
            srv.proc.wait(15)
            self.assertNotEqual(srv.proc.returncode, 0)
            self.assertTrue(srv.wait_log("schema", 5), srv.log())
            self.assertFalse(os.path.exists(os.path.join(srv.dir, "data", "x.db")))
        finally:
            srv.stop()


if __name__ == "__main__":
    harness.main()
