/* test_decoder.c — SAM prompt encoder + mask decoder (engine/decoder.c) against the original
 * ONNX graph, and the Stable-SAM plugin's loader / invariants (engine/plugin.c). TAP output.
 *
 * usage: test_decoder REFDIR [--bench N]
 *   model: $STABLESAM_MODEL, else $XDG_CACHE_HOME/stablesam/mobilesam.safetensors, else
 *   ~/.cache/stablesam/mobilesam.safetensors; a missing model fails unless STABLESAM_ALLOW_SKIP=1.
 *   threads: $STABLESAM_THREADS (default 2).
 *
 * REFDIR: golden.json (images: name, width, height, cases: id, points, box, mask_from) and
 * IMAGE/embedding.f32 or .f16 (256, 64, 64); per case IMAGE/CASE/iou_all.f32 (4,),
 * low_res_all.f32 (4, 256, 256) or low_res_sub4.f32 (4, 64, 64) = low_res_all[:, ::4, ::4],
 * mask_input.f32 or .f16 (256, 256) when the case feeds a mask. tests/decoder/data is such a
 * directory (written by make_fixture.py); tools/golden/make_golden.py --dev-out writes a full one.
 *
 * Checks: every case, all 4 mask tokens: max |Δ low-res logit| ≤ 1e-3 and max |Δ IoU| ≤ 1e-3
 * (SAM mode); the trace (SAM mode: weights sum to 1, positions on the grid, α reported (0, 1));
 * results do not depend on whether a trace is asked for; the abort callback stops a decode;
 * identity plugin ⇒ Stable == SAM (< 1e-4); a random plugin moves the samples (clamped to the
 * grid) and α = softmax·s; malformed plugin files are refused with a message; the per-image
 * decoder cache gives the full computation's results (see cache_tests). --bench N also times
 * SAM and Stable mode, full and cached (the 2nd+ prompt on an image). */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decoder.h"
#include "ops.h"
#include "weights.h"

#define LOWRES (SS_LOWRES_SIDE * SS_LOWRES_SIDE)
#define NPOS (SS_EMB_SIDE * SS_EMB_SIDE)
#define NEMB ((size_t)SS_EMB_DIM * NPOS)

static int n_test = 0, n_fail = 0;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", ++n_test);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) n_fail++;
    fflush(stdout);
}

/* ---- files ---- */

static void *read_exact(const char *path, size_t bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *buf = malloc(bytes ? bytes : 1);
    size_t got = buf ? fread(buf, 1, bytes, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != bytes || extra) {
        free(buf);
        return NULL;
    }
    return buf;
}

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023u, bits;
    if (e == 0) {
        float v = ldexpf((float)m, -24);
        return s ? -v : v;
    }
    if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* PATH.f32, else PATH.f16 converted; exactly n values */
static float *read_floats(const char *stem, size_t n)
{
    char path[1100];
    snprintf(path, sizeof path, "%s.f32", stem);
    float *f = read_exact(path, n * sizeof(float));
    if (f) return f;
    snprintf(path, sizeof path, "%s.f16", stem);
    uint16_t *h = read_exact(path, n * sizeof(uint16_t));
    if (!h) return NULL;
    f = malloc(n * sizeof(float));
    for (size_t i = 0; f && i < n; i++) f[i] = half_to_float(h[i]);
    free(h);
    return f;
}

/* ---- plugin files (engine/PLUGIN.md §1) ---- */

typedef struct {
    char name[40];
    int ndim;
    int64_t shape[4];
} pt_spec;

static int plugin_specs(pt_spec *s)
{
    int n = 0;
#define ADD(nd, a, b, c, d, fmt, ...)                                                     \
    do {                                                                                  \
        snprintf(s[n].name, sizeof s[n].name, fmt, __VA_ARGS__);                          \
        s[n].ndim = nd;                                                                   \
        s[n].shape[0] = a; s[n].shape[1] = b; s[n].shape[2] = c; s[n].shape[3] = d;       \
        n++;                                                                              \
    } while (0)
    ADD(1, 1, 0, 0, 0, "%s", "dsp.scale");
    for (int b = 0; b < 2; b++) {
        ADD(4, 129, 256, 1, 1, "dsp.%d.offset.0.weight", b);
        ADD(1, 129, 0, 0, 0, "dsp.%d.offset.0.bias", b);
        ADD(4, 128, 1, 5, 5, "dsp.%d.offset.1.weight", b);
        ADD(1, 128, 0, 0, 0, "dsp.%d.offset.1.bias", b);
        ADD(1, 128, 0, 0, 0, "dsp.%d.offset.2.weight", b);
        ADD(1, 128, 0, 0, 0, "dsp.%d.offset.2.bias", b);
        ADD(4, 2, 128, 1, 1, "dsp.%d.offset.3.weight", b);
        ADD(1, 2, 0, 0, 0, "dsp.%d.offset.3.bias", b);
        ADD(2, 16, 256, 0, 0, "drp.%d.mlp.0.weight", b);
        ADD(1, 16, 0, 0, 0, "drp.%d.mlp.0.bias", b);
        ADD(1, 16, 0, 0, 0, "drp.%d.mlp.1.weight", b);
        ADD(1, 16, 0, 0, 0, "drp.%d.mlp.1.bias", b);
        ADD(2, 2, 16, 0, 0, "drp.%d.mlp.2.weight", b);
        ADD(1, 2, 0, 0, 0, "drp.%d.mlp.2.bias", b);
        ADD(1, 1, 0, 0, 0, "drp.%d.scale", b);
    }
#undef ADD
    return n;
}

