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
    ss_packed_w w0p;         /* the 128 offset rows of w0, packed (owned) */
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

#define PS (SIDE + KS - 1) /* 68: zero-padded side for the depthwise conv */

enum {
    POFF_H = 0,                      /* (4096, 128) first 1x1 conv, offset channels; then the
                                        depthwise conv output (U) */
    POFF_P = POFF_H + NPOS * CO,     /* (68, 68, 128) first conv, zero padded by 2 */
    POFF_M = POFF_P + PS * PS * CO,  /* (4096) amplitude m */
    POFF_D = POFF_M + NPOS,          /* (4096, 2) offsets Δ in grid cells */
    POFF_END = POFF_D + 2 * NPOS
};
_Static_assert(POFF_END <= SS_PLUGIN_SCRATCH_FLOATS, "plugin.h: SS_PLUGIN_SCRATCH_FLOATS too small");

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
        if (ss_pack_w(&k->w0p, k->w0, CO, C)) {
            if (err) snprintf(err, errlen, "%s: out of memory", __func__);
            fail = 1;
            break;
        }
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
    for (int b = 0; b < 2; b++) {
        free(p->blk[b].w1t);
        ss_packed_free(&p->blk[b].w0p);
    }
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

typedef ss_v16 v16; /* 16 channels */

/* row epilogue: offset-net rows (positions row0.., 128 channels) into the padded map */
static void to_padded(float *rows, int nrows, int ldy, int row0, void *ud)
{
    float *P = ud;
    for (int r = 0; r < nrows; r++) {
        const int p = row0 + r, y = p / SIDE, x = p % SIDE;
        memcpy(P + ((size_t)(y + 2) * PS + x + 2) * CO, rows + (size_t)r * ldy, sizeof(float) * CO);
    }
}

/* DSP offset net of block k on x (4096, 256): M (4096) = amplitude m, D (4096, 2) = Δ in grid
 * cells, in scratch (POFF_M, POFF_D). */
static void dsp_offsets(const ss_plugin_w *p, const pblock *k, const float *x, float *scratch)
{
    float *H = scratch + POFF_H, *P = scratch + POFF_P, *U = scratch + POFF_H; /* U reuses H */
    float *M = scratch + POFF_M, *D = scratch + POFF_D;
    /* parameters in restrict locals: stores to the activations cannot alias them (vectorises) */
    const float *restrict ln_g = k->ln_g, *restrict ln_b = k->ln_b;
    const float *restrict w3 = k->w3, *restrict b3 = k->b3;
    const float *restrict wa = k->w0 + (size_t)CO * C; /* amplitude row of offset.0 */
    const float ba = k->b0[CO], s_p = p->s_p;

    /* DSP offset net: 1x1 conv 256 → 128 offset channels (one packed GEMM), its rows written
     * straight into a zero-padded (68, 68, 128) map for the 5x5 depthwise conv */
    (void)H;
    memset(P, 0, sizeof(float) * (size_t)2 * PS * CO);
    memset(P + (size_t)(PS - 2) * PS * CO, 0, sizeof(float) * (size_t)2 * PS * CO);
    for (int y = 0; y < SIDE; y++) {
        float *row = P + (size_t)(y + 2) * PS * CO;
        memset(row, 0, sizeof(float) * 2 * CO);
        memset(row + (size_t)(SIDE + 2) * CO, 0, sizeof(float) * 2 * CO);
    }
    ss_gemm_packed_epi(x, C, NPOS, &k->w0p, k->b0, NULL, 0, SS_GEMM_TILE, NULL, to_padded, P);

    /* 5x5 depthwise, 16 channels at a time: the 25 taps' weights and the sum stay in registers */
#pragma omp parallel for schedule(static) collapse(2) num_threads(ss_get_threads())
    for (int cb = 0; cb < CO / 16; cb++)
        for (int y = 0; y < SIDE; y++) {
            v16 w[KS * KS], bias = *(const v16 *)(k->b1 + cb * 16);
            for (int t = 0; t < KS * KS; t++) w[t] = *(const v16 *)(k->w1t + t * CO + cb * 16);
            for (int xx = 0; xx < SIDE; xx++) {
                const float *base = P + ((size_t)y * PS + xx) * CO + cb * 16; /* window top-left */
                v16 acc = bias;
                for (int ky = 0; ky < KS; ky++)
                    for (int kx = 0; kx < KS; kx++)
                        acc += w[ky * KS + kx] * *(const v16 *)(base + ((size_t)ky * PS + kx) * CO);
                *(v16 *)(U + ((size_t)y * SIDE + xx) * CO + cb * 16) = acc;
            }
        }

    /* per position: LayerNorm over the 128 channels → GELU → 1x1 conv 128 → 2 → Δ = s_p·tanh;
     * amplitude m = 2·sigmoid(w_a·x + b_a) */
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int i = 0; i < NPOS; i++) {
        float a = ba + ss_dot(wa, x + (size_t)i * C, C);
        M[i] = 2.0f / (1.0f + expf(-a));
        const float *restrict acc = U + (size_t)i * CO;
        float mean = ss_sum(acc, CO) * (1.0f / CO);
        float inv = 1.0f / sqrtf(ss_sumsq_dev(acc, mean, CO) * (1.0f / CO) + 1e-6f);
        float u[CO];
#pragma omp simd
        for (int c = 0; c < CO; c++) u[c] = ss_gelu_approx((acc[c] - mean) * inv * ln_g[c] + ln_b[c]);
        D[2 * i] = s_p * tanhf(b3[0] + ss_dot(w3, u, CO));
        D[2 * i + 1] = s_p * tanhf(b3[1] + ss_dot(w3 + CO, u, CO));
    }
}

