#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 4096
#define LISTEN_FDS_START 3 /* sd_listen_fds(3): the first passed fd */

/* A socket the service manager passed (socket activation). */
typedef struct passed_sock {
    int fd;
    struct sockaddr_storage addr;
    int dual_stack;  /* IPv6 wildcard with IPV6_V6ONLY off: takes IPv4 too */
    char name[128];  /* its address, formatted */
    char *fdname;    /* its LISTEN_FDNAMES entry, or NULL */
} passed_sock_t;

static passed_sock_t *passed; /* the sockets taken at start-up */
static size_t npassed;

/* Only the process that bound a unix socket removes its path: worker
 * processes of a master share the socket and must leave it in place. */
static int unlink_on_close = 1;

void listener_keep_paths(void) { unlink_on_close = 0; }

/* Appends the decimal digits of v at p; returns the end. */
static char *put_uint(char *p, unsigned v)
{
    char digits[10];
    int k = 0;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        *p++ = digits[--k];
    return p;
}

/* Copies the n bytes at src into buf as snprintf would: cut to fit, always
 * terminated. */
static void put_cut(char *buf, size_t size, const char *src, size_t n)
{
    if (size == 0)
        return;
    if (n >= size)
        n = size - 1;
    memcpy(buf, src, n);
    buf[n] = '\0';
}

/* Every accepted connection formats its peer: IPv4 without printf, which
 * inet_ntop() and "%s:%u" would each call once. */
void listener_format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN + 16], *p = text;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        const unsigned char *a = (const unsigned char *)&in->sin_addr;
        for (int i = 0; i < 4; i++) {
            p = put_uint(p, a[i]);
            *p++ = i < 3 ? '.' : ':';
        }
        p = put_uint(p, ntohs(in->sin_port));
        put_cut(buf, size, text, (size_t)(p - text));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        *p++ = '[';
        if (inet_ntop(AF_INET6, &in6->sin6_addr, p, INET6_ADDRSTRLEN) == NULL)
            *p = '\0';
        p += strlen(p);
        *p++ = ']';
        *p++ = ':';
        p = put_uint(p, ntohs(in6->sin6_port));
        put_cut(buf, size, text, (size_t)(p - text));
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        if (len > offsetof(struct sockaddr_un, sun_path) && un->sun_path[0])
            snprintf(buf, size, "unix:%s", un->sun_path);
        else
            snprintf(buf, size, "unix");
    } else {
        snprintf(buf, size, "?");
    }
}

/* A stale socket file from an earlier run is removed; anything else at the
 * path (a live server, a regular file) makes the bind fail. */
static void remove_stale_socket(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0 || !S_ISSOCK(sb.st_mode))
        return;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&un, sizeof un) < 0 && errno == ECONNREFUSED)
        unlink(path);
    close(fd);
}

/* --- socket activation ------------------------------------------------------ */

/* Decimal digits only, no sign or space, as LISTEN_PID and LISTEN_FDS are
 * written. */
static int parse_ulong(const char *s, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno || *end ? -1 : 0;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    const struct sockaddr_un *x = (const struct sockaddr_un *)a, *y = (const struct sockaddr_un *)b;
    return x->sun_path[0] && strncmp(x->sun_path, y->sun_path, sizeof x->sun_path) == 0;
}

/* systemd's "ListenStream=80" binds [::]:80 for IPv4 as well: that socket
 * serves "listen = 80" (0.0.0.0:80) too. */
static int covers_ipv4_any(const passed_sock_t *p, const struct sockaddr_storage *want)
{
    if (!p->dual_stack || want->ss_family != AF_INET)
        return 0;
    const struct sockaddr_in *in = (const struct sockaddr_in *)want;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&p->addr;
    return in->sin_addr.s_addr == htonl(INADDR_ANY) && in->sin_port == in6->sin6_port;
}

/* The passed socket for a listen line: one with the same address first,
 * else a dual-stack one covering it. */
