/* ssa-canvas.c — the image canvas widget.
 *
 * Drawing (snapshot), made for GTK 4.8's cairo renderer, which converts every texture it draws
 * into a new cairo surface on each frame: only the visible part of each raster is appended
 * (a sub-texture sharing the pixels), from the halved copy of the image that matches the
 * zoom (ssa_canvas_prepare_texture; GDK_MEMORY_DEFAULT, so the conversion is a memcpy); then
 * the accepted objects' layer (image space, cropped to the objects' bounding box, rebuilt when
 * they change); then the current mask, built at screen resolution over the visible part of its
 * bounding box (rebuilt when the mask or the view changes); then a cairo node over the prompt
 * (box, +/- points) or, with the attention circles, over the widget.
 *
 * Input: primary drag = box, primary click = positive point, shift+click or secondary
 * click = negative point, middle drag or space+drag = pan, wheel / pinch = zoom at the
 * pointer. Gestures are reported through the "box-drag" and "point-click" signals in
 * original-image pixels; the window owns the prompt and feeds it back with
 * ssa_canvas_set_prompt(). */
#define G_LOG_DOMAIN "ssa-canvas"
#include "ssa-canvas.h"
#include "ssa-object.h"
#include <math.h>
#include <string.h>

#define CLICK_SLOP 4.0   /* widget px: a press that moves less than this is a click */
#define ZOOM_MIN 0.02
#define ZOOM_MAX 64.0

/* A raster over the image: raster px = (image px - (x, y)) * scale. */
typedef struct {
    GBytes *bytes;
    GdkMemoryFormat format;
    int bpp, width, height;
    gsize stride;
    double x, y, scale;
} Raster;

/* ssa_canvas_prepare_texture(): the texture's pixels (level 0, scale 1 = the texture's size)
 * and halved copies; immutable, shared by the canvases that show the texture. */
#define LEVELS_MAX 12
#define LEVEL_MIN_SIDE 256
typedef struct {
    gatomicrefcount ref;
    int n;
    Raster level[LEVELS_MAX];
} Levels;

/* The sub-texture append_raster made last time: reused while the view stays the same, so
 * that GSK sees an unchanged node and repaints only what did change (the mask, the prompt). */
typedef struct {
    GdkTexture *texture;   /* or NULL */
    GBytes *source;        /* the raster it shows (kept alive by the texture) */
    int part[4];
    graphene_rect_t rect;
} RasterView;

struct _SsaCanvas {
    GtkWidget parent_instance;

