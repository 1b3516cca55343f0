/*
 * The plugin test harness (include/plughttpd/test.h): the real server run
 * on a thread of the test's process, and a small HTTP/1.1 client for it.
 */
#include <plughttpd/test.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "harness.h"
#include "server.h"

struct ph_test_server {
    server_t s;
    pthread_t thread;
    int running;
    char dir[64];          /* the private temporary folder */
    char config_path[96];
    char proxy_path[96];   /* the unix listener taking a PROXY header */
    int port;
    int run_rc;
};

static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t n; buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += n;
        if (cap - len < 2) {
            char *more = realloc(buf, cap * 2);
            if (more == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* The harness's [server] lines, then the caller's text. Written whole to a
 * new file renamed into place, so a reload never reads half of it. */
static int write_config(ph_test_server_t *t, const char *config)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/server.ini.new", t->dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "[server]\nlisten = 127.0.0.1:0\nlisten = unix:%s proxy_protocol\nthreads = 1\n"
            "processes = 0\n"
            "error_log = %s/error.log\naccess_log = %s/access.log\n%s\n",
            t->proxy_path, t->dir, t->dir, config ? config : "");
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, t->config_path);
}

/* The TCP listener's port (the other is a unix socket). */
static int listener_port(const server_t *s)
{
    for (size_t i = 0; i < s->gen->nlisteners; i++) {
        const listener_t *l = &s->gen->listeners[i]->l;
        const char *colon = strrchr(l->name, ':');
        if (l->family == AF_INET && colon)
            return atoi(colon + 1);
    }
    return -1;
}

static void *run(void *arg)
{
    ph_test_server_t *t = arg;
    t->run_rc = server_run(&t->s, 0);
    return NULL;
}

static void remove_dir(ph_test_server_t *t)
{
    static const char *const files[] = {"server.ini", "server.ini.new", "error.log", "access.log", "proxy.sock"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", t->dir, files[i]);
        unlink(path);
    }
    rmdir(t->dir);
}

/* Fills err with the reason and what the error log holds of it. */
static void refused(ph_test_server_t *t, const char *what, char *err, size_t errlen)
{
    char path[128];
    snprintf(path, sizeof path, "%s/error.log", t->dir);
    char *log = read_file(path);
    say(err, errlen, "%s%s%s", what, log && *log ? ": " : " (see stderr)", log ? log : "");
    free(log);
}

ph_test_server_t *ph_test_server_start(const char *config, char *err, size_t errlen)
{
    ph_test_server_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        say(err, errlen, "out of memory");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%.40s/phtest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(t->dir) == NULL) {
        say(err, errlen, "mkdtemp %s: %s", t->dir, strerror(errno));
        free(t);
        return NULL;
    }
    snprintf(t->config_path, sizeof t->config_path, "%s/server.ini", t->dir);
    snprintf(t->proxy_path, sizeof t->proxy_path, "%s/proxy.sock", t->dir);
    if (write_config(t, config) < 0) {
        say(err, errlen, "writing %s: %s", t->config_path, strerror(errno));
        remove_dir(t);
        free(t);
        return NULL;
    }
    if (server_start(&t->s, t->config_path) < 0) {
        refused(t, "the server refused the configuration", err, errlen);
        server_finish(&t->s, 0);
        remove_dir(t);
        free(t);
        return NULL;
    }
    t->port = listener_port(&t->s);
    /* The server's thread must be born with its signals blocked: one sent
     * before server_run() blocks them would take the default action and
     * end the whole test process. */
    sigset_t set, old;
    server_signals(&set, 0);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int rc = pthread_create(&t->thread, NULL, run, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        say(err, errlen, "pthread_create: %s", strerror(rc));
        server_finish(&t->s, 0);
        remove_dir(t);
        free(t);
        return NULL;
    }
    t->running = 1;
    return t;
}

ph_test_server_t *ph_test_plugin_start(const char *plugin_path, const char *const *keys, char *err, size_t errlen)
{
    size_t len = strlen(plugin_path) + 64;
    for (size_t i = 0; keys && keys[i]; i++)
        len += strlen(keys[i]) + 1;
    char *config = malloc(len);
    if (config == NULL) {
        say(err, errlen, "out of memory");
        return NULL;
    }
    size_t off = (size_t)snprintf(config, len, "[route /]\nplugin = %s\n", plugin_path);
    for (size_t i = 0; keys && keys[i]; i++)
        off += (size_t)snprintf(config + off, len - off, "%s\n", keys[i]);
    ph_test_server_t *t = ph_test_server_start(config, err, errlen);
    free(config);
    return t;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int ph_test_server_reload(ph_test_server_t *t, const char *config, char *err, size_t errlen)
{
    /* The reload's outcome is read from the log, which says it once either
     * way: a served generation, or a refused one. */
    static const char ok[] = "reload: generation ", bad[] = "reload failed";
    char *log = ph_test_error_log(t);
    size_t oks = count(log, ok), bads = count(log, bad);
    free(log);
    if (write_config(t, config) < 0) {
        say(err, errlen, "writing %s: %s", t->config_path, strerror(errno));
        return -1;
    }
    pthread_kill(t->thread, SIGHUP);
    for (unsigned waited = 0; waited < 10000; waited += 10) {
        log = ph_test_error_log(t);
        size_t o = count(log, ok), b = count(log, bad);
        if (o > oks || b > bads) {
            if (b > bads)
                say(err, errlen, "reload refused: %s", log ? log : "");
            free(log);
            return o > oks ? 0 : -1;
        }
        free(log);
        sleep_ms(10);
    }
    say(err, errlen, "the reload did not finish in 10 s");
    return -1;
}

int ph_test_server_port(const ph_test_server_t *t)
{
    return t->port;
}

void ph_test_server_stop(ph_test_server_t *t)
{
    if (t == NULL)
        return;
    if (t->running) {
        /* server_run() takes SIGINT as it takes SIGTERM: finish the
         * requests in flight, then return. */
        pthread_kill(t->thread, SIGINT);
        pthread_join(t->thread, NULL);
    }
    server_finish(&t->s, 0);
    remove_dir(t);
    free(t);
}

char *ph_test_error_log(const ph_test_server_t *t)
{
    char path[128];
    snprintf(path, sizeof path, "%s/error.log", t->dir);
    return read_file(path);
}

char *ph_test_access_log(const ph_test_server_t *t)
{
    char path[128];
    snprintf(path, sizeof path, "%s/access.log", t->dir);
    return read_file(path);
}

int ph_test_wait_log(const ph_test_server_t *t, const char *needle, unsigned timeout_ms)
{
    for (unsigned waited = 0;; waited += 10) {
        char *log = ph_test_error_log(t);
        int found = log && strstr(log, needle);
        free(log);
        if (found)
            return 0;
        if (waited >= timeout_ms)
            return -1;
        sleep_ms(10);
    }
}

const char *harness_proxy_path(const ph_test_server_t *t)
{
    return t->proxy_path;
}
