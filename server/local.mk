# The core: everything but main() goes into a convenience library so that the
# unit tests link exactly the code the server runs.
noinst_LTLIBRARIES += server/libphcore.la
server_libphcore_la_SOURCES = \
	server/log.c server/log.h \
	server/sbuf.c server/sbuf.h \
	server/pool.c server/pool.h \
	server/http_parse.c server/http_parse.h \
	server/ev.h server/ev_epoll.c \
	server/config.c server/config.h \
	server/listener.c server/listener.h \
	server/router.c server/router.h \
	server/plugin.c server/plugin.h \
	server/gen.c server/gen.h \
	server/request.c server/request.h \
	server/response.c server/response.h \
	server/conn.c server/conn.h \
	server/worker.c server/worker.h \
	server/blocking.c server/blocking.h server/buf.h \
	server/server.c server/server.h \
	server/master.c server/master.h \
	server/httpdate.c server/httpdate.h \
	server/version.h
server_libphcore_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
server_libphcore_la_LIBADD = $(INIH_LIBS)

sbin_PROGRAMS += plughttpd
plughttpd_SOURCES = server/main.c
plughttpd_LDADD = server/libphcore.la $(INIH_LIBS)

# Uninstalled plugins, gathered where conf/server.ini looks for them, so the
# server runs from the build tree.
all-local: plugin-links
plugin-links: $(plugin_LTLIBRARIES)
	@$(MKDIR_P) $(builddir)/plugins/lib
	@for la in $(plugin_LTLIBRARIES); do \
	  n=$$(basename $$la .la); d=$$(dirname $$la); \
	  ln -sf $(abs_builddir)/$$d/.libs/$$n.so $(builddir)/plugins/lib/$$n.so; \
	done
clean-local: plugin-links-clean
plugin-links-clean:
	rm -rf $(builddir)/plugins/lib
.PHONY: plugin-links plugin-links-clean

# The systemd unit, with the installed paths filled in.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = conf/plughttpd.service
conf/plughttpd.service: $(top_srcdir)/conf/plughttpd.service.in Makefile
	@$(MKDIR_P) conf
	$(AM_V_GEN)sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
		$(top_srcdir)/conf/plughttpd.service.in > $@
CLEANFILES += conf/plughttpd.service
# Socket activation for it (no paths to fill in).
dist_systemdunit_DATA = conf/plughttpd.socket

# Plugins are loaded by file name; libtool's .la descriptions are not needed.
install-data-hook:
	rm -f $(DESTDIR)$(plugindir)/*.la

dist_man_MANS = man/plughttpd.8

# libtool uninstalls a module through its .la, which install-data-hook
# removed: remove the shared objects by name.
uninstall-local:
	for la in $(plugin_LTLIBRARIES); do \
	  rm -f "$(DESTDIR)$(plugindir)/$$(basename $$la .la).so"; \
	done
