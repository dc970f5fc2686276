/* ops.h — small dense kernels shared by the encoder and the decoder (engine-internal).
 * Layout conventions: activations are row-major (rows, cols); linear weights stay (out, in)
 * row-major as in the checkpoint, used through cblas_sgemm(RowMajor, NoTrans, Trans). */
#ifndef SS_OPS_H
#define SS_OPS_H
#include <stddef.h>

/* y (n, out) = x (n, in) · W(out, in)^T + b(out) [b may be NULL]. ldx/ldy = row strides. */
void ss_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y);
void ss_linear_ld(const float *x, int ldx, int n, int in, const float *W, const float *b, int out,
                  float *y, int ldy);
/* y (n, out) = x (n, in) · W(out, in)^T + beta·y, rows split over ss_get_threads() threads
 * (BLAS itself runs single-threaded; call it outside OpenMP parallel regions). */
void ss_gemm_nt(const float *x, int ldx, int n, int in, const float *W, int out, float *y, int ldy,
                float beta);
/* y (m, n) = a (m, k) · op(b) + beta·y, all row-major, op(b) = b (k, n) or, with trans_b,
 * bᵀ for b (n, k): the n columns split across ss_get_threads() threads (for few rows and many
 * columns, where splitting rows cannot help). */
void ss_gemm_cols(int trans_b, const float *a, int lda, int m, int k, const float *b, int ldb, int n,
                  float *y, int ldy, float beta);
/* A linear weight W (out, in) repacked once for ss_gemm_packed: panels of 32 outputs,
 * p[(o / 32) * in * 32 + k * 32 + o % 32] = W[o, k]. `w` keeps the original (out, in) pointer
 * (used when the build has no AVX-512 kernel). out must be a multiple of 32. */
typedef struct {
    int out, in;
    const float *w; /* (out, in), not owned */
    float *p;       /* (out / 32, in, 32), owned (NULL without the AVX-512 kernel) */
} ss_packed_w;
int ss_pack_w(ss_packed_w *pw, const float *W, int out, int in); /* 0, or -1: out of memory */
void ss_packed_free(ss_packed_w *pw);
/* Packs W (out, in; row stride ldw) at run time into buf, which must hold
 * ss_pack_buf_floats(out, in) floats (no allocation; nothing to free). out is padded with zero
 * rows to a multiple of 16 (pw->out is the padded count; a bias for it needs pw->out entries):
 * for operands made per call (folded attention heads, block-diagonal queries). */
size_t ss_pack_buf_floats(int out, int in);
void ss_pack_w_buf(ss_packed_w *pw, const float *W, int ldw, int out, int in, float *buf);
/* y (m, n) = a(k, m)ᵀ · b(k, n) for small m and long k (a's columns are y's rows), all row-major;
 * parallel != 0: columns split over ss_get_threads() threads (call outside OpenMP regions). */
void ss_gemm_tn_few(const float *a, int lda, int m, int k, const float *b, int ldb, int n, float *y,
                    int ldy, int parallel);
/* x (n, ld), columns [0, m) with m a multiple of 16: x[i, j] = exp(scale·(x[i, j] − max_i x[i, j]))
 * (scale > 0) and inv[j] = 1 / Σ_i x[i, j]: the softmax of column j of scale·x is x[:, j]·inv[j]. */
void ss_softmax_cols_exp(float *x, int n, int ld, int m, float scale, float *inv, int parallel);
enum { SS_GEMM_ACC = 1, SS_GEMM_GELU = 2, SS_GEMM_TILE = 4 };
/* y (n, out) = [y +] x (n, in) . W^T [+ b] [then GELU]; flags: SS_GEMM_ACC adds to y (the bias,
 * if any, is still added), SS_GEMM_GELU applies GELU at the end. Rows split over
 * ss_get_threads() threads; call outside OpenMP parallel regions. */
void ss_gemm_packed(const float *x, int ldx, int n, const ss_packed_w *W, const float *b, float *y,
                    int ldy, int flags);
/* The product reduced against a vector as it is made, on the calling thread: ydot (n, W->out / 32)
 * with ydot[i, p] = Σ_j act(x·Wᵀ + b)[i, 32p + j]·d[32p + j], act = GELU with SS_GEMM_GELU (else
 * none). W->out a multiple of 32. tmp: n·W->out floats, used only without the AVX-512 kernel. */
void ss_gemm_packed_dot_seq(const float *x, int ldx, int n, const ss_packed_w *W, const float *b,
                            const float *d, float *ydot, int flags, float *tmp);
/* ss_gemm_packed with a row epilogue: epi(rows, nrows, ldy, row0, ud) is called once per block of
 * (at most 12) finished rows, while they are in L1, from the thread that made them (so epi must be
 * thread-safe across blocks). ysrc (optional, same layout as y): y = ysrc + x·Wᵀ [+ b] (ysrc may
 * differ from y). SS_GEMM_TILE: y is not written at all (may be NULL); each block is made in a
 * thread-local buffer (ldy = W->out <= 512) that only the epilogue sees. */
typedef void (*ss_row_epi)(float *rows, int nrows, int ldy, int row0, void *ud);
void ss_gemm_packed_epi(const float *x, int ldx, int n, const ss_packed_w *W, const float *b, float *y,
                        int ldy, int flags, const float *ysrc, ss_row_epi epi, void *ud);
/* Same, on the calling thread only (for use inside the caller's own OpenMP region). */
void ss_gemm_packed_seq(const float *x, int ldx, int n, const ss_packed_w *W, const float *b,
                        float *y, int ldy, int flags);
