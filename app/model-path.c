/* model-path.c — where the model and the plugin are found. */
#include "model-path.h"

#include "config.h"

char *ssa_cache_dir(void)
{
    return g_build_filename(g_get_user_cache_dir(), "stablesam", NULL);
}

char *ssa_model_path(const char *explicit_path)
{
    if (explicit_path && *explicit_path) return g_strdup(explicit_path);
    const char *env = g_getenv("STABLESAM_MODEL");
    if (env && *env) return g_strdup(env);
    g_autofree char *dir = ssa_cache_dir();
    return g_build_filename(dir, "mobilesam.safetensors", NULL);
}

char *ssa_plugin_path(const char *explicit_path)
{
    if (explicit_path && *explicit_path) {
        if (g_str_equal(explicit_path, "none")) return NULL;
        return g_strdup(explicit_path);
    }
    const char *env = g_getenv("STABLESAM_PLUGIN");
    if (env && *env) return g_str_equal(env, "none") ? NULL : g_strdup(env);
    g_autofree char *src = g_build_filename(SS_RESOURCES_DIR, "stable-sam-plugin.safetensors", NULL);
    if (g_file_test(src, G_FILE_TEST_IS_REGULAR)) return g_steal_pointer(&src);
    return NULL;
}
