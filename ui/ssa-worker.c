/* ssa-worker.c — engine work off the main loop (see ssa-worker.h). */
#define G_LOG_DOMAIN "ssa-worker"
#include "ssa-worker.h"
#include "ssa-canvas.h"
#include "image-io.h"
#include "model-path.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define EMB_FLOATS ((gsize)SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE)
#define MEM_CACHE_MAX 4

G_DEFINE_QUARK(ssa-worker-error-quark, ssa_worker_error)

struct _SsaWorker {
    GObject parent_instance;

    /* owned references */
    ss_model *model;        /* immutable once set; read by both threads */
    char *model_hash;
    GThreadPool *encode_pool;  /* 1 exclusive thread */
    GThreadPool *decode_pool;  /* 1 exclusive thread */
    GMainContext *main_ctx;
    GMutex cache_lock;         /* guards mem_cache / mem_lru */
    GHashTable *mem_cache;     /* path -> SsaEmbedding */
    GQueue mem_lru;            /* paths, most recent first (keys of mem_cache) */

    guint generation;          /* atomic: the newest decode request */
    guint64 job_seq;           /* encode queue order */
    gint encode_calls_expected; /* atomic: abort-callback calls one encode made last time */
};

enum { SIG_ENCODE_PROGRESS, SIG_PREDICTION, SIG_PREDICTION_FAILED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE(SsaWorker, ssa_worker, G_TYPE_OBJECT)

/* ---- boxed helpers ---------------------------------------------------------------------- */

SsaEmbedding *
ssa_embedding_ref(SsaEmbedding *emb)
{
    g_atomic_ref_count_inc(&emb->ref);
    return emb;
}

void
ssa_embedding_unref(SsaEmbedding *emb)
{
    if (emb && g_atomic_ref_count_dec(&emb->ref)) {
        g_free(emb->data);
        g_free(emb->path);
        g_free(emb);
    }
}

SsaPrediction *
ssa_prediction_ref(SsaPrediction *pred)
{
    g_atomic_ref_count_inc(&pred->ref);
    return pred;
}

void
ssa_prediction_unref(SsaPrediction *pred)
{
    if (!pred || !g_atomic_ref_count_dec(&pred->ref))
        return;
    for (int i = 0; i < pred->n_results; i++) {
        g_free(pred->results[i].mask);
        g_free(pred->results[i].low_res);
        g_free(pred->results[i].trace);
    }
    g_free(pred);
}

/* ---- per-thread engine state ------------------------------------------------------------ */

typedef struct {
    ss_state *state;
    SsaEmbedding *emb; /* the embedding currently set in `state` (decoder thread) */
    ss_result result;
} ThreadCtx;

static void
thread_ctx_free(gpointer data)
{
    ThreadCtx *ctx = data;
    ss_result_clear(&ctx->result);
    ss_state_free(ctx->state);
    ssa_embedding_unref(ctx->emb);
    g_free(ctx);
}

static GPrivate thread_ctx_key = G_PRIVATE_INIT(thread_ctx_free);

static ThreadCtx *
thread_ctx(SsaWorker *self, GError **error)
{
    ThreadCtx *ctx = g_private_get(&thread_ctx_key);
    if (ctx)
        return ctx;
    char err[256] = "";
    ss_state *state = ss_state_new(self->model, err, sizeof err);
    if (!state) {
        g_set_error(error, SSA_WORKER_ERROR, SSA_WORKER_ERROR_ENGINE, "%s", err);
        return NULL;
    }
    ctx = g_new0(ThreadCtx, 1);
    ctx->state = state;
    g_private_set(&thread_ctx_key, ctx);
    return ctx;
}

/* ---- model ------------------------------------------------------------------------------ */

typedef struct {
    char *model_path, *plugin_path;
} LoadData;

static void
load_data_free(LoadData *d)
{
    g_free(d->model_path);
    g_free(d->plugin_path);
    g_free(d);
}

static void
load_model_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    LoadData *d = task_data;
    char err[512] = "";
    ss_model_params params = ss_model_default_params();
    ss_model *model = ss_model_load(d->model_path, d->plugin_path, params, err, sizeof err);
    if (!model && d->plugin_path) {
        /* a broken plugin must not cost the user SAM mode */
        char err2[512] = "";
        model = ss_model_load(d->model_path, NULL, params, err2, sizeof err2);
        if (model)
            g_warning("%s: %s (Stable-SAM mode disabled)", d->plugin_path, err);
    }
    if (!model) {
        g_task_return_new_error(task, SSA_WORKER_ERROR, SSA_WORKER_ERROR_NO_MODEL,
                                "cannot load the model %s: %s", d->model_path, err);
        return;
    }
    g_task_return_pointer(task, model, (GDestroyNotify)ss_model_free);
}

