/* fuzz_weights.c — safetensors loader (engine/weights.c): ss_weights_open on an in-memory file,
 * then lookups by name and shape, metadata, the all-used check. Every tensor returned is read
 * completely, so that a bad bounds check shows up under ASan (the loader copies a misaligned
 * data area to the heap, where ASan sees every byte) or valgrind. */
#include <math.h>

#include "fuzz-util.h"
#include "stablesam.h"
#include "weights.h"

static volatile float sink;

static void touch(const float *p, int ndim, const int64_t *shape)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (uint64_t)shape[i];
    float s = 0;
    for (uint64_t i = 0; i < n; i++) s += p[i];
    sink = s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[512];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0) return 0;
    err[0] = '\0';
    ss_weights *w = ss_weights_open(path, err, sizeof err);
    if (!w) {
        /* one line naming the file */
        FUZZ_CHECK(err[0] != '\0' && fuzz_one_line(err, data, size));
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
        close(fd);
        return 0;
    }
    /* names and shapes used by the seeds in corpus/weights (libFuzzer's comparison tracing
     * finds others); one of each rank 0..4 */
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } probes[] = {
        {"a", 1, {4}},          {"b", 2, {2, 3}},        {"c", 4, {2, 1, 3, 3}},
        {"d", 0, {0}},          {"e", 3, {1, 2, 2}},     {"dsp.scale", 1, {1}},
        {"a", 2, {2, 2}},       {"b", 1, {6}},
    };
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        int has = ss_weights_has(w, probes[i].name);
        const float *p = ss_weights_get(w, err, sizeof err, probes[i].ndim, probes[i].shape, "%s",
                                        probes[i].name);
        if (p) {
            FUZZ_CHECK(has);
            FUZZ_CHECK(((uintptr_t)p) % 4 == 0);
            touch(p, probes[i].ndim, probes[i].shape);
        } else {
            FUZZ_CHECK(fuzz_one_line(err, data, size));
        }
    }
    /* a printf-style name longer than the loader's buffer must be truncated, not overflow */
    char longname[700];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    FUZZ_CHECK(ss_weights_get(w, err, sizeof err, SS_DIMS(1), "%s", longname) == NULL);
    const char *fmt = ss_weights_meta(w, "format");
    if (fmt) sink = (float)strlen(fmt);
    (void)ss_weights_check_all_used(w, err, sizeof err);
    (void)ss_weights_hash(w);
    FUZZ_CHECK(strcmp(ss_weights_path(w), path) == 0);
    ss_weights_close(w);
    close(fd);
    return 0;
}
