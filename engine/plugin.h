/* plugin.h — Stable-SAM DSP/DRP plugin, the part decoder.c calls (engine-internal).
 * The exact computation and the file format are specified in engine/PLUGIN.md. */
#ifndef SS_PLUGIN_H
#define SS_PLUGIN_H
#include <stddef.h>
#include "decoder.h"

/* Floats of scratch ss_plugin_apply needs (at most; checked at compile time in plugin.c). */
#define SS_PLUGIN_SCRATCH_FLOATS ((size_t)4096 * 128 + 68 * 68 * 128 + 3 * 4096)
size_t ss_plugin_scratch_floats(void);

/* Plugin of transformer block `block` (0 or 1) in front of its token-to-image attention.
 *   x   (4096, 256) the block's image features (keys input), position i = gy*64 + gx
 *   t_o (256,)      the output-mask token (token index 1) as it enters the attention
 *   pe  (4096, 256) the dense image positional encoding (key PE)
 * Writes xt (4096, 256) = α₁·(m⊙x) sampled at clamp(p+Δp) + α₂·x, xtp = xt + pe,
 * alpha[2] = (α₁, α₂) and, when pos is not NULL, pos (4096, 2) = the clamped sample positions
 * (x, y) in grid cells. scratch: SS_PLUGIN_SCRATCH_FLOATS. */
void ss_plugin_apply(const ss_plugin_w *p, int block, const float *x, const float *t_o, const float *pe,
                     float *xt, float *xtp, float alpha[2], float *pos, float *scratch);

/* The two halves of ss_plugin_apply, for callers that cache the prompt-independent one:
 * ss_plugin_sample writes xs (4096, 256) = (m⊙x) sampled at clamp(p+Δp), without α (it depends
 * on x only), and pos as above; ss_plugin_alpha writes alpha[2] = (α₁, α₂) from t_o (the prompt
 * part). Then x~ = α₁·xs + α₂·x, up to float rounding. scratch: SS_PLUGIN_SCRATCH_FLOATS. */
void ss_plugin_sample(const ss_plugin_w *p, int block, const float *x, float *xs, float *pos, float *scratch);
void ss_plugin_alpha(const ss_plugin_w *p, int block, const float *t_o, float alpha[2]);
#endif
