/* eval.c — `stablesam eval`: the prompt protocols of DESIGN §5 (GT box, noisy boxes,
 * IoU-banded boxes, 1/3/5/10 random points, 20 draws each) and the RITM NoC protocol, in SAM
 * and/or Stable-SAM mode, on a data set laid out as DESIGN §9. Writes DIR/results.json,
 * DIR/results.md and PNG plots. Every prompt is drawn once per object from a seeded stream
 * keyed by (seed, set/id_k, protocol), so both modes see the same prompts and a run is
 * reproducible on any machine. Images are evaluated --threads at a time (one worker and one
 * ss_state each, single-threaded engine) and merged in data set order, so the results do not
 * depend on the number of workers. */
#define G_LOG_DOMAIN "stablesam-eval"
#include <errno.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-commands.h"
#include "eval-private.h"
#include "model-path.h"
#include "ss_metrics.h"

/* ---------------------------------------------------------------------------------------- */
/* protocols */

enum { P_GT_BOX, P_NOISY, P_NB56, P_NB67, P_PT1, P_PT3, P_PT5, P_PT10, P_COUNT };
static const char *const proto_key[P_COUNT] = {"gt_box", "noisy_box", "nbox_50_60", "nbox_60_70",
                                               "point1", "point3", "point5", "point10"};
static const char *const proto_label[P_COUNT] = {"GT box", "noisy box", "box IoU .5-.6",
                                                 "box IoU .6-.7", "1 pt", "3 pt", "5 pt", "10 pt"};
static const int proto_points[P_COUNT] = {0, 0, 0, 0, 1, 3, 5, 10};

#define MAX_DRAWS 100
#define MAX_PTS 10
#define NOISE 0.4
#define BAND_TRIES 2000

typedef struct {
    int n;                          /* draws made (band sampling may find fewer) */
    float box[MAX_DRAWS][4];
    ss_point pts[MAX_DRAWS][MAX_PTS];
} ProtoPrompts;

typedef struct {
    int n;
    double iou[MAX_DRAWS], biou[MAX_DRAWS]; /* ratios */
    double st;                              /* ratio, NAN if one draw */
    double alpha1[2];                       /* DRP α₁ (deformable share) per block, mean over
                                               the draws (0 in SAM mode) */
} ProtoResult;

typedef struct {
    int max_clicks;
    double iou[SS_NOC_MAX_CLICKS];
    ss_point clicks[SS_NOC_MAX_CLICKS];
    int noc85, noc90;
} NocResult;

/* sums over objects for the aggregates */
typedef struct {
    double miou, mbiou, st, alpha1[2];
    int n, n_st;
} ProtoAgg;

typedef struct {
    double noc85, noc90, miou_at[SS_NOC_MAX_CLICKS];
    int nof85, nof90, n;
} NocAgg;

typedef struct {
    /* options */
    const char *dataset, *out, *model_opt, *plugin_opt, *split, *cache_opt;
    const char *model_path, *plugin_path; /* resolved */
    int modes[2], n_modes; /* ss_mode values */
    gboolean do_proto[P_COUNT], do_noc;
    const char *protocol;
    int limit, threads, draws, max_clicks;
    guint64 seed;
    /* run */
    ss_model *model;
    const char *cache; /* embedding cache folder, NULL = none */
    int n_workers;     /* images evaluated at once, one ss_state each */
    long n_decodes;    /* merged over the images, in image order */
    double decode_ms;  /* sum of every decode's own time (in its worker), not wall time */
    char err[512];
} Eval;

/* One worker evaluates one image at a time with its own state and scratch; the model is
 * shared (engine/stablesam.h: one ss_state per thread). */
typedef struct Worker {
    const Eval *ev;
    struct EvalQueue *queue; /* NULL when the main thread is the only worker */
    ss_state *state;
    ss_result res;
    int width, height;
    ss_mode cur_mode;
    long n_decodes;
    double decode_ms;
    ProtoPrompts pp[P_COUNT];
    ProtoResult pres[P_COUNT];
    char err[512];
} Worker;

static const char *mode_key(int m) { return m == SS_MODE_STABLE ? "stable" : "sam"; }
static const char *mode_label(int m) { return m == SS_MODE_STABLE ? "Stable-SAM" : "SAM"; }

/* ---------------------------------------------------------------------------------------- */
/* progress: a bar on a terminal, plain lines otherwise */

void ssa_progress_init(SsaProgress *p, const char *what, int total)
{
    p->tty = isatty(STDERR_FILENO);
    p->t0 = g_get_monotonic_time();
    p->total = total;
    p->what = what;
}

void ssa_progress_update(SsaProgress *p, int done, const char *item)
{
    double el = (g_get_monotonic_time() - p->t0) / 1e6;
    double eta = done > 0 ? el / done * (p->total - done) : 0;
    if (p->tty) {
        char bar[31];
        int fill = p->total ? 30 * done / p->total : 30;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        g_autofree char *base = g_path_get_basename(item);
        fprintf(stderr, "\r%s [%s] %d/%d  %.0fs, ETA %.0fs  %.30s\033[K", p->what, bar, done,
                p->total, el, eta, base);
    } else {
        fprintf(stderr, "%s: %d/%d %s (%.1f s elapsed, ETA %.0f s)\n", p->what, done, p->total,
                item, el, eta);
    }
    fflush(stderr);
}

void ssa_progress_done(SsaProgress *p)
{
    if (p->tty)
        fprintf(stderr, "\n");
}

/* ---------------------------------------------------------------------------------------- */
/* prediction */

static int predict(Worker *w, const ss_prompt *pr)
{
    ss_predict_params pp = ss_predict_default_params();
    pp.mode = w->cur_mode;
    pp.want_mask = 1;
    double t0 = g_get_monotonic_time();
    int rc = ss_predict(w->state, pr, &pp, &w->res, w->err, sizeof w->err);
    w->decode_ms += (g_get_monotonic_time() - t0) / 1e3;
    w->n_decodes++;
    return rc;
}

static int noc_predict(void *user, const ss_point *points, int n_points, const float *prev,
                       uint8_t *mask_out, float *low_res_out, char *err, size_t errlen)
{
    Worker *w = user;
    ss_prompt pr = {.has_box = 0, .points = points, .n_points = n_points, .mask_input = prev};
    int rc = predict(w, &pr);
    if (rc) {
        g_strlcpy(err, w->err, errlen);
        return rc;
    }
    memcpy(mask_out, w->res.mask, (size_t)w->width * w->height);
    memcpy(low_res_out, w->res.low_res, sizeof w->res.low_res);
    return SS_OK;
}

