/* dataset.c — reading an evaluation data set (DESIGN §9): SET/images/ID.jpg|png,
 * SET/masks/ID_K.png (0 / 255), optional SET/masks/ID_K.ignore.png, SET/train.txt|val.txt. */
#define G_LOG_DOMAIN "stablesam-eval"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "eval-private.h"

static void object_free(gpointer p)
{
    SsaEvalObject *o = p;
    g_free(o->mask_path);
    g_free(o->ignore_path);
    g_free(o);
}

static void image_free(gpointer p)
{
    SsaEvalImage *im = p;
    g_free(im->set);
    g_free(im->id);
    g_free(im->path);
    g_ptr_array_unref(im->objects);
    g_free(im);
}

void ssa_dataset_free(SsaDataset *ds)
{
    if (!ds)
        return;
    g_free(ds->dir);
    g_free(ds->split);
    g_ptr_array_unref(ds->images);
    g_free(ds);
}

static void problem(GPtrArray *problems, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void problem(GPtrArray *problems, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(problems, s);
}

static int cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted file names of a folder (NULL if it cannot be read) */
static GPtrArray *list_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    if (!d)
        return NULL;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while ((n = g_dir_read_name(d)))
        if (n[0] != '.')
            g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, cmp_str);
    return names;
}

static gboolean is_image_name(const char *name, char **id)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"};
    for (size_t i = 0; i < G_N_ELEMENTS(exts); i++) {
        if (g_str_has_suffix(name, exts[i]) && strlen(name) > strlen(exts[i])) {
            *id = g_strndup(name, strlen(name) - strlen(exts[i]));
            return TRUE;
        }
    }
    return FALSE;
}

/* ids of SET/<split>.txt, or NULL when the file does not exist */
static GHashTable *read_split(const char *set_dir, const char *split)
{
    g_autofree char *name = g_strdup_printf("%s.txt", split);
    g_autofree char *path = g_build_filename(set_dir, name, NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    GHashTable *ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *s = g_strstrip(*l);
        if (*s && *s != '#')
            g_hash_table_add(ids, g_strdup(s));
    }
    return ids;
}

static int cmp_obj(gconstpointer a, gconstpointer b)
{
    const SsaEvalObject *x = *(SsaEvalObject *const *)a, *y = *(SsaEvalObject *const *)b;
    return (x->k > y->k) - (x->k < y->k);
}

/* parses "ID_K" (K decimal) */
static gboolean parse_mask_stem(const char *stem, char **id, int *k)
{
    const char *us = strrchr(stem, '_');
    if (!us || us == stem || !us[1])
        return FALSE;
    for (const char *p = us + 1; *p; p++)
        if (!g_ascii_isdigit(*p))
            return FALSE;
    if (strlen(us + 1) > 6)
        return FALSE;
    *k = atoi(us + 1);
    *id = g_strndup(stem, (gsize)(us - stem));
    return TRUE;
}

static void scan_set(const char *set_dir, const char *set_name, const char *split,
                     GPtrArray *images, GPtrArray *problems, gboolean *split_used)
{
    g_autofree char *img_dir = g_build_filename(set_dir, "images", NULL);
    g_autofree char *mask_dir = g_build_filename(set_dir, "masks", NULL);
    g_autoptr(GPtrArray) names = list_dir(img_dir);
    if (!names) {
        problem(problems, "%s: cannot read the folder", img_dir);
        return;
    }
    /* which split applies to this set */
    const char *use = split;
    if (!use) {
        g_autofree char *val = g_build_filename(set_dir, "val.txt", NULL);
        use = g_file_test(val, G_FILE_TEST_EXISTS) ? "val" : "all";
    }
    g_autoptr(GHashTable) keep = NULL;
    if (strcmp(use, "all") != 0) {
        keep = read_split(set_dir, use);
        if (!keep) {
            problem(problems, "%s: no %s.txt: set skipped for --split %s", set_dir, use, use);
            return;
        }
        *split_used = TRUE;
    }

    g_autoptr(GHashTable) by_id = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *set_images = g_ptr_array_new();
    for (guint i = 0; i < names->len; i++) {
        const char *n = names->pdata[i];
        char *id = NULL;
        if (!is_image_name(n, &id))
            continue;
        if (keep && !g_hash_table_contains(keep, id)) {
            g_free(id);
            continue;
        }
        if (g_hash_table_contains(by_id, id)) {
            problem(problems, "%s/%s: a second image with id '%s': ignored", img_dir, n, id);
            g_free(id);
            continue;
        }
        SsaEvalImage *im = g_new0(SsaEvalImage, 1);
        im->set = g_strdup(set_name);
        im->id = id;
        im->path = g_build_filename(img_dir, n, NULL);
        im->objects = g_ptr_array_new_with_free_func(object_free);
        g_hash_table_insert(by_id, im->id, im);
        g_ptr_array_add(set_images, im);
    }
    if (keep) {
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, keep);
        g_autoptr(GPtrArray) missing = g_ptr_array_new();
        while (g_hash_table_iter_next(&it, &key, NULL))
            if (!g_hash_table_contains(by_id, key))
                g_ptr_array_add(missing, key);
        g_ptr_array_sort(missing, cmp_str);
        for (guint i = 0; i < missing->len; i++)
            problem(problems, "%s/%s.txt: id '%s' has no image in images/", set_dir, use,
                    (const char *)missing->pdata[i]);
    }

    g_autoptr(GPtrArray) masks = list_dir(mask_dir);
    if (!masks)
        problem(problems, "%s: cannot read the folder (no masks)", mask_dir);
    /* masks first, then ignore maps (attached to their masks) */
    for (int pass = 0; masks && pass < 2; pass++) {
        for (guint i = 0; i < masks->len; i++) {
            const char *n = masks->pdata[i];
            gboolean is_ign = g_str_has_suffix(n, ".ignore.png");
            if (is_ign != (pass == 1))
                continue;
            g_autofree char *path = g_build_filename(mask_dir, n, NULL);
            if (!g_str_has_suffix(n, ".png")) {
                if (pass == 0)
                    problem(problems, "%s: not a PNG mask (expected ID_K.png): ignored", path);
                continue;
            }
            g_autofree char *stem = g_strndup(n, strlen(n) - (is_ign ? 11 : 4));
            char *id = NULL;
            int k = 0;
            if (!parse_mask_stem(stem, &id, &k)) {
                problem(problems, "%s: mask name is not ID_K.png: ignored", path);
                continue;
            }
            SsaEvalImage *im = g_hash_table_lookup(by_id, id);
            if (!im) {
                if (!keep)
                    problem(problems, "%s: no image '%s' in images/: ignored", path, id);
                g_free(id);
                continue;
            }
            g_free(id);
            if (!is_ign) {
                SsaEvalObject *o = g_new0(SsaEvalObject, 1);
                o->k = k;
                o->mask_path = g_steal_pointer(&path);
                g_ptr_array_add(im->objects, o);
            } else {
                SsaEvalObject *o = NULL;
                for (guint j = 0; j < im->objects->len; j++)
                    if (((SsaEvalObject *)im->objects->pdata[j])->k == k)
                        o = im->objects->pdata[j];
                if (!o)
                    problem(problems, "%s: ignore map without its mask: ignored", path);
                else
                    o->ignore_path = g_steal_pointer(&path);
            }
        }
    }
    for (guint i = 0; i < set_images->len; i++) {
        SsaEvalImage *im = set_images->pdata[i];
        if (im->objects->len == 0) {
            problem(problems, "%s: no masks (masks/%s_K.png): image skipped", im->path, im->id);
            image_free(im);
            continue;
        }
        g_ptr_array_sort(im->objects, cmp_obj);
        g_ptr_array_add(images, im);
    }
    g_ptr_array_unref(set_images);
}

