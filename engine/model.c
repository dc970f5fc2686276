/* model.c — the public engine API: model loading, per-image state, encode, predict,
 * embedding cache files. The networks themselves live in encoder.c and decoder.c. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, fchmod */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blas.h"
#include "config.h"
#include "decoder.h"
#include "encoder.h"
#include "ops.h"
#include "stablesam.h"
#include "weights.h"

struct ss_model {
    ss_weights *weights;
    ss_weights *plugin_weights; /* NULL without plugin */
    ss_encoder_w *encoder;
    ss_decoder_w *decoder;
    ss_plugin_w *plugin;
    char hash[17];
    int n_threads;
};

struct ss_state {
    const ss_model *model;
    float *input;       /* (3, 1024, 1024) pre-processed image */
    float *embedding;   /* (256, 64, 64) */
    float *enc_scratch; /* ss_encoder_scratch_floats() */
    float *dec_scratch; /* ss_decoder_scratch_floats() */
    float *low_res_all; /* (4, 256, 256) */
    ss_decoder_cache dec_cache; /* per-image decoder work (buf: ss_decoder_cache_floats());
                                   reset whenever the embedding changes */
    int width, height;  /* original image size of the current embedding; 0 = none */
    ss_abort_cb abort_cb;
    void *abort_ud;
    ss_timings timings;
};

static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || n == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

const char *ss_version(void) { return SS_VERSION; }

ss_model_params ss_model_default_params(void)
{
    ss_model_params p = {.n_threads = 0};
    return p;
}

ss_predict_params ss_predict_default_params(void)
{
    ss_predict_params p = {.mode = SS_MODE_SAM, .multimask = 0, .want_mask = 1, .want_all = 0, .want_trace = 0,
                           .no_cache = 0};
    return p;
}

ss_model *ss_model_load(const char *model_path, const char *plugin_path, ss_model_params params,
                        char *err, size_t errlen)
{
    if (!model_path) {
        set_err(err, errlen, "ss_model_load: no model path");
        return NULL;
    }
    char berr[256];
    if (ss_blas_init(berr, sizeof berr) != 0) {
        set_err(err, errlen, "%s", berr);
        return NULL;
    }
    ss_model *m = calloc(1, sizeof *m);
    if (!m) {
        set_err(err, errlen, "%s: out of memory", model_path);
        return NULL;
    }
    ss_set_threads(params.n_threads);
    m->n_threads = ss_get_threads();
    if (!(m->weights = ss_weights_open(model_path, err, errlen))) goto fail;
    if (!(m->encoder = ss_encoder_bind(m->weights, err, errlen))) goto fail;
    if (!(m->decoder = ss_decoder_bind(m->weights, err, errlen))) goto fail;
    if (ss_weights_check_all_used(m->weights, err, errlen) != SS_OK) goto fail;
    uint64_t h = ss_weights_hash(m->weights);
    if (plugin_path) {
        if (!(m->plugin_weights = ss_weights_open(plugin_path, err, errlen))) goto fail;
        if (!(m->plugin = ss_plugin_bind(m->plugin_weights, err, errlen))) goto fail;
        if (ss_weights_check_all_used(m->plugin_weights, err, errlen) != SS_OK) goto fail;
        h ^= ss_weights_hash(m->plugin_weights) * UINT64_C(0x9E3779B97F4A7C15);
    }
    /* The embedding depends only on the encoder weights, but one hash for the pair is simpler
     * and safe; the plugin's contribution is kept out so caches survive a plugin change. */
    snprintf(m->hash, sizeof m->hash, "%016llx", (unsigned long long)ss_weights_hash(m->weights));
    (void)h;
    return m;
fail:
    ss_model_free(m);
    return NULL;
}

void ss_model_free(ss_model *m)
{
    if (!m) return;
    ss_encoder_free(m->encoder);
    ss_decoder_free(m->decoder);
    ss_plugin_free(m->plugin);
    ss_weights_close(m->weights);
    ss_weights_close(m->plugin_weights);
    free(m);
}

int ss_model_has_plugin(const ss_model *m) { return m && m->plugin != NULL; }
const char *ss_model_hash(const ss_model *m) { return m->hash; }
const char *ss_model_meta(const ss_model *m, const char *key) { return ss_weights_meta(m->weights, key); }
const char *ss_plugin_meta(const ss_model *m, const char *key)
{
    return m->plugin_weights ? ss_weights_meta(m->plugin_weights, key) : NULL;
}

