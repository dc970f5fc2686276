/* stablesam.h — public API of the Stable-SAM engine (C11, OpenBLAS, no GLib).
 *
 * Model: MobileSAM (TinyViT-5M image encoder + SAM prompt encoder + SAM mask decoder),
 * optionally with the Stable-SAM DSP/DRP plugin attached to the two token-to-image
 * attentions of the mask decoder's two-way transformer.
 *
 * Threading: an ss_model is immutable after ss_model_load() and may be shared by any number
 * of threads. An ss_state (one image: embedding + scratch) is used by one thread at a time.
 *
 * Errors: functions return SS_OK (0) or a negative SS_ERR_* code and write a one-line,
 * human-readable message ("what: why") into err[errlen] when err is not NULL.
 *
 * Coordinates are original-image pixels, x right, y down (pixel index convention, as SAM).
 */
#ifndef STABLESAM_H
#define STABLESAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_IMG_SIZE    1024 /* encoder input side */
#define SS_EMB_DIM     256  /* image embedding channels */
#define SS_EMB_SIDE    64   /* image embedding grid side */
#define SS_LOWRES_SIDE 256  /* decoder low-resolution mask logits side */
#define SS_N_TOKENS    4    /* mask tokens: 0 = single mask, 1..3 = multimask */
#define SS_MAX_POINTS  1024 /* more points than this are refused (SS_ERR_INPUT) */

enum {
    SS_OK = 0,
    SS_ERR_IO = -1,      /* cannot open / read / write a file */
    SS_ERR_FORMAT = -2,  /* file content is malformed (truncated, bad header, wrong shape) */
    SS_ERR_INPUT = -3,   /* bad argument: image size, prompt, NaN coordinates, ... */
    SS_ERR_NOMEM = -4,
    SS_ERR_ABORTED = -5, /* the abort callback asked to stop */
    SS_ERR_STATE = -6    /* e.g. predict before encode */
};

/* Returns nonzero to ask the running ss_encode / ss_predict to stop (checked between blocks;
 * ss_predict: also inside each decoder block, after the final attention, between the two
 * upscaling stages and before the full-size mask). */
typedef int (*ss_abort_cb)(void *user_data);

typedef struct {
    int n_threads; /* threads for BLAS and the engine's own loops; <= 0: all online cores */
} ss_model_params;

ss_model_params ss_model_default_params(void);

typedef struct ss_model ss_model;
typedef struct ss_state ss_state;

/* Loads the weights (one safetensors file, mmapped and validated: every name, dtype, shape,
 * offset and the file length). plugin_path: Stable-SAM plugin safetensors, or NULL for none
 * (then SS_MODE_STABLE is refused with SS_ERR_STATE). Returns NULL and fills err on failure. */
ss_model *ss_model_load(const char *model_path, const char *plugin_path, ss_model_params params,
                        char *err, size_t errlen);
void ss_model_free(ss_model *model);
int ss_model_has_plugin(const ss_model *model);
/* 16 hex digits identifying the weights (and plugin) content; stable across runs: the key of
 * on-disk embedding caches together with the image's content hash. */
const char *ss_model_hash(const ss_model *model);
/* Metadata value of the model file's safetensors "__metadata__" (NULL if absent). */
const char *ss_model_meta(const ss_model *model, const char *key);
const char *ss_plugin_meta(const ss_model *model, const char *key);

typedef struct {
    double preprocess_ms; /* resize + normalise */
    double encoder_ms;    /* image encoder (incl. neck) */
    double prompt_ms;     /* prompt encoder */
    double decoder_ms;    /* mask decoder (incl. DSP/DRP) */
    double postprocess_ms;/* upscale to the original size + threshold */
    int decoder_cache;    /* the state's per-image decoder cache on the last decode (SS_CACHE_*) */
} ss_timings;

