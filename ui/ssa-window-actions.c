/* ssa-window-actions.c — the window's actions (win.*) and its single-key bindings.
 *
 * Accelerators with Ctrl are application accels (ssa-application.c); the single keys are a
 * shortcut controller on the window's content (ssa_window_add_key_shortcuts). */
#define G_LOG_DOMAIN "ssa-window"
#include "ssa-window-private.h"
#include "ssa-coco.h"

typedef enum {
    CHOOSE_OPEN_FOLDER,
    CHOOSE_OPEN_PROJECT,
    CHOOSE_SAVE_PROJECT,
    CHOOSE_EXPORT_COCO,
    CHOOSE_EXPORT_COCO_POLYGONS,
    CHOOSE_IMPORT_COCO,
} ChooseKind;

typedef struct {
    SsaWindow *self;
    ChooseKind kind;
} ChooseData;

static void
export_coco(SsaWindow *self, const char *path, SsaCocoFlags flags)
{
    g_autoptr(GError) error = NULL;
    if (!ssa_coco_export(self->document, path, flags, &error)) {
        ssa_window_show_error(self, error->message);
        return;
    }
    g_debug("exported COCO to %s", path);
    g_autofree char *msg = g_strdup_printf("Exported COCO to %s", path);
    gtk_label_set_text(self->status_label, msg);
}

gboolean
ssa_window_open_project(SsaWindow *self, const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SsaDocument) doc = ssa_document_new_from_file(path, &error);
    if (!doc) {
        ssa_window_show_error(self, error->message); /* the open document stays as it is */
        return FALSE;
    }
    ssa_window_set_document(self, doc, path);
    return TRUE;
}

gboolean
ssa_window_import_coco(SsaWindow *self, const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SsaDocument) doc = ssa_coco_import(path, NULL, &error);
    if (!doc) {
        ssa_window_show_error(self, error->message);
        return FALSE;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *project = g_build_filename(dir, SSA_PROJECT_BASENAME, NULL);
    ssa_window_set_document(self, doc, g_file_test(project, G_FILE_TEST_EXISTS) ? NULL : project);
    return TRUE;
}

static void
on_chooser_response(GtkNativeDialog *dialog, int response, gpointer user_data)
{
    ChooseData *data = user_data;
    SsaWindow *self = data->self;
    g_autoptr(GFile) file = NULL;
    if (response == GTK_RESPONSE_ACCEPT)
        file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
    if (file) {
        g_autofree char *path = g_file_get_path(file);
        g_autoptr(GError) error = NULL;
        switch (data->kind) {
        case CHOOSE_OPEN_FOLDER:
            if (!ssa_window_open(self, &file, 1, NULL, &error))
                ssa_window_show_error(self, error->message);
            break;
        case CHOOSE_OPEN_PROJECT:
            ssa_window_open_project(self, path);
            break;
        case CHOOSE_SAVE_PROJECT:
            if (!ssa_document_save(self->document, path, &error))
                ssa_window_show_error(self, error->message);
            else
                gtk_window_set_title(GTK_WINDOW(self), path);
            break;
        case CHOOSE_EXPORT_COCO:
            export_coco(self, path, SSA_COCO_FLAGS_NONE);
            break;
        case CHOOSE_EXPORT_COCO_POLYGONS:
            export_coco(self, path, SSA_COCO_FLAGS_POLYGONS);
            break;
        case CHOOSE_IMPORT_COCO:
            ssa_window_import_coco(self, path);
            break;
        }
    }
    gtk_native_dialog_destroy(dialog);
    g_object_unref(dialog);
    g_object_unref(self);
    g_free(data);
}

