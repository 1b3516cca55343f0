/* processes = N: fork and supervise worker processes (see master.c). */
#ifndef PH_MASTER_H
#define PH_MASTER_H

#include "server.h"

/* Runs the master loop over n worker processes until SIGTERM/SIGINT; s was
 * set up by server_start(). Returns the exit status. */
int master_run(server_t *s, unsigned n);

#endif
