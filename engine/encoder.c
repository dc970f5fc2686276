/* encoder.c — MobileSAM image encoder (TinyViT-5M + neck). PLACEHOLDER until implemented:
 * bind fails with a clear message so nothing pretends to work. */
#include <stdio.h>
#include <stdlib.h>
#include "encoder.h"

ss_encoder_w *ss_encoder_bind(ss_weights *w, char *err, size_t errlen)
{
    (void)w;
    if (err) snprintf(err, errlen, "%s: image encoder not implemented yet", __func__);
    return NULL;
}
void ss_encoder_free(ss_encoder_w *e) { free(e); }
size_t ss_encoder_scratch_floats(void) { return 0; }
int ss_encoder_forward(const ss_encoder_w *e, const float *input, float *out, float *scratch,
                       ss_abort_cb abort_cb, void *abort_ud)
{
    (void)e; (void)input; (void)out; (void)scratch; (void)abort_cb; (void)abort_ud;
    return SS_ERR_STATE;
}
