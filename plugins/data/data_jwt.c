/* JWT verification of the data API: see data_jwt.h. */
#include "data_jwt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest secret file read. */
#define SECRET_MAX 4096

struct data_jwt_keys {
    unsigned char *secret; /* HS256; NULL when none */
    size_t secret_len;
    EVP_PKEY **pkeys;      /* RSA (RS256) and EC P-256 (ES256) keys */
    size_t npkeys;
};

/* --- base64url ------------------------------------------------------------ */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long data_jwt_b64url_decode(const char *s, size_t len, unsigned char *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;

    if (len % 4 == 1)
        return -1; /* one character holds 6 bits: not a whole byte */
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1; /* the unused low bits of the last character */
    return (long)o;
}

/* --- keys ------------------------------------------------------------------ */

static int read_secret(data_jwt_keys_t *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "jwt_secret: cannot read %s", path);
        return PH_ERROR;
    }
    k->secret = malloc(SECRET_MAX + 1);
    size_t n = k->secret ? fread(k->secret, 1, SECRET_MAX + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (k->secret == NULL || bad || n > SECRET_MAX) {
        snprintf(err, errlen, "jwt_secret: %s is %s", path,
                 k->secret == NULL ? "not readable (out of memory)" : bad ? "not readable" : "larger than 4096 bytes");
        return PH_ERROR;
    }
    /* An editor's final newline is not part of the secret. */
    if (n > 0 && k->secret[n - 1] == '\n')
        n--;
    if (n > 0 && k->secret[n - 1] == '\r')
        n--;
    if (n < 32) {
        snprintf(err, errlen, "jwt_secret: %s holds fewer than 32 bytes", path);
        return PH_ERROR;
    }
    k->secret_len = n;
    return PH_OK;
}

static bool is_p256(EVP_PKEY *pk)
{
    char group[64];
    size_t glen = 0;
    return EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

static int read_pem(data_jwt_keys_t *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "jwt_key_file: cannot read %s", path);
        return PH_ERROR;
    }
    EVP_PKEY *pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    const char *why = NULL;
    if (pk == NULL)
        why = "holds no PEM public key (-----BEGIN PUBLIC KEY-----)";
    else if (EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) < 2048)
        why = "holds an RSA key shorter than 2048 bits";
    else if (!EVP_PKEY_is_a(pk, "RSA") && !(EVP_PKEY_is_a(pk, "EC") && is_p256(pk)))
        why = "holds a key that is neither RSA nor EC P-256";
    EVP_PKEY **t = why ? NULL : realloc(k->pkeys, (k->npkeys + 1) * sizeof *t);
    if (t == NULL) {
        snprintf(err, errlen, "jwt_key_file: %s %s", path, why ? why : "cannot be kept (out of memory)");
        EVP_PKEY_free(pk);
        return PH_ERROR;
    }
    k->pkeys = t;
    t[k->npkeys++] = pk;
    return PH_OK;
}

data_jwt_keys_t *data_jwt_keys_load(const data_role_conf_t *c, char *err, size_t errlen)
{
    err[0] = '\0';
    if (c->jwt_secret == NULL && c->jwt_secret_file == NULL && c->nkey_files == 0)
        return NULL;
    data_jwt_keys_t *k = calloc(1, sizeof *k);
    int rc = k ? PH_OK : PH_ERROR;
    if (k == NULL)
        snprintf(err, errlen, "out of memory");
    else if (c->jwt_secret != NULL) {
        k->secret_len = strlen(c->jwt_secret);
        k->secret = malloc(k->secret_len);
        if (k->secret != NULL)
            memcpy(k->secret, c->jwt_secret, k->secret_len);
        else
            rc = PH_ERROR, snprintf(err, errlen, "out of memory");
    } else if (c->jwt_secret_file != NULL) {
        rc = read_secret(k, c->jwt_secret_file, err, errlen);
    }
    for (size_t i = 0; rc == PH_OK && i < c->nkey_files; i++)
        rc = read_pem(k, c->key_files[i], err, errlen);
    if (rc != PH_OK) {
        data_jwt_keys_free(k);
        return NULL;
    }
    return k;
}

void data_jwt_keys_free(data_jwt_keys_t *k)
{
    if (k == NULL)
        return;
    if (k->secret != NULL) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }
    for (size_t i = 0; i < k->npkeys; i++)
        EVP_PKEY_free(k->pkeys[i]);
    free(k->pkeys);
    free(k);
}

/* --- signatures ----------------------------------------------------------- */