/* ss_timings.decoder_cache. Without a mask input, the mask decoder's image-side work of its
 * first block depends only on the image: the first prompt on an embedding computes it, later
 * prompts reuse it (SAM and Stable parts separately). A mask input changes that work by a
 * rank-16 term, so such prompts use the SAM part too (not the Stable part: the DSP sample moves
 * with the mask). Results equal up to float rounding. */
enum {
    SS_CACHE_OFF = 0,    /* not used: ss_predict_params.no_cache */
    SS_CACHE_FILLED = 1, /* computed by this decode (first prompt on the embedding / in the mode) */
    SS_CACHE_HIT = 2     /* reused */
};

/* Per-image state. Activations, scratch and the per-image decoder cache (see SS_CACHE_*) are
 * allocated here, not in the forward passes. Every change of the embedding (ss_encode,
 * ss_set_embedding, ss_embedding_load, successful or not) resets the cache. */
ss_state *ss_state_new(const ss_model *model, char *err, size_t errlen);
void ss_state_free(ss_state *state);
void ss_state_set_abort(ss_state *state, ss_abort_cb cb, void *user_data);
/* Frees the encoder's buffers (input and scratch, ~49 MB; the embedding stays): for a state
 * that encodes rarely, e.g. an interactive program between images. The next encode allocates
 * them again. */
void ss_state_release_encoder(ss_state *state);

/* Encodes an 8-bit RGB image (rows of `stride` bytes, 3 bytes per pixel). Slow (the image
 * encoder), cancellable through the abort callback. */
int ss_encode(ss_state *state, const uint8_t *rgb, int width, int height, int stride,
              char *err, size_t errlen);
/* Encodes a downscaled copy (width x height) of an image whose real size is orig_w x orig_h
 * (e.g. decoded at reduced scale to save memory): the copy is resized into the 1024 frame of
 * the ORIGINAL size (ss_target_size(orig_w, orig_h)), so the state answers prompts, masks and
 * post-processing exactly as for the original, in original pixels. width, height <= the
 * original's; ss_encode(...) is ss_encode_scaled(..., width, height). */
int ss_encode_scaled(ss_state *state, const uint8_t *rgb, int width, int height, int stride,
                     int orig_w, int orig_h, char *err, size_t errlen);
/* Uses an embedding computed earlier (e.g. from a cache): (256, 64, 64) floats, row-major
 * channel-first, and the original image size it was computed from. */
int ss_set_embedding(ss_state *state, const float *embedding, int width, int height,
                     char *err, size_t errlen);
/* (256, 64, 64) image embedding of the last encode, or NULL. */
const float *ss_state_embedding(const ss_state *state);
int ss_state_image_size(const ss_state *state, int *width, int *height); /* SS_ERR_STATE if none */
const ss_timings *ss_state_timings(const ss_state *state);

/* Embedding cache files: a small header (magic, version, model hash, image size) + the
 * float32 embedding. Load checks magic, version, size and that the model hash matches. */
int ss_embedding_save(const ss_state *state, const char *path, char *err, size_t errlen);
int ss_embedding_load(ss_state *state, const char *path, char *err, size_t errlen);

typedef struct {
    float x, y; /* original-image pixels */
    int label;  /* 1 = positive (foreground), 0 = negative (background) */
} ss_point;

typedef struct {
    int has_box;
    float box[4];            /* x0, y0, x1, y1 in original-image pixels */
    const ss_point *points;  /* n_points clicks, in order */
    int n_points;
    const float *mask_input; /* (256, 256) previous low-res logits, or NULL */
} ss_prompt;

typedef enum { SS_MODE_SAM = 0, SS_MODE_STABLE = 1 } ss_mode;

typedef struct {
    ss_mode mode;
    int multimask;  /* 0: mask token 0 (SAM's single-mask output, the default);
                       1: the best of tokens 1..3 by predicted IoU */
    int want_mask;  /* 1: fill result->mask at the original image size */
    int want_all;   /* 1: fill result->low_res_all and iou_all for all 4 tokens */
    int want_trace; /* 1: fill result->trace (attention of block 1, see below) */
    int no_cache;   /* 1: bypass the per-image decoder cache, compute everything (tests, bench) */
} ss_predict_params;

