/* plugin.c — Stable-SAM plugin: Deformable Sampling Plugin (DSP) + Dynamic Routing Plugin (DRP)
 * in front of the token-to-image attention of the mask decoder's two transformer blocks.
 *
 * The full contract (shared with tools/sam_torch.py) is engine/PLUGIN.md. Tensors, F32, b = 0, 1:
 *   dsp.scale               [1]              s_p, offset scale in grid cells
 *   dsp.b.offset.0.weight   [129, 256, 1, 1] 1x1 conv: 128 offset-net channels + amplitude logit
 *   dsp.b.offset.0.bias     [129]
 *   dsp.b.offset.1.weight   [128, 1, 5, 5]   5x5 depthwise conv, zero padding 2
 *   dsp.b.offset.1.bias     [128]
 *   dsp.b.offset.2.weight   [128]            LayerNorm over channels, eps 1e-6, then exact GELU
 *   dsp.b.offset.2.bias     [128]
 *   dsp.b.offset.3.weight   [2, 128, 1, 1]   1x1 conv → (Δx, Δy); Δ = s_p·tanh(·)
 *   dsp.b.offset.3.bias     [2]
 *   drp.b.mlp.0.weight      [16, 256]        Linear on the output-mask token
 *   drp.b.mlp.0.bias        [16]
 *   drp.b.mlp.1.weight      [16]             LayerNorm, eps 1e-5, then exact GELU
 *   drp.b.mlp.1.bias        [16]
 *   drp.b.mlp.2.weight      [2, 16]          Linear → routing logits; α = softmax(·)·s
 *   drp.b.mlp.2.bias        [2]
 *   drp.b.scale             [1]              s
 * x~ = α₁·(m⊙x) bilinearly sampled at clamp(p + Δ, 0, 63) + α₂·x, m = 2·sigmoid(amplitude). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"
#include "ops.h"
#include "plugin.h"

#define C 256
#define SIDE SS_EMB_SIDE
#define NPOS (SIDE * SIDE)
#define CO 128  /* offset-net channels */
#define KS 5    /* depthwise kernel */
#define RD 16   /* DRP hidden */

typedef struct {
    const float *w0, *b0;    /* (129, 256), (129) */
    float *w1t;              /* (25, 128) depthwise weights, tap-major (owned) */
    const float *b1;         /* (128) */
    const float *ln_g, *ln_b;/* (128) */
    const float *w3, *b3;    /* (2, 128), (2) */
    const float *r0w, *r0b;  /* (16, 256), (16) */
    const float *r1g, *r1b;  /* (16) */
    const float *r2w, *r2b;  /* (2, 16), (2) */
    float s;                 /* DRP scale */
} pblock;

struct ss_plugin_w {
    float s_p;
    pblock blk[2];
};

enum {
    POFF_H = 0,                    /* (4096, 129) first 1x1 conv */
    POFF_U = POFF_H + NPOS * (CO + 1), /* (4096, 128) depthwise → LN → GELU */
    POFF_M = POFF_U + NPOS * CO,   /* (4096) amplitude m */
    POFF_END = POFF_M + NPOS
};

size_t ss_plugin_scratch_floats(void) { return (size_t)POFF_END; }

static const float *pget(ss_weights *w, char *err, size_t n, int *fail, int ndim, const int64_t *shape,
                         const char *name)
{
    if (*fail) return NULL;
    const float *p = ss_weights_get(w, err, n, ndim, shape, "%s", name);
    if (!p) *fail = 1;
    return p;
}

