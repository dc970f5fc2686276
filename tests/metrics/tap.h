/* tap.h — minimal TAP output for the metrics tests. */
#ifndef SS_TEST_TAP_H
#define SS_TEST_TAP_H
#include <math.h>
#include <stdio.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...)                                                    \
    do {                                                                     \
        int ok_ = !!(cond);                                                  \
        tap_n++;                                                             \
        if (!ok_) tap_failed++;                                              \
        printf("%s %d - ", ok_ ? "ok" : "not ok", tap_n);                    \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        if (!ok_) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    } while (0)

#define TAP_NEAR(a, b, tol, name)                                            \
    do {                                                                     \
        double a_ = (a), b_ = (b);                                           \
        TAP_OK(fabs(a_ - b_) <= (tol), "%s (got %.9g, want %.9g)", name, a_, b_); \
    } while (0)

static int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}
#endif
