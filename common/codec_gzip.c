/*
 * codec_gzip: the gzip decoder (RFC 1952 members parsed here, deflate by
 * ISA-L in raw mode, so that messages use Go's wording and CRC32/ISIZE are
 * verified here; bytes after one member go to the next) and the gzip encoder
 * (ISA-L or zlib). Behind tsv_decoder_new / tsv_gzip_encoder_new (stream.h).
 * ISA-L's own counters are 32-bit; nothing here depends on them (a > 4 GiB
 * member is covered by an opt-in test).
 */
#include "stream_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>

/* ---------------------------------------------------------------------------
 * gzip decoder (RFC 1952) on ISA-L raw inflate
 * ------------------------------------------------------------------------- */

#define GZ_ID1 0x1f
#define GZ_ID2 0x8b
#define GZ_CM_DEFLATE 8
#define GZ_FTEXT 0x01
#define GZ_FHCRC 0x02
#define GZ_FEXTRA 0x04
#define GZ_FNAME 0x08
#define GZ_FCOMMENT 0x10
#define GZ_FRESERVED 0xe0

enum gz_phase {
    GZ_HEADER,
    GZ_BODY,
    GZ_TRAILER,
    GZ_DONE
};

typedef struct gzip_decoder {
    decoder_common c;
    enum gz_phase phase;
    uint64_t members; /* members whose header has been read */
    uint32_t crc;     /* CRC-32 of the current member's output */
    uint64_t isize;   /* bytes output by the current member */
    /* Bytes ISA-L had pulled into its bit buffer beyond the end of the
     * deflate data: the start of the trailer. At most 8. */
    uint8_t carry[8];
    unsigned carry_len, carry_pos;
    struct inflate_state st;
} gzip_decoder;

static int gz_fail(gzip_decoder *d, tsv_code code, const char *msg)
{
    return tsv_error_set(&d->c.error, code, "%s", msg);
}

/* 1 with *b set, 0 at end of input, -1 on an inner error (in d->c.error). */
static int gz_next_byte(gzip_decoder *d, uint8_t *b)
{
    if (d->carry_pos < d->carry_len) {
        *b = d->carry[d->carry_pos++];
        return 1;
    }
    inbuf *in = &d->c.in;
    if (in->pos == in->len) {
        int rc = stream__inbuf_fill(in, &d->c.error);
        if (rc <= 0)
            return rc;
    }
    *b = in->data[in->pos];
    stream__inbuf_advance(in, 1);
    return 1;
}

/* Reads one header byte that must exist (inside a member), feeding the
 * header CRC. 0 or -1 with d->c.error set. */
static int gz_header_byte(gzip_decoder *d, uint8_t *b, uint32_t *hcrc)
{
    int rc = gz_next_byte(d, b);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return gz_fail(d, TSV_EINVALID, "unexpected EOF");
    *hcrc = crc32_gzip_refl(*hcrc, b, 1);
    return 0;
}

/* Skips a NUL-terminated header field (FNAME, FCOMMENT). */
static int gz_skip_cstring(gzip_decoder *d, uint32_t *hcrc)
{
    uint8_t b;
    do {
        if (gz_header_byte(d, &b, hcrc) != 0)
            return -1;
    } while (b != 0);
    return 0;
}

/* Parses a member header. 1: header read (now in BODY), 0: clean end of the
 * stream (only between members), -1: error in d->c.error. */
