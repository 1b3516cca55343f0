/*
 * LD_PRELOAD shim for h2load in bench/run's handshake scenarios (j, jr).
 *
 * h2load (nghttp2 1.52) keeps a client's SSL object after a shutdown that
 * completed and uses it again for that client's next connection, so every
 * connection after the first resumes the previous session: it has no option
 * for full handshakes. This shim wraps SSL_shutdown():
 *
 *   PH_BENCH_TLS_RESUME=no   returns 0 after the real shutdown, which makes
 *                            h2load free the object: the next connection
 *                            starts from a new one, with no session (scenario j)
 *   PH_BENCH_TLS_RESUME=yes  changes nothing (scenario jr)
 *
 * Either way it counts the connections that resumed and those that did not
 * (SSL_session_reused()), and at exit writes "full=N resumed=M" to the file
 * named by PH_BENCH_TLS_COUNT, so bench/run can check that each cell made
 * the handshakes it claims. Built by bench/run with
 *   cc -shared -fPIC -o tls_resume.so tls_resume.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ssl_st SSL;

int SSL_shutdown(SSL *ssl);
int SSL_session_reused(const SSL *ssl);
int SSL_get_shutdown(const SSL *ssl);
#define SENT_SHUTDOWN 1 /* SSL_SENT_SHUTDOWN in <openssl/ssl.h> */

static unsigned long n_full, n_resumed;

int SSL_shutdown(SSL *ssl)
{
    static int (*real_shutdown)(SSL *);
    static int (*reused)(const SSL *);
    static int (*get_shutdown)(const SSL *);
    if (!real_shutdown) {
        real_shutdown = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_shutdown");
        reused = (int (*)(const SSL *))dlsym(RTLD_NEXT, "SSL_session_reused");
        get_shutdown = (int (*)(const SSL *))dlsym(RTLD_NEXT, "SSL_get_shutdown");
        if (!real_shutdown || !reused || !get_shutdown)
            abort();
    }
    /* One count per connection: h2load shuts a kept object down once more
     * when it ends. Its clients share one thread per -t (bench/run: -t1). */
    if (!(get_shutdown(ssl) & SENT_SHUTDOWN)) {
        if (reused(ssl))
            n_resumed++;
        else
            n_full++;
    }
    int rc = real_shutdown(ssl);
    const char *mode = getenv("PH_BENCH_TLS_RESUME");
    if (mode && strcmp(mode, "no") == 0 && rc == 1)
        return 0;
    return rc;
}

__attribute__((destructor)) static void write_counts(void)
{
    const char *path = getenv("PH_BENCH_TLS_COUNT");
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "full=%lu resumed=%lu\n", n_full, n_resumed);
    fclose(f);
}