ss_predict_params ss_predict_default_params(void); /* SAM mode, token 0, want_mask = 1 */

/* Attention trace of the two-way transformer's block 1 (the second), token-to-image
 * attention, output-mask token (token index 1), softmax weights averaged over the 8 heads. */
typedef struct {
    float weight[SS_EMB_SIDE * SS_EMB_SIDE];     /* (4096,) sums to 1; index = gy*64 + gx */
    float pos[SS_EMB_SIDE * SS_EMB_SIDE][2];     /* sample position (x, y) in grid cells:
                                                    p + Δp in Stable mode, p in SAM mode */
    float alpha[2][2];                           /* DRP α per block: [block][0] deformable,
                                                    [block][1] regular; (0.5,0.5)·s in SAM mode
                                                    is reported as (0, 1) */
    int mode;                                    /* the ss_mode that produced it */
} ss_trace;

typedef struct {
    int token;                 /* mask token returned (0 unless multimask) */
    float iou_pred;            /* predicted IoU of the returned mask */
    float iou_all[SS_N_TOKENS];
    float low_res[SS_LOWRES_SIDE * SS_LOWRES_SIDE];  /* returned token's logits (256, 256);
                                                        feed back as mask_input */
    float *low_res_all;        /* want_all: (4, 256, 256), else NULL; owned */
    uint8_t *mask;             /* want_mask: (height, width), 0 / 1; owned */
    int width, height;
    float alpha[2][2];         /* DRP α per block (Stable mode), else {{0,1},{0,1}} */
    ss_trace *trace;           /* want_trace: owned, else NULL */
    ss_timings timings;
} ss_result;

/* Runs prompt encoder + mask decoder (+ DSP/DRP in SS_MODE_STABLE) on the state's embedding.
 * `result` must be zero-initialised (or cleared) before the first call; buffers it owns are
 * reused across calls. Bad prompts (NaN / inf coordinates, more than SS_MAX_POINTS, labels
 * other than 0/1) give SS_ERR_INPUT. Boxes are reordered (x0<=x1, y0<=y1) and, like points,
 * clamped to [0, width] x [0, height] (coordinates inside pass unchanged, as in SAM); a box
 * narrower or lower than 1 px after clamping is refused. Prompts without a mask input reuse the
 * image-only work of the first such prompt on the embedding (result->timings.decoder_cache). */
int ss_predict(ss_state *state, const ss_prompt *prompt, const ss_predict_params *params,
               ss_result *result, char *err, size_t errlen);
void ss_result_clear(ss_result *result); /* frees owned buffers, zeroes the struct */

/* Pre-processing, exposed for tests and tools: resize so the long side is 1024 (Pillow's
 * antialiased bilinear), normalise, pad bottom/right with zeros -> (3, 1024, 1024). */
void ss_target_size(int width, int height, int *new_w, int *new_h);
int ss_preprocess(const uint8_t *rgb, int width, int height, int stride, float *out /* 3*1024*1024 */);
/* Same for a downscaled copy of an orig_w x orig_h image: resized to ss_target_size(orig_w, orig_h). */
int ss_preprocess_scaled(const uint8_t *rgb, int width, int height, int stride, int orig_w, int orig_h,
                         float *out /* 3*1024*1024 */);

/* Low-res (256, 256) logits -> binary mask at the original size (as SAM's postprocess_masks:
 * bilinear to 1024², crop the unpadded part, bilinear to (height, width), logit > 0). */
void ss_postprocess_mask(const float *low_res, int width, int height, uint8_t *mask_out);
/* Same, keeping the logits (height * width floats). */
void ss_postprocess_logits(const float *low_res, int width, int height, float *logits_out);

const char *ss_version(void);

#ifdef __cplusplus
}
#endif
#endif /* STABLESAM_H */
