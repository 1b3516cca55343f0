/*
 * TLS on OpenSSL 3: a generation's certificates and settings (tls_ctx_t),
 * one connection's session (tls_conn_t). No HTTP and no event loop here:
 * the connection (conn.c) drives the handshake and its reads and writes,
 * and watches the socket for what tls_want() says.
 *
 * Certificates: [tls] certificate/key are the default, used for clients
 * that send no server name or an unknown one; each [certificate NAME]
 * section adds one, chosen by SNI for its hosts (hosts =, else the DNS
 * names of its subjectAltName, else its common name; "*.example.com"
 * matches one label). Keys are read into memory that is cleansed after
 * parsing; OpenSSL clears its own copy when the last connection using a
 * generation's contexts ends.
 *
 * Session tickets: the keys are derived (HKDF-SHA256) from a secret and
 * the number of the current rotation period, so every thread, every worker
 * process and every instance sharing a ticket_key_file computes the same
 * keys with no shared memory; a ticket from the previous period is still
 * accepted (and renewed). Without a file the secret is random, made once
 * per server start before worker processes fork, and kept across reloads.
 */
#ifndef PH_TLS_H
#define PH_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

typedef struct tls_ctx tls_ctx_t;
typedef struct tls_conn tls_conn_t;

/* Builds the TLS contexts of cfg->tls: reads every certificate chain and
 * key, checks that each key matches its certificate and that none has
 * expired or is not yet valid. Logs each certificate's names and expiry
 * (a warning within 14 days of it), at start, at each reload and at -t. Returns
 * 0 and *out (NULL when cfg has no TLS listener), or -1 with err filled
 * (naming the file and line). */
int tls_ctx_build(const cfg_t *cfg, tls_ctx_t **out, char *err, size_t errlen);
/* One more reference to t (NULL: none), for a holder that may outlive the
 * generation that built it; each reference is released by tls_ctx_free(). */
tls_ctx_t *tls_ctx_ref(tls_ctx_t *t);
void tls_ctx_free(tls_ctx_t *t);
/* The check a long-running server repeats (server.c, twice a day): logs a
 * warning for each of t's certificates that expires within 14 days of now,
 * an error for one that has expired. Returns how many it reported; t may
 * be NULL (no TLS). */
int tls_ctx_check_expiry(const tls_ctx_t *t, time_t now);

/* A server session over fd, for a listener whose ALPN list offers h2 when
 * allow_h2. NULL when out of memory. fd stays the caller's. */
tls_conn_t *tls_conn_new(tls_ctx_t *t, int fd, int allow_h2);
/* Sends close_notify, once the handshake has completed and unless a fatal
 * error broke the session: one SSL_shutdown() that never waits (an alert
 * the socket cannot take now is not sent). For the side that closes: call
 * it before shutdown(2) of the socket's write side, after which it could
 * not go out. Later calls do nothing. */
void tls_close_notify(tls_conn_t *c);
/* tls_close_notify(), then frees. */
void tls_conn_free(tls_conn_t *c);

/* Advances the handshake: 1 done, 0 not yet (wait for tls_want()'s
 * events), -1 failed (why: a short reason for the log, never key
 * material). */
int tls_handshake(tls_conn_t *c, const char **why);
/* The events the last call that returned EAGAIN (or 0) waits for:
 * EV_READ, EV_WRITE or both (ev.h's values). */
unsigned tls_want(const tls_conn_t *c);
/* What the last tls_read() that returned EAGAIN waits for (a read can need
 * the socket writable, e.g. to answer a key update); 0 after a read that
 * returned data. */
unsigned tls_read_want(const tls_conn_t *c);

/* Like recv() and send() on the plaintext: > 0 bytes, 0 at the end of the
 * stream (close_notify or the peer's close), or -1 with errno: EAGAIN
 * (see tls_want(): a read can need the socket writable), EPROTO for a TLS
 * error, or the socket's own error. */
ssize_t tls_read(tls_conn_t *c, void *buf, size_t cap);
ssize_t tls_write(tls_conn_t *c, const void *buf, size_t len);
/* Sends len bytes of file fd from *off: with kernel TLS by sendfile(2),
 * else read and written through tls_write(). As tls_write(); advances
 * *off by what was sent. */
ssize_t tls_sendfile(tls_conn_t *c, int fd, off_t *off, size_t len);
/* Input the session holds that a read may return without the socket being
 * readable (epoll cannot see it): decrypted plaintext, or records read
 * ahead from the socket, unless the last read found them incomplete (then
 * only more bytes on the socket can complete them). */
int tls_pending(const tls_conn_t *c);

/* After the handshake: the ALPN protocol chosen ("h2", "http/1.1") or NULL;
 * the protocol version ("TLSv1.3"); whether the session was resumed;
 * whether the kernel encrypts what is sent (kernel TLS). */
const char *tls_alpn(const tls_conn_t *c);
const char *tls_version(const tls_conn_t *c);
int tls_resumed(const tls_conn_t *c);
int tls_ktls_send(const tls_conn_t *c);
/* The server name the client asked for (SNI), or NULL. */
const char *tls_server_name(const tls_conn_t *c);

/* Whether the hosts of c's requests need tls_host_allowed(): the client
 * sent a server name and the generation has certificates to choose from
 * (with one, no request can belong to another certificate). */
int tls_host_checked(const tls_conn_t *c);
/* Whether a request on c may ask for host (lower case, no port, no
 * trailing dot: hostname_normalise()): the certificate that SNI would
 * choose for host is the one c was given. A host no [certificate] claims
 * belongs to the default certificate. */
int tls_host_allowed(const tls_conn_t *c, const char *host);

/* Start-up, before worker processes fork: makes the random ticket secret
 * used when no ticket_key_file is set. 0, or -1 when the random generator
 * fails. */
int tls_global_init(void);

#endif
