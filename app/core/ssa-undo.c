/* ssa-undo.c — undo commands: each command is a reversible diff of the document, stored as
 * before / after snapshots so that it can be written to the project file and read back. */
#include <string.h>

#include "ssa-core-private.h"

static const char *const op_names[] = {
  [SSA_OP_ADD_OBJECT] = "add_object",
  [SSA_OP_REMOVE_OBJECT] = "remove_object",
  [SSA_OP_MODIFY_OBJECT] = "modify_object",
  [SSA_OP_ADD_CATEGORY] = "add_category",
  [SSA_OP_REMOVE_CATEGORY] = "remove_category",
  [SSA_OP_MODIFY_CATEGORY] = "modify_category",
};

void
ssa_command_free (SsaCommand *cmd)
{
  if (cmd == NULL)
    return;
  ssa_object_data_free (cmd->obj_before);
  ssa_object_data_free (cmd->obj_after);
  ssa_category_data_free (cmd->cat_before);
  ssa_category_data_free (cmd->cat_after);
  g_free (cmd);
}

SsaUndoStep *
ssa_undo_step_new (const char *label)
{
  SsaUndoStep *step = g_new0 (SsaUndoStep, 1);

  step->label = g_strdup (label ? label : "");
  step->commands = g_ptr_array_new_with_free_func ((GDestroyNotify) ssa_command_free);
  return step;
}

void
ssa_undo_step_free (SsaUndoStep *step)
{
  if (step == NULL)
    return;
  g_free (step->label);
  g_ptr_array_unref (step->commands);
  g_free (step);
}

static gboolean
is_object_op (SsaOp op)
{
  return op == SSA_OP_ADD_OBJECT || op == SSA_OP_REMOVE_OBJECT || op == SSA_OP_MODIFY_OBJECT;
}

int
ssa_undo_step_image (const SsaUndoStep *step)
{
  for (guint i = 0; i < step->commands->len; i++)
    {
      const SsaCommand *cmd = g_ptr_array_index (step->commands, i);
      if (is_object_op (cmd->op))
        return (int) cmd->image;
    }
  return -1;
}

/* One command, forward (do / redo) or backward (undo). */
static gboolean
command_run (const SsaCommand *cmd, SsaDocument *doc, gboolean forward)
{
  switch (cmd->op)
    {
    case SSA_OP_ADD_OBJECT:
      return forward ? ssa_document_do_insert_object (doc, cmd->image, cmd->position, cmd->obj_after)
                     : ssa_document_do_remove_object (doc, cmd->image, cmd->obj_after);
    case SSA_OP_REMOVE_OBJECT:
      return forward ? ssa_document_do_remove_object (doc, cmd->image, cmd->obj_before)
                     : ssa_document_do_insert_object (doc, cmd->image, cmd->position, cmd->obj_before);
    case SSA_OP_MODIFY_OBJECT:
      return forward ? ssa_document_do_replace_object (doc, cmd->obj_before, cmd->obj_after)
                     : ssa_document_do_replace_object (doc, cmd->obj_after, cmd->obj_before);
    case SSA_OP_ADD_CATEGORY:
      return forward ? ssa_document_do_insert_category (doc, cmd->position, cmd->cat_after)
                     : ssa_document_do_remove_category (doc, cmd->cat_after);
    case SSA_OP_REMOVE_CATEGORY:
      return forward ? ssa_document_do_remove_category (doc, cmd->cat_before)
                     : ssa_document_do_insert_category (doc, cmd->position, cmd->cat_before);
    case SSA_OP_MODIFY_CATEGORY:
      return forward ? ssa_document_do_replace_category (doc, cmd->cat_before, cmd->cat_after)
                     : ssa_document_do_replace_category (doc, cmd->cat_after, cmd->cat_before);
    default:
      g_assert_not_reached ();
    }
}

gboolean
ssa_undo_step_run (SsaUndoStep *step, SsaDocument *doc, gboolean forward)
{
  guint n = step->commands->len;

  for (guint k = 0; k < n; k++)
    {
      guint i = forward ? k : n - 1 - k;
      if (!command_run (g_ptr_array_index (step->commands, i), doc, forward))
        {
          /* roll back what this step already did */
          while (k-- > 0)
            {
              guint j = forward ? k : n - 1 - k;
              if (!command_run (g_ptr_array_index (step->commands, j), doc, !forward))
                g_critical ("undo history: rollback failed");
            }
          return FALSE;
        }
    }
  return TRUE;
}

json_object *
ssa_undo_step_to_json (const SsaUndoStep *step)
{
  json_object *o = json_object_new_object ();
  json_object *cmds = json_object_new_array ();

  json_object_object_add (o, "label", json_object_new_string (step->label));
  for (guint i = 0; i < step->commands->len; i++)
    {
      const SsaCommand *cmd = g_ptr_array_index (step->commands, i);
      json_object *c = json_object_new_object ();

      json_object_object_add (c, "op", json_object_new_string (op_names[cmd->op]));
      if (is_object_op (cmd->op))
        json_object_object_add (c, "image", json_object_new_int64 (cmd->image));
      if (cmd->op != SSA_OP_MODIFY_OBJECT && cmd->op != SSA_OP_MODIFY_CATEGORY)
        json_object_object_add (c, "index", json_object_new_int64 (cmd->position));
      if (cmd->obj_before)
        json_object_object_add (c, "before", ssa_object_data_to_json (cmd->obj_before));
      if (cmd->cat_before)
        json_object_object_add (c, "before", ssa_category_data_to_json (cmd->cat_before));
      if (cmd->obj_after)
        json_object_object_add (c, "after", ssa_object_data_to_json (cmd->obj_after));
      if (cmd->cat_after)
        json_object_object_add (c, "after", ssa_category_data_to_json (cmd->cat_after));
      json_object_array_add (cmds, c);
    }
  json_object_object_add (o, "commands", cmds);
  return o;
}

