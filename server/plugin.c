#include "plugin.h"
#include "worker.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Smallest descriptor any 1.x plugin can have: everything through destroy. */
#define MIN_DESC_SIZE (offsetof(ph_plugin_t, destroy) + sizeof(void (*)(void *)))

int plugin_check(const ph_plugin_t *d, const char *path, char *err, size_t errlen)
{
    if (d->magic != PH_ABI_MAGIC) {
        snprintf(err, errlen, "%s: not a plughttpd plugin (bad magic 0x%08x in %s)", path, d->magic,
                 PH_PLUGIN_SYMBOL);
        return -1;
    }
    if (d->abi_major != PH_ABI_MAJOR || d->abi_minor > PH_ABI_MINOR) {
        snprintf(err, errlen,
                 "%s: plugin built for ABI %u.%u, this server has ABI %u.%u (it loads %u.0 to %u.%u); "
                 "rebuild the plugin against this server's plugin.h",
                 path, d->abi_major, d->abi_minor, PH_ABI_MAJOR, PH_ABI_MINOR, PH_ABI_MAJOR, PH_ABI_MAJOR,
                 PH_ABI_MINOR);
        return -1;
    }
    if (d->size < MIN_DESC_SIZE) {
        snprintf(err, errlen, "%s: plugin descriptor is %u bytes, ABI %u.%u needs at least %zu", path, d->size,
                 d->abi_major, d->abi_minor, (size_t)MIN_DESC_SIZE);
        return -1;
    }
    if (d->name == NULL || d->create == NULL || d->destroy == NULL) {
        snprintf(err, errlen, "%s: plugin descriptor lacks a name, create, handle or destroy", path);
        return -1;
    }
    ph_hooks_t h;
    plugin_hooks(d, &h);
    /* Before 1.3 every plugin is a content handler; from 1.3 a plugin
     * without handle() is a stage of a stack, which its hooks say. */
    if (d->handle == NULL && d->abi_minor < 3) {
        snprintf(err, errlen, "%s: plugin descriptor lacks a name, create, handle or destroy", path);
        return -1;
    }
    if (d->handle == NULL && h.on_head == NULL && h.filter_body == NULL) {
        snprintf(err, errlen, "%s: plugin has no handle() and neither an on_head nor a filter_body hook: it is no "
                 "content handler, access stage or output filter", path);
        return -1;
    }
    /* a coroutine handler reads its body with co_body_read() instead */
    if (d->abi_minor >= 3 && (d->flags & PH_PLUGIN_STREAM_BODY) && !(d->flags & PH_PLUGIN_COROUTINE) &&
        h.on_body == NULL) {
        snprintf(err, errlen, "%s: plugin declares PH_PLUGIN_STREAM_BODY but has no on_body hook to take the body",
                 path);
        return -1;
    }
    return 0;
}

void plugin_hooks(const ph_plugin_t *d, ph_hooks_t *out)
{
    memset(out, 0, sizeof *out);
    if (d->abi_minor < 3 || d->size < offsetof(ph_plugin_t, hooks) + sizeof d->hooks || d->hooks == NULL)
        return;
    size_t n = d->hooks->size < sizeof *out ? d->hooks->size : sizeof *out;
    memcpy(out, d->hooks, n);
    out->size = (uint32_t)n;
}

plugin_role_t plugin_role(const ph_plugin_t *d)
{
    if (d->handle)
        return PLUGIN_ROLE_HANDLER;
    ph_hooks_t h;
    plugin_hooks(d, &h);
    if (h.on_head && h.filter_body)
        return PLUGIN_ROLE_AMBIGUOUS;
    return h.on_head ? PLUGIN_ROLE_ACCESS : PLUGIN_ROLE_FILTER;
}

const char *plugin_role_name(plugin_role_t role)
{
    switch (role) {
    case PLUGIN_ROLE_HANDLER: return "content handler";
    case PLUGIN_ROLE_ACCESS: return "access stage";
    case PLUGIN_ROLE_FILTER: return "output filter";
    default: return "none";
    }
}

int plugin_check_file(int fd, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, errlen, "%s: refused: writable by group or others (mode %04o); whoever can write it can run code in the server",
                 path, (unsigned)(sb.st_mode & 07777));
        return -1;
    }
    if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
        snprintf(err, errlen, "%s: refused: owned by uid %u, neither root nor the server's user", path,
                 (unsigned)sb.st_uid);
        return -1;
    }
    return 0;
}

/* FNV-1a, 64 bit: change detection, not security (the file checks above
 * are what keep hostile code out). */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

uint64_t plugin_file_hash(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t h = FNV_INIT;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        h = fnv(h, buf, (size_t)n);
    close(fd);
    return n < 0 ? 0 : h;
}

