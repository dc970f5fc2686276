/* test_plugin_golden.c — Stable-SAM plugin (DSP/DRP) of the C engine against the PyTorch
 * reference (tools/sam_torch.py), through the public API only (engine/stablesam.h).
 *
 * Data (tests/plugin/data, written by tools/plugin_ref.py):
 *   cases.txt                  manifest: images (embedding file, size) and prompts with the
 *                              reference IoU predictions and DRP alpha
 *   random-plugin.safetensors  seeded random plugin (tools/make_plugin.py random)
 *   identity-plugin.safetensors  the no-op initialisation (tools/make_plugin.py identity)
 *   IMAGE.emb.f16              the (256, 64, 64) image embedding fed to both implementations
 *                              (float16 LE; both sides use exactly its float32 values)
 *   CASE.ref.f32               float32 LE: token-0 low-res logits (256*256), block-1 trace
 *                              weights (4096), trace positions (4096 * 2, x then y)
 *
 * Checks (Stable mode, random plugin): max |Δ low-res logit| < 1e-3 (token 0), IoU predictions
 * within 1e-3, α within 1e-5, trace positions within 1e-4, trace weights within 1e-3 of the
 * largest reference weight. Identity plugin: Stable == SAM (all 4 tokens) within 1e-4,
 * α = (½, ½), positions on the regular grid.
 *
 * usage: test-plugin-golden DATA_DIR     (model: $STABLESAM_MODEL, else
 *        $XDG_CACHE_HOME or ~/.cache + /stablesam/mobilesam.safetensors; missing model fails unless
 *        STABLESAM_ALLOW_SKIP=1). TAP output.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stablesam.h"

#define MAX_IMAGES 8
#define MAX_CASES 64
#define MAX_PTS 16
#define N_LOW (SS_LOWRES_SIDE * SS_LOWRES_SIDE)
#define N_POS (SS_EMB_SIDE * SS_EMB_SIDE)
#define N_EMB (SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE)

typedef struct {
    char name[64];
    int w, h;
    float *emb;
} image_t;

typedef struct {
    char id[64];
    int image;
    int has_box;
    float box[4];
    ss_point pts[MAX_PTS];
    int n_pts;
    int mask_from; /* case index whose reference token-0 logits are the mask input, or -1 */
    float iou[4];
    float alpha[2][2];
    float *ref; /* N_LOW + N_POS + 2 * N_POS floats */
} case_t;

static image_t images[MAX_IMAGES];
static int n_images;
static case_t cases[MAX_CASES];
static int n_cases;
static int test_no;
static int n_failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++test_no);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) n_failed++;
    fflush(stdout);
}

