/* cli.c — `stablesam`: dispatch to the subcommands (DESIGN §8). */
#include <stdio.h>
#include <string.h>

#include "cli-commands.h"
#include "config.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stablesam COMMAND [ARGS]\n"
            "  segment IMAGE [--box x0,y0,x1,y1] [--point x,y[,1|0]]... [--mask-input LOGITS.f32]\n"
            "          [--mode sam|stable] [--model FILE] [--plugin FILE|none] [--multimask]\n"
            "          [--out MASK.png] [--json OUT.json] [--trace TRACE.json] [--viz VIZ.png]\n"
            "  eval DATASET_DIR [--mode sam|stable|both] [--protocol all|box|points|noc] [--limit N]\n"
            "       [--seed S] --out DIR\n"
            "  bench [--image IMG] [--runs N] [--threads N] [--json]\n"
            "  embed DATASET_DIR --out DIR\n"
            "  export PROJECT.json --coco OUT.json [--polygons]\n"
            "  import COCO.json --images DIR --project OUT.json\n"
            "  fetch-model\n"
            "  version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (!strcmp(cmd, "segment")) return ssa_cmd_segment(argc, argv);
    if (!strcmp(cmd, "bench")) return ssa_cmd_bench(argc, argv);
    if (!strcmp(cmd, "fetch-model")) return ssa_cmd_fetch_model(argc, argv);
#ifdef SS_HAVE_CORE
    if (!strcmp(cmd, "export")) return ssa_cmd_export(argc, argv);
    if (!strcmp(cmd, "import")) return ssa_cmd_import(argc, argv);
#endif
#ifdef SS_HAVE_EVAL
    if (!strcmp(cmd, "eval")) return ssa_cmd_eval(argc, argv);
    if (!strcmp(cmd, "embed")) return ssa_cmd_embed(argc, argv);
#endif
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("stablesam %s\n", SS_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "stablesam: unknown command '%s' (see 'stablesam help')\n", cmd);
    return 2;
}