static int gz_read_header(gzip_decoder *d)
{
    uint32_t hcrc = 0;
    uint8_t b;
    int rc = gz_next_byte(d, &b);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (d->members == 0)
            return gz_fail(d, TSV_EINVALID, "empty gzip body");
        return 0;
    }
    hcrc = crc32_gzip_refl(hcrc, &b, 1);
    if (b != GZ_ID1)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    if (gz_header_byte(d, &b, &hcrc) != 0)
        return -1;
    if (b != GZ_ID2)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    if (gz_header_byte(d, &b, &hcrc) != 0)
        return -1;
    if (b != GZ_CM_DEFLATE)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    uint8_t flags;
    if (gz_header_byte(d, &flags, &hcrc) != 0)
        return -1;
    /* RFC 1952 2.3.1.2: a reserved bit set means fields we cannot parse. */
    if (flags & GZ_FRESERVED)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    for (int i = 0; i < 6; i++) /* MTIME, XFL, OS */
        if (gz_header_byte(d, &b, &hcrc) != 0)
            return -1;
    if (flags & GZ_FEXTRA) {
        uint8_t lo, hi;
        if (gz_header_byte(d, &lo, &hcrc) != 0 || gz_header_byte(d, &hi, &hcrc) != 0)
            return -1;
        for (unsigned xlen = (unsigned)lo | (unsigned)hi << 8; xlen > 0; xlen--)
            if (gz_header_byte(d, &b, &hcrc) != 0)
                return -1;
    }
    if ((flags & GZ_FNAME) && gz_skip_cstring(d, &hcrc) != 0)
        return -1;
    if ((flags & GZ_FCOMMENT) && gz_skip_cstring(d, &hcrc) != 0)
        return -1;
    if (flags & GZ_FHCRC) {
        uint32_t unused = 0, expect = hcrc & 0xffff;
        uint8_t lo, hi;
        if (gz_header_byte(d, &lo, &unused) != 0 || gz_header_byte(d, &hi, &unused) != 0)
            return -1;
        if (((uint32_t)lo | (uint32_t)hi << 8) != expect)
            return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    }
    isal_inflate_reset(&d->st);
    d->st.crc_flag = ISAL_DEFLATE;
    d->crc = 0;
    d->isize = 0;
    d->members++;
    d->phase = GZ_BODY;
    return 1;
}

/* At the end of the deflate data ISA-L may hold up to 8 further input bytes
 * in its bit buffer. The deflate stream ends mid-byte; drop the padding bits
 * and keep the whole bytes for the trailer. */
static int gz_take_carry(gzip_decoder *d)
{
    int bits = d->st.read_in_length;
    if (bits < 0 || bits > 64 || d->st.tmp_in_size != 0)
        return gz_fail(d, TSV_EINTERNAL, "gzip: unexpected inflate state at end of member");
    uint64_t v = d->st.read_in;
    int pad = bits % 8;
    if (pad) {
        v >>= pad;
        bits -= pad;
    }
    d->carry_len = (unsigned)bits / 8;
    d->carry_pos = 0;
    for (unsigned i = 0; i < d->carry_len; i++)
        d->carry[i] = (uint8_t)(v >> (8 * i));
    d->st.read_in = 0;
    d->st.read_in_length = 0;
    return 0;
}

/* >0 bytes produced, 0 when the member's deflate data ended (phase is now
 * TRAILER), -1 on error in d->c.error. */
static ssize_t gz_read_body(gzip_decoder *d, uint8_t *buf, uint32_t len)
{
    inbuf *in = &d->c.in;
    for (;;) {
        if (in->pos == in->len && !in->eof && stream__inbuf_fill(in, &d->c.error) < 0)
            return -1;
        uint32_t avail_in = (uint32_t)(in->len - in->pos);
        d->st.next_in = in->data + in->pos;
        d->st.avail_in = avail_in;
        d->st.next_out = buf;
        d->st.avail_out = len;
        int ret = isal_inflate(&d->st);
        size_t consumed = avail_in - d->st.avail_in;
        uint32_t produced = len - d->st.avail_out;
        stream__inbuf_advance(in, consumed);
        if (produced) {
            d->crc = crc32_gzip_refl(d->crc, buf, produced);
            d->isize += produced;
        }
        if (ret < 0)
            return tsv_error_set(&d->c.error, TSV_EINVALID,
                                 "flate: corrupt input before offset %llu",
                                 (unsigned long long)in->consumed);
        if (d->st.block_state == ISAL_BLOCK_FINISH) {
            if (gz_take_carry(d) != 0)
                return -1;
            d->phase = GZ_TRAILER;
            return produced;
        }
        if (produced)
            return produced;
        if (consumed == 0) {
            if (in->eof)
                return gz_fail(d, TSV_EINVALID, "unexpected EOF");
            if (in->pos < in->len) /* input offered, none taken, no output */
                return gz_fail(d, TSV_EINTERNAL, "gzip: inflate made no progress");
        }
    }
}

