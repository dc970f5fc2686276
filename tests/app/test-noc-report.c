/* test-noc-report.c — the interactive NoC session's rows and report (app/eval/noc-report.c):
 * rows per object × mode, seeded shuffle, rows filled from engine sessions, JSON/CSV written
 * and read back (resume), malformed reports refused with the file named, drift numbers of a
 * hand-made trace. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "ssa-noc.h"

enum { W = 40, H = 30 };

static char *tmp_dir;

static void touch(const char *dir, const char *name)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);
    g_assert_true(g_file_set_contents(p, "x", 1, NULL));
}

/* SET/images/{a,b}.png, masks a_1, a_2 (+ ignore), b_1: 3 objects */
static SsaDataset *make_dataset(void)
{
    g_autofree char *set = g_build_filename(tmp_dir, "set", NULL);
    g_autofree char *im = g_build_filename(set, "images", NULL);
    g_autofree char *ma = g_build_filename(set, "masks", NULL);
    g_mkdir_with_parents(im, 0755);
    g_mkdir_with_parents(ma, 0755);
    touch(im, "a.png");
    touch(im, "b.png");
    touch(ma, "a_1.png");
    touch(ma, "a_2.png");
    touch(ma, "a_2.ignore.png");
    touch(ma, "b_1.png");
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    SsaDataset *ds = ssa_dataset_scan(set, "all", problems, &error);
    g_assert_no_error(error);
    g_assert_cmpint(ds->n_objects, ==, 3);
    return ds;
}

static char *order_of(const SsaNocReport *r)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < r->rows->len; i++) {
        const SsaNocRow *row = r->rows->pdata[i];
        g_string_append_printf(s, "%s_%d/%s ", row->id, row->k, ssa_noc_mode_key(row->mode));
    }
    return g_string_free(s, FALSE);
}

static void test_rows(void)
{
    g_autoptr(SsaDataset) ds = make_dataset();
    ss_mode modes[2] = { SS_MODE_SAM, SS_MODE_STABLE };
    g_autoptr(SsaNocReport) plain = ssa_noc_report_new(ds, modes, 2, FALSE, 0, 20, NULL);
    g_autofree char *o = order_of(plain);
    g_assert_cmpstr(o, ==, "a_1/sam a_1/stable a_2/sam a_2/stable b_1/sam b_1/stable ");
    g_assert_nonnull(((SsaNocRow *)plain->rows->pdata[2])->ignore);
    g_assert_null(((SsaNocRow *)plain->rows->pdata[0])->ignore);

    g_autoptr(SsaNocReport) s1 = ssa_noc_report_new(ds, modes, 2, TRUE, 7, 20, NULL);
    g_autoptr(SsaNocReport) s2 = ssa_noc_report_new(ds, modes, 2, TRUE, 7, 20, NULL);
    g_autofree char *o1 = order_of(s1), *o2 = order_of(s2);
    g_assert_cmpstr(o1, ==, o2); /* seeded */
    /* a permutation: every (object, mode) once */
    g_auto(GStrv) a = g_strsplit(o, " ", -1), b = g_strsplit(o1, " ", -1);
    g_assert_cmpuint(g_strv_length(a), ==, g_strv_length(b));
    for (guint i = 0; a[i]; i++)
        g_assert_true(g_strv_contains((const char *const *)b, a[i]));
    /* some seed among a few reorders the 6 rows */
    gboolean moved = FALSE;
    for (guint64 seed = 1; seed < 6 && !moved; seed++) {
        g_autoptr(SsaNocReport) s = ssa_noc_report_new(ds, modes, 2, TRUE, seed, 20, NULL);
        g_autofree char *os = order_of(s);
        moved = strcmp(os, o) != 0;
    }
    g_assert_true(moved);
    g_autoptr(SsaNocReport) one = ssa_noc_report_new(ds, modes + 1, 1, FALSE, 0, 20, NULL);
    g_assert_cmpuint(one->rows->len, ==, 3);
}

/* gt: a 20 x 10 block; predictions grow column by column */
static void click(ss_noc_session *s, const uint8_t *gt, int cols, float x, float y, int label,
                  double secs)
{
    ss_prompt pr;
    char err[256];
    ss_point c = { x, y, label };
    g_assert_cmpint(ss_noc_begin(s, c, &pr, err, sizeof err), ==, SS_OK);
    uint8_t pred[W * H];
    for (int i = 0; i < W * H; i++)
        pred[i] = gt[i] && (i % W) < cols;
    g_assert_cmpint(ss_noc_finish(s, pred, NULL, secs, NULL, err, sizeof err), ==, SS_OK);
}