/* a box at least 1 pixel wide and tall, inside the image (the decoder refuses empty boxes) */
static void box_min_size(float b[4], int w, int h)
{
    for (int a = 0; a < 2; a++) {
        float *lo = &b[a], *hi = &b[a + 2];
        float max = (float)((a == 0 ? w : h) - 1);
        if (*hi - *lo < 1.0f && max >= 1.0f) {
            float c = 0.5f * (*lo + *hi);
            c = c < 0.5f ? 0.5f : c > max - 0.5f ? max - 0.5f : c;
            *lo = c - 0.5f;
            *hi = c + 0.5f;
        }
    }
}

static void make_prompts(const Worker *w, const char *obj_key, const uint8_t *gt,
                         const uint8_t *ign, ProtoPrompts *pp)
{
    const Eval *ev = w->ev;
    float gtb[4];
    ss_gt_box(gt, w->width, w->height, gtb); /* object is not empty: checked at load */
    for (int p = 0; p < P_COUNT; p++) {
        pp[p].n = 0;
        if (!ev->do_proto[p])
            continue;
        g_autofree char *key = g_strdup_printf("%s/%s", obj_key, proto_key[p]);
        ss_rng rng;
        ss_rng_seed_key(&rng, ev->seed, key);
        int n = p == P_GT_BOX ? 1 : ev->draws;
        for (int d = 0; d < n; d++) {
            float *b = pp[p].box[pp[p].n];
            if (p == P_GT_BOX) {
                memcpy(b, gtb, sizeof gtb);
                box_min_size(b, w->width, w->height);
            } else if (p == P_NOISY) {
                ss_noisy_box(&rng, gtb, NOISE, w->width, w->height, b);
            } else if (p == P_NB56 || p == P_NB67) {
                double lo = p == P_NB56 ? 0.5 : 0.6;
                if (ss_noisy_box_band(&rng, gtb, lo, lo + 0.1, w->width, w->height, BAND_TRIES,
                                      b) != SS_OK)
                    continue;
            } else {
                if (ss_random_points(&rng, gt, ign, w->width, w->height, proto_points[p],
                                     pp[p].pts[pp[p].n], NULL, 0) != SS_OK)
                    continue;
            }
            pp[p].n++;
        }
    }
}

/* one protocol for one object in the current mode */
static int run_protocol(Worker *w, int p, const ProtoPrompts *pp, const uint8_t *gt,
                        const uint8_t *gtb, const uint8_t *ign, uint8_t *uni, ProtoResult *r)
{
    size_t npx = (size_t)w->width * w->height;
    memset(uni, 0, npx);
    double area_sum = 0;
    r->n = 0;
    r->alpha1[0] = r->alpha1[1] = 0;
    for (int d = 0; d < pp->n; d++) {
        ss_prompt pr = {0};
        if (proto_points[p] == 0) {
            pr.has_box = 1;
            memcpy(pr.box, pp->box[d], sizeof pr.box);
        } else {
            pr.points = pp->pts[d];
            pr.n_points = proto_points[p];
        }
        int rc = predict(w, &pr);
        if (rc)
            return rc;
        const uint8_t *m = w->res.mask;
        r->iou[d] = ss_iou(gt, m, ign, w->width, w->height);
        r->biou[d] = ss_boundary_iou_gtb(gtb, m, ign, w->width, w->height);
        if (r->biou[d] < 0) {
            g_strlcpy(w->err, "boundary IoU: out of memory", sizeof w->err);
            return SS_ERR_NOMEM;
        }
        /* ST (Eq. 1) incrementally: M_i ⊂ ∪M_j, so IoU(M_i, ∪M_j) = |M_i| / |∪M_j| */
        for (size_t i = 0; i < npx; i++)
            uni[i] |= m[i] != 0;
        area_sum += (double)ss_mask_area(m, w->width, w->height);
        for (int b = 0; b < 2; b++)
            r->alpha1[b] += w->res.alpha[b][0];
        r->n++;
    }
    for (int b = 0; b < 2 && r->n; b++)
        r->alpha1[b] /= r->n;
    uint64_t nu = ss_mask_area(uni, w->width, w->height);
    r->st = r->n < 2 ? NAN : nu == 0 ? 1.0 : area_sum / r->n / (double)nu;
    return SS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON helpers */

static json_object *jnum(double v, int decimals)
{
    if (!isfinite(v))
        return NULL;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return json_object_new_double_s(strtod(buf, NULL), buf);
}

static json_object *jarr(const double *v, int n, double scale, int decimals)
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++)
        json_object_array_add(a, jnum(v[i] * scale, decimals));
    return a;
}

static json_object *jbox(const float b[4])
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < 4; i++)
        json_object_array_add(a, jnum(b[i], 2));
    return a;
}

static json_object *jpoint(const ss_point *p)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, jnum(p->x, 2));
    json_object_array_add(a, jnum(p->y, 2));
    json_object_array_add(a, json_object_new_int(p->label));
    return a;
}

static json_object *prompts_json(const ProtoPrompts *pp, int p)
{
    json_object *a = json_object_new_array();
    for (int d = 0; d < pp->n; d++) {
        if (proto_points[p] == 0) {
            json_object_array_add(a, jbox(pp->box[d]));
        } else {
            json_object *pts = json_object_new_array();
            for (int k = 0; k < proto_points[p]; k++)
                json_object_array_add(pts, jpoint(&pp->pts[d][k]));
            json_object_array_add(a, pts);
        }
    }
    return a;
}

/* ---------------------------------------------------------------------------------------- */
/* options */

static void eval_usage(FILE *f)
{
    fprintf(f,
            "usage: stablesam eval DATASET_DIR --out DIR [--mode sam|stable|both]\n"
            "                      [--protocol all|box|points|noc] [--limit N] [--seed S]\n"
            "                      [--split val|train|all] [--model FILE] [--plugin FILE|none]\n"
            "                      [--cache DIR|none] [--draws N] [--max-clicks N] [--threads N]\n"
            "DATASET_DIR: SET/images/ID.jpg|png + SET/masks/ID_K.png (or a folder of such sets).\n"
            "Defaults: --mode both when a plugin is found, else sam; --protocol all; --split val\n"
            "when the set has val.txt, else all; --seed 0; --draws 20; --max-clicks 20;\n"
            "embeddings cached in $XDG_CACHE_HOME/stablesam/embeddings. Writes\n"
            "DIR/results.json, DIR/results.md, DIR/noc_miou.png, DIR/miou_per_prompt.png,\n"
            "DIR/st_per_prompt.png. --threads N (default: one per core) evaluates N images at\n"
            "once, one single-threaded worker each; the results do not depend on N.\n");
}

