/*
 * tombstone: validation of TSM tombstone files, versions 1-4
 * (docs/formats.md#tombstones), by streaming them through fixed buffers.
 *
 * Where Go's Tombstoner.Walk is lenient we are strict, because Go's writer
 * never produces the lenient cases and a restore must not install a
 * tombstone InfluxDB would read differently from what the backup meant:
 *  - a record cut short is invalid (in v3/v4 Go treats an unexpected end
 *    at a record start as the end of the data, so it silently accepts many
 *    truncated files, even a member missing its CRC trailer; it may misread
 *    a short v2 record);
 *  - every gzip member must end properly (CRC and length trailer) and be
 *    followed only by further complete members;
 *  - records may not straddle gzip members (Go's v4 reader cannot read that);
 *  - min <= max in every record.
 * v3 files are read like v4 (one or more members): Go's v3 reader uses a
 * multistream gzip reader, so it accepts concatenated members too; v3 must
 * hold at least one member (Go fails on a v3 header with nothing after it),
 * v4 may hold none.
 * v1 lines are limited to 65535 bytes, the longest line Go's bufio.Scanner
 * (which reads v1) accepts.
 * Key bytes are not interpreted. Note that Go's v2 reader (seen in 1.6.7)
 * reuses its buffer so that reading min/max overwrites the first 8 bytes of
 * the key just read: v2 deletes effectively never match. That is InfluxDB's
 * behaviour for such files; the structure is still what we validate.
 */
#include "tombstone.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define TOMB_V2 0x00001502u
#define TOMB_V3 0x00001503u
#define TOMB_V4 0x00001504u
#define TOMB_HEADER_SIZE 4
#define TOMB_BUF_SIZE (64u << 10)
#define TOMB_V1_MAX_LINE 65535

/* --- record parser: u32 BE key length, key, i64 BE min, i64 BE max ------- */

typedef struct recparser {
    enum {
        REC_LEN,
        REC_KEY,
        REC_TIMES
    } state;
    uint8_t buf[16];
    size_t have;        /* bytes of buf filled in REC_LEN / REC_TIMES */
    uint64_t key_left;  /* key bytes still to skip in REC_KEY */
    uint64_t offset;    /* payload offset of the next byte (for messages) */
    uint64_t rec_start; /* payload offset where the current record began */
    uint64_t records;
} recparser;

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* Feeds payload bytes. The key bytes are skipped, not stored: nothing about
 * them can be wrong. */
static int rec_feed(recparser *rp, const uint8_t *p, size_t n, const char *name, const char *where,
                    tsv_error *err)
{
    while (n > 0) {
        size_t take;
        switch (rp->state) {
        case REC_LEN:
            if (rp->have == 0)
                rp->rec_start = rp->offset;
            take = 4 - rp->have < n ? 4 - rp->have : n;
            memcpy(rp->buf + rp->have, p, take);
            rp->have += take;
            if (rp->have == 4) {
                rp->key_left = be32(rp->buf);
                if (rp->key_left > TSV_TOMBSTONE_MAX_KEY)
                    return tsv_error_set(err, TSV_EINVALID,
                                         "%s: %srecord %" PRIu64 " has a key of %" PRIu64
                                         " bytes (limit %u) at offset %" PRIu64,
                                         name, where, rp->records, rp->key_left,
                                         TSV_TOMBSTONE_MAX_KEY, rp->rec_start);
                rp->have = 0;
                rp->state = REC_KEY;
            }
            break;
        case REC_KEY:
            take = rp->key_left < n ? (size_t)rp->key_left : n;
            rp->key_left -= take;
            if (rp->key_left == 0)
                rp->state = REC_TIMES;
            break;
        default: /* REC_TIMES */
            take = 16 - rp->have < n ? 16 - rp->have : n;
            memcpy(rp->buf + rp->have, p, take);
            rp->have += take;
            if (rp->have == 16) {
                int64_t min = (int64_t)be64(rp->buf), max = (int64_t)be64(rp->buf + 8);
                if (min > max)
                    return tsv_error_set(err, TSV_EINVALID,
                                         "%s: %srecord %" PRIu64 " has min %" PRId64
                                         " > max %" PRId64 " at offset %" PRIu64,
                                         name, where, rp->records, min, max, rp->rec_start);
                rp->records++;
                rp->have = 0;
                rp->state = REC_LEN;
            }
            break;
        }
        p += take;
        n -= take;
        rp->offset += take;
    }
    return 0;
}

