# bench/run is not part of `make check`: it builds the
# project itself (out of tree, -O2) and measures it. Ship it in the tarball.
EXTRA_DIST += bench/run bench/deps.sh bench/mkdocroot.py bench/idle_conns.py \
	bench/wrk_summary.lua bench/chart.gp bench/README.md \
	bench/conf/plughttpd.ini.in bench/conf/nginx.conf.in bench/conf/lighttpd.conf.in \
	bench/conf/hello.lua.in bench/conf/h2o.conf.in \
	bench/plugins/burn.c bench/tls_resume.c \
	bench/data bench/data_floor.c bench/jsonserver/package.json bench/jsonserver/package-lock.json \
	bench/results/data/RESULTS.md \
	bench/results/RESULTS.md bench/results/chart.png bench/results/tls/RESULTS.md

# Coroutine switch and memory costs (bench/coro_switch.c): built with the
# project, run by hand; the second build measures the ucontext fallback.
noinst_PROGRAMS += bench/coro_switch bench/coro_switch_ucontext
bench_coro_switch_SOURCES = bench/coro_switch.c
bench_coro_switch_LDADD = server/libphcore.la $(INIH_LIBS)
bench_coro_switch_ucontext_SOURCES = bench/coro_switch.c server/coro.c
bench_coro_switch_ucontext_CFLAGS = $(AM_CFLAGS) -DCORO_UCONTEXT=1
bench_coro_switch_ucontext_LDADD = server/libphcore.la $(INIH_LIBS)
