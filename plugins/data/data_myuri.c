/* MySQL/MariaDB URIs: see data_myuri.h. */
#include "data_myuri.h"

#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A malloc'd, percent-decoded copy of s[0..n); NULL on a bad escape, a
 * decoded NUL (the connector takes C strings) or no memory. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

static int fail(data_myuri_t *u, char *err, size_t errlen, const char *msg)
{
    data_myuri_free(u);
    snprintf(err, errlen, "%s", msg);
    return PH_ERROR;
}

/* HOST[:PORT] in s[0..n). */
static int parse_hostport(data_myuri_t *u, const char *s, size_t n, char *err, size_t errlen)
{
    const char *end = s + n, *colon;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || close == s + 1)
            return fail(u, err, errlen, "mysql URI: unterminated [IPv6] host");
        u->host = decode(s + 1, (size_t)(close - s - 1));
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return fail(u, err, errlen, "mysql URI: unexpected text after the [IPv6] host");
    } else {
        colon = memchr(s, ':', n);
        size_t hn = colon ? (size_t)(colon - s) : n;
        u->host = hn ? decode(s, hn) : NULL;
        if (hn > 0 && u->host == NULL)
            return fail(u, err, errlen, "mysql URI: bad host");
    }
    if (colon != NULL) {
        unsigned long port = 0;
        const char *p = colon + 1;
        if (p == end)
            return fail(u, err, errlen, "mysql URI: empty port");
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' || (port = port * 10 + (unsigned)(*p - '0')) > 65535)
                return fail(u, err, errlen, "mysql URI: port must be 1..65535");
        }
        if (port == 0)
            return fail(u, err, errlen, "mysql URI: port must be 1..65535");
        u->port = (unsigned)port;
    }
    return PH_OK;
}

/* USER[:PASSWORD] in s[0..n). */
static int parse_userinfo(data_myuri_t *u, const char *s, size_t n, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t un = colon ? (size_t)(colon - s) : n;
    u->user = decode(s, un);
    if (u->user == NULL || u->user[0] == '\0')
        return fail(u, err, errlen, "mysql URI: bad or empty user name");
    if (colon != NULL) {
        u->password = decode(colon + 1, n - un - 1);
        if (u->password == NULL)
            return fail(u, err, errlen, "mysql URI: bad percent-escape in the password");
    }
    return PH_OK;
}

/* name=value&... after '?'. */
static int parse_query(data_myuri_t *u, const char *q, char *err, size_t errlen)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        if (n > 7 && strncmp(q, "socket=", 7) == 0 && u->socket == NULL) {
            u->socket = decode(q + 7, n - 7);
            if (u->socket == NULL || u->socket[0] == '\0')
                return fail(u, err, errlen, "mysql URI: bad socket path");
        } else {
            return fail(u, err, errlen, "mysql URI: the only parameter is socket=PATH (once)");
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return PH_OK;
}

int data_myuri_parse(const char *uri, data_myuri_t *out, char *err, size_t errlen)
{
    const char *p;

    memset(out, 0, sizeof *out);
    if (strncmp(uri, "mysql://", 8) == 0)
        p = uri + 8;
    else if (strncmp(uri, "mariadb://", 10) == 0)
        p = uri + 10;
    else
        return fail(out, err, errlen, "mysql URI: expected mysql:// or mariadb://");
    const char *slash = strchr(p, '/');
    if (slash == NULL)
        return fail(out, err, errlen, "mysql URI: missing /DATABASE");
    /* The password may hold '@' only escaped, so the last '@' before the
     * path ends the user part. */
    const char *at = NULL;
    for (const char *s = p; s < slash; s++)
        if (*s == '@')
            at = s;
    if (at != NULL && parse_userinfo(out, p, (size_t)(at - p), err, errlen) != PH_OK)
        return PH_ERROR;
    const char *hp = at ? at + 1 : p;
    if (parse_hostport(out, hp, (size_t)(slash - hp), err, errlen) != PH_OK)
        return PH_ERROR;
    const char *qm = strchr(slash + 1, '?');
    size_t dn = qm ? (size_t)(qm - slash - 1) : strlen(slash + 1);
    out->database = decode(slash + 1, dn);
    if (out->database == NULL || out->database[0] == '\0')
        return fail(out, err, errlen, "mysql URI: missing or bad database name");
    if (qm != NULL && parse_query(out, qm + 1, err, errlen) != PH_OK)
        return PH_ERROR;
    return PH_OK;
}

void data_myuri_free(data_myuri_t *u)
{
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->database);
    free(u->socket);
    memset(u, 0, sizeof *u);
}
