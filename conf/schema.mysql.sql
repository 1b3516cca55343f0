-- Example schema of the data API, MySQL/MariaDB flavour (see schema.sql):
-- run by the data plugin when an exposed table is missing.
-- utf8mb4_bin makes text compare as PostgreSQL's does (case and trailing
-- spaces count); MariaDB's default collation would ignore both in eq, lt
-- and like filters.
CREATE TABLE IF NOT EXISTS notes (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    title TEXT NOT NULL CHECK (char_length(title) > 0),
    body TEXT,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
