/* ops.c — small dense kernels shared by the encoder and the decoder: GEMMs (row-split BLAS and
 * the packed AVX-512 micro-kernel), LayerNorm, GELU, softmax. */
/* FP exception flags are never read: let GCC if-convert the selects of the exp/GELU
 * approximations (ops.h) so that their loops vectorise without AVX-512 masking too. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

static int g_threads = 1;

/* One thread pool: the engine's own OpenMP loops. BLAS is kept single-threaded and large
 * GEMMs are split by rows across the OpenMP threads (ss_gemm_nt), so two pools never spin
 * against each other on the same cores. */
void ss_set_threads(int n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    g_threads = n;
    ss_blas_set_threads(1);
}

int ss_get_threads(void) { return g_threads; }

double ss_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Inside an OpenMP parallel region: this thread's share [lo, hi) of n items taken in whole
 * units (16 rows, a micro-kernel's rows, ...), the units split evenly over the threads. */
static void thread_share(int n, int unit, int *lo, int *hi)
{
#ifdef _OPENMP
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
    const int t = 0, T = 1;
#endif
    const int units = (n + unit - 1) / unit;
    *lo = (int)((long)units * t / T) * unit;
    *hi = (int)((long)units * (t + 1) / T) * unit;
    if (*hi > n) *hi = n;
}

/* Few rows and long ones (the decoder's token MLP, 2048 → 256): BLAS would pack all of W for a
 * handful of rows. Here each weight row is read once and dotted with the n rows of x, which
 * stay in L1; 4 outputs at a time share each load of x. Output columns split across threads when there is work enough. */
static void gemm_nt_few(const float *x, int ldx, int n, int in, const float *W, int out, float *y,
                        int ldy, float beta)
{
    const int nt = (double)n * in * out >= 2e6 ? g_threads : 1;
    (void)nt; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int o0 = 0; o0 < out; o0 += 4) {
        const int no = out - o0 < 4 ? out - o0 : 4;
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * ldx;
            float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (no == 4) {
                const float *w0 = W + (size_t)o0 * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
                float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
                for (int k = 0; k < in; k++) {
                    a0 += xr[k] * w0[k];
                    a1 += xr[k] * w1[k];
                    a2 += xr[k] * w2[k];
                    a3 += xr[k] * w3[k];
                }
                acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
            } else {
                for (int j = 0; j < no; j++) {
                    const float *w = W + (size_t)(o0 + j) * in;
                    float a = 0.0f;
#pragma omp simd reduction(+ : a)
                    for (int k = 0; k < in; k++) a += xr[k] * w[k];
                    acc[j] = a;
                }
            }
            float *yr = y + (size_t)i * ldy + o0;
            for (int j = 0; j < no; j++) yr[j] = beta != 0.0f ? acc[j] + beta * yr[j] : acc[j];
        }
    }
}

void ss_gemm_nt(const float *x, int ldx, int n, int in, const float *W, int out, float *y, int ldy,
                float beta)
{
    if (n <= 16 && in >= 512) { /* measured: BLAS's small-matrix kernels win below that */
        gemm_nt_few(x, ldx, n, in, W, out, y, ldy, beta);
        return;
    }
    /* y (n, out) = x (n, in) . W (out, in)^T + beta y; rows split across threads in multiples
     * of 16, each thread one single-threaded sgemm. */
    int nt = g_threads;
    if ((double)n * in * out < 2e6 || n < 32) nt = 1;
    if (nt > (n + 15) / 16) nt = (n + 15) / 16;
    if (nt <= 1) {
        ss_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, ldx, W, in, beta,
                    y, ldy);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int r0, r1;
        thread_share(n, 16, &r0, &r1);
        if (r1 > r0)
            ss_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, out, in, 1.0f,
                        x + (size_t)r0 * ldx, ldx, W, in, beta, y + (size_t)r0 * ldy, ldy);
    }
}

