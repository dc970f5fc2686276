/* test-ui.c — widget and worker tests of stablesam-annotate (GTest, TAP; run under Xvfb).
 *
 *   /canvas/geometry        fit, image<->widget round trip, zoom keeps the centre fixed
 *   /window/no-model        a model that cannot load gives a one-line error, window usable
 *   /window/open-folder     a folder becomes a document (images listed, project path next to them)
 *   /window/bad-files       a broken image, project or COCO file: one-line message naming the
 *                           file in the window, the document intact and usable
 *   /window/settings        GSettings drive the window's mode / compare / circles properties
 *   /worker/latest-wins     of 6 queued decodes only the newest is delivered; cancel drops all
 *   /worker/cache           the embedding goes to the disk cache and comes back identical
 * The worker tests need the model (skipped without it). */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include "ssa-application.h"
#include "ssa-window-private.h"
#include "model-path.h"

static char *samples_dir; /* the sample images, made by scripts/samples.sh ($SSA_SAMPLES_SH) */

static void
iterate(guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
}

static gboolean
wait_for(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!cond(data)) {
        if (g_get_monotonic_time() > end)
            return FALSE;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return TRUE;
}

static GdkTexture *
make_texture(int w, int h)
{
    guint8 *px = g_malloc((gsize)w * h * 3);
    for (int i = 0; i < w * h * 3; i++)
        px[i] = (guint8)(i * 7);
    g_autoptr(GBytes) bytes = g_bytes_new_take(px, (gsize)w * h * 3);
    return gdk_memory_texture_new(w, h, GDK_MEMORY_R8G8B8, bytes, (gsize)w * 3);
}

/* ---- canvas ----------------------------------------------------------------------------- */

static gboolean
canvas_allocated(gpointer data)
{
    return gtk_widget_get_width(GTK_WIDGET(data)) > 0;
}

/* a 600×400 window holding one canvas, allocated; returns the canvas, *win its window */
static GtkWidget *
canvas_in_window(GtkWidget **win)
{
    *win = gtk_window_new();
    GtkWidget *canvas = ssa_canvas_new();
    gtk_window_set_child(GTK_WINDOW(*win), canvas);
    gtk_window_set_default_size(GTK_WINDOW(*win), 600, 400);
    gtk_window_present(GTK_WINDOW(*win));
    g_assert_true(wait_for(canvas_allocated, canvas, 5000));
    iterate(100);
    return canvas;
}

