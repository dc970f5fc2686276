/* test-coco.c — COCO export / import: RLE identity, polygons, uncompressed RLE, errors,
 * and the `stablesam export` / `import` commands. */
#include "test-util.h"
#include "cli-commands.h"

/* A document whose images exist as files in dir (sub-folders too). */
static SsaDocument *
build_doc (const char *dir, guint64 seed)
{
  SsaDocument *doc = ssa_document_new ();
  g_autoptr(GError) error = NULL;
  static const struct { const char *file; int w, h; } imgs[] = {
    { "a.png", 32, 24 }, { "sub/b.jpg", 17, 40 }, { "c.png", 5, 3 },
  };
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);

  g_mkdir_with_parents (sub, 0755);
  ssa_document_set_autosave_delay (doc, 0);
  for (guint i = 0; i < G_N_ELEMENTS (imgs); i++)
    {
      g_autofree char *p = g_build_filename (dir, imgs[i].file, NULL);
      touch (p);
      ssa_document_add_image (doc, p, imgs[i].w, imgs[i].h, 100 + i);
    }
  ssa_document_add_category (doc, 3, "person", 0, &error);
  ssa_document_add_category (doc, 0, "bicycle", 0xabcdef80, &error);
  g_assert_no_error (error);
  for (int k = 0; k < 9; k++)
    {
      guint i = k % 3;
      int w = imgs[i].w, h = imgs[i].h;
      g_autofree guint8 *m = random_mask (&seed, w, h);
      ssa_document_add_object (doc, i, k % 2 ? 3 : 4, m, w, h, NULL, &error);
      g_assert_no_error (error);
    }
  return doc;
}

static void
test_rle_identity (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *coco = g_build_filename (dir, "coco.json", NULL);
  g_autoptr(SsaDocument) doc = build_doc (dir, 5);
  g_autoptr(SsaDocument) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *d1 = NULL, *d2 = NULL, *s1 = NULL, *s2 = NULL;
  gsize n1 = 0, n2 = 0;

  d1 = ssa_coco_export_to_data (doc, SSA_COCO_FLAGS_NONE, &n1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (d1, "\"iscrowd\":0"));
  g_assert_nonnull (strstr (d1, "\"file_name\":\"sub/b.jpg\""));
  g_assert_true (ssa_coco_export (doc, coco, SSA_COCO_FLAGS_NONE, &error));
  back = ssa_coco_import (coco, dir, &error);
  g_assert_no_error (error);
  g_assert_false (ssa_document_can_undo (back));
  d2 = ssa_coco_export_to_data (back, SSA_COCO_FLAGS_NONE, &n2, &error);
  g_assert_cmpstr (d1, ==, d2);
  /* the documents agree on everything COCO carries (prompts are not in COCO) */
  s1 = doc_state (doc);
  s2 = doc_state (back);
  g_assert_cmpstr (s1, ==, s2);
  ssa_document_set_autosave_delay (back, 0);
  rm_rf (dir);
}

/* Import → export → import with the same --images folder works even when every image lies in
 * one sub-folder (file names stay relative to the import folder, kept in the project). */
static void
test_images_root (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autofree char *img = g_build_filename (sub, "b.png", NULL);
  g_autofree char *project = g_build_filename (dir, "p.json", NULL);
  const char *json = "{\"images\": [{\"id\": 4, \"file_name\": \"sub/b.png\", \"width\": 3, \"height\": 2}],"
                     " \"categories\": [{\"id\": 1, \"name\": \"a\"}], \"annotations\": []}";
  g_autoptr(GError) error = NULL;
  g_autoptr(SsaDocument) doc = NULL, reopened = NULL, again = NULL;
  g_autofree char *d1 = NULL, *d2 = NULL;

  g_mkdir_with_parents (sub, 0755);
  touch (img);
  doc = ssa_coco_import_data (json, strlen (json), "r.json", dir, &error);
  g_assert_no_error (error);
  g_assert_true (ssa_document_save (doc, project, &error));
  reopened = ssa_document_new_from_file (project, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ssa_document_get_images_root (reopened), ==, dir);
  d1 = ssa_coco_export_to_data (reopened, SSA_COCO_FLAGS_NONE, NULL, &error);
  g_assert_nonnull (strstr (d1, "\"file_name\":\"sub/b.png\""));
  again = ssa_coco_import_data (d1, strlen (d1), "r2.json", dir, &error);
  g_assert_no_error (error);
  d2 = ssa_coco_export_to_data (again, SSA_COCO_FLAGS_NONE, NULL, &error);
  g_assert_cmpstr (d1, ==, d2);
  ssa_document_set_autosave_delay (doc, 0);
  ssa_document_set_autosave_delay (reopened, 0);
  ssa_document_set_autosave_delay (again, 0);
  rm_rf (dir);
}

