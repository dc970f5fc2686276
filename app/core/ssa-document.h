/* ssa-document.h — the annotator's document: a labelling project.
 *
 * A project = images (SsaImageEntry: file, size, objects), categories (SsaCategory: id, name,
 * colour) and, per image, objects (SsaObject: COCO RLE mask, bbox, area, category, visibility,
 * the prompt that made it). Plus the current image index and the undo history.
 *
 * Undo / redo — ONE GLOBAL STACK per document (not per image), because category changes span
 * images (removing a category removes its objects on every image). Every document change is
 * a command: add / remove / modify object (mask, category, visibility), add / rename / recolour
 * / remove category; several commands can be grouped into one undo step with
 * ssa_document_begin_group / end_group. A new change clears the redo stack. Undoing or redoing
 * a command that touches objects of another image first makes that image current (the user
 * sees what is undone), which notifies "current-image". Not undoable (and not in the history):
 * adding images, setting an image's size or hash, changing the current image — they are
 * project setup / navigation, but they do mark the document modified and are saved.
 * The history (up to "undo-limit" steps, default 200) is stored in the project file, so
 * reopening a project restores it, including the current image's undoable state.
 *
 * Saving: ssa_document_save() writes the project JSON atomically (temp file in the same
 * folder, fsync, rename). Autosave: when the document has a path and "autosave-delay" > 0
 * (default 300 ms), every change (re)starts a GLib timeout that saves; call
 * ssa_document_flush() on quit to save a pending change at once. A failed autosave emits
 * "save-failed" and leaves the document modified (the next change retries). Disposing a
 * document with an autosave pending saves it first.
 *
 * Loading: ssa_document_new_from_file() builds a NEW document; on any error (unreadable file,
 * malformed JSON, bad field) it returns NULL with a one-line GError naming the file and the
 * problem, so the document the caller already has stays intact. The stored history is replayed
 * on a scratch copy when reading, so every project that loads can be undone / redone fully.
 *
 * Signals (main loop; the object / category signals fire as each item changes, the history
 * properties and "changed" once the whole step is recorded):
 *   "changed"          ()                             any change that is saved (content,
 *                                                     history, current image, new image)
 *   "object-added"     (SsaObject *obj)               obj already in its image's list
 *   "object-removed"   (SsaObject *obj)               obj already out of its image's list
 *   "object-changed"   (SsaObject *obj)               mask / category / visibility changed
 *   "category-added"   (SsaCategory *cat)
 *   "category-removed" (SsaCategory *cat)
 *   "category-changed" (SsaCategory *cat)             name / colour
 *   "image-added"      (SsaImageEntry *img)
 *   "saved"            (const char *path)
 *   "save-failed"      (GError *error)                autosave only; explicit saves return it
 * Properties: "path" (string, nullable), "current-image" (int, -1 when no image),
 *   "n-images" (uint), "modified" (bool), "can-undo", "can-redo" (bool), "undo-label",
 *   "redo-label" (string, nullable: e.g. "Add object"), "autosave-delay" (uint ms),
 *   "undo-limit" (uint).
 */
#pragma once

#include <gio/gio.h>

#include "ssa-types.h"
#include "ssa-object.h"
#include "ssa-category.h"
#include "ssa-image-entry.h"

G_BEGIN_DECLS

#define SSA_TYPE_DOCUMENT (ssa_document_get_type ())
G_DECLARE_FINAL_TYPE (SsaDocument, ssa_document, SSA, DOCUMENT, GObject)

/* --- creating, loading, saving ----------------------------------------------------------- */
SsaDocument *ssa_document_new              (void);
/* Loads a project file (see ssa-project.h for the format). NULL + error on failure. */
SsaDocument *ssa_document_new_from_file    (const char *path, GError **error);
/* Project file path (absolute) or NULL for a new, never saved document. */
const char  *ssa_document_get_path         (SsaDocument *self);
/* Saves to `path` (atomically) and makes it the document's path; path NULL = the current path
 * (SSA_DOCUMENT_ERROR_EMPTY if there is none). Image paths are stored relative to the project
 * file's folder when they are inside it (or below), absolute otherwise. Clears "modified". */
gboolean     ssa_document_save             (SsaDocument *self, const char *path, GError **error);
/* Saves now if an autosave is pending (or the document is modified and has a path). */
gboolean     ssa_document_flush            (SsaDocument *self, GError **error);
gboolean     ssa_document_get_modified     (SsaDocument *self);
/* 0 disables autosave. Default 300 ms. */
void         ssa_document_set_autosave_delay (SsaDocument *self, guint delay_ms);
guint        ssa_document_get_autosave_delay (SsaDocument *self);

/* --- images (not undoable) ---------------------------------------------------------------- */
/* The images: a GListModel of SsaImageEntry (borrowed). */
GListModel    *ssa_document_get_images     (SsaDocument *self);
guint          ssa_document_get_n_images   (SsaDocument *self);
SsaImageEntry *ssa_document_get_image      (SsaDocument *self, guint index); /* borrowed, NULL if out of range */
/* Appends an image (path made absolute and canonical, the file need not exist). width/height
 * 0 = unknown yet (ssa_document_set_image_size, or the first object's mask size). If the same
 * file is already in the project, returns the existing entry. id = the COCO image id; 0 or an
 * id already used = the next free one. The first image added becomes current. Borrowed. */