static void
test_canvas_geometry(void)
{
    GtkWidget *win;
    GtkWidget *canvas = canvas_in_window(&win);
    g_autoptr(GdkTexture) tex = make_texture(400, 100);
    ssa_canvas_set_image(SSA_CANVAS(canvas), tex);
    iterate(100);
    int w = gtk_widget_get_width(canvas), h = gtk_widget_get_height(canvas);
    double z = ssa_canvas_get_zoom(SSA_CANVAS(canvas));
    g_assert_cmpfloat_with_epsilon(z, MIN(w / 400.0, h / 100.0), 1e-9);
    /* centred */
    double wx, wy;
    ssa_canvas_image_to_widget(SSA_CANVAS(canvas), 200, 50, &wx, &wy);
    g_assert_cmpfloat_with_epsilon(wx, w / 2.0, 1e-6);
    g_assert_cmpfloat_with_epsilon(wy, h / 2.0, 1e-6);
    /* round trip */
    double ix, iy;
    ssa_canvas_widget_to_image(SSA_CANVAS(canvas), 37.5, 81.25, &ix, &iy);
    ssa_canvas_image_to_widget(SSA_CANVAS(canvas), ix, iy, &wx, &wy);
    g_assert_cmpfloat_with_epsilon(wx, 37.5, 1e-9);
    g_assert_cmpfloat_with_epsilon(wy, 81.25, 1e-9);
    /* zoom in keeps the widget centre on the same image pixel; fit restores */
    double cx, cy, cx2, cy2;
    ssa_canvas_widget_to_image(SSA_CANVAS(canvas), w / 2.0, h / 2.0, &cx, &cy);
    ssa_canvas_zoom_in(SSA_CANVAS(canvas));
    g_assert_cmpfloat(ssa_canvas_get_zoom(SSA_CANVAS(canvas)), >, z * 1.2);
    ssa_canvas_widget_to_image(SSA_CANVAS(canvas), w / 2.0, h / 2.0, &cx2, &cy2);
    g_assert_cmpfloat_with_epsilon(cx, cx2, 1e-6);
    g_assert_cmpfloat_with_epsilon(cy, cy2, 1e-6);
    ssa_canvas_zoom_fit(SSA_CANVAS(canvas));
    g_assert_cmpfloat_with_epsilon(ssa_canvas_get_zoom(SSA_CANVAS(canvas)), z, 1e-9);
    /* a mask of the wrong size is refused, not drawn */
    guint8 small[4] = { 1, 1, 1, 1 };
    ssa_canvas_set_mask(SSA_CANVAS(canvas), small, 2, 2);
    iterate(50);
    /* a big image shown through a downscaled texture: geometry in full-size pixels */
    ssa_canvas_set_image_sized(SSA_CANVAS(canvas), tex, 4000, 1000);
    iterate(100);
    g_assert_cmpint(ssa_canvas_get_image_width(SSA_CANVAS(canvas)), ==, 4000);
    g_assert_cmpint(ssa_canvas_get_image_height(SSA_CANVAS(canvas)), ==, 1000);
    g_assert_cmpfloat_with_epsilon(ssa_canvas_get_zoom(SSA_CANVAS(canvas)), z / 10, 1e-9);
    ssa_canvas_image_to_widget(SSA_CANVAS(canvas), 2000, 500, &wx, &wy);
    g_assert_cmpfloat_with_epsilon(wx, w / 2.0, 1e-6);
    g_assert_cmpfloat_with_epsilon(wy, h / 2.0, 1e-6);
    g_autofree guint8 *big = g_malloc0(4000 * 1000);
    memset(big + 4000 * 400, 1, 4000 * 200);
    ssa_canvas_set_mask(SSA_CANVAS(canvas), big, 4000, 1000);
    iterate(100);
    gtk_window_destroy(GTK_WINDOW(win));
}

/* The canvas as the renderer draws it, as packed GDK_MEMORY_DEFAULT pixels (w, h). */
static guint32 *
render_canvas(GtkWidget *canvas, int *w, int *h)
{
    *w = gtk_widget_get_width(canvas);
    *h = gtk_widget_get_height(canvas);
    g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new(canvas);
    GtkSnapshot *snapshot = gtk_snapshot_new();
    gdk_paintable_snapshot(paintable, snapshot, *w, *h);
    g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node(snapshot);
    g_assert_nonnull(node);
    GskRenderer *renderer = gtk_native_get_renderer(gtk_widget_get_native(canvas));
    g_autoptr(GdkTexture) tex = gsk_renderer_render_texture(renderer, node,
                                                            &GRAPHENE_RECT_INIT(0, 0, *w, *h));
    guint32 *px = g_malloc((gsize)*w * *h * 4);
    gdk_texture_download(tex, (guchar *)px, (gsize)*w * 4);
    return px;
}

static guint32
pixel_at_image(GtkWidget *canvas, const guint32 *px, int w, int h, double ix, double iy)
{
    double wx, wy;
    ssa_canvas_image_to_widget(SSA_CANVAS(canvas), ix, iy, &wx, &wy);
    int x = (int)wx, y = (int)wy;
    g_assert_true(x >= 0 && y >= 0 && x < w && y < h);
    return px[(gsize)y * w + x];
}

/* A prepared (levels, visible part only) image with a mask: the mask is drawn over its own
 * pixels and nowhere else, zoomed out (a halved level) and zoomed in (the full-size pixels). */