static size_t numel(const pt_spec *s)
{
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= (size_t)s->shape[i];
    return n;
}

static uint32_t rng_state = 12345u;
static float frand(void) /* uniform [-1, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

enum { PL_IDENTITY, PL_RANDOM, PL_MISSING, PL_EXTRA, PL_BADSHAPE, PL_BADFORMAT, PL_NANSCALE };

/* writes a plugin safetensors file; returns 0 on success */
static int write_plugin(const char *path, int kind)
{
    pt_spec s[40];
    int n = plugin_specs(s);
    if (kind == PL_EXTRA) {
        snprintf(s[n].name, sizeof s[n].name, "dsp.2.offset.0.bias");
        s[n].ndim = 1;
        s[n].shape[0] = 129;
        n++;
    }
    char *hdr = malloc(16384);
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(hdr + hl, 16384 - hl, "{\"__metadata__\":{\"format\":\"%s\"}",
                           kind == PL_BADFORMAT ? "something-else" : "stablesam-plugin");
    for (int i = 0; i < n; i++) {
        if (kind == PL_MISSING && strcmp(s[i].name, "drp.1.mlp.1.bias") == 0) continue;
        if (kind == PL_BADSHAPE && strcmp(s[i].name, "dsp.0.offset.1.weight") == 0) s[i].shape[2] = 3;
        size_t bytes = numel(&s[i]) * 4;
        hl += (size_t)snprintf(hdr + hl, 16384 - hl, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", s[i].name);
        for (int k = 0; k < s[i].ndim; k++)
            hl += (size_t)snprintf(hdr + hl, 16384 - hl, "%s%lld", k ? "," : "", (long long)s[i].shape[k]);
        hl += (size_t)snprintf(hdr + hl, 16384 - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    hl += (size_t)snprintf(hdr + hl, 16384 - hl, "}");
    while (hl % 8) hdr[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hdr);
        return -1;
    }
    uint64_t n64 = hl;
    fwrite(&n64, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    for (int i = 0; i < n; i++) {
        if (kind == PL_MISSING && strcmp(s[i].name, "drp.1.mlp.1.bias") == 0) continue;
        size_t m = numel(&s[i]);
        const char *nm = s[i].name;
        for (size_t j = 0; j < m; j++) {
            float v = 0.0f;
            int is_ln_w = strstr(nm, "offset.2.weight") || strstr(nm, "mlp.1.weight");
            if (strcmp(nm, "dsp.scale") == 0) v = kind == PL_NANSCALE ? NAN : 8.0f;
            else if (strstr(nm, ".scale")) v = kind == PL_RANDOM ? 1.25f : 1.0f;
            else if (kind == PL_RANDOM) v = (is_ln_w ? 1.0f : 0.0f) + 0.5f * frand();
            else v = is_ln_w ? 1.0f : 0.0f;
            fwrite(&v, 4, 1, f);
        }
    }
    free(hdr);
    return fclose(f);
}

/* ---- decoder runs ---- */

typedef struct {
    const ss_decoder_w *d;
    float *scratch;
    float *out, *out2; /* (4, 256, 256) */
    ss_decoder_cache cache; /* per-image cache (buf: ss_decoder_cache_floats()) */
} ctx;

static int run(ctx *c, const ss_plugin_w *plug, ss_mode mode, const float *emb, int w, int h,
               const ss_prompt *p, float *out, float iou[4], float alpha[2][2], ss_trace *tr)
{
    return ss_decoder_forward(c->d, plug, mode, emb, w, h, p, out, iou, alpha, tr, c->scratch, NULL, NULL, NULL);
}

/* the same with the per-image cache (the caller resets it when emb changes) */
static int run_cached(ctx *c, const ss_plugin_w *plug, ss_mode mode, const float *emb, int w, int h,
                      const ss_prompt *p, float *out, float iou[4], float alpha[2][2], ss_trace *tr)
{
    return ss_decoder_forward(c->d, plug, mode, emb, w, h, p, out, iou, alpha, tr, c->scratch, &c->cache, NULL,
                              NULL);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

typedef struct {
    ss_point pts[16];
    ss_prompt p;
    float *mask_in;
} prompt_buf;

static int load_prompt(const char *refdir, const char *img, json_object *cs, prompt_buf *pb)
{
    memset(pb, 0, sizeof *pb);
    const char *id = json_object_get_string(json_object_object_get(cs, "id"));
    json_object *jp = json_object_object_get(cs, "points");
    int np = 0;
    for (size_t i = 0; jp && i < json_object_array_length(jp) && np < 16; i++) {
        json_object *e = json_object_array_get_idx(jp, i);
        pb->pts[np].x = (float)json_object_get_double(json_object_array_get_idx(e, 0));
        pb->pts[np].y = (float)json_object_get_double(json_object_array_get_idx(e, 1));
        pb->pts[np].label = json_object_get_int(json_object_array_get_idx(e, 2));
        np++;
    }
    pb->p.points = pb->pts;
    pb->p.n_points = np;
    json_object *jb = json_object_object_get(cs, "box");
    if (jb && json_object_get_type(jb) == json_type_array) {
        pb->p.has_box = 1;
        for (int k = 0; k < 4; k++) pb->p.box[k] = (float)json_object_get_double(json_object_array_get_idx(jb, k));
    }
    json_object *jm = json_object_object_get(cs, "mask_from");
    if (jm && json_object_get_type(jm) == json_type_string) {
        char stem[1024];
        snprintf(stem, sizeof stem, "%s/%s/%s/mask_input", refdir, img, id);
        pb->mask_in = read_floats(stem, LOWRES);
        if (!pb->mask_in) return -1;
        pb->p.mask_input = pb->mask_in;
    }
    return 0;
}

/* CPU time of the calling thread (with 1 thread: the work, whatever the machine's load) */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void bench_case(ctx *c, const ss_plugin_w *plug, const float *emb, int w, int h, const ss_prompt *p,
                       const char *what, int n)
{
    float iou[4], alpha[2][2];
    for (int m = 0; m < (plug ? 2 : 1); m++) {
        double best = 1e30, sum = 0.0, cpu_best = 1e30;
        for (int i = 0; i < n; i++) {
            double t0 = ss_now_ms(), c0 = cpu_ms();
            run(c, plug, m ? SS_MODE_STABLE : SS_MODE_SAM, emb, w, h, p, c->out2, iou, alpha, NULL);
            double t = ss_now_ms() - t0, tc = cpu_ms() - c0;
            sum += t;
            best = t < best ? t : best;
            cpu_best = tc < cpu_best ? tc : cpu_best;
        }
        printf("# bench %s %s mode: wall min %.2f ms, mean %.2f ms; calling-thread CPU min %.2f ms "
               "(%d runs, %d threads)\n", what, m ? "Stable" : "SAM", best, sum / n, cpu_best, n, ss_get_threads());
        if (p->mask_input) continue; /* the cache does not apply */
        /* 2nd+ prompt on the image: block 0's image side from the per-image cache */
        ss_decoder_cache_reset(&c->cache);
        double t0 = ss_now_ms(), c0 = cpu_ms();
        run_cached(c, plug, m ? SS_MODE_STABLE : SS_MODE_SAM, emb, w, h, p, c->out2, iou, alpha, NULL);
        double fill = ss_now_ms() - t0, fill_cpu = cpu_ms() - c0;
        best = 1e30, sum = 0.0, cpu_best = 1e30;
        for (int i = 0; i < n; i++) {
            t0 = ss_now_ms(), c0 = cpu_ms();
            run_cached(c, plug, m ? SS_MODE_STABLE : SS_MODE_SAM, emb, w, h, p, c->out2, iou, alpha, NULL);
            double t = ss_now_ms() - t0, tc = cpu_ms() - c0;
            sum += t;
            best = t < best ? t : best;
            cpu_best = tc < cpu_best ? tc : cpu_best;
        }
        printf("# bench %s %s mode, cached: wall min %.2f ms, mean %.2f ms; calling-thread CPU min %.2f ms "
               "(%d runs, %d threads; the filling first prompt: wall %.2f ms, CPU %.2f ms)\n", what,
               m ? "Stable" : "SAM", best, sum / n, cpu_best, n, ss_get_threads(), fill, fill_cpu);
    }
}

/* one golden case in SAM mode */
static void run_case(ctx *c, const char *refdir, const char *img, int w, int h, const float *emb,
                     json_object *cs)
{
    const char *id = json_object_get_string(json_object_object_get(cs, "id"));
    char stem[1024];
    prompt_buf pb;
    if (load_prompt(refdir, img, cs, &pb) != 0) {
        ok(0, "%s/%s: cannot read its mask input", img, id);
        return;
    }
    int stride = 1;
    snprintf(stem, sizeof stem, "%s/%s/%s/low_res_all", refdir, img, id);
    float *ref = read_floats(stem, 4 * LOWRES);
    if (!ref) {
        stride = 4;
        snprintf(stem, sizeof stem, "%s/%s/%s/low_res_sub4", refdir, img, id);
        ref = read_floats(stem, 4 * LOWRES / 16);
    }
    snprintf(stem, sizeof stem, "%s/%s/%s/iou_all", refdir, img, id);
    float *ref_iou = read_floats(stem, 4);
    if (!ref || !ref_iou) {
        ok(0, "%s/%s: reference files missing in %s/%s/%s", img, id, refdir, img, id);
        free(ref);
        free(ref_iou);
        free(pb.mask_in);
        return;
    }
    float iou[4], alpha[2][2];
    int rc = run(c, NULL, SS_MODE_SAM, emb, w, h, &pb.p, c->out, iou, alpha, NULL);
    double dmax = 0.0;
    int side = SS_LOWRES_SIDE / stride;
    for (int t = 0; t < 4; t++)
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                double a = c->out[(size_t)t * LOWRES + (size_t)y * stride * SS_LOWRES_SIDE + (size_t)x * stride];
                double d = fabs(a - ref[((size_t)t * side + y) * side + x]);
                if (!(d <= dmax)) dmax = isnan(d) ? INFINITY : d;
            }
    double diou = max_abs_diff(iou, ref_iou, 4);
    ok(rc == SS_OK && dmax <= 1e-3 && diou <= 1e-3,
       "%s/%s: SAM mode vs sam.onnx, 4 tokens: max |dlogit| %.3g, max |diou| %.3g (tol 1e-3)%s", img, id,
       dmax, diou, stride > 1 ? " [every 4th pixel]" : "");
    free(ref);
    free(ref_iou);
    free(pb.mask_in);
}

static int abort_now(void *ud)
{
    (*(int *)ud)++;
    return 1;
}

/* trace, abort and plugin checks on one image + prompt */
static void invariants(ctx *c, const float *emb, int w, int h, const ss_prompt *p, int bench)
{
    float iou[4], iou2[4], alpha[2][2];
    ss_trace *tr = calloc(1, sizeof *tr);
    run(c, NULL, SS_MODE_SAM, emb, w, h, p, c->out, iou, alpha, NULL);
    int rc = run(c, NULL, SS_MODE_SAM, emb, w, h, p, c->out2, iou2, alpha, tr);
    ok(rc == SS_OK && max_abs_diff(c->out, c->out2, 4 * LOWRES) == 0.0 && max_abs_diff(iou, iou2, 4) == 0.0,
       "SAM mode: asking for the trace does not change the result");
    double sum = 0.0, off = 0.0, wmin = 1.0;
    for (int i = 0; i < NPOS; i++) {
        sum += tr->weight[i];
        wmin = tr->weight[i] < wmin ? tr->weight[i] : wmin;
        off += fabs(tr->pos[i][0] - i % SS_EMB_SIDE) + fabs(tr->pos[i][1] - i / SS_EMB_SIDE);
    }
    ok(fabs(sum - 1.0) < 1e-4 && wmin >= 0.0 && off == 0.0 && tr->mode == SS_MODE_SAM &&
           tr->alpha[0][0] == 0.0f && tr->alpha[0][1] == 1.0f && tr->alpha[1][0] == 0.0f && tr->alpha[1][1] == 1.0f,
       "SAM trace: weights sum %.6f, min %.3g, positions on the grid (off %g), alpha (0,1)", sum, wmin, off);

    int calls = 0;
    rc = ss_decoder_forward(c->d, NULL, SS_MODE_SAM, emb, w, h, p, c->out2, iou2, alpha, NULL, c->scratch, NULL,
                            abort_now, &calls);
    ok(rc == SS_ERR_ABORTED && calls == 1, "abort callback stops the decode (rc %d, %d call)", rc, calls);
    rc = run(c, NULL, SS_MODE_STABLE, emb, w, h, p, c->out2, iou2, alpha, NULL);
    ok(rc == SS_ERR_STATE, "Stable mode without a plugin is refused (rc %d)", rc);

    char dir[] = "/tmp/test_decoder_XXXXXX";
    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp: cannot create a temporary directory");
        free(tr);
        return;
    }
    char path[256], err[512];
    /* identity plugin: Stable == SAM */
    snprintf(path, sizeof path, "%s/identity.safetensors", dir);
    write_plugin(path, PL_IDENTITY);
    err[0] = 0;
    ss_weights *pw = ss_weights_open(path, err, sizeof err);
    ss_plugin_w *plug = pw ? ss_plugin_bind(pw, err, sizeof err) : NULL;
    ok(plug != NULL, "identity plugin loads (%s)", plug ? "ok" : err);
    if (plug) {
        rc = run(c, plug, SS_MODE_STABLE, emb, w, h, p, c->out2, iou2, alpha, tr);
        double d = max_abs_diff(c->out, c->out2, 4 * LOWRES), di = max_abs_diff(iou, iou2, 4);
        double off2 = 0.0;
        for (int i = 0; i < NPOS; i++)
            off2 += fabs(tr->pos[i][0] - i % SS_EMB_SIDE) + fabs(tr->pos[i][1] - i / SS_EMB_SIDE);
        ok(rc == SS_OK && d < 1e-4 && di < 1e-4 && off2 == 0.0 && alpha[0][0] == 0.5f && alpha[1][1] == 0.5f &&
               tr->mode == SS_MODE_STABLE,
           "identity plugin: Stable == SAM (max |dlogit| %.3g, |diou| %.3g, tol 1e-4), alpha (%g, %g), "
           "positions on the grid", d, di, alpha[0][0], alpha[0][1]);
        ss_plugin_free(plug);
    }
    ss_weights_close(pw);

    /* random plugin: samples move, stay on the grid, alpha = softmax * s */
    snprintf(path, sizeof path, "%s/random.safetensors", dir);
    write_plugin(path, PL_RANDOM);
    pw = ss_weights_open(path, err, sizeof err);
    plug = pw ? ss_plugin_bind(pw, err, sizeof err) : NULL;
    ok(plug != NULL, "random plugin loads (%s)", plug ? "ok" : err);
    if (plug) {
        rc = run(c, plug, SS_MODE_STABLE, emb, w, h, p, c->out2, iou2, alpha, tr);
        double moved = 0.0, maxshift = 0.0, wsum = 0.0;
        int inside = 1;
        for (int i = 0; i < NPOS; i++) {
            double dx = tr->pos[i][0] - i % SS_EMB_SIDE, dy = tr->pos[i][1] - i / SS_EMB_SIDE;
            moved += fabs(dx) + fabs(dy);
            maxshift = fmax(maxshift, fmax(fabs(dx), fabs(dy)));
            inside &= tr->pos[i][0] >= 0.0f && tr->pos[i][0] <= 63.0f && tr->pos[i][1] >= 0.0f && tr->pos[i][1] <= 63.0f;
            wsum += tr->weight[i];
        }
        double d = max_abs_diff(c->out, c->out2, 4 * LOWRES);
        ok(rc == SS_OK && moved / NPOS > 0.1 && maxshift <= 8.0 + 1e-4 && inside && fabs(wsum - 1.0) < 1e-4,
           "random plugin: mean |dx|+|dy| %.3f cells, max |d| %.3f (<= s_p 8), all inside [0,63]^2, weights sum %.6f",
           moved / NPOS, maxshift, wsum);
        ok(fabs(alpha[0][0] + alpha[0][1] - 1.25) < 1e-5 && fabs(alpha[1][0] + alpha[1][1] - 1.25) < 1e-5 &&
               alpha[0][0] > 0 && alpha[1][1] > 0 && memcmp(tr->alpha, alpha, sizeof tr->alpha) == 0,
           "random plugin: alpha (%.4f %.4f | %.4f %.4f) sums to s = 1.25, copied to the trace", alpha[0][0],
           alpha[0][1], alpha[1][0], alpha[1][1]);
        ok(d > 1e-2, "random plugin changes the logits (max |d| %.3g)", d);
        /* SAM mode with a plugin loaded ignores it */
        run(c, plug, SS_MODE_SAM, emb, w, h, p, c->out2, iou2, alpha, NULL);
        ok(max_abs_diff(c->out, c->out2, 4 * LOWRES) == 0.0 && alpha[1][0] == 0.0f && alpha[1][1] == 1.0f,
           "SAM mode ignores a loaded plugin");
        if (bench > 0) bench_case(c, plug, emb, w, h, p, "invariant prompt", bench);
        ss_plugin_free(plug);
    }
    ss_weights_close(pw);

    /* malformed plugin files */
    static const struct { int kind; const char *what, *expect; } bad[] = {
        {PL_MISSING, "a missing tensor", "drp.1.mlp.1.bias"},
        {PL_EXTRA, "an unknown tensor", "dsp.2.offset.0.bias"},
        {PL_BADSHAPE, "a wrong shape", "dsp.0.offset.1.weight"},
        {PL_BADFORMAT, "another format", "format"},
        {PL_NANSCALE, "a NaN offset scale", "dsp.scale"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(path, sizeof path, "%s/bad%zu.safetensors", dir, k);
        write_plugin(path, bad[k].kind);
        err[0] = 0;
        pw = ss_weights_open(path, err, sizeof err);
        plug = pw ? ss_plugin_bind(pw, err, sizeof err) : NULL;
        ok(plug == NULL && strstr(err, bad[k].expect) != NULL && strchr(err, '\n') == NULL,
           "plugin with %s is refused: \"%s\"", bad[k].what, err);
        ss_plugin_free(plug);
        ss_weights_close(pw);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/identity.safetensors", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/random.safetensors", dir);
    unlink(path);
    rmdir(dir);
    free(tr);
}

/* horizontally mirrored copy of a (256, 64, 64) embedding: "another image" for the cache tests */
static float *mirrored(const float *emb)
{
    float *e = malloc(NEMB * sizeof(float));
    for (size_t c = 0; e && c < SS_EMB_DIM; c++)
        for (int y = 0; y < SS_EMB_SIDE; y++)
            for (int x = 0; x < SS_EMB_SIDE; x++)
                e[(c * SS_EMB_SIDE + y) * SS_EMB_SIDE + x] = emb[(c * SS_EMB_SIDE + y) * SS_EMB_SIDE + SS_EMB_SIDE - 1 - x];
    return e;
}

/* Per-image decoder cache: over a sequence of prompts on one image (one with a mask input in
 * between), an embedding change and back, cached results equal the full computation up to
 * float rounding: all 4 tokens' low-res logits within 1e-5 of the largest |logit| (about
 * 3e-6 measured in Stable mode, logits up to ~60; SAM mode is bitwise equal), IoU within 1e-4,
 * α within 1e-5, the block-1 trace within 1e-4, in SAM and Stable mode; the cache reports
 * filled / reused / not used as expected and is keyed by the plugin; identity plugin with the
 * cache: Stable == SAM within 1e-4. */
static void cache_tests(ctx *c, const float *emb, int w, int h, const prompt_buf *pb, int np)
{
    float *emb2 = mirrored(emb);
    float iou[4], iou2[4], al[2][2], al2[2][2];
    ss_trace *tr = calloc(1, sizeof *tr), *tr2 = calloc(1, sizeof *tr2);
    char dir[] = "/tmp/test_decoder_cache_XXXXXX", path[2][256], err[512] = "";
    if (!emb2 || !tr || !tr2 || !mkdtemp(dir)) {
        ok(0, "cache tests: out of memory or no temporary directory");
        free(emb2), free(tr), free(tr2);
        return;
    }
    ss_weights *pw[2] = {NULL, NULL};
    ss_plugin_w *plug[2] = {NULL, NULL}; /* random, identity */
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%s/%s.safetensors", dir, k ? "identity" : "random");
        write_plugin(path[k], k ? PL_IDENTITY : PL_RANDOM);
        pw[k] = ss_weights_open(path[k], err, sizeof err);
        plug[k] = pw[k] ? ss_plugin_bind(pw[k], err, sizeof err) : NULL;
    }
    ok(plug[0] && plug[1], "cache tests: random and identity plugins load (%s)", plug[0] && plug[1] ? "ok" : err);
    for (int m = 0; m < 2 && plug[0] && plug[1]; m++) {
        const ss_mode mode = m ? SS_MODE_STABLE : SS_MODE_SAM;
        const ss_plugin_w *pl = plug[0];
        /* steps: every prompt on emb, then 2 on the mirrored embedding (the mask input first,
         * then prompt 0), then prompt 1 on emb again */
        double dl = 0.0, lmax = 1.0, di = 0.0, da = 0.0, dtw = 0.0, dtp = 0.0;
        int n_steps = np + 3, flags_ok = 1, rc_ok = 1, n_hit = 0, n_mask = 0;
        char seen[128] = "";
        const float *cur = NULL;
        int filled_since_reset = 0, stable_filled = 0;
        /* the first prompt on the mirrored embedding is the one with a mask input: it fills the
         * SAM part itself */
        int km = 0;
        while (km < np - 1 && !pb[km].p.mask_input) km++;
        for (int st = 0; st < n_steps; st++) {
            const float *e = st < np ? emb : (st < np + 2 ? emb2 : emb);
            const prompt_buf *q = &pb[st < np ? st : (st == np ? km : (st - np - 1) % np)];
            int fresh = e != cur;
            if (fresh) ss_decoder_cache_reset(&c->cache); /* what ss_state does on every embedding change */
            cur = e;
            int want_tr = st % 2 == 0;
            int rc1 = run_cached(c, pl, mode, e, w, h, &q->p, c->out, iou, al, want_tr ? tr : NULL);
            int got = c->cache.last;
            int rc2 = run(c, pl, mode, e, w, h, &q->p, c->out2, iou2, al2, want_tr ? tr2 : NULL);
            rc_ok &= rc1 == SS_OK && rc2 == SS_OK;
            dl = fmax(dl, max_abs_diff(c->out, c->out2, 4 * LOWRES));
            for (int i = 0; i < 4 * LOWRES; i++) lmax = fmax(lmax, fabs(c->out2[i]));
            di = fmax(di, max_abs_diff(iou, iou2, 4));
            da = fmax(da, max_abs_diff(&al[0][0], &al2[0][0], 4));
            if (want_tr) {
                dtw = fmax(dtw, max_abs_diff(tr->weight, tr2->weight, NPOS));
                dtp = fmax(dtp, max_abs_diff(&tr->pos[0][0], &tr2->pos[0][0], 2 * NPOS));
                da = fmax(da, max_abs_diff(&tr->alpha[0][0], &tr2->alpha[0][0], 4));
            }
            /* every prompt uses the SAM part (a mask input through its rank-16 term) and the
             * first one after a reset fills it; in Stable mode the Stable part is filled by the
             * first prompt without a mask input (a mask input moves the DSP sample) */
            if (fresh) filled_since_reset = stable_filled = 0;
            int fills = !filled_since_reset || (m && !q->p.mask_input && !stable_filled);
            int expect = fills ? SS_CACHE_FILLED : SS_CACHE_HIT;
            filled_since_reset = 1;
            if (m && !q->p.mask_input) stable_filled = 1;
            flags_ok &= got == expect;
            n_hit += got == SS_CACHE_HIT;
            n_mask += q->p.mask_input != NULL;
            size_t len = strlen(seen);
            snprintf(seen + len, sizeof seen - len, "%c", got == SS_CACHE_HIT ? 'h' : (got == SS_CACHE_FILLED ? 'F' : '-'));
        }
        ok(rc_ok && dl <= 1e-5 * lmax && di < 1e-4 && da < 1e-5 && dtw < 1e-4 && dtp < 1e-4,
           "%s mode, %d prompts (mask input and embedding changes in between): cached vs full, 4 tokens max "
           "|dlogit| %.3g = %.2g x max |logit| %.1f (tol 1e-5 x), |diou| %.3g (tol 1e-4), |dalpha| %.3g (tol 1e-5), "
           "trace |dw| %.3g |dpos| %.3g (tol 1e-4)",
           m ? "Stable" : "SAM", n_steps, dl, dl / lmax, lmax, di, da, dtw, dtp);
        ok(flags_ok && n_hit > 0 && n_mask > 0, "%s mode: cache filled (F) / reused (h) per prompt, mask inputs among them: %s",
           m ? "Stable" : "SAM", seen);
    }
    if (plug[0] && plug[1]) {
        /* one image, modes and plugins mixed: SAM fills the SAM part, Stable adds its part once
         * per plugin, SAM reuses */
        const ss_prompt *q = &pb[0].p;
        ss_decoder_cache_reset(&c->cache);
        int seq[5];
        double dl = 0.0, dident = INFINITY;
        float *sam = malloc(4 * LOWRES * sizeof(float));
        run_cached(c, NULL, SS_MODE_SAM, emb, w, h, q, c->out, iou, al, NULL);
        seq[0] = c->cache.last;
        if (sam) memcpy(sam, c->out, 4 * LOWRES * sizeof(float));
        for (int k = 0; k < 3; k++) {
            const ss_plugin_w *pl = plug[k == 1]; /* random, identity, random */
            run_cached(c, pl, SS_MODE_STABLE, emb, w, h, q, c->out, iou, al, NULL);
            seq[1 + k] = c->cache.last;
            if (k == 1 && sam) dident = max_abs_diff(c->out, sam, 4 * LOWRES);
            run(c, pl, SS_MODE_STABLE, emb, w, h, q, c->out2, iou2, al2, NULL);
            dl = fmax(dl, max_abs_diff(c->out, c->out2, 4 * LOWRES));
        }
        run_cached(c, NULL, SS_MODE_SAM, emb, w, h, q, c->out, iou, al, NULL);
        seq[4] = c->cache.last;
        run(c, NULL, SS_MODE_SAM, emb, w, h, q, c->out2, iou2, al2, NULL);
        dl = fmax(dl, max_abs_diff(c->out, c->out2, 4 * LOWRES));
        ok(seq[0] == SS_CACHE_FILLED && seq[1] == SS_CACHE_FILLED && seq[2] == SS_CACHE_FILLED &&
               seq[3] == SS_CACHE_FILLED && seq[4] == SS_CACHE_HIT && dl < 1e-3,
           "cache keyed by plugin: SAM, Stable random, identity, random, SAM -> %d %d %d %d %d "
           "(expect 1 1 1 1 2), max |dlogit| vs full %.3g (tol 1e-3)", seq[0], seq[1], seq[2], seq[3], seq[4], dl);
        ok(dident < 1e-4, "identity plugin, cached: Stable == SAM (max |dlogit| %.3g, tol 1e-4)", dident);
        free(sam);
    }
    for (int k = 0; k < 2; k++) {
        ss_plugin_free(plug[k]);
        ss_weights_close(pw[k]);
        unlink(path[k]);
    }
    rmdir(dir);
    free(emb2);
    free(tr);
    free(tr2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s REFDIR [--bench N]\n", argv[0]);
        return 2;
    }
    const char *refdir = argv[1];
    int bench = 0;
    if (argc >= 4 && strcmp(argv[2], "--bench") == 0) bench = atoi(argv[3]);
    const char *th = getenv("STABLESAM_THREADS");
    ss_set_threads(th ? atoi(th) : 2);

    char model[1024];
    const char *env = getenv("STABLESAM_MODEL"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env) snprintf(model, sizeof model, "%s", env);
    else if (xdg && *xdg) snprintf(model, sizeof model, "%s/stablesam/mobilesam.safetensors", xdg);
    else snprintf(model, sizeof model, "%s/.cache/stablesam/mobilesam.safetensors", home ? home : ".");
    if (access(model, R_OK) != 0) {
        if (getenv("STABLESAM_ALLOW_SKIP")) {
            printf("1..0 # SKIP model %s not found\n", model);
            return 0;
        }
        printf("Bail out! model %s not found (set STABLESAM_MODEL, run `stablesam fetch-model`, or "
               "STABLESAM_ALLOW_SKIP=1)\n", model);
        return 1;
    }
    char err[512] = "";
    ss_weights *w = ss_weights_open(model, err, sizeof err);
    ss_decoder_w *d = w ? ss_decoder_bind(w, err, sizeof err) : NULL;
    if (!d) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/golden.json", refdir);
    json_object *g = json_object_from_file(path);
    if (!g) {
        printf("Bail out! cannot read %s\n", path);
        return 1;
    }
    ctx c = {d, malloc(ss_decoder_scratch_floats() * sizeof(float)), malloc(4 * LOWRES * sizeof(float)),
             malloc(4 * LOWRES * sizeof(float)), {0}};
    c.cache.buf = malloc(ss_decoder_cache_floats() * sizeof(float));
    ss_decoder_cache_reset(&c.cache);
    if (!c.scratch || !c.out || !c.out2 || !c.cache.buf) {
        printf("Bail out! out of memory\n");
        return 1;
    }
    json_object *imgs = json_object_object_get(g, "images");
    int n_img = 0;
    for (size_t i = 0; imgs && i < json_object_array_length(imgs); i++) {
        json_object *im = json_object_array_get_idx(imgs, i);
        const char *name = json_object_get_string(json_object_object_get(im, "name"));
        int iw = json_object_get_int(json_object_object_get(im, "width"));
        int ih = json_object_get_int(json_object_object_get(im, "height"));
        snprintf(path, sizeof path, "%s/%s/embedding", refdir, name);
        float *emb = read_floats(path, NEMB);
        if (!emb) {
            ok(0, "%s: cannot read %s.f32 / .f16", name, path);
            continue;
        }
        json_object *cases = json_object_object_get(im, "cases");
        size_t nc = cases ? json_object_array_length(cases) : 0;
        for (size_t k = 0; k < nc; k++) run_case(&c, refdir, name, iw, ih, emb, json_object_array_get_idx(cases, k));
        if (n_img++ == 0 && nc > 0) {
            /* invariants and timing on the first case with a box + the first with points */
            prompt_buf pb;
            json_object *cs = json_object_array_get_idx(cases, 0);
            if (load_prompt(refdir, name, cs, &pb) == 0) {
                invariants(&c, emb, iw, ih, &pb.p, bench);
                /* cached vs full decoding over this image's prompts (in file order) */
                prompt_buf cpb[8];
                int ncp = 0, mask_ok = 1;
                for (size_t k = 0; k < nc && ncp < 8; k++)
                    if (load_prompt(refdir, name, json_object_array_get_idx(cases, k), &cpb[ncp]) == 0) ncp++;
                    else mask_ok = 0;
                int has_mask = 0;
                for (int k = 0; k < ncp; k++) has_mask |= cpb[k].p.mask_input != NULL;
                ok(mask_ok && ncp >= 3 && has_mask && !cpb[0].p.mask_input,
                   "cache tests: %d prompts of %s, one with a mask input, the first without", ncp, name);
                cache_tests(&c, emb, iw, ih, cpb, ncp);
                for (int k = 0; k < ncp; k++) free(cpb[k].mask_in);
                if (bench > 0) {
                    char what[128];
                    for (size_t k = 0; k < nc; k++) {
                        prompt_buf pk;
                        json_object *ck = json_object_array_get_idx(cases, k);
                        if (load_prompt(refdir, name, ck, &pk) != 0) continue;
                        snprintf(what, sizeof what, "%s/%s", name,
                                 json_object_get_string(json_object_object_get(ck, "id")));
                        bench_case(&c, NULL, emb, iw, ih, &pk.p, what, bench);
                        free(pk.mask_in);
                    }
                }
                free(pb.mask_in);
            }
        }
        free(emb);
    }
    ok(n_img > 0, "at least one reference image in %s", refdir);
    ss_decoder_free(d);
    ss_weights_close(w);
    free(c.scratch);
    free(c.out);
    free(c.out2);
    free(c.cache.buf);
    json_object_put(g);
    printf("1..%d\n", n_test);
    return n_fail ? 1 : 0;
}
