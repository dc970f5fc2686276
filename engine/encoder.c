/* encoder.c — MobileSAM image encoder: TinyViT-5M + SAM neck.
 *
 *   input (3, 1024, 1024) normalised, zero-padded image (channel-first)
 *   patch_embed   Conv_BN 3->32 3x3/2, GELU, Conv_BN 32->64 3x3/2          -> (256*256, 64)
 *   layers.0      2 x MBConv(64, expand 4) + PatchMerging 64->128 (/2)     -> (128*128, 128)
 *   layers.1      2 x TinyViTBlock(128, 4 heads, window 7) + PM 128->160 (/2) -> (64*64, 160)
 *   layers.2      6 x TinyViTBlock(160, 5 heads, window 14) + PM 160->320 (/1) -> (64*64, 320)
 *   layers.3      2 x TinyViTBlock(320, 10 heads, window 7)                -> (64*64, 320)
 *   neck          1x1 320->256, LayerNorm2d, 3x3 256->256, LayerNorm2d     -> out (256, 64, 64)
 *
 * Layout: every activation inside is channel-last, (H*W, C) row-major ("tokens"), so 1x1 convs
 * and linears are plain GEMMs against the checkpoint's (out, in) weights
 * (cblas_sgemm RowMajor, NoTrans, Trans). Depthwise and 3x3 conv weights are repacked once at
 * bind time into tap-major tables (derived constants, owned by ss_encoder_w).
 * Threading: one OpenMP pool of ss_get_threads() threads for everything; GEMMs go through
 * ss_gemm_nt (rows split across the pool, single-threaded BLAS per thread).
 * Large maps are processed in bands of rows so that intermediates stay in cache and the
 * scratch stays small (see SCRATCH below). */
#include "encoder.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define HEAD_DIM 32     /* key_dim = d = dim / heads in every TinyViT stage of MobileSAM */
#define MAX_WIN_N 196   /* 14 x 14 window tokens */
#define MAX_WIN_NP 208  /* MAX_WIN_N rounded up to 16 */
#define N_BLOCKS 10

/* ---- weights ---------------------------------------------------------------------------- */

/* Conv_BN with BatchNorm folded (weight + bias); 1x1 convs keep the checkpoint (out, in)
 * layout, depthwise 3x3 are repacked to (9, C): dw[t * C + c] = w[c, 0, t / 3, t % 3]. */
typedef struct {
    int cin, ch, cout, stride;
    ss_packed_w w1;       /* (ch, cin): 1x1 expand / project in */
    const float *b1;      /* (ch) */
    float *dw;            /* (9, ch) repacked depthwise 3x3, owned */
    const float *bdw;     /* (ch) */
    ss_packed_w w3;       /* (cout, ch): 1x1 project out */
    const float *b3;      /* (cout) */
} mb_unit;                /* MBConv (stride 1, residual) or PatchMerging (no residual) */

typedef struct {
    int dim, heads, ws, n; /* n = ws * ws tokens per window */
    const float *norm_w, *norm_b;  /* attn.norm (dim) */
    ss_packed_w qkv;               /* (3 dim, dim): per head [q 32 | k 32 | v 32] */
    const float *qkv_b;            /* (3 dim) */
    ss_packed_w proj;              /* (dim, dim) */
    const float *proj_b;           /* (dim) */
    float *bias;                   /* (heads, n, n) gathered attention biases, owned */
    float *pad_qkv;                /* (3 dim) qkv row of a zero padding token, owned */
    float *local_w;                /* (9, dim) repacked local_conv, owned */
    const float *local_b;          /* (dim) */
    const float *mlp_norm_w, *mlp_norm_b; /* (dim) */
    ss_packed_w fc1;               /* (4 dim, dim) */
    const float *fc1_b;            /* (4 dim) */
    ss_packed_w fc2;               /* (dim, 4 dim) */
    const float *fc2_b;            /* (dim) */
} vit_block;

struct ss_encoder_w {
    float *pe1_w;        /* (27, 32): [ci*9 + ky*3 + kx][co], owned */
    const float *pe1_b;  /* (32) */
    float *pe2_w;        /* (64, 288): [co][(ky*3 + kx)*32 + ci], owned */
    ss_packed_w pe2;     /* pe2_w packed */
    const float *pe2_b;  /* (64) */
    mb_unit mb[2];       /* layers.0.blocks.{0,1} */
    mb_unit pm[3];       /* layers.{0,1,2}.downsample */
    vit_block blk[N_BLOCKS]; /* layers.1 (2), layers.2 (6), layers.3 (2) */
    ss_packed_w neck0;    /* (256, 320) */
    const float *ln1_w, *ln1_b; /* (256) */
    float *neck2_w;       /* (256, 2304): [co][(ky*3 + kx)*256 + ci], owned */
    ss_packed_w neck2;    /* neck2_w packed */
    const float *ln2_w, *ln2_b; /* (256) */
};

/* stage table: layers.1..3 */
static const int st_dim[4] = {64, 128, 160, 320};
static const int st_heads[4] = {0, 4, 5, 10};
static const int st_ws[4] = {0, 7, 14, 7};
static const int st_depth[4] = {2, 2, 6, 2};
static const int st_res[4] = {256, 128, 64, 64};

#define GET(ptr, ...)                                                         \
    do {                                                                      \
        if (!((ptr) = ss_weights_get(w, err, errlen, __VA_ARGS__))) goto fail; \
    } while (0)

