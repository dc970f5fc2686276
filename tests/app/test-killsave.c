/* test-killsave.c — atomic autosave under SIGKILL.
 *
 * The parent runs this same program as a child (`--child DIR SEED`) that opens DIR/project.json
 * (or makes a new one), then accepts random objects at random short intervals through
 * ssa_document_add_object with autosave on (the real SsaDocument code, real project file). The
 * child reports on stdout, unbuffered: "start N" once the project is open, "accepted ID RLE"
 * after each object, "saved" from the document's "saved" signal (emitted after the rename).
 * The parent kills it with SIGKILL at a random moment, then checks the project file:
 *   - it exists once any "saved" was reported, and it loads (ssa_document_new_from_file);
 *   - it holds every object of the previous round's file and every object accepted before the
 *     last reported "saved", with the same mask (RLE string);
 *   - it holds nothing else (an object accepted after the last report may be there: a save can
 *     finish before its "saved" line is written).
 * The next child continues from that file (a recovered file must also be usable); every 20
 * rounds the project starts afresh so the file stays small enough for short rounds.
 * A temp file left next to the project after a kill proves the kill hit a save in progress
 * (g_file_set_contents writes NAME.XXXXXX, fsyncs, renames): those are counted and removed.
 *
 *   test-app-killsave [--tap] [KILLS]      default 200 kills; env KILLSAVE_SEED fixes the seed
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"

extern char **environ;

#define IMG_W 200
#define IMG_H 150
#define N_IMAGES 4
#define ROUNDS_PER_PROJECT 20
#define MAX_KILL_MS 250

/* --- child -------------------------------------------------------------------------------- */

typedef struct
{
  SsaDocument *doc;
  guint64 seed;
  gint64 category;
} Child;

static void
say (const char *line)
{
  gsize len = strlen (line), off = 0;
  while (off < len)
    {
      ssize_t n = write (STDOUT_FILENO, line + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit (3);
      off += (gsize) n;
    }
}

static void
on_saved (SsaDocument *doc, const char *path, gpointer user_data)
{
  say ("saved\n");
}

static void
on_save_failed (SsaDocument *doc, GError *error, gpointer user_data)
{
  g_autofree char *line = g_strdup_printf ("error autosave: %s\n", error->message);
  say (line);
  _exit (4);
}

static gboolean
accept_one (gpointer user_data)
{
  Child *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SsaPrompt) prompt = ssa_prompt_new ();
  g_autofree guint8 *mask = random_mask (&c->seed, IMG_W, IMG_H);
  guint image = rnd (&c->seed) % N_IMAGES;
  SsaObject *obj;
  g_autofree char *line = NULL;

  prompt->has_box = TRUE;
  prompt->box[0] = rnd (&c->seed) % IMG_W;
  prompt->box[1] = rnd (&c->seed) % IMG_H;
  prompt->box[2] = prompt->box[0] + 10;
  prompt->box[3] = prompt->box[1] + 10;
  obj = ssa_document_add_object (c->doc, image, c->category, mask, IMG_W, IMG_H, prompt, &error);
  if (obj == NULL)
    {
      line = g_strdup_printf ("error add: %s\n", error->message);
      say (line);
      _exit (4);
    }
  line = g_strdup_printf ("accepted %" G_GINT64_FORMAT " %s\n", ssa_object_get_id (obj),
                          ssa_object_get_rle (obj));
  say (line);
  /* next object after 0-9 ms: sometimes faster than the autosave delay, sometimes slower */
  g_timeout_add (rnd (&c->seed) % 10, accept_one, c);
  return G_SOURCE_REMOVE;
}

