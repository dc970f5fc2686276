/* noc-report.c — the interactive NoC session's rows and report files, and the attention-drift
 * numbers (see ssa-noc.h). */
#define G_LOG_DOMAIN "stablesam-noc"
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssa-noc.h"

#define REPORT_FORMAT "stablesam-noc-session"
#define REPORT_VERSION 1

const char *ssa_noc_mode_key(ss_mode mode)
{
    return mode == SS_MODE_STABLE ? "stable" : "sam";
}

static void row_free(gpointer p)
{
    SsaNocRow *row = p;
    g_free(row->set);
    g_free(row->id);
    g_free(row->image);
    g_free(row->mask);
    g_free(row->ignore);
    g_free(row);
}

void ssa_noc_report_free(SsaNocReport *r)
{
    if (!r)
        return;
    g_free(r->gt_dir);
    g_free(r->plugin);
    if (r->rows)
        g_ptr_array_unref(r->rows);
    g_free(r);
}

static SsaNocReport *report_alloc(void)
{
    SsaNocReport *r = g_new0(SsaNocReport, 1);
    r->rows = g_ptr_array_new_with_free_func(row_free);
    return r;
}

SsaNocReport *ssa_noc_report_new(const SsaDataset *ds, const ss_mode *modes, int n_modes,
                                 gboolean shuffle, guint64 seed, int max_clicks, const char *plugin)
{
    g_return_val_if_fail(ds && modes && n_modes >= 1 && n_modes <= 2, NULL);
    g_return_val_if_fail(max_clicks >= 1 && max_clicks <= SS_NOC_MAX_CLICKS, NULL);
    SsaNocReport *r = report_alloc();
    r->gt_dir = g_strdup(ds->dir);
    r->plugin = g_strdup(plugin);
    r->seed = seed;
    r->shuffled = shuffle;
    r->max_clicks = max_clicks;
    for (guint i = 0; i < ds->images->len; i++) {
        const SsaEvalImage *im = ds->images->pdata[i];
        for (guint j = 0; j < im->objects->len; j++) {
            const SsaEvalObject *ob = im->objects->pdata[j];
            for (int m = 0; m < n_modes; m++) {
                SsaNocRow *row = g_new0(SsaNocRow, 1);
                row->set = g_strdup(im->set);
                row->id = g_strdup(im->id);
                row->k = ob->k;
                row->image = g_strdup(im->path);
                row->mask = g_strdup(ob->mask_path);
                row->ignore = g_strdup(ob->ignore_path);
                row->mode = modes[m];
                g_ptr_array_add(r->rows, row);
            }
        }
    }
    if (shuffle) { /* Fisher–Yates with the engine's portable PRNG: same order everywhere */
        ss_rng rng;
        ss_rng_seed(&rng, seed);
        for (guint i = r->rows->len; i > 1; i--) {
            guint j = (guint)ss_rng_below(&rng, i);
            gpointer t = r->rows->pdata[i - 1];
            r->rows->pdata[i - 1] = r->rows->pdata[j];
            r->rows->pdata[j] = t;
        }
    }
    return r;
}

guint ssa_noc_report_first_unfinished(const SsaNocReport *r)
{
    for (guint i = 0; i < r->rows->len; i++)
        if (!((SsaNocRow *)r->rows->pdata[i])->done)
            return i;
    return r->rows->len;
}

void ssa_noc_row_update(SsaNocRow *row, const ss_noc_session *s)
{
    row->n_clicks = ss_noc_n_clicks(s);
    memcpy(row->clicks, ss_noc_clicks(s), sizeof(ss_point) * row->n_clicks);
    memcpy(row->iou, ss_noc_ious(s), sizeof(double) * row->n_clicks);
    memcpy(row->seconds, ss_noc_seconds(s), sizeof(double) * row->n_clicks);
    row->noc85 = ss_noc_reached(s, 0.85);
    row->noc90 = ss_noc_reached(s, 0.90);
}

void ssa_noc_row_reset(SsaNocRow *row)
{
    row->n_clicks = 0;
    row->noc85 = row->noc90 = 0;
    row->done = FALSE;
}

/* ---- writing ----------------------------------------------------------------------------- */