SsaDataset *ssa_dataset_scan(const char *dir, const char *split, GPtrArray *problems,
                             GError **error)
{
    if (split && strcmp(split, "val") && strcmp(split, "train") && strcmp(split, "all")) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--split is val, train or all, got '%s'", split);
        return NULL;
    }
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR, "%s: not a folder", dir);
        return NULL;
    }
    g_autoptr(SsaDataset) ds = g_new0(SsaDataset, 1);
    ds->dir = g_strdup(dir);
    ds->images = g_ptr_array_new_with_free_func(image_free);
    gboolean split_used = FALSE;
    g_autofree char *direct = g_build_filename(dir, "images", NULL);
    if (g_file_test(direct, G_FILE_TEST_IS_DIR)) {
        g_autofree char *base = g_path_get_basename(dir);
        scan_set(dir, base, split, ds->images, problems, &split_used);
    } else {
        g_autoptr(GPtrArray) subs = list_dir(dir);
        for (guint i = 0; subs && i < subs->len; i++) {
            g_autofree char *sd = g_build_filename(dir, subs->pdata[i], NULL);
            g_autofree char *si = g_build_filename(sd, "images", NULL);
            if (g_file_test(si, G_FILE_TEST_IS_DIR))
                scan_set(sd, subs->pdata[i], split, ds->images, problems, &split_used);
        }
    }
    ds->split = g_strdup(split ? split : split_used ? "val" : "all");
    for (guint i = 0; i < ds->images->len; i++)
        ds->n_objects += (int)((SsaEvalImage *)ds->images->pdata[i])->objects->len;
    if (ds->n_objects == 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "%s: no images with masks to evaluate (expected images/ID.jpg|png and "
                    "masks/ID_K.png)", dir);
        return NULL;
    }
    return g_steal_pointer(&ds);
}

/* loads a 0/255 mask at the image size; allow_empty for ignore maps */
static uint8_t *load_binary(const char *path, int width, int height, gboolean allow_empty,
                            GError **error)
{
    g_autoptr(SsaImage) img = ssa_image_load(path, 0, error);
    if (!img)
        return NULL;
    if (img->width != width || img->height != height) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: mask is %dx%d but the image is %dx%d", path, img->width, img->height,
                    width, height);
        return NULL;
    }
    uint8_t *m = g_malloc((gsize)width * height);
    gsize ones = 0;
    for (int y = 0; y < height; y++) {
        const uint8_t *row = img->rgb + (gsize)y * img->stride;
        for (int x = 0; x < width; x++) {
            uint8_t r = row[3 * x], g = row[3 * x + 1], b = row[3 * x + 2];
            if ((r != 0 && r != 255) || g != r || b != r) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "%s: not a binary mask (value %u,%u,%u at x=%d y=%d; expected 0 or "
                            "255)", path, r, g, b, x, y);
                g_free(m);
                return NULL;
            }
            m[(gsize)y * width + x] = r == 255;
            ones += r == 255;
        }
    }
    if (!ones && !allow_empty) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: empty mask (no 255 pixel)", path);
        g_free(m);
        return NULL;
    }
    return m;
}

gboolean ssa_dataset_load_object(const SsaEvalObject *obj, int width, int height, uint8_t **mask,
                                 uint8_t **ignore, GError **error)
{
    *mask = NULL;
    *ignore = NULL;
    g_autofree uint8_t *m = load_binary(obj->mask_path, width, height, FALSE, error);
    if (!m)
        return FALSE;
    if (obj->ignore_path) {
        *ignore = load_binary(obj->ignore_path, width, height, TRUE, error);
        if (!*ignore)
            return FALSE;
    }
    *mask = g_steal_pointer(&m);
    return TRUE;
}