void
ssa_worker_load_model_async(SsaWorker *self, const char *model_path, const char *plugin_path,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
    g_return_if_fail(SSA_IS_WORKER(self));
    g_return_if_fail(self->model == NULL);
    g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, ssa_worker_load_model_async);
    LoadData *d = g_new0(LoadData, 1);
    d->model_path = g_strdup(model_path);
    d->plugin_path = g_strdup(plugin_path);
    g_task_set_task_data(task, d, (GDestroyNotify)load_data_free);
    g_task_run_in_thread(task, load_model_thread);
}

gboolean
ssa_worker_load_model_finish(SsaWorker *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
    ss_model *model = g_task_propagate_pointer(G_TASK(result), error);
    if (!model)
        return FALSE;
    if (self->model) { /* loaded twice: keep the first */
        ss_model_free(model);
        return TRUE;
    }
    self->model = model;
    self->model_hash = g_strdup(ss_model_hash(model));
    g_debug("model loaded, hash %s, plugin %s", self->model_hash,
            ss_model_has_plugin(model) ? "yes" : "no");
    return TRUE;
}

gboolean
ssa_worker_has_model(SsaWorker *self)
{
    return self->model != NULL;
}

gboolean
ssa_worker_has_plugin(SsaWorker *self)
{
    return self->model && ss_model_has_plugin(self->model);
}

const char *
ssa_worker_get_model_hash(SsaWorker *self)
{
    return self->model_hash;
}

/* ---- textures --------------------------------------------------------------------------- */

static GMutex big_decode_mutex;

gboolean
ssa_big_decode_lock(const char *path)
{
    int w = 0, h = 0;
    if (!ssa_image_file_sane(path) || !gdk_pixbuf_get_file_info(path, &w, &h) || (gint64)w * h <= 16000000)
        return FALSE;
    g_mutex_lock(&big_decode_mutex);
    return TRUE;
}

void
ssa_big_decode_unlock(void)
{
    g_mutex_unlock(&big_decode_mutex);
}

typedef struct {
    GdkTexture *texture;
    int width, height; /* the image's size; the texture is smaller for big images */
} TextureResult;

static void
texture_result_free(TextureResult *r)
{
    g_clear_object(&r->texture);
    g_free(r);
}

static void
load_texture_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    GError *error = NULL;
    const char *path = task_data;
    TextureResult *r = g_new0(TextureResult, 1);
    g_autoptr(GBytes) bytes = NULL;
    gsize stride = 0;
    GdkMemoryFormat format = GDK_MEMORY_R8G8B8;
    gboolean big = ssa_big_decode_lock(path);
    /* big images: a copy downscaled to SSA_DISPLAY_MAX_SIDE, decoded at that scale (full-size
     * RGB + the renderer's copy of it would be 7 bytes a pixel); masks and prompts stay in
     * full-size pixels. Same decoder as the encoder's: what is shown is what it sees. */
    SsaImage *img = ssa_image_load_scaled(path, SSA_DISPLAY_MAX_SIDE, SSA_ANNOTATOR_MAX_PIXELS, &r->width, &r->height, &error);
    if (big)
        ssa_big_decode_unlock();
    if (!img) {
        texture_result_free(r);
        g_task_return_error(task, error);
        return;
    }
    int tw = img->width, th = img->height;
    if (tw != r->width || th != r->height)
        g_debug("%s: %dx%d shown at %dx%d", path, r->width, r->height, tw, th);
    if ((gint64)tw * th <= SSA_DISPLAY_NATIVE_PIXELS) {
        /* the renderer's own format: drawing it is a memcpy, not a conversion */
        gsize n = (gsize)tw * th;
        guint32 *px = g_malloc(n * 4);
        for (gsize i = 0; i < n; i++) {
            const guint8 *p = img->rgb + i * 3;
            px[i] = 0xff000000u | (guint32)p[0] << 16 | (guint32)p[1] << 8 | p[2];
        }
        ssa_image_free(img);
        format = GDK_MEMORY_DEFAULT;
        stride = (gsize)tw * 4;
        bytes = g_bytes_new_take(px, n * 4);
    } else {
        stride = img->stride;
        bytes = g_bytes_new_with_free_func(img->rgb, (gsize)img->stride * th,
                                           (GDestroyNotify)ssa_image_free, img);
    }
    r->texture = gdk_memory_texture_new(tw, th, format, bytes, stride);
    ssa_canvas_prepare_texture(r->texture, bytes, format, stride);
    g_task_return_pointer(task, r, (GDestroyNotify)texture_result_free);
}

