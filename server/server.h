/*
 * One serving process: generation, worker threads, helper pool, signals.
 * main.c runs it directly (processes = 1) or master.c forks several.
 */
#ifndef PH_SERVER_H
#define PH_SERVER_H

#include <signal.h>
#include <stdint.h>

#include "blocking.h"
#include "gen.h"
#include "worker.h"

typedef struct server {
    const char *config_path;
    gen_t *gen;            /* current generation (one reference) */
    unsigned long next_id;
    worker_t *workers;
    unsigned nworkers;
    blocking_t *blocking;
    unsigned blocking_threads, blocking_queue; /* what the pool was made with */
    unsigned processes;    /* fixed at start: 0 (one process), or worker
                              processes under a master */
    /* Used once, at start-up, so fixed then (owned copies): the pid file
     * written, which the stop removes, and the user and group become. */
    char *pid_file, *user, *group;
    /* This process's open connections, the count max_connections applies
     * to (atomic), in its own memory: nothing another process does can
     * change it. */
    unsigned own_conns;
    /* The same counts published per serving process, in memory shared with
     * the master's other worker processes (atomic): the sum lets each loop
     * take no more than its share of new connections. slot[slot] is this
     * process's; slot == nslots: none was free (more processes alive than
     * slots, during reloads), it publishes nothing. */
    unsigned *conn_slots;
    unsigned nslots;
    unsigned slot;
    /* Per slot too, in memory shared with the master: the worker process's
     * heartbeat, the server_monotonic_usec() up to which every one of its
     * loops was seen running (0: not serving yet). The master kills a
     * worker whose heartbeat is older than worker_stall_timeout. */
    uint64_t *beats;
    uint64_t reload_started;
    int master_fd;         /* worker process: pipe to the master, else -1 */
    char last_reload[160];
    uint64_t next_cert_check; /* server_monotonic_usec() of the next */
} server_t;

/* Loads the config and builds generation 1 (binds the listeners), opens
 * the logs, drops privileges, writes the pid file. Returns 0 or -1 (logged). */
int server_start(server_t *s, const char *path);
/* Runs worker threads until SIGTERM/SIGINT. child: a worker process of the
 * master (it leaves SIGHUP and sd_notify to the master). Returns the exit
 * status. */
int server_run(server_t *s, int child);
void server_finish(server_t *s, int remove_pid_file);

/* Reload steps: build the next generation from the config file (NULL on
 * failure, logged, nothing changed), then make it current. */
gen_t *server_build_next(server_t *s);
void server_publish(server_t *s, gen_t *g);

/* Becomes cfg's user = and group = (nothing when unset or already them).
 * Returns 0, or -1 (logged). For "-t", which checks the plugins as the
 * server will run them. */
int server_become_user(const cfg_t *cfg);
/* Blocks the signals the main thread waits for; fills set. */
void server_signals(sigset_t *set, int master);
int server_open_logs(const cfg_t *cfg);
uint64_t server_monotonic_usec(void);
/* Called on each tick of the master's (or the only process's) loop: twice
 * a day, logs the certificates near or past their expiry
 * (tls_ctx_check_expiry()). */
void server_check_certificates(server_t *s);
/* A worker process's main thread, on each tick: publishes its heartbeat
 * (s->beats[s->slot]): the oldest time one of its loops was last seen
 * ticking, so one stuck loop, or the whole process stopped, makes it
 * stale. */
void server_heartbeat(server_t *s);
void server_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
