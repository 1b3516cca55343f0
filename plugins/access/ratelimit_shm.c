#include "ratelimit_shm.h"

#include <string.h>

#include "ratelimit_table.h" /* RATELIMIT_KEY_MAX */

#define MAGIC 0x726c7331u /* "rls1" */
#define PROBE 32u

typedef struct slot {
    char key[RATELIMIT_KEY_MAX]; /* "" when never used */
    uint64_t credit;
    uint64_t last_ns;
} slot_t;

typedef struct head {
    uint32_t magic;
    uint32_t pad;
    uint64_t interval_ns, cap_ns;
    uint64_t nslots; /* a power of two */
    uint64_t used;
} head_t;

static size_t slots_for(size_t max_keys)
{
    size_t n = 64;
    while (n < 2 * max_keys)
        n *= 2;
    return n;
}

/* A multiple of 16, as aligned_alloc wants. */
size_t ratelimit_shm_size(size_t max_keys)
{
    return (sizeof(head_t) + slots_for(max_keys) * sizeof(slot_t) + 15) & ~(size_t)15;
}

static slot_t *slots(head_t *h) { return (slot_t *)(h + 1); }

static uint64_t hash(const char *k)
{
    uint64_t h = 1469598103934665603u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211u;
    return h;
}

static uint64_t credit_at(const head_t *h, const slot_t *s, uint64_t now)
{
    uint64_t gained = now > s->last_ns ? now - s->last_ns : 0;
    return gained >= h->cap_ns - s->credit ? h->cap_ns : s->credit + gained;
}

/* Formats h for these bounds unless it is so formatted: 0, or -1 when a
 * bound is out of range or size cannot hold the slots. */
static int format(head_t *h, size_t size, uint64_t rate, uint64_t period_ns, uint64_t burst)
{
    if (rate == 0 || rate > 1000000000u || period_ns == 0 || burst == 0 || period_ns / rate == 0 ||
        burst > UINT64_MAX / (period_ns / rate) || size < sizeof *h + 64 * sizeof(slot_t))
        return -1;
    uint64_t interval = period_ns / rate;
    if (h->magic == MAGIC && h->interval_ns == interval && h->cap_ns == burst * interval)
        return 0;
    size_t n = 64;
    while (sizeof *h + 2 * n * sizeof(slot_t) <= size)
        n *= 2;
    memset(h, 0, sizeof *h + n * sizeof(slot_t));
    h->interval_ns = interval;
    h->cap_ns = burst * interval;
    h->nslots = n;
    h->magic = MAGIC;
    return 0;
}

/* key's slot: found, else an empty one of its window, else the window's
 * first idle one, else its least recently seen one (taken over). */
static slot_t *find(head_t *h, const char *k, uint64_t now)
{
    slot_t *s = slots(h), *idle = NULL, *oldest = NULL, *victim = NULL;
    uint64_t mask = h->nslots - 1, at = hash(k) & mask;
    for (unsigned i = 0; i < PROBE && victim == NULL; i++) {
        slot_t *c = &s[(at + i) & mask];
        if (c->key[0] == '\0') {
            victim = c;
            h->used++;
        } else if (strcmp(c->key, k) == 0) {
            return c;
        } else {
            if (idle == NULL && credit_at(h, c, now) == h->cap_ns)
                idle = c;
            if (oldest == NULL || c->last_ns < oldest->last_ns)
                oldest = c;
        }
    }
    if (victim == NULL)
        victim = idle ? idle : oldest;
    memcpy(victim->key, k, strlen(k) + 1);
    victim->credit = h->cap_ns;
    victim->last_ns = now;
    return victim;
}

uint64_t ratelimit_shm_take(void *mem, size_t size, uint64_t rate, uint64_t period_ns, uint64_t burst,
                            const char *key, uint64_t now_ns)
{
    head_t *h = mem;
    if (format(h, size, rate, period_ns, burst) < 0)
        return 0;
    char k[RATELIMIT_KEY_MAX];
    size_t n = strnlen(key, sizeof k - 1);
    memcpy(k, key, n);
    k[n] = '\0';
    if (k[0] == '\0')
        k[0] = '-', k[1] = '\0'; /* "" marks an unused slot */
    slot_t *s = find(h, k, now_ns);
    uint64_t credit = credit_at(h, s, now_ns), wait = 0;
    if (credit >= h->interval_ns)
        credit -= h->interval_ns;
    else
        wait = h->interval_ns - credit;
    s->credit = credit;
    if (now_ns > s->last_ns)
        s->last_ns = now_ns;
    return wait;
}

void ratelimit_shm_reset(void *mem) { ((head_t *)mem)->magic = 0; }

size_t ratelimit_shm_used(const void *mem)
{
    const head_t *h = mem;
    return h->magic == MAGIC ? (size_t)h->used : 0;
}
