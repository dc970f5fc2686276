/* cli-util.c — helpers shared by the `stablesam` subcommands. */
#define G_LOG_DOMAIN "stablesam-cli"
#include "cli-util.h"

#include <cairo.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ssa_die_error(const GError *error)
{
    fprintf(stderr, "stablesam: %s\n", error ? error->message : "unknown error");
}

void ssa_die_msg(const char *what, const char *problem)
{
    fprintf(stderr, "stablesam: %s: %s\n", what, problem);
}

float *ssa_read_f32(const char *path, size_t n, GError **error)
{
    gchar *data = NULL;
    gsize len = 0;
    GError *local = NULL;
    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", local->message);
        g_clear_error(&local);
        return NULL;
    }
    if (len != n * sizeof(float)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %zu bytes, expected %zu (%zu float32 values)", path,
                    (size_t)len, n * sizeof(float), n);
        g_free(data);
        return NULL;
    }
    return (float *)(void *)data;
}

void ssa_grid_to_image(float gx, float gy, int width, int height, double *x, double *y)
{
    int nw, nh;
    ss_target_size(width, height, &nw, &nh);
    /* a grid cell is 16 px of the 1024 frame; the frame maps back by W/newW, H/newH */
    *x = (gx + 0.5) * 16.0 * width / nw;
    *y = (gy + 0.5) * 16.0 * height / nh;
}

gboolean ssa_trace_write_json(const char *path, const ss_trace *t, int width, int height, GError **error)
{
    if (!t) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: no trace", path);
        return FALSE;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "mode", json_object_new_string(t->mode == SS_MODE_STABLE ? "stable" : "sam"));
    json_object_object_add(o, "grid", json_object_new_int(SS_EMB_SIDE));
    json_object *al = json_object_new_array();
    for (int b = 0; b < 2; b++) {
        json_object *p = json_object_new_array();
        json_object_array_add(p, json_object_new_double(t->alpha[b][0]));
        json_object_array_add(p, json_object_new_double(t->alpha[b][1]));
        json_object_array_add(al, p);
    }
    json_object_object_add(o, "alpha", al);
    json_object *pts = json_object_new_array_ext(SS_EMB_SIDE * SS_EMB_SIDE);
    for (int i = 0; i < SS_EMB_SIDE * SS_EMB_SIDE; i++) {
        json_object *p = json_object_new_object();
        double x, y;
        ssa_grid_to_image(t->pos[i][0], t->pos[i][1], width, height, &x, &y);
        json_object_object_add(p, "w", json_object_new_double(t->weight[i]));
        json_object_object_add(p, "g", json_object_new_int(i));
        json_object *sp = json_object_new_array();
        json_object_array_add(sp, json_object_new_double(t->pos[i][0]));
        json_object_array_add(sp, json_object_new_double(t->pos[i][1]));
        json_object_object_add(p, "pos", sp);
        json_object *ip = json_object_new_array();
        json_object_array_add(ip, json_object_new_double(x));
        json_object_array_add(ip, json_object_new_double(y));
        json_object_object_add(p, "xy", ip);
        json_object_array_add(pts, p);
    }
    json_object_object_add(o, "points", pts);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    gboolean ok = ssa_write_atomic(path, s, strlen(s), error);
    json_object_put(o);
    return ok;
}

static const ss_trace *g_sort_trace;
static int cmp_weight_desc(const void *a, const void *b)
{
    float wa = g_sort_trace->weight[*(const int *)a], wb = g_sort_trace->weight[*(const int *)b];
    return wa < wb ? 1 : wa > wb ? -1 : 0;
}

static cairo_status_t append_bytes(void *closure, const unsigned char *data, unsigned int len)
{
    g_byte_array_append(closure, data, len);
    return CAIRO_STATUS_SUCCESS;
}

