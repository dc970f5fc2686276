/* test-ops.c — kernels of engine/ops.c against double-precision references (TAP).
 * Needs no model: GELU / exp approximations (scalar and 16-lane), the packed GEMM (threaded
 * and sequential, every epilogue, ragged row counts; packed at run time with padded outputs), the
 * few-rows aᵀ·b GEMM, the column softmax, the row-split BLAS GEMM, LayerNorm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"

static int n_test;
static int n_fail;

static void tap(int ok, const char *fmt, double a, double b)
{
    n_test++;
    n_fail += !ok;
    printf("%s %d - ", ok ? "ok" : "not ok", n_test);
    printf(fmt, a, b);
    printf("\n");
}

static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

static unsigned rng_state = 12345u;
static float frand(void) /* uniform [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

/* y_ref (n, out) in double: [y0 +] x W^T [+ b] [GELU] */
static void gemm_ref(const float *x, int n, int in, const float *W, int out, const float *b,
                     const float *y0, int flags, double *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = (flags & SS_GEMM_ACC) ? y0[(size_t)i * out + o] : 0.0;
            for (int k = 0; k < in; k++) s += (double)x[(size_t)i * in + k] * W[(size_t)o * in + k];
            if (b) s += b[o];
            y[(size_t)i * out + o] = (flags & SS_GEMM_GELU) ? gelu_ref(s) : s;
        }
}

static double max_rel(const float *a, const double *ref, size_t n)
{
    double md = 0, mr = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - ref[i]);
        md = d > md ? d : md;
        mr = fabs(ref[i]) > mr ? fabs(ref[i]) : mr;
    }
    return md / mr;
}

