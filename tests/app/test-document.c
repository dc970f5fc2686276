/* test-document.c — SsaDocument: undo / redo of every change, signals, list models, RLE. */
#include "test-util.h"

#define W 24
#define H 17

static SsaDocument *
new_doc (guint n_images)
{
  SsaDocument *doc = ssa_document_new ();
  for (guint i = 0; i < n_images; i++)
    {
      g_autofree char *p = g_strdup_printf ("/nonexistent/img%u.png", i);
      ssa_document_add_image (doc, p, W, H, 0);
    }
  return doc;
}

static void
test_undo_every_change (void)
{
  g_autoptr(SsaDocument) doc = new_doc (2);
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(SsaPrompt) prompt = ssa_prompt_new ();
  guint64 seed = 42;
  g_autofree guint8 *m1 = random_mask (&seed, W, H);
  g_autofree guint8 *m2 = random_mask (&seed, W, H);
  static const char *labels[] = { NULL, "Add category", "Add category", "Add object", "Add object",
                                  "Change mask", "Change category", "Hide object", "Rename category",
                                  "Change category colour", "Remove object", "Remove category" };
  SsaObject *o1, *o2;
  SsaCategory *c1, *c2;
  gint64 id1, id2;

  prompt->has_box = TRUE;
  prompt->box[0] = 1.5f; prompt->box[1] = 2; prompt->box[2] = 20; prompt->box[3] = 15.25f;
  ssa_prompt_add_point (prompt, 3, 4, 1);
  ssa_prompt_add_point (prompt, 5.5f, 6, 0);
  prompt->mode = SS_MODE_STABLE;
  prompt->iou_pred = 0.913f;

  g_ptr_array_add (states, doc_state (doc));
  c1 = ssa_document_add_category (doc, 0, "cat", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ssa_category_get_id (c1), ==, 1);
  g_ptr_array_add (states, doc_state (doc));
  c2 = ssa_document_add_category (doc, 7, "dog", 0x11223344, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ssa_category_get_id (c2), ==, 7);
  g_ptr_array_add (states, doc_state (doc));
  o1 = ssa_document_add_object (doc, 0, 1, m1, W, H, prompt, &error);
  g_assert_no_error (error);
  id1 = ssa_object_get_id (o1);
  g_ptr_array_add (states, doc_state (doc));
  o2 = ssa_document_add_object (doc, 1, 7, m2, W, H, NULL, &error);
  g_assert_no_error (error);
  id2 = ssa_object_get_id (o2);
  g_assert_cmpint (id1, !=, id2);
  g_ptr_array_add (states, doc_state (doc));
  g_assert_true (ssa_document_set_object_mask (doc, id1, m2, W, H, NULL, &error));
  g_ptr_array_add (states, doc_state (doc));
  g_assert_true (ssa_document_set_object_category (doc, id1, 7, &error));
  g_ptr_array_add (states, doc_state (doc));
  g_assert_true (ssa_document_set_object_visible (doc, id2, FALSE, &error));
  g_ptr_array_add (states, doc_state (doc));
  g_assert_true (ssa_document_rename_category (doc, 1, "kitten", &error));
  g_ptr_array_add (states, doc_state (doc));
  g_assert_true (ssa_document_recolor_category (doc, 1, 0xff0000ff, &error));
  g_ptr_array_add (states, doc_state (doc));
  g_assert_true (ssa_document_remove_object (doc, id2, &error));
  g_ptr_array_add (states, doc_state (doc));
  g_assert_true (ssa_document_remove_category (doc, 7, &error)); /* takes o1 with it */
  g_assert_no_error (error);
  g_ptr_array_add (states, doc_state (doc));
  g_assert_null (ssa_document_find_object (doc, id1));

  /* no-op changes leave no step */
  g_assert_true (ssa_document_rename_category (doc, 1, "kitten", &error));
  g_assert_cmpuint (ssa_document_get_undo_depth (doc), ==, states->len - 1);

  for (guint i = states->len - 1; i > 0; i--)
    {
      g_autofree char *s = NULL;
      g_assert_cmpstr (ssa_document_get_undo_label (doc), ==, labels[i]);
      g_assert_true (ssa_document_undo (doc));
      s = doc_state (doc);
      g_assert_cmpstr (s, ==, g_ptr_array_index (states, i - 1));
    }
  g_assert_false (ssa_document_can_undo (doc));
  g_assert_false (ssa_document_undo (doc));
  for (guint i = 1; i < states->len; i++)
    {
      g_autofree char *s = NULL;
      g_assert_cmpstr (ssa_document_get_redo_label (doc), ==, labels[i]);
      g_assert_true (ssa_document_redo (doc));
      s = doc_state (doc);
      g_assert_cmpstr (s, ==, g_ptr_array_index (states, i));
    }
  g_assert_false (ssa_document_redo (doc));

  /* undo twice, then a new change clears the redo stack */
  g_assert_true (ssa_document_undo (doc));
  g_assert_true (ssa_document_undo (doc));
  g_assert_cmpuint (ssa_document_get_redo_depth (doc), ==, 2);
  g_assert_true (ssa_document_set_object_visible (doc, id1, FALSE, &error));
  g_assert_false (ssa_document_can_redo (doc));
  g_assert_cmpstr (ssa_document_get_undo_label (doc), ==, "Hide object");
}

