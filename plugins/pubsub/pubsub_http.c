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

/* Whether parameters p (len bytes, each after a ';') hold q=0: a weight
 * of 0, 0.0, 0.00 or 0.000 marks the type not acceptable (RFC 9110
 * 12.4.2). */
static int ps_params_q0(const char *p, size_t len)
{
    while (len) {
        const char *semi = memchr(p, ';', len);
        size_t n = semi ? (size_t)(semi - p) : len;
        const char *q = p;
        size_t k = n;
        while (k && (*q == ' ' || *q == '\t'))
            q++, k--;
        while (k && (q[k - 1] == ' ' || q[k - 1] == '\t'))
            k--;
        if (k >= 3 && k <= 7 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=' && q[2] == '0' &&
            (k == 3 || q[3] == '.')) {
            size_t zeros = 4;
            while (zeros < k && q[zeros] == '0')
                zeros++;
            if (zeros >= k) /* "q=0" or "q=0." and only zeros */
                return 1;
        }
        p += n;
        len -= n;
        if (len)
            p++, len--;
    }
    return 0;
}

/* One element of an Accept list: trimmed, parameters cut, not q=0. */
static int ps_element_is(const char *p, size_t len, const char *type)
{
    const char *semi = memchr(p, ';', len);
    size_t params = 0;
    if (semi) {
        params = len - (size_t)(semi - p) - 1;
        len = (size_t)(semi - p);
    }
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    return len == strlen(type) && strncasecmp(p, type, len) == 0 && !(semi && ps_params_q0(semi + 1, params));
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
