/* ssa-coco.c — COCO instances JSON export / import (see ssa-coco.h for the conventions). */
#include <string.h>

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "ss_metrics.h"
#include "ssa-coco.h"
#include "ssa-core-private.h"

/* Folder that contains every image (the longest common directory prefix). */
static char *
common_folder (SsaDocument *doc)
{
  char *common = NULL;

  for (guint i = 0; i < ssa_document_get_n_images (doc); i++)
    {
      char *dir = g_path_get_dirname (ssa_image_entry_get_path (ssa_document_get_image (doc, i)));
      if (common == NULL)
        common = dir;
      else
        {
          gsize n = 0;
          /* common prefix that ends at a folder boundary */
          while (common[n] && common[n] == dir[n])
            n++;
          if (!(common[n] == '\0' && (dir[n] == '\0' || dir[n] == G_DIR_SEPARATOR)))
            {
              while (n > 0 && common[n] != G_DIR_SEPARATOR)
                n--;
              common[n == 0 ? 1 : n] = '\0';
            }
          g_free (dir);
        }
    }
  return common;
}

static gboolean
is_inside (const char *path, const char *folder)
{
  gsize n = strlen (folder);

  return strncmp (path, folder, n) == 0 &&
         (path[n] == G_DIR_SEPARATOR || (n > 0 && folder[n - 1] == G_DIR_SEPARATOR));
}

/* Folder the file names are written relative to: the document's images root when every image
 * is inside it, else the images' common folder. */
static char *
export_base (SsaDocument *doc)
{
  const char *root = ssa_document_get_images_root (doc);

  if (root != NULL)
    {
      gboolean all = TRUE;
      for (guint i = 0; i < ssa_document_get_n_images (doc) && all; i++)
        all = is_inside (ssa_image_entry_get_path (ssa_document_get_image (doc, i)), root);
      if (all)
        return g_strdup (root);
    }
  return common_folder (doc);
}

static gboolean
image_size (SsaImageEntry *img, int *w, int *h, GError **error)
{
  *w = ssa_image_entry_get_width (img);
  *h = ssa_image_entry_get_height (img);
  if (*w > 0 && *h > 0)
    return TRUE;
  if (gdk_pixbuf_get_file_info (ssa_image_entry_get_path (img), w, h) == NULL || *w <= 0 || *h <= 0)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE,
                   "%s: the image size is unknown and the file cannot be read",
                   ssa_image_entry_get_path (img));
      return FALSE;
    }
  return TRUE;
}

/* Polygons of an object, traced inside its bbox only (objects are usually small next to the
 * image). An empty mask gives an empty list. */
static json_object *
polygons_json (SsaObject *obj)
{
  const SsaObjectData *d = ssa_object_peek_data (obj);
  json_object *seg = json_object_new_array ();
  int x0 = (int) d->bbox[0], y0 = (int) d->bbox[1], bw = (int) d->bbox[2], bh = (int) d->bbox[3];
  g_autofree guint8 *mask = NULL;
  g_autofree guint8 *crop = NULL;
  g_autoptr(GPtrArray) polys = NULL;
  int w, h;

  if (d->area == 0 || bw <= 0 || bh <= 0)
    return seg;
  mask = ssa_object_decode_mask (obj, &w, &h);
  g_assert (x0 >= 0 && y0 >= 0 && x0 + bw <= w && y0 + bh <= h);
  crop = g_malloc ((gsize) bw * bh);
  for (int y = 0; y < bh; y++)
    memcpy (crop + (gsize) y * bw, mask + (gsize) (y0 + y) * w + x0, (gsize) bw);
  polys = ssa_mask_to_polygons (crop, bw, bh, SSA_COCO_POLYGON_TOLERANCE);
  for (guint i = 0; i < polys->len; i++)
    {
      GArray *p = g_ptr_array_index (polys, i);
      json_object *arr = json_object_new_array ();
      for (guint k = 0; k < p->len; k++)
        json_object_array_add (arr, ssa_json_double (g_array_index (p, double, k) + (k % 2 ? y0 : x0)));
      json_object_array_add (seg, arr);
    }
  return seg;
}

