/* ssa-window-lists.c — the side lists: images (thumbnails), objects of the current image
 * (colour, category, visibility, delete) and categories (current, colour, rename). All three
 * are GtkListBoxes bound to the document's GListModels. */
#define G_LOG_DOMAIN "ssa-window"
#include "ssa-window-private.h"
#include "image-io.h"

#define THUMB_W 72
#define THUMB_H 54

GdkRGBA
ssa_rgba_to_gdk(SsaRgba c)
{
    return (GdkRGBA){ ((c >> 24) & 0xff) / 255.0f, ((c >> 16) & 0xff) / 255.0f,
                      ((c >> 8) & 0xff) / 255.0f, (c & 0xff) / 255.0f };
}

SsaRgba
ssa_rgba_from_gdk(const GdkRGBA *c)
{
    return ((SsaRgba)lroundf(CLAMP(c->red, 0, 1) * 255) << 24) |
           ((SsaRgba)lroundf(CLAMP(c->green, 0, 1) * 255) << 16) |
           ((SsaRgba)lroundf(CLAMP(c->blue, 0, 1) * 255) << 8) |
           (SsaRgba)lroundf(CLAMP(c->alpha, 0, 1) * 255);
}

/* ---- images ----------------------------------------------------------------------------- */

typedef struct {
    GWeakRef window;
    char *path;
} ThumbData;

static void
thumb_data_free(ThumbData *d)
{
    g_weak_ref_clear(&d->window);
    g_free(d->path);
    g_free(d);
}

static void
thumb_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    const ThumbData *d = task_data;
    GError *error = NULL;
    /* decoded at thumbnail scale (streamed for PNG, see ssa_image_load_scaled); nothing for
     * what the window refuses to open anyway (its message says why) */
    gboolean big = ssa_big_decode_lock(d->path);
    SsaImage *img = ssa_image_load_scaled(d->path, THUMB_W * 2, SSA_ANNOTATOR_MAX_PIXELS, NULL, NULL, &error);
    if (big)
        ssa_big_decode_unlock();
    if (!img) {
        g_task_return_error(task, error);
        return;
    }
    g_autoptr(GBytes) bytes = g_bytes_new_with_free_func(img->rgb, (gsize)img->stride * img->height,
                                                         (GDestroyNotify)ssa_image_free, img);
    g_task_return_pointer(task, gdk_memory_texture_new(img->width, img->height, GDK_MEMORY_R8G8B8, bytes,
                                                       img->stride), g_object_unref);
}

static void
thumb_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    GtkPicture *picture = GTK_PICTURE(source);
    ThumbData *d = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    g_autoptr(GdkTexture) tex = g_task_propagate_pointer(G_TASK(result), &error);
    if (!tex) {
        gtk_widget_set_tooltip_text(GTK_WIDGET(picture), error->message);
        return;
    }
    gtk_picture_set_paintable(picture, GDK_PAINTABLE(tex));
    g_autoptr(SsaWindow) self = g_weak_ref_get(&d->window);
    if (self)
        g_hash_table_replace(self->thumbnails, g_strdup(d->path), g_object_ref(tex));
}

