/* ssa-window-noc.c — NoC mode of the annotator and the attention-drift panel.
 *
 * NoC mode (`stablesam-annotate --gt SET`): for each object of the data set (and each mode)
 * the person clicks until satisfied; every click goes through the engine's NoC session
 * (ss_noc_begin → decode → ss_noc_finish, engine/noc.c), the same code path as the simulated
 * user of `stablesam eval --protocol noc`: all clicks so far + the previous prediction's
 * low-res logits as mask input, mask token 0, IoU with the GT honouring the ignore map.
 * One click is decoded at a time (a click while the mask is pending is refused), clicks are
 * snapped to the pixel they fall in (the simulator's clicks are pixel indices). After every
 * click the report (JSON + CSV) is rewritten atomically; a restart resumes at the first
 * object not done (that object starts over).
 *
 * Drift panel: for the current prompt, in both modes, α per block, the attention-weighted
 * mean sample shift ‖Δp‖ in pixels and the share of attention on the current mask and the GT
 * (app/eval/noc-report.c ssa_drift_compute); the circles are on the two canvases. */
#define G_LOG_DOMAIN "ssa-window"
#include "ssa-window-private.h"
#include "ssa-noc.h"
#include <math.h>
#include <string.h>

struct _SsaNocState {
    SsaNocReport *report;
    char *json_path, *csv_path;
    GArray *doc_index;         /* row -> document image index */
    guint task;                /* current row; report->rows->len when all are done */
    ss_noc_session *session;   /* of the current row, NULL if its GT could not be loaded */
    guint8 *gt;                /* (height, width) 0/1 of the current row */
    guint8 *ignore;            /* its ignore map, or NULL */
    int width, height;
    gint64 t_ready;            /* when the person could click (mask shown / image ready); 0 = not yet */
    double pending_seconds;    /* time taken for the pending click */
    guint generation;          /* the decode of the pending (or last) click */
    /* the last prompt sent (re-sent when the view asks for a new decode) */
    ss_point points[SS_NOC_MAX_CLICKS];
    int n_points;
    float *mask_input;         /* (256, 256) or NULL */
    gboolean has_suggestion;
    ss_point suggestion;       /* the simulator's next click for the current mask */
};

gboolean
ssa_window_noc_active(SsaWindow *self)
{
    return self->noc != NULL;
}

static SsaNocRow *
current_row(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    return n && n->task < n->report->rows->len ? n->report->rows->pdata[n->task] : NULL;
}

static const char *
mode_label(ss_mode m)
{
    return m == SS_MODE_STABLE ? "Stable-SAM" : "SAM";
}

static void
save_report(SsaWindow *self)
{
    g_autoptr(GError) error = NULL;
    if (!ssa_noc_report_save(self->noc->report, self->noc->json_path, self->noc->csv_path, &error))
        ssa_window_show_error(self, error->message);
}

