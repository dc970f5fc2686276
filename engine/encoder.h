/* encoder.h — MobileSAM image encoder: TinyViT-5M + neck (engine-internal).
 * Input (3, 1024, 1024) normalised, padded image; output (256, 64, 64) image embedding. */
#ifndef SS_ENCODER_H
#define SS_ENCODER_H
#include <stddef.h>
#include "stablesam.h"
#include "weights.h"

typedef struct ss_encoder_w ss_encoder_w; /* defined in encoder.c: pointers into the mmap */

/* Resolves and shape-checks every encoder tensor ("image_encoder.*"); builds derived
 * constant tables (e.g. the gathered attention bias tables). NULL + err on failure. */
ss_encoder_w *ss_encoder_bind(ss_weights *w, char *err, size_t errlen);
void ss_encoder_free(ss_encoder_w *e);
/* Floats of scratch one forward pass needs (allocated once per ss_state). */
size_t ss_encoder_scratch_floats(void);
/* SS_OK, or SS_ERR_ABORTED when abort_cb returned nonzero (checked between blocks). */
int ss_encoder_forward(const ss_encoder_w *e, const float *input, float *out, float *scratch,
                       ss_abort_cb abort_cb, void *abort_ud);
#endif
