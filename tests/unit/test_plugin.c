/*
 * Unit tests for server/plugin.c: the descriptor check on hand-made
 * descriptors, the file checks, and plugin_open() on the real fixtures of
 * tests/plugins/ (TEST_PLUGIN_DIR) and on the echo plugin (ECHO_PLUGIN).
 */
#include "plugin.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TEST_PLUGIN_DIR
#error "TEST_PLUGIN_DIR must name the folder of the built fixture plugins"
#endif
#ifndef ECHO_PLUGIN
#error "ECHO_PLUGIN must name the built echo.so"
#endif

#define FIXTURE(name) TEST_PLUGIN_DIR "/" name ".so"

/* The smallest descriptor of ABI x.0: everything through destroy. */
#define V1_0_SIZE (offsetof(ph_plugin_t, destroy) + sizeof(void (*)(void *)))

/* --- helpers ------------------------------------------------------------- */

static int t_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    *instance = NULL;
    return PH_OK;
}

static int t_handle(void *instance, ph_request_t *req) { return PH_OK; }

static void t_destroy(void *instance) {}

static ph_plugin_t good_desc(void)
{
    return (ph_plugin_t){
        .magic = PH_ABI_MAGIC,
        .abi_major = PH_ABI_MAJOR,
        .abi_minor = PH_ABI_MINOR,
        .size = (uint32_t)sizeof(ph_plugin_t),
        .name = "t",
        .version = "1.0",
        .create = t_create,
        .handle = t_handle,
        .destroy = t_destroy,
    };
}

static void assert_has(const char *err, const char *what)
{
    ck_assert_msg(strstr(err, what) != NULL, "error \"%s\" does not mention \"%s\"", err, what);
}

/* "M.m" for the given numbers. */
static const char *ver(unsigned major, unsigned minor)
{
    static char buf[4][32];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, sizeof buf[0], "%u.%u", major, minor);
    return b;
}

/* One temporary folder per TCase, made and removed in the parent process
 * (unchecked fixture) so that a failed test leaves nothing behind. */
static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ph-test-plugin-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_path(const char *name)
{
    static char buf[4][128];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

/* Writes src's bytes over dst (truncating it in place, as cp does), with the
 * given mode for a new file. */
static void copy_file(const char *src, const char *dst, mode_t mode)
{
    int in = open(src, O_RDONLY);
    ck_assert_msg(in >= 0, "%s: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_msg(out >= 0, "%s: %s", dst, strerror(errno));
    char buf[8192];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    ck_assert_int_eq(n, 0);
    close(in);
    ck_assert_int_eq(close(out), 0);
}

static plugin_lib_t *open_ok(const char *path)
{
    char err[512] = "";
    plugin_lib_t *lib = NULL;
    ck_assert_msg(plugin_open(path, &lib, err, sizeof err) == 0, "%s refused: %s", path, err);
    ck_assert_ptr_nonnull(lib);
    ck_assert_ptr_nonnull(lib->desc);
    ck_assert_uint_eq(lib->refs, 1);
    ck_assert_str_eq(lib->path, path);
    return lib;
}

/* plugin_open() must refuse path with an error naming it. */
static void open_refused(const char *path, char *err, size_t errlen)
{
    plugin_lib_t *lib = NULL;
    err[0] = '\0';
    ck_assert_msg(plugin_open(path, &lib, err, errlen) == -1, "%s loaded", path);
    assert_has(err, path);
}

/* A zeroed table: create() of the plugins tested here only stores it. */
static const ph_server_api_t test_api = {.size = sizeof(ph_server_api_t), .abi_major = PH_ABI_MAJOR,
                                         .abi_minor = PH_ABI_MINOR, .server_version = "test"};

static int create(const plugin_lib_t *lib, const ph_kv_t *keys, size_t nkeys, void **inst, ph_error_t *err)
{
    ph_create_args_t args = {.size = sizeof args, .api = &test_api, .prefix = "/t", .config_dir = "/tmp",
                             .keys = keys, .nkeys = nkeys, .threads = 1};
    memset(err, 0, sizeof *err);
    err->key = -2;
    *inst = NULL;
    return lib->desc->create(&args, inst, err);
}

/* --- plugin_check ------------------------------------------------------ */

START_TEST(check_accepts_current)
{
    char err[512] = "";
    ph_plugin_t d = good_desc();
    ck_assert_msg(plugin_check(&d, "/p/t.so", err, sizeof err) == 0, "%s", err);
    d.size += 64; /* a bigger descriptor of the same minor is fine too */
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), 0);
}
END_TEST