static GtkWidget *
create_image_row(gpointer item, gpointer user_data)
{
    SsaWindow *self = user_data;
    SsaImageEntry *entry = SSA_IMAGE_ENTRY(item);
    const char *path = ssa_image_entry_get_path(entry);
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    GtkWidget *picture = gtk_picture_new();
    gtk_widget_set_size_request(picture, THUMB_W, THUMB_H);
    gtk_picture_set_can_shrink(GTK_PICTURE(picture), TRUE);
    gtk_widget_add_css_class(picture, "thumb");
    GdkTexture *cached = g_hash_table_lookup(self->thumbnails, path);
    if (cached) {
        gtk_picture_set_paintable(GTK_PICTURE(picture), GDK_PAINTABLE(cached));
    } else {
        GTask *task = g_task_new(picture, NULL, thumb_done, NULL);
        ThumbData *d = g_new0(ThumbData, 1);
        g_weak_ref_init(&d->window, self);
        d->path = g_strdup(path);
        g_task_set_task_data(task, d, (GDestroyNotify)thumb_data_free);
        g_task_run_in_thread(task, thumb_thread);
        g_object_unref(task);
    }
    GtkWidget *vbox = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    GtkWidget *name = gtk_label_new(ssa_image_entry_get_name(entry));
    gtk_widget_set_hexpand(name, TRUE);
    gtk_label_set_xalign(GTK_LABEL(name), 0);
    gtk_label_set_ellipsize(GTK_LABEL(name), PANGO_ELLIPSIZE_MIDDLE);
    GtkWidget *count = gtk_label_new(NULL);
    gtk_label_set_xalign(GTK_LABEL(count), 0);
    gtk_widget_add_css_class(count, "dim-label");
    gtk_widget_add_css_class(count, "caption");
    guint n = ssa_image_entry_get_n_objects(entry);
    g_autofree char *ctext = g_strdup_printf(n == 1 ? "%u object" : "%u objects", n);
    gtk_label_set_text(GTK_LABEL(count), ctext);
    gtk_box_append(GTK_BOX(vbox), name);
    gtk_box_append(GTK_BOX(vbox), count);
    gtk_widget_set_valign(vbox, GTK_ALIGN_CENTER);
    gtk_box_append(GTK_BOX(box), picture);
    gtk_box_append(GTK_BOX(box), vbox);
    gtk_widget_set_tooltip_text(box, path);
    guint index = ssa_image_entry_get_index(entry);
    if (self->image_count_labels->len <= index)
        g_ptr_array_set_size(self->image_count_labels, index + 1);
    g_clear_object(&self->image_count_labels->pdata[index]);
    self->image_count_labels->pdata[index] = g_object_ref(count);
    return box;
}

void
ssa_window_update_image_count(SsaWindow *self, int index)
{
    SsaImageEntry *entry = ssa_document_get_image(self->document, (guint)index);
    if (!entry || (guint)index >= self->image_count_labels->len || !self->image_count_labels->pdata[index])
        return;
    guint n = ssa_image_entry_get_n_objects(entry);
    g_autofree char *ctext = g_strdup_printf(n == 1 ? "%u object" : "%u objects", n);
    gtk_label_set_text(GTK_LABEL(self->image_count_labels->pdata[index]), ctext);
}

static void
on_image_row_selected(GtkListBox *box, GtkListBoxRow *row, SsaWindow *self)
{
    if (!row || !self->document)
        return;
    int index = gtk_list_box_row_get_index(row);
    if (index != self->image_index) {
        ssa_window_go_to_image(self, index);
        gtk_widget_grab_focus(GTK_WIDGET(self->canvas));
    }
}

void
ssa_window_select_image_row(SsaWindow *self, int index)
{
    GtkListBoxRow *row = gtk_list_box_get_row_at_index(self->image_list, index);
    if (row && gtk_list_box_get_selected_row(self->image_list) != row) {
        g_signal_handlers_block_by_func(self->image_list, on_image_row_selected, self);
        gtk_list_box_select_row(self->image_list, row);
        g_signal_handlers_unblock_by_func(self->image_list, on_image_row_selected, self);
    }
}

static void
on_images_changed(GListModel *model, guint pos, guint removed, guint added, SsaWindow *self)
{
    g_autofree char *title = g_strdup_printf("Images (%u)", g_list_model_get_n_items(model));
    gtk_label_set_text(self->images_title, title);
}

void
ssa_window_bind_image_list(SsaWindow *self)
{
    GListModel *model = ssa_document_get_images(self->document);
    g_ptr_array_set_size(self->image_count_labels, 0);
    gtk_list_box_bind_model(self->image_list, model, create_image_row, self, NULL);
    g_signal_connect_object(model, "items-changed", G_CALLBACK(on_images_changed), self, 0);
    on_images_changed(model, 0, 0, 0, self);
}

/* ---- objects ---------------------------------------------------------------------------- */

static void
draw_swatch(GtkDrawingArea *area, cairo_t *cr, int w, int h, gpointer user_data)
{
    const GdkRGBA *c = g_object_get_data(G_OBJECT(area), "color");
    if (!c)
        return;
    cairo_rectangle(cr, 1, 1, w - 2, h - 2);
    gdk_cairo_set_source_rgba(cr, c);
    cairo_fill_preserve(cr);
    cairo_set_source_rgba(cr, 0, 0, 0, 0.4);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
}

