/*
 * MySQL/MariaDB connection URIs of the data plugin's `database` key:
 *
 *   mysql://[USER[:PASSWORD]@][HOST][:PORT]/DATABASE[?socket=PATH]
 *   mariadb://...  (the same)
 *
 * USER, PASSWORD, DATABASE and PATH are percent-decoded, so any byte can be
 * written (%40 for '@', %3A for ':', %2F for '/'). HOST is a name, an IPv4
 * address or an IPv6 address in brackets; without HOST (or with
 * "localhost") the connector uses its default unix socket unless socket=
 * names one. PORT defaults to the connector's (3306). DATABASE is required:
 * the exposed tables are looked up there. No other query parameter is
 * accepted, so a misspelt one is an error rather than silently ignored.
 * Pure: no network, no files.
 */
#ifndef DATA_MYURI_H
#define DATA_MYURI_H

#include <stddef.h>

/* The parts of a URI, each malloc'd and NUL-terminated, NULL when absent
 * (database is never NULL after a successful parse). */
typedef struct data_myuri {
    char *user, *password, *host, *database, *socket;
    unsigned port; /* 0: the connector's default */
} data_myuri_t;

/* Parses uri into *out. PH_OK, or PH_ERROR with a message in err (which
 * never contains the password) and *out empty. Free with data_myuri_free
 * after PH_OK. */
int data_myuri_parse(const char *uri, data_myuri_t *out, char *err, size_t errlen);

void data_myuri_free(data_myuri_t *u);

#endif
