/* ssa-document.c — SsaDocument (skeleton: the implementation lands next). */
#include "ssa-document.h"

G_DEFINE_QUARK (ssa-document-error-quark, ssa_document_error)

struct _SsaDocument
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (SsaDocument, ssa_document, G_TYPE_OBJECT)

static void
ssa_document_class_init (SsaDocumentClass *klass)
{
}

static void
ssa_document_init (SsaDocument *self)
{
}

SsaDocument *
ssa_document_new (void)
{
  return g_object_new (SSA_TYPE_DOCUMENT, NULL);
}
