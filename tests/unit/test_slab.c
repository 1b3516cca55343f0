/*
 * Unit tests for server/slab.c: formatting over zeroed memory and again,
 * every record handed out once, reuse after free, refusals.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

static _Alignas(16) char mem[4096];

static void setup(void) { memset(mem, 0, sizeof mem); }

START_TEST(formats_once)
{
    long n = slab_init(mem, sizeof mem, 24); /* rounds up to 32 */
    ck_assert_int_gt(n, 100);
    ck_assert_int_le(n * 32, (long)sizeof mem);
    ck_assert_int_eq(slab_init(mem, sizeof mem, 24), n); /* idempotent */
    ck_assert_int_eq(slab_init(mem, sizeof mem, 32), n); /* same rounded size */
    ck_assert_int_eq(slab_init(mem, sizeof mem, 64), -1); /* another size */
}
END_TEST

START_TEST(refusals)
{
    ck_assert_int_eq(slab_init(mem + 8, sizeof mem - 8, 16), -1); /* misaligned */
    ck_assert_int_eq(slab_init(mem, sizeof mem, 0), -1);
    ck_assert_int_eq(slab_init(mem, 64, 4096), -1); /* no record fits */
    ck_assert_ptr_null(slab_alloc(mem));             /* not formatted */
    ck_assert_int_eq(slab_free(mem, mem), -1);
}
END_TEST

START_TEST(alloc_all_then_full)
{
    long n = slab_init(mem, sizeof mem, 48);
    char **got = calloc((size_t)n, sizeof *got);
    for (long i = 0; i < n; i++) {
        got[i] = slab_alloc(mem);
        ck_assert_ptr_nonnull(got[i]);
        ck_assert_int_eq((uintptr_t)got[i] % 16, 0);
        ck_assert(got[i] >= mem && got[i] + 48 <= mem + sizeof mem);
        for (long j = 0; j < i; j++)
            ck_assert_ptr_ne(got[i], got[j]);
        memset(got[i], 0xab, 48); /* records do not overlap the header */
    }
    ck_assert_uint_eq(slab_used(mem), (size_t)n);
    ck_assert_ptr_null(slab_alloc(mem));
    ck_assert_int_eq(slab_free(mem, got[3]), 0);
    char *again = slab_alloc(mem);
    ck_assert_ptr_eq(again, got[3]);
    for (int k = 0; k < 48; k++)
        ck_assert_int_eq(again[k], 0); /* handed out zeroed */
    free(got);
}
END_TEST

START_TEST(free_refuses_foreign_pointers)
{
    slab_init(mem, sizeof mem, 32);
    char *a = slab_alloc(mem);
    ck_assert_int_eq(slab_free(mem, a + 1), -1);     /* misaligned */
    ck_assert_int_eq(slab_free(mem, mem), -1);       /* the header */
    ck_assert_int_eq(slab_free(mem, a + 32), -1);    /* never handed out */
    ck_assert_int_eq(slab_free(mem, a), 0);
    ck_assert_uint_eq(slab_used(mem), 0);
}
END_TEST

START_TEST(free_list_is_lifo_and_counts)
{
    slab_init(mem, sizeof mem, 16);
    char *a = slab_alloc(mem), *b = slab_alloc(mem), *c = slab_alloc(mem);
    ck_assert_uint_eq(slab_used(mem), 3);
    slab_free(mem, a);
    slab_free(mem, c);
    ck_assert_uint_eq(slab_used(mem), 1);
    ck_assert_ptr_eq(slab_alloc(mem), c);
    ck_assert_ptr_eq(slab_alloc(mem), a);
    char *d = slab_alloc(mem);
    ck_assert(d != a && d != b && d != c);
}
END_TEST

/* The slab holds offsets only: a copy of its bytes elsewhere (another
 * process's address for the same zone) works the same. */
START_TEST(position_independent)
{
    slab_init(mem, sizeof mem, 32);
    char *a = slab_alloc(mem);
    slab_alloc(mem);
    slab_free(mem, a);
    static _Alignas(16) char copy[4096];
    memcpy(copy, mem, sizeof mem);
    char *r = slab_alloc(copy);
    ck_assert_ptr_eq(r, copy + (a - mem));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("slab");
    TCase *tc = tcase_create("slab");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, formats_once);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, alloc_all_then_full);
    tcase_add_test(tc, free_refuses_foreign_pointers);
    tcase_add_test(tc, free_list_is_lifo_and_counts);
    tcase_add_test(tc, position_independent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
