# plugins/pubsub: channels of messages over HTTP (Server-Sent Events and
# long polling).
plugin_LTLIBRARIES += plugins/pubsub/pubsub.la
plugins_pubsub_pubsub_la_SOURCES = \
	plugins/pubsub/pubsub.c plugins/pubsub/pubsub.h \
	plugins/pubsub/pubsub_conf.c plugins/pubsub/pubsub_conf.h \
	plugins/pubsub/pubsub_msg.c plugins/pubsub/pubsub_msg.h \
	plugins/pubsub/pubsub_chan.c plugins/pubsub/pubsub_chan.h \
	plugins/pubsub/pubsub_pub.c plugins/pubsub/pubsub_pub.h \
	plugins/pubsub/pubsub_sub.c plugins/pubsub/pubsub_sub.h \
	plugins/pubsub/pubsub_loop.c plugins/pubsub/pubsub_loop.h \
	plugins/pubsub/pubsub_http.c plugins/pubsub/pubsub_http.h
plugins_pubsub_pubsub_la_LIBADD = -lpthread
plugins_pubsub_pubsub_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

TESTS += tests/integration/test_pubsub.py tests/integration/test_pubsub_browser.py
EXTRA_DIST += tests/integration/test_pubsub.py tests/integration/test_pubsub_browser.py plugins/pubsub/README.md \
	bench/pubsub
