/* Rotary angles shared by every backend's rope: in decode each layer
 * rotates q and k at the same position, so the cos/sin of a position are
 * computed once and reused (pow, cos and sin per pair had been ~1% of a
 * decoded token). */
#ifndef BN_ROPE_ANGLES_H
#define BN_ROPE_ANGLES_H

#include <stdbool.h>
#include <stdint.h>

/* Largest n_rot / 2 the memo holds; wider rotations compute each pair. */
#define BN_ROPE_MEMO_PAIRS 512

/* The angles theta_i = pos * base^(-2i / n_rot), i < n_rot / 2, of one
 * position. c/s: the calling thread's memo of its last (pos, base, n_rot),
 * valid until its next bn_rope_angles_of; NULL when n_rot / 2 is past
 * BN_ROPE_MEMO_PAIRS (or below 1). */
typedef struct bn_rope_angles {
    const double *c, *s;
    int32_t pos;
    float base;
    int64_t n_rot;
} bn_rope_angles;

bn_rope_angles bn_rope_angles_of(int32_t pos, float freq_base, int64_t n_rot);

/* cos and sin of theta_i in double, by the reference's formula: the memo
 * holds exactly these values. */
void bn_rope_angle(int32_t pos, float freq_base, int64_t n_rot, int64_t i, double *c, double *s);

static inline void bn_rope_pair(const bn_rope_angles *a, int64_t i, double *c, double *s)
{
    if (a->c) {
        *c = a->c[i], *s = a->s[i];
        return;
    }
    bn_rope_angle(a->pos, a->base, a->n_rot, i, c, s);
}

#endif
