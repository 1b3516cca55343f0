/*
 * One serving process: start-up order, worker threads, signals, reload.
 *
 * Start-up: take the sockets systemd passed (if any), load the config,
 * build generation 1 (bind listeners or borrow passed sockets, load
 * plugins, create route instances), drop privileges, start the helper pool
 * and the worker threads, then wait for signals on the main thread. Every
 * other thread blocks all signals.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "stats.h"
#include "tls.h"
#include "version.h"

/* --- systemd notification (sd_notify protocol, spoken directly) -------- */

void server_notify(const char *fmt, ...)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof msg)
        return;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    memcpy(un.sun_path, path, len);
    if (un.sun_path[0] == '@')
        un.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    /* Never waits: a service manager that stops reading (its socket's
     * queue full) must not stall the reloads and the supervision that send
     * these. Such a message is dropped; the first drop of a run of them is
     * logged, and the next one that goes through ends the run. */
    static int dropping; /* main thread only, as every caller */
    if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&un,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) >= 0) {
        dropping = 0;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!dropping)
            log_warn("NOTIFY_SOCKET %s is not being read (its queue is full): status messages are dropped until "
                     "it is", path);
        dropping = 1;
    }
    close(fd);
}

/* How often a running server looks at its certificates' expiry dates
 * again (a start and each reload look too). */
#define CERT_CHECK_USEC (12 * 3600 * 1000000ull)

uint64_t server_monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* --- pieces of start-up ---------------------------------------------------- */

/* The access log first: a failure is then still reported where the
 * previous messages went. */
int server_open_logs(const cfg_t *cfg)
{
    if (log_access_open(cfg->access_log) < 0) {
        log_error("%s:%d: access_log %s: %s", cfg->path, cfg->access_log_line, cfg->access_log, strerror(errno));
        return -1;
    }
    if (log_error_open(cfg->error_log) < 0) {
        log_error("%s:%d: error_log %s: %s", cfg->path, cfg->error_log_line, cfg->error_log, strerror(errno));
        return -1;
    }
    log_set_level(cfg->log_level);
    return 0;
}

/* The user and group to run as, -1 where unset; an unknown name is an
 * error naming its line. */
static int run_ids(const cfg_t *cfg, uid_t *uid, gid_t *gid)
{
    const char *unknown;
    if (cfg_run_ids(cfg, uid, gid, &unknown) == 0)
        return 0;
    int user = strcmp(unknown, "user") == 0;
    log_error("%s:%d: %s %s: no such %s", cfg->path, user ? cfg->user_line : cfg->group_line, unknown,
              user ? cfg->user : cfg->group, unknown);
    return -1;
}

static int drop_privileges(uid_t uid, gid_t gid)
{
    if (uid == (uid_t)-1 && gid == (gid_t)-1)
        return 0;
    if (getuid() == uid && getgid() == gid)
        return 0;
    if (setgroups(0, NULL) < 0 && errno != EPERM) {
        log_error("setgroups: %s", strerror(errno));
        return -1;
    }
    if (gid != (gid_t)-1 && setgid(gid) < 0) {
        log_error("setgid(%u): %s; refusing to run with the old group", (unsigned)gid, strerror(errno));
        return -1;
    }
    if (uid != (uid_t)-1 && setuid(uid) < 0) {
        log_error("setuid(%u): %s; refusing to run as root", (unsigned)uid, strerror(errno));
        return -1;
    }
    if (uid != 0 && uid != (uid_t)-1 && setuid(0) == 0) {
        log_error("regained root after dropping privileges; refusing to run");
        return -1;
    }
    return 0;
}

int server_become_user(const cfg_t *cfg)
{
    uid_t uid;
    gid_t gid;
    if (run_ids(cfg, &uid, &gid) < 0)
        return -1;
    return drop_privileges(uid, gid);
}

/* Started as root with a user to become: a log file is created (or found)
 * here, as root, and handed to that user, so that reopening it after
 * SIGUSR1, which runs as the user, can still open it. O_NOFOLLOW: a link
 * planted in a log folder never gets its target handed over; a log path
 * that is a link is left as the administrator made it. */