int main(void)
{
    ss_set_threads(2);

    /* GELU: absolute error relative to max(1, |x|) */
    double eg = 0, ee = 0, ev = 0;
    for (int i = -200000; i <= 200000; i++) {
        double x = i * 5e-5; /* [-10, 10] */
        double d = fabs(ss_gelu_approx((float)x) - gelu_ref((float)x)) / fmax(1.0, fabs(x));
        eg = d > eg ? d : eg;
    }
    tap(eg < 5e-7, "scalar GELU: max error %.3g (relative to max(1,|x|), limit %.0e)", eg, 5e-7);
    for (int i = -87000; i <= 88000; i++) {
        double x = i * 1e-3;
        double d = fabs(ss_expf_approx((float)x) - exp((float)x)) / exp((float)x);
        ee = d > ee ? d : ee;
    }
    tap(ee < 5e-7, "scalar exp: max relative error %.3g on [-87, 88] (limit %.0e)", ee, 5e-7);
    /* vector GELU via ss_bias_gelu (16 | c) vs the reference */
    {
        enum { R = 64, C = 4096 };
        float *y = malloc(sizeof(float) * R * C), *b = malloc(sizeof(float) * C);
        for (int j = 0; j < C; j++) b[j] = 0.25f * frand();
        for (int i = 0; i < R * C; i++) y[i] = 12.0f * frand();
        double worst = 0;
        float *y0 = malloc(sizeof(float) * R * C);
        for (int i = 0; i < R * C; i++) y0[i] = y[i];
        ss_bias_gelu(y, R, C, b);
        for (int i = 0; i < R * C; i++) {
            double x = (double)(y0[i] + b[i % C]);
            double d = fabs(y[i] - gelu_ref(x)) / fmax(1.0, fabs(x));
            worst = d > worst ? d : worst;
        }
        ev = worst;
        tap(ev < 5e-7, "ss_bias_gelu (vector path): max error %.3g (limit %.0e)", ev, 5e-7);
        free(y), free(b), free(y0);
    }

    /* packed GEMM: shapes with ragged n, every flag combination, threaded and sequential */
    static const int shapes[][3] = {{1, 7, 32}, {13, 64, 64}, {37, 300, 96}, {128, 160, 480},
                                    {250, 1280, 64}, {49, 2304, 256}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int n = shapes[si][0], in = shapes[si][1], out = shapes[si][2];
        float *x = malloc(sizeof(float) * n * in), *W = malloc(sizeof(float) * out * in);
        float *b = malloc(sizeof(float) * out), *y = malloc(sizeof(float) * n * out);
        float *y0 = malloc(sizeof(float) * n * out);
        double *ref = malloc(sizeof(double) * n * out);
        for (int i = 0; i < n * in; i++) x[i] = frand();
        for (int i = 0; i < out * in; i++) W[i] = frand() / sqrtf((float)in);
        for (int i = 0; i < out; i++) b[i] = frand();
        for (int i = 0; i < n * out; i++) y0[i] = frand();
        /* float accumulation over `in` terms: error grows like sqrt(in) ulps */
        const double lim = fmax(1e-6, 3e-7 * sqrt((double)in));
        ss_packed_w pw;
        if (ss_pack_w(&pw, W, out, in)) {
            tap(0, "ss_pack_w failed (%g x %g)", out, in);
            continue;
        }
        for (int flags = 0; flags < 4; flags++)
            for (int seq = 0; seq < 2; seq++)
                for (int hasb = 0; hasb < 2; hasb++) {
                    for (int i = 0; i < n * out; i++) y[i] = y0[i];
                    if (seq)
                        ss_gemm_packed_seq(x, in, n, &pw, hasb ? b : NULL, y, out, flags);
                    else
                        ss_gemm_packed(x, in, n, &pw, hasb ? b : NULL, y, out, flags);
                    gemm_ref(x, n, in, W, out, hasb ? b : NULL, y0, flags, ref);
                    double e = max_rel(y, ref, (size_t)n * out);
                    char msg[200];
                    snprintf(msg, sizeof msg,
                             "packed GEMM n=%d in=%d out=%d flags=%d %s bias=%d: max error %%.3g of max|y| (limit %%.1e)",
                             n, in, out, flags, seq ? "seq" : "threads", hasb);
                    tap(e < lim, msg, e, lim);
                }
        /* row-split BLAS GEMM */
        ss_gemm_nt(x, in, n, in, W, out, y, out, 0.0f);
        gemm_ref(x, n, in, W, out, NULL, NULL, 0, ref);
        char msg[160];
        snprintf(msg, sizeof msg, "ss_gemm_nt n=%d in=%d out=%d: max error %%.3g (limit %%.0e)", n, in, out);
        tap(max_rel(y, ref, (size_t)n * out) < lim, msg, max_rel(y, ref, (size_t)n * out), lim);
        ss_packed_free(&pw);
        free(x), free(W), free(b), free(y), free(y0), free(ref);
    }

    /* run-time packing (ss_pack_w_buf): outputs padded to 16, a 16-wide tail panel, a row
     * stride larger than `in`; the padded outputs must come out 0 (+ their bias) */
    static const int pshapes[][3] = {{4096, 256, 56}, {300, 128, 40}, {37, 56, 256}, {5, 16, 7}, {64, 20, 48}};
    for (size_t si = 0; si < sizeof pshapes / sizeof pshapes[0]; si++) {
        const int n = pshapes[si][0], in = pshapes[si][1], out = pshapes[si][2], ldw = in + 3;
        const int op = (out + 15) / 16 * 16;
        float *x = malloc(sizeof(float) * n * in), *W = malloc(sizeof(float) * out * ldw);
        float *Wd = malloc(sizeof(float) * op * in), *b = malloc(sizeof(float) * op);
        float *y = malloc(sizeof(float) * n * op), *buf = malloc(sizeof(float) * ss_pack_buf_floats(out, in));
        double *ref = malloc(sizeof(double) * n * op);
        for (int i = 0; i < n * in; i++) x[i] = frand();
        for (int i = 0; i < out * ldw; i++) W[i] = frand() / sqrtf((float)in);
        for (int o = 0; o < op; o++)
            for (int k = 0; k < in; k++) Wd[(size_t)o * in + k] = o < out ? W[(size_t)o * ldw + k] : 0.0f;
        for (int i = 0; i < op; i++) b[i] = frand();
        ss_packed_w pw;
        ss_pack_w_buf(&pw, W, ldw, out, in, buf);
        ss_gemm_packed(x, in, n, &pw, b, y, op, 0);
        gemm_ref(x, n, in, Wd, op, b, NULL, 0, ref);
        const double lim = fmax(1e-6, 3e-7 * sqrt((double)in));
        double e = max_rel(y, ref, (size_t)n * op);
        char msg[200];
        snprintf(msg, sizeof msg, "run-time packed GEMM n=%d in=%d out=%d (padded %d, pw.out %d): max error %%.3g (limit %%.1e)",
                 n, in, out, op, pw.out);
        tap(e < lim && pw.out == op, msg, e, lim);
        free(x), free(W), free(Wd), free(b), free(y), free(buf), free(ref);
    }

    /* y = aᵀ·b with few rows (ss_gemm_tn_few), threaded and not, ragged m and a 16-wide tail */
    static const int tshapes[][3] = {{56, 4096, 256}, {40, 4096, 256}, {7, 4096, 16}, {13, 300, 48}, {1, 33, 16}};
    for (size_t si = 0; si < sizeof tshapes / sizeof tshapes[0]; si++) {
        const int m = tshapes[si][0], k = tshapes[si][1], n = tshapes[si][2], lda = m + 5, ldb = n + 16;
        float *a = malloc(sizeof(float) * k * lda), *bm = malloc(sizeof(float) * k * ldb);
        float *y = malloc(sizeof(float) * m * n);
        double *ref = malloc(sizeof(double) * m * n);
        for (int i = 0; i < k * lda; i++) a[i] = frand();
        for (int i = 0; i < k * ldb; i++) bm[i] = frand();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += (double)a[(size_t)p * lda + i] * bm[(size_t)p * ldb + j];
                ref[(size_t)i * n + j] = acc;
            }
        for (int par = 0; par < 2; par++) {
            for (int i = 0; i < m * n; i++) y[i] = 1e30f;
            ss_gemm_tn_few(a, lda, m, k, bm, ldb, n, y, n, par);
            const double lim = fmax(1e-6, 3e-7 * sqrt((double)k));
            double e = max_rel(y, ref, (size_t)m * n);
            char msg[200];
            snprintf(msg, sizeof msg, "ss_gemm_tn_few m=%d k=%d n=%d parallel=%d: max error %%.3g (limit %%.1e)", m, k, n, par);
            tap(e < lim, msg, e, lim);
        }
        free(a), free(bm), free(y), free(ref);
    }

    /* column softmax (exponentials and 1/Σ), scaled scores, a column with a large offset */
    {
        enum { N = 4096, M = 48, LD = 64 };
        float *x = malloc(sizeof(float) * N * LD), inv[M];
        double *ref = malloc(sizeof(double) * N * M);
        const float scale = 0.25f;
        for (int i = 0; i < N * LD; i++) x[i] = 20.0f * frand() + (i % LD == 3 ? 500.0f : 0.0f);
        for (int j = 0; j < M; j++) {
            double mx = -1e300, sum = 0;
            for (int i = 0; i < N; i++) mx = fmax(mx, x[(size_t)i * LD + j]);
            for (int i = 0; i < N; i++) sum += exp(scale * (x[(size_t)i * LD + j] - mx));
            for (int i = 0; i < N; i++) ref[(size_t)i * M + j] = exp(scale * (x[(size_t)i * LD + j] - mx)) / sum;
        }
        double worst = 0;
        for (int par = 0; par < 2; par++) {
            float *xc = malloc(sizeof(float) * N * LD);
            for (int i = 0; i < N * LD; i++) xc[i] = x[i];
            ss_softmax_cols_exp(xc, N, LD, M, scale, inv, par);
            for (int i = 0; i < N; i++)
                for (int j = 0; j < M; j++) {
                    double r = ref[(size_t)i * M + j], d = fabs(xc[(size_t)i * LD + j] * inv[j] - r) / fmax(r, 1e-30);
                    if (r > 1e-30) worst = d > worst ? d : worst;
                }
            free(xc);
        }
        tap(worst < 1e-5, "ss_softmax_cols_exp: max relative error %.3g of the probabilities (limit %.0e)", worst, 1e-5);
        free(x), free(ref);
    }

    /* LayerNorm (rows of 320, offset and scaled inputs) */
    {
        enum { N = 300, C = 320 };
        float *x = malloc(sizeof(float) * N * C), *y = malloc(sizeof(float) * N * C);
        float g[C], bb[C];
        double *ref = malloc(sizeof(double) * N * C);
        for (int j = 0; j < C; j++) g[j] = 1.0f + 0.5f * frand(), bb[j] = frand();
        for (int i = 0; i < N * C; i++) x[i] = 3.0f + 10.0f * frand();
        for (int i = 0; i < N; i++) {
            double m = 0, v = 0;
            for (int j = 0; j < C; j++) m += x[i * C + j];
            m /= C;
            for (int j = 0; j < C; j++) v += (x[i * C + j] - m) * (x[i * C + j] - m);
            v /= C;
            for (int j = 0; j < C; j++) ref[i * C + j] = (x[i * C + j] - m) / sqrt(v + 1e-5) * g[j] + bb[j];
        }
        ss_layernorm(x, y, N, C, g, bb, 1e-5f);
        double e = max_rel(y, ref, (size_t)N * C);
        tap(e < 1e-5, "ss_layernorm: max error %.3g of max|y| (limit %.0e)", e, 1e-5);
        free(x), free(y), free(ref);
    }
    printf("1..%d\n", n_test);
    return n_fail ? 1 : 0;
}