/* The area and bbox written are pycocotools' area() / toBbox() of the RLE. */
static void
test_area_bbox (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *img = g_build_filename (dir, "i.png", NULL);
  g_autoptr(SsaDocument) doc = ssa_document_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  guint8 m[6 * 4] = { 0 }; /* w 6, h 4 */

  touch (img);
  ssa_document_set_autosave_delay (doc, 0);
  ssa_document_add_image (doc, img, 6, 4, 0);
  ssa_document_add_category (doc, 0, "a", 0, &error);
  m[1 * 6 + 2] = m[1 * 6 + 3] = m[2 * 6 + 3] = m[3 * 6 + 4] = 1; /* x 2..4, y 1..3 */
  ssa_document_add_object (doc, 0, 1, m, 6, 4, NULL, &error);
  data = ssa_coco_export_to_data (doc, SSA_COCO_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (data, "\"area\":4"));
  g_assert_nonnull (strstr (data, "\"bbox\":[\n            2,\n            1,\n            3,\n            3\n") ?:
                    strstr (data, "\"bbox\":["));
  {
    /* parse it back and check the numbers, independent of the layout */
    g_autoptr(SsaDocument) back = ssa_coco_import_data (data, strlen (data), "x.json", dir, &error);
    SsaObject *o = ssa_document_find_object (back, 1);
    double bb[4];
    g_assert_no_error (error);
    ssa_object_get_bbox (o, bb);
    g_assert_cmpfloat (bb[0], ==, 2);
    g_assert_cmpfloat (bb[1], ==, 1);
    g_assert_cmpfloat (bb[2], ==, 3);
    g_assert_cmpfloat (bb[3], ==, 3);
    /* pycocotools' encoding of this mask (column-major runs 6,1,3,2,3,1,8 → "61327" …) */
    g_assert_cmpstr (ssa_object_get_rle (o), ==, ssa_object_get_rle (ssa_document_find_object (doc, 1)));
    ssa_document_set_autosave_delay (back, 0);
  }
  rm_rf (dir);
}

/* mask ∪ holes, with background 8-connected (the complement of 4-connected objects). */
static guint8 *
fill_holes (const guint8 *m, int w, int h)
{
  guint8 *out = g_malloc ((gsize) w * h);
  guint8 *seen = g_malloc0 ((gsize) w * h);
  GArray *stack = g_array_new (FALSE, FALSE, sizeof (int));

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && !m[y * w + x] && !seen[y * w + x])
        {
          int v = y * w + x;
          seen[v] = 1;
          g_array_append_val (stack, v);
        }
  while (stack->len)
    {
      int v = g_array_index (stack, int, stack->len - 1), x = v % w, y = v / w;
      g_array_set_size (stack, stack->len - 1);
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++)
          {
            int nx = x + dx, ny = y + dy, n = ny * w + nx;
            if (nx < 0 || ny < 0 || nx >= w || ny >= h || m[n] || seen[n])
              continue;
            seen[n] = 1;
            g_array_append_val (stack, n);
          }
    }
  for (int i = 0; i < w * h; i++)
    out[i] = m[i] || !seen[i];
  g_array_unref (stack);
  g_free (seen);
  return out;
}

static guint8 *
rasterise (GPtrArray *polys, int w, int h)
{
  guint8 *m = g_malloc0 ((gsize) w * h);
  g_autofree const double **c = g_new0 (const double *, polys->len + 1);
  g_autofree guint *n = g_new0 (guint, polys->len + 1);

  for (guint i = 0; i < polys->len; i++)
    {
      GArray *p = g_ptr_array_index (polys, i);
      c[i] = (const double *) p->data;
      n[i] = p->len;
    }
  ssa_polygons_fill (c, n, polys->len, m, w, h);
  return m;
}