ss_state *ss_state_new(const ss_model *model, char *err, size_t errlen)
{
    ss_state *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->model = model;
    /* The encoder's buffers (12 MB input, 37 MB scratch) are allocated on the first encode and
     * the decoder's (34 MB scratch, 15 MB cache) on the first prediction: states that only
     * decode cached embeddings (eval, the GUI's cache hits) or only encode (the GUI's encoder
     * thread) never hold the other half. */
    s->embedding = malloc(sizeof(float) * SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);
    s->low_res_all = malloc(sizeof(float) * SS_N_TOKENS * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    if (!s->embedding || !s->low_res_all) goto nomem;
    ss_decoder_cache_reset(&s->dec_cache);
    return s;
nomem:
    set_err(err, errlen, "ss_state_new: out of memory");
    ss_state_free(s);
    return NULL;
}

void ss_state_free(ss_state *s)
{
    if (!s) return;
    free(s->input);
    free(s->embedding);
    free(s->enc_scratch);
    free(s->dec_scratch);
    free(s->low_res_all);
    free(s->dec_cache.buf);
    free(s);
}

void ss_state_release_encoder(ss_state *s)
{
    if (!s) return;
    free(s->input);
    free(s->enc_scratch);
    s->input = NULL;
    s->enc_scratch = NULL;
}

void ss_state_set_abort(ss_state *s, ss_abort_cb cb, void *ud)
{
    s->abort_cb = cb;
    s->abort_ud = ud;
}

const float *ss_state_embedding(const ss_state *s) { return s->width ? s->embedding : NULL; }
const ss_timings *ss_state_timings(const ss_state *s) { return &s->timings; }

int ss_state_image_size(const ss_state *s, int *w, int *h)
{
    if (!s->width) return SS_ERR_STATE;
    if (w) *w = s->width;
    if (h) *h = s->height;
    return SS_OK;
}

/* Images whose long side is more than this many times the short side would resize to a
 * zero-height strip; 1 px in the 1024 frame is the limit. */
static int check_image_size(int width, int height, char *err, size_t errlen)
{
    if (width <= 0 || height <= 0 || width > 100000 || height > 100000) {
        set_err(err, errlen, "image size %dx%d is not supported (1..100000 px per side)", width, height);
        return SS_ERR_INPUT;
    }
    return SS_OK;
}

int ss_encode(ss_state *s, const uint8_t *rgb, int width, int height, int stride, char *err, size_t errlen)
{
    return ss_encode_scaled(s, rgb, width, height, stride, width, height, err, errlen);
}

int ss_encode_scaled(ss_state *s, const uint8_t *rgb, int width, int height, int stride, int orig_w,
                     int orig_h, char *err, size_t errlen)
{
    int rc = check_image_size(orig_w, orig_h, err, errlen);
    if (rc) return rc;
    if (width <= 0 || height <= 0 || width > orig_w || height > orig_h) {
        set_err(err, errlen, "ss_encode: a %dx%d copy of a %dx%d image is not a downscaled one", width,
                height, orig_w, orig_h);
        return SS_ERR_INPUT;
    }
    if (!rgb || stride < width * 3) {
        set_err(err, errlen, "ss_encode: bad image buffer");
        return SS_ERR_INPUT;
    }
    if (!s->input) s->input = malloc(sizeof(float) * 3 * SS_IMG_SIZE * SS_IMG_SIZE);
    if (!s->enc_scratch) {
        size_t n = ss_encoder_scratch_floats();
        s->enc_scratch = malloc(sizeof(float) * (n ? n : 1));
    }
    if (!s->input || !s->enc_scratch) {
        set_err(err, errlen, "ss_encode: out of memory");
        return SS_ERR_NOMEM;
    }
    s->width = 0; /* no valid embedding while encoding */
    ss_decoder_cache_reset(&s->dec_cache);
    double t0 = ss_now_ms();
    rc = ss_preprocess_scaled(rgb, width, height, stride, orig_w, orig_h, s->input);
    if (rc) {
        set_err(err, errlen, "ss_encode: pre-processing failed (out of memory)");
        return rc;
    }
    double t1 = ss_now_ms();
    rc = ss_encoder_forward(s->model->encoder, s->input, s->embedding, s->enc_scratch, s->abort_cb, s->abort_ud);
    double t2 = ss_now_ms();
    s->timings.preprocess_ms = t1 - t0;
    s->timings.encoder_ms = t2 - t1;
    if (rc == SS_ERR_ABORTED) {
        set_err(err, errlen, "encoding cancelled");
        return rc;
    }
    if (rc) {
        set_err(err, errlen, "image encoder failed (%d)", rc);
        return rc;
    }
    s->width = orig_w;
    s->height = orig_h;
    return SS_OK;
}

int ss_set_embedding(ss_state *s, const float *emb, int width, int height, char *err, size_t errlen)
{
    int rc = check_image_size(width, height, err, errlen);
    if (rc) return rc;
    if (!emb) {
        set_err(err, errlen, "ss_set_embedding: no embedding");
        return SS_ERR_INPUT;
    }
    ss_decoder_cache_reset(&s->dec_cache);
    memcpy(s->embedding, emb, sizeof(float) * SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);
    s->width = width;
    s->height = height;
    return SS_OK;
}

/* --- embedding cache files ------------------------------------------------------------- */

#define EMB_MAGIC "SSEMB\0\0\1"
#define EMB_FLOATS ((size_t)SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE)

typedef struct {
    char magic[8];
    char model_hash[16];
    int32_t width, height;
    int32_t dim, side;
} emb_header;

int ss_embedding_save(const ss_state *s, const char *path, char *err, size_t errlen)
{
    if (!s->width) {
        set_err(err, errlen, "%s: no embedding to save", path);
        return SS_ERR_STATE;
    }
    emb_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, EMB_MAGIC, 8);
    memcpy(h.model_hash, s->model->hash, 16);
    h.width = s->width;
    h.height = s->height;
    h.dim = SS_EMB_DIM;
    h.side = SS_EMB_SIDE;
    /* a temp name of its own (mkstemp) next to path: two threads or processes saving the same
     * embedding never share one */
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return SS_ERR_NOMEM;
    snprintf(tmp, n, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) fchmod(fd, 0644); /* mkstemp makes it 0600; a cache file is not secret */
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        set_err(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return SS_ERR_IO;
    }
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(s->embedding, sizeof(float), EMB_FLOATS, f) == EMB_FLOATS;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        set_err(err, errlen, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return SS_ERR_IO;
    }
    free(tmp);
    return SS_OK;
}

