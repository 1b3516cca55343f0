#include "auth_htpasswd.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 1024

/* Each method and the length of its hash's last '$' field (bcrypt's holds
 * the salt too). */
static const struct {
    const char *prefix;
    size_t tail;
} methods[] = {{"$2y$", 53}, {"$2b$", 53}, {"$y$", 43}, {"$6$", 86}, {"$5$", 43}};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const auth_user_t *)a)->name, ((const auth_user_t *)b)->name);
}

/* libcrypt's judgement of the setting part. It calls SHA-256 crypt
 * "legacy" (not for new hashes), which still verifies: accepted, since
 * existing files use it. */
static int setting_ok(const char *hash)
{
    int rc = crypt_checksalt(hash);
    return rc == CRYPT_SALT_OK || rc == CRYPT_SALT_METHOD_LEGACY;
}

/* Checks one "user:hash" line (without its newline): NULL, or why not. */
static const char *line_check(char *line, char **user, char **hash)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return "not user:hash";
    *colon = '\0';
    *user = line;
    *hash = colon + 1;
    if (**user == '\0')
        return "empty user name";
    for (const char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "control byte in the user name";
    size_t m = 0;
    while (m < sizeof methods / sizeof *methods && strncmp(*hash, methods[m].prefix, strlen(methods[m].prefix)) != 0)
        m++;
    if (m == sizeof methods / sizeof *methods)
        return "hash is not bcrypt ($2y$, $2b$), yescrypt ($y$), SHA-512 ($6$) or SHA-256 ($5$) crypt";
    /* A truncated or garbled hash would otherwise only fail at the first
     * login: its checksum must be complete (the last field, in crypt's
     * base64), and libcrypt must accept its setting. Cheaper than hashing
     * once per user at every start. */
    const char *tail = strrchr(*hash, '$') + 1;
    if (strlen(tail) != methods[m].tail || strspn(tail, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != methods[m].tail ||
        !setting_ok(*hash))
        return "hash is malformed or its method is disabled in libcrypt";
    return NULL;
}

static int add_user(auth_htpasswd_t *out, const char *user, const char *hash)
{
    auth_user_t *l = realloc(out->users, (out->n + 1) * sizeof *l);
    if (!l)
        return -1;
    out->users = l;
    l[out->n].name = strdup(user);
    l[out->n].hash = strdup(hash);
    if (!l[out->n].name || !l[out->n].hash) {
        free(l[out->n].name);
        free(l[out->n].hash);
        return -1;
    }
    out->n++;
    return 0;
}

static int parse(auth_htpasswd_t *out, FILE *fp, const char *path, char *why, size_t cap)
{
    char line[LINE_MAX_BYTES + 2];
    for (unsigned lineno = 1; fgets(line, sizeof line, fp); lineno++) {
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(fp)) {
            snprintf(why, cap, "%s:%u: line longer than %d bytes", path, lineno, LINE_MAX_BYTES);
            return -1;
        }
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *user, *hash;
        const char *bad = line_check(line, &user, &hash);
        if (!bad && auth_htpasswd_find(out, user))
            bad = "user listed twice";
        if (bad) {
            snprintf(why, cap, "%s:%u: %s", path, lineno, bad);
            return -1;
        }
        if (add_user(out, user, hash) < 0) {
            snprintf(why, cap, "%s: out of memory", path);
            return -1;
        }
        /* kept sorted as it grows: files are small, and find() above
         * needs the order for its duplicate check */
        qsort(out->users, out->n, sizeof *out->users, by_name);
    }
    if (ferror(fp)) {
        snprintf(why, cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int auth_htpasswd_load(auth_htpasswd_t *out, const char *path, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "re");
    struct stat st;
    if (!fp || fstat(fileno(fp), &st) < 0) {
        snprintf(why, cap, "%s: %s", path, strerror(errno));
        if (fp)
            fclose(fp);
        return -1;
    }
    int rc = parse(out, fp, path, why, cap);
    fclose(fp);
    if (rc == 0 && out->n == 0) {
        snprintf(why, cap, "%s: no user", path);
        rc = -1;
    }
    if (rc < 0) {
        auth_htpasswd_free(out);
        return -1;
    }
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    out->size = st.st_size;
    out->mtime = st.st_mtim;
    return 0;
}

const auth_user_t *auth_htpasswd_find(const auth_htpasswd_t *f, const char *name)
{
    auth_user_t key = {(char *)name, NULL};
    return f->n ? bsearch(&key, f->users, f->n, sizeof *f->users, by_name) : NULL;
}

int auth_htpasswd_changed(const auth_htpasswd_t *f, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 1;
    return st.st_dev != f->dev || st.st_ino != f->ino || st.st_size != f->size ||
           st.st_mtim.tv_sec != f->mtime.tv_sec || st.st_mtim.tv_nsec != f->mtime.tv_nsec;
}

void auth_htpasswd_free(auth_htpasswd_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->users[i].name);
        free(f->users[i].hash);
    }
    free(f->users);
    memset(f, 0, sizeof *f);
}