/* LayerNorm over the last dim of (n, c), in place or x -> y. */
void ss_layernorm(const float *x, float *y, int n, int c, const float *g, const float *b, float eps);
/* Same, and y2 = y + add (same shape) in the same pass when add is not NULL. */
void ss_layernorm_add(const float *x, float *y, int n, int c, const float *g, const float *b, float eps,
                      const float *add, float *y2);
/* The two on the calling thread (inside the caller's own OpenMP region, or row epilogues). */
void ss_layernorm_seq(const float *x, float *y, int n, int c, const float *g, const float *b, float eps);
void ss_layernorm_add_seq(const float *x, float *y, int n, int c, const float *g, const float *b, float eps,
                          const float *add, float *y2);
/* LayerNorm2d: x (c, hw) channel-first, normalised over c for every pixel. */
void ss_layernorm2d(const float *x, float *y, int c, int hw, const float *g, const float *b, float eps);
void ss_gelu(float *x, size_t n);   /* exact: 0.5 x (1 + erf(x/√2)) */
void ss_relu(float *x, size_t n);
void ss_softmax_rows(float *x, int n, int c);
void ss_add(float *y, const float *x, size_t n); /* y += x */
double ss_now_ms(void);
/* Threads for the engine's own parallel loops (set once from ss_model_params). */
void ss_set_threads(int n);
int ss_get_threads(void);
/* Fast, vectorisable approximations (plain C, usable inside `#pragma omp simd` loops).
 * ss_expf_approx: relative error < 2e-7 for x in [-87, 88] (inputs are clamped to it).
 * ss_gelu_approx: exact-erf GELU via Abramowitz & Stegun 7.1.28 (|erf error| <= 3e-7),
 * written without cancellation: absolute error < 4e-7 * max(1, |x|). */
static inline float ss_expf_approx(float x)
{
    x = x > -87.0f ? x : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    /* x = n ln2 + r, |r| <= ln2/2; round-to-nearest through the 1.5 * 2^23 trick */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187045e-06f;
    float p = 1.98412698412698e-4f; /* 1/5040: Taylor to r^7, error < 1e-8 on |r| <= 0.347 */
    p = p * r + 1.38888888888889e-3f;
    p = p * r + 8.33333333333333e-3f;
    p = p * r + 4.16666666666667e-2f;
    p = p * r + 1.66666666666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { int i; float f; } s;
    s.i = ((int)n + 127) << 23;
    return p * s.f;
}

static inline float ss_gelu_approx(float x)
{
    /* gelu(x) = x Phi(x) = 0.5 x (1 + erf(z)), z = x / sqrt(2). Abramowitz & Stegun 7.1.28:
     * 1 - erf(|z|) = t^-16, t = 1 + a1|z| + ... + a6|z|^6 (|erf error| <= 3e-7), so with
     * h = 0.5 x t^-16: gelu = x - h for x >= 0 and h for x < 0 (no cancellation). */
    float az = __builtin_fabsf(x) * 0.70710678118654752f;
    az = az < 10.0f ? az : 10.0f; /* erf(10) == 1 in float; keeps t^16 finite */
    float t = 0.0000430638f;
    t = t * az + 0.0002765672f;
    t = t * az + 0.0001520143f;
    t = t * az + 0.0092705272f;
    t = t * az + 0.0422820123f;
    t = t * az + 0.0705230784f;
    t = t * az + 1.0f;
    t = t * t, t = t * t, t = t * t, t = t * t;
    float h = 0.5f * x / t, g = x - h; /* both computed: a plain select, vectorisable */
    return x < 0.0f ? h : g;
}

#ifdef __AVX512F__
#include <immintrin.h>
/* 16-lane versions of the two functions above (same formulas; the reciprocal is rcp14 plus
 * one Newton step, exp scales with vscalefps). */
static inline __m512 ss_expf16(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.98412698412698e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.38888888888889e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.33333333333333e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.16666666666667e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.66666666666667e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __m512 ss_gelu16(__m512 x)
{
    __m512 az = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
    az = _mm512_min_ps(az, _mm512_set1_ps(10.0f));
    __m512 t = _mm512_set1_ps(0.0000430638f);
    t = _mm512_fmadd_ps(t, az, _mm512_set1_ps(0.0002765672f));
    t = _mm512_fmadd_ps(t, az, _mm512_set1_ps(0.0001520143f));
    t = _mm512_fmadd_ps(t, az, _mm512_set1_ps(0.0092705272f));
    t = _mm512_fmadd_ps(t, az, _mm512_set1_ps(0.0422820123f));
    t = _mm512_fmadd_ps(t, az, _mm512_set1_ps(0.0705230784f));
    t = _mm512_fmadd_ps(t, az, _mm512_set1_ps(1.0f));
    t = _mm512_mul_ps(t, t), t = _mm512_mul_ps(t, t), t = _mm512_mul_ps(t, t), t = _mm512_mul_ps(t, t);
    __m512 r = _mm512_rcp14_ps(t);
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(t, r, _mm512_set1_ps(2.0f))); /* Newton step */
    const __m512 h = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), r);
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(neg, _mm512_sub_ps(x, h), h);
}
#endif

/* y (n, c) = gelu(y + b) per row; b may be NULL. */
void ss_bias_gelu(float *y, size_t n, int c, const float *b);
/* y (n, c) += b per row. */
void ss_bias_add(float *y, size_t n, int c, const float *b);
#endif
