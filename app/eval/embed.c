/* embed.c — the on-disk embedding cache (CACHE/<model hash>/<image sha256>.emb, written with
 * ss_embedding_save) and `stablesam embed DATASET_DIR --out DIR`: every image's embedding,
 * cached and resumable, plus DIR/index.json mapping set/id to the embedding file. */
#define G_LOG_DOMAIN "stablesam-embed"
#include <errno.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-commands.h"
#include "eval-private.h"
#include "model-path.h"

char *ssa_embedding_cache_default(void)
{
    g_autofree char *dir = ssa_cache_dir();
    return g_build_filename(dir, "embeddings", NULL);
}

char *ssa_embedding_cache_path(const char *cache_dir, const ss_model *model, const char *sha256)
{
    g_autofree char *name = g_strdup_printf("%s.emb", sha256);
    return g_build_filename(cache_dir, ss_model_hash(model), name, NULL);
}

gboolean ssa_embedding_get(const ss_model *model, ss_state *state, const char *cache_dir,
                           const char *image_path, const char *sha256, const SsaImage *img,
                           gboolean *cached, GError **error)
{
    char err[512] = "";
    g_autofree char *sha_owned = NULL;
    g_autofree char *path = NULL;
    *cached = FALSE;
    if (cache_dir) {
        if (!sha256) {
            sha_owned = ssa_file_hash(image_path, error);
            if (!sha_owned)
                return FALSE;
            sha256 = sha_owned;
        }
        path = ssa_embedding_cache_path(cache_dir, model, sha256);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            if (ss_embedding_load(state, path, err, sizeof err) == SS_OK) {
                *cached = TRUE;
                return TRUE;
            }
            /* a damaged or foreign file: encode again and replace it */
            g_printerr("stablesam: %s (encoding again)\n", err);
        }
    }
    g_autoptr(SsaImage) own = NULL;
    if (!img) {
        own = ssa_image_load(image_path, 0, error);
        if (!own)
            return FALSE;
        img = own;
    }
    if (ss_encode(state, img->rgb, img->width, img->height, img->stride, err, sizeof err) != SS_OK) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", image_path, err);
        return FALSE;
    }
    if (path) {
        g_autofree char *dir = g_path_get_dirname(path);
        if (g_mkdir_with_parents(dir, 0755) != 0) {
            int e = errno;
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", dir,
                        g_strerror(e));
            return FALSE;
        }
        /* atomic, with a temp name of its own: eval workers may save the same embedding */
        int rc = ss_embedding_save(state, path, err, sizeof err);
        if (rc != SS_OK) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", err);
            return FALSE;
        }
    }
    return TRUE;
}

static void json_put(gpointer o)
{
    json_object_put(o);
}

static void embed_usage(FILE *f)
{
    fprintf(f, "usage: stablesam embed DATASET_DIR --out DIR [--split all|train|val] [--limit N]\n"
               "                       [--model FILE] [--threads N]\n"
               "Writes DIR/<model hash>/<image sha256>.emb for every image (kept when already\n"
               "there: interrupted runs resume) and DIR/index.json (set, id, image, size, file).\n");
}

/* index.json: {"model", "model_hash", "images": [{"set","id","image","sha256","width",
   "height","embedding"}]}; entries of an earlier index for the same model are kept */
static gboolean write_index(const char *out_dir, const char *model_path, const ss_model *model,
                            GHashTable *entries, GError **error)
{
    json_object *root = json_object_new_object();
    json_object_object_add(root, "model", json_object_new_string(model_path));
    json_object_object_add(root, "model_hash", json_object_new_string(ss_model_hash(model)));
    json_object *arr = json_object_new_array();
    g_autoptr(GList) keys = g_hash_table_get_keys(entries);
    keys = g_list_sort(keys, (GCompareFunc)strcmp);
    for (GList *l = keys; l; l = l->next)
        json_object_array_add(arr, json_object_get(g_hash_table_lookup(entries, l->data)));
    json_object_object_add(root, "images", arr);
    const char *txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    g_autofree char *path = g_build_filename(out_dir, "index.json", NULL);
    gboolean ok = ssa_write_atomic(path, txt, strlen(txt), error);
    json_object_put(root);
    return ok;
}

