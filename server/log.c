#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sbuf.h"

static int level = PH_LOG_INFO;
static int error_fd = STDERR_FILENO;
static int access_fd = -1;
static char *error_path;  /* NULL: stderr */
static char *access_path; /* NULL: off or stderr (see access_fd) */
static pthread_mutex_t reopen_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* error_log = syslog: the socket's path (NULL: a file or stderr), and
 * whether lines go out as syslog datagrams (read by every logging thread) */
static char *syslog_path;
static int error_syslog;
#define SYSLOG_DEFAULT "/dev/log"

/* A reload sets it on the main thread while workers log: atomic. */
void log_set_level(int l) { __atomic_store_n(&level, l, __ATOMIC_RELAXED); }
int log_get_level(void) { return __atomic_load_n(&level, __ATOMIC_RELAXED); }

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* Points *fdp at fd. Another thread may be about to write() to the old
 * descriptor, so it must never be closed under it (its number could be
 * reused by a client socket): a file replacing a file is dup2()ed onto the
 * same number, which the kernel swaps atomically; otherwise the old file is
 * retired and closed only at the next swap, long after any write. */
static int retired = -1;

static void swap_fd(int *fdp, int fd)
{
    int old = __atomic_load_n(fdp, __ATOMIC_ACQUIRE);
    if (old > STDERR_FILENO && fd > STDERR_FILENO && old != fd) {
        if (dup2(fd, old) >= 0) {
            close(fd);
            return;
        }
    }
    __atomic_store_n(fdp, fd, __ATOMIC_RELEASE);
    if (old > STDERR_FILENO && old != fd) {
        if (retired >= 0)
            close(retired);
        retired = old;
    }
}

int log_is_syslog(const char *value)
{
    return value && (strcmp(value, "syslog") == 0 || (strncmp(value, "syslog:/", 8) == 0 && value[8] != '\0'));
}

/* A datagram socket connected to the system log's at path. */
static int syslog_connect(const char *path)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof un.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(un.sun_path, path, strlen(path) + 1);
    /* non-blocking: a daemon that falls behind loses lines (as nginx's syslog
     * client does) instead of stalling every thread that logs */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&un, sizeof un) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int open_syslog(const char *value)
{
    const char *path = strcmp(value, "syslog") == 0 ? SYSLOG_DEFAULT : value + 7;
    int fd = syslog_connect(path);
    if (fd < 0)
        return -1;
    char *copy = strdup(path);
    if (copy == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    swap_fd(&error_fd, fd);
    __atomic_store_n(&error_syslog, 1, __ATOMIC_RELEASE);
    free(syslog_path);
    syslog_path = copy;
    free(error_path);
    error_path = NULL;
    return 0;
}

int log_error_open(const char *path)
{
    if (log_is_syslog(path))
        return open_syslog(path);
    __atomic_store_n(&error_syslog, 0, __ATOMIC_RELEASE);
    free(syslog_path);
    syslog_path = NULL;
    if (path == NULL || strcmp(path, "-") == 0) {
        swap_fd(&error_fd, STDERR_FILENO);
        free(error_path);
        error_path = NULL;
        return 0;
    }
    int fd = open_append(path);
    if (fd < 0)
        return -1;
    swap_fd(&error_fd, fd);
    free(error_path);
    error_path = strdup(path);
    return 0;
}

int log_access_open(const char *path)
{
    if (path == NULL || strcmp(path, "off") == 0) {
        swap_fd(&access_fd, -1);
        free(access_path);
        access_path = NULL;
        return 0;
    }
    if (strcmp(path, "-") == 0) {
        swap_fd(&access_fd, STDERR_FILENO);
        free(access_path);
        access_path = NULL;
        return 0;
    }
    int fd = open_append(path);
    if (fd < 0)
        return -1;
    swap_fd(&access_fd, fd);
    free(access_path);
    access_path = strdup(path);
    return 0;
}

int log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&reopen_lock);
    if (syslog_path) {
        int fd = syslog_connect(syslog_path);
        if (fd >= 0)
            swap_fd(&error_fd, fd);
        else
            rc = -1;
    }
    if (error_path) {
        int fd = open_append(error_path);
        if (fd >= 0)
            swap_fd(&error_fd, fd);
        else
            rc = -1;
    }
    if (access_path) {
        int fd = open_append(access_path);
        if (fd >= 0)
            swap_fd(&access_fd, fd);
        else
            rc = -1;
    }
    pthread_mutex_unlock(&reopen_lock);
    return rc;
}

int log_error_fd(void) { return __atomic_load_n(&error_fd, __ATOMIC_ACQUIRE); }

