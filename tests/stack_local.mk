# Stacked routes and introspection (ABI 1.3): fixtures and tests. Included
# from the top-level Makefile.am after tests/local.mk, whose
# FIXTURE_LDFLAGS, UNIT_* and test environment it uses.

# One source, one build per role (see tests/plugins/stage.c).
check_LTLIBRARIES += tests/plugins/gate.la tests/plugins/upper.la tests/plugins/both.la \
	tests/plugins/norole.la tests/plugins/nobody.la tests/plugins/introspect.la
tests_plugins_gate_la_SOURCES = tests/plugins/stage.c
tests_plugins_gate_la_CFLAGS = $(AM_CFLAGS) -DSTAGE_GATE
tests_plugins_gate_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_upper_la_SOURCES = tests/plugins/stage.c
tests_plugins_upper_la_CFLAGS = $(AM_CFLAGS) -DSTAGE_UPPER
tests_plugins_upper_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_both_la_SOURCES = tests/plugins/stage.c
tests_plugins_both_la_CFLAGS = $(AM_CFLAGS) -DSTAGE_BOTH
tests_plugins_both_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_norole_la_SOURCES = tests/plugins/stage.c
tests_plugins_norole_la_CFLAGS = $(AM_CFLAGS) -DSTAGE_NOROLE
tests_plugins_norole_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_nobody_la_SOURCES = tests/plugins/stage.c
tests_plugins_nobody_la_CFLAGS = $(AM_CFLAGS) -DSTAGE_NOBODY
tests_plugins_nobody_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_introspect_la_SOURCES = tests/plugins/introspect.c
tests_plugins_introspect_la_LDFLAGS = $(FIXTURE_LDFLAGS)

check_PROGRAMS += tests/unit/test_stats
tests_unit_test_stats_SOURCES = tests/unit/test_stats.c
tests_unit_test_stats_CFLAGS = $(UNIT_CFLAGS) -DECHO_PLUGIN='"$(abs_builddir)/plugins/echo/.libs/echo.so"'
tests_unit_test_stats_LDADD = $(UNIT_LDADD) -lpthread
EXTRA_tests_unit_test_stats_DEPENDENCIES = $(plugin_LTLIBRARIES)

STACK_TESTS = tests/integration/test_stack_config.py
TESTS += tests/unit/test_stats $(STACK_TESTS)
EXTRA_DIST += $(STACK_TESTS)

check_PROGRAMS += tests/unit/test_gen
tests_unit_test_gen_SOURCES = tests/unit/test_gen.c
tests_unit_test_gen_CFLAGS = $(UNIT_CFLAGS) -DECHO_PLUGIN='"$(abs_builddir)/plugins/echo/.libs/echo.so"' \
	-DTEST_PLUGIN_DIR='"$(abs_builddir)/tests/plugins/.libs"'
tests_unit_test_gen_LDADD = $(UNIT_LDADD)
EXTRA_tests_unit_test_gen_DEPENDENCIES = $(check_LTLIBRARIES) $(plugin_LTLIBRARIES)
TESTS += tests/unit/test_gen