static int gz_read_trailer(gzip_decoder *d)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++) {
        int rc = gz_next_byte(d, &t[i]);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return gz_fail(d, TSV_EINVALID, "unexpected EOF");
    }
    uint32_t crc =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    uint32_t isize =
        (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    if (crc != d->crc)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid checksum (CRC-32 mismatch)");
    if (isize != (uint32_t)d->isize)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid checksum (size mismatch)");
    d->phase = GZ_HEADER;
    return 0;
}

static ssize_t gzip_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    gzip_decoder *d = (gzip_decoder *)r;
    if (d->c.failed)
        return stream__decoder_repeat_failure(&d->c, err);
    if (len == 0)
        return 0;
    uint32_t want = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    for (;;) {
        switch (d->phase) {
        case GZ_HEADER: {
            int rc = gz_read_header(d);
            if (rc < 0)
                return stream__decoder_fail(&d->c, err);
            if (rc == 0)
                d->phase = GZ_DONE;
            break;
        }
        case GZ_BODY: {
            ssize_t n = gz_read_body(d, buf, want);
            if (n < 0)
                return stream__decoder_fail(&d->c, err);
            if (n > 0)
                return n;
            break;
        }
        case GZ_TRAILER:
            if (gz_read_trailer(d) != 0)
                return stream__decoder_fail(&d->c, err);
            break;
        case GZ_DONE:
            return 0;
        }
    }
}

static void gzip_decoder_free(tsv_reader *r)
{
    gzip_decoder *d = (gzip_decoder *)r;
    free(d->c.in.data);
    free(d);
}

int stream__gzip_decoder_new(tsv_reader **out, tsv_reader *inner, tsv_error *err)
{
    gzip_decoder *d = calloc(1, sizeof *d);
    uint8_t *data = malloc(TSV_STREAM_BUF_SIZE);
    if (!d || !data) {
        free(d);
        free(data);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    d->c.base.read = gzip_read;
    d->c.base.free = gzip_decoder_free;
    d->c.in.inner = inner;
    d->c.in.data = data;
    isal_inflate_init(&d->st);
    d->phase = GZ_HEADER;
    *out = &d->c.base;
    return 0;
}

/* ---------------------------------------------------------------------------
 * gzip encoder
 * ------------------------------------------------------------------------- */

typedef struct gzip_encoder {
    encoder_common c;
    tsv_gzip_engine engine;
    struct isal_zstream zs;
    uint8_t *level_buf;
    z_stream z;
    bool z_ready;
} gzip_encoder;

static int isal_run(gzip_encoder *g)
{
    /* ISA-L may buffer input internally; keep calling while it consumes
     * input or fills the whole output buffer. */
    do {
        g->zs.next_out = g->c.out;
        g->zs.avail_out = TSV_STREAM_BUF_SIZE;
        int ret = isal_deflate(&g->zs);
        if (ret != COMP_OK)
            return tsv_error_set(&g->c.error, TSV_EINTERNAL, "gzip: isal_deflate failed (%d)", ret);
        if (stream__encoder_emit(&g->c, TSV_STREAM_BUF_SIZE - g->zs.avail_out) != 0)
            return -1;
    } while (g->zs.avail_in > 0 || g->zs.avail_out == 0);
    return 0;
}

static int zlib_run(gzip_encoder *g, int flush)
{
    for (;;) {
        g->z.next_out = g->c.out;
        g->z.avail_out = TSV_STREAM_BUF_SIZE;
        int ret = deflate(&g->z, flush);
        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
            return tsv_error_set(&g->c.error, TSV_EINTERNAL, "gzip: zlib deflate failed (%d)", ret);
        if (stream__encoder_emit(&g->c, TSV_STREAM_BUF_SIZE - g->z.avail_out) != 0)
            return -1;
        if (flush == Z_FINISH) {
            if (ret == Z_STREAM_END)
                return 0;
        } else if (g->z.avail_in == 0 && g->z.avail_out != 0) {
            return 0;
        }
    }
}

static int gzip_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    gzip_encoder *g = (gzip_encoder *)w;
    if (stream__encoder_check_usable(&g->c, err) != 0)
        return -1;
    const uint8_t *p = buf;
    while (len > 0) {
        uint32_t chunk = len > (1u << 30) ? (1u << 30) : (uint32_t)len;
        int rc;
        if (g->engine == TSV_GZIP_ISAL) {
            g->zs.next_in = (uint8_t *)p;
            g->zs.avail_in = chunk;
            g->zs.end_of_stream = 0;
            g->zs.flush = NO_FLUSH;
            rc = isal_run(g);
        } else {
            g->z.next_in = (Bytef *)p;
            g->z.avail_in = chunk;
            rc = zlib_run(g, Z_NO_FLUSH);
        }
        if (rc != 0)
            return stream__encoder_fail(&g->c, err);
        p += chunk;
        len -= chunk;
    }
    return 0;
}

