/* coco-mask-iou.c — COCO.json SEGMENT.json MIN_IOU: checks that the COCO export holds exactly
 * one annotation and that its RLE mask has IoU >= MIN_IOU with `stablesam segment --json`'s.
 * Prints one line ("1 annotation, IoU 0.9990 ...") and exits 0 on success, 1 otherwise. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include "ss_metrics.h"

static int
read_rle(json_object *rle, const char *what, int *w, int *h, const char **counts)
{
    json_object *size, *c;
    if (!json_object_object_get_ex(rle, "size", &size) || json_object_array_length(size) != 2 ||
        !json_object_object_get_ex(rle, "counts", &c) || !json_object_is_type(c, json_type_string)) {
        printf("%s: no compressed RLE {size, counts}\n", what);
        return -1;
    }
    *h = json_object_get_int(json_object_array_get_idx(size, 0));
    *w = json_object_get_int(json_object_array_get_idx(size, 1));
    *counts = json_object_get_string(c);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: coco-mask-iou COCO.json SEGMENT.json MIN_IOU\n");
        return 2;
    }
    json_object *coco = json_object_from_file(argv[1]);
    json_object *seg = json_object_from_file(argv[2]);
    if (!coco || !seg) {
        printf("%s: cannot read JSON\n", coco ? argv[2] : argv[1]);
        return 1;
    }
    json_object *anns, *rle_seg;
    if (!json_object_object_get_ex(coco, "annotations", &anns) || !json_object_is_type(anns, json_type_array)) {
        printf("%s: no \"annotations\" array\n", argv[1]);
        return 1;
    }
    size_t n = json_object_array_length(anns);
    if (n != 1) {
        printf("%s: %zu annotations, expected exactly 1\n", argv[1], n);
        return 1;
    }
    json_object *ann = json_object_array_get_idx(anns, 0), *rle_ann;
    if (!json_object_object_get_ex(ann, "segmentation", &rle_ann) ||
        !json_object_object_get_ex(seg, "rle", &rle_seg)) {
        printf("missing segmentation / rle\n");
        return 1;
    }
    int w1, h1, w2, h2;
    const char *c1, *c2;
    if (read_rle(rle_ann, argv[1], &w1, &h1, &c1) || read_rle(rle_seg, argv[2], &w2, &h2, &c2))
        return 1;
    if (w1 != w2 || h1 != h2 || w1 <= 0 || h1 <= 0) {
        printf("mask sizes differ: %dx%d vs %dx%d\n", w1, h1, w2, h2);
        return 1;
    }
    uint8_t *m1 = malloc((size_t)w1 * h1), *m2 = malloc((size_t)w1 * h1);
    char err[256];
    if (ss_mask_from_rle_string(c1, w1, h1, m1, err, sizeof err) ||
        ss_mask_from_rle_string(c2, w2, h2, m2, err, sizeof err)) {
        printf("bad RLE: %s\n", err);
        return 1;
    }
    size_t a1 = 0, a2 = 0;
    for (size_t i = 0; i < (size_t)w1 * h1; i++) {
        a1 += m1[i] != 0;
        a2 += m2[i] != 0;
    }
    double iou = ss_iou(m1, m2, NULL, w1, h1);
    double min_iou = atof(argv[3]);
    printf("1 annotation, area %zu vs segment %zu, mask IoU %.4f (need >= %.2f)\n", a1, a2, iou, min_iou);
    free(m1);
    free(m2);
    json_object_put(coco);
    json_object_put(seg);
    return (a1 > 0 && iou >= min_iou) ? 0 : 1;
}
