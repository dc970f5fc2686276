/* image-io.c — images in, masks out, hashes, atomic writes. */
#define G_LOG_DOMAIN "stablesam-io"
#include "image-io.h"

#include <cairo.h>
#include <errno.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <png.h>
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

/* The header: refuses missing files, bad BMP headers, unknown formats and images above
 * max_pixels before anything is decoded. Returns the format (owned by gdk-pixbuf) or NULL. */
static GdkPixbufFormat *probe(const char *path, gint64 max_pixels, int *w, int *h, GError **error)
{
    if (max_pixels <= 0) max_pixels = SSA_IMAGE_MAX_PIXELS;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file", path);
        return NULL;
    }
    if (!bmp_header_sane(path)) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_CORRUPT_IMAGE, "%s: not a readable image (bad BMP header)", path);
        return NULL;
    }
    GdkPixbufFormat *fmt = gdk_pixbuf_get_file_info(path, w, h);
    if (!fmt || *w <= 0 || *h <= 0) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_UNKNOWN_TYPE, "%s: not a readable image", path);
        return NULL;
    }
    if ((gint64)*w * *h > max_pixels) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_INSUFFICIENT_MEMORY,
                    "%s: image is %dx%d (%.0f MP), more than the %.0f MP supported", path, *w, *h,
                    (double)*w * *h / 1e6, (double)max_pixels / 1e6);
        return NULL;
    }
    return fmt;
}

/* gdk-pixbuf says 'Failed to load image “PATH”: WHY': the path is said once, first */
static void set_decode_error(GError **error, const char *path, GError *local)
{
    const char *why = local ? local->message : "";
    const char *cut = strstr(why, "\u201d: ");
    if (cut)
        why = cut + strlen("\u201d: ");
    g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_CORRUPT_IMAGE, "%s: cannot decode the image%s%s",
                path, *why ? ": " : "", why);
}

/* An 8-bit pixbuf with 3 or 4 channels as an SsaImage, rows packed to RGB in place (each byte
 * moves to the same or a lower address, in increasing order: nothing is overwritten early). */
static SsaImage *image_from_pixbuf(GdkPixbuf *pb_in, const char *path, GError **error)
{
    g_autoptr(GdkPixbuf) pb = pb_in;
    int nc = gdk_pixbuf_get_n_channels(pb);
    if (gdk_pixbuf_get_bits_per_sample(pb) != 8 || nc < 3) {
        g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_UNKNOWN_TYPE, "%s: unsupported pixel format", path);
        return NULL;
    }
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

SsaImage *ssa_image_load(const char *path, gint64 max_pixels, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    int w = 0, h = 0;
    /* Header first: refuse absurd sizes before decoding anything. */
    if (!probe(path, max_pixels, &w, &h, error))
        return NULL;
    GError *local = NULL;
    GdkPixbuf *pb = gdk_pixbuf_new_from_file(path, &local);
    if (!pb) {
        set_decode_error(error, path, local);
        g_clear_error(&local);
        return NULL;
    }
    return image_from_pixbuf(pb, path, error);
}

/* --- scaled decoding --------------------------------------------------------------------- */

/* A non-interlaced PNG read one row at a time (libpng) and box-filtered on the fly into
 * (tw, th): every source pixel adds to the one output pixel it falls in, each output pixel is
 * the mean of its sources. Memory: one source row, one row of sums and the output, never the
 * whole image (gdk-pixbuf's PNG loader decodes the whole image before it scales). */
typedef struct {
    char msg[256];
    FILE *f;
    guint8 *row;        /* (width * 3) one decoded source row */
    guint32 *acc;       /* (tw * 3) sums of the output row being filled */
    guint32 *count_x;   /* (tw) source columns per output column */
    int *xmap;          /* (width) output column of each source column */
    guint8 *out;        /* (th, tw, 3) */
} PngScale;

static void png_scale_error(png_structp png, png_const_charp msg)
{
    PngScale *ps = png_get_error_ptr(png);
    /* libpng says "Read Error" when the file ends early */
    g_strlcpy(ps->msg, ps->f && feof(ps->f) ? "the file is truncated" : msg, sizeof ps->msg);
    png_longjmp(png, 1);
}

static void png_scale_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_scale_free(PngScale *ps)
{
    if (ps->f)
        fclose(ps->f);
    g_free(ps->row);
    g_free(ps->acc);
    g_free(ps->count_x);
    g_free(ps->xmap);
    g_free(ps->out);
}

/* flushes the sums of output row oy (n_rows source rows) into ps->out */
static void png_scale_flush(PngScale *ps, int tw, int oy, guint32 n_rows)
{
    guint8 *o = ps->out + (gsize)oy * tw * 3;
    for (int x = 0; x < tw; x++) {
        guint32 n = ps->count_x[x] * n_rows;
        for (int c = 0; c < 3; c++)
            o[x * 3 + c] = (guint8)((ps->acc[x * 3 + c] + n / 2) / n);
    }
    memset(ps->acc, 0, sizeof(guint32) * 3 * (gsize)tw);
}

