/* Token sampler: penalties -> top-k -> top-p -> min-p -> temperature ->
 * choice, in the order llama.cpp's default chain uses. Logits are copied into
 * scratch and never modified; each non-greedy sample draws exactly one number
 * from the sampler's own PRNG so that a saved stream position means the same
 * thing everywhere. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "sampler/rng.h"
#include "sampler/sampler_internal.h"

#define HISTORY_FIRST_CAP 16

typedef struct bn_cand {
    int32_t id;
    float logit;
} bn_cand;

struct bitnet_sampler {
    bitnet_sampler_params params;
    bn_rng rng;
    /* The last penalty_last_n accepted tokens: appended until full, then a
     * ring whose oldest entry is history[history_head]. */
    bitnet_token *history;
    int32_t history_len, history_cap, history_head;
    /* Scratch for the largest n_vocab seen so far. */
    float *logits;    /* the penalized copy of the caller's logits */
    uint32_t *counts; /* per-token counts of the window; all zero between calls */
    bn_cand *cand;
    int32_t scratch_cap;
};

/* What survives penalties: live tokens have a logit above -inf. */
typedef struct live_info {
    int32_t n;
    int32_t n_pos_inf;
    float max;
    int32_t argmax;    /* lowest id holding max */
    int32_t first_nan; /* -1 when there is none */
} live_info;

bitnet_sampler_params bitnet_sampler_params_default(void)
{
    bitnet_sampler_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    p.penalty_last_n = 64;
    p.seed = 0;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */
/* ------------------------------------------------------------------------ */

/* Copy the caller's params, honouring a smaller (older) struct_size. */
static bitnet_status read_params(const bitnet_sampler_params *in, bitnet_sampler_params *out)
{
    *out = bitnet_sampler_params_default();
    if (!in)
        return BITNET_OK;
    if (in->struct_size < offsetof(bitnet_sampler_params, temperature) + sizeof in->temperature ||
        in->struct_size > sizeof *out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT,
                        "bitnet_sampler_params.struct_size is %zu; initialise it with bitnet_sampler_params_default()",
                        in->struct_size);
    memcpy(out, in, in->struct_size);
    out->struct_size = sizeof *out;
    return BITNET_OK;
}

static bitnet_status bad_float(const char *field, float v, const char *rule)
{
    return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_params.%s is %g; it must be %s", field, (double)v,
                    rule);
}

static bitnet_status check_params(const bitnet_sampler_params *p)
{
    if (!isfinite(p->temperature))
        return bad_float("temperature", p->temperature, "a finite number (<= 0 for greedy)");
    if (!isfinite(p->top_p) || p->top_p < 0.0f)
        return bad_float("top_p", p->top_p, "a finite number >= 0 (>= 1 turns it off)");
    if (!isfinite(p->min_p))
        return bad_float("min_p", p->min_p, "a finite number (<= 0 turns it off)");
    if (!isfinite(p->repeat_penalty) || p->repeat_penalty <= 0.0f)
        return bad_float("repeat_penalty", p->repeat_penalty, "a finite number > 0 (1 turns it off)");
    if (!isfinite(p->frequency_penalty))
        return bad_float("frequency_penalty", p->frequency_penalty, "a finite number (0 turns it off)");
    if (!isfinite(p->presence_penalty))
        return bad_float("presence_penalty", p->presence_penalty, "a finite number (0 turns it off)");
    if (p->penalty_last_n < 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_params.penalty_last_n is %d; it must be >= 0",
                        (int)p->penalty_last_n);
    return BITNET_OK;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                 */
/* ------------------------------------------------------------------------ */

bitnet_status bitnet_sampler_new(const bitnet_sampler_params *params, bitnet_sampler **out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_new: out is NULL");
    *out = NULL;
    bitnet_sampler_params p;
    bitnet_status s = read_params(params, &p);
    if (s == BITNET_OK)
        s = check_params(&p);
    if (s != BITNET_OK)
        return s;
    bitnet_sampler *sm = bn_calloc(1, sizeof *sm);
    if (!sm)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "bitnet_sampler_new: cannot allocate the sampler");
    sm->params = p;
    bn_rng_seed(&sm->rng, p.seed);
    *out = sm;
    return BITNET_OK;
}

