/*
 * ui_assets: the web console's files (ui/), embedded in the binary at build
 * time by cmake/embed_ui.cmake (docs/console.md). The table is constant
 * data: thread-safe, nothing to free.
 */
#ifndef TSV_UI_ASSETS_H
#define TSV_UI_ASSETS_H

#include <stddef.h>

typedef struct tsv_ui_asset {
    const char *name; /* file name inside ui/, e.g. "app.js" */
    const char *type; /* Content-Type */
    const char *etag; /* quoted strong ETag from the content's SHA-256 */
    const unsigned char *data;
    size_t len;
} tsv_ui_asset;

extern const tsv_ui_asset tsv_ui_assets[];
extern const int tsv_ui_asset_count;

#endif