static void
choose(SsaWindow *self, ChooseKind kind)
{
    static const struct {
        const char *title;
        GtkFileChooserAction action;
        const char *accept;
    } kinds[] = {
        [CHOOSE_OPEN_FOLDER] = { "Open a Folder of Images", GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, "_Open" },
        [CHOOSE_OPEN_PROJECT] = { "Open a Project", GTK_FILE_CHOOSER_ACTION_OPEN, "_Open" },
        [CHOOSE_SAVE_PROJECT] = { "Save the Project As", GTK_FILE_CHOOSER_ACTION_SAVE, "_Save" },
        [CHOOSE_EXPORT_COCO] = { "Export COCO (RLE)", GTK_FILE_CHOOSER_ACTION_SAVE, "_Export" },
        [CHOOSE_EXPORT_COCO_POLYGONS] = { "Export COCO (Polygons)", GTK_FILE_CHOOSER_ACTION_SAVE, "_Export" },
        [CHOOSE_IMPORT_COCO] = { "Import COCO", GTK_FILE_CHOOSER_ACTION_OPEN, "_Import" },
    };
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(kinds[kind].title, GTK_WINDOW(self),
        kinds[kind].action, kinds[kind].accept, "_Cancel");
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    const char *doc_path = self->document ? ssa_document_get_path(self->document) : NULL;
    const char *ref = doc_path ? doc_path : self->default_project_path ? self->default_project_path : self->image_path;
    if (ref) {
        g_autofree char *dir = g_path_get_dirname(ref);
        g_autoptr(GFile) folder = g_file_new_for_path(dir);
        gtk_file_chooser_set_current_folder(GTK_FILE_CHOOSER(dialog), folder, NULL);
    }
    if (kind == CHOOSE_EXPORT_COCO || kind == CHOOSE_EXPORT_COCO_POLYGONS)
        gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), "annotations.coco.json");
    else if (kind == CHOOSE_SAVE_PROJECT)
        gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), SSA_PROJECT_BASENAME);
    if (kind == CHOOSE_OPEN_PROJECT || kind == CHOOSE_IMPORT_COCO) {
        GtkFileFilter *filter = gtk_file_filter_new();
        gtk_file_filter_set_name(filter, "JSON");
        gtk_file_filter_add_pattern(filter, "*.json");
        gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dialog), filter);
        g_object_unref(filter);
    }
    ChooseData *data = g_new0(ChooseData, 1);
    data->self = g_object_ref(self);
    data->kind = kind;
    g_signal_connect(dialog, "response", G_CALLBACK(on_chooser_response), data);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

static void
act_choose(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    if (g_str_equal(name, "win.open-folder"))
        choose(self, CHOOSE_OPEN_FOLDER);
    else if (g_str_equal(name, "win.open-project"))
        choose(self, CHOOSE_OPEN_PROJECT);
    else if (g_str_equal(name, "win.save-project-as"))
        choose(self, CHOOSE_SAVE_PROJECT);
    else if (g_str_equal(name, "win.export-coco"))
        choose(self, CHOOSE_EXPORT_COCO);
    else if (g_str_equal(name, "win.export-coco-polygons"))
        choose(self, CHOOSE_EXPORT_COCO_POLYGONS);
    else if (g_str_equal(name, "win.import-coco"))
        choose(self, CHOOSE_IMPORT_COCO);
}

static void
act_undo_redo(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    if (!self->document)
        return;
    const char *label = g_str_equal(name, "win.undo") ? ssa_document_get_undo_label(self->document)
                                                      : ssa_document_get_redo_label(self->document);
    g_autofree char *what = g_strdup(label);
    gboolean done = g_str_equal(name, "win.undo") ? ssa_document_undo(self->document)
                                                  : ssa_document_redo(self->document);
    if (done) {
        g_autofree char *msg = g_strdup_printf("%s: %s", g_str_equal(name, "win.undo") ? "Undone" : "Redone",
                                               what ? what : "change");
        gtk_label_set_text(self->status_label, msg);
    }
    ssa_window_refresh_objects(self);
    ssa_window_update_actions(self);
}

static void
act_accept(GtkWidget *widget, const char *name, GVariant *param)
{
    ssa_window_accept(SSA_WINDOW(widget));
}

static void
act_clear_prompt(GtkWidget *widget, const char *name, GVariant *param)
{
    if (!ssa_window_noc_restart(SSA_WINDOW(widget)))
        ssa_window_clear_prompt(SSA_WINDOW(widget));
}

