# Unit tests (Check): one program per server/ file, linked with the core.
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS)
UNIT_LDADD = server/libphcore.la $(CHECK_LIBS) $(INIH_LIBS)

check_PROGRAMS += tests/unit/test_http_parse
tests_unit_test_http_parse_SOURCES = tests/unit/test_http_parse.c
tests_unit_test_http_parse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_http_parse_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_listener
tests_unit_test_listener_SOURCES = tests/unit/test_listener.c
tests_unit_test_listener_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_listener_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_router
tests_unit_test_router_SOURCES = tests/unit/test_router.c
tests_unit_test_router_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_router_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_plugin
tests_unit_test_plugin_SOURCES = tests/unit/test_plugin.c
tests_unit_test_plugin_CFLAGS = $(UNIT_CFLAGS) -DTEST_PLUGIN_DIR='"$(abs_builddir)/tests/plugins/.libs"' -DECHO_PLUGIN='"$(abs_builddir)/plugins/echo/.libs/echo.so"'
tests_unit_test_plugin_LDADD = $(UNIT_LDADD)
EXTRA_tests_unit_test_plugin_DEPENDENCIES = $(check_LTLIBRARIES) $(plugin_LTLIBRARIES)

check_PROGRAMS += tests/unit/test_ev
tests_unit_test_ev_SOURCES = tests/unit/test_ev.c
tests_unit_test_ev_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ev_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_log
tests_unit_test_log_SOURCES = tests/unit/test_log.c
tests_unit_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_log_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_pool
tests_unit_test_pool_SOURCES = tests/unit/test_pool.c
tests_unit_test_pool_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_pool_LDADD = $(UNIT_LDADD)

# Plugin fixtures: real shared objects with something wrong with them.
# -rpath forces libtool to build them shared although they are never installed.
FIXTURE_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
check_LTLIBRARIES += tests/plugins/bad_abi.la tests/plugins/no_symbol.la \
	tests/plugins/old_minor.la tests/plugins/refuse.la tests/plugins/misbehave.la
tests_plugins_bad_abi_la_SOURCES = tests/plugins/bad_abi.c
tests_plugins_bad_abi_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_no_symbol_la_SOURCES = tests/plugins/no_symbol.c
tests_plugins_no_symbol_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_old_minor_la_SOURCES = tests/plugins/old_minor.c
tests_plugins_old_minor_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_refuse_la_SOURCES = tests/plugins/refuse.c
tests_plugins_refuse_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_misbehave_la_SOURCES = tests/plugins/misbehave.c
tests_plugins_misbehave_la_LDFLAGS = $(FIXTURE_LDFLAGS)

TESTS += tests/unit/test_http_parse tests/unit/test_router tests/unit/test_config \
	tests/unit/test_plugin tests/unit/test_ev tests/unit/test_pool tests/unit/test_log \
	tests/unit/test_listener

# Integration tests: the real binary on an ephemeral port, driven over
# sockets and with curl. Each is a Python script using tests/integration/harness.py.
INTEGRATION_TESTS = \
	tests/integration/test_core.py \
	tests/integration/test_limits.py \
	tests/integration/test_config_cli.py \
	tests/integration/test_echo.py \
	tests/integration/test_conn_guard.py \
	tests/integration/test_socket_activation.py
TESTS += $(INTEGRATION_TESTS)
# What make install installs (issue 11): a DESTDIR install of this build.
TESTS += tests/integration/test_install.py tests/integration/test_reasons.py
EXTRA_DIST += tests/integration/test_install.py tests/integration/test_reasons.py
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/harness.py tests/integration/plugin_oot
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = python3
AM_TESTS_ENVIRONMENT = \
	PH_BINARY='$(abs_top_builddir)/plughttpd'; \
	PH_PLUGIN_DIR='$(abs_top_builddir)/plugins/lib'; \
	PH_FIXTURE_DIR='$(abs_top_builddir)/tests/plugins/.libs'; \
	PH_SRCDIR='$(abs_top_srcdir)'; \
	PYTHONPATH='$(abs_top_srcdir)/tests/integration'; \
	export PH_BINARY PH_PLUGIN_DIR PH_FIXTURE_DIR PH_SRCDIR PYTHONPATH;
