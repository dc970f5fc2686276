/* cli-export.c — `stablesam export` and `stablesam import` (DESIGN §8):
 *   stablesam export PROJECT.json --coco OUT.json [--polygons]
 *   stablesam import COCO.json --images DIR --project OUT.json
 */
#include <stdio.h>
#include <string.h>

#include "cli-commands.h"
#include "ssa-coco.h"

static int
usage (const char *msg)
{
  if (msg != NULL)
    fprintf (stderr, "stablesam: %s\n", msg);
  fprintf (stderr, "usage: stablesam export PROJECT.json --coco OUT.json [--polygons]\n"
                   "       stablesam import COCO.json --images DIR --project OUT.json\n");
  return 2;
}

static int
fail (GError *error)
{
  fprintf (stderr, "stablesam: %s\n", error->message);
  g_error_free (error);
  return 1;
}

/* Value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"), or NULL (usage error). */
static const char *
option_value (int argc, char **argv, int *i, const char *opt)
{
  gsize n = strlen (opt);

  if (strncmp (argv[*i], opt, n) == 0 && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (strcmp (argv[*i], opt) == 0 && *i + 1 < argc)
    return argv[++*i];
  return NULL;
}

int
ssa_cmd_export (int argc, char **argv)
{
  g_autoptr(SsaDocument) doc = NULL;
  const char *project = NULL, *out = NULL;
  SsaCocoFlags flags = SSA_COCO_FLAGS_NONE;
  GError *error = NULL;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--polygons") == 0)
        flags |= SSA_COCO_FLAGS_POLYGONS;
      else if (strncmp (argv[i], "--coco", 6) == 0)
        {
          if ((out = option_value (argc, argv, &i, "--coco")) == NULL)
            return usage ("--coco needs a file name");
        }
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          usage (NULL);
          return 0;
        }
      else if (argv[i][0] == '-' && argv[i][1] != '\0')
        return usage ("export: unknown option");
      else if (project == NULL)
        project = argv[i];
      else
        return usage ("export: one project file only");
    }
  if (project == NULL || out == NULL)
    return usage ("export needs PROJECT.json and --coco OUT.json");

  if ((doc = ssa_document_new_from_file (project, &error)) == NULL)
    return fail (error);
  ssa_document_set_autosave_delay (doc, 0);
  if (!ssa_coco_export (doc, out, flags, &error))
    return fail (error);
  return 0;
}

int
ssa_cmd_import (int argc, char **argv)
{
  g_autoptr(SsaDocument) doc = NULL;
  const char *coco = NULL, *images = NULL, *project = NULL;
  GError *error = NULL;

  for (int i = 1; i < argc; i++)
    {
      if (strncmp (argv[i], "--images", 8) == 0)
        {
          if ((images = option_value (argc, argv, &i, "--images")) == NULL)
            return usage ("--images needs a folder");
        }
      else if (strncmp (argv[i], "--project", 9) == 0)
        {
          if ((project = option_value (argc, argv, &i, "--project")) == NULL)
            return usage ("--project needs a file name");
        }
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          usage (NULL);
          return 0;
        }
      else if (argv[i][0] == '-' && argv[i][1] != '\0')
        return usage ("import: unknown option");
      else if (coco == NULL)
        coco = argv[i];
      else
        return usage ("import: one COCO file only");
    }
  if (coco == NULL || images == NULL || project == NULL)
    return usage ("import needs COCO.json, --images DIR and --project OUT.json");

  if ((doc = ssa_coco_import (coco, images, &error)) == NULL)
    return fail (error);
  ssa_document_set_autosave_delay (doc, 0);
  if (!ssa_document_save (doc, project, &error))
    return fail (error);
  return 0;
}
