/* tap.h — minimal TAP producer for the C tests. */
#ifndef SS_TAP_H
#define SS_TAP_H
#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;
static inline void tap_plan(int n) { printf("1..%d\n", n); }
static inline void tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) tap_failed++;
    fflush(stdout);
}
static inline int tap_done(void) { return tap_failed ? 1 : 0; }
#endif