int ss_embedding_load(ss_state *s, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return SS_ERR_IO;
    }
    emb_header h;
    int rc = SS_OK;
    ss_decoder_cache_reset(&s->dec_cache); /* s->embedding is overwritten below, even on failure */
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, EMB_MAGIC, 8) != 0) {
        set_err(err, errlen, "%s: not a Stable-SAM embedding file", path);
        rc = SS_ERR_FORMAT;
    } else if (memcmp(h.model_hash, s->model->hash, 16) != 0) {
        set_err(err, errlen, "%s: embedding was computed with another model", path);
        rc = SS_ERR_FORMAT;
    } else if (h.dim != SS_EMB_DIM || h.side != SS_EMB_SIDE || check_image_size(h.width, h.height, NULL, 0)) {
        set_err(err, errlen, "%s: bad embedding header", path);
        rc = SS_ERR_FORMAT;
    } else if (fread(s->embedding, sizeof(float), EMB_FLOATS, f) != EMB_FLOATS) {
        set_err(err, errlen, "%s: truncated embedding file", path);
        rc = SS_ERR_FORMAT;
    } else {
        int c = fgetc(f);
        if (c != EOF) {
            set_err(err, errlen, "%s: trailing bytes after the embedding", path);
            rc = SS_ERR_FORMAT;
        }
    }
    fclose(f);
    if (rc == SS_OK) {
        for (size_t i = 0; i < EMB_FLOATS; i++)
            if (!isfinite(s->embedding[i])) {
                set_err(err, errlen, "%s: embedding holds non-finite values", path);
                rc = SS_ERR_FORMAT;
                break;
            }
    }
    if (rc == SS_OK) {
        s->width = h.width;
        s->height = h.height;
    } else {
        s->width = 0;
    }
    return rc;
}

/* --- predict --------------------------------------------------------------------------- */

static int clampf(float *v, float lo, float hi)
{
    int changed = *v < lo || *v > hi;
    if (*v < lo) *v = lo;
    if (*v > hi) *v = hi;
    return changed;
}

