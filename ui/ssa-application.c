/* ssa-application.c — GtkApplication: command line, app actions and accelerators, CSS. */
#define G_LOG_DOMAIN "ssa-application"
#include "config.h"
#include "ssa-application.h"
#include "ssa-window.h"
#include "model-path.h"

struct _SsaApplication {
    GtkApplication parent_instance;

    /* owned references */
    GSettings *settings;
};

G_DEFINE_FINAL_TYPE(SsaApplication, ssa_application, GTK_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
    { "project", 'p', 0, G_OPTION_ARG_FILENAME, NULL,
      "Project file to open or create (default: stablesam-project.json in the images' folder)", "FILE" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, NULL, "Model file (default: $STABLESAM_MODEL, then the cache)", "FILE" },
    { "plugin", 0, 0, G_OPTION_ARG_FILENAME, NULL, "Stable-SAM plugin file, or 'none'", "FILE" },
    { "gt", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      "NoC session on a data set with ground truth (SET/images, SET/masks/ID_K.png)", "SET" },
    { "noc-report", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      "NoC report (JSON; the CSV goes next to it; resumed if it exists; default SET/stablesam-noc.json)", "FILE" },
    { "noc-mode", 0, 0, G_OPTION_ARG_STRING, NULL,
      "NoC modes: sam, stable or both (each object in both modes, shuffled; default with a plugin)", "MODE" },
    { "noc-seed", 0, 0, G_OPTION_ARG_INT64, NULL, "Seed of the NoC order (default: from the clock)", "N" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL, "[DIR | IMAGE...]" },
    { NULL }
};

GSettings *
ssa_application_get_settings(SsaApplication *self)
{
    g_return_val_if_fail(SSA_IS_APPLICATION(self), NULL);
    if (self->settings)
        return self->settings;
    GSettingsSchemaSource *source = g_settings_schema_source_get_default();
    g_autoptr(GSettingsSchema) schema =
        source ? g_settings_schema_source_lookup(source, SSA_APPLICATION_ID, TRUE) : NULL;
    if (!schema) {
        /* running from the build tree: the schema compiled by resources/meson.build */
        g_autoptr(GError) error = NULL;
        g_autoptr(GSettingsSchemaSource) local =
            g_settings_schema_source_new_from_directory(SSA_SCHEMA_BUILD_DIR, source, FALSE, &error);
        if (local)
            schema = g_settings_schema_source_lookup(local, SSA_APPLICATION_ID, FALSE);
    }
    if (!schema) {
        g_printerr("stablesam-annotate: GSettings schema %s is not installed (set GSETTINGS_SCHEMA_DIR)\n",
                   SSA_APPLICATION_ID);
        return NULL;
    }
    self->settings = g_settings_new_full(schema, NULL, NULL);
    return self->settings;
}

static int
ssa_application_command_line(GApplication *app, GApplicationCommandLine *cmdline)
{
    SsaApplication *self = SSA_APPLICATION(app);
    GVariantDict *options = g_application_command_line_get_options_dict(cmdline);
    const char *project = NULL, *model = NULL, *plugin = NULL, *gt = NULL, *noc_report = NULL,
               *noc_mode = NULL;
    gint64 noc_seed = -1;
    g_autofree const char **rest = NULL;
    g_variant_dict_lookup(options, "project", "^&ay", &project);
    g_variant_dict_lookup(options, "model", "^&ay", &model);
    g_variant_dict_lookup(options, "plugin", "^&ay", &plugin);
    g_variant_dict_lookup(options, G_OPTION_REMAINING, "^a&ay", &rest);
    g_variant_dict_lookup(options, "gt", "^&ay", &gt);
    g_variant_dict_lookup(options, "noc-report", "^&ay", &noc_report);
    g_variant_dict_lookup(options, "noc-mode", "&s", &noc_mode);
    g_variant_dict_lookup(options, "noc-seed", "x", &noc_seed);

    if (!ssa_application_get_settings(self))
        return 1;

    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_object_unref);
    for (guint i = 0; rest && rest[i]; i++) {
        GFile *file = g_application_command_line_create_file_for_arg(cmdline, rest[i]);
        if (!g_file_query_exists(file, NULL)) {
            g_application_command_line_printerr(cmdline, "stablesam-annotate: %s: no such file or folder\n",
                                                rest[i]);
            g_object_unref(file);
            return 1;
        }
        g_ptr_array_add(files, file);
    }
    g_autoptr(GFile) project_file =
        project ? g_application_command_line_create_file_for_arg(cmdline, project) : NULL;
    g_autoptr(GFile) model_file = model ? g_application_command_line_create_file_for_arg(cmdline, model) : NULL;
    g_autofree char *model_path = ssa_model_path(model_file ? g_file_peek_path(model_file) : NULL);
    g_autofree char *plugin_path = NULL;
    if (plugin && g_strcmp0(plugin, "none") != 0) {
        g_autoptr(GFile) pf = g_application_command_line_create_file_for_arg(cmdline, plugin);
        plugin_path = ssa_plugin_path(g_file_peek_path(pf));
    } else {
        plugin_path = ssa_plugin_path(plugin);
    }

    g_autoptr(GError) error = NULL;
    if (gt) {
        g_autoptr(GFile) gt_file = g_application_command_line_create_file_for_arg(cmdline, gt);
        g_autoptr(GFile) report_file =
            noc_report ? g_application_command_line_create_file_for_arg(cmdline, noc_report) : NULL;
        if (!g_file_test(g_file_peek_path(gt_file), G_FILE_TEST_IS_DIR)) {
            g_application_command_line_printerr(cmdline, "stablesam-annotate: %s: --gt needs a data set folder\n", gt);
            return 1;
        }
        /* DIR, if given, must be the set or its images folder: the images come from the set */
        g_autoptr(GFile) images = g_file_get_child(gt_file, "images");
        for (guint i = 0; i < files->len; i++) {
            if (!g_file_equal(files->pdata[i], gt_file) && !g_file_equal(files->pdata[i], images)) {
                g_application_command_line_printerr(cmdline,
                    "stablesam-annotate: %s: with --gt the images are the set's (%s/images)\n",
                    rest[i], gt);
                return 1;
            }
        }
        if (!noc_mode)
            noc_mode = plugin_path ? "both" : "sam";
        guint64 seed = noc_seed >= 0 ? (guint64)noc_seed : (guint64)g_get_real_time();
        SsaWindow *window = ssa_window_new(self, model_path, plugin_path);
        if (!ssa_window_start_noc(window, g_file_peek_path(gt_file),
                                  report_file ? g_file_peek_path(report_file) : NULL, noc_mode, seed,
                                  &error)) {
            /* a bad data set or report: one line, no window */
            g_application_command_line_printerr(cmdline, "stablesam-annotate: %s\n", error->message);
            gtk_window_destroy(GTK_WINDOW(window));
            return 1;
        }
        gtk_window_present(GTK_WINDOW(window));
        return 0;
    }
    SsaWindow *window = ssa_window_new(self, model_path, plugin_path);
    gtk_window_present(GTK_WINDOW(window));
    if (!ssa_window_open(window, (GFile **)files->pdata, files->len,
                         project_file ? g_file_peek_path(project_file) : NULL, &error))
        ssa_window_show_error(window, error->message);
    return 0;
}