ss_plugin_w *ss_plugin_bind(ss_weights *w, char *err, size_t errlen)
{
    const char *fmt = ss_weights_meta(w, "format");
    if (fmt && strcmp(fmt, "stablesam-plugin") != 0) {
        if (err) snprintf(err, errlen, "%s: not a Stable-SAM plugin file (format \"%s\")", ss_weights_path(w), fmt);
        return NULL;
    }
    ss_plugin_w *p = calloc(1, sizeof *p);
    if (!p) {
        if (err) snprintf(err, errlen, "%s: out of memory", __func__);
        return NULL;
    }
    int fail = 0;
    char nm[96];
    const float *sp = pget(w, err, errlen, &fail, SS_DIMS(1), "dsp.scale");
    for (int b = 0; b < 2 && !fail; b++) {
        pblock *k = &p->blk[b];
#define G(field, name_fmt, ...)                                                   \
        snprintf(nm, sizeof nm, name_fmt, b);                                     \
        field = pget(w, err, errlen, &fail, SS_DIMS(__VA_ARGS__), nm)
        G(k->w0, "dsp.%d.offset.0.weight", CO + 1, C, 1, 1);
        G(k->b0, "dsp.%d.offset.0.bias", CO + 1);
        const float *w1;
        G(w1, "dsp.%d.offset.1.weight", CO, 1, KS, KS);
        G(k->b1, "dsp.%d.offset.1.bias", CO);
        G(k->ln_g, "dsp.%d.offset.2.weight", CO);
        G(k->ln_b, "dsp.%d.offset.2.bias", CO);
        G(k->w3, "dsp.%d.offset.3.weight", 2, CO, 1, 1);
        G(k->b3, "dsp.%d.offset.3.bias", 2);
        G(k->r0w, "drp.%d.mlp.0.weight", RD, C);
        G(k->r0b, "drp.%d.mlp.0.bias", RD);
        G(k->r1g, "drp.%d.mlp.1.weight", RD);
        G(k->r1b, "drp.%d.mlp.1.bias", RD);
        G(k->r2w, "drp.%d.mlp.2.weight", 2, RD);
        G(k->r2b, "drp.%d.mlp.2.bias", 2);
        const float *s;
        G(s, "drp.%d.scale", 1);
#undef G
        if (fail) break;
        k->s = s[0];
        k->w1t = malloc(sizeof(float) * KS * KS * CO);
        if (!k->w1t) {
            if (err) snprintf(err, errlen, "%s: out of memory", __func__);
            fail = 1;
            break;
        }
        for (int c = 0; c < CO; c++)
            for (int t = 0; t < KS * KS; t++) k->w1t[t * CO + c] = w1[c * KS * KS + t];
        if (!isfinite(k->s)) {
            if (err) snprintf(err, errlen, "%s: drp.%d.scale is not finite", ss_weights_path(w), b);
            fail = 1;
        }
    }
    if (!fail) {
        p->s_p = sp[0];
        if (!isfinite(p->s_p) || p->s_p < 0.0f || p->s_p > SIDE) {
            if (err) snprintf(err, errlen, "%s: dsp.scale %g out of range [0, %d]", ss_weights_path(w), (double)p->s_p, SIDE);
            fail = 1;
        }
    }
    if (!fail && ss_weights_check_all_used(w, err, errlen) != 0) fail = 1;
    if (fail) {
        ss_plugin_free(p);
        return NULL;
    }
    return p;
}

void ss_plugin_free(ss_plugin_w *p)
{
    if (!p) return;
    for (int b = 0; b < 2; b++) free(p->blk[b].w1t);
    free(p);
}

/* DRP: α = softmax(Linear(GELU(LN(Linear(t_o))))) · s */
static void drp_alpha(const pblock *k, const float *t_o, float alpha[2])
{
    float r[RD];
    for (int j = 0; j < RD; j++) {
        float acc = k->r0b[j];
        const float *wj = k->r0w + (size_t)j * C;
        for (int i = 0; i < C; i++) acc += wj[i] * t_o[i];
        r[j] = acc;
    }
    float mean = 0.0f, var = 0.0f;
    for (int j = 0; j < RD; j++) mean += r[j];
    mean /= RD;
    for (int j = 0; j < RD; j++) var += (r[j] - mean) * (r[j] - mean);
    var /= RD;
    float inv = 1.0f / sqrtf(var + 1e-5f);
    for (int j = 0; j < RD; j++) r[j] = ss_gelu1((r[j] - mean) * inv * k->r1g[j] + k->r1b[j]);
    float z[2];
    for (int o = 0; o < 2; o++) {
        float acc = k->r2b[o];
        for (int j = 0; j < RD; j++) acc += k->r2w[o * RD + j] * r[j];
        z[o] = acc;
    }
    float mx = z[0] > z[1] ? z[0] : z[1];
    float e0 = expf(z[0] - mx), e1 = expf(z[1] - mx);
    alpha[0] = e0 / (e0 + e1) * k->s;
    alpha[1] = e1 / (e0 + e1) * k->s;
}

