/*
 * Access-log line formats ([server] access_log_format): "combined" (the
 * Combined Log Format, the default), "json" (one JSON object per line) or
 * a template of literal text and $variables, compiled once when the
 * configuration is read and applied to each request's log_access_entry_t.
 * No I/O and no allocation per line: a line is written into the caller's
 * LOG_LINE_MAX buffer through the bounded writer, and every field a
 * client chose is escaped so it can neither end a field nor split a line.
 *
 * Template variables:
 *   $remote_addr  client address without its port ("unix" for a socket);
 *                 the one a trusted proxy named ([server] trusted_proxies)
 *   $direct_addr  the connection's peer address without its port (the
 *                 proxy's, when one named the client; else $remote_addr)
 *   $time_local   [10/Oct/2026:13:55:36 +0000]
 *   $time_iso8601 2026-10-10T13:55:36Z
 *   $request      "GET /x HTTP/1.1" as received (- without a request line)
 *   $method $target $protocol   its three parts
 *   $status $bytes               status; body bytes sent (0 when none)
 *   $request_time seconds from the request head to the last byte, 0.001 s
 *   $request_id   as api->request_id() gives plugins: 16 hex digits, or
 *                 a trusted proxy's X-Request-Id
 *   $host $scheme the host asked for; http or https
 *   $referer $user_agent         the request's fields, - when absent
 *   $note_NAME    what a plugin noted under NAME (api->note_set), - if none
 *   $$            a dollar sign
 */
#ifndef PH_LOG_FORMAT_H
#define PH_LOG_FORMAT_H

#include <stddef.h>

#include "log.h"

typedef struct log_format log_format_t;

/* Compiles text; NULL with err filled (naming the bad variable) when it
 * is not a format, or when out of memory. */
log_format_t *log_format_compile(const char *text, char *err, size_t errlen);
void log_format_free(log_format_t *f);

/* Formats e per f (NULL: combined) as one line ending in '\n' into
 * line[0 .. LOG_LINE_MAX); returns its length. */
size_t log_format_line(const log_format_t *f, char *line, const log_access_entry_t *e);

#endif
