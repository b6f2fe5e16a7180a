/* v1_restore: 1.x meta + shard tars into db/rp buckets, all or nothing. */
#include "v1_restore.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array_grow.h"
#include "engine.h"
#include "fsutil.h"
#include "meta_store.h"
#include "random.h"
#include "shard_install.h"
#include "store_internal.h"
#include "store_vault.h"
#include "tenant.h"
#include "tsv_log.h"
#include "v1_meta.h"

typedef struct v1_shard {
    uint64_t old_id, new_id;
    size_t item;
    int deleted; /* its group is deleted: an ID but no directory, not in the map */
    int staged;
    /* What the staging install wrote (shard_install's hook): the files'
     * names and SHA-256, recorded in the vault at the commit without
     * reading the files again. */
    uint64_t gen;
    char **names;
    char (*hex)[65];
    size_t n_files;
} v1_shard;

struct tsv_v1_restore {
    tsv_store *s;
    char org_id[17];
    Meta__Data *backup;
    tsv_v1_import_item *items;
    size_t n_items;
    Meta__RetentionPolicyInfo **rps;          /* per item: the RP renumbered, named autogen */
    char (*targets)[2 * TSV_V1_NAME_MAX + 2]; /* per item: "db/rp" */
    v1_shard *shards;
    size_t n_shards;
    size_t cap_shards; /* allocated length of shards (array_grow.h) */
    tsv_shard_mapping *map;
    size_t n_map;
    uint64_t max_group_id, max_shard_id; /* highest reserved */
    char staging[PATH_MAX];
    pthread_mutex_t mu;
    int done; /* committed, or a commit was attempted */
};

static v1_shard *find_shard(const tsv_v1_restore *r, uint64_t new_id)
{
    for (size_t i = 0; i < r->n_shards; i++)
        if (r->shards[i].new_id == new_id && !r->shards[i].deleted)
            return &r->shards[i];
    return NULL;
}

/* Clones each item's RP as the bucket's "autogen" with 2.x's duration rules. */
static int prepare_rps(tsv_v1_restore *r, tsv_error *err)
{
    r->rps = calloc(r->n_items, sizeof *r->rps);
    r->targets = calloc(r->n_items, sizeof *r->targets);
    if (!r->rps || !r->targets)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; i < r->n_items; i++) {
        const tsv_v1_import_item *it = &r->items[i];
        if (tsv_v1_bucket_name(it->db, it->rp, r->targets[i], sizeof r->targets[i], err) != 0 ||
            tsv_tenant_bucket_name_check(r->targets[i], err) != 0)
            return -1;
        int64_t d = it->src_rp->duration;
        if (d < 0 || (d != 0 && d < 3600LL * 1000000000LL))
            return tsv_error_set(err, TSV_EINVALID,
                                 "retention policy %s.%s: duration must be 0 or at least 1h",
                                 it->src_db->name, it->src_rp->name);
        Meta__RetentionPolicyInfo *rp;
        if (tsv_meta_rp_clone_as(it->src_rp, TSV_META_DEFAULT_RP, &rp, err) != 0)
            return -1;
        rp->shardgroupduration = tsv_meta_normalise_shard_group_duration(d, rp->shardgroupduration);
        if (rp->replican == 0)
            rp->replican = 1;
        r->rps[i] = rp;
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            Meta__ShardGroupInfo *sg = rp->shardgroups[g];
            if (sg->endtime < sg->starttime)
                return tsv_error_set(err, TSV_EINVALID,
                                     "shard group %" PRIu64 " ends before it starts", sg->id);
            for (size_t k = 0; k < sg->n_shards; k++) {
                for (size_t j = 0; j < r->n_shards; j++)
                    if (r->shards[j].old_id == sg->shards[k]->id)
                        return tsv_error_set(err, TSV_EINVALID,
                                             "shard %" PRIu64 " appears twice in the metadata",
                                             sg->shards[k]->id);
                if (TSV_ARRAY_GROW(r->shards, r->n_shards, r->cap_shards, err) != 0)
                    return -1;
                r->shards[r->n_shards++] = (v1_shard){
                    .old_id = sg->shards[k]->id, .item = i, .deleted = sg->deletedat != 0};
            }
        }
    }
    return 0;
}

