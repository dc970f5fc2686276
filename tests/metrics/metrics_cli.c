/* metrics_cli.c — the C side of tools/crosscheck_metrics.py. Reads commands on stdin, one per
 * line, masks as raw (height, width) uint8 files, and prints one result line per command:
 *   pair W H GT PRED IGNORE|-        -> "iou biou"               (%.17g)
 *   st W H N MASK1 ... MASKN         -> "st"
 *   click W H GT PRED|- IGNORE|-     -> "x y label" (RITM simulator, nothing clicked yet)
 * Errors: "error: ..." on that line's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_metrics.h"

static uint8_t *read_raw(const char *path, size_t n)
{
    if (strcmp(path, "-") == 0)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *m = malloc(n ? n : 1);
    size_t got = m ? fread(m, 1, n, f) : 0;
    fclose(f);
    if (got != n) {
        free(m);
        return NULL;
    }
    return m;
}

int main(void)
{
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        char *save = NULL, *cmd = strtok_r(line, " \t\n", &save);
        if (!cmd)
            continue;
        char *sw = strtok_r(NULL, " \t\n", &save), *sh = strtok_r(NULL, " \t\n", &save);
        if (!sw || !sh) {
            printf("error: missing size\n");
            continue;
        }
        int w = atoi(sw), h = atoi(sh);
        size_t n = (size_t)w * (size_t)h;
        if (strcmp(cmd, "pair") == 0 || strcmp(cmd, "click") == 0) {
            char *pg = strtok_r(NULL, " \t\n", &save), *pp = strtok_r(NULL, " \t\n", &save);
            char *pi = strtok_r(NULL, " \t\n", &save);
            uint8_t *gt = pg ? read_raw(pg, n) : NULL;
            uint8_t *pred = pp ? read_raw(pp, n) : NULL;
            uint8_t *ign = pi ? read_raw(pi, n) : NULL;
            if (!gt || (!pred && cmd[0] == 'p')) {
                printf("error: cannot read masks\n");
            } else if (cmd[0] == 'p') {
                printf("%.17g %.17g\n", ss_iou(gt, pred, ign, w, h),
                       ss_boundary_iou(gt, pred, ign, w, h));
            } else {
                ss_point c;
                char err[256];
                if (ss_click_next(gt, pred, ign, w, h, NULL, &c, err, sizeof err))
                    printf("error: %s\n", err);
                else
                    printf("%d %d %d\n", (int)c.x, (int)c.y, c.label);
            }
            free(gt);
            free(pred);
            free(ign);
        } else if (strcmp(cmd, "st") == 0) {
            char *sn = strtok_r(NULL, " \t\n", &save);
            int k = sn ? atoi(sn) : 0, ok = k > 0;
            uint8_t **ms = calloc((size_t)(k > 0 ? k : 1), sizeof *ms);
            for (int i = 0; ok && i < k; i++) {
                char *p = strtok_r(NULL, " \t\n", &save);
                ms[i] = p ? read_raw(p, n) : NULL;
                ok = ms[i] != NULL;
            }
            if (ok)
                printf("%.17g\n", ss_stability((const uint8_t *const *)ms, k, w, h));
            else
                printf("error: cannot read masks\n");
            for (int i = 0; i < k; i++)
                free(ms[i]);
            free(ms);
        } else {
            printf("error: unknown command %s\n", cmd);
        }
        fflush(stdout);
    }
    return 0;
}