static void
test_canvas_layers(void)
{
    GtkWidget *win;
    GtkWidget *canvas = canvas_in_window(&win);
    int iw = 2400, ih = 1200;
    guint8 *rgb = g_malloc((gsize)iw * ih * 3);
    for (int y = 0; y < ih; y++)
        for (int x = 0; x < iw; x++) {
            guint8 *p = rgb + ((gsize)y * iw + x) * 3;
            p[0] = x < iw / 2 ? 200 : 40; /* red left half, green right half */
            p[1] = x < iw / 2 ? 40 : 200;
            p[2] = 40;
        }
    g_autoptr(GBytes) bytes = g_bytes_new_take(rgb, (gsize)iw * ih * 3);
    g_autoptr(GdkTexture) tex = gdk_memory_texture_new(iw, ih, GDK_MEMORY_R8G8B8, bytes, (gsize)iw * 3);
    ssa_canvas_prepare_texture(tex, bytes, GDK_MEMORY_R8G8B8, (gsize)iw * 3);
    ssa_canvas_set_image(SSA_CANVAS(canvas), tex);
    /* mask: the rectangle (1120..1400, 400..800), across the red / green border */
    guint8 *m = g_malloc0((gsize)iw * ih);
    for (int y = 400; y < 800; y++)
        memset(m + (gsize)y * iw + 1120, 1, 280);
    g_autoptr(GBytes) mask = g_bytes_new_take(m, (gsize)iw * ih);
    ssa_canvas_set_mask_bytes(SSA_CANVAS(canvas), mask, iw, ih);
    GdkRGBA blue = { 0, 0, 1, 1 };
    ssa_canvas_set_mask_color(SSA_CANVAS(canvas), &blue);
    iterate(100);
    g_assert_cmpfloat(ssa_canvas_get_zoom(SSA_CANVAS(canvas)), <, 0.3);
    int w, h;
    g_autofree guint32 *px = render_canvas(canvas, &w, &h);
    guint32 in = pixel_at_image(canvas, px, w, h, 1160, 600);
    guint32 out = pixel_at_image(canvas, px, w, h, 300, 600);
    guint32 right = pixel_at_image(canvas, px, w, h, 2000, 600);
    g_assert_cmpuint(in & 0xff, >, 80);          /* tinted blue */
    g_assert_cmpuint(in >> 16 & 0xff, >, 80);    /* over the red image */
    g_assert_cmpuint(out & 0xff, <, 60);         /* untouched red */
    g_assert_cmpuint(out >> 16 & 0xff, >, 180);
    g_assert_cmpuint(right >> 8 & 0xff, >, 180); /* untouched green */
    g_assert_cmpuint(right & 0xff, <, 60);
    /* zoomed in past 200 % around the centre: the full-size pixels, the mask's left edge */
    for (int i = 0; i < 10; i++)
        ssa_canvas_zoom_in(SSA_CANVAS(canvas));
    g_assert_cmpfloat(ssa_canvas_get_zoom(SSA_CANVAS(canvas)), >, 2.0);
    iterate(100);
    g_autofree guint32 *px2 = render_canvas(canvas, &w, &h);
    /* one image px either side of the edge: image outside, outline on it, fill inside */
    guint32 left = pixel_at_image(canvas, px2, w, h, 1119.5, 600.5);
    guint32 edge = pixel_at_image(canvas, px2, w, h, 1120.5, 600.5);
    guint32 fill = pixel_at_image(canvas, px2, w, h, 1122.5, 600.5);
    g_assert_cmpuint(left & 0xff, <, 60);
    g_assert_cmpuint(left >> 16 & 0xff, >, 180);
    g_assert_cmpuint(edge & 0xff, >, 80);
    g_assert_cmpuint(fill & 0xff, >, 80);
    g_assert_cmpuint(fill >> 16 & 0xff, >, 80);
    g_assert_cmpuint(edge, !=, fill);            /* the outline is its own colour */
    ssa_canvas_set_mask_bytes(SSA_CANVAS(canvas), NULL, 0, 0);
    iterate(50);
    gtk_window_destroy(GTK_WINDOW(win));
}

/* ---- window ----------------------------------------------------------------------------- */

static SsaApplication *app;

static gboolean
error_shown(gpointer data)
{
    SsaWindow *w = data;
    return gtk_revealer_get_reveal_child(w->error_revealer);
}

static gboolean
texture_loaded(gpointer data)
{
    SsaWindow *w = data;
    return w->texture != NULL;
}

static gboolean
image_failed(gpointer data)
{
    SsaWindow *w = data;
    return w->image_failed;
}

