/* HTTP dates (IMF-fixdate, RFC 9110 section 5.6.7). */
#ifndef PH_HTTPDATE_H
#define PH_HTTPDATE_H

#include <stddef.h>
#include <time.h>

#define HTTPDATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes exactly HTTPDATE_LEN bytes plus a NUL into buf (size >= 30). */
void httpdate_format(time_t t, char *buf);

/* Combined Log Format time: "[10/Oct/2000:13:55:36 +0000]" (28 bytes + NUL). */
void httpdate_clf(time_t t, char *buf);

#endif
