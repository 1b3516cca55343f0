/*
 * The status plugin's metrics: a snapshot written as Prometheus text
 * (status_expo). Every metric is this process's own (see README.md).
 */
#ifndef STATUS_METRICS_H
#define STATUS_METRICS_H

#include "status_buf.h"
#include "status_snap.h"

/* Appends every metric family of s to b. */
void metrics_write(stbuf_t *b, const snap_t *s, const char *version);

#endif
