# plugins/return: fixed answers and redirects built from a template.
plugin_LTLIBRARIES += plugins/return/return.la
plugins_return_return_la_SOURCES = plugins/return/return.c
plugins_return_return_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
EXTRA_DIST += plugins/return/README.md
