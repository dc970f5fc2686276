/* blas.c — OpenBLAS loaded at first use, with its kernel chosen from the CPU (see blas.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int, int, int,
                         float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*corename_fn)(void);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static sgemm_fn g_sgemm;
static set_threads_fn g_set_threads;
static char g_core[32];
static char g_err[256];

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

/* The OPENBLAS_CORETYPE this CPU should run, or NULL to let OpenBLAS decide. */
static const char *pick_core(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return NULL;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return NULL;
    const unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return NULL; /* the OS saves SSE and AVX state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return NULL;
    const int avx2 = (b >> 5) & 1;
    const unsigned int avx512 = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    if ((b & avx512) == avx512 && (xcr0 & 0xe0) == 0xe0) return "SkylakeX";
    if (avx2 && fma) return "Haswell";
#endif
    return NULL;
}

static void load(void)
{
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (!user || !*user) {
        const char *core = pick_core();
        if (core) setenv("OPENBLAS_CORETYPE", core, 1);
    }
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(g_err, sizeof g_err, "libopenblas.so.0: cannot load OpenBLAS (%s)", e ? e : "not found");
        return;
    }
    g_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    g_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    corename_fn cn = (corename_fn)dlsym(h, "openblas_get_corename");
    if (!g_sgemm) {
        snprintf(g_err, sizeof g_err, "libopenblas.so.0: no cblas_sgemm in the loaded library");
        return;
    }
    const char *name = cn ? cn() : NULL;
    snprintf(g_core, sizeof g_core, "%s", name ? name : "unknown");
}

int ss_blas_init(char *err, int errlen)
{
    pthread_once(&g_once, load);
    if (g_sgemm) return 0;
    if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s", g_err);
    return -1;
}

const char *ss_blas_core(void)
{
    pthread_once(&g_once, load);
    return g_sgemm ? g_core : "";
}

static void need(void)
{
    if (ss_blas_init(NULL, 0) != 0) {
        fprintf(stderr, "stablesam: %s\n", g_err);
        abort();
    }
}

void ss_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n,
              int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
              int ldc)
{
    need();
    g_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void ss_blas_set_threads(int n)
{
    need();
    if (g_set_threads) g_set_threads(n);
}
