/* image-io.h — loading images as packed 8-bit RGB and writing masks, with one-line errors.
 * Shared by the CLI, eval and the GUI. */
#ifndef SSA_IMAGE_IO_H
#define SSA_IMAGE_IO_H
#include <glib.h>
#include <stdint.h>

/* Default limit of ssa_image_load (100 MP: 300 MB of RGB). */
#define SSA_IMAGE_MAX_PIXELS G_GINT64_CONSTANT(100000000)

typedef struct {
    int width, height, stride; /* stride = bytes per row (3 * width, packed) */
    uint8_t *rgb;              /* owned: g_free, or inside `owner` */
    /*< private >*/
    void *owner;               /* NULL, or the GdkPixbuf whose pixel buffer `rgb` is */
} SsaImage;

/* Loads PNG/JPEG/... (alpha dropped, no EXIF rotation, as SAM's reference).
 * Refuses images larger than max_pixels (0 = 100 MP) with a clear message. The pixels are
 * packed in place in the decoder's buffer (one copy of the image in memory, not two). */
SsaImage *ssa_image_load(const char *path, gint64 max_pixels, GError **error);
/* Same, at most max_side px on the long side: images above it are decoded at reduced scale
 * without holding them whole (non-interlaced PNG: streamed rows, box filter; JPEG: libjpeg's
 * scaled decode, then scaled; other formats: decoded, then scaled). width / height (nullable)
 * get the original size. */
SsaImage *ssa_image_load_scaled(const char *path, int max_side, gint64 max_pixels, int *width,
                                int *height, GError **error);
void ssa_image_free(SsaImage *img);
/* FALSE for files the system's image loaders must not see (a BMP header that makes gdk-pixbuf
 * allocate gigabytes). ssa_image_load checks it; callers of gdk-pixbuf directly should too. */
gboolean ssa_image_file_sane(const char *path);
/* Frees the pixels, keeps the size (rgb = NULL): once encoded, big images need not stay. */
void ssa_image_drop_pixels(SsaImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SsaImage, ssa_image_free)

/* 8-bit grey PNG, 0 / 255 from a 0/1 mask (atomic write). */
gboolean ssa_mask_save_png(const char *path, const uint8_t *mask, int width, int height, GError **error);
/* Reads an 8-bit mask PNG (any value > 127 = 1) into a 0/1 buffer (g_free). */
uint8_t *ssa_mask_load_png(const char *path, int *width, int *height, GError **error);
/* Content hash of a file (hex of SHA-256), for embedding caches. */
char *ssa_file_hash(const char *path, GError **error);
/* Writes `len` bytes to `path` atomically: temp file in the same folder, fsync, rename. */
gboolean ssa_write_atomic(const char *path, const void *data, gsize len, GError **error);
#endif
