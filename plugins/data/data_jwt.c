/* JWT verification of the data API: see data_jwt.h. */
#include "data_jwt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <plughttpd/plugin.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest secret file read (a key set from an identity provider fits). */
#define SECRET_MAX 65536
/* Most keys kept from one key set. */
#define JWKS_MAX 32

typedef enum alg { ALG_HS256, ALG_RS256, ALG_ES256 } alg_t;

/* One verification key: an HMAC secret, or an RSA or EC P-256 public key. */
typedef struct jwt_key {
    alg_t alg;
    char *kid;             /* the JWK's "kid", NULL when it has none */
    unsigned char *secret; /* HS256 */
    size_t secret_len;
    EVP_PKEY *pk;          /* RS256, ES256 */
} jwt_key_t;

struct data_jwt_keys {
    jwt_key_t *keys;
    size_t n;
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

static jwt_key_t *key_add(data_jwt_keys_t *k, alg_t alg)
{
    jwt_key_t *t = realloc(k->keys, (k->n + 1) * sizeof *t);
    if (t == NULL)
        return NULL;
    k->keys = t;
    memset(&t[k->n], 0, sizeof t[k->n]);
    t[k->n].alg = alg;
    return &t[k->n++];
}

/* Keeps len bytes at p as an HS256 secret. */
static int add_secret(data_jwt_keys_t *k, const unsigned char *p, size_t len, const char *kid)
{
    jwt_key_t *key = key_add(k, ALG_HS256);
    if (key == NULL || (key->secret = malloc(len ? len : 1)) == NULL ||
        (kid != NULL && (key->kid = strdup(kid)) == NULL))
        return PH_ERROR;
    memcpy(key->secret, p, len);
    key->secret_len = len;
    return PH_OK;
}

static bool is_p256(EVP_PKEY *pk)
{
    char group[64];
    size_t glen = 0;
    return EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

/* Why pk cannot verify tokens, or NULL. */
static const char *pkey_unfit(EVP_PKEY *pk)
{
    if (EVP_PKEY_is_a(pk, "RSA"))
        return EVP_PKEY_get_bits(pk) < 2048 ? "an RSA key shorter than 2048 bits" : NULL;
    if (EVP_PKEY_is_a(pk, "EC") && is_p256(pk))
        return NULL;
    return "a key that is neither RSA nor EC P-256";
}

/* Keeps pk (taken over, also on failure). */
static int add_pkey(data_jwt_keys_t *k, EVP_PKEY *pk, const char *kid)
{
    jwt_key_t *key = key_add(k, EVP_PKEY_is_a(pk, "RSA") ? ALG_RS256 : ALG_ES256);
    if (key == NULL) {
        EVP_PKEY_free(pk);
        return PH_ERROR;
    }
    key->pk = pk;
    return kid == NULL || (key->kid = strdup(kid)) != NULL ? PH_OK : PH_ERROR;
}

/* A base64 text in either alphabet, padded or not, decoded into a new
 * buffer: *out and its length, or -1. */
static long b64_any_decode(const char *s, size_t len, unsigned char **out)
{
    char *t = malloc(len + 1);
    size_t n = 0;
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '=' && len - i <= 2 && len % 4 == 0)
            break; /* the padding, at the end only */
        t[n++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    *out = malloc(n * 3 / 4 + 1);
    long r = *out ? data_jwt_b64url_decode(t, n, *out) : -1;
    free(t);
    if (r < 0) {
        free(*out);
        *out = NULL;
    }
    return r;
}

/* The base64url member name of jwk, decoded: a new buffer and its length,
 * or NULL (absent or not base64url). */
static unsigned char *jwk_bytes(const json_t *jwk, const char *name, size_t *len)
{
    const char *v = json_string_value(json_object_get(jwk, name));
    if (v == NULL)
        return NULL;
    size_t n = strlen(v);
    unsigned char *out = malloc(n * 3 / 4 + 1);
    long r = out ? data_jwt_b64url_decode(v, n, out) : -1;
    if (r < 0) {
        free(out);
        return NULL;
    }
    *len = (size_t)r;
    return out;
}

/* An RSA public key from a JWK's n and e, or NULL with why set. */
static EVP_PKEY *jwk_rsa(const json_t *jwk, const char **why)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = jwk_bytes(jwk, "n", &nlen), *e = jwk_bytes(jwk, "e", &elen);
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL, *be = e ? BN_bin2bn(e, (int)elen, NULL) : NULL;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    *why = "its \"n\" and \"e\" are not base64url numbers";
    if (bn != NULL && be != NULL && b != NULL && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1 && (params = OSSL_PARAM_BLD_to_param(b)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1)
        *why = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pk;
}

/* An EC P-256 public key from a JWK's x and y, or NULL with why set. */
static EVP_PKEY *jwk_ec(const json_t *jwk, const char **why)
{
    size_t xlen = 0, ylen = 0;
    unsigned char *x = jwk_bytes(jwk, "x", &xlen), *y = jwk_bytes(jwk, "y", &ylen);
    unsigned char point[65];
    char group[] = "prime256v1";
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    *why = "its \"x\" and \"y\" are not 32-byte base64url coordinates";
    if (x != NULL && y != NULL && xlen == 32 && ylen == 32) {
        point[0] = 0x04; /* uncompressed: 04 || x || y (SEC 1) */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                               OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
                               OSSL_PARAM_construct_end()};
        *why = "its point is not on the P-256 curve";
        if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1)
            *why = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    free(x);
    free(y);
    return pk;
}

/* Adds the JWK (RFC 7517) jwk. A key that is not for signatures ("use"
 * other than "sig") or of a kind the API does not verify (kty other than
 * oct, RSA or EC P-256, or an "alg" other than HS256, RS256, ES256) is
 * skipped: *kept stays. PH_ERROR with why set for a key of a supported
 * kind that is malformed or too weak. */
static int add_jwk(data_jwt_keys_t *k, const json_t *jwk, bool *kept, const char **why)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    *kept = false;
    *why = NULL;
    if (!json_is_object(jwk) || kty == NULL) {
        *why = "it is not a JSON object with a \"kty\"";
        return PH_ERROR;
    }
    if (use != NULL && strcmp(use, "sig") != 0)
        return PH_OK;
    if (strcmp(kty, "oct") == 0 && (alg == NULL || strcmp(alg, "HS256") == 0)) {
        size_t len = 0;
        unsigned char *sec = jwk_bytes(jwk, "k", &len);
        int rc = PH_ERROR;
        if (sec == NULL)
            *why = "its \"k\" is not base64url";
        else if (len < 32)
            *why = "its secret is shorter than 32 bytes";
        else if ((rc = add_secret(k, sec, len, kid)) != PH_OK)
            *why = "out of memory";
        if (sec != NULL)
            OPENSSL_cleanse(sec, len);
        free(sec);
        *kept = rc == PH_OK;
        return rc;
    }
    EVP_PKEY *pk = NULL;
    if (strcmp(kty, "RSA") == 0 && (alg == NULL || strcmp(alg, "RS256") == 0))
        pk = jwk_rsa(jwk, why);
    else if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0 &&
             (alg == NULL || strcmp(alg, "ES256") == 0))
        pk = jwk_ec(jwk, why);
    else
        return PH_OK; /* another kind: not ours to verify with */
    if (pk == NULL)
        return PH_ERROR;
    if ((*why = pkey_unfit(pk)) != NULL) {
        EVP_PKEY_free(pk);
        return PH_ERROR;
    }
    if (add_pkey(k, pk, kid) != PH_OK) {
        *why = "out of memory";
        return PH_ERROR;
    }
    *kept = true;
    return PH_OK;
}