static json_object *jdouble(double v, const char *fmt)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    return json_object_new_double_s(strtod(buf, NULL), buf);
}

static json_object *jstr_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* NoC as `stablesam eval` counts it: max_clicks when the threshold was not reached */
static int noc_eval(int thr_clicks, int max_clicks)
{
    return thr_clicks ? thr_clicks : max_clicks;
}

static json_object *summary_json(const SsaNocReport *r)
{
    json_object *js = json_object_new_object();
    for (int m = 0; m < 2; m++) {
        int n = 0, nof85 = 0, nof90 = 0, n_clicks = 0;
        double s85 = 0, s90 = 0, secs = 0;
        for (guint i = 0; i < r->rows->len; i++) {
            const SsaNocRow *row = r->rows->pdata[i];
            if (row->mode != (ss_mode)m || !row->done)
                continue;
            n++;
            s85 += noc_eval(row->noc85, r->max_clicks);
            s90 += noc_eval(row->noc90, r->max_clicks);
            nof85 += row->noc85 == 0;
            nof90 += row->noc90 == 0;
            for (int c = 0; c < row->n_clicks; c++)
                secs += row->seconds[c];
            n_clicks += row->n_clicks;
        }
        gboolean any = FALSE;
        for (guint i = 0; i < r->rows->len; i++)
            any |= ((SsaNocRow *)r->rows->pdata[i])->mode == (ss_mode)m;
        if (!any)
            continue;
        json_object *jm = json_object_new_object();
        json_object_object_add(jm, "n", json_object_new_int(n));
        json_object_object_add(jm, "noc85", n ? jdouble(s85 / n, "%.3f") : NULL);
        json_object_object_add(jm, "noc90", n ? jdouble(s90 / n, "%.3f") : NULL);
        json_object_object_add(jm, "nof85", json_object_new_int(nof85));
        json_object_object_add(jm, "nof90", json_object_new_int(nof90));
        json_object_object_add(jm, "seconds_per_click",
                               n_clicks ? jdouble(secs / n_clicks, "%.3f") : NULL);
        json_object_object_add(js, ssa_noc_mode_key((ss_mode)m), jm);
    }
    /* objects done in both modes: paired difference stable − sam */
    int n_pair = 0;
    double d85 = 0, d90 = 0;
    for (guint i = 0; i < r->rows->len; i++) {
        const SsaNocRow *a = r->rows->pdata[i];
        if (a->mode != SS_MODE_SAM || !a->done)
            continue;
        for (guint j = 0; j < r->rows->len; j++) {
            const SsaNocRow *b = r->rows->pdata[j];
            if (b->mode == SS_MODE_STABLE && b->done && b->k == a->k &&
                !strcmp(b->set, a->set) && !strcmp(b->id, a->id)) {
                n_pair++;
                d85 += noc_eval(b->noc85, r->max_clicks) - noc_eval(a->noc85, r->max_clicks);
                d90 += noc_eval(b->noc90, r->max_clicks) - noc_eval(a->noc90, r->max_clicks);
            }
        }
    }
    if (n_pair) {
        json_object *jp = json_object_new_object();
        json_object_object_add(jp, "n", json_object_new_int(n_pair));
        json_object_object_add(jp, "noc85_stable_minus_sam", jdouble(d85 / n_pair, "%.3f"));
        json_object_object_add(jp, "noc90_stable_minus_sam", jdouble(d90 / n_pair, "%.3f"));
        json_object_object_add(js, "paired", jp);
    }
    return js;
}