static float *repack_dw(const float *w, int c) /* (c, 1, 3, 3) -> (9, c) */
{
    float *r = malloc(sizeof(float) * 9 * (size_t)c);
    if (!r) return NULL;
    for (int ch = 0; ch < c; ch++)
        for (int t = 0; t < 9; t++) r[(size_t)t * c + ch] = w[(size_t)ch * 9 + t];
    return r;
}

static float *repack_conv3(const float *w, int cout, int cin) /* (co, ci, 3, 3) -> (co, 3, 3, ci) */
{
    float *r = malloc(sizeof(float) * 9 * (size_t)cin * cout);
    if (!r) return NULL;
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int t = 0; t < 9; t++)
                r[((size_t)o * 9 + t) * cin + i] = w[((size_t)o * cin + i) * 9 + t];
    return r;
}

static int bind_mb(ss_weights *w, char *err, size_t errlen, mb_unit *u, const char *pfx, int cin,
                   int ch, int cout, int stride)
{
    const float *dw, *w1, *w3;
    u->cin = cin, u->ch = ch, u->cout = cout, u->stride = stride;
    GET(w1, SS_DIMS(ch, cin, 1, 1), "%s.conv1.c.weight", pfx);
    GET(u->b1, SS_DIMS(ch), "%s.conv1.c.bias", pfx);
    GET(dw, SS_DIMS(ch, 1, 3, 3), "%s.conv2.c.weight", pfx);
    GET(u->bdw, SS_DIMS(ch), "%s.conv2.c.bias", pfx);
    GET(w3, SS_DIMS(cout, ch, 1, 1), "%s.conv3.c.weight", pfx);
    GET(u->b3, SS_DIMS(cout), "%s.conv3.c.bias", pfx);
    if (!(u->dw = repack_dw(dw, ch)) || ss_pack_w(&u->w1, w1, ch, cin) ||
        ss_pack_w(&u->w3, w3, cout, ch)) {
        snprintf(err, errlen, "%s: out of memory", __func__);
        return SS_ERR_NOMEM;
    }
    return SS_OK;
fail:
    return SS_ERR_FORMAT;
}

/* Attention bias table: TinyViT stores attention_biases (heads, n_offsets), offsets being the
 * distinct (|dy|, |dx|) pairs in first-seen order over all (p1, p2) pairs of window points in
 * row-major order; we gather it to (heads, n, n). A file may instead carry the gathered table
 * as attention_bias_table (heads, n, n) (ONNX exports constant-fold it). */
static int bind_attn_bias(ss_weights *w, char *err, size_t errlen, vit_block *b, const char *pfx)
{
    const int ws = b->ws, n = b->n, heads = b->heads;
    char name[160];
    b->bias = malloc(sizeof(float) * (size_t)heads * n * n);
    if (!b->bias) {
        snprintf(err, errlen, "%s: out of memory", __func__);
        return SS_ERR_NOMEM;
    }
    snprintf(name, sizeof name, "%s.attn.attention_bias_table", pfx);
    if (ss_weights_has(w, name)) {
        const float *t;
        GET(t, SS_DIMS(heads, n, n), "%s", name);
        memcpy(b->bias, t, sizeof(float) * (size_t)heads * n * n);
        return SS_OK;
    }
    const float *ab;
    GET(ab, SS_DIMS(heads, n), "%s.attn.attention_biases", pfx); /* ws*ws distinct offsets */
    int id_of[MAX_WIN_N];       /* offset (dy*ws + dx) -> first-seen index */
    for (int i = 0; i < ws * ws; i++) id_of[i] = -1;
    int next = 0;
    for (int p1 = 0; p1 < n; p1++)
        for (int p2 = 0; p2 < n; p2++) {
            int dy = abs(p1 / ws - p2 / ws), dx = abs(p1 % ws - p2 % ws);
            int off = dy * ws + dx;
            if (id_of[off] < 0) id_of[off] = next++;
            for (int h = 0; h < heads; h++)
                b->bias[((size_t)h * n + p1) * n + p2] = ab[(size_t)h * n + id_of[off]];
        }
    assert(next == n);
    return SS_OK;
fail:
    return SS_ERR_FORMAT;
}