static int parse_eval_args(int argc, char **argv, Eval *ev, const char **mode_opt)
{
    ev->protocol = "all";
    ev->draws = 20;
    ev->max_clicks = 20;
    *mode_opt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            eval_usage(stdout);
            return -1;
        }
        if (o[0] == '-' && o[1] == '-') {
            if (!v) {
                fprintf(stderr, "stablesam: eval: %s needs a value\n", o);
                return 2;
            }
            i++;
            char *end = NULL;
            if (!strcmp(o, "--out")) ev->out = v;
            else if (!strcmp(o, "--mode")) *mode_opt = v;
            else if (!strcmp(o, "--protocol")) ev->protocol = v;
            else if (!strcmp(o, "--split")) ev->split = v;
            else if (!strcmp(o, "--model")) ev->model_opt = v;
            else if (!strcmp(o, "--plugin")) ev->plugin_opt = v;
            else if (!strcmp(o, "--cache")) ev->cache_opt = v;
            else if (!strcmp(o, "--limit") || !strcmp(o, "--threads") || !strcmp(o, "--draws") ||
                     !strcmp(o, "--seed") || !strcmp(o, "--max-clicks")) {
                errno = 0;
                unsigned long long x = strtoull(v, &end, 10);
                if (errno || !end || *end || v[0] == '-') {
                    fprintf(stderr, "stablesam: eval: %s wants a number, got '%s'\n", o, v);
                    return 2;
                }
                if (!strcmp(o, "--seed")) ev->seed = x;
                else if (x > 1000000) {
                    fprintf(stderr, "stablesam: eval: %s %s is too large\n", o, v);
                    return 2;
                } else if (!strcmp(o, "--limit")) ev->limit = (int)x;
                else if (!strcmp(o, "--threads")) ev->threads = (int)x;
                else if (!strcmp(o, "--max-clicks")) ev->max_clicks = (int)x;
                else ev->draws = (int)x;
            } else {
                fprintf(stderr, "stablesam: eval: unknown option %s\n", o);
                eval_usage(stderr);
                return 2;
            }
        } else if (!ev->dataset) {
            ev->dataset = o;
        } else {
            fprintf(stderr, "stablesam: eval: unexpected argument '%s'\n", o);
            return 2;
        }
    }
    if (!ev->dataset || !ev->out) {
        eval_usage(stderr);
        return 2;
    }
    if (ev->draws < 1 || ev->draws > MAX_DRAWS) {
        fprintf(stderr, "stablesam: eval: --draws is 1..%d\n", MAX_DRAWS);
        return 2;
    }
    if (ev->max_clicks < 1 || ev->max_clicks > SS_NOC_MAX_CLICKS) {
        fprintf(stderr, "stablesam: eval: --max-clicks is 1..%d\n", SS_NOC_MAX_CLICKS);
        return 2;
    }
    if (*mode_opt && strcmp(*mode_opt, "sam") && strcmp(*mode_opt, "stable") &&
        strcmp(*mode_opt, "both")) {
        fprintf(stderr, "stablesam: eval: --mode is sam, stable or both, got '%s'\n", *mode_opt);
        return 2;
    }
    const char *pr = ev->protocol;
    gboolean all = !strcmp(pr, "all"), box = !strcmp(pr, "box"), pts = !strcmp(pr, "points");
    ev->do_noc = all || !strcmp(pr, "noc");
    if (!all && !box && !pts && !ev->do_noc) {
        fprintf(stderr, "stablesam: eval: --protocol is all, box, points or noc, got '%s'\n", pr);
        return 2;
    }
    for (int p = 0; p < P_COUNT; p++)
        ev->do_proto[p] = all || (box && proto_points[p] == 0) || (pts && proto_points[p] > 0);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* reports */

static void fmt_cell(GString *s, const ProtoAgg *a, gboolean with_st)
{
    if (a->n == 0) {
        g_string_append(s, " – |");
        return;
    }
    g_string_append_printf(s, " %.1f/%.1f", a->miou / a->n, a->mbiou / a->n);
    if (with_st && a->n_st)
        g_string_append_printf(s, "/%.1f", a->st / a->n_st);
    g_string_append(s, " |");
}

