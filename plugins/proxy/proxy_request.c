#include "proxy_request.h"

#include <stdio.h>
#include <string.h>

#include "proxy_hop.h"

void proxy_peer_ip(const char *peer, char *out, size_t cap)
{
    const char *start = peer, *end = NULL;
    if (peer[0] == '[') {
        start = peer + 1;
        end = strchr(start, ']');
    } else if (strcmp(peer, "unix") != 0) {
        end = strrchr(peer, ':');
    }
    if (!end || (size_t)(end - start) >= cap) {
        snprintf(out, cap, "unknown");
        return;
    }
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
}

/* Fields the proxy writes itself, or that never go upstream. */
static int replaced(ph_str_t name)
{
    return proxy_str_ieq(name, "Host") || proxy_str_ieq(name, "Content-Length") || proxy_str_ieq(name, "Expect") ||
           proxy_str_ieq(name, "Forwarded") || proxy_str_ieq(name, "X-Forwarded-For") ||
           proxy_str_ieq(name, "X-Forwarded-Proto") || proxy_str_ieq(name, "X-Forwarded-Host");
}

/* Every value of the field name, joined by ", " (RFC 9110 section 5.3),
 * into out; 1 when there was one. */
static int joined(const ph_server_api_t *api, ph_request_t *req, const char *name, proxy_buf_t *out)
{
    size_t n = api->header_count(req);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        ph_str_t k, v;
        if (api->header_at(req, i, &k, &v) != 1 || !proxy_str_ieq(k, name))
            continue;
        if (any)
            proxy_buf_add(out, ", ", 2);
        proxy_buf_add(out, v.ptr, v.len);
        any = 1;
    }
    return any;
}

/* A quoted-string's content may not hold '"', '\' or controls; an
 * authority never legitimately does, so one that does is left out. */
static int quotable(ph_str_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch == 0x7f)
            return 0;
    }
    return s.len > 0;
}

static int forwarded(const proxy_t *p, ph_request_t *req, proxy_buf_t *out)
{
    const ph_server_api_t *api = p->api;
    char ip[64];
    proxy_peer_ip(api->peer(req), ip, sizeof ip);
    int trusted = strcmp(ip, "unknown") != 0 && api->cidr_match(p->conf.trusted, ip);
    ph_str_t proto = api->scheme(req), host = api->authority(req);
    proxy_buf_t v = {0};
    int ok = 1;

    /* Forwarded (RFC 7239): an IPv6 node is quoted and bracketed. */
    if (!(trusted && joined(api, req, "Forwarded", &v) && proxy_buf_add(&v, ", ", 2) == 0))
        v.len = 0;
    int v6 = strchr(ip, ':') != NULL;
    ok &= proxy_buf_printf(&v, "for=%s%s%s%s;proto=%.*s", v6 ? "\"[" : "", ip, v6 ? "]" : "", v6 ? "\"" : "",
                           (int)proto.len, proto.ptr) == 0;
    if (quotable(host))
        ok &= proxy_buf_printf(&v, ";host=\"%.*s\"", (int)host.len, host.ptr) == 0;
    ok &= proxy_buf_field(out, "Forwarded", 9, v.data, v.len) == 0;

    v.len = 0;
    if (!(trusted && joined(api, req, "X-Forwarded-For", &v) && proxy_buf_add(&v, ", ", 2) == 0))
        v.len = 0;
    ok &= proxy_buf_adds(&v, ip) == 0;
    ok &= proxy_buf_field(out, "X-Forwarded-For", 15, v.data, v.len) == 0;

    /* Proto and Host carry one value: a trusted proxy's stands. */
    v.len = 0;
    if (!(trusted && joined(api, req, "X-Forwarded-Proto", &v)))
        ok &= proxy_buf_add(&v, proto.ptr, proto.len) == 0;
    ok &= proxy_buf_field(out, "X-Forwarded-Proto", 17, v.data, v.len) == 0;
    v.len = 0;
    if (!(trusted && joined(api, req, "X-Forwarded-Host", &v)))
        ok &= proxy_buf_add(&v, host.ptr, host.len) == 0;
    if (v.len)
        ok &= proxy_buf_field(out, "X-Forwarded-Host", 16, v.data, v.len) == 0;
    proxy_buf_free(&v);
    return ok ? PH_OK : PH_ERROR;
}

int proxy_request_head(const proxy_t *p, ph_request_t *req, const char *upstream_host, int upgrade,
                       proxy_body_kind_t kind, uint64_t length, proxy_buf_t *out)
{
    const ph_server_api_t *api = p->api;
    const proxy_conf_t *c = &p->conf;
    ph_str_t method = api->method(req), target = api->target(req), path = api->raw_path(req),
             query = api->query(req);
    int ok = 1;

    ok &= proxy_buf_add(out, method.ptr, method.len) == 0 && proxy_buf_add(out, " ", 1) == 0;
    if (target.len == 1 && target.ptr[0] == '*') {
        ok &= proxy_buf_add(out, "*", 1) == 0;
    } else {
        /* Origin form even when the client sent an absolute-form target. */
        ok &= proxy_buf_add(out, path.len ? path.ptr : "/", path.len ? path.len : 1) == 0;
        if (query.ptr)
            ok &= proxy_buf_add(out, "?", 1) == 0 && proxy_buf_add(out, query.ptr, query.len) == 0;
    }
    ok &= proxy_buf_adds(out, " HTTP/1.1\r\n") == 0;

    ph_str_t host = api->authority(req);
    if (c->host)
        ok &= proxy_buf_field(out, "Host", 4, c->host, strlen(c->host)) == 0;
    else if (host.len)
        ok &= proxy_buf_field(out, "Host", 4, host.ptr, host.len) == 0;
    else
        ok &= proxy_buf_field(out, "Host", 4, upstream_host, strlen(upstream_host)) == 0;

    proxy_hop_t hop = {0};
    size_t n = api->header_count(req);
    for (size_t i = 0; i < n; i++) {
        ph_str_t k, v;
        if (api->header_at(req, i, &k, &v) == 1 && proxy_str_ieq(k, "Connection"))
            proxy_hop_add(&hop, v);
    }
    for (size_t i = 0; i < n; i++) {
        ph_str_t k, v;
        if (api->header_at(req, i, &k, &v) != 1 || proxy_hop_is(&hop, k) || replaced(k))
            continue;
        ok &= proxy_buf_field(out, k.ptr, k.len, v.ptr, v.len) == 0;
    }
    ok &= forwarded(p, req, out) == PH_OK;
    if (c->via)
        ok &= proxy_buf_printf(out, "Via: %s plughttpd\r\n", api->version(req) == 10 ? "1.0" : "1.1") == 0;

    if (kind == PROXY_BODY_LENGTH)
        ok &= proxy_buf_printf(out, "Content-Length: %llu\r\n", (unsigned long long)length) == 0;
    else if (kind == PROXY_BODY_CHUNKED)
        ok &= proxy_buf_adds(out, "Transfer-Encoding: chunked\r\n") == 0;
    if (upgrade) {
        ph_str_t up;
        api->header(req, "Upgrade", &up);
        ok &= proxy_buf_adds(out, "Connection: upgrade\r\n") == 0 && proxy_buf_field(out, "Upgrade", 7, up.ptr, up.len) == 0;
    } else if (c->keepalive == 0) {
        ok &= proxy_buf_adds(out, "Connection: close\r\n") == 0;
    }
    ok &= proxy_buf_add(out, "\r\n", 2) == 0;
    return ok ? PH_OK : PH_ERROR;
}
