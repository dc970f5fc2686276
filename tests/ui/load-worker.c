/* load-worker.c — load test of the annotator's worker (SsaWorker, latest request wins).
 *
 * Sends N random prompts through the real worker on one encoded image, in bursts of 1-6
 * requests with cancellations, main-loop turns and short sleeps in between (so requests go
 * stale while queued, while decoding and after decoding). Prompts: boxes inside, inverted,
 * partly or wholly off the image, huge; NaN / inf in boxes, points or the mask input; no box
 * and no points; 1-10 points and 1,000 points; labels other than 0/1; SAM and Stable modes,
 * one or two modes per request, with and without the previous answer as mask input.
 *
 * Checks:
 *   - every "prediction" / "prediction-failed" signal is for the newest request, issued after
 *     the last cancellation (what the window applies to the document is only ever what the
 *     worker emits: ui/ssa-window.c on_prediction), and each generation comes at most once;
 *   - the last request of every burst that is not cancelled gets exactly one answer; a burst
 *     ending with a cancellation gets none;
 *   - prompts with non-finite values, no prompt or bad labels fail with a message; boxes inside
 *     the image succeed; every answer has the image's size;
 *   - every 25th answer is recomputed with ss_predict on a separate ss_state: same mask;
 *   - RSS (VmRSS) sampled after every burst stays within 5 % of its value after warm-up
 *     (the first 10 % of the prompts, at least 500 or half).
 *
 *   load-worker [--tap] [N_PROMPTS] [IMAGE]     model: $STABLESAM_MODEL or the cache;
 *   plugin: $STABLESAM_PLUGIN (the tests' random plugin by default, set by meson)
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model-path.h"
#include "ssa-worker.h"
#include "ssa-types.h"

typedef enum {
    P_BOX_IN, P_BOX_INVERTED, P_BOX_PARTLY_OFF, P_BOX_OFF, P_BOX_HUGE, P_POINTS, P_POINTS_1000,
    P_BOX_POINTS, P_EMPTY, P_NAN_BOX, P_INF_POINT, P_BAD_LABEL, P_NAN_MASK, N_KINDS
} Kind;
static const char *kind_names[N_KINDS] = {
    "box inside", "inverted box", "box partly off", "box off the image", "huge box", "1-10 points",
    "1000 points", "box + points", "no prompt", "NaN box", "inf point", "bad label", "NaN mask input"
};

typedef struct {
    SsaWorker *worker;
    SsaEmbedding *emb;
    ss_state *ref;             /* reference decodes */
    gboolean has_plugin;
    GRand *rand;
    /* the request whose answer is allowed: 0 = none (cancelled) */
    guint valid_gen;
    Kind valid_kind;
    SsaPrompt *valid_prompt;
    float *valid_mask_input;
    ss_mode valid_modes[2];
    int valid_n_modes;
    /* answers */
    gboolean answered;
    guint last_answer_gen;
    float last_low_res[SS_LOWRES_SIDE * SS_LOWRES_SIDE];
    gboolean have_low_res;
    /* counters */
    guint64 n_requests, n_cancels, n_stale, n_dupe, n_ok[N_KINDS], n_fail[N_KINDS], n_sent[N_KINDS];
    guint64 n_wrong_outcome, n_wrong_size, n_verified, n_mismatch, n_answers, n_lost, n_extra;
    char *first_problem;
} Load;

