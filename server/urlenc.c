#include "urlenc.h"

#include <plughttpd/plugin.h>

/* RFC 3986 unreserved: the bytes that mean the same wherever a URL puts
 * them (a relative reference's first segment, an HTML attribute, a
 * Location), unlike the sub-delims and ':' or '@' that pchar also allows. */
static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

size_t urlenc_escape(const char *s, size_t len, unsigned flags, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    int keep_slash = !(flags & PH_URL_ESCAPE_SLASH);
    size_t o = 0, w = 0; /* w: bytes written, a prefix that fits */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char enc[3] = {(char)c, hex[c >> 4], hex[c & 15]};
        size_t n = 1;
        if (!(unreserved(c) || (keep_slash && c == '/'))) {
            enc[0] = '%';
            n = 3;
        }
        if (w == o && o + n < cap) {
            for (size_t k = 0; k < n; k++)
                out[w++] = enc[k];
        }
        o += n;
    }
    /* like snprintf: whole escapes that fit, always terminated, and the
     * full length as the return value */
    if (cap)
        out[w] = '\0';
    return o;
}
