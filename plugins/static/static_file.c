/* static_file: a path opened and described once; contracts in static_file.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "static_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sf_open(sf_file_t *f, int root_fd, const char *rel, sp_symlinks_t policy, unsigned flags)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    /* O_NONBLOCK: opening a FIFO must never wait for a writer. */
    int fd = sp_open(root_fd, rel, O_RDONLY | O_NONBLOCK, policy, flags);
    if (fd < 0) {
        f->err = errno;
        return;
    }
    if (fstat(fd, &f->st) < 0) {
        f->err = errno;
        close(fd);
        return;
    }
    if (S_ISREG(f->st.st_mode))
        f->fd = fd;
    else
        close(fd);
}

/* The bytes behind sf_file_t.data, with their reference count in front. */
typedef struct sf_blob {
    unsigned refs; /* __atomic builtins only */
    char bytes[];
} sf_blob_t;

static sf_blob_t *blob_of(const char *data)
{
    return (sf_blob_t *)(void *)((char *)(uintptr_t)data - offsetof(sf_blob_t, bytes));
}

char *sf_data_new(size_t len)
{
    sf_blob_t *b = malloc(sizeof(*b) + (len ? len : 1));

    if (b == NULL)
        return NULL;
    b->refs = 1; /* not yet visible to any other thread */
    /* Not a leak: blob_of() finds b again from its bytes, and the last
     * sf_data_drop() frees it. */
    /* cppcheck-suppress memleak */
    return b->bytes;
}

/* Reads the whole file into f->data; on any surprise keeps the fd. */
static void read_inline(sf_file_t *f)
{
    size_t size = (size_t)f->st.st_size, got = 0;
    char *buf = sf_data_new(size);

    if (buf == NULL)
        return;
    while (got < size) {
        ssize_t n = pread(f->fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sf_data_drop(buf); /* shrank or failed: sendfile from the fd as before */
            return;
        }
        got += (size_t)n;
    }
    close(f->fd);
    f->fd = -1;
    f->data = buf;
    f->data_len = size;
}

const char *sf_data_hold(const sf_file_t *f)
{
    /* Relaxed: the caller already holds a reference (f's), so the count
     * cannot reach zero meanwhile. */
    __atomic_add_fetch(&blob_of(f->data)->refs, 1, __ATOMIC_RELAXED);
    return f->data;
}

void sf_data_drop(void *data)
{
    sf_blob_t *b;

    if (data == NULL)
        return;
    b = blob_of(data);
    /* Acquire-release: every use of the bytes by the other holders happens
     * before the free by whichever thread drops the last reference. */
    if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(b);
}

void sf_finish(sf_file_t *f, const sm_table_t *mime, const char *name, size_t max_inline)
{
    const char *type;

    if (f->err != 0 || !S_ISREG(f->st.st_mode))
        return;
    sc_etag_format(f->etag, (uint64_t)f->st.st_ino, (uint64_t)f->st.st_size,
                   (uint64_t)f->st.st_mtim.tv_sec * 1000000000u + (uint64_t)f->st.st_mtim.tv_nsec);
    if (sc_date_format(f->st.st_mtime, f->last_modified) != 0)
        f->last_modified[0] = '\0';
    if (sm_content_type(mime, name, f->ctype, sizeof(f->ctype)) == 0)
        strcpy(f->ctype, "application/octet-stream");
    type = sm_lookup(mime, name);
    f->compressible = sm_compressible(type ? type : "application/octet-stream");
    if (f->fd >= 0 && max_inline > 0 && (uint64_t)f->st.st_size <= max_inline)
        read_inline(f);
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int sf_unchanged(const sf_file_t *a, const sf_file_t *b)
{
    if (a->err != 0 || b->err != 0)
        return a->err == b->err;
    return a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino
        && (a->st.st_mode & S_IFMT) == (b->st.st_mode & S_IFMT)
        && a->st.st_size == b->st.st_size && same_time(&a->st.st_mtim, &b->st.st_mtim)
        && same_time(&a->st.st_ctim, &b->st.st_ctim);
}

int sf_current(const sf_file_t *f)
{
    struct stat now;

    if (f->err != 0 || f->fd < 0)
        return 1;
    if (fstat(f->fd, &now) < 0 || now.st_nlink == 0)
        return 0;
    return now.st_dev == f->st.st_dev && now.st_ino == f->st.st_ino && now.st_size == f->st.st_size
        && same_time(&now.st_mtim, &f->st.st_mtim) && same_time(&now.st_ctim, &f->st.st_ctim);
}

void sf_release(sf_file_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    sf_data_drop(f->data);
    f->data = NULL;
    f->data_len = 0;
}

void sf_move(sf_file_t *dst, sf_file_t *src)
{
    *dst = *src;
    src->fd = -1;
    src->data = NULL;
    src->data_len = 0;
}