static int bind_block(ss_weights *w, char *err, size_t errlen, vit_block *b, int layer, int idx)
{
    char pfx[96];
    const float *lw, *qkv, *proj, *fc1, *fc2;
    const int C = st_dim[layer];
    snprintf(pfx, sizeof pfx, "image_encoder.layers.%d.blocks.%d", layer, idx);
    b->dim = C, b->heads = st_heads[layer], b->ws = st_ws[layer], b->n = b->ws * b->ws;
    assert(C == b->heads * HEAD_DIM);
    GET(b->norm_w, SS_DIMS(C), "%s.attn.norm.weight", pfx);
    GET(b->norm_b, SS_DIMS(C), "%s.attn.norm.bias", pfx);
    GET(qkv, SS_DIMS(3 * C, C), "%s.attn.qkv.weight", pfx);
    GET(b->qkv_b, SS_DIMS(3 * C), "%s.attn.qkv.bias", pfx);
    GET(proj, SS_DIMS(C, C), "%s.attn.proj.weight", pfx);
    GET(b->proj_b, SS_DIMS(C), "%s.attn.proj.bias", pfx);
    GET(lw, SS_DIMS(C, 1, 3, 3), "%s.local_conv.c.weight", pfx);
    GET(b->local_b, SS_DIMS(C), "%s.local_conv.c.bias", pfx);
    GET(b->mlp_norm_w, SS_DIMS(C), "%s.mlp.norm.weight", pfx);
    GET(b->mlp_norm_b, SS_DIMS(C), "%s.mlp.norm.bias", pfx);
    GET(fc1, SS_DIMS(4 * C, C), "%s.mlp.fc1.weight", pfx);
    GET(b->fc1_b, SS_DIMS(4 * C), "%s.mlp.fc1.bias", pfx);
    GET(fc2, SS_DIMS(C, 4 * C), "%s.mlp.fc2.weight", pfx);
    GET(b->fc2_b, SS_DIMS(C), "%s.mlp.fc2.bias", pfx);
    if (!(b->local_w = repack_dw(lw, C)) || ss_pack_w(&b->qkv, qkv, 3 * C, C) ||
        ss_pack_w(&b->proj, proj, C, C) || ss_pack_w(&b->fc1, fc1, 4 * C, C) ||
        ss_pack_w(&b->fc2, fc2, C, 4 * C))
        goto nomem;
    int rc = bind_attn_bias(w, err, errlen, b, pfx);
    if (rc) return rc;
    /* A zero padding token goes through LayerNorm to exactly norm_b (its mean and variance
     * are 0), so its qkv row is the constant qkv_w . norm_b + qkv_b. */
    if (!(b->pad_qkv = malloc(sizeof(float) * 3 * C))) goto nomem;
    for (int o = 0; o < 3 * C; o++) {
        double s = b->qkv_b[o];
        for (int i = 0; i < C; i++) s += (double)qkv[(size_t)o * C + i] * b->norm_b[i];
        b->pad_qkv[o] = (float)s;
    }
    return SS_OK;
nomem:
    snprintf(err, errlen, "%s: out of memory", __func__);
    return SS_ERR_NOMEM;
fail:
    return SS_ERR_FORMAT;
}

ss_encoder_w *ss_encoder_bind(ss_weights *w, char *err, size_t errlen)
{
    ss_encoder_w *e = calloc(1, sizeof *e);
    const float *t;
    char pfx[96];
    if (!e) {
        snprintf(err, errlen, "%s: out of memory", __func__);
        return NULL;
    }
    /* patch_embed */
    GET(t, SS_DIMS(32, 3, 3, 3), "image_encoder.patch_embed.seq.0.c.weight");
    if (!(e->pe1_w = malloc(sizeof(float) * 27 * 32))) goto nomem;
    for (int o = 0; o < 32; o++)
        for (int k = 0; k < 27; k++) e->pe1_w[k * 32 + o] = t[o * 27 + k];
    GET(e->pe1_b, SS_DIMS(32), "image_encoder.patch_embed.seq.0.c.bias");
    GET(t, SS_DIMS(64, 32, 3, 3), "image_encoder.patch_embed.seq.2.c.weight");
    if (!(e->pe2_w = repack_conv3(t, 64, 32)) || ss_pack_w(&e->pe2, e->pe2_w, 64, 288)) goto nomem;
    GET(e->pe2_b, SS_DIMS(64), "image_encoder.patch_embed.seq.2.c.bias");
    /* layers.0: MBConvs + downsample */
    for (int i = 0; i < 2; i++) {
        snprintf(pfx, sizeof pfx, "image_encoder.layers.0.blocks.%d", i);
        if (bind_mb(w, err, errlen, &e->mb[i], pfx, 64, 256, 64, 1)) goto fail;
    }
    for (int l = 0; l < 3; l++) {
        int out = st_dim[l + 1];
        snprintf(pfx, sizeof pfx, "image_encoder.layers.%d.downsample", l);
        /* PatchMerging: depthwise stride 2, except 1 when out_dim is 320 (MobileSAM) */
        if (bind_mb(w, err, errlen, &e->pm[l], pfx, st_dim[l], out, out, out == 320 ? 1 : 2))
            goto fail;
    }
    /* layers.1..3: TinyViT blocks */
    int k = 0;
    for (int l = 1; l < 4; l++)
        for (int i = 0; i < st_depth[l]; i++)
            if (bind_block(w, err, errlen, &e->blk[k++], l, i)) goto fail;
    assert(k == N_BLOCKS);
    /* neck */
    GET(t, SS_DIMS(256, 320, 1, 1), "image_encoder.neck.0.weight");
    if (ss_pack_w(&e->neck0, t, 256, 320)) goto nomem;
    GET(e->ln1_w, SS_DIMS(256), "image_encoder.neck.1.weight");
    GET(e->ln1_b, SS_DIMS(256), "image_encoder.neck.1.bias");
    GET(t, SS_DIMS(256, 256, 3, 3), "image_encoder.neck.2.weight");
    if (!(e->neck2_w = repack_conv3(t, 256, 256)) || ss_pack_w(&e->neck2, e->neck2_w, 256, 2304))
        goto nomem;
    GET(e->ln2_w, SS_DIMS(256), "image_encoder.neck.3.weight");
    GET(e->ln2_b, SS_DIMS(256), "image_encoder.neck.3.bias");
    return e;
nomem:
    snprintf(err, errlen, "%s: out of memory", __func__);
fail:
    ss_encoder_free(e);
    return NULL;
}