static GtkWidget *
swatch_new(const GdkRGBA *color)
{
    GtkWidget *area = gtk_drawing_area_new();
    gtk_drawing_area_set_content_width(GTK_DRAWING_AREA(area), 16);
    gtk_drawing_area_set_content_height(GTK_DRAWING_AREA(area), 16);
    gtk_widget_set_valign(area, GTK_ALIGN_CENTER);
    g_object_set_data_full(G_OBJECT(area), "color", g_memdup2(color, sizeof *color), g_free);
    gtk_drawing_area_set_draw_func(GTK_DRAWING_AREA(area), draw_swatch, NULL, NULL);
    return area;
}

static char *
category_name(SsaCategory *cat)
{
    return g_strdup(cat ? ssa_category_get_name(cat) : "");
}

static void
dd_setup(GtkSignalListItemFactory *f, GtkListItem *item, gpointer user_data)
{
    GtkWidget *label = gtk_label_new(NULL);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
    gtk_label_set_width_chars(GTK_LABEL(label), 6);
    gtk_label_set_max_width_chars(GTK_LABEL(label), 10);
    gtk_list_item_set_child(item, label);
}

static void
dd_bind(GtkSignalListItemFactory *f, GtkListItem *item, gpointer user_data)
{
    SsaCategory *cat = gtk_list_item_get_item(item);
    gtk_label_set_text(GTK_LABEL(gtk_list_item_get_child(item)), ssa_category_get_name(cat));
}

static guint
category_position(SsaWindow *self, gint64 id)
{
    GListModel *cats = ssa_document_get_categories(self->document);
    guint n = g_list_model_get_n_items(cats);
    for (guint i = 0; i < n; i++) {
        g_autoptr(SsaCategory) c = g_list_model_get_item(cats, i);
        if (ssa_category_get_id(c) == id)
            return i;
    }
    return GTK_INVALID_LIST_POSITION;
}

static void
on_object_category(GtkDropDown *dd, GParamSpec *pspec, SsaWindow *self)
{
    gint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(dd), "object-id"));
    SsaCategory *cat = gtk_drop_down_get_selected_item(dd);
    SsaObject *obj = ssa_document_find_object(self->document, id);
    if (!cat || !obj || ssa_object_get_category_id(obj) == ssa_category_get_id(cat))
        return;
    g_autoptr(GError) error = NULL;
    if (!ssa_document_set_object_category(self->document, id, ssa_category_get_id(cat), &error))
        ssa_window_show_error(self, error->message);
}

static void
on_object_visible(GtkToggleButton *button, SsaWindow *self)
{
    gint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(button), "object-id"));
    g_autoptr(GError) error = NULL;
    if (!ssa_document_set_object_visible(self->document, id, gtk_toggle_button_get_active(button), &error))
        ssa_window_show_error(self, error->message);
}

static void
on_object_delete(GtkButton *button, SsaWindow *self)
{
    gint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(button), "object-id"));
    g_autoptr(GError) error = NULL;
    if (id == self->selected_object)
        self->selected_object = 0;
    if (!ssa_document_remove_object(self->document, id, &error))
        ssa_window_show_error(self, error->message);
}

