/*
 * proxy_response: the upstream's response head turned into the client's
 * (status and end-to-end fields), and informational answers passed on.
 */
#ifndef PROXY_RESPONSE_H
#define PROXY_RESPONSE_H

#include "proxy.h"

/* Fields a parsed head may carry (more: the upstream is answered 502). */
#define PROXY_FIELDS_MAX 128

/* Sets the client's status and fields from r: hop-by-hop fields and those
 * the Connection header names are dropped, and so are the ones the core
 * writes (Content-Length, Transfer-Encoding, Date, Server). With upgrade
 * (a 101), the upstream's Upgrade field is kept. PH_OK, or PH_ERROR (out of
 * memory, or a field the core refused). */
int proxy_response_head(const proxy_t *p, ph_request_t *req, const ph_http_response_t *r, int upgrade);

/* Passes a 103 Early Hints head on to the client (its Link fields and the
 * like, hop-by-hop ones dropped). A failure is not the request's: the
 * hints are only hints. */
void proxy_response_hints(const proxy_t *p, ph_request_t *req, const ph_http_response_t *r);

#endif
