# plugins/headers: an output filter that sets, adds and removes response
# header fields on a route.
plugin_LTLIBRARIES += plugins/headers/headers.la
plugins_headers_headers_la_SOURCES = plugins/headers/headers.c
plugins_headers_headers_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

TESTS += tests/integration/test_site_plugins.py
EXTRA_DIST += tests/integration/test_site_plugins.py plugins/headers/README.md
