/*
 * addrcount: the connections each client address holds open in this
 * process, across all its worker threads, for [server]
 * max_connections_per_address. One table per process: with processes = N
 * each process counts its own connections (a client may hold N times the
 * cap in all).
 *
 * An IPv4 address counts alone; an IPv6 address counts with its whole
 * /64, since one client (one host, one home) is given a /64 and may use
 * any address in it. IPv4-mapped IPv6 addresses count as IPv4. Unix-socket
 * peers are not counted.
 *
 * Thread-safe: the table's buckets are guarded by a few striped mutexes,
 * so threads taking different addresses rarely wait on each other. An
 * entry exists while its count is above 0, so the table never holds more
 * entries than open connections.
 */
#ifndef PH_ADDRCOUNT_H
#define PH_ADDRCOUNT_H

#include <sys/socket.h>

/* What is counted for one address: family and the address (IPv6: its
 * first 64 bits, the rest zero). */
typedef struct addrcount_key {
    unsigned char family;
    unsigned char addr[16];
} addrcount_key_t;

/* The key of sa: 0, or -1 when sa is not counted (unix, other families). */
int addrcount_key(const struct sockaddr *sa, addrcount_key_t *k);

/* Counts one more connection of k unless k already holds max: 1 counted
 * (addrcount_drop() gives it back), or 0 (at the cap, or out of memory). */
int addrcount_take(const addrcount_key_t *k, unsigned max);
/* One connection of k (counted by addrcount_take) has closed. */
void addrcount_drop(const addrcount_key_t *k);
/* The connections k holds now (for tests). */
unsigned addrcount_get(const addrcount_key_t *k);

#endif
