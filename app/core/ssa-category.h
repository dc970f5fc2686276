/* ssa-category.h — a label category (COCO "categories" entry) with a display colour.
 * Owned by the document; changed only through ssa_document_*_category (undoable); its
 * properties notify when they change and the document emits "category-changed". */
#pragma once

#include "ssa-types.h"

G_BEGIN_DECLS

#define SSA_TYPE_CATEGORY (ssa_category_get_type ())
G_DECLARE_FINAL_TYPE (SsaCategory, ssa_category, SSA, CATEGORY, GObject)

/* Properties (read-only, notify): "id" gint64 (> 0, the COCO category id), "name" string,
 * "color" guint (SsaRgba, 0xRRGGBBAA), "supercategory" string (COCO; may be empty). */
gint64       ssa_category_get_id            (SsaCategory *self);
const char  *ssa_category_get_name          (SsaCategory *self);
SsaRgba      ssa_category_get_color         (SsaCategory *self);
const char  *ssa_category_get_supercategory (SsaCategory *self);

G_END_DECLS