static char *report_json(const SsaNocReport *r)
{
    json_object *root = json_object_new_object();
    json_object_object_add(root, "format", json_object_new_string(REPORT_FORMAT));
    json_object_object_add(root, "version", json_object_new_int(REPORT_VERSION));
    json_object_object_add(root, "dataset", json_object_new_string(r->gt_dir));
    json_object_object_add(root, "plugin", jstr_or_null(r->plugin));
    json_object_object_add(root, "shuffled", json_object_new_boolean(r->shuffled));
    json_object_object_add(root, "seed", json_object_new_uint64(r->seed));
    json_object_object_add(root, "max_clicks", json_object_new_int(r->max_clicks));
    json_object *jrows = json_object_new_array();
    for (guint i = 0; i < r->rows->len; i++) {
        const SsaNocRow *row = r->rows->pdata[i];
        json_object *jo = json_object_new_object();
        json_object_object_add(jo, "set", json_object_new_string(row->set));
        json_object_object_add(jo, "id", json_object_new_string(row->id));
        json_object_object_add(jo, "object", json_object_new_int(row->k));
        json_object_object_add(jo, "image", json_object_new_string(row->image));
        json_object_object_add(jo, "mask", json_object_new_string(row->mask));
        json_object_object_add(jo, "ignore", jstr_or_null(row->ignore));
        json_object_object_add(jo, "mode", json_object_new_string(ssa_noc_mode_key(row->mode)));
        json_object_object_add(jo, "done", json_object_new_boolean(row->done));
        json_object_object_add(jo, "noc85", row->noc85 ? json_object_new_int(row->noc85) : NULL);
        json_object_object_add(jo, "noc90", row->noc90 ? json_object_new_int(row->noc90) : NULL);
        json_object *ji = json_object_new_array(), *jx = json_object_new_array(),
                    *jt = json_object_new_array(), *jc = json_object_new_array();
        for (int c = 0; c < row->n_clicks; c++) {
            json_object_array_add(ji, jdouble(100 * row->iou[c], "%.3f"));
            json_object_array_add(jx, jdouble(row->iou[c], "%.17g"));
            json_object_array_add(jt, jdouble(row->seconds[c], "%.3f"));
            json_object *p = json_object_new_array();
            json_object_array_add(p, jdouble(row->clicks[c].x, "%.2f"));
            json_object_array_add(p, jdouble(row->clicks[c].y, "%.2f"));
            json_object_array_add(p, json_object_new_int(row->clicks[c].label));
            json_object_array_add(jc, p);
        }
        json_object_object_add(jo, "iou", ji);
        json_object_object_add(jo, "iou_exact", jx);
        json_object_object_add(jo, "seconds", jt);
        json_object_object_add(jo, "clicks", jc);
        json_object_array_add(jrows, jo);
    }
    json_object_object_add(root, "objects", jrows);
    json_object_object_add(root, "summary", summary_json(r));
    char *s = g_strdup_printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    return s;
}

static void csv_field(GString *s, const char *v)
{
    if (strpbrk(v, ",\"\n")) {
        g_string_append_c(s, '"');
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                g_string_append_c(s, '"');
            g_string_append_c(s, *p);
        }
        g_string_append_c(s, '"');
    } else {
        g_string_append(s, v);
    }
}

static char *report_csv(const SsaNocReport *r)
{
    GString *s = g_string_new("order,set,id,object,image,mode,done,clicks,noc85,noc90,final_iou,"
                              "seconds_total,iou_per_click,seconds_per_click,prompts\n");
    for (guint i = 0; i < r->rows->len; i++) {
        const SsaNocRow *row = r->rows->pdata[i];
        g_autoptr(GString) ious = g_string_new(NULL), secs = g_string_new(NULL),
                           pts = g_string_new(NULL);
        double total = 0;
        for (int c = 0; c < row->n_clicks; c++) {
            g_string_append_printf(ious, "%s%.3f", c ? " " : "", 100 * row->iou[c]);
            g_string_append_printf(secs, "%s%.3f", c ? " " : "", row->seconds[c]);
            g_string_append_printf(pts, "%s%.0f:%.0f:%s", c ? " " : "", row->clicks[c].x,
                                   row->clicks[c].y, row->clicks[c].label ? "+" : "-");
            total += row->seconds[c];
        }
        g_string_append_printf(s, "%u,", i + 1);
        csv_field(s, row->set);
        g_string_append_c(s, ',');
        csv_field(s, row->id);
        g_string_append_printf(s, ",%d,", row->k);
        csv_field(s, row->image);
        g_string_append_printf(s, ",%s,%d,%d,", ssa_noc_mode_key(row->mode), row->done ? 1 : 0,
                               row->n_clicks);
        if (row->noc85)
            g_string_append_printf(s, "%d", row->noc85);
        g_string_append_c(s, ',');
        if (row->noc90)
            g_string_append_printf(s, "%d", row->noc90);
        g_string_append_c(s, ',');
        if (row->n_clicks)
            g_string_append_printf(s, "%.3f", 100 * row->iou[row->n_clicks - 1]);
        g_string_append_printf(s, ",%.3f,%s,%s,%s\n", total, ious->str, secs->str, pts->str);
    }
    return g_string_free(s, FALSE);
}

