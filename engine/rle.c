/* rle.c — COCO run-length encoding of binary masks (the format of pycocotools' maskApi),
 * the compressed "counts" string, area and bbox. See ss_metrics.h for the format. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_metrics.h"

static int rle_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int rle_check_size(int width, int height, char *err, size_t errlen, const char *fn)
{
    if (width < 0 || height < 0)
        return rle_fail(err, errlen, SS_ERR_INPUT, "%s: bad mask size %dx%d", fn, width, height);
    if ((uint64_t)width * (uint64_t)height > UINT32_MAX)
        return rle_fail(err, errlen, SS_ERR_INPUT, "%s: mask %dx%d too large for 32-bit counts",
                        fn, width, height);
    return SS_OK;
}

void ss_rle_free(ss_rle *rle)
{
    if (!rle)
        return;
    free(rle->counts);
    rle->counts = NULL;
    rle->n_counts = 0;
}

int ss_rle_encode(const uint8_t *mask, int width, int height, ss_rle *out, char *err, size_t errlen)
{
    int rc = rle_check_size(width, height, err, errlen, __func__);
    if (rc)
        return rc;
    if (!out || (!mask && width > 0 && height > 0))
        return rle_fail(err, errlen, SS_ERR_INPUT, "%s: NULL argument", __func__);
    out->width = width;
    out->height = height;
    out->counts = NULL;
    out->n_counts = 0;
    size_t n = (size_t)width * (size_t)height;
    /* at most n + 1 runs (a leading empty 0-run, then one run per pixel) */
    uint32_t *counts = malloc((n + 1) * sizeof *counts);
    if (!counts)
        return rle_fail(err, errlen, SS_ERR_NOMEM, "%s: out of memory", __func__);
    size_t k = 0;
    uint32_t run = 0;
    int cur = 0; /* runs start with zeros */
    for (int x = 0; x < width; x++) {
        for (int y = 0; y < height; y++) {
            int v = mask[(size_t)y * width + x] != 0;
            if (v != cur) {
                counts[k++] = run;
                run = 0;
                cur = v;
            }
            run++;
        }
    }
    counts[k++] = run;
    out->counts = counts;
    out->n_counts = k;
    return SS_OK;
}

int ss_rle_decode(const ss_rle *rle, uint8_t *mask, char *err, size_t errlen)
{
    if (!rle)
        return rle_fail(err, errlen, SS_ERR_INPUT, "%s: NULL argument", __func__);
    int rc = rle_check_size(rle->width, rle->height, err, errlen, __func__);
    if (rc)
        return rc;
    uint64_t n = (uint64_t)rle->width * (uint64_t)rle->height;
    uint64_t sum = 0;
    for (size_t i = 0; i < rle->n_counts; i++)
        sum += rle->counts[i];
    if (sum != n)
        return rle_fail(err, errlen, SS_ERR_FORMAT,
                        "%s: run lengths sum to %llu, mask %dx%d has %llu pixels", __func__,
                        (unsigned long long)sum, rle->width, rle->height, (unsigned long long)n);
    if (n == 0)
        return SS_OK;
    if (!mask)
        return rle_fail(err, errlen, SS_ERR_INPUT, "%s: NULL mask", __func__);
    /* runs are column-major: position p = x*height + y */
    uint64_t p = 0;
    int h = rle->height, w = rle->width;
    for (size_t i = 0; i < rle->n_counts; i++) {
        uint8_t v = (uint8_t)(i & 1);
        for (uint32_t c = 0; c < rle->counts[i]; c++, p++) {
            int x = (int)(p / (uint64_t)h), y = (int)(p % (uint64_t)h);
            mask[(size_t)y * w + x] = v;
        }
    }
    return SS_OK;
}

char *ss_rle_to_string(const ss_rle *rle, char *err, size_t errlen)
{
    if (!rle || (rle->n_counts && !rle->counts)) {
        rle_fail(err, errlen, SS_ERR_INPUT, "%s: NULL argument", __func__);
        return NULL;
    }
    /* a 33-bit signed delta needs at most 7 characters */
    char *s = malloc(rle->n_counts * 7 + 1);
    if (!s) {
        rle_fail(err, errlen, SS_ERR_NOMEM, "%s: out of memory", __func__);
        return NULL;
    }
    size_t p = 0;
    for (size_t i = 0; i < rle->n_counts; i++) {
        int64_t x = (int64_t)rle->counts[i];
        if (i > 2)
            x -= (int64_t)rle->counts[i - 2];
        int more = 1;
        while (more) {
            int c = (int)(x & 0x1f);
            x >>= 5; /* arithmetic shift: int64 right shift of a negative value */
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more)
                c |= 0x20;
            s[p++] = (char)(c + 48);
        }
    }
    s[p] = '\0';
    return s;
}

