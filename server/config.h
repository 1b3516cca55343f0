/*
 * server.ini -> an immutable configuration. The only inih caller.
 *
 * cfg_load() reads the whole file, checks every key, and either returns a
 * complete cfg_t or fails with one message "FILE:LINE: what is wrong" in the
 * caller's buffer. Nothing is applied here: the caller builds a generation
 * from the result (see gen.h). All strings are owned by the cfg_t.
 */
#ifndef PH_CONFIG_H
#define PH_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cidr.h"

typedef struct cfg_listen {
    char *text;                  /* as written: "127.0.0.1:8080", "unix:/x" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int line;
    /* A unix socket's file, set after bind and before listen (the options
     * "mode=", "owner=", "group=" after the address); -1: left as created.
     * Unset, owner is [server] user and group is [server] group, else that
     * user's primary group: a socket bound as root before dropping
     * privileges belongs to the user the server runs as. */
    int unix_mode;
    uid_t unix_uid;
    gid_t unix_gid;
    /* "tls": connections speak TLS ([tls] holds the certificates).
     * "https-redirect[=PORT]" (plain listeners): every request is answered
     * with a redirect to https://HOST[:PORT]/target; 0 = off, else PORT. */
    int tls;
    int https_redirect;
    /* "h2c": HTTP/2 with prior knowledge (RFC 9113 section 3.3) besides
     * HTTP/1.1, for a listener behind a proxy that speaks it */
    int h2c;
    /* "proxy_protocol": each connection starts with a PROXY protocol
     * header (v1 or v2) from the load balancer in front, naming the client */
    int proxy_protocol;
} cfg_listen_t;

/* A certificate chain and its key: [tls]'s own (the default) or a
 * [certificate NAME] section's, chosen by SNI for its host names. */
typedef struct cfg_cert {
    char *label;        /* "default" or the section's NAME */
    char *chain, *key;  /* absolute paths */
    char **hosts;       /* "hosts =": names it serves; NULL: its own names */
    size_t nhosts;
    int line, chain_line, key_line;
} cfg_cert_t;

/* [tls]: settings shared by every TLS listener and certificate. */
typedef struct cfg_tls {
    int line;             /* of [tls]; 0: no such section */
    cfg_cert_t *certs;    /* [0]: [tls]'s certificate, the default */
    size_t ncerts;
    int min_version, max_version; /* "protocols =": TLS1_2_VERSION.. */
    char *ciphers;        /* TLS 1.2 cipher list (OpenSSL syntax) */
    char *ciphersuites;   /* TLS 1.3 suites */
    char *groups;         /* key exchange groups */
    int prefer_server_ciphers;
    uint64_t handshake_timeout;  /* ms */
    int tickets;          /* session tickets on */
    char *ticket_key_file;/* absolute; NULL: a random secret per start */
    uint64_t ticket_rotation;    /* ms */
    unsigned session_cache;      /* sessions kept per process; 0 = off */
    char *hsts;           /* Strict-Transport-Security value; NULL = none */
    int http2;            /* offer h2 by ALPN */
} cfg_tls_t;

typedef struct cfg_kv {
    char *key;
    char *value;
    int line;
} cfg_kv_t;

/* One plugin of a route's "plugin =" list. Its role (content handler,
 * access stage, output filter) comes from its descriptor, so the
 * generation decides it (gen.c), not the configuration. */
typedef struct cfg_stage {
    char *name;         /* the item's file name without ".so": "auth" for
                           "auth" and for "./lib/auth.so"; keys "auth.x" */
    char *plugin;       /* the item as written */
    char *path;         /* resolved file name */
    cfg_kv_t *keys;     /* its "name.key" keys, "name." removed, in order */
    size_t nkeys;
} cfg_stage_t;

typedef struct cfg_route {
    char *host;         /* [route HOST/prefix]: "example.com" or
                           "*.example.com" (lower case, no trailing dot);
                           NULL: [route /prefix], the default host's */
    char *prefix;       /* normalised: "/" or "/a/b" without trailing slash */
    size_t prefix_len;
    char *name;         /* host and prefix as messages name the route:
                           "example.com/api", "/api" */
    char *plugin;       /* the "plugin =" value as written */
    char *plugin_path;  /* the first listed plugin's file (stages[0].path) */
    int blocking;       /* "blocking = yes": run handle() off the loop */
    int coroutine;      /* "coroutine = yes": run handle() on a coroutine */
    size_t coroutine_stack; /* "coroutine_stack =": 0 = the default */
    int line;           /* of the [route] header */
    int plugin_line;
    cfg_kv_t *keys;     /* bare keys, in order: the content handler's (with
                           its own "name.key" keys, see cfg_stage_t). With
                           one plugin, a dotted key naming no listed plugin
                           is bare too, as before stacks existed. */
    size_t nkeys;
    cfg_stage_t *stages; /* the "plugin =" list, in order (>= 1) */
    size_t nstages;
    size_t max_body_bytes; /* "max_body_bytes =" of the route ... */
    int max_body_line;     /* ... when this is not 0; else [server]'s */
    size_t body_spill;     /* "body_spill =": 0 = bodies stay in memory */
    int body_spill_line;   /* 0: not in the section */
} cfg_route_t;

