/* ssa-project.h — the project file (JSON, json-c), read and written by SsaDocument.
 *
 * {
 *   "format": "stablesam-project", "version": 1,
 *   "categories": [{"id": 1, "name": "cat", "color": "#e6194bff", "supercategory": ""}],
 *   "images": [{"id": 1, "file": "img/a.jpg", "width": 640, "height": 480, "hash": "…",
 *               "objects": [OBJECT, …]}],
 *   "images_root": "img"   (optional: the COCO images folder, see ssa_document_get_images_root),
 *   "current_image": 0, "next_object_id": 12, "undo_limit": 200,
 *   "history": {"undo": [STEP, …], "redo": [STEP, …]}     (oldest first / next redo last)
 * }
 * OBJECT = {"id", "category_id", "visible", "iscrowd",
 *           "rle": {"size": [h, w], "counts": "…"}, "area", "bbox": [x, y, w, h],
 *           "prompt": {"box": [x0, y0, x1, y1] (optional), "points": [[x, y, label], …],
 *                      "mode": "sam" | "stable", "iou_pred": 0.97}  (optional)}
 * STEP = {"label": "...", "commands": [COMMAND, …]}, COMMAND = {"op": "add_object" |
 *        "remove_object" | "modify_object" | "add_category" | "remove_category" |
 *        "modify_category", "image": index, "index": position, "before": OBJECT|CATEGORY,
 *        "after": OBJECT|CATEGORY} (the fields the op needs).
 * "file" is relative to the project file's folder when the image lies inside it.
 * Reading validates everything (types, ranges, RLE strings against the image size, unique ids,
 * categories of objects) and replays the stored history on a scratch copy (undo all, redo all),
 * so that every project that loads can be undone and redone to the end; a history that does not
 * match the document is an error ("history.undo[3] does not match the document").
 */
#pragma once

#include "ssa-document.h"

G_BEGIN_DECLS

/* Serialises (pretty-printed, deterministic). base_dir: folder image paths are made relative to
 * (NULL = keep absolute). g_free the result. */
char        *ssa_project_to_data   (SsaDocument *doc, const char *base_dir, gsize *length);
/* Parses; base_dir resolves relative image paths; name is used in error messages. */
SsaDocument *ssa_project_from_data (const char *data, gsize length, const char *name,
                                    const char *base_dir, GError **error);

G_END_DECLS
