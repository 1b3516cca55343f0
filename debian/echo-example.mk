# Builds the echo plugin against the installed plugin API, as a plugin's
# own project would (it also needs libjansson-dev):
#
#   cp -r /usr/share/doc/plughttpd-dev/examples echo && cd echo
#   make                 # echo.so
#   make install         # into /usr/lib/plughttpd/plugins (as root)
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g -Wall -Wextra

PLUGIN_CFLAGS := $(shell $(PKG_CONFIG) --cflags plughttpd-plugin jansson)
PLUGIN_LIBS := $(shell $(PKG_CONFIG) --libs plughttpd-plugin jansson)
PLUGINDIR := $(shell $(PKG_CONFIG) --variable=plugindir plughttpd-plugin)

all: echo.so

echo.so: echo.c
	$(CC) -shared -fPIC $(CPPFLAGS) $(PLUGIN_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PLUGIN_LIBS)

install: echo.so
	install -D -m 0644 echo.so $(DESTDIR)$(PLUGINDIR)/echo.so

clean:
	rm -f echo.so

.PHONY: all install clean
