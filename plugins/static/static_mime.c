/* static_mime: extension -> media type; contracts in static_mime.h. */
#include "static_mime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sm_entry {
    const char *ext; /* lower case, no dot */
    const char *type;
} sm_entry_t;

struct sm_table {
    sm_entry_t *v; /* sorted by ext; strings owned */
    size_t n;
};

/* Sorted by ext (strcmp order) for bsearch. */
static const sm_entry_t builtin[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/x-icon"},
    {"ics", "text/calendar"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"jxl", "image/jxl"},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", "text/markdown"},
    {"mjs", "text/javascript"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"rtf", "application/rtf"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const sm_entry_t *)a)->ext, ((const sm_entry_t *)b)->ext);
}

/* A media type as the file gives it must be safe to put in a header. */
static int valid_type(const char *s)
{
    int slash = 0;

    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s == '/')
            slash++;
        else if (!isalnum((unsigned char)*s) && strchr("!#$&^_.+-", *s) == NULL)
            return 0;
    }
    return slash == 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Appends one entry, both strings copied. */
static int table_add(sm_table_t *t, size_t *cap, const char *ext, const char *type)
{
    char *e, *ty;

    if (t->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        sm_entry_t *nv = realloc(t->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        t->v = nv;
        *cap = ncap;
    }
    e = strdup(ext);
    ty = strdup(type);
    if (e == NULL || ty == NULL) {
        free(e);
        free(ty);
        return -1;
    }
    lower(e);
    t->v[t->n].ext = e;
    t->v[t->n].type = ty;
    t->n++;
    return 0;
}

sm_table_t *sm_table_load(const char *path)
{
    FILE *f = fopen(path, "re");
    sm_table_t *t;
    char *line = NULL;
    size_t linecap = 0, cap = 0;

    if (f == NULL)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        fclose(f);
        return NULL;
    }
    while (getline(&line, &linecap, f) >= 0) {
        char *save = NULL, *type, *ext;
        char *hash = strchr(line, '#');

        if (hash != NULL)
            *hash = '\0';
        type = strtok_r(line, " \t\r\n", &save);
        if (type == NULL || !valid_type(type))
            continue;
        while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            if (strlen(ext) > 32)
                continue;
            if (table_add(t, &cap, ext, type) < 0) {
                free(line);
                fclose(f);
                sm_table_free(t);
                return NULL;
            }
        }
    }
    free(line);
    fclose(f);
    /* Stable choice for duplicates is not needed: the built-in table covers
     * the extensions where it would matter. */
    if (t->n > 1)
        qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
    return t;
}

void sm_table_free(sm_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free((char *)t->v[i].ext);
        free((char *)t->v[i].type);
    }
    free(t->v);
    free(t);
}

const char *sm_lookup(const sm_table_t *t, const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot;
    char ext[33];
    sm_entry_t key = {ext, NULL};
    const sm_entry_t *hit;
    size_t n;

    if (slash != NULL)
        name = slash + 1;
    dot = strrchr(name, '.');
    if (dot == NULL || dot == name || dot[1] == '\0')
        return NULL; /* no extension; ".bashrc" has none either */
    n = strlen(dot + 1);
    if (n >= sizeof(ext))
        return NULL;
    memcpy(ext, dot + 1, n + 1);
    lower(ext);
    hit = bsearch(&key, builtin, sizeof(builtin) / sizeof(builtin[0]), sizeof(builtin[0]), cmp_entry);
    if (hit == NULL && t != NULL && t->n > 0)
        hit = bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_entry);
    return hit ? hit->type : NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int sm_is_text(const char *type)
{
    return strncasecmp(type, "text/", 5) == 0 || ends_with(type, "+json") || ends_with(type, "+xml")
        || strcasecmp(type, "application/json") == 0 || strcasecmp(type, "application/xml") == 0
        || strcasecmp(type, "application/javascript") == 0;
}

int sm_compressible(const char *type)
{
    static const char *const extra[] = {
        "application/wasm", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp",
        "font/ttf", "font/otf", "application/vnd.ms-fontobject",
    };

    if (sm_is_text(type))
        return 1;
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        if (strcasecmp(type, extra[i]) == 0)
            return 1;
    return 0;
}

size_t sm_content_type(const sm_table_t *t, const char *name, char *buf, size_t cap)
{
    const char *type = sm_lookup(t, name);
    int n;

    if (type == NULL)
        type = "application/octet-stream";
    n = snprintf(buf, cap, "%s%s", type, sm_is_text(type) ? "; charset=utf-8" : "");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
