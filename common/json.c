/*
 * json: strict RFC 8259 parser into an arena-allocated DOM and a
 * Go-compatible writer (RFC 3339 times are tsv_time.c).
 *
 * The parser is recursive descent with an explicit depth cap. Members of an
 * open array/object collect on one shared scratch stack and are copied into
 * the arena when the container closes, so every node's arrays are exact-size
 * and nothing but the arena outlives tsv_json_parse.
 */
#include "json.h"
#include "tsv_time.h"
#include "vformat.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

/* ---------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------- */

typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} arena_block;

struct tsv_json_doc {
    arena_block *blocks; /* newest first */
    size_t next_block_size;
    tsv_json *root;
};

#define ARENA_ALIGN 16
#define ARENA_FIRST_BLOCK 4096
#define ARENA_MAX_BLOCK (1024 * 1024)

static void *arena_alloc(tsv_json_doc *doc, size_t size)
{
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    arena_block *b = doc->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = doc->next_block_size;
        if (cap < size)
            cap = size;
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = doc->blocks;
        doc->blocks = b;
        if (doc->next_block_size < ARENA_MAX_BLOCK)
            doc->next_block_size *= 2;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

void tsv_json_free(tsv_json_doc *doc)
{
    if (!doc)
        return;
    arena_block *b = doc->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

const tsv_json *tsv_json_root(const tsv_json_doc *doc) { return doc ? doc->root : NULL; }

/* ---------------------------------------------------------------------------
 * UTF-8
 * ------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid: overlong
 * forms, surrogates and code points above U+10FFFF are invalid, as in Go's
 * utf8.DecodeRune. *cp receives the code point. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;
    uint32_t v;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        v = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* > U+10FFFF */
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    v = (v << 6) | (s[1] & 0x3f);
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------- */

typedef struct member {
    tsv_json *value;
    const char *key; /* objects only */
    size_t key_len;
} member;

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    int depth;
    tsv_json_doc *doc;
    member *stack; /* members of every open container, innermost last */
    size_t stack_len, stack_cap;
    char *scratch; /* string being decoded */
    size_t scratch_len, scratch_cap;
    tsv_error *err;
} parser;

/* Formats a byte the way Go's quoteChar does for ASCII. */
static void describe_char(unsigned char c, char *out, size_t outlen)
{
    switch (c) {
    case '\'':
        snprintf(out, outlen, "'\\''");
        return;
    case '\n':
        snprintf(out, outlen, "'\\n'");
        return;
    case '\r':
        snprintf(out, outlen, "'\\r'");
        return;
    case '\t':
        snprintf(out, outlen, "'\\t'");
        return;
    case '\b':
        snprintf(out, outlen, "'\\b'");
        return;
    case '\f':
        snprintf(out, outlen, "'\\f'");
        return;
    case '\v':
        snprintf(out, outlen, "'\\v'");
        return;
    case '\a':
        snprintf(out, outlen, "'\\a'");
        return;
    default:
        if (c >= 0x20 && c < 0x7f)
            snprintf(out, outlen, "'%c'", c);
        else
            snprintf(out, outlen, "'\\x%02x'", c);
    }
}

/* "invalid character 'c' <context> at offset N" for the byte at p->pos. */
static int bad_char(parser *p, const char *context)
{
    char ch[16];
    describe_char(p->s[p->pos], ch, sizeof ch);
    return tsv_error_set(p->err, TSV_EINVALID, "invalid character %s %s at offset %zu", ch, context,
                         p->pos);
}

static int unexpected_end(parser *p)
{
    return tsv_error_set(p->err, TSV_EINVALID, "unexpected end of JSON input at offset %zu",
                         p->len);
}

static int out_of_memory(parser *p)
{
    return tsv_error_set(p->err, TSV_EINTERNAL, "json: out of memory");
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

static tsv_json *new_node(parser *p, tsv_json_type type)
{
    tsv_json *v = arena_alloc(p->doc, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->type = type;
    }
    return v;
}

/* NUL-terminated arena copy of n bytes. */
static char *arena_strndup(parser *p, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = arena_alloc(p->doc, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int scratch_append(parser *p, const char *s, size_t n)
{
    if (n > p->scratch_cap - p->scratch_len) {
        size_t cap = p->scratch_cap ? p->scratch_cap : 256;
        while (cap - p->scratch_len < n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *d = realloc(p->scratch, cap);
        if (!d)
            return -1;
        p->scratch = d;
        p->scratch_cap = cap;
    }
    memcpy(p->scratch + p->scratch_len, s, n);
    p->scratch_len += n;
    return 0;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" (p->pos at the first digit). */
static int read_hex4(parser *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (p->pos >= p->len)
            return unexpected_end(p);
        int h = hex_value(p->s[p->pos]);
        if (h < 0)
            return bad_char(p, "in \\u hexadecimal character escape");
        v = (v << 4) | (uint32_t)h;
        p->pos++;
    }
    *out = v;
    return 0;
}

/* Parses a string literal (p->pos at the opening quote) into the arena. */
static int parse_string_raw(parser *p, const char **out, size_t *out_len)
{
    p->pos++; /* opening quote */
    p->scratch_len = 0;
    for (;;) {
        /* copy a run of plain printable ASCII in one go */
        size_t start = p->pos;
        while (p->pos < p->len) {
            unsigned char c = p->s[p->pos];
            if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
                break;
            p->pos++;
        }
        if (p->pos > start && scratch_append(p, (const char *)p->s + start, p->pos - start) != 0)
            return out_of_memory(p);
        if (p->pos >= p->len)
            return unexpected_end(p);
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return bad_char(p, "in string literal");
        if (c >= 0x80) {
            uint32_t cp;
            size_t n = utf8_decode(p->s + p->pos, p->len - p->pos, &cp);
            if (n == 0)
                return tsv_error_set(p->err, TSV_EINVALID,
                                     "invalid UTF-8 in string literal at offset %zu", p->pos);
            if (scratch_append(p, (const char *)p->s + p->pos, n) != 0)
                return out_of_memory(p);
            p->pos += n;
            continue;
        }
        /* backslash escape */
        size_t esc_at = p->pos;
        p->pos++;
        if (p->pos >= p->len)
            return unexpected_end(p);
        char one;
        switch (p->s[p->pos]) {
        case '"':
            one = '"';
            break;
        case '\\':
            one = '\\';
            break;
        case '/':
            one = '/';
            break;
        case 'b':
            one = '\b';
            break;
        case 'f':
            one = '\f';
            break;
        case 'n':
            one = '\n';
            break;
        case 'r':
            one = '\r';
            break;
        case 't':
            one = '\t';
            break;
        case 'u': {
            p->pos++;
            uint32_t cp;
            if (read_hex4(p, &cp) != 0)
                return -1;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return tsv_error_set(
                    p->err, TSV_EINVALID,
                    "invalid \\u%04x escape (unpaired low surrogate) at offset %zu", (unsigned)cp,
                    esc_at);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* a high surrogate must be followed by \u and a low one */
                for (int k = 0; k < 2; k++) {
                    if (p->pos + (size_t)k >= p->len)
                        return unexpected_end(p);
                    if (p->s[p->pos + (size_t)k] != (k == 0 ? '\\' : 'u'))
                        return tsv_error_set(
                            p->err, TSV_EINVALID,
                            "invalid \\u%04x escape (unpaired high surrogate) at offset %zu",
                            (unsigned)cp, esc_at);
                }
                p->pos += 2;
                uint32_t low;
                if (read_hex4(p, &low) != 0)
                    return -1;
                if (low < 0xdc00 || low > 0xdfff)
                    return tsv_error_set(
                        p->err, TSV_EINVALID,
                        "invalid \\u%04x escape (unpaired high surrogate) at offset %zu",
                        (unsigned)cp, esc_at);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }
            char enc[4];
            if (scratch_append(p, enc, utf8_encode(cp, enc)) != 0)
                return out_of_memory(p);
            continue;
        }
        default:
            return bad_char(p, "in string escape code");
        }
        p->pos++;
        if (scratch_append(p, &one, 1) != 0)
            return out_of_memory(p);
    }
    char *d = arena_strndup(p, p->scratch ? p->scratch : "", p->scratch_len);
    if (!d)
        return out_of_memory(p);
    *out = d;
    *out_len = p->scratch_len;
    return 0;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, tsv_json **out)
{
    size_t start = p->pos;
    if (p->s[p->pos] == '-') {
        p->pos++;
        if (p->pos >= p->len)
            return unexpected_end(p);
        if (!is_digit(p->s[p->pos]))
            return bad_char(p, "in numeric literal");
    }
    /* int: a lone 0 or a nonzero digit run; "01" stops after the 0 and the
     * caller then trips over the 1, as in Go */
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else {
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len)
            return unexpected_end(p);
        if (!is_digit(p->s[p->pos]))
            return bad_char(p, "after decimal point in numeric literal");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len)
            return unexpected_end(p);
        if (!is_digit(p->s[p->pos]))
            return bad_char(p, "in exponent of numeric literal");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    tsv_json *v = new_node(p, TSV_JSON_NUMBER);
    if (!v)
        return out_of_memory(p);
    v->len = p->pos - start;
    v->str = arena_strndup(p, (const char *)p->s + start, v->len);
    if (!v->str)
        return out_of_memory(p);
    *out = v;
    return 0;
}

static int parse_literal(parser *p, const char *word, tsv_json **out)
{
    for (size_t i = 0; word[i]; i++) {
        if (p->pos >= p->len)
            return unexpected_end(p);
        if (p->s[p->pos] != (unsigned char)word[i]) {
            char context[64];
            snprintf(context, sizeof context, "in literal %s (expecting '%c')", word, word[i]);
            return bad_char(p, context);
        }
        p->pos++;
    }
    tsv_json *v = new_node(p, word[0] == 'n' ? TSV_JSON_NULL : TSV_JSON_BOOL);
    if (!v)
        return out_of_memory(p);
    v->boolean = word[0] == 't';
    *out = v;
    return 0;
}

static int push_member(parser *p, tsv_json *value, const char *key, size_t key_len)
{
    if (p->stack_len == p->stack_cap) {
        size_t cap = p->stack_cap ? p->stack_cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *p->stack)
            return out_of_memory(p);
        member *s = realloc(p->stack, cap * sizeof *s);
        if (!s)
            return out_of_memory(p);
        p->stack = s;
        p->stack_cap = cap;
    }
    p->stack[p->stack_len++] = (member){value, key, key_len};
    return 0;
}

/* Moves the members pushed since `base` into v's exact-size arena arrays. */
static int close_container(parser *p, tsv_json *v, size_t base, bool object)
{
    size_t n = p->stack_len - base;
    v->count = n;
    if (n > 0) {
        if (n > SIZE_MAX / sizeof(void *) / 2)
            return out_of_memory(p);
        v->items = arena_alloc(p->doc, n * sizeof *v->items);
        if (!v->items)
            return out_of_memory(p);
        if (object) {
            v->keys = arena_alloc(p->doc, n * sizeof *v->keys);
            v->key_lens = arena_alloc(p->doc, n * sizeof *v->key_lens);
            if (!v->keys || !v->key_lens)
                return out_of_memory(p);
        }
        for (size_t i = 0; i < n; i++) {
            const member *m = &p->stack[base + i];
            v->items[i] = m->value;
            if (object) {
                v->keys[i] = m->key;
                v->key_lens[i] = m->key_len;
            }
        }
    }
    p->stack_len = base;
    return 0;
}

static int parse_value(parser *p, tsv_json **out);

static int enter(parser *p)
{
    if (p->depth >= JSON_MAX_DEPTH)
        return tsv_error_set(p->err, TSV_EINVALID, "exceeded max depth %d at offset %zu",
                             JSON_MAX_DEPTH, p->pos);
    p->depth++;
    return 0;
}

/* An object member's key and its ':' (positioned before the key). */
static int parse_key(parser *p, const char **key, size_t *key_len)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return unexpected_end(p);
    if (p->s[p->pos] != '"')
        return bad_char(p, "looking for beginning of object key string");
    if (parse_string_raw(p, key, key_len) != 0)
        return -1;
    skip_ws(p);
    if (p->pos >= p->len)
        return unexpected_end(p);
    if (p->s[p->pos] != ':')
        return bad_char(p, "after object key");
    p->pos++;
    return 0;
}

/* An array or an object: the same loop, objects read a key before each value. */
static int parse_container(parser *p, bool object, tsv_json **out)
{
    if (enter(p) != 0)
        return -1;
    tsv_json *v = new_node(p, object ? TSV_JSON_OBJECT : TSV_JSON_ARRAY);
    if (!v)
        return out_of_memory(p);
    const char close = object ? '}' : ']';
    size_t base = p->stack_len;
    p->pos++; /* [ or { */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            const char *key = NULL;
            size_t key_len = 0;
            if (object && parse_key(p, &key, &key_len) != 0)
                return -1;
            tsv_json *item;
            if (parse_value(p, &item) != 0 || push_member(p, item, key, key_len) != 0)
                return -1;
            skip_ws(p);
            if (p->pos >= p->len)
                return unexpected_end(p);
            if (p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            return bad_char(p, object ? "after object key:value pair" : "after array element");
        }
    }
    if (close_container(p, v, base, object) != 0)
        return -1;
    p->depth--;
    *out = v;
    return 0;
}

