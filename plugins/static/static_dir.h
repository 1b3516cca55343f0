/*
 * static_dir: the autoindex listing of a directory, and the escaping it
 * needs. The page is built in a caller-owned buffer; the only plugin API
 * call is api->url_escape (so the unit test passes a table holding it).
 */
#ifndef PH_STATIC_DIR_H
#define PH_STATIC_DIR_H

#include <plughttpd/plugin.h>
#include <stddef.h>

#include "static_path.h"

/* A growable byte buffer. Zero-initialise; release with sd_buf_free(). */
typedef struct sd_buf {
    char *ptr;
    size_t len;
    size_t cap;
} sd_buf_t;

void sd_buf_free(sd_buf_t *b);

/* Appends len bytes. Returns 0, or -1 when out of memory (b unchanged). */
int sd_buf_add(sd_buf_t *b, const char *s, size_t len);

/* Appends s with & < > " ' replaced by character references, so it is safe
 * as HTML text and inside a quoted attribute. Returns 0 or -1 (memory). */
int sd_html_escape(sd_buf_t *b, const char *s, size_t len);

/* Appends s percent-encoded as one path segment (api->url_escape with
 * PH_URL_ESCAPE_SLASH): every byte except ALPHA, DIGIT and "-._~"
 * becomes %XX, so a name can never end a path segment, start a scheme
 * ("a:b") or a query. Returns 0 or -1 (memory). */
int sd_url_escape(const ph_server_api_t *api, sd_buf_t *b, const char *s, size_t len);

/* sd_listing() flags. */
#define SD_SHOW_DOTFILES 0x1u /* list names starting with '.' */
#define SD_WELL_KNOWN 0x2u    /* ".well-known" below the root may be listed
                                 (its own contents; it is never shown) */

/* Most entries one listing shows; the rest are left out. */
#define SD_MAX_ENTRIES 10000

/*
 * Appends an HTML page listing directory rel_dir (relative to root_fd, as
 * for sp_open()) to out. url_path is the request's decoded path (shown as
 * the title, HTML-escaped). Entries are sorted (directories first, then by
 * name in byte order); directories end in '/'; "." and ".." are never
 * listed, dotfiles only with SD_SHOW_DOTFILES; symlinks only when policy
 * allows them and they resolve beneath the root to a name a request could
 * have (without SD_SHOW_DOTFILES, never to a dotfile; a symlink is listed
 * as what it points to); anything that is neither a regular file nor a directory is
 * left out. A "../" link leads up unless url_path is "/".
 * Names are escaped with sd_url_escape(api, ...).
 * Returns 0, or -1 with errno set (the directory cannot be read, memory).
 */
int sd_listing(const ph_server_api_t *api, sd_buf_t *out, int root_fd, const char *rel_dir, const char *url_path,
               unsigned flags, sp_symlinks_t policy);

#endif /* PH_STATIC_DIR_H */
