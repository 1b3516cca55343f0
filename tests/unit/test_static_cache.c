/*
 * Unit tests for the open-file cache of plugins/static: static_file (a path
 * opened safely and described once, small files read into memory, the
 * revalidation comparison) against a real directory tree, and static_cache
 * (lookup, least-recently-used eviction only at trim, the entry and byte
 * bounds, descriptors closed on eviction). (The route keys go through the server's parsers, tested with the plugin in tests/integration/test_static.py.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static_cache.h"
#include "static_file.h"

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* --- the cache ----------------------------------------------------------- */

/* A file description as the cache stores it: fd when >= 0, else len bytes
 * of data (len may be 0: no data). */
static sf_file_t fake_file(int fd, size_t len)
{
    sf_file_t f;

    memset(&f, 0, sizeof(f));
    f.fd = fd;
    if (fd < 0 && len > 0) {
        f.data = sf_data_new(len);
        ck_assert_ptr_nonnull(f.data);
        memset(f.data, 'x', len);
        f.data_len = len;
    }
    f.st.st_size = (off_t)len;
    return f;
}

static scache_entry_t *put_fake(scache_t *c, const char *key, int fd, size_t len, int64_t now)
{
    sf_file_t f = fake_file(fd, len);
    scache_entry_t *e = scache_put(c, key, &f, now);

    ck_assert_ptr_nonnull(e);
    /* moved in: the caller's copy is empty */
    ck_assert_int_eq(f.fd, -1);
    ck_assert_ptr_null(f.data);
    return e;
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

START_TEST(test_cache_put_get)
{
    scache_t *c = scache_new(4, 1 << 20);
    scache_entry_t *a, *b;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(scache_get(c, "/a"));
    a = put_fake(c, "/a", -1, 10, 5);
    b = put_fake(c, "/b", -1, 0, 6);
    ck_assert_ptr_eq(scache_get(c, "/a"), a);
    ck_assert_ptr_eq(scache_get(c, "/b"), b);
    ck_assert_int_eq(a->checked, 5);
    ck_assert_str_eq(a->key, "/a");
    ck_assert_int_eq(a->file.data_len, 10);
    ck_assert_ptr_null(scache_get(c, "/a/"));
    ck_assert_ptr_null(scache_get(c, "/"));
    ck_assert_ptr_null(scache_get(c, "a"));
    ck_assert_uint_eq(scache_count(c), 2);
    ck_assert_uint_eq(scache_bytes(c), 10);
    scache_free(c);
    scache_free(NULL);
}
END_TEST

START_TEST(test_cache_lru_order)
{
    scache_t *c = scache_new(2, 1 << 20);

    put_fake(c, "/a", -1, 0, 0);
    put_fake(c, "/b", -1, 0, 0);
    ck_assert_ptr_nonnull(scache_get(c, "/a")); /* b is now the oldest */
    put_fake(c, "/c", -1, 0, 0);
    ck_assert_uint_eq(scache_count(c), 3); /* put never evicts */
    scache_trim(c);
    ck_assert_uint_eq(scache_count(c), 2);
    ck_assert_ptr_null(scache_get(c, "/b"));
    ck_assert_ptr_nonnull(scache_get(c, "/a"));
    ck_assert_ptr_nonnull(scache_get(c, "/c"));
    /* /a was used before /c: it goes next */
    put_fake(c, "/d", -1, 0, 0);
    scache_trim(c);
    ck_assert_ptr_null(scache_get(c, "/a"));
    ck_assert_ptr_nonnull(scache_get(c, "/c"));
    ck_assert_ptr_nonnull(scache_get(c, "/d"));
    scache_free(c);
}
END_TEST

/* Everything looked up during one request stays valid until its trim. */
START_TEST(test_cache_no_eviction_before_trim)
{
    scache_t *c = scache_new(1, 1 << 20);
    scache_entry_t *e[10];
    char key[16];

    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "/k%d", i);
        e[i] = put_fake(c, key, -1, 100, i);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "/k%d", i);
        ck_assert_ptr_eq(scache_get(c, key), e[i]);
        ck_assert_str_eq(e[i]->key, key);
        ck_assert_int_eq(e[i]->checked, i);
    }
    ck_assert_uint_eq(scache_bytes(c), 1000);
    scache_trim(c);
    ck_assert_uint_eq(scache_count(c), 1);
    ck_assert_uint_eq(scache_bytes(c), 100);
    ck_assert_ptr_nonnull(scache_get(c, "/k9")); /* the last one used stays */
    scache_free(c);
}
END_TEST

