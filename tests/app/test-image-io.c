/* test-image-io.c — ssa_image_load_scaled (app/image-io.c): big images decoded at reduced
 * scale (PNG streamed row by row and box-filtered, JPEG through libjpeg's scaled decode), the
 * original size reported, small images passed through whole, one-line errors. */
#include <cairo.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <string.h>
#include "image-io.h"

/* colour of the 5x5 block (bx, by) */
static void block_color(int bx, int by, guint8 c[3])
{
    c[0] = (guint8)(bx * 37 + by * 11);
    c[1] = (guint8)(by * 53);
    c[2] = (guint8)((bx ^ by) * 29);
}

/* A w x h RGB PNG of 5x5 blocks of constant colour, written by cairo (not interlaced). */
static char *write_blocks_png(const char *dir, int w, int h)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    guint8 *d = cairo_image_surface_get_data(s);
    int st = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            guint8 c[3];
            block_color(x / 5, y / 5, c);
            ((guint32 *)(d + (gsize)y * st))[x] = 0xff000000u | (guint32)c[0] << 16 | (guint32)c[1] << 8 | c[2];
        }
    cairo_surface_mark_dirty(s);
    char *path = g_build_filename(dir, "blocks.png", NULL);
    g_assert_cmpint(cairo_surface_write_to_png(s, path), ==, CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
    return path;
}

static void test_png_scaled(void)
{
    g_autofree char *dir = g_dir_make_tmp("ssa-imgio-XXXXXX", NULL);
    g_autofree char *path = write_blocks_png(dir, 5000, 300);
    g_autoptr(GError) error = NULL;
    int w = 0, h = 0;
    /* 1/5: every output pixel is the mean of one constant 5x5 block, exactly its colour */
    g_autoptr(SsaImage) img = ssa_image_load_scaled(path, 1000, 0, &w, &h, &error);
    g_assert_no_error(error);
    g_assert_cmpint(w, ==, 5000);
    g_assert_cmpint(h, ==, 300);
    g_assert_cmpint(img->width, ==, 1000);
    g_assert_cmpint(img->height, ==, 60);
    g_assert_cmpint(img->stride, ==, 3000);
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            guint8 c[3];
            block_color(x, y, c);
            g_assert_cmpmem(img->rgb + (gsize)y * img->stride + x * 3, 3, c, 3);
        }
    /* a factor that is not an integer: means of neighbouring blocks, within their range */
    g_autoptr(SsaImage) odd = ssa_image_load_scaled(path, 777, 0, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(odd->width, ==, 777);
    g_assert_cmpint(odd->height, ==, 47);
    g_autoptr(SsaImage) full = ssa_image_load(path, 0, &error);
    g_assert_no_error(error);
    for (int y = 0; y < odd->height; y++)
        for (int x = 0; x < odd->width; x++)
            for (int c = 0; c < 3; c++) {
                /* source pixels of output (x, y): [x * 5000 / 777, (x + 1) * 5000 / 777) */
                int lo = 255, hi = 0;
                for (int sy = (y * 300 + 46) / 47; sy < ((y + 1) * 300 + 46) / 47 && sy < 300; sy++)
                    for (int sx = (x * 5000 + 776) / 777; sx < ((x + 1) * 5000 + 776) / 777 && sx < 5000; sx++) {
                        int v = full->rgb[(gsize)sy * full->stride + sx * 3 + c];
                        lo = MIN(lo, v);
                        hi = MAX(hi, v);
                    }
                int v = odd->rgb[(gsize)y * odd->stride + x * 3 + c];
                g_assert_cmpint(v, >=, lo);
                g_assert_cmpint(v, <=, hi);
            }
    /* small enough: the image itself */
    g_autoptr(SsaImage) same = ssa_image_load_scaled(path, 5000, 0, &w, &h, &error);
    g_assert_no_error(error);
    g_assert_cmpint(same->width, ==, 5000);
    g_assert_cmpmem(same->rgb, (gsize)5000 * 300 * 3, full->rgb, (gsize)5000 * 300 * 3);
    g_unlink(path);
    g_rmdir(dir);
}

static void test_jpeg_scaled(void)
{
    g_autofree char *dir = g_dir_make_tmp("ssa-imgio-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "big.jpg", NULL);
    g_autoptr(GdkPixbuf) pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, FALSE, 8, 3000, 2000);
    gdk_pixbuf_fill(pb, 0x336699ff);
    g_autoptr(GError) error = NULL;
    g_assert_true(gdk_pixbuf_save(pb, path, "jpeg", &error, "quality", "95", NULL));
    int w = 0, h = 0;
    g_autoptr(SsaImage) img = ssa_image_load_scaled(path, 600, 0, &w, &h, &error);
    g_assert_no_error(error);
    g_assert_cmpint(w, ==, 3000);
    g_assert_cmpint(h, ==, 2000);
    g_assert_cmpint(img->width, ==, 600);
    g_assert_cmpint(img->height, ==, 400);
    const guint8 *p = img->rgb + (gsize)200 * img->stride + 300 * 3;
    g_assert_cmpint(ABS(p[0] - 0x33), <=, 3);
    g_assert_cmpint(ABS(p[1] - 0x66), <=, 3);
    g_assert_cmpint(ABS(p[2] - 0x99), <=, 3);
    g_unlink(path);
    g_rmdir(dir);
}

static void test_errors(void)
{
    g_autofree char *dir = g_dir_make_tmp("ssa-imgio-XXXXXX", NULL);
    g_autofree char *path = write_blocks_png(dir, 5000, 300);
    g_autoptr(GError) error = NULL;
    /* over the limit: refused from the header, with the file, its size and the limit */
    g_assert_null(ssa_image_load_scaled(path, 1000, 1000000, NULL, NULL, &error));
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, "5000x300 (2 MP), more than the 1 MP supported"));
    g_clear_error(&error);
    /* truncated in the pixel data: one line naming the file */
    gsize len = 0;
    g_autofree char *data = NULL;
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_assert_true(g_file_set_contents(path, data, (gssize)(len / 2), NULL));
    g_assert_null(ssa_image_load_scaled(path, 1000, 0, NULL, NULL, &error));
    g_assert_true(g_str_has_prefix(error->message, path));
    g_assert_nonnull(strstr(error->message, "cannot decode the image"));
    g_assert_null(strchr(error->message, '\n'));
    g_clear_error(&error);
    g_unlink(path);
    g_assert_null(ssa_image_load_scaled(path, 1000, 0, NULL, NULL, &error));
    g_assert_nonnull(strstr(error->message, "no such file"));
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/image-io/png-scaled", test_png_scaled);
    g_test_add_func("/image-io/jpeg-scaled", test_jpeg_scaled);
    g_test_add_func("/image-io/errors", test_errors);
    return g_test_run();
}
