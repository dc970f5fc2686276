/* ssa-image-entry.h — one image of the project: its file, size and objects.
 * Images are append-only in a document (their index never changes), owned by the document. */
#pragma once

#include <gio/gio.h>
#include "ssa-types.h"

G_BEGIN_DECLS

#define SSA_TYPE_IMAGE_ENTRY (ssa_image_entry_get_type ())
G_DECLARE_FINAL_TYPE (SsaImageEntry, ssa_image_entry, SSA, IMAGE_ENTRY, GObject)

/* Properties (read-only, notify): "path" string (absolute, canonical), "width" / "height" int
 * (0 while unknown), "id" gint64 (COCO image id, > 0), "index" guint, "hash" string
 * (hex SHA-256 of the file or NULL if not computed), "n-objects" guint. */
const char *ssa_image_entry_get_path      (SsaImageEntry *self);
/* Basename of the path (borrowed), for list rows. */
const char *ssa_image_entry_get_name      (SsaImageEntry *self);
int         ssa_image_entry_get_width     (SsaImageEntry *self);
int         ssa_image_entry_get_height    (SsaImageEntry *self);
gint64      ssa_image_entry_get_id        (SsaImageEntry *self);
guint       ssa_image_entry_get_index     (SsaImageEntry *self);
const char *ssa_image_entry_get_hash      (SsaImageEntry *self);
/* The image's objects in drawing order (bottom first): a GListModel of SsaObject that follows
 * every change (items-changed on add / remove / undo / redo). Borrowed. */
GListModel *ssa_image_entry_get_objects   (SsaImageEntry *self);
guint       ssa_image_entry_get_n_objects (SsaImageEntry *self);

G_END_DECLS
