# plugins/access: access stages (ABI 1.3 on_head, no handle()): access.so
# allows or denies by client address, ratelimit.so limits requests per
# address, auth_basic.so checks HTTP Basic credentials (libcrypt). The pure
# files (no plugin API calls but the address sets, api->cidr_*) are listed
# once so the unit test links exactly what the plugins run; the test links
# the server's address sets in place of the API table.
ACCESS_PURE_SOURCES = \
	plugins/access/access_peer.c plugins/access/access_peer.h \
	plugins/access/access_rule.c plugins/access/access_rule.h \
	plugins/access/ratelimit_table.c plugins/access/ratelimit_table.h \
	plugins/access/ratelimit_shm.c plugins/access/ratelimit_shm.h \
	plugins/access/auth_cred.c plugins/access/auth_cred.h \
	plugins/access/auth_htpasswd.c plugins/access/auth_htpasswd.h \
	plugins/access/auth_cache.c plugins/access/auth_cache.h \
	plugins/access/auth_pool.c plugins/access/auth_pool.h

plugin_LTLIBRARIES += plugins/access/access.la
plugins_access_access_la_SOURCES = plugins/access/access.c \
	plugins/access/access_peer.c plugins/access/access_peer.h \
	plugins/access/access_rule.c plugins/access/access_rule.h
plugins_access_access_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

plugin_LTLIBRARIES += plugins/access/ratelimit.la
plugins_access_ratelimit_la_SOURCES = plugins/access/ratelimit.c \
	plugins/access/access_peer.c plugins/access/access_peer.h \
	plugins/access/ratelimit_table.c plugins/access/ratelimit_table.h \
	plugins/access/ratelimit_shm.c plugins/access/ratelimit_shm.h
plugins_access_ratelimit_la_CFLAGS = $(AM_CFLAGS) -pthread
plugins_access_ratelimit_la_LIBADD = -lpthread
plugins_access_ratelimit_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

plugin_LTLIBRARIES += plugins/access/auth_basic.la
plugins_access_auth_basic_la_SOURCES = plugins/access/auth_basic.c \
	plugins/access/auth_cred.c plugins/access/auth_cred.h \
	plugins/access/auth_htpasswd.c plugins/access/auth_htpasswd.h \
	plugins/access/auth_cache.c plugins/access/auth_cache.h \
	plugins/access/auth_pool.c plugins/access/auth_pool.h
plugins_access_auth_basic_la_CFLAGS = $(AM_CFLAGS) -pthread $(LIBXCRYPT_CFLAGS) $(OPENSSL_CFLAGS)
plugins_access_auth_basic_la_LIBADD = -lpthread $(LIBXCRYPT_LIBS) $(OPENSSL_LIBS)
plugins_access_auth_basic_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

TESTS += tests/integration/test_access.py
EXTRA_DIST += tests/integration/test_access.py plugins/access/README.md

check_PROGRAMS += tests/unit/test_access
tests_unit_test_access_SOURCES = tests/unit/test_access.c $(ACCESS_PURE_SOURCES) \
	server/api_cidr.c server/api_cidr.h server/cidr.c server/cidr.h
tests_unit_test_access_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/access
tests_unit_test_access_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBXCRYPT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_access_LDADD = $(CHECK_LIBS) -lpthread $(LIBXCRYPT_LIBS) $(OPENSSL_LIBS)
TESTS += tests/unit/test_access