void
ssa_worker_load_texture_async(SsaWorker *self, const char *path, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, ssa_worker_load_texture_async);
    g_task_set_task_data(task, g_strdup(path), g_free);
    g_task_run_in_thread(task, load_texture_thread);
}

GdkTexture *
ssa_worker_load_texture_finish(SsaWorker *self, GAsyncResult *result, int *width, int *height,
                               GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), NULL);
    TextureResult *r = g_task_propagate_pointer(G_TASK(result), error);
    if (!r)
        return NULL;
    if (width)
        *width = r->width;
    if (height)
        *height = r->height;
    GdkTexture *tex = g_steal_pointer(&r->texture);
    texture_result_free(r);
    return tex;
}

/* ---- memory cache ----------------------------------------------------------------------- */

static void
mem_cache_put(SsaWorker *self, SsaEmbedding *emb)
{
    g_mutex_lock(&self->cache_lock);
    GList *old = g_queue_find_custom(&self->mem_lru, emb->path, (GCompareFunc)g_strcmp0);
    if (old) {
        g_hash_table_remove(self->mem_cache, old->data); /* frees the key = old->data */
        g_queue_delete_link(&self->mem_lru, old);
    }
    char *key = g_strdup(emb->path);
    g_hash_table_insert(self->mem_cache, key, ssa_embedding_ref(emb));
    g_queue_push_head(&self->mem_lru, key);
    while (self->mem_lru.length > MEM_CACHE_MAX) {
        char *victim = g_queue_pop_tail(&self->mem_lru);
        g_hash_table_remove(self->mem_cache, victim);
    }
    g_mutex_unlock(&self->cache_lock);
}

SsaEmbedding *
ssa_worker_lookup_embedding(SsaWorker *self, const char *path)
{
    g_return_val_if_fail(SSA_IS_WORKER(self), NULL);
    g_mutex_lock(&self->cache_lock);
    SsaEmbedding *emb = g_hash_table_lookup(self->mem_cache, path);
    if (emb)
        ssa_embedding_ref(emb);
    g_mutex_unlock(&self->cache_lock);
    return emb;
}

/* ---- encoding --------------------------------------------------------------------------- */

typedef struct {
    GTask *task;       /* owned */
    char *path;
    gboolean prefetch;
    guint64 seq;
    GWeakRef worker;   /* for progress signals */
    int calls, expected;
    gint64 last_progress_us;
} EncodeJob;

static void
encode_job_free(EncodeJob *job)
{
    g_clear_object(&job->task);
    g_free(job->path);
    g_weak_ref_clear(&job->worker);
    g_free(job);
}

static gint
encode_job_cmp(gconstpointer a, gconstpointer b, gpointer user_data)
{
    const EncodeJob *ja = a, *jb = b;
    if (ja->prefetch != jb->prefetch)
        return ja->prefetch ? 1 : -1;
    return ja->seq < jb->seq ? -1 : ja->seq > jb->seq;
}

/* Runs `func(data)` on the worker's main context, always from that context's own dispatch.
 * (Not g_main_context_invoke: when no thread owns the context at that moment, it calls `func`
 * at once in the calling thread, so signals would be emitted on a worker thread.) */
