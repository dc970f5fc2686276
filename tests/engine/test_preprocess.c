/* Pre-processing is Pillow-exact (hashes from tools/make_resize_vectors.py), normalised and
 * zero-padded; post-processing equals the two-stage reference (upscale to 1024², crop, resize). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stablesam.h"
#include "tap.h"

static uint8_t *hash_image(int w, int h)
{
    size_t n = (size_t)w * h * 3;
    uint8_t *img = malloc(n);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)(i * 2654435761u + (uint32_t)(w * 7 + h));
        x ^= x >> 15;
        x *= 2246822519u;
        x ^= x >> 13;
        int noise = (int)(x >> 24);
        size_t px = i / 3;
        int xx = (int)(px % (size_t)w), yy = (int)(px / (size_t)w);
        int smooth = ((xx * 255) / (w > 1 ? w - 1 : 1) + (yy * 255) / (h > 1 ? h - 1 : 1)) / 2;
        img[i] = (uint8_t)(noise / 4 + (smooth * 3) / 4);
    }
    return img;
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static void check_resize(int w, int h, int ew, int eh, uint64_t want, float *buf)
{
    uint8_t *img = hash_image(w, h);
    int nw, nh;
    ss_target_size(w, h, &nw, &nh);
    tap_ok(nw == ew && nh == eh, "%dx%d -> target %dx%d (want %dx%d)", w, h, nw, nh, ew, eh);
    int rc = ss_preprocess(img, w, h, w * 3, buf);
    static const double mean[3] = {123.675, 116.28, 103.53}, stdv[3] = {58.395, 57.12, 57.375};
    uint8_t *rs = malloc((size_t)nw * nh * 3);
    int pad_ok = 1, exact = 1;
    const size_t plane = (size_t)SS_IMG_SIZE * SS_IMG_SIZE;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < SS_IMG_SIZE; y++)
            for (int x = 0; x < SS_IMG_SIZE; x++) {
                float f = buf[c * plane + (size_t)y * SS_IMG_SIZE + x];
                if (y >= nh || x >= nw) {
                    if (f != 0.0f) pad_ok = 0;
                    continue;
                }
                double v = f * stdv[c] + mean[c];
                long r = lround(v);
                if (fabs(v - r) > 1e-3 || r < 0 || r > 255) exact = 0;
                rs[((size_t)y * nw + x) * 3 + c] = (uint8_t)r;
            }
    uint64_t got = fnv1a64(rs, (size_t)nw * nh * 3);
    tap_ok(rc == SS_OK && exact && got == want, "%dx%d resize is Pillow-exact (hash %016llx, want %016llx)", w, h,
           (unsigned long long)got, (unsigned long long)want);
    tap_ok(pad_ok, "%dx%d padding is zero after normalisation", w, h);
    free(rs);
    free(img);
}

/* Two-stage reference: bilinear half-pixel 256 -> 1024 (materialised), crop, bilinear -> (h, w). */
static double src_coord(int o, int in, int out, int *i0, int *i1)
{
    double s = (o + 0.5) * ((double)in / out) - 0.5;
    if (s < 0) s = 0;
    int a = (int)s;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a + 1 < in ? a + 1 : in - 1;
    return s - a;
}

static void check_post(int w, int h)
{
    float *low = malloc(sizeof(float) * 256 * 256);
    for (int y = 0; y < 256; y++)
        for (int x = 0; x < 256; x++) low[y * 256 + x] = (float)(sin(x * 0.11) * 3 + cos(y * 0.07) * 2 - 0.5);
    float *big = malloc(sizeof(float) * 1024 * 1024);
    for (int y = 0; y < 1024; y++) {
        int y0, y1;
        double ly = src_coord(y, 256, 1024, &y0, &y1);
        for (int x = 0; x < 1024; x++) {
            int x0, x1;
            double lx = src_coord(x, 256, 1024, &x0, &x1);
            double top = low[y0 * 256 + x0] * (1 - lx) + low[y0 * 256 + x1] * lx;
            double bot = low[y1 * 256 + x0] * (1 - lx) + low[y1 * 256 + x1] * lx;
            big[y * 1024 + x] = (float)(top * (1 - ly) + bot * ly);
        }
    }
    int nw, nh;
    ss_target_size(w, h, &nw, &nh);
    float *got = malloc(sizeof(float) * (size_t)w * h);
    uint8_t *mask = malloc((size_t)w * h);
    ss_postprocess_logits(low, w, h, got);
    ss_postprocess_mask(low, w, h, mask);
    double maxd = 0;
    int mism = 0;
    for (int y = 0; y < h; y++) {
        int y0, y1;
        double ly = src_coord(y, nh, h, &y0, &y1);
        for (int x = 0; x < w; x++) {
            int x0, x1;
            double lx = src_coord(x, nw, w, &x0, &x1);
            double top = big[y0 * 1024 + x0] * (1 - lx) + big[y0 * 1024 + x1] * lx;
            double bot = big[y1 * 1024 + x0] * (1 - lx) + big[y1 * 1024 + x1] * lx;
            double ref = top * (1 - ly) + bot * ly;
            double d = fabs(ref - got[(size_t)y * w + x]);
            if (d > maxd) maxd = d;
            if ((ref > 1e-4 && !mask[(size_t)y * w + x]) || (ref < -1e-4 && mask[(size_t)y * w + x])) mism++;
        }
    }
    tap_ok(maxd < 1e-4 && mism == 0, "postprocess %dx%d equals the two-stage reference (max |d| %.2g, %d mask mismatches)",
           w, h, maxd, mism);
    free(low);
    free(big);
    free(got);
    free(mask);
}

int main(int argc, char **argv)
{
    const char *vec = argc > 1 ? argv[1] : "resize_vectors.txt";
    FILE *f = fopen(vec, "r");
    if (!f) {
        printf("1..1\nnot ok 1 - cannot open %s\n", vec);
        return 1;
    }
    int w[16], h[16], ew[16], eh[16], n = 0;
    unsigned long long want[16];
    char line[256];
    while (fgets(line, sizeof line, f) && n < 16) {
        if (line[0] == '#') continue;
        if (sscanf(line, "%d %d %d %d %llx", &w[n], &h[n], &ew[n], &eh[n], &want[n]) == 5) n++;
    }
    fclose(f);
    static const int post_sizes[][2] = {{512, 512}, {600, 400}, {451, 300}, {37, 23}, {1500, 1000}};
    int n_post = (int)(sizeof post_sizes / sizeof post_sizes[0]);
    tap_plan(n * 3 + n_post + 2);
    float *buf = malloc(sizeof(float) * 3 * SS_IMG_SIZE * SS_IMG_SIZE);
    for (int i = 0; i < n; i++) check_resize(w[i], h[i], ew[i], eh[i], want[i], buf);
    for (int i = 0; i < n_post; i++) check_post(post_sizes[i][0], post_sizes[i][1]);
    uint8_t px[3] = {1, 2, 3};
    tap_ok(ss_preprocess(px, 0, 1, 3, buf) == SS_ERR_INPUT, "zero-width image refused");
    tap_ok(ss_preprocess(px, 1, 1, 2, buf) == SS_ERR_INPUT, "stride smaller than a row refused");
    free(buf);
    return tap_done();
}
