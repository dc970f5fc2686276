/* test-project.c — project file: save / load round trip with history, relative paths,
 * autosave (debounced, atomic), malformed files → one-line errors, never a crash. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"
#include "ssa-core-private.h"

#define W 20
#define H 13

/* A project with 3 images (2 inside `dir`, 1 outside), 2 categories, objects, history with
 * both undo and redo steps. */
static SsaDocument *
build_doc (const char *dir, const char *outside)
{
  SsaDocument *doc = ssa_document_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SsaPrompt) p = ssa_prompt_new ();
  g_autofree char *sub = g_build_filename (dir, "img", NULL);
  g_autofree char *a = g_build_filename (sub, "a.png", NULL);
  g_autofree char *b = g_build_filename (dir, "b.png", NULL);
  guint64 seed = 11;
  SsaObject *o;

  g_mkdir_with_parents (sub, 0755);
  ssa_document_add_image (doc, a, W, H, 0);
  ssa_document_add_image (doc, b, W, H, 10);
  ssa_document_add_image (doc, outside, W, H, 0);
  ssa_document_set_image_hash (doc, 1, "00ff");
  ssa_document_add_category (doc, 0, "person", 0, &error);
  ssa_document_add_category (doc, 0, "car \"quoted\" / ünïcode", 0x10203040, &error);
  g_assert_no_error (error);
  p->has_box = TRUE;
  p->box[0] = 0.1f; p->box[1] = 1.0f / 3; p->box[2] = 19.75f; p->box[3] = 12;
  ssa_prompt_add_point (p, 2.2f, 3.3f, 1);
  p->mode = SS_MODE_STABLE;
  p->iou_pred = 0.8765f;
  for (int i = 0; i < 6; i++)
    {
      g_autofree guint8 *m = random_mask (&seed, W, H);
      o = ssa_document_add_object (doc, i % 3, 1 + i % 2, m, W, H, i % 2 ? p : NULL, &error);
      g_assert_no_error (error);
    }
  ssa_document_set_object_visible (doc, ssa_object_get_id (o), FALSE, &error);
  ssa_document_rename_category (doc, 1, "human", &error);
  ssa_document_remove_object (doc, 2, &error);
  g_assert_no_error (error);
  ssa_document_undo (doc);
  ssa_document_undo (doc);   /* two redo steps */
  ssa_document_set_current_image (doc, 2);
  return doc;
}

static char *
history_state (SsaDocument *doc)
{
  return g_strdup_printf ("undo %u '%s' redo %u '%s' current %d", ssa_document_get_undo_depth (doc),
                          ssa_document_get_undo_label (doc), ssa_document_get_redo_depth (doc),
                          ssa_document_get_redo_label (doc), ssa_document_get_current_image (doc));
}

