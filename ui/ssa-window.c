/* ssa-window.c — the annotator window: document wiring, image loading and encoding, the
 * prompt → prediction loop, accepting objects, status bar.
 *
 * Threading: all of this runs on the main loop. The worker (ssa-worker.c) does the engine
 * work on its own threads and answers through GAsyncReadyCallbacks and signals that are
 * dispatched here; answers for an image that is no longer shown are recognised by their
 * cancelled GCancellable (encode) or their generation (decode) and dropped. */
#define G_LOG_DOMAIN "ssa-window"
#include "ssa-window-private.h"
#include "ssa-application.h"
#include "ssa-coco.h"
#include "ss_metrics.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { PROP_0, PROP_MODE, PROP_COMPARE, PROP_SHOW_CIRCLES, PROP_DRIFT_PANEL, N_PROPS };
static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE(SsaWindow, ssa_window, GTK_TYPE_APPLICATION_WINDOW)

static const char *const image_exts[] = { ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff",
                                          ".webp", ".ppm", ".pgm", NULL };

static void load_current_image(SsaWindow *self);

/* ---- errors and status ------------------------------------------------------------------ */

void
ssa_window_show_error(SsaWindow *self, const char *message)
{
    g_return_if_fail(SSA_IS_WINDOW(self));
    g_message("%s", message);
    gtk_label_set_text(self->error_label, message);
    gtk_widget_set_tooltip_text(GTK_WIDGET(self->error_label), message);
    gtk_revealer_set_reveal_child(self->error_revealer, TRUE);
}

ss_mode
ssa_window_main_mode(SsaWindow *self)
{
    if (g_strcmp0(self->mode, "stable") == 0 && ssa_worker_has_plugin(self->worker))
        return SS_MODE_STABLE;
    return SS_MODE_SAM;
}

static const char *
mode_name(ss_mode mode)
{
    return mode == SS_MODE_STABLE ? "Stable-SAM" : "SAM";
}

void
ssa_window_update_status(SsaWindow *self)
{
    g_autoptr(GString) s = g_string_new(NULL);
    guint n = self->document ? ssa_document_get_n_images(self->document) : 0;
    if (self->image_index >= 0 && self->image_path) {
        g_autofree char *base = g_path_get_basename(self->image_path);
        g_string_append_printf(s, "%d/%u  %s", self->image_index + 1, n, base);
        if (self->texture)
            g_string_append_printf(s, "  %d×%d", ssa_canvas_get_image_width(self->canvas),
                                   ssa_canvas_get_image_height(self->canvas));
    } else if (n == 0) {
        g_string_append(s, "Open a folder of images (Ctrl+O)");
    }
    if (self->image_failed)
        g_string_append(s, "  ·  this image cannot be shown (see the message above)");
    else if (self->model_failed)
        g_string_append(s, "  ·  no model: prompts are disabled");
    else if (!self->model_ready)
        g_string_append(s, "  ·  loading the model…");
    else if (self->image_index >= 0 && !self->embedding)
        g_string_append(s, "  ·  encoding…");
    else if (self->embedding && ssa_prompt_is_empty_ui(self->prompt))
        g_string_append(s, ssa_window_noc_active(self)
                               ? "  ·  NoC: click the object (right or Shift+click: background)"
                               : "  ·  drag a box or click the object; Enter accepts");
    if (g_strcmp0(self->mode, "stable") == 0 && self->model_ready &&
        !ssa_worker_has_plugin(self->worker))
        g_string_append(s, "  ·  no Stable-SAM plugin: SAM mode");
    gtk_label_set_text(self->status_label, s->str);

    if (self->prediction) {
        const SsaModeResult *r = &self->prediction->results[0];
        g_autofree char *iou = g_strdup_printf("IoU %.3f", r->iou_pred);
        gtk_label_set_text(self->iou_label, iou);
        if (r->mode == SS_MODE_STABLE) {
            g_autofree char *a = g_strdup_printf("α %.2f/%.2f · %.2f/%.2f", r->alpha[0][0],
                                                 r->alpha[0][1], r->alpha[1][0], r->alpha[1][1]);
            gtk_label_set_text(self->alpha_label, a);
            gtk_widget_set_tooltip_text(GTK_WIDGET(self->alpha_label),
                "DRP α (deformable / regular) of the decoder's two blocks");
        } else {
            gtk_label_set_text(self->alpha_label, "α —");
        }
        g_autofree char *t = g_strdup_printf("%.0f ms", r->ms);
        gtk_label_set_text(self->time_label, t);
    } else {
        gtk_label_set_text(self->iou_label, "");
        gtk_label_set_text(self->alpha_label, "");
        gtk_label_set_text(self->time_label, "");
    }
    g_autofree char *z = g_strdup_printf("%.0f%%", ssa_canvas_get_zoom(self->canvas) * 100);
    gtk_label_set_text(self->zoom_label, self->texture ? z : "");

    gboolean cmp = self->compare && self->prediction && self->prediction->n_results == 2;
    if (self->prediction) {
        const SsaModeResult *r = &self->prediction->results[0];
        g_autofree char *l = g_strdup_printf("%s · IoU %.3f", mode_name(r->mode), r->iou_pred);
        gtk_label_set_text(self->canvas_label, l);
    } else {
        gtk_label_set_text(self->canvas_label, mode_name(ssa_window_main_mode(self)));
    }
    if (cmp) {
        const SsaModeResult *r = &self->prediction->results[1];
        g_autofree char *l = g_strdup_printf("%s · IoU %.3f", mode_name(r->mode), r->iou_pred);
        gtk_label_set_text(self->compare_label, l);
    } else {
        gtk_label_set_text(self->compare_label,
            mode_name(ssa_window_main_mode(self) == SS_MODE_STABLE ? SS_MODE_SAM : SS_MODE_STABLE));
    }
}

