/*
 * auth_cred: the credentials of an "Authorization: Basic ..." header
 * (RFC 7617). Pure.
 */
#ifndef AUTH_CRED_H
#define AUTH_CRED_H

#include <stddef.h>

/* Decodes the header value v[0..len) ("Basic" in any case, blanks, then
 * base64 of "user:password") into buf[0..cap) as "user\0password\0" and
 * points *user and *pass there. 0, or -1 when the scheme is not Basic,
 * the base64 is malformed, there is no ':', the user is empty, either part
 * holds a control byte, or it does not fit. */
int auth_cred_parse(const char *v, size_t len, char *buf, size_t cap, const char **user, const char **pass);

#endif
