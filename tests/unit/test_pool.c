/*
 * Unit tests for server/pool.c: alignment, growth past the first block, big
 * allocations, pool_realloc in place and by copy, cleanups in reverse order,
 * what reset keeps, and sizes too large to represent.
 *
 * Every block handed out is filled with a pattern and checked again after
 * later allocations, so overlapping allocations show up as corruption.
 */
#include "pool.h"

#include <check.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16

static int aligned(const void *p) { return ((uintptr_t)p % ALIGN) == 0; }

static void fill(void *p, size_t n, unsigned char seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed + i * 7);
}

static int check_fill(const void *p, size_t n, unsigned char seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

START_TEST(alignment)
{
    pool_t *p = pool_new(512);
    ck_assert_ptr_nonnull(p);
    static const size_t sizes[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 1, 5000, 2, 9000, 1};
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *a = pool_alloc(p, sizes[i]);
            ck_assert_ptr_nonnull(a);
            ck_assert_msg(aligned(a), "pool_alloc(%zu) = %p not %d-aligned", sizes[i], a, ALIGN);
        }
        ck_assert(aligned(pool_calloc(p, 3)));
        ck_assert(aligned(pool_strndup(p, "abc", 3)));
    }
    pool_free(p);
}
END_TEST

START_TEST(calloc_and_strndup)
{
    pool_t *p = pool_new(256);
    /* dirty the first block, reset, then calloc the same memory */
    memset(pool_alloc(p, 200), 0xAB, 200);
    pool_reset(p);
    unsigned char *z = pool_calloc(p, 200);
    ck_assert_ptr_nonnull(z);
    for (size_t i = 0; i < 200; i++)
        ck_assert_uint_eq(z[i], 0);

    const char src[] = "hello, world";
    char *s = pool_strndup(p, src, 5);
    ck_assert_str_eq(s, "hello");
    ck_assert_ptr_ne(s, src);
    char *e = pool_strndup(p, src, 0);
    ck_assert_str_eq(e, "");
    /* bytes after len are not read: a span need not be NUL-terminated */
    char span[4] = {'a', 'b', 'c', 'd'};
    ck_assert_str_eq(pool_strndup(p, span, 4), "abcd");
    pool_free(p);
}
END_TEST

START_TEST(growth_past_first_block)
{
    pool_t *p = pool_new(256);
    size_t cap0 = pool_capacity(p);
    ck_assert_uint_ge(cap0, 256);
    enum { N = 300, SZ = 72 };
    unsigned char *blk[N];
    for (int i = 0; i < N; i++) {
        blk[i] = pool_alloc(p, SZ);
        ck_assert_ptr_nonnull(blk[i]);
        ck_assert(aligned(blk[i]));
        fill(blk[i], SZ, (unsigned char)i);
    }
    ck_assert_uint_gt(pool_capacity(p), cap0);
    ck_assert_uint_ge(pool_capacity(p), (size_t)N * SZ);
    for (int i = 0; i < N; i++)
        ck_assert_msg(check_fill(blk[i], SZ, (unsigned char)i), "allocation %d overwritten", i);
    pool_free(p);
}
END_TEST

START_TEST(big_allocations)
{
    pool_t *p = pool_new(1024);
    unsigned char *small1 = pool_alloc(p, 40);
    fill(small1, 40, 1);
    size_t big = 4u << 20;
    unsigned char *b1 = pool_alloc(p, big);
    ck_assert_ptr_nonnull(b1);
    ck_assert(aligned(b1));
    fill(b1, big, 2);
    unsigned char *small2 = pool_alloc(p, 40);
    fill(small2, 40, 3);
    unsigned char *b2 = pool_alloc(p, 100000);
    ck_assert_ptr_nonnull(b2);
    fill(b2, 100000, 4);
    unsigned char *small3 = pool_alloc(p, 40);
    fill(small3, 40, 5);

    ck_assert_uint_ge(pool_capacity(p), 1024 + big + 100000);
    ck_assert(check_fill(small1, 40, 1));
    ck_assert(check_fill(b1, big, 2));
    ck_assert(check_fill(small2, 40, 3));
    ck_assert(check_fill(b2, 100000, 4));
    ck_assert(check_fill(small3, 40, 5));
    pool_free(p);
}
END_TEST

/* Sizes whose rounding or header would overflow must fail, never hand out
 * a short block. */
START_TEST(huge_sizes_refused)
{
    pool_t *p = pool_new(256);
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 16, SIZE_MAX - 31,
                                  SIZE_MAX - 63, SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        ck_assert_msg(pool_alloc(p, huge[i]) == NULL, "pool_alloc(SIZE_MAX - %zu) succeeded", SIZE_MAX - huge[i]);
    ck_assert_ptr_nonnull(pool_alloc(p, 32)); /* the pool still works */
    pool_free(p);
}
END_TEST

