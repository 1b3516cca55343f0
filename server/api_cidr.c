#include "api_cidr.h"

#include "cidr.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct ph_cidr {
    cidr_t *v; /* owned */
    size_t n;
};

ph_cidr_t *api_cidr_new(void) { return calloc(1, sizeof(ph_cidr_t)); }

static void why_set(char *why, size_t cap, const char *fmt, const char *arg)
{
    if (why && cap)
        snprintf(why, cap, fmt, arg);
}

/* The entries of list, appended to set only when every one parses, so a
 * refused list leaves the set as it was. */
int api_cidr_add(ph_cidr_t *set, const char *list, char *why, size_t cap)
{
    if (set == NULL || list == NULL) {
        why_set(why, cap, "%s", "no set or no list");
        return PH_ERROR;
    }
    char *copy = strdup(list), *save = NULL;
    if (copy == NULL) {
        why_set(why, cap, "%s", "out of memory");
        return PH_ERROR;
    }
    size_t n0 = set->n;
    int rc = PH_OK;
    for (char *e = strtok_r(copy, " \t,", &save); e && rc == PH_OK; e = strtok_r(NULL, " \t,", &save)) {
        cidr_t c, *l;
        if (cidr_parse(e, &c) < 0) {
            why_set(why, cap, "\"%s\" is not an address or ADDRESS/BITS", e);
            rc = PH_ERROR;
        } else if (!(l = realloc(set->v, (set->n + 1) * sizeof *l))) {
            why_set(why, cap, "%s", "out of memory");
            rc = PH_ERROR;
        } else {
            (set->v = l)[set->n++] = c;
        }
    }
    free(copy);
    if (rc != PH_OK)
        set->n = n0;
    return rc;
}

int api_cidr_match(const ph_cidr_t *set, const char *ip)
{
    return set && ip && cidr_match(set->v, set->n, ip);
}

int api_cidr_match_addr(const ph_cidr_t *set, const struct sockaddr *sa)
{
    if (set == NULL || sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return cidr_match_bin(set->v, set->n, AF_INET, (const unsigned char *)&in->sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return cidr_match_bin(set->v, set->n, AF_INET6, in6->sin6_addr.s6_addr);
    }
    return 0;
}

void api_cidr_free(ph_cidr_t *set)
{
    if (set) {
        free(set->v);
        free(set);
    }
}
