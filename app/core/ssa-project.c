/* ssa-project.c — project file (JSON) serialisation of an SsaDocument; see ssa-project.h. */
#include <string.h>

#include "ssa-core-private.h"
#include "ssa-project.h"

#define PROJECT_FORMAT  "stablesam-project"
#define PROJECT_VERSION 1
#define MAX_IMAGE_SIDE  100000

static char *
relative_path (const char *path, const char *base_dir)
{
  gsize n;

  if (base_dir == NULL)
    return g_strdup (path);
  n = strlen (base_dir);
  if (n > 0 && strncmp (path, base_dir, n) == 0 && (path[n] == G_DIR_SEPARATOR || base_dir[n - 1] == G_DIR_SEPARATOR))
    return g_strdup (path + n + (path[n] == G_DIR_SEPARATOR ? 1 : 0));
  return g_strdup (path);
}

char *
ssa_project_to_data (SsaDocument *doc, const char *base_dir, gsize *length)
{
  json_object *root = json_object_new_object ();
  json_object *cats = json_object_new_array ();
  json_object *images = json_object_new_array ();
  json_object *history = json_object_new_object ();
  json_object *undo = json_object_new_array ();
  json_object *redo = json_object_new_array ();
  GListModel *cat_model = ssa_document_get_categories (doc);
  GPtrArray *stack;
  char *out;

  json_object_object_add (root, "format", json_object_new_string (PROJECT_FORMAT));
  json_object_object_add (root, "version", json_object_new_int (PROJECT_VERSION));
  for (guint i = 0; i < g_list_model_get_n_items (cat_model); i++)
    {
      g_autoptr(SsaCategory) c = g_list_model_get_item (cat_model, i);
      json_object_array_add (cats, ssa_category_data_to_json (ssa_category_peek_data (c)));
    }
  json_object_object_add (root, "categories", cats);
  for (guint i = 0; i < ssa_document_get_n_images (doc); i++)
    {
      SsaImageEntry *img = ssa_document_get_image (doc, i);
      GListModel *objects = ssa_image_entry_get_objects (img);
      json_object *o = json_object_new_object ();
      json_object *objs = json_object_new_array ();
      g_autofree char *file = relative_path (ssa_image_entry_get_path (img), base_dir);

      json_object_object_add (o, "id", json_object_new_int64 (ssa_image_entry_get_id (img)));
      json_object_object_add (o, "file", json_object_new_string (file));
      json_object_object_add (o, "width", json_object_new_int (ssa_image_entry_get_width (img)));
      json_object_object_add (o, "height", json_object_new_int (ssa_image_entry_get_height (img)));
      if (ssa_image_entry_get_hash (img) != NULL)
        json_object_object_add (o, "hash", json_object_new_string (ssa_image_entry_get_hash (img)));
      for (guint k = 0; k < g_list_model_get_n_items (objects); k++)
        {
          g_autoptr(SsaObject) obj = g_list_model_get_item (objects, k);
          json_object_array_add (objs, ssa_object_data_to_json (ssa_object_peek_data (obj)));
        }
      json_object_object_add (o, "objects", objs);
      json_object_array_add (images, o);
    }
  json_object_object_add (root, "images", images);
  if (ssa_document_get_images_root (doc) != NULL)
    {
      g_autofree char *root_dir = relative_path (ssa_document_get_images_root (doc), base_dir);
      json_object_object_add (root, "images_root", json_object_new_string (root_dir[0] ? root_dir : "."));
    }
  json_object_object_add (root, "current_image", json_object_new_int (ssa_document_get_current_image (doc)));
  json_object_object_add (root, "next_object_id", json_object_new_int64 (ssa_document_get_next_object_id (doc)));
  json_object_object_add (root, "undo_limit", json_object_new_int64 (ssa_document_get_undo_limit (doc)));
  stack = ssa_document_peek_undo_stack (doc);
  for (guint i = 0; i < stack->len; i++)
    json_object_array_add (undo, ssa_undo_step_to_json (g_ptr_array_index (stack, i)));
  stack = ssa_document_peek_redo_stack (doc);
  for (guint i = 0; i < stack->len; i++)
    json_object_array_add (redo, ssa_undo_step_to_json (g_ptr_array_index (stack, i)));
  json_object_object_add (history, "undo", undo);
  json_object_object_add (history, "redo", redo);
  json_object_object_add (root, "history", history);

  out = ssa_json_to_data (root, length);
  json_object_put (root);
  return out;
}

