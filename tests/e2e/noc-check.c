/* noc-check.c — helper of noc-session.sh, reading `stablesam eval`'s results.json and the
 * annotator's NoC report.
 *
 *   noc-check clicks RESULTS.json ID K MODE
 *       the simulator's clicks for object ID_K in MODE, one "x y label" line each
 *   noc-check row REPORT.json ROW
 *       "done|open N_CLICKS" of row ROW (1-based)
 *   noc-check compare RESULTS.json REPORT.json
 *       for every row of the report that is done: same clicks as eval, the same IoU after
 *       every click (eval's 3-decimal percentages = the report's, and eval's unrounded
 *       "iou_exact" = the report's "iou_exact" as doubles, i.e. bit for bit), the same NoC85 /
 *       NoC90. One line per row; exit 0 if all agree and at least one row was compared. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* objects[i].modes[MODE].noc of the object ID_K */
static json_object *eval_noc(json_object *results, const char *id, int k, const char *mode)
{
    json_object *objs = get(results, "objects");
    for (size_t i = 0; objs && i < json_object_array_length(objs); i++) {
        json_object *o = json_object_array_get_idx(objs, i);
        if (!strcmp(json_object_get_string(get(o, "id")), id) &&
            json_object_get_int(get(o, "object")) == k)
            return get(get(get(o, "modes"), mode), "noc");
    }
    return NULL;
}

static int cmd_clicks(json_object *results, const char *id, int k, const char *mode)
{
    json_object *noc = eval_noc(results, id, k, mode), *clicks = get(noc, "clicks");
    if (!clicks) {
        fprintf(stderr, "noc-check: no NoC result for %s_%d in mode %s\n", id, k, mode);
        return 1;
    }
    for (size_t i = 0; i < json_object_array_length(clicks); i++) {
        json_object *c = json_object_array_get_idx(clicks, i);
        printf("%.0f %.0f %d\n", json_object_get_double(json_object_array_get_idx(c, 0)),
               json_object_get_double(json_object_array_get_idx(c, 1)),
               json_object_get_int(json_object_array_get_idx(c, 2)));
    }
    return 0;
}

static int noc_value(json_object *v, int max_clicks)
{
    return v ? json_object_get_int(v) : max_clicks;
}