SsaUndoStep *
ssa_undo_step_from_json (json_object *o, const char *where, GError **error)
{
  SsaUndoStep *step;
  json_object *cmds;
  const char *label = NULL;
  size_t n;

  if (!json_object_is_type (o, json_type_object) ||
      !ssa_json_get_string (o, "label", FALSE, &label, where, error))
    {
      if (error && *error == NULL)
        g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: not an object", where);
      return NULL;
    }
  if (!json_object_object_get_ex (o, "commands", &cmds) || !json_object_is_type (cmds, json_type_array) ||
      json_object_array_length (cmds) == 0)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "%s: \"commands\" must be a non-empty list", where);
      return NULL;
    }
  step = ssa_undo_step_new (label);
  n = json_object_array_length (cmds);
  for (size_t i = 0; i < n; i++)
    {
      json_object *c = json_object_array_get_idx (cmds, i);
      g_autofree char *cw = g_strdup_printf ("%s.commands[%zu]", where, i);
      g_autofree char *bw = g_strdup_printf ("%s.before", cw);
      g_autofree char *aw = g_strdup_printf ("%s.after", cw);
      g_autoptr(GError) local = NULL;
      SsaCommand *cmd = g_new0 (SsaCommand, 1);
      const char *op = NULL;
      json_object *before = NULL, *after = NULL;
      gint64 image = 0, index = 0;
      int k;

      g_ptr_array_add (step->commands, cmd);
      if (!json_object_is_type (c, json_type_object) ||
          !ssa_json_get_string (c, "op", TRUE, &op, cw, &local))
        goto fail;
      for (k = 0; k < (int) G_N_ELEMENTS (op_names); k++)
        if (strcmp (op, op_names[k]) == 0)
          break;
      if (k == (int) G_N_ELEMENTS (op_names))
        {
          g_set_error (&local, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: unknown \"op\" \"%s\"", cw, op);
          goto fail;
        }
      cmd->op = (SsaOp) k;
      json_object_object_get_ex (c, "before", &before);
      json_object_object_get_ex (c, "after", &after);
      if (!ssa_json_get_int (c, "image", is_object_op (cmd->op), &image, cw, &local) ||
          !ssa_json_get_int (c, "index", cmd->op != SSA_OP_MODIFY_OBJECT &&
                             cmd->op != SSA_OP_MODIFY_CATEGORY, &index, cw, &local))
        goto fail;
      if (image < 0 || image > G_MAXINT32 || index < 0 || index > G_MAXINT32)
        {
          g_set_error (&local, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: \"image\" / \"index\" out of range", cw);
          goto fail;
        }
      cmd->image = (guint) image;
      cmd->position = (guint) index;
      {
        gboolean need_before = cmd->op != SSA_OP_ADD_OBJECT && cmd->op != SSA_OP_ADD_CATEGORY;
        gboolean need_after = cmd->op != SSA_OP_REMOVE_OBJECT && cmd->op != SSA_OP_REMOVE_CATEGORY;
        if ((need_before && before == NULL) || (need_after && after == NULL))
          {
            g_set_error (&local, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                         "%s: \"%s\" is missing", cw, need_before && before == NULL ? "before" : "after");
            goto fail;
          }
        if (is_object_op (cmd->op))
          {
            if ((need_before && !(cmd->obj_before = ssa_object_data_from_json (before, bw, &local))) ||
                (need_after && !(cmd->obj_after = ssa_object_data_from_json (after, aw, &local))))
              goto fail;
            if (cmd->op == SSA_OP_MODIFY_OBJECT && cmd->obj_before->id != cmd->obj_after->id)
              {
                g_set_error (&local, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                             "%s: \"before\" and \"after\" are different objects", cw);
                goto fail;
              }
          }
        else
          {
            if ((need_before && !(cmd->cat_before = ssa_category_data_from_json (before, bw, &local))) ||
                (need_after && !(cmd->cat_after = ssa_category_data_from_json (after, aw, &local))))
              goto fail;
            if (cmd->op == SSA_OP_MODIFY_CATEGORY && cmd->cat_before->id != cmd->cat_after->id)
              {
                g_set_error (&local, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                             "%s: \"before\" and \"after\" are different categories", cw);
                goto fail;
              }
          }
      }
      continue;
    fail:
      if (local == NULL)
        g_set_error (&local, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: not an object", cw);
      g_propagate_error (error, g_steal_pointer (&local));
      ssa_undo_step_free (step);
      return NULL;
    }
  return step;
}
