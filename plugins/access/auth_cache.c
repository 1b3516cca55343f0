#include "auth_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST 32

typedef struct slot {
    int used;
    unsigned char digest[DIGEST];
} slot_t;

struct auth_cache {
    pthread_mutex_t mu;
    unsigned char key[32];
    size_t n;
    slot_t *slots;
};

auth_cache_t *auth_cache_new(size_t slots)
{
    auth_cache_t *c = calloc(1, sizeof *c);
    if (!c || slots == 0 || !(c->slots = calloc(slots, sizeof *c->slots)) ||
        RAND_bytes(c->key, sizeof c->key) != 1) {
        if (c)
            free(c->slots);
        free(c);
        return NULL;
    }
    c->n = slots;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void auth_cache_free(auth_cache_t *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c->slots, c->n * sizeof *c->slots);
    free(c->slots);
    pthread_mutex_destroy(&c->mu);
    OPENSSL_cleanse(c->key, sizeof c->key);
    free(c);
}

/* The slot of user (FNV-1a of the name) and the credentials' digest: 0,
 * or -1 when the digest could not be computed. */
static int locate(const auth_cache_t *c, const char *user, const char *pass, size_t *slot,
                  unsigned char digest[DIGEST])
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = user; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    *slot = (size_t)(h % c->n);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned len = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, c->key, sizeof c->key) == 1 &&
             EVP_DigestUpdate(md, user, strlen(user) + 1) == 1 && EVP_DigestUpdate(md, pass, strlen(pass)) == 1 &&
             EVP_DigestFinal_ex(md, digest, &len) == 1 && len == DIGEST;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

int auth_cache_hit(auth_cache_t *c, const char *user, const char *pass)
{
    size_t i;
    unsigned char d[DIGEST];
    if (locate(c, user, pass, &i, d) < 0)
        return 0;
    pthread_mutex_lock(&c->mu);
    int hit = c->slots[i].used && CRYPTO_memcmp(c->slots[i].digest, d, DIGEST) == 0;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void auth_cache_put(auth_cache_t *c, const char *user, const char *pass)
{
    size_t i;
    unsigned char d[DIGEST];
    if (locate(c, user, pass, &i, d) < 0)
        return;
    pthread_mutex_lock(&c->mu);
    memcpy(c->slots[i].digest, d, DIGEST);
    c->slots[i].used = 1;
    pthread_mutex_unlock(&c->mu);
}
