/* driver.c — replays saved fuzz inputs through a target's LLVMFuzzerTestOneInput, so the corpus
 * and every crasher found so far run as a regression test in the normal (gcc) build and the
 * ASan+UBSan build, without libFuzzer.
 *
 * Usage: fuzz-regress-TARGET PATH...   (files, or folders whose files are replayed in name order)
 * Output: TAP, one line per input. A crash aborts the process, which the test harness reports
 * as a failure naming the last input started (printed as a TAP comment before it runs). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz-util.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int n_run;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("not ok %d - %s: cannot open\n", ++n_run, path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
        fclose(f);
        free(buf);
        printf("not ok %d - %s: cannot read\n", ++n_run, path);
        return 1;
    }
    fclose(f);
    printf("# running %s (%ld bytes)\n", path, len);
    fflush(stdout);
    /* an exact-size copy, so that ASan sees reads past the end of the input */
    uint8_t *copy = malloc(len > 0 ? (size_t)len : 1);
    if (!copy) abort();
    memcpy(copy, buf, (size_t)len);
    free(buf);
    LLVMFuzzerTestOneInput(copy, (size_t)len);
    free(copy);
    printf("ok %d - %s\n", ++n_run, path);
    fflush(stdout);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        /* a target without crashers has no crashers/ folder: nothing to replay */
        printf("# %s: not present\n", path);
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path);
    DIR *d = opendir(path);
    if (!d) {
        printf("not ok %d - %s: cannot read the folder\n", ++n_run, path);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names) abort();
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_name);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]) + 2;
        char *full = malloc(len);
        if (!full) abort();
        snprintf(full, len, "%s/%s", path, names[i]);
        bad |= run_path(full);
        free(full);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int bad = 0;
    for (int i = 1; i < argc; i++) bad |= run_path(argv[i]);
    if (n_run == 0) {
        printf("1..0 # SKIP no saved inputs\n");
        return 0;
    }
    printf("1..%d\n", n_run);
    return bad;
}
