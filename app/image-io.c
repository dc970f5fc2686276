/* image-io.c — images in, masks out, hashes, atomic writes. */
#define G_LOG_DOMAIN "stablesam-io"
#include "image-io.h"

#include <cairo.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <string.h>


/* gdk-pixbuf's BMP loader allocates its header buffer from sizes read from the file (the DIB
 * header size, the offset of the pixels), up to 4 GB, before it checks anything, even for
 * gdk_pixbuf_get_file_info (found by fuzz-image): refuse BMP files whose header size is none of
 * the BMP / OS/2 versions or whose pixel offset lies past the end of the file. FALSE = do not
 * pass it on. */
static guint32 le32(const guint8 *p)
{
    return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static gboolean bmp_header_sane(const char *path)
{
    guint8 h[18];
    FILE *f = fopen(path, "rb");
    if (!f) return TRUE; /* the loader will say what is wrong */
    size_t n = fread(h, 1, sizeof h, f);
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    fclose(f);
    if (n < 2 || h[0] != 'B' || h[1] != 'M') return TRUE;
    if (n < sizeof h || len < 0) return FALSE;
    guint32 off = le32(h + 10), dib = le32(h + 14);
    gboolean known = dib == 12 || dib == 16 || dib == 40 || dib == 52 || dib == 56 || dib == 64 ||
                     dib == 108 || dib == 124;
    return known && off <= (guint64)len;
}

gboolean ssa_image_file_sane(const char *path)
{
    return bmp_header_sane(path);
}

SsaImage *ssa_image_load(const char *path, gint64 max_pixels, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    if (max_pixels <= 0) max_pixels = SSA_IMAGE_MAX_PIXELS;
    int w = 0, h = 0;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file", path);
        return NULL;
    }
    if (!bmp_header_sane(path)) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_CORRUPT_IMAGE, "%s: not a readable image (bad BMP header)", path);
        return NULL;
    }
    /* Header first: refuse absurd sizes before decoding anything. */
    GdkPixbufFormat *fmt = gdk_pixbuf_get_file_info(path, &w, &h);
    if (!fmt || w <= 0 || h <= 0) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_UNKNOWN_TYPE, "%s: not a readable image", path);
        return NULL;
    }
    if ((gint64)w * h > max_pixels) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY,
                    "%s: image is %dx%d (%.0f MP), more than the %.0f MP supported", path, w, h,
                    (double)w * h / 1e6, (double)max_pixels / 1e6);
        return NULL;
    }
    GError *local = NULL;
    g_autoptr(GdkPixbuf) pb = gdk_pixbuf_new_from_file(path, &local);
    if (!pb) {
        /* gdk-pixbuf says 'Failed to load image “PATH”: WHY': the path is said once, first */
        const char *why = local ? local->message : "";
        const char *cut = strstr(why, "\u201d: ");
        if (cut)
            why = cut + strlen("\u201d: ");
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_CORRUPT_IMAGE, "%s: cannot decode the image%s%s",
                    path, *why ? ": " : "", why);
        g_clear_error(&local);
        return NULL;
    }
    int nc = gdk_pixbuf_get_n_channels(pb);
    if (gdk_pixbuf_get_bits_per_sample(pb) != 8 || nc < 3) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_UNKNOWN_TYPE, "%s: unsupported pixel format", path);
        return NULL;
    }
    /* pack the rows in place (RGB or RGBA with padded rows -> packed RGB): each byte moves to
     * the same or a lower address, and in increasing order, so nothing is overwritten early */
    SsaImage *img = g_new0(SsaImage, 1);
    img->width = gdk_pixbuf_get_width(pb);
    img->height = gdk_pixbuf_get_height(pb);
    img->stride = img->width * 3;
    guint8 *px = gdk_pixbuf_get_pixels(pb);
    gsize rs = (gsize)gdk_pixbuf_get_rowstride(pb);
    for (int y = 0; y < img->height; y++) {
        const guint8 *s = px + (gsize)y * rs;
        guint8 *d = px + (gsize)y * img->stride;
        if (nc == 3) {
            if (d != s)
                memmove(d, s, (gsize)img->width * 3);
        } else {
            for (int x = 0; x < img->width; x++) {
                d[x * 3] = s[x * nc];
                d[x * 3 + 1] = s[x * nc + 1];
                d[x * 3 + 2] = s[x * nc + 2];
            }
        }
    }
    img->rgb = px;
    img->owner = g_steal_pointer(&pb);
    return img;
}

void ssa_image_free(SsaImage *img)
{
    if (!img) return;
    if (img->owner)
        g_object_unref(img->owner);
    else
        g_free(img->rgb);
    g_free(img);
}

void ssa_image_drop_pixels(SsaImage *img)
{
    if (!img) return;
    if (img->owner)
        g_clear_object((GdkPixbuf **)&img->owner);
    else
        g_free(img->rgb);
    img->rgb = NULL;
}

static cairo_status_t append_bytes(void *closure, const unsigned char *data, unsigned int len)
{
    g_byte_array_append(closure, data, len);
    return CAIRO_STATUS_SUCCESS;
}

gboolean ssa_mask_save_png(const char *path, const uint8_t *mask, int width, int height, GError **error)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, width, height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "%s: cannot create a %dx%d image", path, width, height);
        cairo_surface_destroy(s);
        return FALSE;
    }
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    int st = cairo_image_surface_get_stride(s);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) d[(gsize)y * st + x] = mask[(gsize)y * width + x] ? 255 : 0;
    cairo_surface_mark_dirty(s);
    g_autoptr(GByteArray) buf = g_byte_array_new();
    cairo_status_t cs = cairo_surface_write_to_png_stream(s, append_bytes, buf);
    cairo_surface_destroy(s);
    if (cs != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: PNG encoding failed: %s", path,
                    cairo_status_to_string(cs));
        return FALSE;
    }
    return ssa_write_atomic(path, buf->data, buf->len, error);
}

uint8_t *ssa_mask_load_png(const char *path, int *width, int *height, GError **error)
{
    g_autoptr(SsaImage) img = ssa_image_load(path, 0, error);
    if (!img) return NULL;
    uint8_t *m = g_try_malloc((gsize)img->width * img->height);
    if (!m) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) m[(gsize)y * img->width + x] = img->rgb[(gsize)y * img->stride + x * 3] > 127;
    *width = img->width;
    *height = img->height;
    return m;
}

char *ssa_file_hash(const char *path, GError **error)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    GError *local = NULL;
    g_autoptr(GFileInputStream) in = g_file_read(file, NULL, &local);
    if (!in) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", path, local->message);
        g_clear_error(&local);
        return NULL;
    }
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 buf[65536];
    for (;;) {
        gssize n = g_input_stream_read(G_INPUT_STREAM(in), buf, sizeof buf, NULL, &local);
        if (n < 0) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", path, local->message);
            g_clear_error(&local);
            return NULL;
        }
        if (n == 0) break;
        g_checksum_update(sum, buf, (gsize)n);
    }
    return g_strdup(g_checksum_get_string(sum));
}

gboolean ssa_write_atomic(const char *path, const void *data, gsize len, GError **error)
{
    GError *local = NULL;
    /* temp file in the same folder, fsync, rename (GLib does exactly this with these flags) */
    if (!g_file_set_contents_full(path, data, (gssize)len,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644, &local)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", local->message);
        g_clear_error(&local);
        return FALSE;
    }
    return TRUE;
}