static void
act_delete_object(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    if (!self->document || !self->selected_object) {
        gtk_label_set_text(self->status_label, "No object selected.");
        return;
    }
    g_autoptr(GError) error = NULL;
    gint64 id = self->selected_object;
    self->selected_object = 0;
    if (!ssa_document_remove_object(self->document, id, &error))
        ssa_window_show_error(self, error->message);
}

static void
act_navigate(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    int step = g_str_equal(name, "win.next-image") ? 1 : -1;
    if (self->image_index >= 0)
        ssa_window_go_to_image(self, self->image_index + step);
}

static void
act_zoom(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    for (int i = 0; i < 2; i++) {
        SsaCanvas *c = i ? self->compare_canvas : self->canvas;
        if (g_str_equal(name, "win.zoom-in"))
            ssa_canvas_zoom_in(c);
        else if (g_str_equal(name, "win.zoom-out"))
            ssa_canvas_zoom_out(c);
        else
            ssa_canvas_zoom_fit(c);
    }
}

static void
act_toggle_mode(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    g_object_set(self, "mode", g_strcmp0(self->mode, "stable") == 0 ? "sam" : "stable", NULL);
}

static void
act_add_category(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    if (!self->document)
        return;
    guint n = g_list_model_get_n_items(ssa_document_get_categories(self->document));
    g_autofree char *cname = g_strdup_printf("category %u", n + 1);
    g_autoptr(GError) error = NULL;
    SsaCategory *cat = ssa_document_add_category(self->document, 0, cname, 0, &error);
    if (!cat) {
        ssa_window_show_error(self, error->message);
        return;
    }
    self->current_category = ssa_category_get_id(cat);
    ssa_window_bind_category_list(self);
}

static void
act_select_category(GtkWidget *widget, const char *name, GVariant *param)
{
    SsaWindow *self = SSA_WINDOW(widget);
    if (!self->document)
        return;
    int n = g_variant_get_int32(param);
    GListModel *cats = ssa_document_get_categories(self->document);
    if (n < 1 || (guint)n > g_list_model_get_n_items(cats))
        return;
    g_autoptr(SsaCategory) cat = g_list_model_get_item(cats, (guint)n - 1);
    self->current_category = ssa_category_get_id(cat);
    ssa_window_bind_category_list(self);
    g_autofree char *msg = g_strdup_printf("Category: %s", ssa_category_get_name(cat));
    gtk_label_set_text(self->status_label, msg);
}

static void
act_dismiss_error(GtkWidget *widget, const char *name, GVariant *param)
{
    gtk_revealer_set_reveal_child(SSA_WINDOW(widget)->error_revealer, FALSE);
}

void
ssa_window_update_actions(SsaWindow *self)
{
    GtkWidget *w = GTK_WIDGET(self);
    gboolean has_doc = self->document != NULL;
    gboolean has_image = has_doc && self->image_index >= 0;
    int n = has_doc ? (int)ssa_document_get_n_images(self->document) : 0;
    gtk_widget_action_set_enabled(w, "win.undo", has_doc && ssa_document_can_undo(self->document));
    gtk_widget_action_set_enabled(w, "win.redo", has_doc && ssa_document_can_redo(self->document));
    gtk_widget_action_set_enabled(w, "win.accept",
                                  ssa_window_noc_active(self) || (has_image && self->prediction != NULL));
    gtk_widget_action_set_enabled(w, "win.next-image", has_image && self->image_index + 1 < n);
    gtk_widget_action_set_enabled(w, "win.prev-image", has_image && self->image_index > 0);
    gtk_widget_action_set_enabled(w, "win.export-coco", has_doc);
    gtk_widget_action_set_enabled(w, "win.export-coco-polygons", has_doc);
    gtk_widget_action_set_enabled(w, "win.save-project-as", has_doc);
    gtk_widget_action_set_enabled(w, "win.add-category", has_doc);
    gtk_widget_action_set_enabled(w, "win.delete-object", has_image);
}