static gboolean write_markdown(const Eval *ev, const SsaDataset *ds, ProtoAgg agg[2][P_COUNT],
                               NocAgg noc[2], GPtrArray *problems, int n_done, double secs,
                               GError **error)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "# stablesam eval: %s\n\n", ds->dir);
    g_string_append_printf(s,
                           "Split `%s`, %d objects evaluated, seed %llu, %d draws per prompt type "
                           "(noise %.1f), at most %d clicks. Model `%s` (%s). %.0f s wall time, "
                           "%d image%s at a time; %ld decodes of %.1f ms each (mean time of one "
                           "decode in its worker).\n\n",
                           ds->split, n_done, (unsigned long long)ev->seed, ev->draws, NOISE,
                           ev->max_clicks, ev->model_path, ss_model_hash(ev->model), secs,
                           ev->n_workers, ev->n_workers == 1 ? "" : "s", ev->n_decodes,
                           ev->n_decodes ? ev->decode_ms / ev->n_decodes : 0.0);
    gboolean stable = ev->modes[ev->n_modes - 1] == SS_MODE_STABLE;
    g_string_append_printf(s, "Plugin: %s%s%s.\n\n", stable ? "`" : "",
                           stable && ev->plugin_path ? ev->plugin_path : "none (SAM mode only)",
                           stable ? "`" : "");
    g_string_append_printf(s, "Numbers in percent: mIoU/mBIoU for the GT box, mIoU/mBIoU/ST for "
                              "prompt types drawn %d times (ST = stability, Stable-SAM Eq. 1). NoC = "
                              "mean clicks to reach the IoU (%d when never), NoF = objects never "
                              "reaching it.\n\n", ev->draws, ev->max_clicks);
    g_string_append(s, "| mode |");
    for (int p = 0; p < P_COUNT; p++)
        if (ev->do_proto[p])
            g_string_append_printf(s, " %s |", proto_label[p]);
    if (ev->do_noc)
        g_string_append(s, " NoC85 | NoC90 | NoF85/NoF90 |");
    g_string_append(s, "\n|---|");
    for (int p = 0; p < P_COUNT; p++)
        if (ev->do_proto[p])
            g_string_append(s, "---|");
    if (ev->do_noc)
        g_string_append(s, "---|---|---|");
    g_string_append(s, "\n");
    for (int mi = 0; mi < ev->n_modes; mi++) {
        g_string_append_printf(s, "| %s |", mode_label(ev->modes[mi]));
        for (int p = 0; p < P_COUNT; p++)
            if (ev->do_proto[p])
                fmt_cell(s, &agg[mi][p], p != P_GT_BOX);
        if (ev->do_noc) {
            const NocAgg *a = &noc[mi];
            if (a->n)
                g_string_append_printf(s, " %.2f | %.2f | %d/%d |", a->noc85 / a->n,
                                       a->noc90 / a->n, a->nof85, a->nof90);
            else
                g_string_append(s, " – | – | – |");
        }
        g_string_append(s, "\n");
    }
    for (int mi = 0; mi < ev->n_modes; mi++) {
        if (ev->modes[mi] != SS_MODE_STABLE)
            continue;
        g_string_append(s, "\nDRP α₁ (share of the deformable features), Stable-SAM, mean over objects "
                           "and draws, block 0 / block 1:\n\n|");
        for (int p = 0; p < P_COUNT; p++)
            if (ev->do_proto[p])
                g_string_append_printf(s, " %s |", proto_label[p]);
        g_string_append(s, "\n|");
        for (int p = 0; p < P_COUNT; p++)
            if (ev->do_proto[p])
                g_string_append(s, "---|");
        g_string_append(s, "\n|");
        for (int p = 0; p < P_COUNT; p++) {
            if (!ev->do_proto[p])
                continue;
            const ProtoAgg *a = &agg[mi][p];
            if (a->n)
                g_string_append_printf(s, " %.3f / %.3f |", a->alpha1[0] / a->n, a->alpha1[1] / a->n);
            else
                g_string_append(s, " – |");
        }
        g_string_append(s, "\n");
    }
    if (ev->do_noc) {
        g_string_append(s, "\nmIoU after k clicks:\n\n| mode |");
        int ks[] = {1, 2, 3, 5, 10, 15, 20};
        for (size_t i = 0; i < G_N_ELEMENTS(ks); i++)
            if (ks[i] <= ev->max_clicks)
                g_string_append_printf(s, " %d |", ks[i]);
        g_string_append(s, "\n|---|");
        for (size_t i = 0; i < G_N_ELEMENTS(ks); i++)
            if (ks[i] <= ev->max_clicks)
                g_string_append(s, "---|");
        g_string_append(s, "\n");
        for (int mi = 0; mi < ev->n_modes; mi++) {
            g_string_append_printf(s, "| %s |", mode_label(ev->modes[mi]));
            for (size_t i = 0; i < G_N_ELEMENTS(ks); i++)
                if (ks[i] <= ev->max_clicks)
                    g_string_append_printf(s, " %.1f |", noc[mi].n ? noc[mi].miou_at[ks[i] - 1] / noc[mi].n : 0.0);
            g_string_append(s, "\n");
        }
        g_autofree char *np = g_build_filename(ev->out, "noc_miou.png", NULL);
        if (g_file_test(np, G_FILE_TEST_EXISTS))
            g_string_append(s, "\n![mIoU vs clicks](noc_miou.png)\n");
    }
    static const char *const plots[][2] = { { "mIoU per prompt type", "miou_per_prompt.png" },
                                            { "ST per prompt type", "st_per_prompt.png" } };
    for (guint i = 0; i < G_N_ELEMENTS(plots); i++) {
        g_autofree char *pp = g_build_filename(ev->out, plots[i][1], NULL);
        if (g_file_test(pp, G_FILE_TEST_EXISTS))
            g_string_append_printf(s, "\n![%s](%s)\n", plots[i][0], plots[i][1]);
    }
    if (problems->len) {
        g_string_append_printf(s, "\n## Problems (%u)\n\n", problems->len);
        for (guint i = 0; i < problems->len; i++)
            g_string_append_printf(s, "- %s\n", (const char *)problems->pdata[i]);
    }
    g_autofree char *path = g_build_filename(ev->out, "results.md", NULL);
    gboolean ok = ssa_write_atomic(path, s->str, s->len, error);
    g_string_free(s, TRUE);
    return ok;
}