static void
test_roundtrip (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *out_dir = make_tmpdir ();
  g_autofree char *outside = g_build_filename (out_dir, "c.png", NULL);
  g_autofree char *path = g_build_filename (dir, "project.json", NULL);
  g_autoptr(SsaDocument) doc = build_doc (dir, outside);
  g_autoptr(SsaDocument) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *s1 = NULL, *s2 = NULL, *h1 = NULL, *h2 = NULL, *bytes1 = NULL, *bytes2 = NULL;
  g_autofree char *path2 = g_build_filename (dir, "again.json", NULL);
  GDir *d;
  const char *name;
  int n_files = 0;

  g_assert_true (ssa_document_save (doc, path, &error));
  g_assert_no_error (error);
  g_assert_false (ssa_document_get_modified (doc));
  g_assert_cmpstr (ssa_document_get_path (doc), ==, path);
  back = ssa_document_new_from_file (path, &error);
  g_assert_no_error (error);
  s1 = doc_state (doc);
  s2 = doc_state (back);
  g_assert_cmpstr (s1, ==, s2);
  h1 = history_state (doc);
  h2 = history_state (back);
  g_assert_cmpstr (h1, ==, h2);
  g_assert_cmpstr (ssa_image_entry_get_hash (ssa_document_get_image (back, 1)), ==, "00ff");
  g_assert_cmpint (ssa_image_entry_get_id (ssa_document_get_image (back, 1)), ==, 10);
  g_assert_false (ssa_document_get_modified (back));

  /* paths: relative inside the project folder, absolute outside */
  g_file_get_contents (path, &bytes1, NULL, &error);
  g_assert_nonnull (strstr (bytes1, "\"file\":\"img/a.png\"") ?: strstr (bytes1, "\"file\": \"img/a.png\""));
  g_assert_nonnull (strstr (bytes1, outside));
  /* save(load(save(doc))) is byte-identical */
  g_assert_true (ssa_document_save (back, path2, &error));
  g_file_get_contents (path2, &bytes2, NULL, &error);
  g_assert_cmpstr (bytes1, ==, bytes2);

  /* the history works after reopening: same states as the original */
  for (int i = 0; i < 6; i++)
    {
      g_autofree char *a = NULL, *b = NULL;
      gboolean r1 = i < 2 ? ssa_document_redo (doc) : ssa_document_undo (doc);
      gboolean r2 = i < 2 ? ssa_document_redo (back) : ssa_document_undo (back);
      g_assert_true (r1 && r2);
      a = doc_state (doc);
      b = doc_state (back);
      g_assert_cmpstr (a, ==, b);
    }

  /* atomic save leaves no temporary file behind */
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    n_files++;
  g_dir_close (d);
  g_assert_cmpint (n_files, ==, 3); /* img/, project.json, again.json */
  ssa_document_set_autosave_delay (doc, 0);
  ssa_document_set_autosave_delay (back, 0);
  rm_rf (dir);
  rm_rf (out_dir);
}

static void
test_moved_project (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *dir2 = make_tmpdir ();
  g_autofree char *outside = g_build_filename (dir2, "c.png", NULL);
  g_autofree char *path = g_build_filename (dir, "p.json", NULL);
  g_autofree char *moved = g_build_filename (dir2, "moved", NULL);
  g_autofree char *moved_path = g_build_filename (moved, "p.json", NULL);
  g_autofree char *expect = g_build_filename (moved, "img", "a.png", NULL);
  g_autoptr(SsaDocument) doc = build_doc (dir, outside);
  g_autoptr(SsaDocument) back = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (ssa_document_save (doc, path, &error));
  g_assert_cmpint (g_rename (dir, moved), ==, 0);
  back = ssa_document_new_from_file (moved_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ssa_image_entry_get_path (ssa_document_get_image (back, 0)), ==, expect);
  g_assert_cmpstr (ssa_image_entry_get_path (ssa_document_get_image (back, 2)), ==, outside);
  ssa_document_set_autosave_delay (back, 0);
  rm_rf (dir2);
}

typedef struct { int saved; int failed; GMainLoop *loop; } SaveCount;

static void
on_saved (SsaDocument *doc, const char *path, SaveCount *c)
{
  c->saved++;
  g_main_loop_quit (c->loop);
}

