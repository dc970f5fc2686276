/* ssa-category.c — SsaCategory and its snapshot SsaCategoryData. */
#include <string.h>

#include "ssa-core-private.h"

char *
ssa_rgba_to_string (SsaRgba c)
{
  return g_strdup_printf ("#%08x", (guint) c);
}

gboolean
ssa_rgba_parse (const char *s, SsaRgba *out)
{
  guint32 v = 0;

  if (s == NULL || s[0] != '#' || (strlen (s) != 9 && strlen (s) != 7))
    return FALSE;
  for (const char *p = s + 1; *p; p++)
    {
      int d = g_ascii_xdigit_value (*p);
      if (d < 0)
        return FALSE;
      v = (v << 4) | (guint32) d;
    }
  if (strlen (s) == 7)
    v = (v << 8) | 0xff;
  *out = v;
  return TRUE;
}

SsaCategoryData *
ssa_category_data_new (gint64 id, const char *name, SsaRgba color, const char *supercategory)
{
  SsaCategoryData *d = g_new0 (SsaCategoryData, 1);

  d->id = id;
  d->name = g_strdup (name ? name : "");
  d->color = color;
  d->supercategory = g_strdup (supercategory ? supercategory : "");
  return d;
}

SsaCategoryData *
ssa_category_data_copy (const SsaCategoryData *data)
{
  return data ? ssa_category_data_new (data->id, data->name, data->color, data->supercategory) : NULL;
}

gboolean
ssa_category_data_equal (const SsaCategoryData *a, const SsaCategoryData *b)
{
  return a->id == b->id && a->color == b->color && strcmp (a->name, b->name) == 0 &&
         strcmp (a->supercategory, b->supercategory) == 0;
}

void
ssa_category_data_free (SsaCategoryData *data)
{
  if (data == NULL)
    return;
  g_free (data->name);
  g_free (data->supercategory);
  g_free (data);
}

json_object *
ssa_category_data_to_json (const SsaCategoryData *d)
{
  json_object *o = json_object_new_object ();
  g_autofree char *color = ssa_rgba_to_string (d->color);

  json_object_object_add (o, "id", json_object_new_int64 (d->id));
  json_object_object_add (o, "name", json_object_new_string (d->name));
  json_object_object_add (o, "supercategory", json_object_new_string (d->supercategory));
  json_object_object_add (o, "color", json_object_new_string (color));
  return o;
}

SsaCategoryData *
ssa_category_data_from_json (json_object *o, const char *where, GError **error)
{
  gint64 id;
  const char *name = NULL, *color = NULL, *super = NULL;
  SsaRgba c = 0;

  if (!json_object_is_type (o, json_type_object))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: not an object", where);
      return NULL;
    }
  if (!ssa_json_get_int (o, "id", TRUE, &id, where, error) ||
      !ssa_json_get_string (o, "name", TRUE, &name, where, error) ||
      !ssa_json_get_string (o, "color", FALSE, &color, where, error) ||
      !ssa_json_get_string (o, "supercategory", FALSE, &super, where, error))
    return NULL;
  if (id <= 0 || id > SSA_MAX_ID)
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID, "%s: \"id\" must be 1..2^53", where);
      return NULL;
    }
  if (color != NULL && !ssa_rgba_parse (color, &c))
    {
      g_set_error (error, SSA_DOCUMENT_ERROR, SSA_DOCUMENT_ERROR_INVALID,
                   "%s: \"color\" must be \"#rrggbb\" or \"#rrggbbaa\", not \"%s\"", where, color);
      return NULL;
    }
  return ssa_category_data_new (id, name, c, super);
}

struct _SsaCategory
{
  GObject parent_instance;

  /* owned */
  SsaCategoryData *data;
};

G_DEFINE_FINAL_TYPE (SsaCategory, ssa_category, G_TYPE_OBJECT)

enum { PROP_0, PROP_ID, PROP_NAME, PROP_COLOR, PROP_SUPERCATEGORY, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
ssa_category_finalize (GObject *object)
{
  SsaCategory *self = SSA_CATEGORY (object);

  g_clear_pointer (&self->data, ssa_category_data_free);
  G_OBJECT_CLASS (ssa_category_parent_class)->finalize (object);
}

static void
ssa_category_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsaCategory *self = SSA_CATEGORY (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_int64 (value, self->data->id); break;
    case PROP_NAME: g_value_set_string (value, self->data->name); break;
    case PROP_COLOR: g_value_set_uint (value, self->data->color); break;
    case PROP_SUPERCATEGORY: g_value_set_string (value, self->data->supercategory); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ssa_category_class_init (SsaCategoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = ssa_category_finalize;
  object_class->get_property = ssa_category_get_property;
  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, f);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, f);
  properties[PROP_COLOR] = g_param_spec_uint ("color", NULL, NULL, 0, G_MAXUINT32, 0, f);
  properties[PROP_SUPERCATEGORY] = g_param_spec_string ("supercategory", NULL, NULL, NULL, f);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ssa_category_init (SsaCategory *self)
{
}

SsaCategory *
ssa_category_new_from_data (const SsaCategoryData *data)
{
  SsaCategory *self = g_object_new (SSA_TYPE_CATEGORY, NULL);

  self->data = ssa_category_data_copy (data);
  return self;
}

const SsaCategoryData *
ssa_category_peek_data (SsaCategory *self)
{
  return self->data;
}

void
ssa_category_set_data (SsaCategory *self, const SsaCategoryData *data)
{
  SsaCategoryData *old = self->data;

  g_assert (old->id == data->id);
  self->data = ssa_category_data_copy (data);
  g_object_freeze_notify (G_OBJECT (self));
  if (strcmp (old->name, data->name) != 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
  if (old->color != data->color)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLOR]);
  if (strcmp (old->supercategory, data->supercategory) != 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUPERCATEGORY]);
  g_object_thaw_notify (G_OBJECT (self));
  ssa_category_data_free (old);
}

gint64 ssa_category_get_id (SsaCategory *self) { g_return_val_if_fail (SSA_IS_CATEGORY (self), 0); return self->data->id; }
const char *ssa_category_get_name (SsaCategory *self) { g_return_val_if_fail (SSA_IS_CATEGORY (self), NULL); return self->data->name; }
SsaRgba ssa_category_get_color (SsaCategory *self) { g_return_val_if_fail (SSA_IS_CATEGORY (self), 0); return self->data->color; }
const char *ssa_category_get_supercategory (SsaCategory *self) { g_return_val_if_fail (SSA_IS_CATEGORY (self), NULL); return self->data->supercategory; }
