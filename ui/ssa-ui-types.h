/* ssa-ui-types.h — forward declarations of the annotator's GUI types (ui/). The document
 * types (SsaDocument, SsaObject, SsaCategory, SsaImageEntry, SsaPrompt) come from app/core. */
#ifndef SSA_UI_TYPES_H
#define SSA_UI_TYPES_H
#include <glib-object.h>
#include "ssa-types.h"

G_BEGIN_DECLS

typedef struct _SsaApplication SsaApplication;
typedef struct _SsaWindow SsaWindow;
typedef struct _SsaCanvas SsaCanvas;
typedef struct _SsaWorker SsaWorker;
typedef struct _SsaEmbedding SsaEmbedding;
typedef struct _SsaPrediction SsaPrediction;

G_END_DECLS
#endif
