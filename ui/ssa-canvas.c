/* ssa-canvas.c — the image canvas widget.
 *
 * Drawing (snapshot): the image texture, the accepted objects' layer and the current mask
 * (both RGBA textures at the image size, rebuilt only when they change), then a cairo node in
 * widget coordinates for the prompt (box, +/- points) and the attention circles.
 *
 * Input: primary drag = box, primary click = positive point, shift+click or secondary
 * click = negative point, middle drag or space+drag = pan, wheel / pinch = zoom at the
 * pointer. Gestures are reported through the "box-drag" and "point-click" signals in
 * original-image pixels; the window owns the prompt and feeds it back with
 * ssa_canvas_set_prompt(). */
#define G_LOG_DOMAIN "ssa-canvas"
#include "ssa-canvas.h"
#include <math.h>
#include <string.h>

#define CLICK_SLOP 4.0   /* widget px: a press that moves less than this is a click */
#define ZOOM_MIN 0.02
#define ZOOM_MAX 64.0

struct _SsaCanvas {
    GtkWidget parent_instance;

    /* owned references */
    GdkTexture *image;
    int image_w, image_h;   /* the image's size (the texture may be a downscaled copy) */
    GdkTexture *objects_layer; /* composited accepted objects, or NULL */
    GdkTexture *mask_layer;    /* current mask, or NULL */
    guint8 *mask;              /* copy of the current mask (to rebuild on opacity change) */
    SsaPrompt *prompt;
    ss_trace *trace;
    float trace_scale;

    /* view */
    double zoom, off_x, off_y; /* widget = off + image * zoom */
    gboolean fit;              /* re-fit on resize until the user zooms or pans */

    /* settings (properties) */
    double opacity;
    gboolean show_circles;
    int circles_k;
    GdkRGBA mask_color;

    /* interaction */
    double ptr_x, ptr_y;       /* last pointer position, widget px */
    gboolean space_down;
    int drag_kind;             /* DRAG_* */
    guint drag_button;
    double drag_x0, drag_y0;   /* widget px at press */
    double pan_off_x, pan_off_y;
    gboolean has_drag_box;
    float drag_box[4];         /* image px */
    double pinch_zoom0;
};

enum { DRAG_NONE, DRAG_PENDING, DRAG_BOX, DRAG_PAN };

enum { PROP_0, PROP_OVERLAY_OPACITY, PROP_SHOW_CIRCLES, PROP_CIRCLES_K, PROP_ZOOM, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIG_BOX_DRAG, SIG_POINT_CLICK, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(SsaCanvas, ssa_canvas, GTK_TYPE_WIDGET)

/* ---- view geometry ---------------------------------------------------------------------- */

static void
fit_view(SsaCanvas *self)
{
    int w = gtk_widget_get_width(GTK_WIDGET(self));
    int h = gtk_widget_get_height(GTK_WIDGET(self));
    if (!self->image || w <= 0 || h <= 0)
        return;
    int iw = self->image_w, ih = self->image_h;
    double z = MIN((double)w / iw, (double)h / ih);
    double ox = (w - iw * z) / 2.0, oy = (h - ih * z) / 2.0;
    gboolean changed = z != self->zoom || ox != self->off_x || oy != self->off_y;
    self->zoom = z;
    self->off_x = ox;
    self->off_y = oy;
    if (changed)
        g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ZOOM]);
}

void
ssa_canvas_widget_to_image(SsaCanvas *self, double wx, double wy, double *ix, double *iy)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    *ix = (wx - self->off_x) / self->zoom;
    *iy = (wy - self->off_y) / self->zoom;
}

void
ssa_canvas_image_to_widget(SsaCanvas *self, double ix, double iy, double *wx, double *wy)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    *wx = self->off_x + ix * self->zoom;
    *wy = self->off_y + iy * self->zoom;
}

