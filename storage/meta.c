/*
 * meta: decode/encode of InfluxDB's protobuf meta.Data and the edits the
 * restore API needs. See meta.h for the contract.
 *
 * Decoding runs in two passes. A wire-level scan driven by protobuf-c's own
 * descriptors checks framing, wire types and the presence of every required
 * field, recursively, and refuses strings with a NUL byte (protobuf-c would
 * silently cut such a string short, and we would then write back something
 * else). Only then does protobuf-c unpack the bytes. protobuf-c 1.4 also
 * refuses missing required fields (the unit tests pin that down), but it says
 * neither which field nor where; the scan does.
 */
#include "meta.h"

#include <stdlib.h>
#include <string.h>

#include "varint.h"

#define MAX_NAME_LEN 255
/* meta.proto nests five deep (Data > DatabaseInfo > RetentionPolicyInfo >
 * ShardGroupInfo > ShardInfo > ShardOwner); anything deeper is not ours. */
#define SCAN_MAX_DEPTH 8

/* ------------------------------------------------------------------------ */
/* Wire scan                                                                 */
/* ------------------------------------------------------------------------ */

enum {
    WT_VARINT = 0,
    WT_FIXED64 = 1,
    WT_LEN = 2,
    WT_FIXED32 = 5
};

/* 0 ok, -1 truncated, -2 longer than 64 bits (varint.h). */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    size_t pos = 0;
    int rc = tsv_uvarint_read(*p, (size_t)(end - *p), &pos, out);
    *p += pos;
    return rc;
}

static int wire_type_of(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return WT_FIXED32;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return WT_FIXED64;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return WT_LEN;
    default:
        return WT_VARINT;
    }
}

static const ProtobufCFieldDescriptor *field_by_number(const ProtobufCMessageDescriptor *d,
                                                       uint64_t number, unsigned *index)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (d->fields[i].id == number) {
            *index = i;
            return &d->fields[i];
        }
    }
    return NULL;
}

/* A packed repeated scalar: the payload must be whole elements. */
static int scan_packed(const ProtobufCFieldDescriptor *f, const uint8_t *p, const uint8_t *end)
{
    switch (wire_type_of(f->type)) {
    case WT_FIXED32:
        return (end - p) % 4 == 0 ? 0 : -1;
    case WT_FIXED64:
        return (end - p) % 8 == 0 ? 0 : -1;
    default:
        while (p < end) {
            uint64_t v;
            if (read_varint(&p, end, &v) != 0)
                return -1;
        }
        return 0;
    }
}

