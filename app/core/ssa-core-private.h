/* ssa-core-private.h — private API shared by the files of app/core (not for ui/). */
#pragma once

#include <json-c/json.h>

#include "ssa-document.h"

G_BEGIN_DECLS

#define SSA_DOCUMENT_AUTOSAVE_DELAY 300 /* ms */
#define SSA_COCO_EXPORT_VERSION "1"

/* Colour i of the built-in palette for categories created without one. */
SsaRgba ssa_palette_color (guint i);

/* Plain snapshot of an object: what the undo history and the project file store. */
typedef struct {
  gint64     id;
  gint64     category_id;
  gboolean   visible;
  gboolean   iscrowd;
  int        width, height;
  char      *counts;   /* COCO compressed RLE, owned */
  gint64     area;
  double     bbox[4];
  SsaPrompt *prompt;   /* owned, nullable */
} SsaObjectData;

SsaObjectData *ssa_object_data_new_from_mask (const guint8 *mask, int width, int height,
                                              GError **error);
/* Validates `counts` against the size and computes area and bbox. */
SsaObjectData *ssa_object_data_new_from_rle  (const char *counts, int width, int height,
                                              GError **error);
SsaObjectData *ssa_object_data_copy          (const SsaObjectData *data);
gboolean       ssa_object_data_equal         (const SsaObjectData *a, const SsaObjectData *b);
void           ssa_object_data_free          (SsaObjectData *data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsaObjectData, ssa_object_data_free)
json_object   *ssa_object_data_to_json       (const SsaObjectData *data);
/* `where` prefixes error messages ("file: images[0].objects[3]"). */
SsaObjectData *ssa_object_data_from_json     (json_object *obj, const char *where, GError **error);

typedef struct {
  gint64   id;
  char    *name;
  SsaRgba  color;
  char    *supercategory; /* never NULL */
} SsaCategoryData;

SsaCategoryData *ssa_category_data_new       (gint64 id, const char *name, SsaRgba color,
                                              const char *supercategory);
SsaCategoryData *ssa_category_data_copy      (const SsaCategoryData *data);
gboolean         ssa_category_data_equal     (const SsaCategoryData *a, const SsaCategoryData *b);
void             ssa_category_data_free      (SsaCategoryData *data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsaCategoryData, ssa_category_data_free)
json_object     *ssa_category_data_to_json   (const SsaCategoryData *data);
SsaCategoryData *ssa_category_data_from_json (json_object *obj, const char *where, GError **error);

/* "#rrggbbaa" <-> SsaRgba */
char    *ssa_rgba_to_string   (SsaRgba c);
gboolean ssa_rgba_parse       (const char *s, SsaRgba *out);

/* SsaObject / SsaCategory / SsaImageEntry internals (the document is the only writer). */
SsaObject           *ssa_object_new_from_data  (const SsaObjectData *data, guint image_index);
const SsaObjectData *ssa_object_peek_data      (SsaObject *self);
void                 ssa_object_set_data       (SsaObject *self, const SsaObjectData *data);

SsaCategory           *ssa_category_new_from_data (const SsaCategoryData *data);
const SsaCategoryData *ssa_category_peek_data     (SsaCategory *self);
void                   ssa_category_set_data      (SsaCategory *self, const SsaCategoryData *data);

SsaImageEntry *ssa_image_entry_new        (guint index, const char *path, int width, int height,
                                           gint64 id);
GListStore    *ssa_image_entry_get_store  (SsaImageEntry *self);
void           ssa_image_entry_set_size   (SsaImageEntry *self, int width, int height);
void           ssa_image_entry_set_hash   (SsaImageEntry *self, const char *hex);

/* json-c helpers with one-line errors. */
json_object *ssa_json_double     (double v);   /* "%.9g", locale independent */
gboolean     ssa_json_get_int    (json_object *parent, const char *key, gboolean required,
                                  gint64 *out, const char *where, GError **error);
gboolean     ssa_json_get_double (json_object *parent, const char *key, gboolean required,
                                  double *out, const char *where, GError **error);
gboolean     ssa_json_get_bool   (json_object *parent, const char *key, gboolean required,
                                  gboolean *out, const char *where, GError **error);
/* Borrowed string (NULL when absent and not required). */
gboolean     ssa_json_get_string (json_object *parent, const char *key, gboolean required,
                                  const char **out, const char *where, GError **error);
/* Parses a whole buffer: PARSE error "name: line L: what" on failure. */
json_object *ssa_json_parse      (const char *data, gsize length, const char *name, GError **error);
/* Makes an error message one printable line (control characters escaped, at most ~400 bytes):
 * messages quote strings read from files. */
