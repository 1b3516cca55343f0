/*
 * processes = N: a master process that binds the sockets and validates the
 * routes (its generations hold no plugin instance: GEN_CHECK), forks N
 * worker processes that each forget every other generation, create their
 * own route instances and run the threaded core, restarts one that dies,
 * and reloads as nginx does: new workers start on the new generation
 * before the old ones are told to drain. A crashing plugin costs one
 * worker process, not the service; a route whose crashes the workers report
 * (crash.h) reach crash_limit within crash_window answers 503 until the
 * next reload.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "listener.h"
#include "log.h"
#include "stats.h"
#include "version.h"
#include "zone.h"

typedef struct child {
    pid_t pid;
    int fd;                  /* read end of its pipe ('R' ready, 'S' stopped) */
    unsigned long gen;       /* the generation it serves; another than the
                                master's current one: draining or failed */
    int ready, stopped;
    int failed;              /* its pipe closed before it said 'R' */
    unsigned slot;           /* its connection counter in s->conn_slots */
    unsigned index;          /* 0..n-1 among its generation's workers */
    uint64_t started;        /* monotonic usec */
    char line[48];           /* a crash report being read ("C<gen> <route>\n") */
    size_t linelen;          /* 0: none; else bytes of it in line */
    int stalled;             /* killed for a stale heartbeat */
    int crashed;             /* it reported a crash on crash_gen/crash_route */
    unsigned long crash_gen;
    size_t crash_route;
} child_t;

typedef struct master {
    server_t *s;
    unsigned n;
    child_t *kids;
    size_t nkids, capkids;
    int stopping;
    /* A worker that died within RESPAWN_BACKOFF_USEC of its start is
     * replaced no sooner than this (monotonic usec; 0: now): a timer the
     * loop waits on, so that signals and the other workers are still
     * handled meanwhile. */
    uint64_t respawn_at;
    /* watch(): when it last ran, and from when it may judge heartbeats
     * (monotonic usec). */
    uint64_t watched, watch_from;
} master_t;

/* A gap this long between two looks at the heartbeats (the master was
 * stopped with its workers, or busy in a reload) gives the workers this
 * long again to beat before any is judged. */
#define WATCH_GRACE_USEC 1000000ull

/* A worker dying this soon after its start delays its replacement by as
 * much: a worker that cannot live would otherwise be forked in a hot loop. */
#define RESPAWN_BACKOFF_USEC 1000000ull

/* A new worker process: forget every generation but the one it serves,
 * create that one's route instances (as the user the master runs as),
 * serve. It exits with 1, before saying 'R', when it cannot. */
static void child_main(server_t *s, pid_t master, unsigned index)
{
    /* The master's death must not leave orphans serving an old config.
     * Compared with the master's own pid, not with 1: in a container the
     * master can be pid 1 itself. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        _exit(0);
    listener_keep_paths();
    crash_install(s->master_fd);
    gen_forget_others(s->gen);
    gen_set_process_index(index);
    zone_set_worker(); /* its zones are the master's, inherited */
    char err[1024];
    if (gen_create(s->gen, GEN_CREATE, err, sizeof err) < 0) {
        log_error("worker process cannot start: %s", err);
        server_finish(s, 0);
        _exit(1);
    }
    int rc = server_run(s, 1);
    server_finish(s, 0);
    _exit(rc);
}

/* A connection counter no living child uses, zeroed (a killed child's
 * count never went down); nslots when every one is taken (old workers
 * still draining): the child then publishes no count. */
static unsigned free_slot(master_t *m)
{
    for (unsigned s = 0; s < m->s->nslots; s++) {
        size_t i = 0;
        while (i < m->nkids && m->kids[i].slot != s)
            i++;
        if (i == m->nkids) {
            __atomic_store_n(&m->s->conn_slots[s], 0, __ATOMIC_RELAXED);
            __atomic_store_n(&m->s->beats[s], 0, __ATOMIC_RELAXED); /* not serving yet */
            return s;
        }
    }
    return m->s->nslots;
}

/* The lowest process index no worker of the current generation holds
 * (api->server_info's process_index): a replacement takes the dead one's. */
static unsigned free_index(const master_t *m)
{
    for (unsigned idx = 0;; idx++) {
        size_t i = 0;
        while (i < m->nkids && (m->kids[i].gen != m->s->gen->id || m->kids[i].index != idx))
            i++;
        if (i == m->nkids)
            return idx;
    }
}

