/* ssa-json.c — json-c helpers with one-line GErrors, and the atomic file write. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ssa-core-private.h"

json_object *
ssa_json_double (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    v = 0;
  g_ascii_formatd (buf, sizeof buf, "%.9g", v);
  return json_object_new_double_s (v, buf);
}

static gboolean
get_member (json_object *parent, const char *key, gboolean required, json_object **out,
            const char *where, GError **error)
{
  if (!json_object_object_get_ex (parent, key, out) || json_object_is_type (*out, json_type_null))
    {
      *out = NULL;
      if (required)
        {
          g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                       "%s: \"%s\" is missing", where, key);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
ssa_json_get_int (json_object *parent, const char *key, gboolean required, gint64 *out,
                  const char *where, GError **error)
{
  json_object *v;

  if (!get_member (parent, key, required, &v, where, error))
    return FALSE;
  if (v == NULL)
    return TRUE;
  if (json_object_is_type (v, json_type_int))
    {
      *out = json_object_get_int64 (v);
      return TRUE;
    }
  if (json_object_is_type (v, json_type_double))
    {
      double d = json_object_get_double (v);
      if (isfinite (d) && d == floor (d) && fabs (d) < 9e15)
        {
          *out = (gint64) d;
          return TRUE;
        }
    }
  g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
               "%s: \"%s\" must be an integer", where, key);
  return FALSE;
}

gboolean
ssa_json_get_double (json_object *parent, const char *key, gboolean required, double *out,
                     const char *where, GError **error)
{
  json_object *v;

  if (!get_member (parent, key, required, &v, where, error))
    return FALSE;
  if (v == NULL)
    return TRUE;
  if ((json_object_is_type (v, json_type_int) || json_object_is_type (v, json_type_double)) &&
      isfinite (json_object_get_double (v)))
    {
      *out = json_object_get_double (v);
      return TRUE;
    }
  g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
               "%s: \"%s\" must be a number", where, key);
  return FALSE;
}

gboolean
ssa_json_get_bool (json_object *parent, const char *key, gboolean required, gboolean *out,
                   const char *where, GError **error)
{
  json_object *v;

  if (!get_member (parent, key, required, &v, where, error))
    return FALSE;
  if (v == NULL)
    return TRUE;
  if (json_object_is_type (v, json_type_boolean))
    {
      *out = json_object_get_boolean (v);
      return TRUE;
    }
  g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
               "%s: \"%s\" must be true or false", where, key);
  return FALSE;
}

gboolean
ssa_json_get_string (json_object *parent, const char *key, gboolean required, const char **out,
                     const char *where, GError **error)
{
  json_object *v;

  if (!get_member (parent, key, required, &v, where, error))
    return FALSE;
  if (v == NULL)
    return TRUE;
  if (json_object_is_type (v, json_type_string))
    {
      *out = json_object_get_string (v);
      return TRUE;
    }
  g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
               "%s: \"%s\" must be a string", where, key);
  return FALSE;
}

json_object *
ssa_json_parse (const char *data, gsize length, const char *name, GError **error)
{
  json_tokener *tok;
  json_object *root;
  enum json_tokener_error jerr;
  gsize end, line = 1;

  if (length > G_MAXINT32)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_PARSE, "%s: file too large", name);
      return NULL;
    }
  if (length == 0)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_PARSE, "%s: empty file", name);
      return NULL;
    }
  tok = json_tokener_new_ex (64);
  root = json_tokener_parse_ex (tok, data, (int) length);
  jerr = json_tokener_get_error (tok);
  end = (gsize) json_tokener_get_parse_end (tok);
  if (root == NULL && jerr == json_tokener_continue)
    {
      /* json-c needs one more byte to finish a top-level number etc. */
      root = json_tokener_parse_ex (tok, "", 1);
      jerr = json_tokener_get_error (tok);
    }
  for (gsize i = 0; i < MIN (end, length); i++)
    if (data[i] == '\n')
      line++;
  if (root == NULL)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_PARSE, "%s: line %" G_GSIZE_FORMAT
                   ": not valid JSON (%s)", name, line,
                   jerr == json_tokener_continue ? "unexpected end of file" : json_tokener_error_desc (jerr));
      json_tokener_free (tok);
      return NULL;
    }
  for (gsize i = end; i < length; i++)
    if (!g_ascii_isspace (data[i]) && data[i] != '\0')
      {
        g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_PARSE, "%s: line %" G_GSIZE_FORMAT
                     ": trailing data after the JSON value", name, line);
        json_object_put (root);
        json_tokener_free (tok);
        return NULL;
      }
  json_tokener_free (tok);
  return root;
}