static void
test_window_no_model(void)
{
    SsaWindow *win = ssa_window_new(app, "/nonexistent/model.safetensors", NULL);
    gtk_window_present(GTK_WINDOW(win));
    g_assert_true(wait_for(error_shown, win, 10000));
    const char *msg = gtk_label_get_text(win->error_label);
    g_assert_nonnull(strstr(msg, "/nonexistent/model.safetensors"));
    g_assert_null(strchr(msg, '\n'));
    g_assert_true(win->model_failed);
    /* still usable: images open, prompts are kept without a crash */
    g_autoptr(GFile) dir = g_file_new_for_path(samples_dir);
    g_autoptr(GError) error = NULL;
    g_autofree char *project = g_build_filename(g_get_tmp_dir(), "ssa-test-no-model.json", NULL);
    g_unlink(project);
    g_assert_true(ssa_window_open(win, &dir, 1, project, &error));
    g_assert_no_error(error);
    iterate(300);
    g_signal_emit_by_name(win->canvas, "point-click", 10.0, 10.0, 1);
    g_assert_null(win->prediction);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.accept", NULL);
    g_assert_cmpuint(ssa_image_entry_get_n_objects(ssa_document_get_image(win->document, 0)), ==, 0);
    gtk_window_destroy(GTK_WINDOW(win));
    g_unlink(project);
}

static void
test_window_open_folder(void)
{
    SsaWindow *win = ssa_window_new(app, "/nonexistent/model.safetensors", NULL);
    g_autoptr(GFile) dir = g_file_new_for_path(samples_dir);
    g_autoptr(GError) error = NULL;
    g_autofree char *project = g_build_filename(samples_dir, SSA_PROJECT_BASENAME, NULL);
    g_unlink(project);
    g_assert_true(ssa_window_open(win, &dir, 1, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(ssa_document_get_n_images(win->document), ==, 4);
    g_assert_cmpstr(win->default_project_path, ==, project);
    g_assert_cmpint(win->image_index, ==, 0);
    g_assert_nonnull(gtk_list_box_get_row_at_index(win->image_list, 3));
    g_assert_null(gtk_list_box_get_row_at_index(win->image_list, 4));
    /* next / previous image */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.next-image", NULL);
    g_assert_cmpint(win->image_index, ==, 1);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.prev-image", NULL);
    g_assert_cmpint(win->image_index, ==, 0);
    /* an empty folder is a one-line error */
    g_autofree char *empty = g_dir_make_tmp("ssa-empty-XXXXXX", NULL);
    g_autoptr(GFile) edir = g_file_new_for_path(empty);
    g_clear_error(&error);
    g_assert_false(ssa_window_open(win, &edir, 1, NULL, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "no images"));
    g_rmdir(empty);
    gtk_window_destroy(GTK_WINDOW(win));
    g_unlink(project);
}

static char *
first_sample(void)
{
    g_autoptr(GDir) d = g_dir_open(samples_dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)) != NULL)
        if (g_str_has_suffix(name, ".png") || g_str_has_suffix(name, ".jpg"))
            return g_build_filename(samples_dir, name, NULL);
    return NULL;
}

static void
assert_error_names(SsaWindow *win, const char *file)
{
    g_assert_true(wait_for(error_shown, win, 10000));
    const char *msg = gtk_label_get_text(win->error_label);
    g_test_message("shown: %s", msg);
    g_assert_nonnull(strstr(msg, file));
    g_assert_null(strchr(msg, '\n'));
    gtk_widget_activate_action(GTK_WIDGET(win), "win.dismiss-error", NULL);
    if (gtk_revealer_get_reveal_child(win->error_revealer))
        gtk_revealer_set_reveal_child(win->error_revealer, FALSE);
}