static void
update_noc_bar(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    SsaNocRow *row = current_row(self);
    if (!row) {
        g_autoptr(GString) s = g_string_new("<b>NoC session complete.</b>");
        for (int m = 0; m < 2; m++) {
            int cnt = 0;
            double s85 = 0, s90 = 0;
            for (guint i = 0; i < n->report->rows->len; i++) {
                SsaNocRow *r = n->report->rows->pdata[i];
                if (r->mode != (ss_mode)m)
                    continue;
                cnt++;
                s85 += r->noc85 ? r->noc85 : n->report->max_clicks;
                s90 += r->noc90 ? r->noc90 : n->report->max_clicks;
            }
            if (cnt)
                g_string_append_printf(s, "  %s: NoC85 %.2f, NoC90 %.2f (%d objects).",
                                       mode_label((ss_mode)m), s85 / cnt, s90 / cnt, cnt);
        }
        g_autofree char *base = g_path_get_basename(n->json_path);
        g_string_append_printf(s, "  Report: %s", base);
        gtk_label_set_markup(self->noc_label, s->str);
        gtk_label_set_text(self->noc_iou_label, "");
        return;
    }
    g_autofree char *img = g_markup_escape_text(row->id, -1);
    g_autoptr(GString) s = g_string_new(NULL);
    g_string_append_printf(s, "<b>NoC %u/%u</b>  %s · object %d · <b>%s</b>  ·  clicks %d/%d",
                           n->task + 1, n->report->rows->len, img, row->k, mode_label(row->mode),
                           row->n_clicks, n->report->max_clicks);
    if (row->noc85)
        g_string_append_printf(s, "  ·  0.85 at click %d", row->noc85);
    if (row->noc90)
        g_string_append_printf(s, "  ·  0.90 at click %d", row->noc90);
    if (!n->session)
        g_string_append(s, "  ·  <i>no ground truth (see the message): Enter skips</i>");
    else if (ss_noc_pending(n->session))
        g_string_append(s, "  ·  computing…");
    else if (n->has_suggestion)
        g_string_append_printf(s, "  ·  simulator: %s click at %.0f, %.0f",
                               n->suggestion.label ? "positive" : "negative", n->suggestion.x,
                               n->suggestion.y);
    g_string_append(s, "  ·  Enter: next object, Esc: start over");
    gtk_label_set_markup(self->noc_label, s->str);
    if (row->n_clicks) {
        double iou = row->iou[row->n_clicks - 1];
        const char *colour = iou >= 0.90 ? "#2ec27e" : iou >= 0.85 ? "#e5a50a" : "#e01b24";
        g_autofree char *m = g_strdup_printf("<span foreground=\"%s\">GT IoU %.3f</span>", colour, iou);
        gtk_label_set_markup(self->noc_iou_label, m);
    } else {
        gtk_label_set_text(self->noc_iou_label, "GT IoU —");
    }
}

static void
suggest(SsaWindow *self, const guint8 *mask)
{
    SsaNocState *n = self->noc;
    char err[256];
    n->has_suggestion = n->session &&
        ss_noc_suggest(n->session, mask, &n->suggestion, err, sizeof err) == SS_OK;
}

/* "x y label" of the suggestion, or "none" (for the log) */
static char *
suggestion_text(SsaNocState *n)
{
    return n->has_suggestion ? g_strdup_printf("%.0f %.0f %d", n->suggestion.x, n->suggestion.y,
                                               n->suggestion.label)
                             : g_strdup("none");
}

static void
ready_to_click(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    SsaNocRow *row = current_row(self);
    if (!row || !n->session || !self->embedding || g_strcmp0(self->image_path, row->image) != 0 ||
        n->t_ready)
        return;
    n->t_ready = g_get_monotonic_time();
    g_debug("noc ready %u: %s object %d mode %s", n->task + 1, row->id, row->k,
            ssa_noc_mode_key(row->mode));
}

static void
free_task(SsaNocState *n)
{
    g_clear_pointer(&n->session, ss_noc_free);
    g_clear_pointer(&n->gt, g_free);
    g_clear_pointer(&n->ignore, g_free);
    g_clear_pointer(&n->mask_input, g_free);
    n->n_points = 0;
    n->generation = 0;
    n->t_ready = 0;
    n->has_suggestion = FALSE;
}

static void
go_task(SsaWindow *self, guint task)
{
    SsaNocState *n = self->noc;
    free_task(n);
    n->task = task;
    ssa_window_clear_prompt(self);
    SsaNocRow *row = current_row(self);
    if (!row) {
        g_debug("noc session complete: %s", n->json_path);
        save_report(self);
        ssa_window_refresh_objects(self);
        update_noc_bar(self);
        return;
    }
    if (row->n_clicks) { /* an object left unfinished: it starts over */
        ssa_noc_row_reset(row);
        save_report(self);
    }
    g_autoptr(GError) error = NULL;
    int w = 0, h = 0;
    SsaEvalObject ob = { .k = row->k, .mask_path = row->mask, .ignore_path = row->ignore };
    if (!gdk_pixbuf_get_file_info(row->image, &w, &h)) {
        g_autofree char *msg = g_strdup_printf("%s: not a readable image", row->image);
        ssa_window_show_error(self, msg);
    } else if (!ssa_dataset_load_object(&ob, w, h, &n->gt, &n->ignore, &error)) {
        ssa_window_show_error(self, error->message);
    } else {
        char err[256];
        n->session = ss_noc_new(n->gt, n->ignore, w, h, n->report->max_clicks, err, sizeof err);
        if (!n->session)
            ssa_window_show_error(self, err);
        n->width = w;
        n->height = h;
    }
    g_debug("noc task %u/%u: %s object %d mode %s", task + 1, n->report->rows->len, row->image,
            row->k, ssa_noc_mode_key(row->mode));
    suggest(self, NULL);
    g_autofree char *sug = suggestion_text(n);
    g_debug("noc suggest %s", sug);
    ssa_window_go_to_image(self, g_array_index(n->doc_index, int, task));
    ssa_window_refresh_objects(self);
    update_noc_bar(self);
    ready_to_click(self);
}

