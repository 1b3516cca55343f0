#include "proxy_response.h"

#include <stdlib.h>
#include <string.h>

#include "proxy_hop.h"

static int core_owned(ph_str_t name)
{
    return proxy_str_ieq(name, "Content-Length") || proxy_str_ieq(name, "Date") || proxy_str_ieq(name, "Server");
}

static void hop_of(const ph_http_response_t *r, proxy_hop_t *hop)
{
    memset(hop, 0, sizeof *hop);
    for (size_t i = 0; i < r->nheaders; i++)
        if (proxy_str_ieq(r->names[i], "Connection"))
            proxy_hop_add(hop, r->values[i]);
}

/* The longest name + value, so one scratch buffer holds any field as two
 * C strings. */
static size_t widest(const ph_http_response_t *r)
{
    size_t w = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->names[i].len + r->values[i].len > w)
            w = r->names[i].len + r->values[i].len;
    return w + 2;
}

static void split(char *scratch, ph_str_t name, ph_str_t value, char **n, char **v)
{
    memcpy(scratch, name.ptr, name.len);
    scratch[name.len] = '\0';
    memcpy(scratch + name.len + 1, value.ptr, value.len);
    scratch[name.len + 1 + value.len] = '\0';
    *n = scratch;
    *v = scratch + name.len + 1;
}

int proxy_response_head(const proxy_t *p, ph_request_t *req, const ph_http_response_t *r, int upgrade)
{
    const ph_server_api_t *api = p->api;
    proxy_hop_t hop;
    hop_of(r, &hop);
    if (hop.overflow)
        return PH_ERROR;
    /* A 101 is sent by api->upgrade(), which sets the status itself. */
    if (!(upgrade && r->status == 101) && api->set_status(req, r->status) != PH_OK)
        return PH_ERROR;
    char *scratch = malloc(widest(r));
    if (!scratch)
        return PH_ERROR;
    int rc = PH_OK;
    for (size_t i = 0; i < r->nheaders && rc == PH_OK; i++) {
        ph_str_t k = r->names[i];
        int keep_upgrade = upgrade && proxy_str_ieq(k, "Upgrade");
        if (!keep_upgrade && (proxy_hop_is(&hop, k) || core_owned(k)))
            continue;
        char *n, *v;
        split(scratch, k, r->values[i], &n, &v);
        rc = api->add_header(req, n, v);
    }
    free(scratch);
    if (rc == PH_OK && p->conf.via)
        rc = api->add_header(req, "Via", r->version == 10 ? "1.0 plughttpd" : "1.1 plughttpd");
    return rc;
}

void proxy_response_hints(const proxy_t *p, ph_request_t *req, const ph_http_response_t *r)
{
    const ph_server_api_t *api = p->api;
    proxy_hop_t hop;
    hop_of(r, &hop);
    if (hop.overflow)
        return;
    size_t total = 1;
    for (size_t i = 0; i < r->nheaders; i++)
        total += r->names[i].len + r->values[i].len + 2;
    ph_kv_t *kv = calloc(r->nheaders + 1, sizeof *kv);
    char *scratch = malloc(total);
    size_t n = 0, off = 0;
    if (kv && scratch) {
        for (size_t i = 0; i < r->nheaders; i++) {
            if (proxy_hop_is(&hop, r->names[i]) || core_owned(r->names[i]))
                continue;
            char *k, *v;
            split(scratch + off, r->names[i], r->values[i], &k, &v);
            off += r->names[i].len + r->values[i].len + 2;
            kv[n++] = (ph_kv_t){k, v};
        }
        if (n && api->early_hints(req, kv, n) != PH_OK)
            proxy_log(p, PH_LOG_DEBUG, "103 Early Hints not passed on");
    }
    free(kv);
    free(scratch);
}