/* A secret that is JSON: one JWK, or a key set {"keys": [...]}. */
static int load_jwks(data_jwt_keys_t *k, const char *text, size_t len, const char *what, char *err,
                     size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL || !json_is_object(doc)) {
        snprintf(err, errlen, "jwt_secret: %s is not a JSON Web Key or key set: %s", what,
                 doc ? "not an object" : je.text);
        json_decref(doc);
        return PH_ERROR;
    }
    const json_t *set = json_object_get(doc, "keys");
    bool single = set == NULL;
    size_t n = single ? 1 : json_array_size(set), kept = 0;
    int rc = single || json_is_array(set) ? PH_OK : PH_ERROR;
    if (rc != PH_OK)
        snprintf(err, errlen, "jwt_secret: %s: \"keys\" is not an array", what);
    else if (n > JWKS_MAX)
        rc = PH_ERROR, snprintf(err, errlen, "jwt_secret: %s holds more than %d keys", what, JWKS_MAX);
    for (size_t i = 0; rc == PH_OK && i < n; i++) {
        bool one;
        const char *why;
        if (add_jwk(k, single ? doc : json_array_get(set, i), &one, &why) != PH_OK) {
            snprintf(err, errlen, "jwt_secret: %s, key %zu: %s", what, i + 1, why);
            rc = PH_ERROR;
        }
        kept += one;
    }
    if (rc == PH_OK && kept == 0) {
        snprintf(err, errlen, "jwt_secret: %s holds no key to verify tokens with (oct of 32 bytes or more, "
                 "RSA of 2048 bits or more, EC P-256; \"use\": \"sig\")", what);
        rc = PH_ERROR;
    }
    json_decref(doc);
    return rc;
}