static int scan_message(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                        const uint8_t *base, int depth, tsv_error *err)
{
    if (depth > SCAN_MAX_DEPTH)
        return tsv_error_set(err, TSV_EINVALID, "meta: messages nested too deeply at byte %zu",
                             (size_t)(buf - base));
    /* One bit per field index; meta.proto's largest message has 11 fields. */
    if (d->n_fields > 64)
        return tsv_error_set(err, TSV_EINTERNAL, "meta: %s has too many fields to scan",
                             d->short_name);
    uint64_t seen = 0;
    const uint8_t *p = buf, *end = buf + len;

    while (p < end) {
        size_t at = (size_t)(p - base);
        uint64_t tag;
        if (read_varint(&p, end, &tag) != 0)
            return tsv_error_set(err, TSV_EINVALID, "meta: bad field tag in %s at byte %zu",
                                 d->short_name, at);
        uint64_t number = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        if (number == 0 || number > 0x1fffffff)
            return tsv_error_set(err, TSV_EINVALID,
                                 "meta: invalid field number %llu in %s at byte %zu",
                                 (unsigned long long)number, d->short_name, at);

        const uint8_t *payload = p;
        uint64_t v;
        switch (wt) {
        case WT_VARINT:
            if (read_varint(&p, end, &v) != 0)
                return tsv_error_set(err, TSV_EINVALID,
                                     "meta: bad varint in %s field %llu at byte %zu", d->short_name,
                                     (unsigned long long)number, at);
            break;
        case WT_FIXED64:
        case WT_FIXED32: {
            size_t need = wt == WT_FIXED64 ? 8 : 4;
            if ((size_t)(end - p) < need)
                return tsv_error_set(err, TSV_EINVALID, "meta: truncated %s field %llu at byte %zu",
                                     d->short_name, (unsigned long long)number, at);
            p += need;
            break;
        }
        case WT_LEN:
            if (read_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
                return tsv_error_set(err, TSV_EINVALID, "meta: truncated %s field %llu at byte %zu",
                                     d->short_name, (unsigned long long)number, at);
            payload = p;
            p += v;
            break;
        default:
            /* Groups (3, 4) are not used by meta.proto; 6 and 7 do not exist. */
            return tsv_error_set(err, TSV_EINVALID,
                                 "meta: unsupported wire type %u in %s at byte %zu", wt,
                                 d->short_name, at);
        }

        unsigned idx;
        const ProtobufCFieldDescriptor *f = field_by_number(d, number, &idx);
        if (!f)
            continue; /* unknown field: kept by protobuf-c, as by Go */

        int want = wire_type_of(f->type);
        int packed = wt == WT_LEN && want != WT_LEN && f->label == PROTOBUF_C_LABEL_REPEATED;
        if ((int)wt != want && !packed)
            return tsv_error_set(err, TSV_EINVALID,
                                 "meta: field %s.%s has wire type %u, want %d (byte %zu)",
                                 d->short_name, f->name, wt, want, at);
        if (packed && scan_packed(f, payload, p) != 0)
            return tsv_error_set(err, TSV_EINVALID, "meta: bad packed field %s.%s at byte %zu",
                                 d->short_name, f->name, at);
        if (f->type == PROTOBUF_C_TYPE_STRING && memchr(payload, 0, (size_t)(p - payload)))
            return tsv_error_set(err, TSV_EINVALID,
                                 "meta: field %s.%s contains a NUL byte (byte %zu)", d->short_name,
                                 f->name, at);
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            scan_message(f->descriptor, payload, (size_t)(p - payload), base, depth + 1, err) != 0)
            return -1;
        seen |= UINT64_C(1) << idx;
    }

    for (unsigned i = 0; i < d->n_fields; i++) {
        if (d->fields[i].label == PROTOBUF_C_LABEL_REQUIRED && !(seen & (UINT64_C(1) << i)))
            return tsv_error_set(err, TSV_EINVALID,
                                 "meta: missing required field %s.%s (message at byte %zu)",
                                 d->short_name, d->fields[i].name, (size_t)(buf - base));
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* In-memory checks and canonical form                                       */
/* ------------------------------------------------------------------------ */

/* A tree that encode or clone may pack: every required string set, every
 * array and element present, every message of the declared type. */
static int check_message(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *want,
                         int depth, tsv_error *err)
{
    if (!m)
        return tsv_error_set(err, TSV_EINVALID, "meta: NULL %s in tree", want->short_name);
    if (m->descriptor != want)
        return tsv_error_set(err, TSV_EINVALID, "meta: found %s where %s belongs",
                             m->descriptor ? m->descriptor->short_name : "(no descriptor)",
                             want->short_name);
    if (depth > SCAN_MAX_DEPTH)
        return tsv_error_set(err, TSV_EINVALID, "meta: tree nested too deeply");
    const char *raw = (const char *)m;
    for (unsigned i = 0; i < want->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &want->fields[i];
        const void *member = raw + f->offset;
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(raw + f->quantifier_offset);
            void *const *arr = *(void *const *const *)member;
            if (n && !arr)
                return tsv_error_set(err, TSV_EINVALID, "meta: %s.%s has %zu elements but no array",
                                     want->short_name, f->name, n);
            for (size_t k = 0; k < n; k++) {
                if (f->type == PROTOBUF_C_TYPE_STRING && !arr[k])
                    return tsv_error_set(err, TSV_EINVALID, "meta: %s.%s[%zu] is NULL",
                                         want->short_name, f->name, k);
                if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
                    check_message(arr[k], f->descriptor, depth + 1, err) != 0)
                    return -1;
            }
        } else {
            const void *v = *(const void *const *)member;
            if (!v && f->label == PROTOBUF_C_LABEL_REQUIRED)
                return tsv_error_set(err, TSV_EINVALID, "meta: required field %s.%s is not set",
                                     want->short_name, f->name);
            if (v && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                check_message(v, f->descriptor, depth + 1, err) != 0)
                return -1;
        }
    }
    return 0;
}

