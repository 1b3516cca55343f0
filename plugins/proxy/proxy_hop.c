#include "proxy_hop.h"

#include <string.h>
#include <strings.h>

int proxy_str_ieq(ph_str_t a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && strncasecmp(a.ptr, b, n) == 0;
}

void proxy_hop_add(proxy_hop_t *h, ph_str_t v)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.ptr[i] == ',' || v.ptr[i] == ' ' || v.ptr[i] == '\t'))
            i++;
        size_t s = i;
        while (i < v.len && v.ptr[i] != ',' && v.ptr[i] != ' ' && v.ptr[i] != '\t')
            i++;
        if (i == s)
            continue;
        ph_str_t t = {v.ptr + s, i - s};
        if (proxy_str_ieq(t, "upgrade"))
            h->upgrade = 1;
        if (proxy_str_ieq(t, "close"))
            h->close = 1;
        if (h->n < PROXY_HOP_TOKENS_MAX)
            h->tokens[h->n++] = t;
        else
            h->overflow = 1;
    }
}

int proxy_hop_is(const proxy_hop_t *h, ph_str_t name)
{
    static const char *const hop[] = {"Connection",  "Keep-Alive",        "Proxy-Connection",
                                      "TE",          "Trailer",           "Transfer-Encoding",
                                      "Upgrade",     "Proxy-Authorization", "Proxy-Authenticate"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (proxy_str_ieq(name, hop[i]))
            return 1;
    for (size_t i = 0; i < h->n; i++)
        if (h->tokens[i].len == name.len && strncasecmp(h->tokens[i].ptr, name.ptr, name.len) == 0)
            return 1;
    return 0;
}
