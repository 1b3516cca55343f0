/*
 * The status page's data: a snapshot as a small JSON object (see
 * README.md for its fields), which the page polls.
 */
#ifndef STATUS_JSON_H
#define STATUS_JSON_H

#include "status_buf.h"
#include "status_snap.h"

void json_write(stbuf_t *b, const snap_t *s);
/* s as a JSON string, quotes included: ", \ and control characters
 * escaped. */
void json_string(stbuf_t *b, const char *s);

#endif
