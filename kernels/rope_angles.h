/* Rotary angles shared by every backend's rope: in decode each layer
 * rotates q and k at the same position, so the cos/sin of a position are
 * computed once and reused (pow, cos and sin per pair had been ~1% of a
 * decoded token). */
#ifndef BN_ROPE_ANGLES_H
#define BN_ROPE_ANGLES_H

#include <stdbool.h>
#include <stdint.h>

/* Largest n_rot / 2 the memo holds. */
#define BN_ROPE_MEMO_PAIRS 512

/* c[i] = cos(theta_i), s[i] = sin(theta_i), theta_i = pos * base^(-2i / n_rot)
 * in double, for i < n_rot / 2: the reference's formula, so the values are
 * bit-identical to computing them in place. The arrays are the calling
 * thread's memo of its last (pos, base, n_rot), valid until its next call.
 * Returns false (and computes nothing) when n_rot / 2 exceeds
 * BN_ROPE_MEMO_PAIRS or n_rot < 2: the caller then computes the angles itself. */
bool bn_rope_angles(int32_t pos, float freq_base, int64_t n_rot, const double **c, const double **s);

#endif
