/*
 * Host names as virtual hosts see them: the name a request asks for (its
 * authority without the port, in one canonical spelling), and the names
 * and wildcards server.ini gives host routes. Pure functions over byte
 * spans; no allocation.
 */
#ifndef PH_HOSTNAME_H
#define PH_HOSTNAME_H

#include <stddef.h>

/* The longest host name server.ini accepts (a DNS name is at most 253). */
#define HOSTNAME_MAX 253

/* The host of an authority (host[:port], as the HTTP parser validated it:
 * the absolute-form target's, else Host): the port removed, ASCII letters
 * lower-cased, one trailing dot removed ("Example.COM.:8080" ->
 * "example.com"); an IPv6 literal keeps its brackets ("[::1]:80" ->
 * "[::1]"). Writes at most len bytes to out (which may be in) and returns
 * how many; 0 for an empty authority. */
size_t hostname_normalise(const char *in, size_t len, char *out);

/* Checks a host name of a [route HOST/prefix] section and writes its
 * canonical form (lower case, no trailing dot) to out (at least
 * HOSTNAME_MAX + 1 bytes). Accepted: dot-separated labels of letters,
 * digits and '-' (not at a label's ends), each 1..63 bytes, or "*." and
 * such a name (a wildcard). Returns 1 for a name, 2 for a wildcard, 0 when
 * malformed (with why, a static reason). */
int hostname_pattern(const char *name, char *out, const char **why);

#endif