/* Returns 1 and fills *out, 0 on a decoding error (message in ps->msg), -1 when the file is
 * a PNG this reader does not stream (interlaced): the caller decodes it another way. */
static int png_read_scaled(PngScale *ps, const char *path, int tw, int th)
{
    png_structp png = NULL;
    png_infop info = NULL;
    ps->f = fopen(path, "rb");
    if (!ps->f) {
        g_strlcpy(ps->msg, g_strerror(errno), sizeof ps->msg);
        return 0;
    }
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ps, png_scale_error, png_scale_warning);
    info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        g_strlcpy(ps->msg, "out of memory", sizeof ps->msg);
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    png_init_io(png, ps->f);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    /* to 8-bit RGB, alpha dropped (as ssa_image_load) */
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (gsize)w * 3) {
        png_destroy_read_struct(&png, &info, NULL);
        g_strlcpy(ps->msg, "unsupported pixel format", sizeof ps->msg);
        return 0;
    }
    ps->row = g_try_malloc((gsize)w * 3);
    ps->acc = g_try_malloc0(sizeof(guint32) * 3 * (gsize)tw);
    ps->count_x = g_try_malloc0(sizeof(guint32) * (gsize)tw);
    ps->xmap = g_try_malloc(sizeof(int) * (gsize)w);
    ps->out = g_try_malloc((gsize)tw * th * 3);
    if (!ps->row || !ps->acc || !ps->count_x || !ps->xmap || !ps->out) {
        png_destroy_read_struct(&png, &info, NULL);
        g_strlcpy(ps->msg, "out of memory", sizeof ps->msg);
        return 0;
    }
    for (png_uint_32 x = 0; x < w; x++) {
        ps->xmap[x] = (int)((guint64)x * tw / w);
        ps->count_x[ps->xmap[x]]++;
    }
    int oy = 0;
    guint32 n_rows = 0;
    for (png_uint_32 y = 0; y < h; y++) {
        int ny = (int)((guint64)y * th / h);
        if (ny != oy) {
            png_scale_flush(ps, tw, oy, n_rows);
            oy = ny;
            n_rows = 0;
        }
        png_read_row(png, ps->row, NULL);
        const guint8 *r = ps->row;
        guint32 *acc = ps->acc;
        for (png_uint_32 x = 0; x < w; x++) {
            guint32 *a = acc + (gsize)ps->xmap[x] * 3;
            a[0] += r[x * 3];
            a[1] += r[x * 3 + 1];
            a[2] += r[x * 3 + 2];
        }
        n_rows++;
    }
    png_scale_flush(ps, tw, oy, n_rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 1;
}

SsaImage *ssa_image_load_scaled(const char *path, int max_side, gint64 max_pixels, int *width,
                                int *height, GError **error)
{
    g_return_val_if_fail(path != NULL && max_side > 0, NULL);
    int w = 0, h = 0;
    GdkPixbufFormat *fmt = probe(path, max_pixels, &w, &h, error);
    if (!fmt)
        return NULL;
    if (width)
        *width = w;
    if (height)
        *height = h;
    if (MAX(w, h) <= max_side)
        return ssa_image_load(path, max_pixels, error);
    double s = (double)max_side / MAX(w, h);
    int tw = CLAMP((int)(w * s + 0.5), 1, max_side), th = CLAMP((int)(h * s + 0.5), 1, max_side);
    g_autofree char *name = gdk_pixbuf_format_get_name(fmt);
    if (g_strcmp0(name, "png") == 0) {
        PngScale ps = { "" };
        int rc = png_read_scaled(&ps, path, tw, th);
        if (rc == 1) {
            SsaImage *img = g_new0(SsaImage, 1);
            img->width = tw;
            img->height = th;
            img->stride = tw * 3;
            img->rgb = g_steal_pointer(&ps.out);
            png_scale_free(&ps);
            return img;
        }
        png_scale_free(&ps);
        if (rc == 0) {
            g_set_error(error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_CORRUPT_IMAGE, "%s: cannot decode the image: %s",
                        path, ps.msg);
            return NULL;
        }
    }
    /* JPEG: libjpeg decodes at 1/2, 1/4 or 1/8 scale when that is still >= the target;
     * the other formats (and interlaced PNGs) are decoded whole, then scaled */
    GError *local = NULL;
    GdkPixbuf *pb = gdk_pixbuf_new_from_file_at_scale(path, tw, th, FALSE, &local);
    if (!pb) {
        set_decode_error(error, path, local);
        g_clear_error(&local);
        return NULL;
    }
    return image_from_pixbuf(pb, path, error);
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