static void write_plots(const Eval *ev, ProtoAgg agg[2][P_COUNT], NocAgg noc[2])
{
    g_autoptr(GError) e = NULL;
    SsaPlotSeries series[2];
    double curve[2][SS_NOC_MAX_CLICKS], mi[2][P_COUNT], st[2][P_COUNT];
    const char *labels[P_COUNT], *st_labels[P_COUNT];
    int np = 0, nst = 0;
    /* plots of an earlier run in the same folder would be linked from results.md as if new */
    static const char *const names[] = { "noc_miou.png", "miou_per_prompt.png", "st_per_prompt.png" };
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *old = g_build_filename(ev->out, names[i], NULL);
        g_remove(old);
    }
    for (int p = 0; p < P_COUNT; p++) {
        if (ev->do_proto[p])
            labels[np++] = proto_label[p];
        if (ev->do_proto[p] && p != P_GT_BOX)
            st_labels[nst++] = proto_label[p];
    }
    for (int m = 0; m < ev->n_modes; m++) {
        int j = 0, sj = 0;
        for (int p = 0; p < P_COUNT; p++) {
            if (!ev->do_proto[p])
                continue;
            mi[m][j++] = agg[m][p].n ? agg[m][p].miou / agg[m][p].n : NAN;
            if (p != P_GT_BOX)
                st[m][sj++] = agg[m][p].n_st ? agg[m][p].st / agg[m][p].n_st : NAN;
        }
        for (int k = 0; k < ev->max_clicks; k++)
            curve[m][k] = noc[m].n ? noc[m].miou_at[k] / noc[m].n : NAN;
    }
    if (ev->do_noc) {
        for (int m = 0; m < ev->n_modes; m++)
            series[m] = (SsaPlotSeries){mode_label(ev->modes[m]), curve[m], ev->max_clicks};
        g_autofree char *path = g_build_filename(ev->out, "noc_miou.png", NULL);
        if (!ssa_plot_lines(path, "mIoU vs clicks (RITM simulator)", "clicks", "mIoU (%)", series,
                            ev->n_modes, 0, 100, &e))
            fprintf(stderr, "stablesam: %s\n", e->message);
        g_clear_error(&e);
    }
    if (np) {
        for (int m = 0; m < ev->n_modes; m++)
            series[m] = (SsaPlotSeries){mode_label(ev->modes[m]), mi[m], np};
        g_autofree char *p1 = g_build_filename(ev->out, "miou_per_prompt.png", NULL);
        if (!ssa_plot_bars(p1, "mIoU per prompt type", "mIoU (%)", labels, np, series, ev->n_modes,
                           0, 100, &e))
            fprintf(stderr, "stablesam: %s\n", e->message);
        g_clear_error(&e);
    }
    if (nst && ev->draws > 1) {
        for (int m = 0; m < ev->n_modes; m++)
            series[m] = (SsaPlotSeries){mode_label(ev->modes[m]), st[m], nst};
        g_autofree char *p2 = g_build_filename(ev->out, "st_per_prompt.png", NULL);
        g_autofree char *title = g_strdup_printf("Stability ST per prompt type (%d draws)", ev->draws);
        if (!ssa_plot_bars(p2, title, "ST (%)", st_labels, nst, series, ev->n_modes, 0, 100, &e))
            fprintf(stderr, "stablesam: %s\n", e->message);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* one image: what a worker computes, kept until the main thread merges it in image order */

typedef struct {
    char *key;             /* set/id_K */
    json_object *jo;       /* its row; NULL when it was not evaluated */
    char *problem;         /* "MASK: why" when the evaluation failed, else NULL */
    ProtoAgg agg[2][P_COUNT];
    NocResult nr[2];
} ObjectOut;

typedef struct {
    SsaEvalImage *im;
    int n_here;            /* objects of this image within --limit */
    GPtrArray *problems;   /* char*: image and mask problems found before evaluating */
    gboolean skipped;      /* no object evaluated (bad image, bad masks, no embedding) */
    ObjectOut *objs;       /* n_here */
    long n_decodes;
    double decode_ms;
    gboolean done;         /* set under the queue's lock */
} ImageJob;

typedef struct EvalQueue {
    ImageJob *jobs;
    int n_jobs;
    gint next;             /* next job to take (atomic) */
    GMutex lock;
    GCond cond;            /* a job is done */
} EvalQueue;

static void image_job_clear(ImageJob *job)
{
    if (job->problems)
        g_ptr_array_free(job->problems, TRUE);
    for (int oi = 0; job->objs && oi < job->n_here; oi++) {
        g_free(job->objs[oi].key);
        g_free(job->objs[oi].problem);
        if (job->objs[oi].jo)
            json_object_put(job->objs[oi].jo);
    }
    g_free(job->objs);
    job->problems = NULL;
    job->objs = NULL;
}

/* all protocols and modes of one object; FALSE with w->err set on failure */
static gboolean eval_object(Worker *w, const SsaEvalImage *im, const SsaEvalObject *ob,
                            const uint8_t *gt, const uint8_t *ign, uint8_t *uni, ObjectOut *out)
{
    const Eval *ev = w->ev;
    ProtoPrompts *pp = w->pp;
    ProtoResult *pres = w->pres;
    make_prompts(w, out->key, gt, ign, pp);
    json_object *jo = json_object_new_object();
    json_object_object_add(jo, "set", json_object_new_string(im->set));
    json_object_object_add(jo, "id", json_object_new_string(im->id));
    json_object_object_add(jo, "object", json_object_new_int(ob->k));
    json_object_object_add(jo, "image", json_object_new_string(im->path));
    json_object_object_add(jo, "mask", json_object_new_string(ob->mask_path));
    if (ob->ignore_path)
        json_object_object_add(jo, "ignore", json_object_new_string(ob->ignore_path));
    json_object_object_add(jo, "width", json_object_new_int(w->width));
    json_object_object_add(jo, "height", json_object_new_int(w->height));
    json_object_object_add(jo, "area", json_object_new_int64((int64_t)ss_mask_area(gt, w->width, w->height)));
    json_object *jpr = json_object_new_object();
    for (int p = 0; p < P_COUNT; p++)
        if (ev->do_proto[p])
            json_object_object_add(jpr, proto_key[p], prompts_json(&pp[p], p));
    json_object_object_add(jo, "prompts", jpr);
    json_object *jmodes = json_object_new_object();
    gboolean failed = FALSE;
    /* the ground truth's boundary, once for all the object's predictions */
    g_autofree uint8_t *gtb = g_malloc((size_t)w->width * w->height);
    if (ss_mask_boundary(gt, w->width, w->height, ss_boundary_width(w->width, w->height), gtb, w->err,
                         sizeof w->err)) {
        json_object_put(jmodes);
        json_object_put(jo);
        return FALSE;
    }
    for (int mi = 0; mi < ev->n_modes && !failed; mi++) {
        w->cur_mode = ev->modes[mi];
        json_object *jm = json_object_new_object();
        for (int p = 0; p < P_COUNT && !failed; p++) {
            if (!ev->do_proto[p])
                continue;
            if (run_protocol(w, p, &pp[p], gt, gtb, ign, uni, &pres[p])) {
                failed = TRUE;
                break;
            }
            ProtoAgg *oa = &out->agg[mi][p];
            if (pres[p].n) {
                double si = 0, sb = 0;
                for (int d = 0; d < pres[p].n; d++) {
                    si += pres[p].iou[d];
                    sb += pres[p].biou[d];
                }
                oa->miou = 100 * si / pres[p].n;
                oa->mbiou = 100 * sb / pres[p].n;
                oa->alpha1[0] = pres[p].alpha1[0];
                oa->alpha1[1] = pres[p].alpha1[1];
                oa->n = 1;
                if (!isnan(pres[p].st)) {
                    oa->st = 100 * pres[p].st;
                    oa->n_st = 1;
                }
            }
            json_object *jp = json_object_new_object();
            json_object_object_add(jp, "iou", jarr(pres[p].iou, pres[p].n, 100, 3));
            json_object_object_add(jp, "biou", jarr(pres[p].biou, pres[p].n, 100, 3));
            if (!isnan(pres[p].st))
                json_object_object_add(jp, "st", jnum(100 * pres[p].st, 3));
            if (w->cur_mode == SS_MODE_STABLE && pres[p].n)
                json_object_object_add(jp, "alpha1", jarr(pres[p].alpha1, 2, 1, 4));
            json_object_object_add(jm, proto_key[p], jp);
        }
        if (!failed && ev->do_noc) {
            ss_noc_session *ns = ss_noc_new(gt, ign, w->width, w->height, ev->max_clicks,
                                            w->err, sizeof w->err);
            ss_noc_params np = ss_noc_default_params();
            np.max_clicks = ev->max_clicks;
            if (!ns || ss_noc_run(ns, &np, noc_predict, w, w->err, sizeof w->err)) {
                failed = TRUE;
            } else {
                NocResult *r = &out->nr[mi];
                r->max_clicks = ev->max_clicks;
                memcpy(r->iou, ss_noc_ious(ns), sizeof(double) * ev->max_clicks);
                memcpy(r->clicks, ss_noc_clicks(ns), sizeof(ss_point) * ev->max_clicks);
                r->noc85 = ss_noc_clicks_to(ns, 0.85);
                r->noc90 = ss_noc_clicks_to(ns, 0.90);
                json_object *jn = json_object_new_object();
                json_object_object_add(jn, "iou", jarr(r->iou, ev->max_clicks, 100, 3));
                /* the same, unrounded (0..1, %.17g): lets the GUI's NoC session be
                   checked bit for bit */
                json_object *jx = json_object_new_array();
                for (int k = 0; k < ev->max_clicks; k++) {
                    char b[32];
                    snprintf(b, sizeof b, "%.17g", r->iou[k]);
                    json_object_array_add(jx, json_object_new_double_s(r->iou[k], b));
                }
                json_object_object_add(jn, "iou_exact", jx);
                json_object *jc = json_object_new_array();
                for (int k = 0; k < ev->max_clicks && r->clicks[k].label >= 0; k++)
                    json_object_array_add(jc, jpoint(&r->clicks[k]));
                json_object_object_add(jn, "clicks", jc);
                json_object_object_add(jn, "noc85", json_object_new_int(r->noc85));
                json_object_object_add(jn, "noc90", json_object_new_int(r->noc90));
                json_object_object_add(jm, "noc", jn);
            }
            ss_noc_free(ns);
        }
        json_object_object_add(jmodes, mode_key(ev->modes[mi]), jm);
    }
    if (failed) {
        json_object_put(jmodes);
        json_object_put(jo);
        return FALSE;
    }
    json_object_object_add(jo, "modes", jmodes);
    out->jo = jo;
    return TRUE;
}

/* One image: masks first (size from the image header: no encode for an image whose masks are
 * all bad), then its embedding (cache or encode, in w->state), then every object. Nothing is
 * printed here; the main thread reports job->problems and the objects' problems in order. */
static void eval_image(Worker *w, ImageJob *job)
{
    const Eval *ev = w->ev;
    const SsaEvalImage *im = job->im;
    const int n_here = job->n_here;
    long dec0 = w->n_decodes;
    double ms0 = w->decode_ms;
    g_autoptr(GError) e = NULL;
    gboolean cached;
    int iw = 0, ih = 0, n_ok = 0;
    job->problems = g_ptr_array_new_with_free_func(g_free);
    job->objs = g_new0(ObjectOut, n_here);
    uint8_t **gts = g_new0(uint8_t *, n_here), **igns = g_new0(uint8_t *, n_here);
    if (!ssa_image_file_sane(im->path) || !gdk_pixbuf_get_file_info(im->path, &iw, &ih)) {
        g_ptr_array_add(job->problems, g_strdup_printf("%s: not a readable image", im->path));
    } else {
        for (int oi = 0; oi < n_here; oi++) {
            g_clear_error(&e);
            if (ssa_dataset_load_object(im->objects->pdata[oi], iw, ih, &gts[oi], &igns[oi], &e))
                n_ok++;
            else
                g_ptr_array_add(job->problems, g_strdup(e->message));
        }
    }
    g_clear_error(&e);
    if (n_ok && !ssa_embedding_get(ev->model, w->state, ev->cache, im->path, NULL, NULL, &cached, &e)) {
        g_ptr_array_add(job->problems, g_strdup(e->message));
        n_ok = 0;
    }
    if (n_ok) {
        ss_state_image_size(w->state, &w->width, &w->height);
        if (w->width != iw || w->height != ih) { /* cannot happen unless the file changed */
            g_ptr_array_add(job->problems,
                            g_strdup_printf("%s: image is %dx%d but its embedding is for %dx%d",
                                            im->path, iw, ih, w->width, w->height));
            n_ok = 0;
        }
    }
    job->skipped = !n_ok;
    uint8_t *uni = n_ok ? g_malloc((size_t)w->width * w->height) : NULL;
    for (int oi = 0; oi < n_here; oi++) {
        const SsaEvalObject *ob = im->objects->pdata[oi];
        ObjectOut *out = &job->objs[oi];
        out->key = g_strdup_printf("%s/%s_%d", im->set, im->id, ob->k);
        if (n_ok && gts[oi] && !eval_object(w, im, ob, gts[oi], igns[oi], uni, out))
            out->problem = g_strdup_printf("%s: %s", ob->mask_path, w->err);
        g_free(gts[oi]);
        g_free(igns[oi]);
    }
    g_free(uni);
    g_free(gts);
    g_free(igns);
    job->n_decodes = w->n_decodes - dec0;
    job->decode_ms = w->decode_ms - ms0;
}

static gpointer worker_thread(gpointer data)
{
    Worker *w = data;
    EvalQueue *q = w->queue;
    for (;;) {
        int i = g_atomic_int_add(&q->next, 1);
        if (i >= q->n_jobs)
            break;
        eval_image(w, &q->jobs[i]);
        g_mutex_lock(&q->lock);
        q->jobs[i].done = TRUE;
        g_cond_broadcast(&q->cond);
        g_mutex_unlock(&q->lock);
    }
    return NULL;
}

/* the running sums: merged one image at a time, in image order, so that the float sums (and
 * results.json) do not depend on the number of workers */
typedef struct {
    ProtoAgg agg[2][P_COUNT];
    NocAgg noc[2];
    json_object *jobjs;
    GPtrArray *problems;
    SsaProgress prog;
    int n_seen, n_done;
} EvalSums;

static void report_problem(EvalSums *s, char *msg)
{
    fprintf(stderr, "%sstablesam: %s\n", s->prog.tty ? "\n" : "", msg);
    g_ptr_array_add(s->problems, msg);
}

static void merge_image(Eval *ev, EvalSums *s, ImageJob *job)
{
    for (guint i = 0; i < job->problems->len; i++)
        report_problem(s, g_steal_pointer(&job->problems->pdata[i]));
    ev->n_decodes += job->n_decodes;
    ev->decode_ms += job->decode_ms;
    if (job->skipped) {
        s->n_seen += job->n_here;
        ssa_progress_update(&s->prog, s->n_seen, job->im->path);
        return;
    }
    for (int oi = 0; oi < job->n_here; oi++) {
        ObjectOut *o = &job->objs[oi];
        s->n_seen++;
        if (o->problem)
            report_problem(s, g_steal_pointer(&o->problem));
        if (o->jo) {
            json_object_array_add(s->jobjs, g_steal_pointer(&o->jo));
            /* aggregates: per-object means, then the mean over objects */
            for (int mi = 0; mi < ev->n_modes; mi++) {
                for (int p = 0; p < P_COUNT; p++) {
                    const ProtoAgg *a = &o->agg[mi][p];
                    ProtoAgg *t = &s->agg[mi][p];
                    t->miou += a->miou;
                    t->mbiou += a->mbiou;
                    t->st += a->st;
                    t->alpha1[0] += a->alpha1[0];
                    t->alpha1[1] += a->alpha1[1];
                    t->n += a->n;
                    t->n_st += a->n_st;
                }
                if (ev->do_noc) {
                    NocAgg *a = &s->noc[mi];
                    const NocResult *r = &o->nr[mi];
                    int last = ev->max_clicks - 1;
                    a->noc85 += r->noc85;
                    a->noc90 += r->noc90;
                    a->nof85 += r->noc85 == ev->max_clicks && r->iou[last] < 0.85;
                    a->nof90 += r->noc90 == ev->max_clicks && r->iou[last] < 0.90;
                    for (int k = 0; k < ev->max_clicks; k++)
                        a->miou_at[k] += 100 * r->iou[k];
                    a->n++;
                }
            }
            s->n_done++;
        }
        ssa_progress_update(&s->prog, s->n_seen, o->key);
    }
}

/* Evaluates the jobs: in the calling thread when there is one worker, else one GThread per
 * worker taking the next image from the queue while this thread merges the finished ones in
 * order. */
static void run_jobs(Eval *ev, EvalSums *s, ImageJob *jobs, int n_jobs, Worker *workers)
{
    if (ev->n_workers == 1) {
        for (int i = 0; i < n_jobs; i++) {
            eval_image(&workers[0], &jobs[i]);
            merge_image(ev, s, &jobs[i]);
            image_job_clear(&jobs[i]);
        }
        return;
    }
    EvalQueue q = {.jobs = jobs, .n_jobs = n_jobs, .next = 0};
    g_mutex_init(&q.lock);
    g_cond_init(&q.cond);
    GThread **th = g_new0(GThread *, ev->n_workers);
    int n_started = 0;
    for (int t = 0; t < ev->n_workers; t++) {
        g_autoptr(GError) e = NULL;
        workers[t].queue = &q;
        th[t] = g_thread_try_new("eval-worker", worker_thread, &workers[t], &e);
        if (th[t])
            n_started++;
        else
            fprintf(stderr, "stablesam: eval: cannot start worker %d: %s\n", t + 1, e->message);
    }
    if (n_started == 0) /* the queue is shared: this thread does all the work, then merges */
        worker_thread(&workers[0]);
    for (int i = 0; i < n_jobs; i++) {
        g_mutex_lock(&q.lock);
        while (!jobs[i].done)
            g_cond_wait(&q.cond, &q.lock);
        g_mutex_unlock(&q.lock);
        merge_image(ev, s, &jobs[i]);
        image_job_clear(&jobs[i]);
    }
    for (int t = 0; t < ev->n_workers; t++)
        if (th[t])
            g_thread_join(th[t]);
    g_free(th);
    g_mutex_clear(&q.lock);
    g_cond_clear(&q.cond);
}

/* ---------------------------------------------------------------------------------------- */

int ssa_cmd_eval(int argc, char **argv)
{
    Eval *ev = g_new0(Eval, 1);
    const char *mode_opt = NULL;
    int rc = parse_eval_args(argc, argv, ev, &mode_opt);
    if (rc) {
        g_free(ev);
        return rc < 0 ? 0 : rc;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(SsaDataset) ds = ssa_dataset_scan(ev->dataset, ev->split, problems, &error);
    for (guint i = 0; i < problems->len; i++)
        fprintf(stderr, "stablesam: %s\n", (const char *)problems->pdata[i]);
    if (!ds) {
        fprintf(stderr, "stablesam: %s\n", error->message);
        g_free(ev);
        return 1;
    }
    if (g_mkdir_with_parents(ev->out, 0755) != 0) {
        fprintf(stderr, "stablesam: %s: %s\n", ev->out, g_strerror(errno));
        g_free(ev);
        return 1;
    }

    /* model and modes */
    g_autofree char *model_path = ssa_model_path(ev->model_opt);
    g_autofree char *plugin_path = ssa_plugin_path(ev->plugin_opt);
    ev->model_path = model_path;
    ev->plugin_path = plugin_path;
    if (!mode_opt)
        mode_opt = plugin_path ? "both" : "sam";
    gboolean want_stable = strcmp(mode_opt, "sam") != 0;
    if (want_stable && !plugin_path) {
        fprintf(stderr, "stablesam: %s: --mode %s needs the Stable-SAM plugin (--plugin FILE or "
                        "$STABLESAM_PLUGIN)\n", ev->plugin_opt ? ev->plugin_opt : "plugin", mode_opt);
        g_free(ev);
        return 1;
    }
    if (strcmp(mode_opt, "stable"))
        ev->modes[ev->n_modes++] = SS_MODE_SAM;
    if (want_stable)
        ev->modes[ev->n_modes++] = SS_MODE_STABLE;
    /* the jobs: one per image, the first n_total objects in data set order (the last image
       may be cut by --limit) */
    int n_total = ds->n_objects;
    if (ev->limit > 0 && ev->limit < n_total)
        n_total = ev->limit;
    ImageJob *jobs = g_new0(ImageJob, ds->images->len ? ds->images->len : 1);
    int n_jobs = 0;
    for (int n = 0; n_jobs < (int)ds->images->len && n < n_total; n_jobs++) {
        SsaEvalImage *im = ds->images->pdata[n_jobs];
        jobs[n_jobs].im = im;
        jobs[n_jobs].n_here = MIN((int)im->objects->len, n_total - n);
        n += jobs[n_jobs].n_here;
    }
    /* --threads N: N images at once, each worker single-threaded (the decoder's matrices are
       too small for threads inside one decode to pay off); N = 1: one image at a time, as
       ever. The engine's thread count is process-wide, so it is set once, here. */
    ev->n_workers = ev->threads > 0 ? ev->threads : (int)g_get_num_processors();
    if (ev->n_workers > n_jobs) /* one image (e.g. --limit 1): one worker with every thread */
        ev->n_workers = MAX(n_jobs, 1);
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = ev->n_workers > 1 ? 1 : ev->threads; /* 0 = every core */
    ev->model = ss_model_load(model_path, want_stable ? plugin_path : NULL, mp, ev->err,
                              sizeof ev->err);
    if (!ev->model) {
        fprintf(stderr, "stablesam: %s\n", ev->err);
        g_free(jobs);
        g_free(ev);
        return 1;
    }
    g_autofree char *cache = NULL;
    if (!ev->cache_opt)
        cache = ssa_embedding_cache_default();
    else if (strcmp(ev->cache_opt, "none"))
        cache = g_strdup(ev->cache_opt);
    ev->cache = cache;

    Worker *workers = g_new0(Worker, ev->n_workers);
    int n_states = 0;
    for (; n_states < ev->n_workers; n_states++) {
        workers[n_states].ev = ev;
        workers[n_states].state = ss_state_new(ev->model, ev->err, sizeof ev->err);
        if (!workers[n_states].state)
            break;
    }
    if (n_states < ev->n_workers) {
        fprintf(stderr, "stablesam: %s\n", ev->err);
        for (int t = 0; t < n_states; t++)
            ss_state_free(workers[t].state);
        g_free(workers);
        g_free(jobs);
        ss_model_free(ev->model);
        g_free(ev);
        return 1;
    }

    EvalSums *sums = g_new0(EvalSums, 1);
    sums->jobjs = json_object_new_array();
    sums->problems = problems;
    ssa_progress_init(&sums->prog, "eval", n_total);
    gint64 t0 = g_get_monotonic_time();
    run_jobs(ev, sums, jobs, n_jobs, workers);
    ssa_progress_done(&sums->prog);
    g_free(jobs);
    json_object *jobjs = sums->jobjs, *jprob = json_object_new_array();
    ProtoAgg (*agg)[P_COUNT] = sums->agg;
    NocAgg *noc = sums->noc;
    int n_done = sums->n_done;
    double secs = (g_get_monotonic_time() - t0) / 1e6;

    /* results.json */
    json_object *root = json_object_new_object();
    json_object_object_add(root, "dataset", json_object_new_string(ds->dir));
    json_object_object_add(root, "split", json_object_new_string(ds->split));
    json_object_object_add(root, "seed", json_object_new_uint64(ev->seed));
    json_object_object_add(root, "model", json_object_new_string(model_path));
    json_object_object_add(root, "model_hash", json_object_new_string(ss_model_hash(ev->model)));
    json_object_object_add(root, "plugin", want_stable ? json_object_new_string(plugin_path) : NULL);
    json_object_object_add(root, "protocol", json_object_new_string(ev->protocol));
    json_object_object_add(root, "draws", json_object_new_int(ev->draws));
    json_object_object_add(root, "noise", jnum(NOISE, 2));
    json_object_object_add(root, "max_clicks", json_object_new_int(ev->max_clicks));
    json_object_object_add(root, "units", json_object_new_string("IoU, BIoU and ST in percent"));
    json_object_object_add(root, "objects", jobjs);
    json_object *jagg = json_object_new_object();
    for (int mi = 0; mi < ev->n_modes; mi++) {
        json_object *jm = json_object_new_object();
        for (int p = 0; p < P_COUNT; p++) {
            if (!ev->do_proto[p])
                continue;
            const ProtoAgg *a = &agg[mi][p];
            json_object *jp = json_object_new_object();
            json_object_object_add(jp, "miou", a->n ? jnum(a->miou / a->n, 3) : NULL);
            json_object_object_add(jp, "mbiou", a->n ? jnum(a->mbiou / a->n, 3) : NULL);
            json_object_object_add(jp, "st", a->n_st ? jnum(a->st / a->n_st, 3) : NULL);
            if (ev->modes[mi] == SS_MODE_STABLE && a->n) {
                double al[2] = {a->alpha1[0] / a->n, a->alpha1[1] / a->n};
                json_object_object_add(jp, "alpha1", jarr(al, 2, 1, 4));
            }
            json_object_object_add(jp, "n", json_object_new_int(a->n));
            json_object_object_add(jm, proto_key[p], jp);
        }
        if (ev->do_noc) {
            const NocAgg *a = &noc[mi];
            json_object *jn = json_object_new_object();
            json_object_object_add(jn, "noc85", a->n ? jnum(a->noc85 / a->n, 3) : NULL);
            json_object_object_add(jn, "noc90", a->n ? jnum(a->noc90 / a->n, 3) : NULL);
            json_object_object_add(jn, "nof85", json_object_new_int(a->nof85));
            json_object_object_add(jn, "nof90", json_object_new_int(a->nof90));
            json_object *at = json_object_new_array();
            for (int k = 0; k < ev->max_clicks; k++)
                json_object_array_add(at, a->n ? jnum(a->miou_at[k] / a->n, 3) : NULL);
            json_object_object_add(jn, "miou_at", at);
            json_object_object_add(jn, "n", json_object_new_int(a->n));
            json_object_object_add(jm, "noc", jn);
        }
        json_object_object_add(jagg, mode_key(ev->modes[mi]), jm);
    }
    json_object_object_add(root, "aggregates", jagg);
    for (guint i = 0; i < problems->len; i++)
        json_object_array_add(jprob, json_object_new_string(problems->pdata[i]));
    json_object_object_add(root, "problems", jprob);
    json_object *jt = json_object_new_object();
    json_object_object_add(jt, "total_s", jnum(secs, 1));
    json_object_object_add(jt, "decodes", json_object_new_int64(ev->n_decodes));
    /* each decode timed on its own (in its worker): with several workers, decodes x mean
       exceeds total_s (wall time) */
    json_object_object_add(jt, "decode_ms_mean", jnum(ev->n_decodes ? ev->decode_ms / ev->n_decodes : 0, 2));
    json_object_object_add(jt, "workers", json_object_new_int(ev->n_workers));
    json_object_object_add(root, "timings", jt);
    /* compact: one object has ~150 predictions; results.md is the human view */
    const char *txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    g_autofree char *jpath = g_build_filename(ev->out, "results.json", NULL);
    rc = 0;
    if (!ssa_write_atomic(jpath, txt, strlen(txt), &error)) {
        fprintf(stderr, "stablesam: %s\n", error->message);
        g_clear_error(&error);
        rc = 1;
    }
    write_plots(ev, agg, noc); /* first: results.md links only the plots that exist */
    if (!write_markdown(ev, ds, agg, noc, problems, n_done, secs, &error)) {
        fprintf(stderr, "stablesam: %s\n", error->message);
        g_clear_error(&error);
        rc = 1;
    }
    json_object_put(root);
    fprintf(stderr, "eval: %d of %d objects evaluated in %.0f s wall time, %d worker%s (%d "
                    "problems) -> %s\n", n_done, n_total, secs, ev->n_workers,
            ev->n_workers == 1 ? "" : "s", problems->len, ev->out);
    if (n_done == 0)
        rc = 1;
    for (int t = 0; t < ev->n_workers; t++) {
        ss_result_clear(&workers[t].res);
        ss_state_free(workers[t].state);
    }
    g_free(workers);
    g_free(sums);
    ss_model_free(ev->model);
    g_free(ev);
    return rc;
}
