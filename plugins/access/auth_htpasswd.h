/*
 * auth_htpasswd: an htpasswd file ("user:hash" lines) read once into
 * memory, and the identity of the file read, so a reload can tell whether
 * it changed. Pure: no plugin API calls.
 *
 * Accepted hashes are those libcrypt verifies and that are fit for
 * passwords today: bcrypt ($2y$, $2b$), yescrypt ($y$), SHA-512 crypt
 * ($6$), SHA-256 crypt ($5$). Anything else (Apache's $apr1$ MD5, {SHA},
 * plain text, DES) is refused at load, so a weak or mistyped line cannot
 * silently lock out or let in anyone.
 */
#ifndef AUTH_HTPASSWD_H
#define AUTH_HTPASSWD_H

#include <stddef.h>
#include <sys/stat.h>

typedef struct auth_user {
    char *name; /* owned */
    char *hash; /* owned; a setting crypt_rn() takes */
} auth_user_t;

typedef struct auth_htpasswd {
    auth_user_t *users; /* owned, sorted by name */
    size_t n;
    /* what was read: device, inode, size, mtime */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} auth_htpasswd_t;

/* Reads path. Blank lines and lines starting with '#' are skipped; every
 * other line is "user:hash" (no blanks around, a user without ':' or
 * control bytes, listed once). 0, or -1 with "PATH:LINE: reason" (or
 * "PATH: reason") in why[0..cap); out is then empty. */
int auth_htpasswd_load(auth_htpasswd_t *out, const char *path, char *why, size_t cap);

/* The user so named, or NULL. */
const auth_user_t *auth_htpasswd_find(const auth_htpasswd_t *f, const char *name);

/* Whether path is no longer the file that was read (other inode, size or
 * mtime; gone or unreadable counts as changed). */
int auth_htpasswd_changed(const auth_htpasswd_t *f, const char *path);

void auth_htpasswd_free(auth_htpasswd_t *f);

#endif
