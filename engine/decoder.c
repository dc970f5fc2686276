/* decoder.c — SAM prompt encoder + mask decoder (two-way transformer, output upscaling,
 * hypernetwork MLPs, IoU head), with the Stable-SAM plugin hooked into the token-to-image
 * attention of the two transformer blocks (plugin.c, spec in PLUGIN.md).
 *
 * Layouts: image features are kept position-major, (4096, 256) with position i = gy*64 + gx,
 * so every linear layer over the image is one GEMM against the checkpoint's (out, in) weights
 * (ss_gemm_packed with weights packed at load, or with small operands packed per call). Tokens are (T, 256): [iou_token, mask_tokens x4, prompt tokens].
 * All activations live in the caller's scratch (ss_decoder_scratch_floats()); nothing is
 * allocated in ss_decoder_forward. */
#include "decoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"

#include "ops.h"
#include "fastmath.h"
#include "plugin.h"

#define C 256                           /* transformer width */
#define NPOS (SS_EMB_SIDE * SS_EMB_SIDE) /* 4096 image positions */
#define HEADS 8
#define MLP_DIM 2048
#define MLP_CHUNK 128                   /* token rows per MLP step (bounds the hidden buffer) */
#define T_MAX (5 + SS_MAX_POINTS + 2)   /* output tokens + clicks + box corners */
#define S_FLOATS ((size_t)1 << 20)      /* attention score chunk */
#define UP1 64                          /* output_upscaling.0 out channels */
#define UP2 32                          /* output_upscaling.3 out channels */

typedef struct {
    const float *w, *b; /* w (out, in), b (out) */
    ss_packed_w p;      /* packed copy for the 4096-row projections (attention q/k/v), or p.p NULL */
} lin_t;
typedef struct { const float *g, *b; } norm_t;  /* (c,) */
typedef struct { lin_t q, k, v, o; int dim; } attn_t; /* q/k/v (dim, 256), o (256, dim) */

typedef struct {
    attn_t self_attn, t2i, i2t;
    norm_t norm1, norm2, norm3, norm4;
    lin_t lin1, lin2; /* (2048, 256), (256, 2048) */
} block_t;

struct ss_decoder_w {
    /* prompt encoder */
    const float *gauss;         /* (2, 128) pe_layer.positional_encoding_gaussian_matrix */
    const float *point_emb[4];  /* (256,) labels 0..3 */
    const float *not_a_point;   /* (256,) label -1 */
    const float *no_mask;       /* (256,) */
    const float *md0_w, *md0_b; /* mask_downscaling.0: conv 2x2 s2, (4, 1, 2, 2), (4) */
    norm_t md1;                 /* LayerNorm2d (4) */
    const float *md3_w, *md3_b; /* conv 2x2 s2, (16, 4, 2, 2), (16) */
    norm_t md4;                 /* LayerNorm2d (16) */
    lin_t md6;                  /* conv 1x1 (256, 16, 1, 1) used as (256, 16) */
    /* mask decoder */
    const float *iou_token;     /* (1, 256) */
    const float *mask_tokens;   /* (4, 256) */
    block_t blk[2];
    attn_t final_attn;
    norm_t norm_final;
    norm_t up1;                 /* LayerNorm2d (64) */
    /* both ConvTransposes (2x2, stride 2) as linear layers over the input channels, output
     * row k*OUT + o with k = dy*2 + dx (owned, (4*OUT, IN)), packed for ss_gemm_packed, and
     * their biases tiled over k (owned, (4*OUT)) */
    float *up0_wt, *up0_bt, *up3_wt, *up3_bt;
    ss_packed_w up0_p, up3_p;
    lin_t hyper[SS_N_TOKENS][3];
    lin_t iou_head[3];
    float *image_pe;            /* (4096, 256) dense PE at the grid, position-major (owned) */
    float *t2i0_kpe;            /* (4096, 128) block 0 token-to-image k_proj(image_pe) incl. bias:
                                   the image-independent part of the cached keys (owned) */
    /* A mask input adds dense = W6·g + b6 (g: the (4096, 16) output of mask_downscaling's last
     * GELU, W6 = md6) to the keys in place of the no-mask embedding, so block 0's cached
     * image-side projections P ∈ {t2i k, t2i v, i2t q} change by a rank-16 term:
     *   P(keys_mask) = P(keys_nomask) + g·(W_P·W6)ᵀ + W_P·(b6 − no_mask).
     * mk_a[j] (16, D) = (W_P·W6)ᵀ, mk_c[j] (D) = W_P·(b6 − no_mask), j = MK_K, MK_V, MK_Q (owned) */
    float *mk_a, *mk_c;
};
enum { MK_K = 0, MK_V = 1, MK_Q = 2, MK_R = 16 /* the rank: mask_downscaling's channels */ };

/* ---------------------------------------------------------------------------------------- */
/* small kernels (vectorisable; exact enough for 1e-6 relative)                            */


/* rows of length c, softmax in place */
static void softmax_rows_fast(float *x, int n, int c)
{
#pragma omp parallel for schedule(static) num_threads(ss_get_threads()) if ((size_t)n * c >= 65536)
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * c;
        float mx = r[0];
        for (int j = 1; j < c; j++) mx = r[j] > mx ? r[j] : mx;
        float s = 0.0f;
        for (int j = 0; j < c; j++) {
            float e = ss_exp_fast(r[j] - mx);
            r[j] = e;
            s += e;
        }
        float inv = 1.0f / s;
        for (int j = 0; j < c; j++) r[j] *= inv;
    }
}

/* y = a + b, n floats */
static void add_to(float *y, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) num_threads(ss_get_threads()) if (n >= 262144)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* LayerNorm over c channels at stride cs, for each of n positions at stride ps (in place),
 * then optional GELU. Used for LayerNorm2d on (position, channel-strided) layouts. */
static void layernorm_strided(float *x, int n, size_t ps, int c, size_t cs, const norm_t *nm,
                              float eps, int gelu)
{
    for (int i = 0; i < n; i++) {
        float *xi = x + (size_t)i * ps;
        float mean = 0.0f, var = 0.0f;
        for (int j = 0; j < c; j++) mean += xi[(size_t)j * cs];
        mean /= (float)c;
        for (int j = 0; j < c; j++) {
            float d = xi[(size_t)j * cs] - mean;
            var += d * d;
        }
        var /= (float)c;
        float inv = 1.0f / sqrtf(var + eps);
        for (int j = 0; j < c; j++) {
            float v = (xi[(size_t)j * cs] - mean) * inv * nm->g[j] + nm->b[j];
            xi[(size_t)j * cs] = gelu ? ss_gelu1(v) : v;
        }
    }
}

static void layernorm_rows(float *x, int n, const norm_t *nm)
{
    ss_layernorm(x, x, n, C, nm->g, nm->b, 1e-5f);
}

/* y (n, out) (+)= x (n, in) · W^T + b; accumulate = 1 adds to y (residual). */
static void linear_acc(const float *x, int n, int in, const lin_t *l, int out, float *y, int accumulate)
{
    if (!accumulate) {
        ss_linear(x, n, in, l->w, l->b, out, y);
        return;
    }
    ss_gemm_nt(x, in, n, in, l->w, out, y, out, 1.0f);
    if (l->b)
        for (int i = 0; i < n; i++) {
            float *yi = y + (size_t)i * out;
            for (int o = 0; o < out; o++) yi[o] += l->b[o];
        }
}

/* ---------------------------------------------------------------------------------------- */
/* binding                                                                                  */

typedef struct {
    ss_weights *w;
    char *err;
    size_t n;
    int fail;
} binder;

static const float *get(binder *b, int ndim, const int64_t *shape, const char *name)
{
    if (b->fail) return NULL;
    const float *p = ss_weights_get(b->w, b->err, b->n, ndim, shape, "%s", name);
    if (!p) b->fail = 1;
    return p;
}

static void bind_lin(binder *b, lin_t *l, const char *prefix, int out, int in)
{
    char name[176];
    snprintf(name, sizeof name, "%s.weight", prefix);
    l->w = get(b, SS_DIMS(out, in), name);
    snprintf(name, sizeof name, "%s.bias", prefix);
    l->b = get(b, SS_DIMS(out), name);
}

