/* routes: every endpoint, its method, auth level and handler. */
#include "routes.h"

const tsv_route tsv_routes[] = {
    {"GET", "/health", TSV_AUTH_NONE, tsv_handle_health},
    {"HEAD", "/health", TSV_AUTH_NONE, tsv_handle_health},
    {"GET", "/ping", TSV_AUTH_NONE, tsv_handle_ping},
    {"HEAD", "/ping", TSV_AUTH_NONE, tsv_handle_ping},
};

const int tsv_route_count = (int)(sizeof tsv_routes / sizeof tsv_routes[0]);