    /* owned references */
    GdkTexture *image;
    int image_w, image_h;   /* the image's size (the texture may be a downscaled copy) */
    Levels *levels;         /* display copies of `image`, or NULL (drawn whole) */
    Raster objects_layer;   /* composited accepted objects (bytes NULL = none) */
    RasterView image_view, objects_view; /* their visible parts, as last drawn */
    GBytes *mask;           /* the current mask (height, width) 0/1, or NULL */
    int mask_box[4];        /* its bounding box x0, y0, x1, y1 (x1, y1 exclusive) */
    GdkTexture *mask_view;  /* the mask at screen resolution, or NULL (to rebuild) */
    graphene_rect_t mask_view_rect; /* where, in widget px */
    double mask_view_key[6];        /* the view it was built for: zoom, offsets, size, scale */
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

/* ---- rasters and display levels --------------------------------------------------------- */

/* A GDK_MEMORY_DEFAULT raster over out (w × h pixels, taken over) at image offset (x, y). */
static Raster
raster_rgba(guint32 *out, int w, int h, double x, double y, double scale)
{
    return (Raster){
        .bytes = g_bytes_new_take(out, (gsize)w * h * 4),
        .format = GDK_MEMORY_DEFAULT,
        .bpp = 4,
        .width = w,
        .height = h,
        .stride = (gsize)w * 4,
        .x = x,
        .y = y,
        .scale = scale,
    };
}

static void
raster_clear(Raster *r)
{
    g_clear_pointer(&r->bytes, g_bytes_unref);
}

static inline guint32
pack_argb(double r, double g, double b, double a)
{
    /* premultiplied, native-endian 0xAARRGGBB = GDK_MEMORY_DEFAULT = CAIRO_FORMAT_ARGB32 */
    return (guint32)lround(a * 255) << 24 | (guint32)lround(r * a * 255) << 16 |
           (guint32)lround(g * a * 255) << 8 | (guint32)lround(b * a * 255);
}

static Levels *
levels_ref(Levels *l)
{
    g_atomic_ref_count_inc(&l->ref);
    return l;
}

static void
levels_unref(Levels *l)
{
    if (l && g_atomic_ref_count_dec(&l->ref)) {
        for (int i = 0; i < l->n; i++)
            raster_clear(&l->level[i]);
        g_free(l);
    }
}

/* 2×2 box filter of `src` (RGB in the first three bytes of each pixel, or GDK_MEMORY_DEFAULT)
 * into a GDK_MEMORY_DEFAULT raster of half the size (odd last rows / columns are dropped). */
static void
halve(const Raster *src, Raster *dst)
{
    int w = MAX(1, src->width / 2), h = MAX(1, src->height / 2);
    guint32 *out = g_malloc((gsize)w * h * 4);
    const guint8 *px = g_bytes_get_data(src->bytes, NULL);
    gboolean argb = src->format == GDK_MEMORY_DEFAULT;
    int bpp = src->bpp;
    int sx = src->width > 1 ? 1 : 0, sy = src->height > 1 ? 1 : 0;
    for (int y = 0; y < h; y++) {
        const guint8 *r0 = px + (gsize)(2 * y) * src->stride;
        const guint8 *r1 = px + (gsize)(2 * y + sy) * src->stride;
        guint32 *o = out + (gsize)y * w;
        for (int x = 0; x < w; x++) {
            const guint8 *p[4] = { r0 + (gsize)2 * x * bpp, r0 + (gsize)(2 * x + sx) * bpp,
                                   r1 + (gsize)2 * x * bpp, r1 + (gsize)(2 * x + sx) * bpp };
            guint c[3] = { 0, 0, 0 };
            for (int k = 0; k < 4; k++) {
                if (argb) {
                    guint32 v = *(const guint32 *)p[k];
                    c[0] += v >> 16 & 0xff;
                    c[1] += v >> 8 & 0xff;
                    c[2] += v & 0xff;
                } else {
                    c[0] += p[k][0];
                    c[1] += p[k][1];
                    c[2] += p[k][2];
                }
            }
            o[x] = 0xff000000u | (c[0] + 2) / 4 << 16 | (c[1] + 2) / 4 << 8 | (c[2] + 2) / 4;
        }
    }
    *dst = raster_rgba(out, w, h, 0.0, 0.0, src->scale * w / src->width);
}

void
ssa_canvas_prepare_texture(GdkTexture *texture, GBytes *pixels, GdkMemoryFormat format, gsize stride)
{
    g_return_if_fail(GDK_IS_TEXTURE(texture) && pixels != NULL);
    g_return_if_fail(format == GDK_MEMORY_R8G8B8 || format == GDK_MEMORY_DEFAULT);
    Levels *l = g_new0(Levels, 1);
    g_atomic_ref_count_init(&l->ref);
    l->level[0] = (Raster){
        .bytes = g_bytes_ref(pixels),
        .format = format,
        .bpp = format == GDK_MEMORY_R8G8B8 ? 3 : 4,
        .width = gdk_texture_get_width(texture),
        .height = gdk_texture_get_height(texture),
        .stride = stride,
        .scale = 1.0,
    };
    g_return_if_fail(g_bytes_get_size(pixels) >= stride * (l->level[0].height - 1) +
                                                 (gsize)l->level[0].width * l->level[0].bpp);
    l->n = 1;
    while (l->n < LEVELS_MAX && MAX(l->level[l->n - 1].width, l->level[l->n - 1].height) / 2 >= LEVEL_MIN_SIDE) {
        halve(&l->level[l->n - 1], &l->level[l->n]);
        l->n++;
    }
    g_object_set_data_full(G_OBJECT(texture), "ssa-canvas-levels", l, (GDestroyNotify)levels_unref);
}

static void
raster_view_clear(RasterView *v)
{
    g_clear_object(&v->texture);
    v->source = NULL;
}

/* Appends the part of `r` that is visible in the (w, h) widget (one raster px of margin for
 * the filter) as a sub-texture sharing r's pixels: the renderer converts only that part. */
static void
append_raster(SsaCanvas *self, GtkSnapshot *snapshot, const Raster *r, int w, int h, RasterView *v)
{
    double z = self->zoom / r->scale; /* widget px per raster px */
    double ox = self->off_x + r->x * self->zoom, oy = self->off_y + r->y * self->zoom;
    int x0 = MAX(0, (int)floor(-ox / z) - 1), y0 = MAX(0, (int)floor(-oy / z) - 1);
    int x1 = MIN(r->width, (int)ceil((w - ox) / z) + 1), y1 = MIN(r->height, (int)ceil((h - oy) / z) + 1);
    if (x1 <= x0 || y1 <= y0)
        return;
    int part[4] = { x0, y0, x1, y1 };
    graphene_rect_t rect = GRAPHENE_RECT_INIT(ox + x0 * z, oy + y0 * z, (x1 - x0) * z, (y1 - y0) * z);
    if (!v->texture || v->source != r->bytes || memcmp(part, v->part, sizeof part) != 0 ||
        !graphene_rect_equal(&rect, &v->rect)) {
        gsize start = (gsize)y0 * r->stride + (gsize)x0 * r->bpp;
        gsize len = (gsize)(y1 - y0 - 1) * r->stride + (gsize)(x1 - x0) * r->bpp;
        g_autoptr(GBytes) sub = g_bytes_new_from_bytes(r->bytes, start, len);
        g_clear_object(&v->texture);
        v->texture = gdk_memory_texture_new(x1 - x0, y1 - y0, r->format, sub, r->stride);
        v->source = r->bytes;
        memcpy(v->part, part, sizeof part);
        v->rect = rect;
    }
    gtk_snapshot_append_texture(snapshot, v->texture, &v->rect);
}

/* The image: the coarsest level that still has a pixel per device pixel, else level 0. */
static void
append_image(SsaCanvas *self, GtkSnapshot *snapshot, int w, int h)
{
    if (!self->levels) {
        graphene_rect_t r = GRAPHENE_RECT_INIT(self->off_x, self->off_y, self->image_w * self->zoom,
                                               self->image_h * self->zoom);
        gtk_snapshot_append_texture(snapshot, self->image, &r);
        return;
    }
    double need = self->zoom * gtk_widget_get_scale_factor(GTK_WIDGET(self));
    double tex_scale = (double)self->levels->level[0].width / self->image_w;
    int k = 0;
    while (k + 1 < self->levels->n && self->levels->level[k + 1].scale * tex_scale >= need)
        k++;
    Raster r = self->levels->level[k];
    r.scale *= tex_scale;
    append_raster(self, snapshot, &r, w, h, &self->image_view);
}

/* ---- layers ----------------------------------------------------------------------------- */

static inline gboolean
is_edge(const guint8 *m, int w, int h, int x, int y)
{
    return x == 0 || y == 0 || x == w - 1 || y == h - 1 || !m[(gsize)y * w + x - 1] ||
           !m[(gsize)y * w + x + 1] || !m[(gsize)(y - 1) * w + x] || !m[(gsize)(y + 1) * w + x];
}

/* The colours of one mask: fill at `fill_alpha`, outline opaque (brighter when thick). */
static void
mask_colors(const GdkRGBA *c, double fill_alpha, gboolean thick, guint32 *fill, guint32 *edge)
{
    *fill = pack_argb(c->red, c->green, c->blue, fill_alpha);
    *edge = pack_argb(MIN(1.0, c->red * 0.6 + 0.4 * thick), MIN(1.0, c->green * 0.6 + 0.4 * thick),
                      MIN(1.0, c->blue * 0.6 + 0.4 * thick), 1.0);
}

/* Paints a (h, w) mask into a (h, w) GDK_MEMORY_DEFAULT buffer: fill, 1 px outline (2 px thick). */
static void
paint_mask(guint32 *out, const guint8 *m, int w, int h, guint32 fill, guint32 edge_color,
           gboolean thick)
{
    for (int y = 0; y < h; y++) {
        const guint8 *row = m + (gsize)y * w;
        guint32 *o = out + (gsize)y * w;
        for (int x = 0; x < w; x++) {
            if (!row[x])
                continue;
            gboolean edge = is_edge(m, w, h, x, y);
            if (!edge && thick && x > 1 && y > 1 && x < w - 2 && y < h - 2)
                edge = !row[x - 2] || !row[x + 2] || !m[(gsize)(y - 2) * w + x] ||
                       !m[(gsize)(y + 2) * w + x];
            o[x] = edge ? edge_color : fill;
        }
    }
}

/* Index of the first nonzero byte of row[0..n), or n (8 bytes at a time: a 12 MP mask is
 * scanned on every prediction). */
static int
first_nonzero(const guint8 *row, int n)
{
    int i = 0;
    for (guint64 v; i + 8 <= n; i += 8) {
        memcpy(&v, row + i, 8);
        if (v)
            break;
    }
    while (i < n && !row[i])
        i++;
    return i;
}

/* Bounding box of the nonzero bytes of a (h, w) mask; FALSE when it is empty. */
static gboolean
mask_bbox(const guint8 *m, int w, int h, int box[4])
{
    int x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (int y = 0; y < h; y++) {
        const guint8 *row = m + (gsize)y * w;
        int a = first_nonzero(row, w), b = w;
        if (a == b)
            continue;
        for (guint64 v; b - 8 >= a; b -= 8) {
            memcpy(&v, row + b - 8, 8);
            if (v)
                break;
        }
        while (!row[b - 1])
            b--;
        x0 = MIN(x0, a);
        x1 = MAX(x1, b);
        y0 = MIN(y0, y);
        y1 = y + 1;
    }
    box[0] = x0;
    box[1] = y0;
    box[2] = x1;
    box[3] = y1;
    return x1 > x0;
}

/* The objects' layer is at most LAYER_MAX_SIDE on the long side of their bounding box (a
 * 4000×3000 image would otherwise cost 48 MB per RGBA layer and a slow rebuild). */
#define LAYER_MAX_SIDE 2048

/* Nearest-neighbour resample of the box (bx, by, bw, bh) of a (h, w) mask to (lh, lw). */
static guint8 *
layer_mask(const guint8 *m, int w, int bx, int by, int bw, int bh, int lw, int lh, const int *xs)
{
    guint8 *out = g_malloc((gsize)lw * lh);
    for (int y = 0; y < lh; y++) {
        const guint8 *row = m + (gsize)(by + MIN(bh - 1, (int)((y + 0.5) * bh / lh))) * w + bx;
        guint8 *o = out + (gsize)y * lw;
        for (int x = 0; x < lw; x++)
            o[x] = row[xs[x]];
    }
    return out;
}

/* The current mask at device resolution over the visible part of its bounding box. Outline:
 * the mask's own edge pixels when an image pixel covers a device pixel or more (zoomed in),
 * else the edges of the sampled mask (1 device px). */
static void
build_mask_view(SsaCanvas *self, int w, int h)
{
    g_clear_object(&self->mask_view);
    if (!self->mask)
        return;
    int sf = gtk_widget_get_scale_factor(GTK_WIDGET(self));
    double z = self->zoom * sf, ox = self->off_x * sf, oy = self->off_y * sf;
    const int *b = self->mask_box;
    int x0 = MAX(0, (int)floor(ox + b[0] * z)), y0 = MAX(0, (int)floor(oy + b[1] * z));
    int x1 = MIN(w * sf, (int)ceil(ox + b[2] * z)), y1 = MIN(h * sf, (int)ceil(oy + b[3] * z));
    if (x1 <= x0 || y1 <= y0)
        return;
    int vw = x1 - x0, vh = y1 - y0, iw = self->image_w, ih = self->image_h;
    const guint8 *m = g_bytes_get_data(self->mask, NULL);
    guint32 fill, edge;
    mask_colors(&self->mask_color, self->opacity, FALSE, &fill, &edge);
    gboolean image_edges = z >= 1.0;
    /* rows vy - 1 .. vy + 1 of the sampled mask (0 outside the image), one column of margin */
    g_autofree int *xs = g_new(int, vw + 2);
    for (int i = 0; i < vw + 2; i++) {
        int ix = (int)floor((x0 + i - 1 + 0.5 - ox) / z);
        xs[i] = ix >= 0 && ix < iw ? ix : -1;
    }
    g_autofree guint8 *rows = g_malloc((gsize)3 * (vw + 2));
    guint32 *out = g_malloc0((gsize)vw * vh * 4);
    int row_iy[3];
    for (int vy = -1; vy <= vh; vy++) {
        int iy = (int)floor((y0 + vy + 0.5 - oy) / z);
        guint8 *r = rows + (gsize)((vy + 3) % 3) * (vw + 2);
        row_iy[(vy + 3) % 3] = iy;
        if (iy < 0 || iy >= ih)
            memset(r, 0, vw + 2);
        else
            for (int i = 0; i < vw + 2; i++)
                r[i] = xs[i] >= 0 ? m[(gsize)iy * iw + xs[i]] : 0;
        int cy = vy - 1; /* the row whose neighbours are all sampled now */
        if (cy < 0)
            continue;
        const guint8 *up = rows + (gsize)((cy + 2) % 3) * (vw + 2);
        const guint8 *mid = rows + (gsize)((cy + 3) % 3) * (vw + 2);
        const guint8 *down = r;
        int my = row_iy[(cy + 3) % 3];
        guint32 *o = out + (gsize)cy * vw;
        for (int i = 1; i <= vw; i++) {
            if (!mid[i])
                continue;
            gboolean e = image_edges ? is_edge(m, iw, ih, xs[i], my)
                                     : !mid[i - 1] || !mid[i + 1] || !up[i] || !down[i];
            o[i - 1] = e ? edge : fill;
        }
    }
    g_autoptr(GBytes) bytes = g_bytes_new_take(out, (gsize)vw * vh * 4);
    self->mask_view = gdk_memory_texture_new(vw, vh, GDK_MEMORY_DEFAULT, bytes, (gsize)vw * 4);
    self->mask_view_rect = GRAPHENE_RECT_INIT((float)x0 / sf, (float)y0 / sf, (float)vw / sf, (float)vh / sf);
}

static void
invalidate_mask_view(SsaCanvas *self)
{
    g_clear_object(&self->mask_view);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

/* The mask at screen resolution for the current view (rebuilt when the view changed). */
static void
append_mask(SsaCanvas *self, GtkSnapshot *snapshot, int w, int h)
{
    double key[6] = { self->zoom, self->off_x, self->off_y, w, h,
                      gtk_widget_get_scale_factor(GTK_WIDGET(self)) };
    if (!self->mask_view || memcmp(key, self->mask_view_key, sizeof key) != 0) {
        build_mask_view(self, w, h);
        memcpy(self->mask_view_key, key, sizeof key);
    }
    if (self->mask_view)
        gtk_snapshot_append_texture(snapshot, self->mask_view, &self->mask_view_rect);
}

void
ssa_canvas_set_mask_bytes(SsaCanvas *self, GBytes *mask, int width, int height)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    g_clear_pointer(&self->mask, g_bytes_unref);
    if (mask && self->image && width == self->image_w && height == self->image_h &&
        g_bytes_get_size(mask) == (gsize)width * height &&
        mask_bbox(g_bytes_get_data(mask, NULL), width, height, self->mask_box))
        self->mask = g_bytes_ref(mask);
    invalidate_mask_view(self);
}

void
ssa_canvas_set_mask(SsaCanvas *self, const guint8 *mask, int width, int height)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    g_autoptr(GBytes) bytes = NULL;
    if (mask && width > 0 && height > 0)
        bytes = g_bytes_new(mask, (gsize)width * height);
    ssa_canvas_set_mask_bytes(self, bytes, width, height);
}

