# plugins/headers: an output filter that sets, adds and removes response
# header fields on a route.
plugin_LTLIBRARIES += plugins/headers/headers.la
plugins_headers_headers_la_SOURCES = plugins/headers/headers.c
plugins_headers_headers_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

TESTS += tests/integration/test_headers_return.py
EXTRA_DIST += tests/integration/test_headers_return.py plugins/headers/README.md
