/* ss_metrics.h — masks in COCO RLE, segmentation metrics, a portable seeded PRNG, the prompt
 * generators of the evaluation protocol and the RITM click simulator / NoC loop.
 * Part of the engine: C11, no GLib, return codes + a one-line message in err[errlen].
 *
 * Masks are (height, width) row-major uint8 buffers, 0 = background, nonzero = object.
 * Ignore maps have the same layout; nonzero = pixel ignored by IoU / boundary IoU / the click
 * simulator (NULL = nothing ignored). Arguments are always (width, height), as in stablesam.h.
 */
#ifndef SS_METRICS_H
#define SS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "stablesam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * COCO run-length encoding (pycocotools' maskApi):
 * runs are counted over the mask in column-major order (x outer, y inner), alternating
 * 0-runs and 1-runs and always starting with a (possibly empty) 0-run. The compressed string
 * ("counts" of a COCO RLE object) stores each count — minus the count two places before it,
 * from the fourth count on — as a little-endian sequence of 5-bit groups, a 0x20 "more"
 * bit per character and 48 added (characters '0'..'o'), the last group sign-extended.
 * --------------------------------------------------------------------------------------- */
typedef struct {
    int width, height;
    uint32_t *counts; /* n_counts run lengths; owned (free with ss_rle_free) */
    size_t n_counts;
} ss_rle;

/* Encodes a mask. `out` is overwritten (not freed first). */
int ss_rle_encode(const uint8_t *mask, int width, int height, ss_rle *out, char *err, size_t errlen);
/* Decodes into mask (height*width bytes, 0/1). SS_ERR_FORMAT if the counts do not sum to
 * width*height; nothing is written out of bounds. */
int ss_rle_decode(const ss_rle *rle, uint8_t *mask, char *err, size_t errlen);
void ss_rle_free(ss_rle *rle);
/* Compressed COCO string of the counts (malloc'd, NUL-terminated), or NULL on failure. */
char *ss_rle_to_string(const ss_rle *rle, char *err, size_t errlen);
/* Parses a compressed COCO string for a (height, width) mask. Malformed strings (characters
 * outside '0'..'o', a value cut short, a count that is negative or overflows, counts not
 * summing to width*height) give SS_ERR_FORMAT; `out` is then left empty. */
int ss_rle_from_string(const char *s, int width, int height, ss_rle *out, char *err, size_t errlen);
/* Pixels that are 1. */
uint64_t ss_rle_area(const ss_rle *rle);
/* COCO bbox [x, y, w, h] of the 1-pixels (w = x_max - x_min + 1, ...); all 0 for an empty mask. */
void ss_rle_bbox(const ss_rle *rle, double bbox[4]);

/* Convenience: mask -> compressed string (malloc'd) and back. */
char *ss_mask_to_rle_string(const uint8_t *mask, int width, int height, char *err, size_t errlen);
int ss_mask_from_rle_string(const char *s, int width, int height, uint8_t *mask, char *err,
                            size_t errlen);
uint64_t ss_mask_area(const uint8_t *mask, int width, int height);
/* Same bbox as ss_rle_bbox, from a mask. */
void ss_mask_bbox(const uint8_t *mask, int width, int height, double bbox[4]);

/* ---------------------------------------------------------------------------------------
 * Metrics. Ratios are in [0, 1]. When the union is empty (both masks empty on the counted
 * pixels) the masks agree perfectly and the result is 1.
 * --------------------------------------------------------------------------------------- */
/* |A∩B| / |A∪B| over the pixels not ignored. */
double ss_iou(const uint8_t *a, const uint8_t *b, const uint8_t *ignore, int width, int height);
/* Boundary width used by ss_boundary_iou: d = round(0.02 × sqrt(w² + h²)) (half to even, as
 * Python's round), at least 1. */
int ss_boundary_width(int width, int height);
/* boundary = mask minus its erosion by a (2d+1)² square, the image zero-padded first (so the
 * image border counts as boundary), as boundary-iou-api's mask_to_boundary. out: 0/1. */
int ss_mask_boundary(const uint8_t *mask, int width, int height, int d, uint8_t *out,
                     char *err, size_t errlen);
/* Boundary IoU (Cheng et al. 2021) with d = ss_boundary_width(): boundaries are taken on the
 * full masks, then ignored pixels are left out of the intersection and union.
 * Returns a negative value (-1) if memory runs out. */
double ss_boundary_iou(const uint8_t *gt, const uint8_t *pred, const uint8_t *ignore,
                       int width, int height);
/* Same, with the ground truth's boundary already made by ss_mask_boundary (d as above): for
 * many predictions of one object. */
double ss_boundary_iou_gtb(const uint8_t *gt_boundary, const uint8_t *pred, const uint8_t *ignore,
                           int width, int height);
