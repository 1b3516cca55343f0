/* Cross-origin policy of the data API: see data_cors.h. */
#include "data_cors.h"

#include <plughttpd/plugin.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

unsigned data_cors_method_bit(const char *m, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {{"GET", DATA_M_GET},   {"HEAD", DATA_M_HEAD},   {"POST", DATA_M_POST},
                   {"PUT", DATA_M_PUT},   {"PATCH", DATA_M_PATCH}, {"DELETE", DATA_M_DELETE}};
    /* Methods are case-sensitive (RFC 9110): "patch" is not PATCH. */
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, m, len) == 0)
            return methods[i].bit;
    return 0;
}

/* Splits "host[:port]" (host may be an [IPv6] literal). The port is 0 when
 * absent, -1 when malformed. */
static void split_authority(const char *a, size_t len, size_t *hostlen, long *port)
{
    const char *end = a + len, *colon = NULL;
    const char *p = a;
    if (p < end && *p == '[') {
        const char *close = memchr(p, ']', len);
        p = close ? close + 1 : end;
        if (close == NULL) {
            *hostlen = len;
            *port = -1;
            return;
        }
    }
    colon = memchr(p, ':', (size_t)(end - p));
    *hostlen = colon ? (size_t)(colon - a) : len;
    *port = 0;
    if (colon == NULL)
        return;
    long v = 0;
    if (colon + 1 == end)
        *port = -1;
    for (const char *q = colon + 1; q < end && *port == 0; q++) {
        if (*q < '0' || *q > '9' || (v = v * 10 + (*q - '0')) > 65535)
            *port = -1;
    }
    if (*port == 0)
        *port = v;
}

bool data_cors_same_origin(const char *origin, size_t olen, const char *host, size_t hlen)
{
    long dflt, oport, hport;
    size_t skip, ohost, hhost;

    if (olen > 8 && strncasecmp(origin, "https://", 8) == 0)
        skip = 8, dflt = 443;
    else if (olen > 7 && strncasecmp(origin, "http://", 7) == 0)
        skip = 7, dflt = 80;
    else
        return false; /* "null", other schemes, garbage */
    origin += skip;
    olen -= skip;
    if (memchr(origin, '/', olen) != NULL || hlen == 0)
        return false;
    split_authority(origin, olen, &ohost, &oport);
    split_authority(host, hlen, &hhost, &hport);
    if (oport < 0 || hport < 0 || ohost != hhost || ohost == 0 || strncasecmp(origin, host, ohost) != 0)
        return false;
    return (oport ? oport : dflt) == (hport ? hport : dflt);
}

data_cors_grant_t data_cors_grant(const data_cors_conf_t *c, const char *origin, size_t olen)
{
    for (size_t i = 0; i < c->norigins; i++)
        if (strlen(c->origins[i]) == olen && strncasecmp(c->origins[i], origin, olen) == 0)
            return DATA_CORS_LISTED;
    return c->any_origin ? DATA_CORS_READ : DATA_CORS_DENIED;
}

/* True when name (len bytes) is in the comma-separated list. */
static bool in_list(const char *list, const char *name, size_t len)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ", ");
        if (n == len && strncasecmp(p, name, len) == 0)
            return true;
        p += n;
        p += strspn(p, ", ");
    }
    return false;
}

int data_cors_preflight(const data_cors_conf_t *c, data_cors_grant_t grant, const char *acrm,
                        size_t acrm_len, const char *acrh, size_t acrh_len, char *why, size_t whylen)
{
    unsigned bit = data_cors_method_bit(acrm, acrm_len);
    unsigned allowed = grant == DATA_CORS_LISTED ? c->methods
                       : grant == DATA_CORS_READ ? (DATA_M_GET | DATA_M_HEAD) : 0;

    if (grant == DATA_CORS_DENIED) {
        snprintf(why, whylen, "this origin is not allowed by cors_origins");
        return PH_ERROR;
    }
    if (bit == 0 || (allowed & bit) == 0) {
        snprintf(why, whylen, "method not allowed for this origin by cors_methods");
        return PH_ERROR;
    }
    for (size_t i = 0; acrh != NULL && i < acrh_len;) {
        while (i < acrh_len && (acrh[i] == ' ' || acrh[i] == '\t' || acrh[i] == ','))
            i++;
        size_t start = i;
        while (i < acrh_len && acrh[i] != ',' && acrh[i] != ' ' && acrh[i] != '\t')
            i++;
        if (i > start && (grant != DATA_CORS_LISTED || !in_list(c->headers_text, acrh + start, i - start))) {
            snprintf(why, whylen, "request header not allowed by cors_headers");
            return PH_ERROR;
        }
    }
    return PH_OK;
}
