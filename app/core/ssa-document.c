/* ssa-document.c — SsaDocument: images, categories, objects, the undo history and autosave. */
#include <math.h>
#include <string.h>

#include "ssa-core-private.h"
#include "ssa-project.h"

G_DEFINE_QUARK (ssa-document-error-quark, ssa_document_error)

#define DEFAULT_UNDO_LIMIT     200
#define DEFAULT_AUTOSAVE_DELAY SSA_DOCUMENT_AUTOSAVE_DELAY

struct _SsaDocument
{
  GObject parent_instance;

  /* owned */
  char *path;
  char *images_root;
  GListStore *images;          /* SsaImageEntry, append-only */
  GListStore *categories;      /* SsaCategory */
  GHashTable *objects_by_id;   /* gint64* -> SsaObject (the image's store holds the reference) */
  GHashTable *images_by_path;  /* path -> SsaImageEntry (borrowed) */
  GHashTable *image_ids;       /* set of gint64* image ids */
  gint64 max_image_id;
  GPtrArray *undo;             /* SsaUndoStep, oldest first */
  GPtrArray *redo;             /* SsaUndoStep, next redo last */
  SsaUndoStep *group;          /* open group, or NULL */

  int group_depth;
  int current_image;           /* -1 when there is no image */
  gint64 next_object_id;
  guint undo_limit;
  guint autosave_delay;
  guint autosave_source;
  gboolean modified;
  gint64 temp_sweep_time;      /* monotonic µs of the last stale temp file sweep, 0 = none */
};

G_DEFINE_FINAL_TYPE (SsaDocument, ssa_document, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PATH,
  PROP_CURRENT_IMAGE,
  PROP_N_IMAGES,
  PROP_MODIFIED,
  PROP_CAN_UNDO,
  PROP_CAN_REDO,
  PROP_UNDO_LABEL,
  PROP_REDO_LABEL,
  PROP_AUTOSAVE_DELAY,
  PROP_UNDO_LIMIT,
  N_PROPS
};

enum {
  CHANGED,
  OBJECT_ADDED,
  OBJECT_REMOVED,
  OBJECT_CHANGED,
  CATEGORY_ADDED,
  CATEGORY_REMOVED,
  CATEGORY_CHANGED,
  IMAGE_ADDED,
  SAVED,
  SAVE_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* A small palette for categories created without a colour (0xRRGGBBAA). */
static const SsaRgba palette[] = {
  0xe6194bff, 0x3cb44bff, 0x4363d8ff, 0xf58231ff, 0x911eb4ff, 0x42d4f4ff,
  0xf032e6ff, 0xbfef45ff, 0xfabed4ff, 0x469990ff, 0xdcbeffff, 0x9a6324ff,
};

SsaRgba
ssa_palette_color (guint i)
{
  return palette[i % G_N_ELEMENTS (palette)];
}

/* --- GObject ------------------------------------------------------------------------------- */

static void
ssa_document_dispose (GObject *object)
{
  SsaDocument *self = SSA_DOCUMENT (object);

  if (self->autosave_source != 0)
    {
      g_autoptr(GError) error = NULL;
      g_clear_handle_id (&self->autosave_source, g_source_remove);
      if (self->modified && self->path != NULL && !ssa_document_save (self, NULL, &error))
        g_warning ("autosave: %s", error->message);
    }
  G_OBJECT_CLASS (ssa_document_parent_class)->dispose (object);
}

static void
ssa_document_finalize (GObject *object)
{
  SsaDocument *self = SSA_DOCUMENT (object);

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->images_root, g_free);
  g_clear_pointer (&self->objects_by_id, g_hash_table_unref);
  g_clear_pointer (&self->images_by_path, g_hash_table_unref);
  g_clear_pointer (&self->image_ids, g_hash_table_unref);
  g_clear_object (&self->images);
  g_clear_object (&self->categories);
  g_clear_pointer (&self->undo, g_ptr_array_unref);
  g_clear_pointer (&self->redo, g_ptr_array_unref);
  g_clear_pointer (&self->group, ssa_undo_step_free);
  G_OBJECT_CLASS (ssa_document_parent_class)->finalize (object);
}

