/* ssa-polygon.c — mask <-> polygons for COCO: contour tracing along pixel edges,
 * Douglas–Peucker simplification, and scan-line rasterisation at pixel centres. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ssa-coco.h"

/* Directions of boundary edges between grid corners (x right, y down). (d + 1) % 4 is a
 * right turn on screen. */
enum { DIR_RIGHT = 0, DIR_DOWN = 1, DIR_LEFT = 2, DIR_UP = 3 };
static const int dir_dx[4] = { 1, 0, -1, 0 };
static const int dir_dy[4] = { 0, 1, 0, -1 };

typedef struct { double x, y; } Pt;

/* Squared distance from p to the segment a-b. */
static double
seg_dist2 (Pt p, Pt a, Pt b)
{
  double dx = b.x - a.x, dy = b.y - a.y;
  double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2 : 0;

  t = t < 0 ? 0 : t > 1 ? 1 : t;
  dx = a.x + t * dx - p.x;
  dy = a.y + t * dy - p.y;
  return dx * dx + dy * dy;
}

/* Douglas–Peucker on pts[i..j] (both kept), iterative with an explicit stack. */
static void
douglas_peucker (const Pt *pts, guint8 *keep, gsize i, gsize j, double tol2)
{
  GArray *stack = g_array_new (FALSE, FALSE, sizeof (gsize));

  g_array_append_val (stack, i);
  g_array_append_val (stack, j);
  while (stack->len > 0)
    {
      gsize b = g_array_index (stack, gsize, stack->len - 1);
      gsize a = g_array_index (stack, gsize, stack->len - 2);
      gsize best = 0;
      double dmax = -1;

      g_array_set_size (stack, stack->len - 2);
      for (gsize k = a + 1; k < b; k++)
        {
          double d = seg_dist2 (pts[k], pts[a], pts[b]);
          if (d > dmax)
            {
              dmax = d;
              best = k;
            }
        }
      if (dmax > tol2)
        {
          keep[best] = 1;
          g_array_append_val (stack, a);
          g_array_append_val (stack, best);
          g_array_append_val (stack, best);
          g_array_append_val (stack, b);
        }
    }
  g_array_unref (stack);
}

static GArray *
loop_to_polygon (const Pt *pts, gsize n, double tolerance)
{
  GArray *poly = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree guint8 *keep = NULL;
  g_autofree Pt *closed = NULL;
  gsize far = 0, kept = 0;
  double dmax = -1;

  if (tolerance > 0 && n > 3)
    {
      /* split the closed loop at its first vertex and the vertex farthest from it */
      closed = g_new (Pt, n + 1);
      memcpy (closed, pts, n * sizeof (Pt));
      closed[n] = pts[0];
      keep = g_new0 (guint8, n + 1);
      for (gsize k = 1; k < n; k++)
        {
          double dx = pts[k].x - pts[0].x, dy = pts[k].y - pts[0].y;
          if (dx * dx + dy * dy > dmax)
            {
              dmax = dx * dx + dy * dy;
              far = k;
            }
        }
      keep[0] = keep[far] = keep[n] = 1;
      douglas_peucker (closed, keep, 0, far, tolerance * tolerance);
      douglas_peucker (closed, keep, far, n, tolerance * tolerance);
      for (gsize k = 0; k < n; k++)
        kept += keep[k];
    }
  for (gsize k = 0; k < n; k++)
    if (kept < 3 || keep[k]) /* too small to simplify: keep every corner */
      {
        g_array_append_val (poly, pts[k].x);
        g_array_append_val (poly, pts[k].y);
      }
  return poly;
}

GPtrArray *
ssa_mask_to_polygons (const guint8 *mask, int width, int height, double tolerance)
{
  GPtrArray *polys = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  gsize W = (gsize) width + 1, H = (gsize) height + 1;
  g_autofree guint8 *out = NULL;   /* per grid corner: bit d = an unused edge leaves in direction d */
  g_autoptr(GArray) loop = g_array_new (FALSE, FALSE, sizeof (Pt));

  g_return_val_if_fail (mask != NULL && width > 0 && height > 0, polys);

#define M(x, y) ((x) >= 0 && (y) >= 0 && (x) < width && (y) < height && mask[(gsize) (y) * width + (x)])
  out = g_new0 (guint8, W * H);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        if (!mask[(gsize) y * width + x])
          continue;
        /* object on the right of every edge: outer boundaries run clockwise on screen */
        if (!M (x, y - 1)) out[(gsize) y * W + x] |= 1 << DIR_RIGHT;           /* top */
        if (!M (x + 1, y)) out[(gsize) y * W + x + 1] |= 1 << DIR_DOWN;        /* right */
        if (!M (x, y + 1)) out[(gsize) (y + 1) * W + x + 1] |= 1 << DIR_LEFT;  /* bottom */
        if (!M (x - 1, y)) out[(gsize) (y + 1) * W + x] |= 1 << DIR_UP;        /* left */
      }