START_TEST(check_bad_magic)
{
    char err[512] = "";
    ph_plugin_t d = good_desc();
    d.magic = 0x12345678u;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    assert_has(err, "/p/t.so");
    assert_has(err, "magic");
    d.magic = 0;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
}
END_TEST

START_TEST(check_next_major)
{
    char err[512] = "";
    ph_plugin_t d = good_desc();
    d.abi_major = PH_ABI_MAJOR + 1;
    d.abi_minor = 0;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    assert_has(err, "/p/t.so");
    assert_has(err, ver(PH_ABI_MAJOR + 1, 0));
    assert_has(err, ver(PH_ABI_MAJOR, PH_ABI_MINOR));
    /* an older major is just as foreign */
    d.abi_major = PH_ABI_MAJOR - 1;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    assert_has(err, ver(PH_ABI_MAJOR - 1, 0));
}
END_TEST

START_TEST(check_newer_minor)
{
    char err[512] = "";
    ph_plugin_t d = good_desc();
    d.abi_minor = PH_ABI_MINOR + 1;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    assert_has(err, "/p/t.so");
    assert_has(err, ver(PH_ABI_MAJOR, PH_ABI_MINOR + 1)); /* "1.2" */
    assert_has(err, ver(PH_ABI_MAJOR, PH_ABI_MINOR));     /* "1.1" */
}
END_TEST

/* Every older minor of the same major loads, with the descriptor size of
 * x.0 (later minors only append). */
START_TEST(check_older_minor)
{
    char err[512] = "";
    ph_plugin_t d = good_desc();
    for (unsigned minor = 0; minor <= PH_ABI_MINOR; minor++) {
        d.abi_minor = (uint16_t)minor;
        d.size = (uint32_t)V1_0_SIZE;
        ck_assert_msg(plugin_check(&d, "/p/t.so", err, sizeof err) == 0, "minor %u: %s", minor, err);
    }
}
END_TEST

START_TEST(check_too_small)
{
    char err[512] = "";
    ph_plugin_t d = good_desc();
    d.size = (uint32_t)offsetof(ph_plugin_t, destroy); /* stops before destroy */
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    assert_has(err, "/p/t.so");
    d.size = 0;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
}
END_TEST

START_TEST(check_missing_functions)
{
    char err[512] = "";
    ph_plugin_t d = good_desc();
    d.create = NULL;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    assert_has(err, "/p/t.so");
    d = good_desc();
    d.handle = NULL;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    d = good_desc();
    d.destroy = NULL;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
    d = good_desc();
    d.name = NULL;
    ck_assert_int_eq(plugin_check(&d, "/p/t.so", err, sizeof err), -1);
}
END_TEST

/* --- plugin_open on the fixtures --------------------------------------- */

START_TEST(open_bad_abi)
{
    char err[512];
    open_refused(FIXTURE("bad_abi"), err, sizeof err);
    assert_has(err, ver(PH_ABI_MAJOR + 1, 0));
    assert_has(err, ver(PH_ABI_MAJOR, PH_ABI_MINOR));
}
END_TEST

START_TEST(open_no_symbol)
{
    char err[512];
    open_refused(FIXTURE("no_symbol"), err, sizeof err);
    assert_has(err, PH_PLUGIN_SYMBOL);
}
END_TEST

START_TEST(open_missing_file)
{
    char err[512];
    open_refused(TEST_PLUGIN_DIR "/does_not_exist.so", err, sizeof err);
    assert_has(err, strerror(ENOENT));
}
END_TEST