static passed_sock_t *find_passed(const struct sockaddr_storage *want)
{
    for (size_t i = 0; i < npassed; i++)
        if (same_addr(&passed[i].addr, want))
            return &passed[i];
    for (size_t i = 0; i < npassed; i++)
        if (covers_ipv4_any(&passed[i], want))
            return &passed[i];
    return NULL;
}

/* Checks one passed fd and records it in p. Returns 0 or -1 with err. */
static int adopt_fd(int fd, passed_sock_t *p, char *err, size_t errlen)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) {
        snprintf(err, errlen, "socket activation: fd %d: %s", fd, strerror(errno));
        return -1;
    }
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        snprintf(err, errlen, "socket activation: fd %d: not a socket (%s)", fd, strerror(errno));
        return -1;
    }
    len = sizeof listening;
    if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
        snprintf(err, errlen, "socket activation: fd %d: not a listening stream socket (use ListenStream=)", fd);
        return -1;
    }
    len = sizeof p->addr;
    if (getsockname(fd, (struct sockaddr *)&p->addr, &len) < 0) {
        snprintf(err, errlen, "socket activation: fd %d: getsockname: %s", fd, strerror(errno));
        return -1;
    }
    int family = p->addr.ss_family;
    listener_format_addr((struct sockaddr *)&p->addr, len, p->name, sizeof p->name);
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
        snprintf(err, errlen, "socket activation: fd %d: address family %d is neither TCP nor unix", fd, family);
        return -1;
    }
    /* What listener_open() sets on a socket it binds: every loop accepts
     * without blocking, accepted sockets inherit TCP_NODELAY. */
    int fl = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "socket activation: fd %d: fcntl: %s", fd, strerror(errno));
        return -1;
    }
    int one = 1, v6only = 1;
    if (family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    len = sizeof v6only;
    if (family == AF_INET6 && getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0 && !v6only)
        p->dual_stack = IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&p->addr)->sin6_addr);
    p->fd = fd;
    return 0;
}

/* LISTEN_FDNAMES: colon-separated, one name per fd, in order. */
static int adopt_names(const char *names)
{
    for (size_t i = 0; names && *names && i < npassed; i++) {
        size_t n = strcspn(names, ":");
        if (n > 0 && (passed[i].fdname = strndup(names, n)) == NULL)
            return -1;
        names += n + (names[n] == ':');
    }
    return 0;
}

static int adopt(char *err, size_t errlen)
{
    const char *pid_text = getenv("LISTEN_PID");
    const char *fds_text = getenv("LISTEN_FDS");
    unsigned long pid, n;
    if (pid_text == NULL || fds_text == NULL)
        return 0;
    if (parse_ulong(pid_text, &pid) < 0 || parse_ulong(fds_text, &n) < 0) {
        snprintf(err, errlen, "socket activation: LISTEN_PID=%.32s LISTEN_FDS=%.32s: not numbers", pid_text,
                 fds_text);
        return -1;
    }
    if (pid != (unsigned long)getpid()) {
        /* Meant for the process that started us (a wrapper that did not
         * exec): not ours to take. */
        snprintf(err, errlen, "socket activation: LISTEN_PID=%lu is not this process (%d): ignored", pid,
                 (int)getpid());
        return 0;
    }
    if (n == 0)
        return 0;
    if (n > (unsigned long)(INT_MAX - LISTEN_FDS_START)) {
        snprintf(err, errlen, "socket activation: LISTEN_FDS=%lu: too many", n);
        return -1;
    }
    passed = calloc(n, sizeof *passed);
    if (passed == NULL) {
        snprintf(err, errlen, "socket activation: out of memory");
        return -1;
    }
    for (npassed = 0; npassed < n; npassed++)
        if (adopt_fd(LISTEN_FDS_START + (int)npassed, &passed[npassed], err, errlen) < 0)
            return -1;
    if (adopt_names(getenv("LISTEN_FDNAMES")) < 0) {
        snprintf(err, errlen, "socket activation: out of memory");
        return -1;
    }
    return (int)n;
}

