/* Public API with the real model: bad prompts and images give SS_ERR_* with one line, never a
 * crash; encode once / predict many; embedding cache round trip; abort; multimask; the per-image
 * decoder cache (filled, reused, bypassed, reset on every embedding change; cached == full).
 *
 * usage: test-api [PLUGIN]   (PLUGIN: a Stable-SAM plugin file for the Stable-mode cache checks) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stablesam.h"
#include "tap.h"

static int abort_now(void *ud)
{
    int *calls = ud;
    return ++*calls >= 2;
}

static uint8_t *card(int w, int h)
{
    uint8_t *img = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img + ((size_t)y * w + x) * 3;
            double dx = x - w * 0.4, dy = y - h * 0.5;
            int in = dx * dx + dy * dy < (h * 0.2) * (h * 0.2);
            p[0] = in ? 230 : (uint8_t)(40 + x * 60 / w);
            p[1] = in ? 30 : (uint8_t)(90 + y * 60 / h);
            p[2] = in ? 40 : 150;
        }
    return img;
}

static int one_line(const char *err) { return err[0] && !strchr(err, '\n'); }

/* Decodes p with the state's cache and again with no_cache: returns the cached decode's
 * ss_timings.decoder_cache (-1 on error); *rel = max |Δ low-res logit| over the 4 tokens divided by
 * max(1, max |logit|); cached result left in *r. */
static int cached_vs_full(ss_state *st, const ss_prompt *p, ss_mode mode, double *rel, ss_result *r, ss_result *rf)
{
    char err[512];
    ss_predict_params pp = ss_predict_default_params();
    pp.mode = mode;
    pp.want_all = 1;
    pp.want_mask = 0;
    if (ss_predict(st, p, &pp, r, err, sizeof err) != SS_OK) return -1;
    int flag = r->timings.decoder_cache;
    if (ss_state_timings(st)->decoder_cache != flag) return -1;
    pp.no_cache = 1;
    if (ss_predict(st, p, &pp, rf, err, sizeof err) != SS_OK || rf->timings.decoder_cache != SS_CACHE_OFF) return -1;
    double d = 0.0, mx = 1.0;
    for (size_t i = 0; i < (size_t)SS_N_TOKENS * SS_LOWRES_SIDE * SS_LOWRES_SIDE; i++) {
        double e = fabs((double)r->low_res_all[i] - rf->low_res_all[i]);
        d = e > d || isnan(e) ? e : d;
        mx = fabs(rf->low_res_all[i]) > mx ? fabs(rf->low_res_all[i]) : mx;
    }
    *rel = d / mx;
    return flag;
}

/* Box-filter downscale of a packed RGB image (each output pixel: the mean of the source pixels
 * that map to it), as a scaled decoder would give. */
static uint8_t *box_down(const uint8_t *img, int w, int h, int tw, int th)
{
    uint32_t *acc = calloc((size_t)tw * th * 4, sizeof(uint32_t));
    for (int y = 0; y < h; y++) {
        int oy = (int)((long long)y * th / h);
        for (int x = 0; x < w; x++) {
            uint32_t *a = acc + ((size_t)oy * tw + (size_t)((long long)x * tw / w)) * 4;
            const uint8_t *p = img + ((size_t)y * w + x) * 3;
            a[0] += p[0], a[1] += p[1], a[2] += p[2], a[3]++;
        }
    }
    uint8_t *out = malloc((size_t)tw * th * 3);
    for (size_t i = 0; i < (size_t)tw * th; i++)
        for (int c = 0; c < 3; c++) out[i * 3 + c] = (uint8_t)((acc[i * 4 + c] + acc[i * 4 + 3] / 2) / acc[i * 4 + 3]);
    free(acc);
    return out;
}

/* ss_encode_scaled: a 4800x3200 image encoded from its 2048x1365 copy answers in original
 * pixels like the full-size encode (same mask size, box-prompt IoU >= 0.98) */
