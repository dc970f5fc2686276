/* ops.h — small dense kernels shared by the encoder and the decoder (engine-internal).
 * Layout conventions: activations are row-major (rows, cols); linear weights stay (out, in)
 * row-major as in the checkpoint, used through cblas_sgemm(RowMajor, NoTrans, Trans). */
#ifndef SS_OPS_H
#define SS_OPS_H
#include <stddef.h>

/* y (n, out) = x (n, in) · W(out, in)^T + b(out) [b may be NULL]. ldx/ldy = row strides. */
void ss_linear(const float *x, int n, int in, const float *W, const float *b, int out, float *y);
void ss_linear_ld(const float *x, int ldx, int n, int in, const float *W, const float *b, int out,
                  float *y, int ldy);
/* LayerNorm over the last dim of (n, c), in place or x -> y. */
void ss_layernorm(const float *x, float *y, int n, int c, const float *g, const float *b, float eps);
/* LayerNorm2d: x (c, hw) channel-first, normalised over c for every pixel. */
void ss_layernorm2d(const float *x, float *y, int c, int hw, const float *g, const float *b, float eps);
void ss_gelu(float *x, size_t n);   /* exact: 0.5 x (1 + erf(x/√2)) */
void ss_relu(float *x, size_t n);
void ss_softmax_rows(float *x, int n, int c);
void ss_add(float *y, const float *x, size_t n); /* y += x */
double ss_now_ms(void);
/* Threads for the engine's own parallel loops (set once from ss_model_params). */
void ss_set_threads(int n);
int ss_get_threads(void);
#endif