START_TEST(test_cache_byte_bound)
{
    scache_t *c = scache_new(100, 1000);

    put_fake(c, "/a", -1, 400, 0);
    put_fake(c, "/b", -1, 400, 0);
    put_fake(c, "/fd", open("/dev/null", O_RDONLY), 0, 0); /* holds no bytes */
    scache_trim(c);
    ck_assert_uint_eq(scache_count(c), 3);
    put_fake(c, "/c", -1, 400, 0);
    ck_assert_uint_eq(scache_bytes(c), 1200);
    scache_trim(c);
    ck_assert_uint_eq(scache_bytes(c), 800);
    ck_assert_ptr_null(scache_get(c, "/a"));
    ck_assert_ptr_nonnull(scache_get(c, "/b"));
    ck_assert_ptr_nonnull(scache_get(c, "/c"));
    scache_free(c);
}
END_TEST

START_TEST(test_cache_closes_fds)
{
    scache_t *c = scache_new(2, 1 << 20);
    int fds[5];
    char key[16];

    for (int i = 0; i < 5; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fds[i], 0);
        snprintf(key, sizeof(key), "/f%d", i);
        put_fake(c, key, fds[i], 0, 0);
    }
    for (int i = 0; i < 5; i++)
        ck_assert(fd_is_open(fds[i]));
    scache_trim(c);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(!fd_is_open(fds[i]) && errno == EBADF, "evicted fd %d still open", i);
    ck_assert(fd_is_open(fds[3]));
    ck_assert(fd_is_open(fds[4]));
    scache_free(c);
    ck_assert(!fd_is_open(fds[3]));
    ck_assert(!fd_is_open(fds[4]));
}
END_TEST

/* Idle entries go at the end of a request: those not used since before
 * the given time, oldest first, closing their descriptors. */