/* Stability (Stable-SAM Eq. 1): ST = mean_i IoU(M_i, ∪_j M_j) for n masks of one object.
 * Ignore maps are not used (as the reference). Returns -1 on bad arguments / no memory. */
double ss_stability(const uint8_t *const *masks, int n, int width, int height);

/* Exact squared Euclidean distance transform: for every pixel of `mask`, the squared distance
 * to the nearest 0-pixel, with everything outside the image counted as 0 (zero padding of 1
 * suffices and is what RITM does); 0 on 0-pixels. out: width*height int64 values. */
int ss_edt_sq(const uint8_t *mask, int width, int height, int64_t *out, char *err, size_t errlen);

/* ---------------------------------------------------------------------------------------
 * Portable PRNG: xoshiro256** seeded through splitmix64. Same numbers on every machine.
 * --------------------------------------------------------------------------------------- */
typedef struct { uint64_t s[4]; } ss_rng;

void ss_rng_seed(ss_rng *rng, uint64_t seed);
/* Seed from a base seed and a string key (FNV-1a 64 of the key mixed in): independent,
 * reproducible streams per object / prompt type. */
void ss_rng_seed_key(ss_rng *rng, uint64_t seed, const char *key);
uint64_t ss_rng_next(ss_rng *rng);
double ss_rng_uniform(ss_rng *rng);                  /* [0, 1), 53 random bits */
double ss_rng_uniform_pm1(ss_rng *rng);              /* [-1, 1) */
uint64_t ss_rng_below(ss_rng *rng, uint64_t n);      /* uniform in [0, n), unbiased; n > 0 */

/* ---------------------------------------------------------------------------------------
 * Prompt generators (DESIGN §5). Boxes are x0, y0, x1, y1 in pixel coordinates.
 * --------------------------------------------------------------------------------------- */
/* Tight box of the 1-pixels in pixel indices: x0 = min x, x1 = max x, ...
 * SS_ERR_INPUT for an empty mask. */
int ss_gt_box(const uint8_t *mask, int width, int height, float box[4]);
/* IoU of two boxes as continuous rectangles (areas (x1-x0)(y1-y0)); 0 if the union is 0. */
double ss_box_iou(const float a[4], const float b[4]);
/* Noisy box: cx += U(-1,1)·w/2·s, cy += U(-1,1)·h/2·s, w += U(-1,1)·w·s, h += U(-1,1)·h·s
 * (4 draws in that order; w = x1 - x0 of the GT box), clamped to [0, W-1] × [0, H-1].
 * A box that collapses below 1 pixel is widened to 1 pixel around its centre (inside the
 * image) so that the decoder never gets a zero-size box. */
void ss_noisy_box(ss_rng *rng, const float gt_box[4], double scale, int width, int height,
                  float out[4]);
/* Noisy box whose IoU with gt_box lies in [lo, hi), by rejection sampling of ss_noisy_box
 * with scale cycling 0.4, 0.6, 0.8, 1.0, at most max_tries draws. Returns SS_OK, or
 * SS_ERR_INPUT if no box was found. */
int ss_noisy_box_band(ss_rng *rng, const float gt_box[4], double lo, double hi, int width,
                      int height, int max_tries, float out[4]);
/* k positive points drawn uniformly among the object pixels (not ignored), without
 * replacement while there are enough pixels. Points are pixel indices (x, y), label 1.
 * SS_ERR_INPUT if the object has no pixel. */
int ss_random_points(ss_rng *rng, const uint8_t *mask, const uint8_t *ignore, int width,
                     int height, int k, ss_point *out, char *err, size_t errlen);

/* ---------------------------------------------------------------------------------------
 * RITM click simulator and the NoC loop (one code path for `stablesam eval` and the GUI).
 * --------------------------------------------------------------------------------------- */
#define SS_NOC_MAX_CLICKS 64

/* Next click as RITM's Clicker: fn = gt ∧ ¬pred ∧ ¬ignore, fp = ¬gt ∧ pred ∧ ¬ignore; exact
 * Euclidean distance transforms of both (zero-padded), pixels already clicked zeroed; positive
 * click iff max dist(fn) > max dist(fp) (ties → negative), at the first pixel in row-major
 * order reaching that maximum. pred = NULL means an empty prediction (the first click).
 * `clicked`: width*height bytes, nonzero = already clicked (may be NULL); updated with the
 * new click. SS_ERR_INPUT if there is no error left to click on (prediction already exact). */
int ss_click_next(const uint8_t *gt, const uint8_t *pred, const uint8_t *ignore, int width,
                  int height, uint8_t *clicked, ss_point *click, char *err, size_t errlen);

