/*
 * The harness's HTTP/1.1 client (include/plughttpd/test.h): one request
 * per connection, the answer read to the end of the connection. It speaks
 * just enough HTTP to check a server: it trusts no length it is told and
 * fails on anything malformed rather than guessing.
 */
#include <plughttpd/test.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static int buf_add(buf_t *b, const void *data, size_t n)
{
    if (b->p == NULL || b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int buf_printf(buf_t *b, const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return -1;
    return buf_add(b, line, (size_t)n);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until deadline; 0, or -1. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, (int)(deadline - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        if (wait_fd(fd, POLLOUT, deadline) < 0)
            return -1;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* To 127.0.0.1:port, or to the unix socket path when it is not NULL. */
static int connect_to(int port, const char *path, uint64_t deadline)
{
    struct sockaddr_storage ss = {0};
    socklen_t sslen;
    if (path) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof un->sun_path)
            return -1;
        strcpy(un->sun_path, path);
        sslen = sizeof *un;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sslen = sizeof *sin;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (wait_fd(fd, POLLOUT, deadline) < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The PROXY protocol v1 line naming peer as the client. */
static int proxy_line(buf_t *b, const char *peer)
{
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, peer, &a4) == 1)
        return buf_printf(b, "PROXY TCP4 %s 127.0.0.1 40000 80\r\n", peer);
    if (inet_pton(AF_INET6, peer, &a6) == 1)
        return buf_printf(b, "PROXY TCP6 %s ::1 40000 80\r\n", peer);
    return -1;
}

static int send_request(int fd, const ph_test_request_t *req, uint64_t deadline)
{
    buf_t head = {0};
    int rc = -1;
    if (req->peer && proxy_line(&head, req->peer) < 0)
        goto out;
    if (buf_printf(&head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
                   req->method ? req->method : "GET", req->target ? req->target : "/") < 0)
        goto out;
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        if (buf_printf(&head, "%s\r\n", req->headers[i]) < 0)
            goto out;
    if (req->body && req->chunk)
        rc = buf_printf(&head, "Transfer-Encoding: chunked\r\n\r\n");
    else if (req->body)
        rc = buf_printf(&head, "Content-Length: %zu\r\n\r\n", req->body_len);
    else
        rc = buf_printf(&head, "\r\n");
    if (rc < 0 || (rc = send_all(fd, head.p, head.len, deadline)) < 0)
        goto out;
    const char *body = req->body;
    if (body && !req->chunk) {
        rc = send_all(fd, body, req->body_len, deadline);
        goto out;
    }
    for (size_t off = 0; body && off < req->body_len && rc == 0; off += req->chunk) {
        size_t n = req->body_len - off < req->chunk ? req->body_len - off : req->chunk;
        char size[32];
        int sn = snprintf(size, sizeof size, "%zx\r\n", n);
        rc = send_all(fd, size, (size_t)sn, deadline);
        if (rc == 0)
            rc = send_all(fd, body + off, n, deadline);
        if (rc == 0)
            rc = send_all(fd, "\r\n", 2, deadline);
        /* Apart in time, so the server reads them apart. */
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    if (body && rc == 0)
        rc = send_all(fd, "0\r\n\r\n", 5, deadline);
out:
    free(head.p);
    return rc;
}

static int read_all(int fd, buf_t *in, uint64_t deadline)
{
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline) < 0)
            return -1;
        char chunk[16384];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n == 0)
            return 0;
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 || buf_add(in, chunk, (size_t)n) < 0)
            return -1;
    }
}

static int add_header(ph_test_response_t *res, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line)
        return -1;
    ph_test_header_t *h = realloc(res->headers, (res->nheaders + 1) * sizeof *h);
    if (h == NULL)
        return -1;
    res->headers = h;
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    h[res->nheaders].name = strndup(line, (size_t)(colon - line));
    h[res->nheaders].value = strndup(v, (size_t)(end - v));
    res->nheaders++;
    return h[res->nheaders - 1].name && h[res->nheaders - 1].value ? 0 : -1;
}

/* De-chunks p[0..len) into out; -1 when the framing is broken. */
static int dechunk(const char *p, size_t len, buf_t *out)
{
    size_t off = 0;
    for (;;) {
        const char *eol = memmem(p + off, len - off, "\r\n", 2);
        if (eol == NULL)
            return -1;
        char *end;
        unsigned long n = strtoul(p + off, &end, 16);
        if (end == p + off)
            return -1;
        off = (size_t)(eol - p) + 2;
        if (n == 0)
            return 0; /* trailers are not kept */
        if (n > len - off || len - off - n < 2)
            return -1;
        if (buf_add(out, p + off, n) < 0)
            return -1;
        off += n + 2;
    }
}

static int parse_response(const char *p, size_t len, int head_only, ph_test_response_t *res)
{
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    if (end == NULL || len < 12 || strncmp(p, "HTTP/1.", 7) != 0)
        return -1;
    res->status = atoi(p + 9);
    const char *line = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1;
    while (line < end + 2) {
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        if (add_header(res, line, (size_t)(eol - line)) < 0)
            return -1;
        line = eol + 2;
    }
    const char *body = end + 4;
    size_t blen = len - (size_t)(body - p);
    buf_t out = {0};
    const char *te = ph_test_header(res, "Transfer-Encoding");
    const char *cl = ph_test_header(res, "Content-Length");
    int rc = 0;
    if (head_only || res->status == 204 || res->status == 304 || res->status / 100 == 1)
        rc = buf_add(&out, "", 0);
    else if (te && strcasecmp(te, "chunked") == 0)
        rc = dechunk(body, blen, &out);
    else if (cl && strtoull(cl, NULL, 10) <= blen)
        rc = buf_add(&out, body, strtoull(cl, NULL, 10));
    else if (cl)
        rc = -1; /* cut short */
    else
        rc = buf_add(&out, body, blen);
    res->body = out.p;
    res->body_len = out.len;
    return rc;
}

int ph_test_request(ph_test_server_t *t, const ph_test_request_t *req, ph_test_response_t *res)
{
    memset(res, 0, sizeof *res);
    uint64_t deadline = now_ms() + (req->timeout_ms ? req->timeout_ms : 10000);
    int fd = connect_to(ph_test_server_port(t), req->peer ? harness_proxy_path(t) : NULL, deadline);
    if (fd < 0)
        return -1;
    buf_t in = {0};
    int rc;
    /* A failed send is not the end: an early answer (a 413, a 400) may
     * come before the whole body is sent, and closes the connection. The
     * answer read decides. */
    (void)send_request(fd, req, deadline);
    if (read_all(fd, &in, deadline) < 0)
        rc = -1;
    else
        rc = parse_response(in.p ? in.p : "", in.len, req->method && strcmp(req->method, "HEAD") == 0, res);
    close(fd);
    free(in.p);
    if (rc < 0)
        ph_test_response_free(res);
    return rc;
}

int ph_test_get(ph_test_server_t *t, const char *target, ph_test_response_t *res)
{
    ph_test_request_t req = {.target = target};
    return ph_test_request(t, &req, res);
}

const char *ph_test_header(const ph_test_response_t *res, const char *name)
{
    for (size_t i = 0; i < res->nheaders; i++)
        if (strcasecmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    return NULL;
}

void ph_test_response_free(ph_test_response_t *res)
{
    for (size_t i = 0; i < res->nheaders; i++) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    free(res->headers);
    free(res->body);
    memset(res, 0, sizeof *res);
}