static void
zoom_at(SsaCanvas *self, double factor, double wx, double wy)
{
    if (!self->image)
        return;
    double z = CLAMP(self->zoom * factor, ZOOM_MIN, ZOOM_MAX);
    double ix, iy;
    ssa_canvas_widget_to_image(self, wx, wy, &ix, &iy);
    self->zoom = z;
    self->off_x = wx - ix * z;
    self->off_y = wy - iy * z;
    self->fit = FALSE;
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ZOOM]);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

void
ssa_canvas_zoom_in(SsaCanvas *self)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    zoom_at(self, 1.25, gtk_widget_get_width(GTK_WIDGET(self)) / 2.0,
            gtk_widget_get_height(GTK_WIDGET(self)) / 2.0);
}

void
ssa_canvas_zoom_out(SsaCanvas *self)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    zoom_at(self, 1 / 1.25, gtk_widget_get_width(GTK_WIDGET(self)) / 2.0,
            gtk_widget_get_height(GTK_WIDGET(self)) / 2.0);
}

void
ssa_canvas_zoom_fit(SsaCanvas *self)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    self->fit = TRUE;
    fit_view(self);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

double
ssa_canvas_get_zoom(SsaCanvas *self)
{
    g_return_val_if_fail(SSA_IS_CANVAS(self), 1.0);
    return self->zoom;
}

int
ssa_canvas_get_image_width(SsaCanvas *self)
{
    return self->image ? self->image_w : 0;
}

int
ssa_canvas_get_image_height(SsaCanvas *self)
{
    return self->image ? self->image_h : 0;
}

/* ---- layers ----------------------------------------------------------------------------- */

static inline gboolean
is_edge(const guint8 *m, int w, int h, int x, int y)
{
    return x == 0 || y == 0 || x == w - 1 || y == h - 1 || !m[(gsize)y * w + x - 1] ||
           !m[(gsize)y * w + x + 1] || !m[(gsize)(y - 1) * w + x] || !m[(gsize)(y + 1) * w + x];
}

/* Paints one mask into a premultiplied RGBA buffer: fill at `fill_alpha`, outline opaque. */
static void
paint_mask(guint8 *rgba, const guint8 *m, int w, int h, const GdkRGBA *c, double fill_alpha,
           gboolean thick)
{
    for (int y = 0; y < h; y++) {
        const guint8 *row = m + (gsize)y * w;
        guint8 *out = rgba + (gsize)y * w * 4;
        for (int x = 0; x < w; x++) {
            if (!row[x])
                continue;
            gboolean edge = is_edge(m, w, h, x, y);
            if (!edge && thick && x > 1 && y > 1 && x < w - 2 && y < h - 2)
                edge = !row[x - 2] || !row[x + 2] || !m[(gsize)(y - 2) * w + x] ||
                       !m[(gsize)(y + 2) * w + x];
            double a = edge ? 1.0 : fill_alpha;
            double r = edge ? MIN(1.0, c->red * 0.6 + 0.4 * thick) : c->red;
            double g = edge ? MIN(1.0, c->green * 0.6 + 0.4 * thick) : c->green;
            double b = edge ? MIN(1.0, c->blue * 0.6 + 0.4 * thick) : c->blue;
            out[4 * x + 0] = (guint8)lround(r * a * 255);
            out[4 * x + 1] = (guint8)lround(g * a * 255);
            out[4 * x + 2] = (guint8)lround(b * a * 255);
            out[4 * x + 3] = (guint8)lround(a * 255);
        }
    }
}

/* Overlay layers are at most LAYER_MAX_SIDE on the long side (a 4000×3000 image would
 * otherwise cost 48 MB per RGBA layer and a slow rebuild per prediction). */
#define LAYER_MAX_SIDE 2048

static void
layer_size(int w, int h, int *lw, int *lh)
{
    double s = MIN(1.0, (double)LAYER_MAX_SIDE / MAX(w, h));
    *lw = MAX(1, (int)lround(w * s));
    *lh = MAX(1, (int)lround(h * s));
}