static void scaled_checks(ss_model *m)
{
    const int W = 4800, H = 3200, TW = 2048, TH = 1365;
    char err[512] = "";
    ss_state *s = ss_state_new(m, err, sizeof err);
    uint8_t *big = card(W, H), *small = box_down(big, W, H, TW, TH);
    ss_result a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ss_predict_params pp = ss_predict_default_params();
    ss_prompt box = {.has_box = 1, .box = {W * 0.4f - H * 0.22f, H * 0.28f, W * 0.4f + H * 0.22f, H * 0.72f}};
    int rc = ss_encode(s, big, W, H, W * 3, err, sizeof err);
    rc = rc ? rc : ss_predict(s, &box, &pp, &a, err, sizeof err);
    free(big);
    int rc2 = ss_encode_scaled(s, small, TW, TH, TW * 3, W, H, err, sizeof err);
    int sw = 0, sh = 0;
    ss_state_image_size(s, &sw, &sh);
    rc2 = rc2 ? rc2 : ss_predict(s, &box, &pp, &b, err, sizeof err);
    size_t inter = 0, uni = 0;
    if (rc == SS_OK && rc2 == SS_OK && a.width == W && a.height == H && b.width == W && b.height == H)
        for (size_t i = 0; i < (size_t)W * H; i++) {
            inter += a.mask[i] && b.mask[i];
            uni += a.mask[i] || b.mask[i];
        }
    double iou = uni ? (double)inter / uni : 0.0;
    tap_ok(rc == SS_OK && rc2 == SS_OK && sw == W && sh == H && b.width == W && b.height == H && iou >= 0.98,
           "encode from a %dx%d copy of %dx%d: state %dx%d, mask %dx%d, box IoU vs full encode %.4f (>= 0.98) %s",
           TW, TH, W, H, sw, sh, b.width, b.height, iou, rc || rc2 ? err : "");
    rc = ss_encode_scaled(s, small, TW, TH, TW * 3, TW - 1, TH, err, sizeof err);
    tap_ok(rc == SS_ERR_INPUT && one_line(err) && ss_state_image_size(s, NULL, NULL) == SS_OK,
           "a copy bigger than the original is refused: %s", err);
    free(small);
    ss_result_clear(&a);
    ss_result_clear(&b);
    ss_state_free(s);
}