static void
test_prompt_roundtrip (void)
{
  g_autoptr(SsaDocument) doc = new_doc (1);
  g_autoptr(SsaPrompt) p = ssa_prompt_new ();
  g_autoptr(GError) error = NULL;
  guint8 mask[W * H] = { 0 };
  SsaObject *o;

  ssa_document_add_category (doc, 0, "a", 0, &error);
  p->has_box = TRUE;
  p->box[2] = 10;
  p->box[3] = 11;
  ssa_prompt_add_point (p, 1.25f, 2.5f, 1);
  o = ssa_document_add_object (doc, 0, 1, mask, W, H, p, &error);
  g_assert_no_error (error);
  g_assert_true (ssa_prompt_equal (ssa_object_get_prompt (o), p));
  g_assert_cmpint (ssa_object_get_area (o), ==, 0);
  /* invalid prompts are refused */
  p->points[0].label = 3;
  g_assert_null (ssa_document_add_object (doc, 0, 1, mask, W, H, p, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID);
  g_clear_error (&error);
  p->points[0].label = 0;
  p->box[1] = NAN;
  g_assert_null (ssa_document_add_object (doc, 0, 1, mask, W, H, p, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID);
}

static void
test_errors (void)
{
  g_autoptr(SsaDocument) doc = new_doc (1);
  g_autoptr(GError) error = NULL;
  guint8 mask[W * H] = { 0 };

  g_assert_null (ssa_document_add_object (doc, 0, 1, mask, W, H, NULL, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND); /* no category */
  g_clear_error (&error);
  ssa_document_add_category (doc, 0, "a", 0, &error);
  g_assert_no_error (error);
  g_assert_null (ssa_document_add_category (doc, 1, "again", 0, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (ssa_document_add_object (doc, 0, 1, mask, W + 1, H, NULL, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE);
  g_clear_error (&error);
  g_assert_null (ssa_document_add_object (doc, 3, 1, mask, W, H, NULL, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (ssa_document_add_object_rle (doc, 0, 1, "not-rle!", W, H, NULL, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (ssa_document_remove_object (doc, 99, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (ssa_document_rename_category (doc, 5, "x", &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpuint (ssa_document_get_undo_depth (doc), ==, 1); /* only the category */
  /* an image of unknown size takes the first mask's size, then keeps it */
  ssa_document_add_image (doc, "/nonexistent/unknown.png", 0, 0, 0);
  g_assert_nonnull (ssa_document_add_object (doc, 1, 1, mask, 5, 4, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ssa_image_entry_get_width (ssa_document_get_image (doc, 1)), ==, 5);
  g_assert_false (ssa_document_set_image_size (doc, 1, 6, 4, &error));
  g_assert_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE);
}

typedef struct { int added, removed, changed, cat_changed, items, changed_sig; } Counts;

static void on_added (SsaDocument *d, SsaObject *o, Counts *c) { c->added++; }
static void on_removed (SsaDocument *d, SsaObject *o, Counts *c) { c->removed++; }
static void on_changed (SsaDocument *d, SsaObject *o, Counts *c) { c->changed++; }
static void on_cat_changed (SsaDocument *d, SsaCategory *o, Counts *c) { c->cat_changed++; }
static void on_doc_changed (SsaDocument *d, Counts *c) { c->changed_sig++; }
static void on_items (GListModel *m, guint p, guint r, guint a, Counts *c) { c->items += (int) a - (int) r; }

static void
test_signals_and_models (void)
{
  g_autoptr(SsaDocument) doc = new_doc (2);
  g_autoptr(GError) error = NULL;
  Counts c = { 0 };
  guint8 mask[W * H] = { 0 };
  SsaObject *o;
  gint64 id;

  g_signal_connect (doc, "object-added", G_CALLBACK (on_added), &c);
  g_signal_connect (doc, "object-removed", G_CALLBACK (on_removed), &c);
  g_signal_connect (doc, "object-changed", G_CALLBACK (on_changed), &c);
  g_signal_connect (doc, "category-changed", G_CALLBACK (on_cat_changed), &c);
  g_signal_connect (doc, "changed", G_CALLBACK (on_doc_changed), &c);
  g_signal_connect (ssa_image_entry_get_objects (ssa_document_get_image (doc, 1)), "items-changed",
                    G_CALLBACK (on_items), &c);
  ssa_document_add_category (doc, 0, "a", 0, &error);
  mask[5] = 1;
  ssa_document_set_current_image (doc, 0);
  o = ssa_document_add_object (doc, 1, 1, mask, W, H, NULL, &error);
  id = ssa_object_get_id (o);
  g_assert_cmpint (c.added, ==, 1);
  g_assert_cmpint (c.items, ==, 1);
  ssa_document_set_object_visible (doc, id, FALSE, &error);
  g_assert_cmpint (c.changed, ==, 1);
  ssa_document_recolor_category (doc, 1, 0x123456ff, &error);
  g_assert_cmpint (c.cat_changed, ==, 1);
  /* undo of the visibility change: the undo is about image 1 → it becomes current */
  ssa_document_undo (doc);
  ssa_document_set_current_image (doc, 0);
  ssa_document_undo (doc);
  g_assert_cmpint (ssa_document_get_current_image (doc), ==, 1);
  g_assert_true (ssa_object_get_visible (o)); /* same instance, changed in place */
  g_assert_cmpint (c.changed, ==, 2);
  ssa_document_undo (doc);
  g_assert_cmpint (c.removed, ==, 1);
  g_assert_cmpint (c.items, ==, 0);
  ssa_document_redo (doc);
  g_assert_cmpint (c.items, ==, 1);
  g_assert_nonnull (ssa_document_find_object (doc, id));
  g_assert_cmpint (c.changed_sig, >=, 8);
  g_assert_true (ssa_document_get_modified (doc));
}

static void
test_groups (void)
{
  g_autoptr(SsaDocument) doc = new_doc (1);
  g_autoptr(GError) error = NULL;
  guint8 mask[W * H] = { 0 };
  g_autofree char *s0 = NULL, *s1 = NULL;

  ssa_document_add_category (doc, 0, "a", 0, &error);
  s0 = doc_state (doc);
  ssa_document_begin_group (doc, "Paste objects");
  ssa_document_begin_group (doc, "inner");
  for (int i = 0; i < 3; i++)
    {
      mask[i] = 1;
      ssa_document_add_object (doc, 0, 1, mask, W, H, NULL, &error);
    }
  ssa_document_end_group (doc);
  g_assert_false (ssa_document_can_undo (doc)); /* not while a group is open */
  ssa_document_end_group (doc);
  ssa_document_begin_group (doc, "empty");
  ssa_document_end_group (doc);
  g_assert_cmpstr (ssa_document_get_undo_label (doc), ==, "Paste objects");
  s1 = doc_state (doc);
  g_assert_true (ssa_document_undo (doc));
  {
    g_autofree char *s = doc_state (doc);
    g_assert_cmpstr (s, ==, s0);
  }
  g_assert_true (ssa_document_redo (doc));
  {
    g_autofree char *s = doc_state (doc);
    g_assert_cmpstr (s, ==, s1);
  }
}

/* Random edit sequences: undo all the way back and redo all the way forward, checking every
 * intermediate state. */
static void
test_random_sequence (void)
{
  guint64 seed = 0x9e3779b97f4a7c15ull;

  for (int run = 0; run < 4; run++)
    {
      g_autoptr(SsaDocument) doc = new_doc (3);
      g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GError) error = NULL;
      int n_steps = 120;

      ssa_document_set_undo_limit (doc, 1000);
      g_ptr_array_add (states, doc_state (doc));
      for (int step = 0; step < n_steps; step++)
        {
          GListModel *cats = ssa_document_get_categories (doc);
          guint n_cats = g_list_model_get_n_items (cats);
          guint img = rnd (&seed) % 3;
          GListModel *objs = ssa_image_entry_get_objects (ssa_document_get_image (doc, img));
          guint n_objs = g_list_model_get_n_items (objs);
          g_autoptr(SsaCategory) cat = n_cats ? g_list_model_get_item (cats, rnd (&seed) % n_cats) : NULL;
          g_autoptr(SsaObject) obj = n_objs ? g_list_model_get_item (objs, rnd (&seed) % n_objs) : NULL;
          guint op = rnd (&seed) % 10;
          guint before = ssa_document_get_undo_depth (doc);
          g_autofree char *prev = doc_state (doc);
          g_autofree char *now = NULL;

          if (cat == NULL || op == 0)
            {
              g_autofree char *name = g_strdup_printf ("c%d", step);
              ssa_document_add_category (doc, 0, name, 0, &error);
            }
          else if (op <= 3 || obj == NULL)
            {
              g_autofree guint8 *m = random_mask (&seed, W, H);
              ssa_document_add_object (doc, img, ssa_category_get_id (cat), m, W, H, NULL, &error);
            }
          else if (op == 4)
            ssa_document_remove_object (doc, ssa_object_get_id (obj), &error);
          else if (op == 5)
            {
              g_autofree guint8 *m = random_mask (&seed, W, H);
              ssa_document_set_object_mask (doc, ssa_object_get_id (obj), m, W, H, NULL, &error);
            }
          else if (op == 6)
            ssa_document_set_object_category (doc, ssa_object_get_id (obj), ssa_category_get_id (cat), &error);
          else if (op == 7)
            ssa_document_set_object_visible (doc, ssa_object_get_id (obj), !ssa_object_get_visible (obj), &error);
          else if (op == 8)
            {
              g_autofree char *name = g_strdup_printf ("r%d", step);
              if (rnd (&seed) % 2)
                ssa_document_rename_category (doc, ssa_category_get_id (cat), name, &error);
              else
                ssa_document_recolor_category (doc, ssa_category_get_id (cat), rnd (&seed) | 1, &error);
            }
          else if (rnd (&seed) % 3 == 0)
            ssa_document_remove_category (doc, ssa_category_get_id (cat), &error);
          else
            {
              /* an undo in the middle of the sequence drops the last state */
              if (ssa_document_undo (doc))
                g_ptr_array_remove_index (states, states->len - 1);
              continue;
            }
          g_assert_no_error (error);
          now = doc_state (doc);
          if (ssa_document_get_undo_depth (doc) == before)
            g_assert_cmpstr (now, ==, prev); /* no-op change (same category / visibility) */
          else
            {
              g_assert_cmpuint (ssa_document_get_undo_depth (doc), ==, before + 1);
              g_ptr_array_add (states, g_steal_pointer (&now));
            }
        }
      g_assert_cmpuint (ssa_document_get_undo_depth (doc), ==, states->len - 1);
      for (guint i = states->len - 1; i > 0; i--)
        {
          g_autofree char *s = NULL;
          g_assert_true (ssa_document_undo (doc));
          s = doc_state (doc);
          g_assert_cmpstr (s, ==, g_ptr_array_index (states, i - 1));
        }
      for (guint i = 1; i < states->len; i++)
        {
          g_autofree char *s = NULL;
          g_assert_true (ssa_document_redo (doc));
          s = doc_state (doc);
          g_assert_cmpstr (s, ==, g_ptr_array_index (states, i));
        }
    }
}

/* Masks go through the document as COCO RLE and come back bit-exact. */
static void
test_rle_roundtrip (void)
{
  guint64 seed = 7;
  static const int sizes[][2] = { { 1, 1 }, { 1, 9 }, { 9, 1 }, { 31, 17 }, { 64, 48 }, { 200, 3 },
                                  { 3, 200 }, { 130, 67 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      int w = sizes[s][0], h = sizes[s][1];
      g_autoptr(SsaDocument) doc = ssa_document_new ();
      g_autoptr(GError) error = NULL;

      ssa_document_add_image (doc, "/nonexistent/x.png", w, h, 0);
      ssa_document_add_category (doc, 0, "a", 0, &error);
      for (int k = 0; k < 20; k++)
        {
          g_autofree guint8 *m = random_mask (&seed, w, h);
          g_autofree guint8 *back = NULL;
          SsaObject *o;
          double bb[4], ref[4];
          int bw, bh;

          if (k == 0) memset (m, 0, (gsize) w * h);
          if (k == 1) memset (m, 1, (gsize) w * h);
          o = ssa_document_add_object (doc, 0, 1, m, w, h, NULL, &error);
          g_assert_no_error (error);
          back = ssa_object_decode_mask (o, &bw, &bh);
          g_assert_cmpint (bw, ==, w);
          g_assert_cmpint (bh, ==, h);
          g_assert_cmpmem (back, (gsize) w * h, m, (gsize) w * h);
          {
            /* the document's RLE is the engine's */
            char err[256];
            char *ref_rle = ss_mask_to_rle_string (m, w, h, err, sizeof err);
            g_assert_nonnull (ref_rle);
            g_assert_cmpstr (ssa_object_get_rle (o), ==, ref_rle);
            free (ref_rle);
          }
          g_assert_cmpint (ssa_object_get_area (o), ==, (gint64) ss_mask_area (m, w, h));
          ssa_object_get_bbox (o, bb);
          ss_mask_bbox (m, w, h, ref);
          g_assert_cmpmem (bb, sizeof bb, ref, sizeof ref);
          /* the same mask through its RLE string */
          {
            SsaObject *o2 = ssa_document_add_object_rle (doc, 0, 1, ssa_object_get_rle (o), w, h, NULL, &error);
            g_autofree guint8 *back2 = ssa_object_decode_mask (o2, NULL, NULL);
            g_assert_no_error (error);
            g_assert_cmpmem (back2, (gsize) w * h, m, (gsize) w * h);
          }
        }
    }
}

/* The history keeps the last "undo-limit" steps. */
static void
test_undo_limit (void)
{
  g_autoptr(SsaDocument) doc = new_doc (1);
  g_autoptr(GError) error = NULL;
  g_autofree char *after2 = NULL, *s = NULL;

  ssa_document_set_undo_limit (doc, 3);
  for (int i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("c%d", i);
      ssa_document_add_category (doc, 0, name, 0, &error);
      if (i == 1)
        after2 = doc_state (doc);
    }
  g_assert_cmpuint (ssa_document_get_undo_depth (doc), ==, 3);
  while (ssa_document_undo (doc))
    ;
  s = doc_state (doc);
  g_assert_cmpstr (s, ==, after2);
  g_assert_cmpuint (ssa_document_get_redo_depth (doc), ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/document/undo-every-change", test_undo_every_change);
  g_test_add_func ("/document/prompt", test_prompt_roundtrip);
  g_test_add_func ("/document/errors", test_errors);
  g_test_add_func ("/document/signals-and-models", test_signals_and_models);
  g_test_add_func ("/document/groups", test_groups);
  g_test_add_func ("/document/random-sequence", test_random_sequence);
  g_test_add_func ("/document/rle-roundtrip", test_rle_roundtrip);
  g_test_add_func ("/document/undo-limit", test_undo_limit);
  return g_test_run ();
}