static void free_owners(Meta__ShardInfo *sh)
{
    for (size_t i = 0; i < sh->n_owners; i++)
        protobuf_c_message_free_unpacked(&sh->owners[i]->base, NULL);
    free(sh->owners);
    sh->owners = NULL;
    sh->n_owners = 0;
}

/* OwnerIDs is deprecated but Go still reads it: when present it replaces
 * Owners. Go never writes it, so after this the field is empty. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int shard_fold_owner_ids(Meta__ShardInfo *sh)
{
    if (sh->n_ownerids == 0)
        return 0;
    Meta__ShardOwner **owners = calloc(sh->n_ownerids, sizeof *owners);
    if (!owners)
        return -1;
    for (size_t i = 0; i < sh->n_ownerids; i++) {
        owners[i] = malloc(sizeof *owners[i]);
        if (!owners[i]) {
            for (size_t k = 0; k < i; k++)
                free(owners[k]);
            free(owners);
            return -1;
        }
        meta__shard_owner__init(owners[i]);
        owners[i]->nodeid = sh->ownerids[i];
    }
    free_owners(sh);
    sh->owners = owners;
    sh->n_owners = sh->n_ownerids;
    free(sh->ownerids);
    sh->ownerids = NULL;
    sh->n_ownerids = 0;
    return 0;
}

static int shard_is_canonical(const Meta__ShardInfo *sh) { return sh->n_ownerids == 0; }
#pragma GCC diagnostic pop

/* Go keeps TruncatedAt as a time and writes it only when non-zero. */
static int group_is_canonical(const Meta__ShardGroupInfo *sg)
{
    return !!sg->has_truncatedat == (sg->truncatedat != 0);
}

static int canonicalise_database(Meta__DatabaseInfo *db)
{
    for (size_t r = 0; r < db->n_retentionpolicies; r++) {
        Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            Meta__ShardGroupInfo *sg = rp->shardgroups[g];
            sg->has_truncatedat = sg->truncatedat != 0;
            for (size_t s = 0; s < sg->n_shards; s++)
                if (shard_fold_owner_ids(sg->shards[s]) != 0)
                    return -1;
        }
    }
    return 0;
}