static int parse_value(parser *p, tsv_json **out)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return unexpected_end(p);
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{':
        return parse_container(p, true, out);
    case '[':
        return parse_container(p, false, out);
    case '"': {
        tsv_json *v = new_node(p, TSV_JSON_STRING);
        if (!v)
            return out_of_memory(p);
        if (parse_string_raw(p, &v->str, &v->len) != 0)
            return -1;
        *out = v;
        return 0;
    }
    case 't':
        return parse_literal(p, "true", out);
    case 'f':
        return parse_literal(p, "false", out);
    case 'n':
        return parse_literal(p, "null", out);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(p, out);
        return bad_char(p, "looking for beginning of value");
    }
}

int tsv_json_parse(tsv_json_doc **out, const char *text, size_t len, tsv_error *err)
{
    *out = NULL;
    tsv_json_doc *doc = calloc(1, sizeof *doc);
    if (!doc)
        return tsv_error_set(err, TSV_EINTERNAL, "json: out of memory");
    doc->next_block_size = ARENA_FIRST_BLOCK;
    parser p = {.s = (const unsigned char *)text, .len = text ? len : 0, .doc = doc, .err = err};
    int rc = parse_value(&p, &doc->root);
    if (rc == 0) {
        skip_ws(&p);
        if (p.pos < p.len)
            rc = bad_char(&p, "after top-level value");
    }
    free(p.stack);
    free(p.scratch);
    if (rc != 0) {
        tsv_json_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Lookup and typed access
 * ------------------------------------------------------------------------- */

const tsv_json *tsv_json_get(const tsv_json *obj, const char *key)
{
    if (!obj || obj->type != TSV_JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = obj->count; i-- > 0;) /* last duplicate wins */
        if (obj->key_lens[i] == n && memcmp(obj->keys[i], key, n) == 0)
            return obj->items[i];
    return NULL;
}

static bool ascii_equal_fold(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

const tsv_json *tsv_json_get_ci(const tsv_json *obj, const char *key)
{
    if (!obj || obj->type != TSV_JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    /* Go assigns every key that folds to the field in document order, so the
     * last such key is the value it ends up with. */
    for (size_t i = obj->count; i-- > 0;)
        if (obj->key_lens[i] == n && ascii_equal_fold(obj->keys[i], key, n))
            return obj->items[i];
    return NULL;
}

const char *tsv_json_type_name(tsv_json_type t)
{
    switch (t) {
    case TSV_JSON_NULL:
        return "null";
    case TSV_JSON_BOOL:
        return "bool";
    case TSV_JSON_NUMBER:
        return "number";
    case TSV_JSON_STRING:
        return "string";
    case TSV_JSON_ARRAY:
        return "array";
    case TSV_JSON_OBJECT:
        return "object";
    }
    return "unknown";
}

static int type_error(const tsv_json *v, const char *what, const char *go_type, tsv_error *err)
{
    if (!what)
        what = "Go value";
    if (!v)
        return tsv_error_set(err, TSV_EINVALID, "json: missing %s (want %s)", what, go_type);
    if (v->type == TSV_JSON_NUMBER)
        /* Go quotes the literal; cap it so a huge number cannot drown the message */
        return tsv_error_set(
            err, TSV_EINVALID, "json: cannot unmarshal number %.*s%s into %s of type %s",
            v->len > 64 ? 64 : (int)v->len, v->str, v->len > 64 ? "..." : "", what, go_type);
    return tsv_error_set(err, TSV_EINVALID, "json: cannot unmarshal %s into %s of type %s",
                         tsv_json_type_name(v->type), what, go_type);
}

/* Digits-only magnitude of a NUMBER literal; false on fraction/exponent/overflow. */
static bool number_magnitude(const tsv_json *v, bool *negative, uint64_t *mag)
{
    const char *s = v->str;
    size_t n = v->len, i = 0;
    *negative = false;
    if (n > 0 && s[0] == '-') {
        *negative = true;
        i = 1;
    }
    if (i == n)
        return false;
    uint64_t m = 0;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false; /* '.', 'e', 'E' */
        unsigned d = (unsigned)(s[i] - '0');
        if (m > (UINT64_MAX - d) / 10)
            return false;
        m = m * 10 + d;
    }
    *mag = m;
    return true;
}

int tsv_json_u64(const tsv_json *v, uint64_t *out, const char *what, tsv_error *err)
{
    bool neg;
    uint64_t m;
    if (!v || v->type != TSV_JSON_NUMBER || !number_magnitude(v, &neg, &m) || neg)
        return type_error(v, what, "uint64", err);
    *out = m;
    return 0;
}

int tsv_json_i64(const tsv_json *v, int64_t *out, const char *what, tsv_error *err)
{
    bool neg;
    uint64_t m;
    if (!v || v->type != TSV_JSON_NUMBER || !number_magnitude(v, &neg, &m))
        return type_error(v, what, "int64", err);
    if (neg) {
        if (m > (uint64_t)INT64_MAX + 1)
            return type_error(v, what, "int64", err);
        *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX)
            return type_error(v, what, "int64", err);
        *out = (int64_t)m;
    }
    return 0;
}

int tsv_json_string(const tsv_json *v, const char **s, size_t *len, const char *what,
                    tsv_error *err)
{
    if (!v || v->type != TSV_JSON_STRING)
        return type_error(v, what, "string", err);
    *s = v->str;
    if (len)
        *len = v->len;
    return 0;
}

int tsv_json_bool(const tsv_json *v, int *out, const char *what, tsv_error *err)
{
    if (!v || v->type != TSV_JSON_BOOL)
        return type_error(v, what, "bool", err);
    *out = v->boolean;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------- */

void tsv_jw_init(tsv_json_writer *w, tsv_buf *buf, const char *indent)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->indent = indent;
}

static void put(tsv_json_writer *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (tsv_buf_append(w->buf, s, n, NULL) != 0)
        w->failed = 1;
}

static void put_str(tsv_json_writer *w, const char *s) { put(w, s, strlen(s)); }

static void newline_indent(tsv_json_writer *w, int depth)
{
    put(w, "\n", 1);
    for (int i = 0; i < depth; i++)
        put_str(w, w->indent);
}

static bool in_object(const tsv_json_writer *w)
{
    return w->depth > 0 && (w->object_levels >> (w->depth - 1) & 1);
}

/* Separator before an array element or object key. */
static void separate(tsv_json_writer *w)
{
    int d = w->depth - 1;
    if (w->need_comma[d])
        put(w, ",", 1);
    if (w->indent)
        newline_indent(w, w->depth);
    w->need_comma[d] = 1;
}

/* Called before every value; false (and `failed` set) on misuse. */
static bool before_value(tsv_json_writer *w)
{
    if (w->failed)
        return false;
    if (w->after_key) {
        w->after_key = 0;
        return true;
    }
    if (w->depth == 0)
        return true;
    if (in_object(w)) {
        w->failed = 1; /* a value in an object needs a key first */
        return false;
    }
    separate(w);
    return true;
}

static void begin(tsv_json_writer *w, bool object)
{
    if (!before_value(w))
        return;
    if (w->depth >= (int)(sizeof w->need_comma / sizeof w->need_comma[0])) {
        w->failed = 1;
        return;
    }
    put(w, object ? "{" : "[", 1);
    w->need_comma[w->depth] = 0;
    if (object)
        w->object_levels |= (uint64_t)1 << w->depth;
    else
        w->object_levels &= ~((uint64_t)1 << w->depth);
    w->depth++;
}

static void end(tsv_json_writer *w, bool object)
{
    if (w->failed)
        return;
    if (w->depth == 0 || in_object(w) != object || w->after_key) {
        w->failed = 1;
        return;
    }
    w->depth--;
    if (w->need_comma[w->depth] && w->indent)
        newline_indent(w, w->depth);
    put(w, object ? "}" : "]", 1);
}

void tsv_jw_object_begin(tsv_json_writer *w) { begin(w, true); }

void tsv_jw_object_end(tsv_json_writer *w) { end(w, true); }

void tsv_jw_array_begin(tsv_json_writer *w) { begin(w, false); }

void tsv_jw_array_end(tsv_json_writer *w) { end(w, false); }

/* Go's encodeState.string with HTML escaping on. */
static void put_quoted(tsv_json_writer *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    put(w, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
                i++;
                continue;
            }
            put(w, (const char *)s + run, i - run);
            switch (c) {
            case '"':
                put(w, "\\\"", 2);
                break;
            case '\\':
                put(w, "\\\\", 2);
                break;
            case '\n':
                put(w, "\\n", 2);
                break;
            case '\r':
                put(w, "\\r", 2);
                break;
            case '\t':
                put(w, "\\t", 2);
                break;
            default: {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
                put(w, e, 6);
            }
            }
            i++;
            run = i;
            continue;
        }
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            put(w, (const char *)s + run, i - run);
            put(w, "\\ufffd", 6);
            i++;
            run = i;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            put(w, (const char *)s + run, i - run);
            put(w, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            i += len;
            run = i;
            continue;
        }
        i += len;
    }
    put(w, (const char *)s + run, n - run);
    put(w, "\"", 1);
}

