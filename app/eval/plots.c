/* plots.c — small PNG charts for `stablesam eval` drawn with Cairo: a line plot (mIoU vs
 * clicks) and grouped bars (mIoU / ST per prompt type), one colour per mode. */
#define G_LOG_DOMAIN "stablesam-eval"
#include <cairo.h>
#include <math.h>
#include <stdio.h>

#include "eval-private.h"

enum { PW = 900, PH = 520, ML = 70, MR = 30, MT = 50, MB = 90 };

static const double palette[4][3] = {
    {0.27, 0.42, 0.70}, /* SAM: blue */
    {0.90, 0.45, 0.10}, /* Stable-SAM: orange */
    {0.30, 0.65, 0.30},
    {0.55, 0.35, 0.65},
};

static double ymap(double v, double ymin, double ymax)
{
    return MT + (PH - MT - MB) * (1.0 - (v - ymin) / (ymax - ymin));
}

static void text(cairo_t *cr, double x, double y, const char *s, double align, double size,
                 gboolean bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    cairo_move_to(cr, x - align * te.x_advance, y);
    cairo_show_text(cr, s);
}

static cairo_t *frame(cairo_surface_t **surf, const char *title, const char *ylabel,
                      double ymin, double ymax)
{
    *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PW, PH);
    cairo_t *cr = cairo_create(*surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, PW / 2.0, 30, title, 0.5, 17, TRUE);
    /* horizontal grid + y ticks every 10 % of the range */
    cairo_set_line_width(cr, 1);
    char buf[32];
    for (int i = 0; i <= 10; i++) {
        double v = ymin + (ymax - ymin) * i / 10.0, y = ymap(v, ymin, ymax);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, ML, floor(y) + 0.5);
        cairo_line_to(cr, PW - MR, floor(y) + 0.5);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(buf, sizeof buf, "%g", v);
        text(cr, ML - 8, y + 4, buf, 1.0, 12, FALSE);
    }
    cairo_save(cr);
    cairo_translate(cr, 20, MT + (PH - MT - MB) / 2.0);
    cairo_rotate(cr, -G_PI / 2);
    text(cr, 0, 0, ylabel, 0.5, 13, FALSE);
    cairo_restore(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_rectangle(cr, ML + 0.5, MT + 0.5, PW - ML - MR, PH - MT - MB);
    cairo_stroke(cr);
    return cr;
}

static void legend(cairo_t *cr, const SsaPlotSeries *series, int n)
{
    double x = ML + 15, y = PH - 25;
    for (int s = 0; s < n; s++) {
        const double *c = palette[s % 4];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_rectangle(cr, x, y - 10, 22, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text(cr, x + 28, y, series[s].label, 0, 13, FALSE);
        x += 170;
    }
}

static gboolean finish(cairo_t *cr, cairo_surface_t *surf, const char *path, GError **error)
{
    cairo_destroy(cr);
    cairo_status_t st = cairo_surface_write_to_png(surf, path);
    cairo_surface_destroy(surf);
    if (st != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: cannot write PNG: %s", path,
                    cairo_status_to_string(st));
        return FALSE;
    }
    return TRUE;
}

gboolean ssa_plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                        const SsaPlotSeries *series, int n_series, double ymin, double ymax,
                        GError **error)
{
    cairo_surface_t *surf;
    cairo_t *cr = frame(&surf, title, ylabel, ymin, ymax);
    int n = 0;
    for (int s = 0; s < n_series; s++)
        n = MAX(n, series[s].n);
    double x0 = ML + 20, x1 = PW - MR - 20;
    char buf[32];
    for (int i = 0; i < n; i++) {
        double x = n > 1 ? x0 + (x1 - x0) * i / (n - 1) : (x0 + x1) / 2;
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(buf, sizeof buf, "%d", i + 1);
        text(cr, x, PH - MB + 18, buf, 0.5, 12, FALSE);
    }
    text(cr, (x0 + x1) / 2, PH - MB + 40, xlabel, 0.5, 13, FALSE);
    for (int s = 0; s < n_series; s++) {
        const double *c = palette[s % 4];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_set_line_width(cr, 2.5);
        gboolean pen = FALSE;
        for (int i = 0; i < series[s].n; i++) {
            double v = series[s].y[i];
            if (!isfinite(v)) {
                pen = FALSE;
                continue;
            }
            double x = n > 1 ? x0 + (x1 - x0) * i / (n - 1) : (x0 + x1) / 2;
            double y = ymap(CLAMP(v, ymin, ymax), ymin, ymax);
            if (pen)
                cairo_line_to(cr, x, y);
            else
                cairo_move_to(cr, x, y);
            pen = TRUE;
        }
        cairo_stroke(cr);
        for (int i = 0; i < series[s].n; i++) {
            double v = series[s].y[i];
            if (!isfinite(v))
                continue;
            double x = n > 1 ? x0 + (x1 - x0) * i / (n - 1) : (x0 + x1) / 2;
            cairo_arc(cr, x, ymap(CLAMP(v, ymin, ymax), ymin, ymax), 3.5, 0, 2 * G_PI);
            cairo_fill(cr);
        }
    }
    legend(cr, series, n_series);
    return finish(cr, surf, path, error);
}

gboolean ssa_plot_bars(const char *path, const char *title, const char *ylabel,
                       const char *const *group_labels, int n_groups, const SsaPlotSeries *series,
                       int n_series, double ymin, double ymax, GError **error)
{
    cairo_surface_t *surf;
    cairo_t *cr = frame(&surf, title, ylabel, ymin, ymax);
    double gw = (double)(PW - ML - MR) / MAX(n_groups, 1);
    double bw = gw * 0.8 / MAX(n_series, 1);
    char buf[32];
    for (int g = 0; g < n_groups; g++) {
        double gx = ML + g * gw + gw * 0.1;
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        text(cr, ML + g * gw + gw / 2, PH - MB + 18, group_labels[g], 0.5, 12, FALSE);
        for (int s = 0; s < n_series; s++) {
            if (g >= series[s].n || !isfinite(series[s].y[g]))
                continue;
            double v = CLAMP(series[s].y[g], ymin, ymax);
            double y = ymap(v, ymin, ymax), yb = ymap(ymin, ymin, ymax);
            const double *c = palette[s % 4];
            cairo_set_source_rgb(cr, c[0], c[1], c[2]);
            cairo_rectangle(cr, gx + s * bw, y, bw - 2, yb - y);
            cairo_fill(cr);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            snprintf(buf, sizeof buf, "%.1f", series[s].y[g]);
            text(cr, gx + s * bw + (bw - 2) / 2, y - 4, buf, 0.5, 10, FALSE);
        }
    }
    legend(cr, series, n_series);
    return finish(cr, surf, path, error);
}
