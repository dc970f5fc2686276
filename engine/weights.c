/* weights.c — safetensors loader: mmap the file, parse and validate the JSON header.
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {...}},
 * then the data area; offsets are relative to the start of the data area.
 * Nothing read from the file is trusted before it is checked against the file's length. */
#include "weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "stablesam.h"

#define SS_MAX_HEADER (64u << 20) /* 64 MiB of JSON is far beyond any real model */
#define SS_MAX_TENSORS 100000

typedef struct {
    char *name;
    int ndim;
    int64_t shape[4];
    uint64_t begin, end; /* byte offsets in the data area */
    int used;
} ss_entry;

struct ss_weights {
    char *path;
    const uint8_t *map; /* whole file */
    uint64_t size;
    const uint8_t *data; /* data area (in the map, or `copy` when the map's is misaligned) */
    uint8_t *copy;
    uint64_t data_size;
    ss_entry *entries;
    int n_entries;
    char **meta_keys, **meta_vals;
    int n_meta;
    uint64_t hash;
};

static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || n == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const ss_entry *)a)->name, ((const ss_entry *)b)->name);
}

static int cmp_entry_begin(const void *a, const void *b)
{
    const ss_entry *x = *(const ss_entry *const *)a, *y = *(const ss_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* json-c numbers: accept only non-negative integers that fit. */
static int json_u64(json_object *o, uint64_t *out)
{
    if (!o || json_object_get_type(o) != json_type_int) return -1;
    errno = 0;
    int64_t v = json_object_get_int64(o);
    if (errno != 0 || v < 0) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_meta(ss_weights *w, json_object *meta, char *err, size_t n)
{
    if (json_object_get_type(meta) != json_type_object) {
        set_err(err, n, "%s: __metadata__ is not an object", w->path);
        return SS_ERR_FORMAT;
    }
    int count = json_object_object_length(meta);
    w->meta_keys = calloc((size_t)count + 1, sizeof(char *));
    w->meta_vals = calloc((size_t)count + 1, sizeof(char *));
    if (!w->meta_keys || !w->meta_vals) return SS_ERR_NOMEM;
    json_object_object_foreach(meta, key, val) {
        if (json_object_get_type(val) != json_type_string) {
            set_err(err, n, "%s: __metadata__.%s is not a string", w->path, key);
            return SS_ERR_FORMAT;
        }
        w->meta_keys[w->n_meta] = strdup(key);
        w->meta_vals[w->n_meta] = strdup(json_object_get_string(val));
        if (!w->meta_keys[w->n_meta] || !w->meta_vals[w->n_meta]) return SS_ERR_NOMEM;
        w->n_meta++;
    }
    return SS_OK;
}

static int parse_entry(ss_weights *w, const char *key, json_object *val, ss_entry *e, char *err, size_t n)
{
    json_object *dtype, *shape, *offs;
    if (json_object_get_type(val) != json_type_object ||
        !json_object_object_get_ex(val, "dtype", &dtype) ||
        !json_object_object_get_ex(val, "shape", &shape) ||
        !json_object_object_get_ex(val, "data_offsets", &offs)) {
        set_err(err, n, "%s: tensor %s: entry needs dtype, shape and data_offsets", w->path, key);
        return SS_ERR_FORMAT;
    }
    if (json_object_get_type(dtype) != json_type_string || strcmp(json_object_get_string(dtype), "F32") != 0) {
        set_err(err, n, "%s: tensor %s: dtype %s, only F32 is supported", w->path, key,
                json_object_get_type(dtype) == json_type_string ? json_object_get_string(dtype) : "(not a string)");
        return SS_ERR_FORMAT;
    }
    if (json_object_get_type(shape) != json_type_array || json_object_array_length(shape) > 4) {
        set_err(err, n, "%s: tensor %s: shape must be an array of at most 4 dims", w->path, key);
        return SS_ERR_FORMAT;
    }
    e->ndim = (int)json_object_array_length(shape);
    uint64_t count = 1;
    for (int i = 0; i < e->ndim; i++) {
        uint64_t d;
        if (json_u64(json_object_array_get_idx(shape, (size_t)i), &d) || d > (1u << 30)) {
            set_err(err, n, "%s: tensor %s: bad dimension %d", w->path, key, i);
            return SS_ERR_FORMAT;
        }
        e->shape[i] = (int64_t)d;
        count *= d; /* each d <= 2^30 and ndim <= 4 cannot overflow past the check below */
        if (count > (UINT64_C(1) << 40)) {
            set_err(err, n, "%s: tensor %s: absurd element count", w->path, key);
            return SS_ERR_FORMAT;
        }
    }
    if (json_object_get_type(offs) != json_type_array || json_object_array_length(offs) != 2 ||
        json_u64(json_object_array_get_idx(offs, 0), &e->begin) ||
        json_u64(json_object_array_get_idx(offs, 1), &e->end) || e->end < e->begin) {
        set_err(err, n, "%s: tensor %s: data_offsets must be [begin, end] with begin <= end", w->path, key);
        return SS_ERR_FORMAT;
    }
    if (e->end - e->begin != count * 4) {
        set_err(err, n, "%s: tensor %s: %llu bytes for %llu floats", w->path, key,
                (unsigned long long)(e->end - e->begin), (unsigned long long)count);
        return SS_ERR_FORMAT;
    }
    if (e->end > w->data_size) {
        set_err(err, n, "%s: tensor %s: data [%llu, %llu) past the end of the file (truncated?)", w->path,
                key, (unsigned long long)e->begin, (unsigned long long)e->end);
        return SS_ERR_FORMAT;
    }
    if (e->begin % 4 != 0) {
        set_err(err, n, "%s: tensor %s: data not 4-byte aligned", w->path, key);
        return SS_ERR_FORMAT;
    }
    e->name = strdup(key);
    return e->name ? SS_OK : SS_ERR_NOMEM;
}

static uint64_t fnv1a64(const uint8_t *p, uint64_t n)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

ss_weights *ss_weights_open(const char *path, char *err, size_t errlen)
{
    ss_weights *w = calloc(1, sizeof *w);
    int fd = -1;
    json_object *root = NULL;
    ss_entry **order = NULL;
    if (!w || !(w->path = strdup(path))) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    w->size = (uint64_t)st.st_size;
    if (w->size < 8) {
        set_err(err, errlen, "%s: file too short for a safetensors header (%llu bytes)", path,
                (unsigned long long)w->size);
        goto fail;
    }
    void *map = mmap(NULL, (size_t)w->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        set_err(err, errlen, "%s: mmap: %s", path, strerror(errno));
        goto fail;
    }
    w->map = map;
    close(fd);
    fd = -1;

    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | w->map[i];
    if (hlen == 0 || hlen > SS_MAX_HEADER || hlen > w->size - 8) {
        set_err(err, errlen, "%s: header length %llu does not fit the file (%llu bytes): not a safetensors file or truncated",
                path, (unsigned long long)hlen, (unsigned long long)w->size);
        goto fail;
    }
    w->data = w->map + 8 + hlen;
    w->data_size = w->size - 8 - hlen;
    if (((uintptr_t)w->data) % 4 != 0) {
        /* Writers usually pad the header to 8 bytes; when one did not, the floats are not
         * aligned in the map: use an aligned copy of the data area instead. */
        w->copy = malloc(w->data_size ? (size_t)w->data_size : 1);
        if (!w->copy) {
            set_err(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        memcpy(w->copy, w->data, (size_t)w->data_size);
        w->data = w->copy;
    }

    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    root = json_tokener_parse_ex(tok, (const char *)w->map + 8, (int)hlen);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t parsed = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        set_err(err, errlen, "%s: header is not valid JSON (%s)", path, json_tokener_error_desc(jerr));
        goto fail;
    }
    for (size_t i = parsed; i < hlen; i++) {
        char c = (char)w->map[8 + i];
        if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            set_err(err, errlen, "%s: trailing bytes after the JSON header", path);
            goto fail;
        }
    }
    if (json_object_get_type(root) != json_type_object) {
        set_err(err, errlen, "%s: header is not a JSON object", path);
        goto fail;
    }
    int count = json_object_object_length(root);
    if (count > SS_MAX_TENSORS) {
        set_err(err, errlen, "%s: %d header entries is absurd", path, count);
        goto fail;
    }
    w->entries = calloc((size_t)count + 1, sizeof(ss_entry));
    if (!w->entries) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    json_object_object_foreach(root, key, val) {
        int rc;
        if (strcmp(key, "__metadata__") == 0)
            rc = parse_meta(w, val, err, errlen);
        else
            rc = parse_entry(w, key, val, &w->entries[w->n_entries++], err, errlen);
        if (rc != SS_OK) {
            if (rc == SS_ERR_NOMEM) set_err(err, errlen, "%s: out of memory", path);
            goto fail;
        }
    }
    json_object_put(root);
    root = NULL;

    /* Tensors must not overlap (a corrupted header could alias them). */
    order = malloc(((size_t)w->n_entries + 1) * sizeof *order);
    if (!order) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    for (int i = 0; i < w->n_entries; i++) order[i] = &w->entries[i];
    qsort(order, (size_t)w->n_entries, sizeof *order, cmp_entry_begin);
    for (int i = 1; i < w->n_entries; i++) {
        if (order[i]->begin < order[i - 1]->end && order[i]->end > order[i]->begin) {
            set_err(err, errlen, "%s: tensors %s and %s overlap", path, order[i - 1]->name, order[i]->name);
            goto fail;
        }
    }
    free(order);
    order = NULL;
    qsort(w->entries, (size_t)w->n_entries, sizeof(ss_entry), cmp_entry_name);
    w->hash = fnv1a64(w->map, w->size);
    return w;

fail:
    free(order);
    if (root) json_object_put(root);
    if (fd >= 0) close(fd);
    ss_weights_close(w);
    return NULL;
}

void ss_weights_close(ss_weights *w)
{
    if (!w) return;
    if (w->map) munmap((void *)w->map, (size_t)w->size);
    free(w->copy);
    for (int i = 0; i < w->n_entries; i++) free(w->entries[i].name);
    free(w->entries);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_vals[i]);
    }
    free(w->meta_keys);
    free(w->meta_vals);
    free(w->path);
    free(w);
}

static ss_entry *find(const ss_weights *w, const char *name)
{
    ss_entry key = {.name = (char *)name};
    return bsearch(&key, w->entries, (size_t)w->n_entries, sizeof(ss_entry), cmp_entry_name);
}

static void fmt_shape(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

const float *ss_weights_get(ss_weights *w, char *err, size_t errlen, int ndim, const int64_t *shape,
                            const char *name_fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, name_fmt);
    vsnprintf(name, sizeof name, name_fmt, ap);
    va_end(ap);
    ss_entry *e = find(w, name);
    if (!e) {
        set_err(err, errlen, "%s: tensor %s is missing", w->path, name);
        return NULL;
    }
    int same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = e->shape[i] == shape[i];
    if (!same) {
        char have[96], want[96];
        fmt_shape(have, sizeof have, e->ndim, e->shape);
        fmt_shape(want, sizeof want, ndim, shape);
        set_err(err, errlen, "%s: tensor %s has shape %s, expected %s", w->path, name, have, want);
        return NULL;
    }
    e->used = 1;
    return (const float *)(w->data + e->begin);
}

int ss_weights_has(const ss_weights *w, const char *name) { return find(w, name) != NULL; }

int ss_weights_check_all_used(const ss_weights *w, char *err, size_t errlen)
{
    for (int i = 0; i < w->n_entries; i++) {
        if (!w->entries[i].used) {
            set_err(err, errlen, "%s: unexpected tensor %s (not part of this model)", w->path, w->entries[i].name);
            return SS_ERR_FORMAT;
        }
    }
    return SS_OK;
}

const char *ss_weights_meta(const ss_weights *w, const char *key)
{
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta_keys[i], key) == 0) return w->meta_vals[i];
    return NULL;
}

const char *ss_weights_path(const ss_weights *w) { return w->path; }
uint64_t ss_weights_hash(const ss_weights *w) { return w->hash; }
