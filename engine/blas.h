/* blas.h — the engine's one door to OpenBLAS.
 *
 * OpenBLAS picks its kernels from CPUID when it is loaded. Debian 12's 0.3.21 does not know
 * recent Intel models (e.g. family 6 model 207, Emerald Rapids) and falls back to its SSE3
 * "Prescott" kernels: 2.5x slower sgemm on an AVX-512 machine. So the engine does not link it;
 * it loads it on first use (dlopen), after setting OPENBLAS_CORETYPE from the CPU's own
 * feature bits when the user has not set it: SkylakeX with AVX-512 F/DQ/CD/BW/VL enabled by
 * the OS, Haswell with AVX2 + FMA, else OpenBLAS decides. */
#ifndef SS_BLAS_H
#define SS_BLAS_H

#include <cblas.h>

/* Loads OpenBLAS once (thread-safe). 0 on success; -1 with a one-line reason in err. */
int ss_blas_init(char *err, int errlen);
/* The kernel family OpenBLAS runs ("SkylakeX", "Haswell", ...), "" before ss_blas_init. */
const char *ss_blas_core(void);

/* cblas_sgemm, through the loaded library (loads it when needed; aborts with a message if
 * OpenBLAS cannot be loaded at all, as nothing can be computed then). */
void ss_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n,
              int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
              int ldc);
void ss_blas_set_threads(int n);

#endif