#undef M

  for (gsize v0 = 0; v0 < W * H; v0++)
    while (out[v0])
      {
        int start_dir = g_bit_nth_lsf (out[v0], -1);
        gsize v = v0;
        int d = start_dir;
        double area2 = 0;

        g_array_set_size (loop, 0);
        out[v0] &= ~(1 << d);
        for (;;)
          {
            Pt p = { (double) (v % W), (double) (v / W) };
            gsize next = (gsize) ((gssize) v + dir_dx[d] + dir_dy[d] * (gssize) W);
            int cand, nd;

            g_array_append_val (loop, p);
            v = next;
            cand = out[v] | (v == v0 ? 1 << start_dir : 0);
            g_assert (cand != 0);
            /* two ways out only where two object pixels touch diagonally: turn right, so that
             * they stay apart (4-connected components) */
            if ((cand & (cand - 1)) != 0)
              nd = (d + 1) % 4;
            else
              nd = g_bit_nth_lsf (cand, -1);
            g_assert (cand & (1 << nd));
            if (v == v0 && nd == start_dir)
              break;
            out[v] &= ~(1 << nd);
            d = nd;
          }

        /* drop collinear corners, then keep outer boundaries only (positive orientation) */
        {
          g_autoptr(GArray) corners = g_array_new (FALSE, FALSE, sizeof (Pt));
          gsize n = loop->len;
          const Pt *lp = (const Pt *) loop->data;

          for (gsize k = 0; k < n; k++)
            {
              Pt a = lp[(k + n - 1) % n], b = lp[k], c = lp[(k + 1) % n];
              if ((b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x) != 0)
                g_array_append_val (corners, b);
            }
          n = corners->len;
          lp = (const Pt *) corners->data;
          for (gsize k = 0; k < n; k++)
            area2 += lp[k].x * lp[(k + 1) % n].y - lp[(k + 1) % n].x * lp[k].y;
          if (area2 > 0 && n >= 4)
            g_ptr_array_add (polys, loop_to_polygon (lp, n, tolerance));
        }
      }
  return polys;
}

typedef struct { int row; double x; } Crossing;

static int
cmp_crossing (const void *a, const void *b)
{
  const Crossing *p = a, *q = b;

  if (p->row != q->row)
    return (p->row > q->row) - (p->row < q->row);
  return (p->x > q->x) - (p->x < q->x);
}

void
ssa_polygons_fill (const double *const *coords, const guint *n_coords, guint n_polygons,
                   guint8 *mask, int width, int height)
{
  g_autoptr(GArray) xs = g_array_new (FALSE, FALSE, sizeof (Crossing));

  g_return_if_fail (mask != NULL && width > 0 && height > 0);
  for (guint p = 0; p < n_polygons; p++)
    {
      const double *c = coords[p];
      guint n = n_coords[p] / 2;

      if (n < 3)
        continue;
      /* every (row, x) where an edge crosses the row's centre line y + 0.5: work proportional
       * to the crossings, not to vertices × rows */
      g_array_set_size (xs, 0);
      for (guint i = 0; i < n; i++)
        {
          double x0 = c[2 * i], y0 = c[2 * i + 1];
          double x1 = c[2 * ((i + 1) % n)], y1 = c[2 * ((i + 1) % n) + 1];
          double lo = MIN (y0, y1), hi = MAX (y0, y1);
          int r0, r1;

          if (!isfinite (x0) || !isfinite (y0) || !isfinite (x1) || !isfinite (y1) || lo == hi)
            continue;
          /* rows with lo <= y + 0.5 < hi */
          r0 = (int) CLAMP (ceil (lo - 0.5), 0.0, (double) height);
          r1 = (int) CLAMP (ceil (hi - 0.5), 0.0, (double) height);
          for (int y = r0; y < r1; y++)
            {
              double yc = y + 0.5;
              Crossing k = { y, x0 + (yc - y0) * (x1 - x0) / (y1 - y0) };
              g_array_append_val (xs, k);
            }
        }
      if (xs->len > 1)
        qsort (xs->data, xs->len, sizeof (Crossing), cmp_crossing);
      /* even-odd: pixel x of row y is inside when its centre x + 0.5 lies in [xa, xb) */
      for (guint k = 0; k + 1 < xs->len;)
        {
          const Crossing *a = &g_array_index (xs, Crossing, k), *b = &g_array_index (xs, Crossing, k + 1);
          if (a->row != b->row)
            {
              k++; /* cannot happen with a closed polygon; stay robust */
              continue;
            }
          {
            int x0 = (int) CLAMP (ceil (a->x - 0.5), 0.0, (double) width);
            int x1 = (int) CLAMP (ceil (b->x - 0.5), 0.0, (double) width);
            for (int x = x0; x < x1; x++)
              mask[(gsize) a->row * width + x] = 1;
          }
          k += 2;
        }
    }
}
