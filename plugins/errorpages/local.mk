# plugins/errorpages: the site's own bodies for a route's error answers.
plugin_LTLIBRARIES += plugins/errorpages/errorpages.la
plugins_errorpages_errorpages_la_SOURCES = plugins/errorpages/errorpages.c
plugins_errorpages_errorpages_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
EXTRA_DIST += plugins/errorpages/README.md