/* Nearest-neighbour resample of a (h, w) mask to (lh, lw); returns `m` itself when equal. */
static const guint8 *
layer_mask(const guint8 *m, int w, int h, int lw, int lh, guint8 **owned)
{
    *owned = NULL;
    if (lw == w && lh == h)
        return m;
    guint8 *out = g_malloc((gsize)lw * lh);
    for (int y = 0; y < lh; y++) {
        const guint8 *row = m + (gsize)MIN(h - 1, (int)((y + 0.5) * h / lh)) * w;
        for (int x = 0; x < lw; x++)
            out[(gsize)y * lw + x] = row[MIN(w - 1, (int)((x + 0.5) * w / lw))];
    }
    *owned = out;
    return out;
}

static GdkTexture *
texture_from_rgba(guint8 *rgba, int w, int h)
{
    g_autoptr(GBytes) bytes = g_bytes_new_take(rgba, (gsize)w * h * 4);
    return gdk_memory_texture_new(w, h, GDK_MEMORY_R8G8B8A8_PREMULTIPLIED, bytes, (gsize)w * 4);
}

static void
rebuild_mask_layer(SsaCanvas *self)
{
    g_clear_object(&self->mask_layer);
    if (!self->mask || !self->image)
        return;
    int w = self->image_w, h = self->image_h, lw, lh;
    layer_size(w, h, &lw, &lh);
    g_autofree guint8 *owned = NULL;
    const guint8 *m = layer_mask(self->mask, w, h, lw, lh, &owned);
    guint8 *rgba = g_malloc0((gsize)lw * lh * 4);
    paint_mask(rgba, m, lw, lh, &self->mask_color, self->opacity, FALSE);
    self->mask_layer = texture_from_rgba(rgba, lw, lh);
}

void
ssa_canvas_set_mask(SsaCanvas *self, const guint8 *mask, int width, int height)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    g_clear_pointer(&self->mask, g_free);
    if (mask && self->image && width == self->image_w &&
        height == self->image_h)
        self->mask = g_memdup2(mask, (gsize)width * height);
    rebuild_mask_layer(self);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

void
ssa_canvas_set_objects(SsaCanvas *self, const SsaCanvasObject *objects, guint n_objects)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    g_clear_object(&self->objects_layer);
    if (self->image && n_objects > 0) {
        int w = self->image_w, h = self->image_h, lw, lh;
        layer_size(w, h, &lw, &lh);
        guint8 *rgba = g_malloc0((gsize)lw * lh * 4);
        for (guint i = 0; i < n_objects; i++) {
            g_autofree guint8 *owned = NULL;
            const guint8 *m = layer_mask(objects[i].mask, w, h, lw, lh, &owned);
            paint_mask(rgba, m, lw, lh, &objects[i].color, self->opacity * 0.8, objects[i].selected);
        }
        self->objects_layer = texture_from_rgba(rgba, lw, lh);
    }
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

void
ssa_canvas_set_image(SsaCanvas *self, GdkTexture *image)
{
    ssa_canvas_set_image_sized(self, image, image ? gdk_texture_get_width(image) : 0,
                               image ? gdk_texture_get_height(image) : 0);
}

void
ssa_canvas_set_image_sized(SsaCanvas *self, GdkTexture *image, int width, int height)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    g_return_if_fail(!image || (width > 0 && height > 0));
    g_set_object(&self->image, image);
    self->image_w = image ? width : 0;
    self->image_h = image ? height : 0;
    g_clear_object(&self->objects_layer);
    g_clear_object(&self->mask_layer);
    g_clear_pointer(&self->mask, g_free);
    g_clear_pointer(&self->trace, g_free);
    g_clear_pointer(&self->prompt, ssa_prompt_free);
    self->has_drag_box = FALSE;
    self->drag_kind = DRAG_NONE;
    self->fit = TRUE;
    fit_view(self);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