static void test_save_load(void)
{
    g_autoptr(SsaDataset) ds = make_dataset();
    ss_mode modes[2] = { SS_MODE_SAM, SS_MODE_STABLE };
    g_autoptr(SsaNocReport) r = ssa_noc_report_new(ds, modes, 2, TRUE, 3, 20, "plug,in.safetensors");
    uint8_t gt[W * H] = { 0 };
    for (int y = 5; y < 15; y++)
        for (int x = 10; x < 30; x++)
            gt[y * W + x] = 1;
    char err[256];
    /* row 0: 3 clicks, IoU 0.5, 0.85, 0.95 -> NoC85 2, NoC90 3 */
    ss_noc_session *s = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    click(s, gt, 20, 12, 8, 1, 1.5);
    click(s, gt, 27, 25, 8, 1, 0.75);
    click(s, gt, 29, 28.5f, 9, 0, 2.0);
    SsaNocRow *row0 = r->rows->pdata[0];
    ssa_noc_row_update(row0, s);
    row0->done = TRUE;
    ss_noc_free(s);
    g_assert_cmpint(row0->noc85, ==, 2);
    g_assert_cmpint(row0->noc90, ==, 3);
    /* row 1: one click, not done (in progress when the session stopped) */
    s = ss_noc_new(gt, NULL, W, H, 20, err, sizeof err);
    click(s, gt, 11, 10, 5, 1, 0.25);
    ssa_noc_row_update(r->rows->pdata[1], s);
    ss_noc_free(s);
    g_assert_cmpuint(ssa_noc_report_first_unfinished(r), ==, 1);

    g_autofree char *json = g_build_filename(tmp_dir, "noc.json", NULL);
    g_autofree char *csv = g_build_filename(tmp_dir, "noc.csv", NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(ssa_noc_report_save(r, json, csv, &error));
    g_assert_no_error(error);

    g_autoptr(SsaNocReport) back = ssa_noc_report_load(json, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(back->rows->len, ==, 6);
    g_assert_cmpint(back->max_clicks, ==, 20);
    g_assert_true(back->shuffled);
    g_assert_cmpuint(back->seed, ==, 3);
    g_assert_cmpstr(back->plugin, ==, "plug,in.safetensors");
    for (guint i = 0; i < 6; i++) {
        const SsaNocRow *a = r->rows->pdata[i], *b = back->rows->pdata[i];
        g_assert_cmpstr(a->id, ==, b->id);
        g_assert_cmpint(a->k, ==, b->k);
        g_assert_cmpint(a->mode, ==, b->mode);
        g_assert_cmpstr(a->mask, ==, b->mask);
        g_assert_cmpstr(a->ignore, ==, b->ignore);
        g_assert_cmpint(a->done, ==, b->done);
        g_assert_cmpint(a->n_clicks, ==, b->n_clicks);
        g_assert_cmpint(a->noc85, ==, b->noc85);
        g_assert_cmpint(a->noc90, ==, b->noc90);
        for (int c = 0; c < a->n_clicks; c++) {
            g_assert_true(a->iou[c] == b->iou[c]); /* %.17g: exact */
            g_assert_cmpfloat(a->seconds[c], ==, b->seconds[c]);
            g_assert_cmpfloat(a->clicks[c].x, ==, b->clicks[c].x);
            g_assert_cmpint(a->clicks[c].label, ==, b->clicks[c].label);
        }
    }
    g_assert_cmpuint(ssa_noc_report_first_unfinished(back), ==, 1);
    ssa_noc_row_reset(back->rows->pdata[1]);
    g_assert_cmpint(((SsaNocRow *)back->rows->pdata[1])->n_clicks, ==, 0);

    /* the JSON summary and the CSV */
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(json, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "\"summary\""));
    g_autofree char *ctext = NULL;
    g_assert_true(g_file_get_contents(csv, &ctext, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(ctext, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 8); /* header + 6 rows + "" */
    g_assert_true(g_str_has_prefix(lines[0], "order,set,id,object,image,mode,done,clicks,noc85,noc90"));
    g_autofree char *want = g_strdup_printf(",%s,1,3,2,3,95.000,4.250,50.000 85.000 95.000,"
                                            "1.500 0.750 2.000,12:8:+ 25:8:+ 28:9:-",
                                            ssa_noc_mode_key(row0->mode));
    g_assert_nonnull(strstr(lines[1], want));
}

static void expect_bad(const char *content, const char *what)
{
    g_autofree char *p = g_build_filename(tmp_dir, "bad.json", NULL);
    g_assert_true(g_file_set_contents(p, content, -1, NULL));
    g_autoptr(GError) error = NULL;
    g_autoptr(SsaNocReport) r = ssa_noc_report_load(p, &error);
    g_assert_null(r);
    g_assert_nonnull(error);
    g_assert_true(g_str_has_prefix(error->message, p));
    if (!strstr(error->message, what))
        g_error("'%s' does not say '%s'", error->message, what);
}

static void test_bad_reports(void)
{
    expect_bad("{\"format\": \"stablesam-noc-session\", \"vers", "not JSON");
    expect_bad("{\"format\": \"coco\"}", "not a NoC session report");
    expect_bad("{\"format\": \"stablesam-noc-session\", \"version\": 9}", "version");
    expect_bad("{\"format\": \"stablesam-noc-session\", \"version\": 1, \"max_clicks\": 99}",
               "max_clicks");
    const char *head = "{\"format\": \"stablesam-noc-session\", \"version\": 1, \"max_clicks\": 2, "
                       "\"dataset\": \"d\", \"objects\": [";
    const char *obj = "{\"set\": \"s\", \"id\": \"a\", \"object\": 1, \"image\": \"i\", \"mask\": \"m\", "
                      "\"mode\": \"%s\", \"done\": true, \"iou\": [%s], \"iou_exact\": [%s], "
                      "\"seconds\": [%s], \"clicks\": [%s]}]}";
    g_autofree char *ok = g_strdup_printf(obj, "sam", "50", "0.5", "1", "[1, 2, 1]");
    g_autofree char *okj = g_strconcat(head, ok, NULL);
    g_autofree char *p = g_build_filename(tmp_dir, "ok.json", NULL);
    g_assert_true(g_file_set_contents(p, okj, -1, NULL));
    g_autoptr(GError) error = NULL;
    g_autoptr(SsaNocReport) r = ssa_noc_report_load(p, &error);
    g_assert_no_error(error);
    g_assert_cmpint(((SsaNocRow *)r->rows->pdata[0])->n_clicks, ==, 1);

    struct { const char *mode, *iou, *ex, *sec, *clk, *what; } cases[] = {
        { "dsp", "50", "0.5", "1", "[1, 2, 1]", "mode" },
        { "sam", "50", "0.5", "1, 2", "[1, 2, 1]", "differ in length" },
        { "sam", "1,2,3", "0.1,0.2,0.3", "1,1,1", "[1,2,1],[1,2,1],[1,2,1]", "exceed max_clicks" },
        { "sam", "50", "1.5", "1", "[1, 2, 1]", "outside 0..1" },
        { "sam", "50", "0.5", "1", "[1, 2]", "[x, y, label]" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *o = g_strdup_printf(obj, cases[i].mode, cases[i].iou, cases[i].ex,
                                             cases[i].sec, cases[i].clk);
        g_autofree char *j = g_strconcat(head, o, NULL);
        expect_bad(j, cases[i].what);
    }
}

static void test_drift(void)
{
    ss_trace *t = g_new0(ss_trace, 1);
    for (int i = 0; i < SS_EMB_SIDE * SS_EMB_SIDE; i++) {
        t->pos[i][0] = (float)(i % SS_EMB_SIDE);
        t->pos[i][1] = (float)(i / SS_EMB_SIDE);
    }
    /* 512 x 256 image: scale 2, one cell = 8 px. Weight 0.75 on cell (10, 20) moved by (3, 4)
       cells = 40 px to (13, 24) -> pixel centre (108, 196); 0.25 on cell (40, 5) unmoved -> (324, 44) */
    int a = 20 * SS_EMB_SIDE + 10, b = 5 * SS_EMB_SIDE + 40;
    t->weight[a] = 0.75f;
    t->weight[b] = 0.25f;
    t->pos[a][0] = 13;
    t->pos[a][1] = 24;
    enum { IW = 512, IH = 256 };
    uint8_t *mask = g_new0(uint8_t, IW * IH), *gt = g_new0(uint8_t, IW * IH);
    mask[196 * IW + 108] = 1;
    gt[44 * IW + 324] = 1;
    float alpha[2][2] = { { 0.25f, 0.75f }, { 0.6f, 0.4f } };
    SsaDrift d;
    ssa_drift_compute(t, alpha, mask, gt, IW, IH, &d);
    g_assert_cmpfloat_with_epsilon(d.shift_px, 0.75 * 40.0, 1e-9);
    g_assert_cmpfloat_with_epsilon(d.in_mask, 0.75, 1e-9);
    g_assert_cmpfloat_with_epsilon(d.in_gt, 0.25, 1e-9);
    g_assert_cmpfloat(d.alpha[1][0], ==, 0.6f);
    ssa_drift_compute(t, alpha, mask, NULL, IW, IH, &d);
    g_assert_cmpfloat(d.in_gt, ==, -1);
    /* a sample pushed outside the image counts as outside */
    t->pos[a][0] = -3;
    ssa_drift_compute(t, alpha, mask, gt, IW, IH, &d);
    g_assert_cmpfloat_with_epsilon(d.in_mask, 0.0, 1e-12);
    g_free(t);
    g_free(mask);
    g_free(gt);
}

static void rm_rf(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d))) {
            g_autofree char *c = g_build_filename(path, n, NULL);
            rm_rf(c);
        }
    }
    g_remove(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("test-noc-XXXXXX", NULL);
    g_test_add_func("/noc/rows", test_rows);
    g_test_add_func("/noc/save-load", test_save_load);
    g_test_add_func("/noc/bad-reports", test_bad_reports);
    g_test_add_func("/noc/drift", test_drift);
    int rc = g_test_run();
    rm_rf(tmp_dir);
    g_free(tmp_dir);
    return rc;
}