/* A file that is not a shared object at all. */
START_TEST(open_not_elf)
{
    char err[512];
    const char *p = tmp_path("junk.so");
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    chmod(p, 0644);
    open_refused(p, err, sizeof err);
}
END_TEST

START_TEST(open_old_minor)
{
    plugin_lib_t *lib = open_ok(FIXTURE("old_minor"));
    ck_assert_str_eq(lib->desc->name, "old_minor");
    ck_assert_uint_eq(lib->desc->abi_minor, 0);
    ck_assert_uint_eq(lib->desc->size, V1_0_SIZE);
    ck_assert_uint_ne(lib->hash, 0);
    ck_assert_uint_eq(lib->hash, plugin_file_hash(FIXTURE("old_minor")));

    void *inst;
    ph_error_t err;
    ck_assert_int_eq(create(lib, NULL, 0, &inst, &err), PH_OK);
    ck_assert_ptr_nonnull(inst);
    lib->desc->destroy(inst);
    plugin_unref(lib);
}
END_TEST

START_TEST(open_refuse_create)
{
    plugin_lib_t *lib = open_ok(FIXTURE("refuse"));
    ck_assert_str_eq(lib->desc->name, "refuse");

    void *inst;
    ph_error_t err;
    const ph_kv_t ok[] = {{"ok", "yes"}};
    ck_assert_int_eq(create(lib, ok, 1, &inst, &err), PH_OK);
    ck_assert_ptr_nonnull(inst);
    lib->desc->destroy(inst);

    const ph_kv_t bad[] = {{"ok", "yes"}, {"ok", "yes"}, {"colour", "red"}};
    ck_assert_int_eq(create(lib, bad, 3, &inst, &err), PH_ERROR);
    ck_assert_int_eq(err.key, 2);
    assert_has(err.msg, "colour");

    const ph_kv_t badval[] = {{"ok", "no"}};
    ck_assert_int_eq(create(lib, badval, 1, &inst, &err), PH_ERROR);
    ck_assert_int_eq(err.key, 0);
    assert_has(err.msg, "no");
    plugin_unref(lib);
}
END_TEST

START_TEST(open_echo)
{
    plugin_lib_t *lib = open_ok(ECHO_PLUGIN);
    ck_assert_str_eq(lib->desc->name, "echo");

    void *inst;
    ph_error_t err;
    ck_assert_int_eq(create(lib, NULL, 0, &inst, &err), PH_OK);
    ck_assert_ptr_nonnull(inst);
    lib->desc->destroy(inst);

    const ph_kv_t bad[] = {{"status", "201"}, {"bogus", "1"}};
    ck_assert_int_eq(create(lib, bad, 2, &inst, &err), PH_ERROR);
    ck_assert_int_eq(err.key, 1);
    assert_has(err.msg, "bogus");
    plugin_unref(lib);
}
END_TEST

/* plugin_ref()/plugin_unref(): the library stays usable until the last
 * reference goes. */
START_TEST(open_refcount)
{
    plugin_lib_t *lib = open_ok(FIXTURE("refuse"));
    plugin_ref(lib);
    ck_assert_uint_eq(lib->refs, 2);
    plugin_unref(lib);
    ck_assert_uint_eq(lib->refs, 1);
    void *inst;
    ph_error_t err;
    ck_assert_int_eq(create(lib, NULL, 0, &inst, &err), PH_OK); /* code still mapped */
    lib->desc->destroy(inst);
    plugin_unref(lib);
    plugin_unref(NULL);
}
END_TEST

/* --- file checks ----------------------------------------------------------- */

