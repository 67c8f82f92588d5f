/* YAML configuration files: one document, a mapping of sections, each a
 * mapping of keys to scalars. The schema is the table below; the walker
 * pulls libyaml events and accepts exactly root -> section -> scalar, so
 * anything nested deeper is an error at its first event (no recursion, no
 * tree in memory). Every value is checked here against what the function
 * that consumes it accepts, and every error names FILE:LINE:COLUMN. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "config/scalar.h"
#include "core/alloc.h"
#include "core/error.h"
#include "quant/quant.h"

/* Larger documents are refused before parsing: a configuration is a few
 * hundred bytes, and libyaml's memory grows with the input. */
#define CONFIG_MAX_BYTES (1u << 20)

/* How a scalar is read. */
typedef enum key_kind {
    K_BOOL,
    K_INT,   /* signed range [lo, hi] */
    K_U64,   /* [0, UINT64_MAX] */
    K_SIZE,  /* bytes, optional binary suffix */
    K_FLOAT, /* finite, stored as float, [flo, fhi] (flo excluded with lo_open) */
    K_STR,   /* non-empty string */
    K_TEXT,  /* any string, empty included */
    K_PATH,  /* non-empty; relative paths resolve against the file's folder */
    K_KV_TYPE,
    K_HEAD_TYPE
} key_kind;

/* The public struct a section is written to, and the field's C type. */
typedef enum key_target { T_NONE, T_MODEL, T_CONTEXT, T_SAMPLER, T_GENERATE } key_target;
typedef enum key_dst { D_NONE, D_BOOL, D_I32, D_U32, D_U64, D_F32, D_STR } key_dst;

typedef struct key_def {
    const char *name;
    key_kind kind;
    key_target target;
    key_dst dst_type;
    size_t dst; /* offsetof the field in the target struct */
    int64_t lo, hi;
    float flo, fhi;
    bool lo_open;
    const char *expect; /* what a valid value looks like, for messages */
} key_def;

/* The field's C type picks how it is written (no default: a field of
 * another type does not compile). */
#define DST_TYPE(T, f)                                                                                        \
    _Generic(((T *)0)->f, bool: D_BOOL, int32_t: D_I32, uint32_t: D_U32, uint64_t: D_U64, float: D_F32,      \
             const char *: D_STR)
#define FIELD(tgt, T, f) .target = tgt, .dst_type = DST_TYPE(T, f), .dst = offsetof(T, f)
#define MODEL(f) FIELD(T_MODEL, bitnet_model_params, f)
#define CONTEXT(f) FIELD(T_CONTEXT, bitnet_context_params, f)
#define SAMPLER(f) FIELD(T_SAMPLER, bitnet_sampler_params, f)
#define GENERATE(f) FIELD(T_GENERATE, bitnet_config_generate, f)

/* Ranges: what bitnet_model_load_file, bitnet_context_new and
 * bitnet_sampler_new accept, narrowed where a value can only be a mistake
 * (a negative top_k or temperature, top_p or min_p outside [0, 1]). */