void ss_gemm_cols(int trans_b, const float *a, int lda, int m, int k, const float *b, int ldb, int n,
                  float *y, int ldy, float beta)
{
    const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    const int blocks = (n + 15) / 16;
    int nt = g_threads < blocks ? g_threads : blocks;
    if ((double)m * n * k < 2e6) nt = 1;
    if (nt <= 1) {
        ss_sgemm(CblasRowMajor, CblasNoTrans, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, y, ldy);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int c0, c1;
        thread_share(n, 16, &c0, &c1);
        if (c1 > c0)
            ss_sgemm(CblasRowMajor, CblasNoTrans, tb, m, c1 - c0, k, 1.0f, a, lda,
                     b + (trans_b ? (size_t)c0 * ldb : (size_t)c0), ldb, beta, y + c0, ldy);
    }
}

void ss_linear_ld(const float *x, int ldx, int n, int in, const float *W, const float *b, int out,
                  float *y, int ldy)
{
    /* y (n, out) = x (n, in) · W (out, in)^T + b */
    ss_gemm_nt(x, ldx, n, in, W, out, y, ldy, 0.0f);
    if (b) {
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) y[(size_t)i * ldy + o] += b[o];
    }
}

/* ---- packed GEMM: y = x . W^T with W repacked in panels of 32 outputs ----------------------
 * AVX-512 micro-kernel: 12 rows x 32 outputs (24 zmm accumulators), x broadcast from its rows,
 * W panel (kc, 32) streamed; K blocked so one K block of all panels stays in L2; epilogue
 * (bias, GELU) applied to the tile while it is in L1. */
int ss_pack_w(ss_packed_w *pw, const float *W, int out, int in)
{
    pw->out = out, pw->in = in, pw->w = W, pw->p = NULL;
    if (out % 32) return -1;
#ifdef __AVX512F__
    pw->p = aligned_alloc(64, sizeof(float) * (size_t)out * in);
    if (!pw->p) return -1;
    for (int ob = 0; ob < out / 32; ob++)
        for (int k = 0; k < in; k++)
            for (int j = 0; j < 32; j++)
                pw->p[((size_t)ob * in + k) * 32 + j] = W[(size_t)(ob * 32 + j) * in + k];
#endif
    return 0;
}

void ss_packed_free(ss_packed_w *pw)
{
    if (pw) free(pw->p), pw->p = NULL;
}

/* Packs at run time into buf (no allocation): W (out, in) with row stride ldw; out is padded
 * with zero rows to a multiple of 16 (pw->out: the padded count), the last panel 16 wide when
 * out % 32 is 16. buf holds ss_pack_buf_floats(out, in) floats. */
size_t ss_pack_buf_floats(int out, int in) { return (size_t)((out + 15) / 16 * 16) * in; }

void ss_pack_w_buf(ss_packed_w *pw, const float *W, int ldw, int out, int in, float *buf)
{
    const int op = (out + 15) / 16 * 16;
    pw->out = op, pw->in = in;
#ifdef __AVX512F__
    pw->w = NULL, pw->p = buf;
    const int nob = op / 32;
    for (int ob = 0; ob < nob; ob++)
        for (int k = 0; k < in; k++) {
            float *dst = buf + ((size_t)ob * in + k) * 32;
            for (int j = 0; j < 32; j++) {
                const int o = ob * 32 + j;
                dst[j] = o < out ? W[(size_t)o * ldw + k] : 0.0f;
            }
        }
    if (op % 32)
        for (int k = 0; k < in; k++) {
            float *dst = buf + (size_t)nob * in * 32 + (size_t)k * 16;
            for (int j = 0; j < 16; j++) {
                const int o = nob * 32 + j;
                dst[j] = o < out ? W[(size_t)o * ldw + k] : 0.0f;
            }
        }
#else
    /* no packed kernel: an (op, in) copy with zero rows, used through BLAS */
    pw->p = NULL;
    for (int o = 0; o < op; o++)
        for (int k = 0; k < in; k++) buf[(size_t)o * in + k] = o < out ? W[(size_t)o * ldw + k] : 0.0f;
    pw->w = buf;
#endif
}

