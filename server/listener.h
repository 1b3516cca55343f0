/*
 * Listening sockets: bind, listen, name. No HTTP here. A listener's fd is
 * shared by every worker loop (registered with EPOLLEXCLUSIVE), so a port
 * given as 0 is bound once and all threads accept on the same socket.
 */
#ifndef PH_LISTENER_H
#define PH_LISTENER_H

#include <sys/socket.h>

#include "config.h"

typedef struct listener {
    char *text;      /* the config's spelling, used to match across reloads */
    char name[128];  /* actual address, "127.0.0.1:41234", "unix:/run/x" */
    int fd;
    int family;
    char *unix_path; /* unlinked on close, for unix sockets we created */
} listener_t;

/* Binds and listens (non-blocking). Returns 0, or -1 with err filled. */
int listener_open(const cfg_listen_t *cl, listener_t *l, char *err, size_t errlen);
void listener_close(listener_t *l);
/* TCP_DEFER_ACCEPT: wake accept() only once a request's first bytes are in
 * (0 turns it off). A connection that sends nothing is handed over after
 * about that many seconds anyway. */
void listener_set_defer(listener_t *l, int seconds);
/* From now on listener_close() leaves unix socket paths in place (worker
 * processes: the master owns the paths). */
void listener_keep_paths(void);

/* Formats a peer or local address: "1.2.3.4:5", "[::1]:5", "unix". */
void listener_format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

#endif
