/* test_rle.c — COCO RLE: hand-made masks and strings derived by hand from the documented
 * pycocotools format, malformed strings, round trips, area and bbox. */
#include <stdlib.h>
#include <string.h>

#include "ss_metrics.h"
#include "tap.h"

static int str_is(const uint8_t *mask, int w, int h, const char *want)
{
    char err[256] = "";
    char *s = ss_mask_to_rle_string(mask, w, h, err, sizeof err);
    int ok = s && strcmp(s, want) == 0;
    if (!ok)
        printf("#   got \"%s\" want \"%s\" %s\n", s ? s : "(null)", want, err);
    free(s);
    return ok;
}

static int counts_are(const char *s, int w, int h, const uint32_t *want, size_t n)
{
    char err[256] = "";
    ss_rle r;
    if (ss_rle_from_string(s, w, h, &r, err, sizeof err)) {
        printf("#   %s\n", err);
        return 0;
    }
    int ok = r.n_counts == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = r.counts[i] == want[i];
    ss_rle_free(&r);
    return ok;
}

int main(void)
{
    char err[256];

    /* all ones 2x2: counts [0, 4] -> "04" */
    uint8_t ones[4] = {1, 1, 1, 1};
    TAP_OK(str_is(ones, 2, 2, "04"), "2x2 full mask -> \"04\"");
    /* all zeros 3x3: counts [9] -> "9" */
    uint8_t zeros[9] = {0};
    TAP_OK(str_is(zeros, 3, 3, "9"), "3x3 empty mask -> \"9\"");

    /* w=3, h=2, rows {0 1 1; 0 1 0}: column-major 0,0 | 1,1 | 1,0 -> [2, 3, 1] -> "231" */
    uint8_t m32[6] = {0, 1, 1, 0, 1, 0};
    TAP_OK(str_is(m32, 3, 2, "231"), "3x2 mask is column-major -> \"231\"");
    ss_rle r;
    TAP_OK(ss_rle_encode(m32, 3, 2, &r, err, sizeof err) == SS_OK && r.n_counts == 3 &&
               r.counts[0] == 2 && r.counts[1] == 3 && r.counts[2] == 1,
           "3x2 counts [2,3,1]");
    TAP_OK(ss_rle_area(&r) == 3 && ss_mask_area(m32, 3, 2) == 3, "area 3");
    double bb[4], bm[4];
    ss_rle_bbox(&r, bb);
    ss_mask_bbox(m32, 3, 2, bm);
    TAP_OK(bb[0] == 1 && bb[1] == 0 && bb[2] == 2 && bb[3] == 2, "RLE bbox [1,0,2,2]");
    TAP_OK(memcmp(bb, bm, sizeof bb) == 0, "mask bbox equals RLE bbox");
    ss_rle_free(&r);

    /* column of 100, ones at y >= 50: [50, 50]; 50 = 0b110010 -> groups 18|0x20 ('b'), 1 ('1') */
    uint8_t col[100];
    for (int y = 0; y < 100; y++)
        col[y] = y >= 50;
    TAP_OK(str_is(col, 1, 100, "b1b1"), "100-pixel column -> \"b1b1\" (two 5-bit groups)");

    /* delta coding from the 4th count on: [1,10,2,3] -> '1', ':'(10), '2', 3-10=-7 -> 25 -> 'I' */
    uint32_t c4[4] = {1, 10, 2, 3};
    ss_rle r4 = {.width = 16, .height = 1, .counts = c4, .n_counts = 4};
    char *s4 = ss_rle_to_string(&r4, err, sizeof err);
    TAP_OK(s4 && strcmp(s4, "1:2I") == 0, "counts [1,10,2,3] -> \"1:2I\" (negative delta)");
    free(s4);
    TAP_OK(counts_are("1:2I", 16, 1, c4, 4), "\"1:2I\" parses back to [1,10,2,3]");
    uint32_t c2[2] = {5, 40};
    TAP_OK(counts_are("5X1", 45, 1, c2, 2), "\"5X1\" -> [5, 40]");

    /* malformed strings: one error each, nothing read past the string */
    struct { const char *s; int w, h; const char *what; } bad[] = {
        {"5X", 45, 1, "value cut short"},
        {"0~", 2, 2, "character above 'o'"},
        {"0/", 2, 2, "character below '0'"},
        {"9", 2, 2, "runs exceed the mask"},
        {"", 2, 2, "runs cover too few pixels"},
        {"03", 2, 2, "runs cover 3 of 4 pixels"},
        {"O", 4, 4, "negative first count"},
        {"0oooooooo", 4, 4, "value too long"},
        {"1:2E", 16, 1, "negative after delta (10 - 11)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_rle q;
        err[0] = 0;
        int rc = ss_rle_from_string(bad[i].s, bad[i].w, bad[i].h, &q, err, sizeof err);
        TAP_OK(rc == SS_ERR_FORMAT && q.counts == NULL && err[0],
               "malformed \"%s\" refused (%s): %s", bad[i].s, bad[i].what, err);
    }
    uint8_t small[4];
    ss_rle badsum = {.width = 2, .height = 2, .counts = (uint32_t[]){1, 5}, .n_counts = 2};
    TAP_OK(ss_rle_decode(&badsum, small, err, sizeof err) == SS_ERR_FORMAT,
           "decode refuses counts summing past the mask");

    /* empty mask bbox */
    ss_mask_bbox(zeros, 3, 3, bm);
    TAP_OK(bm[0] == 0 && bm[1] == 0 && bm[2] == 0 && bm[3] == 0, "empty mask bbox is zeros");

    /* round trips on pseudo-random masks (blobs and noise), and bbox/area agreement */
    ss_rng rng;
    ss_rng_seed(&rng, 7);
    int rt_ok = 1, bb_ok = 1;
    for (int t = 0; t < 50; t++) {
        int w = 1 + (int)ss_rng_below(&rng, 60), h = 1 + (int)ss_rng_below(&rng, 60);
        uint8_t *m = malloc((size_t)w * h), *d = malloc((size_t)w * h);
        double p = ss_rng_uniform(&rng);
        for (int i = 0; i < w * h; i++)
            m[i] = ss_rng_uniform(&rng) < p;
        char *s = ss_mask_to_rle_string(m, w, h, err, sizeof err);
        memset(d, 7, (size_t)w * h);
        if (!s || ss_mask_from_rle_string(s, w, h, d, err, sizeof err) ||
            memcmp(m, d, (size_t)w * h))
            rt_ok = 0;
        ss_rle e;
        ss_rle_encode(m, w, h, &e, err, sizeof err);
        ss_rle_bbox(&e, bb);
        ss_mask_bbox(m, w, h, bm);
        if (memcmp(bb, bm, sizeof bb) || ss_rle_area(&e) != ss_mask_area(m, w, h))
            bb_ok = 0;
        ss_rle_free(&e);
        free(s);
        free(m);
        free(d);
    }
    TAP_OK(rt_ok, "50 random masks: encode -> string -> decode is the identity");
    TAP_OK(bb_ok, "50 random masks: RLE bbox/area equal mask bbox/area");

    /* random strings: parse never crashes; accepted ones decode and re-encode identically */
    int fuzz_ok = 1, accepted = 0;
    for (int t = 0; t < 2000; t++) {
        char s[16];
        int len = (int)ss_rng_below(&rng, 15);
        for (int i = 0; i < len; i++)
            s[i] = (char)(40 + ss_rng_below(&rng, 80));
        s[len] = 0;
        ss_rle q;
        uint8_t mm[12];
        if (ss_rle_from_string(s, 3, 4, &q, err, sizeof err) == SS_OK) {
            accepted++;
            if (ss_rle_decode(&q, mm, err, sizeof err))
                fuzz_ok = 0;
            ss_rle_free(&q);
        }
    }
    TAP_OK(fuzz_ok, "2000 random strings: accepted ones decode (%d accepted)", accepted);
    return tap_done();
}