int ss_rle_from_string(const char *s, int width, int height, ss_rle *out, char *err, size_t errlen)
{
    if (!s || !out)
        return rle_fail(err, errlen, SS_ERR_INPUT, "%s: NULL argument", __func__);
    out->width = width;
    out->height = height;
    out->counts = NULL;
    out->n_counts = 0;
    int rc = rle_check_size(width, height, err, errlen, __func__);
    if (rc)
        return rc;
    size_t len = strlen(s);
    uint64_t n = (uint64_t)width * (uint64_t)height;
    uint32_t *counts = malloc((len ? len : 1) * sizeof *counts); /* at most one count per char */
    if (!counts)
        return rle_fail(err, errlen, SS_ERR_NOMEM, "%s: out of memory", __func__);
    size_t m = 0, p = 0;
    uint64_t sum = 0;
    while (p < len) {
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len) {
                free(counts);
                return rle_fail(err, errlen, SS_ERR_FORMAT,
                                "%s: RLE string ends inside a value (at character %zu)",
                                __func__, p);
            }
            int c = (unsigned char)s[p] - 48;
            if (c < 0 || c > 63) {
                free(counts);
                return rle_fail(err, errlen, SS_ERR_FORMAT,
                                "%s: bad character 0x%02x at position %zu of the RLE string",
                                __func__, (unsigned char)s[p], p);
            }
            if (k >= 7) {
                free(counts);
                return rle_fail(err, errlen, SS_ERR_FORMAT,
                                "%s: RLE value too long at position %zu", __func__, p);
            }
            x |= (int64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20;
            p++;
            k++;
            if (!more && (c & 0x10))
                x -= (int64_t)1 << (5 * k); /* sign-extend: same as x |= -1 << 5k */
        }
        if (m > 2)
            x += (int64_t)counts[m - 2];
        if (x < 0 || (uint64_t)x > n) {
            free(counts);
            return rle_fail(err, errlen, SS_ERR_FORMAT,
                            "%s: run %zu has length %lld (mask has %llu pixels)", __func__, m,
                            (long long)x, (unsigned long long)n);
        }
        sum += (uint64_t)x;
        if (sum > n) {
            free(counts);
            return rle_fail(err, errlen, SS_ERR_FORMAT,
                            "%s: runs exceed the %dx%d mask", __func__, width, height);
        }
        counts[m++] = (uint32_t)x;
    }
    if (sum != n) {
        free(counts);
        return rle_fail(err, errlen, SS_ERR_FORMAT,
                        "%s: runs cover %llu of the %llu pixels of a %dx%d mask", __func__,
                        (unsigned long long)sum, (unsigned long long)n, width, height);
    }
    out->counts = counts;
    out->n_counts = m;
    return SS_OK;
}

uint64_t ss_rle_area(const ss_rle *rle)
{
    uint64_t a = 0;
    if (!rle)
        return 0;
    for (size_t i = 1; i < rle->n_counts; i += 2)
        a += rle->counts[i];
    return a;
}

void ss_rle_bbox(const ss_rle *rle, double bbox[4])
{
    bbox[0] = bbox[1] = bbox[2] = bbox[3] = 0;
    if (!rle || rle->height <= 0)
        return;
    uint64_t h = (uint64_t)rle->height;
    uint64_t xs = UINT64_MAX, xe = 0, ys = UINT64_MAX, ye = 0, p = 0;
    int any = 0;
    for (size_t i = 0; i < rle->n_counts; i++) {
        uint64_t c = rle->counts[i];
        if ((i & 1) && c > 0) {
            uint64_t first = p, last = p + c - 1;
            uint64_t x0 = first / h, y0 = first % h, x1 = last / h, y1 = last % h;
            any = 1;
            if (x0 < xs) xs = x0;
            if (x1 > xe) xe = x1;
            if (x1 > x0) { /* the run wraps over a column: covers every row */
                ys = 0;
                ye = h - 1;
            } else {
                if (y0 < ys) ys = y0;
                if (y1 > ye) ye = y1;
            }
        }
        p += c;
    }
    if (!any)
        return;
    bbox[0] = (double)xs;
    bbox[1] = (double)ys;
    bbox[2] = (double)(xe - xs + 1);
    bbox[3] = (double)(ye - ys + 1);
}

char *ss_mask_to_rle_string(const uint8_t *mask, int width, int height, char *err, size_t errlen)
{
    ss_rle r;
    if (ss_rle_encode(mask, width, height, &r, err, errlen))
        return NULL;
    char *s = ss_rle_to_string(&r, err, errlen);
    ss_rle_free(&r);
    return s;
}

int ss_mask_from_rle_string(const char *s, int width, int height, uint8_t *mask, char *err,
                            size_t errlen)
{
    ss_rle r;
    int rc = ss_rle_from_string(s, width, height, &r, err, errlen);
    if (rc)
        return rc;
    rc = ss_rle_decode(&r, mask, err, errlen);
    ss_rle_free(&r);
    return rc;
}

uint64_t ss_mask_area(const uint8_t *mask, int width, int height)
{
    uint64_t a = 0;
    size_t n = (size_t)(width > 0 ? width : 0) * (size_t)(height > 0 ? height : 0);
    for (size_t i = 0; i < n; i++)
        a += mask[i] != 0;
    return a;
}

void ss_mask_bbox(const uint8_t *mask, int width, int height, double bbox[4])
{
    int xs = width, xe = -1, ys = height, ye = -1;
    for (int y = 0; y < height; y++) {
        const uint8_t *row = mask + (size_t)y * width;
        for (int x = 0; x < width; x++) {
            if (row[x]) {
                if (x < xs) xs = x;
                if (x > xe) xe = x;
                if (y < ys) ys = y;
                if (y > ye) ye = y;
            }
        }
    }
    if (xe < 0) {
        bbox[0] = bbox[1] = bbox[2] = bbox[3] = 0;
        return;
    }
    bbox[0] = xs;
    bbox[1] = ys;
    bbox[2] = xe - xs + 1;
    bbox[3] = ye - ys + 1;
}