static void free_scratch(bitnet_sampler *s)
{
    bn_free(s->logits);
    bn_free(s->counts);
    bn_free(s->cand);
    s->logits = NULL;
    s->counts = NULL;
    s->cand = NULL;
    s->scratch_cap = 0;
}

void bitnet_sampler_free(bitnet_sampler *sampler)
{
    if (!sampler)
        return;
    free_scratch(sampler);
    bn_free(sampler->history);
    bn_free(sampler);
}

void bitnet_sampler_reset(bitnet_sampler *sampler)
{
    if (!sampler)
        return;
    sampler->history_len = 0;
    sampler->history_head = 0;
    bn_rng_seed(&sampler->rng, sampler->params.seed);
}

void bn_sampler_get_rng(const bitnet_sampler *sampler, uint64_t state[4])
{
    memcpy(state, sampler->rng.s, sizeof sampler->rng.s);
}

bitnet_status bn_sampler_set_rng(bitnet_sampler *sampler, const uint64_t state[4])
{
    if ((state[0] | state[1] | state[2] | state[3]) == 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "sampler random state is all zero");
    memcpy(sampler->rng.s, state, sizeof sampler->rng.s);
    return BITNET_OK;
}

int32_t bn_sampler_get_history(const bitnet_sampler *sampler, bitnet_token *out)
{
    const int32_t n = sampler->history_len;
    if (out && n > 0) {
        /* Until the window is full the history is in order; after that the
         * oldest entry is at history_head. */
        const int32_t head = n == sampler->params.penalty_last_n ? sampler->history_head : 0;
        memcpy(out, sampler->history + head, (size_t)(n - head) * sizeof *out);
        memcpy(out + (n - head), sampler->history, (size_t)head * sizeof *out);
    }
    return n;
}

bitnet_status bn_sampler_set_history(bitnet_sampler *sampler, const bitnet_token *tokens, int32_t n)
{
    if (n < 0 || (n > 0 && !tokens))
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "sampler history of %d tokens", (int)n);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0)
            return bn_error(BITNET_ERR_OUT_OF_RANGE, "sampler history token %d is negative", (int)tokens[i]);
    const int32_t keep = n < sampler->params.penalty_last_n ? n : sampler->params.penalty_last_n;
    if (keep > sampler->history_cap) {
        bitnet_token *h = bn_malloc((size_t)keep * sizeof *h);
        if (!h)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "cannot allocate a sampler history of %d tokens", (int)keep);
        bn_free(sampler->history);
        sampler->history = h;
        sampler->history_cap = keep;
    }
    if (keep > 0)
        memcpy(sampler->history, tokens + (n - keep), (size_t)keep * sizeof *tokens);
    sampler->history_len = keep;
    sampler->history_head = 0; /* in order: when full, the oldest is at 0 */
    return BITNET_OK;
}

/* ------------------------------------------------------------------------ */
/* History and penalties                                                    */
/* ------------------------------------------------------------------------ */

/* Grow the history buffer geometrically up to penalty_last_n, so a large
 * window costs memory only once that many tokens were accepted. */
static bitnet_status grow_history(bitnet_sampler *s)
{
    int64_t cap = s->history_cap ? (int64_t)s->history_cap * 2 : HISTORY_FIRST_CAP;
    if (cap > s->params.penalty_last_n)
        cap = s->params.penalty_last_n;
    bitnet_token *h = bn_realloc(s->history, (size_t)cap * sizeof *h);
    if (!h)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "bitnet_sampler_accept: cannot grow the token history to %lld",
                        (long long)cap);
    s->history = h;
    s->history_cap = (int32_t)cap;
    return BITNET_OK;
}

bitnet_status bitnet_sampler_accept(bitnet_sampler *sampler, bitnet_token token)
{
    if (!sampler)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_accept: sampler is NULL");
    if (token < 0)
        return bn_error(BITNET_ERR_OUT_OF_RANGE, "bitnet_sampler_accept: token %d is negative", (int)token);
    int32_t last_n = sampler->params.penalty_last_n;
    if (last_n == 0)
        return BITNET_OK;
    if (sampler->history_len == last_n) { /* full: overwrite the oldest */
        sampler->history[sampler->history_head] = token;
        sampler->history_head = (sampler->history_head + 1) % last_n;
        return BITNET_OK;
    }
    if (sampler->history_len == sampler->history_cap) {
        bitnet_status s = grow_history(sampler);
        if (s != BITNET_OK)
            return s;
    }
    sampler->history[sampler->history_len++] = token;
    return BITNET_OK;
}