#ifdef __AVX512F__
#define MR 12
/* nv = 2: a 32-output panel, nv = 1: the 16-wide tail panel */
static inline __attribute__((always_inline)) void ukr(const int mr, const int nv, int kc, const float *x,
                                                       int ldx, const float *wp, float *y, int ldy, int acc)
{
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < mr; r++) {
        if (acc) {
            c0[r] = _mm512_loadu_ps(y + (size_t)r * ldy);
            if (nv == 2) c1[r] = _mm512_loadu_ps(y + (size_t)r * ldy + 16);
        } else {
            c0[r] = _mm512_setzero_ps();
            if (nv == 2) c1[r] = _mm512_setzero_ps();
        }
    }
    for (int k = 0; k < kc; k++) {
        const __m512 w0 = _mm512_loadu_ps(wp + (size_t)k * 16 * nv);
        const __m512 w1 = nv == 2 ? _mm512_loadu_ps(wp + (size_t)k * 32 + 16) : w0;
        for (int r = 0; r < mr; r++) {
            const __m512 b = _mm512_set1_ps(x[(size_t)r * ldx + k]);
            c0[r] = _mm512_fmadd_ps(b, w0, c0[r]);
            if (nv == 2) c1[r] = _mm512_fmadd_ps(b, w1, c1[r]);
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm512_storeu_ps(y + (size_t)r * ldy, c0[r]);
        if (nv == 2) _mm512_storeu_ps(y + (size_t)r * ldy + 16, c1[r]);
    }
}

static void ukr_any(int mr, int nv, int kc, const float *x, int ldx, const float *wp, float *y, int ldy,
                    int acc)
{
    if (nv == 2) {
        switch (mr) {
#define CASE(m) \
    case m: ukr(m, 2, kc, x, ldx, wp, y, ldy, acc); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11)
        CASE(12)
#undef CASE
        }
    } else {
        switch (mr) {
#define CASE(m) \
    case m: ukr(m, 1, kc, x, ldx, wp, y, ldy, acc); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11)
        CASE(12)
#undef CASE
        }
    }
}

/* rows [r0, r1) of y */
static void gemm_packed_rows_epi(const float *x, int ldx, int r0, int r1, const ss_packed_w *W,
                                 const float *b, float *y, int ldy, int flags, const float *ysrc,
                                 ss_row_epi epi, void *ud)
{
    const int in = W->in, nob = W->out / 32, tail = W->out % 32 != 0;
    int kc = 131072 / W->out; /* one K block of all panels ~ 512 KiB */
    kc = kc < 64 ? 64 : kc;
    if (kc >= in) kc = in;
    float tilebuf[(flags & SS_GEMM_TILE) ? MR * 512 : 1] __attribute__((aligned(64)));
    if (flags & SS_GEMM_TILE) { /* one row block at a time in tilebuf, all of `in` at once */
        kc = in;
        ldy = W->out;
    }
    for (int k0 = 0; k0 < in; k0 += kc) {
        const int kl = k0 + kc < in ? kc : in - k0;
        const int acc = k0 > 0 || (flags & SS_GEMM_ACC);
        const int last = k0 + kl == in;
        for (int i = r0; i < r1; i += MR) {
            const int mr = i + MR < r1 ? MR : r1 - i;
            float *yrow = (flags & SS_GEMM_TILE) ? tilebuf : y + (size_t)i * ldy;
            if (ysrc && k0 == 0) /* accumulate onto ysrc's rows: copied in first */
                for (int r = 0; r < mr; r++)
                    memcpy(yrow + (size_t)r * ldy, ysrc + (size_t)(i + r) * ldy, sizeof(float) * W->out);
            for (int ob = 0; ob < nob + tail; ob++) {
                const int nv = ob < nob ? 2 : 1;
                float *yt = yrow + ob * 32;
                const float *wp = ob < nob ? W->p + ((size_t)ob * in + k0) * 32
                                           : W->p + (size_t)nob * in * 32 + (size_t)k0 * 16;
                ukr_any(mr, nv, kl, x + (size_t)i * ldx + k0, ldx, wp, yt, ldy, acc || ysrc);
                if (last && (b || (flags & SS_GEMM_GELU))) {
                    const int gelu = flags & SS_GEMM_GELU;
                    for (int v = 0; v < nv; v++) {
                        const __m512 bv = b ? _mm512_loadu_ps(b + ob * 32 + v * 16) : _mm512_setzero_ps();
                        for (int r = 0; r < mr; r++) {
                            float *t = yt + (size_t)r * ldy + v * 16;
                            __m512 u = _mm512_add_ps(_mm512_loadu_ps(t), bv);
                            if (gelu) u = ss_gelu16(u);
                            _mm512_storeu_ps(t, u);
                        }
                    }
                }
            }
            if (last && epi) epi(yrow, mr, ldy, i, ud);
        }
    }
}