/* the decoder cache through the public API (model with a plugin, SAM and Stable mode) */
static void cache_checks(const char *model_path, const char *plugin_path, const uint8_t *img, int W, int H)
{
    char err[512] = "";
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = 2;
    ss_model *m = ss_model_load(model_path, plugin_path, mp, err, sizeof err);
    ss_state *s = m ? ss_state_new(m, err, sizeof err) : NULL;
    tap_ok(s != NULL, "cache: model + plugin %s load (%s)", plugin_path, s ? "ok" : err);
    if (!s) {
        for (int i = 0; i < 9; i++) tap_ok(0, "cache: skipped (no model)");
        ss_model_free(m);
        return;
    }
    ss_result r, rf;
    memset(&r, 0, sizeof r);
    memset(&rf, 0, sizeof rf);
    ss_point pt = {200, 240, 1}, pts[2] = {{200, 240, 1}, {500, 100, 0}};
    ss_prompt p1 = {.points = &pt, .n_points = 1};
    ss_prompt p2 = {.points = pts, .n_points = 2};
    ss_prompt pb = {.has_box = 1, .box = {W * 0.15f, H * 0.25f, W * 0.65f, H * 0.75f}};
    /* 1: a sequence on one encoded image; tolerance 1e-5 x max |logit| (float rounding) */
    int rc = ss_encode(s, img, W, H, W * 3, err, sizeof err);
    const int F = SS_CACHE_FILLED, h = SS_CACHE_HIT;
    struct { const ss_prompt *p; ss_mode mode; int expect; } seq[] = {
        {&p1, SS_MODE_SAM, F}, {&pb, SS_MODE_SAM, h}, {&p1, SS_MODE_STABLE, F}, {&p2, SS_MODE_STABLE, h},
        {NULL, SS_MODE_STABLE, h} /* p1 + the previous logits: the SAM part + its rank-16 term */, {&pb, SS_MODE_STABLE, h}, {&p2, SS_MODE_SAM, h},
    };
    float *prev = malloc(sizeof r.low_res);
    double worst = 0.0, rel;
    int flags_ok = rc == SS_OK;
    char got[64] = "";
    for (size_t i = 0; i < sizeof seq / sizeof seq[0] && flags_ok; i++) {
        ss_prompt pm = {.points = &pt, .n_points = 1, .mask_input = prev};
        int f = cached_vs_full(s, seq[i].p ? seq[i].p : &pm, seq[i].mode, &rel, &r, &rf);
        memcpy(prev, r.low_res, sizeof r.low_res);
        flags_ok &= f == seq[i].expect;
        worst = rel > worst ? rel : worst;
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%d", i ? " " : "", f);
    }
    tap_ok(flags_ok, "cache flags over SAM/Stable prompts, one with a mask input: %s (expect 1 2 1 2 2 2 2)", got);
    tap_ok(flags_ok && worst < 1e-5, "cached == full over that sequence: max |dlogit| / max |logit| %.2g (tol 1e-5)", worst);
    double ref_rel;
    float ref_l = NAN;
    cached_vs_full(s, &p2, SS_MODE_STABLE, &ref_rel, &r, &rf);
    ref_l = rf.low_res_all[70000];
    char path[] = "/tmp/ss-test-cache-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int saved = ss_embedding_save(s, path, err, sizeof err) == SS_OK;
    float *emb = malloc(sizeof(float) * SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);
    memcpy(emb, ss_state_embedding(s), sizeof(float) * SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);

    /* 2: re-encode another image (the card mirrored): refilled, results of the new image */
    uint8_t *img2 = malloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) memcpy(img2 + ((size_t)y * W + x) * 3, img + ((size_t)y * W + W - 1 - x) * 3, 3);
    rc = ss_encode(s, img2, W, H, W * 3, err, sizeof err);
    int f1 = cached_vs_full(s, &p2, SS_MODE_STABLE, &rel, &r, &rf);
    double rel2;
    int f2 = cached_vs_full(s, &p2, SS_MODE_SAM, &rel2, &r, &rf);
    tap_ok(rc == SS_OK && f1 == F && f2 == h && rel < 1e-5 && rel2 < 1e-5 && fabsf(rf.low_res_all[70000] - ref_l) > 1e-3f,
           "re-encode: cache refilled (%d, then %d), cached == full on the new image (%.2g, %.2g; tol 1e-5)", f1, f2,
           rel, rel2);

    /* 3: ss_set_embedding back to the first image */
    rc = ss_set_embedding(s, emb, W, H, err, sizeof err);
    f1 = cached_vs_full(s, &p2, SS_MODE_STABLE, &rel, &r, &rf);
    tap_ok(rc == SS_OK && f1 == F && rel < 1e-5 && rf.low_res_all[70000] == ref_l,
           "ss_set_embedding: cache refilled (%d), cached == full (%.2g; tol 1e-5), the first image's result", f1, rel);

    /* 4: ss_embedding_load of the first image after re-encoding the second */
    ss_encode(s, img2, W, H, W * 3, err, sizeof err);
    cached_vs_full(s, &p1, SS_MODE_STABLE, &rel, &r, &rf);
    rc = saved ? ss_embedding_load(s, path, err, sizeof err) : SS_ERR_IO;
    f1 = cached_vs_full(s, &p2, SS_MODE_STABLE, &rel, &r, &rf);
    tap_ok(rc == SS_OK && f1 == F && rel < 1e-5 && rf.low_res_all[70000] == ref_l,
           "ss_embedding_load: cache refilled (%d), cached == full (%.2g; tol 1e-5), the first image's result", f1, rel);

    /* 5: a failed load leaves no embedding (and no stale cache); loading again refills */
    truncate(path, 5000);
    int bad = ss_embedding_load(s, path, err, sizeof err);
    ss_predict_params pp = ss_predict_default_params();
    tap_ok(bad == SS_ERR_FORMAT && ss_predict(s, &p1, &pp, &r, err, sizeof err) == SS_ERR_STATE,
           "failed embedding load: predict refused (%s)", err);
    ss_set_embedding(s, emb, W, H, err, sizeof err);
    f1 = cached_vs_full(s, &p1, SS_MODE_SAM, &rel, &r, &rf);
    tap_ok(f1 == F && rel < 1e-5, "after the failed load, ss_set_embedding: refilled (%d), cached == full (%.2g)", f1, rel);

    /* 6: aborted encode, then a new embedding: refilled */
    int calls = 0;
    ss_state_set_abort(s, abort_now, &calls);
    rc = ss_encode(s, img2, W, H, W * 3, err, sizeof err);
    ss_state_set_abort(s, NULL, NULL);
    int rc_after = ss_predict(s, &p1, &pp, &r, err, sizeof err);
    ss_set_embedding(s, emb, W, H, err, sizeof err);
    f1 = cached_vs_full(s, &p2, SS_MODE_STABLE, &rel, &r, &rf);
    tap_ok(rc == SS_ERR_ABORTED && rc_after == SS_ERR_STATE && f1 == F && rel < 1e-5 && rf.low_res_all[70000] == ref_l,
           "aborted encode: no stale cache; next embedding refilled (%d), cached == full (%.2g)", f1, rel);

    /* 7: two states on one model from two threads' worth of use: independent caches */
    ss_state *s2 = ss_state_new(m, err, sizeof err);
    int ok2 = s2 && ss_encode(s2, img2, W, H, W * 3, err, sizeof err) == SS_OK;
    int fa = ok2 ? cached_vs_full(s2, &p2, SS_MODE_STABLE, &rel, &r, &rf) : -1;
    int fb = cached_vs_full(s, &p2, SS_MODE_STABLE, &rel2, &r, &rf);
    tap_ok(fa == F && fb == h && rel < 1e-5 && rel2 < 1e-5 && rf.low_res_all[70000] == ref_l,
           "a second state on the same model has its own cache (%d; the first keeps its own: %d)", fa, fb);
    ss_state_free(s2);
    unlink(path);
    free(img2);
    free(emb);
    free(prev);
    ss_result_clear(&r);
    ss_result_clear(&rf);
    ss_state_free(s);
    ss_model_free(m);
}

