/*
 * pubsub_http: what the plugin reads from a request and the small answers
 * it writes. Errors are JSON, {"error":"...","status":N} and a newline,
 * the shape the core uses for this route (PH_PLUGIN_JSON_ERRORS).
 */
#ifndef PUBSUB_HTTP_H
#define PUBSUB_HTTP_H

#include "pubsub.h"

/* Answers status with a JSON error carrying msg (a plain ASCII text
 * without quotes or backslashes). Returns PH_OK (the answer is set). */
int ps_http_error(const ph_server_api_t *api, ph_request_t *req, int status, const char *msg);
/* ps_http_error() with a Retry-After: 1 header, for 503. */
int ps_http_busy(const ph_server_api_t *api, ph_request_t *req, const char *msg);
/* 1 when the request's header `name` lists the media type `type` (a
 * case-insensitive match of one comma-separated element, parameters
 * ignored). */
int ps_http_accepts(const ph_server_api_t *api, const ph_request_t *req, const char *type);
/* Checks a channel name: 1 to name_max bytes of A-Z a-z 0-9 - . _ ~.
 * PH_OK, or PH_ERROR with a reason for a 400 in why. */
int ps_http_name_ok(ph_str_t name, unsigned name_max, char *why, size_t whylen);
/* The query parameter `key`, a decimal id: 1 with *id when present and
 * valid, 0 when absent, -1 when present but not a number. */
int ps_http_query_id(ph_str_t query, const char *key, uint64_t *id);
/* A decimal id from a header value: 1 with *id, 0 when empty, -1 when bad. */
int ps_http_parse_id(ph_str_t s, uint64_t *id);
/* Sets the body to a JSON text (copied) with Content-Type JSON. */
int ps_http_json(const ph_server_api_t *api, ph_request_t *req, int status, const char *json, size_t len);

#endif