void         ssa_error_one_line  (GError *error);
/* Pretty, deterministic serialisation followed by a newline. */
char        *ssa_json_to_data    (json_object *root, gsize *length);
gboolean     ssa_write_file_atomic (const char *path, const char *data, gsize length,
                                    GError **error);
/* Leftovers of atomic writes of `path` that were killed between the temp file and the rename:
 * regular files in the same folder, owned by this user, named exactly BASENAME.XXXXXX (six of
 * A-Z a-z 0-9: the template g_file_set_contents uses), last modified at least `min_age_s`
 * seconds ago (a younger one may be another process's save in progress). Removes them and
 * returns how many; never touches `path` itself or anything else. */
#define SSA_STALE_TEMP_AGE 60 /* s */
guint        ssa_remove_stale_temp_files (const char *path, gint64 min_age_s);

/* The undo history (ssa-undo.c). */
typedef enum {
  SSA_OP_ADD_OBJECT,
  SSA_OP_REMOVE_OBJECT,
  SSA_OP_MODIFY_OBJECT,
  SSA_OP_ADD_CATEGORY,
  SSA_OP_REMOVE_CATEGORY,
  SSA_OP_MODIFY_CATEGORY,
} SsaOp;

typedef struct {
  SsaOp            op;
  guint            image;       /* object ops */
  guint            position;    /* add / remove: index in the image's list or category list */
  SsaObjectData   *obj_before;  /* remove / modify */
  SsaObjectData   *obj_after;   /* add / modify */
  SsaCategoryData *cat_before;
  SsaCategoryData *cat_after;
} SsaCommand;

typedef struct {
  char      *label;
  GPtrArray *commands;  /* SsaCommand, applied in order */
} SsaUndoStep;

void         ssa_command_free      (SsaCommand *cmd);
SsaUndoStep *ssa_undo_step_new     (const char *label);
void         ssa_undo_step_free    (SsaUndoStep *step);
json_object *ssa_undo_step_to_json (const SsaUndoStep *step);
SsaUndoStep *ssa_undo_step_from_json (json_object *obj, const char *where, GError **error);
/* Applies (forward) or reverts one step on the document; all or nothing: when a command cannot
 * be applied (the document is not in the state the command expects), the already applied ones
 * are rolled back and FALSE returned. Quiet (the caller reports). */
gboolean     ssa_undo_step_run     (SsaUndoStep *step, SsaDocument *doc, gboolean forward);
/* The image the step is about (first object command), or -1. */
int          ssa_undo_step_image   (const SsaUndoStep *step);

/* Document primitives used by commands: check, then mutate + signal. FALSE = refused
 * (nothing changed). */
gboolean ssa_document_do_insert_object   (SsaDocument *self, guint image, guint position,
                                          const SsaObjectData *data);
/* remove / replace check that the document holds exactly `expect` / `from` (so that a stored
 * history that does not match the document is detected before anything changes). */
gboolean ssa_document_do_remove_object   (SsaDocument *self, guint image, const SsaObjectData *expect);
gboolean ssa_document_do_replace_object  (SsaDocument *self, const SsaObjectData *from,
                                          const SsaObjectData *to);
gboolean ssa_document_do_insert_category (SsaDocument *self, guint position,
                                          const SsaCategoryData *data);
gboolean ssa_document_do_remove_category (SsaDocument *self, const SsaCategoryData *expect);
gboolean ssa_document_do_replace_category (SsaDocument *self, const SsaCategoryData *from,
                                           const SsaCategoryData *to);

/* Project file internals. */
GPtrArray   *ssa_document_peek_undo_stack (SsaDocument *self);  /* SsaUndoStep, oldest first */
GPtrArray   *ssa_document_peek_redo_stack (SsaDocument *self);  /* next redo LAST */
gint64       ssa_document_get_next_object_id (SsaDocument *self);
void         ssa_document_set_next_object_id (SsaDocument *self, gint64 next);
guint        ssa_document_get_undo_limit  (SsaDocument *self);
void         ssa_document_set_path_internal (SsaDocument *self, const char *path);
void         ssa_document_set_modified_internal (SsaDocument *self, gboolean modified);
/* Adds an object without history (loading / import). */
SsaObject   *ssa_document_load_object     (SsaDocument *self, guint image, const SsaObjectData *data,
                                           GError **error);
SsaCategory *ssa_document_load_category   (SsaDocument *self, const SsaCategoryData *data,
                                           GError **error);

G_END_DECLS
