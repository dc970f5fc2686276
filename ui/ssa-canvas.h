/* ssa-canvas.h — the image canvas: zoom/pan, the current mask, accepted objects, prompts and
 * the Stable-SAM attention circles. Reports user gestures in original-image pixels. */
#ifndef SSA_CANVAS_H
#define SSA_CANVAS_H
#include <gtk/gtk.h>
#include "ssa-ui-types.h"
#include "stablesam.h"

G_BEGIN_DECLS

#define SSA_TYPE_CANVAS (ssa_canvas_get_type())
G_DECLARE_FINAL_TYPE(SsaCanvas, ssa_canvas, SSA, CANVAS, GtkWidget)

/* One accepted object for ssa_canvas_set_objects(): a 0/1 mask at the image size, or the
 * object itself (mask NULL), whose mask the canvas decodes when it paints it, one object at a
 * time (a full-size mask is 1 byte a pixel: 48 MB at 48 MP). */
typedef struct {
    const guint8 *mask; /* (height, width), or NULL: decoded from `object` */
    SsaObject *object;  /* borrowed; used when mask is NULL */
    GdkRGBA color;
    gboolean selected;  /* drawn with a thicker, brighter outline */
} SsaCanvasObject;

GtkWidget *ssa_canvas_new(void);
/* The image (NULL clears everything). Resets the view to "fit". */
void ssa_canvas_set_image(SsaCanvas *self, GdkTexture *image);
/* The image is width x height pixels; `image` may be a smaller copy (drawn scaled up).
 * Coordinates, masks and prompts are in the full size. */
void ssa_canvas_set_image_sized(SsaCanvas *self, GdkTexture *image, int width, int height);
/* Makes `texture` (a GdkMemoryTexture of `pixels`: R8G8B8 or GDK_MEMORY_DEFAULT, `stride`
 * bytes a row) cheap to draw at any zoom: halved copies for zoomed-out views, and the pixels
 * to draw only the visible part. Call once, from any thread, before the texture is shown
 * (slow for big images); without it the canvas draws the whole texture on each frame. */
void ssa_canvas_prepare_texture(GdkTexture *texture, GBytes *pixels, GdkMemoryFormat format,
                                gsize stride);
int ssa_canvas_get_image_width(SsaCanvas *self);
int ssa_canvas_get_image_height(SsaCanvas *self);
/* The prompt being built (copied; NULL = none). */
void ssa_canvas_set_prompt(SsaCanvas *self, const SsaPrompt *prompt);
/* The current (not yet accepted) mask, 0/1 at the image size (copied; NULL clears). */
void ssa_canvas_set_mask(SsaCanvas *self, const guint8 *mask, int width, int height);
/* The same without a copy: `mask` (width * height bytes) is kept (referenced) until replaced. */
void ssa_canvas_set_mask_bytes(SsaCanvas *self, GBytes *mask, int width, int height);
/* Accepted objects, composited into one layer (masks are read, not kept). */
void ssa_canvas_set_objects(SsaCanvas *self, const SsaCanvasObject *objects, guint n_objects);
/* Attention trace of the current prediction (copied; NULL clears). `scale` = 1024 / long side. */
void ssa_canvas_set_trace(SsaCanvas *self, const ss_trace *trace, float scale);
/* Colour of the current mask (default: a light blue). */
void ssa_canvas_set_mask_color(SsaCanvas *self, const GdkRGBA *color);

void ssa_canvas_zoom_in(SsaCanvas *self);
void ssa_canvas_zoom_out(SsaCanvas *self);
void ssa_canvas_zoom_fit(SsaCanvas *self);
double ssa_canvas_get_zoom(SsaCanvas *self);
/* Widget coordinates <-> image pixels (for tests and the status bar). */
void ssa_canvas_widget_to_image(SsaCanvas *self, double wx, double wy, double *ix, double *iy);
void ssa_canvas_image_to_widget(SsaCanvas *self, double ix, double iy, double *wx, double *wy);

G_END_DECLS
#endif