int ssa_cmd_embed(int argc, char **argv)
{
    const char *dataset = NULL, *out = NULL, *model_opt = NULL, *split = "all";
    int threads = 0, limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            embed_usage(stdout);
            return 0;
        }
        if (o[0] == '-' && o[1] == '-') {
            if (!v) {
                fprintf(stderr, "stablesam: embed: %s needs a value\n", o);
                return 2;
            }
            i++;
            if (!strcmp(o, "--out")) out = v;
            else if (!strcmp(o, "--model")) model_opt = v;
            else if (!strcmp(o, "--split")) split = v;
            else if (!strcmp(o, "--threads")) threads = atoi(v);
            else if (!strcmp(o, "--limit")) limit = atoi(v);
            else {
                fprintf(stderr, "stablesam: embed: unknown option %s\n", o);
                embed_usage(stderr);
                return 2;
            }
        } else if (!dataset) {
            dataset = o;
        } else {
            fprintf(stderr, "stablesam: embed: unexpected argument '%s'\n", o);
            return 2;
        }
    }
    if (!dataset || !out) {
        embed_usage(stderr);
        return 2;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(SsaDataset) ds = ssa_dataset_scan(dataset, split, problems, &error);
    for (guint i = 0; i < problems->len; i++)
        fprintf(stderr, "stablesam: %s\n", (const char *)problems->pdata[i]);
    if (!ds) {
        fprintf(stderr, "stablesam: %s\n", error->message);
        return 1;
    }
    g_autofree char *model_path = ssa_model_path(model_opt);
    char err[512] = "";
    ss_model_params mp = ss_model_default_params();
    mp.n_threads = threads;
    ss_model *model = ss_model_load(model_path, NULL, mp, err, sizeof err);
    if (!model) {
        fprintf(stderr, "stablesam: %s\n", err);
        return 1;
    }
    ss_state *state = ss_state_new(model, err, sizeof err);
    if (!state) {
        fprintf(stderr, "stablesam: %s\n", err);
        ss_model_free(model);
        return 1;
    }
    g_autoptr(GHashTable) entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                          json_put);
    /* keep an earlier index of the same model (resume / several data sets in one DIR) */
    g_autofree char *index_path = g_build_filename(out, "index.json", NULL);
    json_object *old = json_object_from_file(index_path);
    json_object *oh, *oi;
    if (old && json_object_object_get_ex(old, "model_hash", &oh) &&
        !strcmp(json_object_get_string(oh), ss_model_hash(model)) &&
        json_object_object_get_ex(old, "images", &oi) && json_object_is_type(oi, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(oi); i++) {
            json_object *e = json_object_array_get_idx(oi, i), *im;
            if (json_object_object_get_ex(e, "image", &im))
                g_hash_table_replace(entries, g_strdup(json_object_get_string(im)),
                                     json_object_get(e));
        }
    }
    json_object_put(old);

    int n = (int)ds->images->len;
    if (limit > 0 && limit < n)
        n = limit;
    SsaProgress prog;
    ssa_progress_init(&prog, "embed", n);
    int n_cached = 0, n_new = 0, n_fail = 0;
    for (int i = 0; i < n; i++) {
        SsaEvalImage *im = ds->images->pdata[i];
        g_autoptr(GError) e = NULL;
        g_autofree char *sha = ssa_file_hash(im->path, &e);
        gboolean cached = FALSE;
        if (!sha || !ssa_embedding_get(model, state, out, im->path, sha, NULL, &cached, &e)) {
            fprintf(stderr, "%sstablesam: %s\n", prog.tty ? "\n" : "", e->message);
            n_fail++;
            continue;
        }
        cached ? n_cached++ : n_new++;
        int w = 0, h = 0;
        ss_state_image_size(state, &w, &h);
        json_object *entry = json_object_new_object();
        json_object_object_add(entry, "set", json_object_new_string(im->set));
        json_object_object_add(entry, "id", json_object_new_string(im->id));
        json_object_object_add(entry, "image", json_object_new_string(im->path));
        json_object_object_add(entry, "sha256", json_object_new_string(sha));
        json_object_object_add(entry, "width", json_object_new_int(w));
        json_object_object_add(entry, "height", json_object_new_int(h));
        g_autofree char *rel = g_strdup_printf("%s/%s.emb", ss_model_hash(model), sha);
        json_object_object_add(entry, "embedding", json_object_new_string(rel));
        g_hash_table_replace(entries, g_strdup(im->path), entry);
        ssa_progress_update(&prog, i + 1, im->path);
        if ((i + 1) % 20 == 0 && !write_index(out, model_path, model, entries, &e))
            fprintf(stderr, "stablesam: %s\n", e->message);
    }
    ssa_progress_done(&prog);
    int rc = 0;
    if (!write_index(out, model_path, model, entries, &error)) {
        fprintf(stderr, "stablesam: %s\n", error->message);
        rc = 1;
    }
    fprintf(stderr, "embed: %d images: %d encoded, %d from the cache, %d failed -> %s\n", n,
            n_new, n_cached, n_fail, index_path);
    ss_state_free(state);
    ss_model_free(model);
    return rc ? rc : (n_fail ? 1 : 0);
}
