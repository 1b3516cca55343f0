# Unit tests (Check): one program per server/ file, linked with the core.
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS)
UNIT_LDADD = server/libphcore.la $(CHECK_LIBS) $(INIH_LIBS)

check_PROGRAMS += tests/unit/test_http_parse
tests_unit_test_http_parse_SOURCES = tests/unit/test_http_parse.c
tests_unit_test_http_parse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_http_parse_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_crash
tests_unit_test_crash_SOURCES = tests/unit/test_crash.c
tests_unit_test_crash_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_crash_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_proxy_proto
tests_unit_test_proxy_proto_SOURCES = tests/unit/test_proxy_proto.c
tests_unit_test_proxy_proto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_proxy_proto_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_request
tests_unit_test_request_SOURCES = tests/unit/test_request.c
tests_unit_test_request_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_request_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_listener
tests_unit_test_listener_SOURCES = tests/unit/test_listener.c
tests_unit_test_listener_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_listener_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_router
tests_unit_test_router_SOURCES = tests/unit/test_router.c
tests_unit_test_router_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_router_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_hostname
tests_unit_test_hostname_SOURCES = tests/unit/test_hostname.c
tests_unit_test_hostname_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_hostname_LDADD = $(UNIT_LDADD)

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

check_PROGRAMS += tests/unit/test_coro tests/unit/test_coro_ucontext
tests_unit_test_coro_SOURCES = tests/unit/test_coro.c
tests_unit_test_coro_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_coro_LDADD = $(UNIT_LDADD)
# The same tests on the ucontext switch, which the server uses only where
# there is no hand-written one: built here too so both are tested.
tests_unit_test_coro_ucontext_SOURCES = tests/unit/test_coro.c server/coro.c
tests_unit_test_coro_ucontext_CFLAGS = $(UNIT_CFLAGS) -DCORO_UCONTEXT=1
tests_unit_test_coro_ucontext_LDADD = $(UNIT_LDADD)

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
check_LTLIBRARIES += tests/plugins/minor5.la
tests_plugins_minor5_la_SOURCES = tests/plugins/minor5.c
tests_plugins_minor5_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_refuse_la_SOURCES = tests/plugins/refuse.c
tests_plugins_refuse_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_misbehave_la_SOURCES = tests/plugins/misbehave.c
tests_plugins_misbehave_la_LDFLAGS = $(FIXTURE_LDFLAGS)

# Crash containment (tests/integration/test_crash.py).
check_LTLIBRARIES += tests/plugins/crashy.la
tests_plugins_crashy_la_SOURCES = tests/plugins/crashy.c
tests_plugins_crashy_la_LDFLAGS = $(FIXTURE_LDFLAGS)

# ABI 1.3 request-lifecycle fixtures (tests/integration/test_api13_*.py).
check_LTLIBRARIES += tests/plugins/guard.la tests/plugins/guardsrv.la tests/plugins/sink.la \
	tests/plugins/later.la tests/plugins/sse.la tests/plugins/caps.la tests/plugins/probe.la
FIXTURE13_CFLAGS = $(AM_CFLAGS) -pthread
FIXTURE13_LIBADD = -lpthread
tests_plugins_guard_la_SOURCES = tests/plugins/guard.c tests/plugins/fx_threads.h
tests_plugins_guard_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_guard_la_CFLAGS = $(FIXTURE13_CFLAGS)
tests_plugins_guard_la_LIBADD = $(FIXTURE13_LIBADD)
tests_plugins_guardsrv_la_SOURCES = tests/plugins/guard.c tests/plugins/fx_threads.h
tests_plugins_guardsrv_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_guardsrv_la_CFLAGS = $(FIXTURE13_CFLAGS) -DGUARD_CONTENT
tests_plugins_guardsrv_la_LIBADD = $(FIXTURE13_LIBADD)
tests_plugins_sink_la_SOURCES = tests/plugins/sink.c tests/plugins/sha256.h tests/plugins/fx_threads.h
tests_plugins_sink_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_sink_la_CFLAGS = $(FIXTURE13_CFLAGS)
tests_plugins_sink_la_LIBADD = $(FIXTURE13_LIBADD)
tests_plugins_later_la_SOURCES = tests/plugins/later.c tests/plugins/fx_threads.h
tests_plugins_later_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_later_la_CFLAGS = $(FIXTURE13_CFLAGS)
tests_plugins_later_la_LIBADD = $(FIXTURE13_LIBADD)
tests_plugins_sse_la_SOURCES = tests/plugins/sse.c
tests_plugins_sse_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_sse_la_CFLAGS = $(FIXTURE13_CFLAGS)
tests_plugins_sse_la_LIBADD = $(FIXTURE13_LIBADD)
tests_plugins_caps_la_SOURCES = tests/plugins/caps.c
tests_plugins_caps_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_probe_la_SOURCES = tests/plugins/probe.c tests/plugins/sha256.h
tests_plugins_probe_la_LDFLAGS = $(FIXTURE_LDFLAGS)