static void
problem(Load *L, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
problem(Load *L, const char *fmt, ...)
{
    if (L->first_problem)
        return;
    va_list ap;
    va_start(ap, fmt);
    L->first_problem = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static gboolean
must_fail(Kind k)
{
    return k == P_EMPTY || k == P_NAN_BOX || k == P_INF_POINT || k == P_BAD_LABEL || k == P_NAN_MASK;
}

static gboolean
must_succeed(Kind k)
{
    return k == P_BOX_IN || k == P_BOX_INVERTED || k == P_POINTS || k == P_BOX_POINTS ||
           k == P_POINTS_1000 || k == P_BOX_HUGE || k == P_BOX_PARTLY_OFF;
}

static void
check_answer(Load *L, guint generation)
{
    if (generation != L->valid_gen) {
        L->n_stale++;
        problem(L, "answer for request %u while the newest valid request is %u", generation, L->valid_gen);
        return;
    }
    if (generation == L->last_answer_gen) {
        L->n_dupe++;
        problem(L, "two answers for request %u", generation);
        return;
    }
    L->last_answer_gen = generation;
    L->answered = TRUE;
    L->n_answers++;
}

static void
on_prediction(SsaWorker *w, SsaPrediction *pred, Load *L)
{
    check_answer(L, pred->generation);
    if (pred->generation != L->valid_gen)
        return;
    Kind k = L->valid_kind;
    L->n_ok[k]++;
    if (must_fail(k)) {
        L->n_wrong_outcome++;
        problem(L, "%s: decoded instead of refused", kind_names[k]);
    }
    if (pred->width != L->emb->width || pred->height != L->emb->height ||
        pred->n_results != L->valid_n_modes) {
        L->n_wrong_size++;
        problem(L, "answer %dx%d with %d results", pred->width, pred->height, pred->n_results);
        return;
    }
    memcpy(L->last_low_res, pred->results[0].low_res, sizeof L->last_low_res);
    L->have_low_res = TRUE;
    if (L->n_answers % 25 != 0)
        return;
    /* recompute the last mode's answer on the reference state */
    int i = pred->n_results - 1;
    ss_prompt p = {
        .has_box = L->valid_prompt->has_box,
        .points = L->valid_prompt->points,
        .n_points = (int)L->valid_prompt->n_points,
        .mask_input = L->valid_mask_input,
    };
    memcpy(p.box, L->valid_prompt->box, sizeof p.box);
    ss_predict_params params = ss_predict_default_params();
    params.mode = L->valid_modes[i];
    ss_result r = {0};
    char err[256];
    if (ss_predict(L->ref, &p, &params, &r, err, sizeof err) != SS_OK) {
        L->n_mismatch++;
        problem(L, "reference decode failed where the worker succeeded: %s", err);
    } else if (memcmp(r.mask, pred->results[i].mask, (size_t)r.width * r.height) != 0) {
        L->n_mismatch++;
        problem(L, "%s: worker mask differs from the reference decode of the same prompt",
                kind_names[k]);
    }
    L->n_verified++;
    ss_result_clear(&r);
}

static void
on_failed(SsaWorker *w, guint generation, const char *message, Load *L)
{
    check_answer(L, generation);
    if (generation != L->valid_gen)
        return;
    Kind k = L->valid_kind;
    L->n_fail[k]++;
    if (must_succeed(k)) {
        L->n_wrong_outcome++;
        problem(L, "%s: refused: %s", kind_names[k], message);
    }
    if (!message || !*message || strchr(message, '\n'))
        problem(L, "failure message is not one line: '%s'", message ? message : "(null)");
}

static float
coord(Load *L, int side)
{
    return (float)g_rand_double_range(L->rand, 0, side);
}

static SsaPrompt *
random_prompt(Load *L, Kind k)
{
    SsaPrompt *p = ssa_prompt_new();
    int w = L->emb->width, h = L->emb->height;
    float x0 = coord(L, w), y0 = coord(L, h);
    float x1 = MIN(w, x0 + 2 + coord(L, w / 2)), y1 = MIN(h, y0 + 2 + coord(L, h / 2));
    if (x1 - x0 < 2) x0 = x1 - 2;
    if (y1 - y0 < 2) y0 = y1 - 2;

    switch (k) {
    case P_BOX_IN:
    case P_NAN_BOX:
    case P_BOX_POINTS:
        p->has_box = TRUE;
        p->box[0] = x0; p->box[1] = y0; p->box[2] = x1; p->box[3] = y1;
        if (k == P_NAN_BOX)
            p->box[g_rand_int_range(L->rand, 0, 4)] = NAN;
        if (k == P_BOX_POINTS)
            for (int i = g_rand_int_range(L->rand, 1, 4); i > 0; i--)
                ssa_prompt_add_point(p, coord(L, w), coord(L, h), g_rand_int_range(L->rand, 0, 2));
        break;
    case P_BOX_INVERTED:
        p->has_box = TRUE;
        p->box[0] = x1; p->box[1] = y1; p->box[2] = x0; p->box[3] = y0;
        break;
    case P_BOX_PARTLY_OFF:
        p->has_box = TRUE;
        p->box[0] = -coord(L, w); p->box[1] = -coord(L, h);
        p->box[2] = w + coord(L, w); p->box[3] = y1;
        break;
    case P_BOX_OFF:
        p->has_box = TRUE;   /* wholly outside: clamped to a line, refused, or decoded */
        p->box[0] = w + 10 + coord(L, w); p->box[1] = y0;
        p->box[2] = p->box[0] + 50; p->box[3] = y1;
        break;
    case P_BOX_HUGE:
        p->has_box = TRUE;
        p->box[0] = -1e30f; p->box[1] = -1e30f; p->box[2] = 1e30f; p->box[3] = 1e30f;
        break;
    case P_POINTS:
        for (int i = g_rand_int_range(L->rand, 1, 11); i > 0; i--)
            ssa_prompt_add_point(p, coord(L, w), coord(L, h), g_rand_int_range(L->rand, 0, 2));
        break;
    case P_POINTS_1000:
        for (int i = 0; i < 1000; i++)
            ssa_prompt_add_point(p, (float)g_rand_double_range(L->rand, -w, 2 * w),
                                 (float)g_rand_double_range(L->rand, -h, 2 * h),
                                 g_rand_int_range(L->rand, 0, 2));
        break;
    case P_EMPTY:
    case P_NAN_MASK:
        if (k == P_NAN_MASK)
            ssa_prompt_add_point(p, coord(L, w), coord(L, h), 1);
        break;
    case P_INF_POINT:
        ssa_prompt_add_point(p, coord(L, w), coord(L, h), 1);
        ssa_prompt_add_point(p, g_rand_boolean(L->rand) ? INFINITY : -INFINITY, coord(L, h), 0);
        break;
    case P_BAD_LABEL:
        ssa_prompt_add_point(p, coord(L, w), coord(L, h), 1);
        p->points[0].label = g_rand_boolean(L->rand) ? 2 : -1; /* as a broken caller would */
        break;
    default:
        g_assert_not_reached();
    }
    return p;
}

static long
rss_kb(void)
{
    g_autofree char *status = NULL;
    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL))
        return -1;
    const char *l = strstr(status, "VmRSS:");
    return l ? strtol(l + 6, NULL, 10) : -1;
}

