/* ssa-window.h — the annotator window: image list | canvas (+ compare canvas) | objects and
 * categories, header bar, status bar. */
#ifndef SSA_WINDOW_H
#define SSA_WINDOW_H
#include <gtk/gtk.h>
#include "ssa-ui-types.h"

G_BEGIN_DECLS

#define SSA_TYPE_WINDOW (ssa_window_get_type())
G_DECLARE_FINAL_TYPE(SsaWindow, ssa_window, SSA, WINDOW, GtkApplicationWindow)

/* Starts loading the model in the background; the window is usable without one. */
SsaWindow *ssa_window_new(SsaApplication *app, const char *model_path, const char *plugin_path);
/* Opens folders / images and/or a project file (created on the first change if missing).
 * Without a project, the project is DIR/stablesam-project.json (resumed if it exists). */
gboolean ssa_window_open(SsaWindow *self, GFile **files, guint n_files, const char *project_path,
                         GError **error);
/* NoC mode (docs/NOC.md): every object of the data set `gt_dir` (DESIGN §9 layout) in `modes`
 * ("sam", "stable" or "both"; both = each object in both modes, in an order shuffled with
 * `seed`), clicks counted against the ground truth, rows written to `report_path` (.json; the
 * .csv next to it; NULL = gt_dir/stablesam-noc.json). An existing report is resumed. */
gboolean ssa_window_start_noc(SsaWindow *self, const char *gt_dir, const char *report_path,
                              const char *modes, guint64 seed, GError **error);
/* One-line error in the bar above the canvas. */
void ssa_window_show_error(SsaWindow *self, const char *message);

G_END_DECLS
#endif
