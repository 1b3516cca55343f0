# plughttpd-plugin: the scaffold for new plugins, and the examples installed
# with the documentation: the echo plugin, the shared-zone counter (also a
# test fixture) and a skeleton the script wrote.
bin_SCRIPTS = kit/plughttpd-plugin
kit/plughttpd-plugin: $(top_srcdir)/kit/plughttpd-plugin.in Makefile
	$(AM_V_GEN)$(edit_rule) && chmod +x $@
CLEANFILES += kit/plughttpd-plugin
EXTRA_DIST += kit/plughttpd-plugin.in

examplesdir = $(docdir)/examples
dist_examples_DATA = plugins/echo/echo.c tests/plugins/counter.c
skeletondir = $(docdir)/examples/skeleton
skeleton_DATA = kit/skeleton/skeleton.c kit/skeleton/test_skeleton.c kit/skeleton/Makefile
kit/skeleton/skeleton.c kit/skeleton/test_skeleton.c kit/skeleton/Makefile: kit/skeleton.stamp
kit/skeleton.stamp: kit/plughttpd-plugin
	$(AM_V_GEN)rm -rf kit/skeleton && sh kit/plughttpd-plugin new skeleton kit/skeleton >/dev/null && touch $@
CLEANFILES += kit/skeleton.stamp kit/skeleton/skeleton.c kit/skeleton/test_skeleton.c kit/skeleton/Makefile