void ss_plugin_apply(const ss_plugin_w *p, int block, const float *x, const float *t_o,
                     float *xt, float alpha[2], float *pos, float *scratch)
{
    const pblock *k = &p->blk[block];
    float *H = scratch + POFF_H, *U = scratch + POFF_U, *M = scratch + POFF_M;

    /* DSP offset net: 1x1 conv 256 → 129 */
    ss_linear(x, NPOS, C, k->w0, k->b0, CO + 1, H);

    /* amplitude, 5x5 depthwise (zero padding) → LayerNorm over channels → GELU */
#pragma omp parallel for schedule(static)
    for (int i = 0; i < NPOS; i++) {
        const int gy = i / SIDE, gx = i % SIDE;
        M[i] = 2.0f / (1.0f + expf(-H[(size_t)i * (CO + 1) + CO]));
        float acc[CO];
        for (int c = 0; c < CO; c++) acc[c] = k->b1[c];
        for (int ky = 0; ky < KS; ky++) {
            int yy = gy + ky - KS / 2;
            if (yy < 0 || yy >= SIDE) continue;
            for (int kx = 0; kx < KS; kx++) {
                int xx = gx + kx - KS / 2;
                if (xx < 0 || xx >= SIDE) continue;
                const float *h = H + ((size_t)yy * SIDE + xx) * (CO + 1);
                const float *wt = k->w1t + (ky * KS + kx) * CO;
                for (int c = 0; c < CO; c++) acc[c] += wt[c] * h[c];
            }
        }
        float mean = 0.0f, var = 0.0f;
        for (int c = 0; c < CO; c++) mean += acc[c];
        mean *= 1.0f / CO;
        for (int c = 0; c < CO; c++) var += (acc[c] - mean) * (acc[c] - mean);
        float inv = 1.0f / sqrtf(var * (1.0f / CO) + 1e-6f);
        float *u = U + (size_t)i * CO;
        for (int c = 0; c < CO; c++) u[c] = ss_gelu1((acc[c] - mean) * inv * k->ln_g[c] + k->ln_b[c]);
    }

    /* DRP routing weights from the output-mask token */
    drp_alpha(k, t_o, alpha);
    const float a1 = alpha[0], a2 = alpha[1];

    /* offsets (1x1 conv 128 → 2, s_p·tanh), clamp, bilinear sampling of m⊙x, mixing */
#pragma omp parallel for schedule(static)
    for (int i = 0; i < NPOS; i++) {
        const int gy = i / SIDE, gx = i % SIDE;
        const float *u = U + (size_t)i * CO;
        float dx = k->b3[0], dy = k->b3[1];
        for (int c = 0; c < CO; c++) {
            dx += k->w3[c] * u[c];
            dy += k->w3[CO + c] * u[c];
        }
        float qx = (float)gx + p->s_p * tanhf(dx);
        float qy = (float)gy + p->s_p * tanhf(dy);
        qx = qx < 0.0f ? 0.0f : (qx > SIDE - 1 ? (float)(SIDE - 1) : qx);
        qy = qy < 0.0f ? 0.0f : (qy > SIDE - 1 ? (float)(SIDE - 1) : qy);
        if (pos) {
            pos[2 * i] = qx;
            pos[2 * i + 1] = qy;
        }
        int x0 = (int)qx, y0 = (int)qy;
        int x1 = x0 + 1 < SIDE ? x0 + 1 : SIDE - 1, y1 = y0 + 1 < SIDE ? y0 + 1 : SIDE - 1;
        float wx = qx - (float)x0, wy = qy - (float)y0;
        int j00 = y0 * SIDE + x0, j01 = y0 * SIDE + x1, j10 = y1 * SIDE + x0, j11 = y1 * SIDE + x1;
        float w00 = a1 * (1.0f - wy) * (1.0f - wx) * M[j00], w01 = a1 * (1.0f - wy) * wx * M[j01];
        float w10 = a1 * wy * (1.0f - wx) * M[j10], w11 = a1 * wy * wx * M[j11];
        const float *x00 = x + (size_t)j00 * C, *x01 = x + (size_t)j01 * C;
        const float *x10 = x + (size_t)j10 * C, *x11 = x + (size_t)j11 * C, *xi = x + (size_t)i * C;
        float *o = xt + (size_t)i * C;
        for (int c = 0; c < C; c++)
            o[c] = w00 * x00[c] + w01 * x01[c] + w10 * x10[c] + w11 * x11[c] + a2 * xi[c];
    }
}