static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    exit(1);
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (ex == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (ex == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((ex - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Reads exactly n elements of `size` bytes; one-line error and bail on failure. */
static void *read_exact(const char *dir, const char *file, size_t size, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) bail("%s: %s", path, strerror(errno));
    void *buf = malloc(size * n);
    if (!buf) bail("out of memory");
    size_t got = fread(buf, size, n, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n || extra) bail("%s: expected %zu bytes", path, size * n);
    return buf;
}

static int find_image(const char *name)
{
    for (int i = 0; i < n_images; i++)
        if (!strcmp(images[i].name, name)) return i;
    return -1;
}

static int find_case(const char *id)
{
    for (int i = 0; i < n_cases; i++)
        if (!strcmp(cases[i].id, id)) return i;
    return -1;
}

static int parse_floats(const char *s, float *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        out[i] = strtof(s, &end);
        if (end == s) return -1;
        s = end;
        if (i < n - 1) {
            if (*s != ',') return -1;
            s++;
        }
    }
    return *s ? -1 : 0;
}

static void load_manifest(const char *dir)
{
    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) bail("%s: %s", path, strerror(errno));
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok || tok[0] == '#') continue;
        if (!strcmp(tok, "image")) {
            if (n_images == MAX_IMAGES) bail("%s:%d: too many images", path, lineno);
            image_t *im = &images[n_images];
            char *name = strtok_r(NULL, " \t\r\n", &save), *w = strtok_r(NULL, " \t\r\n", &save),
                 *h = strtok_r(NULL, " \t\r\n", &save), *file = strtok_r(NULL, " \t\r\n", &save);
            if (!file) bail("%s:%d: image line needs NAME W H FILE", path, lineno);
            snprintf(im->name, sizeof im->name, "%s", name);
            im->w = atoi(w);
            im->h = atoi(h);
            uint16_t *raw = read_exact(dir, file, 2, N_EMB);
            im->emb = malloc(sizeof(float) * N_EMB);
            if (!im->emb) bail("out of memory");
            for (int i = 0; i < N_EMB; i++) im->emb[i] = half_to_float(raw[i]);
            free(raw);
            n_images++;
        } else if (!strcmp(tok, "case")) {
            if (n_cases == MAX_CASES) bail("%s:%d: too many cases", path, lineno);
            case_t *c = &cases[n_cases];
            memset(c, 0, sizeof *c);
            c->mask_from = -1;
            char *id = strtok_r(NULL, " \t\r\n", &save), *im = strtok_r(NULL, " \t\r\n", &save);
            if (!im) bail("%s:%d: case line needs ID IMAGE", path, lineno);
            snprintf(c->id, sizeof c->id, "%s", id);
            c->image = find_image(im);
            if (c->image < 0) bail("%s:%d: unknown image %s", path, lineno, im);
            int have = 0;
            while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
                char *eq = strchr(tok, '=');
                if (!eq) bail("%s:%d: bad field %s", path, lineno, tok);
                *eq = 0;
                const char *k = tok, *v = eq + 1;
                int bad = 0;
                if (!strcmp(k, "box")) {
                    if (strcmp(v, "-")) { c->has_box = 1; bad = parse_floats(v, c->box, 4); }
                } else if (!strcmp(k, "pts")) {
                    if (strcmp(v, "-")) {
                        char buf[1024];
                        snprintf(buf, sizeof buf, "%s", v);
                        char *s2 = NULL;
                        for (char *p = strtok_r(buf, ";", &s2); p; p = strtok_r(NULL, ";", &s2)) {
                            float t[3];
                            if (c->n_pts == MAX_PTS || parse_floats(p, t, 3)) { bad = 1; break; }
                            c->pts[c->n_pts].x = t[0];
                            c->pts[c->n_pts].y = t[1];
                            c->pts[c->n_pts].label = (int)t[2];
                            c->n_pts++;
                        }
                    }
                } else if (!strcmp(k, "mask")) {
                    if (strcmp(v, "-")) {
                        c->mask_from = find_case(v);
                        bad = c->mask_from < 0;
                    }
                } else if (!strcmp(k, "iou")) {
                    bad = parse_floats(v, c->iou, 4);
                } else if (!strcmp(k, "alpha")) {
                    bad = parse_floats(v, &c->alpha[0][0], 4);
                    have = 1;
                } else if (!strcmp(k, "ref")) {
                    c->ref = read_exact(dir, v, sizeof(float), N_LOW + 3 * N_POS);
                } else {
                    bad = 1;
                }
                if (bad) bail("%s:%d: bad value for %s: %s", path, lineno, k, v);
            }
            if (!have || !c->ref) bail("%s:%d: case %s lacks alpha= or ref=", path, lineno, c->id);
            n_cases++;
        } else {
            bail("%s:%d: unknown line type %s", path, lineno, tok);
        }
    }
    fclose(f);
    if (n_images < 1 || n_cases < 1) bail("%s: no images or no cases", path);
}

static void prompt_of(const case_t *c, ss_prompt *p)
{
    memset(p, 0, sizeof *p);
    p->has_box = c->has_box;
    memcpy(p->box, c->box, sizeof p->box);
    p->points = c->n_pts ? c->pts : NULL;
    p->n_points = c->n_pts;
    p->mask_input = c->mask_from >= 0 ? cases[c->mask_from].ref : NULL;
}

static double max_abs_diff(const float *a, const float *b, int n, int *where)
{
    double m = 0;
    int at = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) { m = d; at = i; } /* NaN counts as the largest */
        if (isnan(d)) { m = INFINITY; at = i; break; }
    }
    if (where) *where = at;
    return m;
}

static ss_model *load_model(const char *model, const char *dir, const char *plugin_file)
{
    char plugin[4096], err[512] = "";
    snprintf(plugin, sizeof plugin, "%s/%s", dir, plugin_file);
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = 2;
    ss_model *m = ss_model_load(model, plugin, mp, err, sizeof err);
    ok(m != NULL, "load model + %s%s%s", plugin_file, m ? "" : ": ", m ? "" : err);
    return m;
}