/* For tests (G_MESSAGES_DEBUG=ssa-window): how image pixels map to the window's surface. */
void
ssa_window_log_view(SsaWindow *self)
{
    if (!self->texture)
        return;
    GtkNative *native = gtk_widget_get_native(GTK_WIDGET(self->canvas));
    graphene_point_t p;
    if (!native || !gtk_widget_compute_point(GTK_WIDGET(self->canvas), GTK_WIDGET(native),
                                             &GRAPHENE_POINT_INIT(0, 0), &p))
        return;
    double sx, sy, ox, oy;
    gtk_native_get_surface_transform(native, &sx, &sy);
    ssa_canvas_image_to_widget(self->canvas, 0, 0, &ox, &oy);
    g_debug("view: surface = (%.2f, %.2f) + image * %.6f", p.x + sx + ox, p.y + sy + oy,
            ssa_canvas_get_zoom(self->canvas));
}

/* ---- the prompt ------------------------------------------------------------------------- */

gboolean
ssa_prompt_is_empty_ui(const SsaPrompt *p)
{
    return !p || (!p->has_box && p->n_points == 0);
}

/* Result i's mask as bytes that keep the prediction alive (no copy). */
static GBytes *
prediction_mask(SsaPrediction *pred, int i)
{
    return g_bytes_new_with_free_func(pred->results[i].mask, (gsize)pred->width * pred->height,
                                      (GDestroyNotify)ssa_prediction_unref, ssa_prediction_ref(pred));
}

static void
show_prediction(SsaWindow *self)
{
    SsaPrediction *pred = self->prediction;
    int w = ssa_canvas_get_image_width(self->canvas), h = ssa_canvas_get_image_height(self->canvas);
    if (pred && pred->width == w && pred->height == h) {
        const SsaModeResult *r = &pred->results[0];
        float scale = (float)SS_IMG_SIZE / MAX(w, h);
        g_autoptr(GBytes) mask = prediction_mask(pred, 0);
        ssa_canvas_set_mask_bytes(self->canvas, mask, w, h);
        ssa_canvas_set_trace(self->canvas, r->trace, scale);
        if (pred->n_results == 2) {
            g_autoptr(GBytes) mask2 = prediction_mask(pred, 1);
            ssa_canvas_set_mask_bytes(self->compare_canvas, mask2, w, h);
            ssa_canvas_set_trace(self->compare_canvas, pred->results[1].trace, scale);
        } else {
            ssa_canvas_set_mask(self->compare_canvas, NULL, 0, 0);
            ssa_canvas_set_trace(self->compare_canvas, NULL, 0);
        }
    } else {
        for (int i = 0; i < 2; i++) {
            SsaCanvas *c = i ? self->compare_canvas : self->canvas;
            ssa_canvas_set_mask(c, NULL, 0, 0);
            ssa_canvas_set_trace(c, NULL, 0);
        }
    }
    ssa_canvas_set_prompt(self->canvas, self->prompt);
    ssa_canvas_set_prompt(self->compare_canvas, self->prompt);
    ssa_window_update_status(self);
    ssa_window_update_drift(self);
}

void
ssa_window_clear_prompt(SsaWindow *self)
{
    g_clear_pointer(&self->prompt, ssa_prompt_free);
    self->prompt = ssa_prompt_new();
    g_clear_pointer(&self->prediction, ssa_prediction_unref);
    self->predict_pending = FALSE;
    self->pending_generation = 0;
    ssa_worker_cancel_predictions(self->worker);
    show_prediction(self);
    ssa_window_update_actions(self);
}

void
ssa_window_request_prediction(SsaWindow *self)
{
    if (ssa_window_noc_request(self))
        return;
    if (ssa_prompt_is_empty_ui(self->prompt)) {
        ssa_window_clear_prompt(self);
        return;
    }
    if (!self->model_ready) {
        if (self->model_failed)
            gtk_label_set_text(self->status_label, "No model loaded: see the message above.");
        ssa_canvas_set_prompt(self->canvas, self->prompt);
        ssa_canvas_set_prompt(self->compare_canvas, self->prompt);
        return;
    }
    if (!self->embedding) {
        self->predict_pending = TRUE; /* sent when the encoder is done */
        ssa_canvas_set_prompt(self->canvas, self->prompt);
        ssa_canvas_set_prompt(self->compare_canvas, self->prompt);
        return;
    }
    self->predict_pending = FALSE;
    ss_mode modes[2];
    int n = 1;
    modes[0] = ssa_window_main_mode(self);
    if (self->compare && ssa_worker_has_plugin(self->worker)) {
        modes[1] = modes[0] == SS_MODE_STABLE ? SS_MODE_SAM : SS_MODE_STABLE;
        n = 2;
    }
    /* Extra clicks refine the previous answer (SAM's predictor feeds its logits back). */
    const float *mask_input = NULL;
    if (self->prompt->n_points > 0 && self->prediction &&
        (self->prompt->n_points > 1 || self->prompt->has_box))
        mask_input = self->prediction->results[0].low_res;
    self->pending_generation = ssa_worker_predict(self->worker, self->embedding, self->prompt,
                                                  mask_input, modes, n,
                                                  self->show_circles || self->compare);
    if (self->prompt->has_box)
        g_debug("request %u: mode %s box %.3f,%.3f,%.3f,%.3f points %u", self->pending_generation,
                modes[0] == SS_MODE_STABLE ? "stable" : "sam", self->prompt->box[0], self->prompt->box[1],
                self->prompt->box[2], self->prompt->box[3], self->prompt->n_points);
    else
        g_debug("request %u: mode %s points %u", self->pending_generation,
                modes[0] == SS_MODE_STABLE ? "stable" : "sam", self->prompt->n_points);
    ssa_canvas_set_prompt(self->canvas, self->prompt);
    ssa_canvas_set_prompt(self->compare_canvas, self->prompt);
}