static char *
csv_path_for(const char *json_path)
{
    if (g_str_has_suffix(json_path, ".json"))
        return g_strdup_printf("%.*s.csv", (int)strlen(json_path) - 5, json_path);
    return g_strconcat(json_path, ".csv", NULL);
}

gboolean
ssa_window_start_noc(SsaWindow *self, const char *gt_dir, const char *report_path,
                     const char *modes, guint64 seed, GError **error)
{
    g_return_val_if_fail(SSA_IS_WINDOW(self), FALSE);
    ss_mode ms[2];
    int n_modes;
    if (!g_strcmp0(modes, "both")) {
        ms[0] = SS_MODE_SAM;
        ms[1] = SS_MODE_STABLE;
        n_modes = 2;
    } else if (!g_strcmp0(modes, "sam") || !g_strcmp0(modes, "stable")) {
        ms[0] = g_strcmp0(modes, "sam") ? SS_MODE_STABLE : SS_MODE_SAM;
        n_modes = 1;
    } else {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--noc-mode is sam, stable or both, got '%s'", modes);
        return FALSE;
    }
    if ((n_modes == 2 || ms[0] == SS_MODE_STABLE) && !self->plugin_path) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "--noc-mode %s needs the Stable-SAM plugin (--plugin FILE)", modes);
        return FALSE;
    }
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(SsaDataset) ds = ssa_dataset_scan(gt_dir, "all", problems, error);
    if (!ds)
        return FALSE;
    for (guint i = 0; i < problems->len; i++)
        g_message("%s", (const char *)problems->pdata[i]);
    if (ds->n_objects == 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no ground-truth masks (masks/ID_K.png)",
                    gt_dir);
        return FALSE;
    }
    g_autofree char *json = report_path ? g_strdup(report_path)
                                        : g_build_filename(gt_dir, "stablesam-noc.json", NULL);
    g_autoptr(SsaNocReport) report = NULL;
    if (g_file_test(json, G_FILE_TEST_EXISTS)) {
        report = ssa_noc_report_load(json, error);
        if (!report)
            return FALSE;
        g_autofree char *a = g_canonicalize_filename(report->gt_dir, NULL);
        g_autofree char *b = g_canonicalize_filename(ds->dir, NULL);
        if (g_strcmp0(a, b) != 0) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s: a session on %s, not %s (give another --noc-report)", json,
                        report->gt_dir, gt_dir);
            return FALSE;
        }
        g_message("resuming the NoC session of %s", json);
    } else {
        g_autofree char *plugin = self->plugin_path ? g_path_get_basename(self->plugin_path) : NULL;
        report = ssa_noc_report_new(ds, ms, n_modes, n_modes == 2, seed, 20,
                                    n_modes == 2 || ms[0] == SS_MODE_STABLE ? plugin : NULL);
    }
    /* the document: the images of the session (not saved: NoC mode makes no objects) */
    g_autoptr(SsaDocument) doc = ssa_document_new();
    GArray *index = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint i = 0; i < report->rows->len; i++) {
        SsaNocRow *row = report->rows->pdata[i];
        SsaImageEntry *e = ssa_document_add_image(doc, row->image, 0, 0, 0);
        int idx = (int)ssa_image_entry_get_index(e);
        g_array_append_val(index, idx);
        /* the shown image's path is the document's (canonical) one */
        g_free(row->image);
        row->image = g_strdup(ssa_image_entry_get_path(e));
    }
    /* a report that cannot be written is an error now, not after the first object */
    g_autofree char *csv = csv_path_for(json);
    if (!ssa_noc_report_save(report, json, csv, error))
        return FALSE;
    SsaNocState *n = g_new0(SsaNocState, 1);
    n->report = g_steal_pointer(&report);
    n->json_path = g_steal_pointer(&json);
    n->csv_path = g_steal_pointer(&csv);
    n->doc_index = index;
    self->noc = n;
    ssa_window_set_document(self, doc, NULL);
    gtk_revealer_set_reveal_child(self->noc_revealer, TRUE);
    gtk_widget_set_visible(GTK_WIDGET(self->mode_dropdown), FALSE); /* each row has its mode */
    gtk_widget_set_visible(self->side_box, FALSE);                   /* no objects are made */
    g_autofree char *title = g_strdup_printf("Stable-SAM Annotator — NoC session %s", n->json_path);
    gtk_window_set_title(GTK_WINDOW(self), title);
    guint first = ssa_noc_report_first_unfinished(n->report);
    g_debug("noc session: %u rows, report %s, starting at %u", n->report->rows->len, n->json_path,
            first + 1);
    go_task(self, first);
    return TRUE;
}

