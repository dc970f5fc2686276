/* metrics.c — IoU, boundary IoU (Cheng et al. 2021, as boundary-iou-api), stability (Stable-SAM
 * Eq. 1) and an exact Euclidean distance transform (Felzenszwalb & Huttenlocher's lower
 * envelope of parabolas, integer distances). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_metrics.h"

static int metrics_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

double ss_iou(const uint8_t *a, const uint8_t *b, const uint8_t *ignore, int width, int height)
{
    size_t n = (size_t)width * (size_t)height;
    uint64_t inter = 0, uni = 0;
    for (size_t i = 0; i < n; i++) {
        if (ignore && ignore[i])
            continue;
        int x = a[i] != 0, y = b[i] != 0;
        inter += (uint64_t)(x & y);
        uni += (uint64_t)(x | y);
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

int ss_boundary_width(int width, int height)
{
    double diag = sqrt((double)width * width + (double)height * height);
    /* nearbyint rounds half to even in the default rounding mode, as Python's round() */
    int d = (int)nearbyint(0.02 * diag);
    return d < 1 ? 1 : d;
}

/* 1-D erosion of a row/column of n values (stride `step`) by a window of radius d with zeros
 * outside: out[i] = 1 iff in[i-d..i+d] are all inside and nonzero. run[] is scratch (n). */
static void erode_1d(const uint8_t *in, uint8_t *out, int n, size_t step, int d, int *run)
{
    int r = 0; /* length of the run of ones ending at i */
    for (int i = 0; i < n; i++) {
        r = in[(size_t)i * step] ? r + 1 : 0;
        run[i] = r;
    }
    r = 0; /* length of the run of ones starting at i */
    for (int i = n - 1; i >= 0; i--) {
        r = in[(size_t)i * step] ? r + 1 : 0;
        out[(size_t)i * step] = (uint8_t)(run[i] > d && r > d);
    }
}

int ss_mask_boundary(const uint8_t *mask, int width, int height, int d, uint8_t *out,
                     char *err, size_t errlen)
{
    if (width <= 0 || height <= 0 || d < 0 || !mask || !out)
        return metrics_fail(err, errlen, SS_ERR_INPUT, "%s: bad arguments (%dx%d, d=%d)",
                            __func__, width, height, d);
    size_t n = (size_t)width * (size_t)height;
    uint8_t *tmp = malloc(n);
    int *run = malloc(sizeof(int) * (size_t)(width > height ? width : height));
    if (!tmp || !run) {
        free(tmp);
        free(run);
        return metrics_fail(err, errlen, SS_ERR_NOMEM, "%s: out of memory", __func__);
    }
    /* binarise into out, erode rows into tmp, then columns of tmp back into out */
    for (size_t i = 0; i < n; i++)
        out[i] = mask[i] != 0;
    for (int y = 0; y < height; y++)
        erode_1d(out + (size_t)y * width, tmp + (size_t)y * width, width, 1, d, run);
    for (int x = 0; x < width; x++)
        erode_1d(tmp + x, out + x, height, (size_t)width, d, run);
    /* boundary = mask and not eroded */
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((mask[i] != 0) & !out[i]);
    free(tmp);
    free(run);
    return SS_OK;
}

double ss_boundary_iou(const uint8_t *gt, const uint8_t *pred, const uint8_t *ignore,
                       int width, int height)
{
    size_t n = (size_t)width * (size_t)height;
    int d = ss_boundary_width(width, height);
    uint8_t *bg = malloc(n ? n : 1), *bp = malloc(n ? n : 1);
    if (!bg || !bp || ss_mask_boundary(gt, width, height, d, bg, NULL, 0) ||
        ss_mask_boundary(pred, width, height, d, bp, NULL, 0)) {
        free(bg);
        free(bp);
        return -1.0;
    }
    double r = ss_iou(bg, bp, ignore, width, height);
    free(bg);
    free(bp);
    return r;
}

double ss_boundary_iou_gtb(const uint8_t *gt_boundary, const uint8_t *pred, const uint8_t *ignore,
                           int width, int height)
{
    size_t n = (size_t)width * (size_t)height;
    uint8_t *bp = malloc(n ? n : 1);
    if (!bp || ss_mask_boundary(pred, width, height, ss_boundary_width(width, height), bp, NULL, 0)) {
        free(bp);
        return -1.0;
    }
    double r = ss_iou(gt_boundary, bp, ignore, width, height);
    free(bp);
    return r;
}

