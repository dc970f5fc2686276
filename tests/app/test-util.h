/* test-util.h — helpers shared by the app/core tests (header-only, static). */
#pragma once

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "ss_metrics.h"
#include "ssa-coco.h"
#include "ssa-document.h"
#include "ssa-project.h"

/* Everything the user can see of a document, as text (no history): equal strings = equal
 * documents. */
static inline char *
doc_state (SsaDocument *doc)
{
  GString *s = g_string_new (NULL);
  GListModel *cats = ssa_document_get_categories (doc);

  for (guint i = 0; i < g_list_model_get_n_items (cats); i++)
    {
      g_autoptr(SsaCategory) c = g_list_model_get_item (cats, i);
      g_string_append_printf (s, "cat %" G_GINT64_FORMAT " '%s' %08x '%s'\n", ssa_category_get_id (c),
                              ssa_category_get_name (c), ssa_category_get_color (c),
                              ssa_category_get_supercategory (c));
    }
  for (guint i = 0; i < ssa_document_get_n_images (doc); i++)
    {
      SsaImageEntry *img = ssa_document_get_image (doc, i);
      GListModel *objs = ssa_image_entry_get_objects (img);
      g_string_append_printf (s, "image %u id %" G_GINT64_FORMAT " %s %dx%d\n", i, ssa_image_entry_get_id (img),
                              ssa_image_entry_get_name (img), ssa_image_entry_get_width (img),
                              ssa_image_entry_get_height (img));
      for (guint k = 0; k < g_list_model_get_n_items (objs); k++)
        {
          g_autoptr(SsaObject) o = g_list_model_get_item (objs, k);
          const SsaPrompt *p = ssa_object_get_prompt (o);
          double bb[4];
          ssa_object_get_bbox (o, bb);
          g_assert_cmpuint (ssa_object_get_image_index (o), ==, i);
          g_string_append_printf (s, "  obj %" G_GINT64_FORMAT " cat %" G_GINT64_FORMAT " vis %d crowd %d area %"
                                  G_GINT64_FORMAT " bbox %g,%g,%g,%g rle %s", ssa_object_get_id (o),
                                  ssa_object_get_category_id (o), ssa_object_get_visible (o),
                                  ssa_object_get_iscrowd (o), ssa_object_get_area (o),
                                  bb[0], bb[1], bb[2], bb[3], ssa_object_get_rle (o));
          if (p != NULL)
            {
              g_string_append_printf (s, " prompt box %d %g,%g,%g,%g mode %d iou %.9g pts", p->has_box,
                                      p->box[0], p->box[1], p->box[2], p->box[3], p->mode, p->iou_pred);
              for (guint j = 0; j < p->n_points; j++)
                g_string_append_printf (s, " %.9g,%.9g,%d", p->points[j].x, p->points[j].y, p->points[j].label);
            }
          g_string_append_c (s, '\n');
        }
    }
  return g_string_free (s, FALSE);
}

/* xorshift for test data (deterministic). */
static inline guint32
rnd (guint64 *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (guint32) (*s >> 11);
}

/* A random mask: a few filled ellipses, some holes and speckles. */
static inline guint8 *
random_mask (guint64 *seed, int w, int h)
{
  guint8 *m = g_malloc0 ((gsize) w * h);
  int n = 1 + rnd (seed) % 4;

  for (int e = 0; e < n; e++)
    {
      double cx = rnd (seed) % w, cy = rnd (seed) % h;
      double rx = 1 + rnd (seed) % MAX (1, w / 3), ry = 1 + rnd (seed) % MAX (1, h / 3);
      guint8 v = e == 0 || rnd (seed) % 4 ? 1 : 0; /* some ellipses cut holes */
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            double dx = (x - cx) / rx, dy = (y - cy) / ry;
            if (dx * dx + dy * dy <= 1)
              m[y * w + x] = v;
          }
    }
  for (int k = rnd (seed) % 6; k > 0; k--)
    m[rnd (seed) % (w * h)] ^= 1;
  return m;
}

/* A fresh temporary folder (removed by the caller with rm_rf). */
static inline char *
make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("ssa-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static inline void
rm_rf (const char *path)
{
  GDir *d;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_DIR) && (d = g_dir_open (path, 0, NULL)) != NULL)
    {
      while ((name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_dir_close (d);
    }
  g_remove (path);
}

static inline void
touch (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_file_set_contents (path, "not really an image", -1, &error);
  g_assert_no_error (error);
}

/* A one-line error message that names `name`. */
static inline void
assert_one_line_error (const GError *error, const char *name)
{
  g_assert_nonnull (error);
  g_assert_null (strchr (error->message, '\n'));
  if (name != NULL && !g_str_has_prefix (error->message, name))
    g_error ("error message does not start with %s: %s", name, error->message);
}