int listener_adopt(char *err, size_t errlen)
{
    err[0] = '\0';
    int n = adopt(err, errlen);
    /* sd_listen_fds(3) with unset_environment: whatever the outcome. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n < 0)
        listener_release_passed();
    return n;
}

int listener_check_passed(const cfg_listen_t *ls, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < npassed; i++) {
        passed_sock_t *p = &passed[i];
        size_t j = 0;
        while (j < n && !same_addr(&p->addr, &ls[j].addr) && !covers_ipv4_any(p, &ls[j].addr))
            j++;
        if (j == n) {
            snprintf(err, errlen,
                     "the socket passed by systemd on fd %d%s%s%s (%s) matches no listen line; "
                     "add \"listen = %s\" or remove it from the socket unit",
                     p->fd, p->fdname ? " (\"" : "", p->fdname ? p->fdname : "", p->fdname ? "\")" : "", p->name,
                     p->name);
            return -1;
        }
    }
    return 0;
}

const char *listener_origin(const listener_t *l, char *buf, size_t size)
{
    const passed_sock_t *p = NULL;
    for (size_t i = 0; l->passed && i < npassed; i++)
        if (passed[i].fd == l->fd)
            p = &passed[i];
    if (p == NULL)
        return "";
    snprintf(buf, size, " (passed by systemd: fd %d%s%s%s)", p->fd, p->fdname ? " \"" : "",
             p->fdname ? p->fdname : "", p->fdname ? "\"" : "");
    return buf;
}

void listener_release_passed(void)
{
    for (size_t i = 0; i < npassed; i++) {
        close(passed[i].fd);
        free(passed[i].fdname);
    }
    free(passed);
    passed = NULL;
    npassed = 0;
}

static int borrow(passed_sock_t *p, const cfg_listen_t *cl, listener_t *l, char *err, size_t errlen)
{
    l->text = strdup(cl->text);
    if (l->text == NULL) {
        snprintf(err, errlen, "listen %s: out of memory", cl->text);
        return -1;
    }
    l->fd = p->fd;
    l->family = p->addr.ss_family;
    l->passed = 1;
    snprintf(l->name, sizeof l->name, "%s", p->name);
    return 0;
}

/* --- listeners ------------------------------------------------------------- */

int listener_access_differs(const listener_t *l, const cfg_listen_t *cl)
{
    return l->unix_path && !l->passed &&
           (l->unix_mode != cl->unix_mode || l->unix_uid != cl->unix_uid || l->unix_gid != cl->unix_gid);
}

int listener_set_access(listener_t *l, const cfg_listen_t *cl, char *err, size_t errlen)
{
    if (l->unix_path == NULL || l->passed)
        return 0;
    struct stat sb;
    /* chmod follows symlinks: act only on the socket itself. */
    if (lstat(l->unix_path, &sb) < 0 || !S_ISSOCK(sb.st_mode)) {
        snprintf(err, errlen, "listen %s: %s is no longer our socket", cl->text, l->unix_path);
        return -1;
    }
    uid_t uid = cl->unix_uid == (uid_t)-1 || cl->unix_uid == sb.st_uid ? (uid_t)-1 : cl->unix_uid;
    gid_t gid = cl->unix_gid == (gid_t)-1 || cl->unix_gid == sb.st_gid ? (gid_t)-1 : cl->unix_gid;
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && lchown(l->unix_path, uid, gid) < 0) {
        snprintf(err, errlen, "listen %s: owner %ld, group %ld: %s", cl->text, (long)(int)cl->unix_uid,
                 (long)(int)cl->unix_gid, strerror(errno));
        return -1;
    }
    if (cl->unix_mode >= 0 && chmod(l->unix_path, (mode_t)cl->unix_mode) < 0) {
        snprintf(err, errlen, "listen %s: mode %04o: %s", cl->text, (unsigned)cl->unix_mode, strerror(errno));
        return -1;
    }
    l->unix_mode = cl->unix_mode;
    l->unix_uid = cl->unix_uid;
    l->unix_gid = cl->unix_gid;
    return 0;
}