static void gemm_packed_rows(const float *x, int ldx, int r0, int r1, const ss_packed_w *W,
                             const float *b, float *y, int ldy, int flags)
{
    gemm_packed_rows_epi(x, ldx, r0, r1, W, b, y, ldy, flags, NULL, NULL, NULL);
}
#endif

/* ---- y (m, n) = aᵀ·b for a (k, m), b (k, n), k long, m small (attention with few queries:
 * a = the scores stored position-major, b = the values) -------------------------------------- */
#ifdef __AVX512F__
static inline __attribute__((always_inline)) void tn_ukr(const int mr, const int nv, int k, const float *a,
                                                          int lda, const float *b, int ldb, float *y, int ldy,
                                                          int acc)
{
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < mr; r++) {
        if (acc) {
            c0[r] = _mm512_loadu_ps(y + (size_t)r * ldy);
            c1[r] = nv == 2 ? _mm512_loadu_ps(y + (size_t)r * ldy + 16) : c0[r];
        } else {
            c0[r] = c1[r] = _mm512_setzero_ps();
        }
    }
    for (int p = 0; p < k; p++) {
        const float *bp = b + (size_t)p * ldb, *ap = a + (size_t)p * lda;
        const __m512 b0 = _mm512_loadu_ps(bp);
        const __m512 b1 = nv == 2 ? _mm512_loadu_ps(bp + 16) : b0;
        for (int r = 0; r < mr; r++) {
            const __m512 s = _mm512_set1_ps(ap[r]);
            c0[r] = _mm512_fmadd_ps(s, b0, c0[r]);
            if (nv == 2) c1[r] = _mm512_fmadd_ps(s, b1, c1[r]);
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm512_storeu_ps(y + (size_t)r * ldy, c0[r]);
        if (nv == 2) _mm512_storeu_ps(y + (size_t)r * ldy + 16, c1[r]);
    }
}

static void tn_ukr_any(int mr, int nv, int k, const float *a, int lda, const float *b, int ldb, float *y,
                       int ldy, int acc)
{
    if (nv == 2) {
        switch (mr) {
#define CASE(m) \
    case m: tn_ukr(m, 2, k, a, lda, b, ldb, y, ldy, acc); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11)
        CASE(12)
#undef CASE
        }
    } else {
        switch (mr) {
#define CASE(m) \
    case m: tn_ukr(m, 1, k, a, lda, b, ldb, y, ldy, acc); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11)
        CASE(12)
#undef CASE
        }
    }
}
#endif