void
ssa_canvas_set_prompt(SsaCanvas *self, const SsaPrompt *prompt)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    g_clear_pointer(&self->prompt, ssa_prompt_free);
    if (prompt)
        self->prompt = ssa_prompt_copy(prompt);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

void
ssa_canvas_set_trace(SsaCanvas *self, const ss_trace *trace, float scale)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    g_clear_pointer(&self->trace, g_free);
    if (trace) {
        self->trace = g_memdup2(trace, sizeof *trace);
        self->trace_scale = scale;
    }
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

void
ssa_canvas_set_mask_color(SsaCanvas *self, const GdkRGBA *color)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    self->mask_color = *color;
    rebuild_mask_layer(self);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

/* ---- drawing ---------------------------------------------------------------------------- */

typedef struct {
    float w;
    int i;
} WeightIdx;

static int
cmp_weight_desc(const void *a, const void *b)
{
    float wa = ((const WeightIdx *)a)->w, wb = ((const WeightIdx *)b)->w;
    return (wa < wb) - (wa > wb);
}

/* Top-K attention samples of block 1: circles at the sample position (p + Δp), radius ∝
 * √weight, and a faint line from the regular grid point p to the sample. */
static void
draw_circles(SsaCanvas *self, cairo_t *cr)
{
    const ss_trace *t = self->trace;
    int n = SS_EMB_SIDE * SS_EMB_SIDE;
    int k = CLAMP(self->circles_k, 1, n);
    WeightIdx *order = g_new(WeightIdx, n);
    for (int i = 0; i < n; i++)
        order[i] = (WeightIdx){ t->weight[i], i };
    qsort(order, n, sizeof *order, cmp_weight_desc);
    float wmax = order[0].w > 0 ? order[0].w : 1;
    double cell = 16.0 / self->trace_scale * self->zoom; /* one grid cell in widget px */
    double rmax = CLAMP(cell * 1.6, 6.0, 40.0);

    cairo_set_line_width(cr, 1.0);
    for (int j = 0; j < k; j++) {
        int i = order[j].i;
        double gx = i % SS_EMB_SIDE, gy = i / SS_EMB_SIDE;
        double px, py, sx, sy;
        ssa_canvas_image_to_widget(self, (gx + 0.5) * 16.0 / self->trace_scale,
                                   (gy + 0.5) * 16.0 / self->trace_scale, &px, &py);
        ssa_canvas_image_to_widget(self, (t->pos[i][0] + 0.5) * 16.0 / self->trace_scale,
                                   (t->pos[i][1] + 0.5) * 16.0 / self->trace_scale, &sx, &sy);
        if (fabs(sx - px) + fabs(sy - py) > 0.5) {
            cairo_set_source_rgba(cr, 1, 1, 1, 0.45);
            cairo_move_to(cr, px, py);
            cairo_line_to(cr, sx, sy);
            cairo_stroke(cr);
        }
        double r = MAX(1.5, rmax * sqrt(order[j].w / wmax));
        cairo_arc(cr, sx, sy, r, 0, 2 * G_PI);
        cairo_set_source_rgba(cr, 1.0, 0.55, 0.0, 0.35);
        cairo_fill_preserve(cr);
        cairo_set_source_rgba(cr, 1.0, 0.85, 0.2, 0.95);
        cairo_stroke(cr);
    }
    g_free(order);
}

static void
draw_box(SsaCanvas *self, cairo_t *cr, const float *b)
{
    double x0, y0, x1, y1;
    ssa_canvas_image_to_widget(self, b[0], b[1], &x0, &y0);
    ssa_canvas_image_to_widget(self, b[2], b[3], &x1, &y1);
    cairo_rectangle(cr, MIN(x0, x1) + 0.5, MIN(y0, y1) + 0.5, fabs(x1 - x0), fabs(y1 - y0));
    cairo_set_line_width(cr, 3.0);
    cairo_set_source_rgba(cr, 0, 0, 0, 0.6);
    cairo_stroke_preserve(cr);
    cairo_set_line_width(cr, 1.5);
    cairo_set_source_rgba(cr, 0.3, 1.0, 0.3, 1.0);
    cairo_stroke(cr);
}