/* Tracing without simplification is exact (holes filled); with DP 1 px it stays close. */
static void
test_polygons_trace (void)
{
  guint64 seed = 99;
  double worst = 1;

  for (int k = 0; k < 300; k++)
    {
      int w = 1 + rnd (&seed) % 40, h = 1 + rnd (&seed) % 40;
      g_autofree guint8 *m = random_mask (&seed, w, h);
      g_autofree guint8 *filled = fill_holes (m, w, h);
      g_autoptr(GPtrArray) exact = ssa_mask_to_polygons (m, w, h, 0);
      g_autoptr(GPtrArray) simple = ssa_mask_to_polygons (m, w, h, SSA_COCO_POLYGON_TOLERANCE);
      g_autofree guint8 *r0 = rasterise (exact, w, h);
      g_autofree guint8 *r1 = rasterise (simple, w, h);
      gsize total = 0, total_s = 0;
      double iou;

      if (memcmp (r0, filled, (gsize) w * h) != 0)
        g_error ("case %d (%dx%d): traced polygons do not rasterise to the mask", k, w, h);
      for (guint i = 0; i < exact->len; i++)
        {
          GArray *p = g_ptr_array_index (exact, i);
          g_assert_cmpuint (p->len % 2, ==, 0);
          g_assert_cmpuint (p->len, >=, 8);
          total += p->len;
        }
      for (guint i = 0; i < simple->len; i++)
        {
          GArray *p = g_ptr_array_index (simple, i);
          g_assert_cmpuint (p->len, >=, 6);
          total_s += p->len;
        }
      g_assert_cmpuint (simple->len, ==, exact->len);
      g_assert_cmpuint (total_s, <=, total);
      if (ss_mask_area (filled, w, h) >= 100)
        {
          iou = ss_iou (r1, filled, NULL, w, h);
          worst = MIN (worst, iou);
        }
    }
  g_test_message ("worst IoU of DP-simplified polygons vs the (hole-filled) mask, objects >= 100 px: %.3f", worst);
  g_assert_cmpfloat (worst, >, 0.75);
}

static void
test_polygon_import (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *img = g_build_filename (dir, "i.png", NULL);
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SsaDocument) doc = NULL;
  guint8 *m;
  int w, h;

  touch (img);
  /* a 4x3 rectangle on pixel corners, a triangle, and uncompressed RLE of a 2-pixel column */
  json = g_strdup ("{\"images\": [{\"id\": 7, \"file_name\": \"i.png\", \"width\": 10, \"height\": 8}],"
                   " \"categories\": [{\"id\": 1, \"name\": \"box\"}],"
                   " \"annotations\": ["
                   "  {\"id\": 1, \"image_id\": 7, \"category_id\": 1, \"iscrowd\": 0,"
                   "   \"segmentation\": [[2, 2, 6, 2, 6, 5, 2, 5]]},"
                   "  {\"id\": 2, \"image_id\": 7, \"category_id\": 1,"
                   "   \"segmentation\": [[0, 0, 4, 0, 0, 4], [8, 6, 10, 6, 10, 8, 8, 8]]},"
                   "  {\"id\": 3, \"image_id\": 7, \"category_id\": 1, \"iscrowd\": 1,"
                   "   \"segmentation\": {\"size\": [8, 10], \"counts\": [9, 2, 69]}}]}");
  doc = ssa_coco_import_data (json, strlen (json), "p.json", dir, &error);
  g_assert_no_error (error);
  ssa_document_set_autosave_delay (doc, 0);

  m = ssa_object_decode_mask (ssa_document_find_object (doc, 1), &w, &h);
  g_assert_cmpint (w, ==, 10);
  g_assert_cmpint (h, ==, 8);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      g_assert_cmpint (m[y * w + x], ==, x >= 2 && x < 6 && y >= 2 && y < 5);
  g_free (m);
  g_assert_cmpint (ssa_object_get_area (ssa_document_find_object (doc, 1)), ==, 12);
  /* triangle: pixel centres (x + .5, y + .5) with x + y < 3 → 6 pixels; square 2x2 → 4 */
  g_assert_cmpint (ssa_object_get_area (ssa_document_find_object (doc, 2)), ==, 6 + 4);
  m = ssa_object_decode_mask (ssa_document_find_object (doc, 3), &w, &h);
  /* column-major: 9 zeros (x 0 y 0..7, x 1 y 0), then y 1..2 of column 1 */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      g_assert_cmpint (m[y * w + x], ==, x == 1 && (y == 1 || y == 2));
  g_free (m);
  g_assert_true (ssa_object_get_iscrowd (ssa_document_find_object (doc, 3)));

  /* polygon export → import: the rectangles and the 2-pixel column come back exactly; the
   * 6-pixel staircase of the triangle is simplified (DP 1 px) and may lose its corner pixels */
  {
    g_autofree char *poly = ssa_coco_export_to_data (doc, SSA_COCO_FLAGS_POLYGONS, NULL, &error);
    g_autoptr(SsaDocument) again = ssa_coco_import_data (poly, strlen (poly), "q.json", dir, &error);
    g_assert_no_error (error);
    g_assert_nonnull (strstr (poly, "\"segmentation\":[\n"));
    ssa_document_set_autosave_delay (again, 0);
    for (gint64 id = 1; id <= 3; id++)
      {
        SsaObject *a = ssa_document_find_object (doc, id), *b = ssa_document_find_object (again, id);
        if (id != 2)
          g_assert_cmpstr (ssa_object_get_rle (a), ==, ssa_object_get_rle (b));
        else
          {
            g_autofree guint8 *ma = ssa_object_decode_mask (a, &w, &h);
            g_autofree guint8 *mb = ssa_object_decode_mask (b, NULL, NULL);
            g_assert_cmpfloat (ss_iou (ma, mb, NULL, w, h), >=, 0.7);
          }
        g_assert_cmpint (ssa_object_get_iscrowd (a), ==, ssa_object_get_iscrowd (b));
      }
  }
  rm_rf (dir);
}

