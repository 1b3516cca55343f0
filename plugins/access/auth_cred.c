#include "auth_cred.h"

#include <strings.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 with padding (what every client sends): the decoded
 * length, or -1. */
static long b64_decode(const char *s, size_t len, char *out, size_t cap)
{
    if (len == 0 || len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            if (s[i + j] == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
            } else if (pad || (v[j] = b64_value((unsigned char)s[i + j])) < 0) {
                return -1;
            }
        }
        unsigned long n = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 | (unsigned long)v[2] << 6 |
                          (unsigned long)v[3];
        if (o + 3 - (size_t)pad > cap)
            return -1;
        out[o++] = (char)(n >> 16);
        if (pad < 2)
            out[o++] = (char)(n >> 8 & 0xff);
        if (pad < 1)
            out[o++] = (char)(n & 0xff);
    }
    return (long)o;
}

int auth_cred_parse(const char *v, size_t len, char *buf, size_t cap, const char **user, const char **pass)
{
    if (len < 6 || strncasecmp(v, "Basic", 5) != 0 || (v[5] != ' ' && v[5] != '\t'))
        return -1;
    size_t i = 5;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    while (len > i && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (cap < 2)
        return -1;
    long n = b64_decode(v + i, len - i, buf, cap - 2);
    if (n < 0)
        return -1;
    long colon = -1;
    for (long k = 0; k < n; k++) {
        unsigned char c = (unsigned char)buf[k];
        if (c < 0x20 || c == 0x7f)
            return -1;
        if (c == ':' && colon < 0)
            colon = k;
    }
    if (colon <= 0)
        return -1;
    buf[colon] = '\0';
    buf[n] = '\0';
    *user = buf;
    *pass = buf + colon + 1;
    return 0;
}