static int database_is_canonical(const Meta__DatabaseInfo *db)
{
    for (size_t r = 0; r < db->n_retentionpolicies; r++) {
        const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
            if (!group_is_canonical(sg))
                return 0;
            for (size_t s = 0; s < sg->n_shards; s++)
                if (!shard_is_canonical(sg->shards[s]))
                    return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Bytes <-> tree                                                            */
/* ------------------------------------------------------------------------ */

static int pack_message(const ProtobufCMessage *m, uint8_t **out, size_t *len, tsv_error *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory encoding %zu bytes", n);
    size_t written = protobuf_c_message_pack(m, buf);
    if (written != n) {
        free(buf);
        return tsv_error_set(err, TSV_EINTERNAL, "meta: protobuf-c packed %zu bytes, expected %zu",
                             written, n);
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Scan, unpack, canonicalise. The root is a Data or a DatabaseInfo. */
static int decode_root(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                       ProtobufCMessage **out, tsv_error *err)
{
    if (!buf && len)
        return tsv_error_set(err, TSV_EINVALID, "meta: NULL buffer");
    static const uint8_t empty;
    if (!buf)
        buf = &empty; /* protobuf-c wants a pointer even for zero bytes */
    if (scan_message(d, buf, len, buf, 0, err) != 0)
        return -1;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m)
        /* The scan accepted it, so this is almost surely memory. */
        return tsv_error_set(err, TSV_EINVALID,
                             "meta: protobuf-c could not unpack %s "
                             "(%zu bytes; malformed or out of memory)",
                             d->short_name, len);
    int rc = 0;
    if (d == &meta__data__descriptor) {
        Meta__Data *data = (Meta__Data *)m;
        for (size_t i = 0; i < data->n_databases && rc == 0; i++)
            rc = canonicalise_database(data->databases[i]);
    } else {
        rc = canonicalise_database((Meta__DatabaseInfo *)m);
    }
    if (rc != 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory decoding %s", d->short_name);
    }
    *out = m;
    return 0;
}

int tsv_meta_decode(const uint8_t *buf, size_t len, Meta__Data **out, tsv_error *err)
{
    ProtobufCMessage *m;
    if (decode_root(&meta__data__descriptor, buf, len, &m, err) != 0)
        return -1;
    *out = (Meta__Data *)m;
    return 0;
}

int tsv_meta_decode_database(const uint8_t *buf, size_t len, Meta__DatabaseInfo **out,
                             tsv_error *err)
{
    ProtobufCMessage *m;
    if (decode_root(&meta__database_info__descriptor, buf, len, &m, err) != 0)
        return -1;
    *out = (Meta__DatabaseInfo *)m;
    return 0;
}

/* Deep copy by a pack/unpack round trip: protobuf-c then allocates every node
 * the same way decode does. `m` must have passed check_message. */
static int clone_message(const ProtobufCMessage *m, ProtobufCMessage **out, tsv_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (pack_message(m, &buf, &len, err) != 0)
        return -1;
    ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    if (!copy)
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory copying %s",
                             m->descriptor->short_name);
    int rc = 0;
    if (m->descriptor == &meta__data__descriptor) {
        Meta__Data *data = (Meta__Data *)copy;
        for (size_t i = 0; i < data->n_databases && rc == 0; i++)
            rc = canonicalise_database(data->databases[i]);
    } else if (m->descriptor == &meta__database_info__descriptor) {
        rc = canonicalise_database((Meta__DatabaseInfo *)copy);
    }
    if (rc != 0) {
        protobuf_c_message_free_unpacked(copy, NULL);
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory copying %s",
                             m->descriptor->short_name);
    }
    *out = copy;
    return 0;
}

int tsv_meta_encode(const Meta__Data *data, uint8_t **out, size_t *len, tsv_error *err)
{
    if (check_message(&data->base, &meta__data__descriptor, 0, err) != 0)
        return -1;
    int canonical = 1;
    for (size_t i = 0; i < data->n_databases && canonical; i++)
        canonical = database_is_canonical(data->databases[i]);
    if (canonical)
        return pack_message(&data->base, out, len, err);

    /* Only hand-built trees get here; `data` is const, so canonicalise a copy. */
    ProtobufCMessage *copy;
    if (clone_message(&data->base, &copy, err) != 0)
        return -1;
    int rc = pack_message(copy, out, len, err);
    protobuf_c_message_free_unpacked(copy, NULL);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

int tsv_meta_new_empty(uint64_t cluster_id, Meta__Data **out, tsv_error *err)
{
    Meta__Data *data = malloc(sizeof *data);
    if (!data)
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory");
    meta__data__init(data);
    data->term = 0;
    /* A new 2.x meta client starts at Index 1 (docs/formats.md#meta-storage): the live
     * sample's Index 4 is 1 plus one commit per system bucket. */
    data->index = 1;
    data->clusterid = cluster_id;
    *out = data;
    return 0;
}

void *tsv_meta_msg_clone(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    protobuf_c_message_pack(m, buf);
    void *copy = protobuf_c_message_unpack(d, NULL, len, buf);
    free(buf);
    return copy;
}

int tsv_meta_rp_clone_as(const Meta__RetentionPolicyInfo *rp, const char *name,
                         Meta__RetentionPolicyInfo **out, tsv_error *err)
{
    Meta__RetentionPolicyInfo *copy =
        tsv_meta_msg_clone(&rp->base, &meta__retention_policy_info__descriptor);
    char *dup = strdup(name);
    if (!copy || !dup) {
        free(dup);
        if (copy)
            protobuf_c_message_free_unpacked(&copy->base, NULL);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    free(copy->name);
    copy->name = dup;
    *out = copy;
    return 0;
}

int tsv_meta_clone(const Meta__Data *src, Meta__Data **out, tsv_error *err)
{
    if (check_message(&src->base, &meta__data__descriptor, 0, err) != 0)
        return -1;
    ProtobufCMessage *copy;
    if (clone_message(&src->base, &copy, err) != 0)
        return -1;
    *out = (Meta__Data *)copy;
    return 0;
}

void tsv_meta_free(Meta__Data *data)
{
    if (data)
        protobuf_c_message_free_unpacked(&data->base, NULL);
}

void tsv_meta_free_database(Meta__DatabaseInfo *db)
{
    if (db)
        protobuf_c_message_free_unpacked(&db->base, NULL);
}

void tsv_meta_touch(Meta__Data *data) { data->index++; }

/* ------------------------------------------------------------------------ */
/* Lookups                                                                   */
/* ------------------------------------------------------------------------ */

static ptrdiff_t database_index(const Meta__Data *data, const char *name)
{
    for (size_t i = 0; i < data->n_databases; i++) {
        const char *n = data->databases[i]->name;
        if (n && strcmp(n, name) == 0)
            return (ptrdiff_t)i;
    }
    return -1;
}

const Meta__DatabaseInfo *tsv_meta_find_database(const Meta__Data *data, const char *name)
{
    ptrdiff_t i = database_index(data, name);
    return i < 0 ? NULL : data->databases[i];
}

int tsv_meta_foreach_shard(const Meta__Data *data, int include_deleted, tsv_meta_shard_fn fn,
                           void *ctx, tsv_error *err)
{
    for (size_t d = 0; d < data->n_databases; d++) {
        const Meta__DatabaseInfo *db = data->databases[d];
        for (size_t r = 0; r < db->n_retentionpolicies; r++) {
            const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
            for (size_t g = 0; g < rp->n_shardgroups; g++) {
                const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
                if (sg->deletedat != 0 && !include_deleted)
                    continue;
                for (size_t s = 0; s < sg->n_shards; s++) {
                    int rc = fn(db, rp, sg, sg->shards[s], ctx, err);
                    if (rc != 0)
                        return rc;
                }
            }
        }
    }
    return 0;
}

struct find_shard_ctx {
    uint64_t id;
    const Meta__DatabaseInfo *db;
    const Meta__RetentionPolicyInfo *rp;
    const Meta__ShardGroupInfo *sg;
};

static int find_shard_cb(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                         const Meta__ShardGroupInfo *sg, const Meta__ShardInfo *shard, void *vctx,
                         tsv_error *err)
{
    struct find_shard_ctx *ctx = vctx;
    if (shard->id != ctx->id)
        return 0;
    ctx->db = db;
    ctx->rp = rp;
    ctx->sg = sg;
    return 1;
}

int tsv_meta_find_shard(const Meta__Data *data, uint64_t shard_id, const Meta__DatabaseInfo **db,
                        const Meta__RetentionPolicyInfo **rp, const Meta__ShardGroupInfo **group,
                        tsv_error *err)
{
    struct find_shard_ctx ctx = {.id = shard_id};
    if (tsv_meta_foreach_shard(data, 0, find_shard_cb, &ctx, err) != 1)
        return tsv_error_set(err, TSV_ENOTFOUND, "shard %llu not found",
                             (unsigned long long)shard_id);
    if (db)
        *db = ctx.db;
    if (rp)
        *rp = ctx.rp;
    if (group)
        *group = ctx.sg;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Edits                                                                     */
/* ------------------------------------------------------------------------ */

int64_t tsv_meta_normalise_shard_group_duration(int64_t retention_ns, int64_t sgd_ns)
{
    if (sgd_ns == 0) {
        if (retention_ns == 0 || retention_ns >= 180 * TSV_META_NS_PER_DAY)
            return 7 * TSV_META_NS_PER_DAY;
        if (retention_ns >= 2 * TSV_META_NS_PER_DAY)
            return TSV_META_NS_PER_DAY;
        return TSV_META_NS_PER_HOUR;
    }
    /* Go maps a too-small value through the default rule for a 1h retention,
     * which is 1h. */
    if (sgd_ns < TSV_META_NS_PER_HOUR)
        return TSV_META_NS_PER_HOUR;
    return sgd_ns;
}

static int check_retention(int64_t retention_ns, tsv_error *err)
{
    /* Go's wording; negative values are "non-zero and under 1h" too. */
    if (retention_ns != 0 && retention_ns < TSV_META_NS_PER_HOUR)
        return tsv_error_set(err, TSV_EINVALID,
                             "retention policy duration must be at least 1h0m0s");
    return 0;
}

static int is_bucket_id(const char *s)
{
    size_t n = 0;
    int nonzero = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        nonzero |= c != '0';
    }
    return n == 16 && nonzero;
}

/* Appends `item` to a protobuf-c repeated message field. */
static int append_ptr(void ***arr, size_t *n, void *item)
{
    void **grown = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!grown)
        return -1;
    grown[(*n)++] = item;
    *arr = grown;
    return 0;
}

int tsv_meta_add_database_copy(Meta__Data *data, const Meta__DatabaseInfo *db,
                               Meta__DatabaseInfo **added, tsv_error *err)
{
    if (database_index(data, db->name) >= 0)
        return tsv_error_set(err, TSV_ECONFLICT, "database %s already exists", db->name);
    Meta__DatabaseInfo *copy = tsv_meta_msg_clone(&db->base, &meta__database_info__descriptor);
    if (!copy)
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory copying database %s",
                             db->name);
    if (append_ptr((void ***)&data->databases, &data->n_databases, copy) != 0) {
        protobuf_c_message_free_unpacked(&copy->base, NULL);
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory adding database %s",
                             db->name);
    }
    if (added)
        *added = copy;
    return 0;
}