static void bind_norm(binder *b, norm_t *nm, const char *prefix, int c)
{
    char name[176];
    snprintf(name, sizeof name, "%s.weight", prefix);
    nm->g = get(b, SS_DIMS(c), name);
    snprintf(name, sizeof name, "%s.bias", prefix);
    nm->b = get(b, SS_DIMS(c), name);
}

static void bind_attn(binder *b, attn_t *a, const char *prefix, int dim)
{
    char name[144];
    a->dim = dim;
    snprintf(name, sizeof name, "%s.q_proj", prefix); bind_lin(b, &a->q, name, dim, C);
    snprintf(name, sizeof name, "%s.k_proj", prefix); bind_lin(b, &a->k, name, dim, C);
    snprintf(name, sizeof name, "%s.v_proj", prefix); bind_lin(b, &a->v, name, dim, C);
    snprintf(name, sizeof name, "%s.out_proj", prefix); bind_lin(b, &a->o, name, C, dim);
}

/* SAM's PositionEmbeddingRandom on normalised coordinates (x, y) in [0, 1]:
 * [sin(2π·(2c−1)·G), cos(2π·(2c−1)·G)] → out (256,). */
static void pe_encode(const float *gauss, double x, double y, float *out)
{
    double cx = 2.0 * x - 1.0, cy = 2.0 * y - 1.0;
    for (int k = 0; k < 128; k++) {
        double a = 2.0 * M_PI * (cx * (double)gauss[k] + cy * (double)gauss[128 + k]);
        out[k] = (float)sin(a);
        out[128 + k] = (float)cos(a);
    }
}

ss_decoder_w *ss_decoder_bind(ss_weights *w, char *err, size_t errlen)
{
    ss_decoder_w *d = calloc(1, sizeof *d);
    if (!d) {
        if (err) snprintf(err, errlen, "%s: out of memory", __func__);
        return NULL;
    }
    binder b = {w, err, errlen, 0};
    char name[160];

    /* prompt encoder */
    d->gauss = get(&b, SS_DIMS(2, 128), "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "prompt_encoder.point_embeddings.%d.weight", i);
        d->point_emb[i] = get(&b, SS_DIMS(1, C), name);
    }
    d->not_a_point = get(&b, SS_DIMS(1, C), "prompt_encoder.not_a_point_embed.weight");
    d->no_mask = get(&b, SS_DIMS(1, C), "prompt_encoder.no_mask_embed.weight");
    d->md0_w = get(&b, SS_DIMS(4, 1, 2, 2), "prompt_encoder.mask_downscaling.0.weight");
    d->md0_b = get(&b, SS_DIMS(4), "prompt_encoder.mask_downscaling.0.bias");
    bind_norm(&b, &d->md1, "prompt_encoder.mask_downscaling.1", 4);
    d->md3_w = get(&b, SS_DIMS(16, 4, 2, 2), "prompt_encoder.mask_downscaling.3.weight");
    d->md3_b = get(&b, SS_DIMS(16), "prompt_encoder.mask_downscaling.3.bias");
    bind_norm(&b, &d->md4, "prompt_encoder.mask_downscaling.4", 16);
    d->md6.w = get(&b, SS_DIMS(C, 16, 1, 1), "prompt_encoder.mask_downscaling.6.weight");
    d->md6.b = get(&b, SS_DIMS(C), "prompt_encoder.mask_downscaling.6.bias");

    /* mask decoder */
    d->iou_token = get(&b, SS_DIMS(1, C), "mask_decoder.iou_token.weight");
    d->mask_tokens = get(&b, SS_DIMS(SS_N_TOKENS, C), "mask_decoder.mask_tokens.weight");
    for (int l = 0; l < 2; l++) {
        block_t *bk = &d->blk[l];
        char pre[64];
        snprintf(pre, sizeof pre, "mask_decoder.transformer.layers.%d", l);
        snprintf(name, sizeof name, "%s.self_attn", pre); bind_attn(&b, &bk->self_attn, name, C);
        snprintf(name, sizeof name, "%s.cross_attn_token_to_image", pre); bind_attn(&b, &bk->t2i, name, C / 2);
        snprintf(name, sizeof name, "%s.cross_attn_image_to_token", pre); bind_attn(&b, &bk->i2t, name, C / 2);
        snprintf(name, sizeof name, "%s.norm1", pre); bind_norm(&b, &bk->norm1, name, C);
        snprintf(name, sizeof name, "%s.norm2", pre); bind_norm(&b, &bk->norm2, name, C);
        snprintf(name, sizeof name, "%s.norm3", pre); bind_norm(&b, &bk->norm3, name, C);
        snprintf(name, sizeof name, "%s.norm4", pre); bind_norm(&b, &bk->norm4, name, C);
        snprintf(name, sizeof name, "%s.mlp.lin1", pre); bind_lin(&b, &bk->lin1, name, MLP_DIM, C);
        snprintf(name, sizeof name, "%s.mlp.lin2", pre); bind_lin(&b, &bk->lin2, name, C, MLP_DIM);
    }
    bind_attn(&b, &d->final_attn, "mask_decoder.transformer.final_attn_token_to_image", C / 2);
    bind_norm(&b, &d->norm_final, "mask_decoder.transformer.norm_final_attn", C);
    const float *up0_w = get(&b, SS_DIMS(C, UP1, 2, 2), "mask_decoder.output_upscaling.0.weight");
    const float *up0_b = get(&b, SS_DIMS(UP1), "mask_decoder.output_upscaling.0.bias");
    bind_norm(&b, &d->up1, "mask_decoder.output_upscaling.1", UP1);
    const float *up3_w = get(&b, SS_DIMS(UP1, UP2, 2, 2), "mask_decoder.output_upscaling.3.weight");
    const float *up3_b = get(&b, SS_DIMS(UP2), "mask_decoder.output_upscaling.3.bias");
    for (int t = 0; t < SS_N_TOKENS; t++)
        for (int l = 0; l < 3; l++) {
            snprintf(name, sizeof name, "mask_decoder.output_hypernetworks_mlps.%d.layers.%d", t, l);
            bind_lin(&b, &d->hyper[t][l], name, l == 2 ? UP2 : C, C);
        }
    for (int l = 0; l < 3; l++) {
        snprintf(name, sizeof name, "mask_decoder.iou_prediction_head.layers.%d", l);
        bind_lin(&b, &d->iou_head[l], name, l == 2 ? SS_N_TOKENS : C, C);
    }
    if (b.fail) {
        ss_decoder_free(d);
        return NULL;
    }

    /* derived tables: the ConvTransposes as packed linear layers, dense image PE */
    d->up0_wt = malloc(sizeof(float) * 4 * UP1 * C);
    d->up0_bt = malloc(sizeof(float) * 4 * UP1);
    d->up3_wt = malloc(sizeof(float) * 4 * UP2 * UP1);
    d->up3_bt = malloc(sizeof(float) * 4 * UP2);
    d->image_pe = malloc(sizeof(float) * NPOS * C);
    d->t2i0_kpe = malloc(sizeof(float) * NPOS * (C / 2));
    if (!d->up0_wt || !d->up0_bt || !d->up3_wt || !d->up3_bt || !d->image_pe || !d->t2i0_kpe) {
        if (err) snprintf(err, errlen, "%s: out of memory", __func__);
        ss_decoder_free(d);
        return NULL;
    }
    /* checkpoint layout (IN, OUT, 2, 2): W[c, o, k] */
    for (int k = 0; k < 4; k++) {
        for (int o = 0; o < UP1; o++) {
            d->up0_bt[k * UP1 + o] = up0_b[o];
            for (int c = 0; c < C; c++)
                d->up0_wt[(size_t)(k * UP1 + o) * C + c] = up0_w[((size_t)c * UP1 + o) * 4 + k];
        }
        for (int o = 0; o < UP2; o++) {
            d->up3_bt[k * UP2 + o] = up3_b[o];
            for (int c = 0; c < UP1; c++)
                d->up3_wt[(size_t)(k * UP2 + o) * UP1 + c] = up3_w[((size_t)c * UP2 + o) * 4 + k];
        }
    }
    if (ss_pack_w(&d->up0_p, d->up0_wt, 4 * UP1, C) || ss_pack_w(&d->up3_p, d->up3_wt, 4 * UP2, UP1)) {
        if (err) snprintf(err, errlen, "%s: out of memory", __func__);
        ss_decoder_free(d);
        return NULL;
    }
    for (int gy = 0; gy < SS_EMB_SIDE; gy++)
        for (int gx = 0; gx < SS_EMB_SIDE; gx++)
            pe_encode(d->gauss, (gx + 0.5) / SS_EMB_SIDE, (gy + 0.5) / SS_EMB_SIDE,
                      d->image_pe + ((size_t)gy * SS_EMB_SIDE + gx) * C);
    const lin_t *k0 = &d->blk[0].t2i.k;
    ss_linear(d->image_pe, NPOS, C, k0->w, k0->b, C / 2, d->t2i0_kpe);
    /* the mask input's rank-16 terms of block 0's image-side projections (double sums) */
    const lin_t *mk_l[3] = {&d->blk[0].t2i.k, &d->blk[0].t2i.v, &d->blk[0].i2t.q};
    const int D0 = d->blk[0].t2i.dim;
    if (d->blk[0].i2t.dim != D0 || !(d->mk_a = malloc(sizeof(float) * 3 * MK_R * D0)) ||
        !(d->mk_c = malloc(sizeof(float) * 3 * D0))) {
        if (err) snprintf(err, errlen, "%s: out of memory", __func__);
        ss_decoder_free(d);
        return NULL;
    }
    for (int j = 0; j < 3; j++)
        for (int o = 0; o < D0; o++) {
            const float *wr = mk_l[j]->w + (size_t)o * C;
            double cb = 0.0;
            for (int c = 0; c < C; c++) cb += (double)wr[c] * ((double)d->md6.b[c] - d->no_mask[c]);
            d->mk_c[j * D0 + o] = (float)cb;
            for (int i = 0; i < MK_R; i++) {
                double a = 0.0;
                for (int c = 0; c < C; c++) a += (double)wr[c] * d->md6.w[(size_t)c * MK_R + i];
                d->mk_a[((size_t)j * MK_R + i) * D0 + o] = (float)a;
            }
        }
    attn_t *big[5] = {&d->blk[0].t2i, &d->blk[0].i2t, &d->blk[1].t2i, &d->blk[1].i2t, &d->final_attn};
    for (int i = 0; i < 5; i++) {
        lin_t *l3[3] = {&big[i]->q, &big[i]->k, &big[i]->v};
        for (int j = 0; j < 3; j++)
            if (ss_pack_w(&l3[j]->p, l3[j]->w, big[i]->dim, C)) {
                if (err) snprintf(err, errlen, "decoder: out of memory (packed projections)");
                ss_decoder_free(d);
                return NULL;
            }
    }
    return d;
}

