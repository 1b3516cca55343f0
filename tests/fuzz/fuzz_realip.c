/*
 * libFuzzer harness for server/realip.c: the X-Forwarded-For and
 * Forwarded walks and the X-Request-Id check over fields a client chose.
 *
 * Byte 0: bit 0 picks the header (X-Forwarded-For, Forwarded); the rest,
 * split at '\n', are the successive fields' values (each copied to its own
 * exact-size buffer, so a read past a field is an ASan report), given to
 * both the walk and the request-id check under the field names they read.
 * Properties checked:
 *  - a client found is an IPv4 or IPv6 address whose text, as api->peer()
 *    gets it, fits the 56 bytes the request keeps and parses back;
 *  - an accepted request id is 1..REALIP_REQUEST_ID_MAX visible bytes.
 */
#include "realip.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_FIELDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum realip_header kind = (data[0] & 1) ? REALIP_FORWARDED : REALIP_XFF;
    const char *name = kind == REALIP_XFF ? "X-Forwarded-For" : "Forwarded";
    /* one buffer: name, value, name, value ... each field laid out as the
     * parser would leave it, the whole head exactly as long as needed */
    size_t nlen = strlen(name), cap = 0, n = 0;
    const uint8_t *p = data + 1, *end = data + size;
    for (const uint8_t *q = p; q <= end && n < MAX_FIELDS; n++) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        const uint8_t *e = nl ? nl : end;
        cap += nlen + 12 + (size_t)(e - q);
        q = e + 1;
        if (!nl)
            break;
    }
    char *head = malloc(cap ? cap : 1);
    hp_header_t h[2 * MAX_FIELDS];
    unsigned nh = 0;
    size_t off = 0;
    for (const uint8_t *q = p; q <= end && nh < 2 * MAX_FIELDS;) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        const uint8_t *e = nl ? nl : end;
        size_t vl = (size_t)(e - q);
        /* the same value under both names: the walk reads one, the id
         * check the other */
        const char *names[2] = {name, "X-Request-Id"};
        for (int k = 0; k < 2 && nh < 2 * MAX_FIELDS; k++) {
            size_t kl = k ? 12 : nlen;
            if (off + kl + vl > cap)
                break;
            memcpy(head + off, names[k], kl);
            h[nh].name = (hp_span_t){(uint32_t)off, (uint32_t)kl};
            off += kl;
            memcpy(head + off, q, vl);
            h[nh].value = (hp_span_t){(uint32_t)off, (uint32_t)vl};
            off += vl;
            nh++;
        }
        if (!nl)
            break;
        q = e + 1;
    }

    static cidr_t ranges[2];
    static int ready;
    if (!ready) {
        cidr_parse("10.0.0.0/8", &ranges[0]);
        cidr_parse("2001:db8::/32", &ranges[1]);
        ready = 1;
    }
    for (int t = 0; t < 2; t++) {
        realip_trust_t trust = {ranges, t ? 2 : 0, 0};
        realip_addr_t a;
        if (realip_client(kind, head, h, nh, &trust, &a)) {
            REQUIRE(a.family == AF_INET || a.family == AF_INET6);
            REQUIRE(a.port <= 65535);
            char text[56], ip[64];
            size_t len = realip_format(&a, text, sizeof text);
            REQUIRE(len > 0 && len < sizeof text && strlen(text) == len);
            /* the address part parses back to the same bytes */
            const char *s = text + (a.family == AF_INET6);
            const char *colon = a.family == AF_INET6 ? strchr(s, ']') : strrchr(s, ':');
            REQUIRE(colon != NULL && (size_t)(colon - s) < sizeof ip);
            memcpy(ip, s, (size_t)(colon - s));
            ip[colon - s] = '\0';
            unsigned char back[16];
            REQUIRE(inet_pton(a.family, ip, back) == 1);
            REQUIRE(memcmp(back, a.addr, a.family == AF_INET ? 4 : 16) == 0);
        }
    }
    size_t ioff, ilen;
    if (realip_request_id(head, h, nh, &ioff, &ilen)) {
        REQUIRE(ilen >= 1 && ilen <= REALIP_REQUEST_ID_MAX && ioff + ilen <= off);
        for (size_t i = 0; i < ilen; i++)
            REQUIRE(head[ioff + i] > 0x20 && head[ioff + i] < 0x7f);
    }
    free(head);
    return 0;
}
