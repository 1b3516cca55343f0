/*
 * api_cidr: address sets for plugins, the api->cidr_* members (ABI 1.6).
 * A set is a growing array of cidr.c ranges behind the opaque
 * ph_cidr_t; plugin.h states the contract (ownership, threads). The core
 * keeps using cidr.c directly for its own lists.
 */
#ifndef PH_API_CIDR_H
#define PH_API_CIDR_H

#include <plughttpd/plugin.h>

ph_cidr_t *api_cidr_new(void);
int api_cidr_add(ph_cidr_t *set, const char *list, char *why, size_t cap);
int api_cidr_match(const ph_cidr_t *set, const char *ip);
int api_cidr_match_addr(const ph_cidr_t *set, const struct sockaddr *sa);
void api_cidr_free(ph_cidr_t *set);

#endif
