/*
 * Error log (levels, file:line for warnings and errors) and the access log in
 * Combined Log Format. Both are safe to call from any thread: each line goes
 * out in one write(2) to an O_APPEND descriptor, so lines never interleave.
 */
#ifndef PH_LOG_H
#define PH_LOG_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <plughttpd/plugin.h>

/* Messages above this level are dropped. Default PH_LOG_INFO. */
void log_set_level(int level);
int log_get_level(void);

/* Error log destination: NULL or "-" = stderr; "syslog" = the system log
 * (datagrams to /dev/log, where journald or a syslog daemon listens;
 * "syslog:/path" names another socket), facility daemon, tag "plughttpd";
 * else a file opened for append. Returns 0, or -1 with errno set (the old
 * destination stays). */
int log_error_open(const char *path);
/* Whether an error_log value names the system log rather than a file. */
int log_is_syslog(const char *value);

/* Access log: NULL/"off" disables, "-" = stderr, else a file (append).
 * Returns 0 or -1 with errno set; the old destination stays on failure. */
int log_access_open(const char *path);
/* Reopen both files at their paths (SIGUSR1, after logrotate); the
 * system log's socket is connected again (its daemon may have restarted). */
int log_reopen(void);
int log_access_enabled(void);
/* Writes access-log lines (whole lines, each ending with '\n'). */
void log_access_write(const char *lines, size_t len);

/*
 * One event loop's access-log buffer. Lines gathered while the loop works
 * through a batch of events go out together when the batch ends (the loop
 * calls log_access_flush() before it waits again), so a busy loop makes one
 * write() per batch instead of one per request, and nothing waits longer
 * than the batch. A write never exceeds PIPE_BUF bytes: atomic on a pipe
 * too, so lines of several threads never interleave.
 */
typedef struct log_buf {
    size_t len;
    char p[PIPE_BUF];
} log_buf_t;

/* One request as the access log records it (Combined Log Format). */
typedef struct log_access_entry {
    const char *peer;          /* "127.0.0.1:5555", "[::1]:5555", "unix" */
    const char *direct_peer;   /* the connection's peer when a trusted proxy
                                  named the client (peer); NULL: peer */
    const char *time;          /* "[10/Oct/2026:13:55:36 +0000]" */
    ph_str_t method, target;   /* method.len 0: no request line, "-" */
    int version_minor;
    int http2;                 /* "HTTP/2.0" instead of "HTTP/1.x" */
    int status;
    uint64_t bytes;            /* body bytes sent; 0 is logged as "-" */
    ph_str_t referer, user_agent; /* ptr NULL: "-" */
    /* for the other formats (log_format.h) */
    time_t when;               /* the same moment as time */
    uint64_t request_ms;       /* from the head to the last byte */
    ph_str_t request_id, host, scheme;
    /* a plugin's note (api->note), or NULL; ctx is handed back */
    const char *(*note)(const void *ctx, const char *name);
    const void *note_ctx;
} log_access_entry_t;

/* The length of a peer's address without its ":port" ("[::1]" of
 * "[::1]:5555"); "unix" whole. */
size_t log_peer_host_len(const char *peer);

/* The longest access-log line; log_access_format() never exceeds it. */
#define LOG_LINE_MAX 4096

/* Formats e as one line ending in '\n' into line[0 .. LOG_LINE_MAX). Every
 * field the client chose is escaped (see sbuf_put_escaped) and cut to a
 * share of the line (method 128, target 2048, Referer and User-Agent 512
 * bytes each, escapes counted), so whatever was received the line fits
 * and stays one line. Returns its length. */
size_t log_access_format(char *line, const log_access_entry_t *e);

/* Adds one line (ending with '\n'); flushes first when it would not fit. */
void log_access_add(log_buf_t *b, const char *line, size_t len);
void log_access_flush(log_buf_t *b);

/* The error log's descriptor, for writers that may not call log_msg():
 * a signal handler writes its line there with write(2). */
int log_error_fd(void);

void log_msg(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_vmsg(int level, const char *file, int line, const char *prefix, const char *fmt, va_list ap);

#define log_error(...) log_msg(PH_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg(PH_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg(PH_LOG_INFO, NULL, 0, __VA_ARGS__)
#define log_debug(...) log_msg(PH_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
