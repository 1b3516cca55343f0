/*
 * libFuzzer harness for the whole connection path, in process: the real
 * config loader, generation (plugin loader, router), worker event loop,
 * connection state machine, parser, the echo and static plugins (echo also
 * as a blocking route, on the helper pool), the response writer and the
 * access log (on, written to /dev/null), and the ABI 1.3 paths through the
 * fixtures of tests/plugins/: an access stage (deciding at once or from a
 * thread of its own), a streamed body paused and resumed from a thread, an
 * answer from a thread, a waiting event stream, output filters over echo
 * and static, and a buffered body spilled to a temporary file.
 *
 * Each input is one client. The server end of a socketpair is handed to the
 * worker exactly as an accepted socket is (worker_adopt); the client end is
 * watched on the same event loop, so one thread runs both sides and a run
 * is the same sequence of reads and writes each time (except where the
 * blocking route's helper thread, a timeout or the /c route's open-file
 * cache, which outlives a session, decides):
 *
 *   byte 0   bits 0-1  how the client ends: 0, 1 half-close after the last
 *                      byte; 2 stay open until the server closes (its
 *                      timeouts fire); 3 close at once (unread data: reset)
 *            bits 2-4  write size class, bits 5-7 read size class (below)
 *   byte 1   bits 0-1  peer address the connection claims: unix, 127.0.0.1,
 *                      ::1 (access-log and echo formatting)
 *            bits 2-3  both set: the connection is accepted on a TLS
 *                      listener and the client does a real TLS handshake
 *                      (OpenSSL, a certificate made at start-up) before
 *                      sending the bytes as application data; ending 1 then
 *                      sends close_notify before the half-close;
 *                      bit 2 alone: the connection is accepted on an h2c
 *                      listener and the client sends the HTTP/2 preface
 *                      before the bytes (which then are frames)
 *                      bit 3 alone: the connection is accepted on a
 *                      proxy_protocol listener (the bytes should start
 *                      with a PROXY header)
 *            bit 4     with TLS: the client offers h2 by ALPN and sends
 *                      the preface too
 *   bytes 2-3          seed of the generator that picks each write's and
 *                      read's size within its class
 *   the rest           the bytes the client sends
 *
 * One write per loop iteration, so the server's reads see the input split
 * at those points (pipelined requests in one read, a head across many).
 * The server's send buffer is small (send_buffer = 4k) and the client reads
 * in pieces, so responses go out in partial writes and the connection waits
 * in its sending state. The timeouts are a few tens of milliseconds: a
 * client that stays open sees the keep-alive, header or body timeout fire.
 *
 * FUZZ_CONN_DUMP=1 in the environment copies what the client receives to
 * stderr (to see what a reproducer does).
 *
 * Checked besides memory safety and leaks: the client's socket sees a
 * bounded number of events (a server that keeps writing or waking it
 * without end traps; one that never closes after the client left is a
 * libFuzzer timeout), and no descriptor outlives the session.
 *
 * The plugins are built with the same instrumentation as separate shared
 * objects (conn-plugins/ beside this program) and loaded by the real plugin
 * loader; they stay loaded for the life of the process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "blocking.h"
#include "config.h"
#include "conn.h"
#include "ev.h"
#include "gen.h"
#include "server.h"
#include "worker.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER 4
/* Writes per input at most: a longer input is sent in bigger pieces. */
#define MAX_WRITES 128
/* Loop iterations after which the client reads in big pieces only. */
#define SMALL_READS 1024
/* Events on the client's socket a session may take: a server that neither
 * serves the client nor closes the connection by then is a bug (sessions
 * take well under a thousand). */
#define MAX_STEPS 20000
/* Iterations after the client closed before the harness stops looking at
 * the connection in every iteration. */
#define KICK_SPINS 64

#define REQUIRE(cond, what)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_conn: %s\n", what);                                              \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

enum end_mode { END_HALF_CLOSE, END_HALF_CLOSE2, END_WAIT, END_CLOSE };