static int spawn(master_t *m)
{
    m->s->slot = free_slot(m);
    unsigned index = free_index(m);
    pid_t master = getpid();
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        log_error("pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        for (size_t i = 0; i < m->nkids; i++)
            close(m->kids[i].fd);
        close(p[0]);
        m->s->master_fd = p[1];
        stats_process_index(index);
        child_main(m->s, master, index);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    if (m->nkids == m->capkids) {
        size_t cap = m->capkids ? m->capkids * 2 : 8;
        child_t *k = realloc(m->kids, cap * sizeof *k);
        if (k == NULL)
            abort();
        m->kids = k;
        m->capkids = cap;
    }
    m->kids[m->nkids++] = (child_t){.pid = pid, .fd = p[0], .gen = m->s->gen->id, .slot = m->s->slot,
                                    .index = index, .started = server_monotonic_usec()};
    log_info("worker process %d started (generation %lu)", (int)pid, m->s->gen->id);
    return 0;
}

static int is_old(const master_t *m, const child_t *k) { return k->gen != m->s->gen->id; }

/* Signals every child. */
static void signal_all(master_t *m, int sig)
{
    for (size_t i = 0; i < m->nkids; i++)
        kill(m->kids[i].pid, sig);
}

/* Signals the children that serve another generation than the current. */
static void signal_old(master_t *m, int sig)
{
    for (size_t i = 0; i < m->nkids; i++)
        if (is_old(m, &m->kids[i]))
            kill(m->kids[i].pid, sig);
}

/* What a child wrote on its pipe: 'R' ready, 'S' stopped, or a crash
 * report line (crash.h), which holds neither letter. */
static void heard(child_t *k, const char *buf, size_t n)
{
    for (size_t b = 0; b < n; b++) {
        char c = buf[b];
        if (k->linelen > 0) {
            if (c != '\n') {
                if (k->linelen < sizeof k->line)
                    k->line[k->linelen++] = c;
                continue;
            }
            k->crashed = crash_parse_report(k->line, k->linelen, &k->crash_gen, &k->crash_route) == 0;
            k->linelen = 0;
        } else if (c == 'C') {
            k->line[0] = c;
            k->linelen = 1;
        } else if (c == 'R') {
            k->ready = 1;
        } else if (c == 'S') {
            k->stopped = 1;
        }
    }
}

/* A child that died of a signal: the crash report its handler left in the
 * pipe, if any, counts against the route it names (crash_limit within
 * crash_window quarantines it until the next reload). */
static void count_crash(master_t *m, child_t *k)
{
    char buf[256];
    ssize_t r;
    while ((r = read(k->fd, buf, sizeof buf)) > 0)
        heard(k, buf, (size_t)r);
    const gen_t *g = m->s->gen;
    if (!k->crashed || k->crash_gen != g->id || k->crash_route >= g->nroutes)
        return; /* outside a request, or on a generation no longer served */
    const cfg_t *cfg = g->cfg;
    if (crash_record(g->id, k->crash_route, server_monotonic_usec() / 1000, cfg->crash_limit, cfg->crash_window))
        log_error("route %s crashed %u times within %llu ms: it answers 503 until the next reload",
                  g->routes[k->crash_route].cfg->name, cfg->crash_limit, (unsigned long long)cfg->crash_window);
}

/* Kills (SIGKILL) each worker of the current generation whose heartbeat
 * (server_heartbeat()) is older than worker_stall_timeout: stopped
 * (SIGSTOP, a debugger) or with a loop stuck, it takes its share of the
 * connections and answers none. reap() then replaces it. Workers of an old
 * generation are left alone: they are draining, their loops stopping. */
static void watch(master_t *m)
{
    uint64_t limit = m->s->gen->cfg->worker_stall_timeout;
    if (limit == 0 || m->stopping || m->s->beats == NULL)
        return;
    uint64_t now = server_monotonic_usec();
    if (now - m->watched > WATCH_GRACE_USEC)
        m->watch_from = now + WATCH_GRACE_USEC;
    m->watched = now;
    if (now < m->watch_from)
        return;
    for (size_t i = 0; i < m->nkids; i++) {
        child_t *k = &m->kids[i];
        if (is_old(m, k) || k->stalled || k->slot >= m->s->nslots)
            continue;
        uint64_t beat = __atomic_load_n(&m->s->beats[k->slot], __ATOMIC_RELAXED);
        if (beat == 0 || now < beat || now - beat <= limit * 1000)
            continue; /* not serving yet, or alive */
        log_error("worker process %d stalled: no heartbeat for %llu ms (worker_stall_timeout %llu ms; stopped, or "
                  "an event loop stuck): killing it with SIGKILL", (int)k->pid,
                  (unsigned long long)((now - beat) / 1000), (unsigned long long)limit);
        kill(k->pid, SIGKILL);
        k->stalled = 1;
    }
}

/* Worker processes serving the current generation. */
static unsigned current_kids(const master_t *m)
{
    unsigned n = 0;
    for (size_t i = 0; i < m->nkids; i++)
        n += !is_old(m, &m->kids[i]);
    return n;
}

/* Starts the current generation's missing worker processes, unless the
 * backoff (respawn_at) is still running. */
static void replenish(master_t *m)
{
    if (m->stopping || server_monotonic_usec() < m->respawn_at)
        return;
    m->respawn_at = 0;
    for (unsigned have = current_kids(m); have < m->n; have++)
        if (spawn(m) < 0) { /* logged; tried again after a backoff, not every tick */
            m->respawn_at = server_monotonic_usec() + RESPAWN_BACKOFF_USEC;
            break;
        }
}

/* How long the loop may wait for a signal: its tick, or less when the
 * backoff ends sooner. */
static struct timespec wait_for(const master_t *m)
{
    uint64_t usec = 200 * 1000;
    if (m->respawn_at && !m->stopping) {
        uint64_t now = server_monotonic_usec();
        uint64_t left = m->respawn_at > now ? m->respawn_at - now : 0;
        if (left < usec)
            usec = left;
    }
    return (struct timespec){(time_t)(usec / 1000000), (long)(usec % 1000000) * 1000};
}

/* Collects exited children; replaces current ones that died unasked
 * (after a backoff when they died right after their start). */
static void reap(master_t *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        size_t i = 0;
        while (i < m->nkids && m->kids[i].pid != pid)
            i++;
        if (i == m->nkids)
            continue;
        child_t k = m->kids[i];
        int old = is_old(m, &k);
        m->kids[i] = m->kids[--m->nkids];
        /* a killed child's count never went down: it must not skew the
         * shares of the others until the slot is taken again */
        if (k.slot < m->s->nslots) {
            __atomic_store_n(&m->s->conn_slots[k.slot], 0, __ATOMIC_RELAXED);
            __atomic_store_n(&m->s->beats[k.slot], 0, __ATOMIC_RELAXED);
        }
        if (WIFSIGNALED(status))
            count_crash(m, &k);
        close(k.fd);
        if (WIFSIGNALED(status))
            log_error("worker process %d killed by signal %d (%s)%s", (int)pid, WTERMSIG(status),
                      strsignal(WTERMSIG(status)), old || m->stopping ? "" : "; starting a new one");
        else if (WEXITSTATUS(status) != 0 || (!old && !m->stopping))
            log_warn("worker process %d exited with status %d", (int)pid, WEXITSTATUS(status));
        else
            log_info("worker process %d exited", (int)pid);
        if (old || m->stopping)
            continue;
        uint64_t now = server_monotonic_usec();
        if (now - k.started < RESPAWN_BACKOFF_USEC) {
            m->respawn_at = now + RESPAWN_BACKOFF_USEC;
            log_warn("worker process %d died %llu ms after its start: its replacement starts in %llu ms", (int)pid,
                     (unsigned long long)((now - k.started) / 1000), RESPAWN_BACKOFF_USEC / 1000);
        }
    }
    replenish(m);
}

