/*
 * access_peer: the address part of api->peer()'s text, for the access
 * stages of plugins/access (rules match it, rate limits key on it). Pure.
 */
#ifndef ACCESS_PEER_H
#define ACCESS_PEER_H

#include <stddef.h>

/* Writes the address of peer ("1.2.3.4:5" -> "1.2.3.4", "[::1]:5" ->
 * "::1") to ip[0..cap), NUL-terminated. 0, or -1 when peer has neither
 * shape ("unix" among others) or the address does not fit. */
int access_peer_ip(const char *peer, char *ip, size_t cap);

#endif