# The event-loop calls and lifecycle hooks (ABI 1.3): test_loop_api.py.
check_LTLIBRARIES += tests/plugins/loopy.la
tests_plugins_loopy_la_SOURCES = tests/plugins/loopy.c
tests_plugins_loopy_la_CFLAGS = $(AM_CFLAGS) -pthread
tests_plugins_loopy_la_LDFLAGS = $(FIXTURE_LDFLAGS) -pthread
check_PROGRAMS += tests/unit/test_api_loop
tests_unit_test_api_loop_SOURCES = tests/unit/test_api_loop.c
tests_unit_test_api_loop_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_api_loop_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/test_api_loop tests/integration/test_loop_api.py
EXTRA_DIST += tests/integration/test_loop_api.py

# A released generation's libraries stay mapped until the loops left its
# tasks (fixture: tests/plugins/linger.c): test_unload_barrier.py.
check_LTLIBRARIES += tests/plugins/linger.la
tests_plugins_linger_la_SOURCES = tests/plugins/linger.c
tests_plugins_linger_la_CFLAGS = $(AM_CFLAGS) -pthread
tests_plugins_linger_la_LDFLAGS = $(FIXTURE_LDFLAGS) -pthread
TESTS += tests/integration/test_unload_barrier.py
EXTRA_DIST += tests/integration/test_unload_barrier.py

# Coroutine handlers, the core's side (ABI 1.4): test_co_core.py.
check_LTLIBRARIES += tests/plugins/co_core.la
tests_plugins_co_core_la_SOURCES = tests/plugins/co_core.c
tests_plugins_co_core_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_PROGRAMS += tests/unit/test_api_co
tests_unit_test_api_co_SOURCES = tests/unit/test_api_co.c
tests_unit_test_api_co_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_api_co_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/test_api_co tests/integration/test_co_core.py
EXTRA_DIST += tests/integration/test_co_core.py

check_PROGRAMS += tests/unit/test_tls
tests_unit_test_tls_SOURCES = tests/unit/test_tls.c
tests_unit_test_tls_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tls_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/test_tls

TESTS += tests/unit/test_http_parse tests/unit/test_request tests/unit/test_proxy_proto tests/unit/test_router tests/unit/test_hostname tests/unit/test_crash tests/unit/test_config \
	tests/unit/test_plugin tests/unit/test_ev tests/unit/test_pool tests/unit/test_log \
	tests/unit/test_listener tests/unit/test_coro tests/unit/test_coro_ucontext

# Integration tests: the real binary on an ephemeral port, driven over
# sockets and with curl. Each is a Python script using tests/integration/harness.py.
# HTTPS (tests/integration/tlsutil.py makes the certificates)
INTEGRATION_TESTS = tests/integration/test_tls.py tests/integration/test_tls_attack.py tests/integration/test_testssl.py \
	tests/integration/test_h2.py tests/integration/test_h2_attack.py
# Virtual hosts ([route HOST/prefix], unknown_host, 421 against TLS SNI)
INTEGRATION_TESTS += tests/integration/test_vhost.py
INTEGRATION_TESTS += \
	tests/integration/test_core.py \
	tests/integration/test_limits.py \
	tests/integration/test_config_cli.py \
	tests/integration/test_echo.py \
	tests/integration/test_conn_guard.py \
	tests/integration/test_socket_activation.py
# ABI 1.3 request lifecycle (fixtures: tests/plugins/{guard,sink,later,sse,caps,probe}.c)
INTEGRATION_TESTS += tests/integration/test_api13_head.py tests/integration/test_api13_body.py \
	tests/integration/test_api13_async.py tests/integration/test_api13_stream.py \
	tests/integration/test_api13_output.py tests/integration/test_api13_review.py \
	tests/integration/test_api13_offthread.py tests/integration/test_logs.py \
	tests/integration/test_proxy_protocol.py
