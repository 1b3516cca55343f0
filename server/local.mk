# The core: everything but main() goes into a convenience library so that the
# unit tests link exactly the code the server runs.
noinst_LTLIBRARIES += server/libphcore.la
server_libphcore_la_SOURCES = \
	server/log.c server/log.h \
	server/log_format.c server/log_format.h \
	server/proxy_proto.c server/proxy_proto.h \
	server/cidr.c server/cidr.h \
	server/api_cidr.c server/api_cidr.h \
	server/urlenc.c server/urlenc.h \
	server/realip.c server/realip.h \
	server/addrcount.c server/addrcount.h \
	server/sbuf.c server/sbuf.h \
	server/pool.c server/pool.h \
	server/http_parse.c server/http_parse.h \
	server/ev.h server/ev_epoll.c \
	server/config.c server/config.h \
	server/config_tls.c server/config_tls.h \
	server/tls.c server/tls.h \
	server/h2.c server/h2.h \
	server/listener.c server/listener.h \
	server/hostname.c server/hostname.h \
	server/router.c server/router.h \
	server/plugin.c server/plugin.h \
	server/gen.c server/gen.h \
	server/request.c server/request.h \
	server/exchange.c server/exchange.h \
	server/api_loop.c server/api_loop.h \
	server/api_co.c server/api_co.h \
	server/api_zone.c server/api_zone.h \
	server/zone.c server/zone.h \
	server/slab.c server/slab.h \
	server/stats.c server/stats.h \
	server/response.c server/response.h \
	server/conn.c server/conn.h \
	server/worker.c server/worker.h \
	server/blocking.c server/blocking.h server/bstream.c server/bstream.h server/buf.h \
	server/server.c server/server.h \
	server/master.c server/master.h \
	server/crash.c server/crash.h \
	server/httpdate.c server/httpdate.h \
	server/coro.c server/coro.h server/coro_switch_x86_64.S server/coro_switch_aarch64.S \
	server/version.h
server_libphcore_la_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS) $(OPENSSL_CFLAGS) $(NGHTTP2_CFLAGS)
server_libphcore_la_LIBADD = $(INIH_LIBS) $(OPENSSL_LIBS) $(NGHTTP2_LIBS)

sbin_PROGRAMS += plughttpd
plughttpd_SOURCES = server/main.c
plughttpd_LDADD = server/libphcore.la $(INIH_LIBS) $(OPENSSL_LIBS) $(NGHTTP2_LIBS)

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

# Files that name installed paths are generated from NAME.in by make, so the
# paths are the ones configure chose, fully expanded. The placeholders are
# written [@]name[@] here: automake would substitute a literal @name@ in this
# file itself (leaving the sed nothing to replace).
edit_paths = sed -e 's|[@]sbindir[@]|$(sbindir)|g' -e 's|[@]sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|[@]plugindir[@]|$(plugindir)|g' -e 's|[@]pkgdatadir[@]|$(pkgdatadir)|g' \
	-e 's|[@]localstatedir[@]|$(localstatedir)|g' -e 's|[@]VERSION[@]|$(VERSION)|g' \
	-e 's|[@]docdir[@]|$(docdir)|g'
# Fails when a placeholder is left: a typo must not install a broken file.
edit_rule = $(MKDIR_P) $(@D) && $(edit_paths) $(top_srcdir)/$@.in > $@.tmp && \
	if grep -n '@[A-Za-z_][A-Za-z_]*@' $@.tmp; then echo "$@: placeholder left" >&2; rm -f $@.tmp; exit 1; fi && \
	mv $@.tmp $@

# The systemd unit.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = conf/plughttpd.service
conf/plughttpd.service: $(top_srcdir)/conf/plughttpd.service.in Makefile
	$(AM_V_GEN)$(edit_rule)
CLEANFILES += conf/plughttpd.service
# Socket activation for it (no paths to fill in).
dist_systemdunit_DATA = conf/plughttpd.socket

# The man page.
man_MANS = man/plughttpd.8
man/plughttpd.8: $(top_srcdir)/man/plughttpd.8.in Makefile
	$(AM_V_GEN)$(edit_rule)
CLEANFILES += man/plughttpd.8
EXTRA_DIST += man/plughttpd.8.in
# The plugin API's man page.
man_MANS += man/plughttpd-plugin.3
man/plughttpd-plugin.3: $(top_srcdir)/man/plughttpd-plugin.3.in Makefile
	$(AM_V_GEN)$(edit_rule)
CLEANFILES += man/plughttpd-plugin.3
EXTRA_DIST += man/plughttpd-plugin.3.in
# The test harness's and the scaffold's man page.
man_MANS += man/plughttpd-test.3
man/plughttpd-test.3: $(top_srcdir)/man/plughttpd-test.3.in Makefile
	$(AM_V_GEN)$(edit_rule)
CLEANFILES += man/plughttpd-test.3
EXTRA_DIST += man/plughttpd-test.3.in
# The configuration file's man page (conf/reference.ini's keys).
man_MANS += man/server.ini.5
man/server.ini.5: $(top_srcdir)/man/server.ini.5.in Makefile
	$(AM_V_GEN)$(edit_rule)
CLEANFILES += man/server.ini.5
EXTRA_DIST += man/server.ini.5.in

# The installed configuration, $(sysconfdir)/plughttpd/server.ini: every
# bundled plugin mounted, with the installed paths. An existing one is the
# operator's and is never overwritten; uninstall removes it only when it is
# unchanged.
confdir = $(sysconfdir)/plughttpd
conf/plughttpd.ini: $(top_srcdir)/conf/plughttpd.ini.in Makefile
	$(AM_V_GEN)$(edit_rule)
CLEANFILES += conf/plughttpd.ini
dist_conf_DATA = conf/schema.sql conf/schema.pg.sql conf/schema.mysql.sql
all-local: conf/plughttpd.ini
install-data-local: conf/plughttpd.ini
	$(MKDIR_P) '$(DESTDIR)$(confdir)'
	@if test -e '$(DESTDIR)$(confdir)/server.ini'; then \
	  echo "$(DESTDIR)$(confdir)/server.ini exists: left as it is"; \
	else \
	  echo " $(INSTALL_DATA) conf/plughttpd.ini '$(DESTDIR)$(confdir)/server.ini'"; \
	  $(INSTALL_DATA) conf/plughttpd.ini '$(DESTDIR)$(confdir)/server.ini'; \
	fi

# The bundled site the installed configuration serves.
wwwdir = $(pkgdatadir)/www
dist_www_DATA = www/index.html www/notes.html www/notes.css www/notes.js www/style.css \
	www/events.html www/events.css www/events.js

# Plugins are loaded by file name; libtool's .la descriptions are not needed.
install-data-hook:
	rm -f $(DESTDIR)$(plugindir)/*.la


# libtool uninstalls a module through its .la, which install-data-hook
# removed: remove the shared objects by name.
uninstall-local:
	if cmp -s conf/plughttpd.ini '$(DESTDIR)$(confdir)/server.ini'; then \
	  rm -f '$(DESTDIR)$(confdir)/server.ini'; fi
	for la in $(plugin_LTLIBRARIES); do \
	  rm -f "$(DESTDIR)$(plugindir)/$$(basename $$la .la).so"; \
	done

# EXTRA_DIST takes conf/ whole, also from the build tree: the generated
# files do not belong in the distribution.
dist-hook:
	rm -f $(distdir)/conf/plughttpd.service $(distdir)/conf/plughttpd.ini
