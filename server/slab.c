#include "slab.h"

#include <stdint.h>
#include <string.h>

#define SLAB_MAGIC 0x736c6231u /* "slb1" */
#define SLAB_ALIGN 16u

/* At the start of the memory; the records follow at first. Free records
 * form a list through their first 8 bytes (record index + 1; 0 ends it);
 * records at fresh and above were never used, so a zeroed slab needs no
 * pass over its records. */
typedef struct slab {
    uint32_t magic;
    uint32_t pad;
    uint64_t record_size;
    uint64_t nrecords;
    uint64_t first;     /* offset of record 0 from the slab's start */
    uint64_t free_head; /* index + 1 of the first free record; 0: none */
    uint64_t fresh;     /* records [fresh, nrecords) were never handed out */
    uint64_t used;
} slab_t;

static size_t round_up(size_t n) { return (n + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1); }

long slab_init(void *mem, size_t size, size_t record_size)
{
    slab_t *s = mem;
    if (mem == NULL || ((uintptr_t)mem & (SLAB_ALIGN - 1)) || record_size == 0 || record_size > SIZE_MAX / 2)
        return -1;
    size_t rs = round_up(record_size);
    if (s->magic == SLAB_MAGIC)
        return s->record_size == rs ? (long)s->nrecords : -1;
    size_t first = round_up(sizeof *s);
    if (size < first + rs)
        return -1;
    memset(s, 0, sizeof *s);
    s->record_size = rs;
    s->nrecords = (size - first) / rs;
    s->first = first;
    s->magic = SLAB_MAGIC;
    return (long)s->nrecords;
}

static char *record_at(slab_t *s, uint64_t i) { return (char *)s + s->first + i * s->record_size; }

void *slab_alloc(void *mem)
{
    slab_t *s = mem;
    if (s == NULL || s->magic != SLAB_MAGIC)
        return NULL;
    char *r;
    if (s->free_head) {
        r = record_at(s, s->free_head - 1);
        uint64_t next;
        memcpy(&next, r, sizeof next);
        s->free_head = next;
    } else if (s->fresh < s->nrecords) {
        r = record_at(s, s->fresh++);
    } else {
        return NULL;
    }
    memset(r, 0, s->record_size);
    s->used++;
    return r;
}

int slab_free(void *mem, void *record)
{
    slab_t *s = mem;
    if (s == NULL || s->magic != SLAB_MAGIC || record == NULL)
        return -1;
    uintptr_t base = (uintptr_t)record_at(s, 0), p = (uintptr_t)record;
    if (p < base || (p - base) % s->record_size || (p - base) / s->record_size >= s->fresh)
        return -1;
    uint64_t i = (p - base) / s->record_size;
    uint64_t next = s->free_head;
    memcpy(record, &next, sizeof next);
    s->free_head = i + 1;
    s->used--;
    return 0;
}

size_t slab_used(const void *mem)
{
    const slab_t *s = mem;
    return s && s->magic == SLAB_MAGIC ? (size_t)s->used : 0;
}
