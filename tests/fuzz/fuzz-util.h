/* fuzz-util.h — helpers shared by the fuzz targets (header-only, static functions).
 *
 * Every target defines LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize). The same
 * source links either with libFuzzer (scripts/fuzz.sh, clang) or with driver.c, which replays
 * the saved corpus + crashers as a TAP test in the normal and the sanitizer builds. */
#ifndef SS_FUZZ_UTIL_H
#define SS_FUZZ_UTIL_H
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A failed invariant is a bug in the code under test: report it and abort, so that libFuzzer
 * saves the input and the regression driver fails. */
#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* An in-memory file holding `data`; its path (/proc/self/fd/N) goes into path[n].
 * Returns the fd (close it when done) or -1. Nothing touches the disk. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t n)
{
    int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t k = write(fd, data + off, size - off);
        if (k < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return -1;
        }
        off += (size_t)k;
    }
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

/* Error messages must be one line. Text copied from the input (a file name, a format string)
 * may itself hold a newline — json-c accepts raw control characters and "\n" escapes in
 * strings — so the check only applies when the input has no '\n' byte and no backslash. */
static inline int fuzz_one_line(const char *msg, const uint8_t *data, size_t size)
{
    if (!strchr(msg, '\n')) return 1;
    if (memchr(data, '\n', size) || memchr(data, '\\', size)) return 1;
    fprintf(stderr, "multi-line error message: %s\n", msg);
    return 0;
}

/* The input as a NUL-terminated string (malloc'd). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}
#endif