static void
ssa_document_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsaDocument *self = SSA_DOCUMENT (object);

  switch (prop_id)
    {
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_CURRENT_IMAGE: g_value_set_int (value, self->current_image); break;
    case PROP_N_IMAGES: g_value_set_uint (value, ssa_document_get_n_images (self)); break;
    case PROP_MODIFIED: g_value_set_boolean (value, self->modified); break;
    case PROP_CAN_UNDO: g_value_set_boolean (value, ssa_document_can_undo (self)); break;
    case PROP_CAN_REDO: g_value_set_boolean (value, ssa_document_can_redo (self)); break;
    case PROP_UNDO_LABEL: g_value_set_string (value, ssa_document_get_undo_label (self)); break;
    case PROP_REDO_LABEL: g_value_set_string (value, ssa_document_get_redo_label (self)); break;
    case PROP_AUTOSAVE_DELAY: g_value_set_uint (value, self->autosave_delay); break;
    case PROP_UNDO_LIMIT: g_value_set_uint (value, self->undo_limit); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ssa_document_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  SsaDocument *self = SSA_DOCUMENT (object);

  switch (prop_id)
    {
    case PROP_CURRENT_IMAGE: ssa_document_set_current_image (self, g_value_get_int (value)); break;
    case PROP_AUTOSAVE_DELAY: ssa_document_set_autosave_delay (self, g_value_get_uint (value)); break;
    case PROP_UNDO_LIMIT: ssa_document_set_undo_limit (self, g_value_get_uint (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ssa_document_class_init (SsaDocumentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = ssa_document_dispose;
  object_class->finalize = ssa_document_finalize;
  object_class->get_property = ssa_document_get_property;
  object_class->set_property = ssa_document_set_property;

  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, ro);
  properties[PROP_CURRENT_IMAGE] = g_param_spec_int ("current-image", NULL, NULL, -1, G_MAXINT, -1, rw);
  properties[PROP_N_IMAGES] = g_param_spec_uint ("n-images", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_MODIFIED] = g_param_spec_boolean ("modified", NULL, NULL, FALSE, ro);
  properties[PROP_CAN_UNDO] = g_param_spec_boolean ("can-undo", NULL, NULL, FALSE, ro);
  properties[PROP_CAN_REDO] = g_param_spec_boolean ("can-redo", NULL, NULL, FALSE, ro);
  properties[PROP_UNDO_LABEL] = g_param_spec_string ("undo-label", NULL, NULL, NULL, ro);
  properties[PROP_REDO_LABEL] = g_param_spec_string ("redo-label", NULL, NULL, NULL, ro);
  properties[PROP_AUTOSAVE_DELAY] = g_param_spec_uint ("autosave-delay", NULL, NULL, 0, G_MAXUINT,
                                                       DEFAULT_AUTOSAVE_DELAY, rw);
  properties[PROP_UNDO_LIMIT] = g_param_spec_uint ("undo-limit", NULL, NULL, 1, G_MAXUINT,
                                                   DEFAULT_UNDO_LIMIT, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                   NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[OBJECT_ADDED] = g_signal_new ("object-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 1, SSA_TYPE_OBJECT);
  signals[OBJECT_REMOVED] = g_signal_new ("object-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, SSA_TYPE_OBJECT);
  signals[OBJECT_CHANGED] = g_signal_new ("object-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, SSA_TYPE_OBJECT);
  signals[CATEGORY_ADDED] = g_signal_new ("category-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, SSA_TYPE_CATEGORY);
  signals[CATEGORY_REMOVED] = g_signal_new ("category-removed", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                            SSA_TYPE_CATEGORY);
  signals[CATEGORY_CHANGED] = g_signal_new ("category-changed", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                            SSA_TYPE_CATEGORY);
  signals[IMAGE_ADDED] = g_signal_new ("image-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 1, SSA_TYPE_IMAGE_ENTRY);
  signals[SAVED] = g_signal_new ("saved", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                 NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SAVE_FAILED] = g_signal_new ("save-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
ssa_document_init (SsaDocument *self)
{
  self->images = g_list_store_new (SSA_TYPE_IMAGE_ENTRY);
  self->categories = g_list_store_new (SSA_TYPE_CATEGORY);
  self->objects_by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->images_by_path = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->image_ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->undo = g_ptr_array_new_with_free_func ((GDestroyNotify) ssa_undo_step_free);
  self->redo = g_ptr_array_new_with_free_func ((GDestroyNotify) ssa_undo_step_free);
  self->current_image = -1;
  self->next_object_id = 1;
  self->undo_limit = DEFAULT_UNDO_LIMIT;
  self->autosave_delay = DEFAULT_AUTOSAVE_DELAY;
}

SsaDocument *
ssa_document_new (void)
{
  return g_object_new (SSA_TYPE_DOCUMENT, NULL);
}

/* --- change tracking, autosave ------------------------------------------------------------- */

static gboolean
autosave_cb (gpointer user_data)
{
  SsaDocument *self = user_data;
  g_autoptr(GError) error = NULL;

  self->autosave_source = 0;
  if (self->path != NULL && self->modified && !ssa_document_save (self, NULL, &error))
    g_signal_emit (self, signals[SAVE_FAILED], 0, error);
  return G_SOURCE_REMOVE;
}

static void
set_modified (SsaDocument *self, gboolean modified)
{
  if (self->modified == modified)
    return;
  self->modified = modified;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
}

/* After every saved change: modified, "changed", (re)start the autosave timeout. */
static void
mark_changed (SsaDocument *self)
{
  set_modified (self, TRUE);
  g_signal_emit (self, signals[CHANGED], 0);
  if (self->path != NULL && self->autosave_delay > 0)
    {
      g_clear_handle_id (&self->autosave_source, g_source_remove);
      self->autosave_source = g_timeout_add (self->autosave_delay, autosave_cb, self);
      g_source_set_name_by_id (self->autosave_source, "[stablesam] autosave");
    }
}

static void
notify_history (SsaDocument *self)
{
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_UNDO]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_REDO]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNDO_LABEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REDO_LABEL]);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
trim_history (SsaDocument *self)
{
  if (self->undo->len > self->undo_limit)
    g_ptr_array_remove_range (self->undo, 0, self->undo->len - self->undo_limit);
  if (self->redo->len > self->undo_limit)
    g_ptr_array_remove_range (self->redo, 0, self->redo->len - self->undo_limit);
}

/* Records a command that has already been applied. */
static void
record (SsaDocument *self, SsaCommand *cmd, const char *label)
{
  if (self->group != NULL)
    {
      g_ptr_array_add (self->group->commands, cmd);
      return;
    }
  SsaUndoStep *step = ssa_undo_step_new (label);
  g_ptr_array_add (step->commands, cmd);
  g_ptr_array_set_size (self->redo, 0);
  g_ptr_array_add (self->undo, step);
  trim_history (self);
  notify_history (self);
  mark_changed (self);
}

/* --- loading, saving ------------------------------------------------------------------------ */

/* A SIGKILL between g_file_set_contents' temp file and its rename leaves PROJECT.XXXXXX behind:
 * remove this project's stale ones when it is opened, and on save at most once a minute (or
 * when it is saved under a new name). */
static void
sweep_temp_files (SsaDocument *self, const char *abs, gboolean force)
{
  gint64 now = g_get_monotonic_time ();
  guint n;

  if (!force && self->temp_sweep_time != 0 && now - self->temp_sweep_time < 60 * G_USEC_PER_SEC)
    return;
  self->temp_sweep_time = now;
  if ((n = ssa_remove_stale_temp_files (abs, SSA_STALE_TEMP_AGE)) > 0)
    g_debug ("%s: removed %u stale temp file(s) of interrupted saves", abs, n);
}

SsaDocument *
ssa_document_new_from_file (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *abs = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GError) local = NULL;
  SsaDocument *doc;
  gsize len = 0;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      gboolean noent = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT);
      GError *e = g_error_new (G_FILE_ERROR, local->domain == G_FILE_ERROR ? local->code : G_FILE_ERROR_FAILED,
                   "%s: %s", path, noent ? "no such file" : local->message);
      ssa_error_one_line (e);
      g_propagate_error (error, e);
      return NULL;
    }
  abs = g_canonicalize_filename (path, NULL);
  dir = g_path_get_dirname (abs);
  doc = ssa_project_from_data (data, len, path, dir, error);
  if (doc == NULL)
    return NULL;
  ssa_document_set_path_internal (doc, abs);
  ssa_document_set_modified_internal (doc, FALSE);
  sweep_temp_files (doc, abs, TRUE);
  return doc;
}

const char *
ssa_document_get_path (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  return self->path;
}

gboolean
ssa_document_save (SsaDocument *self, const char *path, GError **error)
{
  g_autofree char *abs = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  if (path == NULL)
    path = self->path;
  if (path == NULL)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_EMPTY,
                   "the project has no file yet: save it under a name first");
      return FALSE;
    }
  abs = g_canonicalize_filename (path, NULL);
  dir = g_path_get_dirname (abs);
  data = ssa_project_to_data (self, dir, &len);
  if (!ssa_write_file_atomic (abs, data, len, error))
    return FALSE;
  g_clear_handle_id (&self->autosave_source, g_source_remove);
  sweep_temp_files (self, abs, g_strcmp0 (abs, self->path) != 0);
  ssa_document_set_path_internal (self, abs);
  set_modified (self, FALSE);
  g_signal_emit (self, signals[SAVED], 0, abs);
  return TRUE;
}

gboolean
ssa_document_flush (SsaDocument *self, GError **error)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  g_clear_handle_id (&self->autosave_source, g_source_remove);
  if (!self->modified || self->path == NULL)
    return TRUE;
  return ssa_document_save (self, NULL, error);
}

gboolean
ssa_document_get_modified (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  return self->modified;
}

void
ssa_document_set_autosave_delay (SsaDocument *self, guint delay_ms)
{
  g_return_if_fail (SSA_IS_DOCUMENT (self));
  if (self->autosave_delay == delay_ms)
    return;
  self->autosave_delay = delay_ms;
  if (delay_ms == 0)
    g_clear_handle_id (&self->autosave_source, g_source_remove);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTOSAVE_DELAY]);
}