/* A NoC session: ground truth, the clicks so far and the IoU after each. The GUI adds human
 * clicks with ss_noc_add; the simulator asks ss_noc_suggest first. */
typedef struct ss_noc_session ss_noc_session;

ss_noc_session *ss_noc_new(const uint8_t *gt, const uint8_t *ignore, int width, int height,
                           int max_clicks, char *err, size_t errlen);
void ss_noc_free(ss_noc_session *s);
/* Simulated next click for the current prediction (NULL before the first click). */
int ss_noc_suggest(ss_noc_session *s, const uint8_t *pred, ss_point *click, char *err,
                   size_t errlen);
/* Records a click and the mask predicted after it; stores and returns (iou_out) its IoU
 * with the GT (ignore map honoured). SS_ERR_STATE once max_clicks clicks are recorded. */
int ss_noc_add(ss_noc_session *s, ss_point click, const uint8_t *pred, double *iou_out,
               char *err, size_t errlen);
int ss_noc_n_clicks(const ss_noc_session *s);
const ss_point *ss_noc_clicks(const ss_noc_session *s);
const double *ss_noc_ious(const ss_noc_session *s); /* IoU after click i, i < n_clicks */
/* Clicks needed to reach `thr` (first i+1 with iou[i] >= thr), or max_clicks if never. */
int ss_noc_clicks_to(const ss_noc_session *s, double thr);
/* Same, but 0 when no click so far reached `thr` (a human session that is not over). */
int ss_noc_reached(const ss_noc_session *s, double thr);
int ss_noc_max_clicks(const ss_noc_session *s);

/* The step API: one click = ss_noc_begin (the prompt the decoder must get) → the prediction
 * → ss_noc_finish. ss_noc_run and the GUI's NoC session both go through it, so the same
 * clicks give the same prompts, the same mask input and the same IoUs.
 *
 * ss_noc_begin: makes `click` the pending click and fills `prompt`: no box, every click so far
 * plus the pending one, in order (points point into the session: valid until the next
 * begin/finish/cancel), mask_input = the low-res logits of the previous prediction (NULL for
 * the first click, or when feed-back is off). SS_ERR_STATE if a click is already pending or
 * max_clicks are recorded; SS_ERR_INPUT for a label other than 0/1 or a click outside the
 * image. */
int ss_noc_begin(ss_noc_session *s, ss_point click, ss_prompt *prompt, char *err, size_t errlen);
/* Records the pending click with the mask predicted for it (width*height, nonzero = object)
 * and its (256, 256) low-res logits (kept for the next click's mask input; NULL = none),
 * `seconds` it took (stored as given, e.g. the person's time for this click; 0 for the
 * simulator), and stores / returns its IoU with the GT (ignore map honoured).
 * SS_ERR_STATE if no click is pending. */
int ss_noc_finish(ss_noc_session *s, const uint8_t *pred, const float *low_res, double seconds,
                  double *iou_out, char *err, size_t errlen);
/* Drops the pending click (e.g. its decode failed); no-op without one. */
void ss_noc_cancel(ss_noc_session *s);
int ss_noc_pending(const ss_noc_session *s); /* 1 while a click is pending */
const double *ss_noc_seconds(const ss_noc_session *s); /* seconds of click i, i < n_clicks */
/* Feed the previous low-res logits back as mask input (1, the default) or not (0). */
void ss_noc_set_feed_back(ss_noc_session *s, int feed_back);

/* The prediction behind the simulator: given all clicks so far (in order) and the previous
 * low-res logits (NULL for the first click), write the mask (width*height, 0/1) and the new
 * low-res logits (256*256). Returns SS_OK or an SS_ERR_* code (message in err). */
typedef int (*ss_noc_predict_fn)(void *user_data, const ss_point *points, int n_points,
                                 const float *prev_low_res, uint8_t *mask_out,
                                 float *low_res_out, char *err, size_t errlen);

typedef struct {
    int max_clicks;    /* default 20, at most SS_NOC_MAX_CLICKS */
    int feed_back;     /* 1 (default): feed the previous low-res logits back as mask input */
    double stop_iou;   /* stop once IoU >= stop_iou; <= 0 (default): always max_clicks */
} ss_noc_params;

ss_noc_params ss_noc_default_params(void);

/* The automatic protocol for one object, on a fresh session (no click yet, else
 * SS_ERR_STATE): suggest → predict → IoU, until max_clicks (or stop_iou). Results in the
 * session (ss_noc_ious etc.). If the prediction becomes exact on every counted pixel, the
 * remaining entries repeat its IoU (1) without calling predict; their clicks have label -1. */
int ss_noc_run(ss_noc_session *s, const ss_noc_params *params, ss_noc_predict_fn predict,
               void *user_data, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* SS_METRICS_H */