START_TEST(huge_realloc_refused)
{
    pool_t *p = pool_new(256);
    void *a = pool_alloc(p, 32);
    ck_assert_ptr_nonnull(a);
    /* the last allocation: the in-place path must not wrap around */
    ck_assert_ptr_null(pool_realloc(p, a, 32, SIZE_MAX));
    ck_assert_ptr_null(pool_realloc(p, a, 32, SIZE_MAX - 31));
    pool_free(p);
}
END_TEST

START_TEST(realloc_in_place)
{
    pool_t *p = pool_new(4096);
    unsigned char *a = pool_alloc(p, 32);
    fill(a, 32, 9);
    unsigned char *g = pool_realloc(p, a, 32, 200);
    ck_assert_ptr_eq(g, a); /* the last allocation, room in the block */
    ck_assert(check_fill(g, 32, 9));
    fill(g, 200, 10);
    /* the grown area is reserved: the next allocation comes after it */
    unsigned char *next = pool_alloc(p, 16);
    ck_assert_msg(next >= g + 200 || next + 16 <= g, "next allocation %p overlaps the grown one %p+200", next, g);
    fill(next, 16, 11);
    ck_assert(check_fill(g, 200, 10));

    /* shrinking the last allocation stays in place too */
    unsigned char *c = pool_alloc(p, 256);
    fill(c, 256, 12);
    unsigned char *s = pool_realloc(p, c, 256, 64);
    ck_assert_ptr_eq(s, c);
    ck_assert(check_fill(s, 64, 12));
    pool_free(p);
}
END_TEST

START_TEST(realloc_copies)
{
    pool_t *p = pool_new(4096);
    unsigned char *a = pool_alloc(p, 32);
    fill(a, 32, 20);
    unsigned char *b = pool_alloc(p, 48);
    fill(b, 48, 21);
    /* a is no longer the last allocation: growing it must copy */
    unsigned char *a2 = pool_realloc(p, a, 32, 100);
    ck_assert_ptr_nonnull(a2);
    ck_assert_ptr_ne(a2, a);
    ck_assert(check_fill(a2, 32, 20));
    ck_assert(check_fill(b, 48, 21)); /* its neighbour untouched */
    fill(a2, 100, 22);
    ck_assert(check_fill(b, 48, 21));

    /* the last allocation, but no room left in its block: copy to a new one */
    unsigned char *last = pool_realloc(p, a2, 100, 64 * 1024);
    ck_assert_ptr_nonnull(last);
    ck_assert_ptr_ne(last, a2);
    ck_assert(aligned(last));
    ck_assert(check_fill(last, 100, 22));
    fill(last, 64 * 1024, 23);
    ck_assert(check_fill(b, 48, 21));

    /* NULL old: a plain allocation */
    unsigned char *n = pool_realloc(p, NULL, 0, 24);
    ck_assert_ptr_nonnull(n);
    fill(n, 24, 24);
    ck_assert(check_fill(last, 64 * 1024, 23));
    pool_free(p);
}
END_TEST

/* A cleanup registered after an allocation sits behind it: growing that
 * allocation must not overwrite the cleanup record. */
static int cleanup_ran;
static void count_cleanup(void *arg) { cleanup_ran += *(int *)arg; }

START_TEST(realloc_after_cleanup_add)
{
    pool_t *p = pool_new(4096);
    int one = 1;
    unsigned char *a = pool_alloc(p, 32);
    fill(a, 32, 30);
    ck_assert_int_eq(pool_cleanup_add(p, count_cleanup, &one), 0);
    unsigned char *g = pool_realloc(p, a, 32, 512);
    ck_assert_ptr_nonnull(g);
    memset(g, 0xFF, 512);
    cleanup_ran = 0;
    pool_reset(p);
    ck_assert_int_eq(cleanup_ran, 1);
    pool_free(p);
}
END_TEST

/* --- cleanups -------------------------------------------------------- */

typedef struct order_log {
    int seq[16];
    int n;
} order_log_t;

static order_log_t order;

static void log_cleanup(void *arg)
{
    ck_assert_int_lt(order.n, 16);
    order.seq[order.n++] = (int)(intptr_t)arg;
}

