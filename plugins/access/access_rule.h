/*
 * access_rule: the "allow = ..." / "deny = ..." list of the access plugin,
 * and the first-match decision over a peer address. The only plugin API
 * calls are the address sets (api->cidr_*), so the unit test runs it over
 * a table holding just those.
 *
 * One rule is one key as written: a verb (allow or deny) and a list of
 * entries, each an IPv4 or IPv6 address, ADDRESS/BITS, "all" (every peer,
 * unix-socket ones included) or "unix" (peers on a unix-socket listener,
 * which have no address). Rules are tried in the order written and the
 * first one with a matching entry decides, as nginx's allow/deny do; a
 * peer no rule matches is allowed (end the list with "deny = all" for an
 * allow list).
 *
 * The addresses and ranges go into one api->cidr_* set per rule: the
 * server's implementation, the one trusted_proxies uses.
 */
#ifndef ACCESS_RULE_H
#define ACCESS_RULE_H

#include <plughttpd/plugin.h>

#include <stddef.h>

typedef struct access_rule {
    int allow;            /* 1: allow, 0: deny */
    int all;              /* "all" was listed: matches every peer */
    int unix_peers;       /* "unix" was listed */
    ph_cidr_t *ranges;    /* owned; NULL when no address was listed */
} access_rule_t;

typedef struct access_rules {
    const ph_server_api_t *api; /* set before the first add; its cidr_* */
    access_rule_t *v; /* owned, in the order written */
    size_t n;
} access_rules_t;

/* Appends the rule for one key: verb "allow" or "deny", value the list
 * (entries separated by commas and/or blanks). 0, or -1 with a one-line
 * reason in why[0..cap) (an unknown entry, an empty list, out of memory);
 * rules is unchanged on failure. */
int access_rules_add(access_rules_t *rules, const char *verb, const char *value, char *why, size_t cap);

/* Whether peer, as api->peer() writes it ("127.0.0.1:5555", "[::1]:5555",
 * "unix"), may pass: 1 allowed, 0 denied. A peer string that is none of
 * these matches only "all". */
int access_rules_allow(const access_rules_t *rules, const char *peer);

void access_rules_free(access_rules_t *rules);

#endif