void tsv_jw_key(tsv_json_writer *w, const char *key)
{
    tsv_jw_key_n(w, key, key ? strlen(key) : 0);
}

void tsv_jw_key_n(tsv_json_writer *w, const char *key, size_t n)
{
    if (w->failed)
        return;
    if (!in_object(w) || w->after_key || !key) {
        w->failed = 1;
        return;
    }
    separate(w);
    put_quoted(w, key, n);
    put(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
    w->after_key = 1;
}

void tsv_jw_string_n(tsv_json_writer *w, const char *s, size_t n)
{
    if (!s) {
        tsv_jw_null(w);
        return;
    }
    if (!before_value(w))
        return;
    put_quoted(w, s, n);
}

void tsv_jw_string(tsv_json_writer *w, const char *s)
{
    if (!s) {
        tsv_jw_null(w);
        return;
    }
    tsv_jw_string_n(w, s, strlen(s));
}

void tsv_jw_u64(tsv_json_writer *w, uint64_t v)
{
    if (!before_value(w))
        return;
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRIu64, v);
    put(w, b, (size_t)n);
}

void tsv_jw_i64(tsv_json_writer *w, int64_t v)
{
    if (!before_value(w))
        return;
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    put(w, b, (size_t)n);
}

void tsv_jw_bool(tsv_json_writer *w, int v)
{
    if (!before_value(w))
        return;
    put_str(w, v ? "true" : "false");
}