#ifndef TN_KB
#define TN_KB 64
#endif
/* columns [c0, c1) of y (multiples of 16, or c1 = n) */
static void gemm_tn_part(const float *a, int lda, int m, int k, const float *b, int ldb, int c0, int c1,
                         float *y, int ldy)
{
#ifdef __AVX512F__
    if ((c1 - c0) % 16 == 0) {
        /* blocks of TN_KB rows of a and b: b's rows are often 1 KiB apart, a power of two that
         * maps a long column strip onto few cache sets; a block stays in L1 for all the tiles */
        for (int p0 = 0; p0 < k; p0 += TN_KB) {
            const int kb = k - p0 < TN_KB ? k - p0 : TN_KB;
            const float *ab = a + (size_t)p0 * lda, *bb = b + (size_t)p0 * ldb;
            for (int c = c0; c < c1; c += 32) {
                const int nv = c + 32 <= c1 ? 2 : 1;
                for (int r0 = 0; r0 < m; r0 += MR) {
                    const int mr = m - r0 < MR ? m - r0 : MR;
                    tn_ukr_any(mr, nv, kb, ab + r0, lda, bb + c, ldb, y + (size_t)r0 * ldy + c, ldy, p0 > 0);
                }
            }
        }
        return;
    }
#endif
    ss_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, c1 - c0, k, 1.0f, a, lda, b + c0, ldb, 0.0f,
             y + c0, ldy);
}

void ss_gemm_tn_few(const float *a, int lda, int m, int k, const float *b, int ldb, int n, float *y,
                    int ldy, int parallel)
{
    const int units = (n + 15) / 16;
    int nt = parallel ? (g_threads < units ? g_threads : units) : 1;
    if ((double)m * n * k < 2e6) nt = 1;
    (void)nt;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int c0, c1;
        thread_share(n, 32, &c0, &c1);
        if (c1 > c0) gemm_tn_part(a, lda, m, k, b, ldb, c0, c1, y, ldy);
    }
}

/* Column softmax without the division: x (n rows, stride ld), columns [0, m) (m a multiple of 16):
 * x[i, j] = exp(scale·(x[i, j] − max_i x[i, j])) (scale > 0), inv[j] = 1 / Σ_i x[i, j]. */
void ss_softmax_cols_exp(float *x, int n, int ld, int m, float scale, float *inv, int parallel)
{
    const int nt = parallel && (size_t)n * m >= 65536 ? g_threads : 1;
    (void)nt;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int c0, c1;
        thread_share(m, 16, &c0, &c1);
        for (int c = c0; c < c1; c += 16) {
#ifdef __AVX512F__
            __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps(), sc = _mm512_set1_ps(scale);
            for (int i = 0; i < n; i++) mx = _mm512_max_ps(mx, _mm512_loadu_ps(x + (size_t)i * ld + c));
            for (int i = 0; i < n; i++) {
                float *xi = x + (size_t)i * ld + c;
                const __m512 e = ss_expf16(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xi), mx), sc));
                _mm512_storeu_ps(xi, e);
                sum = _mm512_add_ps(sum, e);
            }
            _mm512_storeu_ps(inv + c, _mm512_div_ps(_mm512_set1_ps(1.0f), sum));
#else
            float mx[16], sum[16];
            for (int j = 0; j < 16; j++) mx[j] = -INFINITY, sum[j] = 0.0f;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < 16; j++) {
                    const float v = x[(size_t)i * ld + c + j];
                    mx[j] = v > mx[j] ? v : mx[j];
                }
            for (int i = 0; i < n; i++)
                for (int j = 0; j < 16; j++) {
                    float *v = x + (size_t)i * ld + c + j;
                    *v = ss_expf_approx((*v - mx[j]) * scale);
                    sum[j] += *v;
                }
            for (int j = 0; j < 16; j++) inv[c + j] = 1.0f / sum[j];
#endif
        }
    }
}

void ss_gemm_packed(const float *x, int ldx, int n, const ss_packed_w *W, const float *b, float *y,
                    int ldy, int flags)
{
#ifdef __AVX512F__
    if (W->p) {
        const int blocks = (n + MR - 1) / MR;
        int nt = g_threads < blocks ? g_threads : blocks;
        if ((double)n * W->in * W->out < 2e6) nt = 1;
        (void)nt; /* unused without OpenMP */
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            int r0, r1;
            thread_share(n, MR, &r0, &r1);
            if (r1 > r0) gemm_packed_rows(x, ldx, r0, r1, W, b, y, ldy, flags);
        }
        return;
    }