void ss_decoder_free(ss_decoder_w *d)
{
    if (!d) return;
    free(d->mk_a);
    free(d->mk_c);
    ss_packed_free(&d->up0_p);
    ss_packed_free(&d->up3_p);
    attn_t *big[5] = {&d->blk[0].t2i, &d->blk[0].i2t, &d->blk[1].t2i, &d->blk[1].i2t, &d->final_attn};
    for (int i = 0; i < 5; i++) {
        ss_packed_free(&big[i]->q.p);
        ss_packed_free(&big[i]->k.p);
        ss_packed_free(&big[i]->v.p);
    }
    free(d->up0_wt);
    free(d->up0_bt);
    free(d->up3_wt);
    free(d->up3_bt);
    free(d->image_pe);
    free(d->t2i0_kpe);
    free(d);
}

/* ---------------------------------------------------------------------------------------- */
/* scratch layout (floats)                                                                  */

enum {
    OFF_KEYS = 0,                              /* (4096, 256) image features */
    OFF_KP = OFF_KEYS + NPOS * C,              /* (4096, 256) keys + PE; later ConvT-1 output */
    OFF_XT = OFF_KP + NPOS * C,                /* (4096, 256) plugin x~; later (16384, 64) */
    OFF_XTP = OFF_XT + NPOS * C,               /* (4096, 256) x~ + PE */
    OFF_Q = OFF_XTP + NPOS * C,                /* (4096, 128) attention projections ... */
    OFF_K = OFF_Q + NPOS * C / 2,
    OFF_V = OFF_K + NPOS * C / 2,
    OFF_O = OFF_V + NPOS * C / 2,              /* ... Q..O contiguous: plugin scratch, ConvT-2 out */
    OFF_S = OFF_O + NPOS * C / 2,              /* S_FLOATS attention scores / misc */
    OFF_QUERIES = OFF_S + (int)S_FLOATS,       /* (T_MAX, 256) */
    OFF_QPE = OFF_QUERIES + T_MAX * C,         /* (T_MAX, 256) the prompt tokens = query PE */
    OFF_TMP = OFF_QPE + T_MAX * C,             /* (T_MAX, 256) */
    OFF_HID = OFF_TMP + T_MAX * C,             /* (MLP_CHUNK, 2048) */
    OFF_G = OFF_HID + MLP_CHUNK * MLP_DIM,     /* (4096, 16) a mask input's g (see mk_a) */
    OFF_END = OFF_G + NPOS * MK_R
};

size_t ss_decoder_scratch_floats(void) { return (size_t)OFF_END; }

/* per-image cache layout (floats), each (4096, 128) */
enum {
    CC_K = 0,                     /* SAM: block 0 t2i k_proj(keys + PE) */
    CC_V = CC_K + NPOS * C / 2,   /* SAM: block 0 t2i v_proj(keys) */
    CC_Q = CC_V + NPOS * C / 2,   /* SAM: block 0 i2t q_proj(keys + PE) */
    CC_KS = CC_Q + NPOS * C / 2,  /* Stable: W_k·x* (no bias), x* = block 0's DSP sample */
    CC_VS = CC_KS + NPOS * C / 2, /* Stable: W_v·x* (no bias) */
    CC_EMB = CC_VS + NPOS * C / 2, /* the embedding position-major (4096, 256): flag emb_t */
    CC_END = CC_EMB + NPOS * C
};

size_t ss_decoder_cache_floats(void) { return (size_t)CC_END; }

void ss_decoder_cache_reset(ss_decoder_cache *cache)
{
    cache->d = NULL;
    cache->plugin = NULL;
    cache->emb_t = 0;
    cache->last = SS_CACHE_OFF;
}

/* ---------------------------------------------------------------------------------------- */
/* attention                                                                                */

typedef struct {
    float *Q, *K, *V, *O; /* (4096, 128) each, or (T_MAX, 256) */
    float *S;             /* S_FLOATS */
} attn_scratch;

/* SAM Attention: out (nq, 256) = out_proj(softmax(q·kᵀ/√d_h)·v) over 8 heads, with
 * q = q_proj(q_in) (nq, 256), k = k_proj(k_in), v = v_proj(v_in) (nk, 256).
 * Qp / Kp / Vp (optional): the projection (rows, dim) already computed (incl. bias), used instead
 * of projecting q_in / k_in / v_in (then ignored).
 * residual = 1 adds the result to out. trace_w (nk,) (optional): head-averaged softmax row of
 * query 1. */
/* Attention with few tokens on one side, computed in a factored order that is the same
 * arithmetic up to rounding (DESIGN §4's attention is unchanged). With H heads of width dh, T
 * tokens and the 4096 image positions:
 *
 *  few queries (token-to-image, q = tokens): instead of projecting all 4096 keys and values
 *  (2 × 4096·256·D multiply-adds), fold the projections into the T queries:
 *    S_h = (Q_h·W_k,h)·k_inᵀ + Q_h·b_k,h            ((H·T)×256 · 256×4096)
 *    O_h = (P_h·v_in)·W_v,hᵀ + b_v,h                 (rows of P_h sum to 1)
 *  few keys (image-to-token, k = v = tokens): fold the query and output projections into the
 *  T keys and values:
 *    S_h = q_in·(K_h·W_q,h)ᵀ + b_q,h·K_hᵀ            (4096×256 · 256×(H·T))
 *    out = Σ_h P_h·(V_h·W_o,hᵀ) + b_o                (4096×(H·T) · (H·T)×256)
 *  Both cost H·T instead of D per image position. Few queries: used while H·T < D (T ≤ 15);
 *  more queries (up to 32) project K and V and run the heads per head, position-major.
 *  Few keys: folded while H·T <= 128, else the queries are projected and the keys made
 *  block-diagonal (one GEMM for all heads), up to 32 keys. The memory passes over the
 *  (4096, 256) maps cost as much as the arithmetic on these sizes, so the LayerNorm after the
 *  image-to-token attention and the whole one-token upscaling run as row epilogues of the
 *  GEMMs that make their inputs (ss_gemm_packed_epi). */
