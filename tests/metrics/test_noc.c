/* test_noc.c — the NoC loop with a fake predictor: clicks, feedback of the previous low-res
 * logits, IoU per click, NoC thresholds, early exact prediction, human-click sessions, the
 * begin/finish step API the GUI uses (same prompts and IoUs as the loop). */
#include <stdlib.h>
#include <string.h>

#include "ss_metrics.h"
#include "tap.h"

enum { W = 64, H = 48 };

typedef struct {
    const uint8_t *gt;
    int calls;
    int prev_null_first;  /* 1 if the first call had no previous logits */
    int prev_ok;          /* later calls got the logits written by the call before */
    int exact_after;      /* the predictor becomes exact after this many clicks */
} fake;

/* Predicts the GT restricted to columns x < 16·n_points (exact once n >= exact_after), plus
 * a 6x6 false positive at the bottom right until a negative click lands in it. The low-res
 * logits carry the call number so the test can see them fed back. */
static int fake_predict(void *user, const ss_point *pts, int n, const float *prev,
                        uint8_t *mask, float *low_res, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    fake *f = user;
    if (f->calls == 0)
        f->prev_null_first = prev == NULL;
    else if (!prev || prev[0] != (float)f->calls)
        f->prev_ok = 0;
    f->calls++;
    int neg_in_fp = 0;
    for (int i = 0; i < n; i++)
        if (pts[i].label == 0 && pts[i].x >= 50 && pts[i].y >= 36)
            neg_in_fp = 1;
    int lim = n >= f->exact_after ? W : 16 * n;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t v = x < lim ? f->gt[y * W + x] : 0;
            if (!neg_in_fp && n < f->exact_after && x >= 50 && x < 56 && y >= 36 && y < 42)
                v = 1;
            mask[y * W + x] = v;
        }
    for (int i = 0; i < SS_LOWRES_SIDE * SS_LOWRES_SIDE; i++)
        low_res[i] = (float)f->calls;
    return SS_OK;
}

