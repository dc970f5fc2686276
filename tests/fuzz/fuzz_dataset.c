/* fuzz_dataset.c — the evaluation data set reader (app/eval/dataset.c): ssa_dataset_scan over a
 * folder tree described by the input, then ssa_dataset_load_object for every object found.
 *
 * Input: lines. The first line is the --split argument ("-" = NULL, i.e. the default). Every
 * other line is "K PATH" (K one character, PATH relative, no "..") and creates PATH under a
 * fresh temporary folder with content K:
 *   d  a folder                    t  a text file: the rest of the line after '|' in PATH
 *   0  an empty file               1  4x3 binary mask (0/255, some 255)
 *   2  4x3 all-0 mask              3  5x3 binary mask (size mismatch)
 *   4  4x3 grey 128 (not binary)   5  4x3 RGB colour image
 *   6  4x3 RGBA binary mask        7  a truncated PNG
 * Folders are created as needed. The scan runs on the temporary folder (or its "set"
 * subfolder when "set" exists, to reach the single-set branch). */
#include <ftw.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

#include "eval-private.h"
#include "fuzz-util.h"

static char *root;
static GBytes *blobs[8];

static GBytes *png_blob(int w, int h, gboolean alpha, int kind)
{
    GdkPixbuf *pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, alpha, 8, w, h);
    FUZZ_CHECK(pb != NULL);
    int nc = gdk_pixbuf_get_n_channels(pb), rs = gdk_pixbuf_get_rowstride(pb);
    guint8 *px = gdk_pixbuf_get_pixels(pb);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            guint8 *p = px + y * rs + x * nc;
            guint8 v = kind == 0 ? ((x + y) % 3 == 0 ? 255 : 0) : kind == 1 ? 0 : 128;
            p[0] = v;
            p[1] = kind == 3 ? (guint8)(40 * x) : v;
            p[2] = kind == 3 ? (guint8)(60 * y) : v;
            if (alpha) p[3] = 255;
        }
    gchar *buf = NULL;
    gsize len = 0;
    FUZZ_CHECK(gdk_pixbuf_save_to_buffer(pb, &buf, &len, "png", NULL, NULL));
    g_object_unref(pb);
    return g_bytes_new_take(buf, len);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0) remove(path);
    return 0;
}

/* empties root (never root itself, never anything outside it: FTW_PHYS does not follow links,
 * and the input cannot create links) */
static void clear_root(void)
{
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void at_exit(void)
{
    if (!root) return;
    clear_root();
    g_rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
    root = g_dir_make_tmp("fuzz-dataset-XXXXXX", NULL);
    FUZZ_CHECK(root != NULL);
    atexit(at_exit);
    blobs[0] = g_bytes_new_static("", 0);
    blobs[1] = png_blob(4, 3, FALSE, 0);
    blobs[2] = png_blob(4, 3, FALSE, 1);
    blobs[3] = png_blob(5, 3, FALSE, 0);
    blobs[4] = png_blob(4, 3, FALSE, 2);
    blobs[5] = png_blob(4, 3, FALSE, 3);
    blobs[6] = png_blob(4, 3, TRUE, 0);
    gsize n = 0;
    const guint8 *d = g_bytes_get_data(blobs[1], &n);
    blobs[7] = g_bytes_new(d, n / 2);
    return 0;
}

/* creates one entry; silently skips what the file system refuses */
static void create(const char *kind_and_path)
{
    char kind = kind_and_path[0];
    if (kind == '\0' || kind_and_path[1] != ' ') return;
    g_autofree char *rel = g_strdup(kind_and_path + 2);
    char *text = NULL;
    if (kind == 't' && (text = strchr(rel, '|'))) *text++ = '\0';
    if (!*rel || g_path_is_absolute(rel) || strstr(rel, "..") || strlen(rel) > 200) return;
    g_autofree char *path = g_build_filename(root, rel, NULL);
    if (kind == 'd') {
        g_mkdir_with_parents(path, 0700);
        return;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0700);
    if (kind == 't') {
        g_file_set_contents(path, text ? text : "", -1, NULL);
    } else if (kind >= '0' && kind <= '7') {
        gsize n = 0;
        const char *d = g_bytes_get_data(blobs[kind - '0'], &n);
        g_file_set_contents(path, d ? d : "", (gssize)n, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    g_autofree char *s = fuzz_strndup(data, size);
    g_auto(GStrv) lines = g_strsplit(s, "\n", 64);
    if (!lines[0]) return 0;
    const char *split = strcmp(lines[0], "-") == 0 ? NULL : lines[0];
    for (int i = 1; lines[i]; i++) create(lines[i]);

    g_autofree char *set = g_build_filename(root, "set", NULL);
    const char *dir = g_file_test(set, G_FILE_TEST_IS_DIR) ? set : root;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    GError *e = NULL;
    SsaDataset *ds = ssa_dataset_scan(dir, split, problems, &e);
    for (guint i = 0; i < problems->len; i++) FUZZ_CHECK(strchr(problems->pdata[i], '\n') == NULL);
    if (!ds) {
        FUZZ_CHECK(e != NULL && strchr(e->message, '\n') == NULL);
        g_clear_error(&e);
        clear_root();
        return 0;
    }
    FUZZ_CHECK(ds->split != NULL);
    int n_obj = 0;
    for (guint i = 0; i < ds->images->len; i++) {
        SsaEvalImage *im = ds->images->pdata[i];
        FUZZ_CHECK(im->objects->len > 0);
        n_obj += (int)im->objects->len;
        g_autoptr(SsaImage) img = ssa_image_load(im->path, 0, NULL);
        int w = img ? img->width : 4, h = img ? img->height : 3;
        for (guint j = 0; j < im->objects->len; j++) {
            const SsaEvalObject *o = im->objects->pdata[j];
            if (j > 0) FUZZ_CHECK(((SsaEvalObject *)im->objects->pdata[j - 1])->k <= o->k);
            uint8_t *mask = NULL, *ign = NULL;
            if (ssa_dataset_load_object(o, w, h, &mask, &ign, &e)) {
                FUZZ_CHECK(mask != NULL);
                int any = 0;
                for (int p = 0; p < w * h; p++) {
                    FUZZ_CHECK(mask[p] <= 1);
                    any |= mask[p];
                    if (ign) FUZZ_CHECK(ign[p] <= 1);
                }
                FUZZ_CHECK(any);
            } else {
                FUZZ_CHECK(mask == NULL && ign == NULL);
                FUZZ_CHECK(e != NULL && strchr(e->message, '\n') == NULL);
                g_clear_error(&e);
            }
            g_free(mask);
            g_free(ign);
        }
    }
    FUZZ_CHECK(n_obj == ds->n_objects);
    ssa_dataset_free(ds);
    clear_root();
    return 0;
}
