# libplughttpd-test: the plugin test harness (include/plughttpd/test.h),
# the real core (libphcore, the objects the server is linked from) plus a
# small HTTP/1.1 client. Installed for out-of-tree plugins' `make check`.
lib_LTLIBRARIES += harness/libplughttpd-test.la
harness_libplughttpd_test_la_SOURCES = harness/harness.c harness/client.c harness/harness.h
harness_libplughttpd_test_la_CFLAGS = $(AM_CFLAGS) -pthread
harness_libplughttpd_test_la_LIBADD = server/libphcore.la $(INIH_LIBS) $(OPENSSL_LIBS) $(NGHTTP2_LIBS) -lpthread
harness_libplughttpd_test_la_LDFLAGS = -version-info 0:0:0 -no-undefined
plughttpdinc_HEADERS += include/plughttpd/test.h
pkgconfig_DATA += plughttpd-test.pc
# Linked by name (pkg-config), never through libtool's description.
install-exec-hook:
	rm -f $(DESTDIR)$(libdir)/libplughttpd-test.la
# libtool would uninstall through the .la removed above.
uninstall-local: uninstall-harness
uninstall-harness:
	rm -f $(DESTDIR)$(libdir)/libplughttpd-test.so $(DESTDIR)$(libdir)/libplughttpd-test.so.0 \
	  $(DESTDIR)$(libdir)/libplughttpd-test.so.0.0.0
.PHONY: uninstall-harness