char *
ssa_coco_export_to_data (SsaDocument *doc, SsaCocoFlags flags, gsize *length, GError **error)
{
  json_object *root = json_object_new_object ();
  json_object *info = json_object_new_object ();
  json_object *images = json_object_new_array ();
  json_object *anns = json_object_new_array ();
  json_object *cats = json_object_new_array ();
  GListModel *cat_model = ssa_document_get_categories (doc);
  g_autofree char *base = export_base (doc);
  char *out = NULL;

  g_return_val_if_fail (SSA_IS_DOCUMENT (doc), NULL);
  json_object_object_add (info, "description", json_object_new_string ("exported by stablesam"));
  json_object_object_add (info, "version", json_object_new_string (SSA_COCO_EXPORT_VERSION));
  json_object_object_add (info, "segmentation", json_object_new_string (
                          flags & SSA_COCO_FLAGS_POLYGONS ? "polygons" : "rle"));
  json_object_object_add (root, "info", info);

  for (guint i = 0; i < ssa_document_get_n_images (doc); i++)
    {
      SsaImageEntry *img = ssa_document_get_image (doc, i);
      GListModel *objects = ssa_image_entry_get_objects (img);
      const char *path = ssa_image_entry_get_path (img);
      gsize nb = base != NULL ? strlen (base) : 0;
      const char *file = path + nb + (path[nb] == G_DIR_SEPARATOR ? 1 : 0);
      json_object *im = json_object_new_object ();
      int w, h;

      if (!image_size (img, &w, &h, error))
        goto out;
      json_object_object_add (im, "id", json_object_new_int64 (ssa_image_entry_get_id (img)));
      json_object_object_add (im, "file_name", json_object_new_string (file));
      json_object_object_add (im, "width", json_object_new_int (w));
      json_object_object_add (im, "height", json_object_new_int (h));
      json_object_array_add (images, im);

      for (guint k = 0; k < g_list_model_get_n_items (objects); k++)
        {
          g_autoptr(SsaObject) obj = g_list_model_get_item (objects, k);
          const SsaObjectData *d = ssa_object_peek_data (obj);
          json_object *a = json_object_new_object ();
          json_object *bbox = json_object_new_array ();
          json_object *seg;

          if (flags & SSA_COCO_FLAGS_POLYGONS)
            seg = polygons_json (obj);
          else
            {
              json_object *size = json_object_new_array ();
              seg = json_object_new_object ();
              json_object_array_add (size, json_object_new_int (d->height));
              json_object_array_add (size, json_object_new_int (d->width));
              json_object_object_add (seg, "size", size);
              json_object_object_add (seg, "counts", json_object_new_string (d->counts));
            }
          for (int b = 0; b < 4; b++)
            json_object_array_add (bbox, ssa_json_double (d->bbox[b]));
          json_object_object_add (a, "id", json_object_new_int64 (d->id));
          json_object_object_add (a, "image_id", json_object_new_int64 (ssa_image_entry_get_id (img)));
          json_object_object_add (a, "category_id", json_object_new_int64 (d->category_id));
          json_object_object_add (a, "segmentation", seg);
          json_object_object_add (a, "area", json_object_new_int64 (d->area));
          json_object_object_add (a, "bbox", bbox);
          json_object_object_add (a, "iscrowd", json_object_new_int (d->iscrowd ? 1 : 0));
          json_object_array_add (anns, a);
        }
    }
  for (guint i = 0; i < g_list_model_get_n_items (cat_model); i++)
    {
      g_autoptr(SsaCategory) c = g_list_model_get_item (cat_model, i);
      const SsaCategoryData *d = ssa_category_peek_data (c);
      g_autofree char *color = ssa_rgba_to_string (d->color);
      json_object *o = json_object_new_object ();

      json_object_object_add (o, "id", json_object_new_int64 (d->id));
      json_object_object_add (o, "name", json_object_new_string (d->name));
      json_object_object_add (o, "supercategory", json_object_new_string (d->supercategory));
      json_object_object_add (o, "color", json_object_new_string (color));
      json_object_array_add (cats, o);
    }
  json_object_object_add (root, "images", g_steal_pointer (&images));
  json_object_object_add (root, "annotations", g_steal_pointer (&anns));
  json_object_object_add (root, "categories", g_steal_pointer (&cats));
  out = ssa_json_to_data (root, length);

out:
  if (images) json_object_put (images);
  if (anns) json_object_put (anns);
  if (cats) json_object_put (cats);
  json_object_put (root);
  return out;
}

