# rules for plugins/data: the data API plugin (SQLite, PostgreSQL, MySQL/MariaDB).
DATA_CORE_SOURCES = \
	plugins/data/data_schema.c plugins/data/data_schema.h \
	plugins/data/data_value.c plugins/data/data_value.h \
	plugins/data/data_cast.c plugins/data/data_cast.h plugins/data/data_dialect.h \
	plugins/data/data_filter.c plugins/data/data_filter.h \
	plugins/data/data_jpath.c plugins/data/data_jpath.h \
	plugins/data/data_prefer.c plugins/data/data_prefer.h \
	plugins/data/data_query.c plugins/data/data_query.h \
	plugins/data/data_sql.c plugins/data/data_sql.h \
	plugins/data/data_count.c plugins/data/data_count.h \
	plugins/data/data_fts.c plugins/data/data_fts.h \
	plugins/data/data_json.c plugins/data/data_json.h \
	plugins/data/data_num.c plugins/data/data_num.h \
	plugins/data/data_jout.c plugins/data/data_jout.h \
	plugins/data/data_csv.c plugins/data/data_csv.h \
	plugins/data/data_openapi.c plugins/data/data_openapi.h \
	plugins/data/data_conf.c plugins/data/data_conf.h \
	plugins/data/data_myuri.c plugins/data/data_myuri.h \
	plugins/data/data_cors.c plugins/data/data_cors.h \
	plugins/data/data_role.c plugins/data/data_role.h \
	plugins/data/data_rpc.c plugins/data/data_rpc.h

plugin_LTLIBRARIES += plugins/data/data.la
plugins_data_data_la_SOURCES = $(DATA_CORE_SOURCES) \
	plugins/data/data.c plugins/data/data.h \
	plugins/data/data_rest.c \
	plugins/data/data_listing.c plugins/data/data_listing.h \
	plugins/data/data_auth.c plugins/data/data_auth.h \
	plugins/data/data_jwt.c plugins/data/data_jwt.h \
	plugins/data/data_db.h \
	plugins/data/data_pool.c plugins/data/data_pool.h \
	plugins/data/data_sqlite.c plugins/data/data_pg.c plugins/data/data_mysql.c \
	plugins/data/data_rpc_load.c plugins/data/data_rpc_load.h \
	plugins/data/data_sqlite_fts.c plugins/data/data_sqlite_fts.h \
	plugins/data/data_sqlite_view.c plugins/data/data_sqlite_view.h \
	plugins/data/data_mystmt.c plugins/data/data_mystmt.h
plugins_data_data_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE3_CFLAGS) $(LIBPQ_CFLAGS) \
	$(LIBMARIADB_CFLAGS) $(OPENSSL_CFLAGS)
plugins_data_data_la_LIBADD = $(JANSSON_LIBS) $(SQLITE3_LIBS) $(LIBPQ_LIBS) $(LIBMARIADB_LIBS) \
	$(OPENSSL_LIBS)
plugins_data_data_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

# Unit tests of the pure parts: query parsing, SQL text, values, JSON, keys.
check_PROGRAMS += tests/unit/test_data_query
tests_unit_test_data_query_SOURCES = tests/unit/test_data_query.c $(DATA_CORE_SOURCES)
# Linked with the core for the value parsers the server hands to plugins.
tests_unit_test_data_query_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/data -I$(top_srcdir)/server
tests_unit_test_data_query_CFLAGS = $(UNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_data_query_LDADD = $(UNIT_LDADD) $(JANSSON_LIBS)
TESTS += tests/unit/test_data_query

# Exact numbers and the answers' JSON text.
check_PROGRAMS += tests/unit/test_data_num
tests_unit_test_data_num_SOURCES = tests/unit/test_data_num.c $(DATA_CORE_SOURCES)
tests_unit_test_data_num_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/data -I$(top_srcdir)/server
tests_unit_test_data_num_CFLAGS = $(UNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_data_num_LDADD = $(UNIT_LDADD) $(JANSSON_LIBS)
TESTS += tests/unit/test_data_num

# Planned and estimated totals, and SQLite's INSTEAD OF triggers.
check_PROGRAMS += tests/unit/test_data_count
tests_unit_test_data_count_SOURCES = tests/unit/test_data_count.c $(DATA_CORE_SOURCES) \
	plugins/data/data_sqlite_view.c plugins/data/data_sqlite_view.h
tests_unit_test_data_count_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/data -I$(top_srcdir)/server
tests_unit_test_data_count_CFLAGS = $(UNIT_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_test_data_count_LDADD = $(UNIT_LDADD) $(JANSSON_LIBS) $(SQLITE3_LIBS)
TESTS += tests/unit/test_data_count

# The MySQL parts: URIs and the dialect's SQL text.
check_PROGRAMS += tests/unit/test_data_mysql_sql
tests_unit_test_data_mysql_sql_SOURCES = tests/unit/test_data_mysql_sql.c $(DATA_CORE_SOURCES)
tests_unit_test_data_mysql_sql_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/data -I$(top_srcdir)/server
tests_unit_test_data_mysql_sql_CFLAGS = $(UNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_data_mysql_sql_LDADD = $(UNIT_LDADD) $(JANSSON_LIBS)
TESTS += tests/unit/test_data_mysql_sql

# Tokens (base64url, claims at a fixed time) and grants.
check_PROGRAMS += tests/unit/test_data_jwt
tests_unit_test_data_jwt_SOURCES = tests/unit/test_data_jwt.c plugins/data/data_jwt.c plugins/data/data_jwt.h \
	$(DATA_CORE_SOURCES)
tests_unit_test_data_jwt_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/data -I$(top_srcdir)/server
tests_unit_test_data_jwt_CFLAGS = $(UNIT_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_data_jwt_LDADD = $(UNIT_LDADD) $(JANSSON_LIBS) $(OPENSSL_LIBS)
TESTS += tests/unit/test_data_jwt

# Full-text queries without tsquery (FTS5, MySQL boolean mode).
check_PROGRAMS += tests/unit/test_data_fts
tests_unit_test_data_fts_SOURCES = tests/unit/test_data_fts.c $(DATA_CORE_SOURCES)
tests_unit_test_data_fts_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/data -I$(top_srcdir)/server
tests_unit_test_data_fts_CFLAGS = $(UNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_data_fts_LDADD = $(UNIT_LDADD) $(JANSSON_LIBS)
TESTS += tests/unit/test_data_fts

DATA_INTEGRATION_TESTS = \
	tests/integration/test_data.py \
	tests/integration/test_data_pg.py \
	tests/integration/test_data_mysql.py \
	tests/integration/test_data_jwt.py \
	tests/integration/test_postgrest.py \
	tests/integration/test_notes_browser.py
TESTS += $(DATA_INTEGRATION_TESTS)
EXTRA_DIST += $(DATA_INTEGRATION_TESTS) tests/integration/pg.py tests/integration/mysqld.py \
	tests/integration/data_cases.py tests/integration/data_fts_cases.py \
	tests/integration/data_embed_cases.py \
	tests/integration/pgjs.py tests/integration/postgrest_js/package.json \
	tests/integration/postgrest_js/package-lock.json tests/integration/postgrest_js/scenarios.js \
	plugins/data/README.md