char *
ssa_json_to_data (json_object *root, gsize *length)
{
  const char *s = json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
  char *out = g_strconcat (s, "\n", NULL);

  if (length)
    *length = strlen (out);
  return out;
}

gboolean
ssa_write_file_atomic (const char *path, const char *data, gsize length, GError **error)
{
  g_autoptr(GError) local = NULL;

  /* temp file in the same folder, fsync, rename (GLib's CONSISTENT | DURABLE). */
  if (!g_file_set_contents_full (path, data, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local))
    {
      g_set_error (error, G_FILE_ERROR, local->domain == G_FILE_ERROR ? local->code : G_FILE_ERROR_FAILED,
                   "%s: cannot write: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}

/* BASENAME.XXXXXX with X in GLib's temp-name alphabet (g_mkstemp_full, glib/gfileutils.c). */
static gboolean
is_temp_name_of (const char *name, const char *base)
{
  size_t n = strlen (base);

  if (strncmp (name, base, n) != 0 || name[n] != '.' || strlen (name + n + 1) != 6)
    return FALSE;
  for (const char *p = name + n + 1; *p; p++)
    if (!g_ascii_isalnum (*p))
      return FALSE;
  return TRUE;
}

guint
ssa_remove_stale_temp_files (const char *path, gint64 min_age_s)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  const char *name;
  GDir *d;
  guint removed = 0;
  time_t now = time (NULL);

  g_return_val_if_fail (path != NULL, 0);
  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  if ((d = g_dir_open (dir, 0, NULL)) == NULL)
    return 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *full = NULL;
      GStatBuf st;

      if (!is_temp_name_of (name, base))
        continue;
      full = g_build_filename (dir, name, NULL);
      /* lstat: a symlink with that name is not ours; neither is another user's file */
      if (g_lstat (full, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != getuid ()
          || (gint64) now - (gint64) st.st_mtime < min_age_s)
        continue;
      if (g_unlink (full) == 0)
        removed++;
      else
        g_debug ("%s: cannot remove a stale temp file: %s", full, g_strerror (errno));
    }
  g_dir_close (d);
  return removed;
}

void
ssa_error_one_line (GError *error)
{
  GString *s;
  gsize max = 400;

  if (error == NULL || error->message == NULL)
    return;
  s = g_string_new (NULL);
  for (const char *p = error->message; *p; p++)
    {
      guchar c = (guchar) *p;
      if (c == '\n')
        g_string_append (s, "\\n");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (s, "\\x%02x", c);
      else
        g_string_append_c (s, (char) c);
    }
  if (s->len > max)
    {
      /* cut at a character boundary (file contents quoted in a message can be long) */
      const char *end = s->str + max;
      while (end > s->str && ((guchar) *end & 0xc0) == 0x80)
        end--;
      g_string_truncate (s, (gsize) (end - s->str));
      g_string_append (s, "…");
    }
  if (!g_utf8_validate (s->str, -1, NULL))
    {
      char *valid = g_utf8_make_valid (s->str, -1);
      g_string_assign (s, valid);
      g_free (valid);
    }
  g_free (error->message);
  error->message = g_string_free (s, FALSE);
}
