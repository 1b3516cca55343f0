/*
 * Cross-origin policy of the data API: which web pages may read and write
 * it, following the CORS protocol of the Fetch standard.
 *
 * A browser lets any page send a POST with a form or text body to any site
 * (a "simple request", no preflight), and sends other cross-origin writes
 * after a preflight. So a write (POST, PUT, PATCH, DELETE) that a browser
 * marks as cross-site, by an Origin that is not the request's own
 * scheme://Host or by "Sec-Fetch-Site: cross-site", is refused (403) unless
 * cors_origins lists that exact origin and cors_methods holds the method.
 * Clients that are not browsers send neither header and are not affected.
 *
 * Keys (lists separated by spaces or commas; cors_origins may repeat, its
 * values add up, to keep long lists within the 197-byte line limit):
 *   cors_origins     exact origins ("https://app.example:8443"), which may
 *                    read and use cors_methods, answered with their own
 *                    origin in Access-Control-Allow-Origin; "*": every
 *                    other origin may read (GET, HEAD), answered with
 *                    "Access-Control-Allow-Origin: *", never write.
 *                    Default: none (no CORS headers at all).
 *   cors_methods     default GET HEAD POST PUT PATCH DELETE
 *   cors_headers     request headers a listed origin may send, default
 *                    Content-Type
 *   cors_max_age     how long a browser may cache a preflight, default 10m
 *   cors_credentials yes: Access-Control-Allow-Credentials: true, so pages
 *                    may send cookies (not with "*"), default no
 *
 * The plugin does not know whether the request came over TLS: an Origin is
 * the request's own when its host and port equal those of Host (a Host
 * without a port takes the default port of the Origin's scheme). A front
 * proxy must pass Host unchanged, or the public origin must be listed.
 * Pure: no I/O.
 */
#ifndef DATA_CORS_H
#define DATA_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "data_conf.h"

/* The DATA_M_* bit of method m (len bytes), 0 for any other method. */
unsigned data_cors_method_bit(const char *m, size_t len);

/* True when origin (an Origin header value) names the same host and port
 * as host (a Host header value). "null" and malformed origins are never
 * the same. */
bool data_cors_same_origin(const char *origin, size_t olen, const char *host, size_t hlen);

typedef enum data_cors_grant {
    DATA_CORS_DENIED, /* no CORS answer for this origin */
    DATA_CORS_READ,   /* "*": reads, with Access-Control-Allow-Origin: *  */
    DATA_CORS_LISTED  /* listed: cors_methods, with its own origin echoed */
} data_cors_grant_t;

/* What the policy grants origin. */
data_cors_grant_t data_cors_grant(const data_cors_conf_t *c, const char *origin, size_t olen);

/* Whether a preflight from an origin granted `grant` may send a request
 * with method acrm and the headers in acrh (the Access-Control-Request-*
 * values; acrh may be NULL). PH_OK, or PH_ERROR with the reason in why. */
int data_cors_preflight(const data_cors_conf_t *c, data_cors_grant_t grant, const char *acrm,
                        size_t acrm_len, const char *acrh, size_t acrh_len, char *why, size_t whylen);

#endif