void ss_encoder_free(ss_encoder_w *e)
{
    if (!e) return;
    free(e->pe1_w);
    free(e->pe2_w);
    ss_packed_free(&e->pe2);
    for (int i = 0; i < 5; i++) {
        mb_unit *u = i < 2 ? &e->mb[i] : &e->pm[i - 2];
        free(u->dw);
        ss_packed_free(&u->w1);
        ss_packed_free(&u->w3);
    }
    for (int i = 0; i < N_BLOCKS; i++) {
        ss_packed_free(&e->blk[i].qkv);
        ss_packed_free(&e->blk[i].proj);
        ss_packed_free(&e->blk[i].fc1);
        ss_packed_free(&e->blk[i].fc2);
        free(e->blk[i].bias);
        free(e->blk[i].pad_qkv);
        free(e->blk[i].local_w);
    }
    free(e->neck2_w);
    ss_packed_free(&e->neck0);
    ss_packed_free(&e->neck2);
    free(e);
}

/* ---- scratch ------------------------------------------------------------------------------
 * XA, XB: (256*256, 64) each — the ping-pong token maps of every stage (later stages are
 *          smaller and reuse them).
 * B1, B2: band buffers (the largest band of any stage; checked by asserts below). */
#define SZ_X ((size_t)256 * 256 * 64)
#define BAND_PE 16   /* patch_embed conv2 output rows per band */
#define BAND_MB 16   /* MBConv output rows per band (256 wide) */
#define BAND_PM 8    /* PatchMerging output rows per band */
#define BAND_NECK 8  /* neck 3x3 conv output rows per band */
#define MLP_ROWS 512 /* TinyViT MLP tokens per chunk */
#define SZ_B1 ((size_t)18 * 256 * 256) /* MBConv conv1 band: (BAND_MB + 2) rows x 256 x 256 */
#define SZ_B2 ((size_t)16 * 256 * 288) /* patch_embed im2col band: BAND_PE*256 x 288 */

size_t ss_encoder_scratch_floats(void) { return 2 * SZ_X + SZ_B1 + SZ_B2; }

/* ---- kernels ------------------------------------------------------------------------------ */

/* Depthwise 3x3, pad 1, stride s, on a channel-last map whose rows [row0, row0 + nrows) of an
 * H x W image are present in x ((nrows * W, C)); rows outside [0, H) are zero padding.
 * Writes output rows [oy0, oy1) of the (Ho, Wo) result to y ((oy1 - oy0) * Wo, C), adding bias
 * and applying GELU when gelu != 0. */
static void dw3x3(const float *x, int H, int W, int row0, int nrows, int C, const float *w9,
                  const float *b, int s, int oy0, int oy1, int Wo, float *y, int gelu)
{
    const int nt = ss_get_threads();
#ifdef __AVX512F__
    if (C % 16 == 0) {
        /* 16 channels at a time: the 9 taps and the bias stay in registers along a row */
#pragma omp parallel for schedule(static) num_threads(nt) collapse(2)
        for (int oy = oy0; oy < oy1; oy++)
            for (int c0 = 0; c0 < C; c0 += 16) {
                __m512 wt[9];
                for (int t = 0; t < 9; t++) wt[t] = _mm512_loadu_ps(w9 + (size_t)t * C + c0);
                const __m512 bv = _mm512_loadu_ps(b + c0);
                const float *rp[3] = {NULL, NULL, NULL};
                for (int ky = 0; ky < 3; ky++) {
                    const int iy = oy * s - 1 + ky;
                    if (iy >= 0 && iy < H) {
                        assert(iy >= row0 && iy < row0 + nrows);
                        rp[ky] = x + (size_t)(iy - row0) * W * C + c0;
                    }
                }
                float *o = y + (size_t)(oy - oy0) * Wo * C + c0;
                for (int ox = 0; ox < Wo; ox++, o += C) {
                    __m512 acc = bv;
                    const int ix0 = ox * s - 1;
                    for (int ky = 0; ky < 3; ky++) {
                        if (!rp[ky]) continue;
                        for (int kx = 0; kx < 3; kx++) {
                            const int ix = ix0 + kx;
                            if (ix < 0 || ix >= W) continue;
                            acc = _mm512_fmadd_ps(wt[ky * 3 + kx], _mm512_loadu_ps(rp[ky] + (size_t)ix * C), acc);
                        }
                    }
                    _mm512_storeu_ps(o, gelu ? ss_gelu16(acc) : acc);
                }
            }
        return;
    }
#endif
#pragma omp parallel for schedule(static) num_threads(nt) collapse(2)
    for (int oy = oy0; oy < oy1; oy++)
        for (int ox = 0; ox < Wo; ox++) {
            float *o = y + ((size_t)(oy - oy0) * Wo + ox) * C;
#pragma omp simd
            for (int c = 0; c < C; c++) o[c] = b[c];
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * s - 1 + ky;
                if (iy < 0 || iy >= H) continue;
                assert(iy >= row0 && iy < row0 + nrows);
                for (int kx = 0; kx < 3; kx++) {
                    int ix = ox * s - 1 + kx;
                    if (ix < 0 || ix >= W) continue;
                    const float *xi = x + ((size_t)(iy - row0) * W + ix) * C;
                    const float *wk = w9 + (size_t)(ky * 3 + kx) * C;
#pragma omp simd
                    for (int c = 0; c < C; c++) o[c] += wk[c] * xi[c];
                }
            }
            if (gelu) {
#pragma omp simd
                for (int c = 0; c < C; c++) o[c] = ss_gelu_approx(o[c]);
            }
        }
}

/* im2col of a 3x3 pad-1 stride-s conv on a channel-last map (rows [row0, row0+nrows) present):
 * col ((oy1-oy0) * Wo, 9 * C), column index (ky*3 + kx)*C + ci. */
