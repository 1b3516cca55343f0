/*
 * What the harness's server side (harness.c) tells its client (client.c).
 */
#ifndef PH_HARNESS_H
#define PH_HARNESS_H

#include <plughttpd/test.h>

/* The unix socket of the listener taking a PROXY protocol header, for
 * requests naming their peer. */
const char *harness_proxy_path(const ph_test_server_t *srv);

#endif