START_TEST(test_cache_sweep)
{
    scache_t *c = scache_new(16, 1 << 20);
    int fds[2];

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(pipe(fds), 0);
    put_fake(c, "old-fd", fds[0], 10, 100);
    put_fake(c, "old-mem", -1, 10, 150);
    put_fake(c, "recent", -1, 10, 300);
    scache_touch(scache_get(c, "old-mem"), 400); /* used again: stays */
    scache_sweep(c, 200);
    ck_assert_uint_eq(scache_count(c), 2);
    ck_assert_ptr_null(scache_get(c, "old-fd"));
    /* its descriptor is closed */
    errno = 0;
    ck_assert_int_eq(fcntl(fds[0], F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_ptr_nonnull(scache_get(c, "old-mem"));
    ck_assert_ptr_nonnull(scache_get(c, "recent"));
    scache_sweep(c, 300); /* nothing older than 300 left */
    ck_assert_uint_eq(scache_count(c), 2);
    scache_sweep(c, 1000);
    ck_assert_uint_eq(scache_count(c), 0);
    ck_assert_uint_eq(scache_bytes(c), 0);
    close(fds[1]);
    scache_free(c);
}
END_TEST

START_TEST(test_cache_replace)
{
    scache_t *c = scache_new(4, 1 << 20);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    scache_entry_t *e = put_fake(c, "/r", fd, 0, 1);
    sf_file_t f = fake_file(-1, 30);

    scache_replace(c, e, &f, 99);
    ck_assert(!fd_is_open(fd)); /* the old descriptor is released */
    ck_assert_ptr_null(f.data);
    ck_assert_ptr_eq(scache_get(c, "/r"), e);
    ck_assert_int_eq(e->checked, 99);
    ck_assert_int_eq(e->file.fd, -1);
    ck_assert_uint_eq(e->file.data_len, 30);
    ck_assert_uint_eq(scache_bytes(c), 30);
    f = fake_file(-1, 5);
    scache_replace(c, e, &f, 100);
    ck_assert_uint_eq(scache_bytes(c), 5);
    ck_assert_uint_eq(scache_count(c), 1);
    scache_free(c);
}
END_TEST

/* Far more keys than the bound and than the buckets: chains, unlinking
 * from the middle of a chain, and the survivors are exactly the newest. */
START_TEST(test_cache_many_keys)
{
    enum { BOUND = 64, N = 5000 };
    scache_t *c = scache_new(BOUND, 1 << 20);
    char key[64];

    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "/dir/%d/file-%d.txt", i % 7, i);
        ck_assert_ptr_null(scache_get(c, key));
        put_fake(c, key, -1, 1, i);
        scache_trim(c);
        ck_assert_uint_le(scache_count(c), BOUND);
    }
    for (int i = 0; i < N; i++) {
        scache_entry_t *e;

        snprintf(key, sizeof(key), "/dir/%d/file-%d.txt", i % 7, i);
        e = scache_get(c, key);
        if (i < N - BOUND)
            ck_assert_msg(e == NULL, "%s survived", key);
        else
            ck_assert_msg(e != NULL && e->checked == i, "%s lost", key);
    }
    ck_assert_uint_eq(scache_bytes(c), BOUND);
    scache_free(c);
}
END_TEST

START_TEST(test_cache_long_key)
{
    scache_t *c = scache_new(4, 1 << 20);
    char key[SP_PATH_MAX + 1];

    memset(key, 'a', SP_PATH_MAX);
    key[0] = '/';
    key[SP_PATH_MAX] = '\0';
    put_fake(c, key, -1, 0, 0);
    ck_assert_ptr_nonnull(scache_get(c, key));
    key[SP_PATH_MAX - 1] = 'b';
    ck_assert_ptr_null(scache_get(c, key));
    scache_free(c);
}
END_TEST

/* --- static_file ---------------------------------------------------------- */

static char tree[] = "/tmp/test_static_cache-XXXXXX";
static int root_fd = -1;

static void write_file(const char *rel, const char *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/root/%s", tree, rel);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void setup_tree(void)
{
    char path[512];

    ck_assert_ptr_nonnull(mkdtemp(tree));
    snprintf(path, sizeof(path), "%s/root", tree);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/root/sub", tree);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/root/fifo", tree);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/secret.txt", tree);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("SECRET", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/root/out", tree);
    ck_assert_int_eq(symlink("../secret.txt", path), 0);
    snprintf(path, sizeof(path), "%s/root", tree);
    root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(root_fd, 0);
}

static void teardown_tree(void)
{
    char cmd[600];

    close(root_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tree);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(tree, "/tmp/test_static_cache-XXXXXX");
}