static void im2col3x3(const float *x, int H, int W, int row0, int nrows, int C, int s, int oy0,
                      int oy1, int Wo, float *col)
{
    const int nt = ss_get_threads();
    (void)nrows;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int oy = oy0; oy < oy1; oy++)
        for (int ox = 0; ox < Wo; ox++) {
            float *cr = col + ((size_t)(oy - oy0) * Wo + ox) * 9 * C;
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * s - 1 + ky;
                for (int kx = 0; kx < 3; kx++) {
                    int ix = ox * s - 1 + kx;
                    float *d = cr + (size_t)(ky * 3 + kx) * C;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                        memset(d, 0, sizeof(float) * C);
                    else
                        memcpy(d, x + ((size_t)(iy - row0) * W + ix) * C, sizeof(float) * C);
                }
            }
        }
}

/* ---- patch_embed ---------------------------------------------------------------------------
 * in (3, 1024, 1024) -> Conv_BN 3->32 3x3/2 + GELU (512, 512, 32) -> Conv_BN 32->64 3x3/2
 * -> x (256*256, 64). Done in bands of BAND_PE output rows; the first conv is computed for
 * the 2*BAND_PE+1 rows a band needs. */
static void patch_embed(const ss_encoder_w *e, const float *in, float *x, float *b1, float *b2)
{
    const int nt = ss_get_threads();
    const size_t plane = (size_t)1024 * 1024;
    for (int oy0 = 0; oy0 < 256; oy0 += BAND_PE) {
        const int oy1 = oy0 + BAND_PE;
        const int r0 = oy0 * 2 - 1 < 0 ? 0 : oy0 * 2 - 1, r1 = oy1 * 2 - 1 + 1; /* [r0, r1) */
        float *c1 = b1; /* ((r1 - r0) * 512, 32) conv1 rows */
        assert((size_t)(r1 - r0) * 512 * 32 <= SZ_B1);
#pragma omp parallel for schedule(static) num_threads(nt) collapse(2)
        for (int y = r0; y < r1; y++)
            for (int xx = 0; xx < 512; xx++) {
                float acc[32];
                for (int o = 0; o < 32; o++) acc[o] = e->pe1_b[o];
                for (int ci = 0; ci < 3; ci++)
                    for (int ky = 0; ky < 3; ky++) {
                        int iy = 2 * y - 1 + ky;
                        if (iy < 0 || iy >= 1024) continue;
                        for (int kx = 0; kx < 3; kx++) {
                            int ix = 2 * xx - 1 + kx;
                            if (ix < 0 || ix >= 1024) continue;
                            const float v = in[ci * plane + (size_t)iy * 1024 + ix];
                            const float *wk = e->pe1_w + (ci * 9 + ky * 3 + kx) * 32;
#pragma omp simd
                            for (int o = 0; o < 32; o++) acc[o] += wk[o] * v;
                        }
                    }
                float *d = c1 + ((size_t)(y - r0) * 512 + xx) * 32;
#pragma omp simd
                for (int o = 0; o < 32; o++) d[o] = ss_gelu_approx(acc[o]);
            }
        /* conv2 as im2col (BAND_PE*256, 288) x (64, 288)^T */
        assert((size_t)BAND_PE * 256 * 288 <= SZ_B2);
        im2col3x3(c1, 512, 512, r0, r1 - r0, 32, 2, oy0, oy1, 256, b2);
        float *y = x + (size_t)oy0 * 256 * 64;
        ss_gemm_packed(b2, 288, BAND_PE * 256, &e->pe2, e->pe2_b, y, 64, 0);
    }
}

/* ---- MBConv / PatchMerging -----------------------------------------------------------------
 * x (H*W, cin) -> 1x1 cin->ch + GELU -> depthwise 3x3/s + GELU -> 1x1 ch->cout -> y (Ho*Wo, cout);
 * MBConv (residual): y = GELU(y + x). Bands of `band` output rows. */
static void mb_forward(const mb_unit *u, const float *x, int H, int W, float *y, int residual,
                       int band, float *b1, float *b2)
{
    const int s = u->stride, Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1;
    for (int oy0 = 0; oy0 < Ho; oy0 += band) {
        const int oy1 = oy0 + band < Ho ? oy0 + band : Ho;
        const int r0 = oy0 * s - 1 < 0 ? 0 : oy0 * s - 1;
        const int r1 = (oy1 - 1) * s + 2 < H ? (oy1 - 1) * s + 2 : H; /* input rows [r0, r1) */
        const size_t nin = (size_t)(r1 - r0) * W, nout = (size_t)(oy1 - oy0) * Wo;
        assert(nin * u->ch <= SZ_B1 && nout * u->ch <= SZ_B2);
        /* conv1 + GELU: b1 (nin, ch) */
        ss_gemm_packed(x + (size_t)r0 * W * u->cin, u->cin, (int)nin, &u->w1, u->b1, b1, u->ch,
                       SS_GEMM_GELU);
        /* conv2 (depthwise) + GELU: b2 (nout, ch) */
        dw3x3(b1, H, W, r0, r1 - r0, u->ch, u->dw, u->bdw, s, oy0, oy1, Wo, b2, 1);
        /* conv3: y rows [oy0, oy1) (nout, cout) */
        float *yo = y + (size_t)oy0 * Wo * u->cout;
        ss_gemm_packed(b2, u->ch, (int)nout, &u->w3, u->b3, yo, u->cout, 0);
        if (residual) {
            const float *xo = x + (size_t)oy0 * W * u->cin;
            const size_t n = nout * u->cout;
            const int nt = ss_get_threads();
            const int C = u->cout;
#pragma omp parallel for schedule(static) num_threads(nt)
            for (size_t i = 0; i < nout; i++) {
                float *r = yo + i * C;
                const float *xr = xo + i * C;
#pragma omp simd
                for (int c = 0; c < C; c++) r[c] = ss_gelu_approx(r[c] + xr[c]);
            }
            (void)n;
        }
    }
}

