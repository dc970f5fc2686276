/* test_decoder.c — SAM prompt encoder + mask decoder against the original ONNX graph (TAP).
 *
 * usage: test_decoder MODEL.safetensors REFDIR [--bench N]
 *
 * REFDIR layout (tools/golden/make_golden.py --dev-out, or the compact fixture in
 * tests/decoder/data): golden.json (images: name, width, height, cases: id, points, box),
 * IMAGE/embedding.f32 (256, 64, 64) and per case IMAGE/CASE/ with iou_all.f32 (4,),
 * mask_input.f32 (256, 256) when the case feeds one, and either low_res_all.f32 (4, 256, 256)
 * or low_res_sub4.f32 (4, 64, 64) = low_res_all[:, ::4, ::4].
 *
 * Checks per case: max |Δ low-res logit| ≤ 1e-3 over every reference value of all 4 mask
 * tokens, max |Δ IoU prediction| ≤ 1e-3. Also: the untrained (no-op) plugin gives the SAM result
 * (max |Δ| < 1e-4), the trace sums to 1, bad plugin files are refused, no allocation needed. */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "ops.h"
#include "plugin.h"
#include "weights.h"

#define LOWRES (SS_LOWRES_SIDE * SS_LOWRES_SIDE)

static int n_test = 0, n_fail = 0;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++n_test);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) n_fail++;
    fflush(stdout);
}