#endif
    ss_gemm_nt(x, ldx, n, W->in, W->w, W->out, y, ldy, (flags & SS_GEMM_ACC) ? 1.0f : 0.0f);
    if (b || (flags & SS_GEMM_GELU)) {
        const int out = W->out, gelu = flags & SS_GEMM_GELU;
#pragma omp parallel for schedule(static) num_threads(g_threads) if ((size_t)n * out >= 65536)
        for (int i = 0; i < n; i++) {
            float *r = y + (size_t)i * ldy;
#pragma omp simd
            for (int j = 0; j < out; j++) {
                float v = r[j] + (b ? b[j] : 0.0f);
                r[j] = gelu ? ss_gelu_approx(v) : v;
            }
        }
    }
}

/* y_dot (n, out/32): per row and 32-output panel, Σ_j act(x·Wᵀ + b)[panel j]·d[panel j], act = GELU
 * with SS_GEMM_GELU: the GEMM's output never leaves L1 (one 12 x 32 tile at a time, all of `in`). */
#ifdef __AVX512F__
static void gemm_packed_dot_rows(const float *x, int ldx, int r0, int r1, const ss_packed_w *W,
                                 const float *b, const float *d, float *ydot, int flags)
{
    const int in = W->in, nob = W->out / 32;
    float tile[MR * 32] __attribute__((aligned(64)));
    for (int i = r0; i < r1; i += MR) {
        const int mr = i + MR < r1 ? MR : r1 - i;
        for (int ob = 0; ob < nob; ob++) {
            ukr_any(mr, 2, in, x + (size_t)i * ldx, ldx, W->p + (size_t)ob * in * 32, tile, 32, 0);
            const __m512 b0 = b ? _mm512_loadu_ps(b + ob * 32) : _mm512_setzero_ps();
            const __m512 b1 = b ? _mm512_loadu_ps(b + ob * 32 + 16) : _mm512_setzero_ps();
            const __m512 d0 = _mm512_loadu_ps(d + ob * 32), d1 = _mm512_loadu_ps(d + ob * 32 + 16);
            for (int r = 0; r < mr; r++) {
                __m512 v0 = _mm512_add_ps(_mm512_load_ps(tile + r * 32), b0);
                __m512 v1 = _mm512_add_ps(_mm512_load_ps(tile + r * 32 + 16), b1);
                if (flags & SS_GEMM_GELU) v0 = ss_gelu16(v0), v1 = ss_gelu16(v1);
                ydot[(size_t)(i + r) * nob + ob] =
                    _mm512_reduce_add_ps(_mm512_fmadd_ps(v0, d0, _mm512_mul_ps(v1, d1)));
            }
        }
    }
}
#endif

void ss_gemm_packed_dot_seq(const float *x, int ldx, int n, const ss_packed_w *W, const float *b,
                            const float *d, float *ydot, int flags, float *tmp)
{
    const int nob = W->out / 32;
#ifdef __AVX512F__
    if (W->p && W->out % 32 == 0) {
        (void)tmp;
        gemm_packed_dot_rows(x, ldx, 0, n, W, b, d, ydot, flags);
        return;
    }
#endif
    ss_gemm_packed_seq(x, ldx, n, W, b, tmp, W->out, flags & SS_GEMM_GELU);
    for (int i = 0; i < n; i++)
        for (int ob = 0; ob < nob; ob++) {
            const float *t = tmp + (size_t)i * W->out + ob * 32;
            float acc = 0.0f;
            for (int j = 0; j < 32; j++) acc += t[j] * d[ob * 32 + j];
            ydot[(size_t)i * nob + ob] = acc;
        }
}