int ss_predict(ss_state *s, const ss_prompt *prompt_in, const ss_predict_params *pp, ss_result *r,
               char *err, size_t errlen)
{
    ss_predict_params defaults = ss_predict_default_params();
    if (!pp) pp = &defaults;
    if (!s->width) {
        set_err(err, errlen, "predict: no image encoded");
        return SS_ERR_STATE;
    }
    if (pp->mode == SS_MODE_STABLE && !s->model->plugin) {
        set_err(err, errlen, "predict: Stable-SAM mode needs a plugin file");
        return SS_ERR_STATE;
    }
    if (pp->mode != SS_MODE_SAM && pp->mode != SS_MODE_STABLE) {
        set_err(err, errlen, "predict: unknown mode %d", (int)pp->mode);
        return SS_ERR_INPUT;
    }
    if (!prompt_in || prompt_in->n_points < 0 || prompt_in->n_points > SS_MAX_POINTS ||
        (prompt_in->n_points > 0 && !prompt_in->points)) {
        set_err(err, errlen, "predict: %d points (at most %d)", prompt_in ? prompt_in->n_points : -1, SS_MAX_POINTS);
        return SS_ERR_INPUT;
    }
    if (!prompt_in->has_box && prompt_in->n_points == 0) {
        set_err(err, errlen, "predict: empty prompt (no box and no points)");
        return SS_ERR_INPUT;
    }
    if (!s->dec_scratch) {
        size_t dn = ss_decoder_scratch_floats();
        s->dec_scratch = malloc(sizeof(float) * (dn ? dn : 1));
        if (!s->dec_scratch) {
            set_err(err, errlen, "predict: out of memory (decoder scratch)");
            return SS_ERR_NOMEM;
        }
    }
    if (!s->dec_cache.buf) /* without it every prediction computes everything */
        s->dec_cache.buf = malloc(sizeof(float) * ss_decoder_cache_floats());
    /* Validated copy: finite coordinates, labels 0/1, clamped to the image, box ordered. */
    const float W = (float)s->width, H = (float)s->height;
    ss_point pts_local[64];
    ss_point *pts = prompt_in->n_points <= 64 ? pts_local : malloc(sizeof(ss_point) * (size_t)prompt_in->n_points);
    if (!pts) return SS_ERR_NOMEM;
    ss_prompt p = *prompt_in;
    p.points = pts;
    int rc = SS_OK;
    for (int i = 0; i < p.n_points; i++) {
        ss_point q = prompt_in->points[i];
        if (!isfinite(q.x) || !isfinite(q.y)) {
            set_err(err, errlen, "predict: point %d has a non-finite coordinate", i + 1);
            rc = SS_ERR_INPUT;
            goto out;
        }
        if (q.label != 0 && q.label != 1) {
            set_err(err, errlen, "predict: point %d has label %d (1 = positive, 0 = negative)", i + 1, q.label);
            rc = SS_ERR_INPUT;
            goto out;
        }
        /* SAM itself does not clamp; coordinates inside [0, W] x [0, H] pass unchanged so the
         * results equal the reference's, farther ones are pulled onto the image's edge. */
        clampf(&q.x, 0.0f, W);
        clampf(&q.y, 0.0f, H);
        pts[i] = q;
    }
    if (p.has_box) {
        float *b = p.box;
        for (int i = 0; i < 4; i++)
            if (!isfinite(b[i])) {
                set_err(err, errlen, "predict: box has a non-finite coordinate");
                rc = SS_ERR_INPUT;
                goto out;
            }
        if (b[0] > b[2]) { float t = b[0]; b[0] = b[2]; b[2] = t; }
        if (b[1] > b[3]) { float t = b[1]; b[1] = b[3]; b[3] = t; }
        clampf(&b[0], 0.0f, W);
        clampf(&b[2], 0.0f, W);
        clampf(&b[1], 0.0f, H);
        clampf(&b[3], 0.0f, H);
        if (b[2] - b[0] < 1.0f || b[3] - b[1] < 1.0f) {
            set_err(err, errlen, "predict: box is empty inside the image (%.1f,%.1f,%.1f,%.1f after clamping)",
                    b[0], b[1], b[2], b[3]);
            rc = SS_ERR_INPUT;
            goto out;
        }
    }
    if (p.mask_input) {
        for (size_t i = 0; i < (size_t)SS_LOWRES_SIDE * SS_LOWRES_SIDE; i++)
            if (!isfinite(p.mask_input[i])) {
                set_err(err, errlen, "predict: mask input holds non-finite values");
                rc = SS_ERR_INPUT;
                goto out;
            }
    }

    if (pp->want_trace && !r->trace) {
        r->trace = calloc(1, sizeof(ss_trace));
        if (!r->trace) { rc = SS_ERR_NOMEM; goto out; }
    }
    double t0 = ss_now_ms();
    float alpha[2][2] = {{0, 1}, {0, 1}};
    /* only the returned token's logits unless all four are asked for */
    const int dec_token = pp->want_all ? SS_DEC_ALL_TOKENS : (pp->multimask ? SS_DEC_BEST_OF_1_3 : 0);
    int dec_tok_used = -1;
    rc = ss_decoder_forward_token(s->model->decoder, s->model->plugin, pp->mode, s->embedding, s->width, s->height,
                                  &p, dec_token, s->low_res_all, r->iou_all, alpha,
                                  pp->want_trace ? r->trace : NULL, s->dec_scratch,
                                  pp->no_cache ? NULL : &s->dec_cache, s->abort_cb, s->abort_ud, &dec_tok_used);
    const int cache_use = pp->no_cache ? SS_CACHE_OFF : s->dec_cache.last;
    double t1 = ss_now_ms();
    if (rc == SS_ERR_ABORTED) {
        set_err(err, errlen, "prediction cancelled");
        goto out;
    }
    if (rc) {
        set_err(err, errlen, "mask decoder failed (%d)", rc);
        goto out;
    }
    if (s->abort_cb && s->abort_cb(s->abort_ud)) { /* before the full-size post-processing */
        set_err(err, errlen, "prediction cancelled");
        rc = SS_ERR_ABORTED;
        goto out;
    }
    int tok = 0;
    if (pp->multimask) {
        tok = 1;
        for (int t = 2; t < SS_N_TOKENS; t++)
            if (r->iou_all[t] > r->iou_all[tok]) tok = t;
    }
    if (dec_token != SS_DEC_ALL_TOKENS && dec_tok_used != tok) { /* the decoder made another token's logits */
        set_err(err, errlen, "mask decoder: token %d computed, %d selected", dec_tok_used, tok);
        rc = SS_ERR_STATE;
        goto out;
    }
    r->token = tok;
    r->iou_pred = r->iou_all[tok];
    memcpy(r->alpha, alpha, sizeof alpha);
    memcpy(r->low_res, s->low_res_all + (size_t)tok * SS_LOWRES_SIDE * SS_LOWRES_SIDE,
           sizeof(float) * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    if (pp->want_all) {
        if (!r->low_res_all) r->low_res_all = malloc(sizeof(float) * SS_N_TOKENS * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
        if (!r->low_res_all) { rc = SS_ERR_NOMEM; goto out; }
        memcpy(r->low_res_all, s->low_res_all, sizeof(float) * SS_N_TOKENS * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    }
    if (pp->want_mask) {
        if (!r->mask || r->width != s->width || r->height != s->height) {
            free(r->mask);
            r->mask = malloc((size_t)s->width * (size_t)s->height);
            if (!r->mask) { r->width = r->height = 0; rc = SS_ERR_NOMEM; goto out; }
        }
        r->width = s->width;
        r->height = s->height;
        ss_postprocess_mask(r->low_res, s->width, s->height, r->mask);
    }
    double t2 = ss_now_ms();
    memset(&r->timings, 0, sizeof r->timings);
    r->timings.decoder_ms = t1 - t0;
    r->timings.postprocess_ms = t2 - t1;
    r->timings.decoder_cache = cache_use;
    s->timings.decoder_ms = t1 - t0;
    s->timings.postprocess_ms = t2 - t1;
    s->timings.decoder_cache = cache_use;
out:
    if (rc == SS_ERR_NOMEM) set_err(err, errlen, "predict: out of memory");
    if (pts != pts_local) free(pts);
    return rc;
}

void ss_result_clear(ss_result *r)
{
    if (!r) return;
    free(r->low_res_all);
    free(r->mask);
    free(r->trace);
    memset(r, 0, sizeof *r);
}