static void
post_to_main(SsaWorker *self, GSourceFunc func, gpointer data)
{
    GSource *source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, func, data, NULL);
    g_source_set_static_name(source, "[stablesam] worker result");
    g_source_attach(source, self->main_ctx);
    g_source_unref(source);
}

typedef struct {
    GWeakRef worker;
    char *path;
    double fraction;
} ProgressMsg;

static gboolean
emit_progress_idle(gpointer data)
{
    ProgressMsg *msg = data;
    g_autoptr(SsaWorker) self = g_weak_ref_get(&msg->worker);
    if (self)
        g_signal_emit(self, signals[SIG_ENCODE_PROGRESS], 0, msg->path, msg->fraction);
    g_weak_ref_clear(&msg->worker);
    g_free(msg->path);
    g_free(msg);
    return G_SOURCE_REMOVE;
}

static void
post_progress(SsaWorker *self, EncodeJob *job, double fraction)
{
    ProgressMsg *msg = g_new0(ProgressMsg, 1);
    g_weak_ref_init(&msg->worker, self);
    msg->path = g_strdup(job->path);
    msg->fraction = fraction;
    post_to_main(self, emit_progress_idle, msg);
}

/* Abort callback of ss_encode: doubles as the progress tick (called between blocks). */
static int
encode_abort_cb(void *user_data)
{
    EncodeJob *job = user_data;
    job->calls++;
    gint64 now = g_get_monotonic_time();
    if (now - job->last_progress_us > 100000) {
        job->last_progress_us = now;
        SsaWorker *self = g_task_get_source_object(job->task);
        double f = job->expected > 0 ? MIN(0.99, (double)job->calls / job->expected) : -1;
        post_progress(self, job, f);
    }
    return g_cancellable_is_cancelled(g_task_get_cancellable(job->task));
}

static char *
embedding_cache_path(SsaWorker *self, const char *image_path, GError **error)
{
    g_autofree char *hash = ssa_file_hash(image_path, error);
    if (!hash)
        return NULL;
    g_autofree char *dir = ssa_cache_dir();
    g_autofree char *edir = g_build_filename(dir, "embeddings", NULL);
    if (g_mkdir_with_parents(edir, 0755) != 0)
        g_debug("%s: %s (embedding cache disabled)", edir, g_strerror(errno));
    g_autofree char *name = g_strdup_printf("%.32s-%s.ssemb", hash, self->model_hash);
    return g_build_filename(edir, name, NULL);
}

static SsaEmbedding *
encode_in_thread(SsaWorker *self, EncodeJob *job, GError **error)
{
    GCancellable *cancellable = g_task_get_cancellable(job->task);
    char err[512] = "";
    SsaEmbedding *emb = ssa_worker_lookup_embedding(self, job->path);
    if (emb)
        return emb;
    if (g_cancellable_set_error_if_cancelled(cancellable, error))
        return NULL;
    ThreadCtx *ctx = thread_ctx(self, error);
    if (!ctx)
        return NULL;
    g_autofree char *cache = embedding_cache_path(self, job->path, error);
    if (!cache)
        return NULL;
    g_autoptr(SsaImage) img = NULL;
    gboolean from_cache = FALSE;
    if (g_file_test(cache, G_FILE_TEST_EXISTS)) {
        if (ss_embedding_load(ctx->state, cache, err, sizeof err) == SS_OK)
            from_cache = TRUE;
        else
            g_debug("%s: %s (re-encoding)", cache, err);
    }
    if (!from_cache) {
        /* big images are encoded from the same downscaled copy the screen shows: the
         * encoder's input is 1024 px, and a full-size RGB would be 3 bytes a pixel */
        int w = 0, h = 0;
        gboolean big = ssa_big_decode_lock(job->path);
        img = ssa_image_load_scaled(job->path, SSA_DISPLAY_MAX_SIDE, SSA_ANNOTATOR_MAX_PIXELS, &w, &h, error);
        if (big)
            ssa_big_decode_unlock();
        if (!img)
            return NULL;
        job->expected = g_atomic_int_get(&self->encode_calls_expected);
        post_progress(self, job, 0.0);
        ss_state_set_abort(ctx->state, encode_abort_cb, job);
        gint64 t0 = g_get_monotonic_time();
        int rc = ss_encode_scaled(ctx->state, img->rgb, img->width, img->height, img->stride, w, h, err,
                                  sizeof err);
        g_clear_pointer(&img, ssa_image_free);
        ss_state_set_abort(ctx->state, NULL, NULL);
        /* the encoder's 49 MB are not held between images (peak RSS, DESIGN §7) */
        ss_state_release_encoder(ctx->state);
        if (rc == SS_ERR_ABORTED || g_cancellable_is_cancelled(cancellable)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: encoding cancelled", job->path);
            return NULL;
        }
        if (rc != SS_OK) {
            g_set_error(error, SSA_WORKER_ERROR, SSA_WORKER_ERROR_ENGINE, "%s: %s", job->path, err);
            return NULL;
        }
        if (job->calls > 0)
            g_atomic_int_set(&self->encode_calls_expected, job->calls);
        g_debug("encoded %s in %.0f ms", job->path, (g_get_monotonic_time() - t0) / 1000.0);
        if (ss_embedding_save(ctx->state, cache, err, sizeof err) != SS_OK)
            g_debug("%s: %s (not cached)", cache, err);
    } else {
        g_debug("embedding of %s from the disk cache", job->path);
    }
    const float *data = ss_state_embedding(ctx->state);
    emb = g_new0(SsaEmbedding, 1);
    g_atomic_ref_count_init(&emb->ref);
    emb->data = g_memdup2(data, EMB_FLOATS * sizeof(float));
    ss_state_image_size(ctx->state, &emb->width, &emb->height);
    emb->path = g_strdup(job->path);
    post_progress(self, job, 1.0);
    mem_cache_put(self, emb);
    return emb;
}

