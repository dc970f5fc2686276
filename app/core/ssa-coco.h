/* ssa-coco.h — COCO instances JSON export / import of a document.
 *
 * Export ("images", "categories", "annotations", plus "info"):
 *  - images: {"id", "file_name", "width", "height"}; file_name is the image path relative to
 *    the document's images root (ssa_document_get_images_root: the folder a COCO import read
 *    from) when every image lies inside it, else to the images' common folder (the basename
 *    when all images share one folder), so that `stablesam import OUT.json --images THAT_FOLDER`
 *    finds them again.
 *  - categories: {"id", "name", "supercategory"} (+ "color": "#rrggbbaa", an extension other
 *    tools ignore; import reads it back).
 *  - annotations: {"id" (= object id), "image_id", "category_id", "segmentation", "area",
 *    "bbox": [x, y, w, h], "iscrowd"}; area = mask pixel count and bbox = the tight box of
 *    the mask pixels (w = x_max - x_min + 1), as pycocotools' area() / toBbox() compute them.
 *  - segmentation: compressed RLE {"size": [h, w], "counts": "..."} by default.
 *    With SSA_COCO_POLYGONS: polygons [[x1, y1, x2, y2, ...], ...] — one per 4-connected
 *    component, outer boundary traced along pixel edges (vertices on pixel corners), simplified
 *    by Douglas–Peucker with tolerance SSA_COCO_POLYGON_TOLERANCE (1.0 px); holes are NOT
 *    representable in COCO polygons and are filled. An empty mask gives "segmentation": [].
 *    Use RLE for exact masks.
 *  - iscrowd: COCO's semantic flag (1 = a crowd region that evaluation ignores), NOT a marker of
 *    the encoding: objects drawn in the annotator are single objects → 0, even when written as
 *    RLE (pycocotools reads RLE with iscrowd 0 fine). Imported iscrowd values are kept.
 * The output is deterministic (same document → same bytes).
 *
 * Import: annotations with compressed RLE (counts string), uncompressed RLE (counts list) or
 * polygons (rasterised: a pixel is inside when its centre is, even-odd rule, polygons of one
 * annotation OR-ed). Image files are looked up as IMAGES_DIR/file_name and must exist; an
 * annotation naming an unknown image_id or category_id, a file that is missing, or a size
 * mismatch is an error (one line: file and problem). The imported document has no history.
 */
#pragma once

#include "ssa-document.h"

G_BEGIN_DECLS

#define SSA_COCO_POLYGON_TOLERANCE 1.0

typedef enum {
  SSA_COCO_FLAGS_NONE     = 0,
  SSA_COCO_FLAGS_POLYGONS = 1 << 0,  /* polygons instead of compressed RLE */
} SsaCocoFlags;

/* Serialises the document as COCO JSON (g_free the result). */
char        *ssa_coco_export_to_data (SsaDocument *doc, SsaCocoFlags flags, gsize *length,
                                      GError **error);
/* Writes it to `path` atomically. */
gboolean     ssa_coco_export         (SsaDocument *doc, const char *path, SsaCocoFlags flags,
                                      GError **error);
/* Builds a new document from a COCO file; images_dir NULL = the COCO file's folder. */
SsaDocument *ssa_coco_import         (const char *coco_path, const char *images_dir,
                                      GError **error);
/* Same from memory; `name` is used in error messages. */
SsaDocument *ssa_coco_import_data    (const char *data, gsize length, const char *name,
                                      const char *images_dir, GError **error);

/* Polygon helpers (exposed for tests). */
/* Traces the outer boundaries of the 4-connected components of a (height, width) 0/1 mask and
 * simplifies them with Douglas–Peucker (tolerance in pixels; <= 0 keeps every corner).
 * Returns a GPtrArray of GArray(double) with x, y, x, y, ... (>= 3 vertices each). */
GPtrArray   *ssa_mask_to_polygons    (const guint8 *mask, int width, int height, double tolerance);
/* Rasterises polygons (each a flat x, y, ... double array of n_coords[i] values) into mask
 * (height * width, 0/1, OR-ed in: the caller clears it first). */
void         ssa_polygons_fill       (const double *const *coords, const guint *n_coords,
                                      guint n_polygons, guint8 *mask, int width, int height);

G_END_DECLS
