/* prompts.c — prompt generators of the evaluation protocol (DESIGN §5, Stable-SAM §3):
 * GT box, noisy boxes, IoU-banded noisy boxes, random positive points. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ss_metrics.h"

int ss_gt_box(const uint8_t *mask, int width, int height, float box[4])
{
    double bb[4];
    if (!mask || width <= 0 || height <= 0)
        return SS_ERR_INPUT;
    ss_mask_bbox(mask, width, height, bb);
    if (bb[2] <= 0)
        return SS_ERR_INPUT;
    box[0] = (float)bb[0];
    box[1] = (float)bb[1];
    box[2] = (float)(bb[0] + bb[2] - 1);
    box[3] = (float)(bb[1] + bb[3] - 1);
    return SS_OK;
}

double ss_box_iou(const float a[4], const float b[4])
{
    double ix = fmin(a[2], b[2]) - fmax(a[0], b[0]);
    double iy = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    double inter = (ix > 0 && iy > 0) ? ix * iy : 0.0;
    double aa = ((double)a[2] - a[0]) * ((double)a[3] - a[1]);
    double ab = ((double)b[2] - b[0]) * ((double)b[3] - b[1]);
    double uni = aa + ab - inter;
    return uni > 0 ? inter / uni : 0.0;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* keeps [lo, hi] at least 1 wide inside [0, max] when possible */
static void widen(double *lo, double *hi, double max)
{
    if (*hi - *lo >= 1.0 || max < 1.0)
        return;
    double c = 0.5 * (*lo + *hi);
    c = clampd(c, 0.5, max - 0.5);
    *lo = c - 0.5;
    *hi = c + 0.5;
}

void ss_noisy_box(ss_rng *rng, const float gt_box[4], double scale, int width, int height,
                  float out[4])
{
    double w = (double)gt_box[2] - gt_box[0], h = (double)gt_box[3] - gt_box[1];
    double cx = 0.5 * ((double)gt_box[0] + gt_box[2]), cy = 0.5 * ((double)gt_box[1] + gt_box[3]);
    double u0 = ss_rng_uniform_pm1(rng), u1 = ss_rng_uniform_pm1(rng);
    double u2 = ss_rng_uniform_pm1(rng), u3 = ss_rng_uniform_pm1(rng);
    cx += u0 * w / 2 * scale;
    cy += u1 * h / 2 * scale;
    double nw = fabs(w + u2 * w * scale), nh = fabs(h + u3 * h * scale);
    double x0 = clampd(cx - nw / 2, 0, width - 1), x1 = clampd(cx + nw / 2, 0, width - 1);
    double y0 = clampd(cy - nh / 2, 0, height - 1), y1 = clampd(cy + nh / 2, 0, height - 1);
    widen(&x0, &x1, width - 1);
    widen(&y0, &y1, height - 1);
    out[0] = (float)x0;
    out[1] = (float)y0;
    out[2] = (float)x1;
    out[3] = (float)y1;
}

int ss_noisy_box_band(ss_rng *rng, const float gt_box[4], double lo, double hi, int width,
                      int height, int max_tries, float out[4])
{
    static const double scales[4] = {0.4, 0.6, 0.8, 1.0};
    for (int t = 0; t < max_tries; t++) {
        float b[4];
        ss_noisy_box(rng, gt_box, scales[t % 4], width, height, b);
        double iou = ss_box_iou(b, gt_box);
        if (iou >= lo && iou < hi) {
            for (int i = 0; i < 4; i++)
                out[i] = b[i];
            return SS_OK;
        }
    }
    return SS_ERR_INPUT;
}

int ss_random_points(ss_rng *rng, const uint8_t *mask, const uint8_t *ignore, int width,
                     int height, int k, ss_point *out, char *err, size_t errlen)
{
    if (!mask || width <= 0 || height <= 0 || k <= 0 || !out) {
        if (err && errlen)
            snprintf(err, errlen, "%s: bad arguments", __func__);
        return SS_ERR_INPUT;
    }
    size_t n = (size_t)width * (size_t)height, cnt = 0;
    for (size_t i = 0; i < n; i++)
        cnt += mask[i] && !(ignore && ignore[i]);
    if (cnt == 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: the object has no pixel", __func__);
        return SS_ERR_INPUT;
    }
    uint32_t *idx = malloc(cnt * sizeof *idx);
    if (!idx) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", __func__);
        return SS_ERR_NOMEM;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (mask[i] && !(ignore && ignore[i]))
            idx[j++] = (uint32_t)i;
    for (int i = 0; i < k; i++) {
        uint32_t pix;
        if ((size_t)k <= cnt) { /* partial Fisher-Yates: distinct pixels */
            size_t r = (size_t)i + (size_t)ss_rng_below(rng, cnt - (size_t)i);
            uint32_t t = idx[i];
            idx[i] = idx[r];
            idx[r] = t;
            pix = idx[i];
        } else {
            pix = idx[ss_rng_below(rng, cnt)];
        }
        out[i].x = (float)(pix % (uint32_t)width);
        out[i].y = (float)(pix / (uint32_t)width);
        out[i].label = 1;
    }
    free(idx);
    return SS_OK;
}