double ss_stability(const uint8_t *const *masks, int n, int width, int height)
{
    if (n <= 0 || !masks || width < 0 || height < 0)
        return -1.0;
    size_t np = (size_t)width * (size_t)height;
    uint8_t *uni = calloc(np ? np : 1, 1);
    if (!uni)
        return -1.0;
    for (int i = 0; i < n; i++)
        for (size_t p = 0; p < np; p++)
            uni[p] |= masks[i][p] != 0;
    uint64_t nu = 0;
    for (size_t p = 0; p < np; p++)
        nu += uni[p];
    free(uni);
    if (nu == 0)
        return 1.0;
    /* M_i ⊂ ∪M_j, so IoU(M_i, ∪M_j) = |M_i| / |∪M_j| */
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)ss_mask_area(masks[i], width, height) / (double)nu;
    return sum / n;
}

/* 1-D squared distance transform of f (n samples) into d: d[q] = min_p (q-p)² + f[p]
 * (Felzenszwalb & Huttenlocher 2012). v (n ints), z (n+1 doubles) are scratch. */
static void edt_1d(const int64_t *f, int64_t *d, int n, int *v, double *z)
{
    int k = 0;
    v[0] = 0;
    z[0] = -HUGE_VAL;
    z[1] = HUGE_VAL;
    for (int q = 1; q < n; q++) {
        double s;
        for (;;) { /* z[0] = -inf ends the loop at k = 0 at the latest */
            int p = v[k];
            s = ((double)(f[q] + (int64_t)q * q) - (double)(f[p] + (int64_t)p * p)) /
                (2.0 * (q - p));
            if (s > z[k])
                break;
            k--;
        }
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = HUGE_VAL;
    }
    k = 0;
    for (int q = 0; q < n; q++) {
        while (z[k + 1] < q)
            k++;
        int64_t dq = (int64_t)(q - v[k]);
        d[q] = dq * dq + f[v[k]];
    }
}

int ss_edt_sq(const uint8_t *mask, int width, int height, int64_t *out, char *err, size_t errlen)
{
    if (width <= 0 || height <= 0 || !mask || !out)
        return metrics_fail(err, errlen, SS_ERR_INPUT, "%s: bad arguments (%dx%d)", __func__,
                            width, height);
    int W = width + 2, H = height + 2; /* zero-padded by 1 */
    int nmax = W > H ? W : H;
    int64_t *g = malloc(sizeof(int64_t) * (size_t)W * H);
    int64_t *f = malloc(sizeof(int64_t) * (size_t)nmax);
    int64_t *dd = malloc(sizeof(int64_t) * (size_t)nmax);
    int *v = malloc(sizeof(int) * (size_t)nmax);
    double *z = malloc(sizeof(double) * (size_t)(nmax + 1));
    if (!g || !f || !dd || !v || !z) {
        free(g); free(f); free(dd); free(v); free(z);
        return metrics_fail(err, errlen, SS_ERR_NOMEM, "%s: out of memory", __func__);
    }
    /* columns: exact 1-D distance to the nearest zero (the pad rows are zero), squared */
    for (int x = 0; x < W; x++) {
        int64_t last = -1; /* row of the last zero seen, pad row 0 is zero */
        for (int y = 0; y < H; y++) {
            int on = (x > 0 && x < W - 1 && y > 0 && y < H - 1) &&
                     mask[(size_t)(y - 1) * width + (x - 1)];
            if (!on)
                last = y;
            g[(size_t)y * W + x] = y - last; /* last >= 0 always: row 0 is padding */
        }
        last = H - 1;
        for (int y = H - 1; y >= 0; y--) {
            int64_t *c = &g[(size_t)y * W + x];
            if (*c == 0)
                last = y;
            else if (last - y < *c)
                *c = last - y;
        }
        for (int y = 0; y < H; y++) {
            int64_t *c = &g[(size_t)y * W + x];
            *c = *c * *c;
        }
    }
    /* rows: lower envelope over the column distances */
    for (int y = 1; y < H - 1; y++) {
        memcpy(f, g + (size_t)y * W, sizeof(int64_t) * (size_t)W);
        edt_1d(f, dd, W, v, z);
        memcpy(out + (size_t)(y - 1) * width, dd + 1, sizeof(int64_t) * (size_t)width);
    }
    free(g); free(f); free(dd); free(v); free(z);
    return SS_OK;
}
