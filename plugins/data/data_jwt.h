/*
 * JSON Web Tokens (RFC 7519) in JWS compact form (RFC 7515), verified with
 * OpenSSL 3: HS256 with the route's secret, RS256 and ES256 with its PEM
 * public keys (data_role.h names the keys). A secret that is JSON is a
 * JSON Web Key or key set (RFC 7517, PostgREST's jwt-secret): its oct,
 * RSA and EC P-256 signing keys are kept with their "kid"; others (another
 * "use", kty, curve or alg) are skipped. A token's "alg" must match a key
 * of its kind: "none", other algorithms and an algorithm for which no key
 * is configured are refused, so a public key is never used as an HMAC
 * secret. A token whose header names a "kid" is verified only with the
 * keys of that kid and the keys without one.
 *
 * Claims are then checked as PostgREST does, with 30 seconds of leeway
 * for clocks: "exp" not in the past, "nbf" and "iat" not in the future,
 * and with an audience configured, an "aud" claim (a string or an array
 * of strings) that names it; a token without "aud" passes.
 */
#ifndef DATA_JWT_H
#define DATA_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "data_role.h"

/* Longest token accepted, in bytes. */
#define DATA_JWT_MAX 8192
/* Seconds a claim's time may be off. */
#define DATA_JWT_LEEWAY 30

typedef struct data_jwt_keys data_jwt_keys_t;

/* Reads the secret (or its file; base64-decoded with
 * jwt_secret_is_base64, unless it is a key set) and the PEM keys of c.
 * NULL with a message in err when a file cannot be read or holds no usable
 * key, a secret is shorter than 32 bytes, or a key of a supported kind is
 * malformed or weak; or when c configures no key (then err is empty). */
data_jwt_keys_t *data_jwt_keys_load(const data_role_conf_t *c, char *err, size_t errlen);

void data_jwt_keys_free(data_jwt_keys_t *k);

/* Why a token was refused: PostgREST's code (PGRST301 a token that cannot
 * be decoded or verified, PGRST303 claims that fail their checks), its
 * message, and details or "". */
typedef struct data_jwt_err {
    const char *code;
    const char *msg;
    char details[128];
} data_jwt_err_t;

/* Verifies token (len bytes) at time now (seconds since the epoch), with
 * aud the required audience or NULL. PH_OK and the claims object in
 * *claims (a new reference), or PH_ERROR with *e filled. Thread-safe. */
int data_jwt_verify(const data_jwt_keys_t *k, const char *token, size_t len, int64_t now, const char *aud,
                    json_t **claims, data_jwt_err_t *e);

/* Base64url without padding (RFC 7515, section 2) of s (len bytes) into
 * out (room for len * 3 / 4 bytes). Returns the decoded length, or -1 for
 * a character outside the alphabet, padding, an impossible length or
 * unused bits that are not zero (so every value has one spelling). */
long data_jwt_b64url_decode(const char *s, size_t len, unsigned char *out);

#endif
