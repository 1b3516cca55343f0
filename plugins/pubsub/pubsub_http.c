#include "pubsub_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int ps_http_json(const ph_server_api_t *api, ph_request_t *req, int status, const char *json, size_t len)
{
    if (api->set_status(req, status) != PH_OK || api->set_header(req, "Content-Type", "application/json") != PH_OK ||
        api->set_header(req, "Cache-Control", "no-store") != PH_OK || api->body_append(req, json, len) != PH_OK)
        return PH_ERROR;
    return PH_OK;
}

int ps_http_error(const ph_server_api_t *api, ph_request_t *req, int status, const char *msg)
{
    char j[384];
    int n = snprintf(j, sizeof j, "{\"error\":\"%s\",\"status\":%d}\n", msg, status);
    if (n < 0 || (size_t)n >= sizeof j)
        n = snprintf(j, sizeof j, "{\"error\":\"request refused\",\"status\":%d}\n", status);
    return ps_http_json(api, req, status, j, (size_t)n);
}

int ps_http_busy(const ph_server_api_t *api, ph_request_t *req, const char *msg)
{
    if (ps_http_error(api, req, 503, msg) != PH_OK || api->set_header(req, "Retry-After", "1") != PH_OK)
        return PH_ERROR;
    return PH_OK;
}

/* One element of an Accept list: trimmed, parameters cut. */
static int ps_element_is(const char *p, size_t len, const char *type)
{
    const char *semi = memchr(p, ';', len);
    if (semi)
        len = (size_t)(semi - p);
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    return len == strlen(type) && strncasecmp(p, type, len) == 0;
}

int ps_http_accepts(const ph_server_api_t *api, const ph_request_t *req, const char *type)
{
    /* every Accept line counts: a list may be split over several */
    size_t n = api->header_count(req);
    for (size_t i = 0; i < n; i++) {
        ph_str_t name, v;
        if (!api->header_at(req, i, &name, &v) || name.len != 6 || strncasecmp(name.ptr, "Accept", 6) != 0)
            continue;
        const char *p = v.ptr, *end = v.ptr + v.len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;
            if (ps_element_is(p, (size_t)(stop - p), type))
                return 1;
            p = stop + 1;
        }
    }
    return 0;
}

int ps_http_name_ok(ph_str_t name, unsigned name_max, char *why, size_t whylen)
{
    if (name.len > name_max) {
        snprintf(why, whylen, "channel name longer than %u bytes", name_max);
        return PH_ERROR;
    }
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_' || c == '~')) {
            snprintf(why, whylen, "channel names use only A-Z a-z 0-9 - . _ ~");
            return PH_ERROR;
        }
    }
    return PH_OK;
}

int ps_http_parse_id(ph_str_t s, uint64_t *id)
{
    while (s.len && (*s.ptr == ' ' || *s.ptr == '\t'))
        s.ptr++, s.len--;
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    if (s.len == 0)
        return 0;
    uint64_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *id = n;
    return 1;
}

int ps_http_query_id(ph_str_t q, const char *key, uint64_t *id)
{
    size_t klen = strlen(key);
    const char *p = q.ptr, *end = q.ptr ? q.ptr + q.len : NULL;
    int found = 0;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            ph_str_t v = {p + klen + 1, (size_t)(stop - p) - klen - 1};
            /* the last one wins, as with repeated form fields */
            if (v.len == 0 || ps_http_parse_id(v, id) != 1 || memchr(v.ptr, ' ', v.len))
                return -1;
            found = 1;
        } else if ((size_t)(stop - p) == klen && memcmp(p, key, klen) == 0) {
            return -1;
        }
        p = stop + 1;
    }
    return found;
}
