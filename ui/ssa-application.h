/* ssa-application.h — the GtkApplication of stablesam-annotate. */
#ifndef SSA_APPLICATION_H
#define SSA_APPLICATION_H
#include <gtk/gtk.h>
#include "ssa-ui-types.h"

G_BEGIN_DECLS

#define SSA_APPLICATION_ID "org.stablesam.Annotator"
#define SSA_TYPE_APPLICATION (ssa_application_get_type())
G_DECLARE_FINAL_TYPE(SsaApplication, ssa_application, SSA, APPLICATION, GtkApplication)

SsaApplication *ssa_application_new(void);
/* The app's settings (schema org.stablesam.Annotator): installed, $GSETTINGS_SCHEMA_DIR, or
 * the build tree's compiled schema. NULL (with a message printed) if none is found. */
GSettings *ssa_application_get_settings(SsaApplication *self);

G_END_DECLS
#endif