int tsv_meta_create_database(Meta__Data *data, const char *bucket_id_hex, int64_t retention_ns,
                             int64_t sgd_ns, tsv_error *err)
{
    if (!bucket_id_hex || !is_bucket_id(bucket_id_hex))
        return tsv_error_set(err, TSV_EINVALID,
                             "meta: database name \"%s\" is not a 16-hex-digit bucket ID",
                             bucket_id_hex ? bucket_id_hex : "(null)");
    if (check_retention(retention_ns, err) != 0)
        return -1;
    int64_t sgd = tsv_meta_normalise_shard_group_duration(retention_ns, sgd_ns);
    if (retention_ns > 0 && retention_ns < sgd)
        return tsv_error_set(err, TSV_EINVALID,
                             "retention policy duration must be greater than the shard duration");
    if (database_index(data, bucket_id_hex) >= 0)
        return tsv_error_set(err, TSV_ECONFLICT, "database %s already exists", bucket_id_hex);

    Meta__DatabaseInfo *db = malloc(sizeof *db);
    Meta__RetentionPolicyInfo *rp = malloc(sizeof *rp);
    if (db)
        meta__database_info__init(db);
    if (rp)
        meta__retention_policy_info__init(rp);
    if (!db || !rp)
        goto oom;
    db->name = strdup(bucket_id_hex);
    db->defaultretentionpolicy = strdup(TSV_META_DEFAULT_RP);
    rp->name = strdup(TSV_META_DEFAULT_RP);
    if (!db->name || !db->defaultretentionpolicy || !rp->name)
        goto oom;
    rp->duration = retention_ns;
    rp->shardgroupduration = sgd;
    rp->replican = 1;
    if (append_ptr((void ***)&db->retentionpolicies, &db->n_retentionpolicies, rp) != 0)
        goto oom;
    rp = NULL; /* owned by db now */
    if (append_ptr((void ***)&data->databases, &data->n_databases, db) != 0)
        goto oom;
    return 0;

oom:
    if (rp)
        protobuf_c_message_free_unpacked(&rp->base, NULL);
    if (db)
        protobuf_c_message_free_unpacked(&db->base, NULL);
    return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory creating database %s",
                         bucket_id_hex);
}

