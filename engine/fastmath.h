/* fastmath.h — vectorisable exp and exact-GELU approximations (engine-internal, decoder + plugin).
 * Accuracy: ss_exp_fast relative error ~1e-7 on [-87, 0]; ss_gelu1 absolute error ≤ 1e-7·|x|. */
#ifndef SS_FASTMATH_H
#define SS_FASTMATH_H
#include <math.h>

/* e^x for x in [-87, 0] (callers clamp): round-to-nearest range reduction + degree-7 Taylor. */
static inline float ss_exp_fast(float x)
{
    x = x < -87.0f ? -87.0f : x;
    float n = __builtin_nearbyintf(x * 1.44269504088896341f);
    float r = x - n * 0.693145751953125f;
    r -= n * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { float f; int i; } s;
    s.i = ((int)n + 127) << 23;
    return p * s.f;
}

/* exact GELU 0.5·x·(1 + erf(x/√2)), erf by Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7). */
static inline float ss_gelu1(float x)
{
    float z = fabsf(x) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.3275911f * z);
    float y = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float zz = z * z;
    float erfc_z = y * ss_exp_fast(-(zz < 87.0f ? zz : 87.0f));
    float erf_abs = 1.0f - erfc_z;
    float e = x < 0.0f ? -erf_abs : erf_abs;
    return 0.5f * x * (1.0f + e);
}

/* Reductions with independent partial sums (16 lanes): float sums in a serial chain cannot be
 * vectorised by the compiler without -ffast-math, and cost ~4 cycles per element. */
typedef float ss_v16 __attribute__((vector_size(64), aligned(4))); /* unaligned access ok */
typedef int ss_vi16 __attribute__((vector_size(64), aligned(4)));

static inline float ss_hsum16(ss_v16 v)
{
    float s = 0.0f;
    for (int i = 0; i < 16; i++) s += v[i];
    return s;
}

/* Σ a[i]·b[i] */
static inline float ss_dot(const float *a, const float *b, int n)
{
    ss_v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) acc += *(const ss_v16 *)(a + i) * *(const ss_v16 *)(b + i);
    float s = ss_hsum16(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Σ x[i] */
static inline float ss_sum(const float *x, int n)
{
    ss_v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) acc += *(const ss_v16 *)(x + i);
    float s = ss_hsum16(acc);
    for (; i < n; i++) s += x[i];
    return s;
}

/* Σ (x[i] − m)² */
static inline float ss_sumsq_dev(const float *x, float m, int n)
{
    ss_v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        ss_v16 d = *(const ss_v16 *)(x + i) - m;
        acc += d * d;
    }
    float s = ss_hsum16(acc);
    for (; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return s;
}

/* max x[i], n >= 1 */
static inline float ss_max(const float *x, int n)
{
    int i = 0;
    float s = x[0];
    if (n >= 16) {
        ss_v16 acc = *(const ss_v16 *)x;
        for (i = 16; i + 16 <= n; i += 16) {
            ss_v16 v = *(const ss_v16 *)(x + i);
            ss_vi16 m = v > acc;
            acc = (ss_v16)(((ss_vi16)v & m) | ((ss_vi16)acc & ~m));
        }
        s = acc[0];
        for (int j = 1; j < 16; j++) s = acc[j] > s ? acc[j] : s;
    }
    for (; i < n; i++) s = x[i] > s ? x[i] : s;
    return s;
}
#endif
