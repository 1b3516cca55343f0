/*
 * processes = N: a master process that binds the sockets (generation 1 is
 * built before forking), forks N worker processes that each run the
 * threaded core, restarts one that dies, and reloads as nginx does: new
 * workers start on the new generation before the old ones are told to drain.
 * A crashing plugin costs one worker process, not the service.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "version.h"

typedef struct child {
    pid_t pid;
    int fd;                  /* read end of its pipe ('R' ready, 'S' stopped) */
    int old;                 /* from an earlier generation: draining */
    int ready, stopped;
    unsigned slot;           /* its connection counter in s->conn_slots */
    uint64_t started;        /* monotonic usec */
} child_t;

typedef struct master {
    server_t *s;
    unsigned n;
    child_t *kids;
    size_t nkids, capkids;
    int stopping;
} master_t;

static void child_main(server_t *s)
{
    /* The master's death must not leave orphans serving an old config. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    listener_keep_paths();
    if (getppid() == 1)
        _exit(0);
    int rc = server_run(s, 1);
    server_finish(s, 0);
    _exit(rc);
}

/* A connection counter no living child uses, zeroed (a killed child's
 * count never went down). */
static unsigned free_slot(master_t *m)
{
    for (unsigned s = 0; s < m->s->nslots; s++) {
        size_t i = 0;
        while (i < m->nkids && m->kids[i].slot != s)
            i++;
        if (i == m->nkids) {
            __atomic_store_n(&m->s->conn_slots[s], 0, __ATOMIC_RELAXED);
            return s;
        }
    }
    return 0; /* more children than slots: share one (counts stay bounded) */
}

static int spawn(master_t *m)
{
    m->s->slot = free_slot(m);
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
        child_main(m->s);
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
    m->kids[m->nkids++] = (child_t){.pid = pid, .fd = p[0], .slot = m->s->slot, .started = server_monotonic_usec()};
    log_info("worker process %d started (generation %lu)", (int)pid, m->s->gen->id);
    return 0;
}

static void signal_kids(master_t *m, int sig, int old_only)
{
    for (size_t i = 0; i < m->nkids; i++)
        if (!old_only || m->kids[i].old)
            kill(m->kids[i].pid, sig);
}

/* Collects exited children; replaces current ones that died unasked. */
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
        m->kids[i] = m->kids[--m->nkids];
        close(k.fd);
        if (WIFSIGNALED(status))
            log_error("worker process %d killed by signal %d (%s)%s", (int)pid, WTERMSIG(status),
                      strsignal(WTERMSIG(status)), k.old || m->stopping ? "" : "; starting a new one");
        else if (WEXITSTATUS(status) != 0 || (!k.old && !m->stopping))
            log_warn("worker process %d exited with status %d", (int)pid, WEXITSTATUS(status));
        else
            log_info("worker process %d exited", (int)pid);
        if (k.old || m->stopping)
            continue;
        /* A worker dying right after start would otherwise loop hot. */
        if (server_monotonic_usec() - k.started < 1000000) {
            struct timespec pause = {1, 0};
            nanosleep(&pause, NULL);
        }
        spawn(m);
    }
}

/* Reads the children's pipes until every child of the given age has said
 * what (or is gone), for at most ms. */
static void wait_kids(master_t *m, char what, int old, int ms)
{
    uint64_t end = server_monotonic_usec() + (uint64_t)ms * 1000;
    for (;;) {
        struct pollfd pfd[64];
        size_t idx[64], n = 0;
        for (size_t i = 0; i < m->nkids && n < 64; i++) {
            child_t *k = &m->kids[i];
            int done = what == 'R' ? k->ready : k->stopped;
            if (k->old == old && !done && k->fd >= 0) {
                pfd[n] = (struct pollfd){.fd = k->fd, .events = POLLIN};
                idx[n++] = i;
            }
        }
        uint64_t now = server_monotonic_usec();
        if (n == 0 || now >= end)
            return;
        if (poll(pfd, n, (int)((end - now) / 1000) + 1) <= 0)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (!(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            child_t *k = &m->kids[idx[j]];
            char buf[8];
            ssize_t r = read(k->fd, buf, sizeof buf);
            if (r <= 0) { /* gone: nothing more to wait for */
                k->ready = k->stopped = 1;
                continue;
            }
            for (ssize_t b = 0; b < r; b++) {
                if (buf[b] == 'R')
                    k->ready = 1;
                else if (buf[b] == 'S')
                    k->stopped = 1;
            }
        }
    }
}

/* New workers first, then the old ones stop accepting, then the new
 * generation is announced: no moment without a worker accepting, and no
 * request after READY=1 reaches the old configuration. */
static void reload(master_t *m)
{
    gen_t *g = server_build_next(m->s);
    if (g == NULL)
        return;
    for (size_t i = 0; i < m->nkids; i++)
        m->kids[i].old = 1;
    gen_t *old = m->s->gen;
    m->s->gen = g; /* the new workers are forked on it */
    for (unsigned i = 0; i < m->n; i++)
        spawn(m);
    wait_kids(m, 'R', 0, 10000);
    signal_kids(m, SIGTERM, 1);
    wait_kids(m, 'S', 1, 2000);
    m->s->gen = old;
    server_publish(m->s, g);
    gen_reap();
}

int master_run(server_t *s, unsigned n)
{
    master_t m = {.s = s, .n = n};
    sigset_t set;
    server_signals(&set, 1);
    for (unsigned i = 0; i < n; i++) {
        if (spawn(&m) < 0) {
            signal_kids(&m, SIGTERM, 0);
            for (size_t k = 0; k < m.nkids; k++)
                close(m.kids[k].fd);
            free(m.kids);
            return 1;
        }
    }
    wait_kids(&m, 'R', 0, 10000);
    log_info("ready: plughttpd %s master, generation %lu, %u worker processes", PH_SERVER_VERSION, s->gen->id, n);
    server_notify("READY=1\nMAINPID=%d\nSTATUS=generation %lu serving, %u processes", (int)getpid(), s->gen->id, n);
    uint64_t deadline = 0;
    for (;;) {
        struct timespec tick = {0, 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &tick);
        reap(&m);
        gen_reap();
        if (m.stopping) {
            if (m.nkids == 0)
                break;
            if (server_monotonic_usec() > deadline) {
                log_warn("worker processes still running after shutdown_timeout: killing them");
                signal_kids(&m, SIGKILL, 0);
                deadline = UINT64_MAX;
            }
            continue;
        }
        if (sig == SIGHUP) {
            reload(&m);
        } else if (sig == SIGUSR1) {
            log_reopen();
            signal_kids(&m, SIGUSR1, 0);
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_info("%s: stopping worker processes", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            server_notify("STOPPING=1");
            m.stopping = 1;
            for (size_t i = 0; i < s->gen->nlisteners; i++)
                listener_stop(&s->gen->listeners[i]->l);
            deadline = server_monotonic_usec() + (s->gen->cfg->shutdown_timeout + 5000) * 1000;
            signal_kids(&m, SIGTERM, 0);
        }
    }
    for (size_t i = 0; i < m.nkids; i++)
        close(m.kids[i].fd);
    free(m.kids);
    return 0;
}