static void
draw_prompt(SsaCanvas *self, cairo_t *cr)
{
    if (self->drag_kind == DRAG_BOX && self->has_drag_box)
        draw_box(self, cr, self->drag_box);
    else if (self->prompt && self->prompt->has_box)
        draw_box(self, cr, self->prompt->box);
    if (!self->prompt)
        return;
    for (guint i = 0; i < self->prompt->n_points; i++) {
        const ss_point *p = &self->prompt->points[i];
        double x, y;
        ssa_canvas_image_to_widget(self, p->x, p->y, &x, &y);
        cairo_arc(cr, x, y, 6.0, 0, 2 * G_PI);
        if (p->label)
            cairo_set_source_rgb(cr, 0.2, 0.85, 0.2);
        else
            cairo_set_source_rgb(cr, 0.95, 0.2, 0.2);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 2.0);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_move_to(cr, x - 3, y);
        cairo_line_to(cr, x + 3, y);
        if (p->label) {
            cairo_move_to(cr, x, y - 3);
            cairo_line_to(cr, x, y + 3);
        }
        cairo_stroke(cr);
    }
}

static void
ssa_canvas_snapshot(GtkWidget *widget, GtkSnapshot *snapshot)
{
    SsaCanvas *self = SSA_CANVAS(widget);
    int w = gtk_widget_get_width(widget), h = gtk_widget_get_height(widget);
    if (!self->image)
        return;
    if (self->fit)
        fit_view(self);
    int iw = self->image_w, ih = self->image_h;
    graphene_rect_t r = GRAPHENE_RECT_INIT(self->off_x, self->off_y, iw * self->zoom, ih * self->zoom);

    gtk_snapshot_push_clip(snapshot, &GRAPHENE_RECT_INIT(0, 0, w, h));
    gtk_snapshot_append_texture(snapshot, self->image, &r);
    if (self->objects_layer)
        gtk_snapshot_append_texture(snapshot, self->objects_layer, &r);
    if (self->mask_layer)
        gtk_snapshot_append_texture(snapshot, self->mask_layer, &r);

    cairo_t *cr = gtk_snapshot_append_cairo(snapshot, &GRAPHENE_RECT_INIT(0, 0, w, h));
    if (self->trace && self->show_circles)
        draw_circles(self, cr);
    draw_prompt(self, cr);
    cairo_destroy(cr);
    gtk_snapshot_pop(snapshot);
}

static void
ssa_canvas_size_allocate(GtkWidget *widget, int width, int height, int baseline)
{
    SsaCanvas *self = SSA_CANVAS(widget);
    if (self->fit)
        fit_view(self);
}

/* ---- input ------------------------------------------------------------------------------ */

static void
clamp_to_image(SsaCanvas *self, double *x, double *y)
{
    *x = CLAMP(*x, 0, self->image_w - 1);
    *y = CLAMP(*y, 0, self->image_h - 1);
}

