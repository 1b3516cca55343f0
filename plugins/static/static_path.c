/* static_path: path checks and open-beneath-root; contracts in static_path.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, openat2 */
#endif
#include "static_path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Same limit as the kernel's path walk, so both paths agree on ELOOP. */
#define SP_MAX_SYMLINKS 40
/* Directory fds held at once by the walk. */
#define SP_MAX_DEPTH 256

#define WELL_KNOWN ".well-known"

/* 1 when the name (n bytes, not "." or "..") may be served under flags;
 * first: it sits directly below the root. */
static int name_ok(const char *name, size_t n, unsigned flags, int first)
{
    if (n == 0 || name[0] != '.' || (flags & SP_ALLOW_DOTFILES))
        return 1;
    return first && (flags & SP_ALLOW_WELL_KNOWN) && n == sizeof(WELL_KNOWN) - 1
        && memcmp(name, WELL_KNOWN, n) == 0;
}

int sp_check(const char *path, size_t len, unsigned flags)
{
    size_t i = 0;
    int first = 1;

    if (memchr(path, '\0', len) != NULL || memchr(path, '\\', len) != NULL)
        return -1;
    while (i < len) {
        size_t start, clen;

        while (i < len && path[i] == '/')
            i++;
        start = i;
        while (i < len && path[i] != '/')
            i++;
        clen = i - start;
        if (clen == 0)
            continue;
        if (clen == 2 && path[start] == '.' && path[start + 1] == '.')
            return -1; /* ".." is never allowed, whatever the core did */
        if (!name_ok(path + start, clen, flags, first))
            return -1;
        first = 0;
    }
    return 0;
}

int sp_errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case EXDEV:
    case ENAMETOOLONG:
    case ENXIO:
    case EINVAL:
        return 404;
    case EACCES:
    case EPERM:
        return 403;
    default:
        return 500;
    }
}

/* Pops and closes every directory fd the walk opened. */
static void close_stack(int *fds, int depth)
{
    for (int i = depth; i > 0; i--)
        close(fds[i]);
}

