/*
 * libFuzzer harness for the request-path checks: hp_path_normalize()
 * (server/http_parse.c) followed by sp_check() (plugins/static/static_path.c),
 * the two steps a request path passes before the static plugin opens it.
 *
 * The first input byte picks the sp_check() flags; the rest is the raw path,
 * copied to an exact-size buffer. Properties checked:
 *  - a normalised path never grows, starts with '/' and has no "." or ".."
 *    segment and no control byte;
 *  - normalising is idempotent once no '%' is left (decoding happens once);
 *  - whatever sp_check() accepts holds no NUL, no backslash and no ".."
 *    component, and without SP_ALLOW_DOTFILES no component starting with '.'
 *    (but a first ".well-known" with SP_ALLOW_WELL_KNOWN).
 */
#include "http_parse.h"
#include "static_path.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* What sp_check() promises, checked independently of its code. */
static void check_accepted(const char *p, size_t len, unsigned flags)
{
    size_t i = 0;
    int first = 1;

    REQUIRE(memchr(p, '\0', len) == NULL && memchr(p, '\\', len) == NULL);
    while (i < len) {
        size_t e = i;

        while (e < len && p[e] != '/')
            e++;
        if (e > i) {
            REQUIRE(!(e - i == 2 && p[i] == '.' && p[i + 1] == '.'));
            /* only ".well-known", only first, only when allowed */
            if (!(flags & SP_ALLOW_DOTFILES) && p[i] == '.')
                REQUIRE((flags & SP_ALLOW_WELL_KNOWN) && first && e - i == 11
                        && memcmp(p + i, ".well-known", 11) == 0);
            first = 0;
        }
        i = e + 1;
    }
}

static void check_normalised(const char *out, size_t n, size_t size)
{
    size_t i;

    REQUIRE(n >= 1 && n <= size && out[0] == '/');
    for (i = 0; i < n; i++) {
        size_t e = i + 1;

        REQUIRE((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
        if (out[i] != '/')
            continue;
        while (e < n && out[e] != '/')
            e++;
        REQUIRE(!(e - i == 2 && out[i + 1] == '.'));
        REQUIRE(!(e - i == 3 && out[i + 1] == '.' && out[i + 2] == '.'));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned flags;
    char *in, *out, *again;
    size_t n = 0, n2 = 0;

    if (size < 1)
        return 0;
    flags = (data[0] & 1 ? SP_ALLOW_DOTFILES : 0) | (data[0] & 2 ? SP_ALLOW_WELL_KNOWN : 0);
    data++;
    size--;
    in = malloc(size ? size : 1);
    memcpy(in, data, size);

    /* sp_check() alone: it is also called on paths the core has decoded. */
    if (sp_check(in, size, flags) == 0)
        check_accepted(in, size, flags);

    out = malloc(size ? size : 1);
    if (hp_path_normalize(in, size, out, &n) == HP_OK) {
        check_normalised(out, n, size);
        if (memchr(out, '%', n) == NULL) {
            again = malloc(n);
            REQUIRE(hp_path_normalize(out, n, again, &n2) == HP_OK);
            REQUIRE(n2 == n && memcmp(again, out, n) == 0);
            free(again);
        }
        if (sp_check(out, n, flags) == 0)
            check_accepted(out, n, flags);
        /* In place must give the same answer as out of place. */
        memcpy(in, data, size);
        REQUIRE(hp_path_normalize(in, size, in, &n2) == HP_OK);
        REQUIRE(n2 == n && memcmp(in, out, n) == 0);
    }
    free(out);
    free(in);
    return 0;
}