static void
app_quit(GSimpleAction *action, GVariant *param, gpointer user_data)
{
    GtkApplication *app = user_data;
    for (GList *l = gtk_application_get_windows(app); l; l = gtk_application_get_windows(app)) {
        gtk_window_destroy(l->data);
    }
}

static void
app_about(GSimpleAction *action, GVariant *param, gpointer user_data)
{
    GtkApplication *app = user_data;
    const char *authors[] = { "The Stable-SAM Annotator authors", NULL };
    gtk_show_about_dialog(gtk_application_get_active_window(app),
        "program-name", "Stable-SAM Annotator",
        "logo-icon-name", SSA_APPLICATION_ID,
        "version", SS_VERSION,
        "comments", "Mask labelling with MobileSAM and the Stable-SAM plugin",
        "license-type", GTK_LICENSE_MIT_X11,
        "authors", authors,
        NULL);
}

static const GActionEntry app_actions[] = {
    { "quit", app_quit, NULL, NULL, NULL, { 0 } },
    { "about", app_about, NULL, NULL, NULL, { 0 } },
};

static void
ssa_application_startup(GApplication *app)
{
    G_APPLICATION_CLASS(ssa_application_parent_class)->startup(app);

    g_action_map_add_action_entries(G_ACTION_MAP(app), app_actions, G_N_ELEMENTS(app_actions), app);
    static const struct {
        const char *action;
        const char *accels[3];
    } accels[] = {
        { "app.quit", { "<Control>q", NULL } },
        { "win.open-folder", { "<Control>o", NULL } },
        { "win.open-project", { "<Control><Shift>o", NULL } },
        { "win.save-project-as", { "<Control>s", NULL } },
        { "win.export-coco", { "<Control>e", NULL } },
        { "win.import-coco", { "<Control>i", NULL } },
        { "win.undo", { "<Control>z", NULL } },
        { "win.redo", { "<Control><Shift>z", "<Control>y", NULL } },
        { "win.zoom-in", { "<Control>plus", "<Control>equal", NULL } },
        { "win.zoom-out", { "<Control>minus", NULL } },
        { "win.zoom-fit", { "<Control>0", NULL } },
    };
    for (guint i = 0; i < G_N_ELEMENTS(accels); i++)
        gtk_application_set_accels_for_action(GTK_APPLICATION(app), accels[i].action, accels[i].accels);

    g_autoptr(GtkCssProvider) css = gtk_css_provider_new();
    gtk_css_provider_load_from_resource(css, "/org/stablesam/Annotator/style.css");
    gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(css),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    gtk_icon_theme_add_resource_path(gtk_icon_theme_get_for_display(gdk_display_get_default()),
                                     "/org/stablesam/Annotator/icons");
    gtk_window_set_default_icon_name(SSA_APPLICATION_ID);
}

static void
ssa_application_finalize(GObject *object)
{
    SsaApplication *self = SSA_APPLICATION(object);
    g_clear_object(&self->settings);
    G_OBJECT_CLASS(ssa_application_parent_class)->finalize(object);
}

static void
ssa_application_class_init(SsaApplicationClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = ssa_application_finalize;
    G_APPLICATION_CLASS(klass)->startup = ssa_application_startup;
    G_APPLICATION_CLASS(klass)->command_line = ssa_application_command_line;
}

static void
ssa_application_init(SsaApplication *self)
{
    g_application_add_main_option_entries(G_APPLICATION(self), option_entries);
    g_application_set_option_context_parameter_string(G_APPLICATION(self), "[DIR | IMAGE...]");
    g_application_set_option_context_summary(G_APPLICATION(self),
        "Label image masks with MobileSAM and Stable-SAM: drag a box or click, Enter accepts.");
}

SsaApplication *
ssa_application_new(void)
{
    return g_object_new(SSA_TYPE_APPLICATION,
                        "application-id", SSA_APPLICATION_ID,
                        "flags", G_APPLICATION_HANDLES_COMMAND_LINE | G_APPLICATION_NON_UNIQUE,
                        "resource-base-path", "/org/stablesam/Annotator",
                        NULL);
}
