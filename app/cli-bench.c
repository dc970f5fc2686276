/* cli-bench.c — `stablesam bench`: median timings of encoder, decoder (SAM and Stable modes;
 * the 2nd+ prompt on an image, which reuses the per-image decoder cache, and the first prompt,
 * which fills it), post-processing and end-to-end, plus peak RSS. Speed targets are checked by comparing these
 * numbers with onnxruntime's, measured side by side in one run (bench/compare.sh). */
#define G_LOG_DOMAIN "stablesam-bench"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "blas.h"
#include "cli-commands.h"
#include "cli-util.h"
#include "image-io.h"
#include "model-path.h"
#include "stablesam.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double now_ms(void) { return (double)g_get_monotonic_time() / 1000.0; }

/* A deterministic test card when no image is given: smooth colour fields and discs. */
static SsaImage *synthetic_image(int w, int h)
{
    SsaImage *img = g_new0(SsaImage, 1);
    img->width = w;
    img->height = h;
    img->stride = w * 3;
    img->rgb = g_malloc((gsize)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            guint8 *p = img->rgb + (gsize)y * img->stride + x * 3;
            double dx = x - w * 0.45, dy = y - h * 0.5;
            int in = dx * dx + dy * dy < (h * 0.25) * (h * 0.25);
            p[0] = in ? 220 : (guint8)(x * 255 / w);
            p[1] = in ? 40 : (guint8)(y * 255 / h);
            p[2] = in ? 60 : 128;
        }
    return img;
}