EXTRA_DIST += tests/integration/api13.py
TESTS += $(INTEGRATION_TESTS)
# What make install installs (issue 11): a DESTDIR install of this build.
TESTS += tests/integration/test_install.py tests/integration/test_reasons.py
EXTRA_DIST += tests/integration/test_install.py tests/integration/test_reasons.py
# The plugin API's man page against plugin.h (issue 12).
TESTS += tests/integration/test_plugin_doc.py
EXTRA_DIST += tests/integration/test_plugin_doc.py
# The configuration file's man page against conf/reference.ini (issue 16).
TESTS += tests/integration/test_config_doc.py
EXTRA_DIST += tests/integration/test_config_doc.py
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/harness.py tests/integration/tlsutil.py tests/integration/h2util.py tests/integration/plugin_oot
# ABI 1.4 coroutine handlers (tests/integration/test_coroutines.py): one
# fixture built twice, with the body buffered (cofx) and streamed (cofxs).
check_LTLIBRARIES += tests/plugins/cofx.la tests/plugins/cofxs.la
tests_plugins_cofx_la_SOURCES = tests/plugins/cofx.c
tests_plugins_cofx_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_cofxs_la_SOURCES = tests/plugins/cofx.c
tests_plugins_cofxs_la_CFLAGS = $(AM_CFLAGS) -DCOFX_STREAM
tests_plugins_cofxs_la_LDFLAGS = $(FIXTURE_LDFLAGS)
TESTS += tests/integration/test_coroutines.py
EXTRA_DIST += tests/integration/test_coroutines.py
# ABI 1.8 streamed answers from blocking handlers (server/bstream.c): one
# fixture built at this minor (bsend) and claiming minor 7 (bsend7).
check_LTLIBRARIES += tests/plugins/bsend.la tests/plugins/bsend7.la
tests_plugins_bsend_la_SOURCES = tests/plugins/bsend.c
tests_plugins_bsend_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_bsend_la_CFLAGS = $(AM_CFLAGS) -pthread
tests_plugins_bsend7_la_SOURCES = tests/plugins/bsend.c
tests_plugins_bsend7_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_bsend7_la_CFLAGS = $(AM_CFLAGS) -pthread -DBSEND_MINOR7
TESTS += tests/integration/test_bstream.py
EXTRA_DIST += tests/integration/test_bstream.py
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = python3
AM_TESTS_ENVIRONMENT = \
	PH_BINARY='$(abs_top_builddir)/plughttpd'; \
	PH_PLUGIN_DIR='$(abs_top_builddir)/plugins/lib'; \
	PH_FIXTURE_DIR='$(abs_top_builddir)/tests/plugins/.libs'; \
	PH_SRCDIR='$(abs_top_srcdir)'; \
	PYTHONPATH='$(abs_top_srcdir)/tests/integration'; \
	export PH_BINARY PH_PLUGIN_DIR PH_FIXTURE_DIR PH_SRCDIR PYTHONPATH;

# [server] trusted_proxies, real_ip_header, send_request_id and
# max_connections_per_address (server/realip.c, server/addrcount.c)
check_PROGRAMS += tests/unit/test_realip tests/unit/test_addrcount
tests_unit_test_realip_SOURCES = tests/unit/test_realip.c
tests_unit_test_realip_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_realip_LDADD = $(UNIT_LDADD)
tests_unit_test_addrcount_SOURCES = tests/unit/test_addrcount.c
tests_unit_test_addrcount_CFLAGS = $(UNIT_CFLAGS) -pthread
tests_unit_test_addrcount_LDADD = $(UNIT_LDADD) -lpthread
TESTS += tests/unit/test_realip tests/unit/test_addrcount tests/integration/test_realip.py
EXTRA_DIST += tests/integration/test_realip.py

# State across reloads (ABI 1.6 take_over): test_handover.py. The fixture
# is built twice so that a reload can replace its file.
check_LTLIBRARIES += tests/plugins/handover_a.la tests/plugins/handover_b.la
tests_plugins_handover_a_la_SOURCES = tests/plugins/handover.c
tests_plugins_handover_a_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_handover_b_la_SOURCES = tests/plugins/handover.c
tests_plugins_handover_b_la_LDFLAGS = $(FIXTURE_LDFLAGS)
tests_plugins_handover_b_la_CFLAGS = $(AM_CFLAGS) -DHANDOVER_BUILD='"B"'
TESTS += tests/integration/test_handover.py
EXTRA_DIST += tests/integration/test_handover.py

# Shared zones (ABI 1.6): the slab allocator and the zone registry.
check_PROGRAMS += tests/unit/test_slab tests/unit/test_zone
tests_unit_test_slab_SOURCES = tests/unit/test_slab.c
tests_unit_test_slab_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_slab_LDADD = $(UNIT_LDADD)
tests_unit_test_zone_SOURCES = tests/unit/test_zone.c
tests_unit_test_zone_CFLAGS = $(UNIT_CFLAGS) -pthread
tests_unit_test_zone_LDADD = $(UNIT_LDADD) -lpthread
TESTS += tests/unit/test_slab tests/unit/test_zone
check_LTLIBRARIES += tests/plugins/counter.la
tests_plugins_counter_la_SOURCES = tests/plugins/counter.c
tests_plugins_counter_la_LDFLAGS = $(FIXTURE_LDFLAGS)
TESTS += tests/integration/test_zones.py
EXTRA_DIST += tests/integration/test_zones.py

# The plugin test harness (libplughttpd-test) on echo and the async,
# streaming and coroutine fixtures.
check_PROGRAMS += tests/unit/test_harness
tests_unit_test_harness_SOURCES = tests/unit/test_harness.c
tests_unit_test_harness_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -DTEST_PLUGIN_DIR='"$(abs_builddir)/tests/plugins/.libs"' -DECHO_PLUGIN='"$(abs_builddir)/plugins/echo/.libs/echo.so"'
tests_unit_test_harness_LDADD = harness/libplughttpd-test.la $(CHECK_LIBS)
EXTRA_tests_unit_test_harness_DEPENDENCIES = $(check_LTLIBRARIES) $(plugin_LTLIBRARIES)
TESTS += tests/unit/test_harness
# The author's kit from an installed tree: scaffold, make check, serve, hot-load.
TESTS += tests/integration/test_authors_kit.py
EXTRA_DIST += tests/integration/test_authors_kit.py
