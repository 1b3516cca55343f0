#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 4096

/* Only the process that bound a unix socket removes its path: worker
 * processes of a master share the socket and must leave it in place. */
static int unlink_on_close = 1;

void listener_keep_paths(void) { unlink_on_close = 0; }

void listener_format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
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

int listener_open(const cfg_listen_t *cl, listener_t *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
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
    if (listen(fd, BACKLOG) < 0) {
        snprintf(err, errlen, "listen %s: listen: %s", cl->text, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        listener_format_addr((struct sockaddr *)&ss, len, l->name, sizeof l->name);
    else
        snprintf(l->name, sizeof l->name, "%s", cl->text);
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
    return 0;
}

void listener_set_defer(listener_t *l, int seconds)
{
    if (l->family != AF_UNIX)
        setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds);
}

void listener_close(listener_t *l)
{
    if (l->fd >= 0)
        close(l->fd);
    if (l->unix_path && unlink_on_close)
        unlink(l->unix_path);
    free(l->unix_path);
    free(l->text);
    l->fd = -1;
    l->unix_path = NULL;
    l->text = NULL;
}
