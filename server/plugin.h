/*
 * Plugin loader: dlopen, ABI check, the descriptor. No HTTP here.
 *
 * A plugin file is copied into a sealed memfd and loaded from there, so a
 * rebuilt .so at the same path is really new code after a reload (dlopen of
 * a path it already holds would hand back the old handle), and so the code
 * that runs is exactly the bytes that were checked, even if the file changes
 * underneath. The content hash lets a reload keep a library whose file did
 * not change.
 */
#ifndef PH_PLUGIN_H
#define PH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <plughttpd/plugin.h>

typedef struct plugin_lib {
    char *path;
    void *dl;
    int memfd;       /* the sealed copy dl was loaded from, or -1 */
    const ph_plugin_t *desc;
    uint64_t hash;   /* of the file's bytes */
    unsigned refs;   /* owners: generations using it (main thread only) */
} plugin_lib_t;

/* A plugin's place in a route's stack, from its descriptor alone (see
 * "Stacked handlers" in plugin.h). */
typedef enum plugin_role {
    PLUGIN_ROLE_HANDLER,   /* handle(): the content handler */
    PLUGIN_ROLE_ACCESS,    /* no handle(), on_head(): an access stage */
    PLUGIN_ROLE_FILTER,    /* no handle(), filter_body(): an output filter */
    PLUGIN_ROLE_AMBIGUOUS, /* no handle(), both hooks: no route can place it */
} plugin_role_t;

/* d's hooks, zero past the size it was built with (all zero before ABI
 * 1.3 or without hooks). */
void plugin_hooks(const ph_plugin_t *d, ph_hooks_t *out);
/* d's role; d passed plugin_check(). */
plugin_role_t plugin_role(const ph_plugin_t *d);
/* "content handler", "access stage", "output filter", "none". */
const char *plugin_role_name(plugin_role_t role);

/* Refuses a descriptor this server cannot run: wrong magic, other major,
 * newer minor, too small, missing functions (handle() may be missing from
 * an ABI 1.3 access stage or output filter), a streamed body without
 * on_body(). Pure; err names path and both
 * versions. Returns 0 or -1. */
int plugin_check(const ph_plugin_t *d, const char *path, char *err, size_t errlen);

/* Refuses a file that someone else could have changed: not a regular file,
 * writable by group or others, or owned by neither root nor the effective
 * user. Returns 0 or -1 with err filled. */
int plugin_check_file(int fd, const char *path, char *err, size_t errlen);

/* Opens and checks a plugin (refs = 1). Returns 0, or -1 with err filled. */
int plugin_open(const char *path, plugin_lib_t **out, char *err, size_t errlen);
void plugin_ref(plugin_lib_t *lib);
/* Drops a reference. The last one queues the library for unloading (see
 * plugin_unload_pending(), which it calls): closed on return when no
 * worker thread runs. */
void plugin_unref(plugin_lib_t *lib);
/* dlclose()s the libraries whose last reference is gone once no worker
 * thread can still be inside their code: a worker may still be returning
 * through a plugin's task, callback or coroutine that started before the
 * instance's destroy() returned, so a barrier is posted behind them
 * (worker_barrier_post) and the libraries close when it passed. Never
 * blocks; main thread; call it again (gen_reap does, each tick) until
 * it returns 0 (the number of libraries still waiting). Without worker
 * threads the libraries close at once. */
unsigned plugin_unload_pending(void);

/* Hash of a file's content; 0 on error. For reload change detection. */
uint64_t plugin_file_hash(const char *path);

#endif