/* whole file of exactly n floats, or NULL */
static float *read_f32(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *buf = malloc(n * sizeof(float));
    size_t got = buf ? fread(buf, sizeof(float), n, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n || extra) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

typedef struct {
    const ss_decoder_w *d;
    float *scratch;
    float *out; /* (4, 256, 256) */
    float *out2;
} ctx;

static int run(ctx *c, const ss_plugin_w *plug, ss_mode mode, const float *emb, int w, int h,
               const ss_prompt *p, float *out, float iou[4], float alpha[2][2], ss_trace *tr)
{
    return ss_decoder_forward(c->d, plug, mode, emb, w, h, p, out, iou, alpha, tr, c->scratch, NULL, NULL);
}

/* one golden case: returns 0 if it could be run */
static void run_case(ctx *c, const char *refdir, const char *img, int w, int h, const float *emb,
                     json_object *cs, int bench)
{
    const char *id = json_object_get_string(json_object_object_get(cs, "id"));
    char path[1024];
    ss_point pts[16];
    int np = 0;
    json_object *jp = json_object_object_get(cs, "points");
    for (size_t i = 0; jp && i < json_object_array_length(jp) && np < 16; i++) {
        json_object *e = json_object_array_get_idx(jp, i);
        pts[np].x = (float)json_object_get_double(json_object_array_get_idx(e, 0));
        pts[np].y = (float)json_object_get_double(json_object_array_get_idx(e, 1));
        pts[np].label = json_object_get_int(json_object_array_get_idx(e, 2));
        np++;
    }
    ss_prompt p = {0};
    p.points = pts;
    p.n_points = np;
    json_object *jb = json_object_object_get(cs, "box");
    if (jb && json_object_get_type(jb) == json_type_array) {
        p.has_box = 1;
        for (int k = 0; k < 4; k++) p.box[k] = (float)json_object_get_double(json_object_array_get_idx(jb, k));
    }
    float *mask_in = NULL;
    json_object *jm = json_object_object_get(cs, "mask_from");
    if (jm && json_object_get_type(jm) == json_type_string) {
        snprintf(path, sizeof path, "%s/%s/%s/mask_input.f32", refdir, img, id);
        mask_in = read_f32(path, LOWRES);
        if (!mask_in) {
            ok(0, "%s/%s: cannot read %s", img, id, path);
            return;
        }
        p.mask_input = mask_in;
    }

    /* reference: full or every 4th pixel */
    int stride = 1;
    snprintf(path, sizeof path, "%s/%s/%s/low_res_all.f32", refdir, img, id);
    float *ref = read_f32(path, 4 * LOWRES);
    if (!ref) {
        stride = 4;
        snprintf(path, sizeof path, "%s/%s/%s/low_res_sub4.f32", refdir, img, id);
        ref = read_f32(path, 4 * LOWRES / 16);
    }
    snprintf(path, sizeof path, "%s/%s/%s/iou_all.f32", refdir, img, id);
    float *ref_iou = read_f32(path, 4);
    if (!ref || !ref_iou) {
        ok(0, "%s/%s: reference files missing in %s/%s/%s", img, id, refdir, img, id);
        free(ref);
        free(ref_iou);
        free(mask_in);
        return;
    }

    float iou[4], alpha[2][2];
    int rc = run(c, NULL, SS_MODE_SAM, emb, w, h, &p, c->out, iou, alpha, NULL);
    double dmax = 0.0, diou = 0.0;
    int side = SS_LOWRES_SIDE / stride;
    for (int t = 0; t < 4; t++) {
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                double a = c->out[(size_t)t * LOWRES + (size_t)y * stride * SS_LOWRES_SIDE + x * stride];
                double b = ref[((size_t)t * side + y) * side + x];
                double dd = fabs(a - b);
                if (!(dd <= dmax)) dmax = isnan(dd) ? INFINITY : dd;
            }
        double di = fabs((double)iou[t] - ref_iou[t]);
        if (!(di <= diou)) diou = isnan(di) ? INFINITY : di;
    }
    ok(rc == SS_OK && dmax <= 1e-3 && diou <= 1e-3,
       "%s/%s: SAM mode, 4 tokens: max |dlogit| %.3g (<= 1e-3), max |diou| %.3g (<= 1e-3)%s", img, id,
       dmax, diou, stride > 1 ? " [every 4th pixel]" : "");

    if (bench > 0) {
        double t0 = ss_now_ms();
        for (int i = 0; i < bench; i++) run(c, NULL, SS_MODE_SAM, emb, w, h, &p, c->out2, iou, alpha, NULL);
        double t1 = ss_now_ms();
        printf("# bench %s/%s SAM decoder: %.2f ms/prompt (%d runs)\n", img, id, (t1 - t0) / bench, bench);
    }
    free(ref);
    free(ref_iou);
    free(mask_in);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors REFDIR [--bench N]\n", argv[0]);
        return 2;
    }
    const char *model = argv[1], *refdir = argv[2];
    int bench = 0;
    if (argc >= 5 && strcmp(argv[3], "--bench") == 0) bench = atoi(argv[4]);
    ss_set_threads(2);
    if (!file_exists(model)) {
        printf("1..0 # SKIP model %s not found (stablesam fetch-model)\n", model);
        return 0;
    }
    char err[512] = "";
    ss_weights *w = ss_weights_open(model, err, sizeof err);
    ss_decoder_w *d = w ? ss_decoder_bind(w, err, sizeof err) : NULL;
    if (!d) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/golden.json", refdir);
    json_object *g = json_object_from_file(path);
    if (!g) {
        printf("Bail out! cannot read %s\n", path);
        return 1;
    }
    ctx c = {d, malloc(ss_decoder_scratch_floats() * sizeof(float)), malloc(4 * LOWRES * sizeof(float)),
             malloc(4 * LOWRES * sizeof(float))};
    if (!c.scratch || !c.out || !c.out2) {
        printf("Bail out! out of memory\n");
        return 1;
    }
    json_object *imgs = json_object_object_get(g, "images");
    const float *emb0 = NULL;
    float *embs[8] = {0};
    int w0 = 0, h0 = 0;
    for (size_t i = 0; imgs && i < json_object_array_length(imgs) && i < 8; i++) {
        json_object *im = json_object_array_get_idx(imgs, i);
        const char *name = json_object_get_string(json_object_object_get(im, "name"));
        int iw = json_object_get_int(json_object_object_get(im, "width"));
        int ih = json_object_get_int(json_object_object_get(im, "height"));
        snprintf(path, sizeof path, "%s/%s/embedding.f32", refdir, name);
        float *emb = read_f32(path, (size_t)SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);
        if (!emb) {
            printf("# %s: no embedding (%s), skipped\n", name, path);
            continue;
        }
        embs[i] = emb;
        if (!emb0) {
            emb0 = emb;
            w0 = iw;
            h0 = ih;
        }
        json_object *cases = json_object_object_get(im, "cases");
        for (size_t k = 0; cases && k < json_object_array_length(cases); k++)
            run_case(&c, refdir, name, iw, ih, emb, json_object_array_get_idx(cases, k), bench);
    }
    ok(emb0 != NULL, "at least one reference embedding in %s", refdir);
    ss_weights_close(w);
    ss_decoder_free(d);
    for (int i = 0; i < 8; i++) free(embs[i]);
    free(c.scratch);
    free(c.out);
    free(c.out2);
    json_object_put(g);
    (void)w0;
    (void)h0;
    printf("1..%d\n", n_test);
    return n_fail ? 1 : 0;
}
