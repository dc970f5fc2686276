/* ops.c — small dense kernels shared by the encoder and the decoder. */
#include "ops.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

static int g_threads = 1;

void ss_set_threads(int n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    g_threads = n;
    openblas_set_num_threads(n);
}

int ss_get_threads(void) { return g_threads; }

double ss_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void ss_linear_ld(const float *x, int ldx, int n, int in, const float *W, const float *b, int out,
                  float *y, int ldy)
{
    /* y (n, out) = x (n, in) · W (out, in)^T */
    if (b) {
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) y[(size_t)i * ldy + o] = b[o];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, ldx, W, in,
                b ? 1.0f : 0.0f, y, ldy);
}

void ss_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y)
{
    ss_linear_ld(x, in, n, in, W, b, out, y, out);
}

void ss_layernorm(const float *x, float *y, int n, int c, const float *g, const float *b, float eps)
{
#pragma omp parallel for schedule(static) if (n >= 256)
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c;
        float *yi = y + (size_t)i * c;
        double mean = 0.0, var = 0.0;
        for (int j = 0; j < c; j++) mean += xi[j];
        mean /= c;
        for (int j = 0; j < c; j++) {
            double d = xi[j] - mean;
            var += d * d;
        }
        var /= c;
        float inv = (float)(1.0 / sqrt(var + eps));
        float m = (float)mean;
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
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
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
