# bench/ is not built and not part of `make check`: bench/run builds the
# project itself (out of tree, -O2) and measures it. Ship it in the tarball.
EXTRA_DIST += bench/run bench/deps.sh bench/mkdocroot.py bench/idle_conns.py \
	bench/wrk_summary.lua bench/chart.gp bench/README.md \
	bench/conf/plughttpd.ini.in bench/conf/nginx.conf.in bench/conf/lighttpd.conf.in \
	bench/conf/hello.lua.in bench/conf/h2o.conf.in \
	bench/plugins/burn.c \
	bench/results/RESULTS.md bench/results/chart.png
