/*
 * Fixture: a buffered (1.x-style) content handler that reports what the
 * ABI 1.3 request calls say.
 *
 *   /info    sends 103 Early Hints (Link: </a.css>; rel=preload) when the
 *            query is "hints", exercises the response-header calls, and
 *            answers, one per line, through body_vprintf():
 *              id=<request_id> local=<local> scheme=<scheme>
 *              authority=<authority> peer=<peer> x-a=<resp_header X-A>
 *              removed=<remove_header X-B>
 *            with the headers X-A: 3 (added twice, then set_header) and
 *            no X-B (added, then removed).
 *   /body    answers "len=N sha256=HEX spilled=S fdlen=L fdsha=HEX\n": the
 *            body() length and hash, and body_fd()'s answer with the
 *            file's length and hash read back with pread (fdsha "-" when
 *            not spilled).
 *   /notes   answers "user=<note user>\n" ("-" when nothing is noted under
 *            "user"): what an access stage in front of it noted (ABI 1.5).
 */
#include <plughttpd/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"

typedef struct probe {
    const ph_server_api_t *api;
} probe_t;

static int probe_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    if (args->nkeys > 0) {
        err->key = 0;
        snprintf(err->msg, sizeof(err->msg), "unknown key \"%s\"", args->keys[0].key);
        return PH_ERROR;
    }
    probe_t *p = malloc(sizeof(*p));
    if (!p) {
        err->key = -1;
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return PH_ERROR;
    }
    p->api = args->api;
    *instance = p;
    return PH_OK;
}

static void probe_destroy(void *instance)
{
    free(instance);
}

/* body_printf through the va_list form, and the same line to the log
 * through vlog(). */
static int probe_line(const ph_server_api_t *api, ph_request_t *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int probe_line(const ph_server_api_t *api, ph_request_t *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = api->body_vprintf(req, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    api->vlog(PH_LOG_INFO, fmt, ap);
    va_end(ap);
    return rc;
}

static int probe_info(const ph_server_api_t *api, ph_request_t *req)
{
    ph_str_t q = api->query(req);
    if (q.ptr && q.len == 5 && memcmp(q.ptr, "hints", 5) == 0) {
        const ph_kv_t link[] = {{"Link", "</a.css>; rel=preload"}};
        if (api->early_hints(req, link, 1) != PH_OK)
            return PH_ERROR;
    }
    if (api->add_header(req, "X-A", "1") != PH_OK || api->add_header(req, "X-A", "2") != PH_OK ||
        api->set_header(req, "X-A", "3") != PH_OK || api->add_header(req, "X-B", "b") != PH_OK)
        return PH_ERROR;
    int removed = api->remove_header(req, "x-b");
    ph_str_t xa = {"?", 1};
    if (!api->resp_header(req, "x-a", &xa))
        xa = (ph_str_t){"none", 4};
    ph_str_t id = api->request_id(req), sc = api->scheme(req), au = api->authority(req);
    if (api->set_header(req, "Content-Type", "text/plain") != PH_OK)
        return PH_ERROR;
    /* slots: NULL at first, stable, one per (request, instance) */
    static const int other; /* stands for another instance */
    void **s1 = api->slot(req, api), **s2 = api->slot(req, &other);
    int fresh = s1 && s2 && *s1 == NULL && *s2 == NULL;
    if (s1)
        *s1 = (void *)req;
    int slots = fresh && s1 != s2 && api->slot(req, api) == s1 && *s1 == (void *)req && *s2 == NULL;
    return probe_line(api, req,
                      "id=%.*s\nlocal=%s\nscheme=%.*s\nauthority=%.*s\npeer=%s\nx-a=%.*s\nremoved=%d\nslots=%d\n",
                      (int)id.len, id.ptr, api->local(req), (int)sc.len, sc.ptr, (int)au.len, au.ptr,
                      api->peer(req), (int)xa.len, xa.ptr, removed, slots);
}

static int probe_body(const ph_server_api_t *api, ph_request_t *req)
{
    ph_str_t b = api->body(req);
    sha256_t sha;
    char hex[65], fhex[65] = "-";
    sha256_init(&sha);
    sha256_update(&sha, (const unsigned char *)b.ptr, b.len);
    sha256_hex(&sha, hex);
    int fd = -1;
    uint64_t flen = 0;
    int spilled = api->body_fd(req, &fd, &flen);
    if (spilled) {
        unsigned char buf[65536];
        sha256_init(&sha);
        for (uint64_t off = 0; off < flen;) {
            ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);
            if (n <= 0)
                return api->send_error(req, 500, "pread failed");
            sha256_update(&sha, buf, (size_t)n);
            off += (uint64_t)n;
        }
        sha256_hex(&sha, fhex);
    }
    return api->body_printf(req, "len=%zu sha256=%s spilled=%d fdlen=%llu fdsha=%s\n", b.len, hex, spilled,
                            (unsigned long long)flen, fhex);
}

static int probe_handle(void *instance, ph_request_t *req)
{
    const probe_t *p = instance;
    ph_str_t sp = p->api->subpath(req);
    if (sp.len == 5 && memcmp(sp.ptr, "/info", 5) == 0)
        return probe_info(p->api, req);
    if (sp.len == 5 && memcmp(sp.ptr, "/body", 5) == 0)
        return probe_body(p->api, req);
    if (sp.len == 6 && memcmp(sp.ptr, "/notes", 6) == 0) {
        const char *user = p->api->note(req, "user");
        return p->api->body_printf(req, "user=%s\n", user ? user : "-");
    }
    return PH_DECLINED;
}

PH_PLUGIN_DEFINE("probe", "1.0", 0, probe_create, probe_handle, probe_destroy);