void
ssa_canvas_set_objects(SsaCanvas *self, const SsaCanvasObject *objects, guint n_objects)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    raster_clear(&self->objects_layer);
    raster_view_clear(&self->objects_view);
    int w = self->image_w, h = self->image_h;
    int box[4] = { w, h, 0, 0 }, b[4];
    g_autofree int *boxes = g_new(int, 4 * MAX(1, n_objects));
    for (guint i = 0; self->image && i < n_objects; i++) {
        gboolean some;
        if (objects[i].mask) {
            some = mask_bbox(objects[i].mask, w, h, b);
        } else {
            double bb[4]; /* x, y, width, height, from the RLE */
            int ow = 0, oh = 0;
            ssa_object_get_size(objects[i].object, &ow, &oh);
            ssa_object_get_bbox(objects[i].object, bb);
            b[0] = (int)bb[0], b[1] = (int)bb[1], b[2] = (int)(bb[0] + bb[2]), b[3] = (int)(bb[1] + bb[3]);
            some = ow == w && oh == h && b[2] > b[0] && b[3] > b[1];
        }
        if (!some) {
            boxes[4 * i + 2] = 0; /* empty */
            continue;
        }
        memcpy(boxes + 4 * i, b, sizeof b);
        box[0] = MIN(box[0], b[0]);
        box[1] = MIN(box[1], b[1]);
        box[2] = MAX(box[2], b[2]);
        box[3] = MAX(box[3], b[3]);
    }
    if (box[2] > box[0]) {
        int bw = box[2] - box[0], bh = box[3] - box[1];
        double s = MIN(1.0, (double)LAYER_MAX_SIDE / MAX(bw, bh));
        int lw = MAX(1, (int)lround(bw * s)), lh = MAX(1, (int)lround(bh * s));
        g_autofree int *xs = g_new(int, lw);
        for (int x = 0; x < lw; x++)
            xs[x] = MIN(bw - 1, (int)((x + 0.5) * bw / lw));
        guint32 *out = g_malloc0((gsize)lw * lh * 4);
        for (guint i = 0; i < n_objects; i++) {
            if (boxes[4 * i + 2] == 0)
                continue;
            guint32 fill, edge;
            mask_colors(&objects[i].color, self->opacity * 0.8, objects[i].selected, &fill, &edge);
            g_autofree guint8 *full = objects[i].mask ? NULL : ssa_object_decode_mask(objects[i].object, NULL, NULL);
            g_autofree guint8 *m = layer_mask(objects[i].mask ? objects[i].mask : full, w, box[0], box[1], bw, bh,
                                              lw, lh, xs);
            g_clear_pointer(&full, g_free);
            paint_mask(out, m, lw, lh, fill, edge, objects[i].selected);
        }
        self->objects_layer = raster_rgba(out, lw, lh, box[0], box[1], (double)lw / bw);
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
    g_clear_pointer(&self->levels, levels_unref);
    Levels *levels = image ? g_object_get_data(G_OBJECT(image), "ssa-canvas-levels") : NULL;
    if (levels)
        self->levels = levels_ref(levels);
    raster_clear(&self->objects_layer);
    raster_view_clear(&self->image_view);
    raster_view_clear(&self->objects_view);
    g_clear_pointer(&self->mask, g_bytes_unref);
    g_clear_object(&self->mask_view);
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
    if (!prompt && !self->prompt)
        return;
    g_clear_pointer(&self->prompt, ssa_prompt_free);
    if (prompt)
        self->prompt = ssa_prompt_copy(prompt);
    gtk_widget_queue_draw(GTK_WIDGET(self));
}

