/* noc.c — number-of-clicks sessions: the clicks on one object, the IoU after each, the
 * simulated next click, and the automatic NoC loop (predict → IoU → next click, previous
 * low-res logits fed back). Shared by `stablesam eval` and the GUI's NoC mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_metrics.h"

struct ss_noc_session {
    int width, height, max_clicks;
    uint8_t *gt;      /* (height, width) 0/1, owned copy */
    uint8_t *ignore;  /* (height, width) or NULL, owned copy */
    uint8_t *clicked; /* (height, width) pixels already clicked */
    int n;            /* clicks recorded */
    ss_point clicks[SS_NOC_MAX_CLICKS];
    double iou[SS_NOC_MAX_CLICKS];
};

ss_noc_params ss_noc_default_params(void)
{
    ss_noc_params p = {.max_clicks = 20, .feed_back = 1, .stop_iou = 0.0};
    return p;
}

ss_noc_session *ss_noc_new(const uint8_t *gt, const uint8_t *ignore, int width, int height,
                           int max_clicks, char *err, size_t errlen)
{
    if (!gt || width <= 0 || height <= 0 || max_clicks <= 0 || max_clicks > SS_NOC_MAX_CLICKS) {
        if (err && errlen)
            snprintf(err, errlen, "%s: bad arguments (%dx%d, %d clicks, at most %d)", __func__,
                     width, height, max_clicks, SS_NOC_MAX_CLICKS);
        return NULL;
    }
    size_t n = (size_t)width * (size_t)height;
    ss_noc_session *s = calloc(1, sizeof *s);
    if (s) {
        s->gt = malloc(n);
        s->clicked = calloc(n, 1);
        s->ignore = ignore ? malloc(n) : NULL;
    }
    if (!s || !s->gt || !s->clicked || (ignore && !s->ignore)) {
        ss_noc_free(s);
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", __func__);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        s->gt[i] = gt[i] != 0;
    if (ignore)
        memcpy(s->ignore, ignore, n);
    s->width = width;
    s->height = height;
    s->max_clicks = max_clicks;
    return s;
}

void ss_noc_free(ss_noc_session *s)
{
    if (!s)
        return;
    free(s->gt);
    free(s->ignore);
    free(s->clicked);
    free(s);
}

int ss_noc_suggest(ss_noc_session *s, const uint8_t *pred, ss_point *click, char *err,
                   size_t errlen)
{
    /* a scratch copy of the clicked map: a suggestion is not a click until it is added */
    size_t n = (size_t)s->width * (size_t)s->height;
    uint8_t *clicked = malloc(n);
    if (!clicked) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", __func__);
        return SS_ERR_NOMEM;
    }
    memcpy(clicked, s->clicked, n);
    int rc = ss_click_next(s->gt, pred, s->ignore, s->width, s->height, clicked, click, err,
                           errlen);
    free(clicked);
    return rc;
}

static int noc_record(ss_noc_session *s, ss_point click, double iou, char *err, size_t errlen)
{
    if (s->n >= s->max_clicks) {
        if (err && errlen)
            snprintf(err, errlen, "%s: already %d clicks", __func__, s->max_clicks);
        return SS_ERR_STATE;
    }
    int x = (int)click.x, y = (int)click.y;
    if (click.label >= 0 && x >= 0 && y >= 0 && x < s->width && y < s->height)
        s->clicked[(size_t)y * s->width + x] = 1;
    s->clicks[s->n] = click;
    s->iou[s->n] = iou;
    s->n++;
    return SS_OK;
}

int ss_noc_add(ss_noc_session *s, ss_point click, const uint8_t *pred, double *iou_out,
               char *err, size_t errlen)
{
    if (!s || !pred) {
        if (err && errlen)
            snprintf(err, errlen, "%s: NULL argument", __func__);
        return SS_ERR_INPUT;
    }
    double iou = ss_iou(s->gt, pred, s->ignore, s->width, s->height);
    int rc = noc_record(s, click, iou, err, errlen);
    if (rc == SS_OK && iou_out)
        *iou_out = iou;
    return rc;
}

int ss_noc_n_clicks(const ss_noc_session *s) { return s->n; }
const ss_point *ss_noc_clicks(const ss_noc_session *s) { return s->clicks; }
const double *ss_noc_ious(const ss_noc_session *s) { return s->iou; }

int ss_noc_clicks_to(const ss_noc_session *s, double thr)
{
    for (int i = 0; i < s->n; i++)
        if (s->iou[i] >= thr)
            return i + 1;
    return s->max_clicks;
}

int ss_noc_run(ss_noc_session *s, const ss_noc_params *params, ss_noc_predict_fn predict,
               void *user_data, char *err, size_t errlen)
{
    ss_noc_params p = params ? *params : ss_noc_default_params();
    if (!s || !predict || p.max_clicks <= 0 || p.max_clicks > s->max_clicks) {
        if (err && errlen)
            snprintf(err, errlen, "%s: bad arguments", __func__);
        return SS_ERR_INPUT;
    }
    if (s->n != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: the session already has %d clicks", __func__, s->n);
        return SS_ERR_STATE;
    }
    size_t n = (size_t)s->width * (size_t)s->height;
    const size_t lr = (size_t)SS_LOWRES_SIDE * SS_LOWRES_SIDE;
    uint8_t *mask = malloc(n);
    float *prev = malloc(lr * sizeof(float)), *next = malloc(lr * sizeof(float));
    ss_point *pts = malloc(sizeof(ss_point) * (size_t)p.max_clicks);
    int rc = SS_OK, n_pts = 0, have_pred = 0, have_prev = 0;
    if (!mask || !prev || !next || !pts) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", __func__);
        rc = SS_ERR_NOMEM;
        goto done;
    }
    while (s->n < p.max_clicks) {
        ss_point click;
        rc = ss_noc_suggest(s, have_pred ? mask : NULL, &click, err, errlen);
        if (rc == SS_ERR_INPUT && have_pred) {
            /* prediction exact on every counted pixel: nothing left to click */
            if (err && errlen)
                err[0] = '\0';
            ss_point none = {-1.0f, -1.0f, -1};
            double last = s->n ? s->iou[s->n - 1] : 1.0;
            while (s->n < p.max_clicks)
                noc_record(s, none, last, NULL, 0);
            rc = SS_OK;
            break;
        }
        if (rc)
            goto done;
        pts[n_pts++] = click;
        rc = predict(user_data, pts, n_pts, (p.feed_back && have_prev) ? prev : NULL, mask,
                     next, err, errlen);
        if (rc)
            goto done;
        have_pred = 1;
        memcpy(prev, next, lr * sizeof(float));
        have_prev = 1;
        double iou;
        if ((rc = ss_noc_add(s, click, mask, &iou, err, errlen)))
            goto done;
        if (p.stop_iou > 0 && iou >= p.stop_iou)
            break;
    }
done:
    free(mask);
    free(prev);
    free(next);
    free(pts);
    return rc;
}
