/* The safetensors loader refuses every kind of broken file with a one-line message naming the
 * file, and never reads outside it. Synthetic files, plus truncated / corrupted copies of the
 * real model when it is there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stablesam.h"
#include "tap.h"
#include "weights.h"

static char dir[] = "/tmp/ss-test-weights-XXXXXX";

static const char *write_st(const char *name, const char *header, size_t data_len, int64_t hlen_override)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    uint64_t hlen = hlen_override >= 0 ? (uint64_t)hlen_override : strlen(header);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++) fputc(0, f);
    fclose(f);
    return path;
}

static void expect_fail(const char *name, const char *header, size_t data_len, int64_t hlen, const char *needle)
{
    char err[512] = "";
    const char *path = write_st(name, header, data_len, hlen);
    ss_weights *w = ss_weights_open(path, err, sizeof err);
    int ok = !w && strstr(err, path) && strstr(err, needle) && !strchr(err, '\n');
    tap_ok(ok, "%s refused: %s", name, err);
    ss_weights_close(w);
}

static void copy_truncated(const char *src, const char *dst, long keep, long flip_at)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[65536];
    long done = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0 && (keep < 0 || done < keep)) {
        if (keep >= 0 && done + (long)n > keep) n = (size_t)(keep - done);
        if (flip_at >= done && flip_at < done + (long)n) buf[flip_at - done] ^= 0x5a;
        fwrite(buf, 1, n, out);
        done += (long)n;
    }
    fclose(in);
    fclose(out);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    const char *model = getenv("STABLESAM_MODEL");
    int have_model = model && access(model, R_OK) == 0;
    tap_plan(16 + (have_model ? 5 : 0));

    /* a valid file: two tensors */
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]},"
                       "\"__metadata__\":{\"source\":\"test\"}}";
    char err[512] = "";
    const char *path = write_st("good.safetensors", good, 40, -1);
    ss_weights *w = ss_weights_open(path, err, sizeof err);
    tap_ok(w != NULL, "valid file loads (%s)", w ? "ok" : err);
    if (w) {
        tap_ok(ss_weights_get(w, err, sizeof err, SS_DIMS(2, 3), "a") != NULL, "tensor a [2,3] found");
        tap_ok(ss_weights_get(w, err, sizeof err, SS_DIMS(3, 2), "b") == NULL && strstr(err, "shape [4], expected [3, 2]"),
               "wrong shape reported: %s", err);
        tap_ok(ss_weights_check_all_used(w, err, sizeof err) != SS_OK && strstr(err, "unexpected tensor b"),
               "unused tensor reported: %s", err);
        tap_ok(ss_weights_get(w, err, sizeof err, SS_DIMS(1), "zzz") == NULL && strstr(err, "zzz is missing"),
               "missing tensor reported: %s", err);
        tap_ok(ss_weights_meta(w, "source") && !strcmp(ss_weights_meta(w, "source"), "test"), "metadata read");
        ss_weights_close(w);
    } else {
        for (int i = 0; i < 5; i++) tap_ok(0, "skipped: valid file did not load");
    }
    expect_fail("trunc.safetensors", good, 30, -1, "past the end");
    expect_fail("hlen.safetensors", good, 40, 1 << 20, "header length");
    expect_fail("json.safetensors", "{\"a\":{\"dtype\":", 0, -1, "not valid JSON");
    expect_fail("dtype.safetensors", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, -1,
                "only F32");
    expect_fail("count.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1,
                "8 bytes for 3 floats");
    expect_fail("overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                16, -1, "overlap");
    expect_fail("neg.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1,
                "bad dimension");
    expect_fail("huge.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824,4],\"data_offsets\":[0,8]}}", 8, -1,
                "absurd");
    expect_fail("short.safetensors", "", 0, 3, "header length");
    path = write_st("empty.safetensors", "", 0, 0);
    truncate(path, 4);
    w = ss_weights_open(path, err, sizeof err);
    tap_ok(!w && strstr(err, "too short"), "4-byte file refused: %s", err);

    if (have_model) {
        char p2[512];
        ss_model_params mp = ss_model_default_params();
        mp.n_threads = 1;
        snprintf(p2, sizeof p2, "%s/trunc-model.safetensors", dir);
        copy_truncated(model, p2, 20 << 20, -1);
        ss_model *m = ss_model_load(p2, NULL, mp, err, sizeof err);
        tap_ok(!m && strstr(err, p2) && strstr(err, "truncated"), "truncated model refused: %s", err);
        ss_model_free(m);
        copy_truncated(model, p2, -1, 9); /* corrupt the first bytes of the JSON header */
        m = ss_model_load(p2, NULL, mp, err, sizeof err);
        tap_ok(!m && strstr(err, p2), "corrupted header refused: %s", err);
        ss_model_free(m);
        m = ss_model_load(path, NULL, mp, err, sizeof err);
        tap_ok(!m && strstr(err, path), "non-model file refused: %s", err);
        ss_model_free(m);
        m = ss_model_load(model, model, mp, err, sizeof err);
        tap_ok(!m && strstr(err, model) && !strchr(err, 0x0a), "model file given as plugin refused: %s", err);
        ss_model_free(m);
        m = ss_model_load(model, NULL, mp, err, sizeof err);
        tap_ok(m != NULL, "real model loads (%s)", m ? ss_model_hash(m) : err);
        ss_model_free(m);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return tap_done();
}