typedef struct session {
    const uint8_t *in;
    size_t len, off;
    enum end_mode end;
    unsigned wclass, rclass;
    uint32_t rng;
    int fd;       /* client end, -1 once closed */
    int ended;    /* the end action was taken */
    unsigned steps, writes;
    unsigned kicks;     /* iterations since the client closed */
    ev_io_t io;
    SSL *ssl;           /* TLS sessions: the client's end */
    int handshaken;
    size_t retry;       /* an SSL_write to repeat with this length, or 0 */
} session_t;

static worker_t worker;
static unsigned total_conns;
static char tmpdir[64];
static int kick_fd = -1; /* eventfd: readable while the client is gone and the server is not yet done */
static ev_io_t kick_io;
static ev_timer_t poll_timer; /* re-arms the kick while the server takes its time */
static session_t *cur;
static int dump; /* FUZZ_CONN_DUMP set: what the client receives goes to stderr */
static SSL_CTX *client_ctx;

/* --- set-up ----------------------------------------------------------------- */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_conn: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put_file(const char *rel, const char *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        die(path);
    close(fd);
}

static void put_text(const char *rel, const char *text) { put_file(rel, text, strlen(text)); }

static void put_dir(const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    if (mkdir(path, 0755) < 0)
        die(path);
}

static void put_link(const char *rel, const char *target)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    if (symlink(target, path) < 0)
        die(path);
}

/* The site the static route serves: a small page, a file far bigger than
 * the socket buffers (sendfile in pieces, ranges), a precompressed
 * sibling, a folder without an index (listing, with names that need
 * escaping), a dotfile and symlinks inside and outside the root. */
static void make_site(void)
{
    put_dir("www");
    put_text("www/index.html", "<!doctype html><title>fuzz</title><p>index</p>\n");
    static char big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    put_file("www/big.txt", big, sizeof big);
    put_text("www/a.css", "body{color:red}\n");
    put_file("www/a.css.gz", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
    put_text("www/.secret", "secret\n");
    put_dir("www/sub");
    put_text("www/sub/b.html", "<p>b</p>\n");
    put_text("www/sub/q \"&<x>%.txt", "odd name\n");
    put_dir("www/sub/deeper");
    put_link("www/link_in", "index.html");
    put_link("www/link_out", "../server.ini");
}

/* The folder holding this program: the plugins are built beside it. */
static void exe_dir(char *out, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n <= 0)
        die("readlink /proc/self/exe");
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
}

