/* cli-util.h — helpers shared by the `stablesam` subcommands. */
#ifndef SSA_CLI_UTIL_H
#define SSA_CLI_UTIL_H
#include <glib.h>
#include <stdint.h>

#include "image-io.h"
#include "stablesam.h"

/* "stablesam: <message>" on stderr (GError messages already start with the file name). */
void ssa_die_error(const GError *error);
void ssa_die_msg(const char *what, const char *problem);
/* Reads exactly n float32 values (native little-endian) from a raw file; g_free. */
float *ssa_read_f32(const char *path, size_t n, GError **error);
/* Attention trace as JSON: alpha per block, and the 4096 grid cells with weight, grid point
 * and sample position, both in grid cells and in image pixels. */
gboolean ssa_trace_write_json(const char *path, const ss_trace *trace, int width, int height, GError **error);
/* Image + mask + the top-K sampled points as circles (radius ∝ √weight) and a thin line from
 * the grid point p to the sample p + Δp, drawn with Cairo, as PNG. */
gboolean ssa_trace_write_viz(const char *path, const SsaImage *img, const uint8_t *mask, const ss_trace *trace,
                             int topk, GError **error);
/* Grid cell position (x, y in cells, cell centre at +0.5) -> image pixels. */
void ssa_grid_to_image(float gx, float gy, int width, int height, double *x, double *y);
#endif
