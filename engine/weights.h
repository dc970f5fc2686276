/* weights.h — safetensors file, mmapped and validated (engine-internal). */
#ifndef SS_WEIGHTS_H
#define SS_WEIGHTS_H
#include <stddef.h>
#include <stdint.h>

typedef struct ss_weights ss_weights;

/* Maps the file, parses the JSON header and checks every entry: dtype F32 only, 1..4 dims,
 * data_offsets consistent with the shape, inside the data area, not overlapping, 64-bit
 * arithmetic throughout, and the file length. NULL + one-line err on failure. */
ss_weights *ss_weights_open(const char *path, char *err, size_t errlen);
void ss_weights_close(ss_weights *w);

/* The tensor called `name` (printf-style), which must have exactly `ndim` dims equal to
 * `shape`. Marks it used. NULL + err ("FILE: tensor NAME: missing / shape [..] expected [..]"). */
const float *ss_weights_get(ss_weights *w, char *err, size_t errlen, int ndim,
                            const int64_t *shape, const char *name_fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* ndim + shape arguments in one: ss_weights_get(w, err, n, SS_DIMS(256, 320, 1, 1), "image_encoder.neck.0.weight") */
#define SS_DIMS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
int ss_weights_has(const ss_weights *w, const char *name);
/* SS_ERR_FORMAT if any tensor in the file was never asked for (nothing may be silently ignored). */
int ss_weights_check_all_used(const ss_weights *w, char *err, size_t errlen);
const char *ss_weights_meta(const ss_weights *w, const char *key);
const char *ss_weights_path(const ss_weights *w);
uint64_t ss_weights_hash(const ss_weights *w); /* FNV-1a 64 of the whole file */
#endif