static void
on_prediction(SsaWorker *worker, SsaPrediction *pred, SsaWindow *self)
{
    if (!self->embedding || pred->width != self->embedding->width ||
        pred->height != self->embedding->height)
        return;
    g_clear_pointer(&self->prediction, ssa_prediction_unref);
    self->prediction = ssa_prediction_ref(pred);
    if (pred->generation == self->pending_generation)
        self->pending_generation = 0;
    g_debug("prediction %u shown: %s iou %.4f in %.1f ms", pred->generation,
            mode_name(pred->results[0].mode), pred->results[0].iou_pred, pred->results[0].ms);
    ssa_window_noc_prediction(self, pred);
    show_prediction(self);
    ssa_window_update_actions(self);
}

static void
on_prediction_failed(SsaWorker *worker, guint generation, const char *message, SsaWindow *self)
{
    self->pending_generation = 0;
    ssa_window_noc_prediction_failed(self, generation);
    ssa_window_show_error(self, message);
}

static void
on_box_drag(SsaCanvas *canvas, double x0, double y0, double x1, double y1, gboolean finished,
            SsaWindow *self)
{
    if (!self->texture)
        return;
    if (ssa_window_noc_active(self)) {
        gtk_label_set_text(self->status_label, "NoC mode counts clicks: click the object (right or Shift+click: background).");
        return;
    }
    if (!self->box_dragging) {
        /* a new box starts a new prompt */
        g_clear_pointer(&self->prompt, ssa_prompt_free);
        self->prompt = ssa_prompt_new();
        self->box_dragging = TRUE;
    }
    const float *b = self->prompt->box;
    gboolean same = self->prompt->has_box && b[0] == (float)x0 && b[1] == (float)y0 &&
                    b[2] == (float)x1 && b[3] == (float)y1;
    self->prompt->has_box = TRUE;
    self->prompt->box[0] = (float)x0;
    self->prompt->box[1] = (float)y0;
    self->prompt->box[2] = (float)x1;
    self->prompt->box[3] = (float)y1;
    if (finished) {
        self->box_dragging = FALSE;
        /* released where the last motion was: that box is already asked for (a second
         * request would cost another full-size mask while the first is still shown) */
        if (same && self->prompt->n_points == 0 &&
            (self->prediction || self->pending_generation || self->predict_pending))
            return;
    }
    ssa_window_request_prediction(self);
}

static void
on_point_click(SsaCanvas *canvas, double x, double y, int label, SsaWindow *self)
{
    if (!self->texture)
        return;
    if (ssa_window_noc_click(self, x, y, label))
        return;
    ssa_prompt_add_point(self->prompt, (float)x, (float)y, label);
    g_debug("prompt point %.1f,%.1f label %d", x, y, label);
    ssa_window_request_prediction(self);
}

void
ssa_window_accept(SsaWindow *self)
{
    if (ssa_window_noc_next(self))
        return;
    if (!self->document || self->image_index < 0)
        return;
    if (!self->prediction) {
        gtk_label_set_text(self->status_label,
                           self->pending_generation ? "Still computing the mask…" : "Nothing to accept: give a prompt first.");
        return;
    }
    SsaCategory *cat = ssa_window_ensure_category(self);
    const SsaModeResult *r = &self->prediction->results[0];
    g_autoptr(SsaPrompt) prompt = ssa_prompt_copy(self->prompt);
    prompt->mode = r->mode;
    prompt->iou_pred = r->iou_pred;
    g_autoptr(GError) error = NULL;
    int w = self->prediction->width, h = self->prediction->height;
    char err[256] = "";
    /* the RLE first, then the prediction goes: its masks (1 byte a pixel each) must not be
     * alive while adding the object makes the objects layer decode the new mask */
    char *rle = ss_mask_to_rle_string(r->mask, w, h, err, sizeof err);
    if (!rle) {
        g_autofree char *msg = g_strdup_printf("%s: %s", self->image_path, err);
        ssa_window_show_error(self, msg);
        return;
    }
    g_clear_pointer(&self->prediction, ssa_prediction_unref);
    show_prediction(self);
    SsaObject *obj = ssa_document_add_object_rle(self->document, (guint)self->image_index,
                                                 ssa_category_get_id(cat), rle, w, h, prompt, &error);
    free(rle);
    if (!obj) {
        ssa_window_show_error(self, error->message);
        ssa_window_request_prediction(self); /* the prompt is still there: its mask again */
        return;
    }
    self->selected_object = ssa_object_get_id(obj);
    g_debug("accepted object %" G_GINT64_FORMAT " (%s, area %" G_GINT64_FORMAT ")",
            ssa_object_get_id(obj), ssa_category_get_name(cat), ssa_object_get_area(obj));
    ssa_window_clear_prompt(self);
    ssa_window_refresh_objects(self);
    /* the list was rebuilt (objects-changed) before the new object became the selected one */
    ssa_window_bind_object_list(self);
}