static bool penalties_on(const bitnet_sampler_params *p)
{
    return p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f;
}

static float penalize(float logit, uint32_t count, const bitnet_sampler_params *p)
{
    logit = logit > 0.0f ? logit / p->repeat_penalty : logit * p->repeat_penalty;
    if (isinf(logit)) /* masked stays masked, forced stays forced (and no inf - inf) */
        return logit;
    return logit - (float)count * p->frequency_penalty - p->presence_penalty;
}

/* Penalize each distinct token of the window once; counts[] is left zeroed.
 * Tokens outside this call's vocabulary are ignored. */
static void apply_penalties(bitnet_sampler *s, int32_t n_vocab)
{
    if (s->history_len == 0 || !penalties_on(&s->params))
        return;
    for (int32_t i = 0; i < s->history_len; i++)
        if (s->history[i] < n_vocab)
            s->counts[s->history[i]]++;
    for (int32_t i = 0; i < s->history_len; i++) {
        bitnet_token t = s->history[i];
        if (t >= n_vocab || s->counts[t] == 0)
            continue;
        s->logits[t] = penalize(s->logits[t], s->counts[t], &s->params);
        s->counts[t] = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Scratch, scanning                                                        */
/* ------------------------------------------------------------------------ */

static bitnet_status ensure_scratch(bitnet_sampler *s, int32_t n_vocab)
{
    if (n_vocab <= s->scratch_cap)
        return BITNET_OK;
    free_scratch(s);
    s->logits = bn_malloc((size_t)n_vocab * sizeof *s->logits);
    s->counts = bn_calloc((size_t)n_vocab, sizeof *s->counts);
    s->cand = bn_malloc((size_t)n_vocab * sizeof *s->cand);
    if (!s->logits || !s->counts || !s->cand) {
        free_scratch(s);
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "bitnet_sampler_sample: cannot allocate scratch for %d logits",
                        (int)n_vocab);
    }
    s->scratch_cap = n_vocab;
    return BITNET_OK;
}

/* One pass over the penalized logits: live count, max, +inf count, and the
 * first NaN (penalties keep a NaN a NaN, so the caller's index is reported). */
static live_info scan_live(const float *l, int32_t n)
{
    live_info live = {0, 0, -INFINITY, 0, -1};
    for (int32_t i = 0; i < n; i++) {
        if (l[i] == -INFINITY)
            continue;
        if (isnan(l[i])) {
            live.first_nan = i;
            return live;
        }
        live.n++;
        live.n_pos_inf += l[i] == INFINITY;
        if (l[i] > live.max) {
            live.max = l[i];
            live.argmax = i;
        }
    }
    return live;
}

/* +inf logits take all the probability, shared equally: make them 0 and
 * mask the rest so that the finite-logit code below needs no special case. */
static void keep_pos_inf(float *l, int32_t n, live_info *live)
{
    for (int32_t i = 0; i < n; i++)
        l[i] = l[i] == INFINITY ? 0.0f : -INFINITY;
    live->n = live->n_pos_inf;
    live->max = 0.0f;
}

/* ------------------------------------------------------------------------ */
/* Selection: the k best by (logit desc, id asc) through a size-k heap,     */
/* O(n log k), so a 128k vocabulary is never fully sorted for small k.      */
/* ------------------------------------------------------------------------ */

static bool better(const bn_cand *a, const bn_cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Min-heap on `better`: the root is the worst kept candidate. */
static void sift_down(bn_cand *h, int32_t n, int32_t i)
{
    for (;;) {
        int32_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && better(&h[worst], &h[l]))
            worst = l;
        if (r < n && better(&h[worst], &h[r]))
            worst = r;
        if (worst == i)
            return;
        bn_cand t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* The best k (1 <= k <= live count) live tokens into c[0..k), best first. */
static int32_t select_top(const float *l, int32_t n_vocab, int32_t k, bn_cand *c)
{
    int32_t n = 0, i = 0;
    for (; i < n_vocab && n < k; i++)
        if (l[i] > -INFINITY)
            c[n++] = (bn_cand){i, l[i]};
    for (int32_t j = n / 2; j-- > 0;)
        sift_down(c, n, j);
    for (; i < n_vocab; i++) {
        bn_cand x = {i, l[i]};
        if (better(&x, &c[0])) { /* never true for -inf: the root is live */
            c[0] = x;
            sift_down(c, n, 0);
        }
    }
    /* Heap sort: moving the worst to the back leaves the best first. */
    for (int32_t end = n - 1; end > 0; end--) {
        bn_cand t = c[0];
        c[0] = c[end];
        c[end] = t;
        sift_down(c, end, 0);
    }
    return n;
}

/* Every live token, in id order (no filter needs them sorted). */
static int32_t gather_live(const float *l, int32_t n_vocab, bn_cand *c)
{
    int32_t n = 0;
    for (int32_t i = 0; i < n_vocab; i++)
        if (l[i] > -INFINITY)
            c[n++] = (bn_cand){i, l[i]};
    return n;
}

/* Unnormalized softmax mass exp(logit - max): float exp (the per-token cost
 * over a whole vocabulary), summed in double by the callers. */
static double weight(float logit, float max)
{
    return (double)expf(logit - max);
}

static double cand_mass(const bn_cand *c, int32_t n, float max)
{
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        sum += weight(c[i].logit, max);
    return sum;
}

/* Length of the shortest prefix of best-first `c` holding a share p of its
 * mass (all n when rounding keeps the sum just short). */
static int32_t top_p_cut(const bn_cand *c, int32_t n, float max, float p)
{
    double target = (double)p * cand_mass(c, n, max), cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += weight(c[i].logit, max);
        if (cum >= target)
            return i + 1;
    }
    return n;
}

/* Top-p over the whole vocabulary without sorting all of it: histogram the
 * mass by distance below the max, find the bucket where the cumulative mass
 * crosses p, and sort only that bucket. Buckets are monotonic in the logit,
 * so this keeps the prefix a full sort would keep (up to rounding in the
 * sums). Only logits all within 1/32 of each other degrade to one sort. */
#define TOP_P_BUCKETS 1024
#define TOP_P_RANGE 32.0f /* logits further below the max share the last bucket */

static int32_t bucket_of(float logit, float max)
{
    float d = (max - logit) * ((float)TOP_P_BUCKETS / TOP_P_RANGE);
    return d < (float)(TOP_P_BUCKETS - 1) ? (int32_t)d : TOP_P_BUCKETS - 1;
}

static int cmp_better(const void *a, const void *b)
{
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static int32_t top_p_buckets(bitnet_sampler *s, int32_t n_vocab, const live_info *live)
{
    double mass[TOP_P_BUCKETS] = {0};
    int32_t count[TOP_P_BUCKETS] = {0};
    const float *l = s->logits;
    for (int32_t i = 0; i < n_vocab; i++)
        if (l[i] > -INFINITY) {
            int32_t b = bucket_of(l[i], live->max);
            mass[b] += weight(l[i], live->max);
            count[b]++;
        }
    double total = 0.0, cum = 0.0;
    for (int32_t b = 0; b < TOP_P_BUCKETS; b++)
        total += mass[b];
    double target = (double)s->params.top_p * total;
    int32_t edge = 0, n_above = 0; /* the crossing bucket; tokens in buckets before it */
    while (edge < TOP_P_BUCKETS - 1 && (count[edge] == 0 || cum + mass[edge] < target)) {
        cum += mass[edge];
        n_above += count[edge++];
    }
    /* Whole buckets above the edge in id order, then the edge bucket sorted. */
    int32_t above = 0, at = n_above;
    for (int32_t i = 0; i < n_vocab; i++)
        if (l[i] > -INFINITY) {
            int32_t b = bucket_of(l[i], live->max);
            if (b < edge)
                s->cand[above++] = (bn_cand){i, l[i]};
            else if (b == edge)
                s->cand[at++] = (bn_cand){i, l[i]};
        }
    qsort(s->cand + n_above, (size_t)(at - n_above), sizeof *s->cand, cmp_better);
    for (int32_t i = n_above; i < at; i++) {
        cum += weight(s->cand[i].logit, live->max);
        if (cum >= target)
            return i + 1;
    }
    return at; /* rounding kept the sum just short of p: keep the bucket */
}

/* Top-k then top-p; returns how many of s->cand survive. */
static int32_t select_candidates(bitnet_sampler *s, int32_t n_vocab, const live_info *live)
{
    const bitnet_sampler_params *p = &s->params;
    bool top_p_on = p->top_p < 1.0f;
    if (p->top_k > 0 && p->top_k < live->n) {
        int32_t n = select_top(s->logits, n_vocab, p->top_k, s->cand);
        /* top-p renormalizes over the top-k survivors, as llama.cpp does */
        return top_p_on ? top_p_cut(s->cand, n, live->max, p->top_p) : n;
    }
    if (top_p_on)
        return top_p_buckets(s, n_vocab, live);
    return gather_live(s->logits, n_vocab, s->cand);
}

/* Drop p < min_p * p_max, i.e. logit < max + log(min_p) (a threshold, so no
 * exp per token), keeping order. The most likely tokens always stay, so the
 * set never empties (even for min_p > 1). */
static int32_t min_p_cut(bn_cand *c, int32_t n, float max, float min_p)
{
    if (min_p <= 0.0f)
        return n;
    float threshold = max + logf(min_p);
    int32_t kept = 0;
    for (int32_t i = 0; i < n; i++)
        if (c[i].logit >= threshold || c[i].logit == max)
            c[kept++] = c[i];
    return kept;
}

/* Softmax of logit / T over the survivors, then inverse-CDF with u in [0,1).
 * (logit - max) / T equals logit / T - max / T but cannot overflow. `w` is
 * scratch for n weights. */
static int32_t draw(const bn_cand *c, int32_t n, float max, float temperature, double u, float *w)
{
    double total = 0.0;
    for (int32_t i = 0; i < n; i++) {
        w[i] = expf((c[i].logit - max) / temperature);
        total += w[i];
    }
    double target = u * total, cum = 0.0;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        if (w[i] > 0.0f)
            last = i;
        cum += w[i];
        if (target < cum)
            return c[i].id;
    }
    return c[last].id; /* rounding left target at the very top */
}

/* ------------------------------------------------------------------------ */
/* Sampling                                                                 */
/* ------------------------------------------------------------------------ */

bitnet_status bitnet_sampler_sample(bitnet_sampler *sampler, const float *logits, int32_t n_vocab,
                                    bitnet_token *out)
{
    if (!out)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_sample: out is NULL");
    *out = BITNET_TOKEN_NULL;
    if (!sampler || !logits)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_sample: %s is NULL",
                        sampler ? "logits" : "sampler");
    if (n_vocab <= 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_sample: n_vocab is %d; it must be > 0",
                        (int)n_vocab);
    bitnet_status s = ensure_scratch(sampler, n_vocab);
    if (s != BITNET_OK)
        return s;
    memcpy(sampler->logits, logits, (size_t)n_vocab * sizeof *logits);
    apply_penalties(sampler, n_vocab);
    live_info live = scan_live(sampler->logits, n_vocab);
    if (live.first_nan >= 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT, "bitnet_sampler_sample: logit of token %d is NaN",
                        (int)live.first_nan);
    if (live.n == 0)
        return bn_error(BITNET_ERR_INVALID_ARGUMENT,
                        "bitnet_sampler_sample: all %d logits are -inf (masked or penalized away)", (int)n_vocab);
    float temperature = sampler->params.temperature;
    if (temperature <= 0.0f) { /* the filters never remove the argmax */
        *out = live.argmax;
        return BITNET_OK;
    }
    if (live.n_pos_inf > 0)
        keep_pos_inf(sampler->logits, n_vocab, &live);
    int32_t n = select_candidates(sampler, n_vocab, &live);
    n = min_p_cut(sampler->cand, n, live.max, sampler->params.min_p);
    /* The penalized logits now live in cand[]: reuse their array for weights. */
    *out = draw(sampler->cand, n, live.max, temperature, bn_rng_uniform(&sampler->rng), sampler->logits);
    return BITNET_OK;
}