static int
child_main (const char *dir, guint64 seed)
{
  g_autofree char *path = g_build_filename (dir, "project.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *line = NULL;
  Child c = { NULL, seed | 1, 1 };
  guint n = 0;

  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      c.doc = ssa_document_new_from_file (path, &error);
      if (c.doc == NULL)
        {
          line = g_strdup_printf ("error load: %s\n", error->message);
          say (line);
          return 4;
        }
    }
  else
    {
      c.doc = ssa_document_new ();
      for (guint i = 0; i < N_IMAGES; i++)
        {
          g_autofree char *img = g_strdup_printf ("%s/img%u.png", dir, i);
          ssa_document_add_image (c.doc, img, IMG_W, IMG_H, 0);
        }
      if (ssa_document_add_category (c.doc, 1, "thing", 0, &error) == NULL ||
          !ssa_document_save (c.doc, path, &error))
        {
          line = g_strdup_printf ("error new: %s\n", error->message);
          say (line);
          return 4;
        }
    }
  for (guint i = 0; i < ssa_document_get_n_images (c.doc); i++)
    n += g_list_model_get_n_items (ssa_image_entry_get_objects (ssa_document_get_image (c.doc, i)));
  g_signal_connect (c.doc, "saved", G_CALLBACK (on_saved), NULL);
  g_signal_connect (c.doc, "save-failed", G_CALLBACK (on_save_failed), NULL);
  ssa_document_set_autosave_delay (c.doc, 4);
  line = g_strdup_printf ("start %u\n", n);
  say (line);
  g_idle_add (accept_one, &c);
  g_main_loop_run (loop);
  return 0;
}

/* --- parent ------------------------------------------------------------------------------- */

static int tap_n;
static gboolean tap_ok = TRUE;

static void
tap (gboolean ok, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
tap (gboolean ok, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  printf ("%s %d - %s\n", ok ? "ok" : "not ok", ++tap_n, msg);
  fflush (stdout);
  if (!ok)
    tap_ok = FALSE;
}

/* id -> RLE of every object in the project file; NULL + message when it does not load. */
static GHashTable *
read_objects (const char *path, char **problem)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SsaDocument) doc = ssa_document_new_from_file (path, &error);
  GHashTable *objs;

  if (doc == NULL)
    {
      *problem = g_strdup (error->message);
      return NULL;
    }
  ssa_document_set_autosave_delay (doc, 0);
  objs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  for (guint i = 0; i < ssa_document_get_n_images (doc); i++)
    {
      GListModel *list = ssa_image_entry_get_objects (ssa_document_get_image (doc, i));
      for (guint k = 0; k < g_list_model_get_n_items (list); k++)
        {
          g_autoptr(SsaObject) o = g_list_model_get_item (list, k);
          gint64 *id = g_new (gint64, 1);
          *id = ssa_object_get_id (o);
          g_hash_table_insert (objs, id, g_strdup (ssa_object_get_rle (o)));
        }
    }
  return objs;
}

/* Removes NAME.XXXXXX temp files next to the project; returns how many there were. */
static guint
remove_temp_files (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "project.json.") && strlen (name) == strlen ("project.json.XXXXXX"))
      {
        g_autofree char *p = g_build_filename (dir, name, NULL);
        g_remove (p);
        n++;
      }
  g_dir_close (d);
  return n;
}

typedef struct
{
  GString *out;        /* everything the child wrote */
  int status;          /* waitpid status */
} Round;

static void
run_child (const char *self_exe, const char *dir, guint64 seed, guint kill_ms, Round *r)
{
  int fds[2];
  pid_t pid;
  posix_spawn_file_actions_t fa;
  g_autofree char *seed_s = g_strdup_printf ("%" G_GUINT64_FORMAT, seed);
  char *argv[] = { (char *) self_exe, (char *) "--child", (char *) dir, seed_s, NULL };
  gint64 deadline;
  char buf[4096];
  gboolean killed = FALSE;

  g_assert_cmpint (pipe (fds), ==, 0);
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose (&fa, fds[0]);
  posix_spawn_file_actions_addclose (&fa, fds[1]);
  g_assert_cmpint (posix_spawn (&pid, self_exe, &fa, NULL, argv, environ), ==, 0);
  posix_spawn_file_actions_destroy (&fa);
  close (fds[1]);

  r->out = g_string_new (NULL);
  deadline = g_get_monotonic_time () + (gint64) kill_ms * 1000;
  for (;;)
    {
      struct pollfd p = { fds[0], POLLIN, 0 };
      gint64 left = deadline - g_get_monotonic_time ();
      int timeout = killed ? -1 : (int) MAX (0, (left + 999) / 1000);
      if (!killed && left <= 0)
        {
          kill (pid, SIGKILL);
          killed = TRUE;
          continue;
        }
      int rc = poll (&p, 1, timeout);
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc == 0)
        continue;
      ssize_t n = read (fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;                  /* EOF: the child is gone */
      g_string_append_len (r->out, buf, n);
    }
  close (fds[0]);
  while (waitpid (pid, &r->status, 0) < 0 && errno == EINTR)
    ;
}