/* ---- objects overlay -------------------------------------------------------------------- */

void
ssa_window_refresh_objects(SsaWindow *self)
{
    SsaImageEntry *entry = self->document && self->image_index >= 0
        ? ssa_document_get_image(self->document, (guint)self->image_index) : NULL;
    g_autoptr(GArray) objs = g_array_new(FALSE, TRUE, sizeof(SsaCanvasObject));
    if (entry && self->texture) {
        int tw = ssa_canvas_get_image_width(self->canvas), th = ssa_canvas_get_image_height(self->canvas);
        GListModel *model = ssa_image_entry_get_objects(entry);
        guint n = g_list_model_get_n_items(model);
        for (guint i = 0; i < n; i++) {
            g_autoptr(SsaObject) obj = g_list_model_get_item(model, i);
            if (!ssa_object_get_visible(obj))
                continue;
            int w = 0, h = 0;
            ssa_object_get_size(obj, &w, &h);
            if (w != tw || h != th)
                continue;
            SsaCategory *cat = ssa_document_find_category(self->document, ssa_object_get_category_id(obj));
            /* decoded by the canvas one at a time, not all at once here */
            SsaCanvasObject co = {
                .object = obj,
                .color = cat ? ssa_rgba_to_gdk(ssa_category_get_color(cat)) : (GdkRGBA){ 1, 1, 1, 1 },
                .selected = ssa_object_get_id(obj) == self->selected_object,
            };
            g_array_append_val(objs, co);
        }
    }
    ssa_window_noc_add_canvas_objects(self, objs);
    ssa_canvas_set_objects(self->canvas, (SsaCanvasObject *)objs->data, objs->len);
    /* the hidden compare view gets its layer when it is shown (PROP_COMPARE) */
    ssa_canvas_set_objects(self->compare_canvas, (SsaCanvasObject *)objs->data,
                           self->compare ? objs->len : 0);
    if (self->image_index >= 0)
        ssa_window_update_image_count(self, self->image_index);
}

/* ---- images: load, encode, prefetch ----------------------------------------------------- */

static void
on_encode_progress(SsaWorker *worker, const char *path, double fraction, SsaWindow *self)
{
    if (g_strcmp0(path, self->image_path) != 0)
        return;
    gtk_widget_set_visible(GTK_WIDGET(self->encode_progress), fraction < 1.0);
    if (fraction < 0)
        gtk_progress_bar_pulse(self->encode_progress);
    else
        gtk_progress_bar_set_fraction(self->encode_progress, fraction);
    gtk_progress_bar_set_text(self->encode_progress, "encoding");
}

static void
prefetch_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SsaEmbedding) emb = ssa_worker_encode_finish(SSA_WORKER(source), result, &error);
    if (emb)
        g_debug("prefetched %s", emb->path);
}

static void
start_prefetch(SsaWindow *self)
{
    if (!self->model_ready || !self->document || self->image_index < 0)
        return;
    SsaImageEntry *next = ssa_document_get_image(self->document, (guint)self->image_index + 1);
    if (!next || g_strcmp0(self->prefetch_path, ssa_image_entry_get_path(next)) == 0)
        return;
    g_cancellable_cancel(self->prefetch_cancellable);
    g_clear_object(&self->prefetch_cancellable);
    self->prefetch_cancellable = g_cancellable_new();
    g_free(self->prefetch_path);
    self->prefetch_path = g_strdup(ssa_image_entry_get_path(next));
    ssa_worker_encode_async(self->worker, ssa_image_entry_get_path(next), TRUE,
                            self->prefetch_cancellable, prefetch_done, NULL);
}

static void
encode_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SsaEmbedding) emb = ssa_worker_encode_finish(SSA_WORKER(source), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* the user moved on; `user_data` may be gone */
    SsaWindow *self = SSA_WINDOW(user_data);
    if (!emb) {
        gtk_widget_set_visible(GTK_WIDGET(self->encode_progress), FALSE);
        ssa_window_show_error(self, error->message);
        return;
    }
    if (g_strcmp0(emb->path, self->image_path) != 0)
        return;
    gtk_widget_set_visible(GTK_WIDGET(self->encode_progress), FALSE);
    g_clear_pointer(&self->embedding, ssa_embedding_unref);
    self->embedding = ssa_embedding_ref(emb);
    g_debug("embedding ready for %s", emb->path);
    ssa_window_update_status(self);
    ssa_window_noc_embedding_ready(self);
    if (self->predict_pending)
        ssa_window_request_prediction(self);
    start_prefetch(self);
}

static void
start_encode(SsaWindow *self)
{
    if (!self->model_ready || !self->image_path || self->embedding)
        return;
    SsaEmbedding *emb = ssa_worker_lookup_embedding(self->worker, self->image_path);
    if (emb) {
        self->embedding = emb;
        g_debug("embedding ready for %s (memory cache)", emb->path);
        ssa_window_update_status(self);
        ssa_window_noc_embedding_ready(self);
        start_prefetch(self);
        return;
    }
    gtk_progress_bar_set_fraction(self->encode_progress, 0);
    gtk_widget_set_visible(GTK_WIDGET(self->encode_progress), TRUE);
    /* the window outlives the request: the cancellable is cancelled in dispose */
    ssa_worker_encode_async(self->worker, self->image_path, FALSE, self->image_cancellable,
                            encode_done, self);
}

