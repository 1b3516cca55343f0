# tests/fuzz: libFuzzer harnesses, the valgrind pass and the hostile-client
# integration test. Included from the top-level Makefile.am.
#
#   make fuzz             build the harnesses (clang, libFuzzer + ASan + UBSan)
#   make fuzz-run         run each for FUZZ_TIME seconds (default 60); fails on
#                         any crash, leak, timeout or sanitizer report
#   make check-valgrind   the integration tests with the server under valgrind
#
# The harnesses compile the pure sources directly with clang, whatever CC
# configure chose, so they live outside automake's program lists. fuzz_conn
# compiles the whole core and loads the echo and static plugins, built here
# with the same instrumentation, from tests/fuzz/conn-plugins/.

TESTS += tests/integration/test_hostile.py
EXTRA_DIST += tests/integration/test_hostile.py tests/fuzz tests/static-analysis.sh .clang-tidy \
	tests/check_stack_writes.py

FUZZ_CC = clang
FUZZ_TIME = 60
FUZZ_COMMON = -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -D_GNU_SOURCE \
	-I$(top_srcdir)/include -I$(top_srcdir)/server
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined $(FUZZ_COMMON)
FUZZ_HARNESSES = http_parse range path data_query realip conn

# Each harness: its sources (the pure files it drives) and include folders.
fuzz_http_parse_SRC = tests/fuzz/fuzz_http_parse.c server/http_parse.c server/proxy_proto.c
fuzz_http_parse_INC =
fuzz_range_SRC = tests/fuzz/fuzz_range.c plugins/static/static_range.c
fuzz_range_INC = -I$(top_srcdir)/plugins/static
fuzz_path_SRC = tests/fuzz/fuzz_path.c server/http_parse.c plugins/static/static_path.c
fuzz_path_INC = -I$(top_srcdir)/plugins/static
fuzz_realip_SRC = tests/fuzz/fuzz_realip.c server/realip.c server/cidr.c
fuzz_realip_INC =
fuzz_data_query_SRC = tests/fuzz/fuzz_data_query.c plugins/data/data_query.c \
	plugins/data/data_filter.c plugins/data/data_cast.c \
	plugins/data/data_schema.c plugins/data/data_value.c plugins/data/data_sql.c \
	plugins/data/data_fts.c
fuzz_data_query_INC = -I$(top_srcdir)/plugins/data
fuzz_data_query_LIBS = -lm
# The whole core library (everything but main()), as the server links it.
fuzz_conn_SRC = tests/fuzz/fuzz_conn.c $(filter %.c %.S,$(server_libphcore_la_SOURCES))
fuzz_conn_INC = -I$(top_builddir) $(INIH_CFLAGS) $(OPENSSL_CFLAGS) $(NGHTTP2_CFLAGS) -DPH_PLUGIN_DIR='"/nonexistent"' -DPH_SYSCONF_DIR='"/nonexistent"'
fuzz_conn_LIBS = $(INIH_LIBS) $(OPENSSL_LIBS) $(NGHTTP2_LIBS) -ldl -lpthread

# The plugins fuzz_conn loads: instrumented like the harness (coverage
# included, libFuzzer itself is in the program), loaded by the real plugin
# loader, which refuses a file writable by group or others.
FUZZ_SO_FLAGS = -fsanitize=fuzzer-no-link,address,undefined $(FUZZ_COMMON) -fPIC -shared -fvisibility=hidden
FUZZ_PLUGINS = tests/fuzz/conn-plugins/echo.so tests/fuzz/conn-plugins/static.so
# ABI 1.3 stages and answers (fixtures of tests/plugins/): an access stage
# (sync and async), a streamed body with pauses, an answer from a thread,
# a waiting event stream, the request-information calls, and the
# gate/upper stages of a stacked route.
FUZZ_FIXTURES = guard sink later sse probe
FUZZ_STAGES = gate upper
FUZZ_PLUGINS += $(FUZZ_FIXTURES:%=tests/fuzz/conn-plugins/%.so) $(FUZZ_STAGES:%=tests/fuzz/conn-plugins/%.so)
CLEANFILES += $(FUZZ_PLUGINS)
$(FUZZ_FIXTURES:%=tests/fuzz/conn-plugins/%.so): tests/fuzz/conn-plugins/%.so: $(top_srcdir)/tests/plugins/%.c \
		$(top_srcdir)/include/plughttpd/plugin.h
	@$(MKDIR_P) tests/fuzz/conn-plugins
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_SO_FLAGS) -pthread $< -o $@ -lpthread
	@chmod go-w $@
tests/fuzz/conn-plugins/gate.so tests/fuzz/conn-plugins/upper.so: tests/fuzz/conn-plugins/%.so: \
		$(top_srcdir)/tests/plugins/stage.c $(top_srcdir)/include/plughttpd/plugin.h
	@$(MKDIR_P) tests/fuzz/conn-plugins
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_SO_FLAGS) -DSTAGE_$(shell echo $* | tr a-z A-Z) $< -o $@
	@chmod go-w $@
tests/fuzz/conn-plugins/echo.so: $(top_srcdir)/plugins/echo/echo.c $(top_srcdir)/include/plughttpd/plugin.h
	@$(MKDIR_P) tests/fuzz/conn-plugins
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_SO_FLAGS) $(JANSSON_CFLAGS) $(top_srcdir)/plugins/echo/echo.c -o $@ $(JANSSON_LIBS)
	@chmod go-w $@
