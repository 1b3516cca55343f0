# plugins/compress: on-the-fly compression, an output filter (gzip through
# zlib, br through libbrotlienc, zstd through libzstd). The pure files (no
# plugin API) are listed once so the unit test links exactly what the
# plugin runs; static_enc.c is the static plugin's Accept-Encoding reader,
# shared rather than copied.
COMPRESS_PURE_SOURCES = \
	plugins/compress/compress_type.c plugins/compress/compress_type.h \
	plugins/compress/compress_neg.c plugins/compress/compress_neg.h \
	plugins/compress/compress_codec.c plugins/compress/compress_codec.h \
	plugins/compress/compress_cache.c plugins/compress/compress_cache.h \
	plugins/compress/compress_backend.h \
	plugins/compress/compress_gzip.c plugins/compress/compress_br.c plugins/compress/compress_zstd.c \
	plugins/static/static_enc.c plugins/static/static_enc.h
COMPRESS_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/static
COMPRESS_CFLAGS = $(ZLIB_CFLAGS) $(BROTLIENC_CFLAGS) $(LIBZSTD_CFLAGS)
COMPRESS_LIBS = $(ZLIB_LIBS) $(BROTLIENC_LIBS) $(LIBZSTD_LIBS)

plugin_LTLIBRARIES += plugins/compress/compress.la
plugins_compress_compress_la_SOURCES = $(COMPRESS_PURE_SOURCES) \
	plugins/compress/compress.c \
	plugins/compress/compress_conf.c plugins/compress/compress_conf.h
plugins_compress_compress_la_CPPFLAGS = $(COMPRESS_CPPFLAGS)
plugins_compress_compress_la_CFLAGS = $(AM_CFLAGS) $(COMPRESS_CFLAGS)
plugins_compress_compress_la_LIBADD = $(COMPRESS_LIBS)
plugins_compress_compress_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

TESTS += tests/integration/test_compress.py
EXTRA_DIST += tests/integration/test_compress.py plugins/compress/README.md bench/compress

# Unit test of the pure parts, decoding with each library's own decoder.
check_PROGRAMS += tests/unit/test_compress
tests_unit_test_compress_SOURCES = tests/unit/test_compress.c $(COMPRESS_PURE_SOURCES)
tests_unit_test_compress_CPPFLAGS = $(COMPRESS_CPPFLAGS) -I$(top_srcdir)/plugins/compress
tests_unit_test_compress_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(COMPRESS_CFLAGS) $(BROTLIDEC_CFLAGS)
tests_unit_test_compress_LDADD = $(CHECK_LIBS) $(COMPRESS_LIBS) $(BROTLIDEC_LIBS)
TESTS += tests/unit/test_compress