typedef struct cfg {
    char *path;         /* the ini file as given */
    char *dir;          /* its folder, absolute */

    cfg_listen_t *listens;
    size_t nlistens;
    unsigned threads;   /* >= 1 */
    unsigned processes; /* worker processes under a master; 0: none,
                           the one process serves (no supervision) */
    unsigned crash_limit;  /* crashes of one route within crash_window that
                              quarantine it (processes > 1); 0: never */
    uint64_t crash_window; /* ms */
    uint64_t worker_stall_timeout; /* ms a worker process's heartbeat may be
                                      stale before the master kills it; 0:
                                      never (processes >= 1) */
    unsigned blocking_threads;
    unsigned blocking_queue;
    char *plugin_dir;   /* absolute */
    char *access_log;   /* "-", "off" or an absolute path */
    char *server_header; /* the Server field's value; NULL: sent without one */
    struct log_format *log_format; /* access_log_format, compiled; NULL: combined */
    char *error_log;    /* "-" or an absolute path */
    int log_level;
    char *user, *group, *pid_file;
    int access_log_line, error_log_line, pid_file_line; /* 0: not in the file */
    int user_line, group_line;

    /* limits (bytes) and timeouts (milliseconds) */
    uint64_t header_timeout, body_timeout, keepalive_timeout, send_timeout, shutdown_timeout;
    uint64_t handler_timeout; /* a blocking handler's time before 504; 0 = none */
    /* A request body must average body_min_rate bytes/s (0 = no minimum)
     * once body_rate_grace has passed since its head was complete. */
    size_t body_min_rate;
    uint64_t body_rate_grace;
    size_t max_header_bytes, max_uri_bytes, max_body_bytes;
    size_t send_buffer; /* SO_SNDBUF of each connection; 0: the kernel's autotuning */
    unsigned max_connections;
    unsigned max_keepalive_requests;
    /* HTTP/2: streams a client may have open at once, and each stream's
     * receive window (the request body bytes it may send ahead of the
     * plugin reading them: a paused body holds at most this much) */
    unsigned http2_max_streams;
    size_t http2_window;
    int defer_accept;   /* seconds of TCP_DEFER_ACCEPT, 0 = off */
    /* Connections one client address may hold open in this process at
     * once (addrcount.h says how addresses are counted); 0 = no cap. */
    unsigned max_connections_per_address;

    /* Proxies in front whose word on the client is taken (realip.h):
     * "trusted_proxies =" ranges, which may be given on several lines,
     * each adding to the list; "unix" trusts peers on unix sockets. */
    cidr_t *trusted;
    size_t ntrusted;
    int trust_unix;
    int real_ip_header;  /* enum realip_header: the client's address from */
    int send_request_id; /* "send_request_id = yes": X-Request-Id on answers */

    cfg_route_t *routes;
    size_t nroutes;
    /* "unknown_host =": the answer to a request for a host no [route
     * HOST/prefix] section names, when some do: 0 (the default host's
     * routes), 404 or 421 */
    int unknown_host;

    cfg_tls_t tls;
} cfg_t;

/* Returns 0 and *out, or -1 with err filled ("server.ini:12: ..."). */
int cfg_load(const char *path, cfg_t **out, char *err, size_t errlen);
void cfg_free(cfg_t *cfg);

/* Parsers shared with the command line and, through the plugin API, with
 * plugins, so every key of server.ini reads a value the same way; 0 or -1.
 * Booleans: yes/no, on/off, true/false (any case), 1/0. Sizes: digits with
 * an optional k, m or g (powers of 1024) and an optional b. Durations:
 * digits with ms, s, m or h; bare digits are seconds. */
int cfg_parse_bool(const char *s, int *out);
int cfg_parse_size(const char *s, size_t *out);
int cfg_parse_duration(const char *s, uint64_t *ms);
int cfg_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* The user and group the server runs as (user =, group =; a user's own
 * group unless group = is set), -1 where unset. Returns 0, or -1 with
 * *unknown set to "user" or "group" when that name does not exist. */
int cfg_run_ids(const cfg_t *cfg, uid_t *uid, gid_t *gid, const char **unknown);

#endif