void
ssa_window_noc_free(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    if (!n)
        return;
    free_task(n);
    ssa_noc_report_free(n->report);
    g_array_unref(n->doc_index);
    g_free(n->json_path);
    g_free(n->csv_path);
    g_free(n);
    self->noc = NULL;
}

void
ssa_window_noc_embedding_ready(SsaWindow *self)
{
    if (self->noc) {
        ready_to_click(self);
        update_noc_bar(self);
    }
}

void
ssa_window_noc_add_canvas_objects(SsaWindow *self, GArray *objects)
{
    SsaNocState *n = self->noc;
    if (!n || !n->gt || !self->texture || ssa_canvas_get_image_width(self->canvas) != n->width ||
        ssa_canvas_get_image_height(self->canvas) != n->height)
        return;
    SsaCanvasObject co = { .mask = n->gt, .color = { 0.2, 0.9, 0.3, 1.0 }, .selected = TRUE };
    g_array_append_val(objects, co);
}

/* sends the NoC prompt (n->points, n->mask_input) in the row's mode, + the other mode for the
   compare view / drift panel */
static void
send(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    SsaNocRow *row = current_row(self);
    ss_mode modes[2] = { row->mode, row->mode == SS_MODE_STABLE ? SS_MODE_SAM : SS_MODE_STABLE };
    int n_modes = (self->compare || self->drift_panel) && ssa_worker_has_plugin(self->worker) ? 2 : 1;
    g_clear_pointer(&self->prompt, ssa_prompt_free);
    self->prompt = ssa_prompt_new();
    for (int i = 0; i < n->n_points; i++)
        ssa_prompt_add_point(self->prompt, n->points[i].x, n->points[i].y, n->points[i].label);
    n->generation = ssa_worker_predict(self->worker, self->embedding, self->prompt, n->mask_input,
                                       modes, n_modes,
                                       self->show_circles || self->compare || self->drift_panel);
    self->pending_generation = n->generation;
    g_debug("request %u: mode %s points %d (noc)", n->generation, ssa_noc_mode_key(row->mode),
            n->n_points);
    ssa_canvas_set_prompt(self->canvas, self->prompt);
    ssa_canvas_set_prompt(self->compare_canvas, self->prompt);
}

gboolean
ssa_window_noc_request(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    if (!n)
        return FALSE;
    if (current_row(self) && n->n_points > 0 && self->embedding)
        send(self); /* same prompt again (e.g. the compare view was switched on) */
    return TRUE;
}

