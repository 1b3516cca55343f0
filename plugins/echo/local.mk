plugin_LTLIBRARIES += plugins/echo/echo.la
plugins_echo_echo_la_SOURCES = plugins/echo/echo.c
plugins_echo_echo_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
plugins_echo_echo_la_LIBADD = $(JANSSON_LIBS)
plugins_echo_echo_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
