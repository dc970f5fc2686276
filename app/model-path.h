/* model-path.h — where the model and plugin live (DESIGN §8: --model, $STABLESAM_MODEL, cache). */
#ifndef SSA_MODEL_PATH_H
#define SSA_MODEL_PATH_H
#include <glib.h>

/* $XDG_CACHE_HOME/stablesam (created on demand by callers that write). */
char *ssa_cache_dir(void);
/* The model file: `explicit_path` if set, else $STABLESAM_MODEL, else the cache
 * ($XDG_CACHE_HOME/stablesam/mobilesam.safetensors). Never NULL. */
char *ssa_model_path(const char *explicit_path);
/* The default Stable-SAM plugin: $STABLESAM_PLUGIN, else resources/stable-sam-plugin.safetensors
 * (installed or source tree). NULL when there is none. `explicit_path` "none" -> NULL. */
char *ssa_plugin_path(const char *explicit_path);
#endif