guint
ssa_document_get_autosave_delay (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), 0);
  return self->autosave_delay;
}

void
ssa_document_set_path_internal (SsaDocument *self, const char *path)
{
  if (g_strcmp0 (self->path, path) == 0)
    return;
  g_free (self->path);
  self->path = g_strdup (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
}

void
ssa_document_set_modified_internal (SsaDocument *self, gboolean modified)
{
  if (!modified)
    g_clear_handle_id (&self->autosave_source, g_source_remove);
  set_modified (self, modified);
}

GPtrArray *ssa_document_peek_undo_stack (SsaDocument *self) { return self->undo; }
GPtrArray *ssa_document_peek_redo_stack (SsaDocument *self) { return self->redo; }
gint64 ssa_document_get_next_object_id (SsaDocument *self) { return self->next_object_id; }
guint ssa_document_get_undo_limit (SsaDocument *self) { return self->undo_limit; }

void
ssa_document_set_next_object_id (SsaDocument *self, gint64 next)
{
  self->next_object_id = MAX (self->next_object_id, next);
}

/* --- images ------------------------------------------------------------------------------- */

GListModel *
ssa_document_get_images (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  return G_LIST_MODEL (self->images);
}

guint
ssa_document_get_n_images (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), 0);
  return g_list_model_get_n_items (G_LIST_MODEL (self->images));
}

SsaImageEntry *
ssa_document_get_image (SsaDocument *self, guint index)
{
  SsaImageEntry *img;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  img = g_list_model_get_item (G_LIST_MODEL (self->images), index);
  if (img != NULL)
    g_object_unref (img); /* the store keeps it alive */
  return img;
}

