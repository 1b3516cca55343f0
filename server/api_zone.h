/*
 * The plugin API's shared zones (ABI 1.6): api->zone*, over zone.c, and
 * api->slab_*, which slab.c serves directly.
 */
#ifndef PH_API_ZONE_H
#define PH_API_ZONE_H

#include <plughttpd/plugin.h>

ph_zone_t *apizone_zone(const char *name, size_t size);
void *apizone_data(ph_zone_t *zone);
int apizone_lock(ph_zone_t *zone);
void apizone_unlock(ph_zone_t *zone);

#endif /* PH_API_ZONE_H */