START_TEST(test_file_small_inline)
{
    sf_file_t f;
    char etag[SC_ETAG_MAX], date[SC_DATE_MAX];

    write_file("a.txt", "hello\n", 6);
    sf_open(&f, root_fd, "/a.txt", SP_SYMLINKS_INSIDE, 0);
    ck_assert_int_eq(f.err, 0);
    ck_assert(S_ISREG(f.st.st_mode));
    ck_assert_int_ge(f.fd, 0);
    sf_finish(&f, NULL, "/a.txt", 6);
    ck_assert_int_eq(f.fd, -1); /* read and closed */
    ck_assert_ptr_nonnull(f.data);
    ck_assert_uint_eq(f.data_len, 6);
    ck_assert(memcmp(f.data, "hello\n", 6) == 0);
    sc_etag_format(etag, (uint64_t)f.st.st_ino, 6,
                   (uint64_t)f.st.st_mtim.tv_sec * 1000000000u + (uint64_t)f.st.st_mtim.tv_nsec);
    ck_assert_str_eq(f.etag, etag);
    ck_assert_int_eq(sc_date_format(f.st.st_mtime, date), 0);
    ck_assert_str_eq(f.last_modified, date);
    ck_assert_str_eq(f.ctype, "text/plain; charset=utf-8");
    ck_assert_int_eq(f.compressible, 1);
    sf_release(&f);
    sf_release(&f); /* twice is harmless */
    ck_assert_ptr_null(f.data);
}
END_TEST

START_TEST(test_file_large_keeps_fd)
{
    char buf[100], got[100];
    sf_file_t f;

    memset(buf, 'z', sizeof(buf));
    write_file("b.png", buf, sizeof(buf));
    sf_open(&f, root_fd, "b.png", SP_SYMLINKS_INSIDE, 0);
    sf_finish(&f, NULL, "b.png", 99); /* one byte too many to inline */
    ck_assert_int_eq(f.err, 0);
    ck_assert_ptr_null(f.data);
    ck_assert_int_ge(f.fd, 0);
    ck_assert_int_eq(pread(f.fd, got, sizeof(got), 0), 100);
    ck_assert(memcmp(got, buf, sizeof(buf)) == 0);
    ck_assert_str_eq(f.ctype, "image/png");
    ck_assert_int_eq(f.compressible, 0);
    int fd = f.fd;
    sf_release(&f);
    ck_assert(!fd_is_open(fd));

    /* cache off: max_inline 0 never reads, even an empty file */
    write_file("empty", "", 0);
    sf_open(&f, root_fd, "empty", SP_SYMLINKS_INSIDE, 0);
    sf_finish(&f, NULL, "empty", 0);
    ck_assert_ptr_null(f.data);
    ck_assert_int_ge(f.fd, 0);
    ck_assert_str_eq(f.ctype, "application/octet-stream");
    sf_release(&f);
}
END_TEST

START_TEST(test_file_empty_inline)
{
    sf_file_t f;

    write_file("empty", "", 0);
    sf_open(&f, root_fd, "empty", SP_SYMLINKS_INSIDE, 0);
    sf_finish(&f, NULL, "empty", 10);
    ck_assert_int_eq(f.fd, -1);
    ck_assert_ptr_nonnull(f.data); /* in memory, zero bytes */
    ck_assert_uint_eq(f.data_len, 0);
    sf_release(&f);
}
END_TEST

START_TEST(test_file_not_regular_or_missing)
{
    sf_file_t f;

    sf_open(&f, root_fd, "sub", SP_SYMLINKS_INSIDE, 0);
    ck_assert_int_eq(f.err, 0);
    ck_assert(S_ISDIR(f.st.st_mode));
    ck_assert_int_eq(f.fd, -1);
    sf_finish(&f, NULL, "sub", 1000);
    ck_assert_ptr_null(f.data);
    ck_assert_str_eq(f.etag, "");

    sf_open(&f, root_fd, "fifo", SP_SYMLINKS_INSIDE, 0); /* must not block */
    ck_assert_int_eq(f.err, 0);
    ck_assert(S_ISFIFO(f.st.st_mode));
    ck_assert_int_eq(f.fd, -1);

    sf_open(&f, root_fd, "missing.txt", SP_SYMLINKS_INSIDE, 0);
    ck_assert_int_eq(f.err, ENOENT);
    ck_assert_int_eq(f.fd, -1);
    sf_finish(&f, NULL, "missing.txt", 1000);
    ck_assert_ptr_null(f.data);

    /* the same safe open as every request: no way out of the root */
    sf_open(&f, root_fd, "out", SP_SYMLINKS_INSIDE, 0);
    ck_assert_int_ne(f.err, 0);
    ck_assert_int_eq(sp_errno_status(f.err), 404);
    ck_assert_int_eq(f.fd, -1);
    sf_open(&f, root_fd, "../secret.txt", SP_SYMLINKS_INSIDE, 0);
    ck_assert_int_ne(f.err, 0);
    sf_release(&f);
}
END_TEST