static void
texture_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(GError) error = NULL;
    int w = 0, h = 0;
    g_autoptr(GdkTexture) tex = ssa_worker_load_texture_finish(SSA_WORKER(source), result, &w, &h, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    GTask *task = G_TASK(result);
    if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        return;
    SsaWindow *self = SSA_WINDOW(user_data);
    if (!tex) {
        self->image_failed = TRUE;
        ssa_window_show_error(self, error->message);
        ssa_window_update_status(self);
        return;
    }
    g_set_object(&self->texture, tex);
    ssa_canvas_set_image_sized(self->canvas, tex, w, h);
    ssa_canvas_set_image_sized(self->compare_canvas, tex, w, h);
    SsaImageEntry *entry = ssa_document_get_image(self->document, (guint)self->image_index);
    if (entry && ssa_image_entry_get_width(entry) == 0) {
        g_autoptr(GError) e2 = NULL;
        if (!ssa_document_set_image_size(self->document, (guint)self->image_index, w, h, &e2))
            ssa_window_show_error(self, e2->message);
    } else if (entry && (ssa_image_entry_get_width(entry) != w || ssa_image_entry_get_height(entry) != h)) {
        g_autofree char *msg = g_strdup_printf("%s: the image is %d×%d but the project says %d×%d",
            self->image_path, w, h, ssa_image_entry_get_width(entry), ssa_image_entry_get_height(entry));
        ssa_window_show_error(self, msg);
    }
    g_debug("image shown: %s %dx%d", self->image_path, w, h);
    ssa_window_refresh_objects(self);
    show_prediction(self);
    start_encode(self);
}

static void
load_current_image(SsaWindow *self)
{
    int index = self->document ? ssa_document_get_current_image(self->document) : -1;
    SsaImageEntry *entry = index >= 0 ? ssa_document_get_image(self->document, (guint)index) : NULL;
    if (entry && index == self->image_index && g_strcmp0(self->image_path, ssa_image_entry_get_path(entry)) == 0)
        return;
    g_cancellable_cancel(self->image_cancellable);
    g_clear_object(&self->image_cancellable);
    self->image_cancellable = g_cancellable_new();
    if (self->prefetch_path && (!entry || g_strcmp0(self->prefetch_path, ssa_image_entry_get_path(entry)) != 0)) {
        /* the prefetched image is not the one we go to: free the encoder for it */
        g_cancellable_cancel(self->prefetch_cancellable);
        g_clear_pointer(&self->prefetch_path, g_free);
    }
    g_clear_pointer(&self->embedding, ssa_embedding_unref);
    g_clear_object(&self->texture);
    g_clear_pointer(&self->image_path, g_free);
    self->image_failed = FALSE;
    self->image_index = entry ? index : -1;
    self->selected_object = 0;
    ssa_canvas_set_image(self->canvas, NULL);
    ssa_canvas_set_image(self->compare_canvas, NULL);
    gtk_widget_set_visible(GTK_WIDGET(self->encode_progress), FALSE);
    ssa_window_clear_prompt(self);
    ssa_window_bind_object_list(self);
    if (entry) {
        self->image_path = g_strdup(ssa_image_entry_get_path(entry));
        ssa_worker_load_texture_async(self->worker, self->image_path, self->image_cancellable,
                                      texture_done, self);
        ssa_window_select_image_row(self, index);
    }
    ssa_window_update_status(self);
    ssa_window_update_actions(self);
}

void
ssa_window_go_to_image(SsaWindow *self, int index)
{
    if (!self->document)
        return;
    int n = (int)ssa_document_get_n_images(self->document);
    if (n == 0)
        return;
    index = CLAMP(index, 0, n - 1);
    if (index != ssa_document_get_current_image(self->document))
        ssa_document_set_current_image(self->document, index);
    load_current_image(self);
}

/* ---- document --------------------------------------------------------------------------- */

static void
on_document_changed(SsaDocument *doc, SsaWindow *self)
{
    if (!ssa_document_get_path(doc) && self->default_project_path) {
        g_autoptr(GError) error = NULL;
        if (ssa_document_save(doc, self->default_project_path, &error))
            g_debug("project saved to %s", self->default_project_path);
        else
            ssa_window_show_error(self, error->message);
    }
    ssa_window_update_actions(self);
}

static void
on_objects_changed(SsaDocument *doc, SsaObject *obj, SsaWindow *self)
{
    if (self->image_index >= 0 && ssa_object_get_image_index(obj) == (guint)self->image_index) {
        ssa_window_refresh_objects(self);
        ssa_window_bind_object_list(self);
    }
}

static void
on_categories_changed(SsaDocument *doc, SsaCategory *cat, SsaWindow *self)
{
    ssa_window_refresh_objects(self);
    ssa_window_bind_object_list(self);
}

static void
on_category_removed(SsaDocument *doc, SsaCategory *cat, SsaWindow *self)
{
    if (ssa_category_get_id(cat) == self->current_category)
        self->current_category = 0;
    on_categories_changed(doc, cat, self);
}

static void
on_current_image(SsaDocument *doc, GParamSpec *pspec, SsaWindow *self)
{
    load_current_image(self);
}

static void
on_undo_state(SsaDocument *doc, GParamSpec *pspec, SsaWindow *self)
{
    ssa_window_update_actions(self);
}

static void
on_save_failed(SsaDocument *doc, GError *error, SsaWindow *self)
{
    ssa_window_show_error(self, error->message);
}