/* ---- TinyViT block: window attention ------------------------------------------------------
 * One (window, head): rows[j] (n pointers) are the tokens' qkv rows (3C; a padding token
 * points at pad_qkv); dst[i] >= 0 is the output row of query i in ao, -1 for padding.
 * ao[dst, h*32 .. h*32+31] = softmax(q k^T / sqrt(32) + bias[h]) v. */
#ifdef __AVX512F__
#define QB 6 /* queries per register block */
static void window_head(const float *const *rows, const int *dst, int n, int h,
                        const float *bias /* (n, n) */, float *ao, int C)
{
    float kt[HEAD_DIM * MAX_WIN_NP] __attribute__((aligned(64))); /* (32, np) keys^T */
    float v[MAX_WIN_N * HEAD_DIM] __attribute__((aligned(64)));   /* (n, 32) values */
    float q[MAX_WIN_N * HEAD_DIM] __attribute__((aligned(64)));   /* (nq, 32) scaled queries */
    float sc[QB * MAX_WIN_NP] __attribute__((aligned(64)));      /* (QB, np) scores/probs */
    int qi[MAX_WIN_N];                                            /* window index of query */
    const int np = (n + 15) & ~15, nv = np / 16;
    const int qo = h * 3 * HEAD_DIM, ko = qo + HEAD_DIM, vo = qo + 2 * HEAD_DIM;
    const float scale = 0.17677669529663688f; /* 32^-0.5 */
    int nq = 0;
    for (int j = 0; j < n; j++) {
        for (int d = 0; d < HEAD_DIM; d++) kt[d * np + j] = rows[j][ko + d];
        memcpy(v + j * HEAD_DIM, rows[j] + vo, sizeof(float) * HEAD_DIM);
        if (dst[j] >= 0) {
            for (int d = 0; d < HEAD_DIM; d++) q[nq * HEAD_DIM + d] = rows[j][qo + d] * scale;
            qi[nq++] = j;
        }
    }
    for (int d = 0; d < HEAD_DIM; d++)
        for (int j = n; j < np; j++) kt[d * np + j] = 0.0f;
    for (int i0 = 0; i0 < nq; i0 += QB) {
        const int qb = i0 + QB < nq ? QB : nq - i0;
        /* scores: sc (qb, np) = q k^T, in groups of 4 key vectors x QB queries */
        for (int g = 0; g < nv; g += 4) {
            const int gv = g + 4 < nv ? 4 : nv - g;
            __m512 acc[QB][4];
            for (int a = 0; a < QB; a++)
                for (int c = 0; c < 4; c++) acc[a][c] = _mm512_setzero_ps();
            for (int d = 0; d < HEAD_DIM; d++) {
                __m512 kv[4];
                for (int c = 0; c < 4; c++)
                    kv[c] = c < gv ? _mm512_load_ps(kt + d * np + (g + c) * 16) : _mm512_setzero_ps();
                for (int a = 0; a < QB; a++) {
                    const __m512 qa = _mm512_set1_ps(q[(i0 + (a < qb ? a : 0)) * HEAD_DIM + d]);
                    for (int c = 0; c < 4; c++) acc[a][c] = _mm512_fmadd_ps(qa, kv[c], acc[a][c]);
                }
            }
            for (int a = 0; a < qb; a++)
                for (int c = 0; c < gv; c++) _mm512_store_ps(sc + a * np + (g + c) * 16, acc[a][c]);
        }
        /* + bias, softmax over the n keys (tail lanes -> 0) */
        float inv[QB];
        for (int a = 0; a < qb; a++) {
            float *r = sc + a * np;
            const float *bi = bias + (size_t)qi[i0 + a] * n;
            __m512 mv = _mm512_set1_ps(-INFINITY);
            for (int c = 0; c < nv; c++) {
                const __mmask16 live = c * 16 + 16 <= n ? 0xffff : (__mmask16)((1u << (n - c * 16)) - 1);
                const __m512 t = _mm512_add_ps(_mm512_load_ps(r + c * 16),
                                               _mm512_maskz_loadu_ps(live, bi + c * 16));
                _mm512_store_ps(r + c * 16, t);
                mv = _mm512_mask_max_ps(mv, live, mv, t);
            }
            __m512 sum = _mm512_setzero_ps();
            const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
            for (int c = 0; c < nv; c++) {
                const __mmask16 live = c * 16 + 16 <= n ? 0xffff : (__mmask16)((1u << (n - c * 16)) - 1);
                __m512 e = _mm512_maskz_mov_ps(live, ss_expf16(_mm512_sub_ps(_mm512_load_ps(r + c * 16), m)));
                _mm512_store_ps(r + c * 16, e);
                sum = _mm512_add_ps(sum, e);
            }
            inv[a] = 1.0f / _mm512_reduce_add_ps(sum);
        }
        /* out (qb, 32) = p v */
        __m512 o[QB][2];
        for (int a = 0; a < QB; a++) o[a][0] = o[a][1] = _mm512_setzero_ps();
        for (int j = 0; j < n; j++) {
            const __m512 v0 = _mm512_load_ps(v + j * HEAD_DIM), v1 = _mm512_load_ps(v + j * HEAD_DIM + 16);
            for (int a = 0; a < QB; a++) {
                const __m512 p = _mm512_set1_ps(sc[(a < qb ? a : 0) * np + j]);
                o[a][0] = _mm512_fmadd_ps(p, v0, o[a][0]);
                o[a][1] = _mm512_fmadd_ps(p, v1, o[a][1]);
            }
        }
        for (int a = 0; a < qb; a++) {
            float *out = ao + (size_t)dst[qi[i0 + a]] * C + h * HEAD_DIM;
            const __m512 s = _mm512_set1_ps(inv[a]);
            _mm512_storeu_ps(out, _mm512_mul_ps(o[a][0], s));
            _mm512_storeu_ps(out + 16, _mm512_mul_ps(o[a][1], s));
        }
    }
}
#undef QB
#else
static void window_head(const float *const *rows, const int *dst, int n, int h,
                        const float *bias /* (n, n) */, float *ao, int C)
{
    float kt[HEAD_DIM * MAX_WIN_NP]; /* (32, np) keys, transposed */
    float v[MAX_WIN_N * HEAD_DIM];   /* (n, 32) values */
    float sc[MAX_WIN_NP];            /* (np) scores of one query */
    const int np = (n + 15) & ~15;
    const int qo = h * 3 * HEAD_DIM, ko = qo + HEAD_DIM, vo = qo + 2 * HEAD_DIM;
    const float scale = 0.17677669529663688f; /* 32^-0.5 */
    for (int j = 0; j < n; j++) {
        for (int d = 0; d < HEAD_DIM; d++) kt[d * np + j] = rows[j][ko + d];
        memcpy(v + j * HEAD_DIM, rows[j] + vo, sizeof(float) * HEAD_DIM);
    }
    for (int d = 0; d < HEAD_DIM; d++)
        for (int j = n; j < np; j++) kt[d * np + j] = 0.0f;
    for (int i = 0; i < n; i++) {
        if (dst[i] < 0) continue;
        const float *q = rows[i] + qo;
        const float *bi = bias + (size_t)i * n;
#pragma omp simd
        for (int j = 0; j < np; j++) sc[j] = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) {
            const float qd = q[d];
            const float *kd = kt + d * np;
#pragma omp simd
            for (int j = 0; j < np; j++) sc[j] += qd * kd[j];
        }
        float mx = -INFINITY;
        for (int j = 0; j < n; j++) {
            sc[j] = sc[j] * scale + bi[j];
            mx = sc[j] > mx ? sc[j] : mx;
        }
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < n; j++) {
            sc[j] = ss_expf_approx(sc[j] - mx);
            sum += sc[j];
        }
        float o[HEAD_DIM] = {0};
        for (int j = 0; j < n; j++) {
            const float p = sc[j];
            const float *vj = v + j * HEAD_DIM;
#pragma omp simd
            for (int d = 0; d < HEAD_DIM; d++) o[d] += p * vj[d];
        }
        const float inv = 1.0f / sum;
        float *out = ao + (size_t)dst[i] * C + h * HEAD_DIM;
