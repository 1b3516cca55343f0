# plugins/proxy: the reverse proxy (a coroutine handler, plugin ABI 1.4).
# The pure files (no plugin API calls) are listed once so a unit test can
# link exactly what the plugin runs.
PROXY_PURE_SOURCES = \
	plugins/proxy/proxy_buf.c plugins/proxy/proxy_buf.h \
	plugins/proxy/proxy_hop.c plugins/proxy/proxy_hop.h \
	plugins/proxy/proxy_upstream.c plugins/proxy/proxy_upstream.h

plugin_LTLIBRARIES += plugins/proxy/proxy.la
plugins_proxy_proxy_la_SOURCES = plugins/proxy/proxy.c plugins/proxy/proxy.h \
	plugins/proxy/proxy_conf.c plugins/proxy/proxy_conf.h \
	plugins/proxy/proxy_pool.c plugins/proxy/proxy_pool.h \
	plugins/proxy/proxy_health.c plugins/proxy/proxy_health.h \
	plugins/proxy/proxy_request.c plugins/proxy/proxy_request.h \
	plugins/proxy/proxy_response.c plugins/proxy/proxy_response.h \
	plugins/proxy/proxy_exchange.c plugins/proxy/proxy_exchange.h \
	plugins/proxy/proxy_tunnel.c plugins/proxy/proxy_tunnel.h \
	$(PROXY_PURE_SOURCES)
plugins_proxy_proxy_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

TESTS += tests/integration/test_proxy.py
EXTRA_DIST += tests/integration/test_proxy.py tests/integration/proxy_upstream.py plugins/proxy/README.md bench/proxy

check_PROGRAMS += tests/unit/test_proxy
tests_unit_test_proxy_SOURCES = tests/unit/test_proxy.c $(PROXY_PURE_SOURCES)
tests_unit_test_proxy_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/proxy
tests_unit_test_proxy_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_proxy_LDADD = $(CHECK_LIBS)
TESTS += tests/unit/test_proxy