void
ssa_window_set_document(SsaWindow *self, SsaDocument *document, const char *default_project_path)
{
    if (self->document) {
        g_autoptr(GError) error = NULL;
        if (!ssa_document_flush(self->document, &error) && error)
            ssa_window_show_error(self, error->message);
        g_signal_handlers_disconnect_by_data(self->document, self);
        g_clear_object(&self->document);
    }
    self->document = g_object_ref(document);
    g_free(self->default_project_path);
    self->default_project_path = g_strdup(default_project_path);
    self->image_index = -1;
    g_clear_pointer(&self->image_path, g_free);
    self->current_category = 0;
    self->selected_object = 0;

    g_signal_connect(document, "changed", G_CALLBACK(on_document_changed), self);
    g_signal_connect(document, "object-added", G_CALLBACK(on_objects_changed), self);
    g_signal_connect(document, "object-removed", G_CALLBACK(on_objects_changed), self);
    g_signal_connect(document, "object-changed", G_CALLBACK(on_objects_changed), self);
    g_signal_connect(document, "category-added", G_CALLBACK(on_categories_changed), self);
    g_signal_connect(document, "category-changed", G_CALLBACK(on_categories_changed), self);
    g_signal_connect(document, "category-removed", G_CALLBACK(on_category_removed), self);
    g_signal_connect(document, "notify::current-image", G_CALLBACK(on_current_image), self);
    g_signal_connect(document, "notify::can-undo", G_CALLBACK(on_undo_state), self);
    g_signal_connect(document, "notify::can-redo", G_CALLBACK(on_undo_state), self);
    g_signal_connect(document, "save-failed", G_CALLBACK(on_save_failed), self);

    ssa_window_bind_image_list(self);
    ssa_window_bind_category_list(self);
    const char *path = ssa_document_get_path(document);
    g_autofree char *title = g_strdup_printf("Stable-SAM Annotator — %s",
        path ? path : default_project_path ? default_project_path : "unsaved project");
    gtk_window_set_title(GTK_WINDOW(self), title);
    if (ssa_document_get_current_image(document) < 0 && ssa_document_get_n_images(document) > 0)
        ssa_document_set_current_image(document, 0);
    load_current_image(self);
    ssa_window_update_actions(self);
}

static gboolean
is_image_file(const char *name)
{
    g_autofree char *lower = g_ascii_strdown(name, -1);
    for (int i = 0; image_exts[i]; i++)
        if (g_str_has_suffix(lower, image_exts[i]))
            return TRUE;
    return FALSE;
}

static int
cmp_strings(gconstpointer a, gconstpointer b)
{
    return g_utf8_collate(*(char *const *)a, *(char *const *)b);
}

/* Image files of a folder, sorted by name (absolute paths). */
static GPtrArray *
list_images(const char *dir, GError **error)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, error);
    if (!d)
        return NULL;
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)))
        if (is_image_file(name))
            g_ptr_array_add(paths, g_build_filename(dir, name, NULL));
    g_ptr_array_sort(paths, cmp_strings);
    return paths;
}

gboolean
ssa_window_open(SsaWindow *self, GFile **files, guint n_files, const char *project_path,
                GError **error)
{
    g_return_val_if_fail(SSA_IS_WINDOW(self), FALSE);
    g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *first_dir = NULL;
    for (guint i = 0; i < n_files; i++) {
        const char *path = g_file_peek_path(files[i]);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            g_autoptr(GPtrArray) found = list_images(path, error);
            if (!found)
                return FALSE;
            if (found->len == 0) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no images in this folder", path);
                return FALSE;
            }
            for (guint j = 0; j < found->len; j++)
                g_ptr_array_add(images, g_strdup(found->pdata[j]));
            if (!first_dir)
                first_dir = g_strdup(path);
        } else {
            g_ptr_array_add(images, g_strdup(path));
            if (!first_dir)
                first_dir = g_path_get_dirname(path);
        }
    }
    g_autofree char *default_project = NULL;
    if (project_path)
        default_project = g_strdup(project_path);
    else if (first_dir)
        default_project = g_build_filename(first_dir, SSA_PROJECT_BASENAME, NULL);

    g_autoptr(SsaDocument) doc = NULL;
    if (default_project && g_file_test(default_project, G_FILE_TEST_EXISTS)) {
        doc = ssa_document_new_from_file(default_project, error);
        if (!doc) {
            /* keep the images usable without touching the broken project */
            g_autoptr(SsaDocument) fresh = ssa_document_new();
            for (guint i = 0; i < images->len; i++)
                ssa_document_add_image(fresh, images->pdata[i], 0, 0, 0);
            ssa_window_set_document(self, fresh, NULL);
            return FALSE;
        }
    } else {
        doc = ssa_document_new();
    }
    for (guint i = 0; i < images->len; i++)
        ssa_document_add_image(doc, images->pdata[i], 0, 0, 0);
    ssa_window_set_document(self, doc, default_project);
    return TRUE;
}

/* ---- model ------------------------------------------------------------------------------ */

static void
model_loaded(GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr(SsaWindow) self = user_data; /* the load holds a reference */
    g_autoptr(GError) error = NULL;
    if (!ssa_worker_load_model_finish(SSA_WORKER(source), result, &error)) {
        self->model_failed = TRUE;
        ssa_window_show_error(self, error->message);
        ssa_window_update_status(self);
        return;
    }
    self->model_ready = TRUE;
    if (!ssa_worker_has_plugin(self->worker)) {
        /* the setting stays as the user chose it; the switch shows it cannot apply */
        gtk_widget_set_sensitive(GTK_WIDGET(self->mode_dropdown), FALSE);
        gtk_widget_set_tooltip_text(GTK_WIDGET(self->mode_dropdown),
                                    "No Stable-SAM plugin loaded: SAM mode only");
        g_message("no Stable-SAM plugin (%s): SAM mode only",
                  self->plugin_path ? self->plugin_path : "none found");
    }
    ssa_window_update_status(self);
    start_encode(self);
}