static int factored_ok(int t, int D) { return HEADS * t < D; }

/* The folding step of both: X (n, D) projected tokens, W = the other side's projection (D, C)
 * with bias b → out (H·n, C), row h·n + t = scale·X[t, head h]·W[head h rows], and
 * bias_out[h·n + t] = scale·X[t, head h]·b[head h]. */
static void fold_heads(const float *X, int n, int D, float scale, const lin_t *W, float *out,
                       float *bias_out)
{
    const int dh = D / HEADS;
    for (int h = 0; h < HEADS; h++)
        for (int t = 0; t < n; t++) {
            const float *xh = X + (size_t)t * D + h * dh;
            float *row = out + (size_t)(h * n + t) * C;
            for (int c = 0; c < C; c++) row[c] = 0.0f;
            float b = 0.0f;
            for (int j = 0; j < dh; j++) {
                const float x = xh[j] * scale, *w = W->w + (size_t)(h * dh + j) * C;
                for (int c = 0; c < C; c++) row[c] += x * w[c];
                b += x * W->b[h * dh + j];
            }
            bias_out[h * n + t] = b;
        }
}

/* y (n, out) = x (n, 256)·Wᵀ + b: the packed kernel for the image-side (4096-row) projections */
static void proj(const lin_t *l, const float *x, int n, int out, float *y)
{
    if (l->p.p && n >= 256)
        ss_gemm_packed(x, C, n, &l->p, l->b, y, out, 0);
    else
        ss_linear(x, n, C, l->w, l->b, out, y);
}

/* The scores of few queries against many keys are kept position-major, ST (nk, Rp) with Rp the
 * query rows padded to 16: one packed GEMM over the keys (the query side, small, packed per
 * call), a column softmax, and aᵀ·b for the values. The softmax normalisation 1/Σ is applied to
 * the few output rows instead of the nk·R probabilities. */

/* few queries: q_in (nq, C), k_in / v_in (nk, C) → out (nq, C) (+)= attention; trace_w (nk)
 * (optional): head-averaged softmax row of query 1. The key bias adds Q_h·b_k,h, the same to
 * every score of a row, which the softmax cancels: it is left out. */
static void attention_few_queries(const attn_t *a, const float *q_in, int nq, const float *k_in,
                                  const float *v_in, int nk, float *out, int residual,
                                  const attn_scratch *s, float *trace_w)
{
    const int D = a->dim, dh = D / HEADS, R = HEADS * nq;
    const float scale = 1.0f / sqrtf((float)dh);
    float *Q = s->Q, *Qk = s->K, *cb = s->K + (size_t)R * C, *pk = s->K + 65536;
    float *PX = s->V, *O = s->O, *ST = s->S;
    float inv[HEADS * T_MAX];
    ss_linear(q_in, nq, C, a->q.w, a->q.b, D, Q);
    fold_heads(Q, nq, D, scale, &a->k, Qk, cb);
    ss_packed_w pw;
    ss_pack_w_buf(&pw, Qk, C, R, C, pk);
    const int Rp = pw.out;
    ss_gemm_packed(k_in, C, nk, &pw, NULL, ST, Rp, 0);
    ss_softmax_cols_exp(ST, nk, Rp, Rp, 1.0f, inv, 1);
    if (trace_w) {
        memset(trace_w, 0, sizeof(float) * nk);
        if (nq > 1)
            for (int j = 0; j < nk; j++)
                for (int h = 0; h < HEADS; h++)
                    trace_w[j] += ST[(size_t)j * Rp + h * nq + 1] * inv[h * nq + 1] * (1.0f / HEADS);
    }
    ss_gemm_tn_few(ST, Rp, R, nk, v_in, C, C, PX, C, 1);
    for (int h = 0; h < HEADS; h++)
        for (int t = 0; t < nq; t++) {
            const float *px = PX + (size_t)(h * nq + t) * C;
            const float iv = inv[h * nq + t];
            for (int j = 0; j < dh; j++) {
                const float *wv = a->v.w + (size_t)(h * dh + j) * C;
                O[(size_t)t * D + h * dh + j] = a->v.b[h * dh + j] + iv * ss_dot(px, wv, C);
            }
        }
    linear_acc(O, nq, D, &a->o, C, out, residual);
}

/* Projected few queries: Q (nq, D), K / V (nk, D) already projected → O (nq, D), the heads'
 * softmax(Q_h·K_hᵀ/√dh)·V_h side by side (before out_proj). nq <= 32; the heads run in
 * parallel, each in its own (nk, 32) part of S and 512 floats of pk. */
static void attention_proj_few_queries(const float *Q, int nq, const float *K, const float *V, int nk, int D,
                                       float *O, float *S, float *pk)
{
    const int dh = D / HEADS, qp = (nq + 15) / 16 * 16;
    const float scale = 1.0f / sqrtf((float)dh);
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int h = 0; h < HEADS; h++) {
        float *Sh = S + (size_t)h * nk * 32, *ph = pk + (size_t)h * 512, inv[32];
        ss_packed_w pw;
        ss_pack_w_buf(&pw, Q + h * dh, D, nq, dh, ph);
        ss_gemm_packed_seq(K + h * dh, D, nk, &pw, NULL, Sh, qp, 0);
        ss_softmax_cols_exp(Sh, nk, qp, qp, scale, inv, 0);
        ss_gemm_tn_few(Sh, qp, nq, nk, V + h * dh, D, dh, O + h * dh, D, 0);
        for (int t = 0; t < nq; t++)
            for (int j = 0; j < dh; j++) O[(size_t)t * D + h * dh + j] *= inv[t];
    }
}

/* LayerNorm of the rows just made, in place, and kp = those rows + PE (a row epilogue) */
typedef struct {
    const norm_t *nm;
    const float *pe;
    float *kp;
} ln_epi_t;

static void ln_pe_epi(float *rows, int nrows, int ldy, int row0, void *ud)
{
    const ln_epi_t *e = ud;
    for (int r = 0; r < nrows; r++) /* row by row: the rows are ldy apart, PE and kp C apart */
        ss_layernorm_add_seq(rows + (size_t)r * ldy, rows + (size_t)r * ldy, 1, C, e->nm->g, e->nm->b, 1e-5f,
                             e->pe + (size_t)(row0 + r) * C, e->kp + (size_t)(row0 + r) * C);
}

/* few keys (nk <= 32): queries = q_in (nq, C) projected, or Qp (nq, D) already projected; k_in /
 * v_in (nk, C) → out (nq, C) (+)= attention. P (nq, Rp) = the scores, one packed GEMM against the
 * folded (q_in, H·nk <= 128) or block-diagonal (Qp, or q_in projected first) keys;
 * out = P·(V_h·W_o,hᵀ) + b_o, one packed GEMM. P lives in S (nq·Rp <= 4096·256). */