void ss_gemm_packed_epi(const float *x, int ldx, int n, const ss_packed_w *W, const float *b, float *y,
                        int ldy, int flags, const float *ysrc, ss_row_epi epi, void *ud)
{
#ifdef __AVX512F__
    if (W->p && W->out <= 512) {
        const int blocks = (n + MR - 1) / MR;
        int nt = g_threads < blocks ? g_threads : blocks;
        if ((double)n * W->in * W->out < 2e6) nt = 1;
        (void)nt;
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            int r0, r1;
            thread_share(n, MR, &r0, &r1);
            if (r1 > r0) gemm_packed_rows_epi(x, ldx, r0, r1, W, b, y, ldy, flags, ysrc, epi, ud);
        }
        return;
    }
#endif
    /* portable: the whole product, then the epilogue over row blocks of 12 */
    float *t = y;
    if (flags & SS_GEMM_TILE) {
        t = malloc(sizeof(float) * (size_t)n * W->out);
        ldy = W->out;
        if (!t) abort();
    } else if (ysrc) {
        for (int i = 0; i < n; i++) memcpy(y + (size_t)i * ldy, ysrc + (size_t)i * ldy, sizeof(float) * W->out);
    }
    ss_gemm_packed(x, ldx, n, W, b, t, ldy, (flags & ~SS_GEMM_TILE) | (ysrc ? SS_GEMM_ACC : 0));
    if (epi)
        for (int i = 0; i < n; i += 12) epi(t + (size_t)i * ldy, n - i < 12 ? n - i : 12, ldy, i, ud);
    if (t != y) free(t);
}

void ss_gemm_packed_seq(const float *x, int ldx, int n, const ss_packed_w *W, const float *b,
                        float *y, int ldy, int flags)
{
#ifdef __AVX512F__
    if (W->p) {
        gemm_packed_rows(x, ldx, 0, n, W, b, y, ldy, flags);
        return;
    }
#endif
    ss_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, W->out, W->in, 1.0f, x, ldx, W->w,
                W->in, (flags & SS_GEMM_ACC) ? 1.0f : 0.0f, y, ldy);
    const int out = W->out;
    for (int i = 0; i < n; i++) {
        float *r = y + (size_t)i * ldy;
        if (b && (flags & SS_GEMM_GELU)) {
#pragma omp simd
            for (int j = 0; j < out; j++) r[j] = ss_gelu_approx(r[j] + b[j]);
        } else if (b) {
#pragma omp simd
            for (int j = 0; j < out; j++) r[j] += b[j];
        } else if (flags & SS_GEMM_GELU) {
#pragma omp simd
            for (int j = 0; j < out; j++) r[j] = ss_gelu_approx(r[j]);
        }
    }
}

void ss_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y)
{
    ss_linear_ld(x, in, n, in, W, b, out, y, out);
}

void ss_layernorm_add_seq(const float *x, float *y, int n, int c, const float *g, const float *b, float eps,
                          const float *add, float *y2)
{
    /* two passes in float, vectorised over c */
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c;
        float *yi = y + (size_t)i * c;
        float sum = 0.0f, var = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < c; j++) sum += xi[j];
        const float m = sum / (float)c;
#pragma omp simd reduction(+ : var)
        for (int j = 0; j < c; j++) var += (xi[j] - m) * (xi[j] - m);
        const float inv = 1.0f / sqrtf(var / (float)c + eps);
        if (add) {
            const float *ai = add + (size_t)i * c;
            float *zi = y2 + (size_t)i * c;
#pragma omp simd
            for (int j = 0; j < c; j++) {
                const float v = (xi[j] - m) * inv * g[j] + b[j];
                yi[j] = v;
                zi[j] = v + ai[j];
            }
        } else {
#pragma omp simd
            for (int j = 0; j < c; j++) yi[j] = (xi[j] - m) * inv * g[j] + b[j];
        }
    }
}

void ss_layernorm_seq(const float *x, float *y, int n, int c, const float *g, const float *b, float eps)
{
    ss_layernorm_add_seq(x, y, n, c, g, b, eps, NULL, NULL);
}