static void
test_window_bad_files(void)
{
    SsaWindow *win = ssa_window_new(app, "/nonexistent/model.safetensors", NULL);
    gtk_window_present(GTK_WINDOW(win));
    g_assert_true(wait_for(error_shown, win, 10000)); /* no model: dismissed below */
    gtk_revealer_set_reveal_child(win->error_revealer, FALSE);
    g_autofree char *dir = g_dir_make_tmp("ssa-bad-XXXXXX", NULL);
    g_autofree char *sample = first_sample();
    g_assert_nonnull(sample);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(sample, &data, &len, NULL));
    g_autofree char *good = g_build_filename(dir, "a-good.png", NULL);
    g_autofree char *broken = g_build_filename(dir, "b-broken.png", NULL);
    g_assert_true(g_file_set_contents(good, data, (gssize)len, NULL));
    g_assert_true(g_file_set_contents(broken, data, MIN((gssize)len, 300), NULL)); /* cut short */
    g_autofree char *project = g_build_filename(dir, "project.json", NULL);
    g_autoptr(GFile) gdir = g_file_new_for_path(dir);
    g_autoptr(GError) error = NULL;
    g_assert_true(ssa_window_open(win, &gdir, 1, project, &error));
    g_assert_no_error(error);
    SsaDocument *doc = win->document;
    /* wait for the good image (loaded off the main loop), then give the document an object */
    g_assert_true(wait_for(texture_loaded, win, 20000));
    g_assert_nonnull(ssa_document_add_category(doc, 0, "thing", 0, &error));
    int w = ssa_image_entry_get_width(ssa_document_get_image(doc, 0));
    int h = ssa_image_entry_get_height(ssa_document_get_image(doc, 0));
    g_assert_cmpint(w, >, 0);
    g_autofree guint8 *mask = g_malloc0((gsize)w * h);
    memset(mask, 1, (gsize)w * (h / 2));
    g_assert_nonnull(ssa_document_add_object(doc, 0, 1, mask, w, h, NULL, &error));

    /* a broken image */
    ssa_window_go_to_image(win, 1);
    g_assert_true(wait_for(image_failed, win, 20000));
    assert_error_names(win, "b-broken.png");
    g_assert_nonnull(strstr(gtk_label_get_text(win->status_label), "cannot be shown"));
    ssa_window_go_to_image(win, 0);
    g_assert_true(wait_for(texture_loaded, win, 20000));
    g_assert_false(win->image_failed);
    /* the file as saved now (the image round trip itself is autosaved: current image) */
    iterate(100);
    g_assert_true(ssa_document_flush(doc, &error));
    g_autofree char *before = NULL;
    g_assert_true(g_file_get_contents(project, &before, NULL, NULL));

    /* a project that is not JSON, one with a bad field, a COCO file that is not COCO */
    static const struct { const char *name, *text; } bad[] = {
        { "cut.json", "{\"format\": \"stablesam-project\", \"version\": 1, \"categ" },
        { "badfield.json", "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": "
                           "[{\"id\": -4, \"name\": \"x\"}], \"images\": []}" },
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *p = g_build_filename(dir, bad[i].name, NULL);
        g_assert_true(g_file_set_contents(p, bad[i].text, -1, NULL));
        g_assert_false(ssa_window_open_project(win, p));
        assert_error_names(win, bad[i].name);
        g_assert_true(win->document == doc);
    }
    g_autofree char *coco = g_build_filename(dir, "coco.json", NULL);
    g_assert_true(g_file_set_contents(coco, "{\"images\": [{\"id\": 1}], \"annotations\": 5}", -1, NULL));
    g_assert_false(ssa_window_import_coco(win, coco));
    assert_error_names(win, "coco.json");
    g_assert_true(win->document == doc);
    g_autofree char *missing = g_build_filename(dir, "missing.json", NULL);
    g_assert_false(ssa_window_open_project(win, missing));
    assert_error_names(win, "missing.json");

    /* still the same document, still usable, its file untouched by the failures */
    g_autofree char *after = NULL;
    g_assert_true(g_file_get_contents(project, &after, NULL, NULL));
    g_assert_cmpstr(after, ==, before);
    g_assert_cmpuint(ssa_image_entry_get_n_objects(ssa_document_get_image(doc, 0)), ==, 1);
    g_assert_nonnull(ssa_document_add_object(doc, 0, 1, mask, w, h, NULL, &error));
    g_assert_cmpuint(ssa_image_entry_get_n_objects(ssa_document_get_image(doc, 0)), ==, 2);
    g_assert_true(ssa_document_undo(doc));
    g_assert_cmpuint(ssa_image_entry_get_n_objects(ssa_document_get_image(doc, 0)), ==, 1);
    g_assert_true(ssa_document_flush(doc, &error));
    gtk_window_destroy(GTK_WINDOW(win));
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_cmpint(system(rm), ==, 0);
}

