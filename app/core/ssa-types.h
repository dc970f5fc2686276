/* ssa-types.h — forward declarations and small value types of the annotator's document layer.
 *
 * The document layer (app/core) is GLib/GIO only (no GTK): the GUI (ui/) and the CLI
 * (`stablesam export` / `import`) share it. Everything here is main-thread only.
 */
#pragma once

#include <glib-object.h>
#include "stablesam.h"

G_BEGIN_DECLS

typedef struct _SsaDocument   SsaDocument;
typedef struct _SsaObject     SsaObject;
typedef struct _SsaCategory   SsaCategory;
typedef struct _SsaImageEntry SsaImageEntry;

/* Errors of the document layer. Messages are one line and start with the file they are about
 * ("project.json: images[2].objects[0]: \"rle\" is missing"). I/O failures use G_IO_ERROR
 * / G_FILE_ERROR codes with the same message style. */
/* Largest id of an image, category or object (2^53: exact as a JSON number in every reader;
 * files with larger ids are refused, so "next id = max + 1" never overflows). */
#define SSA_MAX_ID (G_GINT64_CONSTANT (1) << 53)

#define SSA_DOCUMENT_ERROR (ssa_document_error_quark ())
GQuark ssa_document_error_quark (void);

typedef enum {
  SSA_DOCUMENT_ERROR_PARSE,      /* not JSON at all / truncated */
  SSA_DOCUMENT_ERROR_INVALID,    /* JSON, but a field is missing, of the wrong type or out of range */
  SSA_DOCUMENT_ERROR_NOT_FOUND,  /* unknown image / object / category id, missing image file */
  SSA_DOCUMENT_ERROR_SIZE,       /* mask size does not match the image size */
  SSA_DOCUMENT_ERROR_EMPTY,      /* nothing to do (e.g. no path to save to) */
} SsaDocumentError;

/* The prompt that produced an object's mask (what the user last gave the model for it).
 * Points are in original-image pixels with SAM's labels (1 positive, 0 negative).
 * A boxed type ("SsaPrompt"): copy with ssa_prompt_copy, free with ssa_prompt_free. */
typedef struct {
  gboolean  has_box;
  float     box[4];      /* x0, y0, x1, y1 (valid when has_box) */
  guint     n_points;
  ss_point *points;      /* (n_points,) owned; NULL when n_points == 0 */
  ss_mode   mode;        /* SS_MODE_SAM or SS_MODE_STABLE */
  float     iou_pred;    /* the decoder's predicted IoU of the mask; < 0 if unknown */
} SsaPrompt;

#define SSA_TYPE_PROMPT (ssa_prompt_get_type ())
GType      ssa_prompt_get_type  (void) G_GNUC_CONST;
/* An empty prompt: no box, no points, SS_MODE_SAM, iou_pred -1. */
SsaPrompt *ssa_prompt_new       (void);
/* Copies box, points, mode and iou_pred (points duplicated). NULL -> NULL. */
SsaPrompt *ssa_prompt_copy      (const SsaPrompt *prompt);
void       ssa_prompt_free      (SsaPrompt *prompt);
/* Appends one point (label 1 or 0). */
void       ssa_prompt_add_point (SsaPrompt *prompt, float x, float y, int label);
gboolean   ssa_prompt_equal     (const SsaPrompt *a, const SsaPrompt *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SsaPrompt, ssa_prompt_free)

/* Colours are 0xRRGGBBAA (8 bits each). GTK side: red = ((c >> 24) & 0xff) / 255.0, ... */
typedef guint32 SsaRgba;

G_END_DECLS
