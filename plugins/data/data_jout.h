/*
 * JSON text of the API's answers: jansson's compact form, except that raw
 * values (data_num.h) are written verbatim and reals take their shortest
 * spelling that reads back as the same double (0.1, not
 * 0.10000000000000001).
 */
#ifndef DATA_JOUT_H
#define DATA_JOUT_H

#include <jansson.h>

/* Writes j through put (json_dump_callback's contract). 0, or -1 when put
 * failed or a string is not valid UTF-8. */
int data_jout_dump(const json_t *j, json_dump_callback_t put, void *arg);

/* The same into a malloc'd NUL-terminated string; NULL on failure. */
char *data_jout_dumps(const json_t *j);

#endif