int main(void)
{
    char err[256] = "";
    uint8_t *gt = calloc(W * H, 1);
    for (int y = 8; y < 32; y++)
        for (int x = 4; x < 44; x++)
            gt[y * W + x] = 1; /* 40 x 24 rectangle */

    fake f = {.gt = gt, .prev_ok = 1, .exact_after = 5};
    ss_noc_session *s = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    ss_noc_params p = ss_noc_default_params();
    TAP_OK(p.max_clicks == 20 && p.feed_back == 1, "default: 20 clicks, feedback on");
    int rc = ss_noc_run(s, &p, fake_predict, &f, err, sizeof err);
    TAP_OK(rc == SS_OK, "run ok %s", err);
    TAP_OK(ss_noc_n_clicks(s) == 20, "20 IoU entries recorded");
    /* clicks 1-3 positive (the missed part reaches farther than the 6x6 FP), click 4 negative
       in the FP block: exact after 4 clicks */
    TAP_OK(f.calls == 4, "predictor called until exact (4 calls, got %d)", f.calls);
    TAP_OK(f.prev_null_first && f.prev_ok, "first call without logits, then the previous ones");
    const double *iou = ss_noc_ious(s);
    const ss_point *c = ss_noc_clicks(s);
    /* click 1: centre of the rectangle (first row-major pixel at max distance), positive */
    TAP_OK(c[0].label == 1 && gt[(int)c[0].y * W + (int)c[0].x], "click 1 positive inside the GT");
    /* after click 1: GT columns 4..15 (12 x 24 = 288) + FP 36 -> IoU 288 / (960 + 36) */
    TAP_NEAR(iou[0], 288.0 / 996.0, 1e-12, "IoU after click 1");
    int mono = 1;
    for (int i = 1; i < 20; i++)
        mono &= iou[i] >= iou[i - 1] - 1e-12;
    TAP_OK(mono, "IoU non-decreasing for this predictor");
    TAP_OK(c[1].label == 1 && c[2].label == 1 && c[3].label == 0, "clicks +, +, +, -");
    TAP_NEAR(iou[3], 1.0, 0, "exact after click 4");
    TAP_OK(c[4].label == -1 && iou[19] == 1.0, "entries after the exact prediction: no click, IoU 1");
    TAP_OK(ss_noc_clicks_to(s, 0.85) <= 5 && ss_noc_clicks_to(s, 0.90) <= 5,
           "NoC85 = %d, NoC90 = %d", ss_noc_clicks_to(s, 0.85), ss_noc_clicks_to(s, 0.90));
    TAP_OK(ss_noc_clicks_to(s, 1.01) == 20, "unreachable threshold -> max clicks");
    TAP_OK(ss_noc_run(s, &p, fake_predict, &f, err, sizeof err) == SS_ERR_STATE,
           "run refuses a used session");
    ss_noc_free(s);

    /* the loop is deterministic */
    fake g = {.gt = gt, .prev_ok = 1, .exact_after = 99};
    fake g2 = g;
    ss_noc_session *s1 = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    ss_noc_session *s2 = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    ss_noc_run(s1, &p, fake_predict, &g, err, sizeof err);
    ss_noc_run(s2, &p, fake_predict, &g2, err, sizeof err);
    TAP_OK(memcmp(ss_noc_clicks(s1), ss_noc_clicks(s2), sizeof(ss_point) * 20) == 0 &&
               memcmp(ss_noc_ious(s1), ss_noc_ious(s2), sizeof(double) * 20) == 0,
           "two runs give the same clicks and IoUs");
    /* a negative click lands in the FP block at some point */
    int neg = 0;
    for (int i = 0; i < 20; i++)
        neg |= ss_noc_clicks(s1)[i].label == 0;
    TAP_OK(neg, "the false-positive block draws a negative click");
    ss_noc_free(s1);
    ss_noc_free(s2);

    /* stop_iou */
    fake h = {.gt = gt, .prev_ok = 1, .exact_after = 3};
    ss_noc_params ps = p;
    ps.stop_iou = 0.5;
    s = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    ss_noc_run(s, &ps, fake_predict, &h, err, sizeof err);
    TAP_OK(ss_noc_n_clicks(s) < 20 && ss_noc_ious(s)[ss_noc_n_clicks(s) - 1] >= 0.5,
           "stop_iou ends the loop early (%d clicks)", ss_noc_n_clicks(s));
    ss_noc_free(s);

    /* human clicks (GUI): add + suggest, max clicks enforced */
    s = ss_noc_new(gt, NULL, W, H, 2, err, sizeof err);
    ss_point sug;
    TAP_OK(ss_noc_suggest(s, NULL, &sug, err, sizeof err) == SS_OK && sug.label == 1,
           "suggest a first click");
    double v = -1;
    TAP_OK(ss_noc_add(s, sug, gt, &v, err, sizeof err) == SS_OK && v == 1.0, "add: IoU 1");
    TAP_OK(ss_noc_add(s, sug, gt, &v, err, sizeof err) == SS_OK, "second add");
    TAP_OK(ss_noc_add(s, sug, gt, &v, err, sizeof err) == SS_ERR_STATE, "third add refused");
    ss_noc_free(s);

    /* the step API (the GUI's path): the simulator's clicks replayed by hand through
       begin -> predict -> finish give the same prompts, mask inputs and IoUs as ss_noc_run */
    fake r1 = {.gt = gt, .prev_ok = 1, .exact_after = 99};
    s1 = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    ss_noc_run(s1, &p, fake_predict, &r1, err, sizeof err);
    fake r2 = {.gt = gt, .prev_ok = 1, .exact_after = 99};
    s2 = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    uint8_t *mask = malloc(W * H);
    float *lr = malloc(sizeof(float) * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    int same_sug = 1, prompts_ok = 1, all_ok = 1, n_real = 0;
    while (n_real < 20 && ss_noc_clicks(s1)[n_real].label >= 0)
        n_real++;
    for (int i = 0; i < n_real; i++) {
        ss_point want = ss_noc_clicks(s1)[i], got;
        if (ss_noc_suggest(s2, i ? mask : NULL, &got, err, sizeof err) != SS_OK ||
            got.x != want.x || got.y != want.y || got.label != want.label)
            same_sug = 0;
        ss_prompt pr;
        all_ok &= ss_noc_begin(s2, want, &pr, err, sizeof err) == SS_OK;
        prompts_ok &= pr.n_points == i + 1 && !pr.has_box && (i == 0) == (pr.mask_input == NULL) &&
                      memcmp(pr.points, ss_noc_clicks(s1), sizeof(ss_point) * (i + 1)) == 0;
        all_ok &= fake_predict(&r2, pr.points, pr.n_points, pr.mask_input, mask, lr, err,
                               sizeof err) == SS_OK;
        double v2;
        all_ok &= ss_noc_finish(s2, mask, lr, 0.25 * i, &v2, err, sizeof err) == SS_OK &&
                  v2 == ss_noc_ious(s1)[i];
    }
    TAP_OK(n_real >= 4 && all_ok && r2.prev_null_first && r2.prev_ok,
           "step API: %d clicks, logits fed back", n_real);
    ss_point none;
    TAP_OK(ss_noc_suggest(s2, mask, &none, err, sizeof err) == SS_ERR_INPUT,
           "step API: nothing left to click where the loop stopped clicking");
    TAP_OK(same_sug, "step API: suggestions = the simulator's clicks");
    TAP_OK(prompts_ok, "step API: prompts = every click so far, mask input from click 2 on");
    TAP_OK(memcmp(ss_noc_ious(s1), ss_noc_ious(s2), sizeof(double) * n_real) == 0,
           "step API: bit-identical IoUs");
    TAP_OK(ss_noc_seconds(s2)[3] == 0.75 && ss_noc_seconds(s1)[3] == 0.0, "seconds stored as given");
    TAP_OK(ss_noc_reached(s2, 1.01) == 0 && ss_noc_reached(s2, 0.2) == ss_noc_clicks_to(s2, 0.2),
           "reached: 0 when never, else clicks_to");
    ss_noc_free(s1);
    ss_noc_free(s2);
    ss_prompt pr;
    ss_point c0 = {1, 1, 1};
    s = ss_noc_new(gt, NULL, W, H, 1, err, sizeof err);
    ss_noc_begin(s, c0, &pr, err, sizeof err);
    ss_noc_finish(s, gt, NULL, 0, NULL, err, sizeof err);
    TAP_OK(ss_noc_begin(s, c0, &pr, err, sizeof err) == SS_ERR_STATE, "begin after max clicks refused");
    ss_noc_free(s);

    s = ss_noc_new(gt, NULL, W, H, 5, err, sizeof err);
    TAP_OK(ss_noc_finish(s, gt, NULL, 0, NULL, err, sizeof err) == SS_ERR_STATE,
           "finish without a pending click refused");
    ss_point bad[] = {{-1, 3, 1}, {W, 3, 1}, {3, H, 0}, {3, 3, 2}, {0.0f / 0.0f, 3, 1}};
    int bad_ok = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        bad_ok &= ss_noc_begin(s, bad[i], &pr, err, sizeof err) == SS_ERR_INPUT;
    TAP_OK(bad_ok, "clicks outside the image / bad labels refused: %s", err);
    TAP_OK(ss_noc_begin(s, c0, &pr, err, sizeof err) == SS_OK && ss_noc_pending(s), "begin");
    TAP_OK(ss_noc_begin(s, c0, &pr, err, sizeof err) == SS_ERR_STATE, "second pending click refused");
    ss_noc_cancel(s);
    TAP_OK(!ss_noc_pending(s) && ss_noc_n_clicks(s) == 0, "cancel drops the pending click");
    ss_noc_set_feed_back(s, 0);
    ss_noc_begin(s, c0, &pr, err, sizeof err);
    ss_noc_finish(s, gt, lr, 0, NULL, err, sizeof err);
    ss_noc_begin(s, c0, &pr, err, sizeof err);
    TAP_OK(pr.mask_input == NULL && pr.n_points == 2, "feed-back off: no mask input");
    ss_noc_free(s);
    free(mask);
    free(lr);
    TAP_OK(ss_noc_new(gt, NULL, W, H, SS_NOC_MAX_CLICKS + 1, err, sizeof err) == NULL,
           "too many clicks refused: %s", err);
    free(gt);
    return tap_done();
}