static void
on_drag_begin(GtkGestureDrag *gesture, double x, double y, SsaCanvas *self)
{
    guint button = gtk_gesture_single_get_current_button(GTK_GESTURE_SINGLE(gesture));
    gtk_widget_grab_focus(GTK_WIDGET(self));
    self->drag_button = button;
    self->drag_x0 = x;
    self->drag_y0 = y;
    if (!self->image) {
        self->drag_kind = DRAG_NONE;
        return;
    }
    if (button == GDK_BUTTON_MIDDLE || (button == GDK_BUTTON_PRIMARY && self->space_down)) {
        self->drag_kind = DRAG_PAN;
        self->pan_off_x = self->off_x;
        self->pan_off_y = self->off_y;
        gtk_widget_set_cursor_from_name(GTK_WIDGET(self), "grabbing");
    } else {
        self->drag_kind = DRAG_PENDING;
    }
    gtk_gesture_set_state(GTK_GESTURE(gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

static void
update_drag_box(SsaCanvas *self, double dx, double dy)
{
    double x0, y0, x1, y1;
    ssa_canvas_widget_to_image(self, self->drag_x0, self->drag_y0, &x0, &y0);
    ssa_canvas_widget_to_image(self, self->drag_x0 + dx, self->drag_y0 + dy, &x1, &y1);
    clamp_to_image(self, &x0, &y0);
    clamp_to_image(self, &x1, &y1);
    self->drag_box[0] = (float)MIN(x0, x1);
    self->drag_box[1] = (float)MIN(y0, y1);
    self->drag_box[2] = (float)MAX(x0, x1);
    self->drag_box[3] = (float)MAX(y0, y1);
    self->has_drag_box = TRUE;
}

static void
on_drag_update(GtkGestureDrag *gesture, double dx, double dy, SsaCanvas *self)
{
    switch (self->drag_kind) {
    case DRAG_PAN:
        self->off_x = self->pan_off_x + dx;
        self->off_y = self->pan_off_y + dy;
        self->fit = FALSE;
        g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ZOOM]);
        gtk_widget_queue_draw(GTK_WIDGET(self));
        break;
    case DRAG_PENDING:
        if (self->drag_button != GDK_BUTTON_PRIMARY || hypot(dx, dy) < CLICK_SLOP)
            break;
        self->drag_kind = DRAG_BOX;
        G_GNUC_FALLTHROUGH;
    case DRAG_BOX:
        update_drag_box(self, dx, dy);
        if (self->drag_box[2] - self->drag_box[0] >= 1 && self->drag_box[3] - self->drag_box[1] >= 1)
            g_signal_emit(self, signals[SIG_BOX_DRAG], 0, (double)self->drag_box[0],
                          (double)self->drag_box[1], (double)self->drag_box[2],
                          (double)self->drag_box[3], FALSE);
        gtk_widget_queue_draw(GTK_WIDGET(self));
        break;
    default:
        break;
    }
}

static void
on_drag_end(GtkGestureDrag *gesture, double dx, double dy, SsaCanvas *self)
{
    int kind = self->drag_kind;
    self->drag_kind = DRAG_NONE;
    gtk_widget_set_cursor_from_name(GTK_WIDGET(self), self->space_down ? "grab" : "crosshair");
    if (kind == DRAG_BOX) {
        update_drag_box(self, dx, dy);
        self->has_drag_box = FALSE;
        if (self->drag_box[2] - self->drag_box[0] >= 1 && self->drag_box[3] - self->drag_box[1] >= 1)
            g_signal_emit(self, signals[SIG_BOX_DRAG], 0, (double)self->drag_box[0],
                          (double)self->drag_box[1], (double)self->drag_box[2],
                          (double)self->drag_box[3], TRUE);
        gtk_widget_queue_draw(GTK_WIDGET(self));
    } else if (kind == DRAG_PENDING) {
        double ix, iy;
        ssa_canvas_widget_to_image(self, self->drag_x0, self->drag_y0, &ix, &iy);
        if (ix < 0 || iy < 0 || ix >= self->image_w ||
            iy >= self->image_h)
            return;
        GdkModifierType mods = gtk_event_controller_get_current_event_state(GTK_EVENT_CONTROLLER(gesture));
        int label = (self->drag_button == GDK_BUTTON_SECONDARY || (mods & GDK_SHIFT_MASK)) ? 0 : 1;
        g_signal_emit(self, signals[SIG_POINT_CLICK], 0, ix, iy, label);
    }
}

static gboolean
on_scroll(GtkEventControllerScroll *ctl, double dx, double dy, SsaCanvas *self)
{
    if (dy == 0)
        return FALSE;
    zoom_at(self, pow(1.15, -dy), self->ptr_x, self->ptr_y);
    return TRUE;
}

static void
on_motion(GtkEventControllerMotion *ctl, double x, double y, SsaCanvas *self)
{
    self->ptr_x = x;
    self->ptr_y = y;
}

static void
on_pinch_begin(GtkGesture *gesture, GdkEventSequence *seq, SsaCanvas *self)
{
    self->pinch_zoom0 = self->zoom;
}

static void
on_pinch_scale(GtkGestureZoom *gesture, double scale, SsaCanvas *self)
{
    double cx, cy;
    if (!gtk_gesture_get_bounding_box_center(GTK_GESTURE(gesture), &cx, &cy))
        return;
    zoom_at(self, self->pinch_zoom0 * scale / self->zoom, cx, cy);
}

static gboolean
on_key_pressed(GtkEventControllerKey *ctl, guint keyval, guint keycode, GdkModifierType state,
               SsaCanvas *self)
{
    if (keyval == GDK_KEY_space) {
        self->space_down = TRUE;
        if (self->drag_kind == DRAG_NONE)
            gtk_widget_set_cursor_from_name(GTK_WIDGET(self), "grab");
        return TRUE;
    }
    return FALSE;
}

static void
on_key_released(GtkEventControllerKey *ctl, guint keyval, guint keycode, GdkModifierType state,
                SsaCanvas *self)
{
    if (keyval == GDK_KEY_space) {
        self->space_down = FALSE;
        if (self->drag_kind == DRAG_NONE)
            gtk_widget_set_cursor_from_name(GTK_WIDGET(self), "crosshair");
    }
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
ssa_canvas_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
    SsaCanvas *self = SSA_CANVAS(object);
    switch (id) {
    case PROP_OVERLAY_OPACITY: g_value_set_double(value, self->opacity); break;
    case PROP_SHOW_CIRCLES: g_value_set_boolean(value, self->show_circles); break;
    case PROP_CIRCLES_K: g_value_set_int(value, self->circles_k); break;
    case PROP_ZOOM: g_value_set_double(value, self->zoom); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void
ssa_canvas_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
    SsaCanvas *self = SSA_CANVAS(object);
    switch (id) {
    case PROP_OVERLAY_OPACITY:
        self->opacity = g_value_get_double(value);
        rebuild_mask_layer(self);
        break;
    case PROP_SHOW_CIRCLES: self->show_circles = g_value_get_boolean(value); break;
    case PROP_CIRCLES_K: self->circles_k = g_value_get_int(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); return;
    }
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

static void
ssa_canvas_finalize(GObject *object)
{
    SsaCanvas *self = SSA_CANVAS(object);
    g_clear_object(&self->image);
    g_clear_object(&self->objects_layer);
    g_clear_object(&self->mask_layer);
    g_clear_pointer(&self->mask, g_free);
    g_clear_pointer(&self->prompt, ssa_prompt_free);
    g_clear_pointer(&self->trace, g_free);
    G_OBJECT_CLASS(ssa_canvas_parent_class)->finalize(object);
}

static void
ssa_canvas_class_init(SsaCanvasClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->finalize = ssa_canvas_finalize;
    object_class->get_property = ssa_canvas_get_property;
    object_class->set_property = ssa_canvas_set_property;
    widget_class->snapshot = ssa_canvas_snapshot;
    widget_class->size_allocate = ssa_canvas_size_allocate;

    props[PROP_OVERLAY_OPACITY] = g_param_spec_double("overlay-opacity", NULL, NULL, 0, 1, 0.45,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    props[PROP_SHOW_CIRCLES] = g_param_spec_boolean("show-circles", NULL, NULL, FALSE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_CIRCLES_K] = g_param_spec_int("circles-k", NULL, NULL, 1, SS_EMB_SIDE * SS_EMB_SIDE,
        64, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    /* notified whenever the view (zoom or offset) changes */
    props[PROP_ZOOM] = g_param_spec_double("zoom", NULL, NULL, 0, G_MAXDOUBLE, 1,
        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    g_object_class_install_properties(object_class, N_PROPS, props);

    /* box-drag (x0, y0, x1, y1, finished): emitted while a box is dragged and at release. */
    signals[SIG_BOX_DRAG] = g_signal_new("box-drag", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
        0, NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_DOUBLE, G_TYPE_DOUBLE, G_TYPE_DOUBLE,
        G_TYPE_DOUBLE, G_TYPE_BOOLEAN);
    /* point-click (x, y, label): label 1 = positive, 0 = negative. */
    signals[SIG_POINT_CLICK] = g_signal_new("point-click", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_DOUBLE, G_TYPE_DOUBLE,
        G_TYPE_INT);

    gtk_widget_class_set_css_name(widget_class, "ssa-canvas");
}

static void
ssa_canvas_init(SsaCanvas *self)
{
    self->zoom = 1.0;
    self->fit = TRUE;
    self->opacity = 0.45;
    self->circles_k = 64;
    self->mask_color = (GdkRGBA){ 0.12, 0.56, 1.0, 1.0 };
    gtk_widget_set_focusable(GTK_WIDGET(self), TRUE);
    gtk_widget_set_can_focus(GTK_WIDGET(self), TRUE);
    gtk_widget_set_hexpand(GTK_WIDGET(self), TRUE);
    gtk_widget_set_vexpand(GTK_WIDGET(self), TRUE);
    gtk_widget_set_overflow(GTK_WIDGET(self), GTK_OVERFLOW_HIDDEN);
    gtk_widget_set_cursor_from_name(GTK_WIDGET(self), "crosshair");

    GtkGesture *drag = gtk_gesture_drag_new();
    gtk_gesture_single_set_button(GTK_GESTURE_SINGLE(drag), 0);
    g_signal_connect(drag, "drag-begin", G_CALLBACK(on_drag_begin), self);
    g_signal_connect(drag, "drag-update", G_CALLBACK(on_drag_update), self);
    g_signal_connect(drag, "drag-end", G_CALLBACK(on_drag_end), self);
    gtk_widget_add_controller(GTK_WIDGET(self), GTK_EVENT_CONTROLLER(drag));

    GtkEventController *scroll = gtk_event_controller_scroll_new(GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
    g_signal_connect(scroll, "scroll", G_CALLBACK(on_scroll), self);
    gtk_widget_add_controller(GTK_WIDGET(self), scroll);

    GtkEventController *motion = gtk_event_controller_motion_new();
    g_signal_connect(motion, "motion", G_CALLBACK(on_motion), self);
    gtk_widget_add_controller(GTK_WIDGET(self), motion);

    GtkGesture *pinch = gtk_gesture_zoom_new();
    g_signal_connect(pinch, "begin", G_CALLBACK(on_pinch_begin), self);
    g_signal_connect(pinch, "scale-changed", G_CALLBACK(on_pinch_scale), self);
    gtk_widget_add_controller(GTK_WIDGET(self), GTK_EVENT_CONTROLLER(pinch));

    GtkEventController *keys = gtk_event_controller_key_new();
    g_signal_connect(keys, "key-pressed", G_CALLBACK(on_key_pressed), self);
    g_signal_connect(keys, "key-released", G_CALLBACK(on_key_released), self);
    gtk_widget_add_controller(GTK_WIDGET(self), keys);
}

GtkWidget *
ssa_canvas_new(void)
{
    return g_object_new(SSA_TYPE_CANVAS, NULL);
}
