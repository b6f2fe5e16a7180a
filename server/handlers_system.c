/* handlers_system: /health and /ping, which the influx CLI probes first. */
#include <string.h>

#include "json.h"
#include "router.h"
#include "version.h"

int tsv_handle_health(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "name", "influxdb");
    tsv_jw_field_string(&w, "message", "ready for queries and writes");
    tsv_jw_field_string(&w, "status", "pass");
    tsv_jw_key(&w, "checks");
    tsv_jw_array_begin(&w);
    tsv_jw_array_end(&w);
    /* The influx CLI reads (\d+)\.(\d+)\.(\d+) from version and treats a
     * minor of 0 as the legacy 2.0 API, so report the 2.7 API we speak. */
    tsv_jw_field_string(&w, "version", tsv_influx_compat_version());
    tsv_jw_field_string(&w, "commit", tsv_git_commit());
    tsv_jw_field_string(&w, "server", "tsvault");
    tsv_jw_field_string(&w, "serverVersion", tsv_version());
    tsv_jw_object_end(&w);
    return tsv_http_reply_jw(req, 200, &w, &buf);
}

int tsv_handle_ping(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    return tsv_http_reply_empty(req, 204);
}
