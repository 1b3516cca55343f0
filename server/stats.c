#include "stats.h"

/* Placeholders until the counters land. */
void stats_request_begin(const struct gen_route *r) { (void)r; }
void stats_request_end(const struct gen_route *r, int status, uint64_t bytes_out)
{
    (void)r; (void)status; (void)bytes_out;
}
void stats_conn_open(void) {}
void stats_conn_close(void) {}
int stats_server_info(ph_server_info_t *out) { (void)out; return PH_ERROR; }
int stats_routes_visit(ph_route_visit_fn fn, void *arg) { (void)fn; (void)arg; return PH_ERROR; }
