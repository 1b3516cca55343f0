#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config_tls.h"
#include "ev.h"
#include "log.h"

#define KEY_FILE_MAX (1024 * 1024)
#define SECRET_MAX 1024
#define SECRET_MIN 32
/* A warning this many days before a certificate expires. */
#define EXPIRY_WARN_DAYS 14
/* Ticket keys from HKDF: name (16), AES-256-CBC key (32), HMAC-SHA256 key (32). */
#define TK_NAME 16
#define TK_AES 32
#define TK_HMAC 32
#define TK_LEN (TK_NAME + TK_AES + TK_HMAC)

typedef struct tls_name {
    char *name; /* lower case; "*.example.com" for a wildcard */
    SSL_CTX *ctx;
} tls_name_t;

struct tls_ctx {
    long refs; /* atomic: the generation's and each connection's */
    SSL_CTX **ctxs; /* [0]: the default certificate's */
    char **labels;  /* per ctx: "LABEL (CHAIN FILE)", for the log */
    size_t nctx;
    tls_name_t *names;
    size_t nnames;
    int tickets;
    uint64_t rotation_s;
    unsigned char secret[SECRET_MAX];
    size_t secret_len;
};

struct tls_conn {
    SSL *ssl;
    tls_ctx_t *t;
    unsigned want;       /* what the last call that waited waits for */
    unsigned read_want;  /* the same for the last read: 0 once one succeeds */
    unsigned allow_h2 : 1;
    unsigned done : 1;   /* handshake completed */
    unsigned broken : 1; /* a fatal error: no close_notify */
    unsigned notified : 1; /* close_notify sent, or tried */
};

/* The secret ticket keys come from without a ticket_key_file: random, made
 * once per start, before worker processes fork (so all of them share it). */
static unsigned char process_secret[SECRET_MIN];
static int process_secret_ok;

int tls_global_init(void)
{
    if (process_secret_ok)
        return 0;
    if (RAND_bytes(process_secret, sizeof process_secret) != 1)
        return -1;
    process_secret_ok = 1;
    return 0;
}

/* --- session tickets --------------------------------------------------- */

static int derive_keys(const tls_ctx_t *t, uint64_t period, unsigned char out[TK_LEN])
{
    unsigned char info[48];
    static const char label[] = "plughttpd session ticket keys ";
    memcpy(info, label, sizeof label - 1);
    for (int i = 0; i < 8; i++)
        info[sizeof label - 1 + (size_t)i] = (unsigned char)(period >> (56 - 8 * i));
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (kctx == NULL)
        return -1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)t->secret, t->secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof label - 1 + 8),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_KDF_derive(kctx, out, TK_LEN, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok ? 0 : -1;
}

static int use_keys(const unsigned char k[TK_LEN], unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
                    int enc)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)(k + TK_NAME + TK_AES), TK_HMAC),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    int ok = enc ? EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + TK_NAME, iv)
                 : EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + TK_NAME, iv);
    return ok == 1 && EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: enc 1 seals a new ticket with this period's
 * keys; enc 0 opens one sealed in this period (1) or the previous one (2:
 * accepted, and a new ticket is issued), else 0 (a full handshake). */
static int ticket_cb(SSL *s, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
                     int enc)
{
    tls_conn_t *c = SSL_get_app_data(s);
    const tls_ctx_t *t = c->t;
    uint64_t now = (uint64_t)time(NULL) / t->rotation_s;
    unsigned char k[TK_LEN];
    int r = 0;
    if (enc) {
        if (derive_keys(t, now, k) == 0 && RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) == 1 &&
            use_keys(k, iv, cctx, hctx, 1) == 0) {
            memcpy(name, k, TK_NAME);
            r = 1;
        } else {
            r = -1;
        }
    } else {
        for (uint64_t back = 0; back < 2 && back <= now; back++) {
            if (derive_keys(t, now - back, k) < 0)
                break;
            if (CRYPTO_memcmp(name, k, TK_NAME) == 0) {
                r = use_keys(k, iv, cctx, hctx, 0) == 0 ? (back ? 2 : 1) : 0;
                break;
            }
        }
    }
    OPENSSL_cleanse(k, sizeof k);
    return r;
}

/* --- files ------------------------------------------------------------- */

