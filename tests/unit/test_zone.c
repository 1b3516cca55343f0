/*
 * Unit tests for server/zone.c: a zone is found again by name and size,
 * another size is another zone, its memory is shared with a forked child,
 * a worker finds only what was made before, and a child killed holding the
 * lock leaves it recoverable (EOWNERDEAD), not deadlocked, and a zone is
 * unmapped with the last holding that lists it.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zone.h"

START_TEST(same_name_and_size_is_the_same_zone)
{
    char err[256];
    zone_t *a = zone_get("t.same", 1000, err, sizeof err);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(zone_get("t.same", 1000, err, sizeof err), a);
    zone_t *b = zone_get("t.same", 2000, err, sizeof err);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b); /* a changed size: a new zone */
    ck_assert_uint_eq(zone_size(b), 2000);
    ck_assert_int_eq(((unsigned long)zone_data(a)) % 16, 0);
    char *d = zone_data(b);
    for (size_t i = 0; i < 2000; i++)
        ck_assert_int_eq(d[i], 0);
}
END_TEST

/* A zone asked for inside a collection lives while a holding lists it:
 * two holders of one zone, the zone gone with the second release; asked
 * for again it is a new, zeroed zone. One asked for outside a collection
 * stays whatever its holders do. */
START_TEST(released_with_its_last_holder)
{
    char err[256];
    size_t before = zone_count();
    zone_holding_t a = {0}, b = {0};
    zone_collect(&a);
    zone_t *z = zone_get("t.held", 4096, err, sizeof err);
    ck_assert_ptr_eq(zone_get("t.held", 4096, err, sizeof err), z); /* listed once */
    zone_collect(&b);
    ck_assert_ptr_eq(zone_get("t.held", 4096, err, sizeof err), z);
    zone_collect(NULL);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_uint_eq(b.n, 1);
    *(long *)zone_data(z) = 7;
    zone_release(&a);
    ck_assert_uint_eq(a.n, 0);
    ck_assert_uint_eq(zone_count(), before + 1);
    ck_assert_int_eq(*(long *)zone_data(z), 7);
    zone_release(&b);
    ck_assert_uint_eq(zone_count(), before);
    zone_collect(&a);
    z = zone_get("t.held", 4096, err, sizeof err);
    zone_collect(NULL);
    ck_assert_int_eq(*(long *)zone_data(z), 0);
    zone_t *pinned = zone_get("t.held", 4096, err, sizeof err); /* outside: kept for good */
    ck_assert_ptr_eq(pinned, z);
    zone_release(&a);
    ck_assert_uint_eq(zone_count(), before + 1);
}
END_TEST

START_TEST(refusals)
{
    char err[256];
    ck_assert_ptr_null(zone_get("", 10, err, sizeof err));
    ck_assert_ptr_null(zone_get("a/b", 10, err, sizeof err));
    ck_assert_ptr_null(zone_get("t.zero", 0, err, sizeof err));
    ck_assert_ptr_null(zone_get("t.huge", ((size_t)1 << 30) + 1, err, sizeof err));
    char longname[80];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_ptr_null(zone_get(longname, 10, err, sizeof err));
}
END_TEST

START_TEST(shared_with_a_forked_child_and_worker_finds_only)
{
    char err[256];
    zone_t *z = zone_get("t.fork", 64, err, sizeof err);
    ck_assert_ptr_nonnull(z);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        zone_set_worker();
        int ok = zone_get("t.fork", 64, err, sizeof err) == z && zone_get("t.other", 64, err, sizeof err) == NULL;
        zone_lock(z);
        *(long *)zone_data(z) = 42;
        zone_unlock(z);
        _exit(ok ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(*(long *)zone_data(z), 42);
}
END_TEST

START_TEST(holder_killed_is_recovered)
{
    char err[256];
    zone_t *z = zone_get("t.dead", 64, err, sizeof err);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        zone_lock(z);
        if (write(ready[1], "L", 1) != 1)
            _exit(1);
        pause(); /* killed holding the lock */
        _exit(0);
    }
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_assert_int_eq(zone_lock(z), ZONE_RECOVERED);
    zone_unlock(z);
    ck_assert_int_eq(zone_lock(z), 0); /* consistent again */
    zone_unlock(z);
    close(ready[0]);
    close(ready[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("zone");
    TCase *tc = tcase_create("zone");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, same_name_and_size_is_the_same_zone);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, released_with_its_last_holder);
    tcase_add_test(tc, shared_with_a_forked_child_and_worker_finds_only);
    tcase_add_test(tc, holder_killed_is_recovered);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
