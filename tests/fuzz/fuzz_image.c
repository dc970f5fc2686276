/* fuzz_image.c — image loading (app/image-io.c): ssa_image_load and ssa_mask_load_png on an
 * in-memory file. gdk-pixbuf's decoders are not ours to fuzz (keep this target's budget
 * small); what must hold is our part: the size limit, the pixel-format checks, the RGB(A) ->
 * packed RGB conversion (every output byte is read), one-line errors naming the file. */
#include "fuzz-util.h"
#include "image-io.h"

#define MAX_PIXELS (1 << 22) /* 4 MP: refuse bigger images, as the CLI refuses > 100 MP */

static volatile unsigned sink;

static void check_error(GError *e, const char *path)
{
    FUZZ_CHECK(e != NULL && e->message != NULL);
    FUZZ_CHECK(g_str_has_prefix(e->message, path));
    FUZZ_CHECK(strchr(e->message, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    GError *e = NULL;
    SsaImage *img = ssa_image_load(path, MAX_PIXELS, &e);
    if (img) {
        FUZZ_CHECK(e == NULL);
        FUZZ_CHECK(img->width > 0 && img->height > 0);
        FUZZ_CHECK((gint64)img->width * img->height <= MAX_PIXELS);
        FUZZ_CHECK(img->stride == 3 * img->width);
        unsigned s = 0;
        for (gsize i = 0; i < (gsize)img->stride * img->height; i++) s += img->rgb[i];
        sink = s;
        int mw = 0, mh = 0;
        uint8_t *m = ssa_mask_load_png(path, &mw, &mh, &e);
        if (m) {
            FUZZ_CHECK(mw == img->width && mh == img->height);
            for (gsize i = 0; i < (gsize)mw * mh; i++) FUZZ_CHECK(m[i] <= 1);
            g_free(m);
        } else {
            /* the same file decoded a moment ago */
            check_error(e, path);
            g_clear_error(&e);
        }
        ssa_image_free(img);
    } else {
        check_error(e, path);
        g_clear_error(&e);
    }
    close(fd);
    return 0;
}