static int give_log_to(const cfg_t *cfg, const char *key, const char *path, int line, uid_t uid)
{
    if (path == NULL || strcmp(path, "-") == 0 || strcmp(path, "off") == 0 || log_is_syslog(path))
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
    if (fd < 0 && errno == ELOOP)
        return 0;
    if (fd < 0) {
        log_error("%s:%d: %s %s: %s", cfg->path, line, key, path, strerror(errno));
        return -1;
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) < 0 || (S_ISREG(sb.st_mode) && sb.st_uid != uid && fchown(fd, uid, (gid_t)-1) < 0)) {
        log_error("%s:%d: %s %s: cannot hand it to uid %u: %s", cfg->path, line, key, path, (unsigned)uid,
                  strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc;
}

static int give_logs_to(const cfg_t *cfg, uid_t uid)
{
    if (uid == (uid_t)-1 || uid == 0 || geteuid() != 0)
        return 0;
    if (give_log_to(cfg, "error_log", cfg->error_log, cfg->error_log_line, uid) < 0 ||
        give_log_to(cfg, "access_log", cfg->access_log, cfg->access_log_line, uid) < 0)
        return -1;
    return 0;
}

/* Keeps max_connections below the descriptor limit, with room for files,
 * listeners and the log. */
static void fit_connection_limit(cfg_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return;
    /* a connection holds its socket and, while a file body is sent, the
     * file; running out of descriptors pauses accepting, it does not crash */
    rlim_t fit = rl.rlim_cur > 256 ? rl.rlim_cur - 128 : 32;
    if (cfg->max_connections > fit) {
        log_warn("max_connections %u lowered to %u to fit the descriptor limit %llu", cfg->max_connections,
                 (unsigned)fit, (unsigned long long)rl.rlim_cur);
        cfg->max_connections = (unsigned)fit;
    }
}

static int write_pid_file(const cfg_t *cfg)
{
    const char *path = cfg->pid_file;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        log_error("%s:%d: pid_file %s: %s", cfg->path, cfg->pid_file_line, path, strerror(errno));
        return -1;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

/* What only the start-up uses, copied out of its configuration, which a
 * reload replaces. */
static int keep_fixed(server_t *s, const cfg_t *cfg)
{
    s->pid_file = cfg->pid_file ? strdup(cfg->pid_file) : NULL;
    s->user = cfg->user ? strdup(cfg->user) : NULL;
    s->group = cfg->group ? strdup(cfg->group) : NULL;
    return (cfg->pid_file && !s->pid_file) || (cfg->user && !s->user) || (cfg->group && !s->group) ? -1 : 0;
}

static void forget_fixed(server_t *s)
{
    free(s->pid_file);
    free(s->user);
    free(s->group);
    s->pid_file = s->user = s->group = NULL;
}

/* A start-up that fails after error_log was opened has said why there:
 * stderr, which whoever started the server reads, says where. */
static void start_failed(const cfg_t *cfg)
{
    if (cfg->error_log && strcmp(cfg->error_log, "-") != 0)
        fprintf(stderr, "plughttpd: start failed; the reason is in %s\n", cfg->error_log);
}

/* --- running ----------------------------------------------------------------- */

static int differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static const char *or_unset(const char *v) { return v ? v : "(unset)"; }

/* What a reload cannot change in a running process: said, not ignored. A
 * new worker process (processes = N) starts with the pool sizes applied;
 * pid_file, user and group wait for a restart in every mode. */
static void warn_restart_only(const server_t *s, const cfg_t *cfg)
{
    if (differs(cfg->pid_file, s->pid_file))
        log_warn("reload: pid_file = %s takes effect on restart; keeping %s", or_unset(cfg->pid_file),
                 or_unset(s->pid_file));
    if (differs(cfg->user, s->user))
        log_warn("reload: user = %s takes effect on restart; keeping %s", or_unset(cfg->user), or_unset(s->user));
    if (differs(cfg->group, s->group))
        log_warn("reload: group = %s takes effect on restart; keeping %s", or_unset(cfg->group),
                 or_unset(s->group));
    if (cfg->processes != s->processes)
        log_warn("reload: processes = %u takes effect on restart; keeping %u", cfg->processes, s->processes);
    if (s->workers == NULL) /* a master: every new worker process applies them */
        return;
    if (cfg->threads != s->nworkers)
        log_warn("reload: threads = %u takes effect on restart; keeping %u", cfg->threads, s->nworkers);
    if (cfg->blocking_threads != s->blocking_threads)
        log_warn("reload: blocking_threads = %u takes effect on restart; keeping %u", cfg->blocking_threads,
                 s->blocking_threads);
    if (cfg->blocking_queue != s->blocking_queue)
        log_warn("reload: blocking_queue = %u takes effect on restart; keeping %u", cfg->blocking_queue,
                 s->blocking_queue);
}

gen_t *server_build_next(server_t *s)
{
    uint64_t t0 = server_monotonic_usec();
    server_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", (unsigned long long)t0);
    unsigned long id = s->next_id;
    log_info("reload: building generation %lu from %s", id, s->config_path);
    cfg_t *cfg;
    gen_t *g;
    char err[1024];
    if (cfg_load(s->config_path, &cfg, err, sizeof err) < 0) {
        log_error("reload failed, generation %lu keeps serving: %s", s->gen->id, err);
        snprintf(s->last_reload, sizeof s->last_reload, "last reload failed: %.120s", err);
        stats_reload_failed();
        server_notify("READY=1\nSTATUS=generation %lu; %s", s->gen->id, s->last_reload);
        return NULL;
    }
    warn_restart_only(s, cfg);
    fit_connection_limit(cfg);
    /* The master of worker processes serves nothing: it only validates
     * the routes; each new worker process creates its own instances. */
    gen_how_t how = s->processes > 0 ? GEN_CHECK : GEN_CREATE;
    if (gen_build(cfg, s->gen, id, how, &g, err, sizeof err) < 0) {
        cfg_free(cfg);
        log_error("reload failed, generation %lu keeps serving: %s", s->gen->id, err);
        snprintf(s->last_reload, sizeof s->last_reload, "last reload failed: %.120s", err);
        stats_reload_failed();
        server_notify("READY=1\nSTATUS=generation %lu; %s", s->gen->id, s->last_reload);
        return NULL;
    }
    s->next_id++;
    /* The access log is opened first: back to the previous one too when
     * the error log then fails. */
    if (server_open_logs(g->cfg) < 0 && server_open_logs(s->gen->cfg) == 0)
        log_warn("reload: keeping the previous log files");
    for (size_t i = 0; i < g->nlisteners; i++)
        log_info("listening on %s", g->listeners[i]->l.name);
    s->reload_started = t0;
    return g;
}

void server_publish(server_t *s, gen_t *g)
{
    gen_t *old = s->gen;
    s->gen = g;
    gen_unref(old);
    stats_generation_current(g->id);
    unsigned reused, created;
    gen_build_stats(&reused, &created);
    uint64_t dt = server_monotonic_usec() - s->reload_started;
    /* The master's generations hold no instance (GEN_CHECK): what it kept
     * or ran are the routes' checks; its new workers create every
     * instance anew. */
    if (s->processes > 0)
        log_info("reload: generation %lu serving (%u route configurations unchanged, %u checked; the new worker "
                 "processes create every instance) in %.1f ms", g->id, reused, created, (double)dt / 1000.0);
    else
        log_info("reload: generation %lu serving (%u route instances kept, %u created) in %.1f ms", g->id, reused,
                 created, (double)dt / 1000.0);
    snprintf(s->last_reload, sizeof s->last_reload, "last reload ok in %.1f ms", (double)dt / 1000.0);
    server_notify("READY=1\nSTATUS=generation %lu; %s", g->id, s->last_reload);
}

/* Polls cond over every worker, 1 ms apart, for at most ms. */
static int wait_workers(server_t *s, int (*cond)(const worker_t *, unsigned long), unsigned long arg, int ms)
{
    for (int t = 0; t <= ms; t++) {
        unsigned done = 0;
        for (unsigned i = 0; i < s->nworkers; i++)
            done += cond(&s->workers[i], arg) != 0;
        if (done == s->nworkers)
            return 0;
        struct timespec one = {0, 1000000L};
        nanosleep(&one, NULL);
    }
    return -1;
}

static int runs_gen(const worker_t *w, unsigned long id)
{
    return __atomic_load_n(&w->gen_seen, __ATOMIC_ACQUIRE) == id;
}

static int accept_closed(const worker_t *w, unsigned long unused)
{
    return __atomic_load_n(&w->accept_closed, __ATOMIC_ACQUIRE);
}

static void reload(server_t *s)
{
    gen_t *g = server_build_next(s);
    if (g == NULL)
        return;
    for (unsigned i = 0; i < s->nworkers; i++) {
        gen_ref(g);
        worker_post_gen(&s->workers[i], g);
    }
    /* Announce the generation once every thread serves it, so a request
     * sent after READY=1 never meets the old configuration. */
    if (wait_workers(s, runs_gen, g->id, 2000) < 0)
        log_warn("reload: a worker thread is slow to switch to generation %lu", g->id);
    server_publish(s, g);
}

/* Worker processes tell their master when they serve ('R') and when they
 * no longer accept ('S'), one byte on a pipe, so the master can hand over
 * between old and new workers without a gap or an overlap. */
static void tell_master(server_t *s, char what)
{
    if (s->master_fd >= 0 && write(s->master_fd, &what, 1) < 0)
        log_warn("cannot reach the master: %s", strerror(errno));
}

static int start_workers(server_t *s, int child)
{
    const cfg_t *cfg = s->gen->cfg;
    s->blocking = blocking_new(cfg->blocking_threads, cfg->blocking_queue, stats_blocking_depth());
    s->blocking_threads = cfg->blocking_threads;
    s->blocking_queue = cfg->blocking_queue;
    if (s->blocking == NULL) {
        log_error("cannot make the blocking helper pool: out of memory");
        return -1;
    }
    s->nworkers = cfg->threads;
    s->workers = calloc(s->nworkers, sizeof *s->workers);
    if (s->workers == NULL)
        return -1;
    for (unsigned i = 0; i < s->nworkers; i++) {
        worker_t *w = &s->workers[i];
        w->conn_slots = s->conn_slots;
        w->nslots = s->nslots;
        w->share_slot = s->slot < s->nslots ? &s->conn_slots[s->slot] : NULL;
        w->loops = cfg->threads * (cfg->processes > 0 ? cfg->processes : 1);
        if (worker_init(w, i, s->gen, s->blocking, &s->own_conns) < 0) {
            log_error("cannot start worker %u: %s", i, strerror(errno));
            return -1;
        }
    }
    /* Every loop exists before any plugin hook may ask for them (loop_at,
     * run_on): process_init runs here, before any thread starts. */
    worker_set_all(s->workers, s->nworkers);
    char err[1024];
    if (gen_init_process(s->gen, err, sizeof err) < 0) {
        log_error("%s", err);
        if (!child)
            start_failed(s->gen->cfg);
        for (unsigned i = 0; i < s->nworkers; i++)
            worker_destroy(&s->workers[i]);
        blocking_free(s->blocking);
        s->blocking = NULL;
        return -1;
    }
    for (unsigned i = 0; i < s->nworkers; i++)
        if (worker_start(&s->workers[i]) < 0) {
            log_error("cannot start worker %u: %s", i, strerror(errno));
            return -1;
        }
    return 0;
}

/* Once the instances are destroyed, nothing can reach the workers through
 * the plugin API: the rest of them goes. */
static void release_workers(server_t *s)
{
    if (s->workers == NULL)
        return;
    worker_set_all(NULL, 0);
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_release(&s->workers[i]);
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
}

/* Waits for the workers to drain, up to the shutdown timeout, then cuts the
 * remaining connections. */
static void deadline_in(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* A draining worker process, once no thread accepts any more, lets go of
 * its copies of the listening sockets, so that a port the new generation
 * dropped is closed as soon as the master closes its own (and can be bound
 * again by the next reload) instead of when the last old connection ends.
 * Each is replaced by /dev/null at the same number: the number stays
 * owned (listener_close closes it later) and nothing reads a changed fd. */
static void drop_listeners(server_t *s)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; null >= 0 && i < s->gen->nlisteners; i++) {
        const listener_t *l = &s->gen->listeners[i]->l;
        if (l->fd >= 0 && !l->passed)
            dup2(null, l->fd);
    }
    if (null >= 0)
        close(null);
}

/* Waits for the workers to drain, up to the shutdown timeout, then cuts the
 * remaining connections. A handler that still runs after that (a plugin
 * stuck in a call) cannot be interrupted safely: the process then exits
 * without waiting for it. */
static void stop_workers(server_t *s, int child)
{
    /* Shut listeners refuse new connections at once, instead of letting
     * them complete a handshake that nobody will ever serve (sockets
     * passed by systemd excepted: see listener_stop). A worker process
     * leaves that to its master: the sockets are shared with the
     * processes replacing it. */
    for (size_t i = 0; !child && i < s->gen->nlisteners; i++)
        listener_stop(&s->gen->listeners[i]->l);
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_post_stop(&s->workers[i]);
    /* From the stop on: a thread stuck in a handler, slow to stop
     * accepting too, must not stretch the timeout. */
    struct timespec deadline;
    deadline_in(&deadline, s->gen->cfg->shutdown_timeout);
    if (child) {
        if (wait_workers(s, accept_closed, 0, 1000) < 0)
            log_warn("a worker thread is slow to stop accepting");
        else
            drop_listeners(s);
        tell_master(s, 'S');
    }
    int stuck = 0;
    for (unsigned i = 0; i < s->nworkers; i++) {
        if (pthread_timedjoin_np(s->workers[i].thread, NULL, &deadline) == 0)
            continue;
        log_warn("worker %u still busy after shutdown_timeout; closing its connections", i);
        worker_post_abort(&s->workers[i]);
        struct timespec grace;
        deadline_in(&grace, 1000);
        if (pthread_timedjoin_np(s->workers[i].thread, NULL, &grace) != 0)
            stuck++; /* a handler runs on, or a plugin holds a request */
    }
    if (stuck) {
        log_warn("a plugin handler is still running after shutdown_timeout; exiting without it");
        if (!child && s->pid_file) /* a worker process's master still runs */
            unlink(s->pid_file);
        _exit(0);
    }
    blocking_free(s->blocking);
    /* The array itself stays until the instances are destroyed (see
     * release_workers): a plugin's own thread may still call run_on(),
     * which then fails. */
    for (unsigned i = 0; i < s->nworkers; i++)
        worker_destroy(&s->workers[i]);
}

int server_start(server_t *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->master_fd = -1;
    s->config_path = path;
    s->next_id = 1;
    cfg_t *cfg;
    char err[1024];
    /* Before anything else opens a descriptor or a plugin can look at the
     * environment: the sockets systemd passed (socket activation). */
    int npassed = listener_adopt(err, sizeof err);
    if (npassed < 0) {
        log_error("%s", err);
        return -1;
    }
    if (err[0])
        log_info("%s", err);
    if (npassed > 0)
        log_info("socket activation: %d socket%s passed by systemd", npassed, npassed == 1 ? "" : "s");
    if (cfg_load(path, &cfg, err, sizeof err) < 0) {
        log_error("%s", err);
        listener_release_passed();
        return -1;
    }
    char why[768];
    if (listener_check_passed(cfg->listens, cfg->nlistens, why, sizeof why) < 0) {
        log_error("%s: %s", cfg->path, why);
        cfg_free(cfg);
        listener_release_passed();
        return -1;
    }
    fit_connection_limit(cfg);
    /* The logs first (created as root and handed to the user), so that
     * everything the start-up says, plugins included, goes where the
     * operator looks. */
    uid_t uid;
    gid_t gid;
    if (run_ids(cfg, &uid, &gid) < 0 || give_logs_to(cfg, uid) < 0 || server_open_logs(cfg) < 0) {
        cfg_free(cfg);
        listener_release_passed();
        return -1;
    }
    if (gen_build(cfg, NULL, s->next_id, GEN_LOAD, &s->gen, err, sizeof err) < 0) {
        log_error("%s", err);
        start_failed(cfg);
        cfg_free(cfg);
        listener_release_passed();
        return -1;
    }
    s->next_id++;
    stats_generation_current(s->gen->id);
    cfg = s->gen->cfg;
    s->processes = cfg->processes;
    /* Sockets bound, pid file written (its folder is root's, e.g. /run):
     * what needs root is done. Plugins then run as the server's user, at
     * start-up as at every reload, so whatever they open or create is the
     * user's. The master of worker processes only validates the routes. */
    err[0] = '\0';
    int kept = keep_fixed(s, cfg) == 0;
    int pid_ok = kept && (cfg->pid_file == NULL || write_pid_file(cfg) == 0);
    if (!pid_ok || drop_privileges(uid, gid) < 0 ||
        gen_create(s->gen, s->processes > 0 ? GEN_CHECK : GEN_CREATE, err, sizeof err) < 0) {
        if (!kept)
            log_error("out of memory");
        if (err[0])
            log_error("%s", err);
        start_failed(cfg);
        if (pid_ok && s->pid_file)
            unlink(s->pid_file); /* may be refused after the drop: then it stays, stale */
        forget_fixed(s);
        gen_unref(s->gen);
        gen_reap();
        s->gen = NULL;
        listener_release_passed();
        return -1;
    }
    /* Two slots per worker process: old and new workers overlap on reload. */
    s->nslots = cfg->processes > 0 ? 2 * cfg->processes : 1;
    s->conn_slots = mmap(NULL, s->nslots * sizeof *s->conn_slots, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->conn_slots == MAP_FAILED) {
        log_error("mmap: %s", strerror(errno));
        server_finish(s, 1);
        return -1;
    }
    s->beats = mmap(NULL, s->nslots * sizeof *s->beats, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->beats == MAP_FAILED) {
        log_error("mmap: %s", strerror(errno));
        server_finish(s, 1);
        return -1;
    }
    for (size_t i = 0; i < s->gen->nlisteners; i++) {
        const listener_t *l = &s->gen->listeners[i]->l;
        char origin[320];
        log_info("listening on %s%s", l->name, listener_origin(l, origin, sizeof origin));
    }
    return 0;
}

void server_signals(sigset_t *set, int master)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGPIPE);
    if (master)
        sigaddset(set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

int server_run(server_t *s, int child)
{
    sigset_t set;
    server_signals(&set, 0);
    if (child) /* a worker process forked for a reload: its master counted it */
        stats_generation_adopt(s->gen->id);
    if (start_workers(s, child) < 0)
        return 1;
    stats_threads(s->nworkers);
    const cfg_t *cfg = s->gen->cfg;
    log_info("ready: plughttpd %s, generation %lu, %u thread%s, %zu route%s%s", PH_SERVER_VERSION, s->gen->id,
             s->nworkers, s->nworkers == 1 ? "" : "s", cfg->nroutes, cfg->nroutes == 1 ? "" : "s",
             child ? " (worker process)" : "");
    if (!child) {
        server_notify("READY=1\nMAINPID=%d\nSTATUS=generation %lu serving", (int)getpid(), s->gen->id);
    } else {
        server_heartbeat(s); /* watched from now on */
        tell_master(s, 'R');
    }

    for (;;) {
        struct timespec tick = {0, 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &tick);
        gen_reap();
        if (!child)
            server_check_certificates(s);
        else
            server_heartbeat(s);
        if (sig < 0)
            continue;
        if (sig == SIGHUP) {
            if (!child) /* in worker processes the master reloads */
                reload(s);
        } else if (sig == SIGUSR1) {
            if (log_reopen() < 0)
                log_error("reopening log files: %s", strerror(errno));
            else
                log_info("log files reopened");
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_info("%s: stopping (finishing requests in flight, up to %llu ms)",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)s->gen->cfg->shutdown_timeout);
            if (!child)
                server_notify("STOPPING=1");
            break;
        }
    }
    stop_workers(s, child);
    return 0;
}

