/* cli-segment.c — `stablesam segment`: one image, one prompt, one mask (DESIGN §8). */
#define G_LOG_DOMAIN "stablesam-segment"
#include <cairo.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-commands.h"
#include "cli-util.h"
#include "image-io.h"
#include "model-path.h"
#include "ss_metrics.h"
#include "stablesam.h"

typedef struct {
    const char *image, *model, *plugin, *out, *json, *trace, *viz, *mask_input, *save_logits;
    int has_box;
    float box[4];
    GArray *points; /* ss_point */
    ss_mode mode;
    int multimask, threads, topk;
} seg_args;

static int parse_floats(const char *s, float *v, int max)
{
    int n = 0;
    const char *p = s;
    while (*p && n < max) {
        char *end;
        errno = 0;
        double d = strtod(p, &end);
        if (end == p || errno == ERANGE) return -1;
        v[n++] = (float)d;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return *p ? -1 : n;
}

static int parse_args(int argc, char **argv, seg_args *a)
{
    memset(a, 0, sizeof *a);
    a->points = g_array_new(FALSE, FALSE, sizeof(ss_point));
    a->mode = SS_MODE_SAM;
    a->topk = 64;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                                      \
    do {                                                                                \
        if (!v) { fprintf(stderr, "stablesam: segment: %s needs a value\n", o); return 2; } \
        i++;                                                                            \
    } while (0)
        if (!strcmp(o, "--box")) {
            NEED_VALUE;
            if (parse_floats(v, a->box, 4) != 4) {
                fprintf(stderr, "stablesam: segment: --box wants x0,y0,x1,y1, got '%s'\n", v);
                return 2;
            }
            a->has_box = 1;
        } else if (!strcmp(o, "--point")) {
            NEED_VALUE;
            float f[3] = {0, 0, 1};
            int n = parse_floats(v, f, 3);
            if (n < 2 || (n == 3 && f[2] != 0.0f && f[2] != 1.0f)) {
                fprintf(stderr, "stablesam: segment: --point wants x,y[,1|0], got '%s'\n", v);
                return 2;
            }
            ss_point p = {f[0], f[1], n == 3 ? (int)f[2] : 1};
            g_array_append_val(a->points, p);
        } else if (!strcmp(o, "--mode")) {
            NEED_VALUE;
            if (!strcmp(v, "sam")) a->mode = SS_MODE_SAM;
            else if (!strcmp(v, "stable")) a->mode = SS_MODE_STABLE;
            else {
                fprintf(stderr, "stablesam: segment: --mode is sam or stable, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(o, "--model")) { NEED_VALUE; a->model = v; }
        else if (!strcmp(o, "--plugin")) { NEED_VALUE; a->plugin = v; }
        else if (!strcmp(o, "--out")) { NEED_VALUE; a->out = v; }
        else if (!strcmp(o, "--json")) { NEED_VALUE; a->json = v; }
        else if (!strcmp(o, "--trace")) { NEED_VALUE; a->trace = v; }
        else if (!strcmp(o, "--viz")) { NEED_VALUE; a->viz = v; }
        else if (!strcmp(o, "--mask-input")) { NEED_VALUE; a->mask_input = v; }
        else if (!strcmp(o, "--save-logits")) { NEED_VALUE; a->save_logits = v; }
        else if (!strcmp(o, "--threads")) { NEED_VALUE; a->threads = atoi(v); }
        else if (!strcmp(o, "--top-k")) { NEED_VALUE; a->topk = atoi(v); }
        else if (!strcmp(o, "--multimask")) a->multimask = 1;
        else if (o[0] == '-' && o[1]) {
            fprintf(stderr, "stablesam: segment: unknown option %s\n", o);
            return 2;
        } else if (!a->image) a->image = o;
        else {
            fprintf(stderr, "stablesam: segment: unexpected argument %s\n", o);
            return 2;
        }
#undef NEED_VALUE
    }
    if (!a->image) {
        fprintf(stderr, "usage: stablesam segment IMAGE [--box x0,y0,x1,y1] [--point x,y[,1|0]]... [--out MASK.png] [--json OUT.json] ...\n");
        return 2;
    }
    if (!a->has_box && a->points->len == 0) {
        fprintf(stderr, "stablesam: segment: give a --box or at least one --point\n");
        return 2;
    }
    return 0;
}

static int write_json(const seg_args *a, const SsaImage *img, const ss_result *r, double encode_ms,
                      double preprocess_ms, GError **error)
{
    char err[256];
    char *counts = ss_mask_to_rle_string(r->mask, img->width, img->height, err, sizeof err);
    uint64_t area = ss_mask_area(r->mask, img->width, img->height);
    double bbox[4];
    ss_mask_bbox(r->mask, img->width, img->height, bbox);
    if (!counts) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: RLE encoding failed: %s", a->json, err);
        return 1;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "image", json_object_new_string(a->image));
    json_object_object_add(o, "width", json_object_new_int(img->width));
    json_object_object_add(o, "height", json_object_new_int(img->height));
    json_object_object_add(o, "mode", json_object_new_string(a->mode == SS_MODE_STABLE ? "stable" : "sam"));
    json_object_object_add(o, "token", json_object_new_int(r->token));
    json_object_object_add(o, "iou_pred", json_object_new_double(r->iou_pred));
    json_object_object_add(o, "area", json_object_new_int64((int64_t)area));
    json_object *bb = json_object_new_array();
    for (int i = 0; i < 4; i++) json_object_array_add(bb, json_object_new_double(bbox[i]));
    json_object_object_add(o, "bbox", bb);
    json_object *rle = json_object_new_object();
    json_object *size = json_object_new_array();
    json_object_array_add(size, json_object_new_int(img->height));
    json_object_array_add(size, json_object_new_int(img->width));
    json_object_object_add(rle, "size", size);
    json_object_object_add(rle, "counts", json_object_new_string(counts));
    json_object_object_add(o, "rle", rle);
    json_object *al = json_object_new_array();
    json_object_array_add(al, json_object_new_double(r->alpha[1][0]));
    json_object_array_add(al, json_object_new_double(r->alpha[1][1]));
    json_object_object_add(o, "alpha", al);
    json_object *ab = json_object_new_array();
    for (int b = 0; b < 2; b++) {
        json_object *p = json_object_new_array();
        json_object_array_add(p, json_object_new_double(r->alpha[b][0]));
        json_object_array_add(p, json_object_new_double(r->alpha[b][1]));
        json_object_array_add(ab, p);
    }
    json_object_object_add(o, "alpha_blocks", ab);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "preprocess", json_object_new_double(preprocess_ms));
    json_object_object_add(t, "encoder", json_object_new_double(encode_ms));
    json_object_object_add(t, "decoder", json_object_new_double(r->timings.decoder_ms));
    json_object_object_add(t, "postprocess", json_object_new_double(r->timings.postprocess_ms));
    json_object_object_add(o, "timings_ms", t);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    gboolean ok = ssa_write_atomic(a->json, s, strlen(s), error);
    json_object_put(o);
    free(counts);
    return ok ? 0 : 1;
}

int ssa_cmd_segment(int argc, char **argv)
{
    seg_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        g_array_free(a.points, TRUE);
        return rc;
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *model_path = ssa_model_path(a.model);
    g_autofree char *plugin_path = ssa_plugin_path(a.plugin);
    float *mask_input = NULL;
    g_autoptr(SsaImage) img = NULL;
    ss_model *model = NULL;
    ss_state *state = NULL;
    ss_result res;
    memset(&res, 0, sizeof res);
    char err[512];
    rc = 1;

    if (a.mode == SS_MODE_STABLE && !plugin_path) {
        ssa_die_msg(a.plugin ? a.plugin : "stable mode", "needs a plugin file (--plugin FILE)");
        goto out;
    }
    img = ssa_image_load(a.image, 0, &error);
    if (!img) {
        ssa_die_error(error);
        goto out;
    }
    if (a.mask_input) {
        mask_input = ssa_read_f32(a.mask_input, SS_LOWRES_SIDE * SS_LOWRES_SIDE, &error);
        if (!mask_input) {
            ssa_die_error(error);
            goto out;
        }
    }
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = a.threads;
    model = ss_model_load(model_path, a.mode == SS_MODE_STABLE || a.plugin ? plugin_path : NULL, mp, err, sizeof err);
    if (!model) {
        fprintf(stderr, "stablesam: %s\n", err);
        goto out;
    }
    state = ss_state_new(model, err, sizeof err);
    if (!state || ss_encode(state, img->rgb, img->width, img->height, img->stride, err, sizeof err) != SS_OK) {
        fprintf(stderr, "stablesam: %s: %s\n", a.image, err);
        goto out;
    }
    if (!a.viz)
        ssa_image_drop_pixels(img); /* only the size is needed from here on */
    const ss_timings *et = ss_state_timings(state);
    double enc_ms = et->encoder_ms, pre_ms = et->preprocess_ms;
    ss_prompt prompt = {.has_box = a.has_box,
                        .points = (const ss_point *)(void *)a.points->data,
                        .n_points = (int)a.points->len,
                        .mask_input = mask_input};
    memcpy(prompt.box, a.box, sizeof a.box);
    ss_predict_params pp = ss_predict_default_params();
    pp.mode = a.mode;
    pp.multimask = a.multimask;
    pp.want_trace = a.trace || a.viz;
    if (ss_predict(state, &prompt, &pp, &res, err, sizeof err) != SS_OK) {
        fprintf(stderr, "stablesam: %s: %s\n", a.image, err);
        goto out;
    }
    if (a.out && !ssa_mask_save_png(a.out, res.mask, res.width, res.height, &error)) {
        ssa_die_error(error);
        goto out;
    }
    if (a.save_logits && !ssa_write_atomic(a.save_logits, res.low_res, sizeof res.low_res, &error)) {
        ssa_die_error(error);
        goto out;
    }
    if (a.json && write_json(&a, img, &res, enc_ms, pre_ms, &error)) {
        ssa_die_error(error);
        goto out;
    }
    if (a.trace && !ssa_trace_write_json(a.trace, res.trace, img->width, img->height, &error)) {
        ssa_die_error(error);
        goto out;
    }
    if (a.viz && !ssa_trace_write_viz(a.viz, img, res.mask, res.trace, a.topk, &error)) {
        ssa_die_error(error);
        goto out;
    }
    if (!a.out && !a.json && !a.trace && !a.viz)
        printf("iou_pred %.4f token %d (use --out/--json to save the mask)\n", res.iou_pred, res.token);
    rc = 0;
out:
    ss_result_clear(&res);
    ss_state_free(state);
    ss_model_free(model);
    g_free(mask_input);
    g_array_free(a.points, TRUE);
    return rc;
}
