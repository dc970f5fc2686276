/* clicksim.c — the RITM click simulator (Sofiiuk et al., "Reviving Iterative Training with
 * Mask Guidance for Interactive Segmentation", isegm/inference/clicker.py): the next click goes
 * to the point farthest from the boundary of the false-negative or false-positive region,
 * whichever reaches farther; exact Euclidean distances of the zero-padded error masks. */
#include <stdio.h>
#include <stdlib.h>

#include "ss_metrics.h"

/* max over the not-clicked pixels of the squared distance, and its first position */
static void dt_argmax(const int64_t *dt, const uint8_t *clicked, size_t n, int64_t *best,
                      size_t *where)
{
    *best = 0;
    *where = 0;
    for (size_t i = 0; i < n; i++) {
        if (clicked && clicked[i])
            continue;
        if (dt[i] > *best) {
            *best = dt[i];
            *where = i;
        }
    }
}

int ss_click_next(const uint8_t *gt, const uint8_t *pred, const uint8_t *ignore, int width,
                  int height, uint8_t *clicked, ss_point *click, char *err, size_t errlen)
{
    if (!gt || width <= 0 || height <= 0 || !click) {
        if (err && errlen)
            snprintf(err, errlen, "%s: bad arguments", __func__);
        return SS_ERR_INPUT;
    }
    size_t n = (size_t)width * (size_t)height;
    uint8_t *fn = malloc(n), *fp = malloc(n);
    int64_t *dfn = malloc(n * sizeof(int64_t)), *dfp = malloc(n * sizeof(int64_t));
    int rc = SS_OK;
    if (!fn || !fp || !dfn || !dfp) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", __func__);
        rc = SS_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int g = gt[i] != 0, p = pred ? pred[i] != 0 : 0, ok = !(ignore && ignore[i]);
        fn[i] = (uint8_t)(g && !p && ok);
        fp[i] = (uint8_t)(!g && p && ok);
    }
    if ((rc = ss_edt_sq(fn, width, height, dfn, err, errlen)) ||
        (rc = ss_edt_sq(fp, width, height, dfp, err, errlen)))
        goto done;
    int64_t mfn, mfp;
    size_t ifn, ifp;
    dt_argmax(dfn, clicked, n, &mfn, &ifn);
    dt_argmax(dfp, clicked, n, &mfp, &ifp);
    if (mfn == 0 && mfp == 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: no error region left to click on", __func__);
        rc = SS_ERR_INPUT;
        goto done;
    }
    /* positive iff the missed region reaches strictly farther (RITM: fn_max > fp_max) */
    int positive = mfn > mfp;
    size_t at = positive ? ifn : ifp;
    click->x = (float)(at % (size_t)width);
    click->y = (float)(at / (size_t)width);
    click->label = positive ? 1 : 0;
    if (clicked)
        clicked[at] = 1;
done:
    free(fn);
    free(fp);
    free(dfn);
    free(dfp);
    return rc;
}