/* Target checks and ID reservation, in one write transaction. */
static int reserve(tsv_v1_restore *r, const char *org, tsv_error *err)
{
    tsv_store *s = r->s;
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn;
    Meta__Data *meta = NULL;
    int rc = tsv_kv_begin(s->kv, 1, &txn, err);
    if (rc != 0) {
        tsv_store_shared_unlock(s);
        return -1;
    }
    rc = tsv_v1_resolve_org(txn, org, r->org_id, err);
    for (size_t i = 0; rc == 0 && i < r->n_items; i++) {
        tsv_bucket b;
        tsv_dbrp m;
        tsv_error e;
        if (tsv_tenant_bucket_by_name(txn, r->org_id, r->targets[i], &b, &e) == 0) {
            tsv_bucket_clear(&b);
            rc = tsv_error_set(err, TSV_ECONFLICT, "database already exists: bucket %s exists",
                               r->targets[i]);
        } else if (e.code != TSV_ENOTFOUND) {
            rc = err ? (*err = e, -1) : -1;
        } else if (tsv_dbrp_find(txn, r->org_id, r->items[i].db, r->items[i].rp, &m, &e) == 0) {
            rc = tsv_error_set(err, TSV_ECONFLICT,
                               "database already exists: %s/%s is mapped to bucket %s",
                               r->items[i].db, r->items[i].rp, m.bucket_id);
        } else if (e.code != TSV_ENOTFOUND) {
            rc = err ? (*err = e, -1) : -1;
        }
    }
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    if (rc == 0) {
        /* Renumber as influxd's ImportData does: per group ++MaxShardGroupID,
         * per shard ++MaxShardID, owners cleared. */
        size_t k = 0;
        for (size_t i = 0; i < r->n_items; i++) {
            Meta__RetentionPolicyInfo *rp = r->rps[i];
            for (size_t g = 0; g < rp->n_shardgroups; g++) {
                Meta__ShardGroupInfo *sg = rp->shardgroups[g];
                sg->id = ++meta->maxshardgroupid;
                for (size_t j = 0; j < sg->n_shards; j++) {
                    Meta__ShardInfo *sh = sg->shards[j];
                    sh->id = ++meta->maxshardid;
                    r->shards[k++].new_id = sh->id;
                    for (size_t o = 0; o < sh->n_owners; o++)
                        protobuf_c_message_free_unpacked(&sh->owners[o]->base, NULL);
                    free(sh->owners);
                    sh->owners = NULL;
                    sh->n_owners = 0;
                }
            }
        }
        r->max_group_id = meta->maxshardgroupid;
        r->max_shard_id = meta->maxshardid;
        rc = tsv_meta_save(txn, meta, err);
    }
    if (rc == 0)
        rc = tsv_kv_commit(txn, err);
    else
        tsv_kv_abort(txn);
    tsv_store_shared_unlock(s);
    tsv_meta_free(meta);
    return rc;
}

int tsv_store_v1_restore_begin(tsv_store *s, const uint8_t *meta, size_t len,
                               const tsv_v1_restore_options *opt, tsv_v1_restore **out,
                               tsv_error *err)
{
    tsv_v1_restore *r = calloc(1, sizeof *r);
    if (!r)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    r->s = s;
    pthread_mutex_init(&r->mu, NULL);
    int rc = tsv_meta_decode(meta, len, &r->backup, err);
    if (rc != 0)
        tsv_error_wrap(err, "invalid 1.x metadata");
    if (rc == 0)
        rc = tsv_v1_import_plan(r->backup, opt->backup_db, opt->restore_db, opt->backup_rp,
                                opt->restore_rp, &r->items, &r->n_items, err);
    if (rc == 0)
        rc = prepare_rps(r, err);
    if (rc == 0)
        rc = reserve(r, opt->org, err);
    if (rc == 0) {
        r->map = calloc(r->n_shards ? r->n_shards : 1, sizeof *r->map);
        if (!r->map)
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        for (size_t i = 0; rc == 0 && i < r->n_shards; i++)
            if (!r->shards[i].deleted)
                r->map[r->n_map++] = (tsv_shard_mapping){.old_id = r->shards[i].old_id,
                                                         .new_id = r->shards[i].new_id};
    }
    if (rc == 0)
        rc = tsv_path_join(r->staging, sizeof r->staging, err, "%s/v1restore-%016" PRIx64,
                           s->tmp_dir, tsv_random_u64());
    if (rc == 0 && mkdir(r->staging, 0700) != 0) {
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", r->staging);
        r->staging[0] = '\0';
    }
    if (rc != 0) {
        tsv_v1_restore_free(r);
        return -1;
    }
    TSV_INFO("msg=\"1.x restore begun\" org_id=%s retention_policies=%zu shards=%zu", r->org_id,
             r->n_items, r->n_map);
    *out = r;
    return 0;
}