#pragma omp simd
        for (int d = 0; d < HEAD_DIM; d++) out[d] = o[d] * inv;
    }
}

#endif

/* x (H*W, C) in place: x += proj(attn(norm(x))) with windows of ws x ws over the map
 * zero-padded at the bottom/right to a multiple of ws; one row of windows at a time.
 * xn, qkv, ao: band buffers (ws*W, C), (ws*W, 3C), (ws*W, C). */
static void block_attention(const vit_block *b, float *x, int H, int W, float *xn, float *qkv,
                            float *ao)
{
    const int C = b->dim, ws = b->ws, n = b->n, heads = b->heads;
    const int nwx = (W + ws - 1) / ws, nwy = (H + ws - 1) / ws;
    const int nt = ss_get_threads();
    for (int wy = 0; wy < nwy; wy++) {
        const int y0 = wy * ws, y1 = y0 + ws < H ? y0 + ws : H;
        const int ntok = (y1 - y0) * W;
        float *xr = x + (size_t)y0 * W * C;
        /* attn.norm + attn.qkv for the band's real tokens: qkv (ntok, 3C) */
        ss_layernorm(xr, xn, ntok, C, b->norm_w, b->norm_b, 1e-5f);
        ss_gemm_packed(xn, C, ntok, &b->qkv, b->qkv_b, qkv, 3 * C, 0);
        /* softmax attention per (window, head): ao (ntok, C) */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int task = 0; task < nwx * heads; task++) {
            const int wx = task / heads, h = task % heads;
            const float *rows[MAX_WIN_N];
            int dst[MAX_WIN_N];
            for (int i = 0; i < ws; i++)
                for (int j = 0; j < ws; j++) {
                    const int yy = y0 + i, xx = wx * ws + j, t = i * ws + j;
                    if (yy < H && xx < W) {
                        dst[t] = (yy - y0) * W + xx;
                        rows[t] = qkv + (size_t)dst[t] * 3 * C;
                    } else {
                        dst[t] = -1;
                        rows[t] = b->pad_qkv;
                    }
                }
            window_head(rows, dst, n, h, b->bias + (size_t)h * n * n, ao, C);
        }
        /* attn.proj + residual: x += ao . Wp^T + bp */
        ss_gemm_packed(ao, C, ntok, &b->proj, b->proj_b, xr, C, SS_GEMM_ACC);
    }
}