START_TEST(file_group_writable_refused)
{
    char err[512];
    const char *p = tmp_path("gw.so");
    copy_file(FIXTURE("refuse"), p, 0644);
    ck_assert_int_eq(chmod(p, 0644), 0);
    plugin_unref(open_ok(p)); /* the same bytes load with a safe mode */

    ck_assert_int_eq(chmod(p, 0664), 0);
    open_refused(p, err, sizeof err);
    assert_has(err, "writable");

    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(plugin_check_file(fd, p, err, sizeof err), -1);
    assert_has(err, p);

    ck_assert_int_eq(chmod(p, 0646), 0); /* writable by others */
    ck_assert_int_eq(plugin_check_file(fd, p, err, sizeof err), -1);
    ck_assert_int_eq(chmod(p, 0755), 0);
    ck_assert_msg(plugin_check_file(fd, p, err, sizeof err) == 0, "%s", err);
    close(fd);
}
END_TEST

START_TEST(file_not_regular_refused)
{
    char err[512];
    int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(plugin_check_file(fd, tmpdir, err, sizeof err), -1);
    assert_has(err, tmpdir);
    assert_has(err, "regular");
    close(fd);

    ck_assert_int_eq(chmod(tmpdir, 0755), 0);
    open_refused(tmpdir, err, sizeof err);
}
END_TEST

/* Owned by someone else (neither root nor us): needs root to set up. */
START_TEST(file_foreign_owner_refused)
{
    char err[512];
    const char *p = tmp_path("foreign.so");
    copy_file(FIXTURE("refuse"), p, 0644);
    ck_assert_int_eq(chmod(p, 0644), 0);
    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(plugin_check_file(fd, p, err, sizeof err) == 0, "own file refused: %s", err);
    if (geteuid() == 0) {
        ck_assert_int_eq(fchown(fd, 65534, (gid_t)-1), 0);
        ck_assert_int_eq(plugin_check_file(fd, p, err, sizeof err), -1);
        assert_has(err, "65534");
    }
    close(fd);
}
END_TEST

START_TEST(file_hash)
{
    const char *p = tmp_path("h.bin"), *q = tmp_path("h2.bin");
    copy_file(FIXTURE("refuse"), p, 0644);
    copy_file(FIXTURE("refuse"), q, 0644);
    uint64_t h1 = plugin_file_hash(p);
    ck_assert_uint_ne(h1, 0);
    ck_assert_uint_eq(plugin_file_hash(q), h1); /* same bytes, same hash */

    /* flip one byte in the middle */
    int fd = open(p, O_RDWR);
    ck_assert_int_ge(fd, 0);
    off_t mid = lseek(fd, 0, SEEK_END) / 2;
    unsigned char c;
    ck_assert_int_eq(pread(fd, &c, 1, mid), 1);
    c ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &c, 1, mid), 1);
    ck_assert_uint_ne(plugin_file_hash(p), h1);
    c ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &c, 1, mid), 1);
    close(fd);
    ck_assert_uint_eq(plugin_file_hash(p), h1);

    ck_assert_uint_ne(plugin_file_hash(FIXTURE("old_minor")), h1);
    ck_assert_uint_eq(plugin_file_hash(tmp_path("missing")), 0);
}
END_TEST

/* --- reload: the same path, new bytes ---------------------------------- */

/* What a reload does: the old generation still holds the library while the
 * new one opens the same path, now holding a rebuilt plugin. The second
 * open must run the NEW code, and the old library must keep running the old
 * code. */
START_TEST(reopen_same_path_gets_new_code)
{
    const char *p = tmp_path("plug.so");
    copy_file(FIXTURE("old_minor"), p, 0644);
    ck_assert_int_eq(chmod(p, 0644), 0);
    plugin_lib_t *old = open_ok(p);
    ck_assert_str_eq(old->desc->name, "old_minor");

    copy_file(FIXTURE("refuse"), p, 0644); /* overwritten in place */
    plugin_lib_t *fresh = open_ok(p);
    ck_assert_str_eq(fresh->desc->name, "refuse");
    ck_assert_ptr_ne(fresh->desc, old->desc);
    ck_assert_uint_ne(fresh->hash, old->hash);
    ck_assert_uint_eq(fresh->hash, plugin_file_hash(p));

    /* the old library is untouched by the overwrite: its code still runs */
    ck_assert_str_eq(old->desc->name, "old_minor");
    void *inst;
    ph_error_t err;
    const ph_kv_t k[] = {{"ok", "yes"}};
    ck_assert_int_eq(create(old, k, 1, &inst, &err), PH_ERROR); /* old_minor takes no keys */
    ck_assert_int_eq(create(fresh, k, 1, &inst, &err), PH_OK);  /* refuse takes ok = yes */
    fresh->desc->destroy(inst);

    plugin_unref(old);
    plugin_unref(fresh);
}
END_TEST

