/* test_metrics.c — IoU, boundary IoU, stability, distance transform, PRNG and prompt
 * generators on hand-made masks with answers computed by hand (in the comments). */
#include <stdlib.h>
#include <string.h>

#include "ss_metrics.h"
#include "tap.h"

static void fill_rect(uint8_t *m, int w, int x0, int y0, int x1, int y1)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            m[y * w + x] = 1;
}

static void fill_disc(uint8_t *m, int w, int h, int cx, int cy, int r)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
                m[y * w + x] = 1;
}

/* brute-force squared distance to the nearest 0 (outside the image = 0) */
static int64_t brute_edt(const uint8_t *m, int w, int h, int x, int y)
{
    if (!m[y * w + x])
        return 0;
    int64_t best = INT64_MAX;
    for (int yy = -1; yy <= h; yy++)
        for (int xx = -1; xx <= w; xx++) {
            int zero = xx < 0 || yy < 0 || xx >= w || yy >= h || !m[yy * w + xx];
            int64_t d = (int64_t)(xx - x) * (xx - x) + (int64_t)(yy - y) * (yy - y);
            if (zero && d < best)
                best = d;
        }
    return best;
}

int main(void)
{
    char err[256];
    enum { W = 10, H = 10 };

    /* ---- IoU ---- */
    uint8_t a[W * H] = {0}, b[W * H] = {0}, ign[W * H] = {0}, e1[W * H] = {0}, e2[W * H] = {0};
    fill_rect(a, W, 0, 0, 3, 3); /* 16 px */
    fill_rect(b, W, 2, 2, 5, 5); /* 16 px, overlap 2x2 = 4 */
    TAP_NEAR(ss_iou(a, b, NULL, W, H), 4.0 / 28.0, 1e-12, "IoU of two 4x4 squares overlapping 2x2 = 4/28");
    /* ignore x >= 4: b keeps x 2..3 (8 px), union 16 + 8 - 4 = 20 */
    for (int y = 0; y < H; y++)
        for (int x = 4; x < W; x++)
            ign[y * W + x] = 255;
    TAP_NEAR(ss_iou(a, b, ign, W, H), 4.0 / 20.0, 1e-12, "IoU with ignore map = 4/20");
    TAP_NEAR(ss_iou(e1, e2, NULL, W, H), 1.0, 0, "IoU of two empty masks = 1");
    TAP_NEAR(ss_iou(e1, a, NULL, W, H), 0.0, 0, "IoU empty vs square = 0");
    uint8_t full[W * H];
    memset(full, 1, sizeof full);
    TAP_NEAR(ss_iou(full, full, NULL, W, H), 1.0, 0, "IoU full vs full = 1");
    TAP_NEAR(ss_iou(full, a, NULL, W, H), 0.16, 1e-12, "IoU full vs 16 px = 0.16");
    uint8_t a255[W * H];
    for (int i = 0; i < W * H; i++)
        a255[i] = a[i] ? 255 : 0;
    TAP_NEAR(ss_iou(a255, b, NULL, W, H), 4.0 / 28.0, 1e-12, "IoU treats nonzero as object");

    /* ---- boundary ---- */
    TAP_OK(ss_boundary_width(10, 10) == 1, "d(10x10) = round(0.28) -> at least 1");
    TAP_OK(ss_boundary_width(100, 100) == 3, "d(100x100) = round(2.83) = 3");
    TAP_OK(ss_boundary_width(640, 480) == 16, "d(640x480) = round(16.0) = 16");
    /* a full 10x10 mask: the zero padding makes the 1-pixel ring boundary: 100 - 64 = 36 */
    uint8_t bd[W * H];
    ss_mask_boundary(full, W, H, 1, bd, err, sizeof err);
    TAP_OK(ss_mask_area(bd, W, H) == 36 && bd[0] && !bd[1 * W + 1] && bd[9 * W + 5],
           "boundary of a full 10x10 mask (d=1) is its 36-pixel outer ring");
    TAP_NEAR(ss_boundary_iou(full, full, NULL, W, H), 1.0, 0, "BIoU full vs full = 1");
    TAP_NEAR(ss_boundary_iou(e1, e2, NULL, W, H), 1.0, 0, "BIoU empty vs empty = 1");
    TAP_NEAR(ss_boundary_iou(e1, a, NULL, W, H), 0.0, 0, "BIoU empty vs square = 0");

    enum { S = 100 };
    uint8_t *sq = calloc(S * S, 1), *sq2 = calloc(S * S, 1), *sb = calloc(S * S, 1);
    fill_rect(sq, S, 10, 10, 29, 29);  /* 20x20 */
    fill_rect(sq2, S, 11, 10, 30, 29); /* shifted right by 1 */
    ss_mask_boundary(sq, S, S, 3, sb, err, sizeof err);
    /* 20x20 minus its 14x14 interior */
    TAP_OK(ss_mask_area(sb, S, S) == 204 && sb[10 * S + 10] && sb[12 * S + 20] &&
               !sb[13 * S + 13] && !sb[20 * S + 20],
           "boundary of a 20x20 square, d=3: 400 - 14*14 = 204 px");
    /* rings intersect in (x 11..29, y 10..29) minus (x 13..27, y 13..26): 380 - 210 = 170;
       union 204 + 204 - 170 = 238; BIoU = 170/238 = 5/7 */
    TAP_NEAR(ss_boundary_iou(sq, sq2, NULL, S, S), 5.0 / 7.0, 1e-12,
             "BIoU of a 20x20 square and its 1-px shift = 5/7");
    TAP_NEAR(ss_iou(sq, sq2, NULL, S, S), 380.0 / 420.0, 1e-12, "IoU of the same = 380/420");
    {
        /* the precomputed-GT-boundary form (eval: one GT boundary per object) */
        uint8_t *gb = calloc(S * S, 1);
        ss_mask_boundary(sq, S, S, ss_boundary_width(S, S), gb, err, sizeof err);
        TAP_NEAR(ss_boundary_iou_gtb(gb, sq2, NULL, S, S), ss_boundary_iou(sq, sq2, NULL, S, S), 0,
                 "ss_boundary_iou_gtb (GT boundary given) = ss_boundary_iou");
        free(gb);
    }
    /* ignore x >= 28: ring A loses x 28..29 (2 columns x 20 = 40): 164; ring B loses x 28..30
       (3 x 20 = 60, which includes its interior-free right side): 144; intersection loses
       x 28..29 of both rings: rows of A-ring and B-ring at x 28,29 = 40 -> 130;
       union 164 + 144 - 130 = 178 */
    uint8_t *ig = calloc(S * S, 1);
    for (int y = 0; y < S; y++)
        for (int x = 28; x < S; x++)
            ig[y * S + x] = 1;
    TAP_NEAR(ss_boundary_iou(sq, sq2, ig, S, S), 130.0 / 178.0, 1e-12,
             "BIoU with an ignore map = 130/178");
    /* mask touching the image border: the border counts as boundary */
    uint8_t *corner = calloc(S * S, 1);
    fill_rect(corner, S, 0, 0, 9, 9);
    ss_mask_boundary(corner, S, S, 3, sb, err, sizeof err);
    TAP_OK(ss_mask_area(sb, S, S) == 100 - 4 * 4, "10x10 square in the corner: 100 - 4x4 interior");

    /* ---- stability: M1 2 px, M2 4 px, union 5 -> (2/5 + 4/5) / 2 = 0.6 ---- */
    uint8_t m1[W * H] = {0}, m2[W * H] = {0};
    m1[0] = m1[1] = 1;
    m2[1] = m2[2] = m2[3] = m2[4] = 1;
    const uint8_t *ms[2] = {m1, m2};
    TAP_NEAR(ss_stability(ms, 2, W, H), 0.6, 1e-12, "ST of {2 px, 4 px} with union 5 = 0.6");
    const uint8_t *same[3] = {a, a, a};
    TAP_NEAR(ss_stability(same, 3, W, H), 1.0, 0, "ST of identical masks = 1");
    const uint8_t *empties[2] = {e1, e2};
    TAP_NEAR(ss_stability(empties, 2, W, H), 1.0, 0, "ST of empty masks = 1");

    /* ---- exact EDT vs brute force on a blob with a hole ---- */
    enum { EW = 37, EH = 23 };
    uint8_t *bl = calloc(EW * EH, 1);
    int64_t *dt = malloc(sizeof(int64_t) * EW * EH);
    fill_disc(bl, EW, EH, 15, 11, 10);
    fill_rect(bl, EW, 20, 0, 36, 5);
    bl[11 * EW + 15] = 0;
    ss_edt_sq(bl, EW, EH, dt, err, sizeof err);
    int edt_ok = 1;
    for (int y = 0; y < EH; y++)
        for (int x = 0; x < EW; x++)
            if (dt[y * EW + x] != brute_edt(bl, EW, EH, x, y))
                edt_ok = 0;
    TAP_OK(edt_ok, "exact EDT equals brute force (disc with a hole + border rectangle)");

    /* ---- click simulator ---- */
    enum { CW = 100, CH = 60 };
    uint8_t *gt = calloc(CW * CH, 1), *pred = calloc(CW * CH, 1), *clicked = calloc(CW * CH, 1);
    fill_disc(gt, CW, CH, 20, 30, 10);
    ss_point c;
    TAP_OK(ss_click_next(gt, NULL, NULL, CW, CH, clicked, &c, err, sizeof err) == SS_OK &&
               c.x == 20 && c.y == 30 && c.label == 1 && clicked[30 * CW + 20],
           "first click at the disc's centre (20,30), positive (got %g,%g,%d)", c.x, c.y, c.label);
    /* prediction = disc + a 20x20 false-positive block: the FP reaches farther (10 vs 0) ->
       negative click; four pixels tie at distance 10, the first in row-major order is (69,29) */
    memcpy(pred, gt, CW * CH);
    fill_rect(pred, CW, 60, 20, 79, 39);
    TAP_OK(ss_click_next(gt, pred, NULL, CW, CH, clicked, &c, err, sizeof err) == SS_OK &&
               c.x == 69 && c.y == 29 && c.label == 0,
           "FP block -> negative click at (69,29) (got %g,%g,%d)", c.x, c.y, c.label);
    /* same again: (69,29) is clicked, next tie in row-major order is (70,29) */
    TAP_OK(ss_click_next(gt, pred, NULL, CW, CH, clicked, &c, err, sizeof err) == SS_OK &&
               c.x == 70 && c.y == 29 && c.label == 0,
           "clicked pixels are skipped: next tie (70,29) (got %g,%g)", c.x, c.y);
    /* prediction = the left half of the disc + a 3x3 FP: FN (right half) reaches farther */
    memset(pred, 0, CW * CH);
    for (int y = 0; y < CH; y++)
        for (int x = 0; x <= 20; x++)
            pred[y * CW + x] = gt[y * CW + x];
    fill_rect(pred, CW, 80, 5, 82, 7);
    TAP_OK(ss_click_next(gt, pred, NULL, CW, CH, NULL, &c, err, sizeof err) == SS_OK &&
               c.label == 1 && c.x > 20 && gt[(int)c.y * CW + (int)c.x],
           "missed right half -> positive click inside it (got %g,%g,%d)", c.x, c.y, c.label);
    /* FN and FP of equal reach -> negative (RITM: positive only if fn > fp) */
    uint8_t tg[W * H] = {0}, tp[W * H] = {0};
    fill_rect(tg, W, 1, 1, 3, 3); /* FN 3x3 at (1..3): reach 2 */
    fill_rect(tp, W, 6, 6, 8, 8); /* FP 3x3: reach 2 */
    TAP_OK(ss_click_next(tg, tp, NULL, W, H, NULL, &c, err, sizeof err) == SS_OK &&
               c.label == 0 && c.x == 7 && c.y == 7,
           "equal reach -> negative click at the FP centre (got %g,%g,%d)", c.x, c.y, c.label);
    /* ignore map: the FP block ignored -> the click goes to the FN region */
    uint8_t tig[W * H] = {0};
    fill_rect(tig, W, 5, 5, 9, 9);
    TAP_OK(ss_click_next(tg, tp, tig, W, H, NULL, &c, err, sizeof err) == SS_OK &&
               c.label == 1 && c.x == 2 && c.y == 2,
           "ignored FP is not clicked: positive at (2,2) (got %g,%g,%d)", c.x, c.y, c.label);
    TAP_OK(ss_click_next(tg, tg, NULL, W, H, NULL, &c, err, sizeof err) == SS_ERR_INPUT,
           "exact prediction: no click");

    /* ---- PRNG ---- */
    ss_rng r1, r2;
    ss_rng_seed(&r1, 0);
    /* xoshiro256** state from splitmix64(0): s0 = 0xe220a8397b1dcdaf, s1 = 0x6e789e6aa1b965f4;
       first output = rotl(s1 * 5, 7) * 9 */
    TAP_OK(r1.s[0] == 0xe220a8397b1dcdafULL && r1.s[1] == 0x6e789e6aa1b965f4ULL,
           "splitmix64 seeding matches the published first values");
    uint64_t s1x5 = 0x6e789e6aa1b965f4ULL * 5;
    uint64_t want = ((s1x5 << 7) | (s1x5 >> 57)) * 9;
    TAP_OK(ss_rng_next(&r1) == want, "xoshiro256** first output");
    ss_rng_seed_key(&r1, 42, "img_0/noisy_box");
    ss_rng_seed_key(&r2, 42, "img_0/noisy_box");
    int same_seq = 1;
    for (int i = 0; i < 1000; i++)
        same_seq &= ss_rng_next(&r1) == ss_rng_next(&r2);
    TAP_OK(same_seq, "same seed + key -> same sequence");
    ss_rng_seed_key(&r2, 42, "img_0/point1");
    TAP_OK(ss_rng_next(&r1) != ss_rng_next(&r2), "different key -> different stream");
    int range_ok = 1;
    double mean = 0;
    for (int i = 0; i < 100000; i++) {
        double u = ss_rng_uniform(&r1);
        double v = ss_rng_uniform_pm1(&r1);
        range_ok &= u >= 0 && u < 1 && v >= -1 && v < 1 && ss_rng_below(&r1, 7) < 7;
        mean += u;
    }
    mean /= 100000;
    TAP_OK(range_ok && fabs(mean - 0.5) < 0.01, "uniform draws in range, mean %.4f", mean);

    /* ---- prompt generators ---- */
    float box[4];
    TAP_OK(ss_gt_box(sq, S, S, box) == SS_OK && box[0] == 10 && box[1] == 10 && box[2] == 29 &&
               box[3] == 29,
           "GT box of the square = [10,10,29,29] (pixel indices)");
    TAP_OK(ss_gt_box(e1, W, H, box) == SS_ERR_INPUT, "GT box of an empty mask refused");
    float gb[4] = {10, 10, 29, 29}, nb[4], nb2[4];
    ss_rng_seed(&r1, 3);
    ss_rng_seed(&r2, 3);
    int nb_ok = 1, det = 1;
    for (int i = 0; i < 1000; i++) {
        ss_noisy_box(&r1, gb, 0.4, S, S, nb);
        ss_noisy_box(&r2, gb, 0.4, S, S, nb2);
        det &= memcmp(nb, nb2, sizeof nb) == 0;
        /* centre within ±0.4·w/2 = 3.8, width in [0.6w, 1.4w] = [11.4, 26.6] */
        double cx = 0.5 * (nb[0] + nb[2]), wd = nb[2] - nb[0];
        nb_ok &= fabs(cx - 19.5) <= 3.8 + 1e-4 && wd >= 11.4 - 1e-4 && wd <= 26.6 + 1e-4 &&
                 nb[0] >= 0 && nb[3] <= S - 1;
    }
    TAP_OK(nb_ok && det, "noisy boxes within the formula's range, deterministic");
    float edge[4] = {0, 0, 99, 99};
    int clamp_ok = 1;
    for (int i = 0; i < 200; i++) {
        ss_noisy_box(&r1, edge, 0.4, S, S, nb);
        clamp_ok &= nb[0] >= 0 && nb[1] >= 0 && nb[2] <= 99 && nb[3] <= 99;
    }
    TAP_OK(clamp_ok, "noisy boxes clamped to [0, W-1] x [0, H-1]");
    int band_ok = 1;
    for (int i = 0; i < 20; i++) {
        band_ok &= ss_noisy_box_band(&r1, gb, 0.5, 0.6, S, S, 1000, nb) == SS_OK;
        double iou = ss_box_iou(nb, gb);
        band_ok &= iou >= 0.5 && iou < 0.6;
        band_ok &= ss_noisy_box_band(&r1, gb, 0.6, 0.7, S, S, 1000, nb) == SS_OK;
        iou = ss_box_iou(nb, gb);
        band_ok &= iou >= 0.6 && iou < 0.7;
    }
    TAP_OK(band_ok, "IoU-banded boxes land in [0.5,0.6) and [0.6,0.7)");
    float b1[4] = {0, 0, 10, 10}, b2[4] = {5, 0, 15, 10};
    TAP_NEAR(ss_box_iou(b1, b2), 50.0 / 150.0, 1e-12, "box IoU = 50/150");
    ss_point pts[10];
    int pts_ok = ss_random_points(&r1, sq, NULL, S, S, 10, pts, err, sizeof err) == SS_OK;
    for (int i = 0; i < 10 && pts_ok; i++) {
        pts_ok &= sq[(int)pts[i].y * S + (int)pts[i].x] && pts[i].label == 1;
        for (int j = 0; j < i; j++)
            pts_ok &= pts[i].x != pts[j].x || pts[i].y != pts[j].y;
    }
    TAP_OK(pts_ok, "10 random points inside the mask, distinct, positive");
    uint8_t one[W * H] = {0};
    one[55] = 1;
    TAP_OK(ss_random_points(&r1, one, NULL, W, H, 3, pts, err, sizeof err) == SS_OK &&
               pts[2].x == 5 && pts[2].y == 5,
           "3 points from a 1-pixel object repeat it");
    TAP_OK(ss_random_points(&r1, e1, NULL, W, H, 1, pts, err, sizeof err) == SS_ERR_INPUT,
           "points from an empty object refused");

    free(sq); free(sq2); free(sb); free(ig); free(corner); free(bl); free(dt);
    free(gt); free(pred); free(clicked);
    return tap_done();
}