gboolean ssa_noc_report_save(const SsaNocReport *r, const char *json_path, const char *csv_path,
                             GError **error)
{
    /* g_file_set_contents writes a temporary file, fsyncs it and renames it over the target */
    g_autofree char *js = report_json(r);
    if (!g_file_set_contents(json_path, js, -1, error))
        return FALSE;
    g_autofree char *csv = report_csv(r);
    return csv_path ? g_file_set_contents(csv_path, csv, -1, error) : TRUE;
}

/* ---- reading ----------------------------------------------------------------------------- */

static gboolean bad(GError **error, const char *path, const char *what)
{
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path, what);
    return FALSE;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
        ? json_object_get_string(v) : NULL;
}

static gboolean get_int(json_object *o, const char *key, int lo, int hi, gboolean null_ok, int *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        *out = 0;
        return null_ok;
    }
    if (!json_object_is_type(v, json_type_int))
        return FALSE;
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return FALSE;
    *out = (int)x;
    return TRUE;
}

static gboolean parse_row(json_object *jo, int max_clicks, SsaNocRow *row, const char **what)
{
    const char *set = get_str(jo, "set"), *id = get_str(jo, "id"), *image = get_str(jo, "image"),
               *mask = get_str(jo, "mask"), *mode = get_str(jo, "mode");
    if (!set || !id || !image || !mask || !mode) {
        *what = "an object without set, id, image, mask or mode";
        return FALSE;
    }
    if (strcmp(mode, "sam") && strcmp(mode, "stable")) {
        *what = "mode is not sam or stable";
        return FALSE;
    }
    row->set = g_strdup(set);
    row->id = g_strdup(id);
    row->image = g_strdup(image);
    row->mask = g_strdup(mask);
    row->ignore = g_strdup(get_str(jo, "ignore"));
    row->mode = strcmp(mode, "stable") ? SS_MODE_SAM : SS_MODE_STABLE;
    json_object *v;
    row->done = json_object_object_get_ex(jo, "done", &v) && json_object_get_boolean(v);
    if (!get_int(jo, "object", 0, G_MAXINT, FALSE, &row->k)) {
        *what = "object is not a non-negative integer";
        return FALSE;
    }
    json_object *ji, *jx, *jt, *jc;
    if (!json_object_object_get_ex(jo, "iou_exact", &jx) || !json_object_is_type(jx, json_type_array) ||
        !json_object_object_get_ex(jo, "iou", &ji) || !json_object_is_type(ji, json_type_array) ||
        !json_object_object_get_ex(jo, "seconds", &jt) || !json_object_is_type(jt, json_type_array) ||
        !json_object_object_get_ex(jo, "clicks", &jc) || !json_object_is_type(jc, json_type_array)) {
        *what = "an object without iou, iou_exact, seconds or clicks arrays";
        return FALSE;
    }
    size_t n = json_object_array_length(jx);
    if (n > (size_t)max_clicks || json_object_array_length(jt) != n ||
        json_object_array_length(jc) != n || json_object_array_length(ji) != n) {
        *what = "iou, iou_exact, seconds and clicks differ in length or exceed max_clicks";
        return FALSE;
    }
    row->n_clicks = (int)n;
    for (size_t c = 0; c < n; c++) {
        json_object *p = json_object_array_get_idx(jc, c);
        row->iou[c] = json_object_get_double(json_object_array_get_idx(jx, c));
        row->seconds[c] = json_object_get_double(json_object_array_get_idx(jt, c));
        if (!json_object_is_type(p, json_type_array) || json_object_array_length(p) != 3 ||
            !(row->iou[c] >= 0 && row->iou[c] <= 1) || !(row->seconds[c] >= 0)) {
            *what = "a click is not [x, y, label], or an IoU is outside 0..1";
            return FALSE;
        }
        row->clicks[c].x = (float)json_object_get_double(json_object_array_get_idx(p, 0));
        row->clicks[c].y = (float)json_object_get_double(json_object_array_get_idx(p, 1));
        row->clicks[c].label = json_object_get_int(json_object_array_get_idx(p, 2));
    }
    /* thresholds follow from the IoUs: recompute rather than trust */
    row->noc85 = row->noc90 = 0;
    for (int c = (int)n - 1; c >= 0; c--) {
        if (row->iou[c] >= 0.85)
            row->noc85 = c + 1;
        if (row->iou[c] >= 0.90)
            row->noc90 = c + 1;
    }
    return TRUE;
}