/* Reads a whole small file into memory the caller cleanses and frees. */
static unsigned char *read_secret_file(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path, KEY_FILE_MAX);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            OPENSSL_cleanse(buf, n);
            free(buf);
            close(fd);
            return NULL;
        }
        if (k == 0 || (n += (size_t)k) == cap)
            break;
    }
    close(fd);
    *len = n;
    return buf;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1; /* an encrypted key cannot be opened unattended */
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
    size_t len;
    unsigned char *buf = read_secret_file(path, &len, err, errlen);
    if (buf == NULL)
        return NULL;
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_password, NULL) : NULL;
    BIO_free(b);
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (k == NULL)
        snprintf(err, errlen, "%s: no PEM private key could be read (an encrypted key is not supported)", path);
    ERR_clear_error();
    return k;
}

/* --- contexts ---------------------------------------------------------- */

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

static int add_name(tls_ctx_t *t, const char *name, size_t len, SSL_CTX *ctx)
{
    tls_name_t *n = realloc(t->names, (t->nnames + 1) * sizeof *n);
    if (n == NULL)
        return -1;
    t->names = n;
    char *s = strndup(name, len);
    if (s == NULL)
        return -1;
    lower(s);
    t->names[t->nnames++] = (tls_name_t){s, ctx};
    return 0;
}

/* The certificate's own names: its subjectAltName DNS entries, else its
 * common name. -1 when out of memory. */
static int add_cert_names(tls_ctx_t *t, X509 *x, SSL_CTX *ctx)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int found = 0, rc = 0;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        found = 1;
        if (add_name(t, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
                     (size_t)ASN1_STRING_length(g->d.dNSName), ctx) < 0)
            rc = -1;
    }
    GENERAL_NAMES_free(gens);
    if (found || rc < 0)
        return rc;
    X509_NAME *subj = X509_get_subject_name(x);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx < 0)
        return 0;
    ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    return add_name(t, (const char *)ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn), ctx);
}

/* The name's certificate: an exact name first, then a wildcard matching
 * its first label; NULL: the default. */
static SSL_CTX *lookup(const tls_ctx_t *t, const char *host)
{
    for (size_t i = 0; i < t->nnames; i++)
        if (strcmp(t->names[i].name, host) == 0)
            return t->names[i].ctx;
    const char *dot = strchr(host, '.');
    if (dot == NULL || dot == host)
        return NULL;
    for (size_t i = 0; i < t->nnames; i++) {
        const char *n = t->names[i].name;
        if (n[0] == '*' && n[1] == '.' && strcmp(n + 1, dot) == 0)
            return t->names[i].ctx;
    }
    return NULL;
}

