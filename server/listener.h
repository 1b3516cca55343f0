/*
 * Listening sockets: bind, listen, name. No HTTP here. A listener's fd is
 * shared by every worker loop (registered with EPOLLEXCLUSIVE), so a port
 * given as 0 is bound once and all threads accept on the same socket.
 *
 * Socket activation (sd_listen_fds(3), systemd.socket(5)): the service
 * manager may bind the sockets itself and pass them as fds 3, 4, ... with
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. listener_adopt() takes them
 * once at start-up; from then on listener_open() uses a passed socket whose
 * address equals the listen line's instead of binding one. Passed sockets
 * belong to this module for the life of the process: a listener only
 * borrows one, and closing or stopping it never closes or shuts down the
 * socket, because the service manager holds the same socket and keeps
 * queueing connections on it across restarts.
 */
#ifndef PH_LISTENER_H
#define PH_LISTENER_H

#include <sys/socket.h>

#include "config.h"

typedef struct listener {
    char *text;      /* the config's spelling, used to match across reloads */
    char name[128];  /* actual address, "127.0.0.1:41234", "unix:/run/x" */
    /* Every accepted connection's local address as api->local() writes it
     * ("127.0.0.1:41234", "unix"), when the socket is bound to one address;
     * "" for a wildcard address, where each connection asks the kernel. */
    char local[56];
    int fd;
    int family;
    char *unix_path; /* unlinked on close, for unix sockets we created */
    int passed;      /* 1: borrowed from the sockets the service manager passed */
    int unix_mode;   /* the access last applied to unix_path (cfg_listen_t) */
    uid_t unix_uid;
    gid_t unix_gid;
} listener_t;

/* Binds and listens (non-blocking), or borrows the passed socket whose
 * address matches cl (see listener_adopt): the same family, address and
 * port, or the same unix path; a dual-stack [::]:PORT socket (what
 * ListenStream=PORT binds) also matches "PORT" / "0.0.0.0:PORT" when no
 * passed socket has that address exactly. Several listeners may borrow one
 * socket (a reload spelling the address differently). Returns 0, or -1
 * with err filled. */
int listener_open(const cfg_listen_t *cl, listener_t *l, char *err, size_t errlen);
/* Gives a unix socket we bound the mode, owner and group of cl (see
 * cfg_listen_t); listener_open() does it between bind and listen, so no
 * client connects before. For a listener kept across a reload whose line
 * changed them. Changing the owner needs root (or the owner's own id);
 * returns 0, or -1 with err filled and the access partly applied. A
 * borrowed socket is left alone: its socket unit's SocketMode=,
 * SocketUser= and SocketGroup= apply. */
int listener_set_access(listener_t *l, const cfg_listen_t *cl, char *err, size_t errlen);
/* 1 when cl asks for another mode, owner or group than l has. */
int listener_access_differs(const listener_t *l, const cfg_listen_t *cl);
/* Closes a socket we bound. A borrowed one stays open, unused, until a
 * later listener_open() of its address takes it again: the service manager
 * holds it too, so closing our copy would not free the address anyway. */
void listener_close(listener_t *l);
/* Makes the listener refuse new connections at once (at shutdown): a
 * socket we bound is shut down, so pending handshakes are refused rather
 * than left waiting for nobody. A passed socket is left listening: its
 * connections wait in the backlog for the next start of the service. */
void listener_stop(listener_t *l);
/* TCP_DEFER_ACCEPT: wake accept() only once a request's first bytes are in
 * (0 turns it off). A connection that sends nothing is handed over after
 * about that many seconds anyway. Unix sockets have no such option, and a
 * socket passed by systemd keeps what its unit set (DeferAcceptSec=). */
void listener_set_defer(listener_t *l, int seconds);
/* From now on listener_close() leaves unix socket paths in place (worker
 * processes: the master owns the paths). */
void listener_keep_paths(void);

/* Start-up, before any thread or plugin exists: if LISTEN_PID is this
 * process, takes the LISTEN_FDS sockets starting at fd 3, checks that each
 * is a listening stream socket (TCP or unix), marks them close-on-exec and
 * non-blocking. Unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in every
 * case, so worker processes and plugins never see them. Returns the number
 * of sockets taken (0 without socket activation; then err holds a note for
 * the log when the variables named another process, else ""), or -1 with
 * err filled (naming the fd and what is wrong with it). */
int listener_adopt(char *err, size_t errlen);
/* Checks that every passed socket matches one of the n listen lines (the
 * rules of listener_open). Returns 0, or -1 with err naming the first
 * socket that matches none and the line that would. */
int listener_check_passed(const cfg_listen_t *ls, size_t n, char *err, size_t errlen);
/* For the start-up log: " (passed by systemd: fd 3 \"http\")" for a
 * borrowed socket, "" for one we bound. */
const char *listener_origin(const listener_t *l, char *buf, size_t size);
/* Closes the passed sockets and forgets them (at exit, after every
 * listener is closed). */
void listener_release_passed(void);

/* Formats a peer or local address: "1.2.3.4:5", "[::1]:5", "unix". */
void listener_format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

#endif