START_TEST(cleanups_reverse_order_at_reset)
{
    pool_t *p = pool_new(256);
    memset(&order, 0, sizeof order);
    for (int i = 1; i <= 5; i++) {
        pool_alloc(p, 100); /* interleaved with allocations, across blocks */
        ck_assert_int_eq(pool_cleanup_add(p, log_cleanup, (void *)(intptr_t)i), 0);
    }
    ck_assert_int_eq(order.n, 0); /* nothing runs before the reset */
    pool_reset(p);
    ck_assert_int_eq(order.n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(order.seq[i], 5 - i);

    /* they ran once: a second reset runs nothing */
    pool_reset(p);
    ck_assert_int_eq(order.n, 5);

    /* the reset pool takes new cleanups */
    ck_assert_int_eq(pool_cleanup_add(p, log_cleanup, (void *)(intptr_t)7), 0);
    pool_reset(p);
    ck_assert_int_eq(order.n, 6);
    ck_assert_int_eq(order.seq[5], 7);
    pool_free(p);
    ck_assert_int_eq(order.n, 6);
}
END_TEST

START_TEST(cleanups_reverse_order_at_free)
{
    pool_t *p = pool_new(256);
    memset(&order, 0, sizeof order);
    for (int i = 1; i <= 4; i++)
        ck_assert_int_eq(pool_cleanup_add(p, log_cleanup, (void *)(intptr_t)(i * 10)), 0);
    pool_alloc(p, 20000); /* a big block after the cleanups */
    pool_free(p);
    ck_assert_int_eq(order.n, 4);
    static const int want[] = {40, 30, 20, 10};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(order.seq[i], want[i]);
}
END_TEST

/* A cleanup may still read pool memory: cleanups run before blocks go. */
static void read_pool_cleanup(void *arg)
{
    ck_assert(check_fill(arg, 5000, 77));
    order.n++;
}

START_TEST(cleanup_sees_pool_memory)
{
    pool_t *p = pool_new(256);
    memset(&order, 0, sizeof order);
    void *data = pool_alloc(p, 5000);
    fill(data, 5000, 77);
    ck_assert_int_eq(pool_cleanup_add(p, read_pool_cleanup, data), 0);
    pool_alloc(p, 30000);
    pool_reset(p);
    ck_assert_int_eq(order.n, 1);
    pool_free(p);
}
END_TEST

/* --- reset ------------------------------------------------------------- */

START_TEST(reset_keeps_first_block_only)
{
    pool_t *p = pool_new(2048);
    size_t cap0 = pool_capacity(p);
    ck_assert_uint_ge(cap0, 2048);
    void *first = pool_alloc(p, 64);
    struct mallinfo2 before = mallinfo2();

    for (int i = 0; i < 50; i++)
        ck_assert_ptr_nonnull(pool_alloc(p, 1000));
    ck_assert_ptr_nonnull(pool_alloc(p, 1 << 20));
    ck_assert_uint_gt(pool_capacity(p), cap0 + (1 << 20));

    pool_reset(p);
    ck_assert_uint_eq(pool_capacity(p), cap0);
    /* the other blocks really went back to malloc (capacity alone would not
     * show a leak) */
    struct mallinfo2 after = mallinfo2();
    ck_assert_msg(after.uordblks + after.hblkhd <= before.uordblks + before.hblkhd + 1024,
                  "heap in use grew by %zu bytes across alloc + reset",
                  (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd));
    /* the first block is reused from its start, without malloc */
    ck_assert_ptr_eq(pool_alloc(p, 64), first);

    /* and it keeps working after many cycles */
    for (int cycle = 0; cycle < 100; cycle++) {
        for (int i = 0; i < 20; i++) {
            unsigned char *a = pool_alloc(p, 700);
            ck_assert_ptr_nonnull(a);
            fill(a, 700, (unsigned char)i);
        }
        pool_reset(p);
        ck_assert_uint_eq(pool_capacity(p), cap0);
    }
    pool_free(p);
    pool_free(NULL);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *alloc = tcase_create("alloc");
    tcase_add_test(alloc, alignment);
    tcase_add_test(alloc, calloc_and_strndup);
    tcase_add_test(alloc, growth_past_first_block);
    tcase_add_test(alloc, big_allocations);
    tcase_add_test(alloc, huge_sizes_refused);
    tcase_add_test(alloc, huge_realloc_refused);
    suite_add_tcase(s, alloc);

    TCase *re = tcase_create("realloc");
    tcase_add_test(re, realloc_in_place);
    tcase_add_test(re, realloc_copies);
    tcase_add_test(re, realloc_after_cleanup_add);
    suite_add_tcase(s, re);

    TCase *cl = tcase_create("cleanup and reset");
    tcase_add_test(cl, cleanups_reverse_order_at_reset);
    tcase_add_test(cl, cleanups_reverse_order_at_free);
    tcase_add_test(cl, cleanup_sees_pool_memory);
    tcase_add_test(cl, reset_keeps_first_block_only);
    suite_add_tcase(s, cl);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
