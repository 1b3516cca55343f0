/*
 * static_path: validate a request path and open it beneath a root directory.
 *
 * Pure filesystem code with no plugin API, so Check and fuzzers can drive it.
 * Every open is relative to a root directory fd and can never resolve to
 * anything outside it: openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 * where the kernel has it, otherwise an equivalent component-by-component
 * openat(O_NOFOLLOW) walk that resolves symlinks itself.
 */
#ifndef PH_STATIC_PATH_H
#define PH_STATIC_PATH_H

#include <stddef.h>

/* Longest relative path sp_open() accepts (bytes, without the NUL). */
#define SP_PATH_MAX 4095

/* sp_check() and sp_open() flags. */
#define SP_ALLOW_DOTFILES 0x1u   /* components starting with '.' pass */
#define SP_ALLOW_WELL_KNOWN 0x2u /* ".well-known" directly below the root
                                    passes (RFC 8615), other dotfiles not */

/* sp_open() symlink policies. */
typedef enum sp_symlinks {
    SP_SYMLINKS_INSIDE, /* follow symlinks whose target stays beneath root */
    SP_SYMLINKS_OFF     /* any symlink on the way fails with ELOOP */
} sp_symlinks_t;

/*
 * Checks a decoded request path (not NUL-terminated, len bytes) before it is
 * opened. Refuses: a NUL or backslash anywhere, a ".." component, and, unless
 * SP_ALLOW_DOTFILES, any other component starting with '.' (".git", ".env";
 * a lone "." is refused too), except a first component ".well-known" with
 * SP_ALLOW_WELL_KNOWN. Empty components ("a//b") and a leading or
 * trailing '/' are fine. Returns 0 when the path may be opened, -1 if not.
 */
int sp_check(const char *path, size_t len, unsigned flags);

/*
 * Opens rel (NUL-terminated, relative: leading '/' are skipped, "" means the
 * root itself) beneath root_fd with open flags oflags (O_CLOEXEC and
 * O_NOFOLLOW handling are added here; pass O_NONBLOCK so a FIFO never
 * blocks). Uses openat2 and falls back to sp_open_walk() when the kernel
 * answers ENOSYS.
 *
 * flags as for sp_check(), applied to the RESOLVED path: without
 * SP_ALLOW_DOTFILES, no name the resolution passes through may start with
 * '.', whether it came from rel or from a symlink's target ("link ->
 * .git" fails like ".git" itself); "." and ".." as steps are fine. Such a
 * path fails with ENOENT. openat2 serves paths without any dot component
 * and without symlinks; the walk resolves the rest, so it can see every
 * name.
 *
 * Returns a new fd the caller closes, or -1 with errno set: ENOENT/ENOTDIR
 * (missing, or a dotfile refused), EXDEV or ELOOP (would escape the root,
 * or a symlink refused by the policy), EACCES, ENAMETOOLONG, others.
 * Thread-safe.
 */
int sp_open(int root_fd, const char *rel, int oflags, sp_symlinks_t policy, unsigned flags);

/*
 * The fallback used by sp_open() without openat2, callable directly so it can
 * be tested on any kernel. Walks rel one component at a time with
 * openat(O_NOFOLLOW), keeping a stack of directory fds: ".." pops (and fails
 * with EXDEV at the root), a symlink is read with readlinkat and its target
 * spliced into the rest of the path (an absolute target fails with EXDEV;
 * more than 40 symlinks fail with ELOOP; policy OFF fails with ELOOP), and
 * every name it looks up is checked against flags.
 * Same contract as sp_open().
 */
int sp_open_walk(int root_fd, const char *rel, int oflags, sp_symlinks_t policy, unsigned flags);

/* Maps an sp_open() errno to an HTTP status: 404, 403 or 500. */
int sp_errno_status(int err);

#endif /* PH_STATIC_PATH_H */