SsaImageEntry *
ssa_document_add_image (SsaDocument *self, const char *path, int width, int height, gint64 id)
{
  g_autofree char *abs = NULL;
  g_autoptr(SsaImageEntry) img = NULL;
  SsaImageEntry *existing;
  guint n;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (width >= 0 && height >= 0, NULL);

  abs = g_canonicalize_filename (path, NULL);
  if ((existing = g_hash_table_lookup (self->images_by_path, abs)) != NULL)
    return existing;
  n = ssa_document_get_n_images (self);
  if (id <= 0 || id > SSA_MAX_ID || g_hash_table_contains (self->image_ids, &id))
    id = self->max_image_id + 1;
  self->max_image_id = MAX (self->max_image_id, id);
  g_hash_table_add (self->image_ids, g_memdup2 (&id, sizeof id));
  img = ssa_image_entry_new (n, abs, width, height, id);
  g_hash_table_insert (self->images_by_path, g_strdup (abs), img);
  g_list_store_append (self->images, img);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_IMAGES]);
  g_signal_emit (self, signals[IMAGE_ADDED], 0, img);
  if (self->current_image < 0)
    ssa_document_set_current_image (self, 0);
  mark_changed (self);
  return img;
}

gboolean
ssa_document_set_image_size (SsaDocument *self, guint index, int width, int height, GError **error)
{
  SsaImageEntry *img;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  img = ssa_document_get_image (self, index);
  if (img == NULL)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND, "no image %u", index);
      return FALSE;
    }
  if (width <= 0 || height <= 0)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE, "%s: size %dx%d is not valid",
                   ssa_image_entry_get_path (img), width, height);
      return FALSE;
    }
  if (ssa_image_entry_get_width (img) == width && ssa_image_entry_get_height (img) == height)
    return TRUE;
  if (ssa_image_entry_get_width (img) > 0 && ssa_image_entry_get_n_objects (img) > 0)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE,
                   "%s: the image is %dx%d in the project but %dx%d now", ssa_image_entry_get_path (img),
                   ssa_image_entry_get_width (img), ssa_image_entry_get_height (img), width, height);
      return FALSE;
    }
  ssa_image_entry_set_size (img, width, height);
  mark_changed (self);
  return TRUE;
}

void
ssa_document_set_image_hash (SsaDocument *self, guint index, const char *hex)
{
  SsaImageEntry *img;

  g_return_if_fail (SSA_IS_DOCUMENT (self));
  img = ssa_document_get_image (self, index);
  g_return_if_fail (img != NULL);
  if (g_strcmp0 (ssa_image_entry_get_hash (img), hex) == 0)
    return;
  ssa_image_entry_set_hash (img, hex);
  mark_changed (self);
}

const char *
ssa_document_get_images_root (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  return self->images_root;
}

void
ssa_document_set_images_root (SsaDocument *self, const char *folder)
{
  g_autofree char *abs = NULL;

  g_return_if_fail (SSA_IS_DOCUMENT (self));
  abs = folder != NULL ? g_canonicalize_filename (folder, NULL) : NULL;
  if (g_strcmp0 (abs, self->images_root) == 0)
    return;
  g_free (self->images_root);
  self->images_root = g_steal_pointer (&abs);
  mark_changed (self);
}

int
ssa_document_get_current_image (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), -1);
  return self->current_image;
}

void
ssa_document_set_current_image (SsaDocument *self, int index)
{
  g_return_if_fail (SSA_IS_DOCUMENT (self));
  g_return_if_fail (index >= -1 && index < (int) ssa_document_get_n_images (self));
  if (index == -1 && ssa_document_get_n_images (self) > 0)
    index = 0;
  if (self->current_image == index)
    return;
  self->current_image = index;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CURRENT_IMAGE]);
  mark_changed (self);
}

/* --- primitives (used by commands) ---------------------------------------------------------- */

static SsaCategory *
find_category (SsaDocument *self, gint64 id, guint *position)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->categories));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(SsaCategory) c = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
      if (ssa_category_get_id (c) == id)
        {
          if (position)
            *position = i;
          return c; /* the store keeps it alive */
        }
    }
  return NULL;
}

gboolean
ssa_document_do_insert_object (SsaDocument *self, guint image, guint position,
                               const SsaObjectData *data)
{
  SsaImageEntry *img = ssa_document_get_image (self, image);
  g_autoptr(SsaObject) obj = NULL;
  GListStore *store;

  if (img == NULL || g_hash_table_contains (self->objects_by_id, &data->id) ||
      find_category (self, data->category_id, NULL) == NULL)
    return FALSE;
  if (ssa_image_entry_get_width (img) == 0)
    ssa_image_entry_set_size (img, data->width, data->height);
  else if (ssa_image_entry_get_width (img) != data->width || ssa_image_entry_get_height (img) != data->height)
    return FALSE;
  store = ssa_image_entry_get_store (img);
  position = MIN (position, g_list_model_get_n_items (G_LIST_MODEL (store)));
  obj = ssa_object_new_from_data (data, image);
  g_hash_table_insert (self->objects_by_id, g_memdup2 (&data->id, sizeof data->id), obj);
  g_list_store_insert (store, position, obj);
  self->next_object_id = MAX (self->next_object_id, data->id + 1);
  g_signal_emit (self, signals[OBJECT_ADDED], 0, obj);
  return TRUE;
}

