/* ssa-image-entry.c — SsaImageEntry: one image of the project and its list of objects. */
#include "ssa-core-private.h"

struct _SsaImageEntry
{
  GObject parent_instance;

  /* owned */
  char *path;
  char *name;
  char *hash;
  GListStore *objects;  /* SsaObject */
  int width, height;
  gint64 id;
  guint index;
};

G_DEFINE_FINAL_TYPE (SsaImageEntry, ssa_image_entry, G_TYPE_OBJECT)

enum { PROP_0, PROP_PATH, PROP_WIDTH, PROP_HEIGHT, PROP_ID, PROP_INDEX, PROP_HASH, PROP_N_OBJECTS, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
ssa_image_entry_finalize (GObject *object)
{
  SsaImageEntry *self = SSA_IMAGE_ENTRY (object);

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->hash, g_free);
  g_clear_object (&self->objects);
  G_OBJECT_CLASS (ssa_image_entry_parent_class)->finalize (object);
}

static void
ssa_image_entry_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  SsaImageEntry *self = SSA_IMAGE_ENTRY (object);

  switch (prop_id)
    {
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_WIDTH: g_value_set_int (value, self->width); break;
    case PROP_HEIGHT: g_value_set_int (value, self->height); break;
    case PROP_ID: g_value_set_int64 (value, self->id); break;
    case PROP_INDEX: g_value_set_uint (value, self->index); break;
    case PROP_HASH: g_value_set_string (value, self->hash); break;
    case PROP_N_OBJECTS: g_value_set_uint (value, g_list_model_get_n_items (G_LIST_MODEL (self->objects))); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ssa_image_entry_class_init (SsaImageEntryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = ssa_image_entry_finalize;
  object_class->get_property = ssa_image_entry_get_property;
  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, f);
  properties[PROP_WIDTH] = g_param_spec_int ("width", NULL, NULL, 0, G_MAXINT, 0, f);
  properties[PROP_HEIGHT] = g_param_spec_int ("height", NULL, NULL, 0, G_MAXINT, 0, f);
  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, f);
  properties[PROP_INDEX] = g_param_spec_uint ("index", NULL, NULL, 0, G_MAXUINT, 0, f);
  properties[PROP_HASH] = g_param_spec_string ("hash", NULL, NULL, NULL, f);
  properties[PROP_N_OBJECTS] = g_param_spec_uint ("n-objects", NULL, NULL, 0, G_MAXUINT, 0, f);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
on_items_changed (GListModel *model, guint position, guint removed, guint added, SsaImageEntry *self)
{
  if (removed != added)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_OBJECTS]);
}

static void
ssa_image_entry_init (SsaImageEntry *self)
{
  self->objects = g_list_store_new (SSA_TYPE_OBJECT);
  g_signal_connect_object (self->objects, "items-changed", G_CALLBACK (on_items_changed), self, 0);
}

SsaImageEntry *
ssa_image_entry_new (guint index, const char *path, int width, int height, gint64 id)
{
  SsaImageEntry *self = g_object_new (SSA_TYPE_IMAGE_ENTRY, NULL);

  self->index = index;
  self->path = g_strdup (path);
  self->name = g_path_get_basename (path);
  self->width = width;
  self->height = height;
  self->id = id;
  return self;
}

GListStore *
ssa_image_entry_get_store (SsaImageEntry *self)
{
  return self->objects;
}

void
ssa_image_entry_set_size (SsaImageEntry *self, int width, int height)
{
  g_object_freeze_notify (G_OBJECT (self));
  if (self->width != width)
    {
      self->width = width;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WIDTH]);
    }
  if (self->height != height)
    {
      self->height = height;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEIGHT]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

void
ssa_image_entry_set_hash (SsaImageEntry *self, const char *hex)
{
  if (g_strcmp0 (self->hash, hex) == 0)
    return;
  g_free (self->hash);
  self->hash = g_strdup (hex);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HASH]);
}

const char *ssa_image_entry_get_path (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), NULL); return self->path; }
const char *ssa_image_entry_get_name (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), NULL); return self->name; }
int ssa_image_entry_get_width (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), 0); return self->width; }
int ssa_image_entry_get_height (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), 0); return self->height; }
gint64 ssa_image_entry_get_id (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), 0); return self->id; }
guint ssa_image_entry_get_index (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), 0); return self->index; }
const char *ssa_image_entry_get_hash (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), NULL); return self->hash; }
GListModel *ssa_image_entry_get_objects (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), NULL); return G_LIST_MODEL (self->objects); }
guint ssa_image_entry_get_n_objects (SsaImageEntry *self) { g_return_val_if_fail (SSA_IS_IMAGE_ENTRY (self), 0); return g_list_model_get_n_items (G_LIST_MODEL (self->objects)); }