/* FALSE on error; *out NULL when absent (and not required). */
static gboolean
get_array (json_object *parent, const char *key, gboolean required, json_object **out,
           const char *where, GError **error)
{
  json_object *v = NULL;

  *out = NULL;
  if (!json_object_object_get_ex (parent, key, &v) || json_object_is_type (v, json_type_null))
    {
      if (!required)
        return TRUE;
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: \"%s\" is missing", where, key);
      return FALSE;
    }
  if (!json_object_is_type (v, json_type_array))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: \"%s\" must be a list", where, key);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
prefix_error (GError **error, GError *local, const char *where)
{
  g_set_error (error, local->domain, local->code, "%s: %s", where, local->message);
  g_error_free (local);
  return FALSE;
}

static gboolean
check_history_step (SsaUndoStep *step, guint n_images, gint64 *max_id, const char *where, GError **error)
{
  for (guint i = 0; i < step->commands->len; i++)
    {
      SsaCommand *cmd = g_ptr_array_index (step->commands, i);
      if ((cmd->op == SSA_OP_ADD_OBJECT || cmd->op == SSA_OP_REMOVE_OBJECT ||
           cmd->op == SSA_OP_MODIFY_OBJECT) && cmd->image >= n_images)
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s.commands[%u]: image %u does not exist", where, i, cmd->image);
          return FALSE;
        }
      if (cmd->obj_before)
        *max_id = MAX (*max_id, cmd->obj_before->id);
      if (cmd->obj_after)
        *max_id = MAX (*max_id, cmd->obj_after->id);
    }
  return TRUE;
}

