/* annotator-latency.c — prompt → mask-on-screen latency of the real annotator window.
 *
 * Opens IMAGE in a real SsaWindow (the same window, worker, canvas and document code as
 * stablesam-annotate), waits until the embedding is ready (so every prompt runs with the
 * embedding cached), then replays N prompts through the canvas's own gesture signals
 * ("box-drag", "point-click" — what a mouse drag or click emits), one after the other:
 *   box    a box drag: DRAG_STEPS intermediate boxes 16 ms apart while the button is down
 *          (each one a request; older ones go stale), then the release; timed from the release
 *   click  a new single positive click (the prompt is cleared first)
 *   refine one more point (positive or negative, alternating) on the current prompt; the
 *          previous low-res logits are fed back as mask input, as the window does
 * For each prompt it records, from the moment the final gesture signal is emitted:
 *   applied  the window has the prediction for that request (worker result handed over on
 *            the main loop and given to the canvas);
 *   screen   the end of the first frame painted after that (GdkFrameClock "after-paint" of
 *            the window's surface: the GSK renderer has drawn the mask into the X window).
 * Prints p50 / p95 / max of both, the worker's own decode time, the number of stale requests
 * dropped (latest request wins), and the process's peak RSS (VmHWM) with the image open.
 *
 * usage: annotator-latency IMAGE [--n N] [--mode sam|stable] [--plugin FILE|none]
 *                              [--circles] [--seed S] [--json OUT.json]
 * Run under X (Xvfb) with GSK_RENDERER=cairo GSETTINGS_BACKEND=memory, see bench/latency.sh.
 * Exit status 0 only when every prompt's mask was painted (meson runs a short smoke test). */
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ssa-application.h"
#include "ssa-window-private.h"
#include "model-path.h"
#include "ssa-memory.h"

#define DRAG_STEPS 6

typedef struct {
    gint64 last_paint;  /* monotonic µs of the newest after-paint */
    guint n_paints;
} PaintClock;

static void
on_after_paint(GdkFrameClock *clock, PaintClock *pc)
{
    pc->last_paint = g_get_monotonic_time();
    pc->n_paints++;
}

static void
on_prediction(SsaWorker *worker, SsaPrediction *pred, guint *n_delivered)
{
    (*n_delivered)++;
}

static gboolean
wait_until(gboolean (*cond)(SsaWindow *), SsaWindow *win, double seconds)
{
    gint64 end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
    while (!cond(win)) {
        if (g_get_monotonic_time() > end)
            return FALSE;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(200);
    }
    return TRUE;
}

static gboolean
is_ready(SsaWindow *w)
{
    return w->model_ready && w->embedding != NULL && w->texture != NULL &&
           gtk_widget_get_width(GTK_WIDGET(w->canvas)) > 0;
}

static gboolean
failed(SsaWindow *w)
{
    return w->model_failed;
}