gboolean ssa_trace_write_viz(const char *path, const SsaImage *img, const uint8_t *mask, const ss_trace *t,
                             int topk, GError **error)
{
    int W = img->width, H = img->height;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "%s: cannot create a %dx%d image", path, W, H);
        cairo_surface_destroy(s);
        return FALSE;
    }
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    int st = cairo_image_surface_get_stride(s);
    for (int y = 0; y < H; y++) {
        uint32_t *row = (uint32_t *)(void *)(d + (size_t)y * st);
        for (int x = 0; x < W; x++) {
            const uint8_t *p = img->rgb + (size_t)y * img->stride + x * 3;
            unsigned r = p[0], g = p[1], b = p[2];
            if (mask && mask[(size_t)y * W + x]) { /* translucent blue fill */
                r = (r * 55 + 30 * 45) / 100;
                g = (g * 55 + 144 * 45) / 100;
                b = (b * 55 + 255 * 45) / 100;
            }
            row[x] = (r << 16) | (g << 8) | b;
        }
    }
    cairo_surface_mark_dirty(s);
    cairo_t *cr = cairo_create(s);
    double diag = sqrt((double)W * W + (double)H * H);
    if (mask) { /* outline: mask pixels with a background 4-neighbour */
        cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                if (!mask[(size_t)y * W + x]) continue;
                if (x == 0 || y == 0 || x == W - 1 || y == H - 1 || !mask[(size_t)y * W + x - 1] ||
                    !mask[(size_t)y * W + x + 1] || !mask[(size_t)(y - 1) * W + x] || !mask[(size_t)(y + 1) * W + x])
                    cairo_rectangle(cr, x, y, 1, 1);
            }
        cairo_fill(cr);
    }
    if (t) {
        int n = SS_EMB_SIDE * SS_EMB_SIDE;
        if (topk <= 0 || topk > n) topk = n;
        int *idx = g_new(int, n);
        for (int i = 0; i < n; i++) idx[i] = i;
        g_sort_trace = t;
        qsort(idx, (size_t)n, sizeof(int), cmp_weight_desc);
        float wmax = t->weight[idx[0]] > 0 ? t->weight[idx[0]] : 1.0f;
        double rmax = diag * 0.025;
        cairo_set_line_width(cr, fmax(1.0, diag / 800.0));
        for (int k = topk - 1; k >= 0; k--) {
            int i = idx[k];
            double gx, gy, sx, sy;
            ssa_grid_to_image((float)(i % SS_EMB_SIDE), (float)(i / SS_EMB_SIDE), W, H, &gx, &gy);
            ssa_grid_to_image(t->pos[i][0], t->pos[i][1], W, H, &sx, &sy);
            cairo_set_source_rgba(cr, 1, 1, 1, 0.6);
            cairo_move_to(cr, gx, gy);
            cairo_line_to(cr, sx, sy);
            cairo_stroke(cr);
            double r = fmax(1.5, rmax * sqrt(t->weight[i] / wmax));
            cairo_arc(cr, sx, sy, r, 0, 2 * G_PI);
            cairo_set_source_rgba(cr, 1.0, 0.25, 0.1, 0.45);
            cairo_fill_preserve(cr);
            cairo_set_source_rgba(cr, 1.0, 0.9, 0.2, 0.95);
            cairo_stroke(cr);
        }
        g_free(idx);
        /* α readout */
        char label[128];
        g_snprintf(label, sizeof label, "%s  alpha1 %.3f / %.3f", t->mode == SS_MODE_STABLE ? "Stable-SAM" : "SAM",
                   t->alpha[0][0], t->alpha[1][0]);
        cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        cairo_set_font_size(cr, fmax(10.0, diag / 50.0));
        cairo_move_to(cr, diag / 100.0, diag / 100.0 + fmax(10.0, diag / 50.0));
        cairo_text_path(cr, label);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 3);
        cairo_stroke_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill(cr);
    }
    cairo_destroy(cr);
    g_autoptr(GByteArray) buf = g_byte_array_new();
    cairo_status_t cs = cairo_surface_write_to_png_stream(s, append_bytes, buf);
    cairo_surface_destroy(s);
    if (cs != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: PNG encoding failed", path);
        return FALSE;
    }
    return ssa_write_atomic(path, buf->data, buf->len, error);
}