/* ---- properties ------------------------------------------------------------------------- */

static void
ssa_window_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
    SsaWindow *self = SSA_WINDOW(object);
    switch (id) {
    case PROP_MODE: g_value_set_string(value, self->mode); break;
    case PROP_COMPARE: g_value_set_boolean(value, self->compare); break;
    case PROP_SHOW_CIRCLES: g_value_set_boolean(value, self->show_circles); break;
    case PROP_DRIFT_PANEL: g_value_set_boolean(value, self->drift_panel); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void
ssa_window_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
    SsaWindow *self = SSA_WINDOW(object);
    switch (id) {
    case PROP_MODE: {
        const char *m = g_value_get_string(value);
        if (g_strcmp0(m, "sam") != 0 && g_strcmp0(m, "stable") != 0)
            m = "stable";
        if (g_strcmp0(m, self->mode) == 0)
            return;
        g_free(self->mode);
        self->mode = g_strdup(m);
        break;
    }
    case PROP_COMPARE:
        if (self->compare == g_value_get_boolean(value))
            return;
        self->compare = g_value_get_boolean(value);
        gtk_widget_set_visible(self->compare_overlay, self->compare);
        ssa_window_refresh_objects(self);
        break;
    case PROP_SHOW_CIRCLES:
        if (self->show_circles == g_value_get_boolean(value))
            return;
        self->show_circles = g_value_get_boolean(value);
        break;
    case PROP_DRIFT_PANEL:
        if (self->drift_panel == g_value_get_boolean(value))
            return;
        self->drift_panel = g_value_get_boolean(value);
        gtk_revealer_set_reveal_child(self->drift_revealer, self->drift_panel);
        if (self->drift_panel) /* both modes' circles side by side */
            g_object_set(object, "compare", TRUE, "show-circles", TRUE, NULL);
        ssa_window_update_drift(self);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        return;
    }
    g_object_notify_by_pspec(object, pspec);
    /* same prompt, new view: ask again */
    if (!ssa_prompt_is_empty_ui(self->prompt) && self->embedding)
        ssa_window_request_prediction(self);
    ssa_window_update_status(self);
}

/* ---- settings binding ------------------------------------------------------------------- */

static gboolean
mode_to_selected(GValue *value, GVariant *variant, gpointer user_data)
{
    g_value_set_uint(value, g_strcmp0(g_variant_get_string(variant, NULL), "stable") == 0 ? 1 : 0);
    return TRUE;
}

static GVariant *
selected_to_mode(const GValue *value, const GVariantType *type, gpointer user_data)
{
    return g_variant_new_string(g_value_get_uint(value) == 1 ? "stable" : "sam");
}

static gboolean
int_to_double(GValue *value, GVariant *variant, gpointer user_data)
{
    g_value_set_double(value, g_variant_get_int32(variant));
    return TRUE;
}

static GVariant *
double_to_int(const GValue *value, const GVariantType *type, gpointer user_data)
{
    return g_variant_new_int32((gint32)lround(g_value_get_double(value)));
}

