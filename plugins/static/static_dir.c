/* static_dir: autoindex listing and escaping; contracts in static_dir.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "static_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sd_buf_free(sd_buf_t *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

/* Room for len more bytes and a NUL. 0, or -1 when out of memory. */
static int reserve(sd_buf_t *b, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 1024;
        char *np;

        while (ncap < b->len + len + 1)
            ncap *= 2;
        np = realloc(b->ptr, ncap);
        if (np == NULL)
            return -1;
        b->ptr = np;
        b->cap = ncap;
    }
    return 0;
}

int sd_buf_add(sd_buf_t *b, const char *s, size_t len)
{
    if (reserve(b, len) < 0)
        return -1;
    memcpy(b->ptr + b->len, s, len);
    b->len += len;
    b->ptr[b->len] = '\0'; /* keeps the buffer printable for tests */
    return 0;
}

static int add_str(sd_buf_t *b, const char *s)
{
    return sd_buf_add(b, s, strlen(s));
}

int sd_html_escape(sd_buf_t *b, const char *s, size_t len)
{
    size_t run = 0;

    for (size_t i = 0; i < len; i++) {
        const char *rep;

        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        if (sd_buf_add(b, s + run, i - run) < 0 || add_str(b, rep) < 0)
            return -1;
        run = i + 1;
    }
    return sd_buf_add(b, s + run, len - run);
}

int sd_url_escape(const ph_server_api_t *api, sd_buf_t *b, const char *s, size_t len)
{
    if (reserve(b, 3 * len) < 0) /* the most the escapes take */
        return -1;
    b->len += api->url_escape(s, len, PH_URL_ESCAPE_SLASH, b->ptr + b->len, b->cap - b->len);
    return 0;
}

typedef struct entry {
    char *name;
    int is_dir;
} entry_t;

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;

    if (x->is_dir != y->is_dir)
        return y->is_dir - x->is_dir;
    return strcmp(x->name, y->name);
}

/* Decides whether name is listed and as what. Returns 1 (list; *is_dir
 * set) or 0 (leave out). */
static int classify(int dfd, int root_fd, const char *rel_dir, const char *name,
                    sp_symlinks_t policy, unsigned spflags, int *is_dir)
{
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        char path[SP_PATH_MAX + 1];
        int fd, n;

        if (policy == SP_SYMLINKS_OFF)
            return 0;
        /* Resolve it the way a request would, so links that escape the
         * root or dangle are not advertised. */
        n = snprintf(path, sizeof(path), "%s/%s", rel_dir, name);
        if (n < 0 || (size_t)n >= sizeof(path))
            return 0;
        fd = sp_open(root_fd, path, O_PATH, policy, spflags);
        if (fd < 0)
            return 0;
        n = fstat(fd, &st);
        close(fd);
        if (n < 0)
            return 0;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return 0;
    *is_dir = S_ISDIR(st.st_mode);
    return 1;
}

/* Reads the listed entries of rel_dir into *out (sorted). */
static int read_entries(int root_fd, const char *rel_dir, unsigned flags, sp_symlinks_t policy,
                        entry_t **out, size_t *count)
{
    entry_t *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    /* The same name rules as a request: a link to a dotfile is not listed. */
    unsigned spflags = ((flags & SD_SHOW_DOTFILES) ? SP_ALLOW_DOTFILES : 0)
                     | ((flags & SD_WELL_KNOWN) ? SP_ALLOW_WELL_KNOWN : 0);
    int fd = sp_open(root_fd, rel_dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK, policy, spflags);

    if (fd < 0)
        return -1;
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -1;
    }
    while ((de = readdir(d)) != NULL && n < SD_MAX_ENTRIES) {
        int is_dir;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_name[0] == '.' && !(flags & SD_SHOW_DOTFILES))
            continue;
        if (!classify(dirfd(d), root_fd, rel_dir, de->d_name, policy, spflags, &is_dir))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            entry_t *nv = realloc(v, ncap * sizeof(*nv));
            if (nv == NULL)
                goto oom;
            v = nv;
            cap = ncap;
        }
        v[n].name = strdup(de->d_name);
        if (v[n].name == NULL)
            goto oom;
        v[n].is_dir = is_dir;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(v, n, sizeof(*v), cmp_entry);
    *out = v;
    *count = n;
    return 0;

oom:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    errno = ENOMEM;
    return -1;
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ";
static const char page_style[] =
    "</title>\n<style>\n"
    "body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 50rem; padding: 0 1rem; color: #1d2330; }\n"
    "h1 { font-size: 1.4rem; word-break: break-all; }\n"
    "ul { list-style: none; padding: 0; }\n"
    "li { border-bottom: 1px solid #e3e6ec; padding: 0.25rem 0; }\n"
    "a { color: #0b57d0; text-decoration: none; word-break: break-all; }\n"
    "a:hover { text-decoration: underline; }\n"
    "</style>\n</head>\n<body>\n<h1>Index of ";

static int render(const ph_server_api_t *api, sd_buf_t *out, const char *url_path, const entry_t *v, size_t n)
{
    size_t ulen = strlen(url_path);

    if (add_str(out, page_head) < 0 || sd_html_escape(out, url_path, ulen) < 0
        || add_str(out, page_style) < 0 || sd_html_escape(out, url_path, ulen) < 0
        || add_str(out, "</h1>\n<ul>\n") < 0)
        return -1;
    if (strcmp(url_path, "/") != 0 && add_str(out, "<li><a href=\"../\">../</a></li>\n") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *slash = v[i].is_dir ? "/" : "";
        size_t nlen = strlen(v[i].name);

        if (add_str(out, "<li><a href=\"") < 0 || sd_url_escape(api, out, v[i].name, nlen) < 0
            || add_str(out, slash) < 0 || add_str(out, "\">") < 0
            || sd_html_escape(out, v[i].name, nlen) < 0 || add_str(out, slash) < 0
            || add_str(out, "</a></li>\n") < 0)
            return -1;
    }
    return add_str(out, "</ul>\n</body>\n</html>\n");
}

int sd_listing(const ph_server_api_t *api, sd_buf_t *out, int root_fd, const char *rel_dir, const char *url_path,
               unsigned flags, sp_symlinks_t policy)
{
    entry_t *v = NULL;
    size_t n = 0;
    int rc;

    if (read_entries(root_fd, rel_dir, flags, policy, &v, &n) < 0)
        return -1;
    rc = render(api, out, url_path, v, n);
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    if (rc < 0)
        errno = ENOMEM;
    return rc;
}