/* Reads the children's pipes until every child serving generation id has
 * said what, or is gone, for at most ms. Returns how many of them did not
 * say it (a pipe closed before 'R' is a worker that failed to start). */
static unsigned wait_kids(master_t *m, char what, unsigned long id, int ms)
{
    uint64_t end = server_monotonic_usec() + (uint64_t)ms * 1000;
    for (;;) {
        struct pollfd pfd[64];
        size_t idx[64], n = 0;
        unsigned missing = 0;
        for (size_t i = 0; i < m->nkids; i++) {
            child_t *k = &m->kids[i];
            if (k->gen != id)
                continue;
            int done = what == 'R' ? k->ready : k->stopped;
            if (done)
                continue;
            missing++;
            if (!k->failed && k->fd >= 0 && n < 64) {
                pfd[n] = (struct pollfd){.fd = k->fd, .events = POLLIN};
                idx[n++] = i;
            }
        }
        uint64_t now = server_monotonic_usec();
        if (n == 0 || now >= end)
            return missing;
        if (poll(pfd, n, (int)((end - now) / 1000) + 1) <= 0)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (!(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            child_t *k = &m->kids[idx[j]];
            char buf[8];
            ssize_t r = read(k->fd, buf, sizeof buf);
            if (r <= 0) { /* gone: it said all it will say */
                k->failed = !k->ready;
                k->stopped = 1;
                continue;
            }
            heard(k, buf, (size_t)r);
        }
    }
}

/* Starts the worker processes of the current generation one after
 * another, each once the previous one serves: the first one's plugins
 * create what they create on first use (a database file and its schema),
 * the next ones find it there instead of racing to create it. Stops at
 * the first that fails. Returns how many are not serving. */
static unsigned start_gen(master_t *m)
{
    for (unsigned i = 0; i < m->n; i++)
        if (spawn(m) < 0 || wait_kids(m, 'R', m->s->gen->id, 10000) > 0)
            return m->n - i;
    return 0;
}

/* New workers first, then the old ones stop accepting, then the new
 * generation is announced: no moment without a worker accepting, and no
 * connection accepted after READY=1 reaches the old configuration (one
 * already open may have its next request answered there, with
 * Connection: close, while its worker drains: conn_drain). A new worker that
 * fails to start fails the reload: the new ones are stopped and the old
 * ones go on serving the old generation. */
static void reload(master_t *m)
{
    gen_t *g = server_build_next(m->s);
    if (g == NULL)
        return;
    gen_t *old = m->s->gen;
    m->s->gen = g; /* the new workers are forked on it */
    unsigned missing = start_gen(m);
    if (missing > 0) {
        m->s->gen = old;
        gen_apply_listener_access(old);
        /* The new workers were forked onto the new log files: back to the
         * serving generation's, which the failure is reported in. */
        if (server_open_logs(old->cfg) < 0)
            log_warn("reload: cannot reopen generation %lu's log files", old->id);
        /* A ready one may hold connections already: it drains them. */
        for (size_t i = 0; i < m->nkids; i++)
            if (m->kids[i].gen == g->id)
                kill(m->kids[i].pid, m->kids[i].ready ? SIGTERM : SIGKILL);
        log_error("reload failed, generation %lu keeps serving: %u of %u new worker processes did not start",
                  old->id, missing, m->n);
        snprintf(m->s->last_reload, sizeof m->s->last_reload, "last reload failed: %u worker processes did not start",
                 missing);
        server_notify("READY=1\nSTATUS=generation %lu; %s", old->id, m->s->last_reload);
        stats_reload_failed();
        gen_unref(g);
        gen_reap();
        return;
    }
    signal_old(m, SIGTERM);
    for (size_t i = 0; i < m->nkids; i++) /* their 'S' is awaited by generation */
        if (is_old(m, &m->kids[i]))
            m->kids[i].gen = old->id;
    wait_kids(m, 'S', old->id, 2000);
    m->s->gen = old;
    server_publish(m->s, g);
    gen_reap();
}

int master_run(server_t *s, unsigned n)
{
    master_t m = {.s = s, .n = n};
    sigset_t set;
    server_signals(&set, 1);
    if (stats_share_reloads() < 0)
        log_warn("worker processes count only the reloads before their start (mmap: %s)", strerror(errno));
    if (crash_table_init() < 0)
        log_warn("no route quarantine (mmap: %s): a crashing route costs a worker process every time",
                 strerror(errno));
    unsigned missing = start_gen(&m);
    if (missing > 0) {
        log_error("%u of %u worker processes did not start: stopping", missing, n);
        m.stopping = 1;
        signal_all(&m, SIGKILL);
        for (int t = 0; m.nkids > 0 && t < 5000; t++) {
            struct timespec ms = {0, 1000000L};
            nanosleep(&ms, NULL);
            reap(&m);
        }
        for (size_t k = 0; k < m.nkids; k++)
            close(m.kids[k].fd);
        free(m.kids);
        return 1;
    }
    log_info("ready: plughttpd %s master, generation %lu, %u worker processes", PH_SERVER_VERSION, s->gen->id, n);
    server_notify("READY=1\nMAINPID=%d\nSTATUS=generation %lu serving, %u processes", (int)getpid(), s->gen->id, n);
    uint64_t deadline = 0;
    for (;;) {
        struct timespec tick = wait_for(&m);
        int sig = sigtimedwait(&set, NULL, &tick);
        reap(&m);
        watch(&m);
        gen_reap();
        server_check_certificates(s);
        if (m.stopping) {
            if (m.nkids == 0)
                break;
            if (server_monotonic_usec() > deadline) {
                log_warn("worker processes still running after shutdown_timeout: killing them");
                signal_all(&m, SIGKILL);
                deadline = UINT64_MAX;
            }
            continue;
        }
        if (sig == SIGHUP) {
            reload(&m);
        } else if (sig == SIGUSR1) {
            if (log_reopen() < 0)
                log_error("reopening log files: %s", strerror(errno));
            signal_all(&m, SIGUSR1);
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_info("%s: stopping worker processes", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            server_notify("STOPPING=1");
            m.stopping = 1;
            for (size_t i = 0; i < s->gen->nlisteners; i++)
                listener_stop(&s->gen->listeners[i]->l);
            deadline = server_monotonic_usec() + (s->gen->cfg->shutdown_timeout + 5000) * 1000;
            signal_all(&m, SIGTERM);
        }
    }
    for (size_t i = 0; i < m.nkids; i++)
        close(m.kids[i].fd);
    free(m.kids);
    return 0;
}