static GtkWidget *
create_object_row(gpointer item, gpointer user_data)
{
    SsaWindow *self = user_data;
    SsaObject *obj = SSA_OBJECT(item);
    gint64 id = ssa_object_get_id(obj);
    gpointer idp = GSIZE_TO_POINTER((gsize)id);
    SsaCategory *cat = ssa_document_find_category(self->document, ssa_object_get_category_id(obj));
    GdkRGBA color = cat ? ssa_rgba_to_gdk(ssa_category_get_color(cat)) : (GdkRGBA){ 1, 1, 1, 1 };

    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    g_object_set_data(G_OBJECT(box), "object-id", idp);
    gtk_box_append(GTK_BOX(box), swatch_new(&color));

    g_autofree char *text = g_strdup_printf("#%" G_GINT64_FORMAT, id);
    GtkWidget *label = gtk_label_new(text);
    gtk_label_set_width_chars(GTK_LABEL(label), 4);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    g_autofree char *tip = g_strdup_printf("area %" G_GINT64_FORMAT " px", ssa_object_get_area(obj));
    gtk_widget_set_tooltip_text(label, tip);
    gtk_box_append(GTK_BOX(box), label);

    GtkExpression *expr = gtk_cclosure_expression_new(G_TYPE_STRING, NULL, 0, NULL,
                                                      G_CALLBACK(category_name), NULL, NULL);
    GtkWidget *dd = gtk_drop_down_new(g_object_ref(ssa_document_get_categories(self->document)), expr);
    /* ellipsized names: a long category name must not widen the sidebar (and move the canvas) */
    GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
    g_signal_connect(factory, "setup", G_CALLBACK(dd_setup), NULL);
    g_signal_connect(factory, "bind", G_CALLBACK(dd_bind), NULL);
    gtk_drop_down_set_factory(GTK_DROP_DOWN(dd), factory);
    g_object_unref(factory);
    gtk_widget_set_hexpand(dd, TRUE);
    guint pos = category_position(self, ssa_object_get_category_id(obj));
    if (pos != GTK_INVALID_LIST_POSITION)
        gtk_drop_down_set_selected(GTK_DROP_DOWN(dd), pos);
    g_object_set_data(G_OBJECT(dd), "object-id", idp);
    g_signal_connect(dd, "notify::selected", G_CALLBACK(on_object_category), self);
    gtk_box_append(GTK_BOX(box), dd);

    GtkWidget *vis = gtk_toggle_button_new();
    gboolean visible = ssa_object_get_visible(obj);
    gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(vis), visible);
    gtk_button_set_icon_name(GTK_BUTTON(vis), visible ? "view-reveal-symbolic" : "view-conceal-symbolic");
    gtk_widget_set_tooltip_text(vis, "Show / hide");
    gtk_widget_add_css_class(vis, "flat");
    g_object_set_data(G_OBJECT(vis), "object-id", idp);
    g_signal_connect(vis, "toggled", G_CALLBACK(on_object_visible), self);
    gtk_box_append(GTK_BOX(box), vis);

    GtkWidget *del = gtk_button_new_from_icon_name("user-trash-symbolic");
    gtk_widget_set_tooltip_text(del, "Delete (Delete)");
    gtk_widget_add_css_class(del, "flat");
    g_object_set_data(G_OBJECT(del), "object-id", idp);
    g_signal_connect(del, "clicked", G_CALLBACK(on_object_delete), self);
    gtk_box_append(GTK_BOX(box), del);
    return box;
}

static void
on_object_row_selected(GtkListBox *box, GtkListBoxRow *row, SsaWindow *self)
{
    gint64 id = 0;
    if (row)
        id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(gtk_list_box_row_get_child(row)), "object-id"));
    if (id == self->selected_object)
        return;
    self->selected_object = id;
    ssa_window_refresh_objects(self);
}

void
ssa_window_bind_object_list(SsaWindow *self)
{
    SsaImageEntry *entry = self->document && self->image_index >= 0
        ? ssa_document_get_image(self->document, (guint)self->image_index) : NULL;
    g_signal_handlers_block_by_func(self->object_list, on_object_row_selected, self);
    gtk_list_box_bind_model(self->object_list, entry ? ssa_image_entry_get_objects(entry) : NULL,
                            entry ? create_object_row : NULL, self, NULL);
    for (int i = 0;; i++) {
        GtkListBoxRow *row = gtk_list_box_get_row_at_index(self->object_list, i);
        if (!row)
            break;
        gint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(gtk_list_box_row_get_child(row)), "object-id"));
        if (id == self->selected_object)
            gtk_list_box_select_row(self->object_list, row);
    }
    g_signal_handlers_unblock_by_func(self->object_list, on_object_row_selected, self);
}

/* ---- categories ------------------------------------------------------------------------- */

SsaCategory *
ssa_window_ensure_category(SsaWindow *self)
{
    SsaCategory *cat = self->current_category
        ? ssa_document_find_category(self->document, self->current_category) : NULL;
    if (cat)
        return cat;
    GListModel *cats = ssa_document_get_categories(self->document);
    if (g_list_model_get_n_items(cats) > 0) {
        g_autoptr(SsaCategory) first = g_list_model_get_item(cats, 0);
        cat = first; /* borrowed: the document keeps it */
    } else {
        g_autoptr(GError) error = NULL;
        cat = ssa_document_add_category(self->document, 0, "object", 0, &error);
        g_assert(cat != NULL);
    }
    self->current_category = ssa_category_get_id(cat);
    ssa_window_bind_category_list(self);
    return cat;
}