static void
test_import_errors (void)
{
  static const char *const bad[] = {
    "",
    "[]",
    "{\"images\": []}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 2, \"category_id\": 1, \"segmentation\": [[0,0,1,0,1,1]]}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": [[0,0,1,0,1,1]]}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"missing.png\", \"width\": 4, \"height\": 4}], \"categories\": []}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 0, \"height\": 4}], \"categories\": []}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}, {\"id\": 1, \"file_name\": \"j.png\", \"width\": 4, \"height\": 4}], \"categories\": []}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": {\"size\": [4, 4], \"counts\": \"zz\"}}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": {\"size\": [5, 4], \"counts\": \"0d0\"}}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": {\"size\": [4, 4], \"counts\": [3, -1, 14]}}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": {\"size\": [4, 4], \"counts\": [3, 2]}}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": [[0, 0, 1]]}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": [[0, 0, 1, \"x\", 2, 2]]}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": [[0,0,1,0,1,1]]},"
    "                   {\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"segmentation\": [[0,0,1,0,1,1]]}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"i.png\", \"width\": 4, \"height\": 4}], \"categories\": [{\"id\": 1, \"name\": \"a\"}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1}]}",
    "{\"images\": [{\"id\": 1, \"file_name\": \"new\\nline.png\", \"width\": 4, \"height\": 4}], \"categories\": []}",
  };
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *img = g_build_filename (dir, "i.png", NULL);
  g_autofree char *img2 = g_build_filename (dir, "j.png", NULL);
  g_autoptr(GError) error = NULL;

  touch (img);
  touch (img2);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *name = g_strdup_printf ("bad%u.json", i);
      SsaDocument *doc = ssa_coco_import_data (bad[i], strlen (bad[i]), name, dir, &error);
      if (doc != NULL)
        g_error ("case %u was accepted: %s", i, bad[i]);
      assert_one_line_error (error, name);
      g_test_message ("case %u: %s", i, error->message);
      g_clear_error (&error);
    }
  /* truncations of a real export */
  {
    g_autoptr(SsaDocument) doc = build_doc (dir, 3);
    gsize n = 0;
    g_autofree char *data = ssa_coco_export_to_data (doc, SSA_COCO_FLAGS_NONE, &n, &error);
    for (gsize cut = 0; cut + 2 < n; cut += 1 + cut / 8)
      {
        g_assert_null (ssa_coco_import_data (data, cut, "cut.json", dir, &error));
        assert_one_line_error (error, "cut.json");
        g_clear_error (&error);
      }
  }
  rm_rf (dir);
}

