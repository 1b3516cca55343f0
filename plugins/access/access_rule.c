#include "access_rule.h"

#include "access_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses value into r; on failure frees what it allocated. */
static int rule_parse(const ph_server_api_t *api, access_rule_t *r, const char *value, char *why, size_t cap)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    int rc = 0, any = 0;
    for (char *e = strtok_r(copy, " \t,", &save); e && rc == 0; e = strtok_r(NULL, " \t,", &save)) {
        any = 1;
        if (strcmp(e, "all") == 0) {
            r->all = 1;
        } else if (strcmp(e, "unix") == 0) {
            r->unix_peers = 1;
        } else if (!r->ranges && !(r->ranges = api->cidr_new())) {
            snprintf(why, cap, "out of memory");
            rc = -1;
        } else if (api->cidr_add(r->ranges, e, NULL, 0) != PH_OK) {
            /* one entry at a time: the reason can name all and unix */
            snprintf(why, cap, "\"%s\" is not an address, ADDRESS/BITS, all or unix", e);
            rc = -1;
        }
    }
    if (rc == 0 && !any) {
        snprintf(why, cap, "empty list");
        rc = -1;
    }
    free(copy);
    if (rc < 0) {
        api->cidr_free(r->ranges);
        r->ranges = NULL;
    }
    return rc;
}

int access_rules_add(access_rules_t *rules, const char *verb, const char *value, char *why, size_t cap)
{
    access_rule_t r = {0};
    if (strcmp(verb, "allow") == 0)
        r.allow = 1;
    else if (strcmp(verb, "deny") != 0) {
        snprintf(why, cap, "not allow or deny: \"%s\"", verb);
        return -1;
    }
    if (rule_parse(rules->api, &r, value, why, cap) < 0)
        return -1;
    access_rule_t *l = realloc(rules->v, (rules->n + 1) * sizeof *l);
    if (!l) {
        rules->api->cidr_free(r.ranges);
        snprintf(why, cap, "out of memory");
        return -1;
    }
    (rules->v = l)[rules->n++] = r;
    return 0;
}

int access_rules_allow(const access_rules_t *rules, const char *peer)
{
    char ip[64];
    int is_unix = strcmp(peer, "unix") == 0;
    int has_ip = !is_unix && access_peer_ip(peer, ip, sizeof ip) == 0;
    for (size_t i = 0; i < rules->n; i++) {
        const access_rule_t *r = &rules->v[i];
        if (r->all || (is_unix && r->unix_peers) || (has_ip && rules->api->cidr_match(r->ranges, ip)))
            return r->allow;
    }
    return 1;
}

void access_rules_free(access_rules_t *rules)
{
    for (size_t i = 0; i < rules->n; i++)
        rules->api->cidr_free(rules->v[i].ranges);
    free(rules->v);
    rules->v = NULL;
    rules->n = 0;
}