void server_heartbeat(server_t *s)
{
    if (s->beats == NULL || s->slot >= s->nslots)
        return;
    uint64_t now = server_monotonic_usec(), oldest = now;
    for (unsigned i = 0; i < s->nworkers; i++) {
        worker_t *w = &s->workers[i];
        unsigned long t = __atomic_load_n(&w->ticks, __ATOMIC_RELAXED);
        if (t != w->ticks_seen || w->ticks_moved == 0) {
            w->ticks_seen = t;
            w->ticks_moved = now;
        }
        if (w->ticks_moved < oldest)
            oldest = w->ticks_moved;
    }
    __atomic_store_n(&s->beats[s->slot], oldest, __ATOMIC_RELAXED);
}

void server_check_certificates(server_t *s)
{
    uint64_t now = server_monotonic_usec();
    if (s->next_cert_check == 0) /* the start has logged the dates */
        s->next_cert_check = now + CERT_CHECK_USEC;
    if (now < s->next_cert_check)
        return;
    s->next_cert_check = now + CERT_CHECK_USEC;
    tls_ctx_check_expiry(s->gen->tls, time(NULL));
}

void server_finish(server_t *s, int remove_pid_file)
{
    if (s->conn_slots && s->conn_slots != MAP_FAILED)
        munmap(s->conn_slots, s->nslots * sizeof *s->conn_slots);
    s->conn_slots = NULL;
    if (s->beats && s->beats != MAP_FAILED)
        munmap(s->beats, s->nslots * sizeof *s->beats);
    s->beats = NULL;
    if (s->gen) {
        gen_unref(s->gen);
        s->gen = NULL;
        gen_reap();
    }
    release_workers(s);
    listener_release_passed();
    /* The file the start-up wrote, whatever a reload's configuration says.
     * Written as root; after the privilege drop its folder (/run) may
     * refuse the removal: said, as the file is then stale. */
    if (remove_pid_file && s->pid_file && unlink(s->pid_file) < 0 && errno != ENOENT)
        log_info("pid_file %s left in place: %s", s->pid_file, strerror(errno));
    forget_fixed(s);
}
