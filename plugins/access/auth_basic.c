/*
 * auth_basic: an access stage (no handle(); hooks->on_head) for HTTP Basic
 * authentication (RFC 7617) against an htpasswd file:
 *
 *     [route /private]
 *     plugin = auth_basic, static
 *     auth_basic.file = users.htpasswd
 *     auth_basic.realm = private
 *
 * A request without valid credentials gets 401 with
 * WWW-Authenticate: Basic realm="..."; one with them goes on, with the user
 * noted as "user" (api->note) for the stages after.
 *
 * Where the time goes: credentials seen to pass before are decided at once
 * from auth_cache; the others are checked by libcrypt on auth_pool's
 * threads (on_head returns PH_PENDING, the pool thread resume()s), never
 * on the event loop. An unknown user costs the same hash run as a known
 * one, so response times do not tell which names exist.
 *
 * The file is read at create(); reload_check asks for a new instance when
 * it changed (inode, size or mtime), so SIGHUP picks up an edited file and
 * a broken one fails the reload with its file:line, keeping the old one.
 */
#include <plughttpd/plugin.h>

#include "auth_cache.h"
#include "auth_cred.h"
#include "auth_htpasswd.h"
#include "auth_pool.h"

#include <crypt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Credentials longer than this are refused (401) before any hashing. */
#define CRED_MAX 512

typedef struct auth_basic {
    const ph_server_api_t *api;
    char path[PATH_MAX];
    char challenge[200]; /* the WWW-Authenticate value */
    auth_htpasswd_t file;
    auth_cache_t *cache;
    auth_pool_t *pool;
} auth_basic_t;

typedef struct auth_job {
    const auth_basic_t *a;
    ph_request_t *req;
    const auth_user_t *user; /* NULL: unknown name */
    char cred[CRED_MAX];     /* "user\0password\0" */
    const char *name, *pass; /* into cred */
} auth_job_t;

__attribute__((format(printf, 3, 4))) static int refuse(ph_error_t *err, int key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->key = key;
    return PH_ERROR;
}

/* A realm goes inside a quoted-string: printable ASCII without '"' and
 * '\\', so it needs no escaping. */
static int realm_ok(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

static int conf_read(auth_basic_t *a, const ph_create_args_t *args, unsigned *threads, ph_error_t *err)
{
    const char *realm = "restricted";
    *threads = 2;
    for (size_t i = 0; i < args->nkeys; i++) {
        const char *k = args->keys[i].key, *v = args->keys[i].value;
        if (strcmp(k, "file") == 0) {
            int n = v[0] == '/' ? snprintf(a->path, sizeof a->path, "%s", v)
                                : snprintf(a->path, sizeof a->path, "%s/%s",
                                           args->config_dir ? args->config_dir : ".", v);
            if (v[0] == '\0' || n < 0 || (size_t)n >= sizeof a->path)
                return refuse(err, (int)i, "file: empty or too long");
        } else if (strcmp(k, "realm") == 0) {
            if (!realm_ok(v) || strlen(v) > 100)
                return refuse(err, (int)i, "realm: printable ASCII without \" or \\, at most 100 bytes");
            realm = v;
        } else if (strcmp(k, "threads") == 0) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*v < '0' || *v > '9' || *end != '\0' || n < 1 || n > 64)
                return refuse(err, (int)i, "threads must be 1..64, not \"%s\"", v);
            *threads = (unsigned)n;
        } else {
            return refuse(err, (int)i, "unknown key \"%s\" (file, realm, threads)", k);
        }
    }
    if (a->path[0] == '\0')
        return refuse(err, -1, "file is required (an htpasswd file)");
    snprintf(a->challenge, sizeof a->challenge, "Basic realm=\"%s\", charset=\"UTF-8\"", realm);
    return PH_OK;
}

static void auth_destroy(void *instance)
{
    auth_basic_t *a = instance;
    auth_pool_free(a->pool);
    auth_cache_free(a->cache);
    auth_htpasswd_free(&a->file);
    free(a);
}