static const key_def keys[] = {
    /* model */
    {.name = "path", .kind = K_PATH, .target = T_NONE, .expect = "a file path"},
    {.name = "use_mmap", .kind = K_BOOL, MODEL(use_mmap), .expect = "true or false"},
    {.name = "head_type", .kind = K_HEAD_TYPE, MODEL(head_type),
     .expect = "default or a type that can hold an output head (f16, q8_0, q6_k, ...)"},
    {.name = "repack", .kind = K_BOOL, MODEL(repack), .expect = "true or false"},
    /* store */
    {.name = "cache_bytes", .kind = K_SIZE, MODEL(cache_bytes),
     .expect = "a size in bytes: an integer, optionally followed by B, KiB, MiB, GiB or TiB"},
    {.name = "prefetch", .kind = K_BOOL, MODEL(prefetch), .expect = "true or false"},
    /* context */
    {.name = "n_ctx", .kind = K_INT, CONTEXT(n_ctx), .lo = 0, .hi = 1 << 20,
     .expect = "an integer in [0, 1048576] (0: the model's context length)"},
    {.name = "n_batch", .kind = K_INT, CONTEXT(n_batch), .lo = 1, .hi = INT32_MAX,
     .expect = "an integer in [1, 2147483647]"},
    {.name = "n_threads", .kind = K_INT, CONTEXT(n_threads), .lo = 1, .hi = 256,
     .expect = "an integer in [1, 256]"},
    {.name = "kv_type", .kind = K_KV_TYPE, CONTEXT(kv_type), .expect = "f32 or f16"},
    {.name = "backend", .kind = K_STR, CONTEXT(backend), .expect = "a backend name"},
    {.name = "logits_all", .kind = K_BOOL, CONTEXT(logits_all), .expect = "true or false"},
    {.name = "blas_min_batch", .kind = K_INT, CONTEXT(blas_min_batch), .lo = 0, .hi = INT32_MAX,
     .expect = "an integer in [0, 2147483647] (0: never)"},
    /* sampler */
    {.name = "temperature", .kind = K_FLOAT, SAMPLER(temperature), .flo = 0.0f, .fhi = FLT_MAX,
     .expect = "a finite number >= 0 (0: greedy)"},
    {.name = "top_k", .kind = K_INT, SAMPLER(top_k), .lo = 0, .hi = INT32_MAX,
     .expect = "an integer in [0, 2147483647] (0: off)"},
    {.name = "top_p", .kind = K_FLOAT, SAMPLER(top_p), .flo = 0.0f, .fhi = 1.0f,
     .expect = "a number in [0, 1] (1: off)"},
    {.name = "min_p", .kind = K_FLOAT, SAMPLER(min_p), .flo = 0.0f, .fhi = 1.0f,
     .expect = "a number in [0, 1] (0: off)"},
    {.name = "repeat_penalty", .kind = K_FLOAT, SAMPLER(repeat_penalty), .flo = 0.0f, .fhi = FLT_MAX,
     .lo_open = true, .expect = "a finite number > 0 (1: off)"},
    {.name = "frequency_penalty", .kind = K_FLOAT, SAMPLER(frequency_penalty), .flo = -FLT_MAX,
     .fhi = FLT_MAX, .expect = "a finite number (0: off)"},
    {.name = "presence_penalty", .kind = K_FLOAT, SAMPLER(presence_penalty), .flo = -FLT_MAX,
     .fhi = FLT_MAX, .expect = "a finite number (0: off)"},
    {.name = "penalty_last_n", .kind = K_INT, SAMPLER(penalty_last_n), .lo = 0, .hi = INT32_MAX,
     .expect = "an integer in [0, 2147483647]"},
    {.name = "seed", .kind = K_U64, SAMPLER(seed), .expect = "an integer in [0, 18446744073709551615]"},
    /* generate */
    {.name = "prompt", .kind = K_TEXT, GENERATE(prompt), .expect = "a string"},
    {.name = "n_predict", .kind = K_INT, GENERATE(n_predict), .lo = 0, .hi = 1 << 24,
     .expect = "an integer in [0, 16777216]"},
    {.name = "state_load", .kind = K_PATH, GENERATE(state_load), .expect = "a file path"},
    {.name = "state_save", .kind = K_PATH, GENERATE(state_save), .expect = "a file path"},
};
#undef MODEL
#undef CONTEXT
#undef SAMPLER
#undef GENERATE
#undef FIELD
#undef DST_TYPE

#define N_KEYS (sizeof keys / sizeof keys[0])

typedef struct section_def {
    const char *name;
    size_t first, count; /* keys[first .. first + count) */
    const char *key_list; /* for "unknown key" messages */
} section_def;

static const section_def sections[] = {
    {"model", 0, 4, "path, use_mmap, head_type, repack"},
    {"store", 4, 2, "cache_bytes, prefetch"},
    {"context", 6, 7, "n_ctx, n_batch, n_threads, kv_type, backend, logits_all, blas_min_batch"},
    {"sampler", 13, 9,
     "temperature, top_k, top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty, penalty_last_n, seed"},
    {"generate", 22, 4, "prompt, n_predict, state_load, state_save"},
};

#define N_SECTIONS (sizeof sections / sizeof sections[0])

_Static_assert(N_KEYS == 26, "sections[] must cover keys[] exactly");