void
ssa_window_class_init_actions(GtkWidgetClass *wc)
{
    gtk_widget_class_install_action(wc, "win.open-folder", NULL, act_choose);
    gtk_widget_class_install_action(wc, "win.open-project", NULL, act_choose);
    gtk_widget_class_install_action(wc, "win.save-project-as", NULL, act_choose);
    gtk_widget_class_install_action(wc, "win.export-coco", NULL, act_choose);
    gtk_widget_class_install_action(wc, "win.export-coco-polygons", NULL, act_choose);
    gtk_widget_class_install_action(wc, "win.import-coco", NULL, act_choose);
    gtk_widget_class_install_action(wc, "win.undo", NULL, act_undo_redo);
    gtk_widget_class_install_action(wc, "win.redo", NULL, act_undo_redo);
    gtk_widget_class_install_action(wc, "win.accept", NULL, act_accept);
    gtk_widget_class_install_action(wc, "win.clear-prompt", NULL, act_clear_prompt);
    gtk_widget_class_install_action(wc, "win.delete-object", NULL, act_delete_object);
    gtk_widget_class_install_action(wc, "win.next-image", NULL, act_navigate);
    gtk_widget_class_install_action(wc, "win.prev-image", NULL, act_navigate);
    gtk_widget_class_install_action(wc, "win.zoom-in", NULL, act_zoom);
    gtk_widget_class_install_action(wc, "win.zoom-out", NULL, act_zoom);
    gtk_widget_class_install_action(wc, "win.zoom-fit", NULL, act_zoom);
    gtk_widget_class_install_action(wc, "win.toggle-mode", NULL, act_toggle_mode);
    gtk_widget_class_install_action(wc, "win.add-category", NULL, act_add_category);
    gtk_widget_class_install_action(wc, "win.dismiss-error", NULL, act_dismiss_error);
    gtk_widget_class_install_action(wc, "win.select-category", "i", act_select_category);
    gtk_widget_class_install_property_action(wc, "win.mode", "mode");
    gtk_widget_class_install_property_action(wc, "win.compare", "compare");
    gtk_widget_class_install_property_action(wc, "win.show-circles", "show-circles");
    gtk_widget_class_install_property_action(wc, "win.drift-panel", "drift-panel");

}

/* Single keys (Enter, Esc, Delete, PgUp/PgDn, a/d, m/c/v, 1-9) live on the window's content box,
 * not on the window: GtkWindow's own bindings (Return = activate-default, space =
 * activate-focus) would take them first, and a focused text entry must keep its keys (the
 * controller runs in the bubble phase, after the focus widget). */
void
ssa_window_add_key_shortcuts(SsaWindow *self, GtkWidget *content)
{
    static const struct {
        guint key;
        const char *action;
    } keys[] = {
        { GDK_KEY_Return, "win.accept" },
        { GDK_KEY_KP_Enter, "win.accept" },
        { GDK_KEY_Escape, "win.clear-prompt" },
        { GDK_KEY_Delete, "win.delete-object" },
        { GDK_KEY_KP_Delete, "win.delete-object" },
        { GDK_KEY_Page_Down, "win.next-image" },
        { GDK_KEY_d, "win.next-image" },
        { GDK_KEY_Page_Up, "win.prev-image" },
        { GDK_KEY_a, "win.prev-image" },
        { GDK_KEY_m, "win.toggle-mode" },
        { GDK_KEY_c, "win.show-circles" },
        { GDK_KEY_v, "win.compare" },
        { GDK_KEY_i, "win.drift-panel" },
        { GDK_KEY_n, "win.accept" },
    };
    GtkEventController *ctl = gtk_shortcut_controller_new();
    gtk_event_controller_set_propagation_phase(ctl, GTK_PHASE_BUBBLE);
    for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
        gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(ctl),
            gtk_shortcut_new(gtk_keyval_trigger_new(keys[i].key, 0), gtk_named_action_new(keys[i].action)));
    for (int n = 1; n <= 9; n++) {
        GtkShortcut *sc = gtk_shortcut_new(gtk_keyval_trigger_new(GDK_KEY_1 + (n - 1), 0),
                                           gtk_named_action_new("win.select-category"));
        gtk_shortcut_set_arguments(sc, g_variant_new_int32(n));
        gtk_shortcut_controller_add_shortcut(GTK_SHORTCUT_CONTROLLER(ctl), sc);
    }
    gtk_widget_add_controller(content, ctl);
}
