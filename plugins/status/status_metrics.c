#include "status_metrics.h"

#include <stdio.h>

#include "status_expo.h"

static const uint64_t bounds_us[PH_LATENCY_BUCKETS] = PH_LATENCY_BOUNDS_US;

/* A process-wide value: a family with one unlabelled sample. */
static void scalar(stbuf_t *b, const char *name, const char *type, const char *help, uint64_t v)
{
    char num[24];
    expo_family(b, name, type, help);
    expo_sample(b, name, NULL, 0, expo_u64(num, v));
}

static void server_metrics(stbuf_t *b, const snap_t *s, const char *version)
{
    const ph_server_info_t *si = &s->server;
    expo_family(b, "plughttpd_build_info", "gauge", "The server's version and plugin ABI, as labels; always 1.");
    char abi[32];
    snprintf(abi, sizeof abi, "%u.%u", PH_ABI_MAJOR, PH_ABI_MINOR);
    expo_label_t vl[] = {{"version", version}, {"abi", abi}};
    expo_sample(b, "plughttpd_build_info", vl, 2, "1");
    scalar(b, "plughttpd_process_index", "gauge", "This worker process's index (0 with one process).",
           si->process_index);
    scalar(b, "plughttpd_worker_threads", "gauge", "Worker threads (event loops) of this process.", si->threads);
    scalar(b, "plughttpd_connections_open", "gauge", "Client connections open now.", si->connections);
    scalar(b, "plughttpd_connections_accepted_total", "counter", "Client connections accepted since start.",
           si->connections_total);
    scalar(b, "plughttpd_requests_in_flight", "gauge",
           "Requests started and not yet ended, routed or not, all generations.", si->in_flight);
    scalar(b, "plughttpd_reloads_total", "counter", "Configuration generations published after the first.",
           si->reloads);
    scalar(b, "plughttpd_reloads_failed_total", "counter", "Reloads that failed (the running generation kept serving).",
           si->reloads_failed);
    scalar(b, "plughttpd_generation_current", "gauge", "Id of the generation new requests get.", si->generation);
    scalar(b, "plughttpd_generations_alive", "gauge",
           "Generations alive: the current one and older ones still draining requests.", si->generations);
    scalar(b, "plughttpd_blocking_queue_depth", "gauge", "Blocking handlers waiting for a helper thread.",
           si->blocking_queued);
    scalar(b, "plughttpd_blocking_rejected_total", "counter",
           "Blocking jobs refused because the helper queue was full (answered 503).", si->blocking_rejected);
    scalar(b, "plughttpd_blocking_timeouts_total", "counter",
           "Blocking handlers still queued or running at handler_timeout (answered 504).", si->blocking_timeouts);
    char num[24];
    expo_family(b, "plughttpd_tls_handshakes_total", "counter", "TLS handshakes, by result.");
    expo_label_t ok = {"result", "ok"}, failed = {"result", "failed"};
    expo_sample(b, "plughttpd_tls_handshakes_total", &ok, 1, expo_u64(num, si->tls_handshakes));
    expo_sample(b, "plughttpd_tls_handshakes_total", &failed, 1, expo_u64(num, si->tls_handshakes_failed));
}

static void worker_metrics(stbuf_t *b, const snap_t *s)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"plughttpd_worker_loop_lag_seconds", "gauge",
         "How late the worker loop's periodic probe fired, last time."},
        {"plughttpd_worker_loop_lag_max_seconds", "gauge", "The largest such lateness since start."},
        {"plughttpd_worker_loop_lag_seconds_total", "counter", "All such lateness added up since start."},
        {"plughttpd_worker_loop_lag_checks_total", "counter", "Probes measured since start."},
    };
    for (unsigned f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        expo_family(b, fam[f].name, fam[f].type, fam[f].help);
        for (unsigned i = 0; s->workers && i < s->server.threads; i++) {
            const ph_worker_info_t *w = &s->workers[i];
            char idx[24], num[32];
            expo_label_t l = {"worker", expo_u64(idx, i)};
            const char *v = f == 0   ? expo_seconds(num, w->lag_us_last)
                            : f == 1 ? expo_seconds(num, w->lag_us_max)
                            : f == 2 ? expo_seconds(num, w->lag_us_sum)
                                     : expo_u64(num, w->lag_checks);
            expo_sample(b, fam[f].name, &l, 1, v);
        }
    }
}

