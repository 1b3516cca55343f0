# plugins/status: this process's numbers as Prometheus metrics, JSON and a
# live HTML page.
plugin_LTLIBRARIES += plugins/status/status.la
plugins_status_status_la_SOURCES = plugins/status/status.c plugins/status/status_buf.c plugins/status/status_buf.h \
	plugins/status/status_expo.c plugins/status/status_expo.h plugins/status/status_json.c \
	plugins/status/status_json.h plugins/status/status_metrics.c plugins/status/status_metrics.h \
	plugins/status/status_page.c plugins/status/status_page.h plugins/status/status_snap.c \
	plugins/status/status_snap.h
plugins_status_status_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
EXTRA_DIST += plugins/status/README.md

TESTS += tests/integration/test_status.py
EXTRA_DIST += tests/integration/test_status.py

check_PROGRAMS += tests/unit/test_status_expo
tests_unit_test_status_expo_SOURCES = tests/unit/test_status_expo.c plugins/status/status_buf.c \
	plugins/status/status_expo.c plugins/status/status_json.c
tests_unit_test_status_expo_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/status
tests_unit_test_status_expo_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_status_expo_LDADD = $(CHECK_LIBS)
TESTS += tests/unit/test_status_expo
