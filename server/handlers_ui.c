/* handlers_ui: the web console's static files (ui/, docs/console.md), from
 * the table cmake/embed_ui.cmake builds into the binary. Public: the files
 * hold no data; every API call the console makes carries the user's token. */
#include <string.h>

#include "router.h"
#include "ui_assets.h"

/* The console runs only its own scripts and styles and talks only to this
 * server; nothing may frame it (docs/console.md "Security"). */
#define UI_CSP                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "             \
    "base-uri 'none'; form-action 'none'"

static const tsv_ui_asset *find_asset(const char *name)
{
    for (int i = 0; i < tsv_ui_asset_count; i++)
        if (strcmp(tsv_ui_assets[i].name, name) == 0)
            return &tsv_ui_assets[i];
    return NULL;
}

/* Does an If-None-Match list name this ETag (or "*")? */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return 0;
    size_t elen = strlen(etag);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p == '*' ||
            (strncmp(p, etag, elen) == 0 && (p[elen] == ',' || p[elen] == ' ' || p[elen] == '\0')))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

static int serve(tsv_http_req *req, const char *name)
{
    const tsv_ui_asset *a = find_asset(name);
    if (!a)
        return tsv_http_reply_error_code(req, TSV_ENOTFOUND, "console file \"%s\" not found", name);
    /* no-cache: the browser revalidates with the ETag, so a new binary's
     * console is never mixed with an old one's cached modules. */
    const char *h[] = {"ETag",
                       a->etag,
                       "Cache-Control",
                       "no-cache",
                       "Content-Security-Policy",
                       UI_CSP,
                       "X-Content-Type-Options",
                       "nosniff",
                       "X-Frame-Options",
                       "DENY",
                       "Referrer-Policy",
                       "no-referrer",
                       "Cross-Origin-Opener-Policy",
                       "same-origin",
                       NULL};
    if (etag_matches(tsv_http_header(req, "If-None-Match"), a->etag))
        return tsv_http_reply_with(req, 304, NULL, h, NULL, 0);
    return tsv_http_reply_with(req, 200, a->type, h, a->data, a->len);
}

int tsv_handle_ui_index(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    return serve(req, "index.html");
}

int tsv_handle_ui_file(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    return serve(req, tsv_route_param(p, "file"));
}
