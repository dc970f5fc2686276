/* fuzz_coco.c — COCO instances import (app/core/ssa-coco.c): ssa_coco_import_data with an
 * images folder holding a.png (8x6) and sub/b.png (5x7). An accepted file must export (RLE and
 * polygons), and the RLE export must import again — from the folder its file names are
 * relative to (the images' common folder, see ssa-coco.h) — and export to the same bytes.
 * GLib criticals are fatal. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

#include "fuzz-util.h"
#include "ssa-coco.h"

#include <json-c/json.h>

#define NAME "fuzz-coco.json"

static char *images_dir;

static void cleanup(void)
{
    if (!images_dir) return;
    g_autofree char *a = g_build_filename(images_dir, "a.png", NULL);
    g_autofree char *b = g_build_filename(images_dir, "sub", "b.png", NULL);
    g_autofree char *sub = g_build_filename(images_dir, "sub", NULL);
    g_unlink(a);
    g_unlink(b);
    g_rmdir(sub);
    g_rmdir(images_dir);
}

/* a w x h grey PNG */
static void write_png(const char *path, int w, int h)
{
    GdkPixbuf *pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, FALSE, 8, w, h);
    FUZZ_CHECK(pb != NULL);
    gdk_pixbuf_fill(pb, 0x808080ff);
    FUZZ_CHECK(gdk_pixbuf_save(pb, path, "png", NULL, NULL));
    g_object_unref(pb);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
    images_dir = g_dir_make_tmp("fuzz-coco-XXXXXX", NULL);
    FUZZ_CHECK(images_dir != NULL);
    g_autofree char *a = g_build_filename(images_dir, "a.png", NULL);
    g_autofree char *sub = g_build_filename(images_dir, "sub", NULL);
    g_autofree char *b = g_build_filename(images_dir, "sub", "b.png", NULL);
    FUZZ_CHECK(g_mkdir(sub, 0700) == 0);
    write_png(a, 8, 6);
    write_png(b, 5, 7);
    atexit(cleanup);
    return 0;
}

/* The folder an export's file names are relative to: image 0's path minus its file_name. */
static char *export_base(SsaDocument *doc, const char *out, gsize len)
{
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, out, (int)len), *images, *name;
    json_tokener_free(tok);
    FUZZ_CHECK(root != NULL);
    char *base = NULL;
    if (json_object_object_get_ex(root, "images", &images) && json_object_array_length(images) > 0 &&
        json_object_object_get_ex(json_object_array_get_idx(images, 0), "file_name", &name)) {
        const char *path = ssa_image_entry_get_path(ssa_document_get_image(doc, 0));
        const char *file = json_object_get_string(name);
        size_t lp = strlen(path), lf = strlen(file);
        if (lp > lf && strcmp(path + lp - lf, file) == 0 && path[lp - lf - 1] == '/')
            base = g_strndup(path, lp - lf - 1);
        else if (strcmp(path, file) == 0 && g_path_is_absolute(file))
            base = g_strdup("/");
        if (!base) fprintf(stderr, "exported file_name \"%s\" is not a suffix of \"%s\"\n", file, path);
        FUZZ_CHECK(base != NULL);
        if (!*base) {
            g_free(base);
            base = g_strdup("/");
        }
    }
    json_object_put(root);
    return base ? base : g_strdup(images_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *e = NULL;
    SsaDocument *doc = ssa_coco_import_data((const char *)data, size, NAME, images_dir, &e);
    if (!doc) {
        FUZZ_CHECK(e != NULL && e->message != NULL);
        FUZZ_CHECK(g_str_has_prefix(e->message, NAME));
        FUZZ_CHECK(fuzz_one_line(e->message, data, size));
        g_clear_error(&e);
        return 0;
    }
    gsize len1 = 0, len2 = 0, lenp = 0;
    char *out1 = ssa_coco_export_to_data(doc, SSA_COCO_FLAGS_NONE, &len1, &e);
    FUZZ_CHECK(out1 != NULL);
    char *outp = ssa_coco_export_to_data(doc, SSA_COCO_FLAGS_POLYGONS, &lenp, &e);
    FUZZ_CHECK(outp != NULL);
    char *base = export_base(doc, out1, len1);
    SsaDocument *doc2 = ssa_coco_import_data(out1, len1, NAME, base, &e);
    if (!doc2) {
        fprintf(stderr, "re-importing an export failed: %s\n", e ? e->message : "?");
        FUZZ_CHECK(doc2 != NULL);
    }
    char *out2 = ssa_coco_export_to_data(doc2, SSA_COCO_FLAGS_NONE, &len2, &e);
    FUZZ_CHECK(out2 != NULL && len1 == len2 && memcmp(out1, out2, len1) == 0);
    /* the polygon export reads back too (polygons are lossy: no byte comparison) */
    SsaDocument *doc3 = ssa_coco_import_data(outp, lenp, NAME, base, &e);
    if (!doc3) {
        fprintf(stderr, "re-importing a polygon export failed: %s\n", e ? e->message : "?");
        FUZZ_CHECK(doc3 != NULL);
    }
    g_object_unref(doc3);
    g_free(base);
    g_free(out2);
    g_object_unref(doc2);
    g_free(outp);
    g_free(out1);
    g_object_unref(doc);
    return 0;
}