static void
turn_main_loop(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

/* Runs the main loop until the valid request has been answered (or `ms` have passed). */
static gboolean
wait_answer(Load *L, guint ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (!L->answered && g_get_monotonic_time() < end) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(200);
    }
    return L->answered;
}

static void
model_loaded(GObject *src, GAsyncResult *res, gpointer data)
{
    GError **error = data;
    if (!ssa_worker_load_model_finish(SSA_WORKER(src), res, error) && !*error)
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "model did not load");
    else if (!*error)
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "ok");
}

static void
encoded(GObject *src, GAsyncResult *res, gpointer data)
{
    SsaEmbedding **emb = data;
    g_autoptr(GError) error = NULL;
    *emb = ssa_worker_encode_finish(SSA_WORKER(src), res, &error);
    if (!*emb)
        g_printerr("encode: %s\n", error->message);
}

int
main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "--tap") == 0)
        a++;
    guint64 n_prompts = a < argc ? g_ascii_strtoull(argv[a++], NULL, 10) : 10000;
    const char *image = a < argc ? argv[a++] : NULL;
    if (n_prompts == 0 || !image) {
        fprintf(stderr, "usage: %s [--tap] N_PROMPTS IMAGE\n", argv[0]);
        return 2;
    }
    g_autofree char *model_path = ssa_model_path(NULL);
    g_autofree char *plugin_path = ssa_plugin_path(NULL);
    if (!g_file_test(model_path, G_FILE_TEST_EXISTS)) {
        printf("1..0 # SKIP no model at %s\n", model_path);
        return 0;
    }
    /* embedding cache in a scratch folder, not the user's */
    g_autofree char *tmp = g_dir_make_tmp("ssa-load-XXXXXX", NULL);
    g_setenv("XDG_CACHE_HOME", tmp, TRUE);

    Load L = {0};
    const char *seed_env = g_getenv("LOAD_SEED");
    guint32 seed = seed_env ? (guint32)g_ascii_strtoull(seed_env, NULL, 10) : (guint32)g_get_real_time();
    L.rand = g_rand_new_with_seed(seed);
    L.worker = ssa_worker_new();
    g_autoptr(GError) load_error = NULL;
    ssa_worker_load_model_async(L.worker, model_path, plugin_path, NULL, model_loaded, &load_error);
    while (!load_error)
        g_main_context_iteration(NULL, TRUE);
    if (!g_error_matches(load_error, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
        printf("Bail out! %s\n", load_error->message);
        return 1;
    }
    L.has_plugin = ssa_worker_has_plugin(L.worker);
    ssa_worker_encode_async(L.worker, image, FALSE, NULL, encoded, &L.emb);
    gint64 t_enc = g_get_monotonic_time();
    while (!L.emb && g_get_monotonic_time() - t_enc < 600 * G_USEC_PER_SEC) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    }
    if (!L.emb) {
        printf("Bail out! %s: not encoded\n", image);
        return 1;
    }
    char err[256];
    ss_model *ref_model = ss_model_load(model_path, plugin_path, ss_model_default_params(), err, sizeof err);
    g_assert_nonnull(ref_model);
    L.ref = ss_state_new(ref_model, err, sizeof err);
    g_assert_nonnull(L.ref);
    g_assert_cmpint(ss_set_embedding(L.ref, L.emb->data, L.emb->width, L.emb->height, err, sizeof err), ==, SS_OK);
    /* the reference state's buffers are allocated by its first decodes (per mode, most points):
     * make them before RSS is measured */
    for (int m = 0; m < (L.has_plugin ? 2 : 1); m++) {
        g_autoptr(SsaPrompt) wp = random_prompt(&L, P_POINTS_1000);
        ss_prompt p = { .has_box = 1, .box = { 0, 0, 10, 10 }, .points = wp->points,
                        .n_points = (int)wp->n_points };
        ss_predict_params params = ss_predict_default_params();
        params.mode = m ? SS_MODE_STABLE : SS_MODE_SAM;
        ss_result r = {0};
        g_assert_cmpint(ss_predict(L.ref, &p, &params, &r, err, sizeof err), ==, SS_OK);
        ss_result_clear(&r);
    }
    g_signal_connect(L.worker, "prediction", G_CALLBACK(on_prediction), &L);
    g_signal_connect(L.worker, "prediction-failed", G_CALLBACK(on_failed), &L);

    printf("# seed %u (LOAD_SEED=%u repeats it), %" G_GUINT64_FORMAT " prompts on %s (%dx%d), "
           "plugin %s\n", seed, seed, n_prompts, image, L.emb->width, L.emb->height,
           plugin_path ? plugin_path : "none");
    fflush(stdout);

    guint64 warm = MAX(n_prompts / 10, MIN(500, n_prompts / 2)); /* rare kinds allocate late */
    long rss_warm = -1, rss_max = -1, rss_min = -1, rss_start = rss_kb();
    guint64 n_bursts = 0, n_bursts_cancelled = 0;
    gint64 t0 = g_get_monotonic_time(), t_warm = 0;
    while (L.n_requests < n_prompts) {
        int burst = g_rand_int_range(L.rand, 1, 7);
        n_bursts++;
        for (int b = 0; b < burst && L.n_requests < n_prompts; b++) {
            Kind k = (Kind)g_rand_int_range(L.rand, 0, N_KINDS);
            if (k == P_POINTS_1000 && g_rand_int_range(L.rand, 0, 4) != 0)
                k = P_POINTS; /* 1000-point decodes are slow: a quarter of their share */
            g_autoptr(SsaPrompt) p = random_prompt(&L, k);
            ss_mode modes[2] = { SS_MODE_SAM, SS_MODE_STABLE };
            int n_modes = 1;
            if (L.has_plugin) {
                int m = g_rand_int_range(L.rand, 0, 3);
                if (m == 1)
                    modes[0] = SS_MODE_STABLE, modes[1] = SS_MODE_SAM;
                n_modes = m == 2 ? 2 : 1;
            }
            float *mask_input = NULL;
            if (k == P_NAN_MASK) {
                mask_input = g_new0(float, SS_LOWRES_SIDE * SS_LOWRES_SIDE);
                mask_input[g_rand_int_range(L.rand, 0, SS_LOWRES_SIDE * SS_LOWRES_SIDE)] = NAN;
            } else if (L.have_low_res && p->n_points > 0 && g_rand_boolean(L.rand)) {
                mask_input = g_memdup2(L.last_low_res, sizeof L.last_low_res);
            }
            guint gen = ssa_worker_predict(L.worker, L.emb, p, mask_input, modes, n_modes, FALSE);
            L.n_requests++;
            L.n_sent[k]++;
            L.valid_gen = gen;
            L.valid_kind = k;
            g_clear_pointer(&L.valid_prompt, ssa_prompt_free);
            L.valid_prompt = g_steal_pointer(&p);
            g_clear_pointer(&L.valid_mask_input, g_free);
            L.valid_mask_input = mask_input;
            memcpy(L.valid_modes, modes, sizeof modes);
            L.valid_n_modes = n_modes;
            L.answered = FALSE;
            /* between requests: nothing, a cancellation, a main-loop turn, or a short wait */
            gboolean last = b == burst - 1 || L.n_requests == n_prompts;
            int what = g_rand_int_range(L.rand, 0, 10);
            if (what == 0 || (last && what == 1)) {
                ssa_worker_cancel_predictions(L.worker);
                L.n_cancels++;
                L.valid_gen = 0;
            } else if (what < 4 && !last) {
                turn_main_loop();
            } else if (what < 6 && !last) {
                g_usleep(g_rand_int_range(L.rand, 0, 4000));
                turn_main_loop();
            }
        }
        if (L.valid_gen != 0) {
            if (!wait_answer(&L, 60000)) {
                L.n_lost++;
                problem(&L, "request %u (%s) got no answer in 60 s", L.valid_gen, kind_names[L.valid_kind]);
            }
        } else {
            /* cancelled burst: let the worker drain, nothing may arrive */
            n_bursts_cancelled++;
            gint64 end = g_get_monotonic_time() + 30000;
            while (g_get_monotonic_time() < end)
                if (!g_main_context_iteration(NULL, FALSE))
                    g_usleep(500);
            if (L.answered) {
                L.n_extra++;
                problem(&L, "an answer arrived after the cancellation");
            }
        }
        long rss = rss_kb();
        if (L.n_requests >= warm) {
            if (rss_warm < 0) {
                rss_warm = rss_min = rss_max = rss;
                t_warm = g_get_monotonic_time();
            }
            rss_min = MIN(rss_min, rss);
            rss_max = MAX(rss_max, rss);
        }
        if (L.n_requests % 1000 < (guint64)burst)
            printf("# %" G_GUINT64_FORMAT " prompts, %.0f s, RSS %ld kB\n", L.n_requests,
                   (g_get_monotonic_time() - t0) / 1e6, rss), fflush(stdout);
    }
    double secs = (g_get_monotonic_time() - t0) / 1e6;
    long rss_end = rss_kb();

    int n = 0;
    gboolean all_ok = TRUE;