/* l->local from the address l is bound to (see listener.h): a socket bound
 * to one address gives every connection that address, so no connection
 * has to ask with getsockname(). */
static void set_local(listener_t *l, const struct sockaddr_storage *ss)
{
    int one = 0;
    if (ss->ss_family == AF_INET)
        one = ((const struct sockaddr_in *)ss)->sin_addr.s_addr != htonl(INADDR_ANY);
    else if (ss->ss_family == AF_INET6)
        one = !IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    if (ss->ss_family == AF_UNIX)
        snprintf(l->local, sizeof l->local, "unix");
    else if (one && strlen(l->name) < sizeof l->local)
        memcpy(l->local, l->name, strlen(l->name) + 1);
    else
        l->local[0] = '\0';
}

int listener_open(const cfg_listen_t *cl, listener_t *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    passed_sock_t *p = find_passed(&cl->addr);
    if (p)
        return borrow(p, cl, l, err, errlen);
    int family = cl->addr.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listen %s: socket: %s", cl->text, strerror(errno));
        return -1;
    }
    int one = 1;
    if (family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    /* Accepted sockets inherit TCP_NODELAY: one call here instead of one
     * per connection. Responses leave in as few writes as possible, so
     * Nagle's algorithm would only delay the last segment. */
    if (family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (family == AF_UNIX)
        remove_stale_socket(((const struct sockaddr_un *)&cl->addr)->sun_path);
    if (bind(fd, (const struct sockaddr *)&cl->addr, cl->addrlen) < 0) {
        snprintf(err, errlen, "listen %s: bind: %s", cl->text, strerror(errno));
        close(fd);
        return -1;
    }
    l->fd = fd;
    l->family = family;
    l->text = strdup(cl->text);
    if (family == AF_UNIX)
        l->unix_path = strdup(((const struct sockaddr_un *)&cl->addr)->sun_path);
    if (l->text == NULL || (family == AF_UNIX && l->unix_path == NULL)) {
        snprintf(err, errlen, "listen %s: out of memory", cl->text);
        listener_close(l);
        return -1;
    }
    /* Before listen(): until then a connect is refused, so no client gets
     * in under the access the socket was created with. */
    l->unix_mode = -1;
    l->unix_uid = (uid_t)-1;
    l->unix_gid = (gid_t)-1;
    if (listener_set_access(l, cl, err, errlen) < 0) {
        listener_close(l);
        return -1;
    }
    if (listen(fd, BACKLOG) < 0) {
        snprintf(err, errlen, "listen %s: listen: %s", cl->text, strerror(errno));
        listener_close(l);
        return -1;
    }
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        listener_format_addr((struct sockaddr *)&ss, len, l->name, sizeof l->name);
        set_local(l, &ss);
    } else {
        snprintf(l->name, sizeof l->name, "%s", cl->text);
    }
    return 0;
}

void listener_set_defer(listener_t *l, int seconds)
{
    /* A socket passed by systemd keeps its unit's DeferAcceptSec=. */
    if (l->family != AF_UNIX && !l->passed)
        setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds);
}

void listener_stop(listener_t *l)
{
    if (l->fd >= 0 && !l->passed)
        shutdown(l->fd, SHUT_RD);
}

void listener_close(listener_t *l)
{
    if (l->fd >= 0 && !l->passed)
        close(l->fd);
    if (l->unix_path && unlink_on_close)
        unlink(l->unix_path);
    free(l->unix_path);
    free(l->text);
    l->fd = -1;
    l->passed = 0;
    l->unix_path = NULL;
    l->text = NULL;
}