const tsv_shard_mapping *tsv_v1_restore_map(const tsv_v1_restore *r, size_t *count)
{
    *count = r->n_map;
    return r->map;
}

int tsv_v1_restore_has_shard(const tsv_v1_restore *r, uint64_t new_id)
{
    return find_shard(r, new_id) != NULL;
}

const char *tsv_v1_restore_shard_target(const tsv_v1_restore *r, uint64_t new_id)
{
    const v1_shard *sh = find_shard(r, new_id);
    return sh ? r->targets[sh->item] : NULL;
}

static void staged_files_clear(v1_shard *sh)
{
    for (size_t i = 0; i < sh->n_files; i++)
        free(sh->names[i]);
    free(sh->names);
    free(sh->hex);
    sh->names = NULL;
    sh->hex = NULL;
    sh->n_files = 0;
    sh->gen = 0;
}

/* shard_install's hook, used only to keep the list of staged files. */
static int capture_staged(void *ctx, const char *staging, uint64_t gen, const char *const *names,
                          const char (*hex)[65], size_t n, tsv_error *err)
{
    (void)staging;
    v1_shard *sh = ctx;
    staged_files_clear(sh);
    sh->names = calloc(n ? n : 1, sizeof *sh->names);
    sh->hex = calloc(n ? n : 1, sizeof *sh->hex);
    if (!sh->names || !sh->hex) {
        staged_files_clear(sh);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!(sh->names[i] = strdup(names[i]))) {
            sh->n_files = i;
            staged_files_clear(sh);
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        }
        memcpy(sh->hex[i], hex[i], sizeof sh->hex[i]);
    }
    sh->n_files = n;
    sh->gen = gen;
    return 0;
}

static void capture_failed(void *ctx) { staged_files_clear(ctx); }

