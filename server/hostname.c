#include "hostname.h"

#include <string.h>

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

size_t hostname_normalise(const char *in, size_t len, char *out)
{
    size_t n = len;
    if (n > 0 && in[0] == '[') {
        /* the parser let through only "[...]" with an optional port */
        const char *close = memchr(in, ']', len);
        if (close)
            n = (size_t)(close - in) + 1;
    } else {
        const char *colon = memchr(in, ':', len);
        if (colon)
            n = (size_t)(colon - in);
        if (n > 1 && in[n - 1] == '.')
            n--; /* "example.com." names the same host (an absolute name) */
    }
    for (size_t i = 0; i < n; i++)
        out[i] = lower(in[i]);
    return n;
}

static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

int hostname_pattern(const char *name, char *out, const char **why)
{
    size_t n = strlen(name);
    int wild = n >= 2 && name[0] == '*' && name[1] == '.';
    if (n > 0 && name[n - 1] == '.')
        n--;
    if (wild && n <= 2) {
        *why = "a wildcard needs a name after \"*.\"";
        return 0;
    }
    if (n == 0) {
        *why = "empty host name";
        return 0;
    }
    if (n > HOSTNAME_MAX) {
        *why = "host name longer than 253 bytes";
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = lower(name[i]);
    out[n] = '\0';
    size_t label = 0;
    for (size_t i = wild ? 2 : 0; i <= n; i++) {
        char c = out[i];
        if (c == '.' || c == '\0') {
            if (label == 0) {
                *why = "empty label in host name";
                return 0;
            }
            if (out[i - 1] == '-') {
                *why = "a label of a host name cannot end with '-'";
                return 0;
            }
            label = 0;
            continue;
        }
        if (c == '-' && label == 0) {
            *why = "a label of a host name cannot start with '-'";
            return 0;
        }
        if (!is_alnum(c) && c != '-') {
            *why = c == '*' ? "'*' is only allowed as the whole first label (\"*.example.com\")"
                            : "a host name holds only letters, digits, '-' and '.'";
            return 0;
        }
        if (++label > 63) {
            *why = "a label of a host name is longer than 63 bytes";
            return 0;
        }
    }
    return wild ? 2 : 1;
}
