/* decoder.h — SAM prompt encoder + mask decoder (+ Stable-SAM DSP/DRP plugin), engine-internal. */
#ifndef SS_DECODER_H
#define SS_DECODER_H
#include <stddef.h>
#include "stablesam.h"
#include "weights.h"

typedef struct ss_decoder_w ss_decoder_w; /* "prompt_encoder.*" + "mask_decoder.*", plus the
                                             dense image PE (256, 64, 64) computed at bind */
typedef struct ss_plugin_w ss_plugin_w;   /* "dsp.*", "drp.*" of the plugin file */

ss_decoder_w *ss_decoder_bind(ss_weights *w, char *err, size_t errlen);
void ss_decoder_free(ss_decoder_w *d);
ss_plugin_w *ss_plugin_bind(ss_weights *w, char *err, size_t errlen);
void ss_plugin_free(ss_plugin_w *p);

size_t ss_decoder_scratch_floats(void);

/* Per-image cache of the mask decoder's prompt-independent work. Without a mask input, block 0's
 * keys are embedding + no-mask embedding, so its image-side projections depend only on the
 * image: SAM part t2i K = k_proj(keys + PE), t2i V = v_proj(keys), i2t Q = q_proj(keys + PE);
 * Stable part W_k·x*, W_v·x* with x* block 0's DSP sample of the keys (see ss_plugin_sample).
 * ss_decoder_forward fills each part on first use and reuses it for later prompts. A mask input
 * replaces the no-mask embedding by W6·g + b6 (rank 16, see decoder.c mk_a), so prompts with one
 * use the SAM part plus that term; they compute the Stable part's work (the DSP sample moves
 * with the keys) without storing it. Every prompt uses the embedding transposed to
 * position-major (emb_t). The owner (the per-image state) allocates buf once and calls
 * ss_decoder_cache_reset whenever the embedding changes; one thread at a time. */
typedef struct {
    float *buf;                /* ss_decoder_cache_floats() floats, owned by the caller */
    const ss_decoder_w *d;     /* decoder the SAM part holds, NULL = empty */
    const ss_plugin_w *plugin; /* plugin the Stable part holds (valid only with d), NULL = empty */
    int emb_t;                 /* the position-major embedding is in buf */
    int last;                  /* the last forward: SS_CACHE_OFF, SS_CACHE_FILLED or SS_CACHE_HIT */
} ss_decoder_cache;

size_t ss_decoder_cache_floats(void);
void ss_decoder_cache_reset(ss_decoder_cache *cache);

/* Prompt encoder + mask decoder for one prompt on embedding emb (256, 64, 64) of an image of
 * (img_w, img_h) pixels. Prompt coordinates are original pixels; they are mapped as SAM's
 * ResizeLongestSide.apply_coords (x·newW/W, y·newH/H). A prompt without a box gets SAM's
 * padding point (label −1). plugin may be NULL (then mode must be SS_MODE_SAM).
 * Writes: low_res_all (4, 256, 256), iou_all[4], alpha[2][2] (Stable) and, when trace is not
 * NULL, the block-1 attention trace. The prompt has already been validated by the caller.
 * cache: the per-image cache of emb, or NULL to compute everything (same results up to float
 * rounding). */
int ss_decoder_forward(const ss_decoder_w *d, const ss_plugin_w *plugin, ss_mode mode,
                       const float *emb, int img_w, int img_h, const ss_prompt *prompt,
                       float *low_res_all, float iou_all[4], float alpha[2][2], ss_trace *trace,
                       float *scratch, ss_decoder_cache *cache, ss_abort_cb abort_cb, void *abort_ud);
/* Same, with the low-res logits of one mask token only (the others' slots of low_res_all are
 * left as they were): token 0..3, or SS_DEC_BEST_OF_1_3 = the best of tokens 1..3 by predicted
 * IoU (the multimask pick; ties: the lower token), or SS_DEC_ALL_TOKENS (= ss_decoder_forward).
 * One token skips the other masks' products and never stores the (65536, 128) upscaled
 * features: the last ConvTranspose's output is reduced against the token's hypernetwork vector
 * as it is made. *token_out (optional) receives the token computed (-1 for all). */
enum { SS_DEC_ALL_TOKENS = -1, SS_DEC_BEST_OF_1_3 = -2 };
int ss_decoder_forward_token(const ss_decoder_w *d, const ss_plugin_w *plugin, ss_mode mode,
                             const float *emb, int img_w, int img_h, const ss_prompt *prompt, int token,
                             float *low_res_all, float iou_all[4], float alpha[2][2], ss_trace *trace,
                             float *scratch, ss_decoder_cache *cache, ss_abort_cb abort_cb, void *abort_ud,
                             int *token_out);
#endif