void ss_layernorm_add(const float *x, float *y, int n, int c, const float *g, const float *b, float eps,
                      const float *add, float *y2)
{
    const int nt = n >= 256 ? g_threads : 1; /* rows in parallel */
    (void)nt;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int r0, r1;
        thread_share(n, 1, &r0, &r1);
        if (r1 > r0)
            ss_layernorm_add_seq(x + (size_t)r0 * c, y + (size_t)r0 * c, r1 - r0, c, g, b, eps,
                                 add ? add + (size_t)r0 * c : NULL, add ? y2 + (size_t)r0 * c : NULL);
    }
}

void ss_layernorm(const float *x, float *y, int n, int c, const float *g, const float *b, float eps)
{
    ss_layernorm_add(x, y, n, c, g, b, eps, NULL, NULL);
}

void ss_layernorm2d(const float *x, float *y, int c, int hw, const float *g, const float *b, float eps)
{
    /* x (c, hw): statistics over c for every pixel */
#pragma omp parallel for schedule(static) num_threads(ss_get_threads()) if (hw >= 1024)
    for (int p = 0; p < hw; p++) {
        double mean = 0.0, var = 0.0;
        for (int j = 0; j < c; j++) mean += x[(size_t)j * hw + p];
        mean /= c;
        for (int j = 0; j < c; j++) {
            double d = x[(size_t)j * hw + p] - mean;
            var += d * d;
        }
        var /= c;
        float inv = (float)(1.0 / sqrt(var + eps));
        float m = (float)mean;
        for (int j = 0; j < c; j++) y[(size_t)j * hw + p] = (x[(size_t)j * hw + p] - m) * inv * g[j] + b[j];
    }
}

void ss_gelu(float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) num_threads(g_threads) if (n >= 65536)
    for (size_t i = 0; i < n; i++) x[i] = ss_gelu_approx(x[i]);
}

void ss_bias_gelu(float *y, size_t n, int c, const float *b)
{
#ifdef __AVX512F__
    if (c % 16 == 0) {
#pragma omp parallel for schedule(static) num_threads(g_threads) if (n * (size_t)c >= 65536)
        for (size_t i = 0; i < n; i++) {
            float *r = y + i * (size_t)c;
            for (int j = 0; j < c; j += 16) {
                __m512 v = _mm512_loadu_ps(r + j);
                if (b) v = _mm512_add_ps(v, _mm512_loadu_ps(b + j));
                _mm512_storeu_ps(r + j, ss_gelu16(v));
            }
        }
        return;
    }
#endif
#pragma omp parallel for schedule(static) num_threads(g_threads) if (n * (size_t)c >= 65536)
    for (size_t i = 0; i < n; i++) {
        float *r = y + i * (size_t)c;
        if (b) {
#pragma omp simd
            for (int j = 0; j < c; j++) r[j] = ss_gelu_approx(r[j] + b[j]);
        } else {
#pragma omp simd
            for (int j = 0; j < c; j++) r[j] = ss_gelu_approx(r[j]);
        }
    }
}

void ss_bias_add(float *y, size_t n, int c, const float *b)
{
#pragma omp parallel for schedule(static) num_threads(g_threads) if (n * (size_t)c >= 65536)
    for (size_t i = 0; i < n; i++) {
        float *r = y + i * (size_t)c;
#pragma omp simd
        for (int j = 0; j < c; j++) r[j] += b[j];
    }
}

void ss_relu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ss_softmax_rows(float *x, int n, int c)
{
#pragma omp parallel for schedule(static) num_threads(ss_get_threads()) if (n >= 256)
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * c;
        float mx = r[0];
        for (int j = 1; j < c; j++) mx = r[j] > mx ? r[j] : mx;
        float s = 0.0f;
        for (int j = 0; j < c; j++) {
            r[j] = expf(r[j] - mx);
            s += r[j];
        }
        float inv = 1.0f / s;
        for (int j = 0; j < c; j++) r[j] *= inv;
    }
}

void ss_add(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