static void
on_failed (SsaDocument *doc, GError *error, SaveCount *c)
{
  c->failed++;
  g_main_loop_quit (c->loop);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* Runs until a save (success or failure) quits the loop, or `ms` milliseconds. */
static void
run_loop (GMainLoop *loop, guint ms)
{
  guint id = g_timeout_add (ms, quit_loop, loop);
  g_main_loop_run (loop);
  g_source_remove (id);
}

static void
test_autosave (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "auto.json", NULL);
  g_autofree char *img = g_build_filename (dir, "x.png", NULL);
  g_autoptr(SsaDocument) doc = ssa_document_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  SaveCount c = { 0, 0, loop };
  guint8 mask[W * H] = { 0 };
  gint64 t0;

  ssa_document_add_image (doc, img, W, H, 0);
  ssa_document_add_category (doc, 0, "a", 0, &error);
  g_assert_true (ssa_document_save (doc, path, &error));
  g_signal_connect (doc, "saved", G_CALLBACK (on_saved), &c);
  g_signal_connect (doc, "save-failed", G_CALLBACK (on_failed), &c);
  ssa_document_set_autosave_delay (doc, 100);

  /* three quick changes → one save, ~100 ms after the last one */
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < 3; i++)
    {
      mask[i * 7] = 1;
      ssa_document_add_object (doc, 0, 1, mask, W, H, NULL, &error);
      g_assert_no_error (error);
    }
  g_assert_true (ssa_document_get_modified (doc));
  run_loop (loop, 5000);
  g_assert_cmpint (c.saved, ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 95 * 1000);
  g_assert_false (ssa_document_get_modified (doc));
  run_loop (loop, 300); /* nothing more */
  g_assert_cmpint (c.saved, ==, 1);
  {
    g_autoptr(SsaDocument) back = ssa_document_new_from_file (path, &error);
    g_autofree char *a = doc_state (doc), *b = doc_state (back);
    g_assert_no_error (error);
    g_assert_cmpstr (a, ==, b);
    g_assert_cmpuint (ssa_document_get_undo_depth (back), ==, 4);
    ssa_document_set_autosave_delay (back, 0);
  }

  /* undo is a change too; flush() saves at once (as on quit) */
  ssa_document_undo (doc);
  g_assert_true (ssa_document_get_modified (doc));
  g_assert_true (ssa_document_flush (doc, &error));
  g_assert_no_error (error);
  g_assert_cmpint (c.saved, ==, 2);
  run_loop (loop, 300); /* the pending timeout was cancelled */
  g_assert_cmpint (c.saved, ==, 2);
  {
    g_autoptr(SsaDocument) back = ssa_document_new_from_file (path, &error);
    g_autofree char *a = doc_state (doc), *b = doc_state (back);
    g_assert_cmpstr (a, ==, b);
    g_assert_cmpuint (ssa_document_get_redo_depth (back), ==, 1);
    ssa_document_set_autosave_delay (back, 0);
  }

  /* navigation is saved too */
  ssa_document_add_image (doc, "/nonexistent/y.png", W, H, 0);
  ssa_document_set_current_image (doc, 1);
  run_loop (loop, 5000);
  {
    g_autoptr(SsaDocument) back = ssa_document_new_from_file (path, &error);
    g_assert_cmpint (ssa_document_get_current_image (back), ==, 1);
    ssa_document_set_autosave_delay (back, 0);
  }

  /* a failing autosave is reported and leaves the document modified */
  rm_rf (dir);
  ssa_document_set_object_visible (doc, 1, FALSE, &error);
  run_loop (loop, 5000);
  g_assert_cmpint (c.failed, ==, 1);
  g_assert_true (ssa_document_get_modified (doc));
  g_assert_false (ssa_document_flush (doc, &error));
  assert_one_line_error (error, path);
  ssa_document_set_autosave_delay (doc, 0);
}

/* Disposing a document with an autosave pending saves it. */
static void
test_autosave_on_dispose (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "p.json", NULL);
  g_autoptr(GError) error = NULL;
  SsaDocument *doc = ssa_document_new ();
  g_autofree char *state = NULL;

  ssa_document_add_image (doc, "/nonexistent/a.png", W, H, 0);
  g_assert_true (ssa_document_save (doc, path, &error));
  ssa_document_add_category (doc, 0, "late", 0, &error);
  state = doc_state (doc);
  g_object_unref (doc);
  {
    g_autoptr(SsaDocument) back = ssa_document_new_from_file (path, &error);
    g_autofree char *s = doc_state (back);
    g_assert_no_error (error);
    g_assert_cmpstr (s, ==, state);
    ssa_document_set_autosave_delay (back, 0);
  }
  rm_rf (dir);
}

