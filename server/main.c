/*
 * plughttpd: the command line. Serving itself lives in server.c (one
 * process) and master.c (processes = N).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crash.h"
#include "gen.h"
#include "log.h"
#include "plugin.h"
#include "request.h"
#include "version.h"
#include "master.h"
#include "server.h"

#ifndef PH_SYSCONF_DIR
#define PH_SYSCONF_DIR "/etc"
#endif


static void usage(FILE *f)
{
    fprintf(f,
            "Usage: plughttpd [-c FILE] [-t] [-v] [-h]\n"
            "       plughttpd --check-plugin FILE.so [key=value ...]\n"
            "\n"
            "  -c FILE   configuration file (default %s/plughttpd/server.ini)\n"
            "  -t        test the configuration (and load its plugins), then exit\n"
            "  -v        print the version and plugin ABI, then exit\n"
            "  -h        this help\n"
            "  --check-plugin FILE.so [key=value ...]\n"
            "            load a plugin, check its ABI, create and destroy one instance\n"
            "            with the given keys, and report\n"
            "\n"
            "Signals: HUP reloads the configuration and plugins, TERM/INT stop\n"
            "gracefully, USR1 reopens the log files.\n",
            PH_SYSCONF_DIR);
}

/* --- commands ----------------------------------------------------------------- */

/* Whether the start-up will be able to open a log file for appending, or
 * write the pid file, without creating it: the file is writable, or it is
 * missing and its folder is. */
static int check_writable(const cfg_t *cfg, const char *key, const char *path, int line)
{
    if (path == NULL || strcmp(path, "-") == 0 || strcmp(path, "off") == 0 || log_is_syslog(path))
        return 0;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            errno = EISDIR;
        else if (access(path, W_OK) == 0)
            return 0;
    } else if (errno == ENOENT) {
        char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        int ok = slash && access(dir, W_OK | X_OK) == 0;
        int saved = errno;
        free(dir);
        errno = saved;
        if (ok)
            return 0;
    }
    fprintf(stderr, "plughttpd: %s:%d: %s %s: %s\n", cfg->path, line, key, path, strerror(errno));
    return -1;
}

static int cmd_test(const char *path)
{
    cfg_t *cfg;
    char err[1024];
    if (cfg_load(path, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "plughttpd: %s\n", err);
        fprintf(stderr, "plughttpd: configuration %s test failed\n", path);
        return 1;
    }
    /* As the start-up: log files and the pid file are opened as root,
     * plugins run as the user the server becomes. */
    if (check_writable(cfg, "error_log", cfg->error_log, cfg->error_log_line) < 0 ||
        check_writable(cfg, "access_log", cfg->access_log, cfg->access_log_line) < 0 ||
        check_writable(cfg, "pid_file", cfg->pid_file, cfg->pid_file_line) < 0 ||
        (geteuid() == 0 && server_become_user(cfg) < 0)) {
        cfg_free(cfg);
        fprintf(stderr, "plughttpd: configuration %s test failed\n", path);
        return 1;
    }
    gen_t *g;
    if (gen_build_dry(cfg, &g, err, sizeof err) < 0) {
        cfg_free(cfg);
        fprintf(stderr, "plughttpd: %s\n", err);
        fprintf(stderr, "plughttpd: configuration %s test failed\n", path);
        return 1;
    }
    printf("plughttpd: configuration %s is ok (%zu listeners, %zu routes)\n", path, cfg->nlistens, cfg->nroutes);
    gen_discard(g);
    return 0;
}

/* What --check-plugin says about a descriptor, after its ABI line, one
 * "field: value" line each (README "Checking a plugin"):
 *   flags: blocking json_errors stream_body (those set, in this order; an
 *          unknown bit as 0x...), or none
 *   role:  content handler | access stage | output filter | none
 *   hooks: the ph_hooks_t members it has, in their order, or none */
static void print_features(const ph_plugin_t *d)
{
    static const struct { uint32_t bit; const char *name; } flags[] = {
        {PH_PLUGIN_BLOCKING, "blocking"}, {PH_PLUGIN_JSON_ERRORS, "json_errors"},
        {PH_PLUGIN_STREAM_BODY, "stream_body"}, {PH_PLUGIN_COROUTINE, "coroutine"},
        {PH_PLUGIN_UPGRADE, "upgrade"}, {PH_PLUGIN_PGRST_ERRORS, "pgrst_errors"},
    };
    uint32_t known = 0;
    printf("flags:");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        known |= flags[i].bit;
        if (d->flags & flags[i].bit)
            printf(" %s", flags[i].name);
    }
    if (d->flags & ~known)
        printf(" 0x%x", (unsigned)(d->flags & ~known));
    printf("%s\nrole: %s\nhooks:", d->flags ? "" : " none", plugin_role_name(plugin_role(d)));
    ph_hooks_t h;
    plugin_hooks(d, &h);
    const struct { int set; const char *name; } hooks[] = {
        {h.on_head != NULL, "on_head"}, {h.on_body != NULL, "on_body"}, {h.on_cancel != NULL, "on_cancel"},
        {h.filter_head != NULL, "filter_head"}, {h.filter_body != NULL, "filter_body"},
        {h.process_init != NULL, "process_init"}, {h.process_exit != NULL, "process_exit"},
        {h.thread_init != NULL, "thread_init"}, {h.thread_exit != NULL, "thread_exit"},
        {h.reload_check != NULL, "reload_check"},
        {h.take_over != NULL, "take_over"},
    };
    int any = 0;
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
        if (hooks[i].set) {
            printf(" %s", hooks[i].name);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
}

