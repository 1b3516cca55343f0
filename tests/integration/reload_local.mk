# Reload, worker-process and systemd-service tests (issue 5). Included from
# the top-level Makefile.am after tests/local.mk: it uses FIXTURE_LDFLAGS,
# and the test environment and TEST_EXTENSIONS set there.

# Two builds of one test plugin, "swap", answering "A\n" and "B\n".
check_LTLIBRARIES += tests/plugins/version_a.la tests/plugins/version_b.la
tests_plugins_version_a_la_SOURCES = tests/plugins/version_a.c
tests_plugins_version_a_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_version_b_la_SOURCES = tests/plugins/version_b.c
tests_plugins_version_b_la_LDFLAGS = $(FIXTURE_LDFLAGS)

RELOAD_TESTS = \
	tests/integration/test_reload.py \
	tests/integration/test_processes.py \
	tests/integration/test_service.py \
	tests/integration/test_process_reloads.py \
	tests/integration/test_privileges.py \
	tests/integration/test_container.py \
	tests/integration/test_crash.py
TESTS += $(RELOAD_TESTS)
EXTRA_DIST += $(RELOAD_TESTS)