static void attention_few_keys(const attn_t *a, const float *q_in, const float *Qp, int nq,
                               const float *k_in, const float *v_in, int nk, float *out, int residual,
                               const attn_scratch *s, const ln_epi_t *le)
{
    const int D = a->dim, dh = D / HEADS, R = HEADS * nk;
    const float scale = 1.0f / sqrtf((float)dh);
    float *K = s->K, *V = s->V, *Kq = s->K + (size_t)nk * D, *kb = Kq + (size_t)R * C;
    float *kpk = kb + 256, *VWt = s->V + (size_t)nk * D, *vpk = VWt + (size_t)C * R, *P = s->S;
    ss_linear(k_in, nk, C, a->k.w, a->k.b, D, K);
    ss_linear(v_in, nk, C, a->v.w, a->v.b, D, V);
    ss_packed_w pw;
    if (!Qp && R > 128) {
        /* folding would cost more than projecting the queries (H·nk > 128 columns) */
        proj(&a->q, q_in, nq, D, s->Q);
        Qp = s->Q;
    }
    if (Qp) {
        /* block-diagonal keys: row h·nk + t = scale·K[t, head h] in head h's columns */
        float *Kb = Kq;
        memset(Kb, 0, sizeof(float) * (size_t)R * D);
        for (int h = 0; h < HEADS; h++)
            for (int t = 0; t < nk; t++)
                for (int j = 0; j < dh; j++)
                    Kb[(size_t)(h * nk + t) * D + h * dh + j] = scale * K[(size_t)t * D + h * dh + j];
        ss_pack_w_buf(&pw, Kb, D, R, D, kpk);
        ss_gemm_packed(Qp, D, nq, &pw, NULL, P, pw.out, 0);
    } else {
        fold_heads(K, nk, D, scale, &a->q, Kq, kb);
        ss_pack_w_buf(&pw, Kq, C, R, C, kpk);
        for (int r = R; r < pw.out; r++) kb[r] = 0.0f;
        ss_gemm_packed(q_in, C, nq, &pw, kb, P, pw.out, 0);
    }
    const int Rp = pw.out;
    /* softmax over the nk keys of each (query, head). The exponentials run over the whole row of
     * R = HEADS·nk scores (vectorises; nk is small). */
#pragma omp parallel for schedule(static) num_threads(ss_get_threads()) if (nq >= 256)
    for (int i = 0; i < nq; i++) {
        float *restrict pr = P + (size_t)i * Rp;
        float mx[HEADS], inv[HEADS];
        for (int h = 0; h < HEADS; h++) {
            const float *x = pr + h * nk;
            float m = x[0];
            for (int t = 1; t < nk; t++) m = x[t] > m ? x[t] : m;
            mx[h] = m;
        }
        for (int h = 0; h < HEADS; h++)
            for (int t = 0; t < nk; t++) pr[h * nk + t] -= mx[h];
#pragma omp simd
        for (int r = 0; r < R; r++) pr[r] = ss_expf_approx(pr[r]);
        for (int h = 0; h < HEADS; h++) {
            float sum = 0.0f;
            for (int t = 0; t < nk; t++) sum += pr[h * nk + t];
            inv[h] = 1.0f / sum;
        }
        for (int h = 0; h < HEADS; h++)
            for (int t = 0; t < nk; t++) pr[h * nk + t] *= inv[h];
    }
    /* VWt[c, h·nk + t] = Σ_j W_o[c, h·dh + j]·V[t, h·dh + j] */
    for (int c = 0; c < C; c++) {
        const float *wo = a->o.w + (size_t)c * D;
        float *row = VWt + (size_t)c * R;
        for (int h = 0; h < HEADS; h++)
            for (int t = 0; t < nk; t++) {
                const float *v = V + (size_t)t * D + h * dh;
                float acc = 0.0f;
                for (int j = 0; j < dh; j++) acc += wo[h * dh + j] * v[j];
                row[h * nk + t] = acc;
            }
    }
    ss_packed_w pv;
    ss_pack_w_buf(&pv, VWt, R, C, R, vpk);
    if (le)
        ss_gemm_packed_epi(P, Rp, nq, &pv, a->o.b, out, C, residual ? SS_GEMM_ACC : 0, NULL, ln_pe_epi,
                           (void *)le);
    else
        ss_gemm_packed(P, Rp, nq, &pv, a->o.b, out, C, residual ? SS_GEMM_ACC : 0);
}

/* Returns 1 when le (optional: LayerNorm + PE of the output rows) was applied, else 0 (the
 * caller applies it). */
static int attention_pre(const attn_t *a, const float *q_in, int nq, const float *k_in, const float *v_in,
                         int nk, const float *Qp, const float *Kp, const float *Vp, float *out, int residual,
                         const attn_scratch *s, float *trace_w, const ln_epi_t *le)
{
    const int D = a->dim, dh = D / HEADS;
    if (!Kp && !Vp && nk < nq && nk <= 32 && nq >= 256) {
        attention_few_keys(a, q_in, Qp, nq, k_in, v_in, nk, out, residual, s, le);
        return le != NULL;
    }
    if (!Qp && !Kp && !Vp && nq < nk && factored_ok(nq, D) && nk >= 256) {
        attention_few_queries(a, q_in, nq, k_in, v_in, nk, out, residual, s, trace_w);
        return 0;
    }
    const float *Q = Qp ? Qp : s->Q, *K = Kp ? Kp : s->K, *V = Vp ? Vp : s->V;
    if (!Qp) proj(&a->q, q_in, nq, D, s->Q);
    if (!Kp) proj(&a->k, k_in, nk, D, s->K);
    if (!Vp) proj(&a->v, v_in, nk, D, s->V);
    const float scale = 1.0f / sqrtf((float)dh);
    if (!trace_w && nq <= 32 && nk >= 256 && (size_t)HEADS * nk * 32 <= S_FLOATS) {
        /* few queries, projected: per-head position-major scores; Q·Kᵀ per head costs nk·16·nq
         * and the 512 floats per head of packed queries sit past the projected Q */
        attention_proj_few_queries(Q, nq, K, V, nk, D, s->O, s->S, s->Q + (size_t)T_MAX * D);
        linear_acc(s->O, nq, D, &a->o, C, out, residual);
        return 0;
    }
    int chunk = (int)(S_FLOATS / (size_t)nk);
    if (chunk > nq) chunk = nq;
    if (trace_w) memset(trace_w, 0, sizeof(float) * nk);
    if (!trace_w && (size_t)HEADS * nq * nk <= S_FLOATS && ss_get_threads() > 1) {
        /* all heads' scores fit at once: the heads run in parallel, each in its own part of S */
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
        for (int h = 0; h < HEADS; h++) {
            float *Sh = s->S + (size_t)h * nq * nk;
            ss_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, dh, scale, Q + h * dh, D,
                     K + h * dh, D, 0.0f, Sh, nk);
            softmax_rows_fast(Sh, nq, nk);
            ss_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, dh, nk, 1.0f, Sh, nk, V + h * dh,
                     D, 0.0f, s->O + h * dh, D);
        }
        linear_acc(s->O, nq, D, &a->o, C, out, residual);
        return 0;
    }
    for (int h = 0; h < HEADS; h++)
        for (int r0 = 0; r0 < nq; r0 += chunk) {
            int rows = nq - r0 < chunk ? nq - r0 : chunk;
            ss_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nk, dh, scale,
                        Q + (size_t)r0 * D + h * dh, D, K + h * dh, D, 0.0f, s->S, nk);
            softmax_rows_fast(s->S, rows, nk);
            if (trace_w && r0 <= 1 && 1 < r0 + rows) {
                const float *row = s->S + (size_t)(1 - r0) * nk;
                for (int j = 0; j < nk; j++) trace_w[j] += row[j] * (1.0f / HEADS);
            }
            ss_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, dh, nk, 1.0f, s->S, nk,
                        V + h * dh, D, 0.0f, s->O + (size_t)r0 * D + h * dh, D);
        }
    linear_acc(s->O, nq, D, &a->o, C, out, residual);
    return 0;
}

