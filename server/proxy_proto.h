/*
 * The PROXY protocol (versions 1 and 2, as HAProxy specifies it and load
 * balancers such as HAProxy and AWS NLB send it): the header a proxy in
 * front writes before the client's bytes, naming the client's address and
 * the address it connected to. A pure parser over a byte span, like the
 * HTTP one: no I/O, no allocation.
 */
#ifndef PH_PROXY_PROTO_H
#define PH_PROXY_PROTO_H

#include <stddef.h>
#include <sys/socket.h>

/* The longest header accepted (version 2 with its TLVs); a longer one is
 * refused rather than buffered. */
#define PP_MAX_HEADER 1024

typedef struct pp_result {
    /* 1: src and dst hold the client's and the proxy's target address;
     * 0: the header says nothing of them (v1 UNKNOWN, v2 LOCAL or an
     * address family other than TCP over IPv4/IPv6): the connection's
     * own addresses stand */
    int known;
    struct sockaddr_storage src, dst;
    socklen_t len; /* of src and dst */
} pp_result_t;

/* Parses the header at buf[0..len): returns its length (> 0) with *out
 * filled, 0 when more bytes are needed, or -1 when buf does not start
 * with a valid header (or one longer than PP_MAX_HEADER). */
int pp_parse(const unsigned char *buf, size_t len, pp_result_t *out);

#endif
