#include "api_zone.h"

#include "log.h"
#include "zone.h"

/* ph_zone_t is the plugin's name for a zone_t. */
static zone_t *of(ph_zone_t *zone) { return (zone_t *)zone; }

ph_zone_t *apizone_zone(const char *name, size_t size)
{
    char err[256];
    zone_t *z = zone_get(name, size, err, sizeof err);
    if (z == NULL)
        log_error("%s", err);
    return (ph_zone_t *)z;
}

void *apizone_data(ph_zone_t *zone) { return zone ? zone_data(of(zone)) : NULL; }

int apizone_lock(ph_zone_t *zone)
{
    if (zone == NULL)
        return PH_ERROR;
    int rc = zone_lock(of(zone));
    return rc == 0 ? PH_OK : rc == ZONE_RECOVERED ? PH_ZONE_RECOVERED : PH_ERROR;
}

void apizone_unlock(ph_zone_t *zone)
{
    if (zone)
        zone_unlock(of(zone));
}