static void generation_metrics(stbuf_t *b, const snap_t *s)
{
    char num[24];
    expo_family(b, "plughttpd_generation_requests_in_flight", "gauge",
                "Requests started and not yet ended, by generation alive.");
    for (size_t i = 0; i < s->ngens; i++) {
        expo_label_t l = {"generation", s->gens[i].gen_id};
        expo_sample(b, "plughttpd_generation_requests_in_flight", &l, 1, expo_u64(num, s->gens[i].info.in_flight));
    }
    expo_family(b, "plughttpd_generation_plugin_info", "gauge",
                "The plugin files each generation alive uses; always 1.");
    for (size_t i = 0; i < s->ngens; i++)
        for (size_t k = 0; k < s->gens[i].info.nfiles; k++) {
            expo_label_t l[] = {{"generation", s->gens[i].gen_id}, {"file", s->gens[i].info.files[k]}};
            expo_sample(b, "plughttpd_generation_plugin_info", l, 2, "1");
        }
}

/* A route's labels: route, host (only for a [route HOST/prefix]: the
 * default host's series keep the labels they had, and Prometheus reads a
 * missing label as an empty one anyway), generation, then extra (NULL
 * name: none). l has room for 4. Returns how many. */
static unsigned route_labels(expo_label_t *l, const snap_route_t *r, const char *extra, const char *value)
{
    unsigned n = 0;
    l[n++] = (expo_label_t){"route", r->info.prefix};
    if (r->info.host[0])
        l[n++] = (expo_label_t){"host", r->info.host};
    l[n++] = (expo_label_t){"generation", r->gen_id};
    if (extra)
        l[n++] = (expo_label_t){extra, value};
    return n;
}

static const char *const class_name[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

static void route_requests(stbuf_t *b, const snap_t *s)
{
    char num[24];
    expo_family(b, "plughttpd_route_requests_total", "counter",
                "Requests ended, by route, generation and status class (none: the client left first).");
    for (size_t i = 0; i < s->nroutes; i++)
        for (int c = 0; c < 6; c++) {
            const snap_route_t *r = &s->routes[i];
            expo_label_t l[4];
            unsigned n = route_labels(l, r, "class", class_name[c]);
            expo_sample(b, "plughttpd_route_requests_total", l, n, expo_u64(num, r->info.status[c]));
        }
}

/* One value per route: field is read through pick. */
static void route_scalar(stbuf_t *b, const snap_t *s, const char *name, const char *type, const char *help,
                         uint64_t (*pick)(const ph_route_info_t *))
{
    char num[24];
    expo_family(b, name, type, help);
    for (size_t i = 0; i < s->nroutes; i++) {
        const snap_route_t *r = &s->routes[i];
        expo_label_t l[4];
        unsigned n = route_labels(l, r, NULL, NULL);
        expo_sample(b, name, l, n, expo_u64(num, pick(&r->info)));
    }
}

static uint64_t pick_in_flight(const ph_route_info_t *r) { return r->in_flight; }
static uint64_t pick_bytes_out(const ph_route_info_t *r) { return r->bytes_out; }
static uint64_t pick_bytes_in(const ph_route_info_t *r) { return r->bytes_in; }

static void route_latency(stbuf_t *b, const snap_t *s)
{
    static const char name[] = "plughttpd_route_request_duration_seconds";
    expo_family(b, name, "histogram",
                "Time from the complete request head to the end of the response, by route and generation.");
    for (size_t i = 0; i < s->nroutes; i++) {
        const snap_route_t *r = &s->routes[i];
        char le[32], num[32];
        expo_label_t l[4];
        unsigned n = route_labels(l, r, "le", le); /* le last: _sum and _count drop it */
        for (unsigned k = 0; k < PH_LATENCY_BUCKETS; k++) {
            expo_seconds(le, bounds_us[k]);
            expo_sample(b, "plughttpd_route_request_duration_seconds_bucket", l, n,
                        expo_u64(num, r->info.latency_le[k]));
        }
        snprintf(le, sizeof le, "+Inf");
        expo_sample(b, "plughttpd_route_request_duration_seconds_bucket", l, n, expo_u64(num, r->info.requests));
        expo_sample(b, "plughttpd_route_request_duration_seconds_sum", l, n - 1,
                    expo_seconds(num, r->info.latency_us_sum));
        expo_sample(b, "plughttpd_route_request_duration_seconds_count", l, n - 1, expo_u64(num, r->info.requests));
    }
}

void metrics_write(stbuf_t *b, const snap_t *s, const char *version)
{
    server_metrics(b, s, version);
    worker_metrics(b, s);
    generation_metrics(b, s);
    route_requests(b, s);
    route_scalar(b, s, "plughttpd_route_requests_in_flight", "gauge",
                 "Requests started and not yet ended, by route and generation.", pick_in_flight);
    route_scalar(b, s, "plughttpd_route_response_bytes_total", "counter",
                 "Response body bytes sent, by route and generation.", pick_bytes_out);
    route_scalar(b, s, "plughttpd_route_request_bytes_total", "counter",
                 "Request body bytes received (decoded), by route and generation.", pick_bytes_in);
    route_latency(b, s);
}