#define TAP(cond, ...) do { gboolean c_ = (cond); all_ok &= c_; printf("%s %d - ", c_ ? "ok" : "not ok", ++n); \
                            printf(__VA_ARGS__); printf("\n"); } while (0)
    printf("# %" G_GUINT64_FORMAT " requests in %" G_GUINT64_FORMAT " bursts (%" G_GUINT64_FORMAT
           " ended by a cancellation), %" G_GUINT64_FORMAT " cancellations, %" G_GUINT64_FORMAT
           " answers, in %.1f s (%.1f prompts/s)\n", L.n_requests, n_bursts, n_bursts_cancelled,
           L.n_cancels, L.n_answers, secs, L.n_requests / secs);
    for (int k = 0; k < N_KINDS; k++)
        printf("#   %-18s sent %5" G_GUINT64_FORMAT "  answered: decoded %5" G_GUINT64_FORMAT
               ", refused %5" G_GUINT64_FORMAT "\n", kind_names[k], L.n_sent[k], L.n_ok[k], L.n_fail[k]);
    printf("# RSS: start %ld kB, after warm-up (%" G_GUINT64_FORMAT " prompts, %.0f s) %ld kB, "
           "min %ld, max %ld, end %ld kB (max %+.2f %% of warm-up)\n", rss_start, warm,
           (t_warm - t0) / 1e6, rss_warm, rss_min, rss_max, rss_end,
           100.0 * (rss_max - rss_warm) / rss_warm);
    if (L.first_problem)
        printf("# first problem: %s\n", L.first_problem);
    TAP(L.n_stale == 0 && L.n_dupe == 0, "no stale or repeated answer emitted (%" G_GUINT64_FORMAT
        " stale, %" G_GUINT64_FORMAT " repeated)", L.n_stale, L.n_dupe);
    TAP(L.n_lost == 0, "every burst's last request answered (%" G_GUINT64_FORMAT " lost)", L.n_lost);
    TAP(L.n_extra == 0, "no answer after a cancellation (%" G_GUINT64_FORMAT ")", L.n_extra);
    TAP(L.n_wrong_outcome == 0, "bad prompts refused, good ones decoded (%" G_GUINT64_FORMAT " wrong)",
        L.n_wrong_outcome);
    TAP(L.n_wrong_size == 0, "answers have the image's size and one result per mode");
    TAP(L.n_verified > 0 && L.n_mismatch == 0, "%" G_GUINT64_FORMAT " answers recomputed: same masks (%"
        G_GUINT64_FORMAT " differ)", L.n_verified, L.n_mismatch);
    TAP(rss_warm > 0 && rss_max <= rss_warm * 1.05 && rss_min >= rss_warm * 0.95,
        "RSS within 5 %% of %ld kB after warm-up (min %ld, max %ld)", rss_warm, rss_min, rss_max);
    printf("1..%d\n", n);

    g_clear_pointer(&L.valid_prompt, ssa_prompt_free);
    g_clear_pointer(&L.valid_mask_input, g_free);
    ssa_embedding_unref(L.emb);
    g_object_unref(L.worker);
    ss_state_free(L.ref);
    ss_model_free(ref_model);
    g_rand_free(L.rand);
    g_free(L.first_problem);
    /* scratch embedding cache */
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        g_printerr("could not remove %s\n", tmp);
    return all_ok ? 0 : 1;
}