/* TinyViT block: x (H*W, C) -> y (H*W, C).
 * x += attn(x); y = local_conv(x) (depthwise 3x3 Conv_BN); y += mlp(y). */
static void vit_block_forward(const vit_block *b, float *x, int H, int W, float *y, float *b1,
                              float *b2)
{
    const int C = b->dim;
    const size_t band = (size_t)b->ws * W;
    assert(band * C * 2 <= SZ_B1 && band * 3 * C <= SZ_B2);
    block_attention(b, x, H, W, b1, b2, b1 + band * C);
    /* local_conv */
    dw3x3(x, H, W, 0, H, C, b->local_w, b->local_b, 1, 0, H, W, y, 0);
    /* mlp: y += fc2(GELU(fc1(norm(y)))) in chunks of MLP_ROWS tokens */
    const int ntok = H * W;
    assert((size_t)MLP_ROWS * C <= SZ_B1 && (size_t)MLP_ROWS * 4 * C <= SZ_B2);
    for (int r0 = 0; r0 < ntok; r0 += MLP_ROWS) {
        const int m = r0 + MLP_ROWS < ntok ? MLP_ROWS : ntok - r0;
        float *yr = y + (size_t)r0 * C;
        ss_layernorm(yr, b1, m, C, b->mlp_norm_w, b->mlp_norm_b, 1e-5f); /* b1 (m, C) */
        ss_gemm_packed(b1, C, m, &b->fc1, b->fc1_b, b2, 4 * C, SS_GEMM_GELU); /* b2 (m, 4C) */
        ss_gemm_packed(b2, 4 * C, m, &b->fc2, b->fc2_b, yr, C, SS_GEMM_ACC);
    }
}

/* ---- neck ---------------------------------------------------------------------------------
 * x (64*64, 320) -> 1x1 320->256 (no bias) -> LayerNorm2d -> 3x3 256->256 pad 1 (no bias)
 * -> LayerNorm2d -> out (256, 64*64) channel-first. t, u: (4096, 256) each; col: im2col band. */
static void neck_forward(const ss_encoder_w *e, const float *x, float *t, float *u, float *col,
                         float *out)
{
    ss_gemm_packed(x, 320, 4096, &e->neck0, NULL, t, 256, 0);
    ss_layernorm(t, t, 4096, 256, e->ln1_w, e->ln1_b, 1e-6f);
    assert((size_t)BAND_NECK * 64 * 9 * 256 <= SZ_B2);
    for (int oy0 = 0; oy0 < 64; oy0 += BAND_NECK) {
        im2col3x3(t, 64, 64, 0, 64, 256, 1, oy0, oy0 + BAND_NECK, 64, col);
        ss_gemm_packed(col, 9 * 256, BAND_NECK * 64, &e->neck2, NULL, u + (size_t)oy0 * 64 * 256, 256, 0);
    }
    ss_layernorm(u, u, 4096, 256, e->ln2_w, e->ln2_b, 1e-6f);
    /* (4096, 256) -> (256, 4096) */
    const int nt = ss_get_threads();
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int c0 = 0; c0 < 256; c0 += 16)
        for (int p = 0; p < 4096; p++)
            for (int c = c0; c < c0 + 16; c++) out[(size_t)c * 4096 + p] = u[(size_t)p * 256 + c];
}

int ss_encoder_forward(const ss_encoder_w *e, const float *input, float *out, float *scratch,
                       ss_abort_cb abort_cb, void *abort_ud)
{
    float *xa = scratch;         /* token maps, (H*W, C) */
    float *xb = xa + SZ_X;
    float *b1 = xb + SZ_X;       /* band buffers */
    float *b2 = b1 + SZ_B1;
#define CHECK_ABORT()                                              \
    do {                                                           \
        if (abort_cb && abort_cb(abort_ud)) return SS_ERR_ABORTED; \
    } while (0)

    /* patch_embed: (3, 1024, 1024) -> xa (256*256, 64) */
    patch_embed(e, input, xa, b1, b2);
    CHECK_ABORT();
    /* layers.0: MBConv x2 (256*256, 64), then PatchMerging -> (128*128, 128) */
    mb_forward(&e->mb[0], xa, 256, 256, xb, 1, BAND_MB, b1, b2);
    CHECK_ABORT();
    mb_forward(&e->mb[1], xb, 256, 256, xa, 1, BAND_MB, b1, b2);
    CHECK_ABORT();
    mb_forward(&e->pm[0], xa, 256, 256, xb, 0, BAND_PM, b1, b2);
    CHECK_ABORT();
    /* layers.1..3: TinyViT blocks (+ PatchMerging after layers.1 and .2) */
    float *x = xb, *y = xa;
    int k = 0;
    for (int l = 1; l < 4; l++) {
        const int res = st_res[l];
        for (int i = 0; i < st_depth[l]; i++) {
            vit_block_forward(&e->blk[k++], x, res, res, y, b1, b2);
            float *t = x;
            x = y, y = t;
            CHECK_ABORT();
        }
        if (l < 3) {
            mb_forward(&e->pm[l], x, res, res, y, 0, BAND_PM, b1, b2);
            float *t = x;
            x = y, y = t;
            CHECK_ABORT();
        }
    }
    /* neck: x (64*64, 320) -> out (256, 64, 64) */
    neck_forward(e, x, y, y + (size_t)4096 * 256, b2, out);
    return SS_OK;
#undef CHECK_ABORT
}