static int gzip_close(tsv_writer *w, tsv_error *err)
{
    gzip_encoder *g = (gzip_encoder *)w;
    if (g->c.closed && !g->c.failed)
        return 0;
    if (stream__encoder_check_usable(&g->c, err) != 0)
        return -1;
    if (g->engine == TSV_GZIP_ISAL) {
        g->zs.next_in = NULL;
        g->zs.avail_in = 0;
        g->zs.end_of_stream = 1;
        g->zs.flush = NO_FLUSH;
        while (g->zs.internal_state.state != ZSTATE_END)
            if (isal_run(g) != 0)
                return stream__encoder_fail(&g->c, err);
    } else {
        g->z.next_in = NULL;
        g->z.avail_in = 0;
        if (zlib_run(g, Z_FINISH) != 0)
            return stream__encoder_fail(&g->c, err);
    }
    return stream__encoder_finish_inner(&g->c, err);
}

static void gzip_encoder_free(tsv_writer *w)
{
    gzip_encoder *g = (gzip_encoder *)w;
    if (!g)
        return;
    if (g->z_ready)
        deflateEnd(&g->z);
    free(g->level_buf);
    free(g->c.out);
    free(g);
}

static size_t isal_level_buf_size(int level)
{
    switch (level) {
    case 1:
        return ISAL_DEF_LVL1_DEFAULT;
    case 2:
        return ISAL_DEF_LVL2_DEFAULT;
    case 3:
        return ISAL_DEF_LVL3_DEFAULT;
    default:
        return 0;
    }
}

int tsv_gzip_encoder_new(tsv_writer **out, tsv_writer *inner, tsv_gzip_engine engine, int level,
                         int flags, tsv_error *err)
{
    *out = NULL;
    if (!inner)
        return tsv_error_set(err, TSV_EINTERNAL, "gzip encoder: no inner writer");
    if (engine == TSV_GZIP_ISAL) {
        if (level < ISAL_DEF_MIN_LEVEL || level > ISAL_DEF_MAX_LEVEL)
            return tsv_error_set(err, TSV_EINVALID, "gzip (ISA-L) level %d out of range 0-3",
                                 level);
    } else if (engine == TSV_GZIP_ZLIB) {
        if (level < 1 || level > 9)
            return tsv_error_set(err, TSV_EINVALID, "gzip (zlib) level %d out of range 1-9", level);
    } else {
        return tsv_error_set(err, TSV_EINVALID, "unknown gzip engine %d", (int)engine);
    }

    gzip_encoder *g = calloc(1, sizeof *g);
    if (!g)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    g->c.base.write = gzip_write;
    g->c.base.close = gzip_close;
    g->c.base.free = gzip_encoder_free;
    g->c.inner = inner;
    g->c.flags = flags;
    g->engine = engine;
    g->c.out = malloc(TSV_STREAM_BUF_SIZE);
    if (!g->c.out)
        goto oom;
    if (engine == TSV_GZIP_ISAL) {
        isal_deflate_init(&g->zs);
        g->zs.level = (uint32_t)level;
        g->zs.gzip_flag = IGZIP_GZIP;
        size_t lb = isal_level_buf_size(level);
        if (lb) {
            g->level_buf = malloc(lb);
            if (!g->level_buf)
                goto oom;
            g->zs.level_buf = g->level_buf;
            g->zs.level_buf_size = (uint32_t)lb;
        }
    } else {
        /* windowBits 15 + 16 asks zlib for a gzip wrapper. */
        int ret = deflateInit2(&g->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (ret != Z_OK) {
            gzip_encoder_free(&g->c.base);
            return tsv_error_set(err, TSV_EINTERNAL, "gzip: deflateInit2 failed (%d)", ret);
        }
        g->z_ready = true;
    }
    *out = &g->c.base;
    return 0;
oom:
    gzip_encoder_free(&g->c.base);
    return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
}