gboolean
ssa_document_do_remove_object (SsaDocument *self, guint image, const SsaObjectData *expect)
{
  SsaObject *found = g_hash_table_lookup (self->objects_by_id, &expect->id);
  g_autoptr(SsaObject) obj = NULL;
  GListStore *store;
  guint position;

  if (found == NULL || ssa_object_get_image_index (found) != image ||
      !ssa_object_data_equal (ssa_object_peek_data (found), expect))
    return FALSE;
  obj = g_object_ref (found);
  store = ssa_image_entry_get_store (ssa_document_get_image (self, image));
  if (!g_list_store_find (store, obj, &position))
    g_assert_not_reached ();
  g_hash_table_remove (self->objects_by_id, &expect->id);
  g_list_store_remove (store, position);
  g_signal_emit (self, signals[OBJECT_REMOVED], 0, obj);
  return TRUE;
}

gboolean
ssa_document_do_replace_object (SsaDocument *self, const SsaObjectData *from, const SsaObjectData *to)
{
  SsaObject *obj = g_hash_table_lookup (self->objects_by_id, &from->id);

  if (obj == NULL || from->id != to->id || !ssa_object_data_equal (ssa_object_peek_data (obj), from) ||
      find_category (self, to->category_id, NULL) == NULL ||
      from->width != to->width || from->height != to->height)
    return FALSE;
  ssa_object_set_data (obj, to);
  g_signal_emit (self, signals[OBJECT_CHANGED], 0, obj);
  return TRUE;
}

gboolean
ssa_document_do_insert_category (SsaDocument *self, guint position, const SsaCategoryData *data)
{
  g_autoptr(SsaCategory) cat = NULL;

  if (find_category (self, data->id, NULL) != NULL)
    return FALSE;
  position = MIN (position, g_list_model_get_n_items (G_LIST_MODEL (self->categories)));
  cat = ssa_category_new_from_data (data);
  g_list_store_insert (self->categories, position, cat);
  g_signal_emit (self, signals[CATEGORY_ADDED], 0, cat);
  return TRUE;
}

static gboolean
category_in_use (SsaDocument *self, gint64 id)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->objects_by_id);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (ssa_object_get_category_id (value) == id)
      return TRUE;
  return FALSE;
}

gboolean
ssa_document_do_remove_category (SsaDocument *self, const SsaCategoryData *expect)
{
  g_autoptr(SsaCategory) cat = NULL;
  guint position;
  SsaCategory *found = find_category (self, expect->id, &position);

  if (found == NULL || !ssa_category_data_equal (ssa_category_peek_data (found), expect) ||
      category_in_use (self, expect->id))
    return FALSE;
  cat = g_object_ref (found);
  g_list_store_remove (self->categories, position);
  g_signal_emit (self, signals[CATEGORY_REMOVED], 0, cat);
  return TRUE;
}

gboolean
ssa_document_do_replace_category (SsaDocument *self, const SsaCategoryData *from,
                                  const SsaCategoryData *to)
{
  SsaCategory *cat = find_category (self, from->id, NULL);

  if (cat == NULL || from->id != to->id || !ssa_category_data_equal (ssa_category_peek_data (cat), from))
    return FALSE;
  ssa_category_set_data (cat, to);
  g_signal_emit (self, signals[CATEGORY_CHANGED], 0, cat);
  return TRUE;
}

/* Loading / import: no history, no "changed" per item. */
SsaObject *
ssa_document_load_object (SsaDocument *self, guint image, const SsaObjectData *data, GError **error)
{
  SsaImageEntry *img = ssa_document_get_image (self, image);

  if (img == NULL)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND, "no image %u", image);
      return NULL;
    }
  if (g_hash_table_contains (self->objects_by_id, &data->id))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "object id %" G_GINT64_FORMAT " is used twice", data->id);
      return NULL;
    }
  if (find_category (self, data->category_id, NULL) == NULL)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND,
                   "unknown category id %" G_GINT64_FORMAT, data->category_id);
      return NULL;
    }
  if (ssa_image_entry_get_width (img) != 0 &&
      (ssa_image_entry_get_width (img) != data->width || ssa_image_entry_get_height (img) != data->height))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE,
                   "mask is %dx%d but the image is %dx%d", data->width, data->height,
                   ssa_image_entry_get_width (img), ssa_image_entry_get_height (img));
      return NULL;
    }
  if (!ssa_document_do_insert_object (self, image, G_MAXUINT, data))
    g_assert_not_reached ();
  return g_hash_table_lookup (self->objects_by_id, &data->id);
}

SsaCategory *
ssa_document_load_category (SsaDocument *self, const SsaCategoryData *data, GError **error)
{
  if (find_category (self, data->id, NULL) != NULL)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "category id %" G_GINT64_FORMAT " is used twice", data->id);
      return NULL;
    }
  ssa_document_do_insert_category (self, G_MAXUINT, data);
  return find_category (self, data->id, NULL);
}

/* --- categories ------------------------------------------------------------------------------ */

GListModel *
ssa_document_get_categories (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  return G_LIST_MODEL (self->categories);
}

SsaCategory *
ssa_document_find_category (SsaDocument *self, gint64 id)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  return find_category (self, id, NULL);
}

static SsaCategory *
category_or_error (SsaDocument *self, gint64 id, GError **error)
{
  SsaCategory *cat = find_category (self, id, NULL);

  if (cat == NULL)
    g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND,
                 "there is no category with id %" G_GINT64_FORMAT, id);
  return cat;
}