int sp_open_walk(int root_fd, const char *rel, int oflags, sp_symlinks_t policy, unsigned flags)
{
    char pending[2 * SP_PATH_MAX + 2];
    char target[SP_PATH_MAX + 1];
    int fds[SP_MAX_DEPTH + 1];
    int depth = 0, links = 0, fd = -1, saved;
    size_t pos = 0;

    if (strlen(rel) > SP_PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(pending, rel);
    fds[0] = root_fd;
    oflags |= O_CLOEXEC | O_NOFOLLOW;

    for (;;) {
        size_t start, end, next;
        int last, want_dir;
        char *name;
        struct stat st;

        while (pending[pos] == '/')
            pos++;
        if (pending[pos] == '\0') {
            /* Nothing left: the path names the current directory (the root
             * for "", or a directory reached through ".."). */
            fd = openat(fds[depth], ".", oflags & ~O_NOFOLLOW);
            break;
        }
        start = pos;
        while (pending[pos] != '\0' && pending[pos] != '/')
            pos++;
        end = pos;
        next = end;
        while (pending[next] == '/')
            next++;
        last = pending[next] == '\0';
        want_dir = pending[end] == '/';

        if (end - start == 1 && pending[start] == '.')
            continue;
        if (end - start == 2 && pending[start] == '.' && pending[start + 1] == '.') {
            if (depth == 0) {
                errno = EXDEV;
                goto fail;
            }
            close(fds[depth--]);
            continue;
        }

        /* Name the component in place; the byte at end is restored below
         * only where the rest of the path is still needed. */
        char saved_ch = pending[end];
        pending[end] = '\0';
        name = pending + start;
        /* Checked on every name looked up, so a symlink's target is held to
         * the same rule as the request path. */
        if (!name_ok(name, end - start, flags, depth == 0)) {
            errno = ENOENT;
            goto fail;
        }
        if (fstatat(fds[depth], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            goto fail;
        if (S_ISLNK(st.st_mode)) {
            ssize_t n;

            if (policy == SP_SYMLINKS_OFF || ++links > SP_MAX_SYMLINKS) {
                errno = ELOOP;
                goto fail;
            }
            n = readlinkat(fds[depth], name, target, sizeof(target) - 1);
            if (n < 0)
                goto fail;
            if (n == 0 || (size_t)n >= sizeof(target) - 1) {
                errno = n == 0 ? ENOENT : ENAMETOOLONG;
                goto fail;
            }
            if (target[0] == '/') {
                errno = EXDEV; /* an absolute target is never beneath */
                goto fail;
            }
            /* Splice: target followed by the rest after this component,
             * formatted with its bound checked, then copied back whole. */
            pending[end] = saved_ch;
            char spliced[SP_PATH_MAX + 1];
            int k = snprintf(spliced, sizeof spliced, "%.*s%s", (int)n, target, pending + end);
            if (k < 0 || (size_t)k >= sizeof spliced) {
                errno = ENAMETOOLONG;
                goto fail;
            }
            memcpy(pending, spliced, (size_t)k + 1);
            pos = 0;
            continue;
        }
        if (!last) {
            if (depth == SP_MAX_DEPTH) {
                errno = ENAMETOOLONG;
                goto fail;
            }
            int dfd = openat(fds[depth], name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (dfd < 0)
                goto fail;
            fds[++depth] = dfd;
            pending[end] = saved_ch;
            continue;
        }
        /* O_NOFOLLOW makes a component swapped for a symlink since the
         * fstatat fail with ELOOP instead of being followed. */
        fd = openat(fds[depth], name, oflags | (want_dir ? O_DIRECTORY : 0));
        break;
    }
    saved = errno;
    close_stack(fds, depth);
    errno = saved;
    return fd;

fail:
    saved = errno;
    close_stack(fds, depth);
    errno = saved;
    return -1;
}

/* -1 unknown, 0 kernel lacks openat2, 1 available. Racing first calls only
 * probe twice. */
static int have_openat2 = -1;

/* 1 when some component of rel starts with '.' ("." and ".." included). */
static int has_dot_component(const char *rel)
{
    for (const char *p = rel; *p; p++)
        if (*p == '.' && (p == rel || p[-1] == '/'))
            return 1;
    return 0;
}

int sp_open(int root_fd, const char *rel, int oflags, sp_symlinks_t policy, unsigned flags)
{
    struct open_how how;
    int fd, tries = 0, names_checked = (flags & SP_ALLOW_DOTFILES) != 0;

    while (*rel == '/')
        rel++;
    if (strlen(rel) > SP_PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* The kernel's resolution hides the names it passes through: when they
     * matter, openat2 only takes paths it resolves literally (no dot
     * component, no symlink) and the walk does the rest. */
    if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED) == 0
        || (!names_checked && has_dot_component(rel)))
        return sp_open_walk(root_fd, rel, oflags, policy, flags);

    memset(&how, 0, sizeof(how));
    how.flags = (unsigned long long)(oflags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    if (policy == SP_SYMLINKS_OFF || !names_checked)
        how.resolve |= RESOLVE_NO_SYMLINKS;
    do {
        fd = (int)syscall(SYS_openat2, root_fd, *rel ? rel : ".", &how, sizeof(how));
        /* EAGAIN: a concurrent rename or mount made the kernel give up on a
         * lookup it could not prove safe; retrying is what it asks for. */
    } while (fd < 0 && errno == EAGAIN && ++tries < 8);
    if (fd < 0 && errno == ENOSYS) {
        __atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
        return sp_open_walk(root_fd, rel, oflags, policy, flags);
    }
    /* A symlink on the way that the policy allows: the walk follows it and
     * checks the names of its target. */
    if (fd < 0 && errno == ELOOP && policy == SP_SYMLINKS_INSIDE && !names_checked)
        return sp_open_walk(root_fd, rel, oflags, policy, flags);
    if (fd >= 0)
        __atomic_store_n(&have_openat2, 1, __ATOMIC_RELAXED);
    return fd;
}
