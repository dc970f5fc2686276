/* ops.c — small dense kernels shared by the encoder and the decoder. */
#include "ops.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

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
    openblas_set_num_threads(1);
}

int ss_get_threads(void) { return g_threads; }

double ss_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void ss_gemm_nt(const float *x, int ldx, int n, int in, const float *W, int out, float *y, int ldy,
                float beta)
{
    /* y (n, out) = x (n, in) . W (out, in)^T + beta y; rows split across threads in multiples
     * of 16, each thread one single-threaded sgemm. */
    int nt = g_threads;
    if ((double)n * in * out < 2e6 || n < 32) nt = 1;
    if (nt > (n + 15) / 16) nt = (n + 15) / 16;
    if (nt <= 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, ldx, W, in, beta,
                    y, ldy);
        return;
    }
    const int blocks = (n + 15) / 16;
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
        const int t = 0, T = 1;
#endif
        int r0 = (int)((long)blocks * t / T) * 16, r1 = (int)((long)blocks * (t + 1) / T) * 16;
        if (r1 > n) r1 = n;
        if (r1 > r0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, out, in, 1.0f,
                        x + (size_t)r0 * ldx, ldx, W, in, beta, y + (size_t)r0 * ldy, ldy);
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

void ss_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y)
{
    ss_linear_ld(x, in, n, in, W, b, out, y, out);
}

void ss_layernorm(const float *x, float *y, int n, int c, const float *g, const float *b, float eps)
{
    /* two passes in float, vectorised over c; rows in parallel */
#pragma omp parallel for schedule(static) num_threads(g_threads) if (n >= 256)
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
#pragma omp simd
        for (int j = 0; j < c; j++) yi[j] = (xi[j] - m) * inv * g[j] + b[j];
    }
}

void ss_layernorm2d(const float *x, float *y, int c, int hw, const float *g, const float *b, float eps)
{
    /* x (c, hw): statistics over c for every pixel */
#pragma omp parallel for schedule(static) if (hw >= 1024)
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
#pragma omp parallel for schedule(static) if (n >= 256)
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
