/*
 * libFuzzer harness for plugins/static/static_range.c (the Range header).
 *
 * The first 8 bytes of the input choose the representation size (so sizes
 * near 0, near INT64_MAX and everything between are explored); the rest is
 * the header value, copied to an exact-size buffer so ASan sees any read
 * past its end. Checks the contract of sr_parse() in static_range.h.
 */
#include "static_range.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t raw = 0;
    int64_t fsize, start = -1, length = -1;
    size_t i, n = size < 8 ? size : 8;
    sr_result_t r;
    char *value;

    for (i = 0; i < n; i++)
        raw = raw << 8 | data[i];
    /* Any non-negative size; small ones are the interesting edge cases. */
    fsize = (int64_t)(raw >> 1);
    if (n > 0 && data[0] < 0x80)
        fsize = (int64_t)(raw % 4096);
    data += n;
    size -= n;

    value = malloc(size ? size : 1);
    memcpy(value, data, size);
    r = sr_parse(value, size, fsize, &start, &length);
    REQUIRE(r == SR_IGNORE || r == SR_MULTI || r == SR_OK || r == SR_UNSATISFIABLE);
    if (r == SR_OK) {
        REQUIRE(start >= 0 && length > 0);
        REQUIRE(start < fsize && length <= fsize - start);
    }
    if (fsize == 0)
        REQUIRE(r != SR_OK);
    free(value);
    return 0;
}