void tsv_jw_null(tsv_json_writer *w)
{
    if (!before_value(w))
        return;
    put(w, "null", 4);
}

void tsv_jw_field_string(tsv_json_writer *w, const char *key, const char *s)
{
    tsv_jw_key(w, key);
    tsv_jw_string(w, s);
}

void tsv_jw_field_stringf(tsv_json_writer *w, const char *key, const char *fmt, ...)
{
    char s[1024];
    TSV_VFORMAT(s, fmt);
    tsv_jw_field_string(w, key, s);
}

void tsv_jw_field_u64(tsv_json_writer *w, const char *key, uint64_t v)
{
    tsv_jw_key(w, key);
    tsv_jw_u64(w, v);
}

void tsv_jw_field_i64(tsv_json_writer *w, const char *key, int64_t v)
{
    tsv_jw_key(w, key);
    tsv_jw_i64(w, v);
}

void tsv_jw_field_bool(tsv_json_writer *w, const char *key, int v)
{
    tsv_jw_key(w, key);
    tsv_jw_bool(w, v);
}

void tsv_jw_field_time(tsv_json_writer *w, const char *key, int64_t ns)
{
    char t[TSV_RFC3339_MAX];
    tsv_format_rfc3339nano(ns, t, sizeof t);
    tsv_jw_field_string(w, key, t);
}