SsaCategory *
ssa_document_add_category (SsaDocument *self, gint64 id, const char *name, SsaRgba color,
                           GError **error)
{
  guint n;
  gint64 max_id = 0;
  SsaCommand *cmd;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->categories));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(SsaCategory) c = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
      max_id = MAX (max_id, ssa_category_get_id (c));
    }
  if (id < 0 || id > SSA_MAX_ID || (id > 0 && find_category (self, id, NULL) != NULL))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "category id %" G_GINT64_FORMAT " is already used", id);
      return NULL;
    }
  if (id == 0)
    id = max_id + 1;
  if (color == 0)
    color = ssa_palette_color (n);
  cmd = g_new0 (SsaCommand, 1);
  cmd->op = SSA_OP_ADD_CATEGORY;
  cmd->position = n;
  cmd->cat_after = ssa_category_data_new (id, name, color, NULL);
  if (!ssa_document_do_insert_category (self, n, cmd->cat_after))
    g_assert_not_reached ();
  record (self, cmd, "Add category");
  return find_category (self, id, NULL);
}

static gboolean
modify_category (SsaDocument *self, gint64 id, const char *name, const SsaRgba *color,
                 const char *label, GError **error)
{
  SsaCategory *cat = category_or_error (self, id, error);
  SsaCommand *cmd;

  if (cat == NULL)
    return FALSE;
  cmd = g_new0 (SsaCommand, 1);
  cmd->op = SSA_OP_MODIFY_CATEGORY;
  cmd->cat_before = ssa_category_data_copy (ssa_category_peek_data (cat));
  cmd->cat_after = ssa_category_data_copy (cmd->cat_before);
  if (name != NULL)
    {
      g_free (cmd->cat_after->name);
      cmd->cat_after->name = g_strdup (name);
    }
  if (color != NULL)
    cmd->cat_after->color = *color;
  if (strcmp (cmd->cat_before->name, cmd->cat_after->name) == 0 &&
      cmd->cat_before->color == cmd->cat_after->color)
    {
      ssa_command_free (cmd);
      return TRUE; /* no change, no undo step */
    }
  if (!ssa_document_do_replace_category (self, cmd->cat_before, cmd->cat_after))
    g_assert_not_reached ();
  record (self, cmd, label);
  return TRUE;
}

gboolean
ssa_document_rename_category (SsaDocument *self, gint64 id, const char *name, GError **error)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  return modify_category (self, id, name, NULL, "Rename category", error);
}

gboolean
ssa_document_recolor_category (SsaDocument *self, gint64 id, SsaRgba color, GError **error)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  return modify_category (self, id, NULL, &color, "Change category colour", error);
}

static void remove_object_recorded (SsaDocument *self, SsaObject *obj, const char *label);

gboolean
ssa_document_remove_category (SsaDocument *self, gint64 id, GError **error)
{
  SsaCategory *cat;
  SsaCommand *cmd;
  guint position = 0;
  guint n_images;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  if ((cat = category_or_error (self, id, error)) == NULL)
    return FALSE;
  ssa_document_begin_group (self, "Remove category");
  n_images = ssa_document_get_n_images (self);
  for (guint i = 0; i < n_images; i++)
    {
      GListModel *objects = ssa_image_entry_get_objects (ssa_document_get_image (self, i));
      for (guint k = g_list_model_get_n_items (objects); k-- > 0;)
        {
          g_autoptr(SsaObject) obj = g_list_model_get_item (objects, k);
          if (ssa_object_get_category_id (obj) == id)
            remove_object_recorded (self, obj, NULL);
        }
    }
  find_category (self, id, &position);
  cmd = g_new0 (SsaCommand, 1);
  cmd->op = SSA_OP_REMOVE_CATEGORY;
  cmd->position = position;
  cmd->cat_before = ssa_category_data_copy (ssa_category_peek_data (cat));
  if (!ssa_document_do_remove_category (self, cmd->cat_before))
    g_assert_not_reached ();
  record (self, cmd, "Remove category");
  ssa_document_end_group (self);
  return TRUE;
}

/* --- objects --------------------------------------------------------------------------------- */

static gboolean
check_prompt (const SsaPrompt *p, GError **error)
{
  if (p == NULL)
    return TRUE;
  if (p->n_points > SS_MAX_POINTS || (p->n_points > 0 && p->points == NULL) ||
      (p->mode != SS_MODE_SAM && p->mode != SS_MODE_STABLE))
    goto bad;
  if (p->has_box)
    for (int i = 0; i < 4; i++)
      if (!isfinite (p->box[i]))
        goto bad;
  for (guint i = 0; i < p->n_points; i++)
    if (!isfinite (p->points[i].x) || !isfinite (p->points[i].y) ||
        (p->points[i].label != 0 && p->points[i].label != 1))
      goto bad;
  return TRUE;
bad:
  g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
               "the prompt is not valid (non-finite coordinates, labels other than 0/1 or too many points)");
  return FALSE;
}

static SsaImageEntry *
image_for_mask (SsaDocument *self, guint image_index, int width, int height, GError **error)
{
  SsaImageEntry *img = ssa_document_get_image (self, image_index);

  if (img == NULL)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND, "there is no image %u", image_index);
      return NULL;
    }
  if (width <= 0 || height <= 0 ||
      (ssa_image_entry_get_width (img) != 0 &&
       (ssa_image_entry_get_width (img) != width || ssa_image_entry_get_height (img) != height)))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_SIZE, "%s: the mask is %dx%d but the image is %dx%d",
                   ssa_image_entry_get_path (img), width, height,
                   ssa_image_entry_get_width (img), ssa_image_entry_get_height (img));
      return NULL;
    }
  return img;
}

