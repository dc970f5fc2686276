/* fuzz_plugin.c — a Stable-SAM plugin file (engine/plugin.c): ss_weights_open +
 * ss_plugin_bind, the exact path ss_model_load takes for `--plugin FILE`, without needing the
 * 39 MB model (fuzz_model covers the public ss_model_load). */
#include "decoder.h"
#include "fuzz-util.h"
#include "stablesam.h"
#include "weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[512];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    err[0] = '\0';
    ss_weights *w = ss_weights_open(path, err, sizeof err);
    if (w) {
        ss_plugin_w *p = ss_plugin_bind(w, err, sizeof err);
        if (p) {
            FUZZ_CHECK(ss_weights_check_all_used(w, err, sizeof err) == SS_OK);
            ss_plugin_free(p);
        } else {
            FUZZ_CHECK(err[0] != '\0' && fuzz_one_line(err, data, size));
        }
        ss_weights_close(w);
    } else {
        FUZZ_CHECK(err[0] != '\0' && fuzz_one_line(err, data, size));
    }
    close(fd);
    return 0;
}