static SsaDocument *
parse_project (const char *data, gsize length, const char *name, const char *base_dir,
               GError **error)
{
  g_autoptr(SsaDocument) doc = NULL;
  json_object *root, *cats, *images, *history;
  const char *format = NULL;
  gint64 version = 0, current = 0, next_id = 1, undo_limit = 0, max_id = 0;
  GError *local = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (data != NULL && name != NULL, NULL);
  if ((root = ssa_json_parse (data, length, name, error)) == NULL)
    return NULL;
  doc = ssa_document_new ();
  ssa_document_set_autosave_delay (doc, 0);
  if (!json_object_is_type (root, json_type_object))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: not a project file (not a JSON object)", name);
      goto out;
    }
  if (!ssa_json_get_string (root, "format", TRUE, &format, name, error) ||
      !ssa_json_get_int (root, "version", TRUE, &version, name, error))
    goto out;
  if (strcmp (format, PROJECT_FORMAT) != 0 || version != PROJECT_VERSION)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "%s: not a %s version %d file (format \"%s\", version %" G_GINT64_FORMAT ")",
                   name, PROJECT_FORMAT, PROJECT_VERSION, format, version);
      goto out;
    }

  if (!get_array (root, "categories", TRUE, &cats, name, error))
    goto out;
  for (size_t i = 0; i < json_object_array_length (cats); i++)
    {
      g_autofree char *where = g_strdup_printf ("%s: categories[%zu]", name, i);
      g_autoptr(SsaCategoryData) cd = ssa_category_data_from_json (json_object_array_get_idx (cats, i), where, error);
      if (cd == NULL)
        goto out;
      if (ssa_document_load_category (doc, cd, &local) == NULL)
        {
          prefix_error (error, local, where);
          goto out;
        }
    }

  if (!get_array (root, "images", TRUE, &images, name, error))
    goto out;
  for (size_t i = 0; i < json_object_array_length (images); i++)
    {
      g_autofree char *where = g_strdup_printf ("%s: images[%zu]", name, i);
      g_autofree char *path = NULL;
      json_object *im = json_object_array_get_idx (images, i), *objs;
      const char *file = NULL, *hash = NULL;
      gint64 id = 0, w = 0, h = 0;
      SsaImageEntry *entry;

      if (!json_object_is_type (im, json_type_object))
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: not an object", where);
          goto out;
        }
      if (!ssa_json_get_string (im, "file", TRUE, &file, where, error) ||
          !ssa_json_get_int (im, "id", TRUE, &id, where, error) ||
          !ssa_json_get_int (im, "width", FALSE, &w, where, error) ||
          !ssa_json_get_int (im, "height", FALSE, &h, where, error) ||
          !ssa_json_get_string (im, "hash", FALSE, &hash, where, error))
        goto out;
      if (file[0] == '\0' || id <= 0 || id > SSA_MAX_ID || w < 0 || h < 0 || w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE ||
          (w == 0) != (h == 0))
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: \"file\" must be non-empty, \"id\" > 0 and the size valid", where);
          goto out;
        }
      path = g_path_is_absolute (file) || base_dir == NULL ? g_strdup (file) : g_build_filename (base_dir, file, NULL);
      entry = ssa_document_add_image (doc, path, (int) w, (int) h, id);
      if (ssa_image_entry_get_index (entry) != i)
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: \"%s\" is listed twice", where, file);
          goto out;
        }
      if (ssa_image_entry_get_id (entry) != id)  /* add_image gave it a fresh id */
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: image id %" G_GINT64_FORMAT " is used twice", where, id);
          goto out;
        }
      if (hash != NULL)
        ssa_document_set_image_hash (doc, (guint) i, hash);
      if (!get_array (im, "objects", FALSE, &objs, where, error))
        goto out;
      for (size_t k = 0; objs && k < json_object_array_length (objs); k++)
        {
          g_autofree char *ow = g_strdup_printf ("%s.objects[%zu]", where, k);
          g_autoptr(SsaObjectData) od = ssa_object_data_from_json (json_object_array_get_idx (objs, k), ow, error);
          if (od == NULL)
            goto out;
          if (ssa_document_load_object (doc, (guint) i, od, &local) == NULL)
            {
              prefix_error (error, local, ow);
              goto out;
            }
          max_id = MAX (max_id, od->id);
        }
    }

  {
    const char *root_dir = NULL;
    if (!ssa_json_get_string (root, "images_root", FALSE, &root_dir, name, error))
      goto out;
    if (root_dir != NULL)
      {
        g_autofree char *abs = g_path_is_absolute (root_dir) || base_dir == NULL
                               ? g_strdup (root_dir) : g_build_filename (base_dir, root_dir, NULL);
        ssa_document_set_images_root (doc, abs);
      }
  }
  current = ssa_document_get_n_images (doc) > 0 ? 0 : -1;
  if (!ssa_json_get_int (root, "current_image", FALSE, &current, name, error) ||
      !ssa_json_get_int (root, "next_object_id", FALSE, &next_id, name, error) ||
      !ssa_json_get_int (root, "undo_limit", FALSE, &undo_limit, name, error))
    goto out;
  if (current < -1 || current >= (gint64) ssa_document_get_n_images (doc) ||
      (current == -1 && ssa_document_get_n_images (doc) > 0))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "%s: \"current_image\" %" G_GINT64_FORMAT " is not an image index", name, current);
      goto out;
    }
  if (next_id < 1 || next_id > SSA_MAX_ID)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "%s: \"next_object_id\" must be 1..2^53", name);
      goto out;
    }
  if (undo_limit < 0 || undo_limit > G_MAXINT32)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: \"undo_limit\" is out of range", name);
      goto out;
    }
  if (undo_limit > 0)
    ssa_document_set_undo_limit (doc, (guint) undo_limit);
  if (ssa_document_get_n_images (doc) > 0)
    ssa_document_set_current_image (doc, (int) current);

  if (json_object_object_get_ex (root, "history", &history) && !json_object_is_type (history, json_type_null))
    {
      static const char *const keys[2] = { "undo", "redo" };
      g_autofree char *hw = g_strdup_printf ("%s: history", name);

      if (!json_object_is_type (history, json_type_object))
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: not an object", hw);
          goto out;
        }
      for (int s = 0; s < 2; s++)
        {
          GPtrArray *stack = s == 0 ? ssa_document_peek_undo_stack (doc) : ssa_document_peek_redo_stack (doc);
          json_object *arr;
          if (!get_array (history, keys[s], FALSE, &arr, hw, error))
            goto out;
          for (size_t i = 0; arr && i < json_object_array_length (arr); i++)
            {
              g_autofree char *sw = g_strdup_printf ("%s.%s[%zu]", hw, keys[s], i);
              SsaUndoStep *step = ssa_undo_step_from_json (json_object_array_get_idx (arr, i), sw, error);
              if (step == NULL)
                goto out;
              g_ptr_array_add (stack, step);
              if (!check_history_step (step, ssa_document_get_n_images (doc), &max_id, sw, error))
                goto out;
            }
        }
    }
  ssa_document_set_next_object_id (doc, MAX (next_id, max_id + 1));
  ssa_document_set_modified_internal (doc, FALSE);
  ssa_document_set_autosave_delay (doc, SSA_DOCUMENT_AUTOSAVE_DELAY);
  ok = TRUE;