SsaImageEntry *ssa_document_add_image      (SsaDocument *self, const char *path, int width,
                                            int height, gint64 id);
/* Sets the size of an image whose size is unknown; refuses (SIZE error) a size different from
 * a known one while the image has objects. */
gboolean       ssa_document_set_image_size (SsaDocument *self, guint index, int width, int height,
                                            GError **error);
void           ssa_document_set_image_hash (SsaDocument *self, guint index, const char *hex);
/* The folder COCO "file_name"s are relative to (absolute; NULL = none set). Set by COCO import to
 * its images folder; the GUI may set it to the folder it opened. COCO export writes file names
 * relative to it when every image lies inside it, else relative to the images' common folder.
 * Saved in the project (not undoable). */
const char    *ssa_document_get_images_root (SsaDocument *self);
void           ssa_document_set_images_root (SsaDocument *self, const char *folder);
/* -1 when there is no image. Setting it is navigation (not undoable, saved). */
int            ssa_document_get_current_image (SsaDocument *self);
void           ssa_document_set_current_image (SsaDocument *self, int index);

/* --- categories (undoable) ---------------------------------------------------------------- */
/* GListModel of SsaCategory (borrowed), in creation order. */
GListModel  *ssa_document_get_categories   (SsaDocument *self);
SsaCategory *ssa_document_find_category    (SsaDocument *self, gint64 id); /* borrowed or NULL */
/* Adds a category; id 0 = next free id (max + 1); an id already used → SSA_DOCUMENT_ERROR_INVALID.
 * color 0 = a colour from a built-in palette. Returns the new category (borrowed). */
SsaCategory *ssa_document_add_category     (SsaDocument *self, gint64 id, const char *name,
                                            SsaRgba color, GError **error);
gboolean     ssa_document_rename_category  (SsaDocument *self, gint64 id, const char *name,
                                            GError **error);
gboolean     ssa_document_recolor_category (SsaDocument *self, gint64 id, SsaRgba color,
                                            GError **error);
/* Removes the category AND every object of that category (on all images), as one undo step. */
gboolean     ssa_document_remove_category  (SsaDocument *self, gint64 id, GError **error);

/* --- objects (undoable) ------------------------------------------------------------------- */
/* Turns a mask (height * width bytes, nonzero = object, the image's size) into a new object on
 * image `image_index` with category `category_id` (must exist), visible. prompt (nullable) is
 * copied. An image of unknown size takes the mask's size. Returns the new object (borrowed)
 * or NULL + error (SIZE, NOT_FOUND). Empty masks are allowed (area 0). */
SsaObject *ssa_document_add_object         (SsaDocument *self, guint image_index,
                                            gint64 category_id, const guint8 *mask,
                                            int width, int height, const SsaPrompt *prompt,
                                            GError **error);
/* Same from a COCO compressed RLE counts string (validated: INVALID if malformed). */
SsaObject *ssa_document_add_object_rle     (SsaDocument *self, guint image_index,
                                            gint64 category_id, const char *rle_counts,
                                            int width, int height, const SsaPrompt *prompt,
                                            GError **error);
/* Looks an object up by id on any image (borrowed or NULL). */
SsaObject *ssa_document_find_object        (SsaDocument *self, gint64 object_id);
gboolean   ssa_document_remove_object      (SsaDocument *self, gint64 object_id, GError **error);
/* Replaces an object's mask (and prompt; NULL keeps none) — e.g. after more clicks. */
gboolean   ssa_document_set_object_mask    (SsaDocument *self, gint64 object_id,
                                            const guint8 *mask, int width, int height,
                                            const SsaPrompt *prompt, GError **error);
gboolean   ssa_document_set_object_category (SsaDocument *self, gint64 object_id,
                                            gint64 category_id, GError **error);
gboolean   ssa_document_set_object_visible (SsaDocument *self, gint64 object_id,
                                            gboolean visible, GError **error);

/* --- undo / redo -------------------------------------------------------------------------- */
gboolean     ssa_document_can_undo         (SsaDocument *self);
gboolean     ssa_document_can_redo         (SsaDocument *self);
/* Undoes / redoes one step (a group counts as one). FALSE if there was nothing to do. */
gboolean     ssa_document_undo             (SsaDocument *self);
gboolean     ssa_document_redo             (SsaDocument *self);
/* Label of the step that undo / redo would apply ("Add object", "Rename category", ...) or NULL. */
const char  *ssa_document_get_undo_label   (SsaDocument *self);
const char  *ssa_document_get_redo_label   (SsaDocument *self);
/* Groups the changes made until the matching end_group into one undo step labelled `label`.
 * Groups nest (only the outermost label counts). An empty group leaves no step. */
void         ssa_document_begin_group      (SsaDocument *self, const char *label);
void         ssa_document_end_group        (SsaDocument *self);
/* Forgets the history (e.g. after an import). */
void         ssa_document_clear_history    (SsaDocument *self);
guint        ssa_document_get_undo_depth   (SsaDocument *self); /* steps that can be undone */
guint        ssa_document_get_redo_depth   (SsaDocument *self);
void         ssa_document_set_undo_limit   (SsaDocument *self, guint limit);

G_END_DECLS