static void
encode_pool_func(gpointer data, gpointer user_data)
{
    EncodeJob *job = data;
    SsaWorker *self = user_data;
    GError *error = NULL;
    SsaEmbedding *emb = encode_in_thread(self, job, &error);
    if (emb)
        g_task_return_pointer(job->task, emb, (GDestroyNotify)ssa_embedding_unref);
    else
        g_task_return_error(job->task, error);
    encode_job_free(job);
}

void
ssa_worker_encode_async(SsaWorker *self, const char *path, gboolean prefetch,
                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(SSA_IS_WORKER(self));
    g_return_if_fail(path != NULL);
    GTask *task = g_task_new(self, cancellable, callback, user_data);
    g_task_set_source_tag(task, ssa_worker_encode_async);
    if (!self->model) {
        g_task_return_new_error(task, SSA_WORKER_ERROR, SSA_WORKER_ERROR_NO_MODEL, "no model loaded");
        g_object_unref(task);
        return;
    }
    SsaEmbedding *emb = ssa_worker_lookup_embedding(self, path);
    if (emb) {
        g_task_return_pointer(task, emb, (GDestroyNotify)ssa_embedding_unref);
        g_object_unref(task);
        return;
    }
    EncodeJob *job = g_new0(EncodeJob, 1);
    job->task = task;
    job->path = g_strdup(path);
    job->prefetch = prefetch;
    job->seq = ++self->job_seq;
    g_weak_ref_init(&job->worker, self);
    g_thread_pool_push(self->encode_pool, job, NULL);
}

