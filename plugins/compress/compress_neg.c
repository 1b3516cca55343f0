/* compress_neg: coding choice; contract in compress_neg.h. */
#include "compress_neg.h"

#include <string.h>
#include <strings.h>

#include "static_enc.h"

int cz_neg_choose(const cz_coding_t *order, size_t n, const char *value, size_t len)
{
    const char *names[CZ_NCODINGS + 1];
    size_t rank[CZ_NCODINGS + 1];
    if (value == NULL || n > CZ_NCODINGS)
        return -1;
    for (size_t i = 0; i < n; i++)
        names[i] = cz_coding_name(order[i]);
    names[n] = "identity"; /* last: a tie goes to a coding */
    if (se_rank(value, len, names, n + 1, rank) == 0 || rank[0] == n)
        return -1;
    return (int)order[rank[0]];
}

int cz_list_has(const char *value, size_t len, const char *token)
{
    const char *p = value, *end = value + len;
    size_t tlen = strlen(token);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end, *s = p, *t;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        t = s;
        while (t < e && *t != ' ' && *t != '\t' && *t != '=' && *t != ';')
            t++;
        if ((size_t)(t - s) == tlen && strncasecmp(s, token, tlen) == 0)
            return 1;
        p = comma ? comma + 1 : end;
    }
    return 0;
}