void
ssa_canvas_set_trace(SsaCanvas *self, const ss_trace *trace, float scale)
{
    g_return_if_fail(SSA_IS_CANVAS(self));
    if (!trace && !self->trace)
        return;
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
    if (gdk_rgba_equal(&self->mask_color, color))
        return;
    self->mask_color = *color;
    invalidate_mask_view(self);
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

/* Widget-px bounds of what draw_prompt draws (FALSE: nothing). */
static gboolean
prompt_bounds(SsaCanvas *self, graphene_rect_t *bounds)
{
    double x0 = G_MAXDOUBLE, y0 = G_MAXDOUBLE, x1 = -G_MAXDOUBLE, y1 = -G_MAXDOUBLE;
    const float *box = self->drag_kind == DRAG_BOX && self->has_drag_box ? self->drag_box
                       : self->prompt && self->prompt->has_box       ? self->prompt->box
                                                                     : NULL;
    double wx, wy;
    if (box) {
        for (int i = 0; i < 2; i++) {
            ssa_canvas_image_to_widget(self, box[2 * i], box[2 * i + 1], &wx, &wy);
            x0 = MIN(x0, wx), y0 = MIN(y0, wy), x1 = MAX(x1, wx), y1 = MAX(y1, wy);
        }
    }
    for (guint i = 0; self->prompt && i < self->prompt->n_points; i++) {
        ssa_canvas_image_to_widget(self, self->prompt->points[i].x, self->prompt->points[i].y, &wx, &wy);
        x0 = MIN(x0, wx), y0 = MIN(y0, wy), x1 = MAX(x1, wx), y1 = MAX(y1, wy);
    }
    if (x1 < x0)
        return FALSE;
    /* the point markers' radius and the box's line width */
    *bounds = GRAPHENE_RECT_INIT(floor(x0) - 10, floor(y0) - 10, ceil(x1) - floor(x0) + 20,
                                 ceil(y1) - floor(y0) + 20);
    return TRUE;
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
    graphene_rect_t all = GRAPHENE_RECT_INIT(0, 0, w, h), bounds;

    gtk_snapshot_push_clip(snapshot, &all);
    append_image(self, snapshot, w, h);
    if (self->objects_layer.bytes)
        append_raster(self, snapshot, &self->objects_layer, w, h, &self->objects_view);
    append_mask(self, snapshot, w, h);

    gboolean circles = self->trace && self->show_circles;
    gboolean prompt = prompt_bounds(self, &bounds) && graphene_rect_intersection(&bounds, &all, &bounds);
    if (circles || prompt) {
        cairo_t *cr = gtk_snapshot_append_cairo(snapshot, circles ? &all : &bounds);
        if (circles)
            draw_circles(self, cr);
        draw_prompt(self, cr);
        cairo_destroy(cr);
    }
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
        g_clear_object(&self->mask_view);
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
    g_clear_pointer(&self->levels, levels_unref);
    raster_clear(&self->objects_layer);
    raster_view_clear(&self->image_view);
    raster_view_clear(&self->objects_view);
    g_clear_pointer(&self->mask, g_bytes_unref);
    g_clear_object(&self->mask_view);
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
