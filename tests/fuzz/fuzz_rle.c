/* fuzz_rle.c — COCO compressed RLE strings (engine/rle.c): ss_rle_from_string and, when it
 * accepts, the properties every accepted string must have: counts sum to the mask size, area /
 * bbox agree with the decoded mask, and string -> counts -> string -> counts round-trips.
 *
 * Input: byte 0 = width, byte 1 = height (mod 48, so masks stay small), byte 2 = flags
 * (bit 0: use a huge size instead, from bytes 0-1, to exercise the size checks and 64-bit
 * sums without decoding), then the counts string. */
#include "fuzz-util.h"
#include "ss_metrics.h"
#include "stablesam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int big = data[2] & 1;
    int width = big ? 1 + data[0] * 65599 : data[0] % 48;
    int height = big ? 1 + data[1] * 7919 : data[1] % 48;
    if (big && (data[2] & 2)) width = -width; /* negative sizes must be refused */
    char *s = fuzz_strndup(data + 3, size - 3);
    char err[256];
    ss_rle r;
    int rc = ss_rle_from_string(s, width, height, &r, err, sizeof err);
    if (rc != SS_OK) {
        FUZZ_CHECK(r.counts == NULL && r.n_counts == 0);
        FUZZ_CHECK(strchr(err, '\n') == NULL);
        free(s);
        return 0;
    }
    FUZZ_CHECK(width >= 0 && height >= 0);
    uint64_t n = (uint64_t)width * (uint64_t)height, sum = 0;
    for (size_t i = 0; i < r.n_counts; i++) sum += r.counts[i];
    FUZZ_CHECK(sum == n);
    uint64_t area = ss_rle_area(&r);
    FUZZ_CHECK(area <= n);
    double bb[4];
    ss_rle_bbox(&r, bb);
    FUZZ_CHECK(bb[0] >= 0 && bb[1] >= 0 && bb[0] + bb[2] <= width && bb[1] + bb[3] <= height);
    FUZZ_CHECK((area == 0) == (bb[2] == 0));

    /* counts -> string -> counts */
    char *s2 = ss_rle_to_string(&r, err, sizeof err);
    FUZZ_CHECK(s2 != NULL);
    ss_rle r2;
    FUZZ_CHECK(ss_rle_from_string(s2, width, height, &r2, err, sizeof err) == SS_OK);
    FUZZ_CHECK(r2.n_counts == r.n_counts);
    FUZZ_CHECK(r.n_counts == 0 || memcmp(r2.counts, r.counts, r.n_counts * sizeof *r.counts) == 0);
    ss_rle_free(&r2);
    free(s2);

    if (!big) {
        uint8_t *mask = malloc(n ? n : 1), *mask2 = malloc(n ? n : 1);
        if (!mask || !mask2) abort();
        FUZZ_CHECK(ss_rle_decode(&r, mask, err, sizeof err) == SS_OK);
        FUZZ_CHECK(ss_mask_area(mask, width, height) == area);
        double mb[4];
        ss_mask_bbox(mask, width, height, mb);
        FUZZ_CHECK(memcmp(mb, bb, sizeof bb) == 0);
        /* mask -> canonical string -> mask */
        char *s3 = ss_mask_to_rle_string(mask, width, height, err, sizeof err);
        FUZZ_CHECK(s3 != NULL);
        FUZZ_CHECK(ss_mask_from_rle_string(s3, width, height, mask2, err, sizeof err) == SS_OK);
        FUZZ_CHECK(n == 0 || memcmp(mask, mask2, n) == 0);
        free(s3);
        free(mask);
        free(mask2);
    }
    ss_rle_free(&r);
    free(s);
    return 0;
}