static sf_file_t open_now(const char *rel)
{
    sf_file_t f;

    sf_open(&f, root_fd, rel, SP_SYMLINKS_INSIDE, 0);
    return f;
}

/* A descriptor kept for a large file is re-checked before use: changed in
 * place (truncated, grown, rewritten) or deleted, it no longer matches what
 * the entry promises. */
START_TEST(test_file_current)
{
    char big[4096], path[512];
    sf_file_t f;
    int fd;

    memset(big, 'a', sizeof(big));
    write_file("big.bin", big, sizeof(big));
    f = open_now("big.bin");
    sf_finish(&f, NULL, "big.bin", 0); /* 0: never inline, keep the fd */
    ck_assert_int_ge(f.fd, 0);
    ck_assert_int_eq(sf_current(&f), 1);
    snprintf(path, sizeof(path), "%s/root/big.bin", tree);
    /* truncated in place */
    fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 10), 0);
    close(fd);
    ck_assert_int_eq(sf_current(&f), 0);
    sf_release(&f);

    /* grown in place */
    f = open_now("big.bin");
    sf_finish(&f, NULL, "big.bin", 0);
    fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, big, 100), 100);
    close(fd);
    ck_assert_int_eq(sf_current(&f), 0);
    sf_release(&f);

    /* same size, rewritten: mtime/ctime tell (a timestamp tick apart) */
    f = open_now("big.bin");
    sf_finish(&f, NULL, "big.bin", 0);
    {
        struct timespec ts[2] = {{1, 0}, {1, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    }
    ck_assert_int_eq(sf_current(&f), 0);
    sf_release(&f);

    /* deleted: the name is gone although the descriptor still reads */
    f = open_now("big.bin");
    sf_finish(&f, NULL, "big.bin", 0);
    ck_assert_int_eq(sf_current(&f), 1);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(sf_current(&f), 0);
    sf_release(&f);

    /* nothing to re-check: in memory, or a failure */
    write_file("small.txt", "abc", 3);
    f = open_now("small.txt");
    sf_finish(&f, NULL, "small.txt", 100);
    ck_assert_int_eq(f.fd, -1);
    snprintf(path, sizeof(path), "%s/root/small.txt", tree);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(sf_current(&f), 1);
    sf_release(&f);
    f = open_now("missing");
    ck_assert_int_eq(sf_current(&f), 1);
    sf_release(&f);
}
END_TEST

/* A response lent a file's bytes keeps them after the cache entry is
 * replaced and the cache itself freed (ASan/valgrind passes would report a
 * use after free or a leak here). */
START_TEST(test_data_outlives_entry)
{
    scache_t *c = scache_new(4, 1 << 20);
    sf_file_t f, g;
    scache_entry_t *e;
    const char *held, *held2;

    ck_assert_ptr_nonnull(c);
    write_file("d.txt", "first version\n", 14);
    sf_open(&f, root_fd, "d.txt", SP_SYMLINKS_INSIDE, 0);
    sf_finish(&f, NULL, "d.txt", 100);
    ck_assert_ptr_nonnull(f.data);
    e = scache_put(c, "d.txt", &f, 0);
    ck_assert_ptr_nonnull(e);
    held = sf_data_hold(&e->file);
    held2 = sf_data_hold(&e->file);
    ck_assert_ptr_eq(held, held2);
    ck_assert_ptr_eq(held, e->file.data);

    g = fake_file(-1, 5); /* the file changed: the entry gets new bytes */
    scache_replace(c, e, &g, 1);
    ck_assert_ptr_ne(e->file.data, held);
    ck_assert(memcmp(held, "first version\n", 14) == 0);
    scache_free(c);
    ck_assert(memcmp(held, "first version\n", 14) == 0);
    sf_data_drop((void *)(uintptr_t)held);
    ck_assert(memcmp(held2, "first version\n", 14) == 0);
    sf_data_drop((void *)(uintptr_t)held2); /* the last reference frees */
    sf_data_drop(NULL);                      /* harmless */
}
END_TEST

START_TEST(test_file_unchanged)
{
    char path[512], tmp[512];
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 5}};
    sf_file_t a, b;

    write_file("c.txt", "abc", 3);
    a = open_now("c.txt");
    b = open_now("c.txt");
    ck_assert_int_eq(sf_unchanged(&a, &b), 1);
    sf_release(&b);

    /* same size, other bytes: only the times tell */
    write_file("c.txt", "xyz", 3);
    snprintf(path, sizeof(path), "%s/root/c.txt", tree);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    b = open_now("c.txt");
    ck_assert_int_eq(sf_unchanged(&a, &b), 0);
    sf_release(&b);

    /* another size */
    write_file("c.txt", "abcd", 4);
    b = open_now("c.txt");
    ck_assert_int_eq(sf_unchanged(&a, &b), 0);
    sf_release(&a);
    a = b;

    /* replaced by rename: another inode */
    snprintf(tmp, sizeof(tmp), "%s/root/c.tmp", tree);
    write_file("c.tmp", "abcd", 4);
    ck_assert_int_eq(rename(tmp, path), 0);
    b = open_now("c.txt");
    ck_assert_int_eq(sf_unchanged(&a, &b), 0);
    sf_release(&a);
    a = b;

    /* deleted */
    ck_assert_int_eq(unlink(path), 0);
    b = open_now("c.txt");
    ck_assert_int_eq(b.err, ENOENT);
    ck_assert_int_eq(sf_unchanged(&a, &b), 0);
    ck_assert_int_eq(sf_unchanged(&b, &a), 0);
    sf_release(&a);

    /* still missing is unchanged; missing for another reason is not */
    a = open_now("c.txt");
    ck_assert_int_eq(sf_unchanged(&a, &b), 1);
    b = open_now("out");
    ck_assert_int_eq(sf_unchanged(&a, &b), 0);

    /* a directory put where a file was */
    ck_assert_int_eq(mkdir(path, 0755), 0);
    b = open_now("c.txt");
    ck_assert_int_eq(sf_unchanged(&a, &b), 0);
    ck_assert_int_eq(rmdir(path), 0);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("static_cache");
    TCase *tc;

    tc = tcase_create("cache");
    tcase_add_test(tc, test_cache_put_get);
    tcase_add_test(tc, test_cache_lru_order);
    tcase_add_test(tc, test_cache_no_eviction_before_trim);
    tcase_add_test(tc, test_cache_byte_bound);
    tcase_add_test(tc, test_cache_closes_fds);
    tcase_add_test(tc, test_cache_replace);
    tcase_add_test(tc, test_cache_sweep);
    tcase_add_test(tc, test_cache_many_keys);
    tcase_add_test(tc, test_cache_long_key);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup_tree, teardown_tree);
    tcase_add_test(tc, test_file_small_inline);
    tcase_add_test(tc, test_file_large_keeps_fd);
    tcase_add_test(tc, test_file_empty_inline);
    tcase_add_test(tc, test_file_not_regular_or_missing);
    tcase_add_test(tc, test_file_unchanged);
    tcase_add_test(tc, test_data_outlives_entry);
    tcase_add_test(tc, test_file_current);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cache_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