/* One key's value as read, with where it was set (for duplicate messages). */
typedef struct cfg_value {
    bool set;
    size_t line, column;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        float f;
        char *s;
    } as;
} cfg_value;

struct bitnet_config {
    cfg_value v[N_KEYS];
};

/* ------------------------------------------------------------------------ */
/* The event walker                                                         */
/* ------------------------------------------------------------------------ */

typedef struct walker {
    yaml_parser_t parser;
    yaml_event_t ev; /* the current event, valid while have_ev */
    bool have_ev;
    const char *file;           /* "<string>" or the path, for messages */
    const char *base;           /* prefix of relative paths ("" for none) */
    size_t base_len;
    const unsigned char *text;  /* the document, for reader-error positions */
    size_t text_len;
    bitnet_config *cfg;
    size_t section_line[N_SECTIONS]; /* where each section was opened; 0 = not yet */
} walker;

/* At most ~60 bytes of user text for a message, control bytes as '?'. */
static const char *shown(const char *s, size_t len, char buf[72])
{
    size_t n = len < 60 ? len : 60, i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (n < len) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

static bitnet_status fail_at_pos(const walker *w, size_t line, size_t column, const char *fmt, ...) BN_PRINTF(4, 5);
static bitnet_status fail_at_pos(const walker *w, size_t line, size_t column, const char *fmt, ...)
{
    char msg[BN_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bn_error(BITNET_ERR_BAD_FORMAT, "%s:%zu:%zu: %s", w->file, line, column, msg);
}

/* libyaml marks are 0-based. */
#define fail_at(w, mark, ...) fail_at_pos((w), (mark).line + 1, (mark).column + 1, __VA_ARGS__)

/* The parser's own error (syntax, encoding, memory) as a status. */
static bitnet_status parser_error(const walker *w)
{
    const yaml_parser_t *p = &w->parser;
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: libyaml ran out of memory", w->file);
    if (p->error == YAML_READER_ERROR) {
        /* Encoding errors carry a byte offset, not a mark: count it out. */
        size_t line = 1, column = 1, end = p->problem_offset < w->text_len ? p->problem_offset : w->text_len;
        for (size_t i = 0; i < end; i++) {
            if (w->text[i] == '\n')
                line++, column = 1;
            else if ((w->text[i] & 0xC0) != 0x80)
                column++;
        }
        return fail_at_pos(w, line, column, "cannot read the document: %s", problem);
    }
    if (p->context)
        return fail_at(w, p->problem_mark, "syntax error: %s (%s at line %zu, column %zu)", problem, p->context,
                       p->context_mark.line + 1, p->context_mark.column + 1);
    return fail_at(w, p->problem_mark, "syntax error: %s", problem);
}

static void drop_event(walker *w)
{
    if (w->have_ev) {
        yaml_event_delete(&w->ev);
        w->have_ev = false;
    }
}

/* Advance to the next event; aliases, anchors and tags are refused here so
 * nothing else needs to think about them. */
static bitnet_status next(walker *w)
{
    drop_event(w);
    if (!yaml_parser_parse(&w->parser, &w->ev))
        return parser_error(w);
    w->have_ev = true;
    const yaml_event_t *e = &w->ev;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    char buf[72];
    switch (e->type) {
    case YAML_ALIAS_EVENT:
        anchor = e->data.alias.anchor;
        return fail_at(w, e->start_mark, "aliases are not supported (*%s)",
                       shown((const char *)anchor, strlen((const char *)anchor), buf));
    case YAML_SCALAR_EVENT:
        anchor = e->data.scalar.anchor, tag = e->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = e->data.sequence_start.anchor, tag = e->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = e->data.mapping_start.anchor, tag = e->data.mapping_start.tag;
        break;
    default:
        break;
    }
    if (anchor)
        return fail_at(w, e->start_mark, "anchors are not supported (&%s); aliases are not supported either",
                       shown((const char *)anchor, strlen((const char *)anchor), buf));
    if (tag)
        return fail_at(w, e->start_mark, "tags are not supported (%s)",
                       shown((const char *)tag, strlen((const char *)tag), buf));
    return BITNET_OK;
}

static const char *event_what(const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_SCALAR_EVENT: return "a scalar";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_MAPPING_START_EVENT: return "a mapping";
    default: return "the end of a collection";
    }
}

static bool is_plain_null(const yaml_event_t *e)
{
    return e->type == YAML_SCALAR_EVENT && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           bn_scalar_is_null((const char *)e->data.scalar.value, e->data.scalar.length);
}

/* A copy of the path, prefixed with the config file's folder when relative. */
static char *resolve_path(const walker *w, const char *s, size_t len)
{
    size_t base_len = s[0] == '/' ? 0 : w->base_len;
    char *p = bn_malloc(base_len + len + 1);
    if (!p)
        return NULL;
    memcpy(p, w->base, base_len);
    memcpy(p + base_len, s, len);
    p[base_len + len] = '\0';
    return p;
}

/* Type ids model.c's read_params accepts for head_type. */
static bool head_type_ok(uint32_t id)
{
    const bn_type_traits *tr = bn_type_traits_get(id);
    return tr && tr->quantize && tr->dequantize_row && !tr->tail_bytes;
}

/* Read the current event as the value of keys[k] (section `sec`). */
static bitnet_status read_value(walker *w, const char *sec, size_t k)
{
    const key_def *d = &keys[k];
    const yaml_event_t *e = &w->ev;
    const yaml_mark_t at = e->start_mark;
    if (e->type != YAML_SCALAR_EVENT)
        return fail_at(w, at, "%s.%s: expected %s, found %s", sec, d->name, d->expect, event_what(e));
    const char *s = (const char *)e->data.scalar.value;
    const size_t len = e->data.scalar.length;
    const bool plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    char buf[72];
    if (plain && bn_scalar_is_null(s, len))
        return fail_at(w, at, "%s.%s: expected %s, found null (leave the key out to keep the default)", sec,
                       d->name, d->expect);
    if (memchr(s, '\0', len))
        return fail_at(w, at, "%s.%s: the value contains a NUL character", sec, d->name);
    cfg_value *v = &w->cfg->v[k];
    bn_scalar_result r = BN_SCALAR_OK;
    bool neg = false;
    uint64_t mag = 0;
    double f = 0;
    switch (d->kind) {
    case K_BOOL:
        if (!plain || bn_scalar_bool(s, len, &v->as.b) != BN_SCALAR_OK)
            return fail_at(w, at, "%s.%s: expected %s, found %s'%s'", sec, d->name, d->expect,
                           plain ? "" : "the quoted string ", shown(s, len, buf));
        break;
    case K_INT:
    case K_U64:
        r = plain ? bn_scalar_integer(s, len, &neg, &mag) : BN_SCALAR_SYNTAX;
        if (r == BN_SCALAR_SYNTAX)
            return fail_at(w, at, "%s.%s: expected %s, found %s'%s'", sec, d->name, d->expect,
                           plain ? "" : "the quoted string ", shown(s, len, buf));
        if (d->kind == K_U64) {
            if (r == BN_SCALAR_OVERFLOW || neg)
                return fail_at(w, at, "%s.%s: %s is out of range (expected %s)", sec, d->name, shown(s, len, buf),
                               d->expect);
            v->as.u = mag;
        } else {
            /* The ranges are within int32, so the magnitude decides. */
            if (r == BN_SCALAR_OVERFLOW || mag > (uint64_t)INT32_MAX + 1 ||
                (neg ? -(int64_t)mag : (int64_t)mag) < d->lo || (neg ? -(int64_t)mag : (int64_t)mag) > d->hi)
                return fail_at(w, at, "%s.%s: %s is out of range (expected %s)", sec, d->name, shown(s, len, buf),
                               d->expect);
            v->as.i = neg ? -(int64_t)mag : (int64_t)mag;
        }
        break;
    case K_SIZE:
        r = bn_scalar_size(s, len, &v->as.u);
        if (r == BN_SCALAR_SYNTAX)
            return fail_at(w, at, "%s.%s: expected %s, found '%s'", sec, d->name, d->expect, shown(s, len, buf));
        if (r == BN_SCALAR_OVERFLOW)
            return fail_at(w, at, "%s.%s: %s is out of range (at most 2^64 - 1 bytes)", sec, d->name,
                           shown(s, len, buf));
        break;
    case K_FLOAT:
        if (!plain || bn_scalar_float(s, len, &f) != BN_SCALAR_OK)
            return fail_at(w, at, "%s.%s: expected %s, found %s'%s'", sec, d->name, d->expect,
                           plain ? "" : "the quoted string ", shown(s, len, buf));
        if (!isfinite(f))
            return fail_at(w, at, "%s.%s: %s is not a finite number (expected %s)", sec, d->name,
                           shown(s, len, buf), d->expect);
        /* The range is checked on the float the library will see. */
        if (!(fabs(f) <= FLT_MAX) || !((float)f >= d->flo) || (d->lo_open && !((float)f > d->flo)) ||
            !((float)f <= d->fhi))
            return fail_at(w, at, "%s.%s: %s is out of range (expected %s)", sec, d->name, shown(s, len, buf),
                           d->expect);
        v->as.f = (float)f;
        break;
    case K_KV_TYPE:
        if (len == 3 && memcmp(s, "f32", 3) == 0)
            v->as.i = BITNET_TYPE_F32;
        else if (len == 3 && memcmp(s, "f16", 3) == 0)
            v->as.i = BITNET_TYPE_F16;
        else
            return fail_at(w, at, "%s.%s: expected %s, found '%s'", sec, d->name, d->expect, shown(s, len, buf));
        break;
    case K_HEAD_TYPE: {
        if (len == 7 && memcmp(s, "default", 7) == 0) {
            v->as.i = -1;
            break;
        }
        uint32_t id = 0;
        while (id < 64 && !(strlen(bitnet_type_name(id)) == len && memcmp(bitnet_type_name(id), s, len) == 0 &&
                            head_type_ok(id)))
            id++;
        if (id == 64)
            return fail_at(w, at, "%s.%s: expected %s, found '%s'", sec, d->name, d->expect, shown(s, len, buf));
        v->as.i = (int64_t)id;
        break;
    }
    case K_STR:
    case K_TEXT:
    case K_PATH:
        if (len == 0 && d->kind != K_TEXT)
            return fail_at(w, at, "%s.%s: expected %s, found an empty string", sec, d->name, d->expect);
        v->as.s = d->kind == K_PATH ? resolve_path(w, s, len) : bn_strndup(s, len);
        if (!v->as.s)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: cannot allocate %s.%s", w->file, sec, d->name);
        break;
    }
    v->set = true;
    v->line = at.line + 1;
    v->column = at.column + 1;
    return BITNET_OK;
}

/* The current event is the section's MAPPING-START; consume to its end. */
static bitnet_status walk_section(walker *w, const section_def *sec)
{
    bitnet_status s;
    char buf[72];
    for (;;) {
        if ((s = next(w)))
            return s;
        const yaml_event_t *e = &w->ev;
        if (e->type == YAML_MAPPING_END_EVENT)
            return BITNET_OK;
        if (e->type != YAML_SCALAR_EVENT)
            return fail_at(w, e->start_mark, "%s: expected a key, found %s", sec->name, event_what(e));
        const char *name = (const char *)e->data.scalar.value;
        const size_t len = e->data.scalar.length;
        size_t k = sec->first;
        while (k < sec->first + sec->count && !(strlen(keys[k].name) == len && memcmp(keys[k].name, name, len) == 0))
            k++;
        if (k == sec->first + sec->count)
            return fail_at(w, e->start_mark, "unknown key '%s' in section '%s' (expected %s)", shown(name, len, buf),
                           sec->name, sec->key_list);
        const cfg_value *v = &w->cfg->v[k];
        if (v->set)
            return fail_at(w, e->start_mark, "duplicate key '%s.%s' (first set at line %zu)", sec->name,
                           keys[k].name, v->line);
        if ((s = next(w)) || (s = read_value(w, sec->name, k)))
            return s;
    }
}

/* The current event is the root MAPPING-START; consume to its end. */
static bitnet_status walk_root(walker *w)
{
    bitnet_status s;
    char buf[72];
    for (;;) {
        if ((s = next(w)))
            return s;
        const yaml_event_t *e = &w->ev;
        if (e->type == YAML_MAPPING_END_EVENT)
            return BITNET_OK;
        if (e->type != YAML_SCALAR_EVENT)
            return fail_at(w, e->start_mark, "expected a section name, found %s", event_what(e));
        const char *name = (const char *)e->data.scalar.value;
        const size_t len = e->data.scalar.length;
        size_t i = 0;
        while (i < N_SECTIONS && !(strlen(sections[i].name) == len && memcmp(sections[i].name, name, len) == 0))
            i++;
        if (i == N_SECTIONS)
            return fail_at(w, e->start_mark,
                           "unknown section '%s' (expected model, store, context, sampler or generate)",
                           shown(name, len, buf));
        if (w->section_line[i])
            return fail_at(w, e->start_mark, "duplicate section '%s' (first at line %zu)", sections[i].name,
                           w->section_line[i]);
        w->section_line[i] = e->start_mark.line + 1;
        if ((s = next(w)))
            return s;
        e = &w->ev;
        if (is_plain_null(e)) /* "store:" with every key commented out */
            continue;
        if (e->type != YAML_MAPPING_START_EVENT)
            return fail_at(w, e->start_mark, "section '%s' must be a mapping of keys, found %s", sections[i].name,
                           event_what(e));
        if ((s = walk_section(w, &sections[i])))
            return s;
    }
}

/* The whole stream: nothing, or one document whose root is a mapping (or
 * null: an empty document). */
static bitnet_status walk_stream(walker *w)
{
    bitnet_status s;
    if ((s = next(w))) /* STREAM-START */
        return s;
    if ((s = next(w)))
        return s;
    if (w->ev.type == YAML_STREAM_END_EVENT)
        return BITNET_OK;
    /* DOCUMENT-START, then the root node */
    if ((s = next(w)))
        return s;
    const yaml_event_t *e = &w->ev;
    if (e->type == YAML_MAPPING_START_EVENT) {
        if ((s = walk_root(w)))
            return s;
    } else if (!is_plain_null(e)) {
        return fail_at(w, e->start_mark,
                       "the document must be a mapping of sections (model, store, context, sampler, generate), "
                       "found %s",
                       event_what(e));
    }
    if ((s = next(w))) /* DOCUMENT-END */
        return s;
    if ((s = next(w)))
        return s;
    if (w->ev.type == YAML_DOCUMENT_START_EVENT)
        return fail_at(w, w->ev.start_mark, "more than one document (a configuration is one document)");
    return BITNET_OK; /* STREAM-END: the parser emits nothing else here */
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

void bitnet_config_free(bitnet_config *config)
{
    if (!config)
        return;
    for (size_t k = 0; k < N_KEYS; k++)
        if ((keys[k].kind == K_STR || keys[k].kind == K_TEXT || keys[k].kind == K_PATH) && config->v[k].set)
            bn_free(config->v[k].as.s);
    bn_free(config);
}

/* Parse text[0..len); `file` names it in messages, `base` prefixes
 * relative paths. */
static bitnet_status load(const char *text, size_t len, const char *file, const char *base, size_t base_len,
                          bitnet_config **out)
{
    if (len > CONFIG_MAX_BYTES)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s: the document is %zu bytes; the limit is %u", file, len,
                        CONFIG_MAX_BYTES);
    walker w;
    memset(&w, 0, sizeof w);
    w.file = file;
    w.base = base;
    w.base_len = base_len;
    w.text = (const unsigned char *)text;
    w.text_len = len;
    w.cfg = bn_calloc(1, sizeof *w.cfg);
    if (!w.cfg)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: cannot allocate the configuration", file);
    if (!yaml_parser_initialize(&w.parser)) {
        bn_free(w.cfg);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: cannot create the YAML parser", file);
    }
    yaml_parser_set_input_string(&w.parser, (const unsigned char *)text, len);
    bitnet_status s = walk_stream(&w);
    drop_event(&w);
    yaml_parser_delete(&w.parser);
    if (s != BITNET_OK) {
        bitnet_config_free(w.cfg);
        return s;
    }
    *out = w.cfg;
    return BITNET_OK;
}

bitnet_status bitnet_config_load_string(const char *yaml, size_t len, bitnet_config **out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_config_load_string: out is NULL");
    *out = NULL;
    if (!yaml && len)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_config_load_string: yaml is NULL");
    return load(yaml ? yaml : "", len, "<string>", "", 0, out);
}

bitnet_status bitnet_config_load_file(const char *path, bitnet_config **out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_config_load_file: out is NULL");
    *out = NULL;
    if (!path)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_config_load_file: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return bn_error(BITNET_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    /* Read at most one byte past the limit: enough to know it is too big. */
    char *text = bn_malloc(CONFIG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: cannot allocate the read buffer", path);
    }
    size_t len = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        bn_free(text);
        return bn_error(BITNET_ERR_IO, "cannot read %s", path);
    }
    const char *slash = strrchr(path, '/');
    size_t base_len = slash ? (size_t)(slash - path) + 1 : 0;
    bitnet_status s = load(text, len, path, path, base_len, out);
    bn_free(text);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Reading the values back                                                  */
/* ------------------------------------------------------------------------ */

const char *bitnet_config_model_path(const bitnet_config *config)
{
    return config && config->v[0].set ? config->v[0].as.s : NULL;
}

static size_t dst_size(key_dst t)
{
    switch (t) {
    case D_BOOL: return sizeof(bool);
    case D_I32: return sizeof(int32_t);
    case D_U32: return sizeof(uint32_t);
    case D_U64: return sizeof(uint64_t);
    case D_F32: return sizeof(float);
    case D_STR: return sizeof(const char *);
    case D_NONE: break;
    }
    return 0;
}

/* Write the set keys of `target` that lie inside the caller's struct_size
 * (read from the struct's first field); min_size is the smallest size the
 * library's own read_params accepts for that struct. */
static bitnet_status copy_out(const bitnet_config *config, key_target target, void *params, size_t min_size,
                              size_t max_size, const char *what)
{
    if (!config || !params)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_config_%s: %s is NULL", what,
                        config ? "params" : "config");
    size_t struct_size;
    memcpy(&struct_size, params, sizeof struct_size);
    if (struct_size < min_size || struct_size > max_size)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_config_%s: struct_size is %zu; expected %zu..%zu", what,
                        struct_size, min_size, max_size);
    unsigned char *base = params;
    for (size_t k = 0; k < N_KEYS; k++) {
        const key_def *d = &keys[k];
        const cfg_value *v = &config->v[k];
        if (d->target != target || !v->set || d->dst + dst_size(d->dst_type) > struct_size)
            continue;
        unsigned char *p = base + d->dst;
        switch (d->dst_type) {
        case D_BOOL: memcpy(p, &v->as.b, sizeof(bool)); break;
        case D_I32: { int32_t x = (int32_t)v->as.i; memcpy(p, &x, sizeof x); break; }
        case D_U32: { uint32_t x = (uint32_t)v->as.i; memcpy(p, &x, sizeof x); break; }
        case D_U64: memcpy(p, &v->as.u, sizeof(uint64_t)); break;
        case D_F32: memcpy(p, &v->as.f, sizeof(float)); break;
        case D_STR: { const char *x = v->as.s; memcpy(p, &x, sizeof x); break; }
        case D_NONE: break;
        }
    }
    return BITNET_OK;
}

#define END_OF(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))

bitnet_status bitnet_config_model_params(const bitnet_config *config, bitnet_model_params *params)
{
    return copy_out(config, T_MODEL, params, END_OF(bitnet_model_params, use_mmap), sizeof *params,
                    "model_params");
}

bitnet_status bitnet_config_context_params(const bitnet_config *config, bitnet_context_params *params)
{
    return copy_out(config, T_CONTEXT, params, END_OF(bitnet_context_params, n_threads), sizeof *params,
                    "context_params");
}

bitnet_status bitnet_config_sampler_params(const bitnet_config *config, bitnet_sampler_params *params)
{
    return copy_out(config, T_SAMPLER, params, END_OF(bitnet_sampler_params, temperature), sizeof *params,
                    "sampler_params");
}

bitnet_status bitnet_config_generate_params(const bitnet_config *config, bitnet_config_generate *out)
{
    return copy_out(config, T_GENERATE, out, END_OF(bitnet_config_generate, prompt), sizeof *out,
                    "generate_params");
}