SsaEmbedding *
ssa_worker_encode_finish(SsaWorker *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- decoding --------------------------------------------------------------------------- */

typedef struct {
    guint generation;
    GWeakRef worker;
    SsaWorker *self; /* borrowed: valid while the pool exists (dispose waits for it) */
    SsaEmbedding *emb;
    SsaPrompt *prompt;
    float *mask_input;
    ss_mode modes[2];
    int n_modes;
    gboolean want_trace;
    SsaPrediction *pred;  /* result */
    char *error;          /* or error */
} DecodeJob;

static void
decode_job_free(DecodeJob *job)
{
    g_weak_ref_clear(&job->worker);
    ssa_embedding_unref(job->emb);
    ssa_prompt_free(job->prompt);
    g_free(job->mask_input);
    ssa_prediction_unref(job->pred);
    g_free(job->error);
    g_free(job);
}

static gboolean
decode_job_stale(DecodeJob *job)
{
    return job->generation != (guint)g_atomic_int_get(&job->self->generation);
}

static int
decode_abort_cb(void *user_data)
{
    return decode_job_stale(user_data);
}

static gboolean
deliver_prediction_idle(gpointer data)
{
    DecodeJob *job = data;
    g_autoptr(SsaWorker) self = g_weak_ref_get(&job->worker);
    if (self && job->generation == (guint)g_atomic_int_get(&self->generation)) {
        if (job->pred)
            g_signal_emit(self, signals[SIG_PREDICTION], 0, job->pred);
        else
            g_signal_emit(self, signals[SIG_PREDICTION_FAILED], 0, job->generation, job->error);
    } else {
        g_debug("dropped stale prediction %u", job->generation);
    }
    decode_job_free(job);
    return G_SOURCE_REMOVE;
}

static void
decode_pool_func(gpointer data, gpointer user_data)
{
    DecodeJob *job = data;
    SsaWorker *self = user_data;
    GError *error = NULL;
    char err[512] = "";

    if (decode_job_stale(job)) {
        g_debug("skipped stale request %u", job->generation);
        post_to_main(self, deliver_prediction_idle, job);
        return;
    }
    ThreadCtx *ctx = thread_ctx(self, &error);
    if (!ctx) {
        job->error = g_strdup(error->message);
        g_error_free(error);
        post_to_main(self, deliver_prediction_idle, job);
        return;
    }
    if (ctx->emb != job->emb) {
        if (ss_set_embedding(ctx->state, job->emb->data, job->emb->width, job->emb->height, err,
                             sizeof err) != SS_OK) {
            job->error = g_strdup_printf("%s: %s", job->emb->path, err);
            post_to_main(self, deliver_prediction_idle, job);
            return;
        }
        g_clear_pointer(&ctx->emb, ssa_embedding_unref);
        ctx->emb = ssa_embedding_ref(job->emb);
    }

    ss_prompt prompt = {
        .has_box = job->prompt->has_box,
        .points = job->prompt->points,
        .n_points = (int)job->prompt->n_points,
        .mask_input = job->mask_input,
    };
    memcpy(prompt.box, job->prompt->box, sizeof prompt.box);

    SsaPrediction *pred = g_new0(SsaPrediction, 1);
    g_atomic_ref_count_init(&pred->ref);
    pred->generation = job->generation;
    pred->width = job->emb->width;
    pred->height = job->emb->height;
    ss_state_set_abort(ctx->state, decode_abort_cb, job);
    for (int i = 0; i < job->n_modes; i++) {
        ss_predict_params params = ss_predict_default_params();
        params.mode = job->modes[i];
        params.want_mask = 1;
        params.want_trace = job->want_trace;
        gint64 t0 = g_get_monotonic_time();
        int rc = ss_predict(ctx->state, &prompt, &params, &ctx->result, err, sizeof err);
        if (rc != SS_OK) {
            if (rc != SS_ERR_ABORTED)
                job->error = g_strdup_printf("%s: %s", job->emb->path, err);
            break;
        }
        SsaModeResult *r = &pred->results[pred->n_results++];
        r->mode = job->modes[i];
        r->iou_pred = ctx->result.iou_pred;
        memcpy(r->alpha, ctx->result.alpha, sizeof r->alpha);
        /* taken, not copied: the engine allocates the next one (malloc'd: g_free frees it) */
        r->mask = g_steal_pointer(&ctx->result.mask);
        r->low_res = g_memdup2(ctx->result.low_res, sizeof ctx->result.low_res);
        if (ctx->result.trace)
            r->trace = g_memdup2(ctx->result.trace, sizeof *ctx->result.trace);
        r->ms = (g_get_monotonic_time() - t0) / 1000.0;
    }
    ss_state_set_abort(ctx->state, NULL, NULL);
    /* stale by now: its masks (1 byte a pixel each) go at once, not after a trip through the
     * main loop while the next request allocates its own */
    if (pred->n_results == job->n_modes && !decode_job_stale(job))
        job->pred = pred;
    else
        ssa_prediction_unref(pred);
    if (!job->pred && !job->error)
        g_debug("request %u went stale while decoding", job->generation);
    post_to_main(self, deliver_prediction_idle, job);
}

guint
ssa_worker_predict(SsaWorker *self, SsaEmbedding *emb, const SsaPrompt *prompt,
                   const float *mask_input, const ss_mode *modes, int n_modes, gboolean want_trace)
{
    g_return_val_if_fail(SSA_IS_WORKER(self), 0);
    g_return_val_if_fail(emb != NULL && prompt != NULL, 0);
    g_return_val_if_fail(n_modes >= 1 && n_modes <= 2, 0);
    DecodeJob *job = g_new0(DecodeJob, 1);
    job->generation = (guint)g_atomic_int_add(&self->generation, 1) + 1;
    g_weak_ref_init(&job->worker, self);
    job->self = self;
    job->emb = ssa_embedding_ref(emb);
    job->prompt = ssa_prompt_copy(prompt);
    if (mask_input)
        job->mask_input = g_memdup2(mask_input, sizeof(float) * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    memcpy(job->modes, modes, sizeof(ss_mode) * n_modes);
    job->n_modes = n_modes;
    job->want_trace = want_trace;
    g_thread_pool_push(self->decode_pool, job, NULL);
    return job->generation;
}

void
ssa_worker_cancel_predictions(SsaWorker *self)
{
    g_return_if_fail(SSA_IS_WORKER(self));
    g_atomic_int_inc(&self->generation);
}

guint
ssa_worker_get_generation(SsaWorker *self)
{
    return (guint)g_atomic_int_get(&self->generation);
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
ssa_worker_dispose(GObject *object)
{
    SsaWorker *self = SSA_WORKER(object);
    ssa_worker_cancel_predictions(self);
    /* Waits for the running jobs; queued encodes hold a reference on us, so none is left. */
    if (self->decode_pool) {
        g_thread_pool_free(self->decode_pool, FALSE, TRUE);
        self->decode_pool = NULL;
    }
    if (self->encode_pool) {
        g_thread_pool_free(self->encode_pool, FALSE, TRUE);
        self->encode_pool = NULL;
    }
    G_OBJECT_CLASS(ssa_worker_parent_class)->dispose(object);
}

static void
ssa_worker_finalize(GObject *object)
{
    SsaWorker *self = SSA_WORKER(object);
    g_hash_table_unref(self->mem_cache);
    g_queue_clear(&self->mem_lru);
    g_mutex_clear(&self->cache_lock);
    g_main_context_unref(self->main_ctx);
    /* the pool threads' ThreadCtx (states) were freed when the threads exited */
    g_clear_pointer(&self->model, ss_model_free);
    g_free(self->model_hash);
    G_OBJECT_CLASS(ssa_worker_parent_class)->finalize(object);
}

static void
ssa_worker_class_init(SsaWorkerClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->dispose = ssa_worker_dispose;
    object_class->finalize = ssa_worker_finalize;

    /* encode-progress (path, fraction): fraction < 0 = unknown (first encode). */
    signals[SIG_ENCODE_PROGRESS] = g_signal_new("encode-progress", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_DOUBLE);
    /* prediction (SsaPrediction *): only for the newest request. */
    signals[SIG_PREDICTION] = g_signal_new("prediction", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
    signals[SIG_PREDICTION_FAILED] = g_signal_new("prediction-failed", G_TYPE_FROM_CLASS(klass),
        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
}

static void
ssa_worker_init(SsaWorker *self)
{
    GError *error = NULL;
    self->main_ctx = g_main_context_ref_thread_default();
    g_mutex_init(&self->cache_lock);
    self->mem_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify)ssa_embedding_unref);
    g_queue_init(&self->mem_lru);
    self->encode_pool = g_thread_pool_new_full(encode_pool_func, self,
                                               (GDestroyNotify)encode_job_free, 1, TRUE, &error);
    g_assert_no_error(error);
    g_thread_pool_set_sort_function(self->encode_pool, encode_job_cmp, NULL);
    self->decode_pool = g_thread_pool_new_full(decode_pool_func, self,
                                               (GDestroyNotify)decode_job_free, 1, TRUE, &error);
    g_assert_no_error(error);
}

SsaWorker *
ssa_worker_new(void)
{
    return g_object_new(SSA_TYPE_WORKER, NULL);
}
