/* ssa-window-private.h — SsaWindow's instance struct, shared by ssa-window*.c. */
#ifndef SSA_WINDOW_PRIVATE_H
#define SSA_WINDOW_PRIVATE_H
#include "ssa-window.h"
#include "ssa-canvas.h"
#include "ssa-worker.h"
#include "ssa-document.h"

G_BEGIN_DECLS

typedef struct _SsaNocState SsaNocState;

#define SSA_PROJECT_BASENAME "stablesam-project.json"

struct _SsaWindow {
    GtkApplicationWindow parent_instance;

    /* template widgets */
    GtkDropDown *mode_dropdown;
    GtkRevealer *error_revealer;
    GtkLabel *error_label;
    GtkLabel *images_title;
    GtkListBox *image_list;
    GtkListBox *object_list;
    GtkListBox *category_list;
    SsaCanvas *canvas;
    SsaCanvas *compare_canvas;
    GtkWidget *compare_overlay;
    GtkLabel *canvas_label;
    GtkLabel *compare_label;
    GtkLabel *status_label;
    GtkProgressBar *encode_progress;
    GtkLabel *iou_label;
    GtkLabel *alpha_label;
    GtkLabel *time_label;
    GtkLabel *zoom_label;
    GtkAdjustment *opacity_adjustment;
    GtkAdjustment *k_adjustment;
    GtkSwitch *circles_switch;
    GtkRevealer *noc_revealer;
    GtkLabel *noc_label;
    GtkLabel *noc_iou_label;
    GtkRevealer *drift_revealer;
    GtkLabel *drift_label;
    GtkLabel *drift_note_label;
    GtkWidget *side_box;

    /* borrowed references */
    GSettings *settings;          /* the application's */

    /* owned references */
    SsaWorker *worker;
    SsaDocument *document;
    char *default_project_path;   /* where to save on the first change when the doc has no path */
    GCancellable *image_cancellable;    /* texture + encode of the current image */
    GCancellable *prefetch_cancellable; /* encode of the next image */
    char *prefetch_path;          /* the image being prefetched */
    GdkTexture *texture;          /* current image, or NULL */
    SsaEmbedding *embedding;      /* current image's, or NULL while encoding */
    char *image_path;             /* current image's file */
    SsaPrompt *prompt;            /* the prompt being built (never NULL) */
    SsaPrediction *prediction;    /* answer to `prompt`, or NULL */
    GHashTable *thumbnails;       /* path -> GdkTexture */
    GPtrArray *image_count_labels;/* GtkLabel per image row (owned refs, NULL holes) */
    char *model_path, *plugin_path;
    SsaNocState *noc;             /* the NoC session (--gt), or NULL */

    /* state */
    int image_index;              /* index shown, -1 for none */
    gint64 current_category;      /* 0 = none */
    gint64 selected_object;       /* 0 = none */
    gboolean model_ready;
    gboolean model_failed;
    gboolean image_failed;        /* the current image could not be loaded (message shown) */
    gboolean predict_pending;     /* a prompt waits for the embedding */
    gboolean box_dragging;        /* a box drag is in progress: the first event replaces the prompt */
    guint pending_generation;     /* generation of the newest request in flight, 0 = none */
    char *mode;                   /* "sam" | "stable" (property, bound to settings) */
    gboolean compare;
    gboolean show_circles;
    gboolean drift_panel;
};

/* ssa-window.c */
void ssa_window_set_document(SsaWindow *self, SsaDocument *document, const char *default_project_path);
/* Open a project / import a COCO file as the new document. On failure: FALSE, the one-line
 * error (naming the file) in the window's message bar, and the current document untouched. */
gboolean ssa_window_open_project(SsaWindow *self, const char *path);
gboolean ssa_window_import_coco(SsaWindow *self, const char *path);
void ssa_window_go_to_image(SsaWindow *self, int index);
void ssa_window_clear_prompt(SsaWindow *self);
void ssa_window_accept(SsaWindow *self);
void ssa_window_request_prediction(SsaWindow *self);
void ssa_window_refresh_objects(SsaWindow *self);
void ssa_window_update_status(SsaWindow *self);
void ssa_window_log_view(SsaWindow *self);
ss_mode ssa_window_main_mode(SsaWindow *self);
gboolean ssa_prompt_is_empty_ui(const SsaPrompt *prompt);

/* ssa-window-actions.c */
void ssa_window_class_init_actions(GtkWidgetClass *widget_class);
void ssa_window_update_actions(SsaWindow *self);
void ssa_window_add_key_shortcuts(SsaWindow *self, GtkWidget *content);

/* ssa-window-lists.c: the three side lists */
void ssa_window_lists_init(SsaWindow *self);
void ssa_window_bind_image_list(SsaWindow *self);
void ssa_window_bind_object_list(SsaWindow *self);
void ssa_window_bind_category_list(SsaWindow *self);
void ssa_window_select_image_row(SsaWindow *self, int index);
void ssa_window_update_image_count(SsaWindow *self, int index);
SsaCategory *ssa_window_ensure_category(SsaWindow *self);
GdkRGBA ssa_rgba_to_gdk(SsaRgba c);
SsaRgba ssa_rgba_from_gdk(const GdkRGBA *c);

/* ssa-window-noc.c: the NoC session (clicks counted against ground truth) and the
 * attention-drift panel. The ssa_window_noc_* hooks return TRUE when NoC mode handled the event. */
gboolean ssa_window_noc_active(SsaWindow *self);
gboolean ssa_window_noc_click(SsaWindow *self, double x, double y, int label);
gboolean ssa_window_noc_request(SsaWindow *self);
void ssa_window_noc_prediction(SsaWindow *self, const SsaPrediction *pred);
void ssa_window_noc_prediction_failed(SsaWindow *self, guint generation);
gboolean ssa_window_noc_next(SsaWindow *self);
gboolean ssa_window_noc_restart(SsaWindow *self);
void ssa_window_noc_embedding_ready(SsaWindow *self);
void ssa_window_noc_add_canvas_objects(SsaWindow *self, GArray *objects);
void ssa_window_noc_free(SsaWindow *self);
void ssa_window_update_drift(SsaWindow *self);

G_END_DECLS
#endif