typedef enum alg { ALG_HS256, ALG_RS256, ALG_ES256 } alg_t;

static bool hs256_ok(const data_jwt_keys_t *k, const char *data, size_t n, const unsigned char *sig,
                     size_t siglen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret, k->secret_len, (const unsigned char *)data, n,
                  mac, sizeof mac, &maclen) == NULL)
        return false;
    return maclen == 32 && siglen == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
}

static bool digest_verify(EVP_PKEY *pk, const char *data, size_t n, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* ES256 signs as R || S, 32 bytes each (RFC 7518, section 3.4); OpenSSL
 * verifies the DER form of ECDSA-Sig-Value. */
static bool es256_verify(EVP_PKEY *pk, const char *data, size_t n, const unsigned char *sig, size_t siglen)
{
    if (siglen != 64)
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    int derlen = -1;
    if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        derlen = i2d_ECDSA_SIG(es, &der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    bool ok = derlen > 0 && digest_verify(pk, data, n, der, (size_t)derlen);
    OPENSSL_free(der);
    return ok;
}

static bool key_fits(EVP_PKEY *pk, alg_t alg)
{
    return alg == ALG_RS256 ? EVP_PKEY_is_a(pk, "RSA") : EVP_PKEY_is_a(pk, "EC");
}

/* Whether one of k's keys for alg signed data. */
static bool signature_ok(const data_jwt_keys_t *k, alg_t alg, const char *data, size_t n,
                         const unsigned char *sig, size_t siglen)
{
    if (alg == ALG_HS256)
        return hs256_ok(k, data, n, sig, siglen);
    for (size_t i = 0; i < k->npkeys; i++) {
        if (!key_fits(k->pkeys[i], alg))
            continue;
        if (alg == ALG_RS256 ? digest_verify(k->pkeys[i], data, n, sig, siglen)
                             : es256_verify(k->pkeys[i], data, n, sig, siglen))
            return true;
    }
    return false;
}

static bool have_key(const data_jwt_keys_t *k, alg_t alg)
{
    if (alg == ALG_HS256)
        return k->secret != NULL;
    for (size_t i = 0; i < k->npkeys; i++)
        if (key_fits(k->pkeys[i], alg))
            return true;
    return false;
}

/* --- tokens ----------------------------------------------------------------- */

static int fail(data_jwt_err_t *e, const char *code, const char *msg, const char *details)
{
    e->code = code;
    e->msg = msg;
    snprintf(e->details, sizeof e->details, "%s", details ? details : "");
    return PH_ERROR;
}

/* The JSON object in the base64url part s (len bytes), or NULL. */
static json_t *decode_object(const char *s, size_t len)
{
    unsigned char *buf = malloc(len * 3 / 4 + 1);
    long n = buf ? data_jwt_b64url_decode(s, len, buf) : -1;
    json_t *j = n >= 0 ? json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(buf);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* The algorithm of the JOSE header hdr, PH_ERROR after filling *e. */
static int header_alg(const data_jwt_keys_t *k, const json_t *hdr, alg_t *alg, data_jwt_err_t *e)
{
    const char *a = json_string_value(json_object_get(hdr, "alg"));
    const json_t *typ = json_object_get(hdr, "typ");
    char details[96];

    if (typ != NULL && !(json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0))
        return fail(e, "PGRST301", "Unsupported token type", NULL);
    /* Extensions the header says must be understood are not. */
    if (json_object_get(hdr, "crit") != NULL)
        return fail(e, "PGRST301", "Wrong or unsupported encoding algorithm", "crit is not supported");
    if (a == NULL)
        return fail(e, "PGRST301", "Wrong or unsupported encoding algorithm", "the header has no alg");
    if (strcmp(a, "HS256") == 0)
        *alg = ALG_HS256;
    else if (strcmp(a, "RS256") == 0)
        *alg = ALG_RS256;
    else if (strcmp(a, "ES256") == 0)
        *alg = ALG_ES256;
    else {
        snprintf(details, sizeof details, "alg %.40s is not accepted (HS256, RS256, ES256)", a);
        return fail(e, "PGRST301", "Wrong or unsupported encoding algorithm", details);
    }
    if (!have_key(k, *alg)) {
        snprintf(details, sizeof details, "no %s key is configured", a);
        return fail(e, "PGRST301", "No suitable key or wrong key type", details);
    }
    return PH_OK;
}

/* A time claim: absent (PH_OK, *present false), a number, or an error. */
static int time_claim(const json_t *claims, const char *name, double *t, bool *present)
{
    const json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    if (v == NULL)
        return PH_OK;
    if (!json_is_number(v))
        return PH_ERROR;
    *t = json_number_value(v);
    return PH_OK;
}

static bool aud_matches(const json_t *v, const char *aud)
{
    if (json_is_string(v))
        return strcmp(json_string_value(v), aud) == 0;
    size_t i;
    const json_t *item;
    bool any = json_array_size(v) == 0; /* an empty list restricts nothing */
    json_array_foreach(v, i, item)
        if (json_is_string(item) && strcmp(json_string_value(item), aud) == 0)
            any = true;
    return any;
}

static bool aud_well_formed(const json_t *v)
{
    if (json_is_string(v))
        return true;
    if (!json_is_array(v))
        return false;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
        if (!json_is_string(item))
            return false;
    return true;
}

static int check_claims(const json_t *c, int64_t now, const char *aud, data_jwt_err_t *e)
{
    double t = 0;
    bool present;
    const json_t *a = json_object_get(c, "aud");

    if (time_claim(c, "exp", &t, &present) != PH_OK)
        return fail(e, "PGRST303", "The JWT 'exp' claim must be a number", NULL);
    if (present && (double)(now - DATA_JWT_LEEWAY) > t)
        return fail(e, "PGRST303", "JWT expired", NULL);
    if (time_claim(c, "nbf", &t, &present) != PH_OK)
        return fail(e, "PGRST303", "The JWT 'nbf' claim must be a number", NULL);
    if (present && (double)(now + DATA_JWT_LEEWAY) < t)
        return fail(e, "PGRST303", "JWT not yet valid", NULL);
    if (time_claim(c, "iat", &t, &present) != PH_OK)
        return fail(e, "PGRST303", "The JWT 'iat' claim must be a number", NULL);
    if (present && (double)(now + DATA_JWT_LEEWAY) < t)
        return fail(e, "PGRST303", "JWT issued at future", NULL);
    if (a != NULL && !aud_well_formed(a))
        return fail(e, "PGRST303", "The JWT 'aud' claim must be a string or an array of strings", NULL);
    if (a != NULL && aud != NULL && !aud_matches(a, aud))
        return fail(e, "PGRST303", "JWT not in audience", NULL);
    return PH_OK;
}

int data_jwt_verify(const data_jwt_keys_t *k, const char *token, size_t len, int64_t now, const char *aud,
                    json_t **claims, data_jwt_err_t *e)
{
    const char *dot1, *dot2;
    char details[64];
    alg_t alg;

    *claims = NULL;
    if (len == 0)
        return fail(e, "PGRST301", "Empty JWT is sent in Authorization header", NULL);
    if (len > DATA_JWT_MAX) {
        snprintf(details, sizeof details, "tokens are at most %d bytes", DATA_JWT_MAX);
        return fail(e, "PGRST301", "JWT couldn't be decoded", details);
    }
    size_t parts = 1;
    for (size_t i = 0; i < len; i++)
        parts += token[i] == '.';
    if (parts != 3) {
        snprintf(details, sizeof details, "Expected 3 parts in JWT; got %zu", parts);
        return fail(e, "PGRST301", "JWT couldn't be decoded", details);
    }
    dot1 = memchr(token, '.', len);
    dot2 = memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1));
    json_t *hdr = decode_object(token, (size_t)(dot1 - token));
    if (hdr == NULL)
        return fail(e, "PGRST301", "JWT couldn't be decoded", "the header is not base64url-encoded JSON");
    int rc = header_alg(k, hdr, &alg, e);
    json_decref(hdr);
    if (rc != PH_OK)
        return PH_ERROR;
    size_t siglen = (size_t)(token + len - dot2 - 1);
    unsigned char *sig = malloc(siglen * 3 / 4 + 1);
    long n = sig ? data_jwt_b64url_decode(dot2 + 1, siglen, sig) : -1;
    bool ok = n >= 0 && signature_ok(k, alg, token, (size_t)(dot2 - token), sig, (size_t)n);
    free(sig);
    if (!ok)
        return fail(e, "PGRST301", "JWT cryptographic operation failed", NULL);
    *claims = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (*claims == NULL)
        return fail(e, "PGRST303", "Parsing claims failed", NULL);
    if (check_claims(*claims, now, aud, e) != PH_OK) {
        json_decref(*claims);
        *claims = NULL;
        return PH_ERROR;
    }
    return PH_OK;
}
