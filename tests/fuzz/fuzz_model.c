/* fuzz_model.c — the public ss_model_load(): the input as the model file (no plugin), and,
 * when the real model is available ($STABLESAM_MODEL, else the fetch-model cache), the real
 * model with the input as the plugin file. Loading maps and hashes the 39 MB model each time:
 * slow (tens of executions per second); fuzz_plugin is the fast target for plugin parsing. */
#include <sys/stat.h>

#include "fuzz-util.h"
#include "stablesam.h"

static char model_path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *env = getenv("STABLESAM_MODEL");
    if (env && *env) {
        snprintf(model_path, sizeof model_path, "%s", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(model_path, sizeof model_path, "%s/stablesam/mobilesam.safetensors", xdg);
        else if (home)
            snprintf(model_path, sizeof model_path, "%s/.cache/stablesam/mobilesam.safetensors", home);
    }
    struct stat st;
    if (!model_path[0] || stat(model_path, &st) != 0) {
        fprintf(stderr, "fuzz_model: no model at '%s': plugin half skipped\n", model_path);
        model_path[0] = '\0';
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[512];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = 1;
    err[0] = '\0';
    ss_model *m = ss_model_load(path, NULL, mp, err, sizeof err);
    if (m) {
        /* a small input cannot hold MobileSAM's 9.8 M parameters */
        FUZZ_CHECK(size > 39000000);
        ss_model_free(m);
    } else {
        FUZZ_CHECK(err[0] != '\0' && fuzz_one_line(err, data, size));
    }
    if (model_path[0]) {
        err[0] = '\0';
        m = ss_model_load(model_path, path, mp, err, sizeof err);
        if (m) {
            FUZZ_CHECK(ss_model_has_plugin(m));
            FUZZ_CHECK(strlen(ss_model_hash(m)) == 16);
            ss_model_free(m);
        } else {
            FUZZ_CHECK(err[0] != '\0' && fuzz_one_line(err, data, size));
        }
    }
    close(fd);
    return 0;
}