/* A zero-length key is complete as soon as its length is read. */
static void rec_settle(recparser *rp)
{
    if (rp->state == REC_KEY && rp->key_left == 0)
        rp->state = REC_TIMES;
}

static int rec_at_boundary(const recparser *rp) { return rp->state == REC_LEN && rp->have == 0; }

static int rec_truncated(const recparser *rp, const char *name, const char *where, tsv_error *err)
{
    return tsv_error_set(err, TSV_EINVALID,
                         "%s: %srecord %" PRIu64 " truncated (started at offset %" PRIu64
                         ", data ends at %" PRIu64 ")",
                         name, where, rp->records, rp->rec_start, rp->offset);
}

/* --- file reading -------------------------------------------------------- */

/* Reads up to n bytes at off; returns bytes read (0 at EOF) or -1 (errno). */
static ssize_t read_at(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    for (;;) {
        ssize_t k = pread(fd, buf, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        return k;
    }
}

/* Up to TOMB_BUF_SIZE bytes at off: bytes read (0 at EOF), -1 with err. */
static ssize_t read_chunk(int fd, uint8_t *buf, uint64_t off, const char *name, tsv_error *err)
{
    ssize_t k = read_at(fd, buf, TOMB_BUF_SIZE, off);
    if (k < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s: read", name);
    return k;
}

static int verify_v1(int fd, const char *name, uint8_t *buf, uint64_t *entries, tsv_error *err)
{
    uint64_t off = 0, line_start = 0, count = 0;
    size_t line_len = 0;
    uint8_t last = 0;
    ssize_t k;
    while ((k = read_chunk(fd, buf, off, name, err)) > 0) {
        for (ssize_t i = 0; i < k; i++) {
            uint8_t c = buf[i];
            if (c == '\n') {
                /* bufio.ScanLines drops one trailing CR; empty lines are skipped. */
                if (line_len - (line_len > 0 && last == '\r') > 0)
                    count++;
                line_len = 0;
                line_start = off + (uint64_t)i + 1;
            } else {
                if (++line_len > TOMB_V1_MAX_LINE)
                    return tsv_error_set(
                        err, TSV_EINVALID,
                        "%s: v1 tombstone line longer than %d bytes at offset %" PRIu64, name,
                        TOMB_V1_MAX_LINE, line_start);
                last = c;
            }
        }
        off += (uint64_t)k;
    }
    if (k < 0)
        return -1;
    if (line_len - (line_len > 0 && last == '\r') > 0)
        count++;
    *entries = count;
    return 0;
}

static int verify_v2(int fd, const char *name, uint8_t *buf, uint64_t *entries, tsv_error *err)
{
    recparser rp = {0};
    uint64_t off = TOMB_HEADER_SIZE;
    ssize_t k;
    while ((k = read_chunk(fd, buf, off, name, err)) > 0) {
        /* Payload offsets are file offsets minus the header. */
        rp.offset = off;
        if (rec_feed(&rp, buf, (size_t)k, name, "v2 ", err) != 0)
            return -1;
        rec_settle(&rp);
        off += (uint64_t)k;
    }
    if (k < 0)
        return -1;
    if (!rec_at_boundary(&rp))
        return rec_truncated(&rp, name, "v2 ", err);
    *entries = rp.records;
    return 0;
}

/* v3 and v4: concatenated gzip members after the header. */
static int verify_gzip(int fd, const char *name, unsigned version, uint8_t *in, uint8_t *out,
                       uint64_t *entries, tsv_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: gzip wrapper only (header, CRC32 and ISIZE checked). */
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return tsv_error_set(err, TSV_EINTERNAL, "%s: inflateInit2 failed", name);

    char where[64];
    recparser rp = {0};
    uint64_t off = TOMB_HEADER_SIZE, member_start = off;
    uint64_t members = 0;
    int in_member = 0, rc = 0;

    for (;;) {
        if (zs.avail_in == 0) {
            ssize_t k = read_chunk(fd, in, off, name, err);
            if (k < 0) {
                rc = -1;
                goto out;
            }
            if (k == 0)
                break;
            zs.next_in = in;
            zs.avail_in = (uInt)k;
            off += (uint64_t)k;
            if (!in_member) {
                in_member = 1;
                member_start = off - (uint64_t)k;
            }
        }
        zs.next_out = out;
        zs.avail_out = TOMB_BUF_SIZE;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        size_t produced = TOMB_BUF_SIZE - zs.avail_out;
        /* Record offsets count uncompressed bytes of the whole payload. */
        snprintf(where, sizeof where, "v%u gzip member %" PRIu64 " (uncompressed): ", version,
                 members);
        if (produced && rec_feed(&rp, out, produced, name, where, err) != 0) {
            rc = -1;
            goto out;
        }
        rec_settle(&rp);
        if (zrc == Z_STREAM_END) {
            if (!rec_at_boundary(&rp)) {
                rc = rec_truncated(&rp, name, where, err);
                goto out;
            }
            members++;
            if (inflateReset(&zs) != Z_OK) {
                rc = tsv_error_set(err, TSV_EINTERNAL, "%s: inflateReset failed", name);
                goto out;
            }
            /* Whatever input is left starts the next member. */
            in_member = zs.avail_in > 0;
            member_start = off - zs.avail_in;
            continue;
        }
        if (zrc == Z_OK || (zrc == Z_BUF_ERROR && zs.avail_in == 0))
            continue;
        if (zrc == Z_MEM_ERROR) {
            rc = tsv_error_set(err, TSV_EINTERNAL, "%s: out of memory inflating", name);
            goto out;
        }
        rc = tsv_error_set(err, TSV_EINVALID,
                           "%s: v%u gzip member %" PRIu64 " (at offset %" PRIu64 ") is corrupt: %s",
                           name, version, members, member_start, zs.msg ? zs.msg : "bad data");
        goto out;
    }
    if (in_member) {
        rc = tsv_error_set(err, TSV_EINVALID,
                           "%s: v%u gzip member %" PRIu64 " (at offset %" PRIu64
                           ") is truncated at offset %" PRIu64,
                           name, version, members, member_start, off);
        goto out;
    }
    if (version == 3 && members == 0) {
        rc = tsv_error_set(err, TSV_EINVALID, "%s: v3 tombstone has no gzip stream at offset 4",
                           name);
        goto out;
    }
    *entries = rp.records;
out:
    (void)inflateEnd(&zs); /* only frees zlib state; nothing to report */
    return rc;
}

int tsv_tombstone_verify_fd(int fd, const char *name, uint64_t *entries, tsv_error *err)
{
    if (!name)
        name = "tombstone";
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s: fstat", name);
    if (!S_ISREG(st.st_mode))
        return tsv_error_set(err, TSV_EINVALID, "%s: not a regular file", name);

    uint32_t header = 0;
    if (st.st_size >= TOMB_HEADER_SIZE) {
        uint8_t h[TOMB_HEADER_SIZE];
        ssize_t k = read_at(fd, h, sizeof h, 0);
        if (k < 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s: read header", name);
        if (k != (ssize_t)sizeof h)
            return tsv_error_set(err, TSV_EINTERNAL, "%s: file shrank while being read", name);
        header = be32(h);
    }

    uint8_t *in = malloc(TOMB_BUF_SIZE), *out = NULL;
    if (!in)
        return tsv_error_set(err, TSV_EINTERNAL, "%s: out of memory", name);
    uint64_t n = 0;
    int rc;
    switch (header) {
    case TOMB_V2:
        rc = verify_v2(fd, name, in, &n, err);
        break;
    case TOMB_V3:
    case TOMB_V4:
        out = malloc(TOMB_BUF_SIZE);
        if (!out) {
            rc = tsv_error_set(err, TSV_EINTERNAL, "%s: out of memory", name);
            break;
        }
        rc = verify_gzip(fd, name, header == TOMB_V3 ? 3 : 4, in, out, &n, err);
        break;
    default:
        /* Anything else, including files under 4 bytes, is v1 text. */
        rc = verify_v1(fd, name, in, &n, err);
        break;
    }
    free(in);
    free(out);
    if (rc == 0 && entries)
        *entries = n;
    return rc;
}