static void
test_window_settings(void)
{
    SsaWindow *win = ssa_window_new(app, "/nonexistent/model.safetensors", NULL);
    GSettings *s = ssa_application_get_settings(app);
    g_settings_set_string(s, "mode", "sam");
    g_assert_cmpstr(win->mode, ==, "sam");
    g_assert_cmpuint(gtk_drop_down_get_selected(win->mode_dropdown), ==, 0);
    gtk_drop_down_set_selected(win->mode_dropdown, 1);
    g_assert_cmpstr(g_settings_get_string(s, "mode"), ==, "stable");
    g_assert_cmpstr(win->mode, ==, "stable");
    g_settings_set_boolean(s, "compare", TRUE);
    g_assert_true(win->compare);
    g_assert_true(gtk_widget_get_visible(win->compare_overlay));
    gtk_widget_activate_action(GTK_WIDGET(win), "win.compare", NULL);
    g_assert_false(g_settings_get_boolean(s, "compare"));
    gtk_widget_activate_action(GTK_WIDGET(win), "win.show-circles", NULL);
    g_assert_true(g_settings_get_boolean(s, "show-circles"));
    gboolean canvas_circles = FALSE;
    g_object_get(win->canvas, "show-circles", &canvas_circles, NULL);
    g_assert_true(canvas_circles);
    g_settings_set_int(s, "circles-k", 17);
    int k = 0;
    g_object_get(win->compare_canvas, "circles-k", &k, NULL);
    g_assert_cmpint(k, ==, 17);
    g_assert_cmpfloat_with_epsilon(gtk_adjustment_get_value(win->k_adjustment), 17, 1e-9);
    g_settings_reset(s, "mode");
    g_settings_reset(s, "compare");
    g_settings_reset(s, "show-circles");
    g_settings_reset(s, "circles-k");
    gtk_window_destroy(GTK_WINDOW(win));
}

/* ---- worker ----------------------------------------------------------------------------- */

typedef struct {
    int done;
    gboolean ok;
    SsaEmbedding *emb;
    GError *error;
    int n_predictions;
    guint last_generation;
    float last_iou;
} WorkerWait;

static gboolean
is_done(gpointer data)
{
    return ((WorkerWait *)data)->done > 0;
}

static void
on_loaded(GObject *src, GAsyncResult *res, gpointer data)
{
    WorkerWait *w = data;
    w->ok = ssa_worker_load_model_finish(SSA_WORKER(src), res, &w->error);
    w->done++;
}

static void
on_encoded(GObject *src, GAsyncResult *res, gpointer data)
{
    WorkerWait *w = data;
    w->emb = ssa_worker_encode_finish(SSA_WORKER(src), res, &w->error);
    w->done++;
}

static void
on_prediction(SsaWorker *worker, SsaPrediction *pred, WorkerWait *w)
{
    w->n_predictions++;
    w->last_generation = pred->generation;
    w->last_iou = pred->results[0].iou_pred;
}

static SsaWorker *
loaded_worker(void)
{
    g_autofree char *model = ssa_model_path(NULL);
    if (!g_file_test(model, G_FILE_TEST_EXISTS))
        return NULL;
    SsaWorker *worker = ssa_worker_new();
    WorkerWait w = { 0 };
    ssa_worker_load_model_async(worker, model, NULL, NULL, on_loaded, &w);
    g_assert_true(wait_for(is_done, &w, 60000));
    if (!w.ok) {
        g_test_message("model does not load: %s", w.error->message);
        g_error_free(w.error);
        g_object_unref(worker);
        return NULL;
    }
    return worker;
}

static SsaEmbedding *
encode(SsaWorker *worker, const char *path)
{
    WorkerWait w = { 0 };
    ssa_worker_encode_async(worker, path, FALSE, NULL, on_encoded, &w);
    g_assert_true(wait_for(is_done, &w, 600000));
    g_assert_no_error(w.error);
    return w.emb;
}