out:
  json_object_put (root);
  return ok ? g_steal_pointer (&doc) : NULL;
}

/* Replays the stored history on a scratch copy: undo every step, redo them all, then redo the
 * redo stack. Any step that does not find the document in the state it expects is an error. */
static gboolean
check_history (SsaDocument *scratch, const char *name, GError **error)
{
  GPtrArray *undo = ssa_document_peek_undo_stack (scratch);
  GPtrArray *redo = ssa_document_peek_redo_stack (scratch);
  guint i;

  for (i = undo->len; i-- > 0;)
    if (!ssa_undo_step_run (g_ptr_array_index (undo, i), scratch, FALSE))
      goto bad_undo;
  for (i = 0; i < undo->len; i++)
    if (!ssa_undo_step_run (g_ptr_array_index (undo, i), scratch, TRUE))
      goto bad_undo;
  for (i = redo->len; i-- > 0;)
    if (!ssa_undo_step_run (g_ptr_array_index (redo, i), scratch, TRUE))
      {
        g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                     "%s: history.redo[%u] does not match the document", name, i);
        return FALSE;
      }
  return TRUE;

bad_undo:
  g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
               "%s: history.undo[%u] does not match the document", name, i);
  return FALSE;
}

SsaDocument *
ssa_project_from_data (const char *data, gsize length, const char *name, const char *base_dir,
                       GError **error)
{
  g_autoptr(SsaDocument) doc = NULL;
  g_autoptr(SsaDocument) scratch = NULL;
  GError *local = NULL;

  doc = parse_project (data, length, name, base_dir, &local);
  if (doc == NULL)
    {
      ssa_error_one_line (local);
      g_propagate_error (error, local);
      return NULL;
    }
  if (ssa_document_get_undo_depth (doc) == 0 && ssa_document_get_redo_depth (doc) == 0)
    return g_steal_pointer (&doc);
  scratch = parse_project (data, length, name, base_dir, NULL);
  g_assert (scratch != NULL);
  ssa_document_set_autosave_delay (scratch, 0);
  if (!check_history (scratch, name, &local))
    {
      ssa_error_one_line (local);
      g_propagate_error (error, local);
      return NULL;
    }
  return g_steal_pointer (&doc);
}