/* Copies fd into a sealed memfd; returns it, or -1. Hashes on the way. */
static int copy_to_memfd(int fd, const char *path, uint64_t *hash)
{
    const char *base = strrchr(path, '/');
    char name[64];
    snprintf(name, sizeof name, "plughttpd:%s", base ? base + 1 : path);
    int mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0)
        return -1;
    uint64_t h = FNV_INIT;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        h = fnv(h, buf, (size_t)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(mfd, buf + off, (size_t)(n - off));
            if (w < 0) {
                close(mfd);
                return -1;
            }
            off += w;
        }
    }
    if (n < 0) {
        close(mfd);
        return -1;
    }
    fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    *hash = h;
    return mfd;
}

int plugin_open(const char *path, plugin_lib_t **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open plugin: %s", path, strerror(errno));
        return -1;
    }
    if (plugin_check_file(fd, path, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    uint64_t hash = 0;
    int mfd = copy_to_memfd(fd, path, &hash);
    close(fd);
    void *dl;
    if (mfd >= 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", mfd);
        /* The memfd stays open as long as the library: dlopen() recognises
         * an object by its path, and a closed descriptor's number (so its
         * /proc path) is handed to the next plugin's memfd. */
        dl = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
        if (dl == NULL)
            close(mfd);
    } else {
        dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    if (dl == NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s: cannot load plugin: %s", path, why ? why : "unknown error");
        return -1;
    }
    dlerror();
    const ph_plugin_t *d = dlsym(dl, PH_PLUGIN_SYMBOL);
    if (d == NULL) {
        snprintf(err, errlen, "%s: not a plughttpd plugin: no exported symbol %s (this server has ABI %u.%u)", path,
                 PH_PLUGIN_SYMBOL, PH_ABI_MAJOR, PH_ABI_MINOR);
        dlclose(dl);
        if (mfd >= 0)
            close(mfd);
        return -1;
    }
    if (plugin_check(d, path, err, errlen) < 0) {
        dlclose(dl);
        if (mfd >= 0)
            close(mfd);
        return -1;
    }
    plugin_lib_t *lib = calloc(1, sizeof *lib);
    if (lib == NULL || (lib->path = strdup(path)) == NULL) {
        free(lib);
        dlclose(dl);
        snprintf(err, errlen, "%s: out of memory", path);
        if (mfd >= 0)
            close(mfd);
        return -1;
    }
    lib->dl = dl;
    lib->memfd = mfd;
    lib->desc = d;
    lib->hash = hash;
    lib->refs = 1;
    *out = lib;
    return 0;
}

void plugin_ref(plugin_lib_t *lib) { lib->refs++; }

/* Libraries with no reference left (main thread only): fresh ones wait for
 * a barrier to be posted; waiting ones for the barrier to pass. */
typedef struct unload {
    struct unload *next;
    plugin_lib_t *lib;
} unload_t;
static unload_t *fresh, *waiting;
static worker_barrier_t *barrier;

static void close_lib(plugin_lib_t *lib);

void plugin_unref(plugin_lib_t *lib)
{
    if (lib == NULL || --lib->refs > 0)
        return;
    unload_t *u = malloc(sizeof *u);
    if (u == NULL)
        return; /* stays mapped for good: safe, only a leak */
    *u = (unload_t){.next = fresh, .lib = lib};
    fresh = u;
    plugin_unload_pending(); /* at once when no worker thread runs */
}

static unsigned count(const unload_t *u)
{
    unsigned n = 0;
    for (; u; u = u->next)
        n++;
    return n;
}

unsigned plugin_unload_pending(void)
{
    for (int round = 0; round < 2; round++) {
        if (barrier && worker_barrier_passed(barrier)) {
            barrier = NULL;
            while (waiting) {
                unload_t *u = waiting;
                waiting = u->next;
                close_lib(u->lib);
                free(u);
            }
        }
        if (barrier == NULL && fresh) {
            barrier = worker_barrier_post();
            if (barrier == NULL)
                break; /* out of memory: tried again next time */
            waiting = fresh;
            fresh = NULL;
        }
    }
    return count(fresh) + count(waiting);
}

static void close_lib(plugin_lib_t *lib)
{
    dlclose(lib->dl);
    if (lib->memfd >= 0) {
        /* A library that stays loaded (RTLD_NODELETE, unique symbols) keeps
         * its /proc/self/fd name registered in the dynamic loader; closing
         * the memfd would let the next plugin's memfd take that name and be
         * handed the old code. Such a memfd is kept open. */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", lib->memfd);
        void *still = dlopen(proc, RTLD_NOW | RTLD_NOLOAD);
        if (still) {
            dlclose(still);
        } else {
            close(lib->memfd);
        }
    }
    free(lib->path);
    free(lib);
}