static void
test_malformed (void)
{
  static const char *const bad[] = {
    "",
    "   ",
    "{",
    "[1, 2]",
    "{\"format\": \"stablesam-project\"}",
    "{\"format\": \"other\", \"version\": 1, \"categories\": [], \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 2, \"categories\": [], \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": {}, \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": []} trailing",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 0, \"name\": \"x\"}], \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}, {\"id\": 1, \"name\": \"y\"}], \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\", \"color\": \"red\"}], \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [{\"id\": 1}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [{\"id\": 1, \"file\": \"a\", \"width\": -3, \"height\": 2}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [{\"id\": 1, \"file\": \"a\"}, {\"id\": 1, \"file\": \"b\"}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [{\"id\": 1, \"file\": \"a\"}, {\"id\": 2, \"file\": \"a\"}]}",
    /* object with an unknown category, bad RLE, RLE of the wrong size, missing rle */
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [{\"id\": 1, \"file\": \"a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 1, \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}}]}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}], \"images\": [{\"id\": 1, \"file\": \"a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 1, \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"~~\"}}]}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}], \"images\": [{\"id\": 1, \"file\": \"a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 1, \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"05\"}}]}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}], \"images\": [{\"id\": 1, \"file\": \"a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 1, \"category_id\": 1, \"rle\": {\"size\": [3, 2], \"counts\": \"06\"}}]}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}], \"images\": [{\"id\": 1, \"file\": \"a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 1, \"category_id\": 1}]}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}], \"images\": [{\"id\": 1, \"file\": \"a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 1, \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}, \"prompt\": {\"points\": [[1, 2, 5]]}}]}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [{\"id\": 1, \"file\": \"a\"}], \"current_image\": 4}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [], \"history\": {\"undo\": [{\"label\": \"x\", \"commands\": [{\"op\": \"explode\"}]}]}}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [], \"history\": {\"undo\": [{\"label\": \"x\", \"commands\": [{\"op\": \"add_category\", \"index\": 0}]}]}}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [], \"history\": {\"undo\": [{\"label\": \"x\", \"commands\": [{\"op\": \"remove_object\", \"image\": 3, \"index\": 0, \"before\": {\"id\": 1, \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}}}]}]}}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [], \"history\": []}",
    /* ids beyond 2^53 (an object id of INT64_MAX overflowed "next id = max + 1": fuzz-project) */
    "{\"format\":\"stablesam-project\",\"version\":1,\"categories\":[{\"id\":2,\"name\":\"\"}],\"images\":[{\"id\":1,\"file\":\"n\",\"objects\":[{\"id\":9223372036854775807,\"category_id\":2,\"rle\":{\"size\":[6,8],\"counts\":\"0120300000O11O0000L0\"}}]}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 9007199254740993, \"name\": \"x\"}], \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [{\"id\": 9223372036854775807, \"file\": \"a\"}]}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [], \"images\": [], \"next_object_id\": 9223372036854775807}",
    /* strings quoted in messages keep them on one line */
    "{\"format\": \"two\\nlines\\r\\u0001\", \"version\": 1, \"categories\": [], \"images\": []}",
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\", \"color\": \"#\\n\"}], \"images\": []}",
  };
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *good_path = g_build_filename (dir, "good.json", NULL);
  g_autofree char *good = NULL;
  g_autoptr(GError) error = NULL;
  gsize good_len = 0;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *name = g_strdup_printf ("bad%u.json", i);
      SsaDocument *doc = ssa_project_from_data (bad[i], strlen (bad[i]), name, dir, &error);
      if (doc != NULL)
        g_error ("case %u was accepted: %s", i, bad[i]);
      assert_one_line_error (error, name);
      g_test_message ("case %u: %s", i, error->message);
      g_clear_error (&error);
    }

  /* every truncation of a real project file is refused cleanly */
  {
    g_autofree char *o = make_tmpdir ();
    g_autofree char *outside = g_build_filename (o, "c.png", NULL);
    g_autoptr(SsaDocument) doc = build_doc (dir, outside);
    g_assert_true (ssa_document_save (doc, good_path, &error));
    ssa_document_set_autosave_delay (doc, 0);
    rm_rf (o);
  }
  g_file_get_contents (good_path, &good, &good_len, &error);
  for (gsize cut = 0; cut + 2 < good_len; cut += 1 + cut / 16)
    {
      SsaDocument *doc = ssa_project_from_data (good, cut, "cut.json", dir, &error);
      g_assert_null (doc);
      assert_one_line_error (error, "cut.json");
      g_clear_error (&error);
    }
  /* and single-byte corruptions never crash (accepted or a clean error) */
  for (gsize pos = 0; pos < good_len; pos += 1 + pos / 32)
    {
      g_autofree char *copy = g_memdup2 (good, good_len);
      SsaDocument *doc;
      copy[pos] = (char) (copy[pos] ^ 0x15);
      doc = ssa_project_from_data (copy, good_len, "flip.json", dir, &error);
      if (doc != NULL)
        {
          ssa_document_set_autosave_delay (doc, 0);
          g_object_unref (doc);
        }
      else
        assert_one_line_error (error, "flip.json");
      g_clear_error (&error);
    }

  /* files that cannot be read */
  {
    g_autofree char *missing = g_build_filename (dir, "missing.json", NULL);
    g_assert_null (ssa_document_new_from_file (missing, &error));
    assert_one_line_error (error, missing);
    g_clear_error (&error);
    g_assert_null (ssa_document_new_from_file (dir, &error));
    assert_one_line_error (error, dir);
    g_clear_error (&error);
  }
  rm_rf (dir);
}

/* A history that does not match the document (hand-edited file) is refused when the project is
 * read: every project that loads can be undone and redone to the end. */
static void
test_inconsistent_history (void)
{
  static const char *const json[] = {
    /* undo of an add: the object is not there */
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}],"
    " \"images\": [{\"id\": 1, \"file\": \"/nonexistent/a\", \"width\": 2, \"height\": 2}],"
    " \"history\": {\"undo\": [{\"label\": \"Add object\", \"commands\": [{\"op\": \"add_object\", \"image\": 0, \"index\": 0,"
    " \"after\": {\"id\": 5, \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}}}]}]}}",
    /* undo of a modify: the object is there but not in the "after" state */
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}],"
    " \"images\": [{\"id\": 1, \"file\": \"/nonexistent/a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 5,"
    " \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}}]}],"
    " \"history\": {\"undo\": [{\"label\": \"Hide object\", \"commands\": [{\"op\": \"modify_object\", \"image\": 0,"
    " \"before\": {\"id\": 5, \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}},"
    " \"after\": {\"id\": 5, \"category_id\": 1, \"visible\": false, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}}}]}]}}",
    /* redo of a category removal whose category is still used */
    "{\"format\": \"stablesam-project\", \"version\": 1, \"categories\": [{\"id\": 1, \"name\": \"x\"}],"
    " \"images\": [{\"id\": 1, \"file\": \"/nonexistent/a\", \"width\": 2, \"height\": 2, \"objects\": [{\"id\": 5,"
    " \"category_id\": 1, \"rle\": {\"size\": [2, 2], \"counts\": \"04\"}}]}],"
    " \"history\": {\"redo\": [{\"label\": \"Remove category\", \"commands\": [{\"op\": \"remove_category\", \"index\": 0,"
    " \"before\": {\"id\": 1, \"name\": \"x\"}}]}]}}",
  };
  static const char *const expect[] = { "history.undo[0]", "history.undo[0]", "history.redo[0]" };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (json); i++)
    {
      g_autoptr(SsaDocument) doc = ssa_project_from_data (json[i], strlen (json[i]), "h.json", "/", &error);
      g_assert_null (doc);
      assert_one_line_error (error, "h.json");
      g_assert_nonnull (strstr (error->message, expect[i]));
      g_assert_nonnull (strstr (error->message, "does not match the document"));
      g_clear_error (&error);
    }
}