/* clamp, bilinear sampling of m⊙x at p + Δ (M, D from dsp_offsets), mixing:
 * xt = a1·sample + a2·x; xtp = xt + pe when pe is not NULL (then xtp must be given too). */
static void dsp_mix(const float *x, const float *M, const float *D, float a1, float a2, const float *pe,
                    float *xt, float *xtp, float *pos)
{
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int i = 0; i < NPOS; i++) {
        const int gy = i / SIDE, gx = i % SIDE;
        float qx = (float)gx + D[2 * i], qy = (float)gy + D[2 * i + 1];
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
        const float *restrict x00 = x + (size_t)j00 * C, *restrict x01 = x + (size_t)j01 * C;
        const float *restrict x10 = x + (size_t)j10 * C, *restrict x11 = x + (size_t)j11 * C;
        const float *restrict xi = x + (size_t)i * C;
        float *restrict o = xt + (size_t)i * C;
        if (pe) {
            const float *restrict pi = pe + (size_t)i * C;
            float *restrict op = xtp + (size_t)i * C;
            for (int c = 0; c < C; c++) {
                float v = w00 * x00[c] + w01 * x01[c] + w10 * x10[c] + w11 * x11[c] + a2 * xi[c];
                o[c] = v;
                op[c] = v + pi[c];
            }
        } else {
            for (int c = 0; c < C; c++)
                o[c] = w00 * x00[c] + w01 * x01[c] + w10 * x10[c] + w11 * x11[c] + a2 * xi[c];
        }
    }
}

void ss_plugin_apply(const ss_plugin_w *p, int block, const float *x, const float *t_o, const float *pe,
                     float *xt, float *xtp, float alpha[2], float *pos, float *scratch)
{
    const pblock *k = &p->blk[block];
    dsp_offsets(p, k, x, scratch);
    /* DRP routing weights from the output-mask token */
    drp_alpha(k, t_o, alpha);
    /* x~ and x~ + PE (the keys' input) */
    dsp_mix(x, scratch + POFF_M, scratch + POFF_D, alpha[0], alpha[1], pe, xt, xtp, pos);
}

void ss_plugin_sample(const ss_plugin_w *p, int block, const float *x, float *xs, float *pos, float *scratch)
{
    dsp_offsets(p, &p->blk[block], x, scratch);
    dsp_mix(x, scratch + POFF_M, scratch + POFF_D, 1.0f, 0.0f, NULL, xs, NULL, pos);
}

void ss_plugin_alpha(const ss_plugin_w *p, int block, const float *t_o, float alpha[2])
{
    drp_alpha(&p->blk[block], t_o, alpha);
}
