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
 * and linears are plain GEMMs y = x . W^T against the checkpoint's (out, in) weights; 3x3 convs
 * are im2col + GEMM. At bind time the GEMM weights are packed into 32-output panels for the
 * AVX-512 micro-kernel of ops.c (ss_pack_w; without AVX-512 the original (out, in) weights go
 * to cblas_sgemm NoTrans/Trans), depthwise weights into tap-major (9, C) tables, and the
 * attention biases gathered to (heads, n, n): derived constants owned by ss_encoder_w.
 * Accuracy (3 images vs onnxruntime): relative L2 error of the embedding ~3.5e-6.
 * Threading: one OpenMP parallel region for the whole pass; each stage shares out bands of
 * rows, windows or chunks (`omp for`), and each thread runs the whole pipeline of its share
 * with sequential kernels (GEMMs: ss_gemm_packed_seq), so there is one barrier per stage.
 * Large maps are processed in bands of rows so that intermediates stay in cache and the
 * scratch stays small (see "scratch" below). */
/* FP exception flags are never read: let GCC if-convert the selects of the exp/GELU
 * approximations (ops.h) so that their loops vectorise without AVX-512 masking too. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "encoder.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

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
    int n_threads;       /* ss_get_threads() at bind time: upper bound for the forward pass */
    ss_packed_w pe1;     /* (32, 27): [co][ci*9 + ky*3 + kx] packed */
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
    e->n_threads = ss_get_threads();
    /* patch_embed */
    GET(t, SS_DIMS(32, 3, 3, 3), "image_encoder.patch_embed.seq.0.c.weight");
    if (ss_pack_w(&e->pe1, t, 32, 27)) goto nomem;
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
    ss_packed_free(&e->pe1);
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
 * XA, XB   (256*256, 64) each: the ping-pong token maps of every stage (later, smaller stages
 *          reuse them; the neck uses one for its two (4096, 256) maps).
 * per thread, SZ_T floats: the band / window / chunk buffers of the stage being run.
 * The per-thread part is sized for ss_get_threads() at the time of the call; the forward pass
 * uses min(ss_get_threads(), threads at bind time) threads, so raising the thread count after
 * the model was loaded never overruns it. */
#define SZ_X ((size_t)256 * 256 * 64)
#define BAND_PE 8    /* patch_embed conv2 output rows per band (256 wide) */
#define BAND_MB 4    /* MBConv output rows per band (256 wide) */
#define BAND_PM 4    /* PatchMerging output rows per band */
#define BAND_NECK 4  /* neck 3x3 conv output rows per band (64 wide) */
#define CHUNK 128    /* TinyViT local conv + MLP: tokens per chunk (whole image rows) */
#define SZ_MAX(a, b) ((a) > (b) ? (a) : (b))
/* largest per-thread need: an MBConv band (conv1 BAND_MB + 2 rows and dw BAND_MB rows of
 * 256 x 256) or a patch_embed band (conv1 2*BAND_PE+1 rows of 512 x 32, im2col 288 wide) */
#define SZ_T SZ_MAX((size_t)(2 * BAND_MB + 2) * 256 * 256, \
                    (size_t)(2 * BAND_PE + 1) * 512 * 32 + (size_t)BAND_PE * 256 * 288)

static int enc_threads(const ss_encoder_w *e)
{
    int nt = ss_get_threads();
    return nt < e->n_threads ? nt : e->n_threads;
}

size_t ss_encoder_scratch_floats(void)
{
    int nt = ss_get_threads();
    return 2 * SZ_X + (size_t)(nt > 0 ? nt : 1) * SZ_T;
}

#ifdef _OPENMP
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif

/* ---- kernels (sequential; the stages below share work out with orphaned `omp for`) -------- */

/* Depthwise 3x3 (sequential), pad 1, stride s, on a channel-last map whose rows [row0, row0 + nrows) of an
 * H x W image are present in x ((nrows * W, C)); rows outside [0, H) are zero padding.
 * Writes output rows [oy0, oy1) of the (Ho, Wo) result to y ((oy1 - oy0) * Wo, C), adding bias
 * and applying GELU when gelu != 0. */
