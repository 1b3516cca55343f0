#ifndef PH_VERSION_H
#define PH_VERSION_H
#include "autoconf.h"
#define PH_SERVER_NAME "plughttpd"
#define PH_SERVER_VERSION PACKAGE_VERSION
#endif