static int
parent_main (const char *self_exe, guint kills)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "project.json", NULL);
  g_autoptr(GHashTable) prev = NULL;   /* the file after the previous kill */
  const char *seed_env = g_getenv ("KILLSAVE_SEED");
  guint64 seed = seed_env ? g_ascii_strtoull (seed_env, NULL, 10) : (guint64) g_get_real_time ();
  GRand *rand = g_rand_new_with_seed ((guint32) seed);
  guint n_bad = 0, n_mid_save = 0, n_no_save = 0, n_killed = 0;
  guint64 n_accepted = 0, n_saved = 0, n_lost = 0, max_lost = 0, max_objects = 0;
  gint64 t0 = g_get_monotonic_time ();

  printf ("# seed %" G_GUINT64_FORMAT " (KILLSAVE_SEED=%" G_GUINT64_FORMAT " repeats this run), "
          "%u kills, project %s\n", seed, seed, kills, path);
  for (guint round = 0; round < kills; round++)
    {
      Round r = { NULL, 0 };
      g_auto(GStrv) lines = NULL;
      g_autoptr(GHashTable) accepted = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
      g_autoptr(GHashTable) now = NULL;
      g_autofree char *problem = NULL;
      guint kill_ms = g_rand_int_range (rand, 0, MAX_KILL_MS + 1);
      gboolean any_saved = FALSE, ok = TRUE;
      guint64 round_saved = 0, lost = 0;
      GPtrArray *must = g_ptr_array_new ();   /* ids accepted before the last "saved" */
      GPtrArray *pending = g_ptr_array_new (); /* ids accepted since */
      g_autoptr(GString) why = g_string_new (NULL);

      if (round % ROUNDS_PER_PROJECT == 0)
        {
          g_remove (path);
          g_clear_pointer (&prev, g_hash_table_unref);
        }
      run_child (self_exe, dir, g_rand_int (rand), kill_ms, &r);
      n_mid_save += remove_temp_files (dir) > 0;
      if (WIFSIGNALED (r.status) && WTERMSIG (r.status) == SIGKILL)
        n_killed++;
      else
        g_string_append_printf (why, " child ended by itself (status %d);", r.status);

      lines = g_strsplit (r.out->str, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          const char *l = lines[i];
          if (g_str_has_prefix (l, "accepted "))
            {
              char *end = NULL;
              gint64 *id = g_new (gint64, 1);
              *id = g_ascii_strtoll (l + 9, &end, 10);
              if (lines[i + 1] == NULL)        /* cut by the kill: not reported completely */
                {
                  g_free (id);
                  break;
                }
              g_hash_table_insert (accepted, id, g_strdup (end + 1));
              g_ptr_array_add (pending, id);
              n_accepted++;
            }
          else if (strcmp (l, "saved") == 0)
            {
              any_saved = TRUE;
              round_saved++;
              for (guint k = 0; k < pending->len; k++)
                g_ptr_array_add (must, pending->pdata[k]);
              g_ptr_array_set_size (pending, 0);
            }
          else if (g_str_has_prefix (l, "error "))
            g_string_append_printf (why, " child: %s;", l);
        }
      n_saved += round_saved;

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        {
          if (any_saved || prev != NULL)
            g_string_append (why, " project file missing after a completed save;");
          n_no_save++;
        }
      else if ((now = read_objects (path, &problem)) == NULL)
        g_string_append_printf (why, " project does not load: %s;", problem);
      else
        {
          GHashTableIter it;
          gpointer k, v;

          /* every object of the previous file and every one accepted before the last save */
          if (prev != NULL)
            {
              g_hash_table_iter_init (&it, prev);
              while (g_hash_table_iter_next (&it, &k, &v))
                if (g_strcmp0 (g_hash_table_lookup (now, k), v) != 0)
                  g_string_append_printf (why, " object %" G_GINT64_FORMAT " of the previous file %s;",
                                          *(gint64 *) k, g_hash_table_contains (now, k) ? "changed" : "lost");
            }
          for (guint i = 0; i < must->len; i++)
            {
              gint64 *id = must->pdata[i];
              const char *rle = g_hash_table_lookup (now, id);
              if (rle == NULL)
                g_string_append_printf (why, " object %" G_GINT64_FORMAT " accepted before a completed save is missing;", *id);
              else if (strcmp (rle, g_hash_table_lookup (accepted, id)) != 0)
                g_string_append_printf (why, " object %" G_GINT64_FORMAT " has another mask;", *id);
            }
          /* nothing that was never accepted */
          g_hash_table_iter_init (&it, now);
          while (g_hash_table_iter_next (&it, &k, &v))
            {
              const char *want = g_hash_table_lookup (accepted, k);
              if (want == NULL && prev != NULL)
                want = g_hash_table_lookup (prev, k);
              if (g_strcmp0 (want, v) != 0)
                g_string_append_printf (why, " object %" G_GINT64_FORMAT " in the file was never accepted;",
                                        *(gint64 *) k);
            }
          for (guint i = 0; i < pending->len; i++)
            lost += !g_hash_table_contains (now, pending->pdata[i]);
          max_objects = MAX (max_objects, g_hash_table_size (now));
        }
      n_lost += lost;
      max_lost = MAX (max_lost, lost);
      ok = why->len == 0;
      if (!ok)
        {
          n_bad++;
          tap (FALSE, "kill %u at %u ms:%s", round + 1, kill_ms, why->str);
        }
      g_clear_pointer (&prev, g_hash_table_unref);
      prev = g_steal_pointer (&now);
      g_ptr_array_unref (must);
      g_ptr_array_unref (pending);
      g_string_free (r.out, TRUE);
    }
  g_rand_free (rand);
  rm_rf (dir);

  printf ("# %u kills (%u by SIGKILL) in %.1f s: %" G_GUINT64_FORMAT " objects accepted, %"
          G_GUINT64_FORMAT " saves completed; %u kills hit a save in progress (temp file left), "
          "%u before the first save\n", kills, n_killed, (g_get_monotonic_time () - t0) / 1e6,
          n_accepted, n_saved, n_mid_save, n_no_save);
  printf ("# objects accepted after the last completed save and not in the file: %" G_GUINT64_FORMAT
          " in all, at most %" G_GUINT64_FORMAT " per kill (the autosave window); largest file %"
          G_GUINT64_FORMAT " objects\n", n_lost, max_lost, max_objects);
  tap (n_bad == 0, "%u of %u kills left a project that loads and holds every object accepted "
       "before the last completed save (and nothing else)", kills - n_bad, kills);
  tap (n_killed == kills, "every child was still running when killed (%u of %u)", n_killed, kills);
  tap (n_mid_save > 0, "some kills hit a save in progress (%u)", n_mid_save);
  tap (n_saved > kills, "saves completed between kills (%" G_GUINT64_FORMAT ")", n_saved);
  printf ("1..%d\n", tap_n);
  return tap_ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
  guint kills = 200;
  int a = 1;

  if (argc == 4 && strcmp (argv[1], "--child") == 0)
    return child_main (argv[2], g_ascii_strtoull (argv[3], NULL, 10));
  if (a < argc && strcmp (argv[a], "--tap") == 0)
    a++;
  if (a < argc)
    kills = (guint) g_ascii_strtoull (argv[a], NULL, 10);
  if (kills == 0)
    {
      fprintf (stderr, "usage: %s [--tap] [KILLS]\n", argv[0]);
      return 2;
    }
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  return parent_main (self_exe != NULL ? self_exe : argv[0], kills);
}
