/* ssa-worker.h — the engine off the main loop.
 *
 * One shared, immutable ss_model; two dedicated threads, each with its own ss_state: the
 * encoder thread (current image first, then prefetches; on-disk embedding cache keyed by the
 * image's content hash + ss_model_hash) and the decoder thread (latest request wins: a new
 * request makes every queued or running older one stale; stale results are never emitted).
 * Signals are emitted on the main context the worker was created in. */
#ifndef SSA_WORKER_H
#define SSA_WORKER_H
#include <gdk/gdk.h>
#include "ssa-ui-types.h"
#include "stablesam.h"

G_BEGIN_DECLS

#define SSA_WORKER_ERROR (ssa_worker_error_quark())
GQuark ssa_worker_error_quark(void);
typedef enum {
    SSA_WORKER_ERROR_NO_MODEL,
    SSA_WORKER_ERROR_ENGINE,
    SSA_WORKER_ERROR_CANCELLED
} SsaWorkerError;

/* An image embedding (256, 64, 64) + the image size it was computed at; immutable, refcounted. */
struct _SsaEmbedding {
    float *data;
    int width, height;
    char *path;
    /*< private >*/
    gatomicrefcount ref;
};
SsaEmbedding *ssa_embedding_ref(SsaEmbedding *emb);
void ssa_embedding_unref(SsaEmbedding *emb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SsaEmbedding, ssa_embedding_unref)

/* One mode's answer to a prompt. */
typedef struct {
    ss_mode mode;
    float iou_pred;
    float alpha[2][2];
    guint8 *mask;   /* (height, width) 0/1 */
    float *low_res; /* (256, 256) logits, to feed back as mask_input */
    ss_trace *trace;
    double ms;      /* prompt encoder + decoder + post-processing */
} SsaModeResult;

/* The answer to one ssa_worker_predict() call: one result, or two in compare mode; immutable,
 * refcounted (the masks are shared, not copied, by the window and the canvases). */
struct _SsaPrediction {
    guint generation;
    int width, height;
    int n_results;
    SsaModeResult results[2];
    /*< private >*/
    gatomicrefcount ref;
};
SsaPrediction *ssa_prediction_ref(SsaPrediction *pred);
void ssa_prediction_unref(SsaPrediction *pred);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SsaPrediction, ssa_prediction_unref)

#define SSA_TYPE_WORKER (ssa_worker_get_type())
G_DECLARE_FINAL_TYPE(SsaWorker, ssa_worker, SSA, WORKER, GObject)

SsaWorker *ssa_worker_new(void);

void ssa_worker_load_model_async(SsaWorker *self, const char *model_path, const char *plugin_path,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean ssa_worker_load_model_finish(SsaWorker *self, GAsyncResult *result, GError **error);
gboolean ssa_worker_has_model(SsaWorker *self);
gboolean ssa_worker_has_plugin(SsaWorker *self);
const char *ssa_worker_get_model_hash(SsaWorker *self); /* NULL without a model */

/* Loads an image for display (same decoder as the engine's input: ssa_image_load). Images with
 * a side above SSA_DISPLAY_MAX_SIDE come as a downscaled texture; width / height (nullable)
 * get the image's real size. */
#define SSA_DISPLAY_MAX_SIDE 4096
/* The biggest image the annotator opens (the CLI takes up to SSA_IMAGE_MAX_PIXELS): above it
 * the masks (1 byte a pixel each: the shown one, the one being computed, the objects layer's
 * decode) take the annotator past its 400 MB peak RSS target (DESIGN §7; measured in
 * docs/RELIABILITY.md §4: 8000x6000 = 48 MP 385-388 MB with one object, 409 MB with two, 10000x10000 464 MB). Bigger ones are
 * refused with "FILE: image is WxH (N MP), more than the 50 MP supported". */
#define SSA_ANNOTATOR_MAX_PIXELS G_GINT64_CONSTANT(50000000)
/* Images up to this size are kept in the renderer's format (4 bytes a pixel, drawn without a
 * conversion); bigger ones as RGB (3 bytes a pixel; only the visible part is converted). */
#define SSA_DISPLAY_NATIVE_PIXELS G_GINT64_CONSTANT(4200000)
/* Decoding an image above 16 MP may hold its whole RGB for a moment (the loaders other than
 * the streamed PNG one decode before they scale; libjpeg at 1/2..1/8 at best): the display,
 * thumbnail and encoder loads of such images take this lock so that only one of those
 * buffers exists at a time. Returns whether it was taken (unlock
 * with ssa_big_decode_unlock only then). */
gboolean ssa_big_decode_lock(const char *path);
void ssa_big_decode_unlock(void);
void ssa_worker_load_texture_async(SsaWorker *self, const char *path, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
GdkTexture *ssa_worker_load_texture_finish(SsaWorker *self, GAsyncResult *result, int *width,
                                           int *height, GError **error);

/* Encodes `path` (memory cache, then disk cache, then the encoder). Prefetches run after
 * every non-prefetch job. Progress: the "encode-progress" signal (path, fraction 0..1). */
void ssa_worker_encode_async(SsaWorker *self, const char *path, gboolean prefetch,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data);
SsaEmbedding *ssa_worker_encode_finish(SsaWorker *self, GAsyncResult *result, GError **error);
/* The embedding of `path` if it is in the memory cache (new reference), else NULL. */
SsaEmbedding *ssa_worker_lookup_embedding(SsaWorker *self, const char *path);

/* Queues a decode; returns its generation. Everything older becomes stale. `modes` are run
 * in order on the same prompt (n_modes 1 or 2). mask_input: (256, 256) logits or NULL.
 * The answer comes as the "prediction" signal (SsaPrediction*, the worker's
 * reference: take one with ssa_prediction_ref to keep it) or, on failure, "prediction-failed" (generation, message). */
guint ssa_worker_predict(SsaWorker *self, SsaEmbedding *emb, const SsaPrompt *prompt,
                           const float *mask_input, const ss_mode *modes, int n_modes,
                           gboolean want_trace);
/* Makes every queued or running decode stale. */
void ssa_worker_cancel_predictions(SsaWorker *self);
guint ssa_worker_get_generation(SsaWorker *self);

G_END_DECLS
#endif