gboolean
ssa_window_noc_click(SsaWindow *self, double x, double y, int label)
{
    SsaNocState *n = self->noc;
    if (!n)
        return FALSE;
    SsaNocRow *row = current_row(self);
    const char *why = NULL;
    if (!row)
        why = "The NoC session is complete.";
    else if (!n->session)
        why = "This object has no usable ground truth: Enter skips it.";
    else if (g_strcmp0(self->image_path, row->image) != 0)
        why = "This is not the image of the current NoC object.";
    else if (!self->embedding || !self->model_ready)
        why = "Still encoding the image…";
    else if (ss_noc_pending(n->session))
        why = "Wait for the mask of the last click.";
    else if (ss_noc_n_clicks(n->session) >= n->report->max_clicks)
        why = "All clicks used: Enter goes to the next object.";
    if (why) {
        gtk_label_set_text(self->status_label, why);
        return TRUE;
    }
    /* the pixel the click fell in */
    ss_point c = { (float)CLAMP(floor(x), 0, n->width - 1), (float)CLAMP(floor(y), 0, n->height - 1),
                   label ? 1 : 0 };
    ss_prompt pr;
    char err[256];
    if (ss_noc_begin(n->session, c, &pr, err, sizeof err) != SS_OK) {
        ssa_window_show_error(self, err);
        return TRUE;
    }
    n->pending_seconds = n->t_ready ? (g_get_monotonic_time() - n->t_ready) / 1e6 : 0;
    memcpy(n->points, pr.points, sizeof(ss_point) * pr.n_points);
    n->n_points = pr.n_points;
    g_clear_pointer(&n->mask_input, g_free);
    if (pr.mask_input)
        n->mask_input = g_memdup2(pr.mask_input, sizeof(float) * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    g_debug("noc click %d: %.0f %.0f %d", pr.n_points, c.x, c.y, c.label);
    send(self);
    update_noc_bar(self);
    return TRUE;
}

void
ssa_window_noc_prediction(SsaWindow *self, const SsaPrediction *pred)
{
    SsaNocState *n = self->noc;
    SsaNocRow *row = current_row(self);
    if (!n || !row || !n->session || pred->generation != n->generation ||
        !ss_noc_pending(n->session) || pred->width != n->width || pred->height != n->height)
        return;
    const SsaModeResult *r = &pred->results[0];
    g_assert(r->mode == row->mode);
    double iou;
    char err[256];
    if (ss_noc_finish(n->session, r->mask, r->low_res, n->pending_seconds, &iou, err, sizeof err) != SS_OK) {
        ssa_window_show_error(self, err);
        return;
    }
    ssa_noc_row_update(row, n->session);
    save_report(self); /* before the log line: a test that sees the line finds the click saved */
    suggest(self, r->mask);
    n->t_ready = g_get_monotonic_time();
    g_autofree char *sug = suggestion_text(n);
    g_debug("noc iou %d: %.17g noc85 %d noc90 %d suggest %s", row->n_clicks, iou, row->noc85,
            row->noc90, sug);
    update_noc_bar(self);
}

void
ssa_window_noc_prediction_failed(SsaWindow *self, guint generation)
{
    SsaNocState *n = self->noc;
    if (n && n->session && generation == n->generation && ss_noc_pending(n->session)) {
        ss_noc_cancel(n->session);
        update_noc_bar(self);
    }
}

gboolean
ssa_window_noc_next(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    if (!n)
        return FALSE;
    SsaNocRow *row = current_row(self);
    if (!row)
        return TRUE;
    if (n->session && ss_noc_pending(n->session)) {
        gtk_label_set_text(self->status_label, "Wait for the mask of the last click.");
        return TRUE;
    }
    if (n->session)
        ssa_noc_row_update(row, n->session);
    row->done = TRUE;
    g_debug("noc done %u: clicks %d noc85 %d noc90 %d", n->task + 1, row->n_clicks, row->noc85,
            row->noc90);
    save_report(self);
    go_task(self, n->task + 1);
    return TRUE;
}

gboolean
ssa_window_noc_restart(SsaWindow *self)
{
    SsaNocState *n = self->noc;
    if (!n)
        return FALSE;
    if (current_row(self)) {
        g_debug("noc restart %u", n->task + 1);
        go_task(self, n->task);
    }
    return TRUE;
}

/* ---- attention drift panel --------------------------------------------------------------- */

void
ssa_window_update_drift(SsaWindow *self)
{
    if (!self->drift_panel)
        return;
    SsaPrediction *pred = self->prediction;
    const guint8 *gt = self->noc && self->noc->gt && pred && pred->width == self->noc->width &&
                       pred->height == self->noc->height ? self->noc->gt : NULL;
    if (!pred || !pred->results[0].trace) {
        gtk_label_set_text(self->drift_label, "");
        gtk_label_set_markup(self->drift_note_label,
            "<i>Give a prompt: the numbers are for the current prompt, in both modes.</i>");
        return;
    }
    SsaDrift d[2];
    const char *name[2];
    double iou[2];
    int nr = pred->n_results;
    for (int i = 0; i < nr; i++) {
        const SsaModeResult *r = &pred->results[i];
        name[i] = r->mode == SS_MODE_STABLE ? "Stable" : "SAM";
        if (r->trace)
            ssa_drift_compute(r->trace, r->alpha, r->mask, gt, pred->width, pred->height, &d[i]);
        else
            memset(&d[i], 0, sizeof d[i]);
        iou[i] = gt ? ss_iou(gt, r->mask, self->noc->ignore, pred->width, pred->height) : -1;
    }
    g_autoptr(GString) s = g_string_new("<tt>");
    g_string_append_printf(s, "%-13s", "");
    for (int i = 0; i < nr; i++)
        g_string_append_printf(s, "<b>%11s</b>", name[i]);
    g_string_append_c(s, '\n');
    for (int b = 0; b < 2; b++) {
        g_string_append_printf(s, "α block %d    ", b);
        for (int i = 0; i < nr; i++) {
            g_autofree char *v = g_strdup_printf("%.2f/%.2f", d[i].alpha[b][0], d[i].alpha[b][1]);
            g_string_append_printf(s, "%11s", v);
        }
        g_string_append_c(s, '\n');
    }
    g_string_append(s, "‖Δp‖ px      "); /* (13 columns; %-13s would count bytes) */
    for (int i = 0; i < nr; i++)
        g_string_append_printf(s, "%11.1f", d[i].shift_px);
    g_string_append_printf(s, "\n%-13s", "on mask %");
    for (int i = 0; i < nr; i++)
        g_string_append_printf(s, "%11.1f", 100 * d[i].in_mask);
    if (gt) {
        g_string_append_printf(s, "\n%-13s", "on GT %");
        for (int i = 0; i < nr; i++)
            g_string_append_printf(s, "%11.1f", 100 * d[i].in_gt);
        g_string_append_printf(s, "\n%-13s", "mask IoU GT");
        for (int i = 0; i < nr; i++)
            g_string_append_printf(s, "%11.3f", iou[i]);
    }
    g_string_append(s, "</tt>");
    gtk_label_set_markup(self->drift_label, s->str);
    g_string_truncate(s, 0);
    g_string_append(s, "<small>α: DRP weights (deformable / regular) of the decoder's two "
                       "token→image attentions. ‖Δp‖, on mask, on GT: block 1's (the second) attention of the "
                       "output-mask token (mean over heads), weighted over its 4096 samples; "
                       "each mode's own mask. Circles: the top-K samples on each canvas.");
    if (nr == 1)
        g_string_append(s, " Only one mode: no Stable-SAM plugin loaded.");
    if (self->noc && self->noc->n_points)
        g_string_append(s, " NoC: the other mode gets the same clicks and mask input.");
    g_string_append(s, "</small>");
    gtk_label_set_markup(self->drift_note_label, s->str);
    for (int i = 0; i < nr; i++)
        g_debug("drift %s: alpha %.3f/%.3f %.3f/%.3f shift %.2f px on-mask %.4f on-gt %.4f",
                name[i], d[i].alpha[0][0], d[i].alpha[0][1], d[i].alpha[1][0], d[i].alpha[1][1],
                d[i].shift_px, d[i].in_mask, d[i].in_gt);
}
