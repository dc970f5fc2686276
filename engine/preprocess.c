/* preprocess.c — image pre-processing and mask post-processing, as SAM's reference does them.
 *
 * Pre: SAM's ResizeLongestSide.apply_image = torchvision resize of a PIL image = Pillow's
 * Image.resize(BILINEAR): a triangle filter whose support grows with the downscale factor
 * (antialiased), coefficients normalised then quantised to 22-bit fixed point, horizontal pass
 * then vertical pass, each rounded and clipped to uint8. Reproduced bit-exactly here.
 * Then normalise with SAM's pixel mean/std and pad bottom/right with zeros (after normalising).
 *
 * Post: as SAM's postprocess_masks / the ONNX graph: bilinear (half-pixel, no antialias)
 * 256² → 1024², crop to the resized image, bilinear to the original size, threshold 0. The two
 * separable linear maps are composed per axis into one set of taps (at most 4 per output). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stablesam.h"
#include "ops.h"

#define PRECISION_BITS (32 - 8 - 2)

void ss_target_size(int width, int height, int *new_w, int *new_h)
{
    int long_side = width > height ? width : height;
    double scale = (double)SS_IMG_SIZE / long_side;
    *new_w = (int)floor(width * scale + 0.5);
    *new_h = (int)floor(height * scale + 0.5);
    if (*new_w < 1) *new_w = 1;
    if (*new_h < 1) *new_h = 1;
}

/* Pillow's precompute_coeffs for the bilinear (triangle) filter, then 8bpc normalisation.
 * bounds: (xmin, count) per output; kk: ksize int coefficients per output. */
static int pil_coeffs(int in_size, int out_size, int **bounds_out, int **kk_out, int *ksize_out)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    double *pre = malloc(sizeof(double) * (size_t)ksize * (size_t)out_size);
    int *kk = malloc(sizeof(int) * (size_t)ksize * (size_t)out_size);
    if (!bounds || !pre || !kk) {
        free(bounds);
        free(pre);
        free(kk);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = pre + (size_t)xx * ksize;
        int x;
        for (x = 0; x < xmax; x++) {
            double t = (x + xmin - center + 0.5) * ss;
            if (t < 0.0) t = -t;
            double w = t < 1.0 ? 1.0 - t : 0.0;
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0.0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++)
        kk[i] = pre[i] < 0 ? (int)(-0.5 + pre[i] * (1 << PRECISION_BITS))
                           : (int)(0.5 + pre[i] * (1 << PRECISION_BITS));
    free(pre);
    *bounds_out = bounds;
    *kk_out = kk;
    *ksize_out = ksize;
    return 0;
}

static inline uint8_t clip8(int in)
{
    if (in >= (1 << PRECISION_BITS << 8)) return 255;
    if (in <= 0) return 0;
    return (uint8_t)(in >> PRECISION_BITS);
}

/* Pillow-exact RGB resize into a packed (nh, nw, 3) buffer. */
static int pil_resize_rgb(const uint8_t *rgb, int w, int h, int stride, int nw, int nh, uint8_t *out)
{
    int *xb = NULL, *xk = NULL, *yb = NULL, *yk = NULL, xks = 0, yks = 0;
    uint8_t *tmp = NULL;
    int rc = -1;
    const uint8_t *src = rgb;
    int src_stride = stride;

    if (nw != w) {
        if (pil_coeffs(w, nw, &xb, &xk, &xks)) goto done;
        tmp = malloc((size_t)nw * 3 * (size_t)h);
        if (!tmp) goto done;
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
        for (int y = 0; y < h; y++) {
            const uint8_t *row = rgb + (size_t)y * stride;
            uint8_t *orow = tmp + (size_t)y * nw * 3;
            for (int xx = 0; xx < nw; xx++) {
                int xmin = xb[xx * 2], xmax = xb[xx * 2 + 1];
                const int *k = xk + (size_t)xx * xks;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    const uint8_t *p = row + (size_t)(x + xmin) * 3;
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                orow[xx * 3] = clip8(s0);
                orow[xx * 3 + 1] = clip8(s1);
                orow[xx * 3 + 2] = clip8(s2);
            }
        }
        src = tmp;
        src_stride = nw * 3;
    }
    if (nh != h) {
        if (pil_coeffs(h, nh, &yb, &yk, &yks)) goto done;
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
        for (int yy = 0; yy < nh; yy++) {
            int ymin = yb[yy * 2], ymax = yb[yy * 2 + 1];
            const int *k = yk + (size_t)yy * yks;
            uint8_t *orow = out + (size_t)yy * nw * 3;
            for (int x = 0; x < nw * 3; x++) {
                int s = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++) s += src[(size_t)(y + ymin) * src_stride + x] * k[y];
                orow[x] = clip8(s);
            }
        }
    } else {
        for (int y = 0; y < nh; y++) memcpy(out + (size_t)y * nw * 3, src + (size_t)y * src_stride, (size_t)nw * 3);
    }
    rc = 0;
done:
    free(xb);
    free(xk);
    free(yb);
    free(yk);
    free(tmp);
    return rc;
}