static void
on_category_color(GtkColorButton *button, SsaWindow *self)
{
    gint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(button), "category-id"));
    GdkRGBA c;
    gtk_color_chooser_get_rgba(GTK_COLOR_CHOOSER(button), &c);
    g_autoptr(GError) error = NULL;
    if (!ssa_document_recolor_category(self->document, id, ssa_rgba_from_gdk(&c), &error))
        ssa_window_show_error(self, error->message);
}

static void
on_category_editing(GtkEditableLabel *label, GParamSpec *pspec, SsaWindow *self)
{
    if (gtk_editable_label_get_editing(label))
        return;
    gint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(label), "category-id"));
    SsaCategory *cat = ssa_document_find_category(self->document, id);
    const char *text = gtk_editable_get_text(GTK_EDITABLE(label));
    if (!cat || !text || !*text || g_strcmp0(text, ssa_category_get_name(cat)) == 0)
        return;
    g_autoptr(GError) error = NULL;
    g_autofree char *name = g_strstrip(g_strdup(text));
    if (!ssa_document_rename_category(self->document, id, name, &error)) {
        ssa_window_show_error(self, error->message);
        gtk_editable_set_text(GTK_EDITABLE(label), ssa_category_get_name(cat));
    }
}

static GtkWidget *
create_category_row(gpointer item, gpointer user_data)
{
    SsaWindow *self = user_data;
    SsaCategory *cat = SSA_CATEGORY(item);
    gpointer idp = GSIZE_TO_POINTER((gsize)ssa_category_get_id(cat));
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    g_object_set_data(G_OBJECT(box), "category-id", idp);
    GdkRGBA c = ssa_rgba_to_gdk(ssa_category_get_color(cat));
    GtkWidget *button = gtk_color_button_new_with_rgba(&c);
    gtk_color_chooser_set_use_alpha(GTK_COLOR_CHOOSER(button), FALSE);
    gtk_widget_set_tooltip_text(button, "Colour");
    g_object_set_data(G_OBJECT(button), "category-id", idp);
    g_signal_connect(button, "color-set", G_CALLBACK(on_category_color), self);
    gtk_box_append(GTK_BOX(box), button);
    GtkWidget *label = gtk_editable_label_new(ssa_category_get_name(cat));
    gtk_widget_set_hexpand(label, TRUE);
    gtk_widget_set_tooltip_text(label, "Double-click to rename");
    g_object_set_data(G_OBJECT(label), "category-id", idp);
    g_signal_connect(label, "notify::editing", G_CALLBACK(on_category_editing), self);
    gtk_box_append(GTK_BOX(box), label);
    return box;
}

static void
on_category_row_selected(GtkListBox *box, GtkListBoxRow *row, SsaWindow *self)
{
    if (!row)
        return;
    self->current_category =
        GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(gtk_list_box_row_get_child(row)), "category-id"));
    SsaCategory *cat = ssa_document_find_category(self->document, self->current_category);
    if (cat) {
        GdkRGBA c = ssa_rgba_to_gdk(ssa_category_get_color(cat));
        ssa_canvas_set_mask_color(self->canvas, &c);
        ssa_canvas_set_mask_color(self->compare_canvas, &c); /* both models' masks alike */
    }
}

void
ssa_window_bind_category_list(SsaWindow *self)
{
    g_signal_handlers_block_by_func(self->category_list, on_category_row_selected, self);
    gtk_list_box_bind_model(self->category_list, ssa_document_get_categories(self->document),
                            create_category_row, self, NULL);
    g_signal_handlers_unblock_by_func(self->category_list, on_category_row_selected, self);
    for (int i = 0;; i++) {
        GtkListBoxRow *row = gtk_list_box_get_row_at_index(self->category_list, i);
        if (!row)
            break;
        gint64 id = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(gtk_list_box_row_get_child(row)), "category-id"));
        if (id == self->current_category || (!self->current_category && i == 0)) {
            gtk_list_box_select_row(self->category_list, row);
            break;
        }
    }
}

void
ssa_window_lists_init(SsaWindow *self)
{
    g_signal_connect(self->image_list, "row-selected", G_CALLBACK(on_image_row_selected), self);
    g_signal_connect(self->object_list, "row-selected", G_CALLBACK(on_object_row_selected), self);
    g_signal_connect(self->category_list, "row-selected", G_CALLBACK(on_category_row_selected), self);
}