/* A self-signed ECDSA certificate for the TLS listener. */
static void make_certificate(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (key == NULL || x == NULL)
        die("certificate");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                               -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    if (X509_sign(x, key, EVP_sha256()) == 0)
        die("X509_sign");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cert.pem", tmpdir);
    FILE *f = fopen(path, "w");
    if (f == NULL || PEM_write_X509(f, x) != 1 || fclose(f) != 0)
        die(path);
    snprintf(path, sizeof path, "%s/key.pem", tmpdir);
    f = fopen(path, "w");
    if (f == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 || fclose(f) != 0)
        die(path);
    X509_free(x);
    EVP_PKEY_free(key);
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (client_ctx == NULL)
        die("SSL_CTX_new");
    SSL_CTX_set_mode(client_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static void make_config(void)
{
    char plugins[PATH_MAX - 32], ini[8192];
    exe_dir(plugins, sizeof plugins);
    snprintf(ini, sizeof ini,
             "[server]\n"
             "listen = unix:%s/listen.sock\n"
             "listen = 127.0.0.1:0 tls\n"
             "listen = unix:%s/h2c.sock h2c\n"
             "listen = unix:%s/pp.sock proxy_protocol\n"
             "threads = 1\n"
             "plugin_dir = %s/conn-plugins\n"
             "access_log = /dev/null\n"
             /* the JSON lines writer, whose escaping any client bytes reach */
             "access_log_format = json\n"
             "error_log = /dev/null\n"
             "log_level = debug\n"
             /* distinct and short: a client that stays open meets them */
             "keepalive_timeout = 20ms\n"
             "header_timeout = 40ms\n"
             "body_timeout = 50ms\n"
             "send_timeout = 60ms\n"
             "send_buffer = 4k\n"
             "max_header_bytes = 12k\n"
             "max_uri_bytes = 9k\n"
             "max_body_bytes = 64k\n"
             "max_keepalive_requests = 8\n"
             /* the peers 127.0.0.1 and unix are trusted proxies (::1 is
              * not): their Forwarded names the client, their X-Request-Id
              * the id, which every answer carries; each address may hold
              * a connection or two (one session at a time holds one) */
             "trusted_proxies = 127.0.0.1 unix\n"
             "real_ip_header = forwarded\n"
             "send_request_id = yes\n"
             "max_connections_per_address = 2\n"
             "handler_timeout = 70ms\n"
             "blocking_threads = 1\n"
             "blocking_queue = 4\n"
             "\n[route /]\n"
             "plugin = static\n"
             "root = www\n"
             "index = index.html\n"
             "autoindex = on\n"
             "precompressed = on\n"
             "cache_control = max-age=60\n"
             "cache_ttl = 0\n"
             /* the open-file cache outlives a session: its own route, so
              * only inputs that ask for /c depend on earlier ones */
             "\n[route /c]\n"
             "plugin = static\n"
             "root = www\n"
             "cache_ttl = 1s\n"
             "\n[route /echo]\n"
             "plugin = echo\n"
             "header = X-Fuzz: yes\n"
             /* the same handler on a coroutine (ABI 1.4), smallest stack */
             "\n[route /co]\n"
             "plugin = echo\n"
             "coroutine = yes\n"
             "coroutine_stack = 16k\n"
             "\n[route /teapot]\n"
             "plugin = echo\n"
             "status = 418\n"
             /* a handler on the helper thread: the connection waits in its
              * handling state, pipelined requests behind it */
             "\n[route /slow]\n"
             "plugin = echo\n"
             "blocking = yes\n"
             /* ABI 1.3, delays of a few ms so a session stays short: an
              * access stage refusing without X-Token, the same deciding
              * from its own thread, one refusing everything, a streamed
              * body paused every 1k, an answer from a thread, a waiting
              * event stream, filters over echo and static, a spilled body */
             "\n[route /g]\n"
             "plugin = guard, echo, upper\n"
             "guard.mode = header\n"
             "\n[route /ga]\n"
             "plugin = guard, sink\n"
             "guard.mode = async\n"
             "guard.delay = 2ms\n"
             "\n[route /deny]\n"
             "plugin = gate, echo\n"
             "gate.deny = yes\n"
             "\n[route /sink]\n"
             "plugin = sink\n"
             "pause_every = 1k\n"
             "pause_for = 1ms\n"
             "\n[route /later]\n"
             "plugin = later\n"
             "delay = 2ms\n"
             "\n[route /sse]\n"
             "plugin = sse, upper\n"
             "sse.events = 2\n"
             "sse.interval = 2ms\n"
             "\n[route /up]\n"
             "plugin = gate, static, upper\n"
             "static.root = www\n"
             "\n[route /spill]\n"
             "plugin = echo\n"
             "max_body_bytes = 32k\n"
             "body_spill = 1k\n"
             /* request information, response-header calls, 103 Early
              * Hints and a spilled body read back through body_fd, behind
              * an access stage that notes the user (ABI 1.5) */
             "\n[route /p]\n"
             "plugin = guard, probe\n"
             "guard.mode = header\n"
             "body_spill = 1k\n"
             /* virtual hosts: an exact name and a wildcard with their own
              * routes; every other host gets the routes above */
             "\n[route vh.test/]\n"
             "plugin = echo\n"
             "\n[route *.vh.test/api]\n"
             "plugin = echo\n"
             "\n[tls]\n"
             "certificate = cert.pem\n"
             "key = key.pem\n"
             "handshake_timeout = 30ms\n",
             tmpdir, tmpdir, tmpdir, plugins);
    put_text("server.ini", ini);
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

/* At exit; a crash leaves the folder behind for a look at it. */
static void remove_tmpdir(void)
{
    if (tmpdir[0] != '\0' && nftw(tmpdir, remove_one, 8, FTW_DEPTH | FTW_PHYS) < 0)
        fprintf(stderr, "fuzz_conn: could not remove %s\n", tmpdir);
}

static void on_kick(ev_loop_t *loop, ev_io_t *io, unsigned events);
static void on_poll(ev_loop_t *loop, ev_timer_t *t);

/* How many descriptors the process has open. Counted around each session
 * rather than once: libFuzzer's symbolizer opens pipes of its own between
 * runs. report: name each one on stderr (after a leak). */
static int open_fds(int report)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        die("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        n++;
        if (report) {
            char link[300], target[PATH_MAX];
            snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
            ssize_t k = readlink(link, target, sizeof target - 1);
            target[k > 0 ? k : 0] = '\0';
            fprintf(stderr, "fuzz_conn: fd %s: %s\n", e->d_name, target);
        }
    }
    closedir(d);
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dump = getenv("FUZZ_CONN_DUMP") != NULL;
    signal(SIGPIPE, SIG_IGN); /* as the server does: a closed client is an EPIPE */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fuzz_conn.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        die("mkdtemp");
    atexit(remove_tmpdir);
    make_site();
    make_certificate();
    make_config();

    char path[PATH_MAX], err[1024];
    snprintf(path, sizeof path, "%s/server.ini", tmpdir);
    cfg_t *cfg;
    gen_t *gen;
    if (cfg_load(path, &cfg, err, sizeof err) < 0 || gen_build(cfg, NULL, 1, GEN_CREATE, &gen, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_conn: %s\n", err);
        exit(1);
    }
    if (server_open_logs(gen->cfg) < 0)
        exit(1);
    /* The generation and its plugins live as long as the process: an
     * instrumented library must not be unloaded while libFuzzer still
     * reads its coverage counters. */
    blocking_t *pool = blocking_new(gen->cfg->blocking_threads, gen->cfg->blocking_queue, NULL);
    if (pool == NULL)
        die("blocking_new");
    if (worker_init(&worker, 0, gen, pool, &total_conns) < 0)
        die("worker_init");
    /* The plugin API's registry: run_on() (the sink fixture's resume)
     * accepts only a registered loop. */
    worker_set_all(&worker, 1);
    /* this thread runs the loop: the loop-thread-only calls (body_pause)
     * accept it */
    worker_claim_thread(&worker);
    gen_unref(gen); /* the worker holds its own reference */
    kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (kick_fd < 0)
        die("eventfd");
    ev_timer_init(&poll_timer, on_poll, NULL);
    ev_io_init(&kick_io, kick_fd, on_kick, NULL);
    if (ev_io_start(worker.loop, &kick_io, EV_READ, 0) < 0)
        die("epoll_ctl");
    return 0;
}

/* --- one session ------------------------------------------------------------- */

static uint32_t next_rand(session_t *s)
{
    s->rng ^= s->rng << 13; /* xorshift32 */
    s->rng ^= s->rng >> 17;
    s->rng ^= s->rng << 5;
    return s->rng;
}

/* A size in class cls (0..7): all, 1, up to 8, 64, 512, 4096, any. */
static size_t pick(session_t *s, unsigned cls, size_t all)
{
    static const size_t max[] = {0, 1, 8, 64, 512, 4096, 65536, 0};
    if (all == 0)
        return 0;
    if (cls == 0)
        return all;
    size_t m = cls == 7 ? all : max[cls];
    size_t n = 1 + next_rand(s) % m;
    return n < all ? n : all;
}

static void arm_kick(void)
{
    uint64_t one = 1;
    if (write(kick_fd, &one, sizeof one) != sizeof one)
        die("eventfd write");
}

static void client_close(ev_loop_t *loop, session_t *s)
{
    if (s->fd < 0)
        return;
    ev_io_stop(loop, &s->io);
    close(s->fd);
    s->fd = -1;
    arm_kick(); /* on_kick ends the session once the server closed too */
}

static void step(session_t *s)
{
    s->steps++;
    REQUIRE(s->steps < MAX_STEPS, "the server neither finished nor closed the connection");
}

/* A TLS client call's outcome as recv()/send() would say it. */
static ssize_t tls_result(session_t *s, int ok, size_t n)
{
    if (ok == 1)
        return (ssize_t)n;
    int e = SSL_get_error(s->ssl, ok);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    errno = ECONNRESET;
    return -1;
}

static ssize_t client_recv(session_t *s, char *buf, size_t want)
{
    if (s->ssl == NULL)
        return recv(s->fd, buf, want, 0);
    size_t n = 0;
    return tls_result(s, SSL_read_ex(s->ssl, buf, want, &n), n);
}

static void client_read(ev_loop_t *loop, session_t *s)
{
    char buf[65536];
    size_t want = s->steps > SMALL_READS ? sizeof buf : pick(s, s->rclass, sizeof buf);
    ssize_t n = client_recv(s, buf, want);
    if (n > 0 && dump)
        fwrite(buf, 1, (size_t)n, stderr);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        client_close(loop, s); /* the server closed, or reset */
}

static void client_write(session_t *s)
{
    size_t left = s->len - s->off;
    size_t n = pick(s, s->wclass, left);
    size_t floor = s->len / MAX_WRITES + 1;
    if (n < floor)
        n = floor < left ? floor : left;
    ssize_t k;
    if (s->ssl) {
        size_t done = 0;
        if (s->retry) /* OpenSSL wants a repeated write to be the same */
            n = s->retry;
        k = tls_result(s, SSL_write_ex(s->ssl, s->in + s->off, n, &done), done);
        s->retry = k < 0 && errno == EAGAIN ? n : 0;
    } else {
        k = send(s->fd, s->in + s->off, n, MSG_NOSIGNAL);
    }
    if (k > 0) {
        s->off += (size_t)k;
        s->writes++;
    } else if (k < 0 && errno != EAGAIN && errno != EINTR) {
        s->off = s->len; /* the server is gone: nothing more to send */
    }
}

static void client_end(ev_loop_t *loop, session_t *s)
{
    s->ended = 1;
    switch (s->end) {
    case END_HALF_CLOSE:
        if (s->ssl)
            (void)SSL_shutdown(s->ssl); /* close_notify first */
        ERR_clear_error();
        shutdown(s->fd, SHUT_WR);
        break;
    case END_HALF_CLOSE2:
        shutdown(s->fd, SHUT_WR);
        break;
    case END_WAIT:
        break;
    case END_CLOSE:
        client_close(loop, s);
        break;
    }
}

static void on_client(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    session_t *s = io->data;
    step(s);
    if (s->ssl && !s->handshaken) {
        int r = SSL_do_handshake(s->ssl);
        if (r == 1) {
            s->handshaken = 1;
        } else {
            int e = SSL_get_error(s->ssl, r);
            ERR_clear_error();
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                client_close(loop, s); /* the server refused or closed */
                return;
            }
            if (ev_io_set(loop, &s->io, e == SSL_ERROR_WANT_READ ? EV_READ : EV_READ | EV_WRITE) < 0)
                die("epoll_ctl");
            return;
        }
    }
    if (events & EV_READ)
        client_read(loop, s);
    if (s->fd >= 0 && (events & EV_WRITE) && s->off < s->len)
        client_write(s);
    if (s->fd >= 0 && !s->ended && s->off == s->len)
        client_end(loop, s);
    if (s->fd >= 0 && ev_io_set(loop, &s->io, EV_READ | (s->off < s->len ? EV_WRITE : 0)) < 0)
        die("epoll_ctl");
}

static void on_poll(ev_loop_t *loop, ev_timer_t *t)
{
    (void)loop;
    (void)t;
    arm_kick();
}

/* The client is gone; the session ends when the server has closed too.
 * It usually does within an iteration or two (it sees the hang-up), so the
 * kick stays readable and this runs every iteration at first. A
 * connection that waits longer (for a helper thread or a timer) is then
 * looked at every millisecond instead: a busy loop of the harness's own
 * would make the session's length depend on how the helper thread is
 * scheduled. */
static void on_kick(ev_loop_t *loop, ev_io_t *io, unsigned events)
{
    (void)io;
    (void)events;
    if (worker.nconns > 0 && ++cur->kicks <= KICK_SPINS)
        return; /* stays readable: called again next iteration */
    uint64_t v;
    if (read(kick_fd, &v, sizeof v) < 0)
        die("eventfd read");
    if (worker.nconns > 0) {
        ev_timer_set(loop, &poll_timer, 1);
        return;
    }
    /* The worker frees the closed connection after this batch (its tick),
     * before ev_run returns. */
    ev_break(loop);
}

static socklen_t peer_addr(unsigned kind, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (kind == 1) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons(40000);
        return sizeof *in;
    }
    if (kind == 2) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        in6->sin6_port = htons(40001);
        return sizeof *in6;
    }
    ss->ss_family = AF_UNIX;
    return sizeof(sa_family_t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    int fds_before = open_fds(0);
    session_t s = {
        .in = data + HEADER,
        .len = size - HEADER,
        .end = (enum end_mode)(data[0] & 3),
        .wclass = (data[0] >> 2) & 7,
        .rclass = (data[0] >> 5) & 7,
        .rng = 0x9e3779b9u ^ ((uint32_t)data[2] << 8 | data[3]),
    };
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");
    s.fd = sv[1];
    cur = &s;
    struct sockaddr_storage ss;
    socklen_t sslen = peer_addr(data[1] & 3, &ss);
    const cfg_listen_t *cl = NULL;
    int h2 = 0;
    if ((data[1] & 0x0c) == 0x0c) {
        cl = &worker.gen->cfg->listens[1];
        s.ssl = SSL_new(client_ctx);
        if (s.ssl == NULL || SSL_set_fd(s.ssl, s.fd) != 1)
            die("SSL_new");
        SSL_set_connect_state(s.ssl);
        if (data[1] & 0x10) {
            static const unsigned char alpn[] = "\x02h2";
            if (SSL_set_alpn_protos(s.ssl, alpn, sizeof alpn - 1) != 0)
                die("SSL_set_alpn_protos");
            h2 = 1;
        }
    } else if ((data[1] & 0x0c) == 0x04) {
        cl = &worker.gen->cfg->listens[2];
        h2 = 1;
    } else if ((data[1] & 0x0c) == 0x08) {
        cl = &worker.gen->cfg->listens[3];
    }
    uint8_t *framed = NULL;
    if (h2) { /* the preface, then the input as frames */
        static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        framed = malloc(sizeof preface - 1 + s.len);
        if (framed == NULL)
            die("malloc");
        memcpy(framed, preface, sizeof preface - 1);
        if (s.len) /* rules out memcpy from a NULL input */
            memcpy(framed + sizeof preface - 1, s.in, s.len);
        s.in = framed;
        s.len += sizeof preface - 1;
    }
    if (worker_adopt(&worker, sv[0], (struct sockaddr *)&ss, sslen, cl, NULL) < 0)
        die("worker_adopt");
    ev_io_init(&s.io, s.fd, on_client, &s);
    if (ev_io_start(worker.loop, &s.io, EV_READ | EV_WRITE, 0) < 0)
        die("epoll_ctl");
    if (ev_run(worker.loop) < 0)
        die("ev_run");
    REQUIRE(s.fd < 0 && worker.nconns == 0 && worker.conns == NULL && worker.dead == NULL,
            "session ended with the connection still open");
    if (open_fds(0) != fds_before) {
        fprintf(stderr, "fuzz_conn: %d descriptors open before the session, now:\n", fds_before);
        open_fds(1);
        REQUIRE(0, "a descriptor leaked");
    }
    SSL_free(s.ssl);
    free(framed);
    cur = NULL;
    return 0;
}