int main(int argc, char **argv)
{
    const char *model_path = getenv("STABLESAM_MODEL");
    if (!model_path || access(model_path, R_OK) != 0) {
        if (getenv("STABLESAM_ALLOW_SKIP")) {
            printf("1..0 # SKIP model not fetched\n");
            return 0;
        }
        printf("1..1\nnot ok 1 - model not found: set STABLESAM_MODEL (make model fetches it)\n");
        return 1;
    }
    const char *plugin_path = argc > 1 ? argv[1] : NULL;
    tap_plan(25 + (plugin_path ? 10 : 0));
    char err[512];
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = 2;
    ss_model *m = ss_model_load(model_path, NULL, mp, err, sizeof err);
    if (!m) {
        printf("Bail out! model load failed: %s\n", err);
        return 1;
    }
    ss_state *s = ss_state_new(m, err, sizeof err);
    ss_result r;
    memset(&r, 0, sizeof r);
    ss_predict_params pp = ss_predict_default_params();
    ss_point pt = {200, 240, 1};
    ss_prompt p1 = {.points = &pt, .n_points = 1};
    int rc;

    tap_ok(ss_predict(s, &p1, &pp, &r, err, sizeof err) == SS_ERR_STATE && one_line(err), "predict before encode: %s", err);
    const int W = 640, H = 480;
    uint8_t *img = card(W, H);
    tap_ok(ss_encode(s, img, 0, H, 0, err, sizeof err) == SS_ERR_INPUT && one_line(err), "zero-width image: %s", err);
    rc = ss_encode(s, img, W, H, W * 3, err, sizeof err);
    tap_ok(rc == SS_OK, "encode %dx%d (%.0f ms)", W, H, ss_state_timings(s)->encoder_ms);
    rc = ss_predict(s, &p1, &pp, &r, err, sizeof err);
    tap_ok(rc == SS_OK && r.mask && r.width == W && r.height == H && r.token == 0, "one click -> %dx%d mask, token %d",
           r.width, r.height, r.token);
    size_t area = 0, inside = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double dx = x - W * 0.4, dy = y - H * 0.5;
            area += r.mask[(size_t)y * W + x];
            inside += r.mask[(size_t)y * W + x] && dx * dx + dy * dy < (H * 0.2) * (H * 0.2);
        }
    double disc = M_PI * (H * 0.2) * (H * 0.2);
    tap_ok(area > 0.7 * disc && inside > 0.9 * area, "the click on the red disc segments the disc (area %zu, disc %.0f)",
           area, disc);

    /* the encoder's buffers released: predictions go on, the next encode allocates again and
     * gives the same embedding */
    {
        float iou0 = r.iou_pred;
        size_t n_emb = (size_t)SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE;
        float *e0 = malloc(sizeof(float) * n_emb);
        memcpy(e0, ss_state_embedding(s), sizeof(float) * n_emb);
        ss_state_release_encoder(s);
        int rc1 = ss_predict(s, &p1, &pp, &r, err, sizeof err);
        int same_pred = rc1 == SS_OK && r.iou_pred == iou0;
        ss_state_release_encoder(s);
        ss_state_release_encoder(s); /* twice: harmless */
        int rc2 = ss_encode(s, img, W, H, W * 3, err, sizeof err);
        int same_emb = rc2 == SS_OK && memcmp(e0, ss_state_embedding(s), sizeof(float) * n_emb) == 0;
        free(e0);
        tap_ok(same_pred && same_emb, "ss_state_release_encoder: predict after it (%s), re-encode gives the same embedding (%s)",
               same_pred ? "same" : "differs", same_emb ? "bit-equal" : "differs");
    }

    ss_point nanp = {NAN, 3, 1};
    ss_prompt pn = {.points = &nanp, .n_points = 1};
    tap_ok(ss_predict(s, &pn, &pp, &r, err, sizeof err) == SS_ERR_INPUT && one_line(err), "NaN point: %s", err);
    ss_prompt pinf = {.has_box = 1, .box = {0, 0, INFINITY, 20}};
    tap_ok(ss_predict(s, &pinf, &pp, &r, err, sizeof err) == SS_ERR_INPUT && one_line(err), "inf box: %s", err);
    ss_point *many = calloc(10000, sizeof(ss_point));
    for (int i = 0; i < 10000; i++) many[i] = (ss_point){(float)(i % W), (float)(i % H), i & 1};
    ss_prompt pm = {.points = many, .n_points = 10000};
    tap_ok(ss_predict(s, &pm, &pp, &r, err, sizeof err) == SS_ERR_INPUT && one_line(err), "10,000 points: %s", err);
    pm.n_points = 1000;
    tap_ok(ss_predict(s, &pm, &pp, &r, err, sizeof err) == SS_OK, "1,000 points accepted");
    free(many);
    ss_prompt pout = {.has_box = 1, .box = {5000, 5000, 6000, 6000}};
    tap_ok(ss_predict(s, &pout, &pp, &r, err, sizeof err) == SS_ERR_INPUT && one_line(err), "box outside the image: %s", err);
    ss_prompt pzero = {.has_box = 1, .box = {100, 100, 100, 300}};
    tap_ok(ss_predict(s, &pzero, &pp, &r, err, sizeof err) == SS_ERR_INPUT && one_line(err), "zero-width box: %s", err);
    ss_prompt pinv = {.has_box = 1, .box = {W * 0.6f, H * 0.7f, W * 0.2f, H * 0.3f}};
    tap_ok(ss_predict(s, &pinv, &pp, &r, err, sizeof err) == SS_OK, "inverted box is reordered");
    ss_prompt pclip = {.has_box = 1, .box = {-100, -50, W * 0.6f, H * 0.7f}};
    tap_ok(ss_predict(s, &pclip, &pp, &r, err, sizeof err) == SS_OK, "box partly outside is clamped");
    ss_point badl = {10, 10, 2};
    ss_prompt pl = {.points = &badl, .n_points = 1};
    tap_ok(ss_predict(s, &pl, &pp, &r, err, sizeof err) == SS_ERR_INPUT && one_line(err), "label 2: %s", err);
    ss_prompt pe = {0};
    tap_ok(ss_predict(s, &pe, &pp, &r, err, sizeof err) == SS_ERR_INPUT && one_line(err), "empty prompt: %s", err);
    pp.mode = SS_MODE_STABLE;
    tap_ok(ss_predict(s, &p1, &pp, &r, err, sizeof err) == SS_ERR_STATE && one_line(err), "stable without plugin: %s", err);
    pp.mode = SS_MODE_SAM;
    pp.multimask = 1;
    rc = ss_predict(s, &p1, &pp, &r, err, sizeof err);
    tap_ok(rc == SS_OK && r.token >= 1 && r.token <= 3 &&
               r.iou_pred >= r.iou_all[1] && r.iou_pred >= r.iou_all[2] && r.iou_pred >= r.iou_all[3],
           "multimask picks the best of tokens 1..3 (token %d)", r.token);
    pp.multimask = 0;

    /* mask input round: previous logits fed back */
    float *prev = malloc(sizeof r.low_res);
    ss_predict(s, &p1, &pp, &r, err, sizeof err);
    memcpy(prev, r.low_res, sizeof r.low_res);
    ss_prompt p2 = {.points = &pt, .n_points = 1, .mask_input = prev};
    tap_ok(ss_predict(s, &p2, &pp, &r, err, sizeof err) == SS_OK, "second round with mask input");
    prev[77] = NAN;
    tap_ok(ss_predict(s, &p2, &pp, &r, err, sizeof err) == SS_ERR_INPUT, "NaN in mask input refused");
    free(prev);

    /* embedding cache round trip */
    char path[] = "/tmp/ss-test-emb-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ss_predict(s, &p1, &pp, &r, err, sizeof err);
    float iou0 = r.iou_pred, l0 = r.low_res[12345];
    ss_state *s2 = ss_state_new(m, err, sizeof err);
    rc = ss_embedding_save(s, path, err, sizeof err);
    int rc2 = ss_embedding_load(s2, path, err, sizeof err);
    ss_result r2;
    memset(&r2, 0, sizeof r2);
    int rc3 = ss_predict(s2, &p1, &pp, &r2, err, sizeof err);
    tap_ok(rc == SS_OK && rc2 == SS_OK && rc3 == SS_OK && r2.iou_pred == iou0 && r2.low_res[12345] == l0,
           "embedding save/load gives identical predictions");
    truncate(path, 1000);
    tap_ok(ss_embedding_load(s2, path, err, sizeof err) == SS_ERR_FORMAT && one_line(err) && strstr(err, path),
           "truncated embedding file: %s", err);
    unlink(path);

    int calls = 0;
    ss_state_set_abort(s, abort_now, &calls);
    rc = ss_encode(s, img, W, H, W * 3, err, sizeof err);
    tap_ok(rc == SS_ERR_ABORTED && ss_predict(s, &p1, &pp, &r, err, sizeof err) == SS_ERR_STATE,
           "abort callback stops the encoder, no stale embedding left (%d calls)", calls);

    ss_result_clear(&r);
    ss_result_clear(&r2);
    ss_state_free(s);
    ss_state_free(s2);
    scaled_checks(m);
    ss_model_free(m);
    if (plugin_path) cache_checks(model_path, plugin_path, img, W, H);
    free(img);
    return tap_done();
}
