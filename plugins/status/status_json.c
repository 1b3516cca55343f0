#include "status_json.h"

#include <string.h>

void json_string(stbuf_t *b, const char *s)
{
    stbuf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            stbuf_put(b, "\\", 1);
            stbuf_put(b, (const char *)p, 1);
        } else if (*p < 0x20 || *p == 0x7f) {
            stbuf_printf(b, "\\u%04x", *p);
        } else {
            stbuf_put(b, (const char *)p, 1);
        }
    }
    stbuf_put(b, "\"", 1);
}

static void route(stbuf_t *b, const snap_route_t *r)
{
    const ph_route_info_t *i = &r->info;
    stbuf_puts(b, "{\"route\":");
    json_string(b, i->prefix);
    stbuf_puts(b, ",\"host\":");
    json_string(b, i->host);
    stbuf_printf(b,
                 ",\"generation\":%lu,\"current\":%s,\"requests\":%llu,\"in_flight\":%llu,\"status\":{\"none\":%llu,"
                 "\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},\"bytes_out\":%llu,"
                 "\"bytes_in\":%llu,\"latency_us_sum\":%llu}",
                 i->generation, i->current ? "true" : "false", (unsigned long long)i->requests,
                 (unsigned long long)i->in_flight, (unsigned long long)i->status[0],
                 (unsigned long long)i->status[1], (unsigned long long)i->status[2],
                 (unsigned long long)i->status[3], (unsigned long long)i->status[4],
                 (unsigned long long)i->status[5], (unsigned long long)i->bytes_out,
                 (unsigned long long)i->bytes_in, (unsigned long long)i->latency_us_sum);
}

void json_write(stbuf_t *b, const snap_t *s)
{
    const ph_server_info_t *si = &s->server;
    unsigned long long requests = 0;
    for (size_t i = 0; i < s->nroutes; i++)
        requests += s->routes[i].info.requests;
    stbuf_printf(b,
                 "{\"process_index\":%u,\"threads\":%u,\"generation\":%lu,\"generations\":%u,\"connections\":%llu,"
                 "\"in_flight\":%llu,\"reloads\":%llu,\"requests\":%llu,\"routes\":[",
                 si->process_index, si->threads, si->generation, si->generations,
                 (unsigned long long)si->connections, (unsigned long long)si->in_flight,
                 (unsigned long long)si->reloads, requests);
    for (size_t i = 0; i < s->nroutes; i++) {
        if (i)
            stbuf_puts(b, ",");
        route(b, &s->routes[i]);
    }
    stbuf_puts(b, "]}\n");
}
