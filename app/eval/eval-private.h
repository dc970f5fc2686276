/* eval-private.h — shared pieces of `stablesam eval` and `stablesam embed` (app/eval/). */
#ifndef SSA_EVAL_PRIVATE_H
#define SSA_EVAL_PRIVATE_H
#include <glib.h>
#include <stdint.h>

#include "image-io.h"
#include "stablesam.h"

/* ---- dataset.c: DESIGN §9 layout ---- */
typedef struct {
    int k;              /* object index in ID_K.png */
    char *mask_path;    /* owned */
    char *ignore_path;  /* owned, NULL if there is no ID_K.ignore.png */
} SsaEvalObject;

typedef struct {
    char *set;          /* set name (folder name) */
    char *id;           /* image id (file name without extension) */
    char *path;         /* image file */
    GPtrArray *objects; /* SsaEvalObject*, sorted by k */
} SsaEvalImage;

typedef struct {
    char *dir;          /* as given */
    char *split;        /* "val", "train" or "all" (what was applied) */
    GPtrArray *images;  /* SsaEvalImage*, sorted by set then id */
    int n_objects;
} SsaDataset;

/* Scans DIR (a set: DIR/images + DIR/masks; or a folder of sets). split: "val", "train",
 * "all", or NULL = "val" when the set has val.txt, else "all". Problems that concern one file
 * (a mask without an image, a bad mask name, an id in val.txt with no image, ...) are added to
 * `problems` as "FILE: what is wrong" and the rest is kept. Returns NULL (error set) when
 * nothing can be evaluated (no images, not a folder, bad split). */
SsaDataset *ssa_dataset_scan(const char *dir, const char *split, GPtrArray *problems,
                             GError **error);
void ssa_dataset_free(SsaDataset *ds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SsaDataset, ssa_dataset_free)

/* Loads one object's GT mask (0/1) and its ignore map (NULL if none), checking: readable,
 * same size as the image, values 0 / 255 only, not empty. */
gboolean ssa_dataset_load_object(const SsaEvalObject *obj, int width, int height, uint8_t **mask,
                                 uint8_t **ignore, GError **error);

/* ---- embed.c: the on-disk embedding cache ---- */
/* $XDG_CACHE_HOME/stablesam/embeddings */
char *ssa_embedding_cache_default(void);
/* CACHE/<model hash>/<sha256 of the image file>.emb */
char *ssa_embedding_cache_path(const char *cache_dir, const ss_model *model, const char *sha256);
/* Puts the image's embedding into `state` (of `model`): from the cache when present and
 * valid, else encodes `img` (loaded from image_path when NULL) and saves it (creating folders).
 * cache_dir NULL = no cache. *cached tells which. sha256 may be NULL (computed). May be called
 * from several threads at once, each with its own state. */
gboolean ssa_embedding_get(const ss_model *model, ss_state *state, const char *cache_dir,
                           const char *image_path, const char *sha256, const SsaImage *img,
                           gboolean *cached, GError **error);

/* ---- progress (eval.c) ---- */
typedef struct {
    gboolean tty;
    gint64 t0;
    int total;
    const char *what;
} SsaProgress;
void ssa_progress_init(SsaProgress *p, const char *what, int total);
void ssa_progress_update(SsaProgress *p, int done, const char *item);
void ssa_progress_done(SsaProgress *p);

/* ---- plots.c (Cairo PNG) ---- */
typedef struct {
    const char *label;   /* legend, e.g. "SAM" */
    const double *y;     /* n values */
    int n;
} SsaPlotSeries;

/* Line plot of y against x = 1..n (mIoU vs clicks). */
gboolean ssa_plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                        const SsaPlotSeries *series, int n_series, double ymin, double ymax,
                        GError **error);
/* Grouped bars: n_groups categories (group_labels), one bar per series in each group;
 * series[s].y has n_groups values, NaN = no bar. */
gboolean ssa_plot_bars(const char *path, const char *title, const char *ylabel,
                       const char *const *group_labels, int n_groups, const SsaPlotSeries *series,
                       int n_series, double ymin, double ymax, GError **error);
#endif