gboolean
ssa_coco_export (SsaDocument *doc, const char *path, SsaCocoFlags flags, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  g_return_val_if_fail (SSA_IS_DOCUMENT (doc), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  if ((data = ssa_coco_export_to_data (doc, flags, &len, error)) == NULL)
    return FALSE;
  return ssa_write_file_atomic (path, data, len, error);
}

/* --- import ---------------------------------------------------------------------------------- */

static gboolean
invalid (GError **error, const char *where, const char *what)
{
  g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: %s", where, what);
  return FALSE;
}

/* Segmentation (RLE compressed / uncompressed or polygons) -> object data. */
static SsaObjectData *
segmentation_to_data (json_object *seg, int w, int h, const char *where, GError **error)
{
  g_autoptr(GError) local = NULL;
  SsaObjectData *d = NULL;

  if (json_object_is_type (seg, json_type_object))
    {
      json_object *size, *counts;
      gint64 sh, sw;

      if (!json_object_object_get_ex (seg, "size", &size) || !json_object_is_type (size, json_type_array) ||
          json_object_array_length (size) != 2 ||
          !json_object_is_type (json_object_array_get_idx (size, 0), json_type_int) ||
          !json_object_is_type (json_object_array_get_idx (size, 1), json_type_int) ||
          !json_object_object_get_ex (seg, "counts", &counts))
        {
          invalid (error, where, "RLE segmentation must have \"size\": [h, w] and \"counts\"");
          return NULL;
        }
      sh = json_object_get_int64 (json_object_array_get_idx (size, 0));
      sw = json_object_get_int64 (json_object_array_get_idx (size, 1));
      if (sh != h || sw != w)
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE,
                       "%s: RLE size [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] does not match the image (%dx%d)",
                       where, sh, sw, w, h);
          return NULL;
        }
      if (json_object_is_type (counts, json_type_string))
        d = ssa_object_data_new_from_rle (json_object_get_string (counts), w, h, &local);
      else if (json_object_is_type (counts, json_type_array))
        {
          /* uncompressed RLE: a list of run lengths, starting with zeros */
          size_t n = json_object_array_length (counts);
          g_autofree uint32_t *runs = g_new (uint32_t, MAX (n, 1));
          guint64 sum = 0;
          ss_rle rle;
          char err[256] = "";
          char *s;

          for (size_t i = 0; i < n; i++)
            {
              json_object *v = json_object_array_get_idx (counts, i);
              gint64 c = json_object_get_int64 (v);
              if (!json_object_is_type (v, json_type_int) || c < 0 || c > (gint64) w * h)
                {
                  invalid (error, where, "uncompressed RLE counts must be non-negative integers");
                  return NULL;
                }
              runs[i] = (uint32_t) c;
              sum += (guint64) c;
            }
          if (sum != (guint64) w * h)
            {
              g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                           "%s: RLE counts sum to %" G_GUINT64_FORMAT ", not %dx%d = %" G_GUINT64_FORMAT,
                           where, sum, w, h, (guint64) w * h);
              return NULL;
            }
          rle = (ss_rle) { .width = w, .height = h, .counts = runs, .n_counts = n };
          if ((s = ss_rle_to_string (&rle, err, sizeof err)) == NULL)
            {
              invalid (error, where, err);
              return NULL;
            }
          d = ssa_object_data_new_from_rle (s, w, h, &local);
          free (s);
        }
      else
        {
          invalid (error, where, "RLE \"counts\" must be a string or a list");
          return NULL;
        }
      if (d == NULL)
        g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: %s", where, local->message);
      return d;
    }
  if (json_object_is_type (seg, json_type_array))
    {
      size_t np = json_object_array_length (seg);
      g_autofree guint8 *mask = g_malloc0 ((gsize) w * h);
      g_autofree const double **coords = g_new0 (const double *, MAX (np, 1));
      g_autofree guint *ncoords = g_new0 (guint, MAX (np, 1));
      g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);

      for (size_t p = 0; p < np; p++)
        {
          json_object *poly = json_object_array_get_idx (seg, p);
          size_t n;
          double *c;

          if (!json_object_is_type (poly, json_type_array) || (n = json_object_array_length (poly)) < 6 ||
              n % 2 != 0 || n > 2000000)
            {
              invalid (error, where, "a polygon must be a list of at least 3 x, y pairs");
              return NULL;
            }
          c = g_new (double, n);
          g_ptr_array_add (keep, c);
          for (size_t k = 0; k < n; k++)
            {
              json_object *v = json_object_array_get_idx (poly, k);
              if (!json_object_is_type (v, json_type_int) && !json_object_is_type (v, json_type_double))
                {
                  invalid (error, where, "polygon coordinates must be numbers");
                  return NULL;
                }
              c[k] = json_object_get_double (v);
            }
          coords[p] = c;
          ncoords[p] = (guint) n;
        }
      ssa_polygons_fill (coords, ncoords, (guint) np, mask, w, h);
      d = ssa_object_data_new_from_mask (mask, w, h, &local);
      if (d == NULL)
        g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: %s", where, local->message);
      return d;
    }
  invalid (error, where, "\"segmentation\" must be RLE or a list of polygons");
  return NULL;
}

