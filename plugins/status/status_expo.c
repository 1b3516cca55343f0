#include "status_expo.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when the
 * bytes there are not one (overlong forms, surrogates and code points
 * past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    uint32_t min, cp;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* s with \, newline and (quotes) " escaped. */
static void escape(stbuf_t *b, const char *s, int quotes)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        size_t run = 0; /* bytes passed through as they are */
        while (run < n && p[run] != '\\' && p[run] != '\n' && !(quotes && p[run] == '"') && p[run] < 0x80)
            run++;
        stbuf_put(b, (const char *)p, run);
        p += run;
        n -= run;
        if (n == 0)
            break;
        size_t u = utf8_len(p, n);
        if (*p == '\\' || *p == '"') {
            stbuf_put(b, "\\", 1);
            stbuf_put(b, (const char *)p, 1);
        } else if (*p == '\n') {
            stbuf_put(b, "\\n", 2);
        } else if (u > 0) {
            stbuf_put(b, (const char *)p, u);
        } else {
            stbuf_put(b, "\xef\xbf\xbd", 3); /* U+FFFD */
            u = 1;
        }
        p += u ? u : 1;
        n -= u ? u : 1;
    }
}

void expo_label_value(stbuf_t *b, const char *s) { escape(b, s, 1); }

void expo_family(stbuf_t *b, const char *name, const char *type, const char *help)
{
    stbuf_printf(b, "# HELP %s ", name);
    escape(b, help, 0);
    stbuf_printf(b, "\n# TYPE %s %s\n", name, type);
}

void expo_sample(stbuf_t *b, const char *name, const expo_label_t *labels, unsigned n, const char *value)
{
    stbuf_puts(b, name);
    for (unsigned i = 0; i < n; i++) {
        stbuf_puts(b, i == 0 ? "{" : ",");
        stbuf_puts(b, labels[i].name);
        stbuf_puts(b, "=\"");
        expo_label_value(b, labels[i].value);
        stbuf_puts(b, "\"");
    }
    stbuf_puts(b, n ? "} " : " ");
    stbuf_puts(b, value);
    stbuf_puts(b, "\n");
}

const char *expo_u64(char *out, uint64_t v)
{
    snprintf(out, 24, "%llu", (unsigned long long)v);
    return out;
}

const char *expo_seconds(char *out, uint64_t us)
{
    int n = snprintf(out, 32, "%llu.%06llu", (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
    return out;
}