static int cmd_compare(json_object *results, json_object *report)
{
    json_object *rows = get(report, "objects");
    int max_clicks = json_object_get_int(get(report, "max_clicks"));
    int n_ok = 0, n_bad = 0;
    for (size_t r = 0; rows && r < json_object_array_length(rows); r++) {
        json_object *row = json_object_array_get_idx(rows, r);
        if (!json_object_get_boolean(get(row, "done")))
            continue;
        const char *id = json_object_get_string(get(row, "id"));
        const char *mode = json_object_get_string(get(row, "mode"));
        int k = json_object_get_int(get(row, "object"));
        json_object *noc = eval_noc(results, id, k, mode);
        if (!noc) {
            printf("%s_%d %s: not in the eval results\n", id, k, mode);
            n_bad++;
            continue;
        }
        json_object *ec = get(noc, "clicks"), *ei = get(noc, "iou"), *ex = get(noc, "iou_exact");
        json_object *gc = get(row, "clicks"), *gx = get(row, "iou_exact"), *gi = get(row, "iou");
        size_t n = json_object_array_length(ec);
        const char *why = NULL;
        char buf[256] = "";
        if (json_object_array_length(gc) != n) {
            snprintf(buf, sizeof buf, "%zu clicks in the GUI, %zu in eval", json_object_array_length(gc), n);
            why = buf;
        }
        for (size_t i = 0; !why && i < n; i++) {
            json_object *a = json_object_array_get_idx(ec, i), *b = json_object_array_get_idx(gc, i);
            for (int j = 0; j < 3 && !why; j++)
                if (json_object_get_double(json_object_array_get_idx(a, j)) !=
                    json_object_get_double(json_object_array_get_idx(b, j))) {
                    snprintf(buf, sizeof buf, "click %zu differs", i + 1);
                    why = buf;
                }
            char e[64], g[64], g2[64];
            double ev = json_object_get_double(json_object_array_get_idx(ei, i));
            double gv = json_object_get_double(json_object_array_get_idx(gx, i));
            snprintf(e, sizeof e, "%.3f", ev);
            snprintf(g, sizeof g, "%.3f", 100 * gv);
            snprintf(g2, sizeof g2, "%.3f", json_object_get_double(json_object_array_get_idx(gi, i)));
            if (!why && (strcmp(e, g) || strcmp(e, g2))) {
                snprintf(buf, sizeof buf, "IoU after click %zu: eval %s, GUI %s", i + 1, e, g);
                why = buf;
            }
            /* bit for bit: eval's unrounded IoU (%.17g round-trips a double) */
            if (!why && (!ex || json_object_get_double(json_object_array_get_idx(ex, i)) != gv)) {
                snprintf(buf, sizeof buf, "IoU after click %zu: eval %.17g, GUI %.17g (not bit-identical)",
                         i + 1, ex ? json_object_get_double(json_object_array_get_idx(ex, i)) : NAN, gv);
                why = buf;
            }
        }
        int e85 = noc_value(get(noc, "noc85"), max_clicks), e90 = noc_value(get(noc, "noc90"), max_clicks);
        int g85 = noc_value(get(row, "noc85"), max_clicks), g90 = noc_value(get(row, "noc90"), max_clicks);
        if (!why && (e85 != g85 || e90 != g90)) {
            snprintf(buf, sizeof buf, "NoC85/90: eval %d/%d, GUI %d/%d", e85, e90, g85, g90);
            why = buf;
        }
        if (why) {
            printf("%s_%d %s: %s\n", id, k, mode, why);
            n_bad++;
        } else {
            printf("%s_%d %s: %zu clicks, bit-identical IoUs (%.5f ... %.5f), NoC85 %d, NoC90 %d\n",
                   id, k, mode, n, json_object_get_double(json_object_array_get_idx(gx, 0)),
                   json_object_get_double(json_object_array_get_idx(gx, n - 1)), g85, g90);
            n_ok++;
        }
    }
    return n_bad == 0 && n_ok > 0 ? 0 : 1;
}

/* "DONE N_CLICKS" of row `row` (1-based) of a report */
static int cmd_row(json_object *report, int row)
{
    json_object *rows = get(report, "objects");
    if (!rows || row < 1 || (size_t)row > json_object_array_length(rows)) {
        fprintf(stderr, "noc-check: no row %d\n", row);
        return 1;
    }
    json_object *r = json_object_array_get_idx(rows, row - 1);
    printf("%s %zu\n", json_object_get_boolean(get(r, "done")) ? "done" : "open",
           json_object_array_length(get(r, "clicks")));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "row")) {
        json_object *rep = json_object_from_file(argv[2]);
        if (!rep) {
            fprintf(stderr, "noc-check: %s: cannot read JSON\n", argv[2]);
            return 1;
        }
        return cmd_row(rep, atoi(argv[3]));
    }
    if (argc == 6 && !strcmp(argv[1], "clicks")) {
        json_object *res = json_object_from_file(argv[2]);
        if (!res) {
            fprintf(stderr, "noc-check: %s: cannot read JSON\n", argv[2]);
            return 1;
        }
        return cmd_clicks(res, argv[3], atoi(argv[4]), argv[5]);
    }
    if (argc == 4 && !strcmp(argv[1], "compare")) {
        json_object *res = json_object_from_file(argv[2]), *rep = json_object_from_file(argv[3]);
        if (!res || !rep) {
            fprintf(stderr, "noc-check: %s: cannot read JSON\n", res ? argv[3] : argv[2]);
            return 1;
        }
        return cmd_compare(res, rep);
    }
    fprintf(stderr, "usage: noc-check clicks RESULTS.json ID K MODE\n"
                    "       noc-check row REPORT.json ROW\n"
                    "       noc-check compare RESULTS.json REPORT.json\n");
    return 2;
}
