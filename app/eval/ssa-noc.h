/* ssa-noc.h — the interactive NoC session's data (GLib): the list of objects × modes to click
 * on, the per-object rows filled from engine/noc.c sessions, the report files (JSON + CSV,
 * written atomically, reloaded to resume), and the attention-drift numbers of a decoder trace.
 * Used by the annotator's NoC mode (ui/ssa-window-noc.c); the clicks themselves go through
 * the engine's ss_noc_begin / ss_noc_finish, the same code as `stablesam eval --protocol noc`. */
#ifndef SSA_NOC_H
#define SSA_NOC_H
#include <glib.h>
#include <stdint.h>

#include "eval-private.h"
#include "ss_metrics.h"
#include "stablesam.h"

G_BEGIN_DECLS

/* One object in one mode. */
typedef struct {
    char *set, *id;       /* data set keys (as `stablesam eval`) */
    int k;                /* object index (ID_K.png) */
    char *image;          /* image file */
    char *mask, *ignore;  /* GT mask file, ignore map file or NULL */
    ss_mode mode;
    gboolean done;        /* the person moved on to the next object */
    int n_clicks;
    ss_point clicks[SS_NOC_MAX_CLICKS];
    double iou[SS_NOC_MAX_CLICKS];     /* IoU after each click, 0..1 */
    double seconds[SS_NOC_MAX_CLICKS]; /* time the person took for each click */
    int noc85, noc90;     /* clicks to reach 0.85 / 0.90, 0 = not reached */
} SsaNocRow;

typedef struct {
    char *gt_dir;         /* the data set folder */
    char *plugin;         /* plugin file name (for the record), or NULL */
    guint64 seed;         /* of the order when shuffled */
    gboolean shuffled;
    int max_clicks;
    GPtrArray *rows;      /* SsaNocRow*, in the order the person does them */
} SsaNocReport;

/* Rows for every object of `ds` in each of `modes` (1 or 2); shuffled (seeded by `seed`,
 * portable PRNG) when `shuffle`, else data set order with the modes of an object together. */
SsaNocReport *ssa_noc_report_new(const SsaDataset *ds, const ss_mode *modes, int n_modes,
                                 gboolean shuffle, guint64 seed, int max_clicks, const char *plugin);
void ssa_noc_report_free(SsaNocReport *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SsaNocReport, ssa_noc_report_free)

/* Reads a report written by ssa_noc_report_save (to resume). Errors name the file. */
SsaNocReport *ssa_noc_report_load(const char *json_path, GError **error);
/* Writes json_path and csv_path (each atomically: temp file, fsync, rename). */
gboolean ssa_noc_report_save(const SsaNocReport *r, const char *json_path, const char *csv_path,
                             GError **error);
/* Index of the first row not done, or rows->len when all are. */
guint ssa_noc_report_first_unfinished(const SsaNocReport *r);
/* Copies the clicks, IoUs, times and thresholds of an engine session into the row. */
void ssa_noc_row_update(SsaNocRow *row, const ss_noc_session *s);
/* Drops the row's clicks (the object starts over). */
void ssa_noc_row_reset(SsaNocRow *row);
const char *ssa_noc_mode_key(ss_mode mode); /* "sam" / "stable", as eval */

/* Attention drift of one prediction (DESIGN §4 trace: block 1's token→image attention of the
 * output-mask token, averaged over heads). */
typedef struct {
    float alpha[2][2];   /* DRP α per block: [block][0] deformable, [1] regular */
    double shift_px;     /* Σ w·‖Δp‖, in original-image pixels (0 in SAM mode) */
    double in_mask;      /* Σ w over samples whose position falls inside `mask` (0..1) */
    double in_gt;        /* same for the GT, or -1 without one */
} SsaDrift;

/* `trace` of a prediction on a width × height image; sample i sits at
 * ((pos + 0.5) · 16 / scale) original pixels, scale = 1024 / max(width, height), and its
 * regular-grid position is (gx + 0.5, gy + 0.5) cells. Masks (height, width) 0/1, gt may be
 * NULL. Positions outside the image count as outside both masks. */
void ssa_drift_compute(const ss_trace *trace, const float alpha[2][2], const uint8_t *mask,
                       const uint8_t *gt, int width, int height, SsaDrift *out);

G_END_DECLS
#endif