static void dw3x3(const float *x, int H, int W, int row0, int nrows, int C, const float *w9,
                  const float *b, int s, int oy0, int oy1, int Wo, float *y, int gelu)
{
#ifdef __AVX512F__
    if (C % 16 == 0) {
        /* 16 channels at a time: the 9 taps and the bias stay in registers along a row */
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

/* im2col (sequential) of a 3x3 pad-1 stride-s conv on a channel-last map (rows [row0, ...)
 * present): col ((oy1-oy0) * Wo, 9 * C), column index (ky*3 + kx)*C + ci. */
static void im2col3x3(const float *x, int H, int W, int row0, int C, int s, int oy0, int oy1,
                      int Wo, float *col)
{
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
 * -> x (256*256, 64). Bands of BAND_PE output rows; each band computes the 2*BAND_PE+1 rows
 * of the first conv it needs (c1), then the second as im2col (col) x GEMM. */
static void patch_embed(const ss_encoder_w *e, const float *in, float *x, float *tslots)
{
    const size_t plane = (size_t)1024 * 1024;
#pragma omp for schedule(dynamic, 1)
    for (int oy0 = 0; oy0 < 256; oy0 += BAND_PE) {
        float *c1 = tslots + (size_t)THREAD_ID() * SZ_T;        /* ((2*BAND_PE+1) * 512, 32) */
        float *col = c1 + (size_t)(2 * BAND_PE + 1) * 512 * 32; /* (BAND_PE * 256, 288) */
        _Static_assert((size_t)BAND_PE * 256 * 288 >= (size_t)(2 * BAND_PE + 1) * 512 * 27, "col1");
        const int oy1 = oy0 + BAND_PE;
        const int r0 = oy0 * 2 - 1 < 0 ? 0 : oy0 * 2 - 1, r1 = oy1 * 2; /* conv1 rows [r0, r1) */
        /* conv1 as im2col (rows * 512, 27), column ci*9 + ky*3 + kx, x (32, 27)^T + GELU */
        float *col1 = col; /* the second im2col reuses the space afterwards */
        for (int y = r0; y < r1; y++)
            for (int xx = 0; xx < 512; xx++) {
                float *cr = col1 + ((size_t)(y - r0) * 512 + xx) * 27;
                for (int ci = 0; ci < 3; ci++)
                    for (int ky = 0; ky < 3; ky++) {
                        const int iy = 2 * y - 1 + ky;
                        for (int kx = 0; kx < 3; kx++) {
                            const int ix = 2 * xx - 1 + kx;
                            cr[ci * 9 + ky * 3 + kx] = iy < 0 || iy >= 1024 || ix < 0 || ix >= 1024
                                                           ? 0.0f
                                                           : in[ci * plane + (size_t)iy * 1024 + ix];
                        }
                    }
            }
        ss_gemm_packed_seq(col1, 27, (r1 - r0) * 512, &e->pe1, e->pe1_b, c1, 32, SS_GEMM_GELU);
        im2col3x3(c1, 512, 512, r0, 32, 2, oy0, oy1, 256, col);
        ss_gemm_packed_seq(col, 288, BAND_PE * 256, &e->pe2, e->pe2_b, x + (size_t)oy0 * 256 * 64,
                           64, 0);
    }
}

/* ---- MBConv / PatchMerging -----------------------------------------------------------------
 * x (H*W, cin) -> 1x1 cin->ch + GELU -> depthwise 3x3/s + GELU -> 1x1 ch->cout -> y (Ho*Wo, cout);
 * MBConv (residual): y = GELU(y + x). Bands of `band` output rows; a band needs 1 or 2 conv1
 * rows beyond its own, which are taken over from the band above when the same thread ran it. */
static void mb_forward(const mb_unit *u, const float *x, int H, int W, float *y, int residual,
                       int band, float *tslots)
{
    const int s = u->stride, Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1;
    int have0 = 0, have1 = 0; /* conv1 rows [have0, have1) left at the start of this thread's b1 */
#ifdef _OPENMP
    const int nb = (Ho + band - 1) / band, per = nb / (4 * omp_get_num_threads());
    const int chunk = per > 1 ? per : 1; /* about 4 chunks of consecutive bands per thread */
#else
    const int chunk = 1;
#endif
    (void)chunk;
#pragma omp for schedule(dynamic, chunk)
    for (int oy0 = 0; oy0 < Ho; oy0 += band) {
        const int oy1 = oy0 + band < Ho ? oy0 + band : Ho;
        const int r0 = oy0 * s - 1 < 0 ? 0 : oy0 * s - 1;
        const int r1 = (oy1 - 1) * s + 2 < H ? (oy1 - 1) * s + 2 : H; /* input rows [r0, r1) */
        const size_t nin = (size_t)(r1 - r0) * W, nout = (size_t)(oy1 - oy0) * Wo;
        float *b1 = tslots + (size_t)THREAD_ID() * SZ_T; /* (nin, ch) */
        float *b2 = b1 + nin * u->ch;                     /* (nout, ch) */
        assert((nin + nout) * u->ch <= SZ_T);
        /* conv1 + GELU; bands are handed out in chunks of consecutive bands (dynamic, so a
         * thread that was preempted does not hold the others up), and when a thread's previous
         * band is the one just above, the conv1 rows the two share are moved, not recomputed */
        int c0 = r0;
        if (have0 <= r0 && r0 < have1) {
            memmove(b1, b1 + (size_t)(r0 - have0) * W * u->ch, sizeof(float) * (have1 - r0) * W * u->ch);
            c0 = have1;
        }
        ss_gemm_packed_seq(x + (size_t)c0 * W * u->cin, u->cin, (r1 - c0) * W, &u->w1, u->b1,
                           b1 + (size_t)(c0 - r0) * W * u->ch, u->ch, SS_GEMM_GELU);
        have0 = r0, have1 = r1;
        /* conv2 (depthwise) + GELU */
        dw3x3(b1, H, W, r0, r1 - r0, u->ch, u->dw, u->bdw, s, oy0, oy1, Wo, b2, 1);
        /* conv3 (+ shortcut, GELU) */
        float *yo = y + (size_t)oy0 * Wo * u->cout;
        ss_gemm_packed_seq(b2, u->ch, (int)nout, &u->w3, u->b3, yo, u->cout, 0);
        if (residual) {
            const float *xo = x + (size_t)oy0 * W * u->cin;
            const size_t n = nout * u->cout;
#ifdef __AVX512F__
            for (size_t i = 0; i + 16 <= n; i += 16)
                _mm512_storeu_ps(yo + i, ss_gelu16(_mm512_add_ps(_mm512_loadu_ps(yo + i),
                                                                 _mm512_loadu_ps(xo + i))));
            for (size_t i = n & ~(size_t)15; i < n; i++) yo[i] = ss_gelu_approx(yo[i] + xo[i]);
#else
#pragma omp simd
            for (size_t i = 0; i < n; i++) yo[i] = ss_gelu_approx(yo[i] + xo[i]);
#endif
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

/* TinyViT block, attention half, in place on x (H*W, C): x += proj(attn(norm(x))) with
 * ws x ws windows over the map zero-padded at the bottom/right to a multiple of ws. One
 * window per task: its real tokens are gathered (t), normalised and projected to qkv; padding
 * tokens use the constant pad_qkv row; only real queries are computed and written back. */
static void block_attention(const vit_block *b, float *x, int H, int W, float *tslots)
{
    const int C = b->dim, ws = b->ws, n = b->n, heads = b->heads;
    const int nwx = (W + ws - 1) / ws, nwy = (H + ws - 1) / ws;
#pragma omp for schedule(dynamic, 1)
    for (int win = 0; win < nwx * nwy; win++) {
        float *t = tslots + (size_t)THREAD_ID() * SZ_T; /* (nr, C) normalised tokens */
        float *qkv = t + (size_t)n * C;                  /* (nr, 3C) */
        float *ao = qkv + (size_t)n * 3 * C;             /* (nr, C) attention output */
        const float *rows[MAX_WIN_N];
        int dst[MAX_WIN_N], src[MAX_WIN_N];
        const int wy = win / nwx, wx = win % nwx;
        int nr = 0;
        for (int i = 0; i < ws; i++)
            for (int j = 0; j < ws; j++) {
                const int yy = wy * ws + i, xx = wx * ws + j, k = i * ws + j;
                if (yy < H && xx < W) {
                    src[nr] = yy * W + xx;
                    dst[k] = nr++;
                } else {
                    dst[k] = -1;
                }
            }
        for (int r = 0; r < nr; r++)
            ss_layernorm_seq(x + (size_t)src[r] * C, t + (size_t)r * C, 1, C, b->norm_w, b->norm_b, 1e-5f);
        ss_gemm_packed_seq(t, C, nr, &b->qkv, b->qkv_b, qkv, 3 * C, 0);
        for (int k = 0; k < n; k++) rows[k] = dst[k] >= 0 ? qkv + (size_t)dst[k] * 3 * C : b->pad_qkv;
        for (int h = 0; h < heads; h++) window_head(rows, dst, n, h, b->bias + (size_t)h * n * n, ao, C);
        /* attn.proj, then residual into the window's tokens */
        ss_gemm_packed_seq(ao, C, nr, &b->proj, b->proj_b, t, C, 0);
        for (int r = 0; r < nr; r++) {
            float *xr = x + (size_t)src[r] * C;
            const float *tr = t + (size_t)r * C;
#pragma omp simd
            for (int c = 0; c < C; c++) xr[c] += tr[c];
        }
    }
}

/* TinyViT block, second half: y = local_conv(x) (depthwise 3x3 Conv_BN), y += mlp(y), in
 * chunks of whole image rows (CHUNK tokens). */
static void block_conv_mlp(const vit_block *b, const float *x, int H, int W, float *y, float *tslots)
{
    const int C = b->dim, rows = CHUNK / W > 0 ? CHUNK / W : 1;
#pragma omp for schedule(dynamic, 1)
    for (int y0 = 0; y0 < H; y0 += rows) {
        const int y1 = y0 + rows < H ? y0 + rows : H, m = (y1 - y0) * W;
        float *t = tslots + (size_t)THREAD_ID() * SZ_T; /* (m, C) */
        float *hid = t + (size_t)m * C;                  /* (m, 4C) */
        float *yr = y + (size_t)y0 * W * C;
        dw3x3(x, H, W, 0, H, C, b->local_w, b->local_b, 1, y0, y1, W, yr, 0);
        ss_layernorm_seq(yr, t, m, C, b->mlp_norm_w, b->mlp_norm_b, 1e-5f);
        ss_gemm_packed_seq(t, C, m, &b->fc1, b->fc1_b, hid, 4 * C, SS_GEMM_GELU);
        ss_gemm_packed_seq(hid, 4 * C, m, &b->fc2, b->fc2_b, yr, C, SS_GEMM_ACC);
    }
}

/* ---- neck ---------------------------------------------------------------------------------
 * x (64*64, 320) -> 1x1 320->256 (no bias) -> LayerNorm2d -> t (4096, 256); then
 * 3x3 256->256 pad 1 (no bias) -> LayerNorm2d -> out (256, 64*64) channel-first. The second
 * half needs all of t (barrier between the two loops). */
static void neck_forward(const ss_encoder_w *e, const float *x, float *t, float *out, float *tslots)
{
#pragma omp for schedule(dynamic, 1)
    for (int y0 = 0; y0 < 64; y0 += 2) {
        float *tr = t + (size_t)y0 * 64 * 256;
        ss_gemm_packed_seq(x + (size_t)y0 * 64 * 320, 320, 128, &e->neck0, NULL, tr, 256, 0);
        ss_layernorm_seq(tr, tr, 128, 256, e->ln1_w, e->ln1_b, 1e-6f);
    }
#pragma omp for schedule(dynamic, 1)
    for (int oy0 = 0; oy0 < 64; oy0 += BAND_NECK) {
        float *col = tslots + (size_t)THREAD_ID() * SZ_T; /* (BAND_NECK * 64, 2304) */
        float *u = col + (size_t)BAND_NECK * 64 * 2304;   /* (BAND_NECK * 64, 256) */
        const int np = BAND_NECK * 64;
        im2col3x3(t, 64, 64, 0, 256, 1, oy0, oy0 + BAND_NECK, 64, col);
        ss_gemm_packed_seq(col, 2304, np, &e->neck2, NULL, u, 256, 0);
        ss_layernorm_seq(u, u, np, 256, e->ln2_w, e->ln2_b, 1e-6f);
        /* (np, 256) -> out[:, oy0*64 ...] channel-first */
        for (int c0 = 0; c0 < 256; c0 += 16)
            for (int p = 0; p < np; p++)
                for (int c = c0; c < c0 + 16; c++)
                    out[(size_t)c * 4096 + (size_t)oy0 * 64 + p] = u[(size_t)p * 256 + c];
    }
}

int ss_encoder_forward(const ss_encoder_w *e, const float *input, float *out, float *scratch,
                       ss_abort_cb abort_cb, void *abort_ud)
{
    float *xa = scratch;      /* token maps, (H*W, C) */
    float *xb = xa + SZ_X;
    float *ts = xb + SZ_X;    /* per-thread buffers, SZ_T each */
    int stop = 0;
    const int nt = enc_threads(e);
    (void)nt; /* unused without OpenMP */
    _Static_assert((size_t)(2 * BAND_PE + 1) * 512 * 32 + (size_t)BAND_PE * 256 * 288 <= SZ_T,
                   "patch_embed band");
    _Static_assert((size_t)BAND_NECK * 64 * (2304 + 256) <= SZ_T, "neck band");
    _Static_assert((size_t)CHUNK * 5 * 320 <= SZ_T && (size_t)MAX_WIN_N * 5 * 160 <= SZ_T &&
                   (size_t)49 * 5 * 320 <= SZ_T, "TinyViT buffers");

    /* One parallel region for the whole pass: every stage shares its bands / windows / chunks
     * out with `omp for` (whose implicit barrier separates stages); the calling thread polls
     * the abort callback between blocks and all threads leave together. */
#pragma omp parallel num_threads(nt)
    {
#define CHECK_ABORT()                                         \
    _Pragma("omp master") stop = abort_cb && abort_cb(abort_ud); \
    _Pragma("omp barrier") if (stop) goto done;

        /* patch_embed: (3, 1024, 1024) -> xa (256*256, 64) */
        patch_embed(e, input, xa, ts);
        CHECK_ABORT();
        /* layers.0: 2 MBConv (256*256, 64), then PatchMerging -> xb (128*128, 128) */
        mb_forward(&e->mb[0], xa, 256, 256, xb, 1, BAND_MB, ts);
        CHECK_ABORT();
        mb_forward(&e->mb[1], xb, 256, 256, xa, 1, BAND_MB, ts);
        CHECK_ABORT();
        mb_forward(&e->pm[0], xa, 256, 256, xb, 0, BAND_PM, ts);
        CHECK_ABORT();
        /* layers.1..3: TinyViT blocks (+ PatchMerging after layers.1 and .2) */
        {
            float *x = xb, *y = xa;
            int k = 0;
            for (int l = 1; l < 4; l++) {
                const int res = st_res[l];
                for (int i = 0; i < st_depth[l]; i++) {
                    block_attention(&e->blk[k], x, res, res, ts);
                    block_conv_mlp(&e->blk[k], x, res, res, y, ts);
                    k++;
                    float *tmp = x;
                    x = y, y = tmp;
                    CHECK_ABORT();
                }
                if (l < 3) {
                    mb_forward(&e->pm[l], x, res, res, y, 0, BAND_PM, ts);
                    float *tmp = x;
                    x = y, y = tmp;
                    CHECK_ABORT();
                }
            }
            /* neck: x (64*64, 320) -> out (256, 64, 64) */
            neck_forward(e, x, y, out, ts);
        }
    done:;
#undef CHECK_ABORT
    }
    return stop ? SS_ERR_ABORTED : SS_OK;
}