tests/fuzz/conn-plugins/static.so: $(wildcard $(top_srcdir)/plugins/static/*.[ch]) $(top_srcdir)/include/plughttpd/plugin.h
	@$(MKDIR_P) tests/fuzz/conn-plugins
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_SO_FLAGS) -I$(top_srcdir)/plugins/static \
		$(wildcard $(top_srcdir)/plugins/static/*.c) -o $@
	@chmod go-w $@
tests/fuzz/fuzz_conn: $(FUZZ_PLUGINS) $(wildcard $(top_srcdir)/server/*.[chS])

FUZZ_BINS = $(FUZZ_HARNESSES:%=tests/fuzz/fuzz_%)
CLEANFILES += $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)

# Rebuilt when any file they compile changes (a harness's own sources are
# a subset of these).
$(FUZZ_BINS): $(wildcard $(top_srcdir)/server/http_parse.[ch] $(top_srcdir)/plugins/static/static_*.[ch] \
	$(top_srcdir)/plugins/data/data_*.[ch] $(top_srcdir)/include/plughttpd/plugin.h)

# One pattern rule; the per-harness variables are looked up by name.
$(FUZZ_BINS): tests/fuzz/fuzz_%: $(top_srcdir)/tests/fuzz/fuzz_%.c
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_FLAGS) $(fuzz_$*_INC) \
		$(addprefix $(top_srcdir)/,$(fuzz_$*_SRC)) -o $@ $(fuzz_$*_LIBS)

# New inputs go to a scratch corpus in the build tree; the checked-in seeds
# (second folder) are only read. libFuzzer exits non-zero on a crash, a leak,
# a timeout (-timeout, seconds per input) or an out-of-memory; the crashing
# input is left in tests/fuzz/artifacts/. Every harness runs even when an
# earlier one failed; each leaves tests/fuzz/fuzz_NAME.log and a .trs with
# automake's ":test-result:" line, so CI counts them like tests.
fuzz-run: fuzz
	@$(MKDIR_P) tests/fuzz/artifacts
	@fail=0; for h in $(FUZZ_HARNESSES); do \
	  $(MKDIR_P) tests/fuzz/work/$$h; \
	  echo "fuzz_$$h: $(FUZZ_TIME) s"; \
	  if ./tests/fuzz/fuzz_$$h -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=1024 \
	    -print_final_stats=1 -artifact_prefix=tests/fuzz/artifacts/$$h- \
	    tests/fuzz/work/$$h $(top_srcdir)/tests/fuzz/corpus/$$h \
	    > tests/fuzz/fuzz_$$h.log 2>&1; then \
	    echo ":test-result: PASS" > tests/fuzz/fuzz_$$h.trs; \
	    grep -E '^stat::number_of_executed_units' tests/fuzz/fuzz_$$h.log || true; \
	  else \
	    echo ":test-result: FAIL" > tests/fuzz/fuzz_$$h.trs; fail=1; \
	    grep -E -B2 -A8 'ERROR|runtime error|deadly signal' tests/fuzz/fuzz_$$h.log | head -n 60; \
	    echo "FAIL: fuzz_$$h (inputs in tests/fuzz/artifacts/$$h-*)"; \
	  fi; \
	done; exit $$fail

# The integration tests with the server run under valgrind (harness.py puts
# PH_WRAPPER in front of the server command and fails a test when the wrapped
# server exits non-zero or its log shows a valgrind error). Plugins are
# unloaded at exit and on reload, so definite leaks there are caught too.
# VALGRIND_TESTS can name a subset.
VALGRIND = valgrind
VALGRIND_FLAGS = --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-fds=no --num-callers=30 \
	--suppressions=$(top_srcdir)/tests/fuzz/valgrind.supp
VALGRIND_TESTS = tests/integration/test_core.py tests/integration/test_echo.py \
	tests/integration/test_static.py tests/integration/test_hostile.py \
	tests/integration/test_socket_activation.py \
	tests/integration/test_api13_head.py tests/integration/test_api13_body.py \
	tests/integration/test_api13_async.py tests/integration/test_api13_stream.py \
	tests/integration/test_api13_output.py tests/integration/test_loop_api.py \
	tests/integration/test_stack_config.py \
	tests/integration/test_pubsub.py \
	tests/integration/test_co_core.py
EXTRA_DIST += tests/fuzz/valgrind.supp
CLEANFILES += tests/unit/test_coro_valgrind.log tests/unit/test_coro_valgrind.trs

check-valgrind: all $(check_PROGRAMS) $(check_LTLIBRARIES)
	@# the coroutine switches and stacks (registered with valgrind), in one process
	@# (its .trs makes a valgrind error count as a failure in CI's summary)
	if CK_FORK=no $(VALGRIND) $(VALGRIND_FLAGS) tests/unit/test_coro > tests/unit/test_coro_valgrind.log 2>&1; then \
		echo ":test-result: PASS" > tests/unit/test_coro_valgrind.trs; \
	else \
		echo ":test-result: FAIL" > tests/unit/test_coro_valgrind.trs; \
		cat tests/unit/test_coro_valgrind.log; exit 1; \
	fi
	PH_WRAPPER="$(VALGRIND) $(VALGRIND_FLAGS)" PH_TIMEOUT_SCALE=10 \
		$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(VALGRIND_TESTS)"

.PHONY: fuzz fuzz-run check-valgrind

# Coroutine handlers (ABI 1.4); its 10,000-request test runs 200 under valgrind.
VALGRIND_TESTS += tests/integration/test_coroutines.py
VALGRIND_TESTS += tests/integration/test_proxy.py
# Output filter with zlib, brotli and zstd state per response (about 20 s).
VALGRIND_TESTS += tests/integration/test_compress.py
# Trusted proxies' headers, request ids and the per-address connection
# table (about 6 s).
VALGRIND_TESTS += tests/integration/test_realip.py
