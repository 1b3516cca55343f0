/*
 * auth_cache: credentials that passed a (slow, by design) password hash
 * check, remembered so the next request with the same ones is decided at
 * once on the event loop. Basic authentication sends the password with
 * every request: without it each request would cost a bcrypt/yescrypt run.
 *
 * It holds, per user, a keyed SHA-256 of "user\0password" under a random
 * key of the process (never the password, and nothing an offline attack
 * on a memory dump could reuse elsewhere), compared in constant time.
 * One slot per user-name hash (a colliding user replaces the other: a
 * cache, not a store). Only successes are kept, so a wrong password is
 * never answered from it. It lives as long as its instance: a reload that
 * reads a changed htpasswd file starts with an empty one.
 *
 * Thread-safe (one mutex; each call is a hash and a copy).
 */
#ifndef AUTH_CACHE_H
#define AUTH_CACHE_H

#include <stddef.h>

typedef struct auth_cache auth_cache_t;

/* slots >= 1. NULL when out of memory or no random key could be drawn. */
auth_cache_t *auth_cache_new(size_t slots);
void auth_cache_free(auth_cache_t *c);

/* 1 when (user, pass) passed before, else 0. */
int auth_cache_hit(auth_cache_t *c, const char *user, const char *pass);
/* Remembers that (user, pass) passed. */
void auth_cache_put(auth_cache_t *c, const char *user, const char *pass);

#endif