static void attention(const attn_t *a, const float *q_in, int nq, const float *k_in, const float *v_in,
                      int nk, float *out, int residual, const attn_scratch *s, float *trace_w)
{
    attention_pre(a, q_in, nq, k_in, v_in, nk, NULL, NULL, NULL, out, residual, s, trace_w, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* prompt encoder                                                                           */

static void embed_point(const ss_decoder_w *d, double x1024, double y1024, int label, float *out)
{
    if (label == -1) {
        memcpy(out, d->not_a_point, sizeof(float) * C);
        return;
    }
    pe_encode(d->gauss, (x1024 + 0.5) / SS_IMG_SIZE, (y1024 + 0.5) / SS_IMG_SIZE, out);
    for (int j = 0; j < C; j++) out[j] += d->point_emb[label][j];
}

/* mask_downscaling of a (256, 256) logit map → dense (4096, 256) added into keys; g (4096, 16)
 * receives the last GELU's output (dense = W6·g + b6). */
static void embed_mask(const ss_decoder_w *d, const float *mask, float *keys, float *tmp, float *g)
{
    float *h1 = tmp;                  /* (128*128, 4) */
    float *h2 = g;                    /* (4096, 16) */
    for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++) {
            float *o = h1 + ((size_t)y * 128 + x) * 4;
            const float *m0 = mask + (size_t)(2 * y) * SS_LOWRES_SIDE + 2 * x;
            const float *m1 = m0 + SS_LOWRES_SIDE;
            for (int c = 0; c < 4; c++) {
                const float *wc = d->md0_w + c * 4;
                o[c] = d->md0_b[c] + wc[0] * m0[0] + wc[1] * m0[1] + wc[2] * m1[0] + wc[3] * m1[1];
            }
        }
    layernorm_strided(h1, 128 * 128, 4, 4, 1, &d->md1, 1e-6f, 1);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            float *o = h2 + ((size_t)y * 64 + x) * 16;
            for (int c = 0; c < 16; c++) {
                float acc = d->md3_b[c];
                for (int ci = 0; ci < 4; ci++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            acc += d->md3_w[((c * 4 + ci) * 2 + dy) * 2 + dx] *
                                   h1[((size_t)(2 * y + dy) * 128 + 2 * x + dx) * 4 + ci];
                o[c] = acc;
            }
        }
    layernorm_strided(h2, NPOS, 16, 16, 1, &d->md4, 1e-6f, 1);
    linear_acc(h2, NPOS, 16, &d->md6, C, keys, 1);
}

/* keys = embedding (position-major) + the no-mask embedding at every position */
static void add_nomask(const ss_decoder_w *d, const float *embt, float *keys)
{
    const float *restrict nm = d->no_mask;
    for (int p = 0; p < NPOS; p++) {
        const float *er = embt + (size_t)p * C;
        float *kr = keys + (size_t)p * C;
        for (int j = 0; j < C; j++) kr[j] = er[j] + nm[j];
    }
}

/* out (4096, D) = base + g·A + c: the cached block-0 projection `which` (MK_K, MK_V, MK_Q) moved to
 * a mask input's keys (A (16, D) = mk_a[which], c (D) = mk_c[which], g (4096, 16)) */
static void lowrank_add(const ss_decoder_w *d, int which, const float *base, const float *g, float *out)
{
    const int D = d->blk[0].t2i.dim; /* = i2t.dim (checked at bind) */
    const float *A = d->mk_a + (size_t)which * MK_R * D, *cv = d->mk_c + (size_t)which * D;
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int p = 0; p < NPOS; p++) {
        const float *restrict b = base + (size_t)p * D, *restrict gp = g + (size_t)p * MK_R;
        float *restrict o = out + (size_t)p * D;
#pragma omp simd
        for (int j = 0; j < D; j++) o[j] = b[j] + cv[j];
        for (int i = 0; i < MK_R; i++) {
            const float gi = gp[i], *restrict a = A + (size_t)i * D;
#pragma omp simd
            for (int j = 0; j < D; j++) o[j] += gi * a[j];
        }
    }
}

/* (256, 64, 64) channel-first → (4096, 256) position-major */
static void transpose_emb(const float *emb, float *keys)
{
    for (int c0 = 0; c0 < C; c0 += 32)
        for (int p0 = 0; p0 < NPOS; p0 += 32)
            for (int c = c0; c < c0 + 32; c++)
                for (int p = p0; p < p0 + 32; p++) keys[(size_t)p * C + c] = emb[(size_t)c * NPOS + p];
}

/* ---------------------------------------------------------------------------------------- */
/* forward                                                                                  */

static int aborted(ss_abort_cb cb, void *ud) { return cb && cb(ud); }

/* The output upscaling of one mask token as the epilogue of the first ConvTranspose (rows =
 * (≤ 12 positions p of the 64² grid, 4·64) with its bias): LayerNorm2d + GELU per sub-pixel k,
 * the second ConvTranspose + GELU reduced against the token's hypernetwork vector, written to
 * that token's (256, 256) logits. Nothing of the (128², 64) or (256², 32) maps is stored. */
/* output_upscaling.1-2 for one position and sub-pixel: LayerNorm2d over the 64 channels of v
 * (eps 1e-6), then GELU → out (64) */
static void up_ln_gelu(const ss_decoder_w *d, const float *restrict v, float *restrict out)
{
    const float *restrict g1 = d->up1.g, *restrict b1 = d->up1.b;
    const float mean = ss_sum(v, UP1) * (1.0f / UP1);
    const float inv = 1.0f / sqrtf(ss_sumsq_dev(v, mean, UP1) * (1.0f / UP1) + 1e-6f);
#pragma omp simd
    for (int c = 0; c < UP1; c++) out[c] = ss_gelu_approx((v[c] - mean) * inv * g1[c] + b1[c]);
}

/* the 4 logits s4 of position (Y, X) of the 128² grid (sub-pixels k = dy·2 + dx) into the
 * (256, 256) map */
static void put_2x2(float *dst, int Y, int X, const float *s4)
{
    float *o = dst + (size_t)(2 * Y) * SS_LOWRES_SIDE + 2 * X;
    o[0] = s4[0];
    o[1] = s4[1];
    o[SS_LOWRES_SIDE] = s4[2];
    o[SS_LOWRES_SIDE + 1] = s4[3];
}

typedef struct {
    const ss_decoder_w *d;
    const float *hk; /* (4·32) the token's hypernetwork vector, once per sub-pixel panel */
    float *dst;      /* (256, 256) */
} up_epi_t;

static void upscale_token_epi(float *rows, int nrows, int ldy, int row0, void *ud)
{
    const up_epi_t *e = ud;
    const ss_decoder_w *d = e->d;
    if (nrows <= 0 || nrows > 12) return;
    float a2[12 * 4 * UP1], mo[12 * 4 * 4], tmp[12 * 4 * 4 * UP2];
    for (int r = 0; r < nrows; r++)
        for (int k = 0; k < 4; k++) up_ln_gelu(d, rows + (size_t)r * ldy + k * UP1, a2 + (r * 4 + k) * UP1);
    ss_gemm_packed_dot_seq(a2, UP1, nrows * 4, &d->up3_p, d->up3_bt, e->hk, mo, SS_GEMM_GELU, tmp);
    for (int r = 0; r < nrows; r++) {
        const int p = row0 + r, y = p / SS_EMB_SIDE, x = p % SS_EMB_SIDE;
        for (int k = 0; k < 4; k++) put_2x2(e->dst, 2 * y + k / 2, 2 * x + k % 2, mo + (r * 4 + k) * 4);
    }
}

int ss_decoder_forward(const ss_decoder_w *d, const ss_plugin_w *plugin, ss_mode mode,
                       const float *emb, int img_w, int img_h, const ss_prompt *prompt,
                       float *low_res_all, float iou_all[4], float alpha[2][2], ss_trace *trace,
                       float *scratch, ss_decoder_cache *cache, ss_abort_cb abort_cb, void *abort_ud)
{
    return ss_decoder_forward_token(d, plugin, mode, emb, img_w, img_h, prompt, SS_DEC_ALL_TOKENS, low_res_all,
                                    iou_all, alpha, trace, scratch, cache, abort_cb, abort_ud, NULL);
}