static gboolean
get_list (json_object *root, const char *key, gboolean required, json_object **out, const char *name,
          GError **error)
{
  *out = NULL;
  if (!json_object_object_get_ex (root, key, out) || json_object_is_type (*out, json_type_null))
    {
      *out = NULL;
      if (!required)
        return TRUE;
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: \"%s\" is missing", name, key);
      return FALSE;
    }
  if (!json_object_is_type (*out, json_type_array))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: \"%s\" must be a list", name, key);
      return FALSE;
    }
  return TRUE;
}

static SsaDocument *import_data (const char *data, gsize length, const char *name,
                                 const char *images_dir, GError **error);

SsaDocument *
ssa_coco_import_data (const char *data, gsize length, const char *name, const char *images_dir,
                      GError **error)
{
  GError *local = NULL;
  SsaDocument *doc = import_data (data, length, name, images_dir, &local);

  if (doc == NULL)
    {
      ssa_error_one_line (local);
      g_propagate_error (error, local);
    }
  return doc;
}

static SsaDocument *
import_data (const char *data, gsize length, const char *name, const char *images_dir,
             GError **error)
{
  g_autoptr(SsaDocument) doc = NULL;
  g_autoptr(GHashTable) image_ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  json_object *root, *images, *cats, *anns;
  gboolean ok = FALSE;
  GError *local = NULL;

  g_return_val_if_fail (data != NULL && name != NULL && images_dir != NULL, NULL);
  if ((root = ssa_json_parse (data, length, name, error)) == NULL)
    return NULL;
  doc = ssa_document_new ();
  ssa_document_set_autosave_delay (doc, 0);
  if (!json_object_is_type (root, json_type_object))
    {
      invalid (error, name, "not a COCO file (not a JSON object)");
      goto out;
    }
  if (!get_list (root, "images", TRUE, &images, name, error) ||
      !get_list (root, "categories", TRUE, &cats, name, error) ||
      !get_list (root, "annotations", FALSE, &anns, name, error))
    goto out;

  for (size_t i = 0; i < json_object_array_length (cats); i++)
    {
      g_autofree char *where = g_strdup_printf ("%s: categories[%zu]", name, i);
      g_autoptr(SsaCategoryData) cd = ssa_category_data_from_json (json_object_array_get_idx (cats, i), where, error);
      if (cd == NULL)
        goto out;
      if (cd->color == 0)
        cd->color = ssa_palette_color (i);
      if (ssa_document_load_category (doc, cd, &local) == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: %s", where, local->message);
          g_clear_error (&local);
          goto out;
        }
    }

  for (size_t i = 0; i < json_object_array_length (images); i++)
    {
      g_autofree char *where = g_strdup_printf ("%s: images[%zu]", name, i);
      g_autofree char *path = NULL;
      json_object *im = json_object_array_get_idx (images, i);
      const char *file = NULL;
      gint64 id = 0, w = 0, h = 0;
      SsaImageEntry *entry;

      if (!json_object_is_type (im, json_type_object))
        {
          invalid (error, where, "not an object");
          goto out;
        }
      if (!ssa_json_get_int (im, "id", TRUE, &id, where, error) ||
          !ssa_json_get_string (im, "file_name", TRUE, &file, where, error) ||
          !ssa_json_get_int (im, "width", TRUE, &w, where, error) ||
          !ssa_json_get_int (im, "height", TRUE, &h, where, error))
        goto out;
      if (id <= 0 || id > SSA_MAX_ID || w <= 0 || h <= 0 || w > 100000 || h > 100000 || file[0] == '\0')
        {
          invalid (error, where, "\"id\", \"width\" and \"height\" must be > 0 and \"file_name\" non-empty");
          goto out;
        }
      if (g_hash_table_contains (image_ids, &id))
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: image id %" G_GINT64_FORMAT " is used twice", where, id);
          goto out;
        }
      path = g_path_is_absolute (file) ? g_strdup (file) : g_build_filename (images_dir, file, NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND,
                       "%s: image \"%s\" (id %" G_GINT64_FORMAT ") not found in %s", name, file, id, images_dir);
          goto out;
        }
      entry = ssa_document_add_image (doc, path, (int) w, (int) h, id);
      if (ssa_image_entry_get_index (entry) != i)
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: \"%s\" is listed twice", where, file);
          goto out;
        }
      g_hash_table_insert (image_ids, g_memdup2 (&id, sizeof id), GUINT_TO_POINTER (i + 1));
    }

  for (size_t i = 0; anns && i < json_object_array_length (anns); i++)
    {
      g_autofree char *where = g_strdup_printf ("%s: annotations[%zu]", name, i);
      g_autoptr(SsaObjectData) d = NULL;
      json_object *a = json_object_array_get_idx (anns, i), *seg;
      gint64 id = 0, image_id = 0, cat = 0, iscrowd = 0;
      SsaImageEntry *img;
      guint index;

      if (!json_object_is_type (a, json_type_object))
        {
          invalid (error, where, "not an object");
          goto out;
        }
      if (!ssa_json_get_int (a, "id", TRUE, &id, where, error) ||
          !ssa_json_get_int (a, "image_id", TRUE, &image_id, where, error) ||
          !ssa_json_get_int (a, "category_id", TRUE, &cat, where, error) ||
          !ssa_json_get_int (a, "iscrowd", FALSE, &iscrowd, where, error))
        goto out;
      if (id <= 0 || id > SSA_MAX_ID || (iscrowd != 0 && iscrowd != 1))
        {
          invalid (error, where, "\"id\" must be 1..2^53 and \"iscrowd\" 0 or 1");
          goto out;
        }
      index = GPOINTER_TO_UINT (g_hash_table_lookup (image_ids, &image_id));
      if (index == 0)
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND,
                       "%s: unknown image_id %" G_GINT64_FORMAT, where, image_id);
          goto out;
        }
      index--;
      if (ssa_document_find_category (doc, cat) == NULL)
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND,
                       "%s: unknown category_id %" G_GINT64_FORMAT, where, cat);
          goto out;
        }
      if (!json_object_object_get_ex (a, "segmentation", &seg))
        {
          invalid (error, where, "\"segmentation\" is missing");
          goto out;
        }
      img = ssa_document_get_image (doc, index);
      d = segmentation_to_data (seg, ssa_image_entry_get_width (img), ssa_image_entry_get_height (img),
                                where, error);
      if (d == NULL)
        goto out;
      d->id = id;
      d->category_id = cat;
      d->iscrowd = iscrowd != 0;
      d->visible = TRUE;
      if (ssa_document_load_object (doc, index, d, &local) == NULL)
        {
          g_set_error (error, local->domain, local->code, "%s: %s", where, local->message);
          g_clear_error (&local);
          goto out;
        }
    }
  ssa_document_set_images_root (doc, images_dir);
  ssa_document_set_autosave_delay (doc, SSA_DOCUMENT_AUTOSAVE_DELAY);
  ok = TRUE;

out:
  json_object_put (root);
  return ok ? g_steal_pointer (&doc) : NULL;
}

SsaDocument *
ssa_coco_import (const char *coco_path, const char *images_dir, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;

  g_return_val_if_fail (coco_path != NULL, NULL);
  if (!g_file_get_contents (coco_path, &data, &len, &local))
    {
      gboolean noent = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT);
      GError *e = g_error_new (G_FILE_ERROR, local->domain == G_FILE_ERROR ? local->code : G_FILE_ERROR_FAILED,
                   "%s: %s", coco_path, noent ? "no such file" : local->message);
      ssa_error_one_line (e);
      g_propagate_error (error, e);
      return NULL;
    }
  if (images_dir == NULL)
    dir = g_path_get_dirname (coco_path);
  else if (!g_file_test (images_dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND, "%s: not a folder", images_dir);
      return NULL;
    }
  return ssa_coco_import_data (data, len, coco_path, images_dir ? images_dir : dir, error);
}
