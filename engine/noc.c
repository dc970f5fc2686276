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
    int pending;      /* clicks[n] is a click waiting for its prediction */
    int feed_back;    /* previous low-res logits as mask input */
    int have_prev;    /* prev holds the logits of the prediction after click n-1 */
    ss_point clicks[SS_NOC_MAX_CLICKS];
    double iou[SS_NOC_MAX_CLICKS];
    double seconds[SS_NOC_MAX_CLICKS];
    float prev[SS_LOWRES_SIDE * SS_LOWRES_SIDE];
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
    s->feed_back = 1;
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

static int noc_record(ss_noc_session *s, ss_point click, double iou, double seconds, char *err,
                      size_t errlen)
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
    s->seconds[s->n] = seconds;
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
    if (s->pending) {
        if (err && errlen)
            snprintf(err, errlen, "%s: a click is waiting for its prediction", __func__);
        return SS_ERR_STATE;
    }
    double iou = ss_iou(s->gt, pred, s->ignore, s->width, s->height);
    int rc = noc_record(s, click, iou, 0.0, err, errlen);
    if (rc == SS_OK) {
        s->have_prev = 0; /* no logits came with this prediction */
        if (iou_out)
            *iou_out = iou;
    }
    return rc;
}

int ss_noc_begin(ss_noc_session *s, ss_point click, ss_prompt *prompt, char *err, size_t errlen)
{
    if (!s || !prompt) {
        if (err && errlen)
            snprintf(err, errlen, "%s: NULL argument", __func__);
        return SS_ERR_INPUT;
    }
    if (s->pending || s->n >= s->max_clicks) {
        if (err && errlen)
            snprintf(err, errlen, s->pending ? "%s: a click is already waiting for its prediction"
                                             : "%s: all %d clicks are used",
                     __func__, s->max_clicks);
        return SS_ERR_STATE;
    }
    /* (x >= 0 && x < width) is false for NaN too */
    if ((click.label != 0 && click.label != 1) || !(click.x >= 0.0f && click.x < (float)s->width) ||
        !(click.y >= 0.0f && click.y < (float)s->height)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: click (%g, %g, label %d) is not a 0/1 click inside the %dx%d image",
                     __func__, (double)click.x, (double)click.y, click.label, s->width, s->height);
        return SS_ERR_INPUT;
    }
    s->clicks[s->n] = click;
    s->pending = 1;
    memset(prompt, 0, sizeof *prompt);
    prompt->points = s->clicks;
    prompt->n_points = s->n + 1;
    prompt->mask_input = (s->feed_back && s->have_prev && s->n > 0) ? s->prev : NULL;
    return SS_OK;
}

int ss_noc_finish(ss_noc_session *s, const uint8_t *pred, const float *low_res, double seconds,
                  double *iou_out, char *err, size_t errlen)
{
    if (!s || !pred) {
        if (err && errlen)
            snprintf(err, errlen, "%s: NULL argument", __func__);
        return SS_ERR_INPUT;
    }
    if (!s->pending) {
        if (err && errlen)
            snprintf(err, errlen, "%s: no click is waiting for a prediction", __func__);
        return SS_ERR_STATE;
    }
    double iou = ss_iou(s->gt, pred, s->ignore, s->width, s->height);
    s->pending = 0;
    int rc = noc_record(s, s->clicks[s->n], iou, seconds, err, errlen);
    if (rc)
        return rc;
    if (low_res)
        memcpy(s->prev, low_res, sizeof s->prev);
    s->have_prev = low_res != NULL;
    if (iou_out)
        *iou_out = iou;
    return SS_OK;
}

void ss_noc_cancel(ss_noc_session *s)
{
    if (s)
        s->pending = 0;
}

int ss_noc_pending(const ss_noc_session *s) { return s->pending; }
const double *ss_noc_seconds(const ss_noc_session *s) { return s->seconds; }
void ss_noc_set_feed_back(ss_noc_session *s, int feed_back) { s->feed_back = feed_back != 0; }
int ss_noc_max_clicks(const ss_noc_session *s) { return s->max_clicks; }

int ss_noc_reached(const ss_noc_session *s, double thr)
{
    for (int i = 0; i < s->n; i++)
        if (s->iou[i] >= thr)
            return i + 1;
    return 0;
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
    float *next = malloc(lr * sizeof(float));
    int rc = SS_OK, have_pred = 0;
    if (!mask || !next) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", __func__);
        rc = SS_ERR_NOMEM;
        goto done;
    }
    ss_noc_set_feed_back(s, p.feed_back);
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
                noc_record(s, none, last, 0.0, NULL, 0);
            rc = SS_OK;
            break;
        }
        if (rc)
            goto done;
        ss_prompt prompt;
        if ((rc = ss_noc_begin(s, click, &prompt, err, errlen)))
            goto done;
        rc = predict(user_data, prompt.points, prompt.n_points, prompt.mask_input, mask, next,
                     err, errlen);
        if (rc) {
            ss_noc_cancel(s);
            goto done;
        }
        have_pred = 1;
        double iou;
        if ((rc = ss_noc_finish(s, mask, next, 0.0, &iou, err, errlen)))
            goto done;
        if (p.stop_iou > 0 && iou >= p.stop_iou)
            break;
    }
done:
    free(mask);
    free(next);
    return rc;
}