int tsv_v1_restore_stage_shard(tsv_v1_restore *r, uint64_t new_id, tsv_reader *tar, tsv_error *err)
{
    v1_shard *sh = find_shard(r, new_id);
    if (!sh)
        return tsv_error_set(err, TSV_ENOTFOUND, "shard %" PRIu64 " is not part of this restore",
                             new_id);
    char dir[PATH_MAX], prefix[2 * TSV_V1_NAME_MAX + 32];
    if (tsv_path_join(dir, sizeof dir, err, "%s/%" PRIu64, r->staging, new_id) != 0)
        return -1;
    snprintf(prefix, sizeof prefix, "%s/%" PRIu64, r->targets[sh->item], new_id);
    pthread_mutex_lock(&r->mu);
    int again = sh->staged;
    sh->staged = 0;
    pthread_mutex_unlock(&r->mu);
    tsv_error e;
    if (again && tsv_remove_tree(dir, &e) != 0)
        return err ? (*err = e, -1) : -1;
    staged_files_clear(sh);
    tsv_shard_install_hook hook = {capture_staged, capture_failed, sh};
    tsv_shard_install_opts o = {.strict = 1, .prefix = prefix, .hook = &hook};
    tsv_shard_install_stats st;
    tsv_store_shared_lock(r->s);
    int rc = tsv_shard_install_from_tar_opts(dir, r->s->trash_dir, new_id, tar, &o, &st, err);
    tsv_store_shared_unlock(r->s);
    if (rc != 0) {
        staged_files_clear(sh);
        tsv_remove_tree(dir, &e);
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    sh->staged = 1;
    pthread_mutex_unlock(&r->mu);
    TSV_INFO("msg=\"1.x shard staged\" shard=%" PRIu64 " old_shard=%" PRIu64 " target=\"%s\" "
             "files=%" PRIu64 " bytes=%" PRIu64,
             new_id, sh->old_id, r->targets[sh->item], st.files, st.bytes);
    return 0;
}

size_t tsv_v1_restore_missing(const tsv_v1_restore *r)
{
    size_t n = 0;
    pthread_mutex_lock((pthread_mutex_t *)&r->mu);
    for (size_t i = 0; i < r->n_shards; i++)
        if (!r->shards[i].deleted && !r->shards[i].staged)
            n++;
    pthread_mutex_unlock((pthread_mutex_t *)&r->mu);
    return n;
}

/* A shard directory moved into the engine before the KV commit, to undo. */
typedef struct moved {
    char from[PATH_MAX]; /* staging path, "" if it was created empty */
    char to[PATH_MAX];
} moved;

static void undo_moves(moved *mv, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (mv[i].from[0]) {
            if (rename(mv[i].to, mv[i].from) != 0)
                TSV_WARN("msg=\"could not move staged shard back\" path=\"%s\"", mv[i].to);
        } else {
            rmdir(mv[i].to);
        }
    }
}