/* The secret text (what: where it came from, for messages): a JWK or key
 * set when it is JSON, else the HS256 secret itself, base64-decoded with
 * jwt_secret_is_base64. */
static int load_secret(data_jwt_keys_t *k, const data_role_conf_t *c, const char *text, size_t len,
                       const char *what, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    if (i < len && text[i] == '{')
        return load_jwks(k, text, len, what, err, errlen);
    unsigned char *raw = NULL;
    long n = (long)len;
    if (c->jwt_secret_is_base64 && (n = b64_any_decode(text, len, &raw)) < 0) {
        snprintf(err, errlen, "jwt_secret: %s is not base64 (jwt_secret_is_base64 = yes)", what);
        return PH_ERROR;
    }
    int rc = PH_OK;
    if (n < 32) /* PostgREST's minimum: shorter HS256 secrets can be guessed */
        rc = PH_ERROR, snprintf(err, errlen, "jwt_secret: %s holds fewer than 32 bytes%s", what,
                                c->jwt_secret_is_base64 ? " once decoded" : "");
    else if (add_secret(k, raw ? raw : (const unsigned char *)text, (size_t)n, NULL) != PH_OK)
        rc = PH_ERROR, snprintf(err, errlen, "out of memory");
    if (raw != NULL)
        OPENSSL_cleanse(raw, (size_t)n);
    free(raw);
    return rc;
}

static int read_secret(data_jwt_keys_t *k, const data_role_conf_t *c, char *err, size_t errlen)
{
    const char *path = c->jwt_secret_file;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "jwt_secret: cannot read %s", path);
        return PH_ERROR;
    }
    char *buf = malloc(SECRET_MAX + 1);
    size_t n = buf ? fread(buf, 1, SECRET_MAX + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (buf == NULL || bad || n > SECRET_MAX) {
        snprintf(err, errlen, "jwt_secret: %s is %s", path,
                 buf == NULL ? "not readable (out of memory)" : bad ? "not readable" : "larger than 64 KiB");
        free(buf);
        return PH_ERROR;
    }
    /* An editor's final newline is not part of the secret. */
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    int rc = load_secret(k, c, buf, n, path, err, errlen);
    OPENSSL_cleanse(buf, SECRET_MAX + 1);
    free(buf);
    return rc;
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
    const char *why = pk == NULL ? "holds no PEM public key (-----BEGIN PUBLIC KEY-----)" : NULL;
    const char *unfit = pk != NULL ? pkey_unfit(pk) : NULL;
    if (why != NULL || unfit != NULL) {
        snprintf(err, errlen, "jwt_key_file: %s %s%s", path, why ? why : "holds ", why ? "" : unfit);
        EVP_PKEY_free(pk);
        return PH_ERROR;
    }
    if (add_pkey(k, pk, NULL) != PH_OK) {
        snprintf(err, errlen, "jwt_key_file: %s cannot be kept (out of memory)", path);
        return PH_ERROR;
    }
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
    else if (c->jwt_secret != NULL)
        rc = load_secret(k, c, c->jwt_secret, strlen(c->jwt_secret), "the value", err, errlen);
    else if (c->jwt_secret_file != NULL)
        rc = read_secret(k, c, err, errlen);
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
    for (size_t i = 0; i < k->n; i++) {
        jwt_key_t *key = &k->keys[i];
        if (key->secret != NULL) {
            OPENSSL_cleanse(key->secret, key->secret_len);
            free(key->secret);
        }
        EVP_PKEY_free(key->pk);
        free(key->kid);
    }
    free(k->keys);
    free(k);
}