int log_access_enabled(void) { return __atomic_load_n(&access_fd, __ATOMIC_RELAXED) >= 0; }

void log_access_write(const char *lines, size_t len)
{
    int fd = __atomic_load_n(&access_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0 && write(fd, lines, len) < 0) {
        /* Nothing sensible to do: the access log must never fail a request. */
    }
}

void log_access_flush(log_buf_t *b)
{
    if (b->len > 0)
        log_access_write(b->p, b->len);
    b->len = 0;
}

void log_access_add(log_buf_t *b, const char *line, size_t len)
{
    if (len > sizeof b->p) { /* longer than one atomic write: on its own */
        log_access_flush(b);
        log_access_write(line, len);
        return;
    }
    if (b->len + len > sizeof b->p)
        log_access_flush(b);
    memcpy(b->p + b->len, line, len);
    b->len += len;
}

size_t log_peer_host_len(const char *peer)
{
    const char *colon = strrchr(peer, ':');
    return colon && peer[0] != 'u' ? (size_t)(colon - peer) : strlen(peer);
}

size_t log_access_format(char *line, const log_access_entry_t *e)
{
    sbuf_t b;
    sbuf_init(&b, line, LOG_LINE_MAX, 2);
    /* the client's address without its port, as the format expects */
    sbuf_put(&b, e->peer, log_peer_host_len(e->peer));
    sbuf_printf(&b, " - - %s \"", e->time);
    if (e->method.len > 0) {
        sbuf_put_escaped(&b, e->method.ptr, e->method.len, 128);
        sbuf_putc(&b, ' ');
        sbuf_put_escaped(&b, e->target.ptr, e->target.len, 2048);
        if (e->http2)
            sbuf_puts(&b, " HTTP/2.0");
        else
            sbuf_printf(&b, " HTTP/1.%d", e->version_minor);
    } else {
        sbuf_putc(&b, '-');
    }
    /* %b of the format: body bytes sent, "-" for none */
    if (e->bytes)
        sbuf_printf(&b, "\" %d %llu \"", e->status, (unsigned long long)e->bytes);
    else
        sbuf_printf(&b, "\" %d - \"", e->status);
    if (e->referer.ptr)
        sbuf_put_escaped(&b, e->referer.ptr, e->referer.len, 512);
    else
        sbuf_putc(&b, '-');
    sbuf_puts(&b, "\" \"");
    if (e->user_agent.ptr)
        sbuf_put_escaped(&b, e->user_agent.ptr, e->user_agent.len, 512);
    else
        sbuf_putc(&b, '-');
    return sbuf_finish(&b, "\"\n", 2);
}

void log_vmsg(int lvl, const char *file, int line, const char *prefix, const char *fmt, va_list ap)
{
    if (lvl > log_get_level())
        return;
    char buf[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    sbuf_t b;
    /* the reserve keeps room for the source location and the newline
     * however long the message was */
    sbuf_init(&b, buf, sizeof buf, 64);
    const char *name = level_names[lvl < 0 ? 0 : lvl > 3 ? 3 : lvl];
    if (__atomic_load_n(&error_syslog, __ATOMIC_ACQUIRE)) {
        /* RFC 3164: <facility daemon (3) x 8 + severity>TAG[PID]: ...; the
         * daemon stamps the time. error 3, warn 4, info 6, debug 7 */
        static const int severity[] = {3, 4, 6, 7};
        sbuf_printf(&b, "<%d>plughttpd[%d]: [%s] %s", 3 * 8 + severity[lvl < 0 ? 0 : lvl > 3 ? 3 : lvl],
                    (int)getpid(), name, prefix ? prefix : "");
    } else {
        sbuf_printf(&b, "%04d-%02d-%02dT%02d:%02d:%02dZ [%s] %d: %s", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, name, (int)getpid(), prefix ? prefix : "");
    }
    sbuf_vprintf(&b, fmt, ap);
    char tail[64];
    sbuf_t t;
    sbuf_init(&t, tail, sizeof tail, 1);
    if (file && lvl <= PH_LOG_WARN) {
        const char *base = strrchr(file, '/');
        sbuf_printf(&t, " (%s:%d)", base ? base + 1 : file, line);
    }
    size_t len = sbuf_finish(&b, tail, sbuf_finish(&t, "\n", 1));
    int fd = __atomic_load_n(&error_fd, __ATOMIC_ACQUIRE);
    if (write(fd, buf, len) < 0) {
        /* stderr gone: nowhere left to report it */
    }
}

void log_msg(int lvl, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int saved = errno;
    log_vmsg(lvl, file, line, NULL, fmt, ap);
    errno = saved;
    va_end(ap);
}
