#include "access_peer.h"

#include <string.h>

int access_peer_ip(const char *peer, char *ip, size_t cap)
{
    const char *start = peer, *end;
    if (*peer == '[') {
        start = peer + 1;
        end = strchr(start, ']');
    } else {
        end = strrchr(peer, ':');
    }
    if (!end || end == start || (size_t)(end - start) >= cap)
        return -1;
    memcpy(ip, start, (size_t)(end - start));
    ip[end - start] = '\0';
    return 0;
}