static void
spin(guint ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(200);
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* nearest-rank percentile of a sorted array */
static double
pct(const double *v, int n, double p)
{
    int k = (int)ceil(p / 100.0 * n) - 1;
    return v[CLAMP(k, 0, n - 1)];
}

static long
peak_rss_kb(void)
{
    g_autofree char *status = NULL;
    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL))
        return -1;
    const char *p = strstr(status, "VmHWM:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

typedef struct {
    double *applied, *screen, *decode;
    int n;
} Series;

static void
summary(const char *name, double *v, int n, GString *json)
{
    qsort(v, n, sizeof *v, cmp_double);
    printf("  %-22s p50 %7.1f  p95 %7.1f  max %7.1f ms\n", name, pct(v, n, 50), pct(v, n, 95), v[n - 1]);
    g_string_append_printf(json, "\"%s\": {\"p50\": %.2f, \"p95\": %.2f, \"max\": %.2f}", name,
                           pct(v, n, 50), pct(v, n, 95), v[n - 1]);
}

int
main(int argc, char **argv)
{
    ssa_memory_tune(); /* as stablesam-annotate's main() */
    int n = 240, seed = 1;
    const char *mode = "stable", *plugin = NULL, *json_out = NULL;
    gboolean circles = FALSE;
    const char *image = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--plugin") && i + 1 < argc)
            plugin = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_out = argv[++i];
        else if (!strcmp(argv[i], "--circles"))
            circles = TRUE;
        else if (argv[i][0] != '-' && !image)
            image = argv[i];
        else {
            fprintf(stderr, "usage: annotator-latency IMAGE [--n N] [--mode sam|stable] "
                            "[--plugin FILE|none] [--circles] [--seed S] [--json OUT.json]\n");
            return 2;
        }
    }
    if (!image || n < 3 || (strcmp(mode, "sam") && strcmp(mode, "stable"))) {
        fprintf(stderr, "usage: annotator-latency IMAGE [--n N>=3] [--mode sam|stable] ...\n");
        return 2;
    }
    if (!g_file_test(image, G_FILE_TEST_IS_REGULAR)) {
        fprintf(stderr, "annotator-latency: %s: no such file\n", image);
        return 1;
    }


    gtk_init();
    SsaApplication *app = ssa_application_new();
    g_application_register(G_APPLICATION(app), NULL, NULL);
    GSettings *settings = ssa_application_get_settings(app);
    if (!settings)
        return 1;
    g_settings_set_string(settings, "mode", mode);
    g_settings_set_boolean(settings, "compare", FALSE);
    g_settings_set_boolean(settings, "show-circles", circles);

    /* the project and the embedding cache go to a scratch folder: the bench never writes next
     * to the image or into the user's cache (the model is found first, then XDG_CACHE_HOME moves) */
    g_autofree char *model_path = ssa_model_path(NULL);
    if (!g_file_test(model_path, G_FILE_TEST_IS_REGULAR)) {
        fprintf(stderr, "annotator-latency: %s: no model (stablesam fetch-model)\n", model_path);
        return 77; /* meson: skipped */
    }
    g_autofree char *tmp = g_dir_make_tmp("ssa-latency-XXXXXX", NULL);
    g_autofree char *project = g_build_filename(tmp, "project.json", NULL);
    g_autofree char *cache = g_build_filename(tmp, "cache", NULL);
    g_setenv("STABLESAM_MODEL", model_path, TRUE);
    g_setenv("XDG_CACHE_HOME", cache, TRUE);
    g_autofree char *plugin_path = ssa_plugin_path(plugin);
    SsaWindow *win = ssa_window_new(app, model_path, plugin_path);
    g_autoptr(GFile) file = g_file_new_for_path(image);
    g_autoptr(GError) error = NULL;
    if (!ssa_window_open(win, &file, 1, project, &error)) {
        fprintf(stderr, "annotator-latency: %s\n", error->message);
        return 1;
    }
    gtk_window_present(GTK_WINDOW(win));
    gint64 t_open = g_get_monotonic_time();
    if (!wait_until(is_ready, win, 900)) {
        fprintf(stderr, "annotator-latency: %s: %s\n", image,
                failed(win) ? gtk_label_get_text(win->error_label) : "no embedding after 900 s");
        return 1;
    }
    printf("image %s %dx%d, embedding ready after %.0f ms (mode %s%s, plugin %s)\n", image,
           ssa_canvas_get_image_width(win->canvas), ssa_canvas_get_image_height(win->canvas),
           (g_get_monotonic_time() - t_open) / 1000.0, mode, circles ? ", circles on" : "",
           ssa_worker_has_plugin(win->worker) ? plugin_path : "none");
    fflush(stdout);
    if (!strcmp(mode, "stable") && !ssa_worker_has_plugin(win->worker))
        printf("note: no plugin, the window runs SAM\n");
    spin(500);

    GdkFrameClock *clock = gtk_widget_get_frame_clock(GTK_WIDGET(win));
    PaintClock pc = { 0 };
    g_signal_connect(clock, "after-paint", G_CALLBACK(on_after_paint), &pc);

    int iw = ssa_canvas_get_image_width(win->canvas), ih = ssa_canvas_get_image_height(win->canvas);
    GRand *rand = g_rand_new_with_seed((guint32)seed);
    double *applied = g_new(double, n), *screen = g_new(double, n), *decode = g_new(double, n);
    int kinds[3] = { 0 }, failures = 0, done = 0;
    guint n_delivered = 0, n_requests = 0;
    g_signal_connect(win->worker, "prediction", G_CALLBACK(on_prediction), &n_delivered);
    for (int i = 0; i < n; i++) {
        int kind = i % 3; /* 0 box, 1 click, 2 refine */
        gint64 t0;
        if (kind == 0) {
            double cx = g_rand_double_range(rand, 0.2, 0.8) * iw, cy = g_rand_double_range(rand, 0.2, 0.8) * ih;
            double hw = g_rand_double_range(rand, 0.05, 0.3) * iw, hh = g_rand_double_range(rand, 0.05, 0.3) * ih;
            double x0 = MAX(0, cx - hw), y0 = MAX(0, cy - hh);
            double x1 = MIN(iw - 1, cx + hw), y1 = MIN(ih - 1, cy + hh);
            for (int s = 1; s <= DRAG_STEPS; s++) {
                double f = (double)s / (DRAG_STEPS + 1);
                g_signal_emit_by_name(win->canvas, "box-drag", x0, y0, x0 + (x1 - x0) * f,
                                      y0 + (y1 - y0) * f, FALSE);
                n_requests++;
                spin(16);
            }
            t0 = g_get_monotonic_time();
            g_signal_emit_by_name(win->canvas, "box-drag", x0, y0, x1, y1, TRUE);
        } else {
            double x = g_rand_double_range(rand, 0.1, 0.9) * iw, y = g_rand_double_range(rand, 0.1, 0.9) * ih;
            if (kind == 1)
                ssa_window_clear_prompt(win);
            spin(5);
            t0 = g_get_monotonic_time();
            g_signal_emit_by_name(win->canvas, "point-click", x, y, kind == 1 || (i / 3) % 2 ? 1 : 0);
        }
        n_requests++;
        guint gen = win->pending_generation;
        if (gen == 0) {
            failures++;
            continue;
        }
        gint64 end = t0 + 30 * G_USEC_PER_SEC, t_applied = 0, t_screen = 0;
        while (g_get_monotonic_time() < end) {
            g_main_context_iteration(NULL, FALSE);
            if (!t_applied && win->prediction && win->prediction->generation == gen) {
                t_applied = g_get_monotonic_time();
                pc.last_paint = 0;
            }
            if (t_applied && pc.last_paint >= t_applied) {
                t_screen = pc.last_paint;
                break;
            }
            g_usleep(100);
        }
        if (!t_screen) {
            failures++;
            continue;
        }
        applied[done] = (t_applied - t0) / 1000.0;
        screen[done] = (t_screen - t0) / 1000.0;
        decode[done] = win->prediction->results[0].ms;
        kinds[kind]++;
        done++;
        spin(20); /* a user does not click at 50 Hz; lets the worker go idle */
    }
    long rss = peak_rss_kb();

    printf("%d prompts replayed (%d box drags with %d intermediate requests each, %d clicks, "
           "%d refinements), %d failed; %u requests, %u results delivered, %u stale ones dropped\n",
           done, kinds[0], DRAG_STEPS, kinds[1], kinds[2], failures, n_requests, n_delivered,
           n_requests - n_delivered);
    GString *json = g_string_new("{");
    g_string_append_printf(json, "\"image\": \"%s\", \"width\": %d, \"height\": %d, \"mode\": \"%s\", "
                           "\"circles\": %s, \"n\": %d, \"failed\": %d, ", image, iw, ih, mode,
                           circles ? "true" : "false", done, failures);
    if (done > 0) {
        summary("request->applied", applied, done, json);
        g_string_append(json, ", ");
        summary("request->on screen", screen, done, json);
        g_string_append(json, ", ");
        summary("worker decode", decode, done, json);
        g_string_append(json, ", ");
    }
    printf("  peak RSS (VmHWM) %.1f MB\n", rss / 1024.0);
    g_string_append_printf(json, "\"peak_rss_mb\": %.1f}\n", rss / 1024.0);
    if (json_out && !g_file_set_contents(json_out, json->str, -1, &error)) {
        fprintf(stderr, "annotator-latency: %s\n", error->message);
        return 1;
    }
    g_string_free(json, TRUE);

    gtk_window_destroy(GTK_WINDOW(win));
    spin(200);
    g_rand_free(rand);
    g_free(applied);
    g_free(screen);
    g_free(decode);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", tmp);
    if (system(rm) != 0)
        fprintf(stderr, "annotator-latency: could not remove %s\n", tmp);
    return done == n ? 0 : 1;
}