static void
test_worker_latest_wins(void)
{
    g_autoptr(SsaWorker) worker = loaded_worker();
    if (!worker) {
        g_test_skip("no model");
        return;
    }
    g_autofree char *path = g_build_filename(samples_dir, "chelsea.png", NULL);
    g_autoptr(SsaEmbedding) emb = encode(worker, path);
    g_assert_cmpint(emb->width, ==, 451);
    g_assert_cmpint(emb->height, ==, 300);

    WorkerWait w = { 0 };
    g_signal_connect(worker, "prediction", G_CALLBACK(on_prediction), &w);
    g_autoptr(SsaPrompt) prompt = ssa_prompt_new();
    prompt->has_box = TRUE;
    ss_mode mode = SS_MODE_SAM;
    guint last = 0;
    for (int i = 0; i < 6; i++) {
        prompt->box[0] = 60.f + i;
        prompt->box[1] = 12.f;
        prompt->box[2] = 330.f;
        prompt->box[3] = 296.f;
        last = ssa_worker_predict(worker, emb, prompt, NULL, &mode, 1, FALSE);
    }
    gint64 end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (w.n_predictions == 0 && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    iterate(1500); /* anything stale would arrive now */
    g_assert_cmpint(w.n_predictions, ==, 1);
    g_assert_cmpuint(w.last_generation, ==, last);
    g_assert_cmpfloat(w.last_iou, >, 0.0f);

    /* cancel: nothing is delivered */
    w.n_predictions = 0;
    ssa_worker_predict(worker, emb, prompt, NULL, &mode, 1, FALSE);
    ssa_worker_cancel_predictions(worker);
    iterate(3000);
    g_assert_cmpint(w.n_predictions, ==, 0);
}

static void
test_worker_cache(void)
{
    g_autoptr(SsaWorker) worker = loaded_worker();
    if (!worker) {
        g_test_skip("no model");
        return;
    }
    g_autofree char *path = g_build_filename(samples_dir, "chelsea.png", NULL);
    g_autoptr(SsaEmbedding) a = encode(worker, path);
    /* a fresh worker has an empty memory cache: this one comes from the disk */
    g_autoptr(SsaWorker) worker2 = loaded_worker();
    g_autoptr(SsaEmbedding) b = encode(worker2, path);
    g_assert_true(a != b);
    g_assert_cmpmem(a->data, sizeof(float) * SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE,
                    b->data, sizeof(float) * SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);
    g_autofree char *cache = ssa_cache_dir();
    g_autofree char *edir = g_build_filename(cache, "embeddings", NULL);
    g_autoptr(GDir) d = g_dir_open(edir, 0, NULL);
    g_assert_nonnull(d);
    gboolean found = FALSE;
    const char *name;
    while ((name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, ssa_worker_get_model_hash(worker2)) ||
            strstr(name, ssa_worker_get_model_hash(worker2)))
            found = TRUE;
    g_assert_true(found);
}

int
main(int argc, char **argv)
{
    /* A private embedding cache (XDG_CACHE_HOME) but the usual model: fix the model path first. */
    if (!g_getenv("STABLESAM_MODEL")) {
        const char *xdg = g_getenv("XDG_CACHE_HOME");
        g_autofree char *base = xdg && *xdg ? g_strdup(xdg) : g_build_filename(g_get_home_dir(), ".cache", NULL);
        g_autofree char *model = g_build_filename(base, "stablesam", "mobilesam.safetensors", NULL);
        g_setenv("STABLESAM_MODEL", model, TRUE);
    }
    g_autofree char *tmp = g_dir_make_tmp("ssa-test-ui-XXXXXX", NULL);
    g_autofree char *cache = g_build_filename(tmp, "cache", NULL);
    g_setenv("XDG_CACHE_HOME", cache, TRUE);
    samples_dir = g_build_filename(tmp, "images", NULL);
    const char *samples_sh = g_getenv("SSA_SAMPLES_SH");
    int status = 1;
    g_autoptr(GError) error = NULL;
    const char *sargv[] = { samples_sh ? samples_sh : "scripts/samples.sh", samples_dir, NULL };
    if (!g_spawn_sync(NULL, (char **)sargv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                      &status, &error) || !g_spawn_check_wait_status(status, NULL)) {
        g_printerr("test-ui: %s: cannot make the sample images%s%s\n", sargv[0], error ? ": " : "",
                   error ? error->message : "");
        return 1;
    }

    gtk_test_init(&argc, &argv, NULL);
    app = ssa_application_new();
    g_application_register(G_APPLICATION(app), NULL, NULL);
    if (!ssa_application_get_settings(app))
        return 1;
    g_test_add_func("/canvas/geometry", test_canvas_geometry);
    g_test_add_func("/canvas/layers", test_canvas_layers);
    g_test_add_func("/window/no-model", test_window_no_model);
    g_test_add_func("/window/open-folder", test_window_open_folder);
    g_test_add_func("/window/bad-files", test_window_bad_files);
    g_test_add_func("/window/settings", test_window_settings);
    g_test_add_func("/worker/latest-wins", test_worker_latest_wins);
    g_test_add_func("/worker/cache", test_worker_cache);
    int rc = g_test_run();
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", tmp);
    if (system(rm) != 0)
        g_printerr("test-ui: could not remove %s\n", tmp);
    return rc;
}
