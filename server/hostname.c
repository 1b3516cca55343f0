#include "hostname.h"

#include <string.h>

static inline char lower(char c) { return (unsigned char)(c - 'A') < 26 ? (char)(c + 32) : c; }

size_t hostname_normalise(const char *in, size_t len, char *out)
{
    /* one pass: this runs on every request of a server with host routes */
    size_t n = 0;
    if (len > 0 && in[0] == '[') {
        /* the parser let through only "[...]" with an optional port */
        for (; n < len && in[n] != ']'; n++)
            out[n] = lower(in[n]);
        if (n < len)
            out[n++] = ']';
        return n;
    }
    for (; n < len && in[n] != ':'; n++)
        out[n] = lower(in[n]);
    if (n > 1 && out[n - 1] == '.')
        n--; /* "example.com." names the same host (an absolute name) */
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