static void run_random(ss_model *m)
{
    char err[512];
    ss_state *st = ss_state_new(m, err, sizeof err);
    if (!st) { ok(0, "ss_state_new: %s", err); return; }
    int cur = -1;
    for (int i = 0; i < n_cases; i++) {
        case_t *c = &cases[i];
        image_t *im = &images[c->image];
        err[0] = 0;
        if (c->image != cur) {
            int rc = ss_set_embedding(st, im->emb, im->w, im->h, err, sizeof err);
            if (rc != SS_OK) { ok(0, "%s: ss_set_embedding: %s", im->name, err); continue; }
            cur = c->image;
        }
        ss_prompt pr;
        prompt_of(c, &pr);
        ss_predict_params pp = ss_predict_default_params();
        pp.mode = SS_MODE_STABLE;
        pp.want_mask = 0;
        pp.want_all = 1;
        pp.want_trace = 1;
        ss_result r;
        memset(&r, 0, sizeof r);
        int rc = ss_predict(st, &pr, &pp, &r, err, sizeof err);
        if (rc != SS_OK) {
            ok(0, "%s/%s: ss_predict (stable, random plugin) failed: %s", im->name, c->id, err);
            ss_result_clear(&r);
            continue;
        }
        int at;
        double dl = max_abs_diff(r.low_res, c->ref, N_LOW, &at);
        double dl_all = r.low_res_all ? max_abs_diff(r.low_res_all, c->ref, N_LOW, NULL) : INFINITY;
        ok(r.token == 0 && dl < 1e-3 && dl_all < 1e-3,
           "%s/%s: token-0 low-res logits: max |d| = %.3g (at %d,%d; C %.5f ref %.5f), low_res_all[0] %.3g, token %d (tol 1e-3)",
           im->name, c->id, dl, at % SS_LOWRES_SIDE, at / SS_LOWRES_SIDE, r.low_res[at], c->ref[at],
           dl_all, r.token);
        double di = max_abs_diff(r.iou_all, c->iou, 4, NULL);
        ok(di < 1e-3, "%s/%s: IoU predictions max |d| = %.3g (tol 1e-3)", im->name, c->id, di);
        double da = max_abs_diff(&r.alpha[0][0], &c->alpha[0][0], 4, NULL);
        ok(da < 1e-5, "%s/%s: alpha C (%.6f %.6f | %.6f %.6f) ref (%.6f %.6f | %.6f %.6f): max |d| = %.3g (tol 1e-5)",
           im->name, c->id, r.alpha[0][0], r.alpha[0][1], r.alpha[1][0], r.alpha[1][1],
           c->alpha[0][0], c->alpha[0][1], c->alpha[1][0], c->alpha[1][1], da);
        if (!r.trace) {
            ok(0, "%s/%s: want_trace gave no trace", im->name, c->id);
        } else {
            const float *rw = c->ref + N_LOW, *rp = c->ref + N_LOW + N_POS;
            double dp = max_abs_diff(&r.trace->pos[0][0], rp, 2 * N_POS, &at);
            ok(dp < 1e-4, "%s/%s: trace positions max |d| = %.3g at cell %d (C %.5f ref %.5f) (tol 1e-4)",
               im->name, c->id, dp, at / 2, (&r.trace->pos[0][0])[at], rp[at]);
            double wmax = 0;
            for (int k = 0; k < N_POS; k++) wmax = fmax(wmax, rw[k]);
            double dw = max_abs_diff(r.trace->weight, rw, N_POS, NULL);
            double da2 = max_abs_diff(&r.trace->alpha[0][0], &c->alpha[0][0], 4, NULL);
            ok(dw < 1e-3 * wmax && da2 < 1e-5 && r.trace->mode == SS_MODE_STABLE,
               "%s/%s: trace weights max |d| = %.3g (tol 1e-3 x max weight %.4g), trace alpha |d| %.3g, mode %d",
               im->name, c->id, dw, wmax, da2, r.trace->mode);
        }
        ss_result_clear(&r);
    }
    ss_state_free(st);
}

