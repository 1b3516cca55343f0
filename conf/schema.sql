-- Example schema of the data API, SQLite flavour: run by the data plugin
-- when its database file is missing (key "schema" of the /api route).
-- "id INTEGER PRIMARY KEY" makes id SQLite's rowid, assigned on insert.
-- PostgreSQL needs an identity column instead: see schema.pg.sql.
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL CHECK (length(title) > 0),
    body TEXT,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
