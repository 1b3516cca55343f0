#include "pubsub_chan.h"

#include <stdlib.h>
#include <string.h>

static size_t ps_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return (size_t)h;
}

int ps_hub_init(ps_hub_t *hub, unsigned nlanes, unsigned cap, size_t max_bytes, unsigned max_channels)
{
    memset(hub, 0, sizeof *hub);
    size_t n = 16;
    while (n < max_channels && n < (1u << 20))
        n <<= 1;
    hub->table = calloc(n, sizeof *hub->table);
    if (hub->table == NULL)
        return -1;
    hub->nbuckets = n;
    hub->nlanes = nlanes;
    hub->cap = cap;
    hub->max_bytes = max_bytes;
    hub->max_channels = max_channels;
    pthread_mutex_init(&hub->lock, NULL);
    pthread_cond_init(&hub->idle, NULL);
    return 0;
}

static void ps_chan_free(ps_chan_t *ch)
{
    for (uint64_t id = ch->last_id - ch->count + 1; ch->count && id <= ch->last_id; id++)
        ps_msg_unref(ch->ring[id % ch->cap]);
    free(ch->ring);
    free(ch->lanes);
    free(ch);
}

void ps_hub_free(ps_hub_t *hub)
{
    if (hub->table == NULL)
        return;
    for (size_t b = 0; b < hub->nbuckets; b++) {
        ps_chan_t *ch = hub->table[b];
        while (ch) {
            ps_chan_t *next = ch->next;
            ps_chan_free(ch);
            ch = next;
        }
    }
    free(hub->table);
    hub->table = NULL;
    pthread_cond_destroy(&hub->idle);
    pthread_mutex_destroy(&hub->lock);
}

ps_chan_t *ps_hub_find(ps_hub_t *hub, const char *name, size_t len)
{
    for (ps_chan_t *ch = hub->table[ps_hash(name, len) & (hub->nbuckets - 1)]; ch; ch = ch->next)
        if (ch->name_len == len && memcmp(ch->name, name, len) == 0)
            return ch;
    return NULL;
}

ps_chan_t *ps_hub_get(ps_hub_t *hub, const char *name, size_t len, uint64_t now_ms, int *full)
{
    ps_chan_t *ch = ps_hub_find(hub, name, len);
    *full = 0;
    if (ch)
        return ch;
    if (hub->nchannels >= hub->max_channels) {
        *full = 1;
        return NULL;
    }
    ch = calloc(1, sizeof *ch + len + 1);
    if (ch == NULL)
        return NULL;
    ch->ring = calloc(hub->cap, sizeof *ch->ring);
    ch->lanes = calloc(hub->nlanes, sizeof *ch->lanes);
    if (ch->ring == NULL || ch->lanes == NULL) {
        ps_chan_free(ch);
        return NULL;
    }
    ch->hub = hub;
    ch->cap = hub->cap;
    ch->nlanes = hub->nlanes;
    for (unsigned i = 0; i < hub->nlanes; i++)
        ch->lanes[i] = (ps_lane_t){.chan = ch, .idx = i};
    memcpy(ch->name, name, len);
    ch->name_len = len;
    ch->active_ms = now_ms;
    ch->refs = 1; /* the table's */
    ch->listed = 1;
    size_t b = ps_hash(name, len) & (hub->nbuckets - 1);
    ch->next = hub->table[b];
    hub->table[b] = ch;
    hub->nchannels++;
    return ch;
}

void ps_chan_ref(ps_chan_t *ch) { ch->refs++; }

void ps_chan_unref(ps_hub_t *hub, ps_chan_t *ch)
{
    (void)hub;
    if (--ch->refs == 0)
        ps_chan_free(ch); /* unlisted: the table's reference was the last to stay */
}

/* Drops the oldest buffered message. */
static void ps_chan_drop_oldest(ps_chan_t *ch)
{
    ps_msg_t **slot = &ch->ring[(ch->last_id - ch->count + 1) % ch->cap];
    ch->bytes -= (*slot)->data_len;
    ps_msg_unref(*slot);
    *slot = NULL;
    ch->count--;
}

void ps_chan_put(ps_chan_t *ch, ps_msg_t *msg, uint64_t now_ms)
{
    if (ch->count == ch->cap)
        ps_chan_drop_oldest(ch); /* its slot is the new one's */
    uint64_t id = ch->last_id + 1;
    ps_msg_number(msg, id);
    ch->ring[id % ch->cap] = msg;
    ch->count++;
    ch->bytes += msg->data_len;
    ch->last_id = id;
    ch->active_ms = now_ms;
    while (ch->count > 1 && ch->bytes > ch->hub->max_bytes)
        ps_chan_drop_oldest(ch);
}

uint64_t ps_chan_oldest(const ps_chan_t *ch) { return ch->count ? ch->last_id - ch->count + 1 : 0; }

ps_msg_t *ps_chan_next(const ps_chan_t *ch, uint64_t after)
{
    if (ch->count == 0 || after == ch->last_id)
        return NULL;
    uint64_t oldest = ps_chan_oldest(ch), id = after + 1;
    if (after > ch->last_id || id < oldest)
        id = oldest;
    ps_msg_t *m = ch->ring[id % ch->cap];
    ps_msg_ref(m);
    return m;
}

void ps_hub_sweep(ps_hub_t *hub, uint64_t now_ms, uint64_t timeout_ms)
{
    for (size_t b = 0; b < hub->nbuckets; b++) {
        ps_chan_t **pp = &hub->table[b];
        while (*pp) {
            ps_chan_t *ch = *pp;
            if (ch->nsubs == 0 && now_ms - ch->active_ms >= timeout_ms) {
                *pp = ch->next;
                ch->listed = 0;
                ch->next = NULL;
                hub->nchannels--;
                ps_chan_unref(hub, ch);
            } else {
                pp = &ch->next;
            }
        }
    }
}
