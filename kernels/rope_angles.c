#include "kernels/rope_angles.h"

#include <math.h>
#include <string.h>

typedef struct rope_memo {
    bool valid;
    int32_t pos;
    uint32_t base_bits;
    int64_t n_rot;
    double c[BN_ROPE_MEMO_PAIRS], s[BN_ROPE_MEMO_PAIRS];
} rope_memo;

static _Thread_local rope_memo memo;

void bn_rope_angle(int32_t pos, float freq_base, int64_t n_rot, int64_t i, double *c, double *s)
{
    const double theta = pos * pow((double)freq_base, -2.0 * (double)i / (double)n_rot);
    *c = cos(theta);
    *s = sin(theta);
}

bn_rope_angles bn_rope_angles_of(int32_t pos, float freq_base, int64_t n_rot)
{
    bn_rope_angles a = {NULL, NULL, pos, freq_base, n_rot};
    const int64_t half = n_rot / 2;
    if (half < 1 || half > BN_ROPE_MEMO_PAIRS)
        return a;
    uint32_t bits;
    memcpy(&bits, &freq_base, sizeof bits);
    if (!memo.valid || memo.pos != pos || memo.base_bits != bits || memo.n_rot != n_rot) {
        for (int64_t i = 0; i < half; i++)
            bn_rope_angle(pos, freq_base, n_rot, i, &memo.c[i], &memo.s[i]);
        memo.valid = true, memo.pos = pos, memo.base_bits = bits, memo.n_rot = n_rot;
    }
    a.c = memo.c;
    a.s = memo.s;
    return a;
}