/* The same, when the old library was released first. */
START_TEST(reopen_after_release_gets_new_code)
{
    const char *p = tmp_path("plug.so");
    copy_file(FIXTURE("old_minor"), p, 0644);
    ck_assert_int_eq(chmod(p, 0644), 0);
    plugin_lib_t *old = open_ok(p);
    ck_assert_str_eq(old->desc->name, "old_minor");
    plugin_unref(old);

    copy_file(FIXTURE("refuse"), p, 0644);
    plugin_lib_t *fresh = open_ok(p);
    ck_assert_str_eq(fresh->desc->name, "refuse");
    plugin_unref(fresh);
}
END_TEST

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

/* Loading and unloading, refused files included, leaves no descriptor
 * behind (a reload must not leak one per plugin). */
START_TEST(no_fd_leak)
{
    char err[512];
    int before = count_fds();
    for (int i = 0; i < 5; i++) {
        plugin_unref(open_ok(FIXTURE("refuse")));
        open_refused(FIXTURE("bad_abi"), err, sizeof err);
        open_refused(FIXTURE("no_symbol"), err, sizeof err);
        open_refused(TEST_PLUGIN_DIR "/does_not_exist.so", err, sizeof err);
    }
    ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* Two different plugins open at once, from two paths. */
START_TEST(two_plugins_at_once)
{
    plugin_lib_t *a = open_ok(FIXTURE("old_minor"));
    plugin_lib_t *b = open_ok(FIXTURE("refuse"));
    ck_assert_str_eq(a->desc->name, "old_minor");
    ck_assert_str_eq(b->desc->name, "refuse");
    plugin_unref(a);
    plugin_unref(b);
}
END_TEST

static Suite *plugin_suite(void)
{
    Suite *s = suite_create("plugin");

    TCase *check = tcase_create("plugin_check");
    tcase_add_test(check, check_accepts_current);
    tcase_add_test(check, check_bad_magic);
    tcase_add_test(check, check_next_major);
    tcase_add_test(check, check_newer_minor);
    tcase_add_test(check, check_older_minor);
    tcase_add_test(check, check_too_small);
    tcase_add_test(check, check_missing_functions);
    suite_add_tcase(s, check);

    TCase *open = tcase_create("plugin_open");
    tcase_add_unchecked_fixture(open, setup, teardown);
    tcase_add_test(open, open_bad_abi);
    tcase_add_test(open, open_no_symbol);
    tcase_add_test(open, open_missing_file);
    tcase_add_test(open, open_not_elf);
    tcase_add_test(open, open_old_minor);
    tcase_add_test(open, open_refuse_create);
    tcase_add_test(open, open_echo);
    tcase_add_test(open, open_refcount);
    tcase_add_test(open, two_plugins_at_once);
    tcase_add_test(open, no_fd_leak);
    suite_add_tcase(s, open);

    TCase *file = tcase_create("files");
    tcase_add_unchecked_fixture(file, setup, teardown);
    tcase_add_test(file, file_group_writable_refused);
    tcase_add_test(file, file_not_regular_refused);
    tcase_add_test(file, file_foreign_owner_refused);
    tcase_add_test(file, file_hash);
    suite_add_tcase(s, file);

    TCase *reload = tcase_create("reload");
    tcase_add_unchecked_fixture(reload, setup, teardown);
    tcase_add_test(reload, reopen_same_path_gets_new_code);
    tcase_add_test(reload, reopen_after_release_gets_new_code);
    suite_add_tcase(s, reload);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plugin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