int tsv_meta_drop_database(Meta__Data *data, const char *name, Meta__DatabaseInfo **removed,
                           tsv_error *err)
{
    ptrdiff_t idx = database_index(data, name);
    if (idx < 0)
        return tsv_error_set(err, TSV_ENOTFOUND, "database %s not found", name);
    Meta__DatabaseInfo *db = data->databases[idx];
    memmove(&data->databases[idx], &data->databases[idx + 1],
            (data->n_databases - (size_t)idx - 1) * sizeof data->databases[0]);
    data->n_databases--;

    /* A privilege on a database that no longer exists would reattach to a
     * later database of the same name; Go drops them too. */
    for (size_t u = 0; u < data->n_users; u++) {
        Meta__UserInfo *user = data->users[u];
        size_t kept = 0;
        for (size_t p = 0; p < user->n_privileges; p++) {
            Meta__UserPrivilege *priv = user->privileges[p];
            if (priv->database && strcmp(priv->database, name) == 0)
                protobuf_c_message_free_unpacked(&priv->base, NULL);
            else
                user->privileges[kept++] = priv;
        }
        user->n_privileges = kept;
    }

    if (removed)
        *removed = db;
    else
        tsv_meta_free_database(db);
    return 0;
}

static int check_rp_name(const char *name, tsv_error *err)
{
    size_t n = strlen(name);
    /* It becomes a directory: engine/data/<bucket>/<rp>/<shard>. */
    if (n == 0 || n > MAX_NAME_LEN || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return tsv_error_set(err, TSV_EINVALID, "invalid retention policy name \"%.64s\"%s", name,
                             n > 64 ? "..." : "");
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Everything that can reject the upload, before anything is allocated for it. */
static int validate_upload(const Meta__Data *data, const Meta__DatabaseInfo *up, size_t *n_shards,
                           tsv_error *err)
{
    if (check_message(&up->base, &meta__database_info__descriptor, 0, err) != 0)
        return -1;
    if (up->n_retentionpolicies != 1)
        return tsv_error_set(err, TSV_EINVALID,
                             "bucket must have 1 retention policy; attempting to restore %zu "
                             "retention policies",
                             up->n_retentionpolicies);
    const Meta__RetentionPolicyInfo *rp = up->retentionpolicies[0];
    if (check_rp_name(rp->name, err) != 0 || check_retention(rp->duration, err) != 0)
        return -1;

    size_t total = 0;
    for (size_t g = 0; g < rp->n_shardgroups; g++) {
        const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
        if (sg->endtime < sg->starttime)
            return tsv_error_set(
                err, TSV_EINVALID, "shard group %llu ends before it starts (%lld < %lld)",
                (unsigned long long)sg->id, (long long)sg->endtime, (long long)sg->starttime);
        total += sg->n_shards;
    }
    if (rp->n_shardgroups > UINT64_MAX - data->maxshardgroupid ||
        total > UINT64_MAX - data->maxshardid)
        return tsv_error_set(err, TSV_EINVALID, "restore would overflow shard or group IDs");

    if (total > 1) {
        uint64_t *ids = malloc(total * sizeof *ids);
        if (!ids)
            return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory checking shard IDs");
        size_t k = 0;
        for (size_t g = 0; g < rp->n_shardgroups; g++)
            for (size_t s = 0; s < rp->shardgroups[g]->n_shards; s++)
                ids[k++] = rp->shardgroups[g]->shards[s]->id;
        qsort(ids, total, sizeof *ids, cmp_u64);
        for (k = 1; k < total; k++) {
            if (ids[k] == ids[k - 1]) {
                unsigned long long dup = ids[k];
                free(ids);
                return tsv_error_set(err, TSV_EINVALID,
                                     "shard ID %llu appears more than once in the restore request",
                                     dup);
            }
        }
        free(ids);
    }
    *n_shards = total;
    return 0;
}

int tsv_meta_restore_bucket(Meta__Data *data, const char *db_name,
                            const Meta__DatabaseInfo *uploaded, tsv_meta_shard_map **map_out,
                            size_t *n_map_out, const Meta__DatabaseInfo **restored, tsv_error *err)
{
    ptrdiff_t idx = database_index(data, db_name);
    if (idx < 0)
        return tsv_error_set(err, TSV_ENOTFOUND, "bucket dbi for \"%s\" not found during restore",
                             db_name);
    size_t n_shards = 0;
    if (validate_upload(data, uploaded, &n_shards, err) != 0)
        return -1;

    /* Build the replacement off to the side; `data` is untouched until the
     * commit below, which cannot fail. The copy also makes it safe for
     * `uploaded` to alias part of `data`. */
    tsv_meta_shard_map *map = malloc((n_shards ? n_shards : 1) * sizeof *map);
    if (!map)
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory restoring");
    ProtobufCMessage *copy_msg = NULL;
    if (clone_message(&uploaded->base, &copy_msg, err) != 0) {
        free(map);
        return -1;
    }
    Meta__DatabaseInfo *copy = (Meta__DatabaseInfo *)copy_msg;
    Meta__RetentionPolicyInfo *rp = copy->retentionpolicies[0];
    char *default_rp = strdup(rp->name);
    if (!default_rp) {
        free(map);
        tsv_meta_free_database(copy);
        return tsv_error_set(err, TSV_EINTERNAL, "meta: out of memory restoring");
    }

    rp->shardgroupduration =
        tsv_meta_normalise_shard_group_duration(rp->duration, rp->shardgroupduration);
    if (rp->replican == 0)
        rp->replican = 1;
    uint64_t next_group = data->maxshardgroupid, next_shard = data->maxshardid;
    size_t k = 0;
    for (size_t g = 0; g < rp->n_shardgroups; g++) {
        Meta__ShardGroupInfo *sg = rp->shardgroups[g];
        sg->id = ++next_group;
        for (size_t s = 0; s < sg->n_shards; s++) {
            Meta__ShardInfo *sh = sg->shards[s];
            map[k].old_id = sh->id;
            map[k].new_id = ++next_shard;
            map[k].deleted = sg->deletedat != 0;
            k++;
            sh->id = next_shard;
            /* 2.x is single-node and creates shards without owners. */
            free_owners(sh);
        }
    }

    /* Commit: swap the new RPs and CQs in; the copy carries the old ones away. */
    Meta__DatabaseInfo *db = data->databases[idx];
#define SWAP(a, b)                                                                                 \
    do {                                                                                           \
        __typeof__(a) tmp_ = (a);                                                                  \
        (a) = (b);                                                                                 \
        (b) = tmp_;                                                                                \
    } while (0)
    SWAP(db->retentionpolicies, copy->retentionpolicies);
    SWAP(db->n_retentionpolicies, copy->n_retentionpolicies);
    SWAP(db->continuousqueries, copy->continuousqueries);
    SWAP(db->n_continuousqueries, copy->n_continuousqueries);
    SWAP(db->defaultretentionpolicy, default_rp);
#undef SWAP
    free(default_rp); /* the old default's name */
    tsv_meta_free_database(copy);
    data->maxshardgroupid = next_group;
    data->maxshardid = next_shard;

    *map_out = map;
    *n_map_out = n_shards;
    if (restored)
        *restored = db;
    return 0;
}