/* --- signatures ----------------------------------------------------------- */

static bool hs256_ok(const jwt_key_t *k, const char *data, size_t n, const unsigned char *sig,
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

/* Whether key may verify a token of alg with the header's kid (NULL:
 * none): a token naming a kid is verified by the keys of that kid and by
 * keys that have none. */
static bool key_fits(const jwt_key_t *key, alg_t alg, const char *kid)
{
    return key->alg == alg && (kid == NULL || key->kid == NULL || strcmp(kid, key->kid) == 0);
}

/* Whether one of k's keys for alg (and kid) signed data. */
static bool signature_ok(const data_jwt_keys_t *k, alg_t alg, const char *kid, const char *data, size_t n,
                         const unsigned char *sig, size_t siglen)
{
    for (size_t i = 0; i < k->n; i++) {
        const jwt_key_t *key = &k->keys[i];
        if (!key_fits(key, alg, kid))
            continue;
        if (alg == ALG_HS256 ? hs256_ok(key, data, n, sig, siglen)
            : alg == ALG_RS256 ? digest_verify(key->pk, data, n, sig, siglen)
                               : es256_verify(key->pk, data, n, sig, siglen))
            return true;
    }
    return false;
}

static bool have_key(const data_jwt_keys_t *k, alg_t alg, const char *kid)
{
    for (size_t i = 0; i < k->n; i++)
        if (key_fits(&k->keys[i], alg, kid))
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

/* Longest "kid" a token may name. */
#define KID_MAX 255

/* The algorithm of the JOSE header hdr and its key id (kid, KID_MAX + 1
 * bytes: "" when it names none), PH_ERROR after filling *e. */
static int header_alg(const data_jwt_keys_t *k, const json_t *hdr, alg_t *alg, char *kid, data_jwt_err_t *e)
{
    const char *a = json_string_value(json_object_get(hdr, "alg"));
    const json_t *typ = json_object_get(hdr, "typ"), *jkid = json_object_get(hdr, "kid");
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
    kid[0] = '\0';
    if (jkid != NULL && (!json_is_string(jkid) || json_string_length(jkid) > KID_MAX ||
                         strlen(json_string_value(jkid)) != json_string_length(jkid)))
        return fail(e, "PGRST301", "JWT couldn't be decoded", "kid must be a string of at most 255 bytes");
    if (jkid != NULL)
        memcpy(kid, json_string_value(jkid), json_string_length(jkid) + 1);
    if (!have_key(k, *alg, jkid ? kid : NULL)) {
        if (jkid != NULL)
            snprintf(details, sizeof details, "no %s key with kid \"%.40s\" is configured", a, kid);
        else
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
    char kid[KID_MAX + 1];
    int rc = header_alg(k, hdr, &alg, kid, e);
    json_decref(hdr);
    if (rc != PH_OK)
        return PH_ERROR;
    size_t siglen = (size_t)(token + len - dot2 - 1);
    unsigned char *sig = malloc(siglen * 3 / 4 + 1);
    long n = sig ? data_jwt_b64url_decode(dot2 + 1, siglen, sig) : -1;
    bool ok = n >= 0 && signature_ok(k, alg, kid[0] ? kid : NULL, token, (size_t)(dot2 - token), sig, (size_t)n);
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