static void run_identity(ss_model *m)
{
    char err[512];
    ss_state *st = ss_state_new(m, err, sizeof err);
    if (!st) { ok(0, "ss_state_new: %s", err); return; }
    float *sam = malloc(sizeof(float) * 4 * N_LOW);
    if (!sam) bail("out of memory");
    int cur = -1;
    for (int i = 0; i < n_cases; i++) {
        case_t *c = &cases[i];
        image_t *im = &images[c->image];
        err[0] = 0;
        if (c->image != cur) {
            int rc = ss_set_embedding(st, im->emb, im->w, im->h, err, sizeof err);
            if (rc != SS_OK) { ok(0, "%s: ss_set_embedding: %s", im->name, err); continue; }
            cur = c->image;
        }
        ss_prompt pr;
        prompt_of(c, &pr);
        ss_predict_params pp = ss_predict_default_params();
        pp.want_mask = 0;
        pp.want_all = 1;
        pp.want_trace = 1;
        ss_result r;
        memset(&r, 0, sizeof r);
        pp.mode = SS_MODE_SAM;
        int rc = ss_predict(st, &pr, &pp, &r, err, sizeof err);
        if (rc != SS_OK || !r.low_res_all) {
            ok(0, "%s/%s: ss_predict (sam) failed: %s", im->name, c->id, err);
            ss_result_clear(&r);
            continue;
        }
        memcpy(sam, r.low_res_all, sizeof(float) * 4 * N_LOW);
        float sam_iou[4];
        memcpy(sam_iou, r.iou_all, sizeof sam_iou);
        pp.mode = SS_MODE_STABLE;
        rc = ss_predict(st, &pr, &pp, &r, err, sizeof err);
        if (rc != SS_OK || !r.low_res_all || !r.trace) {
            ok(0, "%s/%s: ss_predict (stable, identity plugin) failed: %s", im->name, c->id, err);
            ss_result_clear(&r);
            continue;
        }
        double d = max_abs_diff(sam, r.low_res_all, 4 * N_LOW, NULL);
        double di = max_abs_diff(sam_iou, r.iou_all, 4, NULL);
        double dg = 0;
        for (int k = 0; k < N_POS; k++) {
            dg = fmax(dg, fabs(r.trace->pos[k][0] - (float)(k % SS_EMB_SIDE)));
            dg = fmax(dg, fabs(r.trace->pos[k][1] - (float)(k / SS_EMB_SIDE)));
        }
        double da = 0;
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 2; k++) da = fmax(da, fabs(r.alpha[b][k] - 0.5));
        ok(d < 1e-4 && di < 1e-4 && dg < 1e-6 && da < 1e-6,
           "%s/%s: identity plugin: Stable vs SAM, 4 tokens max |d logit| = %.3g, IoU |d| %.3g (tol 1e-4); positions off-grid %.3g, alpha-(1/2) %.3g",
           im->name, c->id, d, di, dg, da);
        ss_result_clear(&r);
    }
    free(sam);
    ss_state_free(st);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char model[4096];
    const char *env = getenv("STABLESAM_MODEL");
    if (env && *env) {
        snprintf(model, sizeof model, "%s", env);
    } else {
        /* the app's cache: $XDG_CACHE_HOME/stablesam, else ~/.cache/stablesam (g_get_user_cache_dir) */
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/')
            snprintf(model, sizeof model, "%s/stablesam/mobilesam.safetensors", xdg);
        else
            snprintf(model, sizeof model, "%s/.cache/stablesam/mobilesam.safetensors", home ? home : ".");
    }
    struct stat sb;
    if (stat(model, &sb) != 0) {
        const char *skip = getenv("STABLESAM_ALLOW_SKIP");
        if (skip && !strcmp(skip, "1")) {
            printf("1..0 # SKIP model %s not found (STABLESAM_ALLOW_SKIP=1)\n", model);
            return 0;
        }
        bail("model %s: %s (set STABLESAM_MODEL, run `stablesam fetch-model`, or STABLESAM_ALLOW_SKIP=1)",
             model, strerror(errno));
    }
    load_manifest(dir);
    printf("# model %s, %d images, %d cases\n", model, n_images, n_cases);

    ss_model *m = load_model(model, dir, "random-plugin.safetensors");
    if (m) {
        ok(ss_model_has_plugin(m), "random plugin attached");
        run_random(m);
        ss_model_free(m);
    }
    m = load_model(model, dir, "identity-plugin.safetensors");
    if (m) {
        run_identity(m);
        ss_model_free(m);
    }
    printf("1..%d\n", test_no);
    for (int i = 0; i < n_images; i++) free(images[i].emb);
    for (int i = 0; i < n_cases; i++) free(cases[i].ref);
    return n_failed ? 1 : 0;
}
