# plugins/static: the static files plugin. The pure files (no plugin API)
# are listed once so the unit test links exactly what the plugin runs.
STATIC_PURE_SOURCES = \
	plugins/static/static_path.c plugins/static/static_path.h \
	plugins/static/static_range.c plugins/static/static_range.h \
	plugins/static/static_cond.c plugins/static/static_cond.h \
	plugins/static/static_mime.c plugins/static/static_mime.h \
	plugins/static/static_enc.c plugins/static/static_enc.h \
	plugins/static/static_dir.c plugins/static/static_dir.h \
	plugins/static/static_file.c plugins/static/static_file.h \
	plugins/static/static_cache.c plugins/static/static_cache.h

plugin_LTLIBRARIES += plugins/static/static.la
plugins_static_static_la_SOURCES = plugins/static/static.c $(STATIC_PURE_SOURCES)
plugins_static_static_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

check_PROGRAMS += tests/unit/test_static
tests_unit_test_static_SOURCES = tests/unit/test_static.c $(STATIC_PURE_SOURCES) server/urlenc.c server/urlenc.h
tests_unit_test_static_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/static
tests_unit_test_static_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_static_LDADD = $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_static_cache
tests_unit_test_static_cache_SOURCES = tests/unit/test_static_cache.c $(STATIC_PURE_SOURCES)
tests_unit_test_static_cache_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/static
tests_unit_test_static_cache_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_static_cache_LDADD = $(CHECK_LIBS)

TESTS += tests/unit/test_static tests/unit/test_static_cache tests/integration/test_static.py
EXTRA_DIST += tests/integration/test_static.py plugins/static/README.md