static SsaObject *
add_object_data (SsaDocument *self, guint image_index, gint64 category_id, SsaObjectData *data,
                 const SsaPrompt *prompt)
{
  SsaImageEntry *img = ssa_document_get_image (self, image_index);
  SsaCommand *cmd = g_new0 (SsaCommand, 1);
  gint64 id = self->next_object_id;

  data->id = id;
  data->category_id = category_id;
  data->visible = TRUE;
  data->prompt = ssa_prompt_copy (prompt);
  cmd->op = SSA_OP_ADD_OBJECT;
  cmd->image = image_index;
  cmd->position = ssa_image_entry_get_n_objects (img);
  cmd->obj_after = data;
  if (!ssa_document_do_insert_object (self, image_index, cmd->position, data))
    g_assert_not_reached ();
  record (self, cmd, "Add object");
  return g_hash_table_lookup (self->objects_by_id, &id);
}

SsaObject *
ssa_document_add_object (SsaDocument *self, guint image_index, gint64 category_id,
                         const guint8 *mask, int width, int height, const SsaPrompt *prompt,
                         GError **error)
{
  SsaObjectData *data;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  g_return_val_if_fail (mask != NULL, NULL);
  if (image_for_mask (self, image_index, width, height, error) == NULL ||
      category_or_error (self, category_id, error) == NULL || !check_prompt (prompt, error))
    return NULL;
  if ((data = ssa_object_data_new_from_mask (mask, width, height, error)) == NULL)
    return NULL;
  return add_object_data (self, image_index, category_id, data, prompt);
}

SsaObject *
ssa_document_add_object_rle (SsaDocument *self, guint image_index, gint64 category_id,
                             const char *rle_counts, int width, int height,
                             const SsaPrompt *prompt, GError **error)
{
  SsaObjectData *data;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  g_return_val_if_fail (rle_counts != NULL, NULL);
  if (image_for_mask (self, image_index, width, height, error) == NULL ||
      category_or_error (self, category_id, error) == NULL || !check_prompt (prompt, error))
    return NULL;
  if ((data = ssa_object_data_new_from_rle (rle_counts, width, height, error)) == NULL)
    return NULL;
  return add_object_data (self, image_index, category_id, data, prompt);
}

SsaObject *
ssa_document_find_object (SsaDocument *self, gint64 object_id)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  return g_hash_table_lookup (self->objects_by_id, &object_id);
}

static SsaObject *
object_or_error (SsaDocument *self, gint64 id, GError **error)
{
  SsaObject *obj = g_hash_table_lookup (self->objects_by_id, &id);

  if (obj == NULL)
    g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_NOT_FOUND,
                 "there is no object with id %" G_GINT64_FORMAT, id);
  return obj;
}

static void
remove_object_recorded (SsaDocument *self, SsaObject *obj, const char *label)
{
  guint image = ssa_object_get_image_index (obj);
  GListStore *store = ssa_image_entry_get_store (ssa_document_get_image (self, image));
  SsaCommand *cmd = g_new0 (SsaCommand, 1);
  guint position = 0;

  g_list_store_find (store, obj, &position);
  cmd->op = SSA_OP_REMOVE_OBJECT;
  cmd->image = image;
  cmd->position = position;
  cmd->obj_before = ssa_object_data_copy (ssa_object_peek_data (obj));
  if (!ssa_document_do_remove_object (self, image, cmd->obj_before))
    g_assert_not_reached ();
  record (self, cmd, label);
}

gboolean
ssa_document_remove_object (SsaDocument *self, gint64 object_id, GError **error)
{
  SsaObject *obj;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  if ((obj = object_or_error (self, object_id, error)) == NULL)
    return FALSE;
  remove_object_recorded (self, obj, "Remove object");
  return TRUE;
}

/* Records a modify command from the object's current data to `after` (consumed). */
static void
modify_object (SsaDocument *self, SsaObject *obj, SsaObjectData *after, const char *label)
{
  SsaCommand *cmd = g_new0 (SsaCommand, 1);

  cmd->op = SSA_OP_MODIFY_OBJECT;
  cmd->image = ssa_object_get_image_index (obj);
  cmd->obj_before = ssa_object_data_copy (ssa_object_peek_data (obj));
  cmd->obj_after = after;
  if (!ssa_document_do_replace_object (self, cmd->obj_before, after))
    g_assert_not_reached ();
  record (self, cmd, label);
}

gboolean
ssa_document_set_object_mask (SsaDocument *self, gint64 object_id, const guint8 *mask,
                              int width, int height, const SsaPrompt *prompt, GError **error)
{
  SsaObject *obj;
  const SsaObjectData *cur;
  SsaObjectData *after;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  g_return_val_if_fail (mask != NULL, FALSE);
  if ((obj = object_or_error (self, object_id, error)) == NULL ||
      image_for_mask (self, ssa_object_get_image_index (obj), width, height, error) == NULL ||
      !check_prompt (prompt, error))
    return FALSE;
  if ((after = ssa_object_data_new_from_mask (mask, width, height, error)) == NULL)
    return FALSE;
  cur = ssa_object_peek_data (obj);
  after->id = cur->id;
  after->category_id = cur->category_id;
  after->visible = cur->visible;
  after->iscrowd = cur->iscrowd;
  after->prompt = ssa_prompt_copy (prompt);
  modify_object (self, obj, after, "Change mask");
  return TRUE;
}