/* The CLI commands, in a subprocess so that exit codes and stderr can be checked. */
static char *cli_dir;

static void
test_cli (void)
{
  g_autofree char *project = g_build_filename (cli_dir, "p.json", NULL);
  g_autofree char *coco = g_build_filename (cli_dir, "out.json", NULL);
  g_autofree char *coco2 = g_build_filename (cli_dir, "out2.json", NULL);
  g_autofree char *poly = g_build_filename (cli_dir, "poly.json", NULL);
  g_autofree char *project2 = g_build_filename (cli_dir, "p2.json", NULL);
  g_autofree char *d1 = NULL, *d2 = NULL;
  g_autoptr(GError) error = NULL;

  if (g_test_subprocess ())
    {
      const char *mode = g_getenv ("SSA_CLI_CASE");
      if (g_strcmp0 (mode, "usage") == 0)
        {
          char *argv[] = { "export", project, NULL };
          exit (ssa_cmd_export (2, argv));
        }
      if (g_strcmp0 (mode, "missing") == 0)
        {
          char *argv[] = { "export", "/nonexistent/p.json", "--coco", coco, NULL };
          exit (ssa_cmd_export (4, argv));
        }
      if (g_strcmp0 (mode, "bad-import") == 0)
        {
          char *argv[] = { "import", project, "--images", cli_dir, "--project", project2, NULL };
          exit (ssa_cmd_import (6, argv)); /* a project file is not COCO */
        }
      return;
    }

  {
    g_autoptr(SsaDocument) doc = build_doc (cli_dir, 17);
    g_assert_true (ssa_document_save (doc, project, &error));
  }
  {
    char *argv[] = { "export", project, "--coco", coco, NULL };
    g_assert_cmpint (ssa_cmd_export (4, argv), ==, 0);
  }
  {
    char *argv[] = { "import", coco, "--images", cli_dir, "--project", project2, NULL };
    g_assert_cmpint (ssa_cmd_import (6, argv), ==, 0);
  }
  {
    char *argv[] = { "export", project2, "--coco=" , NULL };
    g_autofree char *opt = g_strconcat ("--coco=", coco2, NULL);
    argv[2] = opt;
    g_assert_cmpint (ssa_cmd_export (3, argv), ==, 0);
  }
  g_file_get_contents (coco, &d1, NULL, &error);
  g_file_get_contents (coco2, &d2, NULL, &error);
  g_assert_cmpstr (d1, ==, d2);
  {
    char *argv[] = { "export", project, "--coco", poly, "--polygons", NULL };
    g_assert_cmpint (ssa_cmd_export (5, argv), ==, 0);
    g_assert_true (g_file_test (poly, G_FILE_TEST_IS_REGULAR));
  }

  g_setenv ("SSA_CLI_CASE", "usage", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDIN);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("stablesam: export needs*usage:*");
  g_setenv ("SSA_CLI_CASE", "missing", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDIN);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("stablesam: /nonexistent/p.json: no such file\n");
  g_setenv ("SSA_CLI_CASE", "bad-import", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDIN);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("stablesam: *p.json: images[0]: \"file_name\" is missing\n");
  g_assert_false (g_file_test (project2 + 0, G_FILE_TEST_IS_DIR));
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  cli_dir = g_strdup (g_getenv ("SSA_CLI_DIR"));
  if (cli_dir == NULL)
    {
      cli_dir = make_tmpdir ();
      g_setenv ("SSA_CLI_DIR", cli_dir, TRUE);
    }
  g_test_add_func ("/coco/rle-identity", test_rle_identity);
  g_test_add_func ("/coco/area-bbox", test_area_bbox);
  g_test_add_func ("/coco/images-root", test_images_root);
  g_test_add_func ("/coco/polygons-trace", test_polygons_trace);
  g_test_add_func ("/coco/polygon-import", test_polygon_import);
  g_test_add_func ("/coco/import-errors", test_import_errors);
  g_test_add_func ("/coco/cli", test_cli);
  ret = g_test_run ();
  if (!g_test_subprocess ())
    rm_rf (cli_dir);
  return ret;
}