static void
bind_settings(SsaWindow *self)
{
    GSettings *s = self->settings;
    g_settings_bind(s, "mode", self, "mode", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(s, "compare", self, "compare", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(s, "show-circles", self, "show-circles", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind_with_mapping(s, "mode", self->mode_dropdown, "selected", G_SETTINGS_BIND_DEFAULT,
                                 mode_to_selected, selected_to_mode, NULL, NULL);
    g_settings_bind(s, "overlay-opacity", self->opacity_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind_with_mapping(s, "circles-k", self->k_adjustment, "value", G_SETTINGS_BIND_DEFAULT,
                                 int_to_double, double_to_int, NULL, NULL);
    g_settings_bind(s, "show-circles", self->circles_switch, "active", G_SETTINGS_BIND_DEFAULT);
    for (int i = 0; i < 2; i++) {
        GObject *c = G_OBJECT(i ? self->compare_canvas : self->canvas);
        g_settings_bind(s, "overlay-opacity", c, "overlay-opacity", G_SETTINGS_BIND_GET);
        g_settings_bind(s, "show-circles", c, "show-circles", G_SETTINGS_BIND_GET);
        g_settings_bind(s, "circles-k", c, "circles-k", G_SETTINGS_BIND_GET);
    }
    g_settings_bind(s, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(s, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(s, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
on_zoom_changed(SsaCanvas *canvas, GParamSpec *pspec, SsaWindow *self)
{
    ssa_window_update_status(self);
    ssa_window_log_view(self);
}

static gboolean
ssa_window_close_request(GtkWindow *window)
{
    SsaWindow *self = SSA_WINDOW(window);
    if (self->document) {
        g_autoptr(GError) error = NULL;
        if (!ssa_document_flush(self->document, &error) && error)
            g_warning("%s", error->message);
    }
    return GTK_WINDOW_CLASS(ssa_window_parent_class)->close_request(window);
}

static void
ssa_window_dispose(GObject *object)
{
    SsaWindow *self = SSA_WINDOW(object);
    g_cancellable_cancel(self->image_cancellable);
    g_cancellable_cancel(self->prefetch_cancellable);
    /* the lists emit row-selected (NULL) while they are torn down */
    if (self->image_list) {
        g_signal_handlers_disconnect_by_data(self->image_list, self);
        g_signal_handlers_disconnect_by_data(self->object_list, self);
        g_signal_handlers_disconnect_by_data(self->category_list, self);
    }
    if (self->image_count_labels)
        g_ptr_array_set_size(self->image_count_labels, 0);
    if (self->worker)
        g_signal_handlers_disconnect_by_data(self->worker, self);
    if (self->document) {
        g_autoptr(GError) error = NULL;
        if (!ssa_document_flush(self->document, &error) && error)
            g_warning("%s", error->message);
        g_signal_handlers_disconnect_by_data(self->document, self);
    }
    gtk_widget_dispose_template(GTK_WIDGET(self), SSA_TYPE_WINDOW);
    G_OBJECT_CLASS(ssa_window_parent_class)->dispose(object);
}

static void
ssa_window_finalize(GObject *object)
{
    SsaWindow *self = SSA_WINDOW(object);
    ssa_window_noc_free(self);
    g_clear_object(&self->image_cancellable);
    g_clear_object(&self->prefetch_cancellable);
    g_clear_object(&self->document);
    g_clear_object(&self->worker);
    g_clear_object(&self->texture);
    g_clear_pointer(&self->embedding, ssa_embedding_unref);
    g_clear_pointer(&self->prompt, ssa_prompt_free);
    g_clear_pointer(&self->prediction, ssa_prediction_unref);
    g_clear_pointer(&self->thumbnails, g_hash_table_unref);
    g_clear_pointer(&self->image_count_labels, g_ptr_array_unref);
    g_free(self->default_project_path);
    g_free(self->prefetch_path);
    g_free(self->image_path);
    g_free(self->model_path);
    g_free(self->plugin_path);
    g_free(self->mode);
    G_OBJECT_CLASS(ssa_window_parent_class)->finalize(object);
}

static void
ssa_window_class_init(SsaWindowClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->dispose = ssa_window_dispose;
    object_class->finalize = ssa_window_finalize;
    object_class->get_property = ssa_window_get_property;
    object_class->set_property = ssa_window_set_property;
    GTK_WINDOW_CLASS(klass)->close_request = ssa_window_close_request;

    props[PROP_MODE] = g_param_spec_string("mode", NULL, NULL, "stable",
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    props[PROP_COMPARE] = g_param_spec_boolean("compare", NULL, NULL, FALSE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    props[PROP_SHOW_CIRCLES] = g_param_spec_boolean("show-circles", NULL, NULL, FALSE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    props[PROP_DRIFT_PANEL] = g_param_spec_boolean("drift-panel", NULL, NULL, FALSE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    g_object_class_install_properties(object_class, N_PROPS, props);

    g_type_ensure(SSA_TYPE_CANVAS);
    gtk_widget_class_set_template_from_resource(widget_class, "/org/stablesam/Annotator/ui/ssa-window.ui");
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, mode_dropdown);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, error_revealer);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, error_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, images_title);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, image_list);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, object_list);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, category_list);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, canvas);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, compare_canvas);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, compare_overlay);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, canvas_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, compare_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, status_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, encode_progress);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, iou_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, alpha_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, time_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, zoom_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, opacity_adjustment);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, k_adjustment);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, circles_switch);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, noc_revealer);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, noc_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, noc_iou_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, drift_revealer);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, drift_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, drift_note_label);
    gtk_widget_class_bind_template_child(widget_class, SsaWindow, side_box);

    ssa_window_class_init_actions(widget_class);
}

static void
unref_if_set(gpointer object)
{
    if (object)
        g_object_unref(object);
}

static void
ssa_window_init(SsaWindow *self)
{
    self->mode = g_strdup("stable"); /* before the template: property actions read it */
    gtk_widget_init_template(GTK_WIDGET(self));
    self->image_index = -1;
    self->prompt = ssa_prompt_new();
    self->thumbnails = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    self->image_count_labels = g_ptr_array_new_with_free_func(unref_if_set);
    self->worker = ssa_worker_new();
    g_signal_connect(self->worker, "prediction", G_CALLBACK(on_prediction), self);
    g_signal_connect(self->worker, "prediction-failed", G_CALLBACK(on_prediction_failed), self);
    g_signal_connect(self->worker, "encode-progress", G_CALLBACK(on_encode_progress), self);
    for (int i = 0; i < 2; i++) {
        SsaCanvas *c = i ? self->compare_canvas : self->canvas;
        g_signal_connect(c, "box-drag", G_CALLBACK(on_box_drag), self);
        g_signal_connect(c, "point-click", G_CALLBACK(on_point_click), self);
    }
    g_signal_connect(self->canvas, "notify::zoom", G_CALLBACK(on_zoom_changed), self);
    ssa_window_lists_init(self);
    /* (the window's child is not a bound template child: GtkWindow unparents it itself) */
    ssa_window_add_key_shortcuts(self, gtk_window_get_child(GTK_WINDOW(self)));
    gtk_progress_bar_set_show_text(self->encode_progress, TRUE);
}

SsaWindow *
ssa_window_new(SsaApplication *app, const char *model_path, const char *plugin_path)
{
    SsaWindow *self = g_object_new(SSA_TYPE_WINDOW, "application", app, NULL);
    self->settings = ssa_application_get_settings(app);
    bind_settings(self);
    self->model_path = g_strdup(model_path);
    self->plugin_path = g_strdup(plugin_path);
    ssa_worker_load_model_async(self->worker, model_path, plugin_path, NULL, model_loaded,
                                g_object_ref(self));
    ssa_window_update_status(self);
    ssa_window_update_actions(self);
    gtk_widget_grab_focus(GTK_WIDGET(self->canvas));
    return self;
}