int tsv_v1_restore_commit(tsv_v1_restore *r, tsv_error *err)
{
    if (r->done)
        return tsv_error_set(err, TSV_EINTERNAL, "1.x restore already committed or failed");
    r->done = 1;
    tsv_store *s = r->s;
    moved *mv = calloc(r->n_shards ? r->n_shards : 1, sizeof *mv);
    char(*bucket_ids)[17] = calloc(r->n_items, sizeof *bucket_ids);
    if (!mv || !bucket_ids) {
        free(mv);
        free(bucket_ids);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    size_t n_mv = 0;
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn = NULL;
    Meta__Data *meta = NULL;
    int rc = tsv_kv_begin(s->kv, 1, &txn, err);
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    if (rc == 0 && (meta->maxshardid < r->max_shard_id || meta->maxshardgroupid < r->max_group_id))
        rc = tsv_error_set(err, TSV_ECONFLICT,
                           "the metadata was replaced while the 1.x restore ran; restore again");
    for (size_t i = 0; rc == 0 && i < r->n_items; i++) {
        const tsv_v1_import_item *it = &r->items[i];
        Meta__RetentionPolicyInfo *rp = r->rps[i];
        tsv_bucket b;
        rc = tsv_tenant_bucket_create(txn, r->org_id, r->targets[i], "", 0, rp->duration,
                                      rp->shardgroupduration, &b, err);
        if (rc != 0) {
            if (err && err->code == TSV_ECONFLICT)
                tsv_error_wrap(err, "database already exists");
            break;
        }
        memcpy(bucket_ids[i], b.id, 17);
        tsv_bucket_clear(&b);
        rc = tsv_meta_create_database(meta, bucket_ids[i], rp->duration, rp->shardgroupduration,
                                      err);
        if (rc != 0)
            break;
        Meta__DatabaseInfo *db = (Meta__DatabaseInfo *)tsv_meta_find_database(meta, bucket_ids[i]);
        Meta__RetentionPolicyInfo *live = db->retentionpolicies[0];
        /* Hand the renumbered groups over to the live tree (both trees are
         * malloc'd piecewise, meta.h). */
        for (size_t g = 0; g < live->n_shardgroups; g++)
            protobuf_c_message_free_unpacked(&live->shardgroups[g]->base, NULL);
        free(live->shardgroups);
        live->shardgroups = rp->shardgroups;
        live->n_shardgroups = rp->n_shardgroups;
        rp->shardgroups = NULL;
        rp->n_shardgroups = 0;
        rc = tsv_dbrp_create(txn, r->org_id, it->db, it->rp, bucket_ids[i], it->is_default, NULL,
                             err);
    }
    if (rc == 0)
        rc = tsv_meta_save(txn, meta, err);
    /* Shard directories go in before the commit: a crash in between leaves
     * directories the meta does not list, which start-up moves to the trash. */
    for (size_t i = 0; rc == 0 && i < r->n_shards; i++) {
        const v1_shard *sh = &r->shards[i];
        if (sh->deleted)
            continue;
        moved *m = &mv[n_mv];
        char parent[PATH_MAX];
        if (tsv_shard_path(m->to, sizeof m->to, s->state_dir, bucket_ids[sh->item],
                           TSV_META_DEFAULT_RP, sh->new_id, err) != 0 ||
            tsv_path_join(parent, sizeof parent, err, "%s", m->to) != 0) {
            rc = -1;
            break;
        }
        *strrchr(parent, '/') = '\0';
        if (tsv_mkdir_p(parent, err) != 0) {
            rc = -1;
            break;
        }
        if (sh->staged && tsv_path_join(m->from, sizeof m->from, err, "%s/%" PRIu64, r->staging,
                                        sh->new_id) != 0) {
            rc = -1;
            break;
        }
        /* An empty tar stages no directory: the shard is created empty. */
        if (sh->staged && !tsv_path_exists(m->from))
            m->from[0] = '\0';
        if (m->from[0]) {
            if (rename(m->from, m->to) != 0) {
                rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "rename %s", m->from);
                break;
            }
        } else if (mkdir(m->to, 0755) != 0) {
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", m->to);
            break;
        }
        n_mv++;
        if ((rc = tsv_fsync_dir(parent, err)) != 0)
            break;
    }
    if (rc == 0) {
        rc = tsv_kv_commit(txn, err);
        txn = NULL;
    }
    if (txn)
        tsv_kv_abort(txn);
    if (rc != 0)
        undo_moves(mv, n_mv);
    /* The restore is committed: each new shard becomes its slot's first
     * in-use version in the vault. A failure here loses nothing: start-up
     * adopts directories the catalogue does not know (store_vault.c). */
    for (size_t i = 0, k = 0; rc == 0 && i < r->n_shards; i++) {
        const v1_shard *sh = &r->shards[i];
        if (sh->deleted)
            continue;
        const moved *m = &mv[k++];
        if (!m->from[0] || sh->n_files == 0)
            continue;
        tsv_error verr;
        if (tsv_store_vault_record_installed(s, sh->new_id, m->to, sh->gen,
                                             (const char *const *)sh->names,
                                             (const char(*)[65])sh->hex, sh->n_files, &verr) != 0)
            TSV_WARN("msg=\"1.x shard not recorded in the vault; start-up adopts it\" "
                     "shard=%" PRIu64 " error=\"%s\"",
                     sh->new_id, verr.message);
    }
    tsv_store_shared_unlock(s);
    if (rc == 0)
        for (size_t i = 0; i < r->n_items; i++)
            TSV_INFO("msg=\"1.x restore committed\" bucket=\"%s\" bucket_id=%s org_id=%s",
                     r->targets[i], bucket_ids[i], r->org_id);
    tsv_meta_free(meta);
    free(mv);
    free(bucket_ids);
    return rc;
}

void tsv_v1_restore_free(tsv_v1_restore *r)
{
    if (!r)
        return;
    if (r->staging[0]) {
        tsv_error e;
        if (tsv_remove_tree(r->staging, &e) != 0)
            TSV_WARN("msg=\"could not remove 1.x restore staging\" path=\"%s\" error=\"%s\"",
                     r->staging, e.message);
    }
    for (size_t i = 0; r->rps && i < r->n_items; i++)
        if (r->rps[i])
            protobuf_c_message_free_unpacked(&r->rps[i]->base, NULL);
    free(r->rps);
    free(r->targets);
    free(r->items);
    for (size_t i = 0; r->shards && i < r->n_shards; i++)
        staged_files_clear(&r->shards[i]);
    free(r->shards);
    free(r->map);
    tsv_meta_free(r->backup);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