static int sni_cb(SSL *s, int *alert, void *arg)
{
    (void)alert, (void)arg;
    tls_conn_t *c = SSL_get_app_data(s);
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (name == NULL || c->t->nnames == 0)
        return SSL_TLSEXT_ERR_OK;
    char host[256];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof host)
        return SSL_TLSEXT_ERR_OK;
    memcpy(host, name, n + 1);
    if (host[n - 1] == '.')
        host[n - 1] = '\0';
    lower(host);
    SSL_CTX *ctx = lookup(c->t, host);
    if (ctx && ctx != SSL_get_SSL_CTX(s))
        SSL_set_SSL_CTX(s, ctx);
    return SSL_TLSEXT_ERR_OK;
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned inlen, void *arg)
{
    (void)arg;
    static const unsigned char both[] = "\x02h2\x08http/1.1";
    static const unsigned char h1[] = "\x08http/1.1";
    const tls_conn_t *c = SSL_get_app_data(s);
    const unsigned char *srv = c->allow_h2 ? both : h1;
    unsigned srvlen = c->allow_h2 ? sizeof both - 1 : sizeof h1 - 1;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, srv, srvlen, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no common protocol: go on without ALPN */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static void openssl_reason(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(err, errlen, "%s: %s", what, r ? r : "unknown OpenSSL error");
    ERR_clear_error();
}

/* The time from `from` (NULL: now) to a certificate's notAfter: 1 with
 * the whole days left, 0 when it has passed, -1 when the two cannot be
 * compared. when gets notAfter as text ("?" if unreadable). */
static int time_left(const ASN1_TIME *na, const ASN1_TIME *from, int *days, char when[40])
{
    struct tm tm;
    int secs;
    snprintf(when, 40, "?");
    if (ASN1_TIME_to_tm(na, &tm) == 1)
        strftime(when, 40, "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (ASN1_TIME_diff(days, &secs, from, na) != 1)
        return -1;
    return *days < 0 || secs < 0 || (*days == 0 && secs == 0) ? 0 : 1;
}

/* Checks a certificate's dates: -1 (expired, not yet valid) with err
 * filled; logs its names and expiry, warning when it is near. */
static int check_dates(const cfg_cert_t *cc, X509 *x, char *err, size_t errlen)
{
    int days, secs;
    const ASN1_TIME *nb = X509_get0_notBefore(x);
    char when[40];
    if (time_left(X509_get0_notAfter(x), NULL, &days, when) != 1) {
        snprintf(err, errlen, "%s: the certificate expired on %s", cc->chain, when);
        return -1;
    }
    int before_days;
    if (ASN1_TIME_diff(&before_days, &secs, NULL, nb) == 1 && (before_days > 0 || secs > 0)) {
        snprintf(err, errlen, "%s: the certificate is not valid before its notBefore date", cc->chain);
        return -1;
    }
    char subject[200];
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
    if (days < EXPIRY_WARN_DAYS)
        log_warn("tls: certificate %s (%s, %s) expires in %d days, on %s", cc->label, cc->chain, subject, days, when);
    else
        log_info("tls: certificate %s (%s, %s) expires on %s", cc->label, cc->chain, subject, when);
    return 0;
}

static SSL_CTX *new_ctx(const cfg_tls_t *ct, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        openssl_reason(err, errlen, "tls");
        return NULL;
    }
    /* A client that closes without close_notify has ended its stream, as
     * most do; OpenSSL would call it an error and answer with a fatal
     * alert. HTTP framing tells a truncated request from a whole one. */
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_ENABLE_KTLS |
                    SSL_OP_IGNORE_UNEXPECTED_EOF;
    if (ct->prefer_server_ciphers)
        opts |= SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA;
    if (!ct->tickets)
        opts |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(ctx, opts);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* a read takes whatever the socket holds, not a record header and then
     * its body: one read() per request instead of two (tls_pending() then
     * covers records read ahead) */
    SSL_CTX_set_read_ahead(ctx, 1);
    const char *what = NULL;
    if (SSL_CTX_set_min_proto_version(ctx, ct->min_version) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, ct->max_version) != 1)
        what = "tls: protocols";
    else if (SSL_CTX_set_cipher_list(ctx, ct->ciphers ? ct->ciphers : CFG_TLS_CIPHERS) != 1)
        what = "tls: ciphers";
    else if (SSL_CTX_set_ciphersuites(ctx, ct->ciphersuites ? ct->ciphersuites : CFG_TLS_CIPHERSUITES) != 1)
        what = "tls: ciphersuites";
    else if (SSL_CTX_set1_groups_list(ctx, ct->groups ? ct->groups : CFG_TLS_GROUPS) != 1)
        what = "tls: groups";
    if (what) {
        openssl_reason(err, errlen, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"plughttpd", 9);
    if (ct->session_cache) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, ct->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    /* one TLS 1.3 ticket per handshake: a browser reuses one per origin */
    SSL_CTX_set_num_tickets(ctx, ct->tickets || ct->session_cache ? 1 : 0);
    if (ct->tickets)
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    return ctx;
}

/* One certificate's context: chain, key, the key checked against it. */
static SSL_CTX *cert_ctx(const cfg_tls_t *ct, const cfg_cert_t *cc, char *err, size_t errlen)
{
    SSL_CTX *ctx = new_ctx(ct, err, errlen);
    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cc->chain) != 1) {
        char what[PATH_MAX + 40];
        snprintf(what, sizeof what, "%s: cannot use the certificate chain", cc->chain);
        openssl_reason(err, errlen, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    EVP_PKEY *key = read_key(cc->key, err, errlen);
    if (key == NULL) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    int ok = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    if (!ok) {
        snprintf(err, errlen, "%s: the key does not match the certificate %s", cc->key, cc->chain);
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (check_dates(cc, SSL_CTX_get0_certificate(ctx), err, errlen) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int load_secret(tls_ctx_t *t, const cfg_tls_t *ct, char *err, size_t errlen)
{
    if (ct->ticket_key_file == NULL) {
        if (tls_global_init() < 0) {
            snprintf(err, errlen, "tls: no random bytes for the session ticket secret");
            return -1;
        }
        memcpy(t->secret, process_secret, sizeof process_secret);
        t->secret_len = sizeof process_secret;
        return 0;
    }
    size_t len;
    unsigned char *buf = read_secret_file(ct->ticket_key_file, &len, err, errlen);
    if (buf == NULL)
        return -1;
    int rc = 0;
    if (len < SECRET_MIN || len > SECRET_MAX) {
        snprintf(err, errlen, "%s: a ticket key file holds %d to %d bytes (e.g. head -c 48 /dev/urandom); it has %zu",
                 ct->ticket_key_file, SECRET_MIN, SECRET_MAX, len);
        rc = -1;
    } else {
        memcpy(t->secret, buf, len);
        t->secret_len = len;
    }
    OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

static int any_tls_listener(const cfg_t *cfg)
{
    for (size_t i = 0; i < cfg->nlistens; i++)
        if (cfg->listens[i].tls)
            return 1;
    return 0;
}

/* "LABEL (CHAIN FILE)", malloc()ed; NULL when out of memory. */
static char *cert_label(const cfg_cert_t *cc)
{
    size_t n = strlen(cc->label) + strlen(cc->chain) + 4;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s (%s)", cc->label, cc->chain);
    return p;
}

int tls_ctx_build(const cfg_t *cfg, tls_ctx_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const cfg_tls_t *ct = &cfg->tls;
    if (ct->ncerts == 0 || !any_tls_listener(cfg))
        return 0;
    tls_ctx_t *t = calloc(1, sizeof *t);
    if (t == NULL || (t->ctxs = calloc(ct->ncerts, sizeof *t->ctxs)) == NULL ||
        (t->labels = calloc(ct->ncerts, sizeof *t->labels)) == NULL) {
        if (t)
            free(t->ctxs);
        free(t);
        snprintf(err, errlen, "tls: out of memory");
        return -1;
    }
    t->refs = 1;
    t->tickets = ct->tickets;
    t->rotation_s = ct->ticket_rotation / 1000;
    if (load_secret(t, ct, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < ct->ncerts; i++) {
        const cfg_cert_t *cc = &ct->certs[i];
        SSL_CTX *ctx = cert_ctx(ct, cc, err, errlen);
        if (ctx == NULL) {
            char why[512];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "%s:%d: %s", cfg->path, cc->key_line ? cc->key_line : cc->line, why);
            goto fail;
        }
        t->ctxs[t->nctx] = ctx;
        t->labels[t->nctx] = cert_label(cc);
        int rc = t->labels[t->nctx++] ? 0 : -1;
        if (rc == 0 && cc->nhosts)
            for (size_t j = 0; j < cc->nhosts && rc == 0; j++)
                rc = add_name(t, cc->hosts[j], strlen(cc->hosts[j]), ctx);
        else if (rc == 0 && i > 0) /* the default serves every unknown name anyway */
            rc = add_cert_names(t, SSL_CTX_get0_certificate(ctx), ctx);
        if (rc < 0) {
            snprintf(err, errlen, "tls: out of memory");
            goto fail;
        }
    }
    *out = t;
    return 0;
fail:
    t->refs = 1;
    tls_ctx_free(t);
    return -1;
}

tls_ctx_t *tls_ctx_ref(tls_ctx_t *t)
{
    if (t)
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void tls_ctx_free(tls_ctx_t *t)
{
    if (t == NULL || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t i = 0; i < t->nctx; i++) {
        SSL_CTX_free(t->ctxs[i]); /* a session still open holds its own reference */
        free(t->labels[i]);
    }
    free(t->ctxs);
    free(t->labels);
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i].name);
    free(t->names);
    OPENSSL_cleanse(t->secret, sizeof t->secret);
    free(t);
}

/* --- connections ------------------------------------------------------- */

tls_conn_t *tls_conn_new(tls_ctx_t *t, int fd, int allow_h2)
{
    tls_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->ssl = SSL_new(t->ctxs[0]);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
        SSL_free(c->ssl);
        free(c);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(c->ssl);
    SSL_set_app_data(c->ssl, c);
    c->t = tls_ctx_ref(t);
    c->allow_h2 = allow_h2 != 0;
    c->want = EV_READ;
    return c;
}

void tls_close_notify(tls_conn_t *c)
{
    if (c->notified || !c->done || c->broken)
        return;
    c->notified = 1;
    ERR_clear_error();
    (void)SSL_shutdown(c->ssl); /* close_notify, if the socket takes it now */
    ERR_clear_error();
}

void tls_conn_free(tls_conn_t *c)
{
    if (c == NULL)
        return;
    tls_close_notify(c);
    SSL_free(c->ssl);
    ERR_clear_error();
    tls_ctx_free(c->t);
    free(c);
}

/* After a call that returned r <= 0: EAGAIN with c->want set, 0 for the
 * end of the stream, or -1 with errno. */
static int failed(tls_conn_t *c, int r, int reading)
{
    int saved = errno;
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        c->want = EV_READ;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        c->want = EV_WRITE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or a close without it */
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL:
        c->broken = 1;
        ERR_clear_error();
        if (saved == 0 && reading)
            return 0; /* the peer closed without close_notify */
        errno = saved ? saved : EPIPE;
        return -1;
    default:
        c->broken = 1;
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

int tls_handshake(tls_conn_t *c, const char **why)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->done = 1;
        return 1;
    }
    int saved = errno;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want = e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
        return 0;
    }
    c->broken = 1;
    if (e == SSL_ERROR_SSL) {
        unsigned long l = ERR_peek_last_error();
        const char *reason = l ? ERR_reason_error_string(l) : NULL;
        *why = reason ? reason : "TLS protocol error";
    } else {
        *why = saved ? strerror(saved) : "the client closed the connection";
    }
    ERR_clear_error();
    return -1;
}

unsigned tls_want(const tls_conn_t *c) { return c->want; }
unsigned tls_read_want(const tls_conn_t *c) { return c->read_want; }

ssize_t tls_read(tls_conn_t *c, void *buf, size_t cap)
{
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read_ex(c->ssl, buf, cap, &n);
    if (r == 1) {
        c->read_want = 0;
        return (ssize_t)n;
    }
    ssize_t rc = failed(c, r, 1);
    c->read_want = rc < 0 && errno == EAGAIN ? c->want : 0;
    return rc;
}

ssize_t tls_write(tls_conn_t *c, const void *buf, size_t len)
{
    size_t n = 0;
    if (len == 0)
        return 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_write_ex(c->ssl, buf, len, &n);
    if (r == 1)
        return (ssize_t)n;
    return failed(c, r, 0);
}

ssize_t tls_sendfile(tls_conn_t *c, int fd, off_t *off, size_t len)
{
    if (tls_ktls_send(c)) {
        ERR_clear_error();
        errno = 0;
        ossl_ssize_t n = SSL_sendfile(c->ssl, fd, *off, len, 0);
        if (n > 0) {
            *off += n;
            return n;
        }
        if (errno == EAGAIN || errno == EINTR) {
            c->want = EV_WRITE;
            errno = EAGAIN;
        }
        ERR_clear_error();
        return -1;
    }
    /* One record's worth: a retry after EAGAIN reads the same bytes again
     * from the same offset, as OpenSSL requires of a repeated write. */
    char buf[16384];
    size_t want = len < sizeof buf ? len : sizeof buf;
    ssize_t got = pread(fd, buf, want, *off);
    if (got <= 0)
        return got; /* 0: the file shrank; the caller says so */
    ssize_t n = tls_write(c, buf, (size_t)got);
    if (n > 0)
        *off += n;
    return n;
}

int tls_pending(const tls_conn_t *c)
{
    return SSL_pending(c->ssl) > 0 || (c->read_want != EV_READ && SSL_has_pending(c->ssl));
}

const char *tls_alpn(const tls_conn_t *c)
{
    const unsigned char *p;
    unsigned n;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    if (n == 2 && memcmp(p, "h2", 2) == 0)
        return "h2";
    if (n == 8 && memcmp(p, "http/1.1", 8) == 0)
        return "http/1.1";
    return NULL;
}

const char *tls_version(const tls_conn_t *c) { return SSL_get_version(c->ssl); }
int tls_resumed(const tls_conn_t *c) { return SSL_session_reused(c->ssl); }
int tls_ktls_send(const tls_conn_t *c) { return BIO_get_ktls_send(SSL_get_wbio(c->ssl)) > 0; }
const char *tls_server_name(const tls_conn_t *c) { return SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name); }

int tls_host_checked(const tls_conn_t *c) { return c->t->nnames > 0 && tls_server_name(c) != NULL; }

int tls_host_allowed(const tls_conn_t *c, const char *host)
{
    SSL_CTX *want = lookup(c->t, host);
    return (want ? want : c->t->ctxs[0]) == SSL_get_SSL_CTX(c->ssl);
}

int tls_ctx_check_expiry(const tls_ctx_t *t, time_t now)
{
    int reported = 0;
    ASN1_TIME *from = t ? ASN1_TIME_set(NULL, now) : NULL;
    for (size_t i = 0; from && i < t->nctx; i++) {
        const X509 *x = SSL_CTX_get0_certificate(t->ctxs[i]);
        const ASN1_TIME *na = x ? X509_get0_notAfter(x) : NULL;
        int days, left;
        char when[40];
        if (na == NULL || (left = time_left(na, from, &days, when)) < 0)
            continue;
        if (left == 0) {
            log_error("tls: certificate %s expired on %s: clients refuse it; renew it and reload", t->labels[i],
                      when);
            reported++;
        } else if (days < EXPIRY_WARN_DAYS) {
            log_warn("tls: certificate %s expires in %d days, on %s: renew it and reload", t->labels[i], days, when);
            reported++;
        }
    }
    ASN1_TIME_free(from);
    return reported;
}
