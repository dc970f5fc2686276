/* ssa-object.h — one annotated object (a mask) of one image.
 *
 * An SsaObject belongs to an SsaDocument, which owns it and is the only one that changes it:
 * the setters are on the document (ssa_document_set_object_*) so that every change is undoable.
 * When the document changes an object in place (mask, category, visibility, through an edit,
 * undo or redo) the object's properties notify and the document emits "object-changed".
 * Objects that are removed and come back through undo are NEW SsaObject instances with the
 * same id: identify objects by id, not by pointer, across undo.
 *
 * Mask: COCO compressed RLE ("counts" string, column-major as pycocotools) of a
 * (height, width) mask = the image size.
 */
#pragma once

#include "ssa-types.h"

G_BEGIN_DECLS

#define SSA_TYPE_OBJECT (ssa_object_get_type ())
G_DECLARE_FINAL_TYPE (SsaObject, ssa_object, SSA, OBJECT, GObject)

/* Properties (all read-only, notify on change):
 *   "id"           gint64   unique in the document, > 0; the COCO annotation id on export
 *   "category-id"  gint64   id of an SsaCategory of the document
 *   "visible"      gboolean shown on the canvas (not exported differently: hidden objects export too)
 *   "area"         gint64   pixels of the mask
 *   "iscrowd"      gboolean COCO's iscrowd (kept from imports; objects made in the GUI are 0)
 *   "image-index"  guint    index of its image in the document
 */
gint64           ssa_object_get_id          (SsaObject *self);
gint64           ssa_object_get_category_id (SsaObject *self);
gboolean         ssa_object_get_visible     (SsaObject *self);
gboolean         ssa_object_get_iscrowd     (SsaObject *self);
guint            ssa_object_get_image_index (SsaObject *self);
gint64           ssa_object_get_area        (SsaObject *self);
/* COCO bbox [x, y, w, h] of the mask pixels (w = x_max - x_min + 1); zeros when empty. */
void             ssa_object_get_bbox        (SsaObject *self, double bbox[4]);
/* Mask size (= its image's size). */
void             ssa_object_get_size        (SsaObject *self, int *width, int *height);
/* COCO compressed RLE counts string (borrowed, valid until the object changes). */
const char      *ssa_object_get_rle         (SsaObject *self);
/* The prompt that made the mask, or NULL (e.g. imported from COCO). Borrowed. */
const SsaPrompt *ssa_object_get_prompt      (SsaObject *self);
/* Decodes the mask: (height * width) bytes, 0 / 1, row-major; g_free it. Never fails for an
 * object of a document (the RLE was validated when it entered the document). */
guint8          *ssa_object_decode_mask     (SsaObject *self, int *width, int *height);

G_END_DECLS