int ssa_cmd_bench(int argc, char **argv)
{
    const char *image = NULL, *model_arg = NULL, *plugin_arg = NULL;
    int runs = 10, json = 0, threads = 0, dec_runs = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) json = 1;
        else if (v && !strcmp(o, "--image")) { image = v; i++; }
        else if (v && !strcmp(o, "--runs")) { runs = atoi(v); i++; }
        else if (v && !strcmp(o, "--decoder-runs")) { dec_runs = atoi(v); i++; }
        else if (v && !strcmp(o, "--threads")) { threads = atoi(v); i++; }
        else if (v && !strcmp(o, "--model")) { model_arg = v; i++; }
        else if (v && !strcmp(o, "--plugin")) { plugin_arg = v; i++; }
        else {
            fprintf(stderr, "usage: stablesam bench [--image IMG] [--runs N] [--decoder-runs N] [--threads N] [--model F] [--plugin F|none] [--json]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 1000) runs = 10;
    if (dec_runs < 1) dec_runs = runs * 10;
    g_autoptr(GError) error = NULL;
    g_autoptr(SsaImage) img = image ? ssa_image_load(image, 0, &error) : synthetic_image(1024, 768);
    if (!img) {
        ssa_die_error(error);
        return 1;
    }
    g_autofree char *model_path = ssa_model_path(model_arg);
    g_autofree char *plugin_path = ssa_plugin_path(plugin_arg);
    char err[512];
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = threads;
    double tl0 = now_ms();
    ss_model *model = ss_model_load(model_path, plugin_path, mp, err, sizeof err);
    double load_ms = now_ms() - tl0;
    if (!model) {
        fprintf(stderr, "stablesam: %s\n", err);
        return 1;
    }
    ss_state *st = ss_state_new(model, err, sizeof err);
    if (!st) {
        fprintf(stderr, "stablesam: %s\n", err);
        ss_model_free(model);
        return 1;
    }
    double *pre = g_new(double, runs), *enc = g_new(double, runs), *e2e = g_new(double, runs);
    double *dsam = g_new(double, dec_runs), *dstab = g_new(double, dec_runs), *post = g_new(double, dec_runs);
    double *rsam = g_new(double, dec_runs), *rstab = g_new(double, dec_runs);
    float *prev = g_new(float, (gsize)SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    double *fsam = g_new(double, runs), *fstab = g_new(double, runs);
    float *emb = g_new(float, (gsize)SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);
    int cache_ok = 1; /* every decode used the cache as intended (reused / filled) */
    int rc = 1;
    ss_result res;
    memset(&res, 0, sizeof res);
    float W = (float)img->width, H = (float)img->height;
    ss_point pts[3] = {{W * 0.45f, H * 0.5f, 1}, {W * 0.40f, H * 0.45f, 1}, {W * 0.9f, H * 0.1f, 0}};
    ss_prompt prompts[3] = {
        {.has_box = 1, .box = {W * 0.2f, H * 0.25f, W * 0.7f, H * 0.75f}},
        {.points = pts, .n_points = 1},
        {.points = pts, .n_points = 3},
    };
    ss_predict_params pp = ss_predict_default_params();
    /* warm-up: one encode and a few decodes (page in the weights, BLAS threads) */
    if (ss_encode(st, img->rgb, img->width, img->height, img->stride, err, sizeof err) != SS_OK) goto fail;
    for (int i = 0; i < 3; i++)
        if (ss_predict(st, &prompts[i], &pp, &res, err, sizeof err) != SS_OK) goto fail;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        if (ss_encode(st, img->rgb, img->width, img->height, img->stride, err, sizeof err) != SS_OK) goto fail;
        if (ss_predict(st, &prompts[r % 3], &pp, &res, err, sizeof err) != SS_OK) goto fail;
        e2e[r] = now_ms() - t0;
        pre[r] = ss_state_timings(st)->preprocess_ms;
        enc[r] = ss_state_timings(st)->encoder_ms;
    }
    int has_plugin = ss_model_has_plugin(model);
    /* a refinement: two clicks with the box prompt's low-res logits as mask input (the
     * annotator's and the NoC loop's 2nd+ click on an object; no per-image cache then) */
    if (ss_predict(st, &prompts[0], &pp, &res, err, sizeof err) != SS_OK) goto fail;
    memcpy(prev, res.low_res, sizeof(float) * SS_LOWRES_SIDE * SS_LOWRES_SIDE);
    const ss_prompt refine = {.points = pts, .n_points = 2, .mask_input = prev};
    /* what a user sees on the 2nd+ click on an image: the decoder cache is filled (warm-up) */
    for (int r = 0; r < dec_runs; r++) {
        pp.mode = SS_MODE_SAM;
        if (ss_predict(st, &prompts[r % 3], &pp, &res, err, sizeof err) != SS_OK) goto fail;
        dsam[r] = res.timings.decoder_ms;
        post[r] = res.timings.postprocess_ms;
        cache_ok &= res.timings.decoder_cache == SS_CACHE_HIT || (r == 0 && res.timings.decoder_cache == SS_CACHE_FILLED);
        if (has_plugin) {
            pp.mode = SS_MODE_STABLE;
            if (ss_predict(st, &prompts[r % 3], &pp, &res, err, sizeof err) != SS_OK) goto fail;
            dstab[r] = res.timings.decoder_ms;
            cache_ok &= res.timings.decoder_cache == SS_CACHE_HIT || r == 0;
        }
        for (int m = 0; m < (has_plugin ? 2 : 1); m++) {
            pp.mode = m ? SS_MODE_STABLE : SS_MODE_SAM;
            if (ss_predict(st, &refine, &pp, &res, err, sizeof err) != SS_OK) goto fail;
            (m ? rstab : rsam)[r] = res.timings.decoder_ms;
        }
    }
    /* the first click on an image: the decode fills the cache (same embedding set again, which
     * resets it, instead of an encode per run) */
    memcpy(emb, ss_state_embedding(st), sizeof(float) * SS_EMB_DIM * SS_EMB_SIDE * SS_EMB_SIDE);
    for (int r = 0; r < runs; r++)
        for (int m = 0; m < (has_plugin ? 2 : 1); m++) {
            pp.mode = m ? SS_MODE_STABLE : SS_MODE_SAM;
            if (ss_set_embedding(st, emb, img->width, img->height, err, sizeof err) != SS_OK ||
                ss_predict(st, &prompts[r % 3], &pp, &res, err, sizeof err) != SS_OK)
                goto fail;
            (m ? fstab : fsam)[r] = res.timings.decoder_ms;
            cache_ok &= res.timings.decoder_cache == SS_CACHE_FILLED;
        }
    if (!cache_ok) fprintf(stderr, "stablesam: bench: warning: the decoder cache was not used as expected\n");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double m_pre = median(pre, runs), m_enc = median(enc, runs), m_e2e = median(e2e, runs);
    double m_dsam = median(dsam, dec_runs), m_post = median(post, dec_runs);
    double m_dstab = has_plugin ? median(dstab, dec_runs) : 0.0;
    double m_rsam = median(rsam, dec_runs), m_rstab = has_plugin ? median(rstab, dec_runs) : 0.0;
    double m_fsam = median(fsam, runs), m_fstab = has_plugin ? median(fstab, runs) : 0.0;
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "image", json_object_new_string(image ? image : "synthetic"));
        json_object_object_add(o, "width", json_object_new_int(img->width));
        json_object_object_add(o, "height", json_object_new_int(img->height));
        json_object_object_add(o, "threads", json_object_new_int(threads));
        json_object_object_add(o, "runs", json_object_new_int(runs));
        json_object_object_add(o, "blas_core", json_object_new_string(ss_blas_core()));
        json_object_object_add(o, "decoder_runs", json_object_new_int(dec_runs));
        json_object_object_add(o, "load_ms", json_object_new_double(load_ms));
        json_object_object_add(o, "preprocess_ms", json_object_new_double(m_pre));
        json_object_object_add(o, "encoder_ms", json_object_new_double(m_enc));
        /* decoder_ms / decoder_stable_ms: 2nd+ prompt on an image (cached); *_first_ms: the first */
        json_object_object_add(o, "decoder_ms", json_object_new_double(m_dsam));
        json_object_object_add(o, "decoder_first_ms", json_object_new_double(m_fsam));
        json_object_object_add(o, "decoder_refine_ms", json_object_new_double(m_rsam));
        if (has_plugin) {
            json_object_object_add(o, "decoder_stable_ms", json_object_new_double(m_dstab));
            json_object_object_add(o, "decoder_stable_first_ms", json_object_new_double(m_fstab));
            json_object_object_add(o, "decoder_stable_refine_ms", json_object_new_double(m_rstab));
            json_object_object_add(o, "stable_over_sam", json_object_new_double(m_dstab / m_dsam));
        }
        json_object_object_add(o, "decoder_cache_ok", json_object_new_boolean(cache_ok));
        json_object_object_add(o, "postprocess_ms", json_object_new_double(m_post));
        json_object_object_add(o, "end_to_end_ms", json_object_new_double(m_e2e));
        json_object_object_add(o, "peak_rss_mb", json_object_new_double(ru.ru_maxrss / 1024.0));
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
        json_object_put(o);
    } else {
        printf("image        %s (%dx%d), threads %d, %d runs (decoder %d)\n", image ? image : "synthetic",
               img->width, img->height, threads, runs, dec_runs);
        printf("blas         OpenBLAS, %s kernels\n", ss_blas_core());
        printf("model load   %8.1f ms\n", load_ms);
        printf("preprocess   %8.1f ms (median)\n", m_pre);
        printf("encoder      %8.1f ms (median)\n", m_enc);
        printf("decoder SAM  %8.2f ms (median, 2nd+ prompt on an image: cached; first prompt %.2f ms)\n", m_dsam,
               m_fsam);
        if (has_plugin)
            printf("decoder Stable %6.2f ms (median, %.2fx SAM, cached; first prompt %.2f ms)\n", m_dstab,
                   m_dstab / m_dsam, m_fstab);
        printf("refinement   %8.2f ms SAM (median: 2 clicks + the previous logits as mask input)\n", m_rsam);
        if (has_plugin)
            printf("refinement   %8.2f ms Stable (%.2fx SAM)\n", m_rstab, m_rstab / m_rsam);
        printf("postprocess  %8.2f ms (median)\n", m_post);
        printf("end-to-end   %8.1f ms (median: preprocess + encode + decode + postprocess)\n", m_e2e);
        printf("peak RSS     %8.1f MB\n", ru.ru_maxrss / 1024.0);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "stablesam: bench: %s\n", err);
done:
    ss_result_clear(&res);
    g_free(pre);
    g_free(enc);
    g_free(e2e);
    g_free(dsam);
    g_free(rsam);
    g_free(rstab);
    g_free(prev);
    g_free(dstab);
    g_free(post);
    g_free(fsam);
    g_free(fstab);
    g_free(emb);
    ss_state_free(st);
    ss_model_free(model);
    return rc;
}