/* Writes `path` with `contents` and sets its (or a symlink's own) modification time `age_s`
 * seconds into the past. */
static void
put_file (const char *path, const char *contents, gint64 age_s)
{
  g_autoptr(GError) error = NULL;
  struct timespec ts[2];

  if (contents != NULL)
    {
      g_file_set_contents (path, contents, -1, &error);
      g_assert_no_error (error);
    }
  ts[0].tv_sec = ts[1].tv_sec = time (NULL) - age_s;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  g_assert_cmpint (utimensat (AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
}

/* A SIGKILL during a save leaves project.json.XXXXXX: the next open removes this project's stale
 * ones (and only those), the project still loads; a save under a new name sweeps that name. */
static void
test_stale_temp_files (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *outside = g_build_filename (dir, "out.png", NULL);
  g_autofree char *path = g_build_filename (dir, "project.json", NULL);
  g_autoptr(SsaDocument) doc = build_doc (dir, outside);
  g_autoptr(GError) error = NULL;
  g_autofree char *saved = NULL, *half = NULL;
  gsize len = 0;
  /* removed: ours, regular, older than SSA_STALE_TEMP_AGE */
  static const char *stale[] = { "project.json.Ab3xYz", "project.json.000000", "project.json.qwerty" };
  /* kept: young (a save in progress elsewhere), other names, not regular files */
  static const char *young = "project.json.N0wNow";
  static const char *others[] = { "project.json.Ab3xY", "project.json.Ab3xYz7", "project.json.Ab3-Yz",
                                  "project.json.bak", "project.jsonXAb3xYz", "other.json.Ab3xYz",
                                  "project.json", "xproject.json.Ab3xYz", "project.json.Ab3xYz.png" };

  g_assert_true (ssa_document_save (doc, path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &saved, &len, NULL));
  half = g_strndup (saved, len / 2);      /* what a killed save leaves: a cut-off copy */
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree char *p = g_build_filename (dir, stale[i], NULL);
      put_file (p, i == 0 ? half : saved, SSA_STALE_TEMP_AGE + 5 + i * 3600);
    }
  {
    g_autofree char *p = g_build_filename (dir, young, NULL);
    put_file (p, half, 2);
  }
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      g_autofree char *p = g_build_filename (dir, others[i], NULL);
      if (strcmp (others[i], "project.json") != 0)
        put_file (p, "{}", 7200);
    }
  {
    /* a symlink and a folder with a temp name, both old */
    g_autofree char *target = g_build_filename (dir, "project.json.bak", NULL);
    g_autofree char *link = g_build_filename (dir, "project.json.L1nk00", NULL);
    g_autofree char *sub = g_build_filename (dir, "project.json.D1r000", NULL);
    g_assert_cmpint (symlink (target, link), ==, 0);
    put_file (link, NULL, 7200);
    g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
    put_file (sub, NULL, 7200);
  }
  /* the project file itself, old too: must stay */
  put_file (path, NULL, 7200);

  {
    g_autoptr(SsaDocument) back = ssa_document_new_from_file (path, &error);
    g_autofree char *a = doc_state (doc), *b = doc_state (back);
    g_autofree char *ha = history_state (doc), *hb = history_state (back);
    g_autofree char *again = NULL;
    g_assert_no_error (error);
    g_assert_cmpstr (a, ==, b);
    g_assert_cmpstr (ha, ==, hb);
    g_assert_true (g_file_get_contents (path, &again, NULL, NULL));
    g_assert_cmpstr (again, ==, saved);
    ssa_document_set_autosave_delay (back, 0);
  }
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree char *p = g_build_filename (dir, stale[i], NULL);
      g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK));
    }
  {
    static const char *kept[] = { "project.json.N0wNow", "project.json.L1nk00", "project.json.D1r000" };
    for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
      {
        g_autofree char *p = g_build_filename (dir, kept[i], NULL);
        g_assert_true (g_file_test (p, G_FILE_TEST_IS_SYMLINK) || g_file_test (p, G_FILE_TEST_EXISTS));
      }
    for (guint i = 0; i < G_N_ELEMENTS (others); i++)
      {
        g_autofree char *p = g_build_filename (dir, others[i], NULL);
        g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
      }
  }

  /* a first save under a new name removes that name's stale temp files */
  {
    g_autofree char *p2 = g_build_filename (dir, "copy.json", NULL);
    g_autofree char *t2 = g_build_filename (dir, "copy.json.Zz9Yy8", NULL);
    g_autofree char *t1 = g_build_filename (dir, "project.json.Ab3xYz", NULL);
    put_file (t2, half, 3600);
    put_file (t1, half, 3600);
    g_assert_true (ssa_document_save (doc, p2, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (t2, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (t1, G_FILE_TEST_EXISTS));  /* another project's: not touched */
  }
  rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/project/roundtrip", test_roundtrip);
  g_test_add_func ("/project/moved", test_moved_project);
  g_test_add_func ("/project/autosave", test_autosave);
  g_test_add_func ("/project/autosave-on-dispose", test_autosave_on_dispose);
  g_test_add_func ("/project/malformed", test_malformed);
  g_test_add_func ("/project/inconsistent-history", test_inconsistent_history);
  g_test_add_func ("/project/stale-temp-files", test_stale_temp_files);
  return g_test_run ();
}