static int auth_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    auth_basic_t *a = calloc(1, sizeof *a);
    unsigned threads;
    char why[sizeof err->msg];
    if (!a)
        return refuse(err, -1, "out of memory");
    a->api = args->api;
    if (conf_read(a, args, &threads, err) != PH_OK) {
        free(a);
        return PH_ERROR;
    }
    if (auth_htpasswd_load(&a->file, a->path, why, sizeof why) < 0) {
        free(a);
        return refuse(err, -1, "%s", why);
    }
    /* A configuration test reads the file and starts nothing. */
    if (!(args->flags & PH_CREATE_CHECK) &&
        (!(a->cache = auth_cache_new(1024)) || !(a->pool = auth_pool_new(threads, 1024)))) {
        auth_destroy(a);
        return refuse(err, -1, "out of memory or no thread for the hash checks");
    }
    *instance = a;
    return PH_OK;
}

static int auth_reload_check(void *instance)
{
    const auth_basic_t *a = instance;
    return auth_htpasswd_changed(&a->file, a->path);
}

/* 401 with the challenge: PH_DONE, or PH_ERROR when the core refused. */
static int challenge(const auth_basic_t *a, ph_request_t *req)
{
    const ph_server_api_t *api = a->api;
    if (api->send_error(req, 401, "unauthorized") != PH_OK ||
        api->add_header(req, "WWW-Authenticate", a->challenge) != PH_OK)
        return PH_ERROR;
    return PH_DONE;
}

/* A pool thread: one hash run, then the answer. */
static void auth_check(void *arg)
{
    auth_job_t *j = arg;
    const auth_basic_t *a = j->a;
    /* An unknown name is hashed against a real user's setting: the same
     * cost, so timing does not reveal which names exist. */
    const char *setting = j->user ? j->user->hash : a->file.users[0].hash;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *out = cd ? crypt_rn(j->pass, setting, cd, (int)sizeof *cd) : NULL;
    size_t len = strlen(setting);
    int ok = j->user && out && out[0] != '*' && strlen(out) == len && CRYPTO_memcmp(out, setting, len) == 0;
    int rc;
    if (ok) {
        auth_cache_put(a->cache, j->name, j->pass);
        rc = a->api->note_set(j->req, "user", j->name) == PH_OK ? PH_OK : PH_ERROR;
    } else {
        rc = challenge(a, j->req);
    }
    if (cd) {
        OPENSSL_cleanse(cd, sizeof *cd);
        free(cd);
    }
    OPENSSL_cleanse(j->cred, sizeof j->cred);
    a->api->resume(j->req, rc);
    free(j);
}

static int auth_head(void *instance, ph_request_t *req)
{
    const auth_basic_t *a = instance;
    const ph_server_api_t *api = a->api;
    ph_str_t v;
    auth_job_t *j;
    if (!api->header(req, "Authorization", &v) || !(j = malloc(sizeof *j)))
        return challenge(a, req);
    if (auth_cred_parse(v.ptr, v.len, j->cred, sizeof j->cred, &j->name, &j->pass) < 0) {
        free(j);
        return challenge(a, req);
    }
    if (auth_cache_hit(a->cache, j->name, j->pass)) {
        int rc = api->note_set(req, "user", j->name) == PH_OK ? PH_OK : PH_ERROR;
        OPENSSL_cleanse(j->cred, sizeof j->cred);
        free(j);
        return rc;
    }
    j->a = a;
    j->req = req;
    j->user = auth_htpasswd_find(&a->file, j->name);
    if (auth_pool_submit(a->pool, auth_check, j) < 0) {
        OPENSSL_cleanse(j->cred, sizeof j->cred);
        free(j);
        if (api->send_error(req, 503, "busy") != PH_OK || api->add_header(req, "Retry-After", "1") != PH_OK)
            return PH_ERROR;
        return PH_DONE;
    }
    return PH_PENDING;
}

static const ph_hooks_t auth_hooks = {sizeof(ph_hooks_t), .on_head = auth_head, .reload_check = auth_reload_check};

PH_PLUGIN_DEFINE_HOOKS("auth_basic", "1.0", 0, auth_create, NULL, auth_destroy, &auth_hooks);
