#include "ratelimit_table.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Enough stripes that a few dozen threads rarely meet on one lock. */
#define STRIPES 64u
#define NONE UINT32_MAX

typedef struct entry {
    char key[RATELIMIT_KEY_MAX];
    uint64_t credit;  /* ns of credit at last_ns, <= t->cap_ns */
    uint64_t last_ns; /* when credit was computed */
    uint32_t next;    /* chain in the stripe's heads, or free list */
} entry_t;

typedef struct stripe {
    pthread_mutex_t mu;
    entry_t *e;      /* cap entries */
    uint32_t *heads; /* cap chains */
    uint32_t free;   /* free list through next */
    size_t used;
} stripe_t;

struct ratelimit_table {
    uint64_t interval_ns; /* credit one request costs */
    uint64_t cap_ns;      /* burst * interval_ns: a full bucket */
    size_t cap;           /* entries per stripe */
    stripe_t s[STRIPES];
};

/* FNV-1a: keys are short, and the stripe and chain come from one hash. */
static uint64_t hash(const char *k)
{
    uint64_t h = 1469598103934665603u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211u;
    return h;
}

static void stripe_reset(stripe_t *st, size_t cap)
{
    for (size_t i = 0; i < cap; i++) {
        st->heads[i] = NONE;
        st->e[i].next = i + 1 < cap ? (uint32_t)(i + 1) : NONE;
    }
    st->free = 0;
    st->used = 0;
}

ratelimit_table_t *ratelimit_table_new(uint64_t rate, uint64_t period_ns, uint64_t burst, size_t max_keys)
{
    if (rate == 0 || rate > 1000000000u || period_ns == 0 || burst == 0 || max_keys == 0 ||
        period_ns / rate == 0 || burst > UINT64_MAX / (period_ns / rate))
        return NULL;
    ratelimit_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->interval_ns = period_ns / rate;
    t->cap_ns = burst * t->interval_ns;
    t->cap = (max_keys + STRIPES - 1) / STRIPES;
    if (t->cap >= NONE) {
        free(t);
        return NULL;
    }
    for (unsigned i = 0; i < STRIPES; i++) {
        stripe_t *st = &t->s[i];
        pthread_mutex_init(&st->mu, NULL);
        st->e = malloc(t->cap * sizeof *st->e);
        st->heads = malloc(t->cap * sizeof *st->heads);
        if (!st->e || !st->heads) {
            free(st->e);
            free(st->heads);
            pthread_mutex_destroy(&st->mu);
            while (i-- > 0) {
                free(t->s[i].e);
                free(t->s[i].heads);
                pthread_mutex_destroy(&t->s[i].mu);
            }
            free(t);
            return NULL;
        }
        stripe_reset(st, t->cap);
    }
    return t;
}

void ratelimit_table_free(ratelimit_table_t *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < STRIPES; i++) {
        free(t->s[i].e);
        free(t->s[i].heads);
        pthread_mutex_destroy(&t->s[i].mu);
    }
    free(t);
}

/* The bucket's credit at now (the clock may be read on another thread a
 * little earlier than last_ns: no credit then, never a wrap). */
static uint64_t credit_at(const ratelimit_table_t *t, const entry_t *e, uint64_t now)
{
    uint64_t gained = now > e->last_ns ? now - e->last_ns : 0;
    return gained >= t->cap_ns - e->credit ? t->cap_ns : e->credit + gained;
}

/* Unlinks entry i (chain c) of st onto the free list. */
static void drop(stripe_t *st, size_t c, uint32_t i)
{
    uint32_t *p = &st->heads[c];
    while (*p != i)
        p = &st->e[*p].next;
    *p = st->e[i].next;
    st->e[i].next = st->free;
    st->free = i;
    st->used--;
}

/* Makes room in a full stripe: every idle entry goes, else the one least
 * recently seen. */
static void evict(const ratelimit_table_t *t, stripe_t *st, uint64_t now)
{
    uint32_t oldest = NONE;
    size_t oldest_chain = 0;
    for (size_t c = 0; c < t->cap; c++) {
        for (uint32_t i = st->heads[c], next; i != NONE; i = next) {
            next = st->e[i].next;
            if (credit_at(t, &st->e[i], now) == t->cap_ns)
                drop(st, c, i);
            else if (oldest == NONE || st->e[i].last_ns < st->e[oldest].last_ns) {
                oldest = i;
                oldest_chain = c;
            }
        }
    }
    if (st->used == t->cap && oldest != NONE)
        drop(st, oldest_chain, oldest);
}

uint64_t ratelimit_take(ratelimit_table_t *t, const char *key, uint64_t now_ns)
{
    char k[RATELIMIT_KEY_MAX];
    size_t n = strnlen(key, sizeof k - 1);
    memcpy(k, key, n);
    k[n] = '\0';
    uint64_t h = hash(k);
    stripe_t *st = &t->s[h % STRIPES];
    size_t c = (size_t)((h / STRIPES) % t->cap);
    uint64_t wait = 0;
    pthread_mutex_lock(&st->mu);
    uint32_t i = st->heads[c];
    while (i != NONE && strcmp(st->e[i].key, k) != 0)
        i = st->e[i].next;
    uint64_t credit;
    if (i == NONE) {
        if (st->used == t->cap)
            evict(t, st, now_ns);
        i = st->free;
        st->free = st->e[i].next;
        st->e[i].next = st->heads[c];
        st->heads[c] = i;
        st->used++;
        memcpy(st->e[i].key, k, n + 1);
        st->e[i].last_ns = now_ns;
        credit = t->cap_ns;
    } else {
        credit = credit_at(t, &st->e[i], now_ns);
    }
    if (credit >= t->interval_ns)
        credit -= t->interval_ns;
    else
        wait = t->interval_ns - credit;
    st->e[i].credit = credit;
    if (now_ns > st->e[i].last_ns)
        st->e[i].last_ns = now_ns;
    pthread_mutex_unlock(&st->mu);
    return wait;
}

size_t ratelimit_table_size(ratelimit_table_t *t)
{
    size_t n = 0;
    for (unsigned i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&t->s[i].mu);
        n += t->s[i].used;
        pthread_mutex_unlock(&t->s[i].mu);
    }
    return n;
}