/* The name a route's plugin list gives the file: its file name without
 * ".so" (create() gets it as args->name). */
static void plugin_name(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n >= 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    snprintf(out, cap, "%.*s", (int)n, base);
}

static int cmd_check_plugin(int argc, char **argv)
{
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[0];
    char err[1024];
    plugin_lib_t *lib;
    if (plugin_open(path, &lib, err, sizeof err) < 0) {
        fprintf(stderr, "plughttpd: %s\n", err);
        return 1;
    }
    const ph_plugin_t *d = lib->desc;
    printf("plugin: %s %s\nfile: %s\nABI: %u.%u (server %u.%u)\n", d->name, d->version ? d->version : "?", path,
           d->abi_major, d->abi_minor, PH_ABI_MAJOR, PH_ABI_MINOR);
    print_features(d);
    if (plugin_role(d) == PLUGIN_ROLE_AMBIGUOUS) {
        fprintf(stderr, "plughttpd: %s: no handle() but both on_head and filter_body hooks: neither an access stage "
                "nor an output filter, no route can place it\n", path);
        plugin_unref(lib);
        return 1;
    }
    size_t nkeys = (size_t)(argc - 1);
    ph_kv_t *kv = calloc(nkeys + 1, sizeof *kv);
    if (kv == NULL) {
        plugin_unref(lib);
        return 1;
    }
    for (size_t i = 0; i < nkeys; i++) {
        char *eq = strchr(argv[i + 1], '='); /* split in place: argv is ours */
        if (eq == NULL) {
            fprintf(stderr, "plughttpd: %s: expected key=value\n", argv[i + 1]);
            free(kv);
            plugin_unref(lib);
            return 2;
        }
        *eq = '\0';
        kv[i].key = argv[i + 1];
        kv[i].value = eq + 1;
    }
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == NULL)
        snprintf(cwd, sizeof cwd, ".");
    char name[256];
    plugin_name(path, name, sizeof name);
    ph_create_args_t args = {.size = sizeof args, .api = &request_api, .prefix = "/", .config_dir = cwd,
                             .keys = kv, .nkeys = nkeys, .threads = 1, .flags = PH_CREATE_CHECK,
                             .name = name, .processes = 1};
    ph_error_t perr = {.msg = "", .key = -1, .size = sizeof perr};
    void *inst = NULL;
    int rc = d->create(&args, &inst, &perr);
    if (rc != PH_OK) {
        if (perr.key >= 0 && (size_t)perr.key < nkeys)
            fprintf(stderr, "plughttpd: %s: key %s: %s\n", path, kv[perr.key].key, perr.msg);
        else
            fprintf(stderr, "plughttpd: %s: create refused: %s\n", path, perr.msg[0] ? perr.msg : "(no reason)");
    } else {
        d->destroy(inst);
        printf("instance: created and destroyed with %zu key(s): ok\n", nkeys);
    }
    free(kv);
    plugin_unref(lib);
    return rc == PH_OK ? 0 : 1;
}

static int serve(const char *path)
{
    server_t s;
    crash_install(-1); /* a worker process names its master's pipe */
    if (server_start(&s, path) < 0)
        return 1;
    unsigned processes = s.gen->cfg->processes;
    int rc = processes > 0 ? master_run(&s, processes) : server_run(&s, 0);
    server_finish(&s, 1);
    log_info("stopped");
    return rc;
}

/* SIGHUP and SIGUSR1 kill a process by default, and a service manager may
 * send either at any moment after the start (a reload right after it):
 * held from the first instruction, they wait pending until the serving loop
 * takes them with sigtimedwait() (server_signals()), and then act as a
 * reload or a log reopening. SIGTERM and SIGINT keep their default until
 * then: one sent during a start-up that hangs still ends it. Threads and
 * processes started from here inherit the mask. */
static void hold_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
    hold_signals();
    const char *config = PH_SYSCONF_DIR "/plughttpd/server.ini";
    int test = 0;
    static const struct option longopts[] = {
        {"check-plugin", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:tvh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 't': test = 1; break;
        case 'v':
            printf("plughttpd %s (plugin ABI %u.%u)\n", PH_SERVER_VERSION, PH_ABI_MAJOR, PH_ABI_MINOR);
            return 0;
        case 'h': usage(stdout); return 0;
        case 'P': return cmd_check_plugin(argc - optind, argv + optind);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (test)
        return cmd_test(config);
    return serve(config);
}
