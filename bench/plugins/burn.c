/*
 * burn: a CPU-bound handler for bench/run's thread-scaling scenario (t).
 *
 * Every request runs a fixed amount of pure computation, a multiply-xorshift
 * mix over a small array on the stack (no memory traffic beyond L1, no
 * system calls, no locks), and answers 200 with the result as a short
 * text/plain body, "burn ROUNDS HEX\n". The result depends on every round and
 * goes into the response, so the compiler cannot drop the work. The same
 * rounds always give the same body, which lets the benchmark check it.
 *
 * The point is to make the server, not the client, the side that runs out of
 * CPU: at a few tens of microseconds per request the server needs many
 * times the CPU wrk spends on the same request.
 *
 * It is built like a third-party plugin: outside the tree, with only
 * <plughttpd/plugin.h> and `pkg-config --cflags plughttpd-plugin`.
 *
 * Route keys:
 *   rounds = N   passes over the array per request, 1 to 10000000
 *                (default 1000); the cost grows linearly with N
 */
#include <plughttpd/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BURN_WORDS 32 /* 256 bytes of state: stays in L1 */
#define BURN_ROUNDS_MAX 10000000L

/* --- instance ----------------------------------------------------------- */

/* Written by create() only: handle() runs on several threads at once. */
typedef struct burn {
    const ph_server_api_t *api;
    unsigned long rounds;
} burn_t;

/* --- create: parse and validate the route's keys ------------------------ */

__attribute__((format(printf, 2, 3))) static int refuse(ph_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return PH_ERROR;
}

static int parse_rounds(const char *s, unsigned long *rounds, ph_error_t *err)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (!(*s >= '0' && *s <= '9') || *end != '\0' || n < 1 || n > BURN_ROUNDS_MAX)
        return refuse(err, "rounds must be a number from 1 to %ld, not \"%s\"", BURN_ROUNDS_MAX, s);
    *rounds = (unsigned long)n;
    return PH_OK;
}

static int burn_create(const ph_create_args_t *args, void **instance, ph_error_t *err)
{
    unsigned long rounds = 1000;
    for (size_t i = 0; i < args->nkeys; i++) {
        const ph_kv_t *kv = &args->keys[i];
        int rc = strcmp(kv->key, "rounds") == 0 ? parse_rounds(kv->value, &rounds, err)
                                                : refuse(err, "unknown key \"%s\"", kv->key);
        if (rc != PH_OK) {
            err->key = (int)i;
            return PH_ERROR;
        }
    }
    burn_t *b = malloc(sizeof(*b));
    if (!b) {
        err->key = -1;
        return refuse(err, "out of memory");
    }
    b->api = args->api; /* valid until destroy() returns */
    b->rounds = rounds;
    *instance = b;
    return PH_OK;
}

/* --- handle: compute, then answer --------------------------------------- */

static uint64_t rotl(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* Each step depends on the one before (a serial multiply chain), so the
 * cost per round is fixed by latency and does not vary with how well the
 * loop vectorises. */
static uint64_t burn_mix(unsigned long rounds)
{
    uint64_t state[BURN_WORDS];
    uint64_t x = 0x9e3779b97f4a7c15u ^ rounds;
    for (unsigned i = 0; i < BURN_WORDS; i++)
        state[i] = x += 0x9e3779b97f4a7c15u;
    for (unsigned long r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < BURN_WORDS; i++) {
            x = (rotl(x, 23) ^ state[i]) * 0xbf58476d1ce4e5b9u;
            state[i] = x ^ (x >> 31);
        }
    }
    return x;
}

static int burn_handle(void *instance, ph_request_t *req)
{
    const burn_t *b = instance;
    uint64_t result = burn_mix(b->rounds);
    if (b->api->add_header(req, "Content-Type", "text/plain; charset=utf-8") != PH_OK)
        return PH_ERROR;
    return b->api->body_printf(req, "burn %lu %016llx\n", b->rounds, (unsigned long long)result);
}

/* --- destroy ------------------------------------------------------------ */

static void burn_destroy(void *instance)
{
    free(instance);
}

/* --- descriptor --------------------------------------------------------- */

PH_PLUGIN_DEFINE("burn", "1.0", 0, burn_create, burn_handle, burn_destroy);
