/* store_state: opening and closing the live generation's KV environment. */
#include <limits.h>
#include <stdio.h>

#include "fsutil.h"
#include "kv.h"
#include "store_internal.h"

int tsv_store_open_state(tsv_store *s, tsv_error *err)
{
    char kvdir[PATH_MAX];
    if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", s->state_dir) != 0 ||
        tsv_mkdir_p(kvdir, err) != 0)
        return -1;
    if (tsv_kv_open(&s->kv, kvdir, s->opt.kv_map_size, err) != 0)
        return tsv_error_wrap(err, "refusing to start: cannot open the KV store in %s", kvdir);
    return 0;
}

void tsv_store_close_state(tsv_store *s)
{
    if (s->kv) {
        tsv_kv_close(s->kv);
        s->kv = NULL;
    }
}

int tsv_store_lookup_token(tsv_store *s, const char *token, size_t len, tsv_token_info *out,
                           tsv_error *err)
{
    (void)s;
    (void)token;
    (void)len;
    (void)out;
    /* Until tenant records exist in this build, no KV token can match. */
    return tsv_error_set(err, TSV_ENOTFOUND, "no such token");
}