gboolean
ssa_document_set_object_category (SsaDocument *self, gint64 object_id, gint64 category_id,
                                  GError **error)
{
  SsaObject *obj;
  SsaObjectData *after;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  if ((obj = object_or_error (self, object_id, error)) == NULL ||
      category_or_error (self, category_id, error) == NULL)
    return FALSE;
  if (ssa_object_get_category_id (obj) == category_id)
    return TRUE;
  after = ssa_object_data_copy (ssa_object_peek_data (obj));
  after->category_id = category_id;
  modify_object (self, obj, after, "Change category");
  return TRUE;
}

gboolean
ssa_document_set_object_visible (SsaDocument *self, gint64 object_id, gboolean visible,
                                 GError **error)
{
  SsaObject *obj;
  SsaObjectData *after;

  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  if ((obj = object_or_error (self, object_id, error)) == NULL)
    return FALSE;
  visible = !!visible;
  if (ssa_object_get_visible (obj) == visible)
    return TRUE;
  after = ssa_object_data_copy (ssa_object_peek_data (obj));
  after->visible = visible;
  modify_object (self, obj, after, visible ? "Show object" : "Hide object");
  return TRUE;
}

/* --- undo / redo ------------------------------------------------------------------------------ */

gboolean
ssa_document_can_undo (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  return self->undo->len > 0 && self->group == NULL;
}

gboolean
ssa_document_can_redo (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  return self->redo->len > 0 && self->group == NULL;
}

static gboolean
run_history (SsaDocument *self, gboolean forward)
{
  GPtrArray *from = forward ? self->redo : self->undo;
  GPtrArray *to = forward ? self->undo : self->redo;
  SsaUndoStep *step;
  int image;

  if (from->len == 0 || self->group != NULL)
    return FALSE;
  step = g_ptr_array_steal_index (from, from->len - 1);
  image = ssa_undo_step_image (step);
  if (image >= 0 && image < (int) ssa_document_get_n_images (self) && image != self->current_image)
    ssa_document_set_current_image (self, image);
  if (ssa_undo_step_run (step, self, forward))
    g_ptr_array_add (to, step);
  else
    {
      /* The history does not match the document (cannot happen for a history that was
       * checked when the project was read): drop it rather than guess. */
      g_warning ("undo history: step \"%s\" does not match the document; history dropped", step->label);
      ssa_undo_step_free (step);
      g_ptr_array_set_size (self->undo, 0);
      g_ptr_array_set_size (self->redo, 0);
    }
  notify_history (self);
  mark_changed (self);
  return TRUE;
}

gboolean
ssa_document_undo (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  return run_history (self, FALSE);
}

gboolean
ssa_document_redo (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), FALSE);
  return run_history (self, TRUE);
}

const char *
ssa_document_get_undo_label (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  if (self->undo->len == 0)
    return NULL;
  return ((SsaUndoStep *) g_ptr_array_index (self->undo, self->undo->len - 1))->label;
}

const char *
ssa_document_get_redo_label (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), NULL);
  if (self->redo->len == 0)
    return NULL;
  return ((SsaUndoStep *) g_ptr_array_index (self->redo, self->redo->len - 1))->label;
}

void
ssa_document_begin_group (SsaDocument *self, const char *label)
{
  g_return_if_fail (SSA_IS_DOCUMENT (self));
  if (self->group_depth++ == 0)
    {
      self->group = ssa_undo_step_new (label);
      notify_history (self);
    }
}

void
ssa_document_end_group (SsaDocument *self)
{
  SsaUndoStep *step;

  g_return_if_fail (SSA_IS_DOCUMENT (self));
  g_return_if_fail (self->group_depth > 0);
  if (--self->group_depth > 0)
    return;
  step = g_steal_pointer (&self->group);
  if (step->commands->len == 0)
    {
      ssa_undo_step_free (step);
      notify_history (self);
      return;
    }
  g_ptr_array_set_size (self->redo, 0);
  g_ptr_array_add (self->undo, step);
  trim_history (self);
  notify_history (self);
  mark_changed (self);
}

void
ssa_document_clear_history (SsaDocument *self)
{
  g_return_if_fail (SSA_IS_DOCUMENT (self));
  if (self->undo->len == 0 && self->redo->len == 0)
    return;
  g_ptr_array_set_size (self->undo, 0);
  g_ptr_array_set_size (self->redo, 0);
  notify_history (self);
  mark_changed (self);
}

guint
ssa_document_get_undo_depth (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), 0);
  return self->undo->len;
}

guint
ssa_document_get_redo_depth (SsaDocument *self)
{
  g_return_val_if_fail (SSA_IS_DOCUMENT (self), 0);
  return self->redo->len;
}

void
ssa_document_set_undo_limit (SsaDocument *self, guint limit)
{
  g_return_if_fail (SSA_IS_DOCUMENT (self));
  limit = MAX (limit, 1);
  if (self->undo_limit == limit)
    return;
  self->undo_limit = limit;
  trim_history (self);
  notify_history (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNDO_LIMIT]);
}