SsaNocReport *ssa_noc_report_load(const char *json_path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(json_path, &text, &len, error))
        return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, text, (int)MIN(len, (gsize)G_MAXINT));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not JSON (%s)", json_path,
                    jerr == json_tokener_continue || jerr == json_tokener_success
                        ? "the file ends too early" : json_tokener_error_desc(jerr));
        return NULL;
    }
    g_autoptr(SsaNocReport) r = report_alloc();
    const char *fmt = get_str(root, "format");
    int version = 0;
    json_object *jrows, *v;
    const char *what = NULL;
    if (!fmt || strcmp(fmt, REPORT_FORMAT))
        what = "not a NoC session report (format is not " REPORT_FORMAT ")";
    else if (!get_int(root, "version", 0, G_MAXINT, FALSE, &version) || version != REPORT_VERSION)
        what = "unsupported version";
    else if (!get_int(root, "max_clicks", 1, SS_NOC_MAX_CLICKS, FALSE, &r->max_clicks))
        what = "max_clicks is not 1.." G_STRINGIFY(SS_NOC_MAX_CLICKS);
    else if (!get_str(root, "dataset"))
        what = "no dataset";
    else if (!json_object_object_get_ex(root, "objects", &jrows) ||
             !json_object_is_type(jrows, json_type_array) || json_object_array_length(jrows) == 0)
        what = "no objects";
    if (!what) {
        r->gt_dir = g_strdup(get_str(root, "dataset"));
        r->plugin = g_strdup(get_str(root, "plugin"));
        r->shuffled = json_object_object_get_ex(root, "shuffled", &v) && json_object_get_boolean(v);
        r->seed = json_object_object_get_ex(root, "seed", &v) ? json_object_get_uint64(v) : 0;
        for (size_t i = 0; i < json_object_array_length(jrows) && !what; i++) {
            SsaNocRow *row = g_new0(SsaNocRow, 1);
            g_ptr_array_add(r->rows, row);
            if (!parse_row(json_object_array_get_idx(jrows, i), r->max_clicks, row, &what)) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: object %zu: %s",
                            json_path, i + 1, what);
                json_object_put(root);
                return NULL;
            }
        }
    }
    json_object_put(root);
    if (what) {
        bad(error, json_path, what);
        return NULL;
    }
    return g_steal_pointer(&r);
}

/* ---- attention drift --------------------------------------------------------------------- */

static int mask_at(const uint8_t *m, int w, int h, double x, double y)
{
    if (!m || !(x >= 0 && y >= 0 && x < w && y < h))
        return 0;
    return m[(size_t)(int)y * w + (int)x] != 0;
}

void ssa_drift_compute(const ss_trace *trace, const float alpha[2][2], const uint8_t *mask,
                       const uint8_t *gt, int width, int height, SsaDrift *out)
{
    memcpy(out->alpha, alpha, sizeof out->alpha);
    double cell = 16.0 * MAX(width, height) / (double)SS_IMG_SIZE; /* original px per cell */
    double shift = 0, in_m = 0, in_g = 0;
    for (int i = 0; i < SS_EMB_SIDE * SS_EMB_SIDE; i++) {
        double w = trace->weight[i];
        double gx = i % SS_EMB_SIDE, gy = i / SS_EMB_SIDE;
        double dx = trace->pos[i][0] - gx, dy = trace->pos[i][1] - gy;
        shift += w * hypot(dx, dy) * cell;
        double x = (trace->pos[i][0] + 0.5) * cell, y = (trace->pos[i][1] + 0.5) * cell;
        in_m += w * mask_at(mask, width, height, x, y);
        in_g += w * mask_at(gt, width, height, x, y);
    }
    out->shift_px = shift;
    out->in_mask = in_m;
    out->in_gt = gt ? in_g : -1;
}