void tsv_jw_raw(tsv_json_writer *w, const char *json)
{
    if (!before_value(w))
        return;
    put_str(w, json ? json : "null");
}

int tsv_jw_finish(tsv_json_writer *w, tsv_error *err)
{
    if (w->failed)
        return tsv_error_set(err, TSV_EINTERNAL,
                             "json writer: out of memory or unbalanced/misused calls");
    if (w->depth != 0 || w->after_key)
        return tsv_error_set(err, TSV_EINTERNAL, "json writer: %d container(s) left open",
                             w->depth);
    return 0;
}

void tsv_jw_node(tsv_json_writer *w, const tsv_json *v)
{
    switch (v->type) {
    case TSV_JSON_NULL:
        tsv_jw_null(w);
        break;
    case TSV_JSON_BOOL:
        tsv_jw_bool(w, v->boolean);
        break;
    case TSV_JSON_NUMBER:
        tsv_jw_raw(w, v->str);
        break;
    case TSV_JSON_STRING:
        tsv_jw_string_n(w, v->str, v->len);
        break;
    case TSV_JSON_ARRAY:
        tsv_jw_array_begin(w);
        for (size_t i = 0; i < v->count; i++)
            tsv_jw_node(w, v->items[i]);
        tsv_jw_array_end(w);
        break;
    case TSV_JSON_OBJECT:
        tsv_jw_object_begin(w);
        for (size_t i = 0; i < v->count; i++) {
            /* A parsed key may hold NULs ("\u0000"): strlen would cut it. */
            tsv_jw_key_n(w, v->keys[i], v->key_lens[i]);
            tsv_jw_node(w, v->items[i]);
        }
        tsv_jw_object_end(w);
        break;
    }
}