int ss_decoder_forward_token(const ss_decoder_w *d, const ss_plugin_w *plugin, ss_mode mode,
                             const float *emb, int img_w, int img_h, const ss_prompt *prompt, int token,
                             float *low_res_all, float iou_all[4], float alpha[2][2], ss_trace *trace,
                             float *scratch, ss_decoder_cache *cache, ss_abort_cb abort_cb, void *abort_ud,
                             int *token_out)
{
    if (token < SS_DEC_BEST_OF_1_3 || token >= SS_N_TOKENS) return SS_ERR_INPUT;
    if (!d || !emb || !prompt || !low_res_all || !iou_all || !scratch) return SS_ERR_INPUT;
    if (mode == SS_MODE_STABLE && !plugin) return SS_ERR_STATE;
    /* the plugin works in the attention projection buffers Q..O */
    _Static_assert(OFF_S - OFF_Q >= SS_PLUGIN_SCRATCH_FLOATS, "plugin scratch does not fit");
    if (prompt->n_points < 0 || prompt->n_points > SS_MAX_POINTS || img_w <= 0 || img_h <= 0)
        return SS_ERR_INPUT;
    if (prompt->n_points > 0 && !prompt->points) return SS_ERR_INPUT;
    const int stable = mode == SS_MODE_STABLE;
    const int n_sparse = prompt->n_points + (prompt->has_box ? 2 : 1);
    const int T = 5 + n_sparse;

    float *keys = scratch + OFF_KEYS, *kp = scratch + OFF_KP;
    float *xt = scratch + OFF_XT, *xtp = scratch + OFF_XTP;
    float *queries = scratch + OFF_QUERIES, *qpe = scratch + OFF_QPE, *tmp = scratch + OFF_TMP;
    float *hid = scratch + OFF_HID;
    attn_scratch as = {scratch + OFF_Q, scratch + OFF_K, scratch + OFF_V, scratch + OFF_O, scratch + OFF_S};

    for (int b = 0; b < 2; b++) {
        alpha[b][0] = 0.0f;
        alpha[b][1] = 1.0f;
    }
    if (trace) {
        trace->mode = (int)mode;
        for (int i = 0; i < NPOS; i++) {
            trace->pos[i][0] = (float)(i % SS_EMB_SIDE);
            trace->pos[i][1] = (float)(i / SS_EMB_SIDE);
        }
    }

    /* prompt encoder: sparse tokens. Coordinates original px → 1024 frame as SAM's
     * ResizeLongestSide.apply_coords; clicks, then box corners (labels 2, 3), else padding. */
    int nw, nh;
    ss_target_size(img_w, img_h, &nw, &nh);
    const double sx = (double)nw / img_w, sy = (double)nh / img_h;
    memcpy(qpe, d->iou_token, sizeof(float) * C);
    memcpy(qpe + C, d->mask_tokens, sizeof(float) * SS_N_TOKENS * C);
    float *sp = qpe + 5 * C;
    for (int i = 0; i < prompt->n_points; i++, sp += C) {
        const ss_point *pt = &prompt->points[i];
        if (pt->label != 0 && pt->label != 1) return SS_ERR_INPUT;
        embed_point(d, pt->x * sx, pt->y * sy, pt->label, sp);
    }
    if (prompt->has_box) {
        embed_point(d, prompt->box[0] * sx, prompt->box[1] * sy, 2, sp);
        embed_point(d, prompt->box[2] * sx, prompt->box[3] * sy, 3, sp + C);
    } else {
        embed_point(d, 0.0, 0.0, -1, sp);
    }
    memcpy(queries, qpe, sizeof(float) * T * C);

    /* prompt encoder: dense embedding; src = image embedding + dense. The position-major
     * embedding is kept in the per-image cache (with or without a mask input). */
    const float *embt = NULL;
    if (cache && cache->buf) {
        if (!cache->emb_t) {
            transpose_emb(emb, cache->buf + CC_EMB);
            cache->emb_t = 1;
        }
        embt = cache->buf + CC_EMB;
    } else {
        transpose_emb(emb, keys);
        embt = keys;
    }
    /* mask decoder, block 0, image side: without a mask input the keys depend only on the image,
     * so the token-to-image keys / values and the image-to-token queries (and, Stable mode, the
     * DSP sample's projections) come from the per-image cache, computed on its first use. With a
     * mask input the SAM part is the cache plus a rank-16 term (see mk_a); the Stable part (the
     * DSP sample moves with the keys) is computed. */
    const int use_cache = cache && cache->buf;
    const int cached = use_cache && !prompt->mask_input;
    const int lowrank = use_cache && prompt->mask_input;
    float *gm = scratch + OFF_G;
    if (cache) cache->last = SS_CACHE_OFF;
    int filled = 0, keys_nomask = 0;
    if (use_cache && cache->d != d) {
        const block_t *b0 = &d->blk[0];
        const int D0 = b0->t2i.dim;
        float *cb = cache->buf;
        add_nomask(d, embt, keys);
        keys_nomask = 1;
        add_to(kp, keys, d->image_pe, (size_t)NPOS * C);
        proj(&b0->t2i.k, kp, NPOS, D0, cb + CC_K);
        proj(&b0->t2i.v, keys, NPOS, D0, cb + CC_V);
        proj(&b0->i2t.q, kp, NPOS, b0->i2t.dim, cb + CC_Q);
        cache->d = d;
        cache->plugin = NULL;
        filled = 1;
    }
    if (prompt->mask_input) {
        if (embt != keys) memcpy(keys, embt, sizeof(float) * NPOS * C);
        embed_mask(d, prompt->mask_input, keys, as.S, gm);
    } else if (!keys_nomask) {
        add_nomask(d, embt, keys);
    }
    if (cached && stable && cache->plugin != plugin) {
        /* x* = block 0's DSP sample of the keys (prompt-independent; α is not) */
        const block_t *b0 = &d->blk[0];
        const int D0 = b0->t2i.dim;
        ss_plugin_sample(plugin, 0, keys, xt, NULL, as.Q);
        ss_linear(xt, NPOS, C, b0->t2i.k.w, NULL, D0, cache->buf + CC_KS);
        ss_linear(xt, NPOS, C, b0->t2i.v.w, NULL, D0, cache->buf + CC_VS);
        cache->plugin = plugin;
        filled = 1;
    }
    if (use_cache) cache->last = filled ? SS_CACHE_FILLED : SS_CACHE_HIT;
    if (aborted(abort_cb, abort_ud)) return SS_ERR_ABORTED;

    /* mask decoder: two-way transformer, 2 blocks */
    for (int l = 0; l < 2; l++) {
        const block_t *bk = &d->blk[l];
        /* (1) self-attention of the tokens; block 0 skips the query PE and the residual */
        if (l == 0) {
            attention(&bk->self_attn, queries, T, queries, queries, T, queries, 0, &as, NULL);
        } else {
            add_to(tmp, queries, qpe, (size_t)T * C);
            attention(&bk->self_attn, tmp, T, tmp, queries, T, queries, 1, &as, NULL);
        }
        layernorm_rows(queries, T, &bk->norm1);

        /* (2) token-to-image attention; Stable mode: keys/values from the plugin's x~ */
        const int from_cache = l == 0 && (cached || (lowrank && !stable));
        if (from_cache) {
            /* block 0: K, V of the cache; Stable mode: x~ = α₁·x* + α₂·x, so
             * k_proj(x~ + PE) = α₁·W_k·x* + α₂·K_sam + (1 − α₂)·(W_k·PE + b_k) and
             * v_proj(x~) = α₁·W_v·x* + α₂·V_sam + (1 − α₂)·b_v */
            const float *Kp = cache->buf + CC_K, *Vp = cache->buf + CC_V;
            if (lowrank) {
                lowrank_add(d, MK_K, Kp, gm, as.K);
                lowrank_add(d, MK_V, Vp, gm, as.V);
                Kp = as.K;
                Vp = as.V;
            } else if (stable) {
                ss_plugin_alpha(plugin, 0, queries + C, alpha[0]);
                const int D0 = bk->t2i.dim;
                const float a1 = alpha[0][0], a2 = alpha[0][1], r2 = 1.0f - a2;
                const float *restrict ks = cache->buf + CC_KS, *restrict k0 = cache->buf + CC_K;
                const float *restrict vs = cache->buf + CC_VS, *restrict v0 = cache->buf + CC_V;
                const float *restrict kpe = d->t2i0_kpe, *restrict bv = bk->t2i.v.b;
                float *restrict K = as.K, *restrict V = as.V;
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
                for (int i = 0; i < NPOS; i++)
                    for (int c = 0; c < D0; c++) {
                        size_t j = (size_t)i * D0 + c;
                        K[j] = a1 * ks[j] + a2 * k0[j] + r2 * kpe[j];
                        V[j] = a1 * vs[j] + a2 * v0[j] + r2 * bv[c];
                    }
                Kp = as.K;
                Vp = as.V;
            }
            add_to(tmp, queries, qpe, (size_t)T * C);
            attention_pre(&bk->t2i, tmp, T, NULL, NULL, NPOS, NULL, Kp, Vp, queries, 1, &as, NULL, NULL);
        } else {
            /* kp = keys + PE: block 0 here (unless only the i2t queries would read it and they
             * come from the cache), block 1 from block 0's last LayerNorm */
            if (l == 0 && !(lowrank && stable)) add_to(kp, keys, d->image_pe, (size_t)NPOS * C);
            const float *kin = kp, *vin = keys;
            if (stable) {
                ss_plugin_apply(plugin, l, keys, queries + C, d->image_pe, xt, xtp, alpha[l],
                                (trace && l == 1) ? &trace->pos[0][0] : NULL, as.Q);
                kin = xtp;
                vin = xt;
            }
            add_to(tmp, queries, qpe, (size_t)T * C);
            attention(&bk->t2i, tmp, T, kin, vin, NPOS, queries, 1, &as,
                      (trace && l == 1) ? trace->weight : NULL);
        }
        layernorm_rows(queries, T, &bk->norm2);

        if (aborted(abort_cb, abort_ud)) return SS_ERR_ABORTED;
        /* (3) MLP on the tokens (ReLU), residual */
        for (int r0 = 0; r0 < T; r0 += MLP_CHUNK) {
            int rows = T - r0 < MLP_CHUNK ? T - r0 : MLP_CHUNK;
            ss_linear(queries + (size_t)r0 * C, rows, C, bk->lin1.w, bk->lin1.b, MLP_DIM, hid);
            ss_relu(hid, (size_t)rows * MLP_DIM);
            linear_acc(hid, rows, MLP_DIM, &bk->lin2, C, queries + (size_t)r0 * C, 1);
        }
        layernorm_rows(queries, T, &bk->norm3);

        /* (4) image-to-token attention: q = keys + PE, k = tokens + PE, v = tokens */
        /* then LayerNorm, and kp = keys + PE for block 1 (its image-to-token queries; SAM mode:
         * its token-to-image keys) and the final attention: in the attention's output GEMM
         * while the rows are in L1 (each block of rows reads only its own rows of kp first),
         * else in one pass after */
        add_to(tmp, queries, qpe, (size_t)T * C);
        const ln_epi_t le = {&bk->norm4, d->image_pe, kp};
        int done;
        const float *Qc = NULL;
        if (l == 0 && cached) {
            Qc = cache->buf + CC_Q;
        } else if (l == 0 && lowrank) {
            lowrank_add(d, MK_Q, cache->buf + CC_Q, gm, as.Q);
            Qc = as.Q;
        }
        if (Qc)
            done = attention_pre(&bk->i2t, NULL, NPOS, tmp, queries, T, Qc, NULL, NULL, keys, 1, &as, NULL, &le);
        else
            done = attention_pre(&bk->i2t, kp, NPOS, tmp, queries, T, NULL, NULL, NULL, keys, 1, &as, NULL, &le);
        if (!done) ss_layernorm_add(keys, keys, NPOS, C, bk->norm4.g, bk->norm4.b, 1e-5f, d->image_pe, kp);
        if (aborted(abort_cb, abort_ud)) return SS_ERR_ABORTED;
    }
    /* final token-to-image attention (never touched by the plugin). Only the IoU and mask
     * tokens (rows 0..4) are read after it, and each query row's output depends on that row
     * alone, so the prompt tokens' rows are not computed. */
    add_to(tmp, queries, qpe, (size_t)5 * C);
    attention(&d->final_attn, tmp, 5, kp, keys, NPOS, queries, 1, &as, NULL);
    layernorm_rows(queries, 5, &d->norm_final);

    if (aborted(abort_cb, abort_ud)) return SS_ERR_ABORTED;
    /* IoU head on token 0, hypernetwork MLPs on mask tokens 1..4 → hyper (4, 32) */
    float *h_a = as.S, *h_b = as.S + C, *hyper = as.S + 2 * C; /* (256), (256), (4, 32) */
    for (int i = 0; i < 3; i++) {
        const float *in = i == 0 ? queries : (i == 1 ? h_a : h_b);
        float *out = i == 0 ? h_a : (i == 1 ? h_b : iou_all);
        ss_linear(in, 1, C, d->iou_head[i].w, d->iou_head[i].b, i == 2 ? SS_N_TOKENS : C, out);
        if (i < 2) ss_relu(out, C);
    }
    for (int t = 0; t < SS_N_TOKENS; t++) {
        ss_linear(queries + (size_t)(1 + t) * C, 1, C, d->hyper[t][0].w, d->hyper[t][0].b, C, h_a);
        ss_relu(h_a, C);
        ss_linear(h_a, 1, C, d->hyper[t][1].w, d->hyper[t][1].b, C, h_b);
        ss_relu(h_b, C);
        ss_linear(h_b, 1, C, d->hyper[t][2].w, d->hyper[t][2].b, UP2, hyper + t * UP2);
    }
    float hyp[SS_N_TOKENS * UP2];
    memcpy(hyp, hyper, sizeof hyp);
    if (token == SS_DEC_BEST_OF_1_3) {
        token = 1;
        for (int t = 2; t < SS_N_TOKENS; t++)
            if (iou_all[t] > iou_all[token]) token = t;
    }
    if (token_out) *token_out = token;
    if (aborted(abort_cb, abort_ud)) return SS_ERR_ABORTED;

    /* output upscaling. ConvTranspose 2x2 s2 256→64 as a linear layer (+ bias):
     * c1[p, k*64 + o] = Σ_c keys[p, c]·W[c, o, k] + b[o] */
    float *c1 = kp;                       /* (4096, 256) */
    float *a2 = xt;                       /* (128*128, 64) */
    float *c2 = as.Q;                     /* (128*128, 4*32) = (65536, 32) */
    float *mo = as.S;                     /* (4, 65536) */
    if (token >= 0) {
        /* one token: the whole upscaling fused into the first ConvTranspose's GEMM (above) */
        float hk[4 * UP2];
        for (int k = 0; k < 4; k++) memcpy(hk + k * UP2, hyp + token * UP2, sizeof(float) * UP2);
        const up_epi_t ue = {d, hk, low_res_all + (size_t)token * SS_LOWRES_SIDE * SS_LOWRES_SIDE};
        ss_gemm_packed_epi(keys, C, NPOS, &d->up0_p, d->up0_bt, NULL, 0, SS_GEMM_TILE, NULL, upscale_token_epi,
                           (void *)&ue);
        if (trace) memcpy(trace->alpha, alpha, sizeof trace->alpha);
        return SS_OK;
    }
    ss_gemm_packed(keys, C, NPOS, &d->up0_p, d->up0_bt, c1, 4 * UP1, 0);
    /* LayerNorm2d over the 64 channels, GELU, scattered to the 128² grid */
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int p = 0; p < NPOS; p++) {
        int y = p / SS_EMB_SIDE, x = p % SS_EMB_SIDE;
        for (int k = 0; k < 4; k++)
            up_ln_gelu(d, c1 + (size_t)p * UP1 * 4 + k * UP1,
                       a2 + ((size_t)(2 * y + k / 2) * 128 + 2 * x + k % 2) * UP1);
    }
    if (aborted(abort_cb, abort_ud)) return SS_ERR_ABORTED;
    /* ConvTranspose 2x2 s2 64→32 + bias + GELU, one fused GEMM: c2[P, k*32 + o] */
    ss_gemm_packed(a2, UP1, 128 * 128, &d->up3_p, d->up3_bt, c2, 4 * UP2, SS_GEMM_GELU);
    /* masks = hyper_in · upscaled: mo (4, 65536) rows in (P, k) order, scattered to (256, 256) */
    ss_gemm_cols(1, hyp, UP2, SS_N_TOKENS, UP2, c2, UP2, 128 * 128 * 4, mo, 128 * 128 * 4, 0.0f);
    for (int t = 0; t < SS_N_TOKENS; t++) {
        const float *src = mo + (size_t)t * 65536;
        float *dst = low_res_all + (size_t)t * SS_LOWRES_SIDE * SS_LOWRES_SIDE;
        for (int Y = 0; Y < 128; Y++)
            for (int X = 0; X < 128; X++) put_2x2(dst, Y, X, src + ((size_t)Y * 128 + X) * 4);
    }
    if (trace) memcpy(trace->alpha, alpha, sizeof trace->alpha);
    return SS_OK;
}
