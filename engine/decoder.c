/* decoder.c — SAM prompt encoder + mask decoder + DSP/DRP. PLACEHOLDER until implemented. */
#include <stdio.h>
#include <stdlib.h>
#include "decoder.h"

ss_decoder_w *ss_decoder_bind(ss_weights *w, char *err, size_t errlen)
{
    (void)w;
    if (err) snprintf(err, errlen, "%s: mask decoder not implemented yet", __func__);
    return NULL;
}
void ss_decoder_free(ss_decoder_w *d) { free(d); }
ss_plugin_w *ss_plugin_bind(ss_weights *w, char *err, size_t errlen)
{
    (void)w;
    if (err) snprintf(err, errlen, "%s: plugin not implemented yet", __func__);
    return NULL;
}
void ss_plugin_free(ss_plugin_w *p) { free(p); }
size_t ss_decoder_scratch_floats(void) { return 0; }
int ss_decoder_forward(const ss_decoder_w *d, const ss_plugin_w *plugin, ss_mode mode,
                       const float *emb, int img_w, int img_h, const ss_prompt *prompt,
                       float *low_res_all, float iou_all[4], float alpha[2][2], ss_trace *trace,
                       float *scratch, ss_abort_cb abort_cb, void *abort_ud)
{
    (void)d; (void)plugin; (void)mode; (void)emb; (void)img_w; (void)img_h; (void)prompt;
    (void)low_res_all; (void)iou_all; (void)alpha; (void)trace; (void)scratch;
    (void)abort_cb; (void)abort_ud;
    return SS_ERR_STATE;
}
