/*
 * The [tls] and [certificate NAME] sections of server.ini (config.c reads
 * the file and calls these for their keys). Values are checked for form
 * here; the files they name are read when a generation is built (tls.c).
 */
#ifndef PH_CONFIG_TLS_H
#define PH_CONFIG_TLS_H

#include <stddef.h>

#include "config.h"

/* Mozilla's "intermediate" profile: TLS 1.2 and 1.3, these suites,
 * X25519/P-256/P-384. The server's order is preferred (the profile leaves
 * it to the client; testssl.sh reports that as "NOT ok", and with only
 * strong suites listed the server's order costs clients nothing), except
 * that a client preferring ChaCha20 (no AES instructions) gets it. */
#define CFG_TLS_CIPHERS                                                                                 \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"         \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"           \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define CFG_TLS_CIPHERSUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define CFG_TLS_GROUPS "X25519:prime256v1:secp384r1"

/* A new section: [tls] (name NULL) or [certificate NAME]. Returns the
 * index of the certificate its keys fill, or -1 with why filled (a second
 * [tls], a repeated NAME). */
int cfg_tls_section(cfg_tls_t *t, const char *name, int line, char *why, size_t whylen);
/* One key of the section whose certificate index cfg_tls_section() gave
 * (0 is [tls]). dir: the config's folder, for relative paths. 0, or -1
 * with why filled. */
int cfg_tls_key(cfg_tls_t *t, int cert, const char *dir, const char *name, const char *value, int line,
                char *why, size_t whylen);
/* After the whole file: a "tls" listener needs [tls] with a certificate
 * and key, every [certificate] section both of its files. 0, or -1 with
 * why and *line filled. */
int cfg_tls_finish(const cfg_t *cfg, int *line, char *why, size_t whylen);
void cfg_tls_free(cfg_tls_t *t);

#endif
