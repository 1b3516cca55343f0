/*
 * static_file: one path beneath the root, opened safely and described once:
 * what it is (or why it cannot be had), its validators and Content-Type as
 * ready-made header values, and, for small regular files, its bytes.
 *
 * This is what the open-file cache (static_cache) keeps per path, and what a
 * request uses directly when the cache is off. No plugin API.
 */
#ifndef PH_STATIC_FILE_H
#define PH_STATIC_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "static_cond.h"
#include "static_mime.h"
#include "static_path.h"

/* Room for a Content-Type value, NUL included. */
#define SF_CTYPE_MAX 160

typedef struct sf_file {
    int err;         /* 0, or the errno sp_open()/fstat() failed with */
    struct stat st;  /* valid when err == 0 */
    /* A regular file open for reading, owned; -1 when data holds the
     * bytes, and always -1 for anything that is not a regular file. */
    int fd;
    /* All st.st_size bytes, or NULL. Reference-counted: the sf_file_t owns
     * one reference, sf_data_hold() lends more (see below). */
    char *data;
    size_t data_len; /* bytes in data: st.st_size when data != NULL */
    /* Header values, filled by sf_finish() for a regular file. */
    char etag[SC_ETAG_MAX];
    char last_modified[SC_DATE_MAX]; /* "" when the mtime cannot be shown */
    char ctype[SF_CTYPE_MAX];        /* from the name given to sf_finish() */
    int compressible;                /* the name's type may have .br/.gz */
} sf_file_t;

/*
 * Opens rel beneath root_fd with sp_open() (policy and flags as there) and fstat()s
 * it, filling *f: err on failure; otherwise st, and for a regular file fd.
 * Directories and other non-regular files are closed at once (their st is
 * all a caller needs). Never fails as a call: the outcome is in f->err.
 * Release with sf_release().
 */
void sf_open(sf_file_t *f, int root_fd, const char *rel, sp_symlinks_t policy, unsigned flags);

/*
 * Completes a file from sf_open(): the header values (ctype from name's
 * extension through mime, which may be NULL), and, when it is a regular
 * file of at most max_inline bytes (0: never, not even an empty file),
 * reads it into data and closes fd. If
 * the read comes up short (the file shrank) or memory runs out, fd is kept
 * and data stays NULL. A file with err set is left alone.
 */
void sf_finish(sf_file_t *f, const sm_table_t *mime, const char *name, size_t max_inline);

/*
 * 1 when two sf_open() results name the same, unchanged object: both failed
 * with the same errno, or both succeeded on the same device and inode with
 * equal type, size, mtime and ctime (nanoseconds). Used to revalidate a
 * cached file without re-reading it.
 */
int sf_unchanged(const sf_file_t *a, const sf_file_t *b);

/*
 * 1 when f's open descriptor still describes the file as f->st recorded it:
 * fstat() shows the same device, inode, size, mtime and ctime, and the file
 * still has a name (st_nlink > 0). 0 when the file was changed in place,
 * truncated, grown or deleted since, or fstat() fails: f's size, ETag and
 * bytes would then promise something the descriptor cannot deliver. A file
 * held in memory (fd -1) or a failure (err set) has nothing to re-check:
 * 1.
 */
int sf_current(const sf_file_t *f);

/* Closes fd and drops f's reference to data; leaves f empty (fd -1, data
 * NULL), so calling it twice is harmless. */
void sf_release(sf_file_t *f);

/*
 * The bytes of a file can outlive its sf_file_t: a response sent from them
 * without a copy keeps them until the request ends, even when the cache
 * entry is replaced or evicted meanwhile. sf_data_hold() takes a reference
 * to f->data (which must not be NULL) and returns it; sf_data_drop() gives
 * one back and frees the bytes with the last one. Both are safe from any
 * thread, so the drop may run wherever the request ends. sf_data_drop()
 * has the shape of a cleanup callback.
 */
const char *sf_data_hold(const sf_file_t *f);
void sf_data_drop(void *data);

/* Room for len bytes of file data with one reference (the caller's, to be
 * stored in an sf_file_t's data), or NULL when out of memory. */
char *sf_data_new(size_t len);

/* Moves everything from *src to *dst (dst must be empty or released);
 * src is left empty. */
void sf_move(sf_file_t *dst, sf_file_t *src);

#endif /* PH_STATIC_FILE_H */