/* Resize (width, height) to (nw, nh), normalise, pad -> (3, 1024, 1024). */
static int preprocess_to(const uint8_t *rgb, int width, int height, int stride, int nw, int nh, float *out)
{
    static const double mean[3] = {123.675, 116.28, 103.53};
    static const double std[3] = {58.395, 57.12, 57.375};
    uint8_t *rs = malloc((size_t)nw * nh * 3);
    if (!rs) return SS_ERR_NOMEM;
    if (pil_resize_rgb(rgb, width, height, stride, nw, nh, rs)) {
        free(rs);
        return SS_ERR_NOMEM;
    }
    /* (3, 1024, 1024), resized image top-left, zeros elsewhere */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = (float)((v - mean[c]) / std[c]);
    const size_t plane = (size_t)SS_IMG_SIZE * SS_IMG_SIZE;
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int y = 0; y < SS_IMG_SIZE; y++) {
        for (int c = 0; c < 3; c++) {
            float *o = out + c * plane + (size_t)y * SS_IMG_SIZE;
            if (y < nh) {
                const uint8_t *r = rs + (size_t)y * nw * 3 + c;
                for (int x = 0; x < nw; x++) o[x] = lut[c][r[x * 3]];
                memset(o + nw, 0, sizeof(float) * (size_t)(SS_IMG_SIZE - nw));
            } else {
                memset(o, 0, sizeof(float) * SS_IMG_SIZE);
            }
        }
    }
    free(rs);
    return SS_OK;
}

int ss_preprocess(const uint8_t *rgb, int width, int height, int stride, float *out)
{
    return ss_preprocess_scaled(rgb, width, height, stride, width, height, out);
}

int ss_preprocess_scaled(const uint8_t *rgb, int width, int height, int stride, int orig_w, int orig_h,
                         float *out)
{
    if (!rgb || !out || width <= 0 || height <= 0 || stride < width * 3 || orig_w <= 0 || orig_h <= 0)
        return SS_ERR_INPUT;
    int nw, nh;
    ss_target_size(orig_w, orig_h, &nw, &nh); /* the original's frame: same valid region */
    return preprocess_to(rgb, width, height, stride, nw, nh, out);
}

/* --- post-processing ------------------------------------------------------------------- */

typedef struct {
    int idx[4];
    float w[4];
    int n;
} taps;

/* Half-pixel linear resize source position for output index `o` (in -> out), clamped as
 * PyTorch/ONNX do: src = max((o + 0.5) * in / out - 0.5, 0); i0 = floor, i1 = min(i0 + 1, in-1). */
static void lin_src(int o, int in, int out, int *i0, int *i1, double *l)
{
    double s = (o + 0.5) * ((double)in / out) - 0.5;
    if (s < 0) s = 0;
    int a = (int)s;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a + 1 < in ? a + 1 : in - 1;
    *l = s - a;
    if (*l < 0) *l = 0;
}

/* Taps from the 256 low-res axis to output index o of an axis of `size` pixels, where the
 * resized (unpadded) extent in the 1024 frame is `resized`. */
static void axis_taps(int o, int size, int resized, taps *t)
{
    int a0, a1;
    double la;
    lin_src(o, resized, size, &a0, &a1, &la); /* crop(1024 frame)[0:resized] -> size */
    t->n = 0;
    const int mid[2] = {a0, a1};
    const double mw[2] = {1.0 - la, la};
    for (int m = 0; m < 2; m++) {
        int b0, b1;
        double lb;
        lin_src(mid[m], SS_LOWRES_SIDE, SS_IMG_SIZE, &b0, &b1, &lb); /* 256 -> 1024 */
        const int src[2] = {b0, b1};
        const double sw[2] = {1.0 - lb, lb};
        for (int s = 0; s < 2; s++) {
            float w = (float)(mw[m] * sw[s]);
            int k;
            for (k = 0; k < t->n; k++)
                if (t->idx[k] == src[s]) break;
            if (k == t->n) {
                t->idx[t->n] = src[s];
                t->w[t->n] = 0.0f;
                t->n++;
            }
            t->w[k] += w;
        }
    }
}

static int postprocess(const float *low_res, int width, int height, uint8_t *mask_out, float *logits_out)
{
    int nw, nh;
    ss_target_size(width, height, &nw, &nh);
    taps *tx = malloc(sizeof(taps) * (size_t)width);
    float *rows = malloc(sizeof(float) * (size_t)SS_LOWRES_SIDE * (size_t)width); /* (256, width) */
    if (!tx || !rows) {
        free(tx);
        free(rows);
        return SS_ERR_NOMEM;
    }
    for (int x = 0; x < width; x++) axis_taps(x, width, nw, &tx[x]);
    /* only the low-res rows that some output row uses: all rows cheap enough (256 x width) */
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int r = 0; r < SS_LOWRES_SIDE; r++) {
        const float *in = low_res + (size_t)r * SS_LOWRES_SIDE;
        float *o = rows + (size_t)r * width;
        for (int x = 0; x < width; x++) {
            const taps *t = &tx[x];
            float v = 0.0f;
            for (int k = 0; k < t->n; k++) v += t->w[k] * in[t->idx[k]];
            o[x] = v;
        }
    }
#pragma omp parallel for schedule(static) num_threads(ss_get_threads())
    for (int y = 0; y < height; y++) {
        taps ty;
        axis_taps(y, height, nh, &ty);
        for (int x = 0; x < width; x++) {
            float v = 0.0f;
            for (int k = 0; k < ty.n; k++) v += ty.w[k] * rows[(size_t)ty.idx[k] * width + x];
            if (mask_out) mask_out[(size_t)y * width + x] = v > 0.0f;
            if (logits_out) logits_out[(size_t)y * width + x] = v;
        }
    }
    free(tx);
    free(rows);
    return SS_OK;
}

void ss_postprocess_mask(const float *low_res, int width, int height, uint8_t *mask_out)
{
    postprocess(low_res, width, height, mask_out, NULL);
}

void ss_postprocess_logits(const float *low_res, int width, int height, float *logits_out)
{
    postprocess(low_res, width, height, NULL, logits_out);
}
